import Foundation
import GRDB
import LakeTestSupport
import Testing
@testable import LakeCatalog

/// Another process holding the SQLite catalog's write lock (a lake command mid-commit, or DuckDB
/// with the lake attached in an open transaction) past the busy timeout: opening the catalog to
/// write fails as `.busy`, whose message says what to do, not as SQLite's "database is locked".
@Suite struct CatalogLock {
    @Test func openingWhileAnotherWriterHoldsTheLockIsBusy() throws {
        let dir = try TempDir("catalog-lock"); defer { dir.cleanup() }
        _ = try Catalog.open(root: dir.url)
        let holder = try DatabaseQueue(path: dir.url.appendingPathComponent("manifest.sqlite").path)
        let locked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            defer { done.signal() }
            try? holder.inTransaction(.immediate) { _ in
                locked.signal()
                // Released by the test once its open gave up; the bound only ends a hung test.
                _ = release.wait(timeout: .now() + 600)
                return .rollback
            }
        }
        // Generous: the holder's thread may start late on a loaded machine; the wait ends at once when it has the lock.
        #expect(locked.wait(timeout: .now() + 120) == .success, "the holder never took the lock")
        defer { release.signal(); done.wait() }
        let started = Date()
        do {
            _ = try Catalog.open(root: dir.url)
            Issue.record("the catalog opened to write while another connection held its write lock")
        } catch let error as CatalogError {
            guard case .busy = error else { Issue.record("not .busy: \(error)"); return }
            #expect(error.description.contains("retry when the other write finishes") && !error.description.contains("SQLite error"))
            #expect(Date().timeIntervalSince(started) >= Catalog.busyTimeout * 0.9, "gave up before the busy timeout")
        }
    }
}

/// `lake catalog copy` retires its source, and no commit may fall between what the copy read and
/// the retirement: it would stay in the retired catalog alone, and the copy's vacuum would
/// delete its files as orphans. A writer that opened the catalog before the copy and commits
/// while the copy runs must be refused (or copied), never committed to the old catalog alone.
@Suite struct CatalogCopyRace {
    @Test func aCommitDuringACopyIsRefusedNotLost() throws {
        let dir = try TempDir("catalog-copy-race"); defer { dir.cleanup() }
        let setup = try Catalog.open(root: dir.url)
        try makeOrders(setup)
        let writer = try Catalog.open(root: dir.url)
        let outcome = Outcome()
        let copier = try Catalog.open(root: dir.url, hooks: CommitHooks { point in
            guard point == .copyWritten else { return }
            // The copy has written its target; a writer that checked the catalog before the
            // retirement commits now, from another thread (it waits for the copy's lock).
            let done = DispatchSemaphore(value: 0)
            detachThread {
                defer { done.signal() }
                do {
                    let table = try writer.table(schema: "curated", name: "orders")
                    try writer.commit(message: "during the copy") { tx in
                        _ = try tx.addDataFile(tableID: table.tableID, orderFile(table, "late", date: "2026-01-02", channel: "web", rows: 3))
                    }
                    outcome.set("committed")
                } catch let e as CatalogError {
                    if case .retiredCatalog = e { outcome.set("refused") } else { outcome.set("\(e)") }
                } catch {
                    outcome.set("\(error)")
                }
            }
            // Long enough for the writer to reach the lock (when nothing holds it, it commits at once).
            _ = done.wait(timeout: .now() + 1)
        })
        let target = dir.url.appendingPathComponent("moved.sqlite")
        let report = try copier.copy(to: .sqlite(target))
        // The writer may still be waiting for the lock the copy just released.
        let deadline = Date().addingTimeInterval(60)
        while outcome.get() == nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let snapshotsOld = try setup.snapshots().count
        let snapshotsNew = try DatabaseQueue(path: target.path).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ducklake_snapshot") ?? 0 }
        #expect(outcome.get() == "refused", "the writer's commit: \(outcome.get() ?? "never returned")")
        #expect(snapshotsOld == snapshotsNew && report.snapshots == snapshotsNew,
                "the old catalog has \(snapshotsOld) snapshots, the copy \(snapshotsNew)")
    }

    final class Outcome: @unchecked Sendable {
        private let lock = NSLock()
        private var value: String?
        func set(_ v: String) { lock.withLock { value = v } }
        func get() -> String? { lock.withLock { value } }
    }
}
