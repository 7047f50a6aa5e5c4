import Foundation
import GRDB
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakeCatalog

@Suite struct Vacuum {
    /// Snapshots: 1 create, 2 add A, 3 add B, 4 compaction (remove A, B; add C).
    private func compactedLake(_ dir: TempDir) throws -> (Catalog, Int64, [SnapshotInfo], [URL]) {
        let catalog = try Catalog.open(root: dir.url)
        let tid = try makeOrders(catalog)
        var urls: [URL] = []
        for name in ["a", "b"] {
            try catalog.commit { tx in
                try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), name, date: "2024-01-15", channel: "web", rows: 2, size: 16))
            }
            Thread.sleep(forTimeInterval: 0.005)
        }
        let (s4, _) = try catalog.commit(message: "compact") { tx in
            try tx.removeDataFiles([0, 1])
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "c", date: "2024-01-15", channel: "web", rows: 4, size: 32))
        }
        #expect(s4.changesMade == "merge_adjacent:\(tid),inline_flush:\(tid)")
        for f in try catalog.dataFiles(tableID: tid, at: .snapshot(3)) + catalog.dataFiles(tableID: tid) {
            try touch(f.url, bytes: Int(f.fileSizeBytes))
            urls.append(f.url)
        }
        return (catalog, tid, try catalog.snapshots(), urls)
    }

    /// The compaction's entries are typed, and `lake snapshots` names their table, whatever the
    /// kind (not only *_table kinds); an entry of a kind this build does not know is kept as written.
    @Test func compactionChangesAreTypedAndReadable() throws {
        let dir = try TempDir("changes"); defer { dir.cleanup() }
        let (catalog, tid, snaps, _) = try compactedLake(dir)
        let compaction = try #require(snaps.first { $0.id == 4 }), creation = try #require(snaps.first { $0.id == 1 })
        let entries = compaction.entries
        #expect(entries.map(\.kind) == [.mergeAdjacent, .inlineFlush] && entries.allSatisfy { $0.tableID == tid })
        #expect(entries.allSatisfy { $0.kind?.isFileMerge == ($0.kind == .mergeAdjacent) })
        #expect(try catalog.readableChanges(compaction) == ["merge_adjacent:curated.orders", "inline_flush:curated.orders"])
        let created = creation.entries
        #expect(created.map(\.kind) == [.createdSchema, .createdTable] && created.allSatisfy { $0.tableID == nil })
        let unknown = SnapshotChange(parsing: "renamed_lake:7")
        #expect(unknown.kind == nil && unknown.tableID == nil && unknown.text == "renamed_lake:7")
        #expect(SnapshotChange(parsing: "dropped_view:7").tableID == nil && SnapshotChange(parsing: "inlined_delete:7").tableID == 7)
    }

    /// DuckDB checks its commit against the changes_made of every snapshot after the one its
    /// transaction began at, read straight from ducklake_snapshot_changes: an expired snapshot's
    /// entry stays for the orphan safety window (without its free text), listings skip it, and
    /// a later vacuum drops it once a snapshot after it is older than the window.
    @Test func expiredSnapshotsKeepTheirChangesForTheWindow() throws {
        let dir = try TempDir("kept-changes"); defer { dir.cleanup() }
        let (catalog, tid, _, _) = try compactedLake(dir)
        func changes() throws -> [Int64: (String, String?)] {
            try catalog.read { (db: SQLDatabase) throws in
                var out: [Int64: (String, String?)] = [:]
                for r in try SQLRow.fetchAll(db, sql: "SELECT snapshot_id, changes_made, commit_message FROM ducklake_snapshot_changes") {
                    out[try r.value("snapshot_id")] = ((try r.value("changes_made")) ?? "", try r.value("commit_message"))
                }
                return out
            }
        }
        try catalog.commit(message: "someone's note") { tx in
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "d", date: "2024-01-16", channel: "web", rows: 1))
        }
        let expired = try catalog.expireSnapshots(olderThan: Date().addingTimeInterval(60))
        #expect(expired.expiredSnapshots == [0, 1, 2, 3, 4])
        #expect(try catalog.snapshots().map(\.id) == [5])
        let kept = try changes()
        #expect(kept.keys.sorted() == [0, 1, 2, 3, 4, 5])
        #expect(kept[4]?.0 == "merge_adjacent:\(tid),inline_flush:\(tid)" && kept[4]?.1 == nil)
        #expect(kept[5]?.1 == "someone's note")

        // Snapshot 5 falls out of the window: every entry up to it whose snapshot is gone goes.
        try catalog.store.write { db in
            try db.execute(sql: "UPDATE ducklake_snapshot SET snapshot_time = ? WHERE snapshot_id = 5",
                           arguments: [Timestamps.timestampText(micros: Timestamps.micros(Date().addingTimeInterval(-2 * Catalog.orphanSafetyWindow)))])
        }
        try catalog.commit { tx in
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "e", date: "2024-01-17", channel: "web", rows: 1))
        }
        _ = try catalog.expireSnapshots(olderThan: Date().addingTimeInterval(60))
        #expect(try changes().keys.sorted() == [6])
    }

    @Test func keepsEveryFileARetainedSnapshotCanRead() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let (catalog, tid, snaps, urls) = try compactedLake(dir)
        let fm = FileManager.default
        #expect(urls.count == 3)
        // Compaction keeps table stats at the live rows, not old + new.
        try catalog.read { (db: SQLDatabase) throws in
            #expect(try Int64.fetchOne(db, sql: "SELECT record_count FROM ducklake_table_stats WHERE table_id = ?", arguments: [tid]) == 4)
        }

        // Retaining snapshots from 3 on: snapshot 3 still reads A and B, so nothing goes.
        let keep3 = try catalog.expireSnapshots(olderThan: snaps[3].time)
        #expect(keep3.expiredSnapshots == [0, 1, 2])
        #expect(keep3.files.isEmpty)
        #expect(urls.allSatisfy { fm.fileExists(atPath: $0.path) })
        #expect(try catalog.dataFiles(tableID: tid, at: .snapshot(3)).map(\.dataFileID) == [0, 1])
        #expect(throws: CatalogError.snapshotNotFound(id: 2, oldest: 3, latest: 4)) { try catalog.resolve(.snapshot(2)) }
        #expect(CatalogError.snapshotNotFound(id: 2, oldest: 3, latest: 4).description.contains("from 3 to 4; older ones were expired by a vacuum"))

        // Dry run reports A and B but deletes nothing.
        let dry = try catalog.expireSnapshots(olderThan: Date().addingTimeInterval(60), dryRun: true)
        #expect(dry.expiredSnapshots == [3])
        #expect(Set(dry.files.map(\.url)) == Set(urls.prefix(2)))
        #expect(urls.allSatisfy { fm.fileExists(atPath: $0.path) })
        #expect(try catalog.snapshots().map(\.id) == [3, 4])

        // Expiring everything but the latest deletes A and B only.
        let all = try catalog.expireSnapshots(olderThan: Date().addingTimeInterval(60))
        #expect(all.expiredSnapshots == [3])
        #expect(all.files.map(\.reason) == [.unreferenced, .unreferenced])
        #expect(all.bytes == 32)
        #expect(all.failedDeletes.isEmpty)
        #expect(!fm.fileExists(atPath: urls[0].path) && !fm.fileExists(atPath: urls[1].path))
        #expect(fm.fileExists(atPath: urls[2].path))
        #expect(try catalog.snapshots().map(\.id) == [4])
        #expect(try catalog.dataFiles(tableID: tid).map(\.dataFileID) == [2])
        try catalog.read { (db: SQLDatabase) throws in
            #expect(try Int64.fetchOne(db, sql: "SELECT count(*) FROM ducklake_data_file") == 1)
            #expect(try Int64.fetchOne(db, sql: "SELECT count(*) FROM ducklake_file_column_stats WHERE data_file_id IN (0, 1)") == 0)
            #expect(try Int64.fetchOne(db, sql: "SELECT count(*) FROM ducklake_files_scheduled_for_deletion") == 0)
        }
        // The latest snapshot is never expired, however old.
        let again = try catalog.expireSnapshots(olderThan: Date().addingTimeInterval(86_400 * 365))
        #expect(again.expiredSnapshots.isEmpty && again.files.isEmpty)
        #expect(try catalog.snapshots().map(\.id) == [4])

        // New ids continue after the expired history.
        let (s5, fid) = try catalog.commit { tx in
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "d", date: "2024-01-16", channel: "web", rows: 1))
        }
        #expect(s5.id == 5 && fid == 3)
    }

    /// A dropped column's id is never handed out again, however old the drop: files written
    /// before it still hold the id. A vacuum that forgot the dropped column's rows let the next
    /// added column take its id (max + 1 over the rows left) and read its values as data; DuckDB's
    /// own expire keeps them. A dropped table's rows still go once no snapshot sees it.
    @Test func aDroppedColumnKeepsItsIDThroughVacuum() throws {
        let dir = try TempDir("dropped-column"); defer { dir.cleanup() }
        let catalog = try Catalog.open(root: dir.url)
        let tid = try makeOrders(catalog)
        let dropped = try #require(try catalog.table(id: tid).column(named: "placed_at"))
        #expect(try catalog.table(id: tid).columns.map(\.columnID).max() == dropped.columnID)
        try catalog.commit { tx in
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "a", date: "2024-01-15", channel: "web", rows: 2))
        }
        try catalog.commit { tx in try tx.dropColumn(tableID: tid, name: "placed_at") }
        let (_, other) = try catalog.commit { tx in
            try tx.createTable(schema: "curated", name: "scratch", fields: [Field("x", .int64)])
        }
        // Dropped as DuckDB's DROP TABLE does (lake drops no table itself): its rows end.
        try catalog.commit { tx in
            for table in ["ducklake_table", "ducklake_column"] {
                try tx.database.execute(sql: "UPDATE " + table + " SET end_snapshot = ? WHERE table_id = ? AND end_snapshot IS NULL",
                                        arguments: [tx.snapshotID, other.tableID])
            }
        }
        let vacuumed = try catalog.expireSnapshots(olderThan: Date().addingTimeInterval(60))
        #expect(vacuumed.expiredSnapshots.count >= 4)

        let (_, added) = try catalog.commit { tx in try tx.addColumn(tableID: tid, Field("gift_note", .string, nullable: true)) }
        #expect(Int64(try #require(added.fieldID)) == dropped.columnID + 1)
        try catalog.read { (db: SQLDatabase) throws in
            #expect(try Int64.fetchOne(db, sql: "SELECT count(*) FROM ducklake_column WHERE table_id = ? AND column_id = ?",
                                       arguments: [tid, dropped.columnID]) == 1)
            for table in ["ducklake_table", "ducklake_column"] {
                #expect(try Int64.fetchOne(db, sql: "SELECT count(*) FROM " + table + " WHERE table_id = ?", arguments: [other.tableID]) == 0,
                        "\(table) keeps the rows of a dropped table no snapshot sees")
            }
        }
    }

    @Test func orphanScanDeletesOnlyOldUnrecordedParquet() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let (catalog, _, _, urls) = try compactedLake(dir)
        let fm = FileManager.default
        let old = Date().addingTimeInterval(-10 * 86_400)
        let stray = dir.url.appendingPathComponent("curated/orders/order_date=2024-01-15/channel=web/crashed-writer.parquet")
        let fresh = dir.url.appendingPathComponent("raw/orders/in-flight.parquet")
        let notParquet = dir.url.appendingPathComponent("curated/orders/notes.txt")
        for u in [stray, fresh, notParquet] { try touch(u, bytes: 10) }
        for u in [stray, notParquet] + urls { try fm.setAttributes([.modificationDate: old], ofItemAtPath: u.path) }
        // Debris is never older than its catalog (vacuum refuses such files, see below): date the
        // catalog's creation (snapshot 0, which holds nothing) back 30 days.
        try catalog.pool.write { db in
            try db.execute(sql: "UPDATE ducklake_snapshot SET snapshot_time = ? WHERE snapshot_id = 0",
                           arguments: [Timestamps.timestampText(micros: Timestamps.micros(Date().addingTimeInterval(-30 * 86_400)))])
        }

        let dry = try catalog.removeOrphanFiles(olderThan: Date().addingTimeInterval(-7 * 86_400), dryRun: true)
        #expect(dry.files.map(\.url.lastPathComponent) == ["crashed-writer.parquet"])
        #expect(fm.fileExists(atPath: stray.path))

        let report = try catalog.vacuum(retain: 7 * 86_400)
        // Snapshots but 0 are younger than 7 days, so only the orphan goes; recorded files stay.
        #expect(report.expiredSnapshots == [0])
        #expect(report.files.map(\.reason) == [.orphan])
        #expect(report.bytes == 10)
        #expect(!fm.fileExists(atPath: stray.path))
        #expect(fm.fileExists(atPath: fresh.path) && fm.fileExists(atPath: notParquet.path))
        #expect(urls.allSatisfy { fm.fileExists(atPath: $0.path) })

        // An unreferenced file older than the catalog is not its debris (a lost or replaced
        // manifest): vacuum refuses and deletes nothing, even though snapshot 0 has expired.
        let foreign = dir.url.appendingPathComponent("raw/orders/from-another-catalog.parquet")
        try touch(foreign, bytes: 10)
        try fm.setAttributes([.modificationDate: Date().addingTimeInterval(-40 * 86_400)], ofItemAtPath: foreign.path)
        #expect(throws: CatalogSafetyError.self) { try catalog.vacuum(retain: 7 * 86_400) }
        #expect(fm.fileExists(atPath: foreign.path))
    }
}

/// Collects results from concurrent workers.
private final class Box<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []
    func append(_ x: T) { lock.lock(); items.append(x); lock.unlock() }
    var all: [T] { lock.lock(); defer { lock.unlock() }; return items }
}

@Suite struct Concurrency {
    @Test func twoWritersWithSeparateConnectionsNeverCollide() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let tid = try makeOrders(try Catalog.open(root: dir.url))
        let perWriter = 25
        let errors = Box<String>()
        let committed = Box<(Int64, Int64)>()
        let observed = Box<(Int64, Int)>()
        DispatchQueue.concurrentPerform(iterations: 3) { writer in
            if writer == 2 {
                // A reader running alongside: every snapshot it sees has exactly its files, never half a commit.
                do {
                    let reader = try Catalog.open(root: dir.url)
                    for _ in 0 ..< 40 {
                        let snap = try reader.latestSnapshot()
                        observed.append((snap.id, try reader.dataFiles(tableID: tid, at: .snapshot(snap.id)).count))
                    }
                } catch {
                    errors.append("reader: \(error)")
                }
                return
            }
            do {
                // Each worker has its own Catalog, hence its own SQLite connections, like a second process.
                let catalog = try Catalog.open(root: dir.url)
                for i in 0 ..< perWriter {
                    let (snap, fid) = try catalog.commit(author: "writer\(writer)") { tx in
                        try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "w\(writer)-\(i)", date: "2024-01-15",
                                                                   channel: writer == 0 ? "web" : "app", rows: 10))
                    }
                    committed.append((snap.id, fid))
                }
            } catch {
                errors.append("writer \(writer): \(error)")
            }
        }
        #expect(errors.all.isEmpty)
        #expect(observed.all.count == 40)
        for (snap, files) in observed.all { #expect(Int64(files) == max(0, snap - 1), "snapshot \(snap) showed \(files) files") }
        let results = committed.all
        #expect(results.count == 2 * perWriter)
        #expect(Set(results.map(\.0)).count == results.count)
        #expect(Set(results.map(\.1)).count == results.count)

        let catalog = try Catalog.open(root: dir.url)
        let snaps = try catalog.snapshots()
        #expect(snaps.map(\.id) == Array(0 ... Int64(1 + 2 * perWriter)))
        #expect(zip(snaps, snaps.dropFirst()).allSatisfy { $0.timeMicros < $1.timeMicros })
        let files = try catalog.dataFiles(tableID: tid)
        #expect(files.map(\.dataFileID) == Array(0 ..< Int64(2 * perWriter)))
        // Row id ranges tile 0..<500 with no overlap.
        let starts = files.compactMap(\.rowIDStart).sorted()
        #expect(starts == stride(from: Int64(0), to: Int64(20 * perWriter), by: 10).map { $0 })
        try catalog.read { (db: SQLDatabase) throws in
            #expect(try Int64.fetchOne(db, sql: "SELECT next_row_id FROM ducklake_table_stats WHERE table_id = ?", arguments: [tid]) == Int64(20 * perWriter))
        }
    }
}

@Suite struct CrossProcessLocking {
    /// Another process holds SQLite's write lock; our commit waits for it instead of failing.
    @Test func commitWaitsForAnotherProcessHoldingTheWriteLock() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let catalog = try Catalog.open(root: dir.url)
        let tid = try makeOrders(catalog)
        let marker = dir.url.appendingPathComponent("locked")
        let script = """
        import sqlite3, time
        db = sqlite3.connect(sys.argv[1], isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        open(sys.argv[2], "w").close()
        time.sleep(1.5)
        released = time.time()  # taken before COMMIT: the lock is still held at this instant
        db.execute("COMMIT")
        print(json.dumps({"ok": True, "released": released}))
        """
        let holder = Box<Result<String, Error>>()
        detachThread {
            holder.append(Result { try Python.run(script, args: [dir.url.appendingPathComponent("manifest.sqlite").path, marker.path], in: dir.url) })
        }
        // Deadlines a loaded machine cannot reach (Python's start-up, the holder's 1.5 s); each
        // wait ends as soon as its event happened.
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: marker.path) && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(FileManager.default.fileExists(atPath: marker.path))
        let (snap, _) = try catalog.commit { tx in
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "x", date: "2024-01-15", channel: "web", rows: 1))
        }
        // Our commit ended after the holder's last instant with the lock (an elapsed-time bound
        // instead failed whenever this thread saw the marker late on a loaded machine).
        let committed = Date().timeIntervalSince1970
        #expect(snap.id == 2)
        let exited = Date().addingTimeInterval(120)
        while holder.all.isEmpty && Date() < exited { Thread.sleep(forTimeInterval: 0.02) }
        let out = try #require(holder.all.first)
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(try out.get().utf8)) as? [String: Any])
        let released = try #require(answer["released"] as? Double)
        #expect(committed >= released, "our commit returned \(released - committed) s before the other process let go of the write lock")
    }
}
