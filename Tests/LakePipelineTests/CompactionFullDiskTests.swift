import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
import LakeTestSupport
import Testing

/// A compaction on a file system that fills while it writes (session 23 probe, a 40 MB tmpfs:
/// 16 MB free was not enough for a 25 MB lake). It failed with the bare "write failed: No space
/// left on device", which did not say that a compaction needs room for all its outputs at once
/// nor that compacting one table or one day needs less. The full disk is a storage whose writes
/// fail with ENOSPC, as `LocalStorage`'s do on a full file system.
@Suite struct CompactionFullDiskTests {
    /// Forwards to a local storage; every write of a new file fails with ENOSPC.
    final class FullDisk: Storage, @unchecked Sendable {
        let base: LocalStorage
        init(root: URL) { base = LocalStorage(root: root) }

        final class Writer: StorageWriter {
            let inner: any StorageWriter
            let location: String
            init(_ inner: any StorageWriter, location: String) { self.inner = inner; self.location = location }
            func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) { throw .io(location: location, operation: "write", errno: ENOSPC) }
            func publish() throws(StorageError) { try inner.publish() }
        }

        var rootDescription: String { base.rootDescription }
        func location(of key: StorageKey) -> String { base.location(of: key) }
        func create(_ key: StorageKey) throws(StorageError) -> any StorageWriter { Writer(try base.create(key), location: base.location(of: key)) }
        func open(_ key: StorageKey) throws(StorageError) -> any StorageReader { try base.open(key) }
        func info(_ key: StorageKey) throws(StorageError) -> StorageObjectInfo? { try base.info(key) }
        func delete(_ key: StorageKey) throws(StorageError) { try base.delete(key) }
        func list(prefix: StorageKey?) throws(StorageError) -> [StorageObjectInfo] { try base.list(prefix: prefix) }
        func restore(_ key: StorageKey) throws(StorageError) -> Bool { try base.restore(key) }
        func release(_ key: StorageKey) throws(StorageError) { try base.release(key) }
        func pendingWrite(of key: StorageKey) -> StorageKey? { base.pendingWrite(of: key) }
    }

    @Test("a compaction that fills the disk says it needs room for all its outputs and how to compact less; nothing committed, nothing left")
    func fullDiskNamesTheWayOut() throws {
        let dir = try TemporaryDirectory("compaction-full-disk")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake", isDirectory: true)
        // Two ingests of halves of the evaluation orders: partitions with two files each.
        let lines = try String(contentsOfFile: evaluationOrders, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        let halves = [lines[..<(lines.count / 2)], lines[(lines.count / 2)...]]
        do {
            let catalog = try Catalog.open(root: root, create: true)
            let store = LakeStore(catalog: catalog, registry: try LakeStore.registry(.directory(schemasDirectory), catalog: catalog))
            _ = try CatalogIngest.run(store, path: evaluationCatalog)
            for (i, half) in halves.enumerated() {
                let path = dir.file("orders-\(i).jsonl")
                try (half.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
                _ = try OrderIngest.run(store, path: path)
            }
        }
        let full = try Catalog.open(root: root, storage: FullDisk(root: root))
        let snapshot = try full.latestSnapshot().id
        let plan = try Compaction.run(full, options: { var o = CompactionOptions(); o.dryRun = true; return o }())
        #expect(!plan.groups.isEmpty, "the lake has partitions to compact")
        let filesBefore = FailedWriteCleanupTests.dataFiles(under: root)

        var failure: (any Error)?
        do { _ = try Compaction.run(full) } catch { failure = error }
        guard case MaintenanceError.noSpace(let detail)? = failure as? MaintenanceError else {
            Issue.record("expected MaintenanceError.noSpace, got \(String(describing: failure))")
            return
        }
        #expect(detail.contains("No space left on device"), "\(detail)")
        let text = "\(failure!)"
        #expect(text.contains("--partition event_date=") && text.contains("lake compact curated.orders") && text.contains("nothing was committed"), "\(text)")
        #expect(try full.latestSnapshot().id == snapshot, "nothing committed")
        let left = FailedWriteCleanupTests.dataFiles(under: root).subtracting(filesBefore)
        #expect(left.isEmpty, "the failed compaction left \(left.sorted().prefix(3))")
    }
}
