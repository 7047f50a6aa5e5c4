import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline

/// `lake delete TABLE --where COND …`: the rows of the latest snapshot that satisfy every
/// condition (the grammar and typing of `lake query --where`), removed in one snapshot of
/// DuckLake delete files (`RowDelete`). Deleting orders from curated.orders deletes the same
/// orders' curated.order_items rows in the same snapshot, so the two tables stay consistent.
public enum Deletes {
    /// `progress`: the files read to find the rows (the table's files its statistics do not
    /// rule out, and with curated.orders every order_items file) against all of them; a re-plan
    /// after a conflict starts again at 0.
    public static func run(_ catalog: Catalog, table name: String, conditions: [String], dryRun: Bool = false,
                           progress: WorkProgress? = nil, beforeCommit: (() throws -> Void)? = nil) throws -> DeleteReport {
        guard !conditions.isEmpty else {
            throw QueryError.badOption("lake delete needs at least one --where condition (e.g. --where \"customer_id = CUST-00042\"); "
                + "to empty a table, name the rows explicitly")
        }
        // Parsed once up front so a bad table, column or value is refused before anything is read.
        _ = try predicates(catalog, name, conditions, at: nil)
        // The curated.orders ids the last plan deletes, recorded with the delete (`DeletedOrderIDs`).
        var deletedOrders: (tableID: Int64, ids: Set<ExactID>)?
        return try RowDelete.run(catalog, message: "delete from \(TableName(parsing: name))", dryRun: dryRun, plan: { base in
            let (scan, predicates) = try predicates(catalog, name, conditions, at: .snapshot(base.id))
            // Deletes are written as delete files, which reach rows in Parquet files only: rows
            // DuckDB inlined in the catalog that match would stay while the delete reported
            // success. Refused as `lake erase` refuses them (flushing them with DuckDB first).
            let inlined = try catalog.inlinedRowCount(tableID: scan.table.tableID, at: .snapshot(base.id))
            if inlined > 0 { throw CatalogError.inlinedData(table: scan.table.qualifiedName, rows: inlined, snapshot: base.id) }
            var d = TableDeletes(table: scan.table)
            let cascade = scan.table.tableName == .curatedOrders
            var orderIDs = Set<ExactID>()  // by bytes, as the items are matched (`Erasure.itemsOf`)
            var columns = try predicates.map { try scan.column($0.column) }
            if cascade, let oid = scan.table.column(named: "order_id"), !columns.contains(where: { $0.columnID == oid.columnID }) {
                columns.append(oid)
            }
            let orderIndex = columns.firstIndex { $0.name == "order_id" }
            let items = cascade ? try catalog.tables(at: .snapshot(base.id)).first(where: { $0.tableName == .curatedOrderItems }) : nil
            let candidates = try scan.candidateFiles(where: predicates)
            // The items' files are listed (with their stats) only once orders matched; the bar's
            // total grows by them then.
            var total = Int64(candidates.count)
            var done: Int64 = 0
            func read() {
                done += 1
                progress?(done, total)
            }
            progress?(0, total)
            for file in candidates {
                defer { read() }
                let positions = try RowDelete.positions(in: file, columns: columns, files: catalog.files) { batch in
                    let rows = try Filter.select(batch, predicates).map { $0.map(Int.init) } ?? Array(0 ..< batch.count)
                    if cascade, let orderIndex {
                        for r in rows { if let o = batch.columns[orderIndex].string(at: r) { orderIDs.insert(ExactID(o)) } }
                    }
                    return rows
                }
                d.files.append((file, positions))
            }
            var out = [d]
            deletedOrders = cascade ? (scan.table.tableID, orderIDs) : nil
            if !orderIDs.isEmpty, let items {
                let itemFiles = try catalog.dataFiles(tableID: items.tableID, at: .snapshot(base.id))
                total += Int64(itemFiles.count)
                progress?(done, total)
                out.append(try Erasure.itemsOf(orderIDs, items, catalog, base, files: itemFiles, read: read))
            }
            if done < total { progress?(total, total) }
            return out
        }, record: { tx, _ in
            if let deletedOrders { try DeletedOrderIDs.record(deletedOrders.ids.map(\.text), tableID: deletedOrders.tableID, in: &tx) }
        }, beforeCommit: beforeCommit)
    }

    private static func predicates(_ catalog: Catalog, _ name: String, _ conditions: [String], at: AsOf?) throws -> (TableScan, [ColumnPredicate]) {
        let scan = try TableScan(catalog: catalog, name: name, asOf: at)
        return (scan, try conditions.map { try Query.parseCondition($0, scan: scan) })
    }
}
