import LakeCatalog
import LakeFormat

/// One result cell. Money stays an exact decimal; dates and timestamps stay integers until printed.
public enum Value: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case decimal(Int64, scale: Int)
    /// Days since 1970-01-01.
    case date(Int32)
    /// Microseconds since the epoch, UTC.
    case timestamp(Int64)

    /// Human and CSV text: decimals with all their digits, dates YYYY-MM-DD, timestamps ISO-8601 UTC.
    public var text: String {
        switch self {
        case .null: return ""
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return Self.format(d)
        case .string(let s): return s
        case .decimal(let v, let s): return DecimalText.format(v, scale: s)
        case .date(let d): return LakeCatalog.Timestamps.dateText(days: Int64(d))
        case .timestamp(let t): return LakeCatalog.Timestamps.isoText(micros: t)
        }
    }

    var isNumeric: Bool {
        switch self {
        case .int, .double, .decimal: return true
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

    /// Orders values of one column: nulls last, numbers by value, the rest by text.
    static func less(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.null, _): return false
        case (_, .null): return true
        case (.int(let x), .int(let y)): return x < y
        case (.date(let x), .date(let y)): return x < y
        case (.timestamp(let x), .timestamp(let y)): return x < y
        case (.bool(let x), .bool(let y)): return !x && y
        default:
            if a.isNumeric && b.isNumeric { return a.doubleValue < b.doubleValue }
            return a.text < b.text
        }
    }

    var doubleValue: Double {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
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
