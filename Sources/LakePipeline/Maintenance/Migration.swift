import Foundation
import LakeCatalog
import LakeFormat

public enum MigrationError: Error, CustomStringConvertible, Equatable {
    case tableNotInLake(String)
    case noRecordedVersion(table: String)
    case notForward(table: String, from: Int, to: Int)
    case incompatible(table: String, column: String, reason: String)
    case idMismatch(table: String, column: String, registryID: Int32, catalogID: Int64)
    case conflict(table: String)
    /// DuckDB's small INSERTs keep rows inlined in the catalog, in a table laid out for one
    /// schema version; DuckDB's own ALTER lays out the next one, which this migration does not
    /// (yet), so DuckDB's next small INSERT wrote by position into the old layout.
    case inlinedByDuckDB(table: String, layouts: [String])
    /// A column the version adds has an id another engine's column (DuckDB's ADD COLUMN) already took.
    case idTaken(table: String, column: String, id: Int32, by: String)
    /// `--rewrite` carries the columns another engine added, but only those lake can read and write.
    case cannotRewrite(table: String, column: String, type: String)

    public var description: String {
        switch self {
        case .tableNotInLake(let t):
            return "\(t) is not in the lake yet: ingest into it first (a new table is created at the latest registry version)"
        case .noRecordedVersion(let t):
            return "the lake has no registry version recorded for \(t); cannot tell what to migrate from"
        case .notForward(let t, let from, let to):
            return "\(t) is at schema v\(from); migrating to v\(to) is not a step forward (registered versions only move up)"
        case .incompatible(let t, let c, let reason):
            return "\(t).\(c): \(reason); put a compatible change in a new version (add a new column instead)"
        case .idMismatch(let t, let c, let r, let k):
            return "\(t).\(c): the registry gives it id \(r) but the catalog assigns \(k) (a column id is never given out twice, and another "
                + "engine's columns, dropped ones too, took those before it); nothing was migrated. Give \(c) id \(k) in a registry version "
                + "of your own (--schemas DIR)"
        case .conflict(let t):
            return "another writer changed \(t)'s files while the rewrite ran; nothing was committed, run the migration again"
        case .inlinedByDuckDB(let t, let layouts):
            return "\(t) has rows DuckDB inlined in the catalog (\(layouts.joined(separator: ", "))): DuckDB lays those tables out per schema "
                + "version and puts its next small INSERT into the newest, by position, so lake does not change the columns under them; "
                + "nothing was migrated. Flush them into Parquet with DuckDB (CALL ducklake_flush_inlined_data('<lake>')) and run the migration "
                + "again, or make the same change with DuckDB's ALTER TABLE"
        case .idTaken(let t, let c, let id, let other):
            return "\(t): the registry's new column \(c) has id \(id), which the lake's column \(other) (added by another engine) already has; "
                + "nothing was migrated. Dropping \(other) does not free the id (a column id is never given out twice): give \(c) an id above "
                + "the table's highest in a registry version of your own (--schemas DIR)"
        case .cannotRewrite(let t, let c, let type):
            return "\(t).\(c) is a \(type) column (added by another engine) that lake cannot read, so --rewrite could not carry its values "
                + "into the new files; nothing was migrated. Migrate without --rewrite (old files are read under the new schema as they are)"
        }
    }
}

/// One change a migration makes, matched between registry versions by column id.
public enum MigrationStep: Equatable, Sendable, CustomStringConvertible {
    case add(name: String, id: Int32, type: ColumnType, nullable: Bool, defaultValue: String?)
    case rename(id: Int32, from: String, to: String)
    case widen(name: String, from: ColumnType, to: ColumnType)
    case drop(name: String, id: Int32)

    public var description: String {
        switch self {
        case .add(let n, let id, let t, let nullable, let d):
            return "add column \(n) (id \(id)) \(t)\(nullable ? "" : " not null")" + (d.map { " default '\($0)'" } ?? (nullable ? ", old rows read null" : ""))
        case .rename(let id, let a, let b): return "rename column \(a) -> \(b) (id \(id))"
        case .widen(let n, let a, let b): return "widen column \(n) \(a) -> \(b)"
        case .drop(let n, let id): return "drop column \(n) (id \(id))"
        }
    }
}

public struct MigrationPlan: Sendable {
    public var registryTable: String
    public var catalogTable: String
    public var fromVersion: Int
    public var toVersion: Int
    public var steps: [MigrationStep]
}

public struct MigrationReport: Sendable {
    public var plan: MigrationPlan
    /// The table was already at the version asked for: nothing was planned or committed.
    public var alreadyApplied = false
    public var snapshotID: Int64?
    public var filesRewritten = 0
    public var filesWritten = 0
    public var seconds: Double = 0
}

/// Applies registry version N of a table to the lake: columns are matched by id, so a rename is
/// only a catalog change (files keep their field ids) and old files keep being read under the
/// new schema. Everything (schema changes, optional file rewrite, the recorded version) is ONE
/// snapshot; time travel to before it shows the old schema and data.
public enum Migration {
    /// Compares registry versions `from` → `to` by column id; refuses what old files could not be read as.
    public static func plan(from: TableSchema, to: TableSchema) throws -> [MigrationStep] {
        let table = to.table
        let defaults = try columnDefaults(to)
        var steps: [MigrationStep] = []
        let old = Dictionary(uniqueKeysWithValues: from.columns.map { ($0.id, $0) })
        for c in to.columns {
            guard let o = old[c.id] else {
                let d = defaults[c.name]
                if !c.nullable && d == nil {
                    throw MigrationError.incompatible(table: table, column: c.name, reason: "a new NOT NULL column needs a \"default\" for the rows already in the lake")
                }
                if let d, !valid(d, c.type) {
                    throw MigrationError.incompatible(table: table, column: c.name, reason: "default '\(d)' is not a valid \(c.type)")
                }
                steps.append(.add(name: c.name, id: c.id, type: c.type, nullable: c.nullable, defaultValue: d))
                continue
            }
            if o.type != c.type {
                guard widens(o.type, c.type) else {
                    throw MigrationError.incompatible(table: table, column: o.name,
                                                      reason: "changing \(o.type) to \(c.type) is not a widening (allowed: int32 -> int64/double, decimal precision up at the same scale)")
                }
            }
            if o.nullable && !c.nullable {
                throw MigrationError.incompatible(table: table, column: o.name, reason: "a nullable column cannot become NOT NULL (old rows may hold nulls)")
            }
            if !o.nullable && c.nullable {
                throw MigrationError.incompatible(table: table, column: o.name, reason: "changing NOT NULL to nullable is not supported by this migration")
            }
            if o.name != c.name { steps.append(.rename(id: c.id, from: o.name, to: c.name)) }
            if o.type != c.type { steps.append(.widen(name: c.name, from: o.type, to: c.type)) }
        }
        let kept = Set(to.columns.map(\.id))
        for o in from.columns where !kept.contains(o.id) {
            if from.partitionBy.contains(o.name) {
                throw MigrationError.incompatible(table: table, column: o.name, reason: "a partition column cannot be dropped")
            }
            steps.append(.drop(name: o.name, id: o.id))
        }
        return steps
    }

    static func valid(_ text: String, _ type: ColumnType) -> Bool {
        switch type {
        case .string: return true
        case .bool: return ["true", "false"].contains(text)
        case .int32: return Int32(text) != nil
        case .int64: return Int64(text) != nil
        case .double: return Double(text) != nil
        case .decimal(_, let scale): return DecimalText.parse(text, scale: scale) != nil
        case .date: return LakeCatalog.Timestamps.parseDate(text) != nil
        case .timestamp: return LakeCatalog.Timestamps.parseTimestamp(text) != nil
        }
    }

    static func widens(_ a: ColumnType, _ b: ColumnType) -> Bool {
        switch (a, b) {
        case (.int32, .int64), (.int32, .double): return true
        case (.decimal(let p, let s), .decimal(let p2, let s2)): return s == s2 && p2 >= p
        default: return false
        }
    }

    /// Column "default" values (text in the column's stat form) from the version file,
    /// checked to be strings when the registry loads.
    static func columnDefaults(_ schema: TableSchema) throws -> [String: String] {
        var out: [String: String] = [:]
        for c in schema.columns { if let d = c.defaultValue { out[c.name] = d } }
        return out
    }

    /// `progress` counts the files rewritten against the table's live files (with `rewrite` only).
    public static func run(_ store: LakeStore, table registryTable: String, to version: Int,
                           rewrite: Bool = false, dryRun: Bool = false, progress: WorkProgress? = nil) throws -> MigrationReport {
        try run(store, table: registryTable, to: version, rewrite: rewrite, dryRun: dryRun, progress: progress, beforeCommit: nil)
    }

    /// `beforeCommit` runs after the rewritten files are written and before the commit: tests
    /// use it to commit a competing change (DuckDB's) exactly in that window.
    static func run(_ store: LakeStore, table registryTable: String, to version: Int,
                    rewrite: Bool, dryRun: Bool, progress: WorkProgress? = nil, beforeCommit: (() throws -> Void)?) throws -> MigrationReport {
        let started = Date()
        let catalog = store.catalog
        try catalog.requireWritable()
        // Read before the table, so a column change committed after it is caught at commit.
        let base = try catalog.latestSnapshot()
        let target = try store.registry.schema(registryTable, version: version)
        let loc = LakeStore.location(ofRegistryTable: registryTable, layer: target.layer)
        let qualified = loc.schema + "." + loc.table
        guard let info = try catalog.tableIfPresent(schema: loc.schema, name: loc.table) else { throw MigrationError.tableNotInLake(qualified) }
        guard let recorded = try catalog.tableSchemaVersion(tableID: info.tableID) else { throw MigrationError.noRecordedVersion(table: qualified) }
        guard version >= recorded.version else {
            throw MigrationError.notForward(table: qualified, from: recorded.version, to: version)
        }
        if version == recorded.version {
            // Answered, not refused: a migration whose commit landed before its process ended
            // (SIGKILL, a lost session, a signal deferred past the commit: exit 130) is run
            // again as OPERATIONS.md advises, and that retry must not fail for ever (exit 1
            // "not a step forward" stopped a retrying scheduler). Nothing is committed.
            var report = MigrationReport(plan: MigrationPlan(registryTable: registryTable, catalogTable: qualified, fromVersion: version,
                                                             toVersion: version, steps: []))
            report.alreadyApplied = true
            report.seconds = Date().timeIntervalSince(started)
            return report
        }
        let current = try store.registry.schema(registryTable, version: recorded.version)
        let steps = try plan(from: current, to: target)
        var report = MigrationReport(plan: MigrationPlan(registryTable: registryTable, catalogTable: qualified, fromVersion: recorded.version,
                                                         toVersion: version, steps: steps))
        // The catalog must hold the version we plan from: same ids, names and types.
        for c in current.columns {
            guard let k = info.column(id: Int64(c.id)), k.name == c.name, k.type == c.type else {
                throw MigrationError.incompatible(table: qualified, column: c.name,
                                                  reason: "the lake's column does not match registry v\(recorded.version) (id \(c.id))")
            }
        }
        // Empty ones (DuckDB registers one at each ALTER and keeps it after a flush) are dropped
        // by the commit, so DuckDB lays out the new version's at its next small INSERT.
        let layouts = try catalog.inlinedDataTablesHoldingRows(tableID: info.tableID)
        if !layouts.isEmpty { throw MigrationError.inlinedByDuckDB(table: qualified, layouts: layouts) }
        // Caught here, not by the commit's id check: a rewrite would first have read the other
        // column's values as the new column's.
        for case .add(let name, let id, _, _, _) in steps {
            if let taken = info.column(id: Int64(id)) { throw MigrationError.idTaken(table: qualified, column: name, id: id, by: taken.name) }
        }
        // Columns no registry version knows (DuckDB's ALTER TABLE … ADD COLUMN) stay in the
        // catalog, so the rewritten files must hold their values too, after the registry's.
        let known = Set(current.columns.map { Int64($0.id) } + target.columns.map { Int64($0.id) })
        let foreign = info.columns.filter { !known.contains($0.columnID) }
        if rewrite, let unreadable = foreign.first(where: { $0.type == nil }) {
            throw MigrationError.cannotRewrite(table: qualified, column: unreadable.name, type: unreadable.duckLakeType)
        }
        if dryRun { return report }

        // With --rewrite, write every live file in the new schema before taking the write lock.
        let defaults = try columnDefaults(target)
        var newTable = info
        newTable.columns = target.columns.enumerated().map { i, c in
            var k = info.column(id: Int64(c.id)) ?? info.columns[0]
            k.columnID = Int64(c.id)
            k.name = c.name
            k.type = c.type
            k.duckLakeType = DuckLakeType.name(c.type)
            k.nullable = c.nullable
            if info.column(id: Int64(c.id)) == nil {
                k.initialDefault = defaults[c.name]
                k.defaultValue = defaults[c.name]
                // Begins with this migration, after every existing file: those files may lack it
                // (DataFileReader reads them as the default instead of calling them corrupt).
                k.beginSnapshot = .max
            }
            k.order = Int64(i + 1)
            return k
        }
        for (i, var k) in foreign.enumerated() {
            k.order = Int64(target.columns.count + i + 1)
            newTable.columns.append(k)
        }
        let renamed = Dictionary(uniqueKeysWithValues: steps.compactMap { s -> (String, String)? in
            if case .rename(_, let a, let b) = s { return (a, b) }
            return nil
        })
        var outputs: [NewDataFile] = []
        // Listed before the lease, so a table the rewrite refuses (rows DuckDB inlined in the
        // catalog, which it would not carry) leaves no lease behind.
        let inputs = rewrite ? try catalog.dataFiles(tableID: info.tableID) : []
        // Registered before the first rewritten file exists: vacuum keeps them until the commit.
        let lease = rewrite ? try catalog.beginWrite(operation: "schema migrate \(registryTable)") : nil
        if rewrite {
            var opts = ParquetWriteOptions()
            opts.metadata["lake.table"] = qualified
            opts.metadata["lake.schema_version"] = String(version)
            let schema = try newTable.schema()
            let kept: RowLineage.Kept = catalog.format == .v10 ? .rowIDs : .none
            do {
                for (done, file) in inputs.enumerated() {
                    // Before the file: a file with every row deleted ends its turn early (`continue`).
                    progress?(Int64(done), Int64(inputs.count))
                    // A signal stops the rewrite between files: the catch deletes what it wrote.
                    try Interruption.check()
                    // The rewrite holds the rows minus the file's DuckLake deletes (the delete file
                    // ends with the old file); a file whose rows are all deleted gets no successor.
                    let batches = try FileRows.read(file, table: newTable, schema: schema, files: catalog.files)
                    if file.hasDeletes, batches.allSatisfy({ $0.count == 0 }) { continue }
                    // The rows keep their row ids: DuckDB's change feed reads the migration as an
                    // update of each row (its new columns), not a delete and an insert under new ids.
                    let lineage = kept == .none ? nil : try Compaction.readLineage(file, table: info, files: catalog.files)
                    let fileSchema = lineage == nil ? schema : Schema(schema.fields + kept.fields)
                    let dir = file.directoryInTable
                    let relative = (dir.isEmpty ? "" : dir + "/") + UUID().uuidString.lowercased() + ".parquet"
                    let url = info.directory.appendingPathComponent(relative)
                    let writer = try catalog.files.writer(url.path, schema: fileSchema, options: opts)
                    outputs.append(NewDataFile(relativePath: relative, recordCount: 0, fileSizeBytes: 0))
                    var at = 0
                    for b in batches {
                        guard let lineage else { try writer.write(b); continue }
                        try writer.write(RecordBatch(schema: fileSchema, columns: b.columns + lineage.columns(at ..< at + b.count, kept)))
                        at += b.count
                    }
                    let summary = try writer.close()
                    var stats: [Int64: ColumnStats] = [:]
                    for (i, f) in schema.fields.enumerated() {
                        stats[Int64(f.fieldID!)] = SegmentWriter.catalogStats(summary.columnStatistics[i], f.type, rows: summary.rowCount)
                    }
                    var pv: [String: String] = [:]
                    for (k, v) in file.partitionValues { pv[renamed[k] ?? k] = v }
                    outputs[outputs.count - 1] = NewDataFile(relativePath: relative, recordCount: summary.rowCount, fileSizeBytes: summary.fileSize,
                                                             footerSize: summary.footerSize, footerChecksum: summary.footerChecksum, partitionValues: pv, columnStats: stats)
                    outputs[outputs.count - 1].keepsRowIDs = lineage != nil
                }
                progress?(Int64(inputs.count), Int64(inputs.count))
            } catch {
                catalog.files.discard(outputs.map { info.directory.appendingPathComponent($0.relativePath).path })
                throw error
            }
        }

        do {
            // The last safe point: once the commit starts, a signal waits for it.
            try Interruption.check()
            try beforeCommit?()
            let (snap, _) = try catalog.commit(message: "schema migrate \(registryTable) v\(recorded.version) -> v\(version)\(rewrite ? " (rewrite)" : "")") { tx in
                if let lease { try tx.endWrite(lease) }
                // The steps were planned from the columns read at `base`: another writer's column
                // change since (a DuckDB ALTER TABLE) is a conflict, not a column id clash.
                try tx.requireSchemaUnchanged(tableID: info.tableID, since: base.id)
                let holding = try tx.dropEmptyInlinedDataTables(tableID: info.tableID)
                if !holding.isEmpty { throw MigrationError.inlinedByDuckDB(table: qualified, layouts: holding) }
                // Re-check under the write lock: another migration may have run meanwhile.
                if let now = try tx.table(schema: loc.schema, name: loc.table)?.tableID, now != info.tableID {
                    throw MigrationError.conflict(table: qualified)
                }
                if let fp = try tx.registeredFingerprint(table: registryTable, version: version), fp != target.fingerprint {
                    throw IngestError.registryEdited(table: registryTable, version: version)
                }
                for step in steps {
                    switch step {
                    case .add(let name, let id, let type, let nullable, let d):
                        let f = try tx.addColumn(tableID: info.tableID, Field(name, type, nullable: nullable), default: d)
                        if f.fieldID != id { throw MigrationError.idMismatch(table: qualified, column: name, registryID: id, catalogID: Int64(f.fieldID ?? 0)) }
                    case .rename(_, let a, let b):
                        try tx.renameColumn(tableID: info.tableID, from: a, to: b)
                    case .widen(let name, _, let to):
                        try tx.changeColumnType(tableID: info.tableID, column: name, to: to)
                    case .drop(let name, _):
                        try tx.dropColumn(tableID: info.tableID, name: name)
                    }
                }
                if rewrite {
                    let live = Set(try tx.currentDataFileIDs(tableID: info.tableID))
                    // A file added or removed since we read the list would be lost or duplicated,
                    // and rows deleted from one meanwhile (a new delete file or inlined deletion)
                    // would come back.
                    guard live == Set(inputs.map(\.dataFileID)) else { throw MigrationError.conflict(table: qualified) }
                    let deletes = try tx.currentDeleteMarks(tableID: info.tableID)
                    guard inputs.allSatisfy({ $0.deletesUnchanged(in: deletes) }) else {
                        throw MigrationError.conflict(table: qualified)
                    }
                    // The rewrite replaces every file: its outputs must all be there, or the table
                    // would lose the rows (a vacuum that judged this writer gone deleted them).
                    try tx.requireFilesPresent(outputs.map { (info.directory.appendingPathComponent($0.relativePath).path, $0.fileSizeBytes) })
                    try tx.removeDataFiles(inputs.map(\.dataFileID))
                    try tx.addDataFiles(tableID: info.tableID, outputs)
                }
                try tx.registerSchemaVersion(table: registryTable, version: version, fingerprint: target.fingerprint)
                try tx.storeSchemaDefinition(table: registryTable, version: version, canonicalJSON: target.canonicalJSON)
                try tx.setTableSchemaVersion(tableID: info.tableID, registryTable: registryTable, version: version)
            }
            report.snapshotID = snap.id
        } catch {
            // An unanswered COMMIT may have swapped the files in, and a landed one whose files did
            // not settle did: then these are the table's rows.
            if !Catalog.commitMayHaveLanded(error) {
                catalog.files.discard(outputs.map { info.directory.appendingPathComponent($0.relativePath).path })
            }
            throw error
        }
        report.filesRewritten = inputs.count
        report.filesWritten = outputs.count
        report.seconds = Date().timeIntervalSince(started)
        return report
    }
}
