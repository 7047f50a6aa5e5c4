import Foundation
import LakeTestSupport
import Testing

/// `lake ingest orders` processes racing `lake compact` and `lake schema migrate` on one
/// PostgreSQL catalog (issue 18), the counterpart of the SQLite suite's appends against
/// compaction and schema changes: every order lands exactly once, every process exits 0 (the
/// ingest's own conflict retry absorbs the races), no raw driver or lock error reaches a user,
/// and DuckDB counts what we count.
@Suite(.serialized)
struct PostgresMaintenanceRaceTests {
    static let evaluation = packageRoot.appendingPathComponent("Evaluation-Files")
    static let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
    /// What no user should read: SQLite or libpq internals, PostgreSQL's own error lines, lock failures.
    static let rawErrors = ["database is locked", "SQLITE_", "PGRES_", "ERROR:  ", "deadlock detected", "could not serialize",
                            "duplicate key value", "server closed the connection", "stayed locked"]

    typealias Run = (args: [String], status: Int32, out: String, err: String, seconds: Double)

    /// What the racing threads report, behind a lock.
    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var _runs: [Run] = [], _failures: [String] = [], _writersDone = 0
        func record(_ r: Run) { lock.lock(); _runs.append(r); lock.unlock() }
        func fail(_ m: String) { lock.lock(); _failures.append(m); lock.unlock() }
        func writerDone() { lock.lock(); _writersDone += 1; lock.unlock() }
        var runs: [Run] { lock.lock(); defer { lock.unlock() }; return _runs }
        var failures: [String] { lock.lock(); defer { lock.unlock() }; return _failures }
        var writersDone: Int { lock.lock(); defer { lock.unlock() }; return _writersDone }
    }

    /// A one-way signal between the racing threads: `wait` returns once `open` was called (or
    /// after `seconds`, so a broken run fails its expectations instead of hanging).
    final class Gate: @unchecked Sendable {
        private let condition = NSCondition()
        private var isOpen = false
        func open() { condition.lock(); isOpen = true; condition.broadcast(); condition.unlock() }
        func wait(seconds: TimeInterval = 600) {
            let deadline = Date().addingTimeInterval(seconds)
            condition.lock()
            while !isOpen && condition.wait(until: deadline) {}
            condition.unlock()
        }
    }

    func run(_ args: [String], root: URL, catalog: String?, env: [String: String] = [:]) throws -> Run {
        var full = args + ["--lake", root.path]
        if let catalog { full += ["--catalog", catalog] }
        let started = Date()
        let r = try runProcess(Self.exe, full, environment: env)
        return (full, r.status, r.out, r.err, Date().timeIntervalSince(started))
    }

    func lake(_ args: [String], root: URL, catalog: String?, env: [String: String] = [:]) throws -> String {
        let r = try run(args, root: root, catalog: catalog, env: env)
        guard r.status == 0 else { throw TestFailure("lake \(r.args.joined(separator: " ")) exited \(r.status): \(r.err)") }
        return r.out
    }

    /// curated.orders' order ids, one per row (duplicates kept, so a double landing shows).
    func orderIDs(root: URL, catalog: String?) throws -> [String] {
        let csv = try lake(["query", "curated.orders", "--columns", "order_id", "--format", "csv"], root: root, catalog: catalog)
        return csv.split(separator: "\n").dropFirst().map(String.init)
    }

    @Test func ingestsRaceCompactionAndAMigrationOnPostgres() throws {
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase()
        let url = pg.url(database: database)
        let dir = try TemporaryDirectory("pg-maint-race")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake"), reference = dir.url.appendingPathComponent("reference")
        // orders starts at registry v1 so that `schema migrate orders --to 2` has work to race.
        let v1 = ["LAKE_SCHEMAS": try registryV1Copy(dir).path]

        // 20 disjoint batches of 50 lines; batch 0 creates the tables before the race.
        let lines = try String(contentsOf: Self.evaluation.appendingPathComponent("orders_stream.jsonl"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1000)
        var batches: [String] = []
        for (i, start) in stride(from: 0, to: lines.count, by: 50).enumerated() {
            let path = dir.file("batch-\(String(format: "%02d", i)).jsonl")
            try (lines[start ..< min(start + 50, lines.count)].joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            batches.append(path)
        }
        let setup: [[String]] = [["init"], ["ingest", "catalog", Self.evaluation.appendingPathComponent("product_catalog.json").path, "--quiet"],
                                 ["ingest", "orders", batches[0], "--quiet"]]
        for step in setup {
            _ = try lake(step, root: root, catalog: url, env: v1)
            _ = try lake(step, root: reference, catalog: nil, env: v1)
        }
        // The reference: the same batches, one process after another, on SQLite.
        for b in batches.dropFirst() { _ = try lake(["ingest", "orders", b, "--quiet"], root: reference, catalog: nil) }
        _ = try lake(["schema", "migrate", "orders", "--to", "2"], root: reference, catalog: nil)
        let expected = try orderIDs(root: reference, catalog: nil)
        #expect(Set(expected).count == expected.count && expected.count > 800, "reference: \(expected.count) rows")

        // Writers 1-3 split batches 1-19; writer 4 ingests batches 5 and 10 again (the same files).
        let plans: [[String]] = (0 ..< 3).map { w in batches.indices.dropFirst().filter { ($0 - 1) % 3 == w }.map { batches[$0] } }
            + [[batches[5], batches[10]]]

        let results = Results()
        let group = DispatchGroup()
        let started = Date()
        // The interleaving the end of the test checks, made certain rather than left to the
        // machine's speed (a loaded one could run every ingest before the first compaction
        // returned): the first compaction starts once an ingest has committed, and each writer's
        // batches after its first wait for the migration, which follows that compaction. What
        // races stays racing: the writers' first batches with each other, the compaction and the
        // migration; everything after the migration with the compactions that keep running.
        let ingested = Gate(), migratedGate = Gate()
        for plan in plans {
            group.enter()
            DispatchQueue.global().async {
                defer { results.writerDone(); group.leave() }
                for (k, b) in plan.enumerated() {
                    if k == 1 { migratedGate.wait() }
                    do {
                        let r = try run(["ingest", "orders", b, "--quiet"], root: root, catalog: url)
                        results.record(r)
                        if r.status == 0 { ingested.open() }
                    } catch { results.fail("ingest \(b): \(error)") }
                }
            }
        }
        // Maintenance: compactions back to back for as long as the writers run, the migration
        // after the first one; at least three compactions.
        group.enter()
        DispatchQueue.global().async {
            defer { migratedGate.open(); group.leave() }
            ingested.wait()
            var compactions = 0, migrated = false
            while true {
                if results.writersDone == plans.count && compactions >= 3 && migrated { break }
                do {
                    results.record(try run(["compact"], root: root, catalog: url))
                    compactions += 1
                    if !migrated {
                        results.record(try run(["schema", "migrate", "orders", "--to", "2"], root: root, catalog: url))
                        migrated = true
                        migratedGate.open()
                    }
                } catch { results.fail("maintenance: \(error)"); break }
            }
        }
        group.wait()
        let seconds = Date().timeIntervalSince(started)
        let runs = results.runs
        #expect(results.failures.isEmpty, "\(results.failures)")

        for r in runs {
            let command = r.args.prefix(3).joined(separator: " ")
            #expect(r.status == 0, "lake \(command) exited \(r.status): \(r.err)")
            for raw in Self.rawErrors {
                #expect(!r.err.contains(raw) && !r.out.contains(raw), "lake \(command) printed '\(raw)': \(r.err)\(r.out)")
            }
        }
        let ingests = runs.filter { $0.args[0] == "ingest" }, compacts = runs.filter { $0.args[0] == "compact" }
        #expect(ingests.count == plans.map(\.count).reduce(0, +))
        #expect(compacts.count >= 3)
        let migration = runs.first { $0.args[0] == "schema" }
        #expect(migration?.status == 0, "\(migration?.err ?? "no migration ran")")

        // Every order exactly once: the reference's ids, no id twice.
        let ids = try orderIDs(root: root, catalog: url)
        #expect(ids.count == expected.count, "PostgreSQL lake holds \(ids.count) orders, the sequential SQLite lake \(expected.count)")
        #expect(Set(ids).count == ids.count, "\(ids.count - Set(ids).count) orders landed twice")
        #expect(Set(ids) == Set(expected), "missing \(Set(expected).subtracting(ids).sorted().prefix(5)), extra \(Set(ids).subtracting(expected).sorted().prefix(5))")
        // Each file committed once: 20 orders batches, the re-sent two found in the ledger.
        let snapshots = try lake(["snapshots", "--format", "json"], root: root, catalog: url)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(snapshots.utf8)) as? [[String: Any]])
        let messages = rows.map { $0["message"] as? String ?? "" }
        #expect(messages.filter { $0.hasPrefix("ingest orders") }.count == batches.count, "\(messages)")
        let compacted = messages.filter { $0.lowercased().contains("compact") }.count
        #expect(compacted >= 1, "no compaction committed anything: \(messages)")
        #expect(try lake(["tables"], root: root, catalog: url).contains("currency"), "orders is not at v2 after the migration")
        // The race happened: ingests committed both before and after the migration and between
        // compactions (I ingest, C compaction, M migration, in commit order, after the setup).
        let sequence = messages.dropFirst(setup.count + 1).map { m -> Character in
            m.hasPrefix("ingest orders") ? "I" : m.hasPrefix("compact") ? "C" : m.hasPrefix("schema migrate") ? "M" : "?"
        }
        let order = String(sequence)
        #expect(order.contains("M") && order.split(separator: "M", omittingEmptySubsequences: false).allSatisfy { $0.contains("I") },
                "no ingest committed on both sides of the migration: \(order) \(messages)")
        #expect(sequence.indices.contains { i in sequence[i] == "C" && sequence[..<i].contains("I") && sequence[(i + 1)...].contains("I") },
                "no compaction committed between two ingests: \(order)")
        #expect(!sequence.contains("?"), "an unexpected commit: \(order) \(messages)")
        // What the raced lake reports equals the sequential one's, report by report.
        for report in ["daily-revenue", "top-customers"] {
            #expect(try lake(["report", report, "--format", "json"], root: root, catalog: url)
                    == (try lake(["report", report, "--format", "json"], root: reference, catalog: nil)), "report \(report)")
        }

        // DuckDB 1.5.5 counts the same through the PostgreSQL catalog.
        let script = Python.duckdbPrelude + """
        con = duck()
        con.execute("LOAD '" + extension_file("postgres_scanner", "postgres_scanner") + "'")
        con.execute("ATTACH 'ducklake:postgres:" + sys.argv[1] + "' AS l (DATA_PATH '" + sys.argv[2] + "/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
        o = con.execute("SELECT count(*), count(DISTINCT order_id), count(currency) FROM l.curated.orders").fetchone()
        r = con.execute("SELECT count(*) FROM l.raw.orders").fetchone()[0]
        i = con.execute("SELECT count(*) FROM l.curated.order_items").fetchone()[0]
        print(json.dumps({"orders": o[0], "distinct": o[1], "currency": o[2], "raw": r, "items": i}))
        """
        let keywords = pg.keywords(database: database) + " password=\(PostgresCluster.password)"
        let duck = try #require(try Python.json(script, [keywords, root.path]) as? [String: Int])
        #expect(duck["orders"] == ids.count && duck["distinct"] == ids.count && duck["currency"] == ids.count, "DuckDB: \(duck)")
        let tables = try lake(["report", "tables", "--format", "json"], root: root, catalog: url)
        let counts = try #require(try JSONSerialization.jsonObject(with: Data(tables.utf8)) as? [[String: Any]])
        func rowsOf(_ t: String) -> Int? { counts.first { $0["table"] as? String == t }?["rows"] as? Int }
        #expect(duck["raw"] == rowsOf("raw.orders") && duck["raw"] == lines.count, "raw.orders: DuckDB \(duck["raw"] ?? -1), lake \(rowsOf("raw.orders") ?? -1)")
        #expect(duck["items"] == rowsOf("curated.order_items"), "order_items: DuckDB \(duck["items"] ?? -1), lake \(rowsOf("curated.order_items") ?? -1)")

        let slowest = runs.map(\.seconds).max() ?? 0
        print("PostgreSQL maintenance race: \(ingests.count) ingests by 4 processes, \(compacts.count) compactions (\(compacted) committed), 1 migration, commit order \(order), \(String(format: "%.1f", seconds)) s (slowest command \(String(format: "%.1f", slowest)) s); \(ids.count) orders = reference \(expected.count); DuckDB \(duck)")
    }
}
