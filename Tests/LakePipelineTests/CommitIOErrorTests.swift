import CFaultVFS
import Foundation
import LakeFormat
import LakeTestSupport
import Synchronization
import Testing
@testable import LakeCatalog
@testable import LakePipeline

/// A SQLite COMMIT that fails with an I/O error may have landed (known gap N3, session 14): when
/// the fsync of the write-ahead log fails (EIO) after the commit frame was written, the writer's
/// connection no longer sees the commit, but the next process to open the catalog replays the
/// complete frame (WAL recovery) and the snapshot is committed. Writers used to take any error but
/// `CommitOutcomeUnknown` for "nothing committed" and delete their new files: the recovered
/// snapshot then named deleted files. The fault is real and below SQLite: a test VFS
/// (Tests/CFaultVFS) that fails the WAL's fsync at the commit and, from then on, every write,
/// sync and delete of the catalog's files, as a failed disk does, until the test ends it.
@Suite(.serialized) struct CommitIOErrorTests {
    typealias Trigger = OrphanSweepRaceTests.Trigger

    init() throws {
        try #require(lake_fault_vfs_install() == 0, "the fault VFS did not register")
    }

    /// The lake's files as another process finds them: this process's connections are closed
    /// (while the fault still holds, so their checkpoint cannot write or delete the log), and
    /// the next open recovers the log from the file.
    static func closeUnderFault(_ store: LakeStore) throws {
        try store.catalog.pool.close()
        lake_fault_vfs_disarm()
    }

    @Test("an ingest whose COMMIT fsync fails with EIO keeps its files; the recovered snapshot reads them")
    func ingestKeepsFilesWhenCommitSyncFails() throws {
        let dir = try TemporaryDirectory("commit-fsync-eio")
        defer { dir.remove() }
        let lake = dir.url.appendingPathComponent("lake")
        let trigger = Trigger(at: .beforeCommit) { lake_fault_vfs_arm(lake.path) }
        let store = try OrphanSweepRaceTests.openLake(dir, hooks: trigger.hooks)
        _ = try CatalogIngest.run(store, path: evaluationCatalog)
        let before = try store.catalog.latestSnapshot().id
        let known = FailedWriteCleanupTests.dataFiles(under: lake)
        let fired = lake_fault_vfs_fired()
        trigger.arm()
        var failure: (any Error)?
        do { _ = try OrderIngest.run(store, path: evaluationOrders) } catch { failure = error }
        defer { lake_fault_vfs_disarm() }
        #expect(trigger.fired && trigger.failure == nil)
        #expect(lake_fault_vfs_fired() == fired + 1, "the COMMIT's fsync of the log did not fail")
        let error = try #require(failure, "the ingest succeeded although its COMMIT failed")
        #expect(error is CommitOutcomeUnknown, "\(error)")
        #expect("\(error)".contains("may or may not have happened"), "\(error)")
        let kept = FailedWriteCleanupTests.dataFiles(under: lake).subtracting(known)
        #expect(kept.contains { $0.hasSuffix(".parquet") }, "the ingest deleted its files after a COMMIT whose outcome is unknown")

        try Self.closeUnderFault(store)
        // A control lake, ingested without a fault, gives the counts the recovered one must have.
        let control = try TemporaryDirectory("commit-fsync-eio-control")
        defer { control.remove() }
        let reference = try OrphanSweepRaceTests.openLake(control, hooks: CommitHooks())
        _ = try CatalogIngest.run(reference, path: evaluationCatalog)
        let run = try OrderIngest.run(reference, path: evaluationOrders)

        // The next process recovers the commit from the log: it landed, so its files are the
        // only copy of its rows.
        let reopened = try OrphanSweepRaceTests.openLake(dir, hooks: CommitHooks())
        #expect(try reopened.catalog.latestSnapshot().id == before + 1, "WAL recovery did not replay the commit")
        // The landed commit's files keep their hold names (no release ran); vacuum drops those
        // of committed files once past its safety window, which --force skips here.
        let vacuum = try runLake(["vacuum", "--lake", lake.path, "--retain", "0s", "--force"])
        #expect(vacuum.status == 0, "lake vacuum: \(vacuum.out)\(vacuum.err)")
        try OrphanSweepRaceTests.expectLakeWhole(reopened, accepted: Int(run.accepted), records: Int(run.records))
        // A rerun finds the file in the ledger the landed commit wrote.
        let rerun = try OrderIngest.run(reopened, path: evaluationOrders)
        #expect(rerun.alreadyIngestedAt == before + 1, "the rerun did not find the landed commit in the ledger: \(rerun)")
    }

    @Test("a compaction whose COMMIT fsync fails with EIO keeps its merged files; the recovered lake reads every row")
    func compactionKeepsFilesWhenCommitSyncFails() throws {
        let dir = try TemporaryDirectory("compact-fsync-eio")
        defer { dir.remove() }
        let lake = dir.url.appendingPathComponent("lake")
        let trigger = Trigger(at: .beforeCommit) { lake_fault_vfs_arm(lake.path) }
        let store = try OrphanSweepRaceTests.openLake(dir, hooks: trigger.hooks)
        _ = try CatalogIngest.run(store, path: evaluationCatalog)
        let lines = try String(contentsOfFile: evaluationOrders, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: true)
        var accepted = 0, records = 0
        for (b, part) in [lines[0 ..< 500], lines[500...]].enumerated() {
            let path = dir.file("batch\(b).jsonl")
            try (part.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            let run = try OrderIngest.run(store, path: path)
            accepted += Int(run.accepted)
            records += Int(run.records)
        }
        let before = try store.catalog.latestSnapshot().id
        let known = FailedWriteCleanupTests.dataFiles(under: lake)
        trigger.arm()
        var options = CompactionOptions()
        options.table = "curated.orders"
        var failure: (any Error)?
        do { _ = try Compaction.run(store.catalog, options: options) } catch { failure = error }
        defer { lake_fault_vfs_disarm() }
        #expect(trigger.fired && trigger.failure == nil, "the hook never ran: compaction found nothing to merge")
        let error = try #require(failure, "the compaction succeeded although its COMMIT failed")
        #expect(error is CommitOutcomeUnknown, "\(error)")
        let kept = FailedWriteCleanupTests.dataFiles(under: lake).subtracting(known)
        #expect(kept.contains { $0.hasSuffix(".parquet") }, "compaction deleted its merged files after a COMMIT whose outcome is unknown")

        try Self.closeUnderFault(store)
        let reopened = try OrphanSweepRaceTests.openLake(dir, hooks: CommitHooks())
        #expect(try reopened.catalog.latestSnapshot().id == before + 1, "WAL recovery did not replay the commit")
        // The landed commit's files keep their hold names (no release ran); vacuum drops those
        // of committed files once past its safety window, which --force skips here.
        let vacuum = try runLake(["vacuum", "--lake", lake.path, "--retain", "0s", "--force"])
        #expect(vacuum.status == 0, "lake vacuum: \(vacuum.out)\(vacuum.err)")
        try OrphanSweepRaceTests.expectLakeWhole(reopened, accepted: accepted, records: records)
    }

    // Row delete, schema migration and erasure's purge share the rule (`Catalog.commitMayHaveLanded`):
    // a delete file or rewritten file of a COMMIT that failed with EIO stays, as the recovered
    // snapshot reads it. A small lake: the sample's orders in two batches.

    /// A two-batch lake opened with `hooks`; `v1Only` builds it with the v1 registry (for a migration).
    static func smallLake(_ dir: TemporaryDirectory, hooks: CommitHooks, v1Only: Bool = false) throws -> LakeStore {
        let catalog = try Catalog.open(root: dir.url.appendingPathComponent("lake", isDirectory: true), hooks: hooks)
        let schemas: URL = v1Only ? try registryV1Copy(dir) : schemasDirectory
        let store = LakeStore(catalog: catalog, registry: try LakeStore.registry(.directory(schemas), catalog: catalog))
        _ = try CatalogIngest.run(store, path: evaluationCatalog)
        let lines = try String(contentsOfFile: evaluationOrders, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: true)
        for (b, part) in [lines[0 ..< 500], lines[500...]].enumerated() {
            let path = dir.file("batch\(b).jsonl")
            try (part.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            _ = try OrderIngest.run(store, path: path)
        }
        return store
    }

    /// After the failed COMMIT: the writer's files are still there, the next open replays the
    /// commit, vacuum settles its hold names, `lake verify` passes and DuckDB 1.5.5 reads `counts`
    /// (raw.orders, curated.orders, curated.order_items).
    static func expectRecovered(_ dir: TemporaryDirectory, _ store: LakeStore, error failure: (any Error)?, newFiles: Set<String>,
                                before: Int64, counts: [Int], writer: String) throws {
        let lake = dir.url.appendingPathComponent("lake")
        let error = try #require(failure, "the \(writer) succeeded although its COMMIT failed")
        #expect(error is CommitOutcomeUnknown, "\(error)")
        #expect(newFiles.contains { $0.hasSuffix(".parquet") }, "the \(writer) deleted its files after a COMMIT whose outcome is unknown")
        try closeUnderFault(store)
        let reopened = try OrphanSweepRaceTests.openLake(dir, hooks: CommitHooks())
        #expect(try reopened.catalog.latestSnapshot().id == before + 1, "WAL recovery did not replay the commit")
        let vacuum = try runLake(["vacuum", "--lake", lake.path, "--retain", "0s", "--force"])
        #expect(vacuum.status == 0, "lake vacuum: \(vacuum.out)\(vacuum.err)")
        let verify = try runLake(["verify", "--lake", lake.path])
        #expect(verify.status == 0, "lake verify after the \(writer): \(verify.out.suffix(600))\(verify.err)")
        #expect(try OrphanSweepRaceTests.duckCounts(lake.path) == counts, "DuckDB reads every live row")
        #expect(OrphanSweepRaceTests.holdNames(under: lake).isEmpty, "hold names left: \(OrphanSweepRaceTests.holdNames(under: lake))")
    }

    static let customer = "CUST-00001"

    @Test("a row delete whose COMMIT fsync fails with EIO keeps its delete files; the recovered lake hides the rows")
    func deleteKeepsFilesWhenCommitSyncFails() throws {
        let dir = try TemporaryDirectory("delete-fsync-eio")
        defer { dir.remove() }
        let lake = dir.url.appendingPathComponent("lake")
        let trigger = Trigger(at: .beforeCommit) { lake_fault_vfs_arm(lake.path) }
        let store = try Self.smallLake(dir, hooks: trigger.hooks)
        let counts = try OrphanSweepRaceTests.duckCounts(lake.path)
        let planned = try Erasure.run(store.catalog, customerID: Self.customer, dryRun: true).delete.tables
        let rows = ["raw.orders", "curated.orders", "curated.order_items"].map { t in planned.first { $0.table == t }?.rows ?? 0 }
        try #require(rows.allSatisfy { $0 > 0 }, "the customer has rows in every order table: \(planned)")
        let before = try store.catalog.latestSnapshot().id
        let known = FailedWriteCleanupTests.dataFiles(under: lake)
        trigger.arm()
        var failure: (any Error)?
        // The delete of `lake delete` and `lake erase` (RowDelete), with the erasure's plan: rows in three tables.
        do {
            _ = try RowDelete.run(store.catalog, message: "delete", dryRun: false, plan: { base in
                try Erasure.plan(store.catalog, customerID: Self.customer, at: base)
            })
        } catch { failure = error }
        defer { lake_fault_vfs_disarm() }
        #expect(trigger.fired && trigger.failure == nil, "the hook never ran: nothing to delete")
        let kept = FailedWriteCleanupTests.dataFiles(under: lake).subtracting(known)
        try Self.expectRecovered(dir, store, error: failure, newFiles: kept, before: before,
                                 counts: zip(counts, rows).map { $0 - $1 }, writer: "delete")
    }

    @Test("a schema migration --rewrite whose COMMIT fsync fails with EIO keeps its rewritten files; the recovered lake reads every row")
    func migrationKeepsFilesWhenCommitSyncFails() throws {
        let dir = try TemporaryDirectory("migrate-fsync-eio")
        defer { dir.remove() }
        let lake = dir.url.appendingPathComponent("lake")
        let trigger = Trigger(at: .beforeCommit) { lake_fault_vfs_arm(lake.path) }
        let built = try Self.smallLake(dir, hooks: trigger.hooks, v1Only: true)
        let store = LakeStore(catalog: built.catalog, registry: try liveRegistry())
        let counts = try OrphanSweepRaceTests.duckCounts(lake.path)
        let before = try store.catalog.latestSnapshot().id
        let known = FailedWriteCleanupTests.dataFiles(under: lake)
        trigger.arm()
        var failure: (any Error)?
        do { _ = try Migration.run(store, table: "orders", to: 2, rewrite: true) } catch { failure = error }
        defer { lake_fault_vfs_disarm() }
        #expect(trigger.fired && trigger.failure == nil, "the hook never ran: the migration did not commit")
        let kept = FailedWriteCleanupTests.dataFiles(under: lake).subtracting(known)
        try Self.expectRecovered(dir, store, error: failure, newFiles: kept, before: before, counts: counts, writer: "migration")
    }

    @Test("an erasure's purge whose COMMIT fsync fails with EIO keeps its rewritten files; vacuum finishes the purge")
    func purgeKeepsFilesWhenCommitSyncFails() throws {
        let dir = try TemporaryDirectory("purge-fsync-eio")
        defer { dir.remove() }
        let lake = dir.url.appendingPathComponent("lake")
        let trigger = Trigger(at: .beforeCommit) { lake_fault_vfs_arm(lake.path) }
        let store = try Self.smallLake(dir, hooks: trigger.hooks)
        // The erasure's delete commits; the purge (what --purge runs next) meets the fault.
        let erased = try Erasure.run(store.catalog, customerID: Self.customer)
        try #require(erased.delete.snapshotID != nil)
        let counts = try OrphanSweepRaceTests.duckCounts(lake.path)
        let before = try store.catalog.latestSnapshot().id
        let known = FailedWriteCleanupTests.dataFiles(under: lake)
        trigger.arm()
        var failure: (any Error)?
        do { _ = try Purge.run(store.catalog) } catch { failure = error }
        defer { lake_fault_vfs_disarm() }
        #expect(trigger.fired && trigger.failure == nil, "the hook never ran: the purge did not commit")
        let kept = FailedWriteCleanupTests.dataFiles(under: lake).subtracting(known)
        try Self.expectRecovered(dir, store, error: failure, newFiles: kept, before: before, counts: counts, writer: "purge")
    }
}
