import Foundation
import GRDB
import Testing
@testable import LakeCatalog

/// Write leases: a live writer's files survive any vacuum; a crashed writer's lease goes stale
/// (dead process on this host, or past the TTL for another host) and stops protecting.
@Suite struct WriteLeases {
    /// A lake with one committed file (so vacuum's never-recorded rule does not apply) and an
    /// unreferenced file written just now.
    private func lakeWithDebris(_ dir: TempDir) throws -> (Catalog, URL) {
        let catalog = try Catalog.open(root: dir.url)
        let tid = try makeOrders(catalog)
        try catalog.commit { tx in
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "live", date: "2024-01-15", channel: "web", rows: 1, size: 16))
        }
        for f in try catalog.dataFiles(tableID: tid) { try touch(f.url, bytes: 16) }
        let debris = dir.url.appendingPathComponent("curated/orders/order_date=2024-01-15/channel=web/in-flight.parquet")
        try touch(debris, bytes: 10)
        return (catalog, debris)
    }

    private func insertLease(_ catalog: Catalog, host: String, pid: Int64, start: String, startedAgo: TimeInterval) throws {
        try catalog.pool.write { db in
            try db.execute(sql: WriteLeaseTable.ddl)
            try db.execute(sql: "INSERT INTO lake_write_lease VALUES (?, 'test', ?, ?, ?, ?)",
                           arguments: [UUID().uuidString, host, pid, start,
                                       Timestamps.micros(Date().addingTimeInterval(-startedAgo))])
        }
    }

    @Test func liveLeaseProtectsUntilReleased() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let (catalog, debris) = try lakeWithDebris(dir)
        // The lease is taken before the file is (re)written, as writers do.
        let lease = try catalog.beginWrite(operation: "ingest test")
        try touch(debris, bytes: 10)
        let kept = try catalog.vacuum(retain: 0, now: Date().addingTimeInterval(1), force: true)
        #expect(kept.keptForWriters == 1 && kept.files.isEmpty)
        #expect(FileManager.default.fileExists(atPath: debris.path))
        try lease.release()
        #expect(try catalog.writeLeases().isEmpty)
        let gone = try catalog.vacuum(retain: 0, now: Date().addingTimeInterval(1), force: true)
        #expect(gone.files.map(\.url.lastPathComponent) == ["in-flight.parquet"])
        #expect(!FileManager.default.fileExists(atPath: debris.path))
    }

    @Test func leaseEndsInTheCommitThatReferencesTheFiles() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let (catalog, _) = try lakeWithDebris(dir)
        let lease = try catalog.beginWrite(operation: "ingest test")
        #expect(try catalog.writeLeases().count == 1)
        try catalog.commit { tx in try tx.endWrite(lease) }
        #expect(try catalog.writeLeases().isEmpty)
    }

    /// A commit that ended the lease and then rolled back (its body threw after `endWrite`, or
    /// COMMIT failed) left the lease marked ended: its release did nothing and the row stayed,
    /// holding the writer's debris back from vacuum for as long as the process (a follower) ran.
    @Test func aRolledBackCommitLeavesTheLeaseToItsRelease() throws {
        struct Refused: Error {}
        let dir = try TempDir(); defer { dir.cleanup() }
        let (catalog, _) = try lakeWithDebris(dir)
        let lease = try catalog.beginWrite(operation: "ingest test")
        #expect(throws: Refused.self) {
            try catalog.commit { tx in
                try tx.endWrite(lease)
                throw Refused()
            }
        }
        #expect(try catalog.writeLeases().count == 1)
        try lease.release()
        #expect(try catalog.writeLeases().isEmpty)
    }

    @Test func crashedWritersLeasesGoStale() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let (catalog, debris) = try lakeWithDebris(dir)
        // A process that has exited: same host, its pid no longer runs with that start time.
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        try insertLease(catalog, host: ProcessIdentity.host, pid: Int64(gone.processIdentifier), start: "boot:1", startedAgo: 10)
        // Another host: trusted for the TTL, then stale.
        try insertLease(catalog, host: "elsewhere", pid: 1, start: "", startedAgo: WriteLease.foreignHostTTL + 60)
        let states = try catalog.writeLeases()
        #expect(states.count == 2 && states.allSatisfy { !$0.live })
        let report = try catalog.vacuum(retain: 0, now: Date().addingTimeInterval(1), force: true)
        #expect(report.staleLeases == 2)
        #expect(report.files.map(\.url.lastPathComponent) == ["in-flight.parquet"])
        #expect(!FileManager.default.fileExists(atPath: debris.path))
        #expect(try catalog.writeLeases().isEmpty)

        // A recent lease from another host still protects.
        try touch(debris, bytes: 10)
        try insertLease(catalog, host: "elsewhere", pid: 1, start: "", startedAgo: 60)
        let kept = try catalog.vacuum(retain: 0, now: Date().addingTimeInterval(1), force: true)
        #expect(kept.keptForWriters == 1 && FileManager.default.fileExists(atPath: debris.path))
    }

    /// Without --force, an unreferenced file younger than the safety window stays whatever the retention.
    @Test func safetyWindowKeepsYoungOrphansUnlessForced() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let (catalog, debris) = try lakeWithDebris(dir)
        // The catalog was created before the window (else old debris below would be refused as
        // older than the catalog).
        try catalog.pool.write { db in
            try db.execute(sql: "UPDATE ducklake_snapshot SET snapshot_time = ? WHERE snapshot_id = 0",
                           arguments: [Timestamps.timestampText(micros: Timestamps.micros(Date().addingTimeInterval(-3 * Catalog.orphanSafetyWindow)))])
        }
        let kept = try catalog.vacuum(retain: 0, now: Date().addingTimeInterval(1))
        #expect(kept.keptYoung == 1 && kept.files.isEmpty && FileManager.default.fileExists(atPath: debris.path))
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-Catalog.orphanSafetyWindow - 60)],
                                              ofItemAtPath: debris.path)
        let old = try catalog.vacuum(retain: 0, now: Date().addingTimeInterval(1))
        #expect(old.files.map(\.url.lastPathComponent) == ["in-flight.parquet"])
    }
}
