import Foundation
@testable import LakeCatalog
@testable import LakePipeline
import LakeQuery
import LakeTestSupport
import Testing

/// DuckDB 1.5.5 and `lake` writing one lake at once, pair by pair, made deterministic (the
/// approach of DuckDBDeleteRaceTests, as a matrix). Each side checks conflicts its own way:
/// DuckDB compares its transaction's changes with the changes_made entries of the snapshots
/// committed since it began; we compare, at commit, the files and deletes we read with the
/// catalog's current ones. A pair the two checks do not cover loses or resurrects rows.
///
/// Order A ("DuckDB last"): DuckDB opens a transaction, writes, signals; our command runs to the
/// end; then DuckDB commits. Only DuckDB's check can catch the pair. On SQLite the catalog file
/// serializes the two (DuckDB's read transaction predates our commit, so its write is refused as
/// "database is locked") and on PostgreSQL DuckDB's check is all there is.
/// Order B ("we commit last"): our operation has read its inputs and written its files; DuckDB
/// commits its write in the window; then we commit. Only our check can catch the pair.
///
/// Invariant per case: each side commits or fails with a conflict; the rows at the latest
/// snapshot are the rows before plus every committed change (deleted rows gone, inserted rows
/// there once, updates applied), so nothing refused left a trace; DuckDB and `lake query
/// --as-of` read the same rows at every snapshot the case made.
///
/// Cases run in parallel (each has its own copy of the base lake, or its own PostgreSQL
/// database, and its hooks are arguments, not globals): serialized, its 30 cases were the
/// suite's longest chain, ending the whole run minutes after every other test.
@Suite
struct DuckDBWriteMatrixTests {
    static let evaluation = packageRoot.appendingPathComponent("Evaluation-Files")

    /// DuckDB's side of a case.
    enum DuckOp: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// 2 rows: inlined in the catalog (DATA_INLINING_ROW_LIMIT is 10 by default).
        case insertSmall = "insert_small"
        /// 60 rows: a Parquet file.
        case insertLarge = "insert_large"
        /// 2 rows: ducklake_inlined_delete_<table>.
        case deleteSmall = "delete_small"
        /// 60 rows: delete files.
        case deleteLarge = "delete_large"
        /// 2 rows' status.
        case update
        case addColumn = "add_column"
        case mergeAdjacent = "merge_adjacent"
        /// After a committed 30-row delete, so there are files with deletes to rewrite.
        case rewriteDataFiles = "rewrite_data_files"
        /// After a committed 2-row (inlined) insert, so there is inlined data to flush.
        case flushInlined = "flush_inlined"
        var testDescription: String { rawValue }
    }

    /// Our side of a case.
    enum OurOp: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case ingest, compact, delete, erase, purge, migrate, vacuum
        /// `lake compact`, `lake delete` (another customer), `lake vacuum --retain 0s`: the
        /// vacuum expires the compaction's snapshot while DuckDB's transaction, older than it, is open.
        case compactDeleteVacuum = "compact+delete+vacuum"
        var testDescription: String { rawValue }
    }

    /// Attaches the lake (argv 1: "sqlite:<path>" or "postgres:<keywords>", argv 2: data path)
    /// and runs argv 3's operation in phase argv 4: "race" commits the setup, then runs the
    /// operation in a transaction that writes argv 5 (ready) and waits for argv 6 (go) before
    /// committing (order A); "setup" commits the setup alone; "op" runs the operation alone,
    /// autocommitted (order B). Prints what it committed, or the error that refused it.
    static let script = Python.duckdbPrelude + """
    import time
    con = duck()
    if sys.argv[1].startswith("postgres:"):
        con.execute("LOAD '" + extension_file("postgres_scanner", "postgres_scanner") + "'")
    con.execute("ATTACH 'ducklake:" + sys.argv[1] + "' AS l (DATA_PATH '" + sys.argv[2] + "/', OVERRIDE_DATA_PATH TRUE)")
    op = sys.argv[3]
    phase = sys.argv[4]
    race = phase == "race"
    T = "l.curated.orders"
    def first(n):
        return [r[0] for r in con.execute("SELECT order_id FROM " + T + " ORDER BY order_id LIMIT " + str(n)).fetchall()]
    def where(ids):
        return " WHERE order_id IN (" + ",".join("'" + i + "'" for i in ids) + ")"
    def copies(ids, suffix):
        con.execute("INSERT INTO " + T + " SELECT * REPLACE (order_id || '" + suffix + "' AS order_id) FROM " + T + where(ids))
        return [[r[0] + suffix, r[1]] for r in con.execute("SELECT order_id, status FROM " + T + where(ids)).fetchall()]
    # Committed before the race: what the operation needs to find.
    if phase in ("race", "setup"):
        if op == "rewrite_data_files":
            con.execute("DELETE FROM " + T + where(first(60)[30:]))
        if op == "flush_inlined":
            copies(first(2), "-F")
        if phase == "setup":
            print(json.dumps({"ok": True}))
            sys.exit(0)
    effect = {"deleted": [], "inserted": [], "updated": []}
    if race:
        con.execute("BEGIN")
    if op == "insert_small":
        effect["inserted"] = copies(first(2), "-D")
    elif op == "insert_large":
        effect["inserted"] = copies(first(60), "-D")
    elif op == "delete_small":
        effect["deleted"] = first(2)
        con.execute("DELETE FROM " + T + where(effect["deleted"]))
    elif op == "delete_large":
        effect["deleted"] = first(60)
        con.execute("DELETE FROM " + T + where(effect["deleted"]))
    elif op == "update":
        effect["updated"] = [[i, "duck-updated"] for i in first(2)]
        con.execute("UPDATE " + T + " SET status = 'duck-updated'" + where([u[0] for u in effect["updated"]]))
    elif op == "add_column":
        con.execute("ALTER TABLE " + T + " ADD COLUMN duck_note VARCHAR")
    elif op == "merge_adjacent":
        con.execute("CALL ducklake_merge_adjacent_files('l', 'orders', schema => 'curated')").fetchall()
    elif op == "rewrite_data_files":
        con.execute("CALL ducklake_rewrite_data_files('l', 'orders', schema => 'curated', delete_threshold => 0.0)").fetchall()
    elif op == "flush_inlined":
        con.execute("CALL ducklake_flush_inlined_data('l', schema_name => 'curated', table_name => 'orders')").fetchall()
    else:
        raise SystemExit("unknown operation " + op)
    if race:
        with open(sys.argv[5] + ".tmp", "w") as f:
            f.write("ready")
        os.rename(sys.argv[5] + ".tmp", sys.argv[5])
        deadline = time.time() + 120
        while not os.path.exists(sys.argv[6]):
            if time.time() > deadline:
                raise SystemExit("no go signal")
            time.sleep(0.02)
        try:
            con.execute("COMMIT")
        except duckdb.Error as e:
            print(json.dumps({"ok": False, "error": str(e)}))
            sys.exit(0)
    print(json.dumps(dict(effect, ok=True)))
    """

    /// Reads (order_id, status) of curated.orders at each snapshot id in argv 3 (JSON list).
    static let readScript = Python.duckdbPrelude + """
    con = duck()
    if sys.argv[1].startswith("postgres:"):
        con.execute("LOAD '" + extension_file("postgres_scanner", "postgres_scanner") + "'")
    con.execute("ATTACH 'ducklake:" + sys.argv[1] + "' AS l (DATA_PATH '" + sys.argv[2] + "/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
    out = {}
    for s in json.loads(sys.argv[3]):
        rows = con.execute("SELECT order_id, status FROM l.curated.orders AT (VERSION => " + str(s) + ")").fetchall()
        out[str(s)] = [r[0] + "|" + (r[1] if r[1] is not None else "") for r in rows]
    print(json.dumps(out))
    """

    /// One lake for a case: its root, the --catalog value (nil: SQLite), DuckDB's attach string.
    struct Lake {
        var root: URL
        var catalog: String?
        var attach: String
    }

    /// The lake every case starts from (built once, copied per case): curated.orders at
    /// registry v1 (so a migration has work), every partition in two files (even and odd lines
    /// ingested apart, so compaction has work), plus the new orders our ingest adds.
    final class Base: @unchecked Sendable {
        let dir: TemporaryDirectory
        let root: URL
        let registryV1: URL
        /// 20 orders not in the lake: copies of orders that are (new ids), as JSON lines.
        let newOrders: String
        /// new order id → the curated status its original landed with.
        let newOrderStatus: [String: String]

        init() throws {
            dir = try TemporaryDirectory("duck-matrix-base")
            root = dir.url.appendingPathComponent("lake")
            registryV1 = try registryV1Copy(dir)
            let lines = try String(contentsOf: DuckDBWriteMatrixTests.evaluation.appendingPathComponent("orders_stream.jsonl"), encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            let env = ["LAKE_SCHEMAS": registryV1.path]
            let m = PostgresMaintenanceRaceTests()
            _ = try m.lake(["init"], root: root, catalog: nil, env: env)
            _ = try m.lake(["ingest", "catalog", DuckDBWriteMatrixTests.evaluation.appendingPathComponent("product_catalog.json").path, "--quiet"],
                           root: root, catalog: nil, env: env)
            for parity in 0 ..< 2 {
                let path = dir.file("half-\(parity).jsonl")
                try (lines.enumerated().filter { $0.offset % 2 == parity }.map { $0.element }.joined(separator: "\n") + "\n")
                    .write(toFile: path, atomically: true, encoding: .utf8)
                _ = try m.lake(["ingest", "orders", path, "--quiet"], root: root, catalog: nil, env: env)
            }
            // Orders whose id appears on one line only, so the status they landed with is theirs.
            var count: [String: Int] = [:]
            var idOf: [String] = []
            for line in lines {
                // The stream has malformed lines on purpose: they have no id to copy.
                let o = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
                let id = o?["order_id"] as? String ?? ""
                idOf.append(id)
                count[id, default: 0] += 1
            }
            let landed = try DuckDBWriteMatrixTests.rows(Lake(root: root, catalog: nil, attach: ""), env: env)
            var status: [String: String] = [:]
            for r in landed { status[r.id] = r.status }
            var picked: [String] = [], statuses: [String: String] = [:]
            for (i, line) in lines.enumerated().reversed() where picked.count < 20 {
                let id = idOf[i]
                guard count[id] == 1, let s = status[id], id.hasPrefix("ORD-") else { continue }
                let newID = "ORD-9" + id.dropFirst(4) + "N"
                picked.append(line.replacingOccurrences(of: "\"\(id)\"", with: "\"\(newID)\""))
                statuses[newID] = s
            }
            newOrders = picked.joined(separator: "\n") + "\n"
            newOrderStatus = statuses
        }
    }

    static let base = Result {
        let base = try Base()
        // Built once per test process: removed when it exits (a static is never deinitialized).
        baseDirectory = base.dir
        atexit { DuckDBWriteMatrixTests.baseDirectory?.remove() }
        return base
    }
    nonisolated(unsafe) static var baseDirectory: TemporaryDirectory?

    struct Row: Hashable, Comparable, CustomStringConvertible {
        var id: String
        var status: String
        static func < (a: Row, b: Row) -> Bool { (a.id, a.status) < (b.id, b.status) }
        var description: String { id + "|" + status }
    }

    /// curated.orders' (order_id, status) rows at the latest snapshot or `asOf`, duplicates kept.
    static func rows(_ lake: Lake, asOf: Int64? = nil, env: [String: String] = [:]) throws -> [Row] {
        var args = ["query", "curated.orders", "--columns", "order_id,status", "--format", "csv"]
        if let asOf { args += ["--as-of", String(asOf)] }
        let csv = try PostgresMaintenanceRaceTests().lake(args, root: lake.root, catalog: lake.catalog, env: env)
        return csv.split(separator: "\n").dropFirst().map { line in
            let parts = line.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
            return Row(id: String(parts[0]), status: parts.count > 1 ? String(parts[1]) : "")
        }.sorted()
    }

    static func snapshotIDs(_ lake: Lake) throws -> [Int64] {
        let out = try PostgresMaintenanceRaceTests().lake(["snapshots", "--format", "json"], root: lake.root, catalog: lake.catalog)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])
        return list.compactMap { ($0["snapshot_id"] as? NSNumber)?.int64Value ?? ($0["id"] as? NSNumber)?.int64Value }.sorted()
    }

    /// A fresh copy of the base lake: SQLite in a new directory, or the same catalog copied to
    /// a new PostgreSQL database.
    static func freshLake(_ dir: TemporaryDirectory, postgres: Bool) throws -> Lake {
        let base = try Self.base.get()
        let root = dir.url.appendingPathComponent("lake")
        try FileManager.default.copyItem(at: base.root, to: root)
        let sqlite = Lake(root: root, catalog: nil, attach: "sqlite:" + root.appendingPathComponent("manifest.sqlite").path)
        guard postgres else { return sqlite }
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase("duckmatrix")
        let url = pg.url(database: database)
        _ = try PostgresMaintenanceRaceTests().lake(["catalog", "copy", "--to", url], root: root, catalog: nil)
        try FileManager.default.removeItem(at: root.appendingPathComponent("manifest.sqlite"))
        return Lake(root: root, catalog: url, attach: "postgres:" + pg.keywords(database: database) + " password=\(PostgresCluster.password)")
    }

    /// A customer none of whose orders DuckDB's operations touch (they take the first 60 ids).
    static func bystander(_ before: [Row], lake: Lake) throws -> String {
        let touched = Set(before.map(\.id).sorted().prefix(60))
        let csv = try PostgresMaintenanceRaceTests().lake(["query", "curated.orders", "--columns", "order_id,customer_id", "--format", "csv"],
                                                        root: lake.root, catalog: lake.catalog)
        var orders: [String: [String]] = [:]
        for line in csv.split(separator: "\n").dropFirst() {
            let p = line.split(separator: ",")
            orders[String(p[1]), default: []].append(String(p[0]))
        }
        return try #require(orders.keys.sorted().last { orders[$0]!.allSatisfy { !touched.contains($0) } && orders[$0]!.count >= 2 })
    }

    /// Our command for `op`, and the rows it removes and adds when it commits.
    static func ours(_ op: OurOp, lake: Lake, before: [Row], dir: TemporaryDirectory) throws -> (commands: [[String]], env: [String: String], removes: Set<String>, adds: [Row]) {
        let base = try Self.base.get()
        let v1 = ["LAKE_SCHEMAS": base.registryV1.path]
        switch op {
        case .ingest:
            let path = dir.file("new-orders.jsonl")
            try base.newOrders.write(toFile: path, atomically: true, encoding: .utf8)
            return ([["ingest", "orders", path, "--quiet"]], v1, [], base.newOrderStatus.map { Row(id: $0.key, status: $0.value) })
        case .compact: return ([["compact", "curated.orders"]], v1, [], [])
        case .vacuum: return ([["vacuum", "--retain", "0s"]], v1, [], [])
        case .migrate: return ([["schema", "migrate", "orders", "--to", "2", "--rewrite"]], [:], [], [])
        case .compactDeleteVacuum:
            let delete = try ours(.delete, lake: lake, before: before, dir: dir)
            return ([["compact", "curated.orders"]] + delete.commands + [["vacuum", "--retain", "0s"]], v1, delete.removes, [])
        case .delete, .erase, .purge:
            let customer = try bystander(before, lake: lake)
            let csv = try PostgresMaintenanceRaceTests().lake(["query", "curated.orders", "--columns", "order_id", "--where", "customer_id = \(customer)", "--format", "csv"],
                                                            root: lake.root, catalog: lake.catalog)
            let ids = Set(csv.split(separator: "\n").dropFirst().map(String.init))
            let args: [String] = op == .delete ? ["delete", "curated.orders", "--where", "customer_id = \(customer)"]
                : ["erase", "customer", customer] + (op == .purge ? ["--purge"] : [])
            return ([args], v1, ids, [])
        }
    }

    /// What one case found: each side's outcome, and every broken invariant.
    struct Outcome: CustomStringConvertible {
        var duck: String
        var ours: String
        /// Our command did not finish while DuckDB's transaction was open (it waited for it).
        var waited = false
        var problems: [String] = []
        var description: String {
            "DuckDB \(duck), lake \(ours)" + (waited ? " (after waiting for DuckDB's transaction)" : "")
                + (problems.isEmpty ? "" : ": " + problems.joined(separator: "; "))
        }
    }

    /// Checks the invariant after both sides finished.
    static func check(lake: Lake, before: [Row], baseSnapshot: Int64, duckResult: [String: Any], ourStatus: Int32, ourErr: String,
                      removes: Set<String>, adds: [Row], twoCommits: Bool, outcome: inout Outcome) throws {
        let duckOK = duckResult["ok"] as? Bool == true
        if !duckOK {
            let error = (duckResult["error"] as? String) ?? ""
            outcome.duck = "refused"
            let refusedBySQLite = lake.catalog == nil && error.contains("database is locked")
            if !(error.lowercased().contains("conflict") || refusedBySQLite) {
                outcome.problems.append("DuckDB failed with something other than a conflict: \(error)")
            }
        } else {
            outcome.duck = "committed"
        }
        outcome.ours = ourStatus == 0 ? "committed" : "refused"
        // On SQLite a DuckDB transaction that holds the catalog file (a flush writes during
        // the transaction; a purge's scrub waits for every reader) makes us wait and give up.
        let lockedOnSQLite = lake.catalog == nil && ourErr.contains("locked")
        // Our rewrites and erasures refuse, by design and before writing, a table with rows
        // DuckDB inlined in the catalog (the flush case commits two such rows first).
        let refusesInlined = ourErr.contains("inlined in the catalog")
        if refusesInlined { outcome.ours = "refused (inlined rows)" }
        if ourStatus != 0 && !ourErr.lowercased().contains("conflict") && !lockedOnSQLite && !refusesInlined {
            outcome.problems.append("lake failed with something other than a conflict: \(ourErr)")
        }
        // The rows the committed changes leave, from the rows before.
        var expected = before
        if duckOK {
            let deleted = Set((duckResult["deleted"] as? [String]) ?? [])
            let updated = Dictionary(((duckResult["updated"] as? [[String]]) ?? []).map { ($0[0], $0[1]) }, uniquingKeysWith: { $1 })
            expected = expected.filter { !deleted.contains($0.id) }.map { row in updated[row.id].map { Row(id: row.id, status: $0) } ?? row }
            expected += ((duckResult["inserted"] as? [[String]]) ?? []).map { Row(id: $0[0], status: $0[1]) }
        }
        let after = try rows(lake)
        // `lake erase --purge` commits twice (the erasure, then the purge): a refused purge
        // leaves the erasure committed.
        let erasedThenRefused = ourStatus != 0 && twoCommits && !removes.isEmpty && !after.contains { removes.contains($0.id) }
        if ourStatus == 0 || erasedThenRefused {
            expected = expected.filter { !removes.contains($0.id) } + adds
        }
        expected.sort()
        if after != expected {
            let a = Dictionary(after.map { ($0.description, 1) }, uniquingKeysWith: +), e = Dictionary(expected.map { ($0.description, 1) }, uniquingKeysWith: +)
            let extra = a.filter { e[$0.key, default: 0] < $0.value }.keys.sorted(), missing = e.filter { a[$0.key, default: 0] < $0.value }.keys.sorted()
            outcome.problems.append("latest snapshot: \(after.count) rows, expected \(expected.count); resurrected or duplicated \(extra.prefix(4)), lost \(missing.prefix(4))")
        }
        // DuckDB reads what we read, at every snapshot the case made (and the one it started from, if kept).
        let snapshots = try snapshotIDs(lake).filter { $0 >= baseSnapshot }
        let theirs = try #require(try Python.json(readScript, [lake.attach, lake.root.path, "[" + snapshots.map(String.init).joined(separator: ",") + "]"]) as? [String: [String]])
        for s in snapshots {
            let mine = try rows(lake, asOf: s).map(\.description).sorted()
            let duck = (theirs[String(s)] ?? []).sorted()
            if mine != duck {
                outcome.problems.append("snapshot \(s): lake reads \(mine.count) rows, DuckDB \(duck.count) (\(Set(mine).symmetricDifference(duck).sorted().prefix(4)))")
            }
        }
    }

    /// DuckDB's script running on a background thread.
    final class DuckRun: @unchecked Sendable {
        private let lock = NSLock()
        private let done = DispatchSemaphore(value: 0)
        private var _result: Result<Any, Error>?
        init(script: String, _ arguments: [String]) {
            DispatchQueue.global().async {
                let r = Result { try Python.json(script, arguments) }
                self.lock.lock(); self._result = r; self.lock.unlock()
                self.done.signal()
            }
        }
        var finished: Bool { lock.lock(); defer { lock.unlock() }; return _result != nil }
        /// Waits for the script to end.
        func result() -> Result<Any, Error> {
            lock.lock()
            if let r = _result { lock.unlock(); return r }
            lock.unlock()
            done.wait()
            lock.lock(); defer { lock.unlock() }
            return _result!
        }
    }

    /// Order A: DuckDB's transaction is open while our command commits; DuckDB commits last.
    static func duckLast(_ duck: DuckOp, _ our: OurOp, postgres: Bool) throws -> Outcome {
        let dir = try TemporaryDirectory("duck-matrix")
        defer { dir.remove() }
        let lake = try freshLake(dir, postgres: postgres)
        let ready = dir.file("ready"), go = dir.file("go")
        let duckRun = DuckRun(script: script, [lake.attach, lake.root.path, duck.rawValue, "race", ready, go])
        // Whatever happens next, let DuckDB finish.
        defer { FileManager.default.createFile(atPath: go, contents: nil); _ = duckRun.result() }
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: ready) && !duckRun.finished && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        guard FileManager.default.fileExists(atPath: ready) else {
            throw TestFailure("DuckDB's \(duck.rawValue) did not get ready: \(duckRun.result())")
        }
        // DuckDB's setup (rewrite's delete, flush's insert) has committed; its operation has not.
        let before = try rows(lake)
        let baseSnapshot = try snapshotIDs(lake).last ?? 0
        let mine = try ours(our, lake: lake, before: before, dir: dir)
        // A command that waits for DuckDB's transaction (a purge's VACUUM on PostgreSQL waits
        // for every open transaction on the catalog's tables; on SQLite a flush holds the
        // catalog's write lock) gets DuckDB's commit meanwhile. Whether it waits is observed, not
        // guessed from its run time: a fixed 5 s let DuckDB go early whenever a loaded machine
        // ran our commands slowly, and the order the case is about was not the one tested.
        let sqliteLockedByDuckDB = try lake.catalog == nil && sqliteWriteLockHeld(lake)
        nonisolated(unsafe) var ran: Result<PostgresMaintenanceRaceTests.Run, Error>?
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            // Commands in order; the first that fails ends the run with its status.
            ran = Result {
                var last: PostgresMaintenanceRaceTests.Run?
                for args in mine.commands {
                    let r = try PostgresMaintenanceRaceTests().run(args, root: lake.root, catalog: lake.catalog, env: mine.env)
                    last = r
                    if r.status != 0 { break }
                }
                return last!
            }
            finished.signal()
        }
        var waited = false
        let giveUp = Date().addingTimeInterval(300)  // only a hung command gets here
        while finished.wait(timeout: .now() + 0.2) == .timedOut {
            let blocked = try sqliteLockedByDuckDB || waitsForALock(lake)
            if blocked || Date() > giveUp {
                waited = true
                FileManager.default.createFile(atPath: go, contents: nil)
                finished.wait()
                break
            }
        }
        let r = try ran!.get()
        FileManager.default.createFile(atPath: go, contents: nil)
        let duckResult = try #require(try duckRun.result().get() as? [String: Any])
        var outcome = Outcome(duck: "", ours: "", waited: waited)
        try check(lake: lake, before: before, baseSnapshot: baseSnapshot, duckResult: duckResult, ourStatus: r.status, ourErr: r.err,
                  removes: mine.removes, adds: mine.adds, twoCommits: our == .purge, outcome: &outcome)
        return outcome
    }

    /// Whether another connection (DuckDB's open transaction) holds the SQLite catalog's write
    /// lock: then any command of ours that writes waits for it.
    static func sqliteWriteLockHeld(_ lake: Lake) throws -> Bool {
        let out = try Python.run("""
        import sqlite3, sys
        db = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
            print("free")
        except sqlite3.OperationalError:
            print("held")
        """, [lake.root.appendingPathComponent("manifest.sqlite").path])
        return out.trimmingCharacters(in: .whitespacesAndNewlines) == "held"
    }

    /// Whether a session on the lake's PostgreSQL catalog database waits for a lock (only
    /// DuckDB's open transaction can hold one ours waits for: our commands run one at a time).
    static func waitsForALock(_ lake: Lake) throws -> Bool {
        guard let url = lake.catalog, let database = URL(string: url)?.lastPathComponent else { return false }
        let n = try PostgresCluster.shared().psql(database, """
            SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
            """)
        return (Int(n.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0
    }

    /// `LAKE_DUCK_MATRIX=full` runs every pair (about 10 minutes); by default the pairs that
    /// matter run, within the CI budget.
    static let fullMatrix = ProcessInfo.processInfo.environment["LAKE_DUCK_MATRIX"] == "full"

    /// Every DuckDB operation against every single command of ours.
    static let everyPair: [(DuckOp, OurOp)] = DuckOp.allCases.flatMap { d in OurOp.allCases.filter { $0 != .compactDeleteVacuum }.map { (d, $0) } }

    /// On PostgreSQL DuckDB's check is all that stands between its commit and our committed
    /// change: the pairs where it must refuse (a delete against our rewrites, ingests and
    /// migrations; an update; a merge or rewrite against our deletes), where both commit and
    /// the rows must still add up (deletes on both sides, inserts against compaction, a vacuum
    /// against DuckDB's uncommitted file), and one purge (which waits for DuckDB's transaction).
    static let duckLastCases: [(DuckOp, OurOp)] = fullMatrix ? everyPair : [
        (.deleteSmall, .ingest), (.deleteSmall, .compact), (.deleteSmall, .migrate), (.deleteSmall, .purge),
        (.deleteLarge, .delete), (.update, .compact), (.insertSmall, .delete), (.insertLarge, .vacuum),
        (.addColumn, .ingest), (.addColumn, .migrate), (.mergeAdjacent, .delete), (.rewriteDataFiles, .delete), (.flushInlined, .compact),
    ]

    /// Order B: our operation has read its inputs and written its files; DuckDB commits its
    /// operation (autocommitted) in that window; then we commit.
    static func weCommitLast(_ duck: DuckOp, _ our: OurOp, postgres: Bool) throws -> Outcome {
        let dir = try TemporaryDirectory("duck-matrix-b")
        defer { dir.remove() }
        let lake = try freshLake(dir, postgres: postgres)
        let duckArgs = [lake.attach, lake.root.path, duck.rawValue]
        _ = try Python.json(script, duckArgs + ["setup"])
        let before = try rows(lake)
        let baseSnapshot = try snapshotIDs(lake).last ?? 0
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalog.map { try CatalogLocation.parse($0) }, create: false)
        // Once, even when our operation retries after a conflict and passes the window again.
        nonisolated(unsafe) var duckResult: [String: Any]?
        let window: () throws -> Void = {
            guard duckResult == nil else { return }
            duckResult = try #require(try Python.json(script, duckArgs + ["op"]) as? [String: Any])
        }
        var removes = Set<String>()
        var status: Int32 = 0, err = ""
        do {
            switch our {
            case .compact:
                var options = CompactionOptions()
                options.table = "curated.orders"
                _ = try Compaction.run(catalog, options: options, beforeCommit: window)
            case .delete, .purge:
                let customer = try bystander(before, lake: lake)
                let csv = try PostgresMaintenanceRaceTests().lake(["query", "curated.orders", "--columns", "order_id", "--where", "customer_id = \(customer)", "--format", "csv"],
                                                                root: lake.root, catalog: lake.catalog)
                removes = Set(csv.split(separator: "\n").dropFirst().map(String.init))
                if our == .delete {
                    _ = try Deletes.run(catalog, table: "curated.orders", conditions: ["customer_id = \(customer)"], beforeCommit: window)
                } else {
                    _ = try Erasure.run(catalog, customerID: customer)
                    _ = try Purge.run(catalog, beforeCommit: window)
                }
            case .migrate:
                let store = LakeStore(catalog: catalog, registry: try SchemaRegistry.load(directory: packageRoot.appendingPathComponent("schemas").path))
                _ = try Migration.run(store, table: "orders", to: 2, rewrite: true, dryRun: false, beforeCommit: window)
            case .ingest, .erase, .vacuum, .compactDeleteVacuum:
                throw TestFailure("no window for \(our.rawValue) in process")
            }
        } catch {
            status = 1
            // A migration's own conflict error says what happened without the word.
            if case MigrationError.conflict = error { err = "conflict: \(error)" } else { err = String(describing: error) }
        }
        var outcome = Outcome(duck: "", ours: "")
        guard let duckResult else {
            // Refused before reading anything, by design: the flush case's setup inlined rows.
            if err.contains("inlined in the catalog") { return Outcome(duck: "not run", ours: "refused (inlined rows)") }
            throw TestFailure("\(our.rawValue) never reached its commit: \(err)")
        }
        try check(lake: lake, before: before, baseSnapshot: baseSnapshot, duckResult: duckResult, ourStatus: status, ourErr: err,
                  removes: removes, adds: [], twoCommits: our == .purge, outcome: &outcome)
        return outcome
    }

    static let everyPairInProcess: [(DuckOp, OurOp)] = DuckOp.allCases.flatMap { d in [OurOp.compact, .delete, .purge, .migrate].map { (d, $0) } }

    /// Our commit-time checks against each kind of DuckDB change: its deletes (small, large,
    /// an update) and merges against our rewrites, its ALTER TABLE against each of them.
    static let weLastCases: [(DuckOp, OurOp)] = fullMatrix ? everyPairInProcess : [
        (.deleteSmall, .compact), (.deleteSmall, .purge), (.deleteSmall, .migrate),
        (.deleteLarge, .compact), (.mergeAdjacent, .compact), (.mergeAdjacent, .migrate),
        (.addColumn, .compact), (.addColumn, .purge), (.addColumn, .migrate), (.insertSmall, .migrate),
    ]
    static let weLastPostgresCases: [(DuckOp, OurOp)] = fullMatrix ? everyPairInProcess : [
        (.deleteSmall, .compact), (.addColumn, .compact), (.mergeAdjacent, .migrate),
    ]

    /// Runs one case, prints its outcome and time (the matrix's log), and expects no problem.
    static func expectClean(_ label: String, _ duck: DuckOp, _ our: OurOp, _ run: () throws -> Outcome) throws {
        let started = Date()
        let outcome = try run()
        print("matrix \(label) \(duck.rawValue) × \(our.rawValue): \(outcome) [\(Int(Date().timeIntervalSince(started)))s]")
        #expect(outcome.problems.isEmpty, "\(outcome)")
    }

    @Test(arguments: weLastCases)
    func weCommitLastOnSQLite(_ duck: DuckOp, _ our: OurOp) throws {
        try Self.expectClean("sqlite we-last", duck, our) { try Self.weCommitLast(duck, our, postgres: false) }
    }

    @Test(arguments: weLastPostgresCases)
    func weCommitLastOnPostgres(_ duck: DuckOp, _ our: OurOp) throws {
        try Self.expectClean("postgres we-last", duck, our) { try Self.weCommitLast(duck, our, postgres: true) }
    }

    /// On SQLite the catalog file serializes DuckDB's commit after ours, whatever the pair (its
    /// read transaction predates our commit), so a few pairs stand for all: a flush writes the
    /// catalog inside its transaction and holds it, so our command waits and gives up.
    static let sqliteCases: [(DuckOp, OurOp)] = fullMatrix ? everyPair
        : [(.deleteSmall, .compact), (.flushInlined, .ingest)]

    @Test(arguments: sqliteCases)
    func duckDBCommitsLastOnSQLite(_ duck: DuckOp, _ our: OurOp) throws {
        try Self.expectClean("sqlite duck-last", duck, our) { try Self.duckLast(duck, our, postgres: false) }
    }

    @Test(arguments: duckLastCases)
    func duckDBCommitsLastOnPostgres(_ duck: DuckOp, _ our: OurOp) throws {
        try Self.expectClean("postgres duck-last", duck, our) { try Self.duckLast(duck, our, postgres: true) }
    }

    /// A vacuum between our commits and DuckDB's: it expires the snapshots committed after
    /// DuckDB's transaction began (the compaction's among them) while that transaction is open.
    @Test(arguments: fullMatrix ? [DuckOp.deleteSmall, .deleteLarge, .update] : [.deleteSmall, .deleteLarge])
    func vacuumExpiresSnapshotsADuckDBTransactionChecksOnPostgres(_ duck: DuckOp) throws {
        let started = Date()
        let outcome = try Self.duckLast(duck, .compactDeleteVacuum, postgres: true)
        print("matrix postgres duck-last \(duck.rawValue) × compact+delete+vacuum: \(outcome) [\(Int(Date().timeIntervalSince(started)))s]")
        #expect(outcome.problems.isEmpty, "\(outcome)")
    }

    /// `lake delete` writes delete files, which reach rows in Parquet files only: a matching row
    /// DuckDB inlined in the catalog stayed while the delete exited 0. It is refused instead
    /// (as `lake erase` is), and nothing is committed.
    @Test func deleteRefusesRowsDuckDBInlined() throws {
        let dir = try TemporaryDirectory("duck-matrix-inlined")
        defer { dir.remove() }
        let lake = try Self.freshLake(dir, postgres: false)
        // The flush case's setup: two rows copied with "-F" ids, committed inlined.
        _ = try Python.json(Self.script, [lake.attach, lake.root.path, DuckOp.flushInlined.rawValue, "setup"])
        let before = try Self.rows(lake)
        let inlined = try #require(before.first { $0.id.hasSuffix("-F") })
        let snapshots = try Self.snapshotIDs(lake)
        let r = try PostgresMaintenanceRaceTests().run(["delete", "curated.orders", "--where", "order_id = \(inlined.id)"], root: lake.root, catalog: nil)
        #expect(r.status != 0 && r.err.contains("inlined in the catalog"), "lake delete of an inlined row: exit \(r.status), \(r.out) \(r.err)")
        #expect(try Self.rows(lake) == before)
        #expect(try Self.snapshotIDs(lake) == snapshots)
    }
}
