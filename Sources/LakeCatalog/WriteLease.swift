import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Writers in flight, made visible to vacuum. A writer writes its data files BEFORE the commit
// that references them, so between the first file and the commit those files look exactly
// like a crashed writer's debris. A writer therefore registers a lease in `lake_write_lease`
// (its own committed transaction) before it creates any file, and the commit that references
// the files deletes the lease in the same transaction. Vacuum decides about orphans while it
// holds the catalog's write lock, so it sees every lease whose files could exist, and keeps
// every unreferenced file modified since the oldest live lease started.
//
// A crash leaves the lease row behind. It is not trusted forever: a lease names its host, pid
// and the process's start time (boot id + start tick), so vacuum on the same host sees that
// the process is gone and drops the lease; a lease from another host (a lake on a shared file
// system) is honoured until `WriteLease.foreignHostTTL` after it started.

/// One row of `lake_write_lease`.
public struct WriteLeaseInfo: Sendable, Equatable {
    public var leaseID: String
    public var operation: String
    public var host: String
    public var pid: Int64
    public var processStart: String
    public var startedMicros: Int64
}

/// A registered intent to write data files. Commit it with `tx.endWrite(lease)` in the
/// transaction that references the files; if the operation fails instead, dropping the last
/// reference releases it.
public final class WriteLease: @unchecked Sendable {
    public let info: WriteLeaseInfo
    private let catalog: Catalog
    private let lock = NSLock()
    private var active = true

    /// A lease from another host is trusted this long (we cannot ask its kernel whether the
    /// writer still runs). Longer than any ingest or compaction we expect.
    public static let foreignHostTTL: TimeInterval = 24 * 3600
    /// File modification times can lag the clock that stamped the lease (coarse kernel clocks,
    /// file systems with 1-2 s granularity): files this much older than a lease still count as its.
    public static let clockSlack: TimeInterval = 5

    init(info: WriteLeaseInfo, catalog: Catalog) {
        self.info = info
        self.catalog = catalog
    }

    /// The commit deleted the row; nothing to release.
    func markEnded() {
        lock.lock(); active = false; lock.unlock()
    }

    /// Deletes the lease row: the operation gave up, its files are now ordinary debris.
    public func release() throws {
        lock.lock()
        let wasActive = active
        active = false
        lock.unlock()
        guard wasActive else { return }
        try Catalog.withRetry {
            try catalog.store.write { db in
                try db.execute(sql: "DELETE FROM lake_write_lease WHERE lease_id = ?", arguments: [info.leaseID])
            }
        }
    }

    deinit {
        // Reached on error paths (the commit did not happen). A row we fail to delete here is
        // harmless: it only delays orphan removal, and it goes stale as soon as this process
        // exits, so vacuum drops it then. Nothing would act on an error here anyway.
        do { try release() } catch {}
    }
}

enum WriteLeaseTable {
    static let ddl = """
        CREATE TABLE IF NOT EXISTS lake_write_lease (
            lease_id VARCHAR PRIMARY KEY, operation VARCHAR NOT NULL, host VARCHAR NOT NULL, pid BIGINT NOT NULL,
            process_start VARCHAR NOT NULL, started_micros BIGINT NOT NULL)
        """

    static func exists(_ db: SQLDatabase) throws -> Bool {
        try db.tableExists("lake_write_lease")
    }

    static func all(_ db: SQLDatabase) throws -> [WriteLeaseInfo] {
        guard try exists(db) else { return [] }
        return try SQLRow.fetchAll(db, sql: "SELECT lease_id, operation, host, pid, process_start, started_micros FROM lake_write_lease").map { r in
            WriteLeaseInfo(leaseID: try r.value("lease_id"), operation: try r.value("operation"), host: try r.value("host"),
                           pid: try r.value("pid"), processStart: try r.value("process_start"), startedMicros: try r.value("started_micros"))
        }
    }
}

/// Who this process is, for leases: host name, pid, and a token that changes when the pid is reused.
enum ProcessIdentity {
    static let host: String = {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "unknown-host" }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    static let pid = Int64(getpid())

    static let start: String = startToken(pid: getpid()) ?? ""

    /// Linux: boot id + the process's start time in clock ticks (field 22 of /proc/PID/stat).
    /// Nil when the process does not exist (or /proc is unavailable).
    static func startToken(pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // After "pid (comm)" come fields 3, 4, ...: the start time is field 22, index 19.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19 else { return nil }
        let boot = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return boot + ":" + fields[19]
    }

    /// Whether the lease's writer can still be running (and so still commit its files).
    static func isLive(_ lease: WriteLeaseInfo, nowMicros: Int64) -> Bool {
        guard lease.host == host else {
            return Double(nowMicros - lease.startedMicros) / 1e6 < WriteLease.foreignHostTTL
        }
        if lease.pid == pid { return lease.processStart == start }
        if !lease.processStart.isEmpty, FileManager.default.fileExists(atPath: "/proc/self/stat"),
           let token = startToken(pid: Int32(truncatingIfNeeded: lease.pid)) {
            // /proc answers for that pid: the writer is live only if the same process (not a reused pid) exists.
            return token == lease.processStart
        }
        // /proc did not answer for that pid: the process is gone, or hidden from us (/proc mounted
        // with hidepid=2 and the writer another user), or we are out of descriptors. Only the kernel
        // tells these apart; judging a live writer dead would let vacuum delete its uncommitted files.
        // No /proc: ask the kernel whether the pid exists (EPERM means it does, as another user).
        return kill(pid_t(truncatingIfNeeded: lease.pid), 0) == 0 || errno == EPERM
    }
}

extension Catalog {
    /// Registers an intent to write data files for `operation` ("ingest orders x.jsonl",
    /// "compact"). Call it before creating the first file; end it with `tx.endWrite` in the
    /// commit. While the lease is live, vacuum keeps every unreferenced file newer than it.
    public func beginWrite(operation: String) throws -> WriteLease {
        let info = WriteLeaseInfo(leaseID: UUID().uuidString.lowercased(), operation: operation, host: ProcessIdentity.host,
                                  pid: ProcessIdentity.pid, processStart: ProcessIdentity.start,
                                  startedMicros: Timestamps.micros(Date()))
        try Self.withRetry {
            try store.write { db in
                try db.execute(sql: """
                    INSERT INTO lake_write_lease (lease_id, operation, host, pid, process_start, started_micros)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [info.leaseID, info.operation, info.host, info.pid, info.processStart, info.startedMicros])
            }
        }
        return WriteLease(info: info, catalog: self)
    }

    /// Deletes the leases this process registered for `operation`: for a writer that knows
    /// none of its writes is in flight (a follower starting again after its catalog server went
    /// away, whose last batch's lease row may have outlived the batch). Their files are then
    /// ordinary debris, which vacuum removes once unreferenced and past its retention.
    public func releaseLeasesOfThisProcess(operation: String) throws {
        try Self.withRetry {
            try store.write { db in
                guard try WriteLeaseTable.exists(db) else { return }
                try db.execute(sql: "DELETE FROM lake_write_lease WHERE host = ? AND pid = ? AND process_start = ? AND operation = ?",
                               arguments: [ProcessIdentity.host, ProcessIdentity.pid, ProcessIdentity.start, operation])
            }
        }
    }

    /// The leases recorded now, each with whether its writer may still commit.
    public func writeLeases() throws -> [(lease: WriteLeaseInfo, live: Bool)] {
        let now = Timestamps.micros(Date())
        return try read { db in try WriteLeaseTable.all(db).map { ($0, ProcessIdentity.isLive($0, nowMicros: now)) } }
    }
}

extension CatalogTransaction {
    /// Deletes the lease in this commit's transaction: from the commit on, its files are
    /// referenced by the catalog, so they no longer need the lease's protection.
    public mutating func endWrite(_ lease: WriteLease) throws {
        try database.execute(sql: "DELETE FROM lake_write_lease WHERE lease_id = ?", arguments: [lease.info.leaseID])
        leasesEnded.append(lease)
    }

    /// Refuses to commit data files that are not on disk at their recorded size: a commit must
    /// never point at a missing file (e.g. one a vacuum from an older build deleted as an orphan).
    /// One storage `info` (a stat; a HEAD on an object store) per file, under the write lock,
    /// so no vacuum of this build can interleave. A file another process deleted by name since
    /// it was published (DuckDB's orphan sweep) is first brought back from its hold name
    /// (`Storage.restore`). A storage failure other than "absent" is thrown as it is: the
    /// commit does not happen. The files are released after the commit (`Catalog.commit`).
    public mutating func requireFilesPresent(_ written: [(path: String, bytes: Int64)]) throws {
        var missing: [String] = []
        for f in written {
            var info = try files.info(f.path)
            if info == nil, try files.restore(f.path) { info = try files.info(f.path) }
            guard let info else {
                missing.append(f.path + " (absent)")
                continue
            }
            if info.size != f.bytes { missing.append(f.path + " (\(info.size) bytes, expected \(f.bytes))") }
        }
        if !missing.isEmpty { throw CatalogSafetyError.filesMissingAtCommit(paths: missing) }
        filesToSettle.append(contentsOf: written.map(\.path))
    }
}
