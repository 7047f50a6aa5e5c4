import Foundation
@testable import LakeTestSupport
import Testing
@testable import LakeCatalog

/// The PostgreSQL store pools idle connections. The server may end one while it sits idle (a
/// restart or failover, `pg_terminate_backend`, idle_session_timeout); its next use failed the
/// command at BEGIN, e.g. a compaction after all its reads and file writes (session 14 probe:
/// 8 runs in 8 with a backend terminated mid-compaction). Nothing of a transaction has run when
/// its first statement fails, so a new connection replaces the dead one.
@Suite(.serialized) struct PostgresStaleConnectionTests {
    /// Ends every other backend of `database` and waits until they are gone.
    static func terminateOthers(_ pg: PostgresCluster, _ database: String) throws {
        _ = try pg.psql(database, "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
            + "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        for _ in 0 ..< 100 {
            let left = try pg.psql(database, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            if left.trimmingCharacters(in: .whitespacesAndNewlines) == "0" { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        Issue.record("backends of \(database) still alive after pg_terminate_backend")
    }

    @Test("a pooled connection the server ended while idle is replaced: the next write and read succeed")
    func idleConnectionEndedByTheServerIsReplaced() throws {
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase()
        let store = try PostgresStore(conninfo: pg.url(database: database))
        try store.write { db in try db.execute(sql: "CREATE TABLE t (a BIGINT)", arguments: []) }
        _ = try store.read { db in try db.fetch(sql: "SELECT count(*) AS n FROM t", arguments: []) }
        try Self.terminateOthers(pg, database)

        try store.write { db in try db.execute(sql: "INSERT INTO t VALUES (1)", arguments: []) }
        try Self.terminateOthers(pg, database)
        let rows = try store.read { db in try db.fetch(sql: "SELECT count(*) AS n FROM t", arguments: []) }
        #expect(try rows.first?.value("n") as Int64? == 1)
    }

    @Test("libpq's report of a lost connection (no SQLSTATE) is a connection error, worded without an empty code")
    func lostConnectionIsAConnectionError() throws {
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase()
        let connection = try PGConnection(conninfo: pg.url(database: database), location: "lost-connection test")
        try Self.terminateOthers(pg, database)
        do {
            try connection.execute(sql: "SELECT 1", arguments: [])
            Issue.record("a statement on a terminated connection succeeded")
        } catch let e as SQLError {
            #expect(e.kind == .connection, "\(e.kind): \(e.message)")
            #expect(!e.message.hasPrefix("PostgreSQL :"), "\(e.message)")
        }
    }

    /// `pg_ctl restart -m immediate`: the backends send a WARNING and vanish, and libpq reports
    /// the next statement's failure without SQLSTATE while PQstatus still says CONNECTION_OK, so
    /// the connection was taken for a live one: the retry above never ran (session 16 probe:
    /// the first `lake serve` request after such a restart answered 503, an ingest failed).
    @Test("after an immediate server restart the stale pooled connection is replaced too: the next read succeeds")
    func immediateRestartIsSurvived() throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        let database = try pg.createDatabase()
        // Over the Unix socket, as a catalog on the same host is reached: the statement's send
        // fails at once there (EPIPE), which is what leaves PQstatus at CONNECTION_OK.
        let store = try PostgresStore(conninfo: "host=\(pg.directory.path) port=\(pg.port) dbname=\(database) "
            + "user=\(PostgresCluster.user) password=\(PostgresCluster.password)")
        try store.write { db in try db.execute(sql: "CREATE TABLE t (a BIGINT)", arguments: []) }
        try store.write { db in try db.execute(sql: "INSERT INTO t VALUES (1)", arguments: []) }
        // pg_ctl restart keeps the options the server was started with (postmaster.opts).
        var argv = [pg.bin.appendingPathComponent("pg_ctl").path, "-D", pg.directory.file("data"), "-l", pg.directory.file("server.log"),
                    "-w", "-t", "300", "-m", "immediate", "restart"]
        if getuid() == 0 { argv = ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv }
        #expect(try PostgresCluster.spawnAndWait(argv) == 0)
        let rows = try store.read { db in try db.fetch(sql: "SELECT count(*) AS n FROM t", arguments: []) }
        #expect(try rows.first?.value("n") as Int64? == 1)
    }
}
