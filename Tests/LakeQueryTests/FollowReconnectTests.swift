import Foundation
import LakeTestSupport
import Testing

/// A follower on a PostgreSQL catalog whose server goes away (a restart, a failover). Before
/// session 24 it exited 1 at the first statement the server did not answer, and stayed down
/// unless something restarted it. Now it waits (`--reconnect-for`) and goes on from its last
/// commit: every line exactly once, as a one-shot ingest of the whole file into a SQLite lake
/// has it. A private cluster: stopping the shared one would fail the other suites' tests.
@Suite(.serialized)
struct FollowReconnectTests {
    static let exe = packageRoot.appendingPathComponent(".build/debug/lake").path

    func lake(_ args: [String]) throws -> String {
        let r = try runProcess(Self.exe, args)
        guard r.status == 0 else { throw TestFailure("lake \(args.joined(separator: " ")) exited \(r.status): \(r.err)") }
        return r.out
    }

    /// The figures compared with the reference: every line once in raw, the accepted orders
    /// and their money, the items.
    func figures(root: String, catalog: [String]) throws -> [String] {
        let on = ["--lake", root, "--format", "csv"] + catalog
        return [
            try lake(["query", "raw.orders", "--agg", "count(*)", "--agg", "count_distinct(line_number)"] + on),
            try lake(["query", "orders", "--agg", "count(*)", "--agg", "count_distinct(order_id)", "--agg", "sum(order_total)"] + on),
            try lake(["query", "order_items", "--agg", "count(*)"] + on),
        ]
    }

    func rawRows(root: String, catalog: [String]) throws -> Int? {
        let csv = try lake(["query", "raw.orders", "--agg", "count(*)", "--lake", root, "--format", "csv"] + catalog)
        return csv.split(separator: "\n").dropFirst().first.flatMap { Int($0) }
    }

    /// `lake generate` of `orders` into dir/src; the orders file's lines.
    func generatedLines(_ orders: Int, in dir: TemporaryDirectory) throws -> ArraySlice<Substring> {
        _ = try lake(["generate", "--orders", "\(orders)", "--out", dir.file("src")])
        return try String(contentsOfFile: dir.file("src/orders_stream.jsonl"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).dropLast()
    }

    /// Appends `lines` to the followed file, one write per line, as a producer would.
    func append(_ lines: ArraySlice<Substring>, to path: String) throws {
        guard let h = FileHandle(forWritingAtPath: path) else { throw TestFailure("cannot open \(path)") }
        defer { try? h.close() }
        try h.seekToEnd()
        for line in lines { try h.write(contentsOf: Data((line + "\n").utf8)) }
    }

    /// Waits until `file` holds `text` (the follower's output, written as it goes).
    func waitFor(_ text: String, in file: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let s = try? String(contentsOfFile: file, encoding: .utf8), s.contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    /// A lake at `dir/lake` whose catalog is `database` on `pg`, holding the generated product
    /// catalog of `dir/src`, and an empty file to follow: the lake's root, the catalog option
    /// every command takes, and the followed file.
    func lakeOnPostgres(_ pg: PostgresCluster, database: String, dir: TemporaryDirectory) throws -> (root: String, catalog: [String], live: String) {
        let root = dir.file("lake")
        let catalog = ["--catalog", pg.url(database: database)]
        _ = try lake(["ingest", "catalog", dir.file("src/product_catalog.json"), "--lake", root, "--quiet"] + catalog)
        let live = dir.file("live.jsonl")
        #expect(FileManager.default.createFile(atPath: live, contents: nil))
        return (root, catalog, live)
    }

    func startFollower(_ args: [String], dir: TemporaryDirectory) throws -> Process {
        for name in ["follow.out", "follow.err"] { #expect(FileManager.default.createFile(atPath: dir.file(name), contents: nil)) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.exe)
        p.arguments = args
        p.standardOutput = FileHandle(forWritingAtPath: dir.file("follow.out"))
        p.standardError = FileHandle(forWritingAtPath: dir.file("follow.err"))
        try p.run()
        return p
    }

    @Test("a follower outlives its PostgreSQL server's restart: it waits, goes on from its last commit, every line once")
    func followerWaitsForTheServer() throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        let dir = try TemporaryDirectory("follow-reconnect")
        defer { dir.remove() }
        let lines = try generatedLines(3000, in: dir)
        let catalogFile = dir.file("src/product_catalog.json")

        // The reference: the whole file at once into a SQLite lake.
        let reference = dir.file("reference")
        _ = try lake(["ingest", "catalog", catalogFile, "--lake", reference, "--quiet"])
        _ = try lake(["ingest", "orders", dir.file("src/orders_stream.jsonl"), "--lake", reference, "--quiet"])

        let (root, catalog, live) = try lakeOnPostgres(pg, database: try pg.createDatabase(), dir: dir)
        // --from-start too: it must hold only until the first commit, or the attempt after the
        // outage reads from line 1 again and raw holds the committed lines twice.
        let follower = try startFollower(["ingest", "orders", live, "--follow", "--from-start", "--commit-every", "200", "--commit-interval", "0.2",
                                          "--reconnect-for", "120", "--lake", root, "--quiet"] + catalog, dir: dir)
        defer { if follower.isRunning { follower.terminate(); follower.waitUntilExit() } }
        let third = lines.count / 3

        try append(lines[..<third], to: live)
        #expect(waitFor("lines ..\(third) ", in: dir.file("follow.out"), seconds: 120), "the first third was not committed")

        // The server goes away while lines keep arriving: the follower's next statement fails.
        try pg.stopServer()
        try append(lines[third ..< 2 * third], to: live)
        #expect(waitFor("trying again in", in: dir.file("follow.err"), seconds: 60), "the follower did not say it waits")
        Thread.sleep(forTimeInterval: 1.5)
        let duringOutage = try String(contentsOfFile: dir.file("follow.err"), encoding: .utf8)
        #expect(follower.isRunning, "the follower exited while the server was down: \(duringOutage)")
        try pg.startServer()
        try append(lines[(2 * third)...], to: live)
        #expect(waitFor("lines ..\(lines.count) ", in: dir.file("follow.out"), seconds: 180), "the rest was not committed after the server came back")

        follower.terminate()
        follower.waitUntilExit()
        let err = try String(contentsOfFile: dir.file("follow.err"), encoding: .utf8)
        #expect(follower.terminationStatus == 0, "\(err)")
        #expect(err.contains("catalog unreachable") && err.contains("attempt 1;"), "\(err)")
        #expect(try figures(root: root, catalog: catalog) == figures(root: reference, catalog: []))
        #expect(try rawRows(root: root, catalog: catalog) == lines.count, "raw.orders holds every line once")
    }

    @Test("a server that stays away: the follower gives up after --reconnect-for, names the wait, keeps what it committed; 0 gives up at once")
    func followerGivesUpAfterItsWindow() throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        let dir = try TemporaryDirectory("follow-reconnect-expired")
        defer { dir.remove() }
        let lines = try generatedLines(400, in: dir)
        let (root, catalog, live) = try lakeOnPostgres(pg, database: try pg.createDatabase(), dir: dir)
        let half = lines.count / 2

        // Each run: the server is up, the follower commits its part, the server goes away and
        // more lines arrive; the follower must end by itself, with status 1.
        for (window, part) in [("3", lines[..<half]), ("0", lines[half...])] {
            try append(part, to: live)
            let follower = try startFollower(["ingest", "orders", live, "--follow", "--commit-interval", "0.2", "--reconnect-for", window,
                                              "--lake", root, "--quiet"] + catalog, dir: dir)
            defer { if follower.isRunning { follower.terminate(); follower.waitUntilExit() } }
            // The second run also reads the 3 lines the first outage left uncommitted.
            let through = window == "3" ? half : lines.count + 3
            #expect(waitFor("lines ..\(through) ", in: dir.file("follow.out"), seconds: 120), "lines ..\(through) were not committed")
            // Before the stop: the follower may see the server gone before pg_ctl returns.
            let started = Date()
            try pg.stopServer()
            try append(lines[..<3], to: live)
            let deadline = Date().addingTimeInterval(120)
            while follower.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
            #expect(!follower.isRunning, "the follower waited past its window")
            follower.waitUntilExit()
            let err = try String(contentsOfFile: dir.file("follow.err"), encoding: .utf8)
            #expect(follower.terminationStatus == 1, "\(err)")
            #expect(err.contains("catalog unreachable"), "\(err)")
            if window == "3" {
                #expect(Date().timeIntervalSince(started) >= 3, "gave up before its window")
                #expect(err.contains("trying again in") && err.contains("and gave up") && err.contains("resumes after the last commit"), "\(err)")
            } else {
                #expect(!err.contains("trying again"), "--reconnect-for 0 waited: \(err)")
            }
            try pg.startServer()
        }
        // What was committed before each outage is there; the lines after it wait for a restart.
        #expect(try rawRows(root: root, catalog: catalog) == lines.count + 3, "every line committed before the outages stays")
    }

    @Test("a database dropped under a waiting follower: it stops at the refused login instead of waiting out --reconnect-for")
    func followerStopsAtARefusedLogin() throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        let dir = try TemporaryDirectory("follow-refused")
        defer { dir.remove() }
        let lines = try generatedLines(300, in: dir)
        let database = try pg.createDatabase()
        let (root, catalog, live) = try lakeOnPostgres(pg, database: database, dir: dir)
        let half = lines.count / 2
        try append(lines[..<half], to: live)
        let follower = try startFollower(["ingest", "orders", live, "--follow", "--commit-interval", "0.2", "--reconnect-for", "300",
                                          "--lake", root, "--quiet"] + catalog, dir: dir)
        defer { if follower.isRunning { follower.terminate(); follower.waitUntilExit() } }
        #expect(waitFor("lines ..\(half) ", in: dir.file("follow.out"), seconds: 120), "the first half was not committed")

        // FORCE ends the follower's connection (an outage to it); its reconnect then meets a
        // server that answers "does not exist", which no wait will change.
        let dropped = Date()
        _ = try pg.psql("postgres", "DROP DATABASE \(database) WITH (FORCE)")
        try append(lines[half...], to: live)
        let deadline = Date().addingTimeInterval(120)
        while follower.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        let err = try String(contentsOfFile: dir.file("follow.err"), encoding: .utf8)
        #expect(!follower.isRunning, "the follower still waits for a database that is gone: \(err)")
        if follower.isRunning { follower.terminate() }
        follower.waitUntilExit()
        #expect(follower.terminationStatus == 1, "\(err)")
        #expect(Date().timeIntervalSince(dropped) < 60, "the follower took \(Date().timeIntervalSince(dropped)) s to stop")
        #expect(err.contains("refused the login") && err.contains("does not exist") && !err.contains("and gave up"), "\(err)")
    }

    @Test("a follower started while its PostgreSQL server is down waits for it (--reconnect-for), then ingests every line once")
    func followerStartedBeforeTheServerWaits() throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        let dir = try TemporaryDirectory("follow-start-down")
        defer { dir.remove() }
        let lines = try generatedLines(300, in: dir)
        let (root, catalog, live) = try lakeOnPostgres(pg, database: try pg.createDatabase(), dir: dir)
        try append(lines, to: live)
        // Both started at boot, the follower first: before session 33 it exited 1 at once.
        try pg.stopServer()
        let follower = try startFollower(["ingest", "orders", live, "--follow", "--commit-interval", "0.2", "--reconnect-for", "120",
                                          "--lake", root, "--quiet"] + catalog, dir: dir)
        defer { if follower.isRunning { follower.terminate(); follower.waitUntilExit() } }
        #expect(waitFor("trying again in", in: dir.file("follow.err"), seconds: 60), "the follower did not say it waits")
        Thread.sleep(forTimeInterval: 1)
        let waiting = try String(contentsOfFile: dir.file("follow.err"), encoding: .utf8)
        #expect(follower.isRunning, "the follower exited while the server was down: \(waiting)")
        try pg.startServer()
        #expect(waitFor("lines ..\(lines.count) ", in: dir.file("follow.out"), seconds: 120), "nothing was committed after the server came up")
        follower.terminate()
        follower.waitUntilExit()
        let err = try String(contentsOfFile: dir.file("follow.err"), encoding: .utf8)
        #expect(follower.terminationStatus == 0, "\(err)")
        #expect(try rawRows(root: root, catalog: catalog) == lines.count, "raw.orders holds every line once")
    }
}
