import Foundation
import LakeCatalog
import LakeFormat
import LakeQuery
import LakeTestSupport
import Testing

@Suite struct QueryTests {
    /// Our grouped, filtered aggregates equal DuckDB's over the same lake (DuckLake attach).
    @Test func aggregatesMatchDuckDB() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        var spec = QuerySpec(table: "order_items")
        spec.conditions = ["status = confirmed", "event_date between 2024-01-05 and 2024-01-20"]
        spec.groupBy = ["channel", "category"]
        spec.aggregates = try ["count(*)", "sum(line_revenue)", "sum(quantity)", "count_distinct(order_id)", "min(unit_price)", "max(unit_price)"]
            .map(AggregateSpec.parse)
        spec.orderBy = ["channel", "category"]
        let ours = try Query.run(spec, catalog: lake.catalog).table
        let duck = try Python.json(lake.attach + """
            rows = con.execute('''SELECT channel, category, count(*), sum(line_revenue)::VARCHAR, sum(quantity),
                count(DISTINCT order_id), min(unit_price)::VARCHAR, max(unit_price)::VARCHAR
                FROM l.curated.order_items WHERE status = 'confirmed' AND event_date BETWEEN '2024-01-05' AND '2024-01-20'
                GROUP BY ALL ORDER BY 1, 2''').fetchall()
            print(json.dumps([[str(v) for v in r] for r in rows]))
            """) as? [[String]]
        #expect(!ours.rows.isEmpty)
        #expect(ours.rows.map { $0.map(\.text) } == duck)
    }

    @Test func partitionPredicatesOpenOneFile() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        var spec = QuerySpec(table: "curated.orders")
        spec.conditions = ["channel = web", "event_date = 2024-01-15"]
        spec.columns = ["order_id", "order_total"]
        let result = try Query.run(spec, catalog: lake.catalog)
        #expect(result.stats.filesRead == 1)
        #expect(result.stats.filesPrunedByPartition == result.stats.filesConsidered - 1)
        let duck = try Python.json(lake.attach + """
            print(json.dumps(con.execute("SELECT count(*) FROM l.curated.orders WHERE channel = 'web' AND event_date = '2024-01-15'").fetchone()[0]))
            """) as? Int
        #expect(result.table.rows.count == duck)

        // A predicate on a non-partition column prunes by file statistics instead.
        var big = QuerySpec(table: "orders")
        big.conditions = ["order_total > 1500"]
        big.aggregates = [try AggregateSpec.parse("count(*)")]
        let r2 = try Query.run(big, catalog: lake.catalog)
        #expect(r2.stats.filesPrunedByStatistics > 0)
        let duck2 = try Python.json(lake.attach + """
            print(json.dumps(con.execute("SELECT count(*) FROM l.curated.orders WHERE order_total > 1500").fetchone()[0]))
            """) as? Int
        #expect(r2.table.rows.first?.first == .int(Int64(duck2 ?? -1)))
    }

    @Test func badQueriesNameTheProblem() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        func error(_ spec: QuerySpec) -> String {
            do { _ = try Query.run(spec, catalog: lake.catalog); return "" } catch { return "\(error)" }
        }
        var s = QuerySpec(table: "orders")
        s.conditions = ["chanel = web"]
        #expect(error(s).contains("has no column chanel"))
        s.conditions = ["event_date = 2024-13-45"]
        #expect(error(s).contains("not a valid date"))
        #expect(error(QuerySpec(table: "nope")).contains("no table curated.nope"))
        #expect(throws: QueryError.self) { try AggregateSpec.parse("median(order_total)") }
        var t = QuerySpec(table: "orders")
        t.aggregates = [try AggregateSpec.parse("sum(channel)")]
        #expect(error(t).contains("not a number"))
    }
}
