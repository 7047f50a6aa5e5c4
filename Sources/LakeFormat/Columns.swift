// Typed column batches: the one in-memory shape that every layer passes around.
// Values are stored column by column in plain Swift arrays (no per-row objects), so the
// writer encodes, the reader decodes and the query engine aggregates in tight loops.

/// The logical types the lake stores. Each maps to one Parquet physical type and annotation.
public enum ColumnType: Hashable, Sendable, CustomStringConvertible {
    case bool
    case int32
    case int64
    case double
    case string
    /// Days since 1970-01-01 (Parquet INT32 + DATE).
    case date
    /// Microseconds since the Unix epoch, UTC (Parquet INT64 + TIMESTAMP(isAdjustedToUTC, MICROS)).
    case timestamp
    /// Exact decimal held in memory as an unscaled Int64. Precision at most 18 is Parquet INT64 +
    /// DECIMAL; up to 38 (a column DuckDB widened, `ALTER … SET DATA TYPE DECIMAL(38,2)`) is
    /// FIXED_LEN_BYTE_ARRAY (`DecimalBytes`), and a stored value past Int64 is an error naming
    /// the file, never a wrapped or clamped value.
    case decimal(precision: Int, scale: Int)

    public var description: String {
        switch self {
        case .bool: return "boolean"
        case .int32: return "int32"
        case .int64: return "int64"
        case .double: return "double"
        case .string: return "string"
        case .date: return "date"
        case .timestamp: return "timestamp"
        case .decimal(let p, let s): return "decimal(\(p),\(s))"
        }
    }
}

public struct Field: Hashable, Sendable {
    public var name: String
    public var type: ColumnType
    public var nullable: Bool
    /// Stable identity of the column across renames (Parquet field_id, DuckLake column_id).
    public var fieldID: Int32?

    public init(_ name: String, _ type: ColumnType, nullable: Bool = false, fieldID: Int32? = nil) {
        self.name = name
        self.type = type
        self.nullable = nullable
        self.fieldID = fieldID
    }
}

public struct Schema: Hashable, Sendable {
    public var fields: [Field]

    public init(_ fields: [Field]) { self.fields = fields }

    public func index(of name: String) -> Int? { fields.firstIndex { $0.name == name } }
}

/// Variable-length strings in one contiguous UTF-8 buffer, Arrow style:
/// value `i` is `bytes[offsets[i] ..< offsets[i + 1]]`.
public struct StringColumn: Sendable, Equatable {
    public var offsets: [Int32]
    public var bytes: [UInt8]

    public init() {
        offsets = [0]
        bytes = []
    }

    public init(offsets: [Int32], bytes: [UInt8]) {
        precondition(!offsets.isEmpty, "a StringColumn has count + 1 offsets")
        self.offsets = offsets
        self.bytes = bytes
    }

    public init<S: Sequence>(_ strings: S) where S.Element == String {
        self.init()
        for s in strings { append(s) }
    }

    @inlinable
    public var count: Int { offsets.count - 1 }

    public mutating func reserve(count: Int, bytes byteCount: Int) {
        offsets.reserveCapacity(count + 1)
        bytes.reserveCapacity(byteCount)
    }

    public mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
        offsets.append(Int32(bytes.count))
    }

    public mutating func append(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw)
        offsets.append(Int32(bytes.count))
    }

    /// Appends every value of `other`: one copy of its bytes, its offsets shifted.
    public mutating func append(contentsOf other: StringColumn) {
        let base = Int32(bytes.count)
        bytes.append(contentsOf: other.bytes)
        // Appends grow the array geometrically; an exact reserve per call would copy it every page.
        for i in 1 ..< other.offsets.count { offsets.append(base + other.offsets[i]) }
    }

    /// Appends `values[i]` for each `i` of `indices`, in order: the bytes are sized in one pass and
    /// copied in a second into one new buffer (appending them one by one cost ~160 instructions
    /// a value in the array's bookkeeping, for values of a dozen bytes).
    public mutating func append(gathering indices: [Int32], from values: StringColumn) {
        if indices.isEmpty { return }
        var total = 0
        offsets.reserveCapacity(Swift.max(offsets.capacity, offsets.count + indices.count))
        let base = bytes.count
        values.offsets.withUnsafeBufferPointer { from in
            for i in indices {
                total += Int(from[Int(i) + 1] - from[Int(i)])
                offsets.append(Int32(base + total))
            }
        }
        let gathered = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            values.offsets.withUnsafeBufferPointer { from in
                values.bytes.withUnsafeBufferPointer { src in
                    var o = 0
                    for i in indices {
                        let start = Int(from[Int(i)]), n = Int(from[Int(i) + 1]) - start
                        if n > 0 { (buffer.baseAddress! + o).update(from: src.baseAddress! + start, count: n) }
                        o += n
                    }
                }
            }
            initialized = total
        }
        if bytes.isEmpty { bytes = gathered } else { bytes.append(contentsOf: gathered) }
    }

    /// Appends an empty value (the placeholder stored under a null).
    public mutating func appendEmpty() { offsets.append(Int32(bytes.count)) }

    public func byteRange(_ i: Int) -> Range<Int> { Int(offsets[i]) ..< Int(offsets[i + 1]) }

    public subscript(i: Int) -> String {
        let r = byteRange(i)
        return bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[r]), as: UTF8.self) }
    }

    /// Calls `body` with value `i`'s bytes without copying them.
    @inlinable
    public func withBytes<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let start = Int(offsets[i]), end = Int(offsets[i + 1])
        return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start ..< end])) }
    }
}

/// The values of one column. Nulls hold a placeholder (0, false, empty string) so every
/// array is dense and indexable by row.
public enum ColumnData: Sendable, Equatable {
    case bool([Bool])
    case int32([Int32])
    case int64([Int64])
    case double([Double])
    case string(StringColumn)
    /// Strings kept dictionary-encoded as the file stored them: row `i` is `values[indices[i]]`.
    /// Only the reader produces this; low-cardinality columns (channel, country) group and
    /// filter on the small integer codes.
    case dictionary(indices: [Int32], values: StringColumn)

    public var count: Int {
        switch self {
        case .bool(let v): return v.count
        case .int32(let v): return v.count
        case .int64(let v): return v.count
        case .double(let v): return v.count
        case .string(let v): return v.count
        case .dictionary(let idx, _): return idx.count
        }
    }
}

public struct Column: Sendable, Equatable {
    public var data: ColumnData
    /// `nil` when every value is present; otherwise `false` marks a null row.
    public var validity: [Bool]?

    public init(_ data: ColumnData, validity: [Bool]? = nil) {
        precondition(validity == nil || validity!.count == data.count, "validity must cover every row")
        self.data = data
        self.validity = validity
    }

    public var count: Int { data.count }

    @inlinable
    public func isNull(_ row: Int) -> Bool { validity.map { !$0[row] } ?? false }

    public var nullCount: Int { validity?.reduce(0) { $0 + ($1 ? 0 : 1) } ?? 0 }

    /// The string at `row` for string and dictionary columns (nil when null).
    public func string(at row: Int) -> String? {
        if isNull(row) { return nil }
        switch data {
        case .string(let s): return s[row]
        case .dictionary(let idx, let values): return values[Int(idx[row])]
        default: return nil
        }
    }

    /// Dictionary-encoded strings expanded into a plain StringColumn; other data unchanged.
    public func materialized() -> Column {
        guard case .dictionary(let idx, let values) = data else { return self }
        var out = StringColumn()
        out.reserve(count: idx.count, bytes: idx.count * 8)
        values.bytes.withUnsafeBytes { raw in
            for i in idx {
                let r = values.byteRange(Int(i))
                out.append(UnsafeRawBufferPointer(rebasing: raw[r]))
            }
        }
        return Column(.string(out), validity: validity)
    }
}

/// Rows of one schema, column by column.
public struct RecordBatch: Sendable, Equatable {
    public var schema: Schema
    public var columns: [Column]

    public init(schema: Schema, columns: [Column]) {
        precondition(schema.fields.count == columns.count, "one column per field")
        if let first = columns.first {
            precondition(columns.allSatisfy { $0.count == first.count }, "columns must have equal length")
        }
        self.schema = schema
        self.columns = columns
    }

    public var count: Int { columns.first?.count ?? 0 }

    public func column(_ name: String) -> Column? { schema.index(of: name).map { columns[$0] } }
}
