import Foundation
// Slicing and concatenating batches: the writer's row-group assembly and compaction's merge.

extension Column {
    /// Rows `range` of this column as a new column (dictionary columns stay dictionary-encoded).
    public func slice(_ range: Range<Int>) -> Column {
        let v = validity.map { Array($0[range]) }
        switch data {
        case .bool(let a): return Column(.bool(Array(a[range])), validity: v)
        case .int32(let a): return Column(.int32(Array(a[range])), validity: v)
        case .int64(let a): return Column(.int64(Array(a[range])), validity: v)
        case .double(let a): return Column(.double(Array(a[range])), validity: v)
        case .dictionary(let idx, let values): return Column(.dictionary(indices: Array(idx[range]), values: values), validity: v)
        case .string(let s):
            var out = StringColumn()
            let base = s.offsets[range.lowerBound]
            out.offsets = s.offsets[range.lowerBound ... range.upperBound].map { $0 - base }
            out.bytes = Array(s.bytes[Int(base) ..< Int(s.offsets[range.upperBound])])
            return Column(.string(out), validity: v)
        }
    }

    /// The given row ranges of several columns of one type, end to end.
    public static func concatenate(_ parts: [(Column, Range<Int>)]) -> Column {
        precondition(!parts.isEmpty, "nothing to concatenate")
        let total = parts.reduce(0) { $0 + $1.1.count }
        let anyNulls = parts.contains { $0.0.validity != nil }
        var validity: [Bool]? = nil
        if anyNulls {
            var v: [Bool] = []
            v.reserveCapacity(total)
            for (c, r) in parts {
                if let cv = c.validity { v.append(contentsOf: cv[r]) } else { v.append(contentsOf: repeatElement(true, count: r.count)) }
            }
            validity = v
        }
        switch parts[0].0.data {
        case .bool:
            var out: [Bool] = []
            out.reserveCapacity(total)
            for (c, r) in parts { if case .bool(let a) = c.data { out.append(contentsOf: a[r]) } }
            return Column(.bool(out), validity: validity)
        case .int32:
            var out: [Int32] = []
            out.reserveCapacity(total)
            for (c, r) in parts { if case .int32(let a) = c.data { out.append(contentsOf: a[r]) } }
            return Column(.int32(out), validity: validity)
        case .int64:
            var out: [Int64] = []
            out.reserveCapacity(total)
            for (c, r) in parts { if case .int64(let a) = c.data { out.append(contentsOf: a[r]) } }
            return Column(.int64(out), validity: validity)
        case .double:
            var out: [Double] = []
            out.reserveCapacity(total)
            for (c, r) in parts { if case .double(let a) = c.data { out.append(contentsOf: a[r]) } }
            return Column(.double(out), validity: validity)
        case .string, .dictionary:
            // Parts indexing one shared dictionary (an ingest's catalog columns) stay encoded.
            if case .dictionary(_, let shared) = parts[0].0.data, parts.allSatisfy({ $0.0.data.sharesDictionary(shared) }) {
                var indices: [Int32] = []
                indices.reserveCapacity(total)
                for (c, r) in parts { if case .dictionary(let idx, _) = c.data { indices.append(contentsOf: idx[r]) } }
                return Column(.dictionary(indices: indices, values: shared), validity: validity)
            }
            var out = StringColumn()
            out.offsets.reserveCapacity(total + 1)
            for (c, r) in parts {
                switch c.data {
                case .string(let s):
                    // A range of a string column is one run of bytes: copied at once, offsets rebased.
                    guard !r.isEmpty else { continue }
                    let first = s.offsets[r.lowerBound], shift = Int32(out.bytes.count) - first
                    out.bytes.append(contentsOf: s.bytes[Int(first) ..< Int(s.offsets[r.upperBound])])
                    out.offsets.append(contentsOf: s.offsets[r.lowerBound + 1 ... r.upperBound].lazy.map { $0 + shift })
                case .dictionary(let idx, let values):
                    values.bytes.withUnsafeBytes { raw in
                        for i in r { out.append(UnsafeRawBufferPointer(rebasing: raw[values.byteRange(Int(idx[i]))])) }
                    }
                default:
                    preconditionFailure("concatenating a string column with \(c.data)")
                }
            }
            return Column(.string(out), validity: validity)
        }
    }
}

extension ColumnData {
    /// Whether this is a dictionary column over the very same values storage as `values` (the
    /// same arrays, not merely equal ones).
    func sharesDictionary(_ values: StringColumn) -> Bool {
        guard case .dictionary(_, let mine) = self, mine.count == values.count else { return false }
        return mine.bytes.withUnsafeBufferPointer { a in values.bytes.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress } }
            && mine.offsets.withUnsafeBufferPointer { a in values.offsets.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress } }
    }
}

extension RecordBatch {
    /// Rough in-memory size of the values, for memory budgets.
    public var estimatedBytes: Int {
        columns.reduce(0) { total, c in
            switch c.data {
            case .bool(let a): return total + a.count
            case .int32(let a): return total + a.count * 4
            case .int64(let a): return total + a.count * 8
            case .double(let a): return total + a.count * 8
            case .string(let s): return total + s.bytes.count + s.offsets.count * 4
            case .dictionary(let i, _): return total + i.count * 4
            }
        }
    }

    public func slice(_ range: Range<Int>) -> RecordBatch {
        RecordBatch(schema: schema, columns: columns.map { $0.slice(range) })
    }

    /// `gather(rows).estimatedBytes`, without gathering: `rows` must be in range.
    public func estimatedBytes(ofRows rows: [Int]) -> Int {
        columns.reduce(0) { total, c in
            switch c.data {
            case .bool: return total + rows.count
            case .int32, .dictionary: return total + rows.count * 4
            case .int64, .double: return total + rows.count * 8
            case .string(let s):
                let bytes = s.offsets.withUnsafeBufferPointer { o in rows.reduce(0) { $0 + Int(o[$1 + 1] - o[$1]) } }
                return total + bytes + (rows.count + 1) * 4
            }
        }
    }

    /// The rows at `rows`, in that order (a partition's rows, a sort order, the rows a delete
    /// file leaves). Dictionary columns stay dictionary-encoded.
    public func gather(_ rows: [Int]) -> RecordBatch {
        // Every row is checked against the bounds once, for all the columns (a check per column
        // was a pass over the rows per column of every partition of an ingest).
        let n = count
        precondition(rows.allSatisfy { $0 >= 0 && $0 < n }, "gather: row out of range")
        return RecordBatch(schema: schema, columns: columns.map { $0.gatherChecked(rows) })
    }

    /// The batch without the rows at `drop` (ascending, distinct, in range), the others in
    /// order: `gather` of the kept rows, but each column is copied a run of kept rows at a
    /// time, so taking a few rows out of a big batch (the duplicates a settled chunk loses)
    /// costs a few block copies per column instead of one indexed copy per row.
    public func removing(rows drop: [Int]) -> RecordBatch {
        guard !drop.isEmpty else { return self }
        precondition(drop[0] >= 0 && drop[drop.count - 1] < count && zip(drop, drop.dropFirst()).allSatisfy { $0 < $1 },
                     "removing: rows must be ascending, distinct and in range")
        var runs: [Range<Int>] = []
        var start = 0
        for r in drop {
            if r > start { runs.append(start ..< r) }
            start = r + 1
        }
        if start < count { runs.append(start ..< count) }
        let kept = count - drop.count
        return RecordBatch(schema: schema, columns: columns.map { c in
            let validity = c.validity.map { copyRuns($0, runs, kept) }
            switch c.data {
            case .bool(let v): return Column(.bool(copyRuns(v, runs, kept)), validity: validity)
            case .int32(let v): return Column(.int32(copyRuns(v, runs, kept)), validity: validity)
            case .int64(let v): return Column(.int64(copyRuns(v, runs, kept)), validity: validity)
            case .double(let v): return Column(.double(copyRuns(v, runs, kept)), validity: validity)
            case .dictionary(let idx, let values): return Column(.dictionary(indices: copyRuns(idx, runs, kept), values: values), validity: validity)
            case .string(let s): return Column(.string(s.copyingRuns(runs, kept)), validity: validity)
            }
        })
    }

    /// Row ranges of batches with the same column types, end to end, under `schema`.
    public static func concatenate(_ parts: [(RecordBatch, Range<Int>)], schema: Schema) -> RecordBatch {
        let columns = (0 ..< schema.fields.count).map { i in Column.concatenate(parts.map { ($0.0.columns[i], $0.1) }) }
        return RecordBatch(schema: schema, columns: columns)
    }
}

extension Column {
    /// The rows at `rows` (checked to be in range), in that order: `RecordBatch.gather` of one column.
    func gatherChecked(_ rows: [Int]) -> Column {
        let validity = validity.map { LakeFormat.gatherChecked($0, rows) }
        switch data {
        case .bool(let v): return Column(.bool(LakeFormat.gatherChecked(v, rows)), validity: validity)
        case .int32(let v): return Column(.int32(LakeFormat.gatherChecked(v, rows)), validity: validity)
        case .int64(let v): return Column(.int64(LakeFormat.gatherChecked(v, rows)), validity: validity)
        case .double(let v): return Column(.double(LakeFormat.gatherChecked(v, rows)), validity: validity)
        case .dictionary(let idx, let values): return Column(.dictionary(indices: LakeFormat.gatherChecked(idx, rows), values: values), validity: validity)
        case .string(let s): return Column(.string(s.gatherChecked(rows)), validity: validity)
        }
    }
}

/// `values` at `rows`, in that order, the rows already checked to be in range: the copy runs
/// without a check or a uniqueness test per element (a partition's gather touches every value
/// of an ingest).
@inline(__always)
func gatherChecked<T>(_ values: [T], _ rows: [Int]) -> [T] {
    values.withUnsafeBufferPointer { v in
        [T](unsafeUninitializedCapacity: rows.count) { out, n in
            for (k, r) in rows.enumerated() { (out.baseAddress! + k).initialize(to: v[r]) }
            n = rows.count
        }
    }
}

/// `values` in `runs` (in range, in order), end to end: `total` values, one block copy per run.
@inline(__always)
func copyRuns<T>(_ values: [T], _ runs: [Range<Int>], _ total: Int) -> [T] {
    values.withUnsafeBufferPointer { v in
        [T](unsafeUninitializedCapacity: total) { out, n in
            var at = 0
            for r in runs {
                (out.baseAddress! + at).initialize(from: v.baseAddress! + r.lowerBound, count: r.count)
                at += r.count
            }
            n = at
        }
    }
}

extension StringColumn {
    /// The values in `runs` (ascending row ranges holding `total` rows), end to end: the bytes
    /// of each run in one copy, its offsets shifted by one subtraction each.
    func copyingRuns(_ runs: [Range<Int>], _ total: Int) -> StringColumn {
        var byteCount = 0
        for r in runs { byteCount += Int(offsets[r.upperBound] - offsets[r.lowerBound]) }
        let newOffsets = offsets.withUnsafeBufferPointer { o in
            [Int32](unsafeUninitializedCapacity: total + 1) { out, n in
                out[0] = 0
                var at = 0
                for r in runs {
                    let shift = out[at] - o[r.lowerBound]
                    for i in r {
                        at += 1
                        out[at] = o[i + 1] + shift
                    }
                }
                n = total + 1
            }
        }
        let newBytes = offsets.withUnsafeBufferPointer { o in
            bytes.withUnsafeBytes { src in
                [UInt8](unsafeUninitializedCapacity: byteCount) { out, n in
                    var at = 0
                    for r in runs {
                        let start = Int(o[r.lowerBound]), len = Int(o[r.upperBound]) - start
                        if len > 0 { (out.baseAddress! + at).initialize(from: src.baseAddress!.assumingMemoryBound(to: UInt8.self) + start, count: len) }
                        at += len
                    }
                    n = byteCount
                }
            }
        }
        return StringColumn(offsets: newOffsets, bytes: newBytes)
    }

    /// The values at `rows`, in that order: offsets first (which sizes the bytes exactly),
    /// then one copy per value into a buffer allocated once.
    public func gather(_ rows: [Int]) -> StringColumn {
        let n = count
        precondition(rows.allSatisfy { $0 >= 0 && $0 < n }, "gather: row out of range")
        return gatherChecked(rows)
    }

    /// `gather` of rows already checked to be in range.
    func gatherChecked(_ rows: [Int]) -> StringColumn {
        let newOffsets = offsets.withUnsafeBufferPointer { o in
            [Int32](unsafeUninitializedCapacity: rows.count + 1) { out, n in
                var at: Int32 = 0
                out[0] = 0
                for (k, r) in rows.enumerated() {
                    at += o[r + 1] - o[r]
                    out[k + 1] = at
                }
                n = rows.count + 1
            }
        }
        let total = Int(newOffsets[rows.count])
        let newBytes = offsets.withUnsafeBufferPointer { o in
            bytes.withUnsafeBytes { src in
                [UInt8](unsafeUninitializedCapacity: total) { out, n in
                    var at = 0
                    for r in rows {
                        let start = Int(o[r]), len = Int(o[r + 1]) - start
                        if len > 0 { (out.baseAddress! + at).initialize(from: src.baseAddress!.assumingMemoryBound(to: UInt8.self) + start, count: len) }
                        at += len
                    }
                    n = total
                }
            }
        }
        return StringColumn(offsets: newOffsets, bytes: newBytes)
    }
}

extension Column {
    /// This column of `stored` type (a file's, or what the pipeline produces) under `type` (the
    /// table's, which another engine may have widened): `widened(to:)`, and a decimal stored at
    /// a smaller scale rescaled exactly (DuckDB allows DECIMAL(20,2) -> DECIMAL(38,4)); nil when
    /// a value does not fit, never a wrapped one. The one rule readers and writers share.
    public func widened(from stored: ColumnType, to type: ColumnType) -> Column? {
        guard case .decimal(_, let from) = stored, case .decimal(_, let to) = type, from != to else { return widened(to: type) }
        guard from < to, to - from <= 18, let column = widened(to: type), case .int64(let v) = column.data else { return nil }
        var factor: Int64 = 1
        for _ in 0 ..< to - from { factor *= 10 }
        var out = [Int64](repeating: 0, count: v.count)
        for i in v.indices {
            let (r, o) = v[i].multipliedReportingOverflow(by: factor)
            if o { return nil }
            out[i] = r
        }
        return Column(.int64(out), validity: validity)
    }

    /// This column's values under a wider type (a file written before `ALTER … TYPE`): int32 to
    /// int64, decimal or double, int64 to double; the same column when no change is needed; nil
    /// when the values cannot be read as that type.
    public func widened(to type: ColumnType) -> Column? {
        switch (data, type) {
        case (.int32(let v), .int64), (.int32(let v), .decimal), (.int32(let v), .timestamp):
            return Column(.int64(v.map(Int64.init)), validity: validity)
        case (.int32(let v), .double):
            return Column(.double(v.map(Double.init)), validity: validity)
        case (.int64(let v), .double):
            return Column(.double(v.map(Double.init)), validity: validity)
        case (.int32, .int32), (.int32, .date), (.int64, .int64), (.int64, .decimal), (.int64, .timestamp),
             (.double, .double), (.bool, .bool), (.string, .string), (.dictionary, .string):
            return self
        default:
            return nil
        }
    }
}

/// A shared counter handing out work items (files, partitions) to the threads of a parallel
/// loop, one at a time, so uneven items still balance across cores.
public final class WorkCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    public init() {}

    public func take() -> Int {
        lock.withLock {
            defer { value += 1 }
            return value
        }
    }
}
