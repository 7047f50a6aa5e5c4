import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

/// A PostgreSQL COMMIT whose answer never arrives (the connection drops while it is in flight)
/// may have committed: the server can commit and then lose the socket. A maintenance run that
/// then deletes "its debris" deletes the files a committed snapshot references, and the table
/// loses those rows (compaction had already ended the inputs) or gets deleted rows back (a delete
/// file). The run must report the outcome as unknown and leave its files to vacuum, which
/// removes them only if no snapshot references them.
@Suite("Maintenance on PostgreSQL: a commit whose outcome is unknown keeps its files", .serialized)
struct CommitOutcomeTests {
    @Test("the connection dies as COMMIT is sent: compaction says so and deletes none of its new files")
    func compactionKeepsFilesWhenCommitOutcomeUnknown() throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        let database = try pg.createDatabase()
        let url = pg.url(database: database)
        let dir = try TemporaryDirectory("pg-commit-unknown")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake")
        let input = packageRoot.appendingPathComponent("Evaluation-Files")
        let store = try LakeStore.open(root: root, catalog: .postgres(url), registry: .directory(packageRoot.appendingPathComponent("schemas")))
        _ = try CatalogIngest.run(store, path: input.appendingPathComponent("product_catalog.json").path)
        let lines = try String(contentsOf: input.appendingPathComponent("orders_stream.jsonl"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: true)
        for (b, part) in [lines[0 ..< 500], lines[500...]].enumerated() {
            let path = dir.file("batch\(b).jsonl")
            try (part.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            _ = try OrderIngest.run(store, path: path)
        }
        func parquetFiles() -> Set<String> {
            let all = FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String } ?? []
            return Set(all.filter { $0.hasSuffix(".parquet") })
        }
        let before = parquetFiles()
        let latest = try store.catalog.latestSnapshot().id

        // Just before COMMIT goes out, the writer's backend is terminated (what a network cut,
        // a failover or an idle-session kill does): COMMIT fails on a dead connection.
        let killed = LockedFlag()
        let catalog = try Catalog.open(root: root, catalog: .postgres(url), create: false, hooks: CommitHooks { point in
            guard point == .beforeCommit, !killed.getAndSet() else { return }
            _ = try? pg.psql(database, "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                + "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        })
        var options = CompactionOptions()
        options.table = "curated.orders"
        #expect(throws: CommitOutcomeUnknown.self) { try Compaction.run(catalog, options: options) }
        #expect(killed.getAndSet(), "the hook never ran: compaction found nothing to merge")

        // Here the server did not commit (its backend died before COMMIT arrived), so the new
        // files are orphans; had it committed, they would be the table's only copy of the rows.
        // The client cannot tell the two apart: none may be deleted.
        let after = parquetFiles()
        #expect(after.isSuperset(of: before))
        #expect(after.count > before.count, "compaction's new files were deleted after a COMMIT whose outcome is unknown")
        let reopened = try Catalog.open(root: root, catalog: .postgres(url), create: false)
        #expect(try reopened.latestSnapshot().id == latest)
    }
}

final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    /// The old value; sets it.
    func getAndSet() -> Bool { lock.withLock { defer { value = true }; return value } }
    func get() -> Bool { lock.withLock { value } }
}
