import Foundation
import LakeCatalog
import LakePipeline
import LakeTestSupport
import Synchronization
import Testing
@testable import LakeFormat

/// An ingest spanning more partitions than the open-file budget parks files (fsync, close)
/// between their writes (session 15). A park's fsync failing is the only report that bytes
/// already written may be lost; the batch must then fail with nothing committed, not publish
/// the file as if whole.
@Suite(.serialized) struct ParkFailureTests {
    @Test("an order ingest where one park's fsync fails (EIO): the ingest throws it, nothing is committed, no file stays; the rerun commits the whole file")
    func failedParkFailsTheBatch() throws {
        let dir = try TemporaryDirectory("park-fault-ingest")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake", isDirectory: true)
        // Armed after the catalog ingest: the first park of the order ingest fails, once.
        let armed = Atomic<Bool>(false)
        let failed = Mutex<String?>(nil)
        let budget = OpenFileBudget(limit: 4) { step, path in
            guard step == .fsync, armed.load(ordering: .acquiring) else { return nil }
            return failed.withLock { f in
                guard f == nil else { return nil }
                f = path
                return EIO
            }
        }
        let catalog = try Catalog.open(root: root, create: true, storage: LocalStorage(root: root.path, budget: budget))
        let store = LakeStore(catalog: catalog, registry: try LakeStore.registry(.directory(schemasDirectory), catalog: catalog))
        _ = try CatalogIngest.run(store, path: evaluationCatalog)
        let snapshot = try store.catalog.latestSnapshot().id
        let before = FailedWriteCleanupTests.dataFiles(under: root)
        let directoriesBefore = FailedWriteCleanupTests.directories(under: root)
        armed.store(true, ordering: .releasing)
        do {
            let summary = try OrderIngest.run(store, path: evaluationOrders)
            Issue.record("the ingest committed snapshot \(summary.snapshotID.map(String.init) ?? "none") although a park's fsync failed")
        } catch {
            // The storage error, as the segment writer wraps it, names the file whose park failed.
            let victim = try #require(failed.withLock { $0 }, "no file was parked: the budget of 4 was not exceeded")
            #expect("\(error)" == "\(StorageError.io(location: victim, operation: "fsync", errno: EIO))", "\(type(of: error)): \(error)")
        }
        #expect(budget.parked > 0)
        #expect(try store.catalog.latestSnapshot().id == snapshot, "nothing committed")
        let left = FailedWriteCleanupTests.dataFiles(under: root).subtracting(before)
        #expect(left.isEmpty, "the failed ingest left \(left.count) files, e.g. \(left.sorted().prefix(3))")
        #expect(FailedWriteCleanupTests.directories(under: root) == directoriesBefore, "no partition directory stays")

        armed.store(false, ordering: .releasing)
        let rerun = try OrderIngest.run(store, path: evaluationOrders)
        #expect(rerun.snapshotID != nil && rerun.accepted > 0)
        try OrphanSweepRaceTests.expectLakeWhole(store, accepted: Int(rerun.accepted), records: Int(rerun.records))
    }
}
