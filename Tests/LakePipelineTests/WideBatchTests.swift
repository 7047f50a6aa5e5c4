import Foundation
import LakeTestSupport
import Testing

/// One batch of orders spanning four years: thousands of date x channel partitions, each a
/// file per table, all written before the one commit. Session 15 probe: the writer held a
/// descriptor per file until the commit, so such a batch failed with EMFILE ("Too many open
/// files") under an ordinary `ulimit -n` (1024 failed at 4,735 partitions); clean (nothing
/// committed, no file left) but not ingestible without raising the limit. Files being written
/// now hold a descriptor only within a budget drawn from the limit.
@Suite("A batch of thousands of partitions under a low open-file limit", .serialized)
struct WideBatchTests {
    /// Runs the binary under `ulimit -n limit`.
    static func runLimited(_ limit: Int, _ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        try runProcess("/bin/bash", ["-c", "ulimit -n \(limit) && exec \"$@\"", "bash", lakeBinary.path] + arguments)
    }

    @Test("5,000 orders over 1,500 days (2,800+ partitions x 3 tables) ingest under ulimit -n 128; under 24 a clear error, nothing committed or left")
    func wideBatchUnderLowLimit() throws {
        let dir = try TemporaryDirectory("wide-batch", onDisk: true)
        defer { dir.remove() }
        let source = dir.file("src")
        let generated = try runLake(["generate", "--out", source, "--orders", "5000", "--days", "1500", "--seed", "9"])
        try #require(generated.status == 0, "\(generated.err)")
        let root = dir.file("lake")
        let made = try runLake(["ingest", "catalog", "--lake", root, source + "/product_catalog.json"])
        try #require(made.status == 0, "\(made.err)")
        let files = { (FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []).filter { $0.hasSuffix(".parquet") || $0.hasSuffix(".pending") } }
        let before = Set(files())

        // Too low for anything: a clear error naming the limit and the fix; nothing committed, no file left.
        let refused = try Self.runLimited(24, ["ingest", "orders", "--lake", root, source + "/orders_stream.jsonl"])
        #expect(refused.status == 1, "\(refused.out)\(refused.err)")
        #expect(refused.err.contains("Too many open files: this process reached its open-file limit (24); raise it (e.g. `ulimit -n 4096`)"), "\(refused.err)")
        #expect(Set(files()) == before, "the failed ingest left files: \(Set(files()).subtracting(before).sorted().prefix(3))")
        let snapshots = try runLake(["snapshots", "--lake", root, "--format", "csv"])
        #expect(snapshots.out.split(separator: "\n").count == 3, "a snapshot was committed: \(snapshots.out)")

        let run = try Self.runLimited(128, ["ingest", "orders", "--lake", root, "--format", "json", source + "/orders_stream.jsonl"])
        #expect(run.status == 0, "\(run.err)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.out.utf8)) as? [String: Any], "\(run.out)")
        let accepted = try #require(summary["accepted"] as? Int), records = try #require(summary["records"] as? Int)
        #expect((summary["partitions"] as? Int ?? 0) > 2500, "\(summary)")
        let verify = try Self.runLimited(128, ["verify", "--lake", root])
        #expect(verify.status == 0, "lake verify: \(verify.out.suffix(600))\(verify.err)")
        let counts = try OrphanSweepRaceTests.duckCounts(root)
        #expect(counts.count == 3 && counts[0] == records && counts[1] == accepted, "DuckDB reads \(counts); accepted \(accepted) of \(records)")
    }
}
