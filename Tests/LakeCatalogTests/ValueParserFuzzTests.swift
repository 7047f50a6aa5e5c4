import Foundation
import LakeFormat
import Testing
@testable import LakeCatalog

/// Issue 14, item 5: the CLI's value parsers (timestamps, dates, --as-of, durations, decimals)
/// return a value or nil / a typed error for any text, never trap. A trap kills the test
/// process, so every call below that returns at all is the property; the expectations pin the
/// answers that matter.
@Suite struct ValueParserFuzzTests {
    /// Random text biased towards the shapes the parsers look for, so the fuzzing reaches deep
    /// branches (long fractions, offsets, huge years) rather than failing at the first byte.
    static func candidates(count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        let pieces = ["2024", "9999", "0000", "0001", "10000", "-", "-01", "-12", "-31", "-02-29", "T", " ", "t", "00", "23", "24",
                      ":", ":59", ":60", ".", ".1234567", ".000000000000000000001", "9999999999999999999999", "Z", "z", "+", "+14",
                      "-23:59", "+00:00", "1", "12", "1e9", "nan", "inf", "-0", "s", "m", "h", "d", "w", "7d", "", "\u{0}", "é",
                      "\u{FEFF}", "99999999999999999999", "--", "..", "0x1p3", ",", "'"]
        var out = ["", " ", "-", ".", "Z", "2099-01-01T00:00:00.1234567Z", "2024-01-15 10:30:00.999999999999+00",
                   "9999-12-31T23:59:59.9999999Z", "10000-01-01", "0000-01-01", "0001-01-01 00:00:00+01",
                   "9999-12-31 23:30:00-01:00", "2024-02-30", "2024-01-15T24:00:00Z", "1e400s", "9999999999999999999w",
                   "nanw", "infd", "-1s", ".s", "1.5h", "18446744073709551616"]
        for _ in 0 ..< count {
            let n = Int(rng.next() % 9)
            out.append((0 ..< n).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined())
        }
        for _ in 0 ..< count / 4 {
            let n = Int(rng.next() % 40)
            out.append(String(decoding: (0 ..< n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, as: UTF8.self))
        }
        return out
    }

    @Test("timestamps, dates, --as-of, durations, decimals: random and edge inputs give values or errors, never a trap")
    func fuzzValueParsers() throws {
        for text in Self.candidates(count: 20_000, seed: 14) {
            if let t = Timestamps.parseTimestamp(text) {
                #expect(CivilDate.storableMicros.contains(t), "\(text) parsed outside the storable range")
                // What parses can be written as catalog text and read back.
                #expect(Timestamps.parseTimestamp(Timestamps.timestampText(micros: t)) == t, "\(text)")
            }
            if let d = Timestamps.parseDate(text) { #expect(CivilDate.storableDays.contains(d)) }
            do { _ = try AsOf.parse(text) } catch { #expect("\(error)".count > 0) }
            if let s = Durations.parse(text) { #expect(s >= 0 && s <= Durations.maxSeconds) }
            for scale in [0, 2, 6, 18] { _ = DecimalText.parse(text, scale: scale) }
            for type in [ColumnType.date, .timestamp, .int32, .int64, .double, .decimal(precision: 18, scale: 2)] {
                _ = StatText.validate(text, type: type)
            }
        }
    }

    @Test("7+ fractional digits are truncated to microseconds; years outside 0001-9999 are refused")
    func timestampEdges() throws {
        let six = try #require(Timestamps.parseTimestamp("2099-01-01T00:00:00.123456Z"))
        #expect(Timestamps.parseTimestamp("2099-01-01T00:00:00.1234567Z") == six)
        #expect(Timestamps.parseTimestamp("2099-01-01T00:00:00.123456999999999999999Z") == six)
        #expect(Timestamps.parseTimestamp("2099-01-01 00:00:00.1234567+00") == six)
        #expect(try AsOf.parse("2099-01-01T00:00:00.1234567Z") == .time(Timestamps.date(micros: six)))
        #expect(Timestamps.parseTimestamp("9999-12-31T23:59:59.999999Z") == CivilDate.storableMicros.upperBound)
        #expect(Timestamps.parseTimestamp("0001-01-01") == CivilDate.storableMicros.lowerBound)
        for outside in ["0000-12-31", "9999-12-31T23:30:00-01:00", "0001-01-01 00:00:00+01"] {
            #expect(Timestamps.parseTimestamp(outside) == nil, "\(outside)")
        }
        #expect(throws: CatalogError.self) { try AsOf.parse("0000-06-01") }
    }

    @Test("durations: units s m h d w, plain decimal numbers, at most 1000 years")
    func durations() {
        #expect(Durations.parse("7d") == TimeInterval(604_800))
        #expect(Durations.parse("1.5h") == 5_400)
        #expect(Durations.parse("0s") == 0)
        for bad in ["", "d", "7", "-1d", "1e3s", "0x10s", "nand", "infs", "1.2.3s", "7 d", "100000w"] {
            #expect(Durations.parse(bad) == nil, "\(bad)")
        }
    }
}

