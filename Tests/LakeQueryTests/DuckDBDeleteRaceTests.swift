import Foundation
import LakeTestSupport
import Testing

/// A DuckDB DELETE whose transaction is open while our compaction commits, made deterministic:
/// DuckDB reads and deletes, waits until `lake compact` has replaced the file the rows are in,
/// then commits. DuckDB 1.5.5 stores a small delete inlined (ducklake_inlined_delete_<table>,
/// by data file and position) and pairs such a delete only with some kinds of concurrent change
/// (not merge_adjacent): if our compaction's snapshot named none of those, DuckDB committed the
/// delete against the file we had ended, no snapshot read it, and the deleted rows stayed.
/// Either outcome below is correct; a committed delete whose rows are still there is data loss.
@Suite(.serialized)
struct DuckDBDeleteRaceTests {
    static let evaluation = packageRoot.appendingPathComponent("Evaluation-Files")
    static let exe = packageRoot.appendingPathComponent(".build/debug/lake").path

    /// Attaches the lake (argv 1: "sqlite:<root>/manifest.sqlite" or "postgres:<keywords>", argv 2:
    /// the data path), deletes two orders in an open transaction, writes their ids to argv 3, waits
    /// for argv 4 to exist, then commits and prints what happened.
    static let script = Python.duckdbPrelude + """
    import time
    con = duck()
    if sys.argv[1].startswith("postgres:"):
        con.execute("LOAD '" + extension_file("postgres_scanner", "postgres_scanner") + "'")
    con.execute("ATTACH 'ducklake:" + sys.argv[1] + "' AS l (DATA_PATH '" + sys.argv[2] + "/', OVERRIDE_DATA_PATH TRUE)")
    con.execute("BEGIN")
    ids = [r[0] for r in con.execute("SELECT order_id FROM l.curated.orders ORDER BY order_id LIMIT 2").fetchall()]
    con.execute("DELETE FROM l.curated.orders WHERE order_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
    with open(sys.argv[3] + ".tmp", "w") as f:
        json.dump(ids, f)
    os.rename(sys.argv[3] + ".tmp", sys.argv[3])
    deadline = time.time() + 120
    while not os.path.exists(sys.argv[4]):
        if time.time() > deadline:
            raise SystemExit("no go signal")
        time.sleep(0.05)
    try:
        con.execute("COMMIT")
        print(json.dumps({"ok": True, "ids": ids}))
    except duckdb.Error as e:
        print(json.dumps({"ok": False, "ids": ids, "error": str(e)}))
    """

    func lake(_ args: [String], root: URL, catalog: String?) throws -> String {
        try PostgresMaintenanceRaceTests().lake(args, root: root, catalog: catalog)
    }

    /// A lake whose every curated.orders partition has two files (even and odd lines ingested
    /// as two batches), so compaction replaces the file of any order DuckDB picks.
    func build(_ dir: TemporaryDirectory, catalog: String?) throws -> URL {
        let root = dir.url.appendingPathComponent("lake")
        let lines = try String(contentsOf: Self.evaluation.appendingPathComponent("orders_stream.jsonl"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: true)
        _ = try lake(["init"], root: root, catalog: catalog)
        _ = try lake(["ingest", "catalog", Self.evaluation.appendingPathComponent("product_catalog.json").path, "--quiet"], root: root, catalog: catalog)
        for parity in 0 ..< 2 {
            let path = dir.file("half-\(parity).jsonl")
            try (lines.enumerated().filter { $0.offset % 2 == parity }.map { $0.element }.joined(separator: "\n") + "\n")
                .write(toFile: path, atomically: true, encoding: .utf8)
            _ = try lake(["ingest", "orders", path, "--quiet"], root: root, catalog: catalog)
        }
        return root
    }

    func race(root: URL, attach: String, catalog: String?, dir: TemporaryDirectory) throws {
        let before = Set(try PostgresMaintenanceRaceTests().orderIDs(root: root, catalog: catalog))
        let ready = dir.file("ready.json"), go = dir.file("go")
        nonisolated(unsafe) var outcome: Result<Any, Error> = .failure(TestFailure("DuckDB did not finish"))
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            outcome = Result { try Python.json(Self.script, [attach, root.path, ready, go]) }
            done.signal()
        }
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: ready) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        // Whatever happens next, let DuckDB finish.
        defer { _ = FileManager.default.createFile(atPath: go, contents: nil) }
        let picked = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: ready))) as? [String])
        #expect(picked.count == 2 && picked.allSatisfy(before.contains))

        let compacted = try lake(["compact", "curated.orders"], root: root, catalog: catalog)
        #expect(compacted.contains("partition"), "\(compacted)")
        #expect(FileManager.default.createFile(atPath: go, contents: nil), "cannot create the go signal \(go)")
        done.wait()
        let result = try #require(try outcome.get() as? [String: Any])

        // Compared through their differences: a failing #expect prints its operands, and the
        // lake's ids are a thousand.
        let after = Set(try PostgresMaintenanceRaceTests().orderIDs(root: root, catalog: catalog))
        if result["ok"] as? Bool == true {
            let stillThere = after.intersection(picked).sorted()
            #expect(stillThere.isEmpty, "DuckDB committed the delete of \(picked) but these are still in the lake")
            let unexpected = after.symmetricDifference(before.subtracting(picked)).sorted()
            #expect(unexpected.isEmpty, "the lake differs from before minus the deleted ids")
        } else {
            // On SQLite the catalog file serializes the two: DuckDB's read transaction is older
            // than our commit, so SQLite refuses its write (SQLITE_BUSY_SNAPSHOT) before DuckDB's
            // own conflict check runs. On PostgreSQL that check is all there is.
            let error = (result["error"] as? String) ?? ""
            let refusedBySQLite = catalog == nil && error.contains("database is locked")
            #expect(error.lowercased().contains("conflict") || refusedBySQLite, "DuckDB's commit failed with something other than a conflict: \(error)")
            let changed = after.symmetricDifference(before).sorted()
            #expect(changed.isEmpty, "a refused delete changed the lake")
        }
        // DuckDB reads what we read.
        let read = Python.duckdbPrelude + """
        con = duck()
        if sys.argv[1].startswith("postgres:"):
            con.execute("LOAD '" + extension_file("postgres_scanner", "postgres_scanner") + "'")
        con.execute("ATTACH 'ducklake:" + sys.argv[1] + "' AS l (DATA_PATH '" + sys.argv[2] + "/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
        print(json.dumps([r[0] for r in con.execute("SELECT order_id FROM l.curated.orders").fetchall()]))
        """
        let theirs = try #require(try Python.json(read, [attach, root.path]) as? [String])
        let readDifferently = Set(theirs).symmetricDifference(after).sorted()
        #expect(readDifferently.isEmpty && theirs.count == after.count, "DuckDB reads \(theirs.count) rows, lake \(after.count)")
    }

    @Test func inlinedDeleteCommittedAfterOurCompactionOnSQLite() throws {
        let dir = try TemporaryDirectory("duck-delete-race")
        defer { dir.remove() }
        let root = try build(dir, catalog: nil)
        try race(root: root, attach: "sqlite:" + root.appendingPathComponent("manifest.sqlite").path, catalog: nil, dir: dir)
    }

    @Test func inlinedDeleteCommittedAfterOurCompactionOnPostgres() throws {
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase("duckdelrace")
        let dir = try TemporaryDirectory("duck-delete-race-pg")
        defer { dir.remove() }
        let url = pg.url(database: database)
        let root = try build(dir, catalog: url)
        try race(root: root, attach: "postgres:" + pg.keywords(database: database) + " password=\(PostgresCluster.password)", catalog: url, dir: dir)
    }
}
