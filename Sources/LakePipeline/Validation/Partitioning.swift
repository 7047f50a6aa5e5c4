import LakeFormat

/// One (event_date, channel) partition of a batch.
public struct PartitionKey: Hashable, Sendable, Comparable {
    /// Days since 1970-01-01.
    public var date: Int32
    public var channel: String

    public init(date: Int32, channel: String) {
        self.date = date
        self.channel = channel
    }

    /// "date=2024-01-15/channel=web", the directory under raw/<table>/ or curated/<table>/.
    public var path: String { "date=\(CivilDate.format(days: Int64(date)))/channel=\(channel)" }

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
        let channels = batch.columns[ci].materialized()
        guard case .string(let names) = channels.data else { throw .wrongType(channelColumn, batch.schema.fields[ci].type) }
        // Group on (date, channel-dictionary code) with a byte-keyed table: no String per row.
        var channelCodes = ByteKeyTable(capacity: 16)
        var channelNames: [String] = []
        var groups: [Int64: [Int]] = [:]
        names.bytes.withUnsafeBytes { raw in
            for row in 0 ..< batch.count {
                let r = names.byteRange(row)
                let bytes = UnsafeRawBufferPointer(rebasing: raw[r])
                var code = channelCodes.value(for: bytes)
                if code == nil {
                    code = Int32(channelNames.count)
                    channelCodes.insertIfAbsent(bytes, value: code!)
                    channelNames.append(String(decoding: bytes, as: UTF8.self))
                }
                groups[Int64(dates[row]) << 20 | Int64(code!), default: []].append(row)
            }
        }
        return groups.map { (key: PartitionKey(date: Int32($0.key >> 20), channel: channelNames[Int($0.key & 0xFFFFF)]), rows: $0.value) }
            .sorted { $0.key < $1.key }
    }

    /// The rows of `batch` at `rows`, in that order (one partition's file).
    public static func gather(_ batch: RecordBatch, rows: [Int]) -> RecordBatch { batch.gather(rows) }
}
