import Testing
@testable import LakeFormat

@Suite struct DecimalTextTests {
    @Test func parsesExactCents() {
        #expect(DecimalText.parse("29.99", scale: 2) == 2999)
        #expect(DecimalText.parse("29.9", scale: 2) == 2990)
        #expect(DecimalText.parse("-0.05", scale: 2) == -5)
        #expect(DecimalText.parse("100", scale: 2) == 10000)
        #expect(DecimalText.parse("29.990", scale: 2) == 2999)
    }

    @Test func refusesWhatIsNotExact() {
        #expect(DecimalText.parse("29.999", scale: 2) == nil)
        #expect(DecimalText.parse("1e2", scale: 2) == nil)
        #expect(DecimalText.parse("", scale: 2) == nil)
        #expect(DecimalText.parse(".", scale: 2) == nil)
        #expect(DecimalText.parse("1.2.3", scale: 2) == nil)
        #expect(DecimalText.parse("99999999999999999999", scale: 2) == nil)
    }

    @Test func formatsBack() {
        #expect(DecimalText.format(2999, scale: 2) == "29.99")
        #expect(DecimalText.format(-5, scale: 2) == "-0.05")
        #expect(DecimalText.format(0, scale: 2) == "0.00")
        #expect(DecimalText.format(123, scale: 0) == "123")
    }

    /// 128-bit sums (DuckDB's DECIMAL(38,2) of DECIMAL(18,2) money) against a reference built
    /// here from two Int64 halves in base 10^18: v = hi * 10^18 + lo, text = hi's digits then
    /// lo's eighteen (zero-padded), the point before the last `scale`; sign apart.
    @Test("Int128 values format and parse back exactly: 20,000 random values vs a base-10^18 reference, and the extremes")
    func wideValuesRoundTrip() throws {
        var rng = SplitMix64(seed: 38)
        let base = Int128(1_000_000_000_000_000_000)
        func reference(_ hi: UInt64, _ lo: UInt64, negative: Bool, scale: Int) -> String {
            var digits = hi == 0 ? String(lo) : String(hi) + String(repeating: "0", count: 18 - String(lo).count) + String(lo)
            if scale > 0 {
                if digits.count <= scale { digits = String(repeating: "0", count: scale - digits.count + 1) + digits }
                digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -scale))
            }
            return (negative && (hi != 0 || lo != 0) ? "-" : "") + digits
        }
        for i in 0 ..< 20_000 {
            // Any UInt64 hi reaches 37 digits (Int128 holds 38); the extremes are checked below.
            let hi: UInt64 = switch i % 4 {
            case 0: 0
            case 1: rng.next() % 10
            case 2: rng.next() % 1_000_000
            default: rng.next()
            }
            let lo = rng.next() % 1_000_000_000_000_000_000
            let negative = rng.next() % 2 == 0
            let magnitude = Int128(hi) * base + Int128(lo)
            let v = negative ? -magnitude : magnitude
            let scale = [0, 2, 2, 6][Int(rng.next() % 4)]
            let text = reference(hi, lo, negative: negative, scale: scale)
            #expect(DecimalText.format(v, scale: scale) == text, "\(hi) \(lo)")
            #expect(DecimalText.parse(text, scale: scale, as: Int128.self) == v, "\(text)")
        }
        #expect(DecimalText.format(Int128.max, scale: 2) == "1701411834604692317316873037158841057.27")
        #expect(DecimalText.format(Int128.min + 1, scale: 2) == "-1701411834604692317316873037158841057.27")
        #expect(DecimalText.parse("1701411834604692317316873037158841057.27", scale: 2, as: Int128.self) == Int128.max)
        #expect(DecimalText.parse("1701411834604692317316873037158841057.28", scale: 2, as: Int128.self) == nil, "one cent past Int128")
        // The probe's sum: twelve orders at 9,000,000,000,000,000.00 (DuckDB: 108000000000000000.00).
        #expect(DecimalText.format(12 * Int128(900_000_000_000_000_000), scale: 2) == "108000000000000000.00")
        #expect(DecimalText.format(Int128(-5), scale: 2) == "-0.05")
        #expect(DecimalText.parse("108000000000000000.00", scale: 2) == nil, "an Int64 parse still refuses what does not fit")
    }
}
