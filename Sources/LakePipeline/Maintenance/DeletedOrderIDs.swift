import LakeCatalog
import LakeFormat

/// The order ids deleted from curated.orders whose rows no delete file masks any more, kept
/// beside the data as sorted id runs (`lake_key_run`, column "order_id:deleted", one run per
/// commit, in that commit's transaction): a `lake delete`'s ids, and the ids a compaction
/// drops when it rewrites files without their deleted rows (whoever deleted them: lake, or
/// DuckDB's DELETE or UPDATE). The quality check's completeness counts an accepted raw line
/// whose order was deleted on purpose as accounted for, not as a curated row that went
/// missing: the raw layer keeps the line (it is the archive), so without this record every
/// batch a delete touched failed the check from then on. Rows a delete file still masks are
/// read from the files themselves (`TableScan.runDeleted`), and so are the rows deleted in
/// files a snapshot retired while the catalog still lists them (`deleted(in:)`: DuckDB's
/// DELETE of every row of a file ends the file, and its ducklake_rewrite_data_files drops
/// deleted rows, both without a record); `lake vacuum` records those before it forgets the
/// files. An erasure records nothing: it deletes the raw lines too, and keeps no trace of the
/// customer's orders. Only DuckDB's own ducklake_expire_snapshots forgets such files without a
/// record; the check then reports their rows as missing.
///
/// Ids are sets of `ExactID` (bytes): as Strings, two ids that differ only in Unicode
/// normalization were one, so one of two such deleted orders went unrecorded and the check
/// reported it missing after a compaction and a vacuum.
public struct DeletedOrderIDs: Sendable {
    static let column = "order_id:deleted"
    private let runs: [SortedIDRun]

    public static let none = DeletedOrderIDs(runs: [])

    private init(runs: [SortedIDRun]) { self.runs = runs }

    /// Records `ids` as deleted from curated.orders (`tableID`) by the transaction's commit.
    public static func record(_ ids: some Collection<String>, tableID: Int64, in tx: inout CatalogTransaction) throws {
        guard let run = encode(ids) else { return }
        try tx.addKeyRun(tableID: tableID, column: column, keyCount: run.keyCount, payload: run.payload, baseline: false)
    }

    /// What `lake vacuum` hands the catalog: before it forgets retired files of curated.orders,
    /// the ids deleted in them (`deleted(in:)`) are recorded under the snapshot that retired
    /// them, so the check keeps counting them as deleted at every snapshot from then on.
    public static let keeper = DeletedKeyKeeper(table: .curatedOrders, column: column) { byEnd, catalog in
        var ids: [Int64: Set<ExactID>] = [:], unreadable: [Int64: [String]] = [:]
        for (end, retired) in byEnd {
            for file in retired {
                do {
                    ids[end, default: []].formUnion(try deleted(in: [file], files: catalog.files))
                } catch MaintenanceError.unreadableFile {
                    unreadable[end, default: []].append(file.file.path)
                }
            }
        }
        // raw.orders is read once for every snapshot's ids.
        let kept = try withRawLines(ids.values.reduce(into: Set<ExactID>()) { $0.formUnion($1) }, catalog: catalog)
        return Dictionary(uniqueKeysWithValues: byEnd.keys.map { end in
            (end, DeletedKeys(run: encode((ids[end] ?? []).intersection(kept).map(\.text)), unreadable: unreadable[end] ?? []))
        })
    }

    /// Of `ids`, those raw.orders still holds a line of at the latest snapshot. Only these are
    /// recorded: a deleted order keeps its raw line (the archive), an erased customer's order
    /// does not, and an erasure must leave no trace of the customer's orders behind, not even
    /// their ids in this record. The check counts an id only for a batch that has its line anyway.
    public static func withRawLines(_ ids: Set<ExactID>, catalog: Catalog) throws -> Set<ExactID> {
        guard !ids.isEmpty, let raw = try catalog.tableIfPresent(.rawOrders), let column = raw.column(named: "order_id") else { return [] }
        var kept = Set<ExactID>()
        for file in try catalog.dataFiles(tableID: raw.tableID, columnStats: false, inlined: .readSeparately) {
            do {
                for b in try DataFileReader(file, columns: [column], files: catalog.files).read(parallelism: 1) {
                    for r in 0 ..< b.count { if let text = b.columns[0].string(at: r), case let id = ExactID(text), ids.contains(id) { kept.insert(id) } }
                }
            } catch let e as DataFileError {
                throw MaintenanceError.unreadableFile(table: raw.qualifiedName, detail: e.description)
            } catch let e as ParquetError {
                throw MaintenanceError.unreadableFile(table: raw.qualifiedName, detail: e.description)
            }
        }
        return kept
    }

    /// An erasure's purge: drops from the record every id raw.orders holds no line of any more
    /// (the erased customer's orders, those a `lake delete` had removed before the erasure too),
    /// so nothing of them is left once the purge has expired the history that still read them.
    public static func pruneErased(_ catalog: Catalog) throws {
        guard let orders = try catalog.tableIfPresent(.curatedOrders) else { return }
        var all = Set<ExactID>()
        try load(catalog, tableID: orders.tableID, at: .max).forEach { all.insert(ExactID($0)) }
        let gone = all.subtracting(try withRawLines(all, catalog: catalog))
        guard !gone.isEmpty else { return }
        try catalog.rewriteKeyRunRecords(tableID: orders.tableID, column: column) { run in
            var ids = Set<ExactID>()
            try DeletedOrderIDs(runs: [try open(run)]).forEach { ids.insert(ExactID($0)) }
            let left = ids.subtracting(gone)
            if left.count == ids.count { return run }
            return encode(left.map(\.text)).map { KeyRun(snapshotID: run.snapshotID, keyCount: $0.keyCount, payload: $0.payload) }
        }
    }

    private static func open(_ record: KeyRun) throws -> SortedIDRun {
        do {
            return try SortedIDRun.open(record.payload, expected: record.keyCount, fingerprint: .standard)
        } catch let damaged as IDRunDamaged {
            throw CatalogError.corrupt("the record of order ids deleted from curated.orders: \(damaged)")
        }
    }

    private static func encode(_ ids: some Collection<String>) -> (keyCount: Int64, payload: [UInt8])? {
        guard !ids.isEmpty else { return nil }
        var run = OrderIDRun()
        for id in ids { Array(id.utf8).withUnsafeBytes { run.append($0) } }
        let encoded = SortedIDRun.encode(run, fingerprint: .standard)
        return (Int64(encoded.count), encoded.payload)
    }

    /// The order ids of the rows deletes mask in `inputs` (files of curated.orders): what a
    /// compaction that rewrites them drops, to record with it.
    public static func masked(in inputs: [DataFile], table: TableInfo, files: LakeFiles) throws -> Set<ExactID> {
        guard let column = table.column(named: "order_id") else { return [] }
        var ids = Set<ExactID>()
        for file in inputs where file.hasDeletes {
            do {
                for b in try DataFileReader(file, columns: [column], files: files).readDeleted() {
                    for r in 0 ..< b.count { if let id = b.columns[0].string(at: r) { ids.insert(ExactID(id)) } }
                }
            } catch let e as DataFileError {
                throw MaintenanceError.corruptInput(table: table.qualifiedName, detail: e.description)
            } catch let e as ParquetError {
                throw MaintenanceError.corruptInput(table: table.qualifiedName, detail: e.description)
            }
        }
        return ids
    }

    /// The order ids of the rows deleted on purpose in `retired` files of curated.orders
    /// (`Catalog.retiredFiles`): the rows their deletes masked, and every row of a file its
    /// retiring snapshot deleted. One rule for the quality check, which reads them while the
    /// catalog lists the files, and the vacuum, which records them before forgetting the files.
    public static func deleted(in retired: [RetiredFile], files: LakeFiles) throws -> Set<ExactID> {
        var ids = Set<ExactID>()
        for r in retired {
            guard let column = r.table.column(named: "order_id") else { continue }
            do {
                let reader = try DataFileReader(r.file, columns: [column], files: files)
                for b in try reader.readDeleted() + (r.rowsDeleted ? reader.read(parallelism: 1) : []) {
                    for i in 0 ..< b.count { if let id = b.columns[0].string(at: i) { ids.insert(ExactID(id)) } }
                }
            } catch let e as DataFileError {
                throw MaintenanceError.unreadableFile(table: r.table.qualifiedName, detail: e.description)
            } catch let e as ParquetError {
                throw MaintenanceError.unreadableFile(table: r.table.qualifiedName, detail: e.description)
            }
        }
        return ids
    }

    /// The ids recorded for curated.orders (`tableID`) up to `snapshot`.
    public static func load(_ catalog: Catalog, tableID: Int64, at snapshot: Int64) throws -> DeletedOrderIDs {
        DeletedOrderIDs(runs: try catalog.keyRunRecords(tableID: tableID, column: column, through: snapshot).map(open))
    }

    public var isEmpty: Bool { runs.isEmpty }

    /// Every recorded id (an id deleted twice, after a re-ingest, comes once per delete).
    public func forEach(_ body: (String) -> Void) throws {
        do {
            for run in runs { try run.forEach { body(String(decoding: $0, as: UTF8.self)) } }
        } catch let damaged as IDRunDamaged {
            throw CatalogError.corrupt("the record of order ids deleted from curated.orders: \(damaged)")
        }
    }
}
