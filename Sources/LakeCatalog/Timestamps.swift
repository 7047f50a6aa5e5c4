import Foundation
import LakeFormat

/// UTC calendar arithmetic and the text forms DuckLake stores. Done by hand (proleptic
/// Gregorian, days since 1970-01-01) rather than with DateFormatter so no locale, time zone or
/// calendar setting of the host can change what is written to the catalog.
public enum Timestamps {
    public static let microsPerSecond: Int64 = 1_000_000
    public static let microsPerDay: Int64 = 86_400_000_000

    /// (year, month, day) for a day count since 1970-01-01.
    public static func civil(fromDays days: Int64) -> (year: Int64, month: Int, day: Int) {
        let c = CivilDate.fromDays(days)
        return (Int64(c.year), c.month, c.day)
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date.
    public static func days(year: Int64, month: Int, day: Int) -> Int64 { CivilDate.days(year: Int(year), month: month, day: day) }

    static func daysInMonth(year: Int64, month: Int) -> Int { CivilDate.daysInMonth(year: Int(year), month: month) }

    /// "2024-01-15": DuckDB's DATE text (4-digit zero-padded year).
    public static func dateText(days: Int64) -> String {
        let c = civil(fromDays: days)
        return pad(c.year, 4) + "-" + pad(Int64(c.month), 2) + "-" + pad(Int64(c.day), 2)
    }

    /// "2024-01-15 10:30:00+00" or "2024-01-15 11:30:00.123456+00" with trailing fractional zeros
    /// dropped ("…00.5+00"): DuckDB's TIMESTAMPTZ text in UTC, the form DuckLake uses for
    /// snapshot_time and for min/max statistics.
    public static func timestampText(micros: Int64) -> String {
        var days = micros / microsPerDay
        var rest = micros % microsPerDay
        if rest < 0 { rest += microsPerDay; days -= 1 }
        let secs = rest / microsPerSecond
        let frac = rest % microsPerSecond
        var s = dateText(days: days) + " " + pad(secs / 3600, 2) + ":" + pad(secs / 60 % 60, 2) + ":" + pad(secs % 60, 2)
        if frac != 0 {
            var f = pad(frac, 6)
            while f.hasSuffix("0") { f.removeLast() }
            s += "." + f
        }
        return s + "+00"
    }

    /// Parses DuckDB timestamp text: "YYYY-MM-DD[ T]HH:MM:SS[.ffffff][Z|+HH[:MM]|-HH[:MM]]" or a
    /// bare "YYYY-MM-DD" (midnight). A missing offset means UTC. Returns microseconds since the
    /// epoch; nil for anything else, including instants outside years 0001–9999 (UTC).
    public static func parseTimestamp(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        var i = 0
        func number(_ width: Int) -> Int64? {
            guard i + width <= b.count else { return nil }
            var v: Int64 = 0
            for k in i ..< i + width {
                guard b[k] >= 48 && b[k] <= 57 else { return nil }
                v = v * 10 + Int64(b[k] - 48)
            }
            i += width
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2),
              (1...12).contains(month), day >= 1, day <= Int64(daysInMonth(year: year, month: Int(month)))
        else { return nil }
        var micros = days(year: year, month: Int(month), day: Int(day)) * microsPerDay
        if i == b.count { return storable(micros) }
        guard b[i] == 32 || b[i] == 84 else { return nil }  // ' ' or 'T'
        i += 1
        guard let h = number(2), expect(58), let m = number(2), expect(58), let s = number(2),
              h < 24, m < 60, s < 60 else { return nil }
        micros += ((h * 60 + m) * 60 + s) * microsPerSecond
        if i < b.count, b[i] == 46 {  // '.'
            i += 1
            var digits = 0
            var frac: Int64 = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                // Digits past microseconds cannot be stored; they are truncated like DuckDB does.
                if digits < 6 { frac = frac * 10 + Int64(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            // 7+ digits were kept to 6 above: scale only a shorter fraction up.
            for _ in min(digits, 6) ..< 6 { frac *= 10 }
            micros += frac
        }
        if i == b.count { return storable(micros) }
        if b[i] == 90 || b[i] == 122 {  // 'Z' / 'z'
            i += 1
            return i == b.count ? storable(micros) : nil
        }
        guard b[i] == 43 || b[i] == 45 else { return nil }
        let sign: Int64 = b[i] == 43 ? 1 : -1
        i += 1
        guard let oh = number(2), oh < 24 else { return nil }
        var om: Int64 = 0
        if i < b.count {
            _ = expect(58)
            guard let mm = number(2), mm < 60 else { return nil }
            om = mm
        }
        guard i == b.count else { return nil }
        return storable(micros - sign * (oh * 60 + om) * 60 * microsPerSecond)
    }

    /// nil outside the years 0001–9999 the lake stores (`CivilDate.storableMicros`).
    private static func storable(_ micros: Int64) -> Int64? {
        CivilDate.storableMicros.contains(micros) ? micros : nil
    }

    /// Parses "YYYY-MM-DD" into days since the epoch.
    public static func parseDate(_ text: String) -> Int64? {
        guard text.utf8.count == 10, let micros = parseTimestamp(text) else { return nil }
        return micros / microsPerDay - (micros % microsPerDay < 0 ? 1 : 0)
    }

    public static func micros(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    public static func date(micros: Int64) -> Date {
        Date(timeIntervalSince1970: Double(micros) / 1_000_000)
    }

    /// "2024-02-01T00:00:00Z" (fraction only when present): for messages and JSON output.
    public static func iso(_ date: Date) -> String {
        isoText(micros: micros(date))
    }

    /// "2024-02-01T10:30:00Z", whole seconds: the form Foundation's `ISO8601DateFormatter` gives,
    /// without it. On Linux its first use in a process is reported to free an address malloc
    /// never gave (swift-corelibs-foundation issue 5533, CF's locale lookup under
    /// `CFDateFormatterCreateISO8601Formatter`); not reproduced here, and not the cause of the
    /// test process's heap corruption (DESIGN.md, "A defect found"), so a precaution.
    public static func isoSeconds(_ date: Date) -> String {
        let m = micros(date)
        return isoText(micros: m - ((m % microsPerSecond) + microsPerSecond) % microsPerSecond)
    }

    public static func isoText(micros: Int64) -> String {
        var t = timestampText(micros: micros)
        t.removeLast(3)
        return t.replacingOccurrences(of: " ", with: "T") + "Z"
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v.magnitude)
        return (v < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
