// Min/max statistics and the simple predicates that prune with them. One value type serves
// row groups (from Parquet footers) and whole files (from the catalog), so the query planner
// applies the same test at both levels.

/// A statistics bound or predicate operand. Integers cover int32, int64, date (days),
/// timestamp (micros) and decimal (unscaled) alike; strings compare as unsigned bytes.
public enum StatValue: Hashable, Sendable, Comparable, CustomStringConvertible {
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case bytes([UInt8])

    public static func string(_ s: String) -> StatValue { .bytes(Array(s.utf8)) }

    public static func < (a: StatValue, b: StatValue) -> Bool {
        switch (a, b) {
        case (.bool(let x), .bool(let y)): return !x && y
        case (.int(let x), .int(let y)): return x < y
        case (.double(let x), .double(let y)): return x < y
        case (.int(let x), .double(let y)): return Double(x) < y
        case (.double(let x), .int(let y)): return x < Double(y)
        case (.bytes(let x), .bytes(let y)): return x.lexicographicallyPrecedes(y)
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bytes(let b): return String(decoding: b, as: UTF8.self)
        }
    }
}

public struct ColumnStatistics: Sendable, Equatable {
    public var min: StatValue?
    public var max: StatValue?
    public var nullCount: Int64?

    public init(min: StatValue? = nil, max: StatValue? = nil, nullCount: Int64? = nil) {
        self.min = min
        self.max = max
        self.nullCount = nullCount
    }

    /// Widens these bounds to also cover `other` (row groups into a file summary).
    public mutating func merge(_ other: ColumnStatistics) {
        if let m = other.min { min = min.map { Swift.min($0, m) } ?? m }
        if let m = other.max { max = max.map { Swift.max($0, m) } ?? m }
        if let n = other.nullCount { nullCount = (nullCount ?? 0) + n }
    }
}

public enum PredicateOp: String, Sendable, CaseIterable {
    case eq = "=", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=", between, `in`
}

/// `column OP values`: one value for comparisons, two for between (inclusive), any for in.
public struct ColumnPredicate: Sendable, Equatable {
    public var column: String
    public var op: PredicateOp
    public var values: [StatValue]

    public init(_ column: String, _ op: PredicateOp, _ values: [StatValue]) {
        self.column = column
        self.op = op
        self.values = values
    }

    /// False only when no row within [min, max] can satisfy the predicate; true when unsure.
    public func mayMatch(_ stats: ColumnStatistics, rowCount: Int64? = nil) -> Bool {
        // A column chunk that is all nulls matches no comparison.
        if let rows = rowCount, let nulls = stats.nullCount, rows > 0, nulls >= rows { return false }
        guard let lo = stats.min, let hi = stats.max else { return true }
        switch op {
        case .eq: return values.first.map { !($0 < lo) && !(hi < $0) } ?? true
        case .ne: return values.first.map { !(lo == hi && lo == $0) } ?? true
        case .lt: return values.first.map { lo < $0 } ?? true
        case .le: return values.first.map { !($0 < lo) } ?? true
        case .gt: return values.first.map { $0 < hi } ?? true
        case .ge: return values.first.map { !(hi < $0) } ?? true
        case .between:
            guard values.count == 2 else { return true }
            return !(hi < values[0]) && !(values[1] < lo)
        case .in: return values.contains { !($0 < lo) && !(hi < $0) }
        }
    }
}
