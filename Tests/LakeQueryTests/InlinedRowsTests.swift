import Foundation
import LakeCatalog
import LakeFormat
@testable import LakePipeline
import LakeQuery
import LakeTestSupport
import Testing

/// DuckDB 1.5.5 with its default data inlining (inserts of up to 10 rows stay in the catalog):
/// it inserts a few orders and their items, deletes one inlined order, adds a column, inserts
/// more, renames the column and inserts again. Our reports, `lake query`, quality, raw scans
/// and `lake files` equal DuckDB's answers at every snapshot; an ingest then counts the
/// inlined order ids as committed; compaction keeps the answers and DuckDB agrees after it.
@Suite struct InlinedRowsTests {
    /// The inlined orders with their values in storage units (micros, days, cents), so a
    /// conversion off by a time zone, a day or a decimal place shows.
    static let inlinedSQL = """
        def inlined(v):
            return rows(f'''SELECT order_id, epoch_us(event_time), event_date - DATE '1970-01-01', (order_total * 100)::BIGINT,
                status, units FROM l.curated.orders AT (VERSION => {v}) WHERE order_id >= 'IN' AND order_id < 'IO' ORDER BY 1''')

        """

    static func inlinedOrders(_ catalog: Catalog, _ v: Int64) throws -> [[String]] {
        let scan = try TableScan(catalog: catalog, name: "curated.orders", asOf: .snapshot(v))
        let columns = ["order_id", "event_time", "event_date", "order_total", "status", "units"]
        let (batches, _) = try scan.run(columns: columns, where: [scan.predicate("order_id", .ge, ["IN"]), scan.predicate("order_id", .lt, ["IO"])])
        var out: [[String]] = []
        for b in batches {
            for row in b.selection.map({ $0.map(Int.init) }) ?? Array(0 ..< b.batch.count) {
                out.append(b.batch.columns.map { c -> String in
                    if c.isNull(row) { return "" }
                    switch c.data {
                    case .int32(let v): return String(v[row])
                    case .int64(let v): return String(v[row])
                    default: return c.string(at: row) ?? "?"
                    }
                })
            }
        }
        return out.sorted { $0[0] < $1[0] }
    }

    @Test func reportsQueriesAndIngestSeeDuckDBInlinedRowsAtEverySnapshot() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let s0 = try lake.catalog.latestSnapshot().id
        let prelude = Python.duckdbPrelude + """
            con = duck()
            # DuckDB's defaults: inserts of up to 10 rows are inlined in the catalog.
            con.execute("ATTACH 'ducklake:sqlite:\(lake.root)/manifest.sqlite' AS l (DATA_PATH '\(lake.root)/', OVERRIDE_DATA_PATH TRUE)")
            def snap():
                return con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('l')").fetchone()[0]
            def copy(prefix, ids, extra=""):
                idlist = ", ".join("'" + i + "'" for i in ids)
                con.execute(f"INSERT INTO l.curated.orders SELECT * REPLACE ('{prefix}' || order_id AS order_id{extra}) FROM l.curated.orders WHERE order_id IN ({idlist})")
                con.execute(f"INSERT INTO l.curated.order_items SELECT * REPLACE ('{prefix}' || order_id AS order_id) FROM l.curated.order_items WHERE order_id IN ({idlist})")
            single = [r[0] for r in con.execute('''SELECT order_id FROM l.curated.orders AT (VERSION => \(s0))
                WHERE item_count = 1 AND status = 'confirmed' ORDER BY order_id LIMIT 6''').fetchall()]
            out = []

            """
        let first = try Python.json(prelude + """
            con.execute("BEGIN"); copy("INL-", single[:3]); con.execute("COMMIT"); out.append(snap())
            con.execute(f"DELETE FROM l.curated.orders WHERE order_id = 'INL-{single[0]}'"); out.append(snap())
            print(json.dumps({"snapshots": out, "ids": single}))
            """) as? [String: Any]
        var snapshots = try #require(first?["snapshots"] as? [Int])
        let ids = try #require(first?["ids"] as? [String])
        #expect(snapshots.count == 2 && ids.count == 6)

        // Our ingest re-sends the inlined order ids (before DuckDB's ADD COLUMN: our ingest into
        // a table with a column it does not know is another matter): the live ones are
        // duplicates, the one DuckDB deleted is new again.
        // Each order's own source line (its first: the one our ingest accepted) under the new id.
        let source = try String(contentsOf: packageRoot.appendingPathComponent("Evaluation-Files/orders_stream.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        let resent = try ids.prefix(3).map { id in
            let line = try #require(source.first { $0.contains("\"order_id\": \"\(id)\"") })
            return line.replacingOccurrences(of: "\"order_id\": \"\(id)\"", with: "\"order_id\": \"INL-\(id)\"")
        }
        try (resent.joined(separator: "\n") + "\n").write(toFile: lake.dir.file("resend.jsonl"), atomically: true, encoding: .utf8)
        let again = try OrderIngest.run(lake.store, path: lake.dir.file("resend.jsonl"))
        #expect(again.duplicates == 2, "the two live inlined orders are committed: duplicates \(again)")
        #expect(again.accepted == 1, "the inlined order DuckDB deleted is accepted again")
        snapshots.append(Int(try lake.catalog.latestSnapshot().id))

        let mutate = try Python.json(prelude + """
            con.execute("ALTER TABLE l.curated.orders ADD COLUMN note VARCHAR DEFAULT 'n/a'"); out.append(snap())
            con.execute("BEGIN"); copy("INM-", single[3:5], ", 'promo' AS note"); con.execute("COMMIT"); out.append(snap())
            con.execute("ALTER TABLE l.curated.orders RENAME COLUMN note TO remark"); out.append(snap())
            con.execute("BEGIN"); copy("INN-", single[5:6], ", NULL AS remark"); con.execute("COMMIT"); out.append(snap())
            tables = con.execute("SELECT count(*) FROM __ducklake_metadata_l.ducklake_inlined_data_tables").fetchone()[0]
            files = con.execute(f"SELECT count(*) FROM __ducklake_metadata_l.ducklake_data_file WHERE begin_snapshot > \(s0) AND begin_snapshot != \(snapshots.last!)").fetchone()[0]
            print(json.dumps({"snapshots": out, "files": files, "inlined_tables": tables}))
            """) as? [String: Any]
        snapshots += try #require(mutate?["snapshots"] as? [Int])
        #expect(snapshots.count == 7)
        #expect(mutate?["files"] as? Int == 0, "DuckDB wrote no data file: every insert was inlined")
        #expect((mutate?["inlined_tables"] as? Int ?? 0) >= 4, "orders at three schema versions and order_items")
        let orders = try lake.catalog.table(schema: "curated", name: "orders")
        #expect(try lake.catalog.inlinedRowCount(tableID: orders.tableID) == 5)
        // The inlined ids of every schema version are committed ids for the next ingest's dedupe.
        let committed = try OrderIDIndex.load(lake.store, at: try lake.catalog.latestSnapshot().id)
        for id in ["INL-\(ids[1])", "INL-\(ids[2])", "INM-\(ids[3])", "INM-\(ids[4])", "INN-\(ids[5])", "INL-\(ids[0])", ids[0]] {
            var text = id
            #expect(text.withUTF8 { committed.containsOrderID(UnsafeRawBufferPointer($0)) }, "\(id) is committed")
        }
        let all = [Int(s0)] + snapshots
        let duck = try Python.json(lake.attach + DeleteFileTests.answersSQL + Self.inlinedSQL + """
            remarks = rows("SELECT order_id, coalesce(remark, '<null>') FROM l.curated.orders WHERE order_id >= 'IN' AND order_id < 'IO' ORDER BY 1")
            count = con.execute("SELECT count(*) FROM l.curated.orders").fetchone()[0]
            print(json.dumps({"at": {str(v): dict(answers(v), inlined=inlined(v)) for v in \(all)}, "remarks": remarks, "count": count}))
            """) as? [String: Any]
        let at = try #require(duck?["at"] as? [String: [String: [[String]]]])
        var answers: [Int: [String: [[String]]]] = [:]
        for v in all {
            var mine = try DeleteFileTests.ours(lake.catalog, Int64(v))
            mine["inlined"] = try Self.inlinedOrders(lake.catalog, Int64(v))
            DeleteFileTests.expectSame(mine, at[String(v)], "snapshot \(v)")
            answers[v] = mine
        }
        #expect(answers[all[0]]?["inlined"] == [], "nothing inlined before DuckDB's inserts")
        #expect(answers[all[1]]?["inlined"]?.count == 3 && answers[all[2]]?["inlined"]?.count == 2)
        #expect(answers[all[1]]?["daily"] != answers[all[0]]?["daily"], "the inlined orders change the daily revenue")
        #expect(answers[all[1]]?["products"] != answers[all[0]]?["products"] || answers[all[1]]?["customers"] != answers[all[0]]?["customers"])
        let last = Int64(all.last!)
        #expect(try Self.dashboard(lake.catalog, last) == at[String(last)]?["dashboard"])

        // `lake query` reads the added, then renamed column: DuckDB's default on rows inlined
        // before it existed, the inserted value, and a NULL.
        var spec = QuerySpec(table: "orders")
        spec.conditions = ["order_id between IN and IO"]
        spec.columns = ["order_id", "remark"]
        spec.orderBy = ["order_id"]
        let remarks = try Query.run(spec, catalog: lake.catalog).table.rows.map { r in [r[0].text, r[1] == .null ? "<null>" : r[1].text] }
        #expect(remarks == duck?["remarks"] as? [[String]])
        #expect(Set(remarks.map { $0[1] }) == ["n/a", "promo", "<null>"])

        // `lake files` and `lake tables` count the inlined rows.
        let listed = try runLake(["files", "curated.orders", "--lake", lake.root])
        try #require(listed.status == 0, "lake files failed: \(listed.err)")
        let count = try #require(duck?["count"] as? Int)
        #expect(listed.out.contains("files, \(count) rows (5 of them inlined"), "\(listed.out.prefix(300))")
        let tables = try runLake(["tables", "--lake", lake.root])
        #expect(tables.out.contains("\(count) rows, 5 of them inlined in the catalog"), "\(tables.out.prefix(600))")

        // Compaction merges the files and leaves the inlined rows in the catalog: same answers,
        // in ours and in DuckDB's at the compaction's snapshot.
        let compacted = try Compaction.run(lake.catalog)
        let cs = try #require(compacted.snapshotID, "the re-sent order's file merges with its partition's")
        #expect(try lake.catalog.inlinedRowCount(tableID: orders.tableID) == 5)
        var afterCompaction = try DeleteFileTests.ours(lake.catalog, cs)
        afterCompaction["inlined"] = try Self.inlinedOrders(lake.catalog, cs)
        DeleteFileTests.expectSame(afterCompaction, answers[Int(last)], "after compaction (our answers before it)")
        let duckAfter = try Python.json(lake.attach + DeleteFileTests.answersSQL + Self.inlinedSQL
                                        + "print(json.dumps(dict(answers(\(cs)), inlined=inlined(\(cs)))))") as? [String: [[String]]]
        DeleteFileTests.expectSame(afterCompaction, duckAfter, "DuckDB after compaction")

        // Vacuum forgets every older snapshot, but not the column versions the inlined tables
        // are named by (`note`, renamed since): the inlined rows still read.
        let vacuum = try lake.catalog.expireSnapshots(olderThan: Date().addingTimeInterval(3600))
        #expect(vacuum.failedDeletes.isEmpty)
        var afterVacuum = try DeleteFileTests.ours(lake.catalog, cs)
        afterVacuum["inlined"] = try Self.inlinedOrders(lake.catalog, cs)
        DeleteFileTests.expectSame(afterVacuum, afterCompaction, "after vacuum")
        #expect(try Query.run(spec, catalog: lake.catalog).table.rows.map { r in [r[0].text, r[1] == .null ? "<null>" : r[1].text] } == remarks)
    }

    static func dashboard(_ catalog: Catalog, _ v: Int64) throws -> [[String]] { try DeleteFileTests.dashboard(catalog, v) }

    /// Every type we read, inlined by DuckDB into a lake it made, with values at the edges
    /// (before the epoch, a leap day, a fraction and a time-zone offset, negative decimals,
    /// NULLs, text with quotes and non-ASCII): our scan's values equal DuckDB's, in storage
    /// units, before and after a DELETE of an inlined row.
    @Test func inlinedValuesConvertExactly() throws {
        let dir = try TemporaryDirectory("inlined-types")
        defer { dir.remove() }
        let duck = try Python.json(Python.duckdbPrelude + """
            con = duck()
            con.execute("ATTACH 'ducklake:sqlite:\(dir.path)/manifest.sqlite' AS l (DATA_PATH '\(dir.path)/')")
            con.execute("CREATE TABLE l.main.kinds(id INTEGER, big BIGINT, ok BOOLEAN, x DOUBLE, amount DECIMAL(12,2), day DATE, seen TIMESTAMPTZ, label VARCHAR)")
            con.execute('''INSERT INTO l.main.kinds VALUES
                (1, -9000000000, true, 1.25, -0.05, DATE '1969-12-31', TIMESTAMPTZ '1969-12-31 23:59:59.999999+00', 'it''s'),
                (2, 7, false, -1e300, 9999999999.99, DATE '2024-02-29', TIMESTAMPTZ '2024-02-29 12:00:00.5+05:30', 'ünï "q"'),
                (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL)''')
            a = con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('l')").fetchone()[0]
            con.execute("DELETE FROM l.main.kinds WHERE id = 2")
            b = con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('l')").fetchone()[0]
            def rows(v):
                return [[("" if x is None else str(x)) for x in r] for r in con.execute(f'''SELECT id, big, ok::VARCHAR, x,
                    (amount * 100)::BIGINT, day - DATE '1970-01-01', epoch_us(seen), label FROM l.main.kinds AT (VERSION => {v}) ORDER BY id''').fetchall()]
            files = con.execute("SELECT count(*) FROM __ducklake_metadata_l.ducklake_data_file").fetchone()[0]
            print(json.dumps({"at": {str(a): rows(a), str(b): rows(b)}, "files": files}))
            """) as? [String: Any]
        #expect(duck?["files"] as? Int == 0, "the rows are inlined, not in a file")
        let at = try #require(duck?["at"] as? [String: [[String]]])
        #expect(at.count == 2)
        let catalog = try Catalog.open(root: dir.url, create: false, readOnly: true)
        for (v, expected) in at {
            let scan = try TableScan(catalog: catalog, name: "main.kinds", asOf: .snapshot(try #require(Int64(v))))
            let (batches, _) = try scan.run(columns: scan.columnNames)
            var mine: [[String]] = []
            for b in batches {
                for row in b.selection.map({ $0.map(Int.init) }) ?? Array(0 ..< b.batch.count) {
                    mine.append(b.batch.columns.map { c -> String in
                        if c.isNull(row) { return "" }
                        switch c.data {
                        case .bool(let v): return v[row] ? "true" : "false"
                        case .int32(let v): return String(v[row])
                        case .int64(let v): return String(v[row])
                        case .double(let v): return String(v[row])
                        default: return c.string(at: row) ?? "?"
                        }
                    })
                }
            }
            #expect(mine.sorted { $0[0] < $1[0] } == expected, "snapshot \(v)")
        }
    }
}
