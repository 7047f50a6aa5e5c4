import Foundation
import LakeTestSupport
import Testing

/// Session 17 probe: a PostgreSQL catalog made under a search_path, opened by a connection
/// without it, was "no lake catalog …; run `lake init` first", advice that makes a second,
/// empty catalog beside the real one. The error now names the schema that holds the catalog.
@Suite(.serialized)
struct PostgresSchemaHintTests {
    @Test func aCatalogInAnotherSchemaIsNamed() throws {
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase()
        _ = try pg.psql(database, "CREATE SCHEMA lakecat")
        let dir = try TemporaryDirectory("pg-schema")
        defer { dir.remove() }
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        let catalog = packageRoot.appendingPathComponent("Evaluation-Files/product_catalog.json").path
        let plain = pg.url(database: database)
        let inSchema = plain + "?options=-csearch_path%3Dlakecat"
        let made = try runProcess(exe, ["ingest", "catalog", catalog, "--lake", dir.url.path, "--catalog", inSchema])
        #expect(made.status == 0, "\(made.err)")
        #expect(try pg.psql(database, "SELECT count(*) FROM lakecat.ducklake_snapshot").trimmingCharacters(in: .whitespacesAndNewlines) == "2")
        for args in [["snapshots"], ["vacuum", "--dry-run"]] {
            let r = try runProcess(exe, args + ["--lake", dir.url.path, "--catalog", plain])
            #expect(r.status == 1, "\(args): exit \(r.status)")
            #expect(r.err.contains("no lake catalog in schema public") && r.err.contains("schema lakecat holds one")
                    && r.err.contains("options=-csearch_path%3Dlakecat"), "\(args): \(r.err)")
        }
        // Nothing was made in public by those attempts.
        #expect(try pg.psql(database, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        let ok = try runProcess(exe, ["snapshots", "--lake", dir.url.path, "--catalog", inSchema])
        #expect(ok.status == 0, "\(ok.err)")
    }
}
