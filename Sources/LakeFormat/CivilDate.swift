// Calendar arithmetic shared by every layer: the one place days since 1970-01-01 become
// dates and back.

/// Proleptic Gregorian calendar <-> days since 1970-01-01 (Howard Hinnant's algorithms):
/// exact integer arithmetic, no time zone database, no Foundation Calendar.
public enum CivilDate {
    public static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64((month + 9) % 12)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The instants the lake stores, in microseconds since the epoch: years 0001 through 9999,
    /// UTC. DuckDB and DuckLake write dates and timestamps (statistics, partition values) as
    /// text with a four-digit year, so a value outside would make catalog text no peer reads.
    /// The one definition of the range: ingest quarantines values outside it, value parsers
    /// refuse them.
    public static let storableMicros: ClosedRange<Int64> =
        days(year: 1, month: 1, day: 1) * 86_400_000_000 ... days(year: 10_000, month: 1, day: 1) * 86_400_000_000 - 1

    /// The same range in days, for DATE values.
    public static let storableDays: ClosedRange<Int64> = days(year: 1, month: 1, day: 1) ... days(year: 10_000, month: 1, day: 1) - 1

    /// "0001-01-01T00:00:00Z … 9999-12-31T23:59:59.999999Z", for messages.
    public static let storableRangeText = "0001-01-01T00:00:00Z … 9999-12-31T23:59:59.999999Z"

    public static func fromDays(_ z0: Int64) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (Int(m <= 2 ? y + 1 : y), Int(m), Int(d))
    }

    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// "YYYY-MM-DD" for a day number.
    public static func format(days: Int64) -> String {
        let (y, m, d) = fromDays(days)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(abs(v))
            return (v < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
    }

    /// Parses "YYYY-MM-DD" into a day number.
    public static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return nil }
        func num(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard let y = num(0 ..< 4), let m = num(5 ..< 7), let d = num(8 ..< 10),
              (1 ... 12).contains(m), d >= 1, d <= daysInMonth(year: y, month: m) else { return nil }
        return days(year: y, month: m, day: d)
    }
}
