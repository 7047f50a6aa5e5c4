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
            Thread.detachNewThread {
                Thread.sleep(forTimeInterval: 1.5)
                do { try pg.startServer() } catch { Issue.record("pg_ctl start: \(error)") }
            }
        })
        let store = LakeStore(catalog: catalog, registry: try LakeStore.registry(.directory(schemasDirectory), catalog: catalog))
        _ = try CatalogIngest.run(store, path: evaluationCatalog)
        let lines = try String(contentsOfFile: evaluationOrders, encoding: .utf8).split(separator: "\n").count
        let live = dir.file("live.jsonl")
        try FileManager.default.copyItem(atPath: evaluationOrders, toPath: live)

        var options = StreamOptions()
        options.commitEvery = 100
        options.stopAtEnd = true
        options.reconnectFor = 120
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
        let store = LakeStore(catalog: catalog, registry: try LakeStore.registry(.directory(schemasDirectory), catalog: catalog))
        _ = try CatalogIngest.run(store, path: evaluationCatalog)
        let lines = try String(contentsOfFile: evaluationOrders, encoding: .utf8).split(separator: "\n").count
        let live = dir.file("live.jsonl")
        try FileManager.default.copyItem(atPath: evaluationOrders, toPath: live)

        var options = StreamOptions()
        options.commitEvery = 100
        options.stopAtEnd = true
        options.reconnectFor = 120
        var waits: [Reconnect] = []
        var said: [Int64] = []
        _ = armed.getAndSet()
        let totals = try StreamIngest.follow(store, path: live, options: options, stop: StopFlag(),
                                             onCommit: { run, _ in said.append(run.records) }, onReconnect: { waits.append($0) })
        #expect(proxy.dropped == 1, "the proxy swallowed \(proxy.dropped) answers")
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
    private var armed = false
    private var droppedCount = 0
    private var closed = false

    var dropped: Int { lock.withLock { droppedCount } }

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
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    static func loopback(port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = UInt16(port).bigEndian
        return a
    }

    func dropNextCommitAnswer() { lock.withLock { armed = true } }

    func close() {
        lock.withLock { closed = true }
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { if lock.withLock({ closed }) { return } else { continue } }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: serverPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if connected != 0 { Glibc.close(client); Glibc.close(server); continue }
            let cut = LockedFlag(), ended = LockedFlag()
            // The second direction to end closes both sockets.
            let finish: @Sendable () -> Void = { if ended.getAndSet() { Glibc.close(client); Glibc.close(server) } }
            Thread.detachNewThread { [self] in relay(from: client, to: server, cut: cut, upstream: true); finish() }
            Thread.detachNewThread { [self] in relay(from: server, to: client, cut: cut, upstream: false); finish() }
        }
    }

    /// Copies bytes one way until either side ends. Upstream, a message carrying the armed
    /// COMMIT is passed on and the connection marked cut: from then on nothing the server says
    /// reaches the client, and once the server has had time to commit both sockets close.
    private func relay(from: Int32, to: Int32, cut: LockedFlag, upstream: Bool) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let commit = Array("COMMIT".utf8) + [0]
        while true {
            let n = read(from, &buffer, buffer.count)
            if n <= 0 { break }
            if !upstream && cut.get() { continue }
            var dropAfter = false
            if upstream, buffer[0 ..< n].firstRange(of: commit) != nil {
                dropAfter = lock.withLock { defer { armed = false }; return armed }
                if dropAfter { _ = cut.getAndSet() }
            }
            var sent = 0
            while sent < n {
                let w = buffer.withUnsafeBytes { write(to, $0.baseAddress! + sent, n - sent) }
                if w <= 0 { break }
                sent += w
            }
            if dropAfter {
                Thread.sleep(forTimeInterval: 1)  // the server commits and answers into the void
                lock.withLock { droppedCount += 1 }
                break
            }
        }
        shutdown(from, Int32(SHUT_RDWR))
        shutdown(to, Int32(SHUT_RDWR))
    }
}
