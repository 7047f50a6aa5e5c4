import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

/// Checks every snapshot of a lake through DuckDB: each one must read (all its files exist and
/// parse), and at each one curated.orders has no repeated order_id. Prints, per snapshot and
/// table, the row count (null when the table does not exist yet at that snapshot).
let everySnapshotCheck = Python.duckdbPrelude + """
root = sys.argv[1]
con = duck()
con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
out = []
for (snap,) in con.execute("SELECT snapshot_id FROM ducklake_snapshots('l') ORDER BY 1").fetchall():
    row = {"snapshot": snap}
    for t in ("curated.orders", "curated.order_items", "raw.orders", "curated.products"):
        try:
            n, d = con.execute(f"SELECT count(*), count(DISTINCT {'order_id' if 'order' in t else 'product_id'}) FROM l.{t} AT (VERSION => {snap})").fetchone()
        except duckdb.Error as e:
            if "does not exist" in str(e) or "not exist" in str(e): n, d = None, None
            else: raise
        row[t] = n
        row[t + ":distinct"] = d
    out.append(row)
print(json.dumps(out))
"""

@Suite("Ingest: SIGKILL at random points, then rerun", .serialized)
struct IngestCrashTests {
    @Test("20+ kills of `lake ingest orders`: every snapshot complete, finally each order once, equal to a clean run")
    func killAndRerun() throws {
        #expect(FileManager.default.isExecutableFile(atPath: lakeBinary.path), "run `swift build` first: \(lakeBinary.path)")
        let dir = try TemporaryDirectory("ingest-kill")
        defer { dir.remove() }
        let data = dir.file("gen")
        let gen = try runLake(["generate", "--orders", "20000", "--out", data])
        try #require(gen.status == 0, "generate failed: \(gen.err)")
        let orders = data + "/orders_stream.jsonl", catalog = data + "/product_catalog.json"

        // The clean single run everything is compared with, and how long it takes.
        let clean = dir.file("clean")
        #expect(try runLake(["ingest", "catalog", "--lake", clean, catalog]).status == 0)
        let t0 = Date()
        let cleanRun = try runLake(["ingest", "orders", "--lake", clean, "--quiet", orders])
        let duration = Date().timeIntervalSince(t0)
        try #require(cleanRun.status == 0, "\(cleanRun.err)")
        let expected = try lakeView(URL(fileURLWithPath: clean))
        #expect(expected.orders.count > 15000)

        // Kill runs at random points of their life (start-up, validation, segment writing,
        // commit). A run that gets through its commit makes later ones no-ops, so when that
        // happens the lake is checked against the clean result and a fresh one is started,
        // until at least 20 runs have been killed. The duration estimate follows the fastest
        // run seen (the clean run may have been slowed by other work on the machine).
        var rng = SplitMix64(seed: 20_251_122)
        var estimate = duration
        var killed = 0, lakes = 0, iterations = 0
        var crash = ""
        func freshLake() throws {
            lakes += 1
            crash = dir.file("crash-\(lakes)")
            #expect(try runLake(["ingest", "catalog", "--lake", crash, catalog]).status == 0)
        }
        try freshLake()
        while killed < 20 && iterations < 60 {
            iterations += 1
            let delay = rng.unit() * estimate
            let p = Process()
            p.executableURL = lakeBinary
            p.currentDirectoryURL = packageRoot
            p.arguments = ["ingest", "orders", "--lake", crash, "--quiet", orders]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            let start = Date()
            try p.run()
            Thread.sleep(forTimeInterval: delay)
            let wasRunning = p.isRunning
            if wasRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            if wasRunning && p.terminationReason == .uncaughtSignal { killed += 1 }
            let label = "lake \(lakes), kill at \(String(format: "%.3f", delay)) s"
            if p.terminationReason == .exit {
                #expect(p.terminationStatus == 0, "\(label): exited \(p.terminationStatus)")
                estimate = min(estimate, Date().timeIntervalSince(start))
            }
            try checkInvariants(crash, expectedOrders: expected.orders.count, after: label)
            if try Catalog.open(root: URL(fileURLWithPath: crash), create: false).ingestRuns().contains(where: { $0.kind == .orders }) {
                expectSame(try lakeView(URL(fileURLWithPath: crash)), expected)  // the committed lake equals the clean run
                try freshLake()
            }
        }
        #expect(killed >= 20, "only \(killed) runs killed in \(iterations) (clean run took \(duration) s)")

        let final = try runLake(["ingest", "orders", "--lake", crash, "--quiet", orders])
        #expect(final.status == 0, "\(final.err)")
        try checkInvariants(crash, expectedOrders: expected.orders.count, after: "final run")
        let view = try lakeView(URL(fileURLWithPath: crash))
        #expect(Set(view.orders.map(\.order_id)).count == view.orders.count)
        expectSame(view, expected)
    }

    /// The catalog opens, every snapshot reads through DuckDB, and at every snapshot
    /// curated.orders is either absent or complete with each order once (never half a commit).
    func checkInvariants(_ root: String, expectedOrders: Int, after: String) throws {
        let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
        _ = try catalog.latestSnapshot()
        let snaps = try Python.json(everySnapshotCheck, [root]) as! [[String: Any]]
        for s in snaps {
            let n = s["curated.orders"] as? Int, d = s["curated.orders:distinct"] as? Int
            if let n {
                #expect(n == expectedOrders && d == n, "\(after): snapshot \(s["snapshot"]!) has \(n) orders (\(d ?? -1) distinct)")
            }
            if let p = s["curated.products"] as? Int { #expect(p > 0, "\(after): snapshot \(s["snapshot"]!) has an empty catalog") }
        }
        // At most one orders commit whatever the number of kills.
        #expect(try catalog.ingestRuns().filter { $0.kind == .orders }.count <= 1, "\(after)")
    }
}
