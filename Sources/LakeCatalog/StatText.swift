import Foundation
import LakeFormat

/// The type names DuckLake stores in ducklake_column.column_type (lowercase, as the
/// ducklake extension of DuckDB 1.4.4 and 1.5.5 writes them: "int32", "float64", "timestamptz", "decimal(12,2)").
public enum DuckLakeType {
    public static func name(_ type: ColumnType) -> String {
        switch type {
        case .bool: return "boolean"
        case .int32: return "int32"
        case .int64: return "int64"
        case .double: return "float64"
        case .string: return "varchar"
        case .date: return "date"
        case .timestamp: return "timestamptz"
        case .decimal(let p, let s): return "decimal(\(p),\(s))"
        }
    }

    /// The LakeFormat type for a stored type name; nil for types the lake does not model.
    public static func columnType(_ name: String) -> ColumnType? {
        let n = name.lowercased().replacingOccurrences(of: " ", with: "")
        switch n {
        case "boolean": return .bool
        case "int32": return .int32
        case "int64": return .int64
        case "float64": return .double
        case "varchar": return .string
        case "date": return .date
        case "timestamptz": return .timestamp
        default:
            guard n.hasPrefix("decimal("), n.hasSuffix(")") else { return nil }
            let parts = n.dropFirst(8).dropLast().split(separator: ",")
            guard parts.count == 2, let p = Int(parts[0]), let s = Int(parts[1]),
                  p >= 1, p <= DecimalBytes.maxPrecision, s >= 0, s <= p else { return nil }
            return .decimal(precision: p, scale: s)
        }
    }
}

/// Min/max statistic text exactly as DuckLake writes it into ducklake_file_column_stats and
/// ducklake_table_column_stats, so DuckDB can prune files on our stats and we can read its stats.
/// Observed from DuckDB 1.4.4: ints "42", doubles shortest round-trip "1.5"/"0.1"/"1e+20",
/// decimals with all scale digits "2.50"/"-0.05", dates "2024-01-15", timestamptz
/// "2024-01-15 10:30:00+00" / "…10:30:00.5+00", varchar as is. Booleans get no min/max (DuckLake
/// leaves them NULL), so `bool` returns nil.
public enum StatText {
    public static func int(_ v: Int64) -> String { String(v) }
    public static func int(_ v: Int32) -> String { String(v) }

    /// nil for NaN: DuckLake records NaN through contains_nan, never as a bound.
    public static func double(_ v: Double) -> String? {
        guard !v.isNaN else { return nil }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        if v == 0 { return "0.0" }
        return "\(v)"
    }

    public static func decimal(unscaled: Int64, scale: Int) -> String { DecimalText.format(unscaled, scale: scale) }
    public static func date(days: Int64) -> String { Timestamps.dateText(days: days) }
    public static func date(days: Int32) -> String { Timestamps.dateText(days: Int64(days)) }
    public static func timestamp(micros: Int64) -> String { Timestamps.timestampText(micros: micros) }
    public static func bool(_ v: Bool) -> String? { nil }

    /// min/max/null count for one column of a batch, in the column's DuckLake text form.
    /// Strings compare by UTF-8 bytes (DuckDB's order).
    public static func stats(_ column: Column, type: ColumnType) -> ColumnStats {
        let nulls = Int64(column.nullCount)
        var nan = false
        var lo: String?
        var hi: String?
        func bounds<T: Comparable>(_ values: [T], _ text: (T) -> String?) {
            var mn: T?
            var mx: T?
            for (i, v) in values.enumerated() where !column.isNull(i) {
                if mn == nil || v < mn! { mn = v }
                if mx == nil || v > mx! { mx = v }
            }
            lo = mn.flatMap(text)
            hi = mx.flatMap(text)
        }
        switch (column.data, type) {
        case (.bool, _):
            break
        case (.int32(let v), .date):
            bounds(v) { date(days: $0) }
        case (.int32(let v), _):
            bounds(v) { int($0) }
        case (.int64(let v), .timestamp):
            bounds(v) { timestamp(micros: $0) }
        case (.int64(let v), .decimal(_, let s)):
            bounds(v) { decimal(unscaled: $0, scale: s) }
        case (.int64(let v), _):
            bounds(v) { int($0) }
        case (.double(let v), _):
            var mn: Double?
            var mx: Double?
            for (i, x) in v.enumerated() where !column.isNull(i) {
                if x.isNaN { nan = true; continue }
                if mn == nil || x < mn! { mn = x }
                if mx == nil || x > mx! { mx = x }
            }
            lo = mn.flatMap(double)
            hi = mx.flatMap(double)
        case (.string, _), (.dictionary, _):
            var mn: String?
            var mx: String?
            for i in 0 ..< column.count {
                guard let s = column.string(at: i) else { continue }
                if mn == nil || utf8Less(s, mn!) { mn = s }
                if mx == nil || utf8Less(mx!, s) { mx = s }
            }
            lo = mn
            hi = mx
        }
        let isDouble: Bool = { if case .double = type { return true } else { return false } }()
        return ColumnStats(min: lo, max: hi, nullCount: nulls, valueCount: Int64(column.count) - nulls,
                           containsNaN: isDouble ? nan : nil)
    }

    static func utf8Less(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// Orders two stat texts of the same column type; nil when either does not parse, in which
    /// case callers drop the merged bound rather than guess.
    static func compare(_ a: String, _ b: String, type: ColumnType?) -> Int? {
        func cmp<T: Comparable>(_ x: T?, _ y: T?) -> Int? {
            guard let x, let y else { return nil }
            return x < y ? -1 : (x > y ? 1 : 0)
        }
        switch type {
        case .int32?, .int64?: return cmp(Int64(a), Int64(b))
        case .double?: return cmp(Double(a), Double(b))
        case .decimal(_, let s)?: return cmp(DecimalText.parse(a, scale: s), DecimalText.parse(b, scale: s))
        case .date?, .timestamp?: return cmp(Timestamps.parseTimestamp(a), Timestamps.parseTimestamp(b))
        case .string?: return utf8Less(a, b) ? -1 : (a == b ? 0 : 1)
        case .bool?, nil: return nil
        }
    }

    /// Checks that stat text parses as `type`, so bad stats are refused at commit, not at read.
    static func validate(_ text: String, type: ColumnType) -> Bool {
        switch type {
        case .int32: return Int32(text) != nil
        case .int64: return Int64(text) != nil
        case .double: return Double(text) != nil
        case .decimal(_, let s): return DecimalText.parse(text, scale: s) != nil
        case .date: return Timestamps.parseDate(text) != nil
        case .timestamp: return Timestamps.parseTimestamp(text) != nil
        case .string: return true
        case .bool: return text == "true" || text == "false"
        }
    }
}
