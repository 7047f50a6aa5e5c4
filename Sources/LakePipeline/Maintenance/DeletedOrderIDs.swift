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
/// read from the files themselves (`TableScan.runDeleted`). An erasure records nothing: it
/// deletes the raw lines too, and keeps no trace of the customer's orders. A rewrite by
/// another engine (DuckDB's ducklake_rewrite_data_files) that drops deleted rows records
/// nothing either; the check then reports them as missing rows.
public struct DeletedOrderIDs: Sendable {
    static let column = "order_id:deleted"
    private let runs: [SortedIDRun]

    public static let none = DeletedOrderIDs(runs: [])

    private init(runs: [SortedIDRun]) { self.runs = runs }

    /// Records `ids` as deleted from curated.orders (`tableID`) by the transaction's commit.
    public static func record(_ ids: Set<String>, tableID: Int64, in tx: inout CatalogTransaction) throws {
        guard !ids.isEmpty else { return }
        var run = OrderIDRun()
        for id in ids { Array(id.utf8).withUnsafeBytes { run.append($0) } }
        let encoded = SortedIDRun.encode(run, fingerprint: .standard)
        try tx.addKeyRun(tableID: tableID, column: column, keyCount: Int64(encoded.count), payload: encoded.payload, baseline: false)
    }

    /// The order ids of the rows deletes mask in `inputs` (files of curated.orders): what a
    /// compaction that rewrites them drops, to record with it.
    public static func masked(in inputs: [DataFile], table: TableInfo, files: LakeFiles) throws -> Set<String> {
        guard let column = table.column(named: "order_id") else { return [] }
        var ids = Set<String>()
        for file in inputs where file.hasDeletes {
            do {
                for b in try DataFileReader(file, columns: [column], files: files).readDeleted() {
                    for r in 0 ..< b.count { if let id = b.columns[0].string(at: r) { ids.insert(id) } }
                }
            } catch let e as DataFileError {
                throw MaintenanceError.corruptInput(table: table.qualifiedName, detail: e.description)
            } catch let e as ParquetError {
                throw MaintenanceError.corruptInput(table: table.qualifiedName, detail: e.description)
            }
        }
        return ids
    }

    /// The ids recorded for curated.orders (`tableID`) up to `snapshot`.
    public static func load(_ catalog: Catalog, tableID: Int64, at snapshot: Int64) throws -> DeletedOrderIDs {
        let records = try catalog.keyRunRecords(tableID: tableID, column: column, through: snapshot)
        do {
            return DeletedOrderIDs(runs: try records.map { try SortedIDRun.open($0.payload, expected: $0.keyCount, fingerprint: .standard) })
        } catch let damaged as IDRunDamaged {
            throw CatalogError.corrupt("the record of order ids deleted from curated.orders: \(damaged)")
        }
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
