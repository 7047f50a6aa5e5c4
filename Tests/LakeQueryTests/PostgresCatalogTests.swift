import Foundation
import LakeCatalog
import LakeQuery
import LakeTestSupport
import Testing

/// The catalog on PostgreSQL (issue 18), through the `lake` executable against a throwaway
/// server: every command's output equals the same run on SQLite, DuckDB attaches what we wrote,
/// and bad connections fail with a clear error and exit non-zero. Never skipped: no server
/// means a failure that names scripts/setup.sh.
@Suite(.serialized)
struct PostgresCatalogTests {
    static let evaluation = packageRoot.appendingPathComponent("Evaluation-Files")

    /// Runs lake with `args` against the lake at `root` and the catalog `catalog` (nil: SQLite).
    func lake(_ args: [String], root: URL, catalog: String?, env: [String: String] = [:]) throws -> String {
        var full = args + ["--lake", root.path]
        if let catalog { full += ["--catalog", catalog] }
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        let r = try runProcess(exe, full, environment: env)
        guard r.status == 0 else { throw TestFailure("lake \(full.joined(separator: " ")) exited \(r.status): \(r.err)") }
        return r.out
    }

    /// The same command sequence on both catalogs, output by output.
    @Test func everyMainCommandOnPostgresEqualsSQLite() throws {
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase()
        let dir = try TemporaryDirectory("pg-lake")
        defer { dir.remove() }
        let sqliteRoot = dir.url.appendingPathComponent("sqlite-lake")
        let pgRoot = dir.url.appendingPathComponent("pg-lake")
        let url = pg.url(database: database)

        let steps: [[String]] = [
            ["init"],
            ["ingest", "catalog", Self.evaluation.appendingPathComponent("product_catalog.json").path, "--format", "json", "--quiet"],
            ["ingest", "inventory", Self.evaluation.appendingPathComponent("inventory_updates.csv").path, "--format", "json", "--quiet"],
            ["ingest", "orders", Self.evaluation.appendingPathComponent("orders_stream.jsonl").path, "--format", "json", "--quiet"],
            // The same file again lands nothing (the exactly-once ledger lives in the catalog).
            ["ingest", "orders", Self.evaluation.appendingPathComponent("orders_stream.jsonl").path, "--format", "json", "--quiet"],
        ]
        for step in steps {
            _ = try lake(step, root: sqliteRoot, catalog: nil)
            _ = try lake(step, root: pgRoot, catalog: url)
        }
        #expect(!FileManager.default.fileExists(atPath: pgRoot.appendingPathComponent("manifest.sqlite").path),
                "a PostgreSQL lake has no SQLite manifest")
        // The catalog's size is its tables' in PostgreSQL (it was a missing manifest.sqlite's: 0).
        func catalogBytes(_ metrics: String) -> Double? {
            metrics.split(separator: "\n").first { $0.hasPrefix("lake_catalog_bytes ") }.flatMap { Double($0.split(separator: " ")[1]) }
        }
        let pgBytes = catalogBytes(try lake(["metrics"], root: pgRoot, catalog: url))
        #expect((pgBytes ?? 0) > 100_000, "lake_catalog_bytes \(pgBytes ?? -1)")
        #expect((catalogBytes(try lake(["metrics"], root: sqliteRoot, catalog: nil)) ?? 0) > 100_000)
        let reports = ["daily-revenue", "top-products", "inventory", "customers", "top-customers", "product-metrics"]
        func compare(_ args: [String]) throws {
            let a = try lake(args, root: sqliteRoot, catalog: nil)
            let b = try lake(args, root: pgRoot, catalog: url)
            #expect(!a.isEmpty)
            #expect(a == b, "lake \(args.joined(separator: " ")) differs between SQLite and PostgreSQL")
        }
        for r in reports { try compare(["report", r, "--format", "json"]) }
        // Time travel: every snapshot's daily revenue.
        let snapshots = try lake(["snapshots"], root: pgRoot, catalog: url)
        #expect(snapshots.contains("orders") || snapshots.count > 0)
        for s in 1 ... 4 { try compare(["report", "tables", "--format", "json", "--as-of", "\(s)"]) }
        try compare(["report", "daily-revenue", "--format", "json", "--as-of", "4"])
        // Maintenance: compaction, a delete, vacuum; then the reports again.
        for step in [["compact"], ["delete", "curated.orders", "--where", "event_date = 2024-01-15", "--where", "channel = web"]] {
            _ = try lake(step, root: sqliteRoot, catalog: nil)
            _ = try lake(step, root: pgRoot, catalog: url)
        }
        for r in reports { try compare(["report", r, "--format", "json"]) }
        for s in 1 ... 4 { try compare(["report", "tables", "--format", "json", "--as-of", "\(s)"]) }
        try compare(["report", "daily-revenue", "--format", "json", "--as-of", "4"])
        // Vacuum with no history kept: old snapshots go, the latest reads the same.
        try compare(["vacuum", "--retain", "0s", "--force"])
        for r in reports { try compare(["report", r, "--format", "json"]) }
        // verify lists each lake's own (random) file names; the summaries must agree.
        let verified = try lake(["verify"], root: pgRoot, catalog: url)
        let verifiedSQLite = try lake(["verify"], root: sqliteRoot, catalog: nil)
        #expect(verified.contains(" ok, 0 failed"), "\(verified)")
        #expect(verified.split(separator: "\n").first == verifiedSQLite.split(separator: "\n").first)
        // The libpq keyword form with the password from PGPASSWORD reads the same catalog.
        let viaKeywords = try lake(["report", "daily-revenue", "--format", "json"], root: pgRoot, catalog: pg.keywords(database: database),
                                   env: ["PGPASSWORD": PostgresCluster.password])
        #expect(viaKeywords == (try lake(["report", "daily-revenue", "--format", "json"], root: sqliteRoot, catalog: nil)))
    }

    /// DuckDB 1.5.5 with ducklake and postgres_scanner attaches the catalog we wrote into
    /// PostgreSQL and counts the same rows per table as our reports read.
    @Test func duckDBAttachesOurPostgresCatalog() throws {
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase()
        let dir = try TemporaryDirectory("pg-duck")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake")
        let url = pg.url(database: database)
        _ = try lake(["init"], root: root, catalog: url)
        _ = try lake(["ingest", "catalog", Self.evaluation.appendingPathComponent("product_catalog.json").path, "--quiet"], root: root, catalog: url)
        _ = try lake(["ingest", "orders", Self.evaluation.appendingPathComponent("orders_stream.jsonl").path, "--quiet"], root: root, catalog: url)
        let ours = try lake(["tables"], root: root, catalog: url)
        let script = Python.duckdbPrelude + """
        con = duck()
        con.execute("LOAD '" + extension_file("postgres_scanner", "postgres_scanner") + "'")
        con.execute("ATTACH 'ducklake:postgres:" + sys.argv[1] + "' AS l (DATA_PATH '" + sys.argv[2] + "/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
        out = {}
        for (schema, table) in con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'l' ORDER BY 1, 2").fetchall():
            out[schema + "." + table] = con.execute('SELECT count(*) FROM l."' + schema + '"."' + table + '"').fetchone()[0]
        out["snapshots"] = len(con.execute("SELECT snapshot_id FROM ducklake_snapshots('l')").fetchall())
        print(json.dumps(out))
        """
        let keywords = pg.keywords(database: database) + " password=\(PostgresCluster.password)"
        let duck = try #require(try Python.json(script, [keywords, root.path]) as? [String: Any])
        #expect((duck["curated.orders"] as? Int ?? 0) > 0)
        #expect((duck["snapshots"] as? Int ?? 0) >= 3)
        // Our own row counts, per table (`lake tables`: "schema.table  (table id N, F files, R rows"), equal DuckDB's.
        var compared = 0
        for line in ours.split(separator: "\n") {
            guard let m = line.firstMatch(of: /^(\S+)  \(table id \d+, \d+ files, (\d+) rows/) else { continue }
            let key = String(m.1)
            #expect(duck[key] as? Int == Int(m.2), "\(key): DuckDB \(String(describing: duck[key])), lake \(m.2)")
            compared += 1
        }
        #expect(compared >= 3)
    }

    /// Our per-table row counts at snapshot `v` (`lake report tables --as-of`; rows net of deletes).
    func tableRows(at v: Int64, root: URL, catalog: String) throws -> [String: Int] {
        let out = try lake(["report", "tables", "--format", "json", "--as-of", "\(v)"], root: root, catalog: catalog)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]], "report tables: \(out)")
        return Dictionary(uniqueKeysWithValues: rows.compactMap { r in (r["table"] as? String).map { ($0, r["rows"] as? Int ?? -1) } })
    }

    /// DuckDB 1.5.5 reads a PostgreSQL lake built by three order slices, the catalog, inventory,
    /// a delete and a compaction at every one of its snapshots: per-table row counts, daily
    /// revenue (`lake report daily-revenue --as-of --format csv`) and the figures
    /// DeleteFileTests compares (top products, customers, inventory, quality) equal ours there.
    @Test func duckDBReadsEverySnapshotOfOurPostgresLake() throws {
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase()
        let dir = try TemporaryDirectory("pg-duck-every")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake")
        let url = pg.url(database: database)
        let lines = try String(contentsOf: Self.evaluation.appendingPathComponent("orders_stream.jsonl"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        var slices: [String] = []
        for (i, range) in [0 ..< 350, 350 ..< 700, 700 ..< lines.count].enumerated() {
            let path = dir.file("orders-\(i).jsonl")
            try lines[range].joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            slices.append(path)
        }
        let steps: [[String]] = [
            ["init"],
            ["ingest", "catalog", Self.evaluation.appendingPathComponent("product_catalog.json").path, "--quiet"],
            // Inventory before the first orders: DeleteFileTests' answers read every table.
            ["ingest", "inventory", Self.evaluation.appendingPathComponent("inventory_updates.csv").path, "--quiet"],
            ["ingest", "orders", slices[0], "--quiet"],
            ["ingest", "orders", slices[1], "--quiet"],
            ["ingest", "orders", slices[2], "--quiet"],
            ["delete", "curated.orders", "--where", "event_date = 2024-01-15", "--where", "channel = web"],
            ["compact"],
        ]
        for step in steps { _ = try lake(step, root: root, catalog: url) }

        let catalog = try Catalog.open(root: root, catalog: .postgres(url), create: false, readOnly: true)
        let snapshots = try catalog.snapshots().map(\.id)
        let messages = try catalog.snapshots().map { $0.message ?? "" }
        // Snapshot 0, then one snapshot per step (the delete and the compaction each commit one).
        #expect(snapshots.count == steps.count + 1, "snapshots \(snapshots): \(messages)")

        let script = Python.duckdbPrelude + DeleteFileTests.answersSQL + """
        con = duck()
        con.execute("LOAD '" + extension_file("postgres_scanner", "postgres_scanner") + "'")
        con.execute("ATTACH 'ducklake:postgres:" + sys.argv[1] + "' AS l (DATA_PATH '" + sys.argv[2] + "/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'l' ORDER BY 1, 2").fetchall()
        out = {}
        for v in json.loads(sys.argv[3]):
            counts = {}
            for (schema, table) in tables:
                try:
                    counts[schema + "." + table] = con.execute('SELECT count(*) FROM l."' + schema + '"."' + table + '" AT (VERSION => ' + str(v) + ')').fetchone()[0]
                except duckdb.Error:
                    pass  # the table does not exist yet at v
            try:
                a = answers(v)
            except duckdb.Error:
                a = None  # curated.orders does not exist yet at v
            out[str(v)] = {"counts": counts, "answers": a}
        print(json.dumps(out))
        """
        let keywords = pg.keywords(database: database) + " password=\(PostgresCluster.password)"
        let duck = try #require(try Python.json(script, [keywords, root.path, "[\(snapshots.map(String.init).joined(separator: ","))]"]) as? [String: Any])

        var answered = 0, countsCompared = 0
        var dailyRows: [Int64: Int] = [:]
        for v in snapshots {
            let at = try #require(duck[String(v)] as? [String: Any], "DuckDB said nothing at snapshot \(v)")
            // Row counts: the same tables, the same rows (DuckDB omits tables created later; we
            // list only the tables that exist at v).
            let theirs = (at["counts"] as? [String: Int]) ?? [:]
            let ours = try tableRows(at: v, root: root, catalog: url)
            #expect(ours == theirs, "snapshot \(v) (\(messages[snapshots.firstIndex(of: v)!])): lake \(ours), DuckDB \(theirs)")
            countsCompared += ours.count
            guard let answers = at["answers"] as? [String: [[String]]] else {
                #expect(ours["curated.orders"] == nil, "DuckDB could not read curated.orders at \(v), which we list")
                continue
            }
            answered += 1
            DeleteFileTests.expectSame(try DeleteFileTests.ours(catalog, v), answers, "snapshot \(v)")
            // Daily revenue through the CLI, as CSV.
            let csv = try lake(["report", "daily-revenue", "--as-of", "\(v)", "--format", "csv"], root: root, catalog: url)
            let cli = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            #expect(cli == answers["daily"], "snapshot \(v): lake report daily-revenue --format csv differs from DuckDB")
            dailyRows[v] = cli.count
        }
        // Orders exist from the first slice on: 3 slices, the delete, the compaction.
        #expect(answered == 5, "DuckDB answered at \(answered) snapshots")
        #expect(countsCompared >= 20)
        let last = try #require(snapshots.last)
        let revenue = (duck[String(last)] as? [String: Any])?["answers"] as? [String: [[String]]]
        // Vacuum with no history kept deletes the compacted-away files and expired snapshots'
        // rows from PostgreSQL; the latest snapshot still reads the same in DuckDB and here.
        let vacuum = try lake(["vacuum", "--retain", "0s", "--force"], root: root, catalog: url)
        let freed = vacuum.firstMatch(of: /Freed \d+ bytes in (\d+) files/).flatMap { Int($0.1) } ?? 0
        #expect(freed > 10, "vacuum deleted \(freed) files: \(vacuum)")
        let afterVacuum = try #require(try Python.json(script, [keywords, root.path, "[\(last)]"]) as? [String: Any])
        let latest = try #require(afterVacuum[String(last)] as? [String: Any])
        #expect(latest["counts"] as? [String: Int] == (duck[String(last)] as? [String: Any])?["counts"] as? [String: Int], "counts changed by vacuum")
        #expect(try tableRows(at: last, root: root, catalog: url) == latest["counts"] as? [String: Int])
        let vacuumed = try #require(latest["answers"] as? [String: [[String]]], "DuckDB cannot read the latest snapshot after vacuum")
        DeleteFileTests.expectSame(try DeleteFileTests.ours(catalog, last), vacuumed, "after vacuum")
        #expect(vacuumed["daily"] == revenue?["daily"])
        print("PostgreSQL lake, \(snapshots.count) snapshots: DuckDB read \(countsCompared) table counts, answers at \(answered) snapshots; vacuum freed \(freed) files; daily-revenue rows per snapshot \(dailyRows.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }); latest counts \(String(describing: (duck[String(last)] as? [String: Any])?["counts"])), \(revenue?["daily"]?.count ?? 0) daily rows")
    }

    /// Two processes ingest the same orders file at once into one PostgreSQL catalog: the
    /// exactly-once ledger commits in the same transaction as the data, so it lands once.
    @Test func theSameFileIngestedByTwoProcessesLandsOnce() throws {
        let pg = try PostgresCluster.shared()
        let url = pg.url(database: try pg.createDatabase())
        let dir = try TemporaryDirectory("pg-twice")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake"), single = dir.url.appendingPathComponent("single")
        let orders = Self.evaluation.appendingPathComponent("orders_stream.jsonl").path
        for step in [["init"], ["ingest", "catalog", Self.evaluation.appendingPathComponent("product_catalog.json").path, "--quiet"]] {
            _ = try lake(step, root: root, catalog: url)
            _ = try lake(step, root: single, catalog: nil)
        }
        _ = try lake(["ingest", "orders", orders, "--quiet"], root: single, catalog: nil)
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        let group = DispatchGroup()
        nonisolated(unsafe) var results: [(status: Int32, out: String, err: String)?] = [nil, nil]
        let lock = NSLock()
        for i in 0 ..< 2 {
            group.enter()
            DispatchQueue.global().async {
                let r = try? runProcess(exe, ["ingest", "orders", orders, "--quiet", "--lake", root.path, "--catalog", url])
                lock.lock(); results[i] = r; lock.unlock()
                group.leave()
            }
        }
        group.wait()
        for r in results {
            #expect(r?.status == 0, "a racing ingest failed: \(r?.err ?? "did not run")")
        }
        for report in ["daily-revenue", "top-customers"] {
            #expect(try lake(["report", report, "--format", "json"], root: root, catalog: url)
                    == (try lake(["report", report, "--format", "json"], root: single, catalog: nil)))
        }
        // One data snapshot for the file: init, catalog, orders.
        let snaps = try lake(["snapshots"], root: root, catalog: url)
        #expect(snaps.components(separatedBy: "ingest orders").count - 1 == 1, "\(snaps)")
    }

    /// `lake catalog copy`: SQLite to PostgreSQL and back keeps every snapshot, so every report
    /// at every snapshot reads the same.
    @Test func catalogCopyToPostgresAndBackKeepsEverySnapshot() throws {
        let pg = try PostgresCluster.shared()
        let url = pg.url(database: try pg.createDatabase())
        let dir = try TemporaryDirectory("pg-copy")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake")
        for step in [["init"], ["ingest", "catalog", Self.evaluation.appendingPathComponent("product_catalog.json").path, "--quiet"],
                     ["ingest", "inventory", Self.evaluation.appendingPathComponent("inventory_updates.csv").path, "--quiet"],
                     ["ingest", "orders", Self.evaluation.appendingPathComponent("orders_stream.jsonl").path, "--quiet"], ["compact"]] {
            _ = try lake(step, root: root, catalog: nil)
        }
        let probes: [[String]] = ["daily-revenue", "top-products", "inventory", "customers", "top-customers"].map { ["report", $0, "--format", "json"] }
            + (1 ... 4).map { ["report", "tables", "--format", "json", "--as-of", "\($0)"] }
            + [["report", "daily-revenue", "--format", "json", "--as-of", "4"], ["snapshots"], ["tables"]]
        func outputs(_ catalog: String?) throws -> [String] { try probes.map { try lake($0, root: root, catalog: catalog) } }
        let before = try outputs(nil)
        let copied = try lake(["catalog", "copy", "--to", url], root: root, catalog: nil)
        #expect(copied.hasPrefix("Copied "), "\(copied)")
        #expect(!copied.contains(PostgresCluster.password), "the password was printed: \(copied)")
        #expect(try outputs(url) == before)
        // Into a catalog that already exists: refused.
        let again = try runProcess(packageRoot.appendingPathComponent(".build/debug/lake").path,
                                   ["catalog", "copy", "--to", url, "--lake", root.path])
        #expect(again.status != 0 && again.err.contains("already holds a DuckLake catalog"))
        // And back: the SQLite manifest rebuilt from PostgreSQL reads the same.
        let manifest = root.appendingPathComponent("manifest.sqlite")
        try FileManager.default.moveItem(at: manifest, to: dir.url.appendingPathComponent("manifest.orig"))
        for side in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: manifest.path + side) }
        _ = try lake(["catalog", "copy", "--to", manifest.path], root: root, catalog: url)
        #expect(try outputs(nil) == before)
    }

    /// DuckDB keeps a small DELETE's positions in `ducklake_inlined_delete_<table>`, which the
    /// copy left out: the deleted orders were live again in the copy, for lake and DuckDB alike
    /// (exit 0). And DuckDB registers an empty inlined-data table at every ALTER, which made the
    /// copy refuse for good ("flush first", which does not unregister it).
    @Test func catalogCopyCarriesDuckDBsInlinedDeletes() throws {
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase("inldel")
        let url = pg.url(database: database)
        let dir = try TemporaryDirectory("pg-copy-inlined-deletes")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake")
        for step in [["init"], ["ingest", "catalog", Self.evaluation.appendingPathComponent("product_catalog.json").path, "--quiet"],
                     ["ingest", "orders", Self.evaluation.appendingPathComponent("orders_stream.jsonl").path, "--quiet"]] {
            _ = try lake(step, root: root, catalog: nil)
        }
        let inlined = try Python.run(Python.duckdbPrelude + """
            import sqlite3
            con = duck()
            con.execute("ATTACH 'ducklake:sqlite:" + sys.argv[1] + "/manifest.sqlite' AS l (DATA_PATH '" + sys.argv[1] + "/', OVERRIDE_DATA_PATH TRUE)")
            con.execute("ALTER TABLE l.curated.orders ADD COLUMN note VARCHAR")
            con.execute("DELETE FROM l.curated.orders WHERE order_id IN (SELECT order_id FROM l.curated.orders ORDER BY order_id LIMIT 2)")
            con.close()
            db = sqlite3.connect(sys.argv[1] + "/manifest.sqlite")
            names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'ducklake_inlined_delete_%'")]
            print(sum(db.execute("SELECT count(*) FROM " + n).fetchone()[0] for n in names),
                  db.execute("SELECT count(*) FROM ducklake_inlined_data_tables").fetchone()[0])
            """, [root.path]).split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(inlined == [2, 1], "DuckDB inlined the deletes and registered a layout: \(inlined)")
        let count = ["query", "curated.orders", "--agg", "count(*)", "--format", "csv"]
        let before = try lake(count, root: root, catalog: nil)
        _ = try lake(["catalog", "copy", "--to", url], root: root, catalog: nil)
        #expect(try lake(count, root: root, catalog: url) == before)
        let keywords = pg.keywords(database: database) + " password=\(PostgresCluster.password)"
        let theirs = try Python.run(Python.duckdbPrelude + """
            con = duck()
            con.execute("LOAD '" + extension_file("postgres_scanner", "postgres_scanner") + "'")
            con.execute("ATTACH 'ducklake:postgres:" + sys.argv[1] + "' AS l (DATA_PATH '" + sys.argv[2] + "/', OVERRIDE_DATA_PATH TRUE)")
            print(con.execute("SELECT count(*) FROM l.curated.orders").fetchone()[0])
            """, [keywords, root.path])
        #expect(before.split(separator: "\n").last.map(String.init) == theirs.trimmingCharacters(in: .whitespacesAndNewlines), "\(before) vs DuckDB \(theirs)")
        // And back into SQLite.
        let manifest = root.appendingPathComponent("manifest.sqlite")
        try FileManager.default.moveItem(at: manifest, to: dir.url.appendingPathComponent("manifest.orig"))
        for side in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: manifest.path + side) }
        _ = try lake(["catalog", "copy", "--to", manifest.path], root: root, catalog: url)
        #expect(try lake(count, root: root, catalog: nil) == before)
    }

    /// A lake DuckDB 1.5.5 wrote into PostgreSQL (its own DDL, data path and files) reads the
    /// same through `lake query --catalog`, at the latest snapshot and at an earlier one. Its
    /// data path is not the `--lake` directory: the files are read where the catalog says.
    @Test func weReadALakeDuckDBWroteIntoPostgres() throws {
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase("duckwrote")
        let dir = try TemporaryDirectory("pg-duckwrote")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let script = Python.duckdbPrelude + """
        con = duck()
        con.execute("LOAD '" + extension_file("postgres_scanner", "postgres_scanner") + "'")
        con.execute("ATTACH 'ducklake:postgres:" + sys.argv[1] + "' AS l (DATA_PATH '" + sys.argv[2] + "/', DATA_INLINING_ROW_LIMIT 0)")
        con.execute("CREATE SCHEMA l.curated")
        con.execute("CREATE TABLE l.curated.sales (id BIGINT, region VARCHAR, amount DOUBLE)")
        con.execute("INSERT INTO l.curated.sales SELECT i, CASE WHEN i % 3 = 0 THEN 'north' ELSE 'south' END, i * 1.5 FROM range(1000) t(i)")
        first = con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('l')").fetchone()[0]
        con.execute("INSERT INTO l.curated.sales SELECT i, 'east', i * 2.0 FROM range(1000, 1500) t(i)")
        con.execute("DELETE FROM l.curated.sales WHERE id < 100")
        rows = con.execute("SELECT region, count(*), sum(amount) FROM l.curated.sales GROUP BY 1 ORDER BY 1").fetchall()
        old = con.execute("SELECT count(*) FROM l.curated.sales AT (VERSION => " + str(first) + ")").fetchone()[0]
        print(json.dumps({"first": first, "rows": [[r[0], r[1], r[2]] for r in rows], "old": old}))
        """
        let keywords = pg.keywords(database: database) + " password=\(PostgresCluster.password)"
        let dataDir = dir.url.appendingPathComponent("duckdb-data")
        let duck = try #require(try Python.json(script, [keywords, dataDir.path]) as? [String: Any])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty, "DuckDB wrote under its DATA_PATH only")
        let url = pg.url(database: database)
        let ours = try lake(["query", "curated.sales", "--group-by", "region", "--agg", "count(*)", "--agg", "sum(amount)",
                             "--order-by", "region", "--format", "csv"], root: root, catalog: url)
        let expected = ((duck["rows"] as? [[Any]]) ?? []).map { r in "\(r[0]),\(r[1])" }
        let got = ours.split(separator: "\n").dropFirst().map { $0.split(separator: ",").prefix(2).joined(separator: ",") }
        #expect(expected.count == 3)
        #expect(got == expected, "lake: \(ours)\nDuckDB: \(duck)")
        let first = try #require(duck["first"] as? Int)
        let old = try lake(["query", "curated.sales", "--agg", "count(*)", "--as-of", "\(first)", "--format", "csv"], root: root, catalog: url)
        #expect(old.split(separator: "\n").last.map(String.init) == "\(duck["old"] as? Int ?? -1)", "\(old)")
    }

    /// Our DuckLake tables on PostgreSQL are DuckDB's: the same columns, types, order and
    /// primary keys as DuckDB 1.5.5's ducklake extension creates in an empty database.
    @Test func ourPostgresTablesAreDuckDBs() throws {
        let pg = try PostgresCluster.shared()
        let theirs = try pg.createDatabase("duck"), ours = try pg.createDatabase("ours")
        let dir = try TemporaryDirectory("pg-ddl")
        defer { dir.remove() }
        let script = Python.duckdbPrelude + """
        con = duck()
        con.execute("LOAD '" + extension_file("postgres_scanner", "postgres_scanner") + "'")
        con.execute("ATTACH 'ducklake:postgres:" + sys.argv[1] + "' AS l (DATA_PATH '" + sys.argv[2] + "/')")
        print(json.dumps(1))
        """
        _ = try Python.run(script, [pg.keywords(database: theirs) + " password=\(PostgresCluster.password)", dir.path])
        _ = try lake(["init"], root: dir.url.appendingPathComponent("lake"), catalog: pg.url(database: ours))
        let columns = """
            SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name LIKE 'ducklake%' ORDER BY table_name, ordinal_position
            """
        let keys = """
            SELECT tc.table_name || ' ' || kcu.column_name FROM information_schema.table_constraints tc
            JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name
            WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_name LIKE 'ducklake%' ORDER BY 1
            """
        let a = try pg.psql(theirs, columns), b = try pg.psql(ours, columns)
        #expect(a.split(separator: "\n").count > 150)
        #expect(a == b)
        #expect(try pg.psql(theirs, keys) == (try pg.psql(ours, keys)))
    }

    /// Unreachable server, wrong password, a database that is not a lake: a clear error, a
    /// non-zero exit, no password in the output, nothing written.
    @Test func badConnectionsFailClearly() throws {
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase()
        let dir = try TemporaryDirectory("pg-bad")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake")
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        func run(_ args: [String], _ catalog: String) throws -> (status: Int32, out: String, err: String) {
            try runProcess(exe, args + ["--lake", root.path, "--catalog", catalog])
        }
        // Unreachable: nothing listens on the port after the cluster's.
        let dead = "postgresql://lake:sekrit@127.0.0.1:1/\(database)"
        let unreachable = try run(["report", "daily-revenue"], dead)
        #expect(unreachable.status != 0)
        #expect(unreachable.err.contains("cannot connect"))
        #expect(!unreachable.err.contains("sekrit") && !unreachable.out.contains("sekrit"))
        // Wrong password.
        let wrong = try run(["init"], pg.url(database: database, password: "wrong-pw"))
        #expect(wrong.status != 0)
        #expect(wrong.err.contains("password authentication failed"))
        #expect(!wrong.err.contains("wrong-pw"))
        #expect(try pg.psql(database, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        // A database with other tables is not a lake: refused, left as it was.
        _ = try pg.psql(database, "CREATE TABLE customers (id int)")
        let notLake = try run(["init"], pg.url(database: database))
        #expect(notLake.status != 0)
        #expect(notLake.err.contains("no DuckLake catalog"))
        #expect(try pg.psql(database, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        let read = try run(["report", "daily-revenue"], pg.url(database: database))
        #expect(read.status != 0)
        // A catalog of a newer DuckLake version: read, never written.
        let newer = try pg.createDatabase("newer")
        #expect(try run(["init"], pg.url(database: newer)).status == 0)
        _ = try pg.psql(newer, "UPDATE ducklake_metadata SET value = '1.1' WHERE key = 'version' AND scope IS NULL")
        let before = try pg.psql(newer, "SELECT count(*) FROM ducklake_snapshot")
        let write = try run(["ingest", "catalog", Self.evaluation.appendingPathComponent("product_catalog.json").path], pg.url(database: newer))
        #expect(write.status != 0)
        #expect(write.err.contains("DuckLake 1.1 catalog, newer than the 1.0"), "\(write.err)")
        #expect(try pg.psql(newer, "SELECT count(*) FROM ducklake_snapshot") == before)
        #expect(try run(["snapshots"], pg.url(database: newer)).status == 0, "a newer catalog is still read")
    }
}
