import Foundation
import LakeFormat
import Testing
@testable import LakeCatalog

/// LocalStorage publishes by link(2) to the final name and then unlinks the temp name: a crash
/// between the two leaves the committed file with a second, temp name (same inode, same mtime).
@Suite struct VacuumLinkDebrisTests {
    @Test("a crash between link and unlink: vacuum removes only the leftover temp name, the committed file keeps its bytes")
    func leftoverTempNameOfCommittedFile() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let catalog = try Catalog.open(root: dir.url)
        let tid = try makeOrders(catalog)
        try catalog.commit { tx in
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "a", date: "2024-01-15", channel: "web", rows: 2, size: 16))
        }
        let file = try #require(try catalog.dataFiles(tableID: tid).first)
        try touch(file.url, bytes: 16)
        let bytes = try Data(contentsOf: file.url)
        let temp = file.url.deletingLastPathComponent()
            .appendingPathComponent(".tmp-\(UUID().uuidString.lowercased())-\(file.url.lastPathComponent)")
        #expect(link(file.url.path, temp.path) == 0)

        let removed = try catalog.removeOrphanFiles(olderThan: Date().addingTimeInterval(1))
        #expect(removed.files.map(\.url.lastPathComponent) == [temp.lastPathComponent])
        #expect(removed.failedDeletes.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: temp.path))
        #expect(try Data(contentsOf: file.url) == bytes)
        // The full vacuum at retention 0 keeps it too: the latest snapshot reads it.
        let report = try catalog.vacuum(retain: 0, now: Date().addingTimeInterval(1), force: true)
        #expect(report.failedDeletes.isEmpty)
        #expect(try Data(contentsOf: file.url) == bytes)
        #expect(try catalog.dataFiles(tableID: tid).map(\.url) == [file.url])
    }
}
