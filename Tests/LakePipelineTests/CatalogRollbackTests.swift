import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

/// Each catalog ingest replaces curated.products. Before session 21 the ledger made any content
/// ingested before a no-op, so rolling a catalog back (v1, v2, then v1's file again) answered
/// "already ingested at snapshot 1; nothing added", exit 0, and v2 stayed in force: the next
/// orders were enriched with v2's prices and a product only v1 has was `unknown_product`.
@Suite("Catalog: an earlier version ingested again is the catalog in force again")
struct CatalogRollbackTests {
    static func products(_ store: LakeStore) throws -> [String: Int64] {
        let catalog = try ProductSource.current(store, at: .snapshot(try store.catalog.latestSnapshot().id))
        var out: [String: Int64] = [:]
        for i in 0 ..< catalog.ids.count {
            let id = String(decoding: catalog.ids.bytes[Int(catalog.ids.offsets[i]) ..< Int(catalog.ids.offsets[i + 1])], as: UTF8.self)
            out[id] = catalog.prices[i]
        }
        return out
    }

    @Test func rollbackReplacesTheCatalogInForce() throws {
        let dir = try TemporaryDirectory("catalog-rollback")
        defer { dir.remove() }
        let store = try LakeStore.open(root: dir.url.appendingPathComponent("lake", isDirectory: true), schemas: schemasDirectory)
        // v2: PROD-003 removed, PROD-001's price changed.
        var entries = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: evaluationCatalog))) as! [[String: Any]]
        entries.removeAll { $0["product_id"] as? String == "PROD-003" }
        for i in entries.indices where entries[i]["product_id"] as? String == "PROD-001" { entries[i]["price"] = 12345.5 }
        let v2 = dir.file("catalog-v2.json")
        try JSONSerialization.data(withJSONObject: entries).write(to: URL(fileURLWithPath: v2))

        let first = try CatalogIngest.run(store, path: evaluationCatalog)
        let v1 = try Self.products(store)
        #expect(first.snapshotID != nil && v1["PROD-003"] != nil)
        #expect(try CatalogIngest.run(store, path: v2).snapshotID != nil)
        #expect(try Self.products(store)["PROD-003"] == nil && Self.products(store)["PROD-001"] == 1_234_550)

        // v1's file again: committed, v1 in force.
        let rollback = try CatalogIngest.run(store, path: evaluationCatalog)
        #expect(rollback.snapshotID != nil && rollback.alreadyIngestedAt == nil, "\(rollback)")
        #expect(try Self.products(store) == v1)
        // Again: now a no-op, the catalog in force being that content.
        let again = try CatalogIngest.run(store, path: evaluationCatalog)
        #expect(again.snapshotID == nil && again.alreadyIngestedAt == rollback.snapshotID)
        // v2 again after the rollback: in force again too.
        #expect(try CatalogIngest.run(store, path: v2).snapshotID != nil)
        #expect(try Self.products(store)["PROD-003"] == nil)

        // Inventory keeps "the same file again adds nothing": its rows are appended, not replaced.
        #expect(try InventoryIngest.run(store, path: evaluationInventory).snapshotID != nil)
        #expect(try InventoryIngest.run(store, path: evaluationInventory).alreadyIngestedAt != nil)
    }
}
