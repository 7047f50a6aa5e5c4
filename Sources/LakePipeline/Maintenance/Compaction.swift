import Foundation
import LakeCatalog
import LakeFormat

/// What can stop a maintenance job, phrased for the person running it.
public enum MaintenanceError: Error, CustomStringConvertible, Equatable {
    case unknownTable(String)
    case badPartition(String)
    case unknownSortColumn(table: String, column: String)
    case unreadableColumn(table: String, column: String, detail: String)
    case badOption(String)
    /// An input file fails verification (size, checksums, missing column): rewriting it would
    /// make the corruption permanent, so nothing is rewritten.
    case corruptInput(table: String, detail: String)
    /// A file read for the record of deleted order ids (retired files, raw.orders) fails
    /// verification: the job stops before it changes anything.
    case unreadableFile(table: String, detail: String)
    /// The file system filled while the new files were written (ENOSPC, EDQUOT). Nothing was
    /// committed and the files this run wrote were removed.
    case noSpace(detail: String)

    public var description: String {
        switch self {
        case .unknownTable(let t): return "no table \(t) in the lake (name it as layer.table, e.g. curated.orders)"
        case .badPartition(let p): return "cannot read the partition \"\(p)\": expected event_date=YYYY-MM-DD"
        case .unknownSortColumn(let t, let c): return "\(t) has no column \(c) to sort by"
        case .unreadableColumn(let t, let c, let d): return "\(t).\(c): \(d)"
        case .badOption(let d): return d
        case .corruptInput(let t, let d):
            return "refusing to rewrite \(t): an input file fails verification, so nothing was rewritten or committed: \(d). Restore the file from a backup (`lake verify --table \(t)` lists every bad file)"
        case .noSpace(let d):
            return "\(d). A compaction writes all its new files before its one commit, beside the files they replace, so it needs "
                + "free space for every partition it rewrites; nothing was committed and the files it wrote were removed. Free space, "
                + "or compact less at once: one table (`lake compact curated.orders`) or one day (`--partition event_date=YYYY-MM-DD`); "
                + "`lake compact --dry-run` lists what would be rewritten"
        case .unreadableFile(let t, let d):
            return "a file of \(t) read for the record of deleted order ids fails verification, so nothing was changed: \(d). Restore the file from a backup (`lake verify --table \(t)` lists every bad file)"
        }
    }
}

public struct CompactionOptions: Sendable {
    /// Only this table ("curated.orders"; a bare name means curated); nil: every table.
    public var table: String?
    /// Only partitions whose event date is this day ("YYYY-MM-DD").
    public var date: String?
    public var targetFileSize: Int64 = 128 << 20
    /// Rows held at once while a partition is rewritten (by `Compaction.heldBytes`): each
    /// group is sorted and written on its own. Below 2 GiB, since a string column's offsets are
    /// Int32; it also bounds memory however large a partition grows.
    public var groupBytes = 1 << 30
    public var minFiles = 2
    /// nil: event_time when the table has it, else file order.
    public var sortBy: String?
    public var dryRun = false
    public var parquet = ParquetWriteOptions()

    public init() {}

    /// Refuses settings that cannot mean anything: `Compaction.run` checks them, and the CLI
    /// first, so they are a usage error (64) there rather than a failure (1).
    public func check() throws(MaintenanceError) {
        guard targetFileSize > 0 else { throw .badOption("--target-file-size \(targetFileSize): expected a positive number of bytes") }
        guard minFiles >= 2 else { throw .badOption("--min-files \(minFiles): expected at least 2 (one file has nothing to merge with)") }
        if let d = date, LakeCatalog.Timestamps.parseDate(d) == nil { throw .badPartition("event_date=" + d) }
    }
}

public struct CompactionReport: Sendable {
    public struct Group: Sendable {
        public var table: String
        public var partition: String
        public var filesBefore: Int
        public var filesAfter: Int
        public var bytesBefore: Int64
        public var bytesAfter: Int64
        public var rows: Int64
        /// True when a concurrent commit removed one of its input files or deleted rows from
        /// one: left as it was.
        public var skippedConflict = false
    }
    public var groups: [Group] = []
    /// A table left as it is because a column has a type lake cannot read or write (a LIST,
    /// STRUCT, MAP or UUID column DuckDB added): rewriting its files would lose that column.
    public struct SkippedTable: Sendable, Equatable {
        public var table: String
        public var column: String
        public var type: String
    }
    public var skippedTables: [SkippedTable] = []
    public var snapshotID: Int64?
    public var seconds: Double = 0
    public var dryRun = false

    public var filesBefore: Int { groups.filter { !$0.skippedConflict }.reduce(0) { $0 + $1.filesBefore } }
    public var filesAfter: Int { groups.filter { !$0.skippedConflict }.reduce(0) { $0 + $1.filesAfter } }
    public var bytesBefore: Int64 { groups.filter { !$0.skippedConflict }.reduce(0) { $0 + $1.bytesBefore } }
    public var bytesAfter: Int64 { groups.filter { !$0.skippedConflict }.reduce(0) { $0 + $1.bytesAfter } }
}

/// Merges each partition's small files into files up to a target size, sorted for tighter
/// statistics, and swaps them in with ONE commit for the whole run, so a reader sees either all
/// the old files or all the new ones, and older snapshots keep the old files until vacuum.
public enum Compaction {
    /// `progress` counts the input files rewritten (a partition's all at once, when its
    /// rewrite ends) against all the partitions' input files; a dry run reports none.
    public static func run(_ catalog: Catalog, options: CompactionOptions = CompactionOptions(),
                           progress: WorkProgress? = nil) throws -> CompactionReport {
        // Before any file is written, so a refused compaction leaves nothing behind.
        try catalog.requireWritable()
        return try run(catalog, options: options, progress: progress, beforeCommit: nil)
    }

    /// `beforeCommit` runs after the new files are written and before the commit, `afterPlanning`
    /// after the partitions are chosen and before their files are read: tests use them to commit
    /// a competing change exactly in that window.
    static func run(_ catalog: Catalog, options: CompactionOptions, progress: WorkProgress? = nil,
                    afterPlanning: (() throws -> Void)? = nil, beforeCommit: (() throws -> Void)?) throws -> CompactionReport {
        let started = Date()
        try options.check()
        let base = try catalog.latestSnapshot()
        var tables = try catalog.tables(at: .snapshot(base.id))
        if let name = options.table {
            let q = name.contains(".") ? name : "curated." + name
            tables = tables.filter { $0.qualifiedName == q }
            if tables.isEmpty { throw MaintenanceError.unknownTable(q) }
        }
        // Snapshots that compacted a table, by the change the catalog recorded (a commit message
        // is free text a user may write too): a partition whose files all come from one of them
        // is already compacted, which makes a second run a no-op. DuckDB's merge of adjacent files
        // records the same change (merge_adjacent); a migration's rewrite also alters the table and is not one.
        var compactionSnapshots: [Int64: Set<Int64>] = [:]
        for snap in try catalog.snapshots() {
            let entries = snap.entries
            let altered = Set(entries.filter { $0.kind == .alteredTable }.compactMap(\.tableID))
            for entry in entries where entry.kind?.isFileMerge == true {
                guard let tid = entry.tableID, !altered.contains(tid) else { continue }
                compactionSnapshots[tid, default: []].insert(snap.id)
            }
        }

        var report = CompactionReport(dryRun: options.dryRun)
        // `dropped`: the curated.orders ids whose deleted rows the outputs leave out (`DeletedOrderIDs`).
        var plans: [(table: TableInfo, inputs: [DataFile], outputs: Rewritten, dropped: Set<ExactID>, group: Int)] = []
        var candidates: [(table: TableInfo, sortColumn: ColumnInfo?, inputs: [DataFile], group: Int)] = []
        var written: [URL] = []
        do {
            for table in tables.sorted(by: { $0.qualifiedName < $1.qualifiedName }) {
                if let c = table.columns.first(where: { $0.type == nil }) {
                    // Named explicitly, the table is what the user asked for: say why not.
                    if options.table != nil {
                        throw MaintenanceError.unreadableColumn(table: table.qualifiedName, column: c.name,
                            detail: "has type \(c.duckLakeType), which lake cannot rewrite without losing it; compact this table with DuckDB (CALL ducklake_merge_adjacent_files)")
                    }
                    report.skippedTables.append(.init(table: table.qualifiedName, column: c.name, type: c.duckLakeType))
                    continue
                }
                let sortColumn = try sortColumnFor(table, options.sortBy)
                // Merging files leaves rows DuckDB inlined in the catalog where they are, still
                // visible to every read: compaction does not flush them into Parquet (yet).
                let files = try catalog.dataFiles(tableID: table.tableID, at: .snapshot(base.id), inlined: .readSeparately)
                // One group per partition (all partition values equal); an unpartitioned table is one group.
                var groups: [[String: String]: [DataFile]] = [:]
                for f in files { groups[f.partitionValues, default: []].append(f) }
                for key in groups.keys.sorted(by: { describe($0) < describe($1) }) {
                    let inputs = groups[key]!
                    if let d = options.date, key["event_date"] != d { continue }
                    // A partition with DuckLake delete files (DuckDB DELETE/UPDATE) is rewritten even
                    // as one file: the merged files hold the rows minus their deletes, so readers
                    // stop paying for the delete files and vacuum can drop the deleted rows' bytes.
                    let hasDeletes = inputs.contains { $0.hasDeletes }
                    guard inputs.count >= options.minFiles || hasDeletes else { continue }
                    if !hasDeletes, Set(inputs.map(\.beginSnapshot)).count == 1,
                       compactionSnapshots[table.tableID]?.contains(inputs[0].beginSnapshot) == true { continue }
                    // The outputs of one history-keeping merge: all begin at its first snapshot and end at its last.
                    if !hasDeletes, inputs[0].mergedThrough != nil,
                       Set(inputs.map { [$0.beginSnapshot, $0.mergedThrough ?? -1] }).count == 1 { continue }
                    let bytes = inputs.reduce(0) { $0 + $1.fileSizeBytes }
                    let rows = inputs.reduce(0) { $0 + $1.liveRecordCount }
                    report.groups.append(.init(table: table.qualifiedName, partition: describe(key), filesBefore: inputs.count,
                                               filesAfter: Int(max(1, (bytes + options.targetFileSize - 1) / options.targetFileSize)),
                                               bytesBefore: bytes, bytesAfter: 0, rows: rows))
                    if options.dryRun { continue }
                    candidates.append((table, sortColumn, inputs, report.groups.count - 1))
                }
            }
            try afterPlanning?()
            // Registered before the first output file exists: vacuum keeps our outputs until the commit.
            let lease = candidates.isEmpty ? nil : try catalog.beginWrite(operation: "compact")
            let counter = candidates.isEmpty ? nil : progress.map { FilesDone(total: Int64(candidates.reduce(0) { $0 + $1.inputs.count }), report: $0) }
            counter?.add(0)
            // Partitions are independent: rewrite them on all cores (each reads its files on one).
            // Every partition runs even when one fails, so the files the others wrote are known and removed.
            let results = parallelResults(count: candidates.count, parallelism: ProcessInfo.processInfo.activeProcessorCount, split: .dynamic) { i in
                let c = candidates[i]
                try Interruption.check()
                // A DuckLake 1.0 partition without deletes is merged keeping its history (MergeFiles.swift);
                // deleted rows cannot be, so such a partition is rewritten at this snapshot, its rows keeping their ids.
                let kept: RowLineage.Kept = catalog.format != .v10 ? .none : c.inputs.contains { $0.hasDeletes } ? .rowIDs : .history
                let outputs = try rewrite(c.inputs, table: c.table, sortColumn: c.sortColumn, options: options, files: catalog.files,
                                          parallelism: 1, lineage: kept)
                let dropped = c.table.tableName == .curatedOrders ? try DeletedOrderIDs.masked(in: c.inputs, table: c.table, files: catalog.files) : []
                counter?.add(Int64(c.inputs.count))
                return (outputs, dropped)
            }
            var firstError: Error?
            var now: [Int64: (live: Set<Int64>, deletes: [Int64: DeleteMark])] = [:]
            for (c, result) in zip(candidates, results) {
                switch result {
                case .failure(let e as MaintenanceError):
                    // An input a commit since the base removed fails its read: `lake erase --purge`
                    // deletes the files it rewrote at once. That is the conflict the commit checks
                    // for (below), met early, not a damaged file: the partition is skipped, as a
                    // conflict is, instead of failing the whole run with "restore from a backup".
                    guard case .corruptInput = e else { firstError = firstError ?? e; continue }
                    if now[c.table.tableID] == nil { now[c.table.tableID] = try liveFiles(c.table, catalog: catalog) }
                    if inputsUnchanged(c.inputs, live: now[c.table.tableID]!.live, deletes: now[c.table.tableID]!.deletes) {
                        firstError = firstError ?? e
                    } else {
                        report.groups[c.group].skippedConflict = true
                    }
                case .failure(let e): firstError = firstError ?? e
                case .success(let (outputs, dropped)):
                    written += outputs.files.map { c.table.directory.appendingPathComponent($0.relativePath) }
                    report.groups[c.group].filesAfter = outputs.files.count
                    report.groups[c.group].bytesAfter = outputs.files.reduce(0) { $0 + $1.fileSizeBytes }
                    plans.append((c.table, c.inputs, outputs, dropped, c.group))
                }
            }
            if let firstError { throw firstError }
            if options.dryRun || plans.isEmpty {
                report.seconds = Date().timeIntervalSince(started)
                return report
            }
            // Erased customers' orders are masked too; only the ids whose raw lines stay are kept.
            let withRawLines = try DeletedOrderIDs.withRawLines(plans.reduce(into: Set<ExactID>()) { $0.formUnion($1.dropped) }, catalog: catalog)
            try Interruption.check()
            try beforeCommit?()
            var skipped: [Int] = []
            let (snap, _) = try catalog.commit(message: "\(commitMessagePrefix) \(plans.count) partition(s)") { tx in
                skipped = []
                var live: [Int64: Set<Int64>] = [:]
                var deletes: [Int64: [Int64: DeleteMark]] = [:]
                var columnsChanged: [Int64: Bool] = [:]
                var dropped: [Int64: Set<ExactID>] = [:]
                for plan in plans {
                    let tid = plan.table.tableID
                    if live[tid] == nil { live[tid] = Set(try tx.currentDataFileIDs(tableID: tid)) }
                    if deletes[tid] == nil { deletes[tid] = try tx.currentDeleteMarks(tableID: tid) }
                    // The outputs hold the columns read at `base`: a column added since (a DuckDB
                    // ALTER TABLE committed while we rewrote) has no statistics in them, and a
                    // dropped or retyped one would be registered wrong. Leave the table's partitions.
                    if columnsChanged[tid] == nil {
                        do {
                            try tx.requireSchemaUnchanged(tableID: tid, since: base.id)
                            columnsChanged[tid] = false
                        } catch CatalogError.conflict {
                            columnsChanged[tid] = true
                        }
                    }
                    if columnsChanged[tid]! {
                        skipped.append(plan.group)
                        continue
                    }
                    guard inputsUnchanged(plan.inputs, live: live[tid]!, deletes: deletes[tid]!) else {
                        skipped.append(plan.group)
                        continue
                    }
                    try tx.requireFilesPresent(plan.outputs.files.map { (plan.table.directory.appendingPathComponent($0.relativePath).path, $0.fileSizeBytes) })
                    if let span = plan.outputs.history {
                        try tx.mergeDataFiles(tableID: tid, replacing: plan.inputs.map(\.dataFileID), with: plan.outputs.files,
                                              beginSnapshot: span.lowerBound, lastSnapshot: span.upperBound)
                    } else {
                        // Ends the inputs and, with them, their delete files at this snapshot.
                        try tx.removeDataFiles(plan.inputs.map(\.dataFileID))
                        try tx.addDataFiles(tableID: tid, plan.outputs.files)
                    }
                    if !plan.dropped.isEmpty { dropped[tid, default: []].formUnion(plan.dropped) }
                }
                if skipped.count == plans.count { throw CommitSkipped() }
                // The deleted orders' ids outlive their rows, so the quality check still tells them from missing ones.
                for (tid, ids) in dropped { try DeletedOrderIDs.record(ids.intersection(withRawLines).map(\.text), tableID: tid, in: &tx) }
                if let lease { try tx.endWrite(lease) }
            }
            report.snapshotID = snap.id
            for g in skipped { report.groups[g].skippedConflict = true }
            let skippedSet = Set(skipped)
            // Outputs of skipped partitions were never registered: delete them now (vacuum would too).
            for plan in plans where skippedSet.contains(plan.group) {
                catalog.files.discard(plan.outputs.files.map { plan.table.directory.appendingPathComponent($0.relativePath).path })
            }
        } catch is CommitSkipped {
            for i in report.groups.indices { report.groups[i].skippedConflict = true }
            catalog.files.discard(written.map(\.path))
        } catch {
            // Nothing was committed: the new files are debris; remove them rather than wait for vacuum.
            // Unless COMMIT went unanswered, or landed and only settling its files failed: then a
            // snapshot may reference them (and not the inputs).
            if !Catalog.commitMayHaveLanded(error) { catalog.files.discard(written.map(\.path)) }
            if Self.fileSystemFull(error) { throw MaintenanceError.noSpace(detail: "\(error)") }
            throw error
        }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    static let commitMessagePrefix = "compact"

    /// The conflict rule: a partition's inputs are still live, with the deletes they were read
    /// with. Otherwise someone else (another compaction, a purge, a table rewrite) removed an input
    /// since, or deleted rows from one (a new delete file or inlined deletion), and the output
    /// would resurrect, duplicate or un-delete rows: the partition is left.
    static func inputsUnchanged(_ inputs: [DataFile], live: Set<Int64>, deletes: [Int64: DeleteMark]) -> Bool {
        inputs.allSatisfy { live.contains($0.dataFileID) && $0.deletesUnchanged(in: deletes) }
    }

    /// The table's live data files now and their deletes, as `inputsUnchanged` takes them (read
    /// outside the commit); none when the table itself is gone.
    static func liveFiles(_ table: TableInfo, catalog: Catalog) throws -> (live: Set<Int64>, deletes: [Int64: DeleteMark]) {
        do {
            let files = try catalog.dataFiles(tableID: table.tableID, columnStats: false, inlined: .readSeparately)
            return (Set(files.map(\.dataFileID)), Dictionary(uniqueKeysWithValues: files.map { ($0.dataFileID, $0.deleteMark) }))
        } catch CatalogError.tableIDNotFound {
            return ([], [:])
        }
    }

    /// The partitions' rewrites end on several threads: one running count, reported in order.
    private final class FilesDone: @unchecked Sendable {
        private let lock = NSLock()
        private var done: Int64 = 0
        private let total: Int64
        private let report: WorkProgress

        init(total: Int64, report: @escaping WorkProgress) {
            self.total = total
            self.report = report
        }

        func add(_ files: Int64) {
            lock.lock()
            defer { lock.unlock() }
            done += files
            report(done, total)
        }
    }

    private struct CommitSkipped: Error {}

    static func describe(_ partition: [String: String]) -> String {
        partition.isEmpty ? "(unpartitioned)" : partition.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "/")
    }

    /// Whether writing a new file failed for want of space (a full file system, a quota).
    static func fileSystemFull(_ error: any Error) -> Bool {
        let code: Int32?
        switch error {
        case let e as StorageError: code = e.errno
        case ParquetError.io(_, _, let e): code = e
        case ParquetError.storage(let e): code = e.errno
        default: code = nil
        }
        return code == ENOSPC || code == EDQUOT
    }

    static func sortColumnFor(_ table: TableInfo, _ requested: String?) throws -> ColumnInfo? {
        if let requested {
            guard let c = table.column(named: requested), c.type != nil else {
                throw MaintenanceError.unknownSortColumn(table: table.qualifiedName, column: requested)
            }
            return c
        }
        return table.column(named: "event_time")
    }

    /// A partition's new files and, when they keep the inputs' history (`RowLineage.Kept.history`), the
    /// snapshots their rows were inserted at, first to last: the merged files' begin_snapshot and partial_max.
    struct Rewritten {
        var files: [NewDataFile]
        var history: ClosedRange<Int64>?
    }

    /// Reads, merges, sorts and writes one partition's files; returns them described for the catalog.
    /// `lineage`: what of each row's lineage its new file carries (`LineageField`), unless an
    /// input cannot say its row ids (then the rows take new ids); `.history` needs inputs without deletes.
    /// Rows are held `options.groupBytes` at a time (read in file order, each group sorted and
    /// written on its own): until session 22 the whole partition was held and concatenated, so
    /// raw.orders of 6 M orders on one day and channel (2.2 GB of line text) overflowed the
    /// string columns' Int32 offsets and `lake compact` trapped after 34 s at 7.5 GB RSS.
    static func rewrite(_ inputs: [DataFile], table: TableInfo, sortColumn: ColumnInfo?, options: CompactionOptions, files: LakeFiles,
                        parallelism: Int = ProcessInfo.processInfo.activeProcessorCount, lineage kept: RowLineage.Kept = .none) throws -> Rewritten {
        let tableSchema = try table.schema()
        precondition(kept != .history || !inputs.contains { $0.hasDeletes }, "a merge keeping history reads every row of its inputs")
        let lineages = try RowLineage.readAll(inputs, kept) { file in try readLineage(file, table: table, files: files) }
        let schema = lineages == nil ? tableSchema : Schema(tableSchema.fields + kept.fields)
        let inputBytes = inputs.reduce(0) { $0 + $1.fileSizeBytes }
        let inputRows = inputs.reduce(0) { $0 + $1.recordCount }
        let bytesPerRow = max(1, Double(inputBytes) / Double(max(1, inputRows)))
        let rowsPerFile = max(1, Int(Double(options.targetFileSize) / bytesPerRow))
        let sortIndex = sortColumn.flatMap { c in table.columns.firstIndex { $0.columnID == c.columnID } }
        // New files go next to the old ones (same partition directory), under fresh names; inputs
        // that all lie outside the root (DuckDB's ducklake_add_data_files) give the table's own.
        let directory = (inputs.first { $0.pathIsRelative } ?? inputs[0]).directoryInTable
        var outputs: [NewDataFile] = []
        var opts = options.parquet
        opts.metadata["lake.table"] = table.qualifiedName
        opts.metadata["lake.compacted"] = "true"
        // Every row of a group deleted (a reader yields no batch for a fully deleted file):
        // nothing replaces them.
        func writeGroup(_ parts: [RecordBatch]) throws {
            if parts.isEmpty { return }
            let all = RecordBatch.concatenate(parts.map { ($0, 0 ..< $0.count) }, schema: schema)
            let sorted = sortIndex.map { Partitioning.gather(all, rows: sortOrder(all.columns[$0])) } ?? all
            var start = 0
            while start < sorted.count {
                let end = min(sorted.count, start + rowsPerFile)
                let relative = (directory.isEmpty ? "" : directory + "/") + UUID().uuidString.lowercased() + ".parquet"
                let url = table.directory.appendingPathComponent(relative)
                // An unpublished writer leaves no file; the published outputs are discarded below.
                let writer = try files.writer(url.path, schema: schema, options: opts)
                try writer.write(sorted.slice(start ..< end))
                let summary = try writer.close()
                var stats: [Int64: ColumnStats] = [:]
                for (i, f) in tableSchema.fields.enumerated() {
                    guard let id = f.fieldID else { continue }
                    stats[Int64(id)] = SegmentWriter.catalogStats(summary.columnStatistics[i], f.type, rows: summary.rowCount)
                }
                var output = NewDataFile(relativePath: relative, recordCount: summary.rowCount, fileSizeBytes: summary.fileSize,
                                         footerSize: summary.footerSize, footerChecksum: summary.footerChecksum,
                                         partitionValues: inputs[0].partitionValues, columnStats: stats)
                output.keepsRowIDs = lineages != nil
                outputs.append(output)
                start = end
            }
        }
        do {
            // A group ends between input files: an ingest writes an order's items into one file,
            // so they stay in one output (an order split across outputs makes every later
            // product-sales scan read twice). Only a file larger than a group on its own is cut
            // between its row groups. Held at most: a group plus one row group.
            var group: [RecordBatch] = [], groupHeld = 0
            var current: [RecordBatch] = [], currentHeld = 0
            for (n, file) in inputs.enumerated() {
                var at = 0
                for read in try FileRows.read(file, table: table, schema: tableSchema, files: files, parallelism: parallelism) {
                    var part = read
                    if let l = lineages?[n] {
                        part = RecordBatch(schema: schema, columns: read.columns + l.columns(at ..< at + read.count, kept))
                        at += read.count
                    }
                    current.append(part)
                    currentHeld += heldBytes(part)
                    guard groupHeld + currentHeld >= options.groupBytes else { continue }
                    if group.isEmpty {
                        try writeGroup(current)
                        (current, currentHeld) = ([], 0)
                    } else {
                        try writeGroup(group)
                        (group, groupHeld) = ([], 0)
                    }
                }
                group += current
                groupHeld += currentHeld
                (current, currentHeld) = ([], 0)
            }
            try writeGroup(group)
        } catch {
            // The outputs already published are debris now.
            files.discard(outputs.map { table.directory.appendingPathComponent($0.relativePath).path })
            throw error
        }
        let snapshots = kept == .history ? lineages?.flatMap { [$0.snapshots.min(), $0.snapshots.max()] }.compactMap { $0 } : nil
        return Rewritten(files: outputs, history: snapshots.flatMap { s in s.min().map { $0 ... s.max()! } })
    }

    /// `RowLineage.read`, its errors a maintenance error naming the table.
    static func readLineage(_ file: DataFile, table: TableInfo, files: LakeFiles) throws -> RowLineage? {
        do {
            return try RowLineage.read(file, files: files)
        } catch let e as DataFileError {
            throw MaintenanceError.corruptInput(table: table.qualifiedName, detail: e.description)
        } catch let e as ParquetError {
            throw MaintenanceError.corruptInput(table: table.qualifiedName, detail: e.description)
        }
    }

    /// What `part` takes once concatenated with others: a dictionary column (the reader returns
    /// string columns as dictionaries where it can) is copied out value by value unless every
    /// part shares its dictionary, which `estimatedBytes` (indices only) leaves out: grouped by
    /// that estimate, the 6 M-order raw.orders partition still overflowed (held in one group).
    static func heldBytes(_ part: RecordBatch) -> Int {
        part.columns.reduce(part.estimatedBytes) { total, c in
            guard case .dictionary(let indices, let values) = c.data else { return total }
            return indices.reduce(total) { $0 + values.byteRange(Int($1)).count }
        }
    }

    /// A stable ascending order of the rows by one column, nulls first (ties keep file order, so
    /// a re-run over the same input is deterministic).
    static func sortOrder(_ column: Column) -> [Int] {
        let n = column.count
        let c = column.materialized()
        var rows = Array(0 ..< n)
        func nullRank(_ r: Int) -> Int { c.isNull(r) ? 0 : 1 }
        switch c.data {
        case .int32(let v):
            rows.sort { (nullRank($0), v[$0], $0) < (nullRank($1), v[$1], $1) }
        case .int64(let v):
            rows.sort { (nullRank($0), v[$0], $0) < (nullRank($1), v[$1], $1) }
        case .double(let v):
            rows.sort { (nullRank($0), v[$0], $0) < (nullRank($1), v[$1], $1) }
        case .bool(let v):
            rows.sort { (nullRank($0), v[$0] ? 1 : 0, $0) < (nullRank($1), v[$1] ? 1 : 0, $1) }
        case .string(let s):
            s.bytes.withUnsafeBytes { raw in
                rows.sort { a, b in
                    if nullRank(a) != nullRank(b) { return nullRank(a) < nullRank(b) }
                    let x = raw[s.byteRange(a)], y = raw[s.byteRange(b)]
                    if x.elementsEqual(y) { return a < b }
                    return x.lexicographicallyPrecedes(y)
                }
            }
        case .dictionary:
            break // materialized() never returns a dictionary
        }
        return rows
    }
}

/// Reads a data file's rows under a table's current schema: columns matched by field id
/// (DuckLake column id), so renamed columns resolve; columns the file predates take their
/// initial default or null; a column widened since (int32 → int64/double) is widened here.
enum FileRows {
    /// A file's rows under the table's current schema (see `DataFileReader`).
    static func read(_ file: DataFile, table: TableInfo, schema: Schema, files: LakeFiles,
                     parallelism: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> [RecordBatch] {
        do {
            return try DataFileReader(file, columns: table.columns, files: files).read(parallelism: parallelism).map { RecordBatch(schema: schema, columns: $0.columns) }
        } catch DataFileError.unreadableColumn(let column, let detail) {
            throw MaintenanceError.unreadableColumn(table: table.qualifiedName, column: column, detail: detail)
        } catch let e as DataFileError {
            throw MaintenanceError.corruptInput(table: table.qualifiedName, detail: e.description)
        } catch let e as ParquetError {
            throw MaintenanceError.corruptInput(table: table.qualifiedName, detail: e.description)
        }
    }
}

extension ColumnData {
    var kindName: String {
        switch self {
        case .bool: return "boolean"
        case .int32: return "int32"
        case .int64: return "int64"
        case .double: return "double"
        case .string, .dictionary: return "string"
        }
    }
}

extension DataFile {
    /// The directory, relative to the table's, where a rewrite of this file goes. A file of an
    /// (event_date, channel) partition goes to that partition's directory as lake names it now
    /// (`SegmentWriter.partitionPath`): a lake from before session 31 holds `date=…` ones, and a
    /// rewrite kept there left the partition split across two directories once DuckDB or a
    /// newer lake wrote to it, which DuckDB 1.5.5's merge refuses. Any other file: its own
    /// directory, or the table's for a file registered outside the lake root by absolute path
    /// (DuckDB's `ducklake_add_data_files`). Its absolute directory made every rewrite of such a
    /// file (a compaction, a purge, a migration's) fail at the commit: "must be relative to the
    /// table directory".
    var directoryInTable: String {
        if partitionValues.count == 2, let channel = partitionValues["channel"],
           let day = partitionValues["event_date"].flatMap(LakeCatalog.Timestamps.parseDate), let date = Int32(exactly: day) {
            return PartitionKey(date: date, channel: channel).path
        }
        return pathIsRelative ? (storedPath as NSString).deletingLastPathComponent : ""
    }
}
