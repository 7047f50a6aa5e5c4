import Foundation
@testable import LakeCatalog
import LakePipeline
import LakeQuery
import LakeTestSupport
import Testing

/// SIGINT and SIGTERM inside `lake compact`, `lake delete`, `lake schema migrate --rewrite` and
/// the purge of `lake erase customer … --purge`, sent once the work has a file in flight (a
/// `.pending` name under the lake root): the command exits 128 + the signal saying so, commits
/// nothing, leaves no file it wrote (the Parquet files on disk are the ones before, and exactly
/// the catalog's), `lake verify` passes, and the same command run again completes with exact
/// figures (DuckDB 1.5.5's). Session 16 probed compaction and delete by script only; the
/// migration's rewrite and the purge's had no safe point (a signal waited for them to end).
@Suite(.serialized) struct InterruptedMaintenanceTests {
    static let lake = packageRoot.appendingPathComponent(".build/debug/lake").path

    /// Makes the signals' default action the child's: a test runner may start us ignoring SIGINT,
    /// which a child inherits and `Interruption` keeps (as it must for a shell's background job).
    static let withDefaultSignals = """
        import os, signal, sys
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.execv(sys.argv[1], sys.argv[1:])
        """

    static func names(under root: String) -> [String] {
        FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
    }

    /// Files of a write in flight or left over: temp and hold names end in `.pending`.
    static func inFlight(_ root: String) -> [String] {
        names(under: root).filter { $0.hasSuffix(".pending") || ($0 as NSString).lastPathComponent.hasPrefix(".tmp-") }
    }

    static func parquet(_ root: String) -> Set<String> { Set(names(under: root).filter { $0.hasSuffix(".parquet") }) }

    /// Data and delete files the catalog lists, live, kept for time travel or scheduled for
    /// deletion (a delete file a later delete of its data file replaced, until a vacuum).
    static func catalogFiles(_ root: String) throws -> Int {
        let script = """
            import sqlite3, sys
            c = sqlite3.connect("file:" + sys.argv[1] + "/manifest.sqlite?mode=ro", uri=True)
            print(c.execute("SELECT (SELECT count(*) FROM ducklake_data_file) + (SELECT count(*) FROM ducklake_delete_file) + (SELECT count(*) FROM ducklake_files_scheduled_for_deletion)").fetchone()[0])
            """
        return try Python.json(script, [root]) as? Int ?? -1
    }

    /// DuckDB 1.5.5's row counts and money figures of the lake.
    static func figures(_ root: String) throws -> [String: String] {
        let script = Python.duckdbPrelude + """
            root = sys.argv[1]
            con = duck()
            con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
            out = {}
            for t in ["curated.orders", "curated.order_items", "raw.orders"]:
                out["rows:" + t] = str(con.execute(f"SELECT count(*) FROM l.{t}").fetchone()[0])
            print(json.dumps(out))
            """
        var out = try Python.json(script, [root]) as? [String: String] ?? [:]
        out.merge(try duckDBMoneyFigures(root: root)) { a, _ in a }
        return out
    }

    struct Stopped {
        var status: Int32
        var reason: Process.TerminationReason
        var err: String
        /// Files in flight when the signal was sent.
        var inFlight: Int
    }

    /// Runs `lake arguments`; sends `signal` once the work has a file in flight.
    static func interrupt(_ arguments: [String], root: String, signal: Int32, dir: TemporaryDirectory, environment: [String: String] = [:]) throws -> Stopped {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Python.executable)
        p.arguments = ["-c", withDefaultSignals, lake] + arguments
        p.currentDirectoryURL = packageRoot
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        let errFile = dir.file("err-\(UUID().uuidString)")
        #expect(FileManager.default.createFile(atPath: errFile, contents: nil))
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle(forWritingAtPath: errFile)
        try p.run()
        var writing = 0
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline {
            writing = inFlight(root).count
            if writing > 0 { break }
            usleep(2_000)
        }
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        let err = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
        return Stopped(status: p.terminationStatus, reason: p.terminationReason, err: err, inFlight: writing)
    }

    /// What a stopped command must leave: its exit and message, no snapshot, the files of
    /// before (no more, no fewer), the catalog's files exactly, a lake that verifies, and the
    /// same figures.
    static func expectStoppedCleanly(_ s: Stopped, signal: Int32, root: String, catalog: Catalog, snapshot: Int64,
                                     files: Set<String>, figures: [String: String], _ what: String) throws {
        let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
        #expect(s.inFlight > 0, "\(what): no file in flight before the command ended: \(s.err)")
        #expect(s.reason == .exit && s.status == 128 + signal, "\(what): reason \(s.reason.rawValue), status \(s.status): \(s.err)")
        #expect(s.err.contains("stopped by \(name)") && s.err.contains("nothing of it was committed"), "\(what): \(s.err)")
        #expect(try catalog.latestSnapshot().id == snapshot, "\(what): a snapshot was committed")
        #expect(inFlight(root).isEmpty, "\(what): files in flight left: \(inFlight(root).prefix(3))")
        let now = parquet(root)
        #expect(now == files, "\(what): \(now.subtracting(files).count) files left, \(files.subtracting(now).count) missing, e.g. \(now.symmetricDifference(files).prefix(3))")
        #expect(try catalogFiles(root) == now.count, "\(what): the catalog's files are not the files on disk")
        let v = try runLake(["verify", "--lake", root])
        #expect(v.status == 0, "\(what): verify: \(v.out)\(v.err)")
        #expect(try Self.figures(root) == figures, "\(what): the figures changed")
    }

    /// The state a command starts from, checked sane (no file in flight, the catalog's files on disk).
    static func before(_ root: String, _ catalog: Catalog) throws -> (snapshot: Int64, files: Set<String>, figures: [String: String]) {
        let files = parquet(root)
        #expect(inFlight(root).isEmpty)
        #expect(try catalogFiles(root) == files.count)
        return (try catalog.latestSnapshot().id, files, try figures(root))
    }

    @Test("`lake compact` stopped by SIGINT, then SIGTERM, while it writes: nothing committed or left; the rerun compacts with the same figures")
    func interruptedCompaction() throws {
        let lake = try EvaluationLake(orderChunks: 8, onDisk: true)
        defer { lake.dir.remove() }
        let start = try Self.before(lake.root, lake.catalog)
        for signal in [SIGINT, SIGTERM] {
            let s = try Self.interrupt(["compact", "--lake", lake.root], root: lake.root, signal: signal, dir: lake.dir)
            try Self.expectStoppedCleanly(s, signal: signal, root: lake.root, catalog: lake.catalog, snapshot: start.snapshot,
                                          files: start.files, figures: start.figures, "compact, \(signal)")
        }
        let r = try runLake(["compact", "--lake", lake.root])
        #expect(r.status == 0, "\(r.err)")
        #expect(try lake.catalog.latestSnapshot().id > start.snapshot)
        #expect(try Self.figures(lake.root) == start.figures)
        #expect(try Self.catalogFiles(lake.root) == Self.parquet(lake.root).count)
        #expect(try lake.catalog.dataFiles(tableID: try #require(try lake.catalog.tableIfPresent(schema: "curated", name: "orders")).tableID).count
                < start.files.filter { $0.hasPrefix("curated/orders/") }.count, "the rerun compacted")
        #expect(try runLake(["verify", "--lake", lake.root]).status == 0)
    }

    @Test("`lake delete` stopped by SIGTERM, then SIGINT, while it writes delete files: nothing committed or left; the rerun deletes exactly the rows")
    func interruptedDelete() throws {
        let lake = try EvaluationLake(orderChunks: 8, onDisk: true)
        defer { lake.dir.remove() }
        let start = try Self.before(lake.root, lake.catalog)
        let web = try RowDeleteTests.count(lake.catalog, "orders", ["channel = web"])
        let all = try RowDeleteTests.count(lake.catalog, "orders")
        #expect(web > 0)
        let args = ["delete", "orders", "--where", "channel = web", "--lake", lake.root]
        for signal in [SIGTERM, SIGINT] {
            let s = try Self.interrupt(args, root: lake.root, signal: signal, dir: lake.dir)
            try Self.expectStoppedCleanly(s, signal: signal, root: lake.root, catalog: lake.catalog, snapshot: start.snapshot,
                                          files: start.files, figures: start.figures, "delete, \(signal)")
        }
        let r = try runLake(args)
        #expect(r.status == 0, "\(r.err)")
        #expect(try RowDeleteTests.count(lake.catalog, "orders", ["channel = web"]) == 0)
        #expect(try RowDeleteTests.count(lake.catalog, "orders") == all - web)
        let after = try Self.figures(lake.root)
        #expect(after["rows:curated.orders"] == String(all - web), "DuckDB reads \(after["rows:curated.orders"] ?? "?") rows")
        #expect(after["channel:web"] == nil && after["channel:mobile"] == start.figures["channel:mobile"])
        #expect(try Self.catalogFiles(lake.root) == Self.parquet(lake.root).count)
        #expect(try runLake(["verify", "--lake", lake.root]).status == 0)
    }

    @Test("`lake schema migrate orders --to 2 --rewrite` stopped by SIGINT, then SIGTERM, while it rewrites: still v1, nothing left; the rerun migrates")
    func interruptedMigrationRewrite() throws {
        let lake = try EvaluationLake(orderChunks: 8, v1Only: true, onDisk: true)
        defer { lake.dir.remove() }
        let start = try Self.before(lake.root, lake.catalog)
        let env = ["LAKE_SCHEMAS": packageRoot.appendingPathComponent("schemas").path]
        let args = ["schema", "migrate", "orders", "--to", "2", "--rewrite", "--lake", lake.root]
        for signal in [SIGINT, SIGTERM] {
            let s = try Self.interrupt(args, root: lake.root, signal: signal, dir: lake.dir, environment: env)
            try Self.expectStoppedCleanly(s, signal: signal, root: lake.root, catalog: lake.catalog, snapshot: start.snapshot,
                                          files: start.files, figures: start.figures, "migrate, \(signal)")
            let orders = try #require(try lake.catalog.tableIfPresent(schema: "curated", name: "orders"))
            #expect(try lake.catalog.tableSchemaVersion(tableID: orders.tableID)?.version == 1)
        }
        let r = try runProcess(Self.lake, args, environment: env)
        #expect(r.status == 0, "\(r.err)")
        let orders = try #require(try lake.catalog.tableIfPresent(schema: "curated", name: "orders"))
        #expect(try lake.catalog.tableSchemaVersion(tableID: orders.tableID)?.version == 2)
        #expect(try Self.figures(lake.root) == start.figures)
        #expect(try Self.catalogFiles(lake.root) == Self.parquet(lake.root).count)
        #expect(try runLake(["verify", "--lake", lake.root]).status == 0)
    }

    /// The purge rewrites every live file with deletes; a delete of one channel gives it many.
    /// The purge is reached through an erasure that matches nobody (it commits nothing itself).
    @Test("the purge of `lake erase customer … --purge` stopped by SIGTERM, then SIGINT, while it rewrites: nothing committed or left; the rerun purges every byte")
    func interruptedPurge() throws {
        let lake = try EvaluationLake(orderChunks: 8, onDisk: true)
        defer { lake.dir.remove() }
        let x = "CUST-00004"
        #expect(try RowDeleteTests.count(lake.catalog, "orders", ["customer_id = \(x)"]) > 0)
        var r = try runLake(["erase", "customer", x, "--lake", lake.root])
        #expect(r.status == 0, "\(r.err)")
        r = try runLake(["delete", "orders", "--where", "channel = web", "--lake", lake.root])
        #expect(r.status == 0, "\(r.err)")
        let start = try Self.before(lake.root, lake.catalog)
        #expect(!(try Python.json(RowDeleteTests.byteSearch, [lake.root, x]) as? [String] ?? []).isEmpty, "the erased customer's bytes wait for the purge")
        let args = ["erase", "customer", "CUST-NOBODY", "--purge", "--lake", lake.root]
        for signal in [SIGTERM, SIGINT] {
            let s = try Self.interrupt(args, root: lake.root, signal: signal, dir: lake.dir)
            try Self.expectStoppedCleanly(s, signal: signal, root: lake.root, catalog: lake.catalog, snapshot: start.snapshot,
                                          files: start.files, figures: start.figures, "purge, \(signal)")
            #expect(try ErasureLog.entries(lake.catalog).contains { $0.purgeSnapshotID == nil }, "the erasure stays pending")
        }
        r = try runLake(args)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("Purged at snapshot"), "\(r.out)")
        #expect(try ErasureLog.entries(lake.catalog).allSatisfy { $0.purgeSnapshotID != nil })
        #expect(try Python.json(RowDeleteTests.byteSearch, [lake.root, x]) as? [String] == [])
        #expect(try Self.figures(lake.root) == start.figures)
        #expect(try Self.catalogFiles(lake.root) == Self.parquet(lake.root).count)
        #expect(try runLake(["verify", "--lake", lake.root]).status == 0)
    }

    /// SIGKILL (no handler runs) of `lake erase customer X --purge` at fractions of its own
    /// duration: start-up, the erasure's delete, the purge's rewrite, its commit, its expiry and
    /// scrub. Whatever the kill left, the lake reads either as before the erasure or without X,
    /// `lake verify` passes, and the same command run again ends with no byte of X under the
    /// lake root and DuckDB 1.5.5's figures of an erasure never killed. Until session 20 a
    /// purge that died was simulated in-process only (the tests above and below).
    @Test("SIGKILL anywhere in `lake erase customer … --purge`: before or after the erasure, never between; the rerun leaves no byte of the customer")
    func killedErasureWithPurge() throws {
        let lake = try EvaluationLake(orderChunks: 8, onDisk: true)
        defer { lake.dir.remove() }
        let x = "CUST-00004"
        // Delete files in many partitions: the purge has files to rewrite.
        var r = try runLake(["delete", "orders", "--where", "channel = web", "--lake", lake.root])
        #expect(r.status == 0, "\(r.err)")
        let s0 = try lake.catalog.latestSnapshot().id
        let orders = try RowDeleteTests.count(lake.catalog, "orders")
        let theirs = try RowDeleteTests.count(lake.catalog, "orders", ["customer_id = \(x)"])
        #expect(theirs > 0)
        let copies = try TemporaryDirectory("erase-kill", onDisk: true)
        defer { copies.remove() }
        func copy(_ name: String) throws -> String {
            let root = copies.url.appendingPathComponent(name)
            try FileManager.default.copyItem(at: lake.dir.url, to: root)
            return root.path
        }
        let args = ["erase", "customer", x, "--purge", "--lake"]
        // The measure, and the figures of an erasure never killed.
        let reference = try copy("reference")
        let started = Date()
        r = try runLake(args + [reference])
        var duration = Date().timeIntervalSince(started)
        #expect(r.status == 0 && r.out.contains("Purged at snapshot"), "\(r.out) \(r.err)")
        let expected = try Self.figures(reference)
        #expect(expected["rows:curated.orders"] == String(orders - theirs))
        var killed = 0, erasedBeforeRerun = 0
        // Kills at 1/8, 3/8, 5/8 and 7/8 of the measure (one before the erasure's commit, the
        // rest in the purge, as measured), round again while fewer than 3 runs were killed.
        for attempt in 0 ..< 12 {
            if attempt >= 4 && killed >= 3 { break }
            let root = try copy("k\(attempt)")
            let run = try runLakeKilling(args + [root], after: duration * Double(attempt % 4 * 2 + 1) / 8)
            if run.killed { killed += 1 } else { duration = min(duration, run.seconds) }
            let c = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
            let left = try RowDeleteTests.count(c, "orders", ["customer_id = \(x)"])
            let all = try RowDeleteTests.count(c, "orders")
            if try c.latestSnapshot().id == s0 {
                #expect(left == theirs && all == orders, "attempt \(attempt): killed before the erasure's commit, the lake is as it was")
            } else {
                erasedBeforeRerun += 1
                #expect(left == 0 && all == orders - theirs, "attempt \(attempt): the erasure committed whole: \(left) of X's orders, \(all) in all")
            }
            r = try runLake(["verify", "--lake", root])
            #expect(r.status == 0, "attempt \(attempt): verify after the kill: \(r.out) \(r.err)")
            r = try runLake(args + [root])
            #expect(r.status == 0, "attempt \(attempt): the rerun: \(r.err)")
            #expect(try Python.json(RowDeleteTests.byteSearch, [root, x]) as? [String] == [], "attempt \(attempt): X's bytes after the rerun")
            #expect(try Self.figures(root) == expected, "attempt \(attempt): DuckDB's figures after the rerun")
            #expect(try ErasureLog.entries(c).allSatisfy { $0.purgeSnapshotID != nil }, "attempt \(attempt): the erasure is purged")
            try FileManager.default.removeItem(atPath: root)
        }
        #expect(killed >= 3, "only \(killed) runs were killed (an erasure with purge takes \(duration) s)")
        #expect(erasedBeforeRerun >= 1, "no kill came after the erasure's commit")
    }

    /// The evaluation lake with customer CUST-00004 erased (not yet purged), and that customer.
    static func lakeWithAnErasure() throws -> (EvaluationLake, String) {
        let lake = try EvaluationLake(onDisk: true)
        _ = try Erasure.run(lake.catalog, customerID: "CUST-00004")
        return (lake, "CUST-00004")
    }

    /// A purge crashing where `Purge.run`'s test hook throws.
    struct Crash: Error {}

    /// A purge that died between its commit and its expiry (a crash, a SIGKILL; a signal waits
    /// past that point) left the history that holds the erased bytes, with the erasure marked
    /// purged: the next purge, with nothing to rewrite, used to scrub only, and the bytes stayed
    /// until a vacuum's retention. It now finishes the expiry.
    @Test func aPurgeThatDiedAfterItsCommitIsFinishedByTheNextPurge() throws {
        let (lake, x) = try Self.lakeWithAnErasure()
        defer { lake.dir.remove() }
        let catalog = lake.catalog
        #expect(throws: Crash.self) { _ = try Purge.run(catalog, afterCommit: { throw Crash() }) }
        let purged = try #require(try ErasureLog.entries(catalog).compactMap(\.purgeSnapshotID).max())
        #expect(try catalog.snapshots().first?.id ?? purged < purged, "the history before the purge is still there")
        #expect(!(try Python.json(RowDeleteTests.byteSearch, [lake.root, x]) as? [String] ?? []).isEmpty, "and the erased bytes with it")

        let rerun = try Purge.run(catalog)
        #expect(rerun.snapshotID == purged && !rerun.expiredSnapshots.isEmpty && rerun.filesRemoved > 0,
                "snapshot \(rerun.snapshotID.map(String.init) ?? "nil"), expired \(rerun.expiredSnapshots.count), files \(rerun.filesRemoved)")
        #expect(try catalog.snapshots().first?.id == purged)
        #expect(try Python.json(RowDeleteTests.byteSearch, [lake.root, x]) as? [String] == [])
        #expect(try runLake(["verify", "--lake", lake.root]).status == 0)
        // A finished purge asked for again has nothing left to expire.
        let again = try Purge.run(catalog)
        #expect(again.snapshotID == nil && again.expiredSnapshots.isEmpty && again.filesRemoved == 0)
    }

    /// The same, for a purge that died inside its expiry: the catalog half (snapshots expired,
    /// the old files scheduled for deletion) committed, the files not yet deleted. The next
    /// purge deletes them.
    @Test func aPurgeThatDiedInItsExpiryIsFinishedByTheNextPurge() throws {
        let (lake, x) = try Self.lakeWithAnErasure()
        defer { lake.dir.remove() }
        let catalog = lake.catalog
        #expect(throws: Crash.self) {
            _ = try Purge.run(catalog, afterCommit: {
                let purged = try catalog.latestSnapshot()
                let scheduled = try catalog.scheduleExpired(olderThan: purged.time.addingTimeInterval(0.000_5), dryRun: false, keeping: DeletedOrderIDs.keeper)
                #expect(!scheduled.files.isEmpty && !scheduled.expiredSnapshots.isEmpty)
                throw Crash()
            })
        }
        #expect(!(try Python.json(RowDeleteTests.byteSearch, [lake.root, x]) as? [String] ?? []).isEmpty, "the scheduled files still hold the erased bytes")
        let rerun = try Purge.run(catalog)
        #expect(rerun.filesRemoved > 0, "files \(rerun.filesRemoved)")
        #expect(try Python.json(RowDeleteTests.byteSearch, [lake.root, x]) as? [String] == [])
        #expect(try runLake(["verify", "--lake", lake.root]).status == 0)
    }
}
