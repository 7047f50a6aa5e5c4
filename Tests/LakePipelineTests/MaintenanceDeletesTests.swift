import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

/// Compaction and `schema migrate --rewrite` on a lake DuckDB deleted rows from: the new files
/// hold the rows minus the deletes, a delete committed while compaction ran is never lost, and
/// DuckDB reads the same rows before and after.
@Suite("Maintenance: DuckLake delete files", .serialized)
struct MaintenanceDeletesTests {
    /// Sorted live order ids of curated.orders at `snapshot`, through DuckDB's attach.
    static func duckIDs(_ lake: BatchedLake, _ snapshot: Int64, run sql: String = "") throws -> [String] {
        let script = Python.duckdbPrelude + """
        con = duck()
        con.execute("ATTACH 'ducklake:sqlite:\(lake.lakeRoot)/manifest.sqlite' AS l (DATA_PATH '\(lake.lakeRoot)/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 0)")
        for s in sys.argv[1:]:
            con.execute(s)
        v = \(snapshot) if \(snapshot) >= 0 else con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('l')").fetchone()[0]
        print(json.dumps([r[0] for r in con.execute(f"SELECT order_id FROM l.curated.orders AT (VERSION => {v}) ORDER BY 1").fetchall()]))
        """
        return try Python.json(script, sql.isEmpty ? [] : [sql]) as? [String] ?? []
    }

    /// DuckDB's row id of each live curated.orders row at `snapshot`, by order id, and what its
    /// change feed lists at `snapshot` alone: count by change type.
    static func duckRowIDs(_ lake: BatchedLake, _ snapshot: Int64) throws -> (rowIDs: [String: Int], changes: [String: Int]) {
        let script = Python.duckdbPrelude + """
        con = duck()
        con.execute("ATTACH 'ducklake:sqlite:\(lake.lakeRoot)/manifest.sqlite' AS l (DATA_PATH '\(lake.lakeRoot)/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
        ids = dict(con.execute("SELECT order_id, rowid FROM l.curated.orders AT (VERSION => \(snapshot))").fetchall())
        changes = dict(con.execute("SELECT change_type, count(*) FROM ducklake_table_changes('l', 'curated', 'orders', \(snapshot), \(snapshot)) GROUP BY ALL").fetchall())
        print(json.dumps([ids, changes]))
        """
        let out = try Python.json(script) as? [[String: Int]] ?? []
        return (out.first ?? [:], out.last ?? [:])
    }

    static func nextRowID(_ lake: BatchedLake, _ table: TableInfo) throws -> Int64? {
        try lake.catalog.read { db in
            try Int64.fetchOne(db, sql: "SELECT next_row_id FROM ducklake_table_stats WHERE table_id = ?", arguments: [table.tableID])
        }
    }

    /// The same through our reader (DataFileReader, as scans, compaction and migration read).
    static func ourIDs(_ lake: BatchedLake, _ snapshot: Int64? = nil) throws -> [String] {
        let at = snapshot.map(AsOf.snapshot)
        let table = try lake.catalog.table(schema: "curated", name: "orders", at: at)
        guard let c = table.column(named: "order_id") else { return [] }
        var ids: [String] = []
        for f in try lake.catalog.dataFiles(tableID: table.tableID, at: at, columnStats: false) {
            for b in try DataFileReader(f, columns: [c], files: lake.catalog.files).read(parallelism: 1) {
                ids += (0 ..< b.count).compactMap { b.columns[0].string(at: $0) }
            }
        }
        return ids.sorted()
    }

    @Test("compaction and migrate --rewrite apply deletes; a delete racing compaction skips its partition")
    func compactionAndMigrationApplyDeletes() throws {
        let lake = try BatchedLake(batches: 2, v1Only: true)
        defer { lake.dir.remove() }
        let s0 = try lake.catalog.latestSnapshot().id
        let table = try lake.catalog.table(schema: "curated", name: "orders")
        // A partition with two files, for the delete that races compaction.
        let files = try lake.catalog.dataFiles(tableID: table.tableID)
        let partition = try #require(Dictionary(grouping: files, by: \.partitionValues).first { $0.value.count >= 2 }?.key)
        let first = try #require(files.first { $0.partitionValues == partition })
        let inFirst = try DataFileReader(first, columns: [try #require(table.column(named: "order_id"))], files: lake.catalog.files).read(parallelism: 1)
            .flatMap { b in (0 ..< b.count).compactMap { b.columns[0].string(at: $0) } }

        // DuckDB deletes a customer's orders and a whole partition (not the racing one).
        let other = try #require(files.first { $0.partitionValues != partition }?.partitionValues)
        let deleted = try Self.duckIDs(lake, -1, run: """
            DELETE FROM l.curated.orders WHERE customer_id = 'CUST-00002' OR (event_date = '\(other["event_date"]!)' AND channel = '\(other["channel"]!)')
            """)
        let s1 = try lake.catalog.latestSnapshot().id
        #expect(s1 == s0 + 1)
        #expect(try Self.ourIDs(lake) == deleted)
        #expect(try Self.ourIDs(lake, s0) == Self.duckIDs(lake, s0))
        #expect(try Self.ourIDs(lake, s0).count > deleted.count + 20)
        let racing = try #require(inFirst.first { deleted.contains($0) })

        // Compaction; DuckDB deletes one row of the racing partition after compaction read it.
        let rowIDsBefore = try Self.duckRowIDs(lake, s1).rowIDs
        #expect(rowIDsBefore.count == deleted.count)
        let nextRowID = try Self.nextRowID(lake, table)
        var options = CompactionOptions()
        options.table = "curated.orders"
        let report = try Compaction.run(lake.catalog, options: options, beforeCommit: {
            _ = try Self.duckIDs(lake, -1, run: "DELETE FROM l.curated.orders WHERE order_id = '\(racing)'")
        })
        let compacted = try #require(report.snapshotID)
        let racingName = Compaction.describe(partition)
        #expect(report.groups.first { $0.partition == racingName }?.skippedConflict == true, "the racing partition is left alone")
        #expect(report.groups.contains { !$0.skippedConflict && $0.partition != racingName })
        let afterCompaction = try Self.ourIDs(lake)
        #expect(afterCompaction == deleted.filter { $0 != racing }, "no delete is lost, no row duplicated")
        #expect(try Self.duckIDs(lake, compacted) == afterCompaction)
        let live = try lake.catalog.dataFiles(tableID: table.tableID)
        #expect(live.filter { $0.deleteFile != nil }.allSatisfy { $0.partitionValues == partition }, "only the skipped partition keeps delete files")
        #expect(live.contains { $0.deleteFile != nil })
        #expect(!live.contains { $0.partitionValues == other }, "a partition whose rows are all deleted has no file left")
        #expect(try Self.ourIDs(lake, s0) == Self.duckIDs(lake, s0), "time travel before the deletes after compaction")
        // The rewritten rows keep their row ids, as DuckDB's ducklake_rewrite_data_files keeps
        // them: its change feed reads the compaction as each row updated to itself, never a
        // delete and an insert under a new id (which it read until session 35).
        let afterCompactionDuck = try Self.duckRowIDs(lake, compacted)
        let kept = rowIDsBefore.filter { $0.key != racing }
        #expect(afterCompactionDuck.rowIDs.count == kept.count)
        #expect(kept.filter { afterCompactionDuck.rowIDs[$0.key] != $0.value }.isEmpty, "rows under a new row id")
        #expect(afterCompactionDuck.changes["insert"] == nil && afterCompactionDuck.changes["delete"] == nil, "\(afterCompactionDuck.changes)")
        #expect((afterCompactionDuck.changes["update_postimage"] ?? 0) > 0)
        #expect(afterCompactionDuck.changes["update_postimage"] == afterCompactionDuck.changes["update_preimage"])
        #expect(try Self.nextRowID(lake, table) == nextRowID)

        // migrate --rewrite writes every file minus its deletes; the delete files end with it.
        let store = LakeStore(catalog: lake.catalog, registry: try liveRegistry())
        let migrated = try #require(try Migration.run(store, table: "orders", to: 2, rewrite: true).snapshotID)
        #expect(try lake.catalog.dataFiles(tableID: table.tableID).allSatisfy { $0.deleteFile == nil && $0.beginSnapshot == migrated })
        let ended = try lake.catalog.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM ducklake_delete_file WHERE end_snapshot = ?", arguments: [migrated])
        }
        #expect((ended ?? 0) > 0)
        #expect(try Self.ourIDs(lake) == afterCompaction)
        #expect(try Self.duckIDs(lake, migrated) == afterCompaction)
        // Every row keeps its id through the migration too: one update each in the change feed.
        let afterMigration = try Self.duckRowIDs(lake, migrated)
        #expect(afterMigration.rowIDs.count == kept.count)
        #expect(kept.filter { afterMigration.rowIDs[$0.key] != $0.value }.isEmpty, "rows under a new row id")
        #expect(afterMigration.changes == ["update_preimage": afterCompaction.count, "update_postimage": afterCompaction.count])
        #expect(try Self.nextRowID(lake, table) == nextRowID)

        // DuckDB maintains files that carry their row ids as it does its own: a delete, its
        // rewrite and its merge keep every other row's id, and both readers agree.
        let gone = try #require(afterCompaction.first)
        let duckMaintained = try Self.duckIDs(lake, -1, run: """
            DELETE FROM l.curated.orders WHERE order_id = '\(gone)';
            CALL ducklake_rewrite_data_files('l', delete_threshold => 0);
            CALL ducklake_merge_adjacent_files('l')
            """)
        #expect(duckMaintained == Array(afterCompaction.dropFirst()))
        #expect(try Self.ourIDs(lake) == duckMaintained)
        let afterDuck = try Self.duckRowIDs(lake, try lake.catalog.latestSnapshot().id)
        #expect(afterDuck.rowIDs.count == kept.count - 1)
        #expect(kept.filter { $0.key != gone && afterDuck.rowIDs[$0.key] != $0.value }.isEmpty, "rows under a new row id")
    }
}
