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

    /// Doubles in DuckDB's total order: NaN equals NaN and is greater than every other value
    /// (IEEE comparisons made NaN match both `<= 1` and `>= 1` and never `= nan`).
    public static func < (a: StatValue, b: StatValue) -> Bool {
        switch (a, b) {
        case (.bool(let x), .bool(let y)): return !x && y
        case (.int(let x), .int(let y)): return x < y
        case (.double(let x), .double(let y)): return x.isNaN ? false : y.isNaN || x < y
        case (.int(let x), .double(let y)): return y.isNaN || Double(x) < y
        case (.double(let x), .int(let y)): return !x.isNaN && x < Double(y)
        case (.bytes(let x), .bytes(let y)): return x.lexicographicallyPrecedes(y)
        default: return false
        }
    }

    public static func == (a: StatValue, b: StatValue) -> Bool {
        switch (a, b) {
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y || x.isNaN && y.isNaN
        case (.bytes(let x), .bytes(let y)): return x == y
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .bool(let b): hasher.combine(0); hasher.combine(b)
        case .int(let i): hasher.combine(1); hasher.combine(i)
        case .double(let d): hasher.combine(2); hasher.combine(d.isNaN ? Double.nan : d)
        case .bytes(let b): hasher.combine(3); hasher.combine(b)
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
    /// Whether a floating-point column holds NaN, which min and max leave out (Parquet's rule,
    /// and DuckLake's contains_nan); nil when unknown.
    public var containsNaN: Bool?

    public init(min: StatValue? = nil, max: StatValue? = nil, nullCount: Int64? = nil, containsNaN: Bool? = nil) {
        self.min = min
        self.max = max
        self.nullCount = nullCount
        self.containsNaN = containsNaN
    }

    /// Widens these bounds to also cover `other` (row groups into a file summary).
    public mutating func merge(_ other: ColumnStatistics) {
        if let m = other.min { min = min.map { Swift.min($0, m) } ?? m }
        if let m = other.max { max = max.map { Swift.max($0, m) } ?? m }
        if let n = other.nullCount { nullCount = (nullCount ?? 0) + n }
        containsNaN = containsNaN == true || other.containsNaN == true ? true : containsNaN == false && other.containsNaN == false ? false : nil
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
        guard let lo = stats.min, var hi = stats.max else { return true }
        // NaN sorts above every value and the bounds leave it out: unless the column is known
        // to hold none, a floating-point chunk's true maximum may be NaN.
        if case .double = hi, stats.containsNaN != false { hi = .double(.nan) }
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

/// Short bounds for long strings. A file's min/max are stored in its footer and, as text, in
/// the catalog (once per file): a 50 MB value would be stored twice more. Like other Parquet
/// writers we store bounds instead of values beyond `maxBytes`: the min cut to a prefix (a
/// prefix sorts before the value, so it stays a lower bound) and the max cut and incremented in
/// its last character (so it sorts after every value with that prefix: still an upper bound).
/// Cuts fall on UTF-8 character boundaries so the catalog text stays valid UTF-8; bytes compare
/// as unsigned, which orders UTF-8 by code point. Pruning only needs bounds, never the values.
public enum StatBounds {
    public static let maxBytes = 64

    /// A lower bound of `v`: `v` itself when short, else its longest prefix of at most
    /// `maxBytes` bytes that ends on a character boundary.
    public static func lower(_ v: [UInt8]) -> [UInt8] {
        guard v.count > maxBytes else { return v }
        return Array(v[..<boundary(v, atMost: maxBytes)])
    }

    /// An upper bound of `v`: `v` itself when short; else a prefix with its last character
    /// incremented. A prefix of only U+10FFFF / 0xFF has no shorter upper bound: then `v`.
    public static func upper(_ v: [UInt8]) -> [UInt8] {
        guard v.count > maxBytes else { return v }
        var end = boundary(v, atMost: maxBytes)
        while end > 0 {
            let start = characterStart(v, before: end)
            if let next = successor(Array(v[start ..< end])) { return Array(v[..<start]) + next }
            end = start  // the largest character: carry into the one before
        }
        return v
    }

    /// The largest index ≤ `limit` that does not split a UTF-8 sequence.
    static func boundary(_ v: [UInt8], atMost limit: Int) -> Int {
        var i = min(limit, v.count)
        while i > 0, i < v.count, v[i] & 0xC0 == 0x80 { i -= 1 }
        return i
    }

    static func characterStart(_ v: [UInt8], before end: Int) -> Int {
        var i = end - 1
        while i > 0, v[i] & 0xC0 == 0x80, end - i < 4 { i -= 1 }
        return i
    }

    /// The encoding of the next character after the one in `c`; for bytes that are not one
    /// valid UTF-8 character, the next byte string of the same length (nil after all 0xFF).
    static func successor(_ c: [UInt8]) -> [UInt8]? {
        var it = c.makeIterator()
        var decoder = UTF8()
        if case .scalarValue(let u) = decoder.decode(&it), UTF8.width(u) == c.count {
            var next = u.value + 1
            if next == 0xD800 { next = 0xE000 }  // surrogates are not characters
            guard let s = Unicode.Scalar(next) else { return nil }
            return Array(String(Character(s)).utf8)
        }
        guard let last = c.last, last < 0xFF else { return nil }
        return Array(c.dropLast()) + [last + 1]
    }
}
