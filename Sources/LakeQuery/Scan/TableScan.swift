import Dispatch
import Foundation
import LakeCatalog
import LakeFormat

public enum QueryError: Error, CustomStringConvertible, Equatable {
    case unknownTable(String, available: [String])
    case unknownColumn(table: String, column: String, available: [String])
    /// The column exists, with a type lake cannot read (a LIST, STRUCT, MAP or UUID column
    /// another engine added): the user needs DuckDB for it, not a spelling fix.
    case unreadableColumn(table: String, column: String, type: String)
    case badPredicate(String, reason: String)
    case badValue(column: String, type: String, text: String)
    case badAggregate(String, reason: String)
    case badOrder(String)
    case unknownReport(String, available: [String])
    case badOption(String)
    /// A column list that names no column (`--columns ""`): read as asked, it listed no
    /// column and so no row, "(no rows)" and `[]` whatever the table holds.
    case noColumns
    /// A money column another engine rescaled (DuckDB's ALTER … TYPE DECIMAL(38,4)): reports,
    /// quality checks and metrics add money up in cents, and read its values as cents they
    /// showed them 100 times too large.
    case moneyNotInCents(table: String, column: String, type: String)

    public var description: String {
        switch self {
        case .unknownTable(let t, let available):
            return "no table \(t) at this snapshot; tables: \(available.joined(separator: ", "))"
        case .unknownColumn(let t, let c, let available):
            return "\(t) has no column \(c); columns: \(available.joined(separator: ", "))"
        case .unreadableColumn(let t, let c, let type):
            return "\(t) column \(c) has type \(type), which lake cannot read; query it with DuckDB (attach the lake as README shows)"
        case .badPredicate(let p, let reason):
            return "cannot read the condition \"\(VisibleText.escape(p))\": \(reason) (expected COLUMN OP VALUE with OP one of = != <> < <= > >=, "
                + "COLUMN in (A, B) or COLUMN between A and B; quote values with ' or \", e.g. \"channel = web\", \"channel in (web, mobile)\")"
        case .badValue(let c, let type, let text):
            return "\"\(VisibleText.escape(text))\" is not a valid \(type) for column \(c)"
        case .badAggregate(let a, let reason):
            return "cannot read the aggregate \"\(a)\": \(reason) (expected count(*), count(col), count_distinct(col), sum(col), min(col), max(col) or avg(col))"
        case .badOrder(let o):
            return "cannot order by \"\(o)\": name a result column, optionally followed by asc or desc"
        case .moneyNotInCents(let t, let c, let type):
            return "\(t).\(c) is \(type), not decimal(p,2) (another engine changed its type): the reports, quality checks and metrics "
                + "add money up in cents, so they refuse it rather than misread it; `lake query` and DuckDB read its values as they are"
        case .unknownReport(let r, let available):
            return "no report \(r); reports: \(available.joined(separator: ", "))"
        case .badOption(let detail):
            return detail
        case .noColumns:
            return "the column list names no column: give comma-separated column names (--columns order_id,channel), or leave it out for every column"
        }
    }
}

/// How much of a table a scan touched: what `--explain` prints.
public struct ScanStats: Sendable, Equatable {
    public var filesConsidered = 0
    public var filesPrunedByPartition = 0
    public var filesPrunedByStatistics = 0
    public var filesRead = 0
    public var rowGroupsConsidered = 0
    public var rowGroupsSkipped = 0
    public var rowGroupsRead = 0
    public var rowsRead = 0
    /// Rows of the row groups read that DuckLake delete files remove (not in `rowsRead`).
    public var rowsDeleted = 0
    public var rowsMatched = 0

    public init() {}

    public mutating func add(_ o: ScanStats) {
        filesConsidered += o.filesConsidered
        filesPrunedByPartition += o.filesPrunedByPartition
        filesPrunedByStatistics += o.filesPrunedByStatistics
        filesRead += o.filesRead
        rowGroupsConsidered += o.rowGroupsConsidered
        rowGroupsSkipped += o.rowGroupsSkipped
        rowGroupsRead += o.rowGroupsRead
        rowsRead += o.rowsRead
        rowsDeleted += o.rowsDeleted
        rowsMatched += o.rowsMatched
    }
}

/// Rows of one row group after filtering: `selection` lists the matching rows (nil: all).
public struct ScanBatch: Sendable {
    public var batch: RecordBatch
    public var selection: [Int32]?

    public var matchedCount: Int { selection?.count ?? batch.count }

    /// Calls `body` with each matching row's index in `batch`: the selection, else every row.
    /// The one per-row loop the reports and kernels use.
    @inline(__always)
    public func forEachRow(_ body: (Int) throws -> Void) rethrows {
        if let selection { for r in selection { try body(Int(r)) } } else { for r in 0 ..< batch.count { try body(r) } }
    }
}

/// A scan of one table at one snapshot. Planning uses only the catalog (partition values and
/// per-file min/max) and the footers of the files that survive; only the requested columns of
/// the surviving row groups are decoded.
public struct TableScan: Sendable {
    public let catalog: Catalog
    public let table: TableInfo
    public let snapshot: SnapshotInfo
    /// Restricts the scan to the files it accepts, before any pruning (e.g. the files one
    /// ingest batch added). Nil reads every file of the snapshot.
    public var fileFilter: (@Sendable (DataFile) -> Bool)?

    /// `name` is what a user typed: "layer.table" (curated.orders, raw.orders) or a bare name,
    /// which means curated (`TableName(parsing:)`).
    /// Refuses to go on when one of `columns` is a decimal whose scale is not 2: the caller adds
    /// its values up as cents.
    public func requireCents(_ columns: [String]) throws {
        for name in columns {
            guard let c = table.column(named: name), c.isDecimalNotInCents else { continue }
            throw QueryError.moneyNotInCents(table: table.qualifiedName, column: name, type: c.duckLakeType)
        }
    }

    public init(catalog: Catalog, name: String, asOf: AsOf? = nil) throws {
        try self.init(catalog: catalog, table: TableName(parsing: name), asOf: asOf)
    }

    /// A scan of the table; `QueryError.unknownTable` (listing the tables there are) when the
    /// snapshot has none of that name. Any other catalog error is thrown as it is.
    public init(catalog: Catalog, table name: TableName, asOf: AsOf? = nil) throws {
        guard let scan = try Self.ifPresent(catalog: catalog, table: name, asOf: asOf) else {
            let snapshot = try catalog.resolve(asOf)
            let available = try catalog.tables(at: .snapshot(snapshot.id)).map(\.qualifiedName).sorted()
            throw QueryError.unknownTable(name.description, available: available)
        }
        self = scan
    }

    private init(catalog: Catalog, table: TableInfo, snapshot: SnapshotInfo) {
        self.catalog = catalog
        self.table = table
        self.snapshot = snapshot
    }

    /// The scan, or nil when the snapshot has no such table (e.g. raw.orders before the first
    /// orders ingest). Unlike `try? TableScan(...)`, a storage error or a damaged catalog is
    /// thrown, never taken for "no table".
    public static func ifPresent(catalog: Catalog, table name: TableName, asOf: AsOf? = nil) throws -> TableScan? {
        let snapshot = try catalog.resolve(asOf)
        guard let info = try catalog.tableIfPresent(schema: name.schema, name: name.name, at: .snapshot(snapshot.id)) else { return nil }
        return TableScan(catalog: catalog, table: info, snapshot: snapshot)
    }

    public var columnNames: [String] { table.columns.map(\.name) }
    /// The columns lake can read: all but those of types it has none for (LIST, STRUCT, MAP,
    /// UUID, … added by another engine).
    public var readableColumnNames: [String] { table.columns.filter { $0.type != nil }.map(\.name) }

    func column(_ name: String) throws -> ColumnInfo {
        guard let c = table.column(named: name) else {
            throw QueryError.unknownColumn(table: table.qualifiedName, column: name, available: columnNames)
        }
        guard c.type != nil else { throw QueryError.unreadableColumn(table: table.qualifiedName, column: name, type: c.duckLakeType) }
        return c
    }

    public func type(of name: String) throws -> ColumnType { try column(name).type! }

    /// Builds a typed predicate from text: `column op values`, values parsed for the column's type.
    public func predicate(_ columnName: String, _ op: PredicateOp, _ texts: [String]) throws -> ColumnPredicate {
        let type = try type(of: columnName)
        let values = try texts.map { text -> StatValue in
            guard let v = StatParsing.value(text, type) else {
                throw QueryError.badValue(column: columnName, type: type.description, text: text)
            }
            return v
        }
        return ColumnPredicate(columnName, op, values)
    }

    /// The files that may hold matching rows, in catalog order, after partition and statistics pruning.
    private func plan(_ predicates: [ColumnPredicate], _ filterColumns: [ColumnInfo]) throws -> ([DataFile], ScanStats) {
        var stats = ScanStats()
        // Column statistics only serve pruning: a scan without predicates skips reading them.
        // Inlined rows are read by `readInlined`, after the files.
        var files = try catalog.dataFiles(tableID: table.tableID, at: .snapshot(snapshot.id), columnStats: !predicates.isEmpty,
                                          inlined: .readSeparately)
        if let fileFilter { files = files.filter(fileFilter) }
        stats.filesConsidered = files.count
        var survivors: [DataFile] = []
        for file in files {
            switch prune(file, predicates, filterColumns) {
            case .partition: stats.filesPrunedByPartition += 1
            case .statistics: stats.filesPrunedByStatistics += 1
            case .keep: survivors.append(file)
            }
        }
        stats.filesRead = survivors.count
        return (survivors, stats)
    }

    /// The files a scan with `predicates` reads (after partition and statistics pruning): the
    /// only files a delete with those conditions can remove rows from.
    func candidateFiles(where predicates: [ColumnPredicate]) throws -> [DataFile] {
        try plan(predicates, try predicates.map { try column($0.column) }).0
    }

    /// Decodes the surviving files on all cores and hands each file's matching batches to `body`
    /// on the worker that decoded it, while they are still in cache: one `State` per worker, so
    /// aggregation runs in parallel too and nothing is shared. `body` gets the file's position
    /// in catalog order (the order `run` returns batches in), so callers that keep "the first
    /// row seen" can stay deterministic. The states come back for the caller to merge.
    public func reduce<State>(columns: [String], where predicates: [ColumnPredicate] = [],
                              state makeState: () -> State,
                              _ body: (inout State, _ file: Int, _ batches: [ScanBatch]) throws -> Void) throws -> (states: [State], stats: ScanStats) {
        try reduce(columns: columns, where: predicates, sizedState: { _ in makeState() }, body)
    }

    /// `reduce` whose states are made knowing how many rows one worker will be handed at most
    /// (the live rows of the files to read, over the workers), so a worker can size its hash
    /// tables once instead of growing them through every power of two.
    public func reduce<State>(columns: [String], where predicates: [ColumnPredicate] = [],
                              sizedState makeState: (_ rowsPerWorker: Int) -> State,
                              _ body: (inout State, _ file: Int, _ batches: [ScanBatch]) throws -> Void) throws -> (states: [State], stats: ScanStats) {
        let wanted = try columns.map(column)
        let filterColumns = try predicates.map { try column($0.column) }
        let (toRead, planned) = try plan(predicates, filterColumns)
        var stats = planned
        let (inlined, inlinedStats) = try readInlined(wanted, predicates, filterColumns)
        stats.add(inlinedStats)
        if toRead.isEmpty && inlined.isEmpty { return ([], stats) }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let workers = parallelWorkers(count: toRead.count, parallelism: cores)
        let rows = toRead.reduce(0) { $0 + Int(max(0, $1.liveRecordCount)) }
        var states = (0 ..< workers).map { _ in makeState(rows / workers) }
        var workerStats = [ScanStats](repeating: ScanStats(), count: workers)
        var errors = [Error?](repeating: nil, count: workers)
        try withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            let files = toRead
            states.withUnsafeMutableBufferPointer { st in
                workerStats.withUnsafeMutableBufferPointer { ws in
                    errors.withUnsafeMutableBufferPointer { errs in
                        nonisolated(unsafe) let (st, ws, errs) = (st, ws, errs)
                        // Files one at a time from a shared counter: big and small files balance.
                        forEachInParallel(count: files.count, parallelism: cores, split: .dynamic) { w, i in
                            guard errs[w] == nil else { return }
                            do {
                                let (batches, s) = try readFile(files[i], wanted, predicates, filterColumns)
                                ws[w].add(s)
                                if !batches.isEmpty { try body(&st[w], i, batches) }
                            } catch {
                                errs[w] = error
                            }
                        }
                    }
                }
            }
            if let e = errors.compactMap({ $0 }).first { throw e }
        }
        // The inlined rows come last in catalog order, as if they were one more file.
        if !inlined.isEmpty { try body(&states[0], toRead.count, inlined) }
        for s in workerStats { stats.add(s) }
        return (states, stats)
    }

    /// Reads `columns` of the rows that DuckLake deletes remove from the files this scan reads
    /// (a `lake delete`'s, DuckDB's DELETE and UPDATE), in catalog order: rows a reader no
    /// longer sees, but which were there. Deletions of DuckDB's inlined rows are not included.
    public func runDeleted(columns: [String]) throws -> [RecordBatch] {
        let wanted = try columns.map(column)
        let files = try plan([], []).0.filter(\.hasDeletes)
        return try files.flatMap { file in
            do {
                return try DataFileReader(file, columns: wanted, files: catalog.files).readDeleted()
            } catch let e as DataFileError {
                throw QueryError.badOption("\(table.qualifiedName): \(e)")
            }
        }
    }

    /// Reads `columns` of every row that satisfies all `predicates`, decoding files on all cores.
    public func run(columns: [String], where predicates: [ColumnPredicate] = []) throws -> (batches: [ScanBatch], stats: ScanStats) {
        let wanted = try columns.map(column)
        let filterColumns = try predicates.map { try column($0.column) }
        let (survivors, planned) = try plan(predicates, filterColumns)
        var stats = planned
        let (inlined, inlinedStats) = try readInlined(wanted, predicates, filterColumns)
        stats.add(inlinedStats)
        if survivors.isEmpty { return (inlined, stats) }
        let toRead = survivors

        // Decode files in parallel, results in catalog order.
        let results = try parallelMap(count: toRead.count, parallelism: ProcessInfo.processInfo.activeProcessorCount) { i in
            try readFile(toRead[i], wanted, predicates, filterColumns)
        }
        var batches: [ScanBatch] = []
        for (b, s) in results {
            batches.append(contentsOf: b)
            stats.add(s)
        }
        batches.append(contentsOf: inlined)
        return (batches, stats)
    }

    private enum Pruning { case partition, statistics, keep }

    private func prune(_ file: DataFile, _ predicates: [ColumnPredicate], _ columns: [ColumnInfo]) -> Pruning {
        var keep = Pruning.keep
        for (p, c) in zip(predicates, columns) {
            guard let type = c.type else { continue }
            if let text = file.partitionValues[c.name], let v = StatParsing.value(text, type) {
                if !p.mayMatch(ColumnStatistics(min: v, max: v, nullCount: 0, containsNaN: v == .double(.nan))) { return .partition }
                continue
            }
            if let s = file.columnStats[c.columnID] {
                let stats = ColumnStatistics(min: s.min.flatMap { StatParsing.value($0, type) },
                                             max: s.max.flatMap { StatParsing.value($0, type) }, nullCount: s.nullCount,
                                             containsNaN: s.containsNaN)
                // Stats describe every row written, deleted ones too: a superset of the live
                // rows, so pruning on them (and the file's full record count) stays safe.
                if !p.mayMatch(stats, rowCount: file.recordCount) { keep = .statistics }
            }
        }
        return keep
    }

    private func readFile(_ file: DataFile, _ wanted: [ColumnInfo], _ predicates: [ColumnPredicate],
                          _ filterColumns: [ColumnInfo]) throws -> ([ScanBatch], ScanStats) {
        var stats = ScanStats()
        let needed = wanted + filterColumns.filter { f in !wanted.contains { $0.columnID == f.columnID } }
        let rows = try DataFileReader(file, columns: needed, files: catalog.files)
        // Row groups are pruned on the file's own column names (a renamed column keeps its old one).
        let filePredicates = zip(predicates, filterColumns).compactMap { p, c -> ColumnPredicate? in
            guard let name = rows.fileColumnName(c) else { return nil }
            var q = p
            q.column = name
            return q
        }
        let groups = rows.reader.rowGroups(matching: filePredicates)
        stats.rowGroupsConsidered = rows.reader.rowGroupCount
        stats.rowGroupsSkipped = rows.reader.rowGroupCount - groups.count
        stats.rowGroupsRead = groups.count
        if groups.isEmpty { return ([], stats) }
        if let deletes = rows.deletes {
            stats.rowsDeleted = groups.reduce(0) { $0 + deletes.deleted(start: rows.rowGroupStart($1), count: rows.reader.rowGroupRowCount($1)) }
        }
        let batches: [RecordBatch]
        do {
            batches = try rows.read(rowGroups: groups, parallelism: 1)
        } catch let e as DataFileError {
            throw QueryError.badOption("\(table.qualifiedName): \(e)")
        }
        let out = try batches.compactMap { try select($0, wanted.count, predicates, &stats) }
        return (out, stats)
    }

    /// DuckDB's inlined rows (InlinedRows.swift) visible at the snapshot, as one batch that is
    /// filtered like a row group. None when the scan is restricted to given files: inlined
    /// rows belong to no file.
    private func readInlined(_ wanted: [ColumnInfo], _ predicates: [ColumnPredicate],
                             _ filterColumns: [ColumnInfo]) throws -> ([ScanBatch], ScanStats) {
        var stats = ScanStats()
        if fileFilter != nil { return ([], stats) }
        let needed = wanted + filterColumns.filter { f in !wanted.contains { $0.columnID == f.columnID } }
        guard let full = try catalog.inlinedRows(tableID: table.tableID, at: .snapshot(snapshot.id), columns: needed) else {
            return ([], stats)
        }
        return (try select(full, wanted.count, predicates, &stats).map { [$0] } ?? [], stats)
    }

    /// One decoded batch (the wanted columns first, then filter-only ones) filtered by the
    /// predicates and cut to the wanted columns; nil when no row matches.
    private func select(_ full: RecordBatch, _ wanted: Int, _ predicates: [ColumnPredicate], _ stats: inout ScanStats) throws -> ScanBatch? {
        stats.rowsRead += full.count
        let selection = try Filter.select(full, predicates)
        let matched = selection?.count ?? full.count
        stats.rowsMatched += matched
        if matched == 0 { return nil }
        let projected = RecordBatch(schema: Schema(Array(full.schema.fields.prefix(wanted))), columns: Array(full.columns.prefix(wanted)))
        return ScanBatch(batch: projected, selection: selection)
    }
}

/// Text (from the command line, the catalog's stats, partition values) to typed bound values.
public enum StatParsing {
    public static func value(_ text: String, _ type: ColumnType) -> StatValue? {
        let t = text.trimmingCharacters(in: .whitespaces)
        switch type {
        case .bool:
            switch t.lowercased() {
            case "true", "t", "1": return .bool(true)
            case "false", "f", "0": return .bool(false)
            default: return nil
            }
        case .int32, .int64: return Int64(t).map(StatValue.int)
        case .double: return Double(t).map(StatValue.double)
        case .string: return .string(text)
        case .decimal(_, let scale): return DecimalText.parse(t, scale: scale).map(StatValue.int)
        case .date: return LakeCatalog.Timestamps.parseDate(t).map(StatValue.int)
        case .timestamp:
            if let micros = LakeCatalog.Timestamps.parseTimestamp(t) { return .int(micros) }
            return LakeCatalog.Timestamps.parseDate(t).map { .int($0 * 86_400_000_000) }
        }
    }
}
