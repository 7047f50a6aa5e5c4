import Foundation
import LakeFormat

// The lake's own bookkeeping, in `lake_*` tables of the same SQLite database as the DuckLake
// catalog: a source ledger and stream checkpoints for exactly-once ingest, one row per ingest
// run for the operations report, and the schema registry's fingerprints. They are written
// inside the same transaction as the snapshot they describe, so they can never disagree with
// the data. DuckDB's ducklake extension ignores tables it does not know.

/// A source already committed, by content hash: ingesting it again adds nothing.
public struct LedgerEntry: Sendable, Equatable {
    public var kind: SourceKind
    public var sourceHash: String
    public var source: String
    public var bytes: Int64
    public var batchID: String
    public var snapshotID: Int64
}

/// Where a followed (tailed) source was committed up to.
public struct StreamCheckpoint: Sendable, Equatable {
    public var source: String
    public var byteOffset: Int64
    public var lineNumber: Int64
    public var snapshotID: Int64
    /// What the file held just before `byteOffset` when it was committed; nil when the
    /// checkpoint was saved without one (by a build before session 21).
    public var witness: StreamWitness?
}

/// A digest of the bytes just before a stream checkpoint (at most 64, the end of the last
/// committed line). A restart compares it with what the file holds there now: a file replaced
/// or rewritten since (rotated while the follower was down) whose lines happen to end at the
/// same offset would otherwise be read from its middle, its first lines silently skipped. A
/// digest, not the bytes: they are an order's text, which `lake erase` must not leave behind.
public struct StreamWitness: Sendable, Equatable {
    public var byteCount: Int64
    public var sha256: String

    public init(byteCount: Int64, sha256: String) {
        self.byteCount = byteCount
        self.sha256 = sha256
    }
}

enum Bookkeeping {
    static let ddl = [
        """
        CREATE TABLE IF NOT EXISTS lake_ingest_run (
            snapshot_id BIGINT NOT NULL, batch_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, source VARCHAR NOT NULL,
            source_hash VARCHAR, source_bytes BIGINT, started_at VARCHAR, finished_at VARCHAR,
            records BIGINT, accepted BIGINT, quarantined BIGINT, duplicates BIGINT, rejects_json VARCHAR,
            files_written BIGINT, bytes_written BIGINT, partitions BIGINT, seconds DOUBLE,
            latency_p50_s DOUBLE, latency_p95_s DOUBLE, latency_max_s DOUBLE, unknown_fields_json VARCHAR)
        """,
        """
        CREATE TABLE IF NOT EXISTS lake_source_ledger (
            kind VARCHAR NOT NULL, source_hash VARCHAR NOT NULL, source VARCHAR NOT NULL, bytes BIGINT NOT NULL,
            batch_id VARCHAR NOT NULL, snapshot_id BIGINT NOT NULL, PRIMARY KEY (kind, source_hash))
        """,
        """
        CREATE TABLE IF NOT EXISTS lake_stream_checkpoint (
            source VARCHAR PRIMARY KEY, byte_offset BIGINT NOT NULL, line_number BIGINT NOT NULL, snapshot_id BIGINT NOT NULL)
        """,
        // Its own table, not columns of lake_stream_checkpoint: a lake made by an older build
        // gains it at its next writable open like any missing lake_* table. Keyed by the offset
        // it describes, so a checkpoint an older build moved on is not judged by a stale digest.
        """
        CREATE TABLE IF NOT EXISTS lake_stream_witness (
            source VARCHAR PRIMARY KEY, byte_offset BIGINT NOT NULL, byte_count BIGINT NOT NULL, sha256 VARCHAR NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS lake_schema_registry (
            table_name VARCHAR NOT NULL, version INTEGER NOT NULL, fingerprint VARCHAR NOT NULL,
            snapshot_id BIGINT NOT NULL, PRIMARY KEY (table_name, version))
        """,
        // The canonical JSON of each registry version the lake uses (its fingerprint is in
        // lake_schema_registry), so a lake reads its own versions wherever `lake` runs.
        """
        CREATE TABLE IF NOT EXISTS lake_schema_definition (
            table_name VARCHAR NOT NULL, version INTEGER NOT NULL, canonical_json VARCHAR NOT NULL,
            PRIMARY KEY (table_name, version))
        """,
        """
        CREATE TABLE IF NOT EXISTS lake_table_schema_version (
            table_id BIGINT NOT NULL, registry_table VARCHAR NOT NULL, version INTEGER NOT NULL,
            begin_snapshot BIGINT NOT NULL, PRIMARY KEY (table_id, begin_snapshot))
        """,
    ]

    /// Every lake_* table: bookkeeping, quality results and figures, key runs, footer checksums,
    /// erasures, write leases. Created once, when a 1.0 catalog opens for writing (or is
    /// created), so a commit, a lease or a quality record never runs DDL (on PostgreSQL each
    /// statement under the write lock is a round trip every other writer waits for).
    static var allDDL: [String] {
        ddl + QualityTables.ddl + [QualityFigureTable.ddl, KeyRunTable.ddl, FileIntegrity.ddl, ErasureLog.ddl, WriteLeaseTable.ddl]
    }
    static let indexDDL = [KeyRunTable.index, QualityFigureTable.index]
    static let tableNames = [
        "lake_ingest_run", "lake_source_ledger", "lake_stream_checkpoint", "lake_stream_witness", "lake_schema_registry",
        "lake_schema_definition", "lake_table_schema_version", "lake_quality_result", "lake_alert",
        "lake_quality_figure", "lake_key_run", "lake_file_integrity", "lake_erasure", "lake_write_lease",
    ]

    static func ensure(_ db: SQLDatabase) throws {
        for sql in allDDL + indexDDL { try db.execute(sql: sql) }
    }

    /// Whether every lake_* table exists (a read, so an open takes the write lock only when not).
    static func complete(_ db: SQLDatabase) throws -> Bool {
        for name in tableNames where try !db.tableExists(name) { return false }
        return true
    }

    /// Whether the bookkeeping exists: a catalog only ever opened read-only (one DuckDB made,
    /// or a 0.3 catalog before `lake upgrade`) has none, and reads find nothing there.
    static func exists(_ db: SQLDatabase) throws -> Bool {
        try db.tableExists("lake_ingest_run")
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static func decode<T: Decodable>(_ text: String?, as: T.Type) -> T? {
        guard let text else { return nil }
        return try? JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    static func run(_ row: SQLRow) throws -> IngestRun {
        func time(_ column: String) throws -> Date {
            let text: String? = try row.value(column)
            return Timestamps.parseTimestamp(text ?? "").map(Timestamps.date(micros:)) ?? Date(timeIntervalSince1970: 0)
        }
        let rejects: String? = try row.value("rejects_json"), unknown: String? = try row.value("unknown_fields_json")
        return IngestRun(
            kind: try sourceKind(row.value("kind")), source: try row.value("source"),
            snapshotID: try row.value("snapshot_id") as Int64, batchID: try row.value("batch_id") as String,
            sourceHash: try row.value("source_hash"), sourceBytes: try row.value("source_bytes") ?? 0,
            startedAt: try time("started_at"), finishedAt: try time("finished_at"),
            records: try row.value("records") ?? 0, accepted: try row.value("accepted") ?? 0, quarantined: try row.value("quarantined") ?? 0,
            duplicates: try row.value("duplicates") ?? 0, rejects: decode(rejects, as: [String: Int64].self) ?? [:],
            filesWritten: try row.value("files_written") ?? 0, bytesWritten: try row.value("bytes_written") ?? 0,
            partitions: try row.value("partitions") ?? 0, seconds: try row.value("seconds") ?? 0,
            latencyP50: try row.value("latency_p50_s"), latencyP95: try row.value("latency_p95_s"),
            latencyMax: try row.value("latency_max_s"), unknownFields: decode(unknown, as: [String: Int64].self) ?? [:])
    }

    /// A stored kind this build does not know is a damaged (or newer) catalog, not an orders run.
    static func sourceKind(_ text: String) throws -> SourceKind {
        guard let kind = SourceKind(rawValue: text) else {
            throw CatalogError.corrupt("lake bookkeeping names an unknown source kind \"\(text)\" (expected orders, catalog or inventory)")
        }
        return kind
    }

    static func ledgerEntry(_ db: SQLDatabase, kind: SourceKind, identity: SourceIdentity) throws -> LedgerEntry? {
        if let legacy = identity.legacyHash {
            return try SQLRow.fetchOne(db, sql: "SELECT * FROM lake_source_ledger WHERE kind = ? AND source_hash IN (?, ?)",
                                       arguments: [kind.rawValue, identity.hash, legacy]).map(ledgerEntry)
        }
        return try SQLRow.fetchOne(db, sql: "SELECT * FROM lake_source_ledger WHERE kind = ? AND source_hash = ?",
                                   arguments: [kind.rawValue, identity.hash]).map(ledgerEntry)
    }

    static func ledgerEntry(_ row: SQLRow) throws -> LedgerEntry {
        LedgerEntry(kind: try sourceKind(row.value("kind")), sourceHash: try row.value("source_hash"), source: try row.value("source"),
                    bytes: try row.value("bytes"), batchID: try row.value("batch_id"), snapshotID: try row.value("snapshot_id"))
    }

    static func checkpoint(_ row: SQLRow) throws -> StreamCheckpoint {
        StreamCheckpoint(source: try row.value("source"), byteOffset: try row.value("byte_offset"),
                         lineNumber: try row.value("line_number"), snapshotID: try row.value("snapshot_id"))
    }

    static func latestLedgerEntry(_ db: SQLDatabase, kind: SourceKind) throws -> LedgerEntry? {
        try SQLRow.fetchOne(db, sql: "SELECT * FROM lake_source_ledger WHERE kind = ? ORDER BY snapshot_id DESC LIMIT 1",
                            arguments: [kind.rawValue]).map(ledgerEntry)
    }

    /// The checkpoint of `source` with its witness when one describes the same offset (`witness`:
    /// a writer's conflict check under the lock needs only the snapshot, not two more statements).
    static func checkpoint(_ db: SQLDatabase, source: String, witness: Bool = true) throws -> StreamCheckpoint? {
        guard var cp = try SQLRow.fetchOne(db, sql: "SELECT * FROM lake_stream_checkpoint WHERE source = ?", arguments: [source]).map(checkpoint) else {
            return nil
        }
        // A lake only ever opened read-only since an older build wrote it has no witness table.
        if witness, try db.tableExists("lake_stream_witness"),
           let row = try SQLRow.fetchOne(db, sql: "SELECT * FROM lake_stream_witness WHERE source = ? AND byte_offset = ?",
                                         arguments: [source, cp.byteOffset]) {
            cp.witness = StreamWitness(byteCount: try row.value("byte_count"), sha256: try row.value("sha256"))
        }
        return cp
    }
}

extension CatalogTransaction {
    /// Records an ingest run under this transaction's snapshot (its own `snapshotID` is not read).
    public mutating func recordIngestRun(_ run: IngestRun) throws {
        guard let batchID = run.batchID else {
            throw CatalogError.invalidName(kind: "ingest run", name: run.source, reason: "a recorded run needs the batch id its rows carry")
        }
        try database.execute(sql: """
            INSERT INTO lake_ingest_run VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [
                snapshotID, batchID, run.kind.rawValue, run.source, run.sourceHash, run.sourceBytes,
                Timestamps.iso(run.startedAt), Timestamps.iso(run.finishedAt), run.records, run.accepted, run.quarantined,
                run.duplicates, Bookkeeping.json(run.rejects), run.filesWritten, run.bytesWritten, run.partitions, run.seconds,
                run.latencyP50, run.latencyP95, run.latencyMax, Bookkeeping.json(run.unknownFields),
            ])
    }

    public func ledgerEntry(kind: SourceKind, identity: SourceIdentity) throws -> LedgerEntry? {
        try Bookkeeping.ledgerEntry(database, kind: kind, identity: identity)
    }

    /// The source of `kind` committed last (the product catalog in force, for `.catalog`).
    public func latestLedgerEntry(kind: SourceKind) throws -> LedgerEntry? {
        try Bookkeeping.latestLedgerEntry(database, kind: kind)
    }

    /// Marks a whole source as committed by this snapshot. Content committed before moves to
    /// this snapshot: a product catalog ingested again after another one (a rollback) is the
    /// catalog in force again, and `latestLedgerEntry` must say so.
    public mutating func recordSource(kind: SourceKind, sourceHash: String, source: String, bytes: Int64, batchID: String) throws {
        try database.execute(sql: """
            INSERT INTO lake_source_ledger VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, source_hash) DO UPDATE
            SET source = excluded.source, bytes = excluded.bytes, batch_id = excluded.batch_id, snapshot_id = excluded.snapshot_id
            """, arguments: [kind.rawValue, sourceHash, source, bytes, batchID, snapshotID])
    }

    /// The checkpoint without its witness: what a commit's conflict check compares.
    public func streamCheckpoint(source: String) throws -> StreamCheckpoint? {
        try Bookkeeping.checkpoint(database, source: source, witness: false)
    }

    public mutating func saveStreamCheckpoint(source: String, byteOffset: Int64, lineNumber: Int64, witness: StreamWitness? = nil) throws {
        if let witness {
            try database.execute(sql: """
                INSERT INTO lake_stream_witness VALUES (?, ?, ?, ?) ON CONFLICT (source) DO UPDATE
                SET byte_offset = excluded.byte_offset, byte_count = excluded.byte_count, sha256 = excluded.sha256
                """, arguments: [source, byteOffset, witness.byteCount, witness.sha256])
        } else {
            try database.execute(sql: "DELETE FROM lake_stream_witness WHERE source = ?", arguments: [source])
        }
        try database.execute(sql: """
            INSERT INTO lake_stream_checkpoint VALUES (?, ?, ?, ?) ON CONFLICT (source) DO UPDATE
            SET byte_offset = excluded.byte_offset, line_number = excluded.line_number, snapshot_id = excluded.snapshot_id
            """,
                             arguments: [source, byteOffset, lineNumber, snapshotID])
    }

    /// The fingerprint recorded for a registry version, or nil when it was never used.
    public func registeredFingerprint(table: String, version: Int) throws -> String? {
        return try String.fetchOne(database, sql: "SELECT fingerprint FROM lake_schema_registry WHERE table_name = ? AND version = ?",
                                   arguments: [table, version])
    }

    public mutating func registerSchemaVersion(table: String, version: Int, fingerprint: String) throws {
        try database.execute(sql: "INSERT OR IGNORE INTO lake_schema_registry VALUES (?, ?, ?, ?)",
                             arguments: [table, version, fingerprint, snapshotID])
    }

    /// Stores a registry version's canonical JSON; a version already stored is kept (versions are
    /// immutable, and the fingerprint check refuses an edited one before this is reached).
    public mutating func storeSchemaDefinition(table: String, version: Int, canonicalJSON: String) throws {
        try database.execute(sql: "INSERT OR IGNORE INTO lake_schema_definition VALUES (?, ?, ?)",
                             arguments: [table, version, canonicalJSON])
    }

    /// Records a registry version (its fingerprint and canonical JSON) unless already recorded;
    /// returns the fingerprint recorded earlier when it differs from `fingerprint` (an edited
    /// version file: the caller refuses it), nil when recorded now or before.
    ///
    /// Both rows are immutable once committed (never updated or deleted), so a version this
    /// catalog saw committed with both rows is not read again while the schema_version stays
    /// the same: a long-lived writer's commit then spends no statement on it.
    public mutating func registerSchemaVersion(table: String, version: Int, fingerprint: String, canonicalJSON: String) throws -> String? {
        let key = SchemaCache.RegisteredVersion(table: table, version: version, fingerprint: fingerprint)
        if !schemaChanged && schemaCache.isRegistered(key, schemaVersion: previous.schemaVersion) { return nil }
        // Read before this transaction writes either row: a match is a committed row.
        let recorded = try registeredFingerprint(table: table, version: version)
        if let recorded, recorded != fingerprint { return recorded }
        let wasRecorded = recorded != nil
        try registerSchemaVersion(table: table, version: version, fingerprint: fingerprint)
        try storeSchemaDefinition(table: table, version: version, canonicalJSON: canonicalJSON)
        // Nothing inserted by either statement: both rows were there, committed by someone.
        if wasRecorded && database.changesCount == 0 && !schemaChanged {
            schemaCache.noteRegistered(key, schemaVersion: previous.schemaVersion)
        }
        return nil
    }

    /// Which registry table and version a catalog table's schema follows from this snapshot on.
    public mutating func setTableSchemaVersion(tableID: Int64, registryTable: String, version: Int) throws {
        try database.execute(sql: """
            INSERT INTO lake_table_schema_version VALUES (?, ?, ?, ?) ON CONFLICT (table_id, begin_snapshot) DO UPDATE
            SET registry_table = excluded.registry_table, version = excluded.version
            """,
                             arguments: [tableID, registryTable, version, snapshotID])
    }

    /// Ids of the table's data files that are live (not yet removed) before this snapshot.
    public func currentDataFileIDs(tableID: Int64) throws -> [Int64] {
        try Int64.fetchAll(database, sql: "SELECT data_file_id FROM ducklake_data_file WHERE table_id = ? AND end_snapshot IS NULL",
                           arguments: [tableID])
    }

    /// Data files of a table committed after `snapshot`: a writer that read the lake at
    /// `snapshot` uses this to detect a concurrent commit that its work did not see.
    public func dataFilesAdded(tableID: Int64, after snapshot: Int64) throws -> Int {
        try Int.fetchOne(database, sql: "SELECT count(*) FROM ducklake_data_file WHERE table_id = ? AND begin_snapshot > ?",
                         arguments: [tableID, snapshot]) ?? 0
    }

    /// The snapshots after `snapshot` that deleted rows of the table (`deleted_from_table` or
    /// `inlined_delete` in their changes_made, as ours and DuckDB's deletes record them).
    public func snapshotsDeletingRows(tableID: Int64, after snapshot: Int64) throws -> Set<Int64> {
        try snapshotsChanging(tableID: tableID, after: snapshot, kinds: [.deletedFromTable, .inlinedDelete])
    }

    /// The values of a text column in the table's rows inlined in the catalog (DuckDB's small
    /// INSERT: no data file, no key run) live now, when a snapshot after `snapshot` inserted
    /// some; else empty (one query of changes_made). Rows inlined before it were visible to a
    /// writer that read the table at `snapshot`.
    public func inlinedValuesAdded(tableID: Int64, column: String, after snapshot: Int64) throws -> [String] {
        guard try !snapshotsChanging(tableID: tableID, after: snapshot, kinds: [.inlinedInsert]).isEmpty else { return [] }
        guard let table = try Catalog.fetchTables(database, snapshot: previous.id, dataPath: dataPath, tableID: tableID).first,
              let c = table.column(named: column),
              let rows = try Catalog.fetchInlinedRows(database, tableID: tableID, snapshot: previous.id, columns: [c]) else { return [] }
        return (0 ..< rows.count).compactMap { rows.columns[0].string(at: $0) }
    }

    /// The values (UTF-8 bytes) among `wanted` of a text column that have fewer live rows in the
    /// table now than at `snapshot`, when a snapshot after it deleted rows: what another tool's
    /// DELETE (DuckDB's, which records no ids) removed from under a writer that read the table at
    /// `snapshot`. An UPDATE (a delete and an insert of the same value) or a rewrite moving rows
    /// to a new file leaves a value as live as before: not returned. `deleting` are the
    /// snapshots after `snapshot` that deleted rows (`snapshotsDeletingRows`); empty reads nothing.
    ///
    /// Reads only what changed: the files live at both snapshots whose deletes differ (the rows
    /// deleted now less those deleted then), the files live then and not now (their rows then),
    /// the rows inlined in the catalog at both; and only when one of those values is wanted, the
    /// rows of the files added since, which may hold it again.
    public func valuesDeleted(tableID: Int64, column: String, after snapshot: Int64, deleting: Set<Int64>,
                              wanted: ([UInt8]) -> Bool) throws -> [[UInt8]] {
        guard !deleting.isEmpty,
              let then = try Catalog.fetchTables(database, snapshot: snapshot, dataPath: dataPath, tableID: tableID).first,
              let now = try Catalog.fetchTables(database, snapshot: previous.id, dataPath: dataPath, tableID: tableID).first,
              let c = then.column(named: column) else { return [] }
        // Live rows then less live rows now, per value. Keyed by bytes: String's == is canonical
        // equivalence, which would take a look-alike value (NFC vs NFD) for the one deleted.
        var gone: [[UInt8]: Int] = [:]
        func add(_ batches: [RecordBatch], _ by: Int, only: Set<[UInt8]>? = nil) {
            for b in batches {
                // The stored bytes themselves, not a String decoded from them and encoded again.
                let column = b.columns[0].materialized()
                guard case .string(let values) = column.data else { continue }
                for row in 0 ..< b.count where !column.isNull(row) {
                    let key = values.withBytes(row) { Array($0) }
                    if let only, !only.contains(key) { continue }
                    gone[key, default: 0] += by
                }
            }
        }
        func list(_ t: TableInfo, _ s: Int64) throws -> [Int64: DataFile] {
            Dictionary(uniqueKeysWithValues: try Catalog.fetchDataFiles(database, table: t, snapshot: s, columnStats: false,
                                                                        inlined: .readSeparately).map { ($0.dataFileID, $0) })
        }
        let before = try list(then, snapshot), after = try list(now, previous.id)
        for (id, old) in before {
            if let new = after[id] {
                // Unchanged deletes: the same delete file and inlined deletions, nothing read.
                guard new.deleteFile?.deleteFileID != old.deleteFile?.deleteFileID || new.inlinedDeletes != old.inlinedDeletes else { continue }
                add(try DataFileReader(new, columns: [c], files: files).readDeleted(), 1)
                add(try DataFileReader(old, columns: [c], files: files).readDeleted(), -1)
            } else {
                // Ended since: a DELETE of every live row, or a rewrite whose output is added below.
                add(try DataFileReader(old, columns: [c], files: files).read(parallelism: 1), 1)
            }
        }
        let inlinedColumn = now.column(named: column) ?? c
        if !(try Catalog.inlinedDataTables(database, tableID: tableID)).isEmpty {
            add(try Catalog.fetchInlinedRows(database, tableID: tableID, snapshot: snapshot, columns: [c]).map { [$0] } ?? [], 1)
            add(try Catalog.fetchInlinedRows(database, tableID: tableID, snapshot: previous.id, columns: [inlinedColumn]).map { [$0] } ?? [], -1)
        }
        let candidates = Set(gone.compactMap { v, n in n > 0 && wanted(v) ? v : nil })
        guard !candidates.isEmpty else { return [] }
        for (id, new) in after where before[id] == nil {
            add(try DataFileReader(new, columns: [inlinedColumn], files: files).read(parallelism: 1), -1, only: candidates)
        }
        return candidates.filter { gone[$0, default: 0] > 0 }.sorted { $0.lexicographicallyPrecedes($1) }
    }

    func snapshotsChanging(tableID: Int64, after snapshot: Int64, kinds: Set<SnapshotChange.Kind>) throws -> Set<Int64> {
        var found = Set<Int64>()
        for row in try SQLRow.fetchAll(database, sql: "SELECT snapshot_id, changes_made FROM ducklake_snapshot_changes WHERE snapshot_id > ?",
                                       arguments: [snapshot]) {
            let id: Int64 = try row.value("snapshot_id")
            let text: String = try row.value("changes_made")
            if ChangeLog.split(text).map(SnapshotChange.init(parsing:)).contains(where: { c in c.tableID == tableID && c.kind.map(kinds.contains) == true }) {
                found.insert(id)
            }
        }
        return found
    }
}

extension Catalog {
    /// Whether the table's rows may differ from what a reader saw at `snapshot`: a data or delete
    /// file added or removed since, or rows DuckDB inlined or deleted inline. A follower asks after
    /// each commit, so a product catalog ingested while it runs is used from its next
    /// micro-batch, without reading the catalog's files every time.
    public func tableChanged(tableID: Int64, after snapshot: Int64) throws -> Bool {
        try read { db in
            let files = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM ducklake_data_file WHERE table_id = ? AND (begin_snapshot > ? OR end_snapshot > ?)
                """, arguments: [tableID, snapshot, snapshot]) ?? 0
            let deletes = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM ducklake_delete_file WHERE table_id = ? AND (begin_snapshot > ? OR end_snapshot > ?)
                """, arguments: [tableID, snapshot, snapshot]) ?? 0
            if files + deletes > 0 { return true }
            for row in try SQLRow.fetchAll(db, sql: "SELECT changes_made FROM ducklake_snapshot_changes WHERE snapshot_id > ?", arguments: [snapshot]) {
                let text: String = try row.value("changes_made")
                if ChangeLog.split(text).map(SnapshotChange.init(parsing:)).contains(where: { c in
                    c.tableID == tableID && (c.kind == .inlinedInsert || c.kind == .inlinedDelete)
                }) { return true }
            }
            return false
        }
    }

    /// Ingest runs committed at or before the snapshot, oldest first.
    public func ingestRuns(at asOf: AsOf? = nil) throws -> [IngestRun] {
        let snap = try resolve(asOf)
        return try read { db in
            guard try Bookkeeping.exists(db) else { return [] }
            return try SQLRow.fetchAll(db, sql: "SELECT * FROM lake_ingest_run WHERE snapshot_id <= ? ORDER BY snapshot_id",
                                    arguments: [snap.id]).map(Bookkeeping.run)
        }
    }

    /// The ingest run a batch committed, nil when none did (a commit whose answer was lost
    /// and that did not land, or a batch that never committed).
    public func ingestRun(batchID: String) throws -> IngestRun? {
        try read { db in
            guard try Bookkeeping.exists(db) else { return nil }
            return try SQLRow.fetchOne(db, sql: "SELECT * FROM lake_ingest_run WHERE batch_id = ?", arguments: [batchID]).map(Bookkeeping.run)
        }
    }

    /// The registry version a table's schema follows at the snapshot.
    public func tableSchemaVersion(tableID: Int64, at asOf: AsOf? = nil) throws -> (registryTable: String, version: Int)? {
        let snap = try resolve(asOf)
        return try read { db in
            guard try Bookkeeping.exists(db) else { return nil }
            return try SQLRow.fetchOne(db, sql: """
                SELECT registry_table, version FROM lake_table_schema_version
                WHERE table_id = ? AND begin_snapshot <= ? ORDER BY begin_snapshot DESC LIMIT 1
                """, arguments: [tableID, snap.id]).map { (try $0.value("registry_table"), try $0.value("version")) }
        }
    }

    /// The latest snapshot's table of that name with the registry version its schema follows
    /// (nil when none was recorded), in one read.
    public func tableWithSchemaVersion(schema: String, name: String) throws -> (table: TableInfo, recorded: (registryTable: String, version: Int)?)? {
        try tablesWithSchemaVersion([(schema, name)])[0]
    }

    /// `tableWithSchemaVersion` for several tables, all at the latest snapshot, in one read of
    /// two statements: a writer resolves each table it writes to before every batch (a
    /// follower before every micro-batch), and on PostgreSQL each read transaction is a few
    /// round trips more. Answers in the order of `names`; nil for a table the lake lacks.
    public func tablesWithSchemaVersion(_ names: [(schema: String, name: String)]) throws -> [(table: TableInfo, recorded: (registryTable: String, version: Int)?)?] {
        try read { db in
            let snap = try Self.latest(db)
            let tables = try schemaCache.tables(db, at: snap, dataPath: dataPath)
            let found = names.map { n in tables.first { $0.schemaName == n.schema && $0.name == n.name } }
            let ids = found.compactMap { $0?.tableID }
            guard !ids.isEmpty, try Bookkeeping.exists(db) else { return found.map { $0.map { ($0, nil) } } }
            // Oldest first: the last row seen for a table is the version in force at the snapshot.
            var recorded: [Int64: (registryTable: String, version: Int)] = [:]
            let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            for row in try SQLRow.fetchAll(db, sql: """
                SELECT table_id, registry_table, version FROM lake_table_schema_version
                WHERE table_id IN (\(placeholders)) AND begin_snapshot <= ? ORDER BY begin_snapshot
                """, arguments: SQLArguments(ids.map(SQLValue.int64) + [.int64(snap.id)])) {
                recorded[try row.value("table_id")] = (try row.value("registry_table"), try row.value("version"))
            }
            return found.map { $0.map { ($0, recorded[$0.tableID]) } }
        }
    }

    /// The registry versions this lake stored, as (table, version, canonical JSON). Lakes
    /// written before definitions were stored have none until their next commit stores them.
    public func storedSchemaDefinitions() throws -> [(table: String, version: Int, canonicalJSON: String)] {
        try read { db in
            guard try db.tableExists("lake_schema_definition") else { return [] }
            return try SQLRow.fetchAll(db, sql: "SELECT table_name, version, canonical_json FROM lake_schema_definition ORDER BY table_name, version")
                .map { row in
                    guard let table: String = row["table_name"], let version: Int = row["version"], let json: String = row["canonical_json"] else {
                        throw CatalogError.corrupt("lake_schema_definition has a row with a NULL field")
                    }
                    return (table, version, json)
                }
        }
    }

    /// Whether a source of `kind` with exactly `bytes` bytes was committed (a read-only look).
    /// The content hash covers the byte count, so a source of any other size cannot be in the
    /// ledger: an ingest hashes a regular file up front only when this says it might be.
    public func ledgerHasSource(kind: SourceKind, bytes: Int64) throws -> Bool {
        try read { db in
            guard try Bookkeeping.exists(db) else { return false }
            return try SQLRow.fetchOne(db, sql: "SELECT 1 AS hit FROM lake_source_ledger WHERE kind = ? AND bytes = ? LIMIT 1",
                                       arguments: [kind.rawValue, bytes]) != nil
        }
    }

    /// The source of `kind` committed last (a read-only look; writers check again under the lock).
    public func latestLedgerEntry(kind: SourceKind) throws -> LedgerEntry? {
        try read { db in
            guard try Bookkeeping.exists(db) else { return nil }
            return try Bookkeeping.latestLedgerEntry(db, kind: kind)
        }
    }

    /// The ledger entry of a source already committed (a read-only look; writers check again
    /// inside their commit, under the write lock).
    public func ledgerEntry(kind: SourceKind, identity: SourceIdentity) throws -> LedgerEntry? {
        try read { db in
            guard try Bookkeeping.exists(db) else { return nil }
            return try Bookkeeping.ledgerEntry(db, kind: kind, identity: identity)
        }
    }

    /// Whether the ledger holds a hash of `kind` sources starting with `prefix`: an ingest into
    /// a lake an older build wrote computes that build's hash too (`SourceIdentity.legacyHash`).
    public func ledgerHasHashes(kind: SourceKind, prefix: String) throws -> Bool {
        precondition(!prefix.contains("%") && !prefix.contains("_") && !prefix.contains("\\"), "a LIKE pattern's own characters")
        return try read { db in
            guard try Bookkeeping.exists(db) else { return false }
            return try SQLRow.fetchOne(db, sql: "SELECT 1 AS hit FROM lake_source_ledger WHERE kind = ? AND source_hash LIKE ? LIMIT 1",
                                       arguments: [kind.rawValue, prefix + "%"]) != nil
        }
    }

    public func streamCheckpoint(source: String) throws -> StreamCheckpoint? {
        try read { db in
            guard try Bookkeeping.exists(db) else { return nil }
            return try Bookkeeping.checkpoint(db, source: source)
        }
    }
}

/// A source's content as the ledger knows it: the hash an ingest records, and the hash an
/// older build recorded for the same bytes (looked up, never recorded), when the ledger may
/// hold such entries.
public struct SourceIdentity: Hashable, Sendable {
    public var hash: String
    public var legacyHash: String?

    public init(hash: String, legacyHash: String? = nil) {
        self.hash = hash
        self.legacyHash = legacyHash
    }
}
