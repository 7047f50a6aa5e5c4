import Foundation
import LakeCatalog
import LakeTestSupport
import Testing

/// Partition directories are named for the partition columns (`event_date=…/channel=…`), as
/// DuckDB names the ones it writes into.
@Suite struct PartitionDirectoryTests {
    /// DuckDB writes into partitions lake wrote, lake ingests into them again, then DuckDB
    /// merges the partitions' files. Until session 31 lake's directories were `date=…` and
    /// DuckDB's `event_date=…`: DuckDB 1.5.5's merge failed with "INTERNAL Error:
    /// DuckLakeCompactor: Files have different hive partition path" (and the connection with it).
    @Test func duckDBsCompactionMergesOurFilesWithItsOwn() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let inputs = try TemporaryDirectory("compaction-input")
        defer { inputs.remove() }
        let attach = Python.duckdbPrelude + """
            con = duck()
            con.execute("SET TimeZone = 'UTC'")
            con.execute("ATTACH 'ducklake:sqlite:\(lake.root)/manifest.sqlite' AS l (DATA_PATH '\(lake.root)/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 0)")
            def counts():
                return list(con.execute('''SELECT (SELECT count(*) FROM l.curated.orders), (SELECT sum(order_total) FROM l.curated.orders)::VARCHAR,
                    (SELECT count(*) FROM l.curated.order_items), (SELECT count(*) FROM l.raw.orders)''').fetchone())

            """
        // DuckDB rewrites a row of every partition (an UPDATE: a delete and a new file there).
        _ = try Python.run(attach + """
            con.execute("UPDATE l.curated.orders SET status = status WHERE order_id IN (SELECT min(order_id) FROM l.curated.orders GROUP BY event_date, channel)")
            """)
        let r = try runLake(["ingest", "orders", try AlteredTableIngestTests.freshOrders(inputs), "--lake", lake.root])
        #expect(r.status == 0, "\(r.err)")
        let out = try Python.json(attach + """
            before = counts()
            merged = con.execute("SELECT count(*) FROM ducklake_merge_adjacent_files('l')").fetchone()[0]
            print(json.dumps({"before": before, "after": counts(), "merged": merged}))
            """) as? [String: Any]
        let before = out?["before"] as? [Any], after = out?["after"] as? [Any]
        #expect(before != nil && before?.description == after?.description, "DuckDB's counts before and after its merge: \(String(describing: out))")
        #expect((out?["merged"] as? Int ?? 0) > 0, "DuckDB merged files: \(String(describing: out))")
        // Its merged files are ours to read and verify.
        let verify = try runLake(["verify", "--lake", lake.root])
        #expect(verify.status == 0, "\(verify.out)\(verify.err)")
        let ours = try runLake(["query", "orders", "--agg", "count(*)", "--format", "csv", "--lake", lake.root])
        #expect(ours.out.split(separator: "\n").last.map(String.init) == (before?.first).map { "\($0)" }, "\(ours.out) vs \(String(describing: before))")
    }

    /// `lake compact --partition` takes the day as the directories now spell it, and as they
    /// did before (`date=`); anything else is a usage error naming the form.
    @Test func compactTakesADayInEitherSpelling() throws {
        let lake = try EvaluationLake(orderChunks: 2)
        defer { lake.dir.remove() }
        // The partitions each plan would merge, with their file counts.
        func plan(_ partition: String) throws -> [String] {
            let r = try runLake(["compact", "curated.orders", "--partition", partition, "--min-files", "2", "--dry-run", "--format", "json", "--lake", lake.root])
            #expect(r.status == 0, "\(partition): \(r.err)")
            let json = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
            let groups = json?["partitions"] as? [[String: Any]] ?? []
            return groups.map { "\($0["partition"] ?? "?") \($0["files_before"] ?? "?")" }.sorted()
        }
        let day = try plan("event_date=2024-01-15"), legacy = try plan("date=2024-01-15")
        #expect(!day.isEmpty && day == legacy && day.allSatisfy { $0.contains("event_date=2024-01-15") }, "\(day) vs \(legacy)")
        let bad = try runLake(["compact", "--partition", "day=2024-01-15", "--lake", lake.root])
        #expect(bad.status == 64 && bad.err.contains("expected event_date=YYYY-MM-DD"), "\(bad.status) \(bad.err)")
    }

    /// A lake from before session 31 (`date=…` directories) that DuckDB then wrote into: `lake
    /// compact` puts each partition's merged file in its `event_date=…` directory, so no
    /// partition stays split across two directories and DuckDB's merge works on it afterwards.
    @Test func compactionMovesALegacyPartitionToItsEventDateDirectory() throws {
        let lake = try EvaluationLake(orderChunks: 2)
        defer { lake.dir.remove() }
        // The old layout: every partition directory renamed, the catalog's paths with it.
        for table in ["raw/orders", "curated/orders", "curated/order_items"] {
            let dir = lake.dir.url.appendingPathComponent(table)
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasPrefix("event_date=") {
                try FileManager.default.moveItem(at: dir.appendingPathComponent(name), to: dir.appendingPathComponent(String(name.dropFirst(6))))
            }
        }
        _ = try Python.run("""
            import sqlite3
            db = sqlite3.connect("\(lake.root)/manifest.sqlite")
            db.execute("UPDATE ducklake_data_file SET path = substr(path, 7) WHERE path LIKE 'event_date=%'")
            db.commit()
            """)
        #expect(try runLake(["verify", "--lake", lake.root]).status == 0, "the renamed lake reads as before")
        try AlteredTableIngestTests.alter(lake.root, [
            "UPDATE l.curated.orders SET status = status WHERE order_id IN (SELECT min(order_id) FROM l.curated.orders GROUP BY event_date, channel)",
        ], inlining: false)
        let compact = try runLake(["compact", "--min-files", "2", "--lake", lake.root])
        #expect(compact.status == 0, "\(compact.err)")
        // Every partition of curated.orders had two files or more (two ingests, DuckDB's update).
        let live = try lake.catalog.read { db in
            try String.fetchAll(db, sql: """
                SELECT f.path FROM ducklake_data_file f JOIN ducklake_table t USING (table_id) JOIN ducklake_schema s USING (schema_id)
                WHERE s.schema_name = 'curated' AND t.table_name = 'orders' AND t.end_snapshot IS NULL AND f.end_snapshot IS NULL
                  AND f.path NOT LIKE 'event_date=%'
                """)
        }
        #expect(live.isEmpty, "curated.orders files outside event_date= directories after lake compact: \(live.prefix(3))")
        let out = try Python.json(Python.duckdbPrelude + """
            con = duck()
            con.execute("ATTACH 'ducklake:sqlite:\(lake.root)/manifest.sqlite' AS l (DATA_PATH '\(lake.root)/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 0)")
            before = con.execute("SELECT count(*) FROM l.curated.orders").fetchone()[0]
            con.execute("INSERT INTO l.curated.orders SELECT * REPLACE ('ORD-Z' || order_id AS order_id) FROM l.curated.orders")
            con.execute("CALL ducklake_merge_adjacent_files('l')")
            print(json.dumps([before, con.execute("SELECT count(*) FROM l.curated.orders").fetchone()[0]]))
            """) as? [Int]
        #expect(out?.count == 2 && out?[1] == 2 * (out?[0] ?? -1), "DuckDB's merge after lake compact: \(String(describing: out))")
    }
}
