import Foundation
import LakeTestSupport
import Testing

/// What the `lake` binary tells a user whose COMMIT went unanswered (`CommitOutcomeUnknown`):
/// the in-process tests (CommitOutcomeTests, CommitIOErrorTests) check the files are kept, not
/// the exit status and the message a user acts on. The fault is real: a deferred constraint
/// trigger on `ducklake_snapshot`, which PostgreSQL runs inside COMMIT, terminates its own
/// backend, so the connection drops while COMMIT is in flight (what a failover or a network cut
/// does). Here the server did not commit; the client cannot tell, and says so.
@Suite("lake CLI: a COMMIT whose outcome is unknown", .serialized)
struct CommitOutcomeCLITests {
    static let dieAtCommit = """
        CREATE FUNCTION lake_test_die() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(30); RETURN NULL; END $$;
        CREATE CONSTRAINT TRIGGER lake_test_die AFTER INSERT ON ducklake_snapshot
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lake_test_die();
        """

    @Test("lake ingest orders whose COMMIT loses its connection: exit 1, a message saying what to do, and the rerun it advises commits once")
    func ingestSaysWhatToDo() throws {
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase()
        let url = pg.url(database: database)
        let dir = try TemporaryDirectory("cli-commit-unknown")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake").path
        let lake = ["--lake", root, "--catalog", url]
        let made = try runLake(["ingest", "catalog"] + lake + [evaluationCatalog])
        try #require(made.status == 0, "\(made.err)")
        let snapshots = try pg.psql(database, "SELECT count(*) FROM ducklake_snapshot")
        _ = try pg.psql(database, Self.dieAtCommit)

        let failed = try runLake(["ingest", "orders"] + lake + [evaluationOrders])
        #expect(failed.status == 1 && failed.reason == .exit, "exit \(failed.status): \(failed.err)")
        let message = failed.err
        #expect(message.contains("may or may not have happened"), "\(message)")
        #expect(message.contains("run `lake verify`, then the same command again"), "the message does not say what to do: \(message)")
        #expect(message.contains("nothing is applied twice"), "the message does not say a rerun is safe: \(message)")
        #expect(message.contains("lakepw") == false, "the password is printed: \(message)")
        #expect(try pg.psql(database, "SELECT count(*) FROM ducklake_snapshot") == snapshots, "the server committed although its backend died in COMMIT")
        let kept = (FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []).filter { $0.hasPrefix("curated/orders/") && $0.hasSuffix(".parquet") }
        #expect(!kept.isEmpty, "the ingest deleted its files after a COMMIT whose outcome is unknown")

        // What the message advises, once the catalog answers again.
        _ = try pg.psql(database, "DROP TRIGGER lake_test_die ON ducklake_snapshot")
        let verify = try runLake(["verify"] + lake)
        #expect(verify.status == 0, "lake verify: \(verify.out.suffix(600))\(verify.err)")
        let rerun = try runLake(["ingest", "orders", "--format", "json"] + lake + [evaluationOrders])
        #expect(rerun.status == 0, "\(rerun.err)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(rerun.out.utf8)) as? [String: Any], "\(rerun.out)")
        let accepted = try #require(summary["accepted"] as? Int, "\(summary)")
        let count = try runLake(["query", "orders", "--agg", "count(*)", "--format", "csv"] + lake)
        #expect(count.out.split(separator: "\n").last.map(String.init) == String(accepted), "the rerun committed \(accepted) orders once: \(count.out)")
        let again = try runLake(["verify"] + lake)
        #expect(again.status == 0, "lake verify after the rerun: \(again.out.suffix(600))\(again.err)")
    }
}
