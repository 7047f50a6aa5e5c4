import Foundation
import LakeTestSupport
import Testing

/// Session 19 probe: an orders ingest checked at its commit only for data files added to
/// curated.orders since its base. Two other writes between its base and its commit went unseen:
/// - `lake delete` of orders the batch had rejected as duplicates (a day deleted while its
///   corrected file is ingested again): the ingest committed, exit 0, its lines rejected as
///   `duplicate_order` and their orders deleted, so neither was in the lake;
/// - DuckDB's small INSERT, kept inlined in the catalog (no data file, no key run): the ingest
///   committed the same order id again, a duplicate across the two writers.
/// Both now make the commit a conflict: a file is re-read from a new base, a stream (here a FIFO,
/// which holds the ingest between its base and its commit) cannot be and fails naming the
/// conflict, nothing committed.
@Suite(.serialized) struct ConcurrentWriterTests {
    static func lakeCSV(_ args: [String]) throws -> [[String]] {
        let r = try runLake(args + ["--format", "csv"])
        #expect(r.status == 0, "\(args): \(r.err)")
        return r.out.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    static func latestSnapshot(_ root: String, _ catalog: [String] = []) throws -> String {
        try lakeCSV(["snapshots", "--lake", root] + catalog).last?.first ?? ""
    }

    static func count(_ root: String, _ catalog: [String] = [], where conditions: [String] = []) throws -> Int {
        let rows = try lakeCSV(["query", "curated.orders", "--lake", root, "--agg", "count(*)"] + catalog + conditions.flatMap { ["--where", $0] })
        return Int(rows.first?.first ?? "") ?? -1
    }

    /// `lake generate` of `orders` clean orders into DIR/gen and their product catalog ingested
    /// into the lake at DIR/lake (with `catalog`, a catalog made with `lake init` first); the
    /// lake's path and the generated order lines.
    static func lakeWithCatalog(_ dir: TemporaryDirectory, orders: Int, seed: Int, catalog: [String] = []) throws -> (root: String, gen: String, lines: [Substring]) {
        let root = dir.file("lake"), gen = dir.file("gen")
        var r = try runLake(["generate", "--orders", "\(orders)", "--clean", "--seed", "\(seed)", "--out", gen])
        #expect(r.status == 0, "\(r.err)")
        r = try runLake(["ingest", "catalog", "--lake", root, gen + "/product_catalog.json"] + catalog)
        #expect(r.status == 0, "\(r.err)")
        return (root, gen, try String(contentsOfFile: gen + "/orders_stream.jsonl", encoding: .utf8).split(separator: "\n"))
    }

    /// Starts `lake ingest orders` on a FIFO, sends `lines`, waits until the ingest surely took its
    /// base, runs `meanwhile`, then ends the stream; the ingest's exit status and stderr.
    static func ingestThroughFIFO(root: String, catalog: [String] = [], dir: TemporaryDirectory, lines: [Substring],
                                  meanwhile: () throws -> Void) throws -> (status: Int32, err: String) {
        let name = UUID().uuidString.prefix(8)
        let ingest = try FIFOIngest(root: root, fifo: dir.file("orders-\(name).fifo"), errFile: dir.file("err-\(name)"), arguments: catalog)
        let writer = ingest.writer
        var bytes = Array(lines.joined(separator: "\n").utf8)
        bytes.append(UInt8(ascii: "\n"))
        _ = bytes.withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }
        // The ingest reads its base and the committed ids before its first line: once the FIFO
        // is empty it has both (a fixed sleep could end first on a loaded machine).
        var unread: Int32 = 1, waited = 0.0
        while unread > 0 && ingest.process.isRunning && waited < 120 {
            #expect(ioctl(writer, UInt(FIONREAD), &unread) == 0)
            if unread > 0 { Thread.sleep(forTimeInterval: 0.05); waited += 0.05 }
        }
        #expect(unread == 0, "the ingest left \(unread) bytes of the FIFO unread for 120 s")
        try meanwhile()
        close(writer)
        ingest.process.waitUntilExit()
        return (ingest.process.terminationStatus, ingest.err)
    }

    @Test("a delete of the orders a streamed ingest rejects as duplicates, committed while it reads: the ingest fails as a conflict, nothing committed; sent again, the orders are back",
          arguments: ["sqlite", "postgresql"])
    func deleteRacingAnIngestOfTheSameOrders(catalogKind: String) throws {
        let dir = try TemporaryDirectory("concurrent-delete")
        defer { dir.remove() }
        var catalog: [String] = []
        if catalogKind == "postgresql" {
            let pg = try PostgresCluster.shared()
            catalog = ["--catalog", pg.url(database: try pg.createDatabase("concurrent"))]
            let r = try runLake(["init", "--lake", dir.file("lake")] + catalog)
            #expect(r.status == 0, "\(r.err)")
        }
        let (root, gen, lines) = try Self.lakeWithCatalog(dir, orders: 300, seed: 19, catalog: catalog)
        var r = try runLake(["ingest", "orders", "--lake", root, gen + "/orders_stream.jsonl"] + catalog)
        #expect(r.status == 0, "\(r.err)")
        let all = try Self.count(root, catalog), web = try Self.count(root, catalog, where: ["channel = web"])
        try #require(web > 0 && web < all)

        // The same orders in another order: content the ledger does not hold (it would skip an
        // exact copy as already ingested), every line a duplicate of a committed order.
        var deleted = ""
        let ingest = try Self.ingestThroughFIFO(root: root, catalog: catalog, dir: dir, lines: lines.reversed()) {
            let d = try runLake(["delete", "curated.orders", "--lake", root, "--where", "channel = web"] + catalog)
            #expect(d.status == 0, "\(d.err)")
            deleted = try Self.latestSnapshot(root, catalog)
        }
        #expect(ingest.status != 0, "the ingest committed over the delete: \(ingest.err)")
        #expect(ingest.err.contains("another writer committed to curated.orders") && ingest.err.contains("send the data again"), "\(ingest.err)")
        #expect(try Self.latestSnapshot(root, catalog) == deleted, "a snapshot was committed after the delete")
        #expect(try Self.count(root, catalog) == all - web)

        // Sent again (rotated: not the ledger's content either): the web orders are back.
        try ((lines.dropFirst() + lines.prefix(1)).joined(separator: "\n") + "\n").write(toFile: dir.file("again.jsonl"), atomically: true, encoding: .utf8)
        r = try runLake(["ingest", "orders", "--lake", root, dir.file("again.jsonl")] + catalog)
        #expect(r.status == 0, "\(r.err)")
        #expect(try Self.count(root, catalog) == all)
        #expect(try Self.count(root, catalog, where: ["channel = web"]) == web)
        r = try runLake(["verify", "--lake", root] + catalog)
        #expect(r.status == 0, "\(r.out)\(r.err)")
    }

    /// Session 28's bug hunt: the commit-time check counted curated.orders' rows without the
    /// rows delete files remove, so once a `lake delete` had run (and the next ingest stored the
    /// live ids as a new baseline run) the key runs never covered the table again: every ingest
    /// that another commit to curated.orders overtook was a conflict, ids disjoint or not. A
    /// stream cannot be read twice, so it failed; a file ingest beside a follower ran out of tries.
    @Test("after a lake delete, a streamed ingest overtaken by a disjoint file ingest commits: both land, every order once")
    func disjointIngestsAfterADelete() throws {
        let dir = try TemporaryDirectory("delete-then-race")
        defer { dir.remove() }
        let (root, _, lines) = try Self.lakeWithCatalog(dir, orders: 400, seed: 28)
        func ingest(_ part: ArraySlice<Substring>, _ name: String) throws {
            try (part.joined(separator: "\n") + "\n").write(toFile: dir.file(name), atomically: true, encoding: .utf8)
            let r = try runLake(["ingest", "orders", "--lake", root, dir.file(name)])
            #expect(r.status == 0, "\(name): \(r.err)")
        }
        try ingest(lines[0 ..< 100], "a.jsonl")
        let d = try runLake(["delete", "curated.orders", "--lake", root, "--where", "channel = web"])
        #expect(d.status == 0, "\(d.err)")
        let afterDelete = try Self.count(root)
        try #require(afterDelete > 0 && afterDelete < 100)
        // The first ingest after the delete reads the live ids from the files: a baseline run.
        try ingest(lines[100 ..< 200], "b.jsonl")
        let streamed = try Self.ingestThroughFIFO(root: root, dir: dir, lines: Array(lines[200 ..< 300])) {
            try ingest(lines[300 ..< 400], "d.jsonl")
        }
        #expect(streamed.status == 0, "the streamed ingest of disjoint orders failed: \(streamed.err)")
        #expect(try Self.count(root) == afterDelete + 300)
        let r = try runLake(["verify", "--lake", root])
        #expect(r.status == 0, "\(r.out)\(r.err)")
    }

    @Test("DuckDB inserts an order inlined in the catalog while a streamed ingest of the same order id reads: the ingest fails as a conflict, no order id twice")
    func inlinedInsertRacingAnIngestOfTheSameID() throws {
        let dir = try TemporaryDirectory("concurrent-inlined")
        defer { dir.remove() }
        let (root, _, lines) = try Self.lakeWithCatalog(dir, orders: 50, seed: 23)
        // The table exists (an ingest of one order) before DuckDB writes into it.
        try (String(lines[0]) + "\n").write(toFile: dir.file("first.jsonl"), atomically: true, encoding: .utf8)
        let r = try runLake(["ingest", "orders", "--lake", root, dir.file("first.jsonl")])
        #expect(r.status == 0, "\(r.err)")
        let object = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any]
        let id: String = try #require(object?["order_id"] as? String)
        let script = Python.duckdbPrelude + """
        root, order_id = sys.argv[1], sys.argv[2]
        c = duck()
        c.execute("SET TimeZone = 'UTC'")
        c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 10)")
        insert_duck_order(c, "l", order_id, "web")
        """
        let ingest = try Self.ingestThroughFIFO(root: root, dir: dir, lines: Array(lines.dropFirst())) {
            try Python.run(script, [root, id])
        }
        #expect(ingest.status != 0, "the ingest committed order \(id) again: \(ingest.err)")
        #expect(ingest.err.contains("another writer committed to curated.orders"), "\(ingest.err)")
        let dup = try Self.lakeCSV(["query", "curated.orders", "--lake", root, "--group-by", "order_id", "--agg", "count(*)",
                                   "--order-by", "count(*) desc", "--limit", "1"])
        #expect(dup.first?.last == "1", "an order id is in curated.orders twice: \(dup)")
        #expect(try Self.count(root, where: ["order_id = \(id)"]) == 1)
    }

    /// Session 20: DuckDB's DELETE records no ids, so the check above did not see it. A DuckDB
    /// DELETE of orders a streamed ingest rejects as committed duplicates, committed while it
    /// reads: on main the ingest committed, exit 0, and the orders were in neither curated nor
    /// accepted raw. `rows`: "many" deletes the web orders (a delete file per data file), "few"
    /// three orders (kept as inlined deletions in the catalog), "other" the web orders while the
    /// batch holds none of them (no conflict: the ingest commits), "inlined" an order DuckDB
    /// inserted inlined in the catalog (its row deleted there), "day" every order of one event
    /// date (DuckDB ends those data files instead), "compacted" 40 orders, then `lake compact`
    /// rewrites their files without the deleted rows (a snapshot that deletes nothing) before
    /// the ingest commits, "update" DuckDB's UPDATE of three orders (a delete and an insert, both
    /// inlined in the catalog: the orders remain, the ingest commits; a larger UPDATE writes a
    /// data file without key runs, which conflicts by the coverage rule as on main).
    @Test("DuckDB deletes orders a streamed ingest rejects as committed duplicates while it reads: a conflict, nothing committed; orders it does not hold: no conflict",
          arguments: [("sqlite", "many"), ("sqlite", "few"), ("sqlite", "other"), ("sqlite", "inlined"), ("sqlite", "day"), ("sqlite", "compacted"), ("sqlite", "update"),
                     ("postgresql", "many"), ("postgresql", "few")])
    func duckDBDeleteRacingAnIngestOfTheSameOrders(catalogKind: String, rows: String) throws {
        let dir = try TemporaryDirectory("concurrent-duck-delete")
        defer { dir.remove() }
        var catalog: [String] = [], attach = ""
        if catalogKind == "postgresql" {
            let pg = try PostgresCluster.shared()
            let database = try pg.createDatabase("duckdelete")
            catalog = ["--catalog", pg.url(database: database)]
            attach = "postgres:" + pg.keywords(database: database) + " password=\(PostgresCluster.password)"
            let r = try runLake(["init", "--lake", dir.file("lake")] + catalog)
            #expect(r.status == 0, "\(r.err)")
        }
        let (root, gen, lines) = try Self.lakeWithCatalog(dir, orders: 300, seed: 20, catalog: catalog)
        if attach.isEmpty { attach = "sqlite:" + root + "/manifest.sqlite" }
        var r = try runLake(["ingest", "orders", "--lake", root, gen + "/orders_stream.jsonl"] + catalog)
        if rows == "compacted" {
            // Two files per partition, so that `lake compact` rewrites them.
            try (lines.prefix(150).joined(separator: "\n") + "\n").write(toFile: dir.file("a.jsonl"), atomically: true, encoding: .utf8)
            try (lines.dropFirst(150).joined(separator: "\n") + "\n").write(toFile: dir.file("b.jsonl"), atomically: true, encoding: .utf8)
            r = try runLake(["ingest", "orders", "--lake", root, dir.file("a.jsonl")] + catalog)
            #expect(r.status == 0, "\(r.err)")
            r = try runLake(["ingest", "orders", "--lake", root, dir.file("b.jsonl")] + catalog)
        }
        #expect(r.status == 0, "\(r.err)")
        func id(_ line: Substring) -> String { ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["order_id"] as? String ?? "" }
        func isWeb(_ line: Substring) -> Bool { ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["channel"] as? String == "web" }
        var batch = Array(lines.reversed()), condition = "channel = 'web'"
        switch rows {
        case "few", "update": condition = "order_id IN (" + batch.prefix(3).map { "'" + id($0) + "'" }.joined(separator: ", ") + ")"
        case "compacted": condition = "order_id IN (" + lines.prefix(40).map { "'" + id($0) + "'" }.joined(separator: ", ") + ")"
        case "other": batch = batch.filter { !isWeb($0) }
        case "inlined":
            // An order DuckDB inserted (inlined: no data file), then a batch that holds its id.
            condition = "order_id = 'DUCK-INLINED-1'"
            let insert = Python.duckdbPrelude + """
            c = duck()
            c.execute("ATTACH 'ducklake:" + sys.argv[1] + "' AS l (DATA_PATH '" + sys.argv[2] + "/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 10)")
            insert_duck_order(c, "l", "DUCK-INLINED-1", "web")
            """
            try Python.run(insert, [attach, root])
            var object = try #require(try JSONSerialization.jsonObject(with: Data(batch[0].utf8)) as? [String: Any])
            object["order_id"] = "DUCK-INLINED-1"
            batch.insert(Substring(String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)), at: 0)
        case "day":
            let day = try #require(try Self.lakeCSV(["query", "curated.orders", "--lake", root, "--group-by", "event_date", "--agg", "count(*)",
                                                    "--order-by", "count(*) desc", "--limit", "1"] + catalog).first?.first)
            condition = "event_date = DATE '\(day)'"
        default: break
        }
        let all = try Self.count(root, catalog)
        let doomedIDs = rows == "few" || rows == "update" ? batch.prefix(3).map(id) : rows == "compacted" ? lines.prefix(40).map(id) : rows == "inlined" ? ["DUCK-INLINED-1"] : []
        let doomed = condition.hasPrefix("event_date") ? try Self.count(root, catalog, where: ["event_date = \(condition.dropFirst(19).dropLast())"])
            : doomedIDs.isEmpty ? try Self.count(root, catalog, where: ["channel = web"])
            : try doomedIDs.reduce(0) { $0 + (try Self.count(root, catalog, where: ["order_id = \($1)"])) }
        try #require(doomed > 0 && doomed < all, "\(doomed) of \(all)")
        let delete = Python.duckdbPrelude + """
        c = duck()
        if sys.argv[1].startswith("postgres:"):
            c.execute("LOAD '" + extension_file("postgres_scanner", "postgres_scanner") + "'")
        c.execute("ATTACH 'ducklake:" + sys.argv[1] + "' AS l (DATA_PATH '" + sys.argv[2] + "/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT " + sys.argv[4] + ")")
        c.execute("BEGIN")
        if sys.argv[5] == "update":
            c.execute("UPDATE l.curated.orders SET status = 'cancelled' WHERE " + sys.argv[3])
            c.execute("COMMIT")
            sys.exit(0)
        c.execute("DELETE FROM l.curated.order_items WHERE order_id IN (SELECT order_id FROM l.curated.orders WHERE " + sys.argv[3] + ")")
        c.execute("DELETE FROM l.curated.orders WHERE " + sys.argv[3])
        c.execute("COMMIT")
        """
        var deleted = ""
        let ingest = try Self.ingestThroughFIFO(root: root, catalog: catalog, dir: dir, lines: batch) {
            // Without inlining DuckDB ends a data file whose every row it deletes.
            try Python.run(delete, [attach, root, condition, rows == "day" ? "0" : "10", rows])
            if rows == "compacted" {
                let c = try runLake(["compact", "curated.orders", "--lake", root, "--min-files", "2"] + catalog)
                #expect(c.status == 0 && !c.out.contains("nothing to compact"), "\(c.out)\(c.err)")
            }
            deleted = try Self.latestSnapshot(root, catalog)
        }
        if rows == "update" {
            // DuckDB's UPDATE deletes and inserts: the orders are still there, the ingest commits.
            #expect(ingest.status == 0, "\(ingest.err)")
            #expect(try Self.count(root, catalog) == all)
            #expect(try doomedIDs.reduce(0) { $0 + (try Self.count(root, catalog, where: ["order_id = \($1)", "status = cancelled"])) } == doomed)
            return
        }
        #expect(try Self.count(root, catalog, where: rows == "other" ? ["channel = web"] : []) == (rows == "other" ? 0 : all - doomed))
        if rows == "other" {
            // None of the deleted orders is among the batch's: the ingest commits (no retry needed).
            #expect(ingest.status == 0, "\(ingest.err)")
            #expect(try Self.latestSnapshot(root, catalog) != deleted)
            return
        }
        #expect(ingest.status != 0, "the ingest committed over DuckDB's delete, its lines rejected as duplicates of deleted orders: \(ingest.err)")
        #expect(ingest.err.contains("another writer committed to curated.orders") && ingest.err.contains("send the data again"), "\(ingest.err)")
        #expect(try Self.latestSnapshot(root, catalog) == deleted, "a snapshot was committed after DuckDB's delete")

        // Sent again as a file: the deleted orders are back, each once.
        try (batch.joined(separator: "\n") + "\n").write(toFile: dir.file("again.jsonl"), atomically: true, encoding: .utf8)
        r = try runLake(["ingest", "orders", "--lake", root, dir.file("again.jsonl")] + catalog)
        #expect(r.status == 0, "\(r.err)")
        #expect(try Self.count(root, catalog) == all)
        let dup = try Self.lakeCSV(["query", "curated.orders", "--lake", root, "--group-by", "order_id", "--agg", "count(*)",
                                   "--order-by", "count(*) desc", "--limit", "1"] + catalog)
        #expect(dup.first?.last == "1", "an order id is in curated.orders twice: \(dup)")
    }

    /// Session 20: a batch ingest of orders a `--follow` is committing every 0.2 s conflicted on
    /// each attempt while the follower went through the shared ids, and three immediate retries
    /// ran out in seconds: exit 1 although the race ends once the follower has passed them. The
    /// retries now back off (jittered, doubling, bounded in count and time), so the batch lands.
    @Test("a batch ingest of the orders a --follow is committing every 0.2 s: the batch lands after backing off, every order once")
    func batchIngestBesideAFollower() throws {
        let dir = try TemporaryDirectory("concurrent-follow")
        defer { dir.remove() }
        let (root, _, lines) = try Self.lakeWithCatalog(dir, orders: 3000, seed: 31)
        let followed = dir.file("live.jsonl")
        #expect(FileManager.default.createFile(atPath: followed, contents: nil))
        let follower = Process()
        follower.executableURL = lakeBinary
        follower.arguments = ["ingest", "orders", "--lake", root, "--quiet", "--follow", "--commit-every", "40", "--commit-interval", "0.2", followed]
        #expect(FileManager.default.createFile(atPath: dir.file("follow.err"), contents: nil))
        follower.standardOutput = FileHandle.nullDevice
        follower.standardError = FileHandle(forWritingAtPath: dir.file("follow.err"))
        try follower.run()
        defer { if follower.isRunning { follower.terminate(); follower.waitUntilExit() } }
        // About 300 lines a second, for 10 s.
        detachThread {
            guard let h = FileHandle(forWritingAtPath: followed) else { return }
            for start in stride(from: 0, to: lines.count, by: 60) {
                h.seekToEndOfFile()
                h.write(Data((lines[start ..< min(start + 60, lines.count)].joined(separator: "\n") + "\n").utf8))
                Thread.sleep(forTimeInterval: 0.2)
            }
            try? h.close()
        }
        Thread.sleep(forTimeInterval: 1)
        try (lines.reversed().joined(separator: "\n") + "\n").write(toFile: dir.file("batch.jsonl"), atomically: true, encoding: .utf8)
        let batch = try runLake(["ingest", "orders", "--lake", root, dir.file("batch.jsonl")])
        #expect(batch.status == 0, "the batch ingest gave up beside the follower: \(batch.err)")
        // The follower goes on to the end of its file.
        let deadline = Date().addingTimeInterval(90)
        while try Self.count(root) < lines.count && Date() < deadline { Thread.sleep(forTimeInterval: 0.5) }
        #expect(follower.isRunning, "the follower ended: \((try? String(contentsOfFile: dir.file("follow.err"), encoding: .utf8)) ?? "")")
        #expect(try Self.count(root) == lines.count)
        let dup = try Self.lakeCSV(["query", "curated.orders", "--lake", root, "--group-by", "order_id", "--agg", "count(*)",
                                   "--order-by", "count(*) desc", "--limit", "1"])
        #expect(dup.first?.last == "1", "an order id is in curated.orders twice: \(dup)")
    }

    @Test("two `lake ingest orders` of overlapping files at once: both exit 0, every order once, verify clean", arguments: [0.0, 0.15])
    func overlappingIngestsAtOnce(stagger: Double) throws {
        let dir = try TemporaryDirectory("concurrent-ingests")
        defer { dir.remove() }
        let (root, _, lines) = try Self.lakeWithCatalog(dir, orders: 600, seed: 29)
        try (lines[0 ..< 400].joined(separator: "\n") + "\n").write(toFile: dir.file("a.jsonl"), atomically: true, encoding: .utf8)
        try (lines[200 ..< 600].joined(separator: "\n") + "\n").write(toFile: dir.file("b.jsonl"), atomically: true, encoding: .utf8)
        let processes = try ["a.jsonl", "b.jsonl"].map { name -> (Process, String) in
            let p = Process()
            p.executableURL = lakeBinary
            p.arguments = ["ingest", "orders", "--lake", root, dir.file(name)]
            let err = dir.file(name + ".err")
            #expect(FileManager.default.createFile(atPath: err, contents: nil))
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle(forWritingAtPath: err)
            try p.run()
            Thread.sleep(forTimeInterval: stagger)
            return (p, err)
        }
        for (p, err) in processes {
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "\((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")")
        }
        #expect(try Self.count(root) == 600)
        let dup = try Self.lakeCSV(["query", "curated.orders", "--lake", root, "--group-by", "order_id", "--agg", "count(*)",
                                   "--order-by", "count(*) desc", "--limit", "1"])
        #expect(dup.first?.last == "1", "an order id is in curated.orders twice: \(dup)")
        let raw = try Self.lakeCSV(["query", "raw.orders", "--lake", root, "--group-by", "reject_reason", "--agg", "count(*)"])
        #expect(Dictionary(uniqueKeysWithValues: raw.map { ($0[0], $0[1]) }) == ["": "600", "duplicate_order": "200"], "\(raw)")
        let r = try runLake(["verify", "--lake", root])
        #expect(r.status == 0, "\(r.out)\(r.err)")
    }
}
