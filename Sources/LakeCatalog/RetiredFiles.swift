import Foundation

/// A data file a snapshot retired (its end_snapshot) that the catalog still lists, as it was
/// just before: with the deletes then visible, under the table's columns then. A retired file
/// holds the only trace of rows deleted by a commit that left no delete file behind: DuckDB's
/// DELETE or UPDATE that removes every row of a file ends the file instead of writing one, and
/// a rewrite (DuckDB's ducklake_rewrite_data_files, a compaction) drops deleted rows for good.
/// The quality check reads these files to tell rows deleted on purpose from rows that went
/// missing; a vacuum that forgets them keeps their deleted ids first (`Catalog.vacuum`).
public struct RetiredFile: Sendable {
    /// The file with the deletes visible the snapshot before `retiredAt`.
    public var file: DataFile
    /// The table as of that snapshot (its columns, for the reader).
    public var table: TableInfo
    public var retiredAt: Int64
    /// The retiring snapshot deleted rows of the table (its changes_made has
    /// deleted_from_table for it): the rows the file's deletes did not mask were deleted with
    /// it, not carried into a replacement. Otherwise (a compaction, a rewrite, a migration)
    /// only the masked rows are gone on purpose; a row of it missing from the replacement is
    /// a lost row, and must read as one.
    public var rowsDeleted: Bool

    /// Whether any of its rows was deleted on purpose.
    public var holdsDeletedRows: Bool { rowsDeleted || file.hasDeletes }
}

extension Catalog {
    /// The files of `tableID` retired at or before `snapshot` that hold rows deleted on
    /// purpose (`RetiredFile.holdsDeletedRows`), oldest retirement first. Files a vacuum
    /// already forgot are not listed.
    public func retiredFiles(tableID: Int64, through snapshot: Int64) throws -> [RetiredFile] {
        try read { db in
            let ends = try Int64.fetchAll(db, sql: """
                SELECT DISTINCT end_snapshot FROM ducklake_data_file
                WHERE table_id = ? AND end_snapshot IS NOT NULL AND end_snapshot <= ? ORDER BY end_snapshot
                """, arguments: [tableID, snapshot])
            return try ends.flatMap { try Self.retiredFiles(db, tableID: tableID, retiredAt: $0, dataPath: dataPath, format: format) }
        }
    }

    static func retiredFiles(_ db: SQLDatabase, tableID: Int64, retiredAt end: Int64, dataPath: URL, format: CatalogFormat) throws -> [RetiredFile] {
        let changes = try String.fetchOne(db, sql: "SELECT changes_made FROM ducklake_snapshot_changes WHERE snapshot_id = ?", arguments: [end]) ?? ""
        let rowsDeleted = ChangeLog.split(changes).map(SnapshotChange.init(parsing:))
            .contains { $0.kind == .deletedFromTable && $0.tableID == tableID }
        let before = end - 1
        guard let table = try fetchTables(db, snapshot: before, dataPath: dataPath, tableID: tableID).first else { return [] }
        return try fetchDataFiles(db, table: table, snapshot: before, columnStats: false, format: format, inlined: .readSeparately)
            .filter { $0.endSnapshot == end }
            .map { RetiredFile(file: $0, table: table, retiredAt: end, rowsDeleted: rowsDeleted) }
            .filter(\.holdsDeletedRows)
    }
}

/// How a vacuum keeps the keys of rows deleted in the retired files it forgets: the pipeline
/// reads and encodes them (`DeletedOrderIDs.keeper`), this layer stores the run in the
/// vacuum's transaction, under the retiring snapshot, as that snapshot's own record.
public struct DeletedKeyKeeper: Sendable {
    public var table: TableName
    /// The `lake_key_run` column the runs are stored under.
    public var column: String
    /// The keys deleted in the files each retiring snapshot (the key) retired; one call a
    /// vacuum, so whatever the keeper reads besides the files is read once.
    public var encode: @Sendable (_ filesByRetiringSnapshot: [Int64: [RetiredFile]], _ catalog: Catalog) throws -> [Int64: DeletedKeys]

    public init(table: TableName, column: String,
                encode: @escaping @Sendable (_ filesByRetiringSnapshot: [Int64: [RetiredFile]], _ catalog: Catalog) throws -> [Int64: DeletedKeys]) {
        self.table = table
        self.column = column
        self.encode = encode
    }
}

/// The keys deleted in one snapshot's retired files, as a keeper read them.
public struct DeletedKeys: Sendable {
    /// The encoded run; nil when none.
    public var run: (keyCount: Int64, payload: [UInt8])?
    /// Files that failed verification and were not read: the vacuum still forgets them (they
    /// are history nothing current reads, and keeping them would stop every later vacuum), and
    /// reports them, since their deleted keys are then lost to the record.
    public var unreadable: [String]

    public init(run: (keyCount: Int64, payload: [UInt8])?, unreadable: [String]) {
        self.run = run
        self.unreadable = unreadable
    }
}

/// What a vacuum's look before its transaction found for its keeper's table: the retiring
/// snapshots it examined (every one whose files this vacuum may forget), and the encoded run
/// of each that holds deleted keys.
struct KeptDeletions {
    var tableID: Int64
    var column: String
    var examined: Set<Int64> = []
    var keys: [Int64: DeletedKeys] = [:]
}

extension Catalog {
    /// Read-only and outside the vacuum's write transaction (reading files does not hold the
    /// writer lock): the runs of keys deleted in the files of `keeper.table` that a vacuum with
    /// this cutoff forgets. A file a snapshot committed after this look retired is not covered,
    /// and the vacuum keeps it for the next one.
    func keptDeletions(_ keeper: DeletedKeyKeeper, cutoffMicros: Int64) throws -> KeptDeletions? {
        let found: (Int64, [Int64: [RetiredFile]])? = try read { db in
            let snaps = try Self.fetchSnapshots(db)
            guard let latest = snaps.last,
                  let table = try Self.fetchTables(db, snapshot: latest.id, dataPath: dataPath, schema: keeper.table.schema, name: keeper.table.name).first
            else { return nil }
            let retained = snaps.filter { !($0.timeMicros < cutoffMicros) || $0.id == latest.id }.map(\.id)
            var ends = Set<Int64>()
            for r in try SQLRow.fetchAll(db, sql: "SELECT DISTINCT begin_snapshot, end_snapshot FROM ducklake_data_file WHERE table_id = ? AND end_snapshot IS NOT NULL",
                                         arguments: [table.tableID]) {
                let begin: Int64 = try r.value("begin_snapshot"), end: Int64 = try r.value("end_snapshot")
                if !retained.contains(where: { $0 >= begin && $0 < end }) { ends.insert(end) }
            }
            var files: [Int64: [RetiredFile]] = [:]
            for end in ends {
                files[end] = try Self.retiredFiles(db, tableID: table.tableID, retiredAt: end, dataPath: dataPath, format: format)
            }
            return (table.tableID, files)
        }
        guard let (tableID, byEnd) = found else { return nil }
        var kept = KeptDeletions(tableID: tableID, column: keeper.column, examined: Set(byEnd.keys))
        kept.keys = try keeper.encode(byEnd.filter { !$0.value.isEmpty }, self)
        return kept
    }
}
