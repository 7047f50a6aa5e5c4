import LakeFormat
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One (event_date, channel) partition of a batch.
public struct PartitionKey: Hashable, Sendable, Comparable {
    /// Days since 1970-01-01.
    public var date: Int32
    public var channel: String

    public init(date: Int32, channel: String) {
        self.date = date
        self.channel = channel
    }

    /// "event_date=2024-01-15/channel=web", the directory under raw/<table>/ or curated/<table>/
    /// (`SegmentWriter.partitionPath`, the one rule: lakes written before session 31 also hold
    /// `date=…` directories; the catalog has each file's path, so both are read).
    public var path: String { SegmentWriter.partitionPath(self) }

    public static func < (a: PartitionKey, b: PartitionKey) -> Bool { (a.date, a.channel) < (b.date, b.channel) }
}

public enum PartitionError: Error, CustomStringConvertible, Equatable {
    case missingColumn(String)
    case wrongType(String, ColumnType)

    public var description: String {
        switch self {
        case .missingColumn(let c): return "batch has no partition column '\(c)'"
        case .wrongType(let c, let t): return "partition column '\(c)' is \(t); expected date / string"
        }
    }
}

public enum Partitioning {
    /// Row indices of `batch` grouped by (date, channel), partitions in ascending order and rows
    /// in batch order within each, ready to gather into one file per partition.
    public static func split(_ batch: RecordBatch, dateColumn: String = "event_date",
                             channelColumn: String = "channel") throws(PartitionError) -> [(key: PartitionKey, rows: [Int])] {
        guard let di = batch.schema.index(of: dateColumn) else { throw .missingColumn(dateColumn) }
        guard let ci = batch.schema.index(of: channelColumn) else { throw .missingColumn(channelColumn) }
        guard case .int32(let dates) = batch.columns[di].data else { throw .wrongType(dateColumn, batch.schema.fields[di].type) }
        // Channel codes: one per dictionary entry for a dictionary column, else per distinct
        // byte string (a handful: a tiny table, no String per row).
        var channelCodes = ByteKeyTable(capacity: 16)
        var channelNames: [String] = []
        func code(_ bytes: UnsafeRawBufferPointer) -> Int32 {
            if let c = channelCodes.value(for: bytes) { return c }
            let c = Int32(channelNames.count)
            channelCodes.insertIfAbsent(bytes, value: c)
            channelNames.append(String(decoding: bytes, as: UTF8.self))
            return c
        }
        var codes = [Int32](repeating: 0, count: batch.count)
        switch batch.columns[ci].data {
        case .dictionary(let idx, let values):
            let entry = values.bytes.withUnsafeBytes { raw in
                (0 ..< values.count).map { code(UnsafeRawBufferPointer(rebasing: raw[values.byteRange($0)])) }
            }
            codes.withUnsafeMutableBufferPointer { codes in
                for (row, i) in idx.enumerated() { codes[row] = entry[Int(i)] }
            }
        case .string(let names):
            names.bytes.withUnsafeBytes { raw in
                // Rows of one channel come in runs often enough that the previous row's code is
                // worth checking before the table.
                var last = (range: 0 ..< 0, code: Int32(-1))
                for row in 0 ..< batch.count {
                    let r = names.byteRange(row)
                    if last.code >= 0, r.count == last.range.count,
                       r.isEmpty || memcmp(raw.baseAddress! + r.lowerBound, raw.baseAddress! + last.range.lowerBound, r.count) == 0 {
                        codes[row] = last.code
                        continue
                    }
                    let c = code(UnsafeRawBufferPointer(rebasing: raw[r]))
                    codes[row] = c
                    last = (r, c)
                }
            }
        default:
            throw .wrongType(channelColumn, batch.schema.fields[ci].type)
        }
        // A counting sort on the dense key (date - first date) x channel code: two passes over
        // the rows and no hashing, rows in batch order within each partition. A key range wider
        // than the batch (a few rows with far-off dates: bad input can carry any year) falls
        // back to a hash table, so the dense table never costs more than the rows.
        guard batch.count > 0 else { return [] }
        let channelCount = channelNames.count
        var lo = Int64(dates[0]), hi = lo
        for d in dates { lo = min(lo, Int64(d)); hi = max(hi, Int64(d)) }
        var slot = [Int32](repeating: 0, count: batch.count)
        var keys: [PartitionKey] = []
        let span = (hi - lo + 1) * Int64(channelCount)
        if span <= max(1 << 12, Int64(batch.count)) {
            var dense = [Int32](repeating: -1, count: Int(span))
            // Slots in key order: dates ascending, then channels by name.
            let byName = (0 ..< channelCount).sorted { channelNames[$0] < channelNames[$1] }
            var rank = [Int](repeating: 0, count: channelCount)
            for (r, c) in byName.enumerated() { rank[c] = r }
            // Each row's dense key, worked out once through pointers (in range by construction
            // of lo, hi and the channel ranks) and read by both passes below.
            let key = [Int](unsafeUninitializedCapacity: batch.count) { out, n in
                dates.withUnsafeBufferPointer { dates in
                    codes.withUnsafeBufferPointer { codes in
                        rank.withUnsafeBufferPointer { rank in
                            for row in 0 ..< batch.count { out[row] = Int(Int64(dates[row]) - lo) * channelCount + rank[Int(codes[row])] }
                        }
                    }
                }
                n = batch.count
            }
            for k in key { dense[k] = 0 }
            for k in 0 ..< dense.count where dense[k] == 0 {
                dense[k] = Int32(keys.count)
                keys.append(PartitionKey(date: Int32(lo + Int64(k / channelCount)), channel: channelNames[byName[k % channelCount]]))
            }
            slot.withUnsafeMutableBufferPointer { slot in
                for (row, k) in key.enumerated() { slot[row] = dense[k] }
            }
        } else {
            var index: [Int64: Int32] = [:]
            for row in 0 ..< batch.count {
                let key = Int64(dates[row]) << 20 | Int64(codes[row])
                if let s = index[key] { slot[row] = s; continue }
                let s = Int32(keys.count)
                index[key] = s
                keys.append(PartitionKey(date: dates[row], channel: channelNames[Int(codes[row])]))
                slot[row] = s
            }
        }
        // Each partition's rows, in batch order: placed into one flat array through pointers
        // (an append per row to an array of arrays checked the uniqueness of both), then cut.
        var start = [Int](repeating: 0, count: keys.count + 1)
        for s in slot { start[Int(s) + 1] += 1 }
        for k in 0 ..< keys.count { start[k + 1] += start[k] }
        var next = start
        var flat = [Int](repeating: 0, count: batch.count)
        flat.withUnsafeMutableBufferPointer { flat in
            next.withUnsafeMutableBufferPointer { next in
                for (row, s) in slot.enumerated() {
                    flat[next[Int(s)]] = row
                    next[Int(s)] += 1
                }
            }
        }
        return keys.indices.map { (key: keys[$0], rows: Array(flat[start[$0] ..< start[$0 + 1]])) }.sorted { $0.key < $1.key }
    }

    /// The rows of `batch` at `rows`, in that order (one partition's file).
    public static func gather(_ batch: RecordBatch, rows: [Int]) -> RecordBatch { batch.gather(rows) }
}
