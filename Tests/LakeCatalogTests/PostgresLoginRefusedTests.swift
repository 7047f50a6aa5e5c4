import Foundation
import LakeTestSupport
import Testing
@testable import LakeCatalog

/// A PostgreSQL server that answers and refuses the login: a wrong password, a database or
/// role that does not exist. Before session 26 this was `CatalogError.unreachable`, so a
/// follower whose database was dropped (or whose password changed) during an outage waited out
/// its whole `--reconnect-for` window for a login that could never succeed.
@Suite("PostgreSQL catalog: a refused login is not an outage")
struct PostgresLoginRefusedTests {
    /// What opening the catalog at `url` threw, and after how many seconds.
    static func openError(_ url: String) throws -> (error: (any Error)?, seconds: TimeInterval) {
        let dir = try TemporaryDirectory("pg-refused")
        defer { dir.remove() }
        let started = Date()
        do {
            _ = try Catalog.open(root: URL(fileURLWithPath: dir.file("lake")), catalog: .postgres(url), create: true)
            return (nil, Date().timeIntervalSince(started))
        } catch {
            return (error, Date().timeIntervalSince(started))
        }
    }

    @Test("a wrong password, a missing database and a missing role are refused logins, named as such, without waiting")
    func refusedLogins() throws {
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase()
        let cases: [(what: String, url: String, says: String)] = [
            ("wrong password", pg.url(database: database, password: "not-the-password"), "password authentication failed"),
            ("missing database", pg.url(database: "no_such_database_\(UInt32.random(in: 0 ..< 1_000_000))"), "does not exist"),
            ("missing role", "postgresql://nobody_here:x@127.0.0.1:\(pg.port)/\(database)", "nobody_here"),
        ]
        for c in cases {
            let (error, seconds) = try Self.openError(c.url)
            guard case CatalogError.loginRefused(let message)? = error as? CatalogError else {
                Issue.record("\(c.what): expected CatalogError.loginRefused, got \(String(describing: error))")
                continue
            }
            #expect(message.contains(c.says), "\(c.what): \(message)")
            let text = "\(error!)"
            #expect(text.contains("refused the login") && text.contains("Waiting will not help") && !text.contains("unreachable"), "\(c.what): \(text)")
            #expect(!text.contains("not-the-password"), "the message shows the password: \(text)")
            #expect(seconds < 10, "\(c.what) took \(seconds) s")
        }
        // The right login still opens the catalog: the refusals above are the login's, not the server's.
        let (error, _) = try Self.openError(pg.url(database: database))
        #expect(error == nil, "\(String(describing: error))")
    }

    @Test("libpq's reports: refusals are told from outages, a server starting up or full, and from unknown wording")
    func classification() {
        let refused = [
            #"connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "lake""#,
            #"connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "gone" does not exist"#,
            #"connection to server at "127.0.0.1", port 5432 failed: FATAL:  role "who" does not exist"#,
            #"connection to server at "10.0.0.9", port 5432 failed: FATAL:  no pg_hba.conf entry for host "10.0.0.1", user "lake", database "lake", no encryption"#,
            #"connection to server at "127.0.0.1", port 5432 failed: fe_sendauth: no password supplied"#,
            #"connection to server on socket "/tmp/.s.PGSQL.5432" failed: FATAL:  Peer authentication failed for user "lake""#,
            #"connection to server at "127.0.0.1", port 5432 failed: FATAL:  role "ro" is not permitted to log in"#,
            #"connection to server at "127.0.0.1", port 5432 failed: FATAL:  permission denied for database "lake""#,
            #"connection to server at "10.0.0.9", port 5432 failed: FATAL:  pg_hba.conf rejects connection for host "10.0.0.1", user "lake", database "lake", no encryption"#,
            // Two attempts (libpq 14+): an outage first, then the server answered and refused.
            #"connection to server at "10.0.0.8", port 5432 failed: Connection refused\#nconnection to server at "10.0.0.9", port 5432 failed: FATAL:  password authentication failed for user "lake""#,
        ]
        let outages = [
            #"connection to server at "127.0.0.1", port 5432 failed: Connection refused"#,
            #"connection to server at "127.0.0.1", port 5432 failed: FATAL:  the database system is starting up"#,
            #"connection to server at "127.0.0.1", port 5432 failed: FATAL:  the database system is shutting down"#,
            #"connection to server at "127.0.0.1", port 5432 failed: FATAL:  sorry, too many clients already"#,
            #"connection to server at "127.0.0.1", port 5432 failed: timeout expired"#,
            #"could not translate host name "db.example" to address: Name or service not known"#,
            // The server's LDAP, RADIUS or ident service may be what is down: worth waiting for.
            #"connection to server at "127.0.0.1", port 5432 failed: FATAL:  LDAP authentication failed for user "lake""#,
            #"connection to server at "127.0.0.1", port 5432 failed: FATAL:  RADIUS authentication failed for user "lake""#,
            // An SSL attempt pg_hba.conf refused, then the plain attempt met a server shutting down.
            #"connection to server at "127.0.0.1", port 5432 failed: FATAL:  no pg_hba.conf entry for host "127.0.0.1", user "lake", database "lake", SSL encryption\#nconnection to server at "127.0.0.1", port 5432 failed: FATAL:  the database system is shutting down"#,
            // A server whose messages are in another language: taken as an outage, as before.
            #"connexion au serveur sur « 127.0.0.1 », port 5432 a échoué : FATAL:  l'authentification par mot de passe a échoué pour l'utilisateur « lake »"#,
        ]
        for m in refused { #expect(PGConnection.isLoginRefusal(m), "\(m)") }
        for m in outages { #expect(!PGConnection.isLoginRefusal(m), "\(m)") }
        #expect(CatalogError(SQLError(kind: .loginRefused, code: "08001", message: "x")).description.contains("refused the login"))
        if case .unreachable = CatalogError(SQLError(kind: .connection, code: "08001", message: "x")) {} else {
            Issue.record("a lost connection is no longer unreachable")
        }
    }
}
