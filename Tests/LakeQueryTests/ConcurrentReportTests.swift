import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
@testable import LakeQuery
import LakeTestSupport
import Testing

/// `lake run`'s headline tables computed side by side (`Reports.runAll`) and aggregates grouped
/// per worker then merged (`Grouper.merged`) give exactly what one serial pass gives.
@Suite struct ConcurrentReportTests {
    static func headlineQuery() -> QuerySpec { ReportJob.revenueByChannelSpec }

    /// `Reports.runAll(jobs)` answers each job exactly as running it alone does.
    static func expectRunAllEqualsAlone(_ jobs: [ReportJob], catalog: Catalog) throws {
        let together = try Reports.runAll(jobs, catalog: catalog)
        #expect(together.count == jobs.count)
        var compared = 0
        for (job, result) in zip(jobs, together) where try expectEqualsAlone(job, result, catalog: catalog) { compared += 1 }
        #expect(compared == jobs.count)
    }

    /// `result` is what `job` run alone gives; false when the result does not answer the job.
    static func expectEqualsAlone(_ job: ReportJob, _ result: ReportJobResult, catalog: Catalog) throws -> Bool {
        switch (job, result) {
        case (.report(let name, let o), .report(let got)):
            let alone = try Reports.run(name, catalog: catalog, options: o)
            #expect(got.name == alone.name && got.snapshot == alone.snapshot)
            #expect(got.sections.map(\.rows) == alone.sections.map(\.rows), "\(name) as of \(String(describing: o.asOf)) channel \(o.channel ?? "all")")
            #expect(got.sections.contains { !$0.rows.isEmpty }, "\(name) has rows to compare")
            return true
        case (.query(let s), .query(let got)):
            let alone = try Query.run(s, catalog: catalog)
            #expect(got.table.rows == alone.table.rows && got.table.columns == alone.table.columns)
            #expect(got.table.rows.count >= 3, "a row per channel")
            return true
        case (.revenueByChannel(let asOf), .query(let got)):
            // The query it stands for, run alone by the query engine.
            var spec = headlineQuery()
            spec.asOf = asOf
            return try expectEqualsAlone(.query(spec), .query(got), catalog: catalog)
        default:
            Issue.record("result \(result) does not answer job \(job)")
            return false
        }
    }

    /// `lake run`'s headline jobs, in its order.
    static func headline() throws -> [ReportJob] { try ReportJob.headline() }

    struct InjectedFailure: Error, Equatable { let job: Int }

    /// The first job is held back so every other finishes before it: the deliveries still come
    /// in the jobs' order. A job that fails is delivered in its place, the others answer as
    /// each run alone does, and the throwing `runAll` rethrows that failure.
    @Test("runAll delivers in the jobs' order however they finish; a failed job is delivered in its place, the others intact")
    func runAllDeliversInOrderWithFailure() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let jobs = try Self.headline()
        let session = ReportSession()
        session.beforeJob = { i in
            if i == 0 { usleep(300_000) }
            if i == 2 { throw InjectedFailure(job: i) }
        }
        var delivered: [(Int, Result<ReportJobResult, Error>)] = []
        Reports.runAll(jobs, catalog: lake.catalog, session: session) { delivered.append(($0, $1)) }
        #expect(delivered.map(\.0) == Array(jobs.indices))
        var compared = 0
        for (i, outcome) in delivered {
            switch outcome {
            case .success(let result):
                #expect(i != 2)
                if try Self.expectEqualsAlone(jobs[i], result, catalog: lake.catalog) { compared += 1 }
            case .failure(let error):
                #expect(error as? InjectedFailure == InjectedFailure(job: 2) && i == 2, "\(error)")
            }
        }
        #expect(compared == jobs.count - 1)
        #expect(throws: InjectedFailure(job: 2)) { try Reports.runAll(jobs, catalog: lake.catalog, session: session) }
    }

    /// The last job cannot finish until the first is delivered: `runAll` hands over each
    /// finished prefix at once, not everything at the end (which would leave the wait to time out).
    @Test("runAll delivers the first job while the last is still running")
    func runAllStreams() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let jobs = try Self.headline()
        let firstDelivered = DispatchSemaphore(value: 0)
        let lastSawFirst = Flag()
        let session = ReportSession()
        session.beforeJob = { i in
            if i == jobs.count - 1 { lastSawFirst.set(firstDelivered.wait(timeout: .now() + 60) == .success) }
        }
        var delivered: [Int] = []
        Reports.runAll(jobs, catalog: lake.catalog, session: session) { i, outcome in
            delivered.append(i)
            #expect((try? outcome.get()) != nil, "\(jobs[i]): \(outcome)")
            if i == 0 { firstDelivered.signal() }
        }
        #expect(lastSawFirst.value)
        #expect(delivered == Array(jobs.indices))
    }

    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var stored = false
        var value: Bool { lock.withLock { stored } }
        func set(_ v: Bool) { lock.withLock { stored = v } }
    }

    /// A real failure: the inventory table's only data file damaged after its commit. The
    /// inventory report fails with the storage layer's error naming the file; top products
    /// (which shares the product-sales scan with it) and the other jobs still answer in full.
    @Test("a damaged inventory file fails the inventory report only; runAll delivers every other job")
    func damagedFileFailsOneReport() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let dir = URL(fileURLWithPath: lake.root).appendingPathComponent("curated/inventory")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".parquet") }
        try #require(files.count == 1)
        try Data("not parquet".utf8).write(to: dir.appendingPathComponent(files[0]))
        let jobs = try Self.headline()
        var delivered: [(Int, Result<ReportJobResult, Error>)] = []
        Reports.runAll(jobs, catalog: lake.catalog) { delivered.append(($0, $1)) }
        #expect(delivered.map(\.0) == Array(jobs.indices))
        var failed: [Int] = [], compared = 0
        for (i, outcome) in delivered {
            switch outcome {
            case .success(let result):
                if try Self.expectEqualsAlone(jobs[i], result, catalog: lake.catalog) { compared += 1 }
            case .failure(let error):
                failed.append(i)
                #expect("\(error)".contains(files[0]), "\(error)")
            }
        }
        #expect(failed == [1])
        #expect(compared == jobs.count - 1)
    }

    /// The same side-by-side reports on a catalog in PostgreSQL: the reports' catalog reads come
    /// from several threads at once through the store's connection pool.
    @Test("runAll on a PostgreSQL catalog equals each job run alone")
    func runAllOnPostgres() throws {
        let pg = try PostgresCluster.shared()
        let url = pg.url(database: try pg.createDatabase())
        let dir = try TemporaryDirectory("runall-pg")
        defer { dir.remove() }
        let input = packageRoot.appendingPathComponent("Evaluation-Files")
        let store = try LakeStore.open(root: dir.url.appendingPathComponent("lake"), catalog: .postgres(url),
                                       registry: .directory(packageRoot.appendingPathComponent("schemas")))
        _ = try CatalogIngest.run(store, path: input.appendingPathComponent("product_catalog.json").path)
        _ = try InventoryIngest.run(store, path: input.appendingPathComponent("inventory_updates.csv").path)
        _ = try OrderIngest.run(store, path: input.appendingPathComponent("orders_stream.jsonl").path)
        let before = try store.catalog.resolve(nil).id
        _ = try Deletes.run(store.catalog, table: "orders", conditions: ["channel = web", "status = confirmed", "event_date <= 2024-01-03"])
        var top = ReportOptions()
        top.limit = 5
        var old = ReportOptions()
        old.asOf = .snapshot(before)
        let jobs: [ReportJob] = [.report(.topProducts, top), .report(.inventory, top), .report(.customers, top), .report(.operations, ReportOptions()),
                                 .revenueByChannel(asOf: nil), .report(.dailyRevenue, old), .report(.customers, old), .report(.dailyRevenue, ReportOptions()),
                                 .query(Self.headlineQuery())]
        try Self.expectRunAllEqualsAlone(jobs, catalog: store.catalog)
    }

    /// A lake of several order snapshots (a partition holds several files), row deletes in
    /// orders and raw orders: runAll's results equal each job run alone, at the latest snapshot
    /// and at the one before the deletes.
    @Test("runAll (concurrent reports and a query) equals each run alone, over snapshots and deletes")
    func runAllEqualsSerial() throws {
        let lake = try EvaluationLake(orderChunks: 4)
        defer { lake.dir.remove() }
        let before = try lake.catalog.resolve(nil).id
        _ = try Deletes.run(lake.catalog, table: "orders", conditions: ["channel = web", "status = confirmed", "event_date <= 2024-01-03"])
        _ = try Deletes.run(lake.catalog, table: "raw.orders", conditions: ["reject_reason = invalid_channel"])
        var top = ReportOptions()
        top.limit = 5
        var low = ReportOptions()
        low.limit = 10
        var old = ReportOptions()
        old.asOf = .snapshot(before)
        var web = ReportOptions()
        web.channel = "web"
        var oldSpec = Self.headlineQuery()
        oldSpec.asOf = .snapshot(before)
        let headline = try Self.headline()
        let jobs = headline + [.report(.topProducts, old), .report(.inventory, web), .report(.dailyRevenue, old), .revenueByChannel(asOf: .snapshot(before)),
                               .report(.customers, old), .query(oldSpec)]
        let session = ReportSession()
        _ = try Reports.runAll(headline, catalog: lake.catalog, session: session)
        // lake run's headline: top products and inventory (same window) shared one scan.
        #expect(session.scans == 1)
        try Self.expectRunAllEqualsAlone(jobs, catalog: lake.catalog)
        // The deletes are visible: the reports at the latest snapshot differ from the older one.
        let latest = try Reports.run(.dailyRevenue, catalog: lake.catalog, options: ReportOptions()).sections[0].rows
        let older = try Reports.run(.dailyRevenue, catalog: lake.catalog, options: old).sections[0].rows
        #expect(latest != older)
    }

    /// Query.run groups per worker and merges; the same aggregates fed batch by batch to one
    /// grouper, in scan order, must give the same table row for row (first-seen group order
    /// included, since most of these have no order-by).
    @Test("Query.run's merged groups equal one serial grouper over the scan, row for row")
    func queryMergeEqualsSerialGrouper() throws {
        let lake = try EvaluationLake(orderChunks: 3)
        defer { lake.dir.remove() }
        _ = try Deletes.run(lake.catalog, table: "orders", conditions: ["channel = mobile", "status = pending"])
        let cases: [(String, [String], [String], [String])] = [
            ("orders", ["status = confirmed"], ["channel"], ["count(*)", "sum(order_total)", "avg(order_total)", "count_distinct(customer_id)"]),
            ("orders", [], ["channel", "status"], ["count(*)", "min(order_total)", "max(event_time)", "count_distinct(customer_id)", "min(customer_id)"]),
            ("order_items", [], ["category"], ["sum(line_revenue)", "count(*)", "min(product_id)", "max(product_id)", "count_distinct(order_id)"]),
            ("orders", [], [], ["count(*)", "count_distinct(customer_id)", "avg(order_total)"]),
            ("raw.orders", [], ["reject_reason", "channel"], ["count(*)", "count_distinct(event_date)", "count(reject_reason)"]),
            ("orders", ["channel = nosuch"], [], ["count(*)", "sum(order_total)"]),
            ("orders", [], ["customer_id"], ["count(*)", "max(order_total)"]),
        ]
        for (table, conditions, groupBy, aggs) in cases {
            var spec = QuerySpec(table: table)
            spec.conditions = conditions
            spec.groupBy = groupBy
            spec.aggregates = try aggs.map(AggregateSpec.parse)
            let merged = try Query.run(spec, catalog: lake.catalog)
            let scan = try TableScan(catalog: lake.catalog, name: table)
            var needed: [String] = []
            for c in groupBy + spec.aggregates.compactMap(\.column) where !needed.contains(c) { needed.append(c) }
            let (batches, _) = try scan.run(columns: needed, where: try conditions.map { try Query.parseCondition($0, scan: scan) })
            var serial = try Grouper(groupBy: groupBy, aggregates: spec.aggregates, scan: scan)
            for b in batches { try serial.add(b) }
            let expected = serial.result()
            #expect(merged.table.columns == expected.columns)
            #expect(merged.table.rows == expected.rows, "\(table) by \(groupBy) \(aggs)")
            #expect(!expected.rows.isEmpty)
        }
    }

    /// Batches dealt to three groupers in a scrambled order (as workers take files from a
    /// shared counter) merge into the serial grouper's table, on values where order shows:
    /// first-seen groups (a -0.0 and 0.0 group prints its first row's), NaNs, nulls, Int64.min,
    /// strings interned differently by each worker.
    @Test("Grouper.merged of batches dealt to several workers out of order equals one serial grouper")
    func mergeOfScrambledWorkersEqualsSerial() throws {
        let schema = Schema([Field("k", .string, nullable: true), Field("x", .double, nullable: true), Field("n", .int64, nullable: true),
                             Field("s", .string, nullable: true), Field("m", .decimal(precision: 18, scale: 2), nullable: true)])
        var generator = SplitMix64(seed: 17)
        var batches: [ScanBatch] = []
        let words = ["web", "mobile", "api", "", "pos"]
        let doubles: [Double] = [0.0, -0.0, 1.5, -1.5, .nan, 2.5, -0.0]
        for b in 0 ..< 12 {
            let n = 40 + b
            var k = StringColumn(), s = StringColumn()
            var kValid: [Bool] = [], xs: [Double] = [], xValid: [Bool] = [], ns: [Int64] = [], nValid: [Bool] = [], sValid: [Bool] = []
            var ms: [Int64] = [], mValid: [Bool] = []
            for r in 0 ..< n {
                let w = words[Int.random(in: 0 ..< words.count, using: &generator)]
                kValid.append(r % 11 != 3)
                if kValid.last! { k.append(w) } else { k.appendEmpty() }
                xs.append(doubles[Int.random(in: 0 ..< doubles.count, using: &generator)])
                xValid.append(r % 7 != 5)
                ns.append([Int64.min, 0, 7, -3, 1 << 40][Int.random(in: 0 ..< 5, using: &generator)])
                nValid.append(r % 5 != 1)
                s.append("CUST-\(Int.random(in: 0 ..< 60, using: &generator))")
                sValid.append(r % 9 != 0)
                ms.append(Int64.random(in: -500 ..< 90_000, using: &generator))
                mValid.append(r % 6 != 2)
            }
            let batch = RecordBatch(schema: schema, columns: [
                Column(.string(k), validity: kValid), Column(.double(xs), validity: xValid), Column(.int64(ns), validity: nValid),
                Column(.string(s), validity: sValid), Column(.int64(ms), validity: mValid),
            ])
            // Some batches keep only part of their rows, as a filtered scan does.
            let selection: [Int32]? = b % 3 == 0 ? (0 ..< Int32(n)).filter { $0 % 4 != 0 } : nil
            batches.append(ScanBatch(batch: batch, selection: selection))
        }
        let types: [String: ColumnType] = ["k": .string, "x": .double, "n": .int64, "s": .string, "m": .decimal(precision: 18, scale: 2)]
        let specs: [([String], [String])] = [
            (["k"], ["count(*)", "min(m)", "max(m)", "count_distinct(s)", "sum(m)", "min(s)", "max(n)", "count(x)"]),
            (["x"], ["count(*)", "count_distinct(k)", "min(n)", "max(s)"]),
            (["k", "n"], ["count_distinct(x)", "count(*)", "avg(m)", "sum(m)"]),
            ([], ["count_distinct(s)", "min(n)", "max(s)", "count(*)", "count_distinct(x)"]),
        ]
        for (groupBy, aggs) in specs {
            let aggregates = try aggs.map(AggregateSpec.parse)
            var serial = try Grouper(groupBy: groupBy, aggregates: aggregates, types: types)
            // Files of two batches each, in scan order.
            for (i, b) in batches.enumerated() { try serial.add(b, file: i / 2, batch: i % 2) }
            let template = try Grouper(groupBy: groupBy, aggregates: aggregates, types: types)
            #expect(template.mergesExactly)
            for round in 0 ..< 5 {
                var workers = [template, template, template]
                for file in (0 ..< batches.count / 2).shuffled(using: &generator) {
                    let w = round == 0 ? 0 : Int.random(in: 0 ..< 3, using: &generator)
                    for part in 0 ..< 2 { try workers[w].add(batches[file * 2 + part], file: file, batch: part) }
                }
                let merged = try #require(try Grouper.merged(workers.shuffled(using: &generator)))
                let got = merged.result().rows, want = serial.result().rows
                // Text, so NaN cells compare equal.
                #expect(got.map { $0.map(\.text) } == want.map { $0.map(\.text) }, "by \(groupBy) \(aggs), round \(round)")
            }
        }
        #expect(try Grouper.merged([]) == nil)
    }

    /// `lake run`'s revenue by channel taken from the customers report's scan (`ChannelOrders`,
    /// gathered by `CustomersWorker`s that each saw some files, in a scrambled order, then
    /// merged) equals the query's serial grouper row for row, on what the lake's own data never
    /// has: null channels, customers and totals, an empty-string channel, dictionary and plain
    /// channel pages, channels each worker meets in a different order. Past 64 channels it
    /// declines (nil) so that the query runs on its own; a channel's sum past Int64 is exact in
    /// both (128 bits).
    @Test("revenue by channel from the customers scan equals the query's serial grouper, past Int64 too; declines past 64 channels")
    func revenueByChannelFromCustomerScanEqualsGrouper() throws {
        let spec = ReportJob.revenueByChannelSpec
        let schema = Schema([Field("customer_id", .string, nullable: true), Field("order_total", .decimal(precision: 18, scale: 2), nullable: true),
                             Field("event_time", .timestamp), Field("event_date", .date), Field("channel", .string, nullable: true)])
        let types: [String: ColumnType] = ["channel": .string, "order_total": .decimal(precision: 18, scale: 2), "customer_id": .string]
        var generator = SplitMix64(seed: 29)
        func batches(channels words: [String], totals: ClosedRange<Int64>) -> [ScanBatch] {
            var out: [ScanBatch] = []
            for b in 0 ..< 16 {
                let n = 50 + b
                var customers = StringColumn(), channels = StringColumn()
                var cValid: [Bool] = [], tValid: [Bool] = [], kValid: [Bool] = [], totalsColumn: [Int64] = [], indices: [Int32] = []
                for r in 0 ..< n {
                    cValid.append(r % 9 != 4)
                    if cValid.last! { customers.append("CUST-\(Int.random(in: 0 ..< 70, using: &generator))") } else { customers.appendEmpty() }
                    tValid.append(r % 8 != 6)
                    totalsColumn.append(Int64.random(in: totals, using: &generator))
                    kValid.append(r % 13 != 2)
                    let k = Int.random(in: 0 ..< words.count, using: &generator)
                    indices.append(Int32(k))
                    if kValid.last! { channels.append(words[k]) } else { channels.appendEmpty() }
                }
                // Half the batches keep the channel dictionary-encoded, as the reader does while every page is.
                let channel = b % 2 == 0 ? Column(.dictionary(indices: indices, values: StringColumn(words)), validity: kValid)
                    : Column(.string(channels), validity: kValid)
                let batch = RecordBatch(schema: schema, columns: [
                    Column(.string(customers), validity: cValid), Column(.int64(totalsColumn), validity: tValid),
                    Column(.int64([Int64](repeating: 1_700_000_000_000_000, count: n))), Column(.int32([Int32](repeating: 19_700, count: n))), channel,
                ])
                let selection: [Int32]? = b % 3 == 0 ? (0 ..< Int32(n)).filter { $0 % 5 != 0 } : nil
                out.append(ScanBatch(batch: batch, selection: selection))
            }
            return out
        }
        func shared(_ all: [ScanBatch], round: Int) throws -> [ChannelOrders.Group]? {
            var workers = [CustomersWorker(), CustomersWorker(), CustomersWorker()]
            for file in (0 ..< all.count / 2).shuffled(using: &generator) {
                let w = round == 0 ? 0 : Int.random(in: 0 ..< 3, using: &generator)
                workers[w].add(file: file, [all[file * 2], all[file * 2 + 1]])
            }
            let merged = try CustomersWorker.merge(workers.shuffled(using: &generator)).0
            return merged.byChannel.groups(merged.figures)
        }
        let all = batches(channels: ["web", "mobile", "", "api", "pos"], totals: -500 ... 90_000)
        var serial = try Grouper(groupBy: spec.groupBy, aggregates: spec.aggregates, types: types)
        for (i, b) in all.enumerated() { try serial.add(b, file: i / 2, batch: i % 2) }
        let want = serial.result()
        #expect(want.rows.count == 6, "five channels and the null one")
        for round in 0 ..< 6 {
            let groups = try #require(try shared(all, round: round))
            let got = Reports.revenueByChannelTable(groups, scale: 2)
            #expect(got.columns == want.columns)
            #expect(got.rows == want.rows, "round \(round)")
        }
        // 70 channels: a customer's channels no longer fit one word.
        #expect(try shared(batches(channels: (0 ..< 70).map { "c\($0)" }, totals: 0 ... 100), round: 1) == nil)
        // A channel's sum past Int64 (each customer's spend fits): both sum in 128 bits and agree exactly.
        let big = RecordBatch(schema: schema, columns: [
            Column(.string(StringColumn(["a", "b", "c"]))), Column(.int64([Int64.max / 2, Int64.max / 2, Int64.max / 2])),
            Column(.int64([0, 0, 0])), Column(.int32([0, 0, 0])), Column(.string(StringColumn(["web", "web", "web"]))),
        ])
        var worker = CustomersWorker()
        worker.add(file: 0, [ScanBatch(batch: big, selection: nil)])
        let merged = try CustomersWorker.merge([worker]).0
        let bigGroups = try #require(merged.byChannel.groups(merged.figures))
        var serialBig = try Grouper(groupBy: spec.groupBy, aggregates: spec.aggregates, types: types)
        try serialBig.add(ScanBatch(batch: big, selection: nil))
        let bigWant = serialBig.result()
        #expect(Reports.revenueByChannelTable(bigGroups, scale: 2).rows == bigWant.rows)
        #expect(bigWant.rows.first?[2] == .decimal(3 * Int128(Int64.max / 2), scale: 2), "\(bigWant.rows)")
    }

    /// `lake query --agg sum(col)` over a BIGINT column sums in 128 bits, as DuckDB's HUGEINT
    /// sum: past Int64 it prints every digit (JSON: a string, as money), below it stays an integer.
    @Test("a query's sum of an integer column past Int64 keeps all its digits; avg is its quotient")
    func integerSumPastInt64() throws {
        let schema = Schema([Field("k", .string), Field("n", .int64)])
        let batch = RecordBatch(schema: schema, columns: [
            Column(.string(StringColumn(["a", "a", "a", "b"]))), Column(.int64([Int64.max, Int64.max, 5, 7])),
        ])
        var g = try Grouper(groupBy: ["k"], aggregates: [AggregateSpec(function: .sum, column: "n"), AggregateSpec(function: .avg, column: "n")],
                            types: ["k": .string, "n": .int64])
        try g.add(ScanBatch(batch: batch, selection: nil))
        let table = g.result()
        #expect(table.rows[0][1] == .decimal(2 * Int128(Int64.max) + 5, scale: 0) && table.rows[1][1] == .int(7), "\(table.rows)")
        #expect(table.renderCSV().contains("a,18446744073709551619,"), "\(table.renderCSV())")
        #expect(table.renderJSON().contains(#""sum_n": "18446744073709551619""#) && table.renderJSON().contains(#""sum_n": 7"#), "\(table.renderJSON())")
    }

    /// `lake run`'s headline reads confirmed orders by customer once, for the customers report
    /// and for revenue by channel, and the query's answer is `Query.run`'s; a customers report
    /// over another window does not share it.
    @Test("the headline's customers report and revenue by channel share one scan and equal each run alone")
    func headlineSharesTheCustomerScan() throws {
        let lake = try EvaluationLake(orderChunks: 3)
        defer { lake.dir.remove() }
        let session = ReportSession()
        let headline = try Self.headline()
        let results = try Reports.runAll(headline, catalog: lake.catalog, session: session)
        #expect(session.customerScans == 1)
        for (job, result) in zip(headline, results) { _ = try Self.expectEqualsAlone(job, result, catalog: lake.catalog) }
        var web = ReportOptions()
        web.channel = "web"
        // One after the other: run together, either may take the scan's lock first, and when
        // revenue by channel does, it still finds the headline's scan (both answers right, the
        // count 2 or 3: the CI flake of session 12).
        _ = try Reports.runAll([.report(.customers, web)], catalog: lake.catalog, session: session)
        #expect(session.customerScans == 2, "the web window is another scan")
        _ = try Reports.runAll([.revenueByChannel(asOf: nil)], catalog: lake.catalog, session: session)
        #expect(session.customerScans == 3, "the session keeps one scan: the web one replaced the headline's")
        // A query, even the very query revenue by channel stands for, runs on the query engine.
        for spec in [Self.headlineQuery(), { var q = Self.headlineQuery(); q.conditions = ["status = pending"]; return q }()] {
            let alone = try Reports.runAll([.query(spec)], catalog: lake.catalog, session: session)
            #expect(session.customerScans == 3)
            #expect(try Self.expectEqualsAlone(.query(spec), alone[0], catalog: lake.catalog))
        }
    }

    /// A floating-point sum depends on the order of its additions, a min or max over NaNs on
    /// which came first: such a query is not merged (it runs as one serial pass).
    @Test func aggregatesOverDoublesAreNotMerged() throws {
        let types: [String: ColumnType] = ["x": .double, "n": .int64]
        for agg in ["sum(x)", "avg(x)", "min(x)", "max(x)"] {
            #expect(try !Grouper(groupBy: [], aggregates: [AggregateSpec.parse("count(*)"), AggregateSpec.parse(agg)], types: types).mergesExactly, "\(agg)")
        }
        #expect(try Grouper(groupBy: ["x"], aggregates: [AggregateSpec.parse("sum(n)"), AggregateSpec.parse("count_distinct(x)"), AggregateSpec.parse("count(x)")],
                            types: types).mergesExactly)
    }
}
