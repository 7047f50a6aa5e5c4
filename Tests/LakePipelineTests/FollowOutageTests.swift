import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
import LakeTestSupport
import Testing

/// A follower's catalog server going away at the two points of a commit where the follower's
/// own state is at stake (session 24 review). Right after COMMIT answered: the reads that
/// follow the commit failed, and the follower took the commit for failed and deleted the
/// files of the snapshot that had just landed. Inside the commit's transaction: the batch's
/// lease row outlived it (its release could not reach the server), naming the live follower,
/// so vacuum kept every orphan newer than it while the follower ran. In-process, with a
/// private server stopped from a commit hook and started again from another thread.
@Suite(.serialized)
struct FollowOutageTests {
    /// The evaluation catalog ingested into `catalog`'s lake, the evaluation orders copied to a
    /// file of `dir` to follow, and the follower's options: micro-batches of 100 lines, stop at
    /// the end, 120 s to wait for the server.
    static func followed(_ catalog: Catalog, in dir: TemporaryDirectory) throws -> (store: LakeStore, lines: Int, live: String, options: StreamOptions) {
        let store = LakeStore(catalog: catalog, registry: try LakeStore.registry(.directory(schemasDirectory), catalog: catalog))
        _ = try CatalogIngest.run(store, path: evaluationCatalog)
        let lines = try String(contentsOfFile: evaluationOrders, encoding: .utf8).split(separator: "\n").count
        let live = dir.file("live.jsonl")
        try FileManager.default.copyItem(atPath: evaluationOrders, toPath: live)
        var options = StreamOptions()
        options.commitEvery = 100
        options.stopAtEnd = true
        options.reconnectFor = 120
        return (store, lines, live, options)
    }

    @Test("the server stopped at a commit point: the follower waits, every line once, every committed file there, no lease left",
          arguments: [CommitPoint.committed, .locked])
    func outageAtACommitPoint(_ point: CommitPoint) throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        let dir = try TemporaryDirectory("follow-outage")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake", isDirectory: true)
        let url = pg.url(database: try pg.createDatabase())
        let armed = LockedFlag(), restarted = LockedFlag()
        let catalog = try Catalog.open(root: root, catalog: .postgres(url), hooks: CommitHooks { p in
            // The first commit point of the kind after arming: the server goes; it comes back 1.5 s later.
            guard p == point, armed.get(), !restarted.getAndSet() else { return }
            do { try pg.stopServer() } catch { Issue.record("pg_ctl stop: \(error)") }
            detachThread {
                Thread.sleep(forTimeInterval: 1.5)
                do { try pg.startServer() } catch { Issue.record("pg_ctl start: \(error)") }
            }
        })
        let (store, lines, live, options) = try Self.followed(catalog, in: dir)
        var waits: [Reconnect] = []
        _ = armed.getAndSet()
        let totals = try StreamIngest.follow(store, path: live, options: options, stop: StopFlag(), onReconnect: { waits.append($0) })
        #expect(restarted.get(), "the hook never ran")
        #expect(!waits.isEmpty, "the follower never waited for the server")
        #expect(totals.records > 0)

        // Every line once in raw; every file the catalog names is there; DuckDB reads them.
        let verify = try runLake(["verify", "--lake", root.path, "--catalog", url])
        #expect(verify.status == 0, "lake verify: \(verify.out.suffix(800))\(verify.err)")
        let raw = try runLake(["query", "raw.orders", "--agg", "count(*)", "--agg", "count_distinct(line_number)", "--format", "csv",
                               "--lake", root.path, "--catalog", url])
        #expect(raw.out.split(separator: "\n").dropFirst().first == "\(lines),\(lines)", "raw.orders: \(raw.out)\(raw.err)")
        let ours = try catalog.writeLeases().filter { $0.lease.pid == Int64(getpid()) }
        #expect(ours.isEmpty, "leases of this process left: \(ours.map(\.lease.operation))")
    }

    @Test("a COMMIT that lands and whose answer is lost: the follower's summary still counts that micro-batch's lines, once")
    func landedCommitWhoseAnswerWasLost() throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        let proxy = try CommitAnswerDropper(serverPort: pg.port)
        defer { proxy.close() }
        let dir = try TemporaryDirectory("follow-lost-answer")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake", isDirectory: true)
        let database = try pg.createDatabase()
        // The catalog talks to the server through the proxy, which can swallow one answer.
        let url = "postgresql://\(PostgresCluster.user):\(PostgresCluster.password)@127.0.0.1:\(proxy.port)/\(database)"
        let armed = LockedFlag(), fired = LockedFlag()
        let catalog = try Catalog.open(root: root, catalog: .postgres(url), hooks: CommitHooks { p in
            // The first micro-batch's COMMIT goes through; the server's answer does not come back.
            if p == .beforeCommit, armed.get(), !fired.getAndSet() { proxy.dropNextCommitAnswer() }
        })
        let (store, lines, live, options) = try Self.followed(catalog, in: dir)
        var waits: [Reconnect] = []
        var said: [Int64] = []
        _ = armed.getAndSet()
        let totals = try StreamIngest.follow(store, path: live, options: options, stop: StopFlag(),
                                             onCommit: { run, _ in said.append(run.records) }, onReconnect: { waits.append($0) })
        // One answer swallowed, and it was the server's COMMIT completion: the batch landed.
        #expect(proxy.dropped.answers == 1 && proxy.dropped.landed == 1, "the proxy swallowed \(proxy.dropped)")
        #expect(!waits.isEmpty, "the follower never saw the lost answer as an outage")
        // The swallowed COMMIT landed: the lake has every line once, and so must the summary.
        let raw = try runLake(["query", "raw.orders", "--agg", "count(*)", "--agg", "count_distinct(line_number)", "--format", "csv",
                               "--lake", root.path, "--catalog", pg.url(database: database)])
        #expect(raw.out.split(separator: "\n").dropFirst().first == "\(lines),\(lines)", "raw.orders: \(raw.out)\(raw.err)")
        #expect(totals.records == Int64(lines), "the summary counts \(totals.records) of \(lines) lines")
        #expect(said.reduce(0, +) == Int64(lines), "the micro-batches said add up to \(said.reduce(0, +)) lines")
    }
}

/// A loopback TCP proxy in front of a PostgreSQL server that can let one COMMIT through and
/// swallow the server's answer, then cut the connection: the commit lands, the client sees a
/// lost connection (a network cut at the worst moment, which a real server cannot be asked for).
final class CommitAnswerDropper: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let serverPort: Int
    private let lock = NSLock()
    private let answered = NSCondition()
    private var armed = false
    private var closed = false
    /// Answers to an armed COMMIT that never reached the client, and whether each was the
    /// server's "COMMIT" completion (the commit landed) rather than an error.
    private var swallowed: [Bool] = []

    /// How many COMMIT answers were swallowed, and how many of them said the commit landed.
    var dropped: (answers: Int, landed: Int) { answered.withLock { (swallowed.count, swallowed.filter { $0 }.count) } }

    init(serverPort: Int) throws {
        self.serverPort = serverPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else { Glibc.close(fd); throw TestFailure("bind/listen: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        detachThread { [self] in acceptLoop() }
    }

    static func loopback(port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = UInt16(port).bigEndian
        return a
    }

    func dropNextCommitAnswer() { lock.withLock { armed = true } }

    /// Stops accepting; the accept loop closes the listener itself, so its descriptor number
    /// is not given to another test's socket while the loop may still call accept on it.
    func close() {
        lock.withLock { closed = true }
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private func acceptLoop() {
        defer { Glibc.close(listener) }
        while !lock.withLock({ closed }) {
            let client = accept(listener, nil, nil)
            if client < 0 { continue }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: serverPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if connected != 0 { Glibc.close(client); Glibc.close(server); continue }
            let cut = LockedFlag(), gotAnswer = LockedFlag(), ended = LockedFlag()
            // The second direction to end closes both sockets.
            let finish: @Sendable () -> Void = { if ended.getAndSet() { Glibc.close(client); Glibc.close(server) } }
            detachThread { [self] in relay(from: client, to: server, cut: cut, gotAnswer: gotAnswer, upstream: true); finish() }
            detachThread { [self] in relay(from: server, to: client, cut: cut, gotAnswer: gotAnswer, upstream: false); finish() }
        }
    }

    /// Copies bytes one way until either side ends. Upstream, a message carrying the armed
    /// COMMIT is passed on and the connection marked cut; downstream, the server's answer to
    /// it is read and dropped, and then both sockets close: the client never hears it.
    private func relay(from: Int32, to: Int32, cut: LockedFlag, gotAnswer: LockedFlag, upstream: Bool) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let commit = Array("COMMIT".utf8) + [0]
        // CommandComplete ('C') with the tag COMMIT: what the server says when the commit landed.
        let committed = [UInt8(ascii: "C"), 0, 0, 0, 11] + commit
        var answer: [UInt8] = []
        while true {
            let n = read(from, &buffer, buffer.count)
            if n <= 0 { break }
            if !upstream && cut.get() {
                // Up to ReadyForQuery ('Z', length 5, status): the whole answer to COMMIT.
                answer += buffer[0 ..< n]
                if answer.count >= 6 && answer[answer.count - 6] == UInt8(ascii: "Z") {
                    answered.withLock {
                        swallowed.append(answer.firstRange(of: committed) != nil)
                        _ = gotAnswer.getAndSet()
                        answered.broadcast()
                    }
                    break
                }
                continue
            }
            var dropAfter = false
            if upstream, buffer[0 ..< n].firstRange(of: commit) != nil {
                dropAfter = lock.withLock { defer { armed = false }; return armed }
                if dropAfter { _ = cut.getAndSet() }
            }
            var sent = 0
            while sent < n {
                // MSG_NOSIGNAL: a peer already gone is an error here, not a SIGPIPE for the test process.
                let w = buffer.withUnsafeBytes { send(to, $0.baseAddress! + sent, n - sent, Int32(MSG_NOSIGNAL)) }
                if w <= 0 { break }
                sent += w
            }
            if dropAfter {
                // Cut once the answer was swallowed (or after 30 s without one).
                answered.withLock {
                    let deadline = Date().addingTimeInterval(30)
                    while !gotAnswer.get() && answered.wait(until: deadline) {}
                }
                break
            }
        }
        shutdown(from, Int32(SHUT_RDWR))
        shutdown(to, Int32(SHUT_RDWR))
    }
}
