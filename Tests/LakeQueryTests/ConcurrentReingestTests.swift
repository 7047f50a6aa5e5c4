import Foundation
import LakeTestSupport
import Testing

/// Two `lake` processes ingesting the same catalog or inventory content at once: one commits,
/// the other finds the content in the ledger under the write lock and is a no-op (exit 0, no
/// second snapshot), where it used to fail on the ledger's primary key.
@Suite("Concurrent re-ingest")
struct ConcurrentReingestTests {
    @Test("the same catalog and inventory content from several processes at once commits once", arguments: ["catalog", "inventory"])
    func sameContentConcurrently(kind: String) throws {
        let dir = try TemporaryDirectory("reingest-\(kind)")
        defer { dir.remove() }
        let lake = dir.file("lake")
        let file = kind == "catalog" ? "product_catalog.json" : "inventory_updates.csv"
        let content = try Data(contentsOf: packageRoot.appendingPathComponent("Evaluation-Files").appendingPathComponent(file))
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        try #require(try runLake(["init", "--lake", lake]).status == 0)
        if kind == "inventory" {
            // Inventory rows reference the product catalog, which must be loaded first.
            let catalog = packageRoot.appendingPathComponent("Evaluation-Files/product_catalog.json").path
            try #require(try runLake(["ingest", "catalog", catalog, "--lake", lake]).status == 0)
        }

        // Every process reads stdin, so none can pass its ledger look before all inputs end:
        // the pipes are closed together, and the processes race from the ledger to the commit.
        var processes: [(Process, Pipe, Pipe)] = []
        for _ in 0 ..< 4 {
            let p = Process(), input = Pipe(), err = Pipe()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = ["ingest", kind, "-", "--lake", lake]
            p.standardInput = input
            p.standardOutput = FileHandle.nullDevice
            p.standardError = err
            try p.run()
            input.fileHandleForWriting.write(content)
            processes.append((p, input, err))
        }
        for (_, input, _) in processes { try input.fileHandleForWriting.close() }
        for (p, _, err) in processes {
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "\(message)")
        }
        let snapshots = try runLake(["snapshots", "--lake", lake, "--format", "json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(snapshots.out.utf8)) as? [[String: Any]])
        #expect(rows.filter { ($0["message"] as? String)?.hasPrefix("ingest \(kind)") == true }.count == 1)
    }
}
