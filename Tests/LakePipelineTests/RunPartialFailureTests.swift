import Foundation
import LakeCatalog
import LakeTestSupport
import Testing

/// `lake run` ingests three sources, each its own commit. Before session 21 an orders file it
/// could not ingest (unreadable, a directory, not JSON Lines) failed the run after the catalog
/// and inventory had been committed, with one line on stderr ending "nothing was committed",
/// exit 1: read as "the run changed nothing", while the lake already had the new catalog.
@Suite("lake run: a source that fails after others landed", .serialized)
struct RunPartialFailureTests {
    func folder(_ dir: TemporaryDirectory, _ name: String, orders: (String) throws -> Void) throws -> String {
        let input = dir.file(name)
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: evaluationCatalog, toPath: input + "/product_catalog.json")
        try FileManager.default.copyItem(atPath: evaluationInventory, toPath: input + "/inventory_updates.csv")
        try orders(input + "/orders_stream.jsonl")
        return input
    }

    @Test("orders that fail their ingest: the landed catalog and inventory are named, a rerun completes once")
    func ordersFailAfterCatalogAndInventory() throws {
        let dir = try TemporaryDirectory("run-partial")
        defer { dir.remove() }
        let root = dir.file("lake")
        // A CSV under the orders name: refused by the orders ingest, after the two commits.
        let input = try folder(dir, "in") { try FileManager.default.copyItem(atPath: evaluationInventory, toPath: $0) }
        let failed = try runLake(["run", "--input", input, "--lake", root, "--quiet"])
        #expect(failed.status == 1)
        #expect(failed.err.contains("lake run: catalog committed at snapshot 1, inventory committed at snapshot 2; the next source failed"), "\(failed.err)")
        #expect(failed.err.contains("not JSON Lines"), "\(failed.err)")
        #expect(failed.out.contains("catalog product_catalog.json -> snapshot 1") && failed.out.contains("inventory inventory_updates.csv -> snapshot 2"), "\(failed.out)")
        #expect(!failed.out.contains("Top products"), "no reports after a failed ingest")

        // Fixed, run again: the landed sources are not added twice, the orders land once.
        try FileManager.default.removeItem(atPath: input + "/orders_stream.jsonl")
        try FileManager.default.copyItem(atPath: evaluationOrders, toPath: input + "/orders_stream.jsonl")
        let rerun = try runLake(["run", "--input", input, "--lake", root, "--quiet"])
        #expect(rerun.status == 0, "\(rerun.err)")
        #expect(rerun.out.contains("catalog product_catalog.json: already ingested at snapshot 1")
                && rerun.out.contains("inventory inventory_updates.csv: already ingested at snapshot 2"), "\(rerun.out)")
        expectSame(try lakeView(URL(fileURLWithPath: root)),
                   try referenceView(orders: [evaluationOrders]), exactRejects: false)
    }

    @Test("an orders source that is a directory: refused before anything is ingested, no lake made")
    func directoryRefusedFirst() throws {
        let dir = try TemporaryDirectory("run-directory")
        defer { dir.remove() }
        let root = dir.file("lake")
        let input = try folder(dir, "in") { try FileManager.default.createDirectory(atPath: $0, withIntermediateDirectories: false) }
        let r = try runLake(["run", "--input", input, "--lake", root, "--quiet"])
        #expect(r.status == 64)
        #expect(r.err.contains("orders_stream.jsonl is a directory, not a file; nothing was ingested"), "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: root), "a refused run made a lake")
    }
}
