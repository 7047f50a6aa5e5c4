import Foundation
import LakeTestSupport
import Testing
@testable import LakeCatalog

/// A PostgreSQL connection caches each statement's rewrite (`?` → `$n`). Multi-row INSERTs
/// (up to 65,535 binds a statement) and IN lists have a different text for every row count,
/// so a long-lived writer's connections must not keep every one they ever sent.
@Suite struct PostgresStatementCacheTests {
    @Test("multi-row INSERTs of 1…300 rows leave the connection's statement cache under 1 MB")
    func rewriteCacheStaysBounded() throws {
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase()
        let connection = try PGConnection(conninfo: pg.url(database: database), location: "statement-cache test")
        let db = SQLDatabase(dialect: .postgres, backend: connection)
        try db.execute(sql: "CREATE TABLE t (a BIGINT, b BIGINT, c VARCHAR, d BIGINT, e BIGINT, f BIGINT, g DOUBLE, h VARCHAR)")
        for n in 1 ... 300 {
            try db.insertRows(into: "t", row: "(?, ?, ?, ?, ?, ?, ?, ?)", (0 ..< n).map { i -> SQLArguments in
                [Int64(i), Int64(n), "x", Int64(1), Int64(2), Int64(3), 0.5, String?.none]
            })
        }
        #expect(try Int64.fetchOne(db, sql: "SELECT count(*) FROM t") == 45_150)
        // Every row count is a new statement text: before the fix ~3 MB of them stayed cached.
        #expect(connection.cachedStatementBytes < 1 << 20, "\(connection.cachedStatementBytes) bytes of SQL cached")
    }
}
