import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
import LakeQuery
import LakeTestSupport
import Testing

/// DuckDB deletes and updates rows of our lake through its ducklake attach, over several
/// snapshots; every report, `lake query`, `report diff` and the quality figures then equal
/// DuckDB's answers at each snapshot (the snapshot before the deletes keeps the old answers),
/// also after an ingest that re-sends deleted orders, after compaction and after vacuum.
@Suite struct DeleteFileTests {
    /// DuckDB's answers at snapshot `v`, every value as text, in the shapes `ours` builds.
    static let answersSQL = ReportTests.dailyRevenueSQL + """
        def rows(sql):
            return [[("" if v is None else str(v)) for v in r] for r in con.execute(sql).fetchall()]
        def answers(v):
            at = f" AT (VERSION => {v})"
            a = {"daily": daily(v)}
            a["products"] = rows(f'''SELECT product_id, sum(line_revenue)::VARCHAR, sum(quantity), count(DISTINCT order_id)
                FROM l.curated.order_items{at} WHERE status = 'confirmed' GROUP BY 1 ORDER BY sum(line_revenue) DESC, 1 LIMIT 10''')
            a["customers"] = rows(f'''SELECT customer_id, count(*), sum(order_total)::VARCHAR FROM l.curated.orders{at}
                WHERE status = 'confirmed' GROUP BY 1 ORDER BY sum(order_total) DESC, 1 LIMIT 10''')
            a["summary"] = rows(f'''SELECT count(*), count(*) FILTER (WHERE n > 1), sum(n) FROM
                (SELECT customer_id, count(*) n FROM l.curated.orders{at} WHERE status = 'confirmed' GROUP BY 1)''')
            a["inventory"] = rows(f'''SELECT product_id, warehouse_location, arg_max(available_quantity, last_updated)
                FROM l.curated.inventory{at} GROUP BY 1, 2 ORDER BY 1, 2''')
            a["rejected"] = rows(f"SELECT count(reject_reason) FROM l.raw.orders{at}")
            a["by_status"] = rows(f'''SELECT status, count(*), sum(order_total)::VARCHAR FROM l.curated.orders{at}
                GROUP BY 1 ORDER BY 1''')
            a["cust3"] = rows(f"SELECT order_id, status FROM l.curated.orders{at} WHERE customer_id = 'CUST-00003' ORDER BY 1")
            a["quality"] = rows(f'''WITH acc AS (SELECT batch_id, order_id FROM l.raw.orders{at} WHERE reject_reason IS NULL),
                o AS (SELECT order_id, order_total, item_count FROM l.curated.orders{at}),
                i AS (SELECT order_id, sum(line_revenue) s, count(*) n FROM l.curated.order_items{at} GROUP BY 1),
                orphan AS (SELECT acc.batch_id, count(*) n FROM (SELECT * FROM l.curated.order_items{at}) it JOIN acc USING (order_id)
                    WHERE order_id NOT IN (SELECT order_id FROM o) GROUP BY 1),
                field AS (SELECT acc.batch_id, count(*) n FROM (SELECT * FROM l.curated.order_items{at}) it JOIN acc USING (order_id)
                    JOIN (SELECT * FROM l.curated.orders{at}) o2 USING (order_id) WHERE it.status IS DISTINCT FROM o2.status
                    OR it.channel IS DISTINCT FROM o2.channel OR it.event_time IS DISTINCT FROM o2.event_time GROUP BY 1)
                SELECT acc.batch_id, count(*), count(*) FILTER (WHERE coalesce(i.s, 0) <> o.order_total),
                    count(*) FILTER (WHERE coalesce(i.n, 0) <> o.item_count), coalesce(any_value(orphan.n), 0),
                    coalesce(any_value(field.n), 0)
                FROM acc JOIN o USING (order_id) LEFT JOIN i USING (order_id) LEFT JOIN orphan USING (batch_id)
                    LEFT JOIN field USING (batch_id) GROUP BY 1 ORDER BY 1''')
            a["days"] = rows(f'''SELECT event_date::VARCHAR, count(*), count(reject_reason) FROM l.raw.orders{at}
                WHERE event_date IS NOT NULL GROUP BY 1 ORDER BY 1''')
            a["dashboard"] = rows(f'''SELECT coalesce(sum(order_total) FILTER (WHERE status = 'confirmed'), 0)::VARCHAR, count(*)
                FROM l.curated.orders{at}''')
            return a

        """

    /// The same figures from our reports, query engine and quality checks at snapshot `v`.
    static func ours(_ catalog: Catalog, _ v: Int64) throws -> [String: [[String]]] {
        var o = ReportOptions()
        o.asOf = .snapshot(v)
        func report(_ name: ReportName, limit: Int? = nil) throws -> [ResultTable] {
            var p = o
            p.limit = limit
            return try Reports.run(name, catalog: catalog, options: p).sections
        }
        func text(_ rows: [[Value]], _ columns: [Int]? = nil) -> [[String]] {
            rows.map { r in (columns ?? Array(r.indices)).map { r[$0].text } }
        }
        var a: [String: [[String]]] = [:]
        a["daily"] = text(try report(.dailyRevenue)[0].rows)
        a["products"] = text(try report(.topProducts, limit: 10)[0].rows, [0, 4, 6, 7])
        let customers = try report(.customers, limit: 10)
        a["customers"] = text(customers[0].rows, [0, 1, 2])
        a["summary"] = text([customers[1].rows[0]], [0, 1, 3])
        a["inventory"] = text(try report(.inventory)[0].rows, [0, 1, 2]).sorted { $0.joined(separator: "|") < $1.joined(separator: "|") }
        let rejectedByDay = try report(.operations)[1].rows.reduce(Int64(0)) { if case .int(let n) = $1[3] { return $0 + n }; return $0 }
        a["rejected"] = [[String(rejectedByDay)]]
        var spec = QuerySpec(table: "orders")
        spec.asOf = .snapshot(v)
        spec.groupBy = ["status"]
        spec.aggregates = try ["count(*)", "sum(order_total)"].map(AggregateSpec.parse)
        spec.orderBy = ["status"]
        a["by_status"] = text(try Query.run(spec, catalog: catalog).table.rows)
        spec = QuerySpec(table: "orders")
        spec.asOf = .snapshot(v)
        spec.conditions = ["customer_id = CUST-00003"]
        spec.columns = ["order_id", "status"]
        spec.orderBy = ["order_id"]
        a["cust3"] = text(try Query.run(spec, catalog: catalog).table.rows)
        let q = try QualityChecks.run(catalog: catalog, asOf: .snapshot(v))
        a["quality"] = q.batches.compactMap { b -> [String]? in
            func value(_ check: QualityCheckID) -> String { b.results.first { $0.check == check }.map { String(Int($0.value)) } ?? "?" }
            let orders = value(.curatedRows)
            return orders == "0" ? nil : [b.batchID, orders, value(.orderTotalConsistency), value(.itemCountConsistency),
                                          value(.orphanItems), value(.itemFieldsConsistency)]
        }.sorted { $0[0] < $1[0] }
        a["days"] = q.days.map { [Value.date($0.date).text, String($0.records), String($0.rejected)] }
        return a
    }

    /// The dashboard's confirmed revenue and order count KPIs (its data-* attributes).
    static func dashboard(_ catalog: Catalog, _ v: Int64) throws -> [[String]] {
        let html = try Dashboard.render(catalog: catalog, asOf: .snapshot(v))
        func kpi(_ attribute: String) -> String {
            guard let r = html.range(of: "\(attribute)=\"all\">"), let end = html[r.upperBound...].firstIndex(of: "<") else { return "?" }
            return String(html[r.upperBound ..< end])
        }
        return [[kpi("data-total-revenue"), kpi("data-total-orders")]]
    }

    static func expectSame(_ ours: [String: [[String]]], _ duck: [String: [[String]]]?, _ label: String) {
        for key in ours.keys.sorted() where key != "dashboard" {
            #expect(ours[key] == duck?[key], "\(label): \(key)")
        }
    }

    @Test func reportsQueriesAndQualitySeeDuckDBDeletesAtEverySnapshot() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let s0 = try lake.catalog.latestSnapshot().id
        let attachRW = Python.duckdbPrelude + """
            con = duck()
            # No inlining: DuckLake 1.0 keeps small deletes and inserts in catalog tables instead of
            # files by default (DeleteVectorTests covers inlined deletions); this test is about files.
            con.execute("ATTACH 'ducklake:sqlite:\(lake.root)/manifest.sqlite' AS l (DATA_PATH '\(lake.root)/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 0)")

            """
        // Deletes and an update over four snapshots: a customer's orders with their accepted raw
        // lines; an update (delete + new file); a second delete on files that already have
        // delete files (DuckDB writes merged ones and ends the old), a whole partition and an
        // item product; rejected raw lines and one inventory warehouse.
        let mutate = try Python.json(attachRW + """
            def snap():
                return con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('l')").fetchone()[0]
            out = []
            cust2 = "SELECT order_id FROM l.curated.orders WHERE customer_id = 'CUST-00002'"
            d, ch = con.execute(f'''SELECT event_date, channel FROM l.curated.orders WHERE event_date IN
                (SELECT event_date FROM l.curated.orders WHERE customer_id = 'CUST-00002') GROUP BY 1, 2
                ORDER BY count(*) DESC, 1, 2 LIMIT 1''').fetchone()
            con.execute("BEGIN")
            con.execute(f"DELETE FROM l.raw.orders WHERE reject_reason IS NULL AND order_id IN ({cust2})")
            con.execute("DELETE FROM l.curated.orders WHERE customer_id = 'CUST-00002'")
            con.execute("COMMIT"); out.append(snap())
            con.execute("UPDATE l.curated.orders SET status = 'cancelled' WHERE customer_id = 'CUST-00003'"); out.append(snap())
            con.execute("BEGIN")
            con.execute(f'''DELETE FROM l.curated.orders WHERE event_date = '{d}' AND channel = '{ch}' AND order_id IN
                (SELECT order_id FROM l.curated.orders WHERE event_date = '{d}' AND channel = '{ch}' ORDER BY order_id LIMIT 3)''')
            d2, ch2 = con.execute('''SELECT event_date, channel FROM l.curated.orders GROUP BY 1, 2 HAVING count(*) > 1
                ORDER BY 1 DESC, 2 LIMIT 1''').fetchone()
            con.execute(f"DELETE FROM l.curated.orders WHERE event_date = '{d2}' AND channel = '{ch2}'")
            p = con.execute("SELECT product_id FROM l.curated.order_items GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]
            con.execute(f"DELETE FROM l.curated.order_items WHERE product_id = '{p}'")
            con.execute("COMMIT"); out.append(snap())
            con.execute("BEGIN")
            con.execute("DELETE FROM l.raw.orders WHERE reject_reason = 'invalid_channel'")
            w = con.execute("SELECT min(warehouse_location) FROM l.curated.inventory").fetchone()[0]
            con.execute(f"DELETE FROM l.curated.inventory WHERE warehouse_location = '{w}'")
            con.execute("COMMIT"); out.append(snap())
            # A second delete on a data file merges with its first: DuckDB 1.4 ended the old delete
            # file; DuckDB 1.5 rewrites it in place with each position's snapshot id.
            merged = con.execute('''SELECT count(*) FROM __ducklake_metadata_l.ducklake_delete_file
                WHERE end_snapshot IS NOT NULL''').fetchone()[0]
            for (f,) in con.execute("SELECT delete_file FROM ducklake_list_files('l', 'orders', schema => 'curated') WHERE delete_file IS NOT NULL").fetchall():
                cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{f}')").fetchall()]
                if "_ducklake_internal_snapshot_id" in cols:
                    merged += con.execute(f"SELECT count(DISTINCT _ducklake_internal_snapshot_id) > 1 FROM read_parquet('{f}')").fetchone()[0]
            ids = [r[0] for r in con.execute(f"SELECT order_id FROM l.curated.orders AT (VERSION => \(s0)) WHERE customer_id = 'CUST-00002' ORDER BY 1 LIMIT 2").fetchall()]
            kept = con.execute("SELECT min(order_id) FROM l.curated.orders WHERE customer_id = 'CUST-00003'").fetchone()[0]
            print(json.dumps({"snapshots": out, "merged": merged, "resend": ids, "kept": kept}))
            """) as? [String: Any]
        var snapshots = try #require(mutate?["snapshots"] as? [Int])
        #expect(snapshots.count == 4 && Set(snapshots).count == 4, "one snapshot per transaction")
        #expect((mutate?["merged"] as? Int ?? 0) > 0, "a second delete on a data file ends its first delete file")

        // Our ingest after DuckDB's deletes: deleted orders are new again, a live (updated) one a duplicate.
        let resend = try #require(mutate?["resend"] as? [String]), kept = try #require(mutate?["kept"] as? String)
        #expect(resend.count == 2)
        let source = try String(contentsOf: packageRoot.appendingPathComponent("Evaluation-Files/orders_stream.jsonl"), encoding: .utf8)
        let lines = source.split(separator: "\n").filter { line in (resend + [kept]).contains { line.contains("\"\($0)\"") } }
        try (lines.joined(separator: "\n") + "\n").write(toFile: lake.dir.file("resend.jsonl"), atomically: true, encoding: .utf8)
        let again = try OrderIngest.run(lake.store, path: lake.dir.file("resend.jsonl"))
        #expect(again.accepted == 2, "the two deleted orders are accepted again")
        #expect(again.duplicates >= 1, "the updated order is still committed: a duplicate")
        #expect(again.accepted + again.quarantined + again.duplicates == lines.count)
        snapshots.append(Int(try lake.catalog.latestSnapshot().id))

        let all = [Int(s0)] + snapshots
        let duck = try Python.json(lake.attach + Self.answersSQL + """
            files = [[r[0], r[1]] for r in con.execute("SELECT data_file, delete_file FROM ducklake_list_files('l', 'orders', schema => 'curated') WHERE delete_file IS NOT NULL").fetchall()]
            print(json.dumps({"at": {str(v): answers(v) for v in \(all)}, "files": files}))
            """) as? [String: Any]
        let at = duck?["at"] as? [String: [String: [[String]]]]
        var before: [String: [[String]]] = [:]
        for v in all {
            let mine = try Self.ours(lake.catalog, Int64(v))
            Self.expectSame(mine, at?[String(v)], "snapshot \(v)")
            if v == Int(s0) { before = mine }
        }
        let last = Int64(all.last!)
        let latest = try Self.ours(lake.catalog, last)
        // The dashboard's KPIs before the deletes and at the end.
        for v in [s0, last] {
            #expect(try Self.dashboard(lake.catalog, v) == at?[String(v)]?["dashboard"], "dashboard at \(v)")
        }
        #expect(try Self.dashboard(lake.catalog, s0) != Self.dashboard(lake.catalog, last))
        for key in ["daily", "products", "customers", "inventory", "rejected", "by_status", "cust3", "quality"] {
            #expect(before[key] != latest[key], "the deletes change \(key)")
        }
        // DuckDB deleted orders and left their items, and cancelled CUST-00003's orders and not
        // their items: the product reports count those items, and the check says so.
        let quality = latest["quality"] ?? []
        #expect(quality.contains { Int($0[4]) ?? 0 > 0 }, "orphaned items found: \(quality)")
        #expect(quality.contains { Int($0[5]) ?? 0 > 0 }, "items disagreeing with their order found: \(quality)")
        #expect(before["quality"]?.allSatisfy { $0[4] == "0" && $0[5] == "0" } == true, "none before DuckDB's writes")

        // report diff from before the deletes to the latest: exactly DuckDB's differences.
        let diff = try ReportDiff.run(.dailyRevenue, catalog: lake.catalog, from: s0, to: last, options: ReportOptions())
        let old = Dictionary(uniqueKeysWithValues: (at?[String(s0)]?["daily"] ?? []).map { (Array($0.prefix(3)), $0) })
        let new = Dictionary(uniqueKeysWithValues: (at?[String(last)]?["daily"] ?? []).map { (Array($0.prefix(3)), $0) })
        let changed = new.reduce(0) { n, kv in n + (old[kv.key].map { zip($0, kv.value).filter { $0 != $1 }.count } ?? 0) }
        // Added and removed rows are listed one column per line: count their distinct keys.
        func keys(_ change: String) -> Int { Set(diff.rows.filter { $0[0] == .string(change) }.map { Array($0[1 ... 3]) }).count }
        #expect(keys("removed") == old.keys.filter { new[$0] == nil }.count)
        #expect(keys("added") == new.keys.filter { old[$0] == nil }.count)
        #expect(diff.rows.filter { $0[0] == .string("changed") }.count == changed)
        #expect(changed > 0 && old.keys.contains { new[$0] == nil }, "the deletes change cells and remove a partition's row")

        // `lake files` lists each data file's delete file, as DuckDB's ducklake_list_files does.
        let listed = try runLake(["files", "curated.orders", "--lake", lake.root, "--format", "json"])
        try #require(listed.status == 0, "lake files failed: \(listed.err)")
        let ourFiles = try #require(try JSONSerialization.jsonObject(with: Data(listed.out.utf8)) as? [[String: Any]])
        let root = URL(fileURLWithPath: lake.root).standardizedFileURL.path + "/"
        let withDeletes = ourFiles.filter { $0["delete_file"] is String }.map { [root + ($0["path"] as! String), root + ($0["delete_file"] as! String)] }
        #expect(!withDeletes.isEmpty)
        #expect(withDeletes.sorted { $0[0] < $1[0] } == (duck?["files"] as? [[String]] ?? []).sorted { $0[0] < $1[0] })
        let files = try lake.catalog.dataFiles(tableID: try lake.catalog.table(schema: "curated", name: "orders").tableID)
        #expect(ourFiles.map { $0["delete_count"] as? Int64 ?? Int64($0["delete_count"] as? Int ?? -1) } == files.map { $0.deleteFile?.deleteCount ?? 0 })

        // Compaction applies the deletes: new files hold the live rows, delete files end with it.
        let compacted = try Compaction.run(lake.catalog)
        let cs = try #require(compacted.snapshotID)
        #expect(compacted.groups.contains { $0.filesBefore == 1 && !$0.skippedConflict }, "a lone file with deletes is rewritten too")
        for t in try lake.catalog.tables() {
            #expect(try lake.catalog.dataFiles(tableID: t.tableID).allSatisfy { $0.deleteFile == nil }, "\(t.qualifiedName) still has deletes")
        }
        let openDeletes = try lake.catalog.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ducklake_delete_file WHERE end_snapshot IS NULL") }
        #expect(openDeletes == 0)
        let endedAtCompaction = try lake.catalog.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM ducklake_delete_file WHERE end_snapshot = ?", arguments: [cs])
        }
        #expect((endedAtCompaction ?? 0) > 0)
        let afterCompaction = try Self.ours(lake.catalog, cs)
        Self.expectSame(afterCompaction, latest, "after compaction (our own answers before it)")
        // Time travel still reads the old files with their delete files.
        Self.expectSame(try Self.ours(lake.catalog, s0), before, "snapshot \(s0) after compaction")
        #expect(try Compaction.run(lake.catalog).snapshotID == nil, "a second compaction is a no-op")

        // Vacuum then removes the old data and delete files; the answers stay.
        let deleteFiles = try lake.catalog.read { db in try String.fetchAll(db, sql: "SELECT path FROM ducklake_delete_file") }
        #expect(!deleteFiles.isEmpty)
        let vacuum = try lake.catalog.expireSnapshots(olderThan: Date().addingTimeInterval(3600))
        #expect(vacuum.failedDeletes.isEmpty)
        let remaining = try lake.catalog.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ducklake_delete_file") }
        #expect(remaining == 0)
        let onDisk = try FileManager.default.subpathsOfDirectory(atPath: lake.root).filter { $0.hasSuffix("-delete.parquet") }
        #expect(onDisk.isEmpty, "delete files left after vacuum: \(onDisk)")
        Self.expectSame(try Self.ours(lake.catalog, cs), latest, "after vacuum")
        // DuckDB at the compaction's snapshot, with only the compacted files left on disk.
        let duckAfter = try Python.json(lake.attach + Self.answersSQL + "print(json.dumps(answers(\(cs))))") as? [String: [[String]]]
        Self.expectSame(afterCompaction, duckAfter, "DuckDB after compaction and vacuum")
    }
}
