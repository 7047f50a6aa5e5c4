import Foundation
import LakeTestSupport
import Testing
@testable import LakeFormat

/// New partition directories' parents are fsynced in the background (`DirectorySyncs`), so the
/// thread creating files does not wait on the device; a file's publish waits for every such
/// fsync above it, and a failed one fails the publish (nothing may commit a file whose path a
/// power loss could lose).
@Suite struct DirectorySyncsTests {
    /// A sync function the test controls: records each directory, fails those in `failing`,
    /// and blocks while `gate` is closed.
    final class Device: @unchecked Sendable {
        private let lock = NSCondition()
        private var open = true
        private(set) var synced: [String] = []
        var failing: Set<String> = []
        /// Seconds each fsync takes.
        var latency: TimeInterval = 0

        func close() { lock.lock(); open = false; lock.unlock() }
        func release() { lock.lock(); open = true; lock.broadcast(); lock.unlock() }
        var syncedSoFar: [String] { lock.lock(); defer { lock.unlock() }; return synced }
        func fail(_ dir: String?) { lock.lock(); failing = dir.map { [$0] } ?? []; lock.unlock() }

        func sync(_ dir: String) -> DirectorySyncs.Failure? {
            if latency > 0 { Thread.sleep(forTimeInterval: latency) }
            lock.lock()
            defer { lock.unlock() }
            while !open { lock.wait() }
            synced.append(dir)
            return failing.contains(dir) ? DirectorySyncs.Failure(operation: "fsync directory", errno: EIO) : nil
        }
    }

    static func storage(_ dir: TemporaryDirectory, _ device: Device) -> LocalStorage {
        LocalStorage(root: dir.path, budget: OpenFileBudget(limit: 64), syncs: DirectorySyncs(sync: { device.sync($0) }))
    }

    static func publish(_ storage: LocalStorage, _ key: String) throws {
        let w = try storage.create(try StorageKey(key))
        try Array("bytes of \(key)".utf8).withUnsafeBytes { try w.write($0) }
        try w.publish()
    }

    @Test("a publish returns only once the parents of the directories made for it are fsynced")
    func publishWaitsForTheNewDirectories() throws {
        let dir = try TemporaryDirectory("dirsync-wait")
        defer { dir.remove() }
        let device = Device()
        let storage = Self.storage(dir, device)
        device.close()
        // Creating the file makes t/date=1/channel=web without waiting on the device.
        let w = try storage.create(try StorageKey("t/date=1/channel=web/a.parquet"))
        try Array("abc".utf8).withUnsafeBytes { try w.write($0) }
        #expect(FileManager.default.fileExists(atPath: dir.file("t/date=1/channel=web")))
        #expect(device.syncedSoFar.isEmpty)
        // The device answers two seconds from now; a publish that did not wait for it returns
        // long before (its own file and directory fsyncs are real ones).
        detachThread {
            Thread.sleep(forTimeInterval: 2)
            device.release()
        }
        try w.publish()
        // The parents of t, t/date=1 and t/date=1/channel=web.
        let parents = Set(device.syncedSoFar)
        #expect(parents.isSuperset(of: [dir.path, dir.file("t"), dir.file("t/date=1")]), "\(parents)")
    }

    @Test("a failed background fsync fails the publish naming the directory, and every later one below it in this process")
    func failedSyncFailsThePublish() throws {
        let dir = try TemporaryDirectory("dirsync-fail")
        defer { dir.remove() }
        let device = Device()
        let storage = Self.storage(dir, device)
        device.fail(dir.file("t/date=2"))
        func failsOnDate2(_ key: String) {
            #expect {
                try Self.publish(storage, key)
            } throws: { error in
                guard case StorageError.io(let location, let operation, let e) = error else { return false }
                return location == dir.file("t/date=2") && operation == "fsync directory" && e == EIO
            }
        }
        failsOnDate2("t/date=2/channel=app/a.parquet")
        // The device answers again, but a later success would not prove the entries the failed
        // fsync was to cover reached it: nothing below t/date=2 is published by this process.
        device.fail(nil)
        failsOnDate2("t/date=2/channel=app/b.parquet")
        failsOnDate2("t/date=2/channel=web/c.parquet")
        // Elsewhere publishing goes on.
        try Self.publish(storage, "t/date=9/channel=app/d.parquet")
    }

    @Test("a file in a directory another writer made waits for that writer's pending fsync too")
    func sharedAncestorIsWaitedFor() throws {
        let dir = try TemporaryDirectory("dirsync-shared")
        defer { dir.remove() }
        let device = Device()
        let storage = Self.storage(dir, device)
        try Self.publish(storage, "t/placeholder.parquet")
        device.close()
        // The first writer makes t/date=3 and t/date=3/channel=web: the fsync of t is pending.
        let first = try storage.create(try StorageKey("t/date=3/channel=web/a.parquet"))
        // The second finds t/date=3 made and adds only channel=app below it.
        #expect(FileManager.default.fileExists(atPath: dir.file("t/date=3/channel=web")))
        let second = try storage.create(try StorageKey("t/date=3/channel=app/b.parquet"))
        try Array("b".utf8).withUnsafeBytes { try second.write($0) }
        device.fail(dir.file("t"))
        device.release()
        // t's fsync (for date=3, made by the first writer) fails: the second writer's file,
        // below date=3, is not reachable for sure either.
        #expect(throws: StorageError.self) { try second.publish() }
        withExtendedLifetime(first) {}
    }

    @Test("an entry announced before its mkdir is waited for by a file below it, until its parent's fsync ends")
    func announcedEntryIsWaitedFor() throws {
        let device = Device()
        let syncs = DirectorySyncs(sync: { device.sync($0) })
        device.close()
        // Announced, not yet made: a thread that finds the directory (made by then) and
        // publishes below it must wait for the parent's fsync, which starts after the mkdir.
        syncs.entryWillBeAdded(in: "/lake/t")
        let returned = NSCondition()
        nonisolated(unsafe) var done = false
        detachThread {
            try? syncs.waitDurable(forFilesIn: "/lake/t/date=5/channel=web")
            returned.lock(); done = true; returned.broadcast(); returned.unlock()
        }
        func returnedWithin(_ seconds: TimeInterval) -> Bool {
            returned.lock()
            defer { returned.unlock() }
            if !done { _ = returned.wait(until: Date().addingTimeInterval(seconds)) }
            return done
        }
        #expect(!returnedWithin(0.3), "returned before the mkdir was even made")
        syncs.entryAdded(in: "/lake/t")
        #expect(!returnedWithin(0.3), "returned before the parent's fsync ended")
        #expect(device.syncedSoFar.isEmpty)
        device.release()
        #expect(returnedWithin(10))
        #expect(device.syncedSoFar == ["/lake/t"])
    }

    @Test("many writers making the same directories at once: every publish succeeds, each once its parents are fsynced")
    func concurrentCreates() throws {
        let dir = try TemporaryDirectory("dirsync-many")
        defer { dir.remove() }
        let device = Device()
        device.latency = 0.05
        let storage = Self.storage(dir, device)
        let keys = (0 ..< 64).map { "t/date=\($0 % 4)/channel=c\($0 % 8)/f\($0).parquet" }
        // Each publish, as it returns, finds the parents above its file fsynced.
        let errors = try parallelMapBlocking(count: keys.count, threads: 8) { i -> String? in
            do { try Self.publish(storage, keys[i]) } catch { return "\(keys[i]): \(error)" }
            let file = dir.file(keys[i])
            let parents = [dir.path, dir.file("t"), Durability.parent(of: Durability.parent(of: file))]
            let synced = Set(device.syncedSoFar)
            return parents.allSatisfy(synced.contains) ? nil : "\(keys[i]) published before \(parents.filter { !synced.contains($0) }) synced"
        }
        #expect(errors.compactMap { $0 }.isEmpty, "\(errors.compactMap { $0 })")
    }
}
