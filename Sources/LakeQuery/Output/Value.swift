import LakeCatalog
import LakeFormat

/// One result cell. Money stays an exact decimal; dates and timestamps stay integers until printed.
public enum Value: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    /// A rate or ratio a report computed: printed with at most four decimals.
    case double(Double)
    /// A DOUBLE column's value, or an aggregate of one (or an integer average): every digit, the
    /// shortest text that reads back as the same number, as DuckDB prints it. As a `double` it
    /// printed 0.00001 as 0 and 1.23456789 as 1.2346.
    case real(Double)
    case string(String)
    /// Unscaled, 128 bits: a DECIMAL(18) cell, or a sum of them (DuckDB's DECIMAL(38) sum).
    case decimal(Int128, scale: Int)
    /// Days since 1970-01-01.
    case date(Int32)
    /// Microseconds since the epoch, UTC.
    case timestamp(Int64)
    /// A length of time in whole seconds: "3d 04h" for people, the number of seconds in CSV and
    /// JSON (a lag of 90545495 means nothing to a reader; 1047d 23h does).
    case duration(seconds: Int64)

    /// Human and CSV text: decimals with all their digits, dates YYYY-MM-DD, timestamps ISO-8601 UTC.
    public var text: String {
        switch self {
        case .null: return ""
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return Self.format(d)
        case .real(let d): return d.isNaN ? "nan" : d.isInfinite ? (d < 0 ? "-inf" : "inf") : d.description
        case .string(let s): return s
        case .decimal(let v, let s): return DecimalText.format(v, scale: s)
        case .date(let d): return LakeCatalog.Timestamps.dateText(days: Int64(d))
        case .timestamp(let t): return LakeCatalog.Timestamps.isoText(micros: t)
        case .duration(let seconds): return Self.durationText(seconds)
        }
    }

    /// The two largest units: "1047d 23h", "5h 02m", "3m 09s", "42s".
    static func durationText(_ seconds: Int64) -> String {
        let sign = seconds < 0 ? "-" : ""
        let s = seconds.magnitude
        let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60, s % 60)
        func two(_ n: UInt64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        if d > 0 { return "\(sign)\(d)d \(two(h))h" }
        if h > 0 { return "\(sign)\(h)h \(two(m))m" }
        if m > 0 { return "\(sign)\(m)m \(two(sec))s" }
        return "\(sign)\(sec)s"
    }

    /// The text CSV and JSON carry: durations as plain seconds, for programs.
    var machineText: String {
        if case .duration(let seconds) = self { return String(seconds) }
        return text
    }

    var isNumeric: Bool {
        switch self {
        case .int, .double, .real, .decimal, .duration: return true
        default: return false
        }
    }

    /// Doubles (rates, ratios) with at most four decimals, trailing zeros dropped.
    static func format(_ d: Double) -> String {
        if d.isNaN || d.isInfinite { return String(d) }
        var s = String(format: "%.4f", d)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s == "-0" ? "0" : s
    }

    /// Orders values of one column: nulls last, numbers by value, text by its UTF-8 bytes as
    /// DuckDB orders VARCHARs (String's `<` is canonical order: "e" + U+0301 sorted with a
    /// precomposed "é", after "f").
    static func less(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): return x.utf8.lexicographicallyPrecedes(y.utf8)
        case (.null, _): return false
        case (_, .null): return true
        case (.int(let x), .int(let y)): return x < y
        case (.date(let x), .date(let y)): return x < y
        case (.timestamp(let x), .timestamp(let y)): return x < y
        case (.bool(let x), .bool(let y)): return !x && y
        // Exact: two sums past 2^53 cents that a Double cannot tell apart still order.
        case (.decimal(let x, let s), .decimal(let y, let t)) where s == t: return x < y
        default:
            // NaN sorts above every number, as in DuckDB (an IEEE `<` left it unordered: max
            // never took it, and a sort had no strict weak order).
            if a.isNumeric && b.isNumeric {
                let (x, y) = (a.doubleValue, b.doubleValue)
                return !x.isNaN && (y.isNaN || x < y)
            }
            return a.text < b.text
        }
    }

    var doubleValue: Double {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d), .real(let d): return d
        case .decimal(let v, let s): return Double(v) / pow10(s)
        default: return .nan
        }
    }
}

func pow10(_ n: Int) -> Double {
    var r = 1.0
    for _ in 0 ..< n { r *= 10 }
    return r
}
