import LakeCatalog
import LakeFormat

/// The order ids `lake delete` removed from curated.orders, kept beside the data as sorted id
/// runs (`lake_key_run`, column "order_id:deleted", one run per delete, in the delete's own
/// transaction). The quality check's completeness counts an accepted raw line whose order was
/// deleted on purpose as accounted for, not as a curated row that went missing: the raw line
/// stays (the raw layer is the archive), so without this record every batch a delete touched
/// failed the check from then on. A compaction that drops the deleted rows changes nothing
/// here. An erasure records nothing: it deletes the raw lines too, and keeps no trace of the
/// customer's orders. Deletes made by another engine (DuckDB) are not recorded; the check
/// still reports them as missing rows.
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

    /// The ids lake's deletes removed from curated.orders (`tableID`) up to `snapshot`.
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
