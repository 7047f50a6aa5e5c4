import LakeTestSupport
import Testing
@testable import LakeFormat

/// A string column chunk's min and max are compared by a 16-byte key first (`OrderKey`) and by
/// all bytes only on a tie: the bounds must be exactly the byte order's, whatever the strings'
/// lengths, shared prefixes, zero and 0xFF bytes, nulls, and the pieces they arrive in.
@Suite struct StringStatisticsTests {
    static func bytes(_ rng: inout SplitMix64) -> [UInt8] {
        // Shared prefixes of every length around the key's 8- and 16-byte words.
        let prefixes: [[UInt8]] = [[], Array("ORD-0000".utf8), Array("ORD-00001234".utf8), Array("CUST-00000000000".utf8), [0, 0], [0xFF]]
        var out = prefixes[rng.int(0 ..< prefixes.count)]
        let tail = rng.int(0 ..< 24)
        for _ in 0 ..< tail {
            switch rng.int(0 ..< 4) {
            case 0: out.append(0)
            case 1: out.append(0xFF)
            default: out.append(UInt8(rng.int(0x30 ..< 0x3A)))
            }
        }
        return out
    }

    @Test("min and max equal the byte order's over random strings, nulls and pieces (keys tie, differ, and strings end inside them)")
    func boundsAreTheByteOrders() {
        var rng = SplitMix64(seed: 19)
        let encoder = ChunkEncoder(field: Field("s", .string, nullable: true), options: ParquetWriteOptions(), scratch: EncoderScratch())
        for round in 0 ..< 300 {
            var runs: [StringRun] = []
            var validity: [Bool] = []
            var expected: [[UInt8]] = []
            for _ in 0 ..< rng.int(1 ..< 5) {
                var values = StringColumn()
                let count = rng.int(1 ..< 40)
                // Values at the very end of their buffer too: the key must not read past it.
                for _ in 0 ..< count {
                    let b = Self.bytes(&rng)
                    b.withUnsafeBytes { values.append($0) }
                }
                let from = rng.int(0 ..< count)
                let rows = from ..< count
                for r in rows {
                    let valid = round % 2 == 0 || !rng.chance(0.3)
                    validity.append(valid)
                    if valid { expected.append(Array(values.bytes[values.byteRange(r)])) }
                }
                runs.append(StringRun(values: values, rows: rows))
            }
            let (lo, hi) = encoder.stringMinMax(runs, validity: validity)
            let sorted = expected.sorted { $0.lexicographicallyPrecedes($1) }
            #expect(lo == sorted.first, "round \(round)")
            #expect(hi == sorted.last, "round \(round)")
        }
    }

    @Test("keys order exactly as the bytes where they differ")
    func keysOrderAsBytes() {
        var rng = SplitMix64(seed: 7)
        for _ in 0 ..< 20_000 {
            let a = Self.bytes(&rng), b = Self.bytes(&rng)
            let ka = a.withUnsafeBytes { OrderKey.of($0) }, kb = b.withUnsafeBytes { OrderKey.of($0) }
            if ka != kb { #expect((ka < kb) == a.lexicographicallyPrecedes(b), "\(a) \(b)") }
            // Read in place with room behind it, as the writer does: the same key.
            let padded = a + [0xAB, 0xCD, 0xEF, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
            let inPlace = padded.withUnsafeBytes { OrderKey.of($0.baseAddress!, a.count, readable: padded.count) }
            #expect(inPlace == ka)
        }
    }
}
