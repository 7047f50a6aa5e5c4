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
}
