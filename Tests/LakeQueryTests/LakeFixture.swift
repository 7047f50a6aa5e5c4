import Foundation
import LakeCatalog
import LakePipeline
import LakeTestSupport

/// A lake built from Evaluation-Files in a temporary directory: catalog, inventory, orders.
struct EvaluationLake {
    let dir: TemporaryDirectory
    let store: LakeStore
    var catalog: Catalog { store.catalog }
    var root: String { dir.path }

    init() throws {
        dir = try TemporaryDirectory("lake-query")
        let input = packageRoot.appendingPathComponent("Evaluation-Files")
        store = try LakeStore.open(root: dir.url, schemas: packageRoot.appendingPathComponent("schemas"))
        _ = try CatalogIngest.run(store, path: input.appendingPathComponent("product_catalog.json").path)
        _ = try InventoryIngest.run(store, path: input.appendingPathComponent("inventory_updates.csv").path)
        _ = try OrderIngest.run(store, path: input.appendingPathComponent("orders_stream.jsonl").path)
    }

    /// Python that attaches this lake read-only as `l` in DuckDB (`con`).
    var attach: String {
        Python.duckdbPrelude + """
        con = duck()
        con.execute("ATTACH 'ducklake:sqlite:\(root)/manifest.sqlite' AS l (DATA_PATH '\(root)/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")

        """
    }
}
