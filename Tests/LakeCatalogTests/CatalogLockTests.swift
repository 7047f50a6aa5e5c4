import Foundation
import GRDB
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
