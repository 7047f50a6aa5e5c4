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

    /// `orderChunks` > 1 ingests the order stream in that many interleaved slices, one snapshot
    /// each, so a partition holds several small files (what compaction merges). `v1Only` builds
    /// the lake with the registry as it was before v2 shipped (every table at v1), so a test can
    /// migrate it. `orderLines` ingests only the stream's first lines (its first days: fewer
    /// partitions, so fewer files for a test that reads every file).
    init(orderChunks: Int = 1, orderLines: Int? = nil, v1Only: Bool = false, onDisk: Bool = false) throws {
        dir = try TemporaryDirectory("lake-query", onDisk: onDisk)
        let input = packageRoot.appendingPathComponent("Evaluation-Files")
        if v1Only {
            // Outside the lake root; the registry is read once, when the lake opens.
            let registry = try TemporaryDirectory("registry-v1")
            defer { registry.remove() }
            store = try LakeStore.open(root: dir.url, schemas: try registryV1Copy(registry))
        } else {
            store = try LakeStore.open(root: dir.url, schemas: packageRoot.appendingPathComponent("schemas"))
        }
        _ = try CatalogIngest.run(store, path: input.appendingPathComponent("product_catalog.json").path)
        _ = try InventoryIngest.run(store, path: input.appendingPathComponent("inventory_updates.csv").path)
        let orders = input.appendingPathComponent("orders_stream.jsonl")
        guard orderChunks > 1 || orderLines != nil else {
            _ = try OrderIngest.run(store, path: orders.path)
            return
        }
        let lines = try String(contentsOf: orders, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: true)
            .prefix(orderLines ?? .max)
        // Outside the lake root, which holds nothing but the lake.
        let slices = try TemporaryDirectory("order-slices")
        defer { slices.remove() }
        // Line i goes to slice i mod n: the stream is in time order, so every slice spans every day.
        for k in 0 ..< orderChunks {
            let chunk = slices.file("orders-\(k).jsonl")
            let mine = stride(from: k, to: lines.count, by: orderChunks).map { lines[$0] }
            try (mine.joined(separator: "\n") + "\n").write(toFile: chunk, atomically: true, encoding: .utf8)
            _ = try OrderIngest.run(store, path: chunk)
        }
    }

    /// Python that attaches this lake read-only as `l` in DuckDB (`con`).
    var attach: String {
        Python.duckdbPrelude + """
        con = duck()
        con.execute("ATTACH 'ducklake:sqlite:\(root)/manifest.sqlite' AS l (DATA_PATH '\(root)/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")

        """
    }
}
