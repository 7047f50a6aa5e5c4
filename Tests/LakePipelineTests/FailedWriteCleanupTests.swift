import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
import LakeTestSupport
import Synchronization
import Testing

/// What a writer does with its files when its commit fails (session 13 probe). An order ingest
/// that failed at or after closing its segments (ENOSPC while closing them, SQLITE_FULL at
/// COMMIT, a refused commit) left every file it had published; vacuum keeps such files for an
/// hour unless `--retain 0s --force`, and on a full disk it cannot run at all (its own catalog
/// write fails), so "free space, vacuum, rerun" did not work: the failed run kept the disk
/// full. And a commit that landed but whose files did not settle (`committedFilesUnsettled`,
/// thrown after COMMIT) made compaction, deletes, migration and erasure delete the files the
/// new snapshot names, as if nothing had been committed.
@Suite(.serialized) struct FailedWriteCleanupTests {
    typealias Trigger = OrphanSweepRaceTests.Trigger

    /// `LocalStorage`'s suffix of hold and temp names.
    static let holdSuffix = ".pending"

    /// Every file under the lake's data directories: data files, hold names and temp names.
    static func dataFiles(under root: URL) -> Set<String> {
        Set((FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String } ?? []).filter {
            let name = ($0 as NSString).lastPathComponent
            return name.hasSuffix(".parquet") || name.hasSuffix(Self.holdSuffix)
        })
    }

    /// Every directory under the lake root (partition directories among them).
    static func directories(under root: URL) -> Set<String> {
        Set((FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String } ?? []).filter {
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: root.path + "/" + $0, isDirectory: &isDir) && isDir.boolValue
        })
    }

    /// Removes the first file (by path, among those `matching`) published since `known`, under
    /// its name and its hold name: the commit's presence check then refuses the commit.
    static func removePublishedFile(under lake: URL, besides known: Set<String>, matching: (String) -> Bool = { _ in true }) throws {
        let published = dataFiles(under: lake).subtracting(known).filter { !($0 as NSString).lastPathComponent.hasPrefix(".") }
        let first = published.sorted().first(where: matching)
        let victim = lake.appendingPathComponent(try #require(first))
        try FileManager.default.removeItem(at: victim)
        try FileManager.default.removeItem(at: victim.deletingLastPathComponent().appendingPathComponent(LocalStorage.holdName(of: victim.lastPathComponent)))
    }

    @Test("an order ingest whose commit is refused deletes every file it wrote (data and hold names)")
    func refusedIngestLeavesNoFiles() throws {
        let dir = try TemporaryDirectory("failed-ingest-cleanup")
        defer { dir.remove() }
        let lake = dir.url.appendingPathComponent("lake")
        let before = Mutex<Set<String>>([])
        // At `locked` every segment is published; one of them vanishing (name and hold) makes
        // the commit's presence check refuse it, inside the transaction: nothing is committed.
        let trigger = Trigger(at: .locked) { try Self.removePublishedFile(under: lake, besides: before.withLock { $0 }) }
        let store = try OrphanSweepRaceTests.openLake(dir, hooks: trigger.hooks)
        _ = try CatalogIngest.run(store, path: evaluationCatalog)
        let snapshot = try store.catalog.latestSnapshot().id
        before.withLock { $0 = Self.dataFiles(under: lake) }
        let directoriesBefore = Self.directories(under: lake)
        trigger.arm()
        #expect(throws: CatalogSafetyError.self) { try OrderIngest.run(store, path: evaluationOrders) }
        #expect(trigger.fired && trigger.failure == nil, "\(trigger.failure ?? "")")
        #expect(try store.catalog.latestSnapshot().id == snapshot, "nothing committed")
        let left = Self.dataFiles(under: lake).subtracting(before.withLock { $0 })
        #expect(left.isEmpty, "the failed ingest left \(left.count) files, e.g. \(left.sorted().prefix(3))")
        let emptyLeft = Self.directories(under: lake).subtracting(directoriesBefore)
        #expect(emptyLeft.isEmpty, "the failed ingest left \(emptyLeft.count) directories, e.g. \(emptyLeft.sorted().prefix(3))")

        // The rerun commits the whole file once.
        let rerun = try OrderIngest.run(store, path: evaluationOrders)
        #expect(rerun.snapshotID != nil && rerun.accepted > 0)
        try OrphanSweepRaceTests.expectLakeWhole(store, accepted: Int(rerun.accepted), records: Int(rerun.records))
    }

    @Test("an inventory ingest whose commit is refused deletes its files too (the catalog ingest shares its commit)")
    func refusedReferenceIngestLeavesNoFiles() throws {
        let dir = try TemporaryDirectory("failed-reference-cleanup")
        defer { dir.remove() }
        let lake = dir.url.appendingPathComponent("lake")
        let before = Mutex<Set<String>>([])
        // The inventory's file loses its name and hold under the write lock: the presence check refuses the commit.
        let trigger = Trigger(at: .locked) {
            try Self.removePublishedFile(under: lake, besides: before.withLock { $0 }) { $0.hasPrefix("curated/inventory/") }
        }
        let store = try OrphanSweepRaceTests.openLake(dir, hooks: trigger.hooks)
        _ = try CatalogIngest.run(store, path: evaluationCatalog)
        let snapshot = try store.catalog.latestSnapshot().id
        // A few rejected lines, so raw.inventory gets a file too.
        let source = dir.url.appendingPathComponent("inventory.csv")
        try (try String(contentsOfFile: evaluationInventory, encoding: .utf8) + "PROD-001,-5,WH-DAL,2024-01-30T08:45:00Z\n")
            .write(to: source, atomically: true, encoding: .utf8)
        before.withLock { $0 = Self.dataFiles(under: lake) }
        trigger.arm()
        #expect(throws: CatalogSafetyError.self) { try InventoryIngest.run(store, path: source.path) }
        #expect(trigger.fired && trigger.failure == nil, "\(trigger.failure ?? "")")
        #expect(try store.catalog.latestSnapshot().id == snapshot, "nothing committed")
        let left = Self.dataFiles(under: lake).subtracting(before.withLock { $0 })
        #expect(left.isEmpty, "the failed ingest left \(left.count) files, e.g. \(left.sorted().prefix(3))")
        let rerun = try InventoryIngest.run(store, path: source.path)
        #expect(rerun.snapshotID != nil && rerun.quarantined >= 1 && rerun.accepted > 0, "\(rerun)")
    }

    @Test("a compaction that committed but could not release a hold name keeps its outputs: the snapshot reads them")
    func compactionKeepsOutputsOfALandedCommit() throws {
        let dir = try TemporaryDirectory("unsettled-compaction")
        defer { dir.remove() }
        let lake = dir.url.appendingPathComponent("lake")
        let before = Mutex<Set<String>>([])
        let blocked = Mutex<[URL]>([])
        // Right after COMMIT, each new file's hold name becomes a non-empty directory: removing
        // it (the release) fails with EISDIR, so `commit` throws `committedFilesUnsettled`.
        let trigger = Trigger(at: .committed) {
            let known = before.withLock { $0 }
            for path in Self.dataFiles(under: lake).subtracting(known) where (path as NSString).lastPathComponent.hasSuffix(Self.holdSuffix) {
                let hold = lake.appendingPathComponent(path)
                try FileManager.default.removeItem(at: hold)
                try FileManager.default.createDirectory(at: hold.appendingPathComponent("x"), withIntermediateDirectories: true)
                blocked.withLock { $0.append(hold) }
            }
        }
        let store = try OrphanSweepRaceTests.openLake(dir, hooks: trigger.hooks)
        _ = try CatalogIngest.run(store, path: evaluationCatalog)
        // Three small ingests of parts of the sample: partitions with several files to merge.
        let lines = try String(contentsOfFile: evaluationOrders, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let third = lines.count / 3
        for (i, range) in [0 ..< third, third ..< 2 * third, 2 * third ..< lines.count].enumerated() {
            let part = dir.url.appendingPathComponent("part\(i).jsonl")
            try (lines[range].joined(separator: "\n") + "\n").write(to: part, atomically: true, encoding: .utf8)
            _ = try OrderIngest.run(store, path: part.path)
        }
        let ingested = try store.catalog.latestSnapshot().id
        before.withLock { $0 = Self.dataFiles(under: lake) }
        trigger.arm()
        do {
            _ = try Compaction.run(store.catalog)
            Issue.record("the compaction's release was meant to fail")
        } catch let e as CatalogSafetyError {
            guard case .committedFilesUnsettled = e else { Issue.record("unexpected \(e)"); return }
        }
        #expect(trigger.fired && trigger.failure == nil, "\(trigger.failure ?? "")")
        #expect(!blocked.withLock { $0 }.isEmpty, "hold names were blocked")
        #expect(try store.catalog.latestSnapshot().id == ingested + 1, "the compaction committed")
        for hold in blocked.withLock({ $0 }) { try FileManager.default.removeItem(at: hold) }
        let verify = try runLake(["verify", "--lake", lake.path])
        #expect(verify.status == 0, "every file the compaction's snapshot reads is there: \(verify.out.suffix(600))\(verify.err)")
    }

    /// On a full disk SQLite cannot grow a WAL catalog's -shm to open it, and `lake verify`
    /// (which opened the catalog read-write, writing nothing) failed with "SQLite error 10: disk
    /// I/O error" (session 13 probe, tmpfs at 100 %): the check an operator runs after ENOSPC was
    /// the one that could not run. It now opens read-only like the other reads, which fall back to
    /// an immutable open when the log is empty. The full disk is simulated by a file size limit
    /// (RLIMIT_FSIZE, SIGXFSZ ignored): every write past 16 KB fails with EFBIG.
    @Test("lake verify and the reads run when the catalog's -shm cannot grow (a full disk)")
    func verifyRunsOnAFullDisk() throws {
        let dir = try TemporaryDirectory("full-disk-verify")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake").path
        let built = try runLake(["run", "--lake", root, "--input", evaluationFiles.path])
        #expect(built.status == 0, "\(built.err)")
        #expect(!FileManager.default.fileExists(atPath: root + "/manifest.sqlite-shm"), "the last connection removed its -shm")
        for command in [["verify"], ["query", "orders", "--agg", "count(*)"], ["report", "daily-revenue"]] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", "trap '' XFSZ; ulimit -f 16; exec \"$@\"", "bash", lakeBinary.path] + command + ["--lake", root]
            process.currentDirectoryURL = packageRoot
            let err = Pipe(), out = Pipe()
            process.standardError = err
            process.standardOutput = out
            try process.run()
            let output = out.fileHandleForReading.readDataToEndOfFile()
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "lake \(command.joined(separator: " ")) under a 16 KB file size limit: \(message)")
            if command == ["verify"] { #expect(String(decoding: output, as: UTF8.self).contains(" ok, 0 failed")) }
        }
    }
}
