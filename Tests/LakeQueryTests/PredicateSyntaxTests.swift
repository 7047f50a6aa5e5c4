import Foundation
import LakeCatalog
import LakeFormat
import LakeQuery
import LakeTestSupport
import Testing

/// Issue 14, item 6 (--where syntax never silently matches nothing), item 5 (the --where
/// parser cannot trap), and the pruning gap (inclusive windows whose ends fall on file min/max
/// values, compared with DuckDB's BETWEEN).
@Suite struct PredicateSyntaxTests {
    @Test("quoted values, in-lists with and without parentheses, between; everything else refused")
    func grammar() throws {
        func parse(_ t: String) throws -> ConditionSyntax { try ConditionSyntax.parse(t) }
        #expect(try parse("channel = web") == ConditionSyntax(column: "channel", op: .eq, values: ["web"]))
        #expect(try parse("channel = 'web'") == ConditionSyntax(column: "channel", op: .eq, values: ["web"]))
        #expect(try parse("channel = \"web\"") == ConditionSyntax(column: "channel", op: .eq, values: ["web"]))
        #expect(try parse("city = 'O''Brien '").values == ["O'Brien "])
        #expect(try parse("city = New York").values == ["New York"])
        #expect(try parse("reject_reason != ''") == ConditionSyntax(column: "reject_reason", op: .ne, values: [""]))
        #expect(try parse("channel <> web").op == .ne)
        #expect(try parse("order_total<=10.5") == ConditionSyntax(column: "order_total", op: .le, values: ["10.5"]))
        #expect(try parse("channel in (web,mobile)").values == ["web", "mobile"])
        #expect(try parse("channel IN ( web , 'mobile', \"api\" )").values == ["web", "mobile", "api"])
        #expect(try parse("status in confirmed,pending").values == ["confirmed", "pending"])
        #expect(try parse("city in ('a,b', c)").values == ["a,b", "c"])
        #expect(try parse("city in ('New York', Paris)").values == ["New York", "Paris"])
        #expect(try parse("event_date between 2024-01-01 and 2024-01-07") ==
                ConditionSyntax(column: "event_date", op: .between, values: ["2024-01-01", "2024-01-07"]))
        #expect(try parse("event_date BETWEEN '2024-01-01' AND '2024-01-07'").values == ["2024-01-01", "2024-01-07"])
        #expect(try parse("event_date between 2024-01-01,2024-01-07").values == ["2024-01-01", "2024-01-07"])
        for bad in ["channel == web", "channel = 'web", "channel = \"web", "channel = 'web' x", "channel in (web", "channel in ()",
                    "channel in (web,,mobile)", "channel in (web) x", "channel in web)", "channel = we'b", "channel = (web)",
                    "channel web", "= web", "", "channel =", "channel in", "event_date between 2024-01-01", "channel not in (web)",
                    "event_date between 2024-01-01 or 2024-01-07", "channel = web\u{1B}[2J'", "status in (confirmed pending)", "status in confirmed pending"] {
            #expect(throws: QueryError.self, "\(bad)") { try parse(bad) }
        }
        // The refusal shows the condition with control characters made visible.
        do { _ = try parse("channel = web\u{1B}[2J'") } catch { #expect("\(error)".contains("\\u{001B}")) }
    }

    @Test("table output shows control characters from input escaped; CSV and JSON keep the value")
    func tableCellsEscaped() {
        let t = ResultTable(columns: ["line"], rows: [[.string("x\u{1B}[2J\u{FEFF}y")]])
        #expect(t.renderTable().contains("x\\u{001B}[2J\\u{FEFF}y") && !t.renderTable().contains("\u{1B}"))
        #expect(t.renderCSV().contains("x\u{1B}[2J"))
    }

    @Test("fuzz: --where text and typed values give a condition or an error, never a trap")
    func fuzz() {
        var rng = SystemRandomNumberGenerator()
        let pieces = ["channel", "event_date", " ", "=", "==", "!=", "<>", "<", "<=", ">", ">=", "in", "IN", "between", "and", "(", ")",
                      ",", "'", "\"", "''", "web", "2024-01-15", "9999-12-31T23:59:59.1234567Z", "10000-01-01", "-1", "1.005",
                      "\u{FEFF}", "é", "\t", "\u{0}", "99999999999999999999"]
        for _ in 0 ..< 20_000 {
            let text = (0 ..< Int.random(in: 0 ... 10, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            if let c = try? ConditionSyntax.parse(text) {
                #expect(!c.column.isEmpty && !c.values.isEmpty)
                for v in c.values {
                    for type in [ColumnType.date, .timestamp, .string, .int64, .decimal(precision: 18, scale: 2), .double, .bool] {
                        _ = StatParsing.value(v, type)
                    }
                }
            }
        }
    }

    @Test("in-lists and quoted values match what DuckDB matches; one-day and edge windows equal BETWEEN")
    func agreesWithDuckDB() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        func count(_ conditions: [String]) throws -> Int64 {
            var spec = QuerySpec(table: "orders")
            spec.conditions = conditions
            spec.aggregates = [try AggregateSpec.parse("count(*)")]
            guard case .int(let n)? = try Query.run(spec, catalog: lake.catalog).table.rows.first?.first else { return -1 }
            return n
        }
        // Event-time bounds that sit exactly on files' statistics: the min of one file and the
        // max of another (from the catalog, the numbers pruning compares with).
        let table = try lake.catalog.table(schema: "curated", name: "orders", at: .snapshot(try lake.catalog.latestSnapshot().id))
        let eventTime = try #require(table.column(named: "event_time")).columnID
        let files = try lake.catalog.dataFiles(tableID: table.tableID, at: .snapshot(try lake.catalog.latestSnapshot().id), columnStats: true)
        let sorted = files.compactMap { $0.columnStats[eventTime] }.filter { $0.min != nil }.sorted { $0.min! < $1.min! }
        try #require(sorted.count > 10)
        let lowFileMax = sorted[2].max!, highFileMin = sorted[sorted.count - 3].min!
        let d = try Python.json(lake.attach + """
            q = lambda w: con.execute("SELECT count(*) FROM l.curated.orders WHERE " + w).fetchone()[0]
            print(json.dumps({
              "in2": q("channel IN ('web', 'mobile')"), "in3": q("channel IN ('web', 'mobile', 'api')"), "web": q("channel = 'web'"),
              "le": q("event_time <= TIMESTAMPTZ '\(highFileMin)'"), "ge": q("event_time >= TIMESTAMPTZ '\(lowFileMax)'"),
              "between": q("event_time BETWEEN TIMESTAMPTZ '\(lowFileMax)' AND TIMESTAMPTZ '\(highFileMin)'"),
              "day": q("event_date BETWEEN '2024-01-15' AND '2024-01-15'"),
            }))
            """) as? [String: Int]
        let duck = try #require(d)
        #expect(duck["web"]! > 0 && duck["in2"]! > duck["web"]!)
        #expect(try count(["channel in (web,mobile)"]) == Int64(duck["in2"]!))
        // The list prunes on partition values: the api files are not opened.
        var listed = QuerySpec(table: "orders")
        listed.conditions = ["channel in ('web', mobile)"]
        let plan = try Query.run(listed, catalog: lake.catalog).stats
        #expect(plan.filesPrunedByPartition > 0 && plan.filesRead + plan.filesPrunedByPartition + plan.filesPrunedByStatistics == plan.filesConsidered)
        #expect(try count(["channel in (web, 'mobile', \"api\")"]) == Int64(duck["in3"]!))
        #expect(try count(["channel = \"web\""]) == Int64(duck["web"]!))
        #expect(try count(["channel = 'web'"]) == Int64(duck["web"]!))
        #expect(try count(["event_time <= \(highFileMin)"]) == Int64(duck["le"]!))
        #expect(try count(["event_time >= '\(lowFileMax)'"]) == Int64(duck["ge"]!))
        #expect(try count(["event_time between '\(lowFileMax)' and '\(highFileMin)'"]) == Int64(duck["between"]!))
        #expect(try count(["event_time >= '\(lowFileMax)'", "event_time <= '\(highFileMin)'"]) == Int64(duck["between"]!))
        #expect(try count(["event_date between 2024-01-15 and 2024-01-15"]) == Int64(duck["day"]!))
        #expect(try count(["event_date >= 2024-01-15", "event_date <= 2024-01-15"]) == Int64(duck["day"]!))

        // daily-revenue over one day (first, middle, last date of the data) and over the
        // whole range given by its own first and last dates: the same rows as DuckDB's BETWEEN.
        let dates = try #require(Python.json(lake.attach + """
            print(json.dumps([str(r[0]) for r in con.execute("SELECT DISTINCT event_date FROM l.curated.orders ORDER BY 1").fetchall()]))
            """) as? [String])
        try #require(dates.count > 3)
        for (from, to) in [(dates[0], dates[0]), (dates[dates.count / 2], dates[dates.count / 2]), (dates.last!, dates.last!),
                           (dates[1], dates[dates.count - 2]), (dates[0], dates.last!)] {
            var o = ReportOptions()
            o.from = Int32(try #require(LakeCatalog.Timestamps.parseDate(from)))
            o.to = Int32(try #require(LakeCatalog.Timestamps.parseDate(to)))
            let ours = try Reports.run(.dailyRevenue, catalog: lake.catalog, options: o).sections[0].rows.map { $0.map(\.text) }
            let theirs = try Python.json(lake.attach + ReportTests.dailyRevenueSQL
                .replacingOccurrences(of: "FROM l.curated.orders{version}", with: "FROM l.curated.orders{version} WHERE event_date BETWEEN '\(from)' AND '\(to)'")
                + "print(json.dumps(daily()))") as? [[String]]
            #expect(!ours.isEmpty, "\(from)..\(to)")
            #expect(ours == theirs, "daily-revenue \(from)..\(to)")
        }
    }
}
