import Foundation
import LakeTestSupport
import Testing
@testable import LakeCatalog

/// A PostgreSQL catalog at an address that accepts TCP connections and never answers: a hung
/// host, or a proxy whose database is gone. libpq alone waited there forever, and a follower's
/// `--reconnect-for` window never came to an end; the catalog now gives up after its
/// connect_timeout (10 s unless the URL sets one) as an unreachable catalog.
@Suite("PostgreSQL catalog: a server that never answers")
struct PostgresConnectTimeoutTests {
    /// A loopback port that listens and never accepts: the kernel completes each TCP handshake
    /// and acknowledges the client's bytes, and no answer ever comes.
    final class SilentListener {
        let fd: Int32
        let port: Int

        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            try #require(fd >= 0)
            self.fd = fd
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            try #require(bound == 0 && listen(fd, 16) == 0)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            try #require(named == 0)
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        deinit { close(fd) }
    }

    /// Opens the catalog at `url` on another thread; what it threw and after how many seconds, or
    /// nil when it had not returned within `deadline` seconds (the thread is left blocked).
    static func open(_ url: String, deadline: TimeInterval) throws -> (error: (any Error)?, seconds: TimeInterval)? {
        let dir = try TemporaryDirectory("pg-silent")
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        let started = Date()
        detachThread {
            do { _ = try Catalog.open(root: URL(fileURLWithPath: dir.file("lake")), catalog: .postgres(url), create: false) } catch { box.error = error }
            box.seconds = Date().timeIntervalSince(started)
            done.signal()
        }
        guard done.wait(timeout: .now() + deadline) == .success else { return nil }
        dir.remove()
        return (box.error, box.seconds)
    }

    final class ResultBox: @unchecked Sendable {
        var error: (any Error)?
        var seconds: TimeInterval = 0
    }

    @Test("no connect_timeout in the URL: the catalog gives up after about 10 s, as unreachable, naming the timeout")
    func defaultTimeout() throws {
        let silent = try SilentListener()
        let outcome = try Self.open("postgresql://lake@127.0.0.1:\(silent.port)/lake", deadline: 60)
        let r = try #require(outcome, "still connecting after 60 s")
        // PGCONNECT_TIMEOUT, where the test's environment sets it, replaces the default.
        let timeout = ProcessInfo.processInfo.environment["PGCONNECT_TIMEOUT"].flatMap(Double.init).map { max($0, 2) } ?? 10
        #expect(r.seconds >= timeout - 2 && r.seconds < timeout + 20, "gave up after \(r.seconds) s, expected \(timeout) s")
        guard case .unreachable(let message)? = r.error as? CatalogError else {
            Issue.record("expected CatalogError.unreachable, got \(String(describing: r.error))")
            return
        }
        #expect(message.contains("timeout") && message.contains("\(silent.port)"), "\(message)")
    }

    @Test("the URL's own connect_timeout wins over the default")
    func urlTimeoutWins() throws {
        let silent = try SilentListener()
        let outcome = try Self.open("postgresql://lake@127.0.0.1:\(silent.port)/lake?connect_timeout=2", deadline: 60)
        let r = try #require(outcome, "still connecting after 60 s")
        #expect(r.seconds < 7, "gave up after \(r.seconds) s, not after the URL's 2 s")
        #expect(r.error is CatalogError, "\(String(describing: r.error))")
    }

    @Test("the defaults come before the conninfo; PGCONNECT_TIMEOUT, a service, or an older libpq drops those it would override or not know")
    func parametersOrderAndExceptions() {
        typealias P = PGConnection
        let url = "postgresql://lake@db/lake?keepalives_idle=5"
        let all = P.connectionParameters(url, environment: [:], libpqVersion: 150018)
        #expect(all.map(\.keyword) == ["connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", "dbname"])
        #expect(all.last?.value == url)
        #expect(!P.connectionParameters(url, environment: ["PGCONNECT_TIMEOUT": "3"], libpqVersion: 150018).contains { $0.keyword == "connect_timeout" })
        #expect(P.connectionParameters(url, environment: [:], libpqVersion: 110022).map(\.keyword)
            == ["connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count", "dbname"])
        for (conninfo, environment) in [("service=lakecat", [String: String]()), ("postgresql:///?service=lakecat", [:]), ("dbname=lake", ["PGSERVICE": "lakecat"])] {
            #expect(P.connectionParameters(conninfo, environment: environment, libpqVersion: 150018).map(\.keyword) == ["dbname"], "\(conninfo) \(environment)")
        }
    }
}
