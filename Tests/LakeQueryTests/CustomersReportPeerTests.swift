import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
import LakeQuery
import LakeTestSupport
import Testing

/// Every section of the customers report (top customers, summary, orders per customer, new and
/// returning customers per day) recomputed by DuckDB over the same lake. The per-day section has
/// two paths: a window of up to 64 days keeps a customer's days as bits of one word, a longer one
/// sorts (customer, day) pairs; a generated lake of each length takes each path.
@Suite struct CustomersReportPeerTests {
    static let peerSQL = """
        c = con.execute('''CREATE TEMP TABLE c AS SELECT customer_id, count(*) n, sum(order_total) spend,
            epoch_us(min(event_time)) first_at, epoch_us(max(event_time)) last_at, min(event_date) first_day
            FROM l.curated.orders WHERE status = 'confirmed' GROUP BY 1''')
        top = con.execute('''SELECT customer_id, n, spend::VARCHAR, first_at, last_at FROM c
            ORDER BY spend DESC, customer_id LIMIT 10''').fetchall()
        summary = con.execute("SELECT count(*), count(*) FILTER (WHERE n > 1), sum(n) FROM c").fetchone()
        dist = con.execute("SELECT CASE WHEN n >= 5 THEN '5+' ELSE n::VARCHAR END, count(*) FROM c GROUP BY 1 ORDER BY 1").fetchall()
        days = con.execute('''SELECT d.event_date::VARCHAR, count(*) FILTER (WHERE d.event_date = c.first_day),
            count(*) FILTER (WHERE d.event_date > c.first_day)
            FROM (SELECT DISTINCT customer_id, event_date FROM l.curated.orders WHERE status = 'confirmed') d JOIN c USING (customer_id)
            GROUP BY 1 ORDER BY 1''').fetchall()
        print(json.dumps({"top": [[str(v) for v in r] for r in top], "summary": [str(v) for v in summary],
                          "dist": [[str(v) for v in r] for r in dist], "days": [[str(v) for v in r] for r in days]}))
        """

    @Test("customers report equals DuckDB section by section, in a 30-day and a 90-day lake", arguments: [30, 90])
    func customersMatchDuckDB(days: Int) throws {
        var config = try GeneratedLake.config(clean: true, orders: 4000)
        config.days = days
        let lake = try GeneratedLake(config)
        defer { lake.dir.remove() }
        var o = ReportOptions()
        o.limit = 10
        let report = try Reports.run(.customers, catalog: lake.catalog, options: o)
        let attach = Python.duckdbPrelude + """
            con = duck()
            con.execute("ATTACH 'ducklake:sqlite:\(lake.root)/manifest.sqlite' AS l (DATA_PATH '\(lake.root)/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")

            """
        let duck = try #require(try Python.json(attach + Self.peerSQL) as? [String: Any])
        let top = report.sections[0].rows.map { row -> [String] in
            var out = [row[0].text, row[1].text, row[2].text]
            for cell in row[4 ... 5] { if case .timestamp(let t) = cell { out.append(String(t)) } else { out.append("?") } }
            return out
        }
        #expect(top == duck["top"] as? [[String]])
        let summary = report.sections[1].rows[0]
        #expect([summary[0].text, summary[1].text, summary[3].text] == duck["summary"] as? [String])
        #expect(report.sections[2].rows.map { $0.map(\.text) } == duck["dist"] as? [[String]])
        let perDay = report.sections[3].rows.map { $0.map(\.text) }
        #expect(perDay == duck["days"] as? [[String]])
        // The lake spans the days asked for, and some customers come back: both counts are exercised.
        #expect(perDay.count > days * 9 / 10, "\(perDay.count) days")
        #expect(perDay.contains { $0[2] != "0" })
    }
    /// A customer is new on the day of their first confirmed order in the lake, whatever the
    /// window and channel shown: with --from or --channel the report said new on the window's
    /// first day (0 returning customers there) and counted a first mobile order as new, so the
    /// same day read differently with another window (found by an exploratory test, session 33).
    @Test("new and returning customers per day do not change with --from or --channel", arguments: [30, 90])
    func newAndReturningIgnoreTheWindow(days: Int) throws {
        var config = try GeneratedLake.config(clean: true, orders: 4000)
        config.days = days
        let lake = try GeneratedLake(config)
        defer { lake.dir.remove() }
        let whole = try Reports.run(.customers, catalog: lake.catalog, options: ReportOptions()).sections[3].rows.map { $0.map(\.text) }
        let from = try #require(whole.dropFirst(days / 3).first?[0])
        var windowed = ReportOptions()
        windowed.from = CivilDate.parse(from).map { Int32($0) }
        let inWindow = try Reports.run(.customers, catalog: lake.catalog, options: windowed).sections[3].rows.map { $0.map(\.text) }
        #expect(inWindow == whole.filter { $0[0] >= from }, "--from \(from): \(inWindow.prefix(2)) vs \(whole.filter { $0[0] >= from }.prefix(2))")
        #expect(inWindow.first.map { $0[2] != "0" } == true, "customers who ordered before the window return on its first day")
        windowed.channel = "mobile"
        let mobile = try Reports.run(.customers, catalog: lake.catalog, options: windowed).sections[3].rows.map { $0.map(\.text) }
        let duck = try #require(try Python.json(Python.duckdbPrelude + """
            con = duck()
            con.execute("ATTACH 'ducklake:sqlite:\(lake.root)/manifest.sqlite' AS l (DATA_PATH '\(lake.root)/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
            rows = con.execute(\"\"\"SELECT d.event_date::VARCHAR, count(*) FILTER (WHERE d.event_date = f.first_day),
                count(*) FILTER (WHERE d.event_date > f.first_day)
                FROM (SELECT DISTINCT customer_id, event_date FROM l.curated.orders
                      WHERE status = 'confirmed' AND channel = 'mobile' AND event_date >= DATE '\(from)') d
                JOIN (SELECT customer_id, min(event_date) first_day FROM l.curated.orders WHERE status = 'confirmed' GROUP BY 1) f USING (customer_id)
                GROUP BY 1 ORDER BY 1\"\"\").fetchall()
            print(json.dumps([[str(v) for v in r] for r in rows]))
            """) as? [[String]])
        #expect(mobile == duck, "--channel mobile --from \(from)")
        #expect(mobile.contains { $0[2] != "0" } && mobile.contains { $0[1] != "0" })
    }
}
