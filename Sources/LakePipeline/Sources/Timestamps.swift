import LakeFormat
/// ISO-8601 / RFC 3339 timestamps straight from bytes to UTC microseconds.
public enum Timestamps {
    /// Parses `YYYY-MM-DD[T| ]HH:MM:SS[.fraction](Z|±HH:MM|±HHMM|±HH)` into microseconds since
    /// the epoch, UTC. Fractions beyond microseconds are truncated (the lake stores micros).
    /// A zone is required: a timestamp without one is ambiguous, and guessing would shift
    /// orders across day (and partition) boundaries. Returns nil for anything else, including
    /// impossible dates (2024-02-30) and leap seconds.
    public static func parseISO(_ p: UnsafeRawBufferPointer) -> Int64? {
        let n = p.count
        guard n >= 20 else { return nil }
        @inline(__always) func digit(_ i: Int) -> Int? {
            let c = p[i]
            return c >= 48 && c <= 57 ? Int(c - 48) : nil
        }
        @inline(__always) func two(_ i: Int) -> Int? {
            guard let a = digit(i), let b = digit(i + 1) else { return nil }
            return a * 10 + b
        }
        guard let y1 = two(0), let y2 = two(2), p[4] == 45, let month = two(5), p[7] == 45, let day = two(8),
              p[10] == UInt8(ascii: "T") || p[10] == UInt8(ascii: "t") || p[10] == 32,
              let hour = two(11), p[13] == 58, let minute = two(14), p[16] == 58, let second = two(17) else { return nil }
        let year = y1 * 100 + y2
        guard month >= 1, month <= 12, day >= 1, day <= CivilDate.daysInMonth(year: year, month: month),
              hour <= 23, minute <= 59, second <= 59 else { return nil }
        var i = 19
        var micros: Int64 = 0
        if p[i] == UInt8(ascii: ".") || p[i] == UInt8(ascii: ",") {
            i += 1
            var digits = 0
            while i < n, let d = digit(i) {
                if digits < 6 { micros = micros * 10 + Int64(d) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            var k = digits
            while k < 6 { micros *= 10; k += 1 }
        }
        guard i < n else { return nil }
        var offsetSeconds = 0
        let z = p[i]
        if z == UInt8(ascii: "Z") || z == UInt8(ascii: "z") {
            i += 1
        } else if z == UInt8(ascii: "+") || z == UInt8(ascii: "-") {
            guard i + 3 <= n, let oh = two(i + 1), oh <= 23 else { return nil }
            i += 3
            var om = 0
            if i < n {
                if p[i] == 58 { i += 1 }
                guard i + 2 <= n, let m = two(i), m <= 59 else { return nil }
                om = m
                i += 2
            }
            offsetSeconds = (oh * 3600 + om * 60) * (z == UInt8(ascii: "+") ? 1 : -1)
        } else {
            return nil
        }
        guard i == n else { return nil }
        let days = CivilDate.days(year: year, month: month, day: day)
        let secs = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        return secs * 1_000_000 + micros
    }

    /// Why `parseISO` refused `p`, as the words after the value in a reject detail: a leap
    /// second (23:59:60Z) is a valid ISO-8601 time the lake cannot store (TIMESTAMP has no
    /// 61st second; DuckDB refuses it too), anything else is not such a timestamp.
    public static func refusal(_ p: UnsafeRawBufferPointer) -> String {
        if p.count >= 20 && p[17] == UInt8(ascii: "6") && p[18] == UInt8(ascii: "0") {
            var copy = Array(p)
            copy[17] = UInt8(ascii: "5"); copy[18] = UInt8(ascii: "9")
            if copy.withUnsafeBytes({ parseISO($0) }) != nil {
                return "is a leap second; leap seconds are not accepted (a timestamp has no 61st second, in DuckDB either)"
            }
        }
        return "is not an ISO-8601 timestamp with a zone (e.g. 2024-01-15T10:30:00Z)"
    }

    public static func refusal(_ s: String) -> String {
        var s = s
        return s.withUTF8 { refusal(UnsafeRawBufferPointer($0)) }
    }

    public static func parseISO(_ s: String) -> Int64? {
        var s = s
        return s.withUTF8 { parseISO(UnsafeRawBufferPointer($0)) }
    }

    /// Day number (since 1970-01-01) of a UTC timestamp in micros.
    @inline(__always)
    public static func day(ofMicros t: Int64) -> Int32 { Int32(truncatingIfNeeded: floorDiv(t, 86_400_000_000)) }
}
