import Foundation
import LakeCatalog
import LakeFormat

/// Writes one table's rows as Parquet segments under the table's directory: one file per
/// (event_date, channel) partition, named by a fresh UUID so a file is never overwritten and
/// an uncommitted one is only debris for vacuum. `finish` closes (and fsyncs) every file and
/// describes it for the catalog.
struct SegmentWriter {
    let directory: URL
    /// The table's columns as the catalog has them, less the omitted ones (`WriteLayout`):
    /// what every file is written with.
    let schema: Schema
    /// How the pipeline's rows become rows of `schema`.
    let layout: WriteLayout
    let partitioned: Bool
    let options: ParquetWriteOptions
    /// Threads that encode and compress partitions at once.
    var parallelism = 1
    /// Bytes of queued rows this table's open files may hold together (see `boundPending`).
    var pendingBudget = 64 << 20
    /// Threads that close (and fsync) finished files at once.
    static let closeThreads = 16
    /// Writes a partition may go without rows before its queued rows become a row group.
    var idleWrites = 6
    /// Where the writer's time goes (`LAKE_PHASE_TIMES`).
    var tally: ThreadTally?
    private var open: [PartitionKey: (writer: ParquetFileWriter, relative: String)] = [:]
    /// The write (counted in `writes`) that last gave each partition rows.
    private var lastWritten: [PartitionKey: Int] = [:]
    private var writes = 0
    /// Partitions an idle flush has written once (see `flushIdle`).
    private var idleFlushed: Set<PartitionKey> = []
    private var single: (writer: ParquetFileWriter, relative: String)?
    private(set) var rows = 0

    /// The lake's data files: every segment is a new object of its storage.
    let files: LakeFiles

    init(directory: URL, files: LakeFiles, schema: Schema, layout: WriteLayout, partitioned: Bool, options: ParquetWriteOptions) {
        self.directory = directory
        self.files = files
        self.schema = schema
        self.layout = layout
        self.partitioned = partitioned
        self.options = options
    }

    mutating func write(_ batch: RecordBatch) throws {
        var writers = [self]
        var created = FilesCreated(writers)
        try Self.write(&writers, try Self.prepare(writers, [batch], created: &created))
        self = writers[0]
    }

    /// Which files of each table exist (or are being handed to the writers): kept by the side
    /// that prepares writes, apart from the writers' own state, so preparing needs no lock.
    struct FilesCreated {
        fileprivate var keys: [Set<PartitionKey>]
        fileprivate var single: [Bool]

        init(_ writers: [SegmentWriter]) {
            keys = writers.map { Set($0.open.keys) }
            single = writers.map { $0.single != nil }
        }
    }

    /// One batch for each table, in the table's columns and split into partitions, with a new
    /// file for each partition no earlier batch had: made by `prepare`, written by `write`.
    /// Unchecked: its new files are handed over once, with the batch, and from then on used
    /// only by the thread that writes.
    struct PreparedWrite: @unchecked Sendable {
        fileprivate struct Table {
            var typed: RecordBatch?
            var parts: [(key: PartitionKey, rows: [Int])] = []
            /// Files created for this batch; key nil: the table's one unpartitioned file.
            var created: [(key: PartitionKey?, file: (writer: ParquetFileWriter, relative: String))] = []
        }
        fileprivate var tables: [Table]
    }

    /// The first half of a write, for `write(_:_:)` on another thread: `batches[t]` in the
    /// columns of `writers[t]`'s table, split into partitions, and the new partitions' files
    /// created, all at once. Creating a file in a new partition directory waits on the device
    /// (mkdir, fsync of the parent): on 1 M orders 1.2 s of the writers' 2.5 s, during which
    /// they encoded nothing and the validators, their window full, waited too. The ingest
    /// prepares a drain on its settling thread, which otherwise waits for the writers.
    static func prepare(_ writers: [SegmentWriter], _ batches: [RecordBatch], created: inout FilesCreated) throws -> PreparedWrite {
        precondition(writers.count == batches.count, "one batch per table")
        var tables: [PreparedWrite.Table] = []
        var missing: [(table: Int, key: PartitionKey?)] = []
        for (t, w) in writers.enumerated() {
            guard batches[t].count > 0 else {
                tables.append(PreparedWrite.Table(typed: nil))
                continue
            }
            let typed = try w.layout.apply(batches[t], as: w.schema)
            var table = PreparedWrite.Table(typed: typed)
            if w.partitioned {
                table.parts = try Partitioning.split(typed)
                for part in table.parts where created.keys[t].insert(part.key).inserted { missing.append((t, part.key)) }
            } else if !created.single[t] {
                created.single[t] = true
                missing.append((t, nil))
            }
            tables.append(table)
        }
        // New partitions' directories are made durable (mkdir, fsync the parent) at once.
        let files = try parallelMapBlocking(count: missing.count, threads: closeThreads) {
            try writers[missing[$0].table].create(prefix: missing[$0].key.map(partitionPath))
        }
        for (m, file) in zip(missing, files) { tables[m.table].created.append((m.key, file)) }
        return PreparedWrite(tables: tables)
    }

    /// The paths of the files `prepare` created for `prepared` (`writers` as given to it).
    static func createdPaths(_ writers: [SegmentWriter], _ prepared: PreparedWrite) -> [String] {
        zip(writers, prepared.tables).flatMap { w, table in
            table.created.map { w.directory.appendingPathComponent($0.file.relative).path }
        }
    }

    /// Writes a prepared batch to each table (`writers[t]`, as given to `prepare`), the
    /// tables' partitions together: every partition of every table gathers, encodes and
    /// compresses its rows on `parallelism` threads, largest first, behind one barrier. Written
    /// table after table, each table's few partitions (a chunk of a source in event-time order
    /// covers a day or two: a few partitions of very unequal size) left one core idle at the
    /// end of each table's turn. Every file gets the rows, row groups and bytes it got table by
    /// table.
    static func write(_ writers: inout [SegmentWriter], _ prepared: PreparedWrite) throws {
        precondition(writers.count == prepared.tables.count, "one batch per table")
        let tally = writers.first?.tally ?? nil
        try tally.measure("writer: all tables") { try writeStages(&writers, prepared, tally: tally) }
    }

    private static func writeStages(_ writers: inout [SegmentWriter], _ prepared: PreparedWrite, tally: ThreadTally?) throws {
        // One task per (table, partition): the file writer and the rows it takes (nil: all).
        var tasks: [(writer: ParquetFileWriter, batch: RecordBatch, rows: [Int]?)] = []
        for (t, table) in prepared.tables.enumerated() {
            guard let typed = table.typed else { continue }
            writers[t].rows += typed.count
            for (key, file) in table.created {
                if let key { writers[t].open[key] = file } else { writers[t].single = file }
            }
            if !writers[t].partitioned {
                tasks.append((writers[t].single!.writer, typed, nil))
                continue
            }
            for part in table.parts {
                tasks.append((writers[t].open[part.key]!.writer, typed, part.rows.count == typed.count ? nil : part.rows))
            }
        }
        // Each partition has its own file writer (and zstd context). Largest first, so the last
        // task to start is a small one and both threads end close together.
        tasks.sort { ($0.rows?.count ?? $0.batch.count) > ($1.rows?.count ?? $1.batch.count) }
        let parallelism = writers.map(\.parallelism).max() ?? 1
        let work = tasks
        _ = try tally.measure("writer: gather, encode partitions") {
            try parallelMap(count: work.count, parallelism: parallelism, split: .dynamic) { i in
                let task = work[i]
                // A partition's rows are encoded from the drain where they lie when they end a
                // row group at once, else gathered (`ParquetFileWriter.write(_:rows:)`).
                if let rows = task.rows { try task.writer.write(task.batch, rows: rows) } else { try task.writer.write(task.batch) }
            }
        }
        // Each table decides its flushes from its own files, as it did alone: the idle
        // partitions first, then the budget over what is still queued.
        var idle: [ParquetFileWriter] = []
        for (t, table) in prepared.tables.enumerated() where writers[t].partitioned && table.typed != nil {
            writers[t].writes += 1
            for part in table.parts { writers[t].lastWritten[part.key] = writers[t].writes }
            idle += writers[t].takeIdle()
        }
        try tally.measure("writer: idle and budget flushes") {
            try endRowGroups(idle, parallelism: parallelism)
            try endRowGroups(writers.flatMap { $0.overBudget() }, parallelism: parallelism)
        }
    }


    /// A source is mostly in event-time order, so a day's partitions stop receiving rows once
    /// the input has moved past it; their queued rows used to wait for `finish`, where every
    /// partition's last row group was encoded at once after the input was read (on 1 M orders
    /// most of the rows of curated.orders and order_items, and the commit's longest step).
    /// Encoding them as soon as a partition has been idle for `idleWrites` writes moves that
    /// work into the read, beside the validators. Once per partition: rows arriving for it
    /// later (late events, a few at a time) would otherwise each become a row group of their
    /// own whenever the partition went quiet again (15 row groups for 48 rows with small
    /// chunks); they wait for the budget or `finish` and share one.
    private mutating func takeIdle() -> [ParquetFileWriter] {
        let idle = open.filter { key, file in
            file.writer.pendingBytes > 0 && !idleFlushed.contains(key) && writes - (lastWritten[key] ?? writes) >= idleWrites
        }
        idleFlushed.formUnion(idle.keys)
        return idle.map(\.value.writer)
    }

    /// Each open file queues up to a row group of rows; with a hundred partitions open that is
    /// most of an ingest's memory. Past `pendingBudget` bytes queued over all of this table's
    /// files, the fullest end their row groups early until half the budget is left.
    private func overBudget() -> [ParquetFileWriter] {
        let writers = open.values.map(\.writer)
        var total = writers.reduce(0) { $0 + $1.pendingBytes }
        guard total > pendingBudget else { return [] }
        var flush: [ParquetFileWriter] = []
        for w in writers.sorted(by: { $0.pendingBytes > $1.pendingBytes }) where total > pendingBudget / 2 {
            total -= w.pendingBytes
            flush.append(w)
        }
        return flush
    }

    /// Ends the row group of each writer, encoding and compressing them on `parallelism` threads.
    private static func endRowGroups(_ writers: [ParquetFileWriter], parallelism: Int) throws {
        _ = try parallelMap(count: writers.count, parallelism: parallelism, split: .dynamic) { try writers[$0].endRowGroup() }
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
            var file = NewDataFile(relativePath: relative, recordCount: summary.rowCount, fileSizeBytes: summary.fileSize,
                                   footerSize: summary.footerSize, footerChecksum: summary.footerChecksum, partitionValues: partitionValues, columnStats: stats)
            file.omittedColumns = Set(layout.omitted.map(\.columnID))
            files.append(file)
        }
        open = [:]
        single = nil
        return files.sorted { $0.relativePath < $1.relativePath }
    }

    private func create(prefix: String?) throws -> (writer: ParquetFileWriter, relative: String) {
        let name = UUID().uuidString.lowercased() + ".parquet"
        let relative = prefix.map { $0 + "/" + name } ?? name
        let url = directory.appendingPathComponent(relative)
        return (try files.writer(url.path, schema: schema, options: options), relative)
    }

    /// Hive-style `event_date=2024-01-15/channel=web`, with every byte outside [A-Za-z0-9._-]
    /// percent-encoded, so no value ("../x", "a/b") can leave its table directory. Named for
    /// the partition columns, as DuckDB names the directories it writes into: DuckDB 1.5.5's
    /// `ducklake_merge_adjacent_files` fails ("Files have different hive partition path") on a
    /// partition whose files lie in two directories, and lake wrote `date=…` until session 31.
    static func partitionPath(_ key: PartitionKey) -> String {
        "event_date=\(StatText.date(days: key.date))/channel=\(escape(key.channel))"
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

/// How rows the pipeline produces (the registry version's columns) become rows of the table as
/// the catalog has it now. Another engine may have altered the table, e.g. DuckDB attached to
/// the lake ran `ALTER TABLE curated.orders ADD COLUMN note VARCHAR`: such a column is written
/// with its default, NULL when it has none, as DuckLake fills a column an INSERT leaves out. A
/// column DuckDB widened (`SET DATA TYPE BIGINT`, `DECIMAL(38,2)`) is written in its new type;
/// one DuckDB dropped and added again under its name is written there, as DuckDB's
/// `INSERT … BY NAME` would; a column set NOT NULL refuses only a batch with a null in it.
/// A column added in a type lake cannot write (TINYINT, FLOAT, BLOB, …) with no default is left
/// out of the files: DuckLake readers read a column a file lacks as its initial default, NULL,
/// which is what an INSERT leaving it out stores (`NewDataFile.omittedColumns`).
/// What the pipeline cannot fill or no longer finds (a NOT NULL column without a default, a
/// dropped, renamed or otherwise retyped column) is refused with `IngestError.tableAltered`,
/// before any file is written, with a fix DuckDB can run.
struct WriteLayout {
    enum Source {
        /// The pipeline's column at this index, converted to the table's type when it differs.
        case produced(Int, from: ColumnType, to: ColumnType)
        /// A column the pipeline does not produce: its default (or NULL) on every row.
        case filled(ColumnInfo, ColumnType)
    }
    let sources: [Source]
    /// Columns of types lake cannot write, NULL on every row: not in the files (see above).
    let omitted: [ColumnInfo]
    /// True when the table is exactly what the pipeline produces (the usual case).
    let identity: Bool
    /// Produced columns the registry allows null but the table no longer does (DuckDB's
    /// `SET NOT NULL`): a batch with a null there is refused.
    private let mustBeSet: [(index: Int, column: String)]
    private let table: String

    /// The layout of a table the pipeline creates or that matches its columns one to one.
    static func identity(_ produced: Schema) -> WriteLayout {
        WriteLayout(sources: produced.fields.enumerated().map { .produced($0, from: $1.type, to: $1.type) }, identity: true, mustBeSet: [], table: "")
    }

    private init(sources: [Source], identity: Bool, mustBeSet: [(index: Int, column: String)], table: String) {
        self.sources = sources
        omitted = []
        self.identity = identity
        self.mustBeSet = mustBeSet
        self.table = table
    }

    /// Whether rows of `produced` type are written into a column of `table` type: the same
    /// type, or a widening DuckDB allows whose values convert exactly and which every lake
    /// reader reads as the same numbers (int32 -> int64; a decimal's precision up, same scale).
    static func writes(_ produced: ColumnType, into table: ColumnType) -> Bool {
        switch (produced, table) {
        case (.int32, .int64): return true
        case (.decimal(let p, let s), .decimal(let p2, let s2)): return s == s2 && p2 >= p
        default: return produced == table
        }
    }

    /// The table types `writes` admits for `produced`, for the messages.
    static func writableTypes(_ produced: ColumnType) -> String {
        switch produced {
        case .int32: return "int32 or int64"
        case .decimal(let p, let s): return "decimal(\(p),\(s)) up to decimal(\(DecimalBytes.maxPrecision),\(s))"
        default: return "\(produced)"
        }
    }

    /// The DuckDB SQL type of `type`, for the fixes the messages give.
    static func sqlType(_ type: ColumnType) -> String {
        switch type {
        case .bool: return "BOOLEAN"
        case .int32: return "INTEGER"
        case .int64: return "BIGINT"
        case .double: return "DOUBLE"
        case .string: return "VARCHAR"
        case .date: return "DATE"
        case .timestamp: return "TIMESTAMPTZ"
        case .decimal(let p, let s): return "DECIMAL(\(p),\(s))"
        }
    }

    /// Columns matched by id (the registry's column id is the catalog's column_id and the
    /// Parquet field id). `version` names the registry version for the messages.
    init(table: TableInfo, produced: Schema, version: String) throws(IngestError) {
        let t = table.qualifiedName
        var byID = Dictionary(produced.fields.enumerated().compactMap { i, f in f.fieldID.map { (Int64($0), i) } }, uniquingKeysWith: { a, _ in a })
        let tableIDs = Set(table.columns.map(\.columnID))
        for (i, f) in produced.fields.enumerated() where !tableIDs.contains(Int64(f.fieldID ?? -1)) {
            // DuckDB dropped the column (its id is gone for good: DuckDB cannot choose ids). A
            // column of that name the registry does not claim is the one DuckDB's readers and
            // ours now read by that name (DROP COLUMN then ADD COLUMN, or a column rebuilt in
            // another type): the pipeline's values go there.
            if let c = table.column(named: f.name), byID[c.columnID] == nil {
                byID[c.columnID] = i
                continue
            }
            throw .tableAltered(table: t, column: f.name,
                                detail: "\(version) writes it (column id \(f.fieldID ?? -1)), but the table no longer has it: another engine dropped it "
                                    + "(e.g. DuckDB's ALTER TABLE … DROP COLUMN). Add it back and lake writes it there (the dropped values stay gone, "
                                    + "as DuckDB shows): ALTER TABLE \(t) ADD COLUMN \(f.name) \(Self.sqlType(f.type))")
        }
        var sources: [Source] = []
        var omitted: [ColumnInfo] = []
        var mustBeSet: [(index: Int, column: String)] = []
        for c in table.columns {
            if let i = byID[c.columnID] {
                let f = produced.fields[i]
                guard c.name == f.name else {
                    throw .tableAltered(table: t, column: c.name,
                                        detail: "column id \(c.columnID) is \(f.name) in \(version), but the table calls it \(c.name): another engine renamed it "
                                            + "and every report reads \(f.name). Rename it back: ALTER TABLE \(t) RENAME COLUMN \(c.name) TO \(f.name)")
                }
                guard let type = c.type, Self.writes(f.type, into: type) else {
                    // DuckDB cannot narrow a type back; it can rebuild the column under the
                    // same name with its values, which lake then writes (see above).
                    let new = f.name + "_new"
                    throw .tableAltered(table: t, column: c.name,
                                        detail: "\(version) writes it as \(f.type), but the table's type is now \(c.duckLakeType): another engine changed it, "
                                            + "and lake writes \(f.type) only into \(Self.writableTypes(f.type)). "
                                            + "Rebuild it with its values in a type lake writes: ALTER TABLE \(t) ADD COLUMN \(new) \(Self.sqlType(f.type)); "
                                            + "UPDATE \(t) SET \(new) = \(c.name); ALTER TABLE \(t) DROP COLUMN \(c.name); "
                                            + "ALTER TABLE \(t) RENAME COLUMN \(new) TO \(c.name)")
                }
                if f.nullable && !c.nullable { mustBeSet.append((i, c.name)) }
                sources.append(.produced(i, from: f.type, to: type))
                continue
            }
            guard let type = c.type else {
                // A file without the column reads as its initial default: right only when that
                // is NULL and so is the value a row written now gets.
                if c.nullable && c.writeDefault == nil && c.initialDefault == nil {
                    omitted.append(c)
                    continue
                }
                let why = c.nullable ? "with a default (\(c.writeDefault ?? "NULL"), files before it read \(c.initialDefault ?? "NULL"))" : "NOT NULL"
                throw .tableAltered(table: t, column: c.name,
                                    detail: "another engine added it with type \(c.duckLakeType) \(why), which lake cannot write in that type. "
                                        + "Make NULL its default (ALTER TABLE \(t) ALTER COLUMN \(c.name) DROP DEFAULT, and DROP NOT NULL) or give it a type lake writes")
            }
            var filled = c
            filled.initialDefault = c.writeDefault
            if filled.initialDefault == nil && !c.nullable {
                throw .tableAltered(table: t, column: c.name,
                                    detail: "it is NOT NULL without a default, and \(version) does not produce it (another engine added it). "
                                        + "Give it a default (ALTER TABLE \(t) ALTER COLUMN \(c.name) SET DEFAULT …) or allow NULL")
            }
            sources.append(.filled(filled, type))
        }
        self.sources = sources
        self.omitted = omitted
        self.mustBeSet = mustBeSet
        self.table = t
        identity = mustBeSet.isEmpty && omitted.isEmpty && sources.count == produced.fields.count && sources.enumerated().allSatisfy { k, s in
            if case .produced(let i, let from, let to) = s { return i == k && from == to }
            return false
        }
    }

    /// The columns the files hold: the table's, less the omitted ones.
    func fileSchema(_ table: TableInfo) -> Schema {
        let left = Set(omitted.map(\.columnID))
        return Schema(table.columns.filter { !left.contains($0.columnID) }.compactMap(\.field))
    }

    /// The pipeline's `batch` as rows of `schema` (the table's columns, less the omitted).
    /// Refuses a batch with a null in a column the table made NOT NULL: the registry allows it,
    /// so the batch is valid, but DuckDB would refuse such a row too; batches without one are
    /// written.
    func apply(_ batch: RecordBatch, as schema: Schema) throws -> RecordBatch {
        if identity { return RecordBatch(schema: schema, columns: batch.columns) }
        for (i, name) in mustBeSet where batch.columns[i].nullCount > 0 {
            throw IngestError.tableAltered(table: table, column: name,
                                           detail: "\(batch.columns[i].nullCount) of this batch's rows have no value for it, and another engine made it NOT NULL "
                                               + "(the registry allows null). Allow NULL again: ALTER TABLE \(table) ALTER COLUMN \(name) DROP NOT NULL")
        }
        return RecordBatch(schema: schema, columns: try sources.map { s in
            switch s {
            case .produced(let i, let from, let to):
                guard from != to else { return batch.columns[i] }
                guard let column = batch.columns[i].widened(from: from, to: to) else {
                    preconditionFailure("WriteLayout.writes admitted \(from) -> \(to), which Column.widened cannot convert")
                }
                return column
            case .filled(let c, let type): return try DataFileReader.constant(c, type, rows: batch.count)
            }
        })
    }
}
