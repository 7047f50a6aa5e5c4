import Foundation
import LakeCatalog
import LakeFormat

/// Writes one table's rows as Parquet segments under the table's directory: one file per
/// (event_date, channel) partition, named by a fresh UUID so a file is never overwritten and
/// an uncommitted one is only debris for vacuum. `finish` closes (and fsyncs) every file and
/// describes it for the catalog.
struct SegmentWriter {
    let directory: URL
    let schema: Schema
    let partitioned: Bool
    let options: ParquetWriteOptions
    /// Threads that encode and compress partitions at once.
    var parallelism = 1
    /// Bytes of queued rows this table's open files may hold together (see `boundPending`).
    var pendingBudget = 64 << 20
    /// Threads that close (and fsync) finished files at once.
    static let closeThreads = 16
    private var open: [PartitionKey: (writer: ParquetFileWriter, relative: String)] = [:]
    private var single: (writer: ParquetFileWriter, relative: String)?
    private(set) var rows = 0

    init(directory: URL, schema: Schema, partitioned: Bool, options: ParquetWriteOptions) {
        self.directory = directory
        self.schema = schema
        self.partitioned = partitioned
        self.options = options
    }

    mutating func write(_ batch: RecordBatch) throws {
        guard batch.count > 0 else { return }
        rows += batch.count
        let typed = RecordBatch(schema: schema, columns: batch.columns)
        guard partitioned else {
            if single == nil { single = try create(prefix: nil) }
            try single!.writer.write(typed)
            return
        }
        let parts = try Partitioning.split(typed)
        // New partitions' directories are made durable (mkdir, fsync the parent) at once.
        let missing = parts.map(\.key).filter { open[$0] == nil }
        let created = try parallelMapBlocking(count: missing.count, threads: Self.closeThreads) { try create(prefix: Self.partitionPath(missing[$0])) }
        for (key, file) in zip(missing, created) { open[key] = file }
        // Each partition has its own file writer (and zstd context): they gather, encode and
        // compress on `parallelism` threads at once.
        let writers = parts.map { open[$0.key]!.writer }
        _ = try parallelMap(count: parts.count, parallelism: parallelism) { i in
            let rows = parts[i].rows
            try writers[i].write(rows.count == typed.count ? typed : Partitioning.gather(typed, rows: rows))
        }
        try boundPending()
    }

    /// Each open file queues up to a row group of rows; with a hundred partitions open that is
    /// most of an ingest's memory. Past `pendingBudget` bytes queued over all of this table's
    /// files, the fullest end their row groups early until half the budget is left.
    private func boundPending() throws {
        let writers = open.values.map(\.writer)
        var total = writers.reduce(0) { $0 + $1.pendingBytes }
        guard total > pendingBudget else { return }
        var flush: [ParquetFileWriter] = []
        for w in writers.sorted(by: { $0.pendingBytes > $1.pendingBytes }) where total > pendingBudget / 2 {
            total -= w.pendingBytes
            flush.append(w)
        }
        _ = try parallelMap(count: flush.count, parallelism: parallelism) { try flush[$0].endRowGroup() }
    }

    /// Closes every file and returns what the catalog records about each.
    mutating func finish() throws -> [NewDataFile] {
        var files: [NewDataFile] = []
        var all = open.map { (key: Optional($0.key), value: $0.value) }
        if let single { all.append((nil, single)) }
        // Closing flushes the last row group and fsyncs the file and its directory: mostly
        // waiting on the device, so many files close at once (one partition's flush no longer
        // waits for the previous one's; the file system commits them together).
        let summaries = try parallelMapBlocking(count: all.count, threads: Self.closeThreads) { try all[$0].value.writer.close() }
        for ((key, (_, relative)), summary) in zip(all, summaries) {
            var partitionValues: [String: String] = [:]
            if let key {
                partitionValues = ["event_date": StatText.date(days: key.date), "channel": key.channel]
            }
            var stats: [Int64: ColumnStats] = [:]
            for (i, field) in schema.fields.enumerated() {
                guard let id = field.fieldID else { continue }
                stats[Int64(id)] = Self.catalogStats(summary.columnStatistics[i], field.type, rows: summary.rowCount)
            }
            files.append(NewDataFile(relativePath: relative, recordCount: summary.rowCount, fileSizeBytes: summary.fileSize,
                                     footerSize: summary.footerSize, footerChecksum: summary.footerChecksum, partitionValues: partitionValues, columnStats: stats))
        }
        open = [:]
        single = nil
        return files.sorted { $0.relativePath < $1.relativePath }
    }

    private func create(prefix: String?) throws -> (writer: ParquetFileWriter, relative: String) {
        let name = UUID().uuidString.lowercased() + ".parquet"
        let relative = prefix.map { $0 + "/" + name } ?? name
        let url = directory.appendingPathComponent(relative)
        try Durability.createDirectories(url.deletingLastPathComponent().path)
        return (try ParquetFileWriter(path: url.path, schema: schema, options: options), relative)
    }

    /// Hive-style `date=2024-01-15/channel=web`, with every byte outside [A-Za-z0-9._-]
    /// percent-encoded, so no value ("../x", "a/b") can leave its table directory.
    static func partitionPath(_ key: PartitionKey) -> String {
        "date=\(StatText.date(days: key.date))/channel=\(escape(key.channel))"
    }

    static func escape(_ value: String) -> String {
        if value.isEmpty { return "%00" }
        if value == "." || value == ".." { return value.replacingOccurrences(of: ".", with: "%2E") }
        var out = ""
        for b in value.utf8 {
            switch b {
            case UInt8(ascii: "a") ... UInt8(ascii: "z"), UInt8(ascii: "A") ... UInt8(ascii: "Z"),
                 UInt8(ascii: "0") ... UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                out.unicodeScalars.append(UnicodeScalar(b))
            default:
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    /// A file's min/max in the text form DuckLake stores, so DuckDB and our planner prune on it.
    static func catalogStats(_ s: ColumnStatistics, _ type: ColumnType, rows: Int64) -> ColumnStats {
        func text(_ v: StatValue?) -> String? {
            switch (v, type) {
            case (nil, _), (.bool?, _): return nil
            case (.int(let i)?, .date): return StatText.date(days: i)
            case (.int(let i)?, .timestamp): return StatText.timestamp(micros: i)
            case (.int(let i)?, .decimal(_, let scale)): return StatText.decimal(unscaled: i, scale: scale)
            case (.int(let i)?, _): return StatText.int(i)
            case (.double(let d)?, _): return StatText.double(d)
            case (.bytes(let b)?, _): return String(decoding: b, as: UTF8.self)
            }
        }
        let nulls = s.nullCount ?? 0
        return ColumnStats(min: text(s.min), max: text(s.max), nullCount: nulls, valueCount: rows - nulls)
    }
}
