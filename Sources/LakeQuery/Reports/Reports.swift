import CLakeSupport
import Foundation
import LakeCatalog
import LakeFormat

/// Options every report takes.
public struct ReportOptions: Sendable {
    public var asOf: AsOf?
    /// Inclusive event-date window, as days since the epoch.
    public var from: Int32?
    public var to: Int32?
    public var channel: String?
    public var limit: Int?
    /// Inventory: units on hand below which a product is low on stock.
    public var lowStock: Int64 = 20
    /// Inventory: days of cover below which a product is low on stock.
    public var minDaysOfCover: Double = 7
    /// daily-revenue, top-customers: only orders shipped to this country.
    public var country: String?
    /// product-metrics: only products of this category.
    public var category: String?
    /// top-customers: rank by spend or by orders.
    public var ranking: CustomerRanking = .spend

    public init() {}
}

/// A `ReportOptions` setting, by the `lake report` option that sets it.
public enum ReportSetting: String, Sendable, CaseIterable, Comparable {
    case from, to, channel, limit, country, category
    case ranking = "by"
    case lowStock = "low-stock"
    case minDaysOfCover = "min-days-of-cover"

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

extension ReportOptions {
    /// Refuses what would print figures other than the ones asked for, as a usage error naming
    /// the option: a setting the report does not read (`given`: the settings the user set), a
    /// window that ends before it starts, a limit below 1 (a negative one trapped), inventory
    /// thresholds that are negative or not finite, and a channel
    /// outside `channels` (the registry's enum; empty: not checked), which matched nothing and
    /// printed an empty report, as a day without sales would be.
    ///
    /// `inLake` are the channels the lake's orders hold at the report's snapshot
    /// (`Reports.channelsInLake`): rows DuckDB inserted with a channel outside the registry's
    /// enum are filtered by it too. A caller computes them only when `channels` lacks the one given.
    public func check(for report: ReportName, given: Set<ReportSetting>, channels: [String], inLake: [String] = []) throws(QueryError) {
        let ignored = given.subtracting(report.settings).sorted()
        if let first = ignored.first {
            let readers = ReportName.allCases.filter { $0.settings.contains(first) }.map(\.rawValue)
            throw .badOption("--\(first.rawValue): the \(report) report does not read it"
                + (readers.isEmpty ? "" : " (\(readers.joined(separator: ", ")) \(readers.count == 1 ? "does" : "do"))")
                + "; nothing was computed: run it without --\(first.rawValue)")
        }
        if let from, let to, from > to {
            throw .badOption("--from \(Timestamps.dateText(days: Int64(from))) is after --to \(Timestamps.dateText(days: Int64(to))): the window would hold no day")
        }
        if let limit, limit < 1 { throw .badOption("--limit \(limit): expected at least 1") }
        // A negative threshold marks nothing low, and a NaN one neither (every comparison with
        // it is false); an infinite cover marks every product: each printed a report as if
        // stock were fine, or all low, without a word.
        if lowStock < 0 { throw .badOption("--low-stock \(lowStock): expected 0 or more units (0: no product is low by units on hand)") }
        if !minDaysOfCover.isFinite || minDaysOfCover < 0 {
            throw .badOption("--min-days-of-cover \(minDaysOfCover): expected a finite number of days, 0 or more (0: no product is low by days of cover)")
        }
        // By bytes, as the filter matches: a channel equal only canonically (the other Unicode
        // normalization) was accepted, then matched no row, an empty report without an error.
        func holds(_ list: [String], _ c: String) -> Bool { list.contains { $0.utf8.elementsEqual(c.utf8) } }
        if let channel, !channels.isEmpty, !holds(channels, channel), !holds(inLake, channel) {
            let others = inLake.filter { !channels.contains($0) }
            throw .badOption("--channel \(VisibleText.escape(channel)) is not a channel; channels: \(channels.joined(separator: ", "))"
                + (others.isEmpty ? "" : "; the lake's orders at this snapshot also hold \(others.map { VisibleText.escape($0) }.joined(separator: ", "))"))
        }
    }
}

/// Product id → units, revenue (unscaled cents, 128 bits: DuckDB's DECIMAL(38) sum), distinct
/// orders, and (category, brand).
typealias ProductSales = (units: [ExactID: Int64], revenue: [ExactID: Int128], orders: [ExactID: Int64], info: [ExactID: (String, String)])

/// One shared scan: the last result, by the snapshot and window it covered (a snapshot's rows
/// never change, so the same key is the same answer). Held while a scan runs: a second asker
/// waits, then finds the result.
private final class SharedScan<Value>: @unchecked Sendable {
    struct Key: Equatable {
        var asOf: AsOf?, from: Int32?, to: Int32?, channel: String?
    }
    private let lock = NSLock()
    private var last: (key: Key, value: Value)?
    private var count = 0

    /// Scans run (the rest were answered from the last one).
    var scans: Int { lock.withLock { count } }

    /// `o.asOf` is already resolved to a snapshot (`Reports.run` does it).
    func value(_ o: ReportOptions, compute: (ReportOptions) throws -> Value) throws -> Value {
        let key = Key(asOf: o.asOf, from: o.from, to: o.to, channel: o.channel)
        return try lock.withLock {
            if let last, last.key == key { return last.value }
            let value = try compute(o)
            last = (key, value)
            count += 1
            return value
        }
    }
}

/// What reports run together on one lake (one catalog) share: the last product-sales scan and
/// the last scan of confirmed orders by customer, each with its own lock (a report waiting for
/// product sales does not wait for the customers too). Each holds one entry, so a long-lived
/// holder keeps no more than one result of each. Reports that run at the same time
/// (`Reports.runAll`) and ask for the same scan wait for one another's instead of scanning twice.
public final class ReportSession: @unchecked Sendable {
    private let sales = SharedScan<ProductSales>()
    private let customers = SharedScan<CustomerOrders>()
    /// Tests only: called with a job's index as `runAll` starts it; a test slows a job down or
    /// fails it here to check the delivery order and that the other jobs still arrive.
    var beforeJob: (@Sendable (Int) throws -> Void)?
    /// Product-sales scans this session ran.
    public var scans: Int { sales.scans }
    /// Confirmed-orders-by-customer scans this session ran: `lake run`'s customers report and its
    /// revenue by channel share one.
    public var customerScans: Int { customers.scans }

    public init() {}

    func productSales(_ o: ReportOptions, compute: (ReportOptions) throws -> ProductSales) throws -> ProductSales {
        try sales.value(o, compute: compute)
    }

    /// Like `productSales`, for the customers report's scan of confirmed orders.
    func customerOrders(_ o: ReportOptions, compute: (ReportOptions) throws -> CustomerOrders) throws -> CustomerOrders {
        try customers.value(o, compute: compute)
    }
}

/// A table printed with others (`lake run`'s headline): a report or a query.
public enum ReportJob: Sendable, CustomStringConvertible {
    case report(ReportName, ReportOptions)
    case query(QuerySpec)
    /// The query `revenueByChannelSpec` at a snapshot (nil: the latest): its answer is that
    /// query's, taken from the customers report's scan when the two run in one session
    /// (`Reports.revenueByChannel`).
    case revenueByChannel(asOf: AsOf?)

    /// How an error message names the job: the report's name, or the query's table.
    public var description: String {
        switch self {
        case .report(let name, _): return "report \(name)"
        case .query(let spec): return "query on \(spec.table)"
        case .revenueByChannel: return "revenue by channel"
        }
    }
}

extension ReportJob {
    /// `lake run`'s headline tables, in the order it prints them: top products and inventory
    /// (which share one product-sales scan), customers, operations, then revenue by channel.
    /// Defined once here, so the tests of side-by-side reports run exactly what `lake run` runs.
    public static func headline() throws -> [ReportJob] {
        var top = ReportOptions()
        top.limit = 5
        var low = ReportOptions()
        low.limit = 10
        return [.report(.topProducts, top), .report(.inventory, low), .report(.customers, top), .report(.operations, ReportOptions()),
                .revenueByChannel(asOf: nil)]
    }

    /// Confirmed orders per channel: count, revenue, average order value, distinct customers,
    /// highest revenue first (a cut of `report daily-revenue`). `Reports.revenueByChannel`
    /// computes exactly these aggregates, in this order.
    public static var revenueByChannelSpec: QuerySpec {
        var spec = QuerySpec(table: "orders")
        spec.conditions = ["status = \(OrderStatus.confirmed.rawValue)"]
        spec.groupBy = ["channel"]
        spec.aggregates = [AggregateSpec(function: .count, column: nil), AggregateSpec(function: .sum, column: "order_total"),
                           AggregateSpec(function: .avg, column: "order_total"), AggregateSpec(function: .count_distinct, column: "customer_id")]
        spec.orderBy = ["sum(order_total) desc"]
        return spec
    }
}

public enum ReportJobResult: Sendable {
    case report(Report)
    case query(QueryResult)
}

/// One report: one or more titled tables. The first is the report's main table.
public struct Report: Sendable {
    /// A `ReportName`'s raw value, or "quality" for `lake quality report`.
    public var name: String
    public var snapshot: Int64
    public var sections: [ResultTable]

    /// JSON: the main table as an array of objects; several sections as an object of arrays
    /// keyed by section name.
    public func render(_ format: ResultTable.Format, maxCellWidth: Int = ResultTable.terminalCellWidth) -> String {
        switch format {
        case .json where sections.count > 1:
            let parts = sections.map { "\(jsonString(snakeCase($0.title ?? "rows"))): \($0.renderJSON())" }
            return "{\n" + parts.joined(separator: ",\n") + "\n}"
        case .csv where sections.count > 1:
            return sections.map { "# \($0.title ?? "")\n" + $0.renderCSV() }.joined(separator: "\n\n")
        default:
            return sections.map { $0.render(format, maxCellWidth: maxCellWidth) }.joined(separator: "\n\n")
        }
    }
}

/// The reports there are: the names `lake report NAME`, `report diff` and `lake serve`'s
/// /api/v1/reports/NAME accept.
public enum ReportName: String, Sendable, CaseIterable, CustomStringConvertible {
    case dailyRevenue = "daily-revenue"
    case topProducts = "top-products"
    case inventory
    case customers
    case operations
    case topCustomers = "top-customers"
    case productMetrics = "product-metrics"
    case snapshots
    case tables

    public var description: String { rawValue }

    /// A name a user typed; `QueryError.unknownReport` lists the reports there are.
    public init(parsing text: String) throws {
        guard let name = ReportName(rawValue: text) else {
            throw QueryError.unknownReport(text, available: Self.allCases.map(\.rawValue))
        }
        self = name
    }

    /// The settings the report's figures read besides the snapshot. A setting the report does
    /// not read is refused, not dropped (`ReportOptions.check`): `report customers --country DE`
    /// printed every country's customers, with nothing saying the country was not applied.
    public var settings: Set<ReportSetting> {
        switch self {
        case .dailyRevenue: return [.from, .to, .channel, .country, .limit]
        case .topProducts, .customers: return [.from, .to, .channel, .limit]
        case .inventory: return [.from, .to, .channel, .limit, .lowStock, .minDaysOfCover]
        // The window and channel narrow the reject rates; the ingest runs are listed whole.
        case .operations: return [.from, .to, .channel]
        case .topCustomers: return [.from, .to, .channel, .country, .ranking, .limit]
        case .productMetrics: return [.from, .to, .channel, .category, .limit]
        case .snapshots, .tables: return []
        }
    }

    /// Columns that identify a row of the report's main table, for `diff`.
    var keyColumns: Int {
        switch self {
        case .dailyRevenue: return 3
        case .inventory, .operations: return 2
        case .topProducts, .customers, .topCustomers, .productMetrics, .snapshots, .tables: return 1
        }
    }
}

public enum Reports {
    /// The channels of the lake's orders at `asOf`, as the identity partition values of
    /// `channel` on the live files of curated.orders and curated.order_items: a channel the
    /// registry's enum does not list can still be there (rows DuckDB inserted), and `--channel`
    /// filters it. Rows DuckDB keeps inlined in the catalog have no partition values and are not
    /// looked at. A table the snapshot does not have yet holds none.
    public static func channelsInLake(catalog: Catalog, asOf: AsOf?) throws -> [String] {
        var found = Set<String>()
        for name in ["orders", "order_items"] {
            let table: TableInfo
            do {
                table = try catalog.table(schema: "curated", name: name, at: asOf)
            } catch CatalogError.tableNotFound, CatalogError.schemaNotFound {
                continue
            }
            for file in try catalog.dataFiles(tableID: table.tableID, at: asOf, columnStats: false, inlined: .readSeparately) {
                if let channel = file.partitionValues["channel"] { found.insert(channel) }
            }
            // Rows DuckDB keeps inlined in the catalog carry no partition value: their own
            // channels count (a channel only they hold was refused while the reports read them).
            if let c = table.column(named: "channel"),
               let rows = try catalog.inlinedRows(tableID: table.tableID, at: asOf, columns: [c]) {
                for r in 0 ..< rows.count { if let channel = rows.columns[0].string(at: r) { found.insert(channel) } }
            }
        }
        return found.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// `session`: reports run one after another on the same lake (`lake run` prints several)
    /// share what more than one of them scans, e.g. product sales for top products and inventory.
    public static func run(_ name: ReportName, catalog: Catalog, options: ReportOptions, session: ReportSession? = nil) throws -> Report {
        // `prefix` traps on a negative count; `ReportOptions.check` names the option for a user.
        if let limit = options.limit, limit < 0 { throw QueryError.badOption("--limit \(limit): expected at least 1") }
        let snapshot = try catalog.resolve(options.asOf)
        var o = options
        o.asOf = .snapshot(snapshot.id)
        let sections: [ResultTable]
        switch name {
        case .dailyRevenue: sections = [try dailyRevenue(catalog, o)]
        case .topProducts: sections = [try topProducts(catalog, o, session: session)]
        case .inventory: sections = [try inventory(catalog, o, session: session)]
        case .customers: sections = try customers(catalog, o, session: session)
        case .operations: sections = try operations(catalog, o)
        case .topCustomers: sections = [try topCustomers(catalog, o)]
        case .productMetrics: sections = [try productMetrics(catalog, o)]
        case .snapshots: sections = [try snapshots(catalog, o)]
        case .tables: sections = [try tables(catalog, o)]
        }
        return Report(name: name.rawValue, snapshot: snapshot.id, sections: sections)
    }

    /// Runs the jobs at the same time and returns their results in the jobs' order, each
    /// equal to the job run alone. The first failure, by job order, is rethrown once every job
    /// has finished; `runAll(_:catalog:session:deliver:)` hands over every outcome instead.
    public static func runAll(_ jobs: [ReportJob], catalog: Catalog, session: ReportSession = ReportSession()) throws -> [ReportJobResult] {
        var results: [Result<ReportJobResult, Error>] = []
        runAll(jobs, catalog: catalog, session: session) { _, result in results.append(result) }
        return try results.map { try $0.get() }
    }

    /// Runs the jobs at the same time and hands each job's index and outcome to `deliver`, on
    /// the calling thread, in the jobs' order, as soon as that job and every job before it are
    /// done: `lake run` prints the first table while later ones are still computing. A job that
    /// fails neither cancels nor hides the others; its error is delivered in its place.
    ///
    /// A scan decodes its files on all cores, but a report's merge, catalog reads and output run
    /// on one: side by side, one job's serial part overlaps another's scan. Plain threads, not
    /// the worker pool: inside a pool task the jobs' own scans would run on one core (a nested
    /// concurrentPerform is serial).
    public static func runAll(_ jobs: [ReportJob], catalog: Catalog, session: ReportSession = ReportSession(),
                              deliver: (_ index: Int, _ outcome: Result<ReportJobResult, Error>) -> Void) {
        // A later report that needs the session's product sales starts last, to find the scan
        // done rather than wait for it. Delivery stays in the jobs' order.
        // The same for the customers report and the revenue-by-channel query (one scan of
        // confirmed orders answers both).
        enum Shared { case sales, customers }
        var order: [Int] = [], later: [Int] = []
        var asked: Set<Shared> = []
        for (i, job) in jobs.enumerated() {
            var shared: Shared?
            switch job {
            case .report(.topProducts, _), .report(.inventory, _): shared = .sales
            case .report(.customers, _), .revenueByChannel: shared = .customers
            default: break
            }
            if let shared {
                if asked.contains(shared) { later.append(i); continue }
                asked.insert(shared)
            }
            order.append(i)
        }
        order += later
        parallelStreamBlocking(count: jobs.count, threads: ProcessInfo.processInfo.activeProcessorCount, startOrder: order, { i -> ReportJobResult in
            try session.beforeJob?(i)
            switch jobs[i] {
            case .report(let name, let o): return .report(try run(name, catalog: catalog, options: o, session: session))
            case .query(let spec): return .query(try Query.run(spec, catalog: catalog))
            case .revenueByChannel(let asOf):
                var spec = ReportJob.revenueByChannelSpec
                spec.asOf = asOf
                if let shared = try revenueByChannel(spec, catalog: catalog, session: session) { return .query(shared) }
                return .query(try Query.run(spec, catalog: catalog))
            }
        }, deliver: deliver)
    }

    /// `lake run`'s revenue by channel (`ReportJob.revenueByChannelSpec` at `spec.asOf`)
    /// answered from the session's scan of confirmed orders by customer, which the customers
    /// report also uses: the customer ids are read and interned once for both. The table is
    /// what `Query.run` gives (groups in the order of their first rows, then the spec's order).
    /// Nil when the lake's columns are not the types this path computes, or that scan cannot
    /// answer it exactly (a sum overflowed, too many channels): `Query.run` then answers (and
    /// reports any error) on its own.
    static func revenueByChannel(_ spec: QuerySpec, catalog: Catalog, session: ReportSession) throws -> QueryResult? {
        let scan = try TableScan(catalog: catalog, name: spec.table, asOf: spec.asOf)
        guard scan.table.column(named: "channel")?.type == .string, scan.table.column(named: "customer_id")?.type == .string,
              case .decimal(_, let scale)? = scan.table.column(named: "order_total")?.type else { return nil }
        var o = ReportOptions()
        o.asOf = .snapshot(scan.snapshot.id)
        let orders = try customerOrders(catalog, o, session: session)
        guard let groups = orders.channels else { return nil }
        var table = revenueByChannelTable(groups, scale: scale)
        try Query.order(&table, by: spec.orderBy)
        if let limit = spec.limit, table.rows.count > limit { table.rows.removeLast(table.rows.count - limit) }
        let conditions = try spec.conditions.map { try Query.parseCondition($0, scan: scan) }
        return QueryResult(table: table, stats: orders.stats, snapshot: scan.snapshot.id, conditions: conditions)
    }

    /// The groups as the query's grouper lists them before its order-by: in the order of their
    /// first rows, a sum or average over no order total null (`order_total` of `scale`).
    static func revenueByChannelTable(_ groups: [ChannelOrders.Group], scale: Int) -> ResultTable {
        let spec = ReportJob.revenueByChannelSpec
        var table = ResultTable(columns: spec.groupBy + spec.aggregates.map(\.label))
        for g in groups.sorted(by: { $0.first < $1.first }) {
            table.rows.append([
                g.channel, .int(g.rows), g.totals > 0 ? .decimal(g.sum, scale: scale) : .null,
                g.totals > 0 ? .decimal(Money.divide(g.sum, by: g.totals), scale: scale) : .null, .int(g.customers),
            ])
        }
        return table
    }

    // MARK: - Shared scanning

    static func windowPredicates(_ scan: TableScan, _ o: ReportOptions) throws -> [ColumnPredicate] {
        var p: [ColumnPredicate] = []
        if let from = o.from { p.append(ColumnPredicate("event_date", .ge, [.int(Int64(from))])) }
        if let to = o.to { p.append(ColumnPredicate("event_date", .le, [.int(Int64(to))])) }
        if let c = o.channel { p.append(try scan.predicate("channel", .eq, [c])) }
        return p
    }

    /// Per-row callbacks over a scan's matching rows, batch by batch.
    static func forEachRow(_ batches: [ScanBatch], _ body: (ScanBatch, Int) throws -> Void) rethrows {
        for b in batches { try b.forEachRow { try body(b, $0) } }
    }

    static func ints(_ c: Column?) -> [Int64] {
        switch c?.data {
        case .int64(let a)?: return a
        case .int32(let a)?: return a.map(Int64.init)
        default: return []
        }
    }

    /// One row's integer, without converting the whole column (for per-row loops).
    @inline(__always)
    static func int(_ c: Column, _ r: Int) -> Int64 {
        switch c.data {
        case .int64(let a): return a[r]
        case .int32(let a): return Int64(a[r])
        default: return 0
        }
    }

    @inline(__always)
    static func date(_ c: Column, _ r: Int) -> Int32 {
        if case .int32(let a) = c.data { return a[r] }
        return 0
    }

    static func dates(_ c: Column?) -> [Int32] {
        if case .int32(let a)? = c?.data { return a }
        return []
    }

    // MARK: - daily-revenue

    /// Per event date, channel and country: confirmed orders, units, revenue, average order
    /// value and distinct customers; pending and cancelled orders counted on their own.
    ///
    /// Each worker aggregates the files it decodes into flat per-group arrays: channel and
    /// country become worker-local codes once per dictionary entry, and a batch maps its (date,
    /// channel, country) codes to a group through a small array, so no row is hashed. Distinct
    /// customers are counted per file in a small per-group byte set; only a group whose rows
    /// span several files (several commits to one partition) unions its files' sets at the end.
    static func dailyRevenue(_ catalog: Catalog, _ o: ReportOptions) throws -> ResultTable {
        // No orders table yet (a lake with only its catalog and inventory, or a snapshot from
        // before its first orders): no orders, no rows.
        guard let scan = try TableScan.ifPresent(catalog: catalog, table: .curatedOrders, asOf: o.asOf) else {
            return try dailyRevenueTable([], limit: o.limit)
        }
        let columns = ["event_date", "channel", "country", "status", "customer_id", "order_total", "units"]
        try scan.requireCents(["order_total"])
        var p = try windowPredicates(scan, o)
        if let country = o.country { p.append(try scan.predicate("country", .eq, [country])) }
        let (states, _) = try scan.reduce(columns: columns, where: p, state: DailyRevenueWorker.init) {
            $0.add($2)
        }
        return try dailyRevenueTable(states, limit: o.limit)
    }

    /// The workers' groups merged into the report's rows.
    static func dailyRevenueTable(_ states: [DailyRevenueWorker], limit: Int?) throws(SumOverflow) -> ResultTable {
        for w in states { if let e = w.overflowError() { throw e } }
        var names = ByteInterner()
        struct Key: Hashable { var date: Int32; var channel: Int32; var country: Int32 }
        var index: [Key: Int] = [:]
        var keys: [Key] = [], accs: [DailyRevenueWorker.Acc] = []
        var parts: [[(worker: DailyRevenueWorker, part: Int, group: Int, count: Int64)]] = []
        for w in states {
            let local = (0 ..< w.names.count).map { w.names.values.withBytes($0) { names.id($0) } }
            for (lg, k) in w.keys.enumerated() {
                let key = Key(date: k.date, channel: local[Int(k.channel)], country: local[Int(k.country)])
                let g: Int
                if let i = index[key] { g = i } else {
                    g = keys.count
                    index[key] = g
                    keys.append(key); accs.append(.init()); parts.append([])
                }
                accs[g].orders += w.accs[lg].orders
                try accs[g].units.add(w.accs[lg].units, orThrow: DailyRevenueWorker.overflowText(key.date, names.values[Int(key.channel)], names.values[Int(key.country)]))
                try accs[g].revenue.add(w.accs[lg].revenue, orThrow: DailyRevenueWorker.overflowText(key.date, names.values[Int(key.channel)], names.values[Int(key.country)]))
                accs[g].pending += w.accs[lg].pending
                accs[g].cancelled += w.accs[lg].cancelled
            }
            let global = w.keys.map { k in index[Key(date: k.date, channel: local[Int(k.channel)], country: local[Int(k.country)])]! }
            for (pi, part) in w.parts.enumerated() {
                for (lg, n) in part.counts { parts[global[lg]].append((w, pi, lg, n)) }
            }
        }
        // A group whose rows all sit in one file has its count; one spread over several files
        // unions the customer ids of its pairs in those files.
        let customers = parts.map { p -> Int64 in
            if p.count == 1 { return p[0].count }
            var union = KeyInterner()
            for (w, pi, lg, _) in p {
                let part = w.parts[pi]
                for pair in part.pairs where Int(pair >> 32) == lg {
                    _ = part.customers.withBytes(Int(pair & 0xFFFF_FFFF)) { union.id($0) }
                }
            }
            return Int64(union.count)
        }
        var table = ResultTable(title: "Daily revenue by channel and country (confirmed orders)", columns: [
            "date", "channel", "country", "orders", "units", "revenue", "avg_order_value", "customers", "pending", "cancelled",
        ])
        let strings = (0 ..< names.count).map { names.values[$0] }
        let order = keys.indices.sorted {
            (keys[$0].date, ExactID(strings[Int(keys[$0].channel)]), ExactID(strings[Int(keys[$0].country)]))
                < (keys[$1].date, ExactID(strings[Int(keys[$1].channel)]), ExactID(strings[Int(keys[$1].country)]))
        }
        for g in order {
            let k = keys[g], a = accs[g]
            table.rows.append([
                .date(k.date), .string(strings[Int(k.channel)]), .string(strings[Int(k.country)]), .int(a.orders), .int(a.units),
                .decimal(a.revenue, scale: 2), a.orders > 0 ? .decimal(Money.divide(a.revenue, by: a.orders), scale: 2) : .null,
                .int(customers[g]), .int(a.pending), .int(a.cancelled),
            ])
        }
        if let limit, table.rows.count > limit { table.rows = Array(table.rows.prefix(limit)) }
        return table
    }

    // MARK: - top-products

    /// Confirmed sales per product: units, revenue, distinct orders, and the category and brand
    /// of the product's first row (in scan order).
    ///
    /// Workers aggregate per file. Distinct orders are counted per file (order ids interned in a
    /// small per-file table); the per-file counts add up exactly when no order id occurs in two
    /// files, which one sort of the files' order-id hashes proves (the normal case: an order's
    /// items share its partition). Otherwise the files are read again keeping their runs'
    /// order ids, and the files' (product, order) pairs are unioned.
    static func productSales(_ catalog: Catalog, _ o: ReportOptions, session: ReportSession? = nil) throws -> ProductSales {
        if let session { return try session.productSales(o) { try productSales(catalog, $0) } }
        guard let scan = try TableScan.ifPresent(catalog: catalog, table: .curatedOrderItems, asOf: o.asOf) else { return try mergeProductSales([])! }
        try scan.requireCents(["line_revenue"])
        var p = try windowPredicates(scan, o)
        p.append(try scan.predicate("status", .eq, [OrderStatus.confirmed.rawValue]))
        // First with the runs' hashes only; a lake where some order id is in two runs (written
        // otherwise than by the ingest) is read a second time keeping the runs' ids.
        for keepingRuns in [false, true] {
            let (states, _) = try scan.reduce(columns: ["product_id", "category", "brand", "quantity", "line_revenue", "order_id"], where: p,
                                              state: { ProductSalesWorker(keepingRuns: keepingRuns) }) { $0.add(file: $1, $2) }
            if let sales = try mergeProductSales(states) { return sales }
        }
        preconditionFailure("workers that keep their runs always merge")
    }

    /// The workers' per-product sums and per-file distinct orders merged, by product id. Nil
    /// when some order id is in two runs (or two runs' hashes are equal) and the workers did
    /// not keep their runs' ids, which the exact union needs.
    static func mergeProductSales(_ states: [ProductSalesWorker]) throws(SumOverflow) -> ProductSales? {
        for w in states { if let p = w.overflowed { throw SumOverflow(ProductSalesWorker.overflowText(w.products.values[p])) } }
        var products = ByteInterner()
        var units: [Int64] = [], revenue: [Int128] = [], orders: [Int64] = []
        var info: [(position: ProductSalesWorker.Position, category: String, brand: String)] = []
        var maps: [[Int32]] = []
        for w in states {
            let map = (0 ..< w.products.count).map { w.products.values.withBytes($0) { products.id($0) } }
            maps.append(map)
            while units.count < products.count { units.append(0); revenue.append(0); orders.append(0); info.append(((Int.max, 0, 0), "", "")) }
            for (l, g) in map.enumerated() {
                let g = Int(g)
                try units[g].add(w.units[l], orThrow: ProductSalesWorker.overflowText(products.values[g]))
                try revenue[g].add(w.revenue[l], orThrow: ProductSalesWorker.overflowText(products.values[g]))
                orders[g] += w.orders[l]
                if w.info[l].position < info[g].position { info[g] = w.info[l] }
            }
        }
        if !Kernels.allDistinct(states.flatMap(\.orderHashes)) {
            // Some order id (or a hash of two) shows up in several runs: union exactly.
            guard states.allSatisfy(\.keepingRuns) else { return nil }
            var ids = KeyInterner()
            var pairs: [UInt64] = []
            for (w, state) in states.enumerated() {
                for part in state.parts {
                    let global = (0 ..< part.orders.count).map { part.orders.withBytes($0) { ids.id($0) } }
                    for pair in part.pairs {
                        let product = UInt64(UInt32(maps[w][Int(pair >> 32)]))
                        pairs.append(product << 32 | UInt64(UInt32(global[Int(pair & 0xFFFF_FFFF)])))
                    }
                }
            }
            Kernels.sortUnique(&pairs)
            for i in orders.indices { orders[i] = 0 }
            for pair in pairs { orders[Int(pair >> 32)] += 1 }
        }
        let names = (0 ..< products.count).map { ExactID(products.values[$0]) }
        return (Dictionary(uniqueKeysWithValues: zip(names, units)), Dictionary(uniqueKeysWithValues: zip(names, revenue)),
                Dictionary(uniqueKeysWithValues: zip(names, orders)),
                Dictionary(uniqueKeysWithValues: zip(names, info.map { ($0.category, $0.brand) })))
    }

    /// Products ranked by revenue and by units (confirmed orders), with category and brand.
    static func topProducts(_ catalog: Catalog, _ o: ReportOptions, session: ReportSession? = nil) throws -> ResultTable {
        let sales = try productSales(catalog, o, session: session)
        let ids = Array(sales.units.keys)
        let byUnits = ids.sorted { (sales.units[$0]!, $1) > (sales.units[$1]!, $0) }
        var unitRank: [ExactID: Int] = [:]
        for (i, id) in byUnits.enumerated() { unitRank[id] = i + 1 }
        let byRevenue = ids.sorted { (sales.revenue[$0]!, $1) > (sales.revenue[$1]!, $0) }
        var table = ResultTable(title: "Top products (confirmed orders)", columns: [
            "product_id", "category", "brand", "revenue_rank", "revenue", "units_rank", "units", "orders",
        ])
        for (i, id) in byRevenue.prefix(o.limit ?? 10).enumerated() {
            let (category, brand) = sales.info[id] ?? ("", "")
            table.rows.append([
                .string(id.text), .string(category), .string(brand), .int(Int64(i + 1)), .decimal(sales.revenue[id]!, scale: 2),
                .int(Int64(unitRank[id]!)), .int(sales.units[id]!), .int(sales.orders[id] ?? 0),
            ])
        }
        return table
    }

    // MARK: - inventory

    /// On hand per product and warehouse (latest update as of the snapshot), units sold in the
    /// window, turnover (units sold / units on hand, per product) and days of cover; low stock
    /// when on hand or days of cover falls under the thresholds.
    static func inventory(_ catalog: Catalog, _ o: ReportOptions, session: ReportSession? = nil) throws -> ResultTable {
        // Without an inventory table yet, no stock rows; without orders, every product sold 0.
        let latest = try latestStock(catalog, o)
        var onHandByProduct: [ExactID: Int64] = [:]
        for (k, v) in latest { try onHandByProduct[k.product, default: 0].add(v.1, orThrow: Self.onHandOverflowText(k.product.text)) }
        let sales = try productSales(catalog, o, session: session)
        let days = try windowDays(catalog, o)
        var table = ResultTable(title: "Inventory: on hand, sales in the window, turnover, low stock", columns: [
            "product_id", "warehouse", "on_hand", "units_sold", "turnover", "days_of_cover", "low_stock",
        ])
        var rows: [(Bool, ExactID, ExactID, [Value])] = []
        for (k, v) in latest {
            let sold = sales.units[k.product] ?? 0
            let productOnHand = onHandByProduct[k.product] ?? 0
            let turnover: Value = productOnHand > 0 ? .double(Double(sold) / Double(productOnHand)) : .null
            let daily = Double(sold) / Double(max(days, 1))
            // This warehouse's share of the product's daily sales, by its share of stock.
            let share = productOnHand > 0 ? Double(v.1) / Double(productOnHand) : 0
            // Nothing on hand while the product sells: no day of cover (as product-metrics says),
            // not unknown, so --min-days-of-cover flags it.
            let cover: Value = daily * share > 0 ? .double(Double(v.1) / (daily * share)) : (v.1 == 0 && daily > 0 ? .double(0) : .null)
            let low = v.1 < o.lowStock || (cover.doubleValue < o.minDaysOfCover)
            rows.append((low, k.product, k.warehouse, [
                .string(k.product.text), .string(k.warehouse.text), .int(v.1), .int(sold), turnover, cover, .bool(low),
            ]))
        }
        rows.sort { ($0.0 ? 0 : 1, $0.1, $0.2) < ($1.0 ? 0 : 1, $1.1, $1.2) }
        table.rows = rows.map(\.3)
        if let limit = o.limit, table.rows.count > limit { table.rows = Array(table.rows.prefix(limit)) }
        return table
    }

    /// Quantities are INT64 (ingest accepts any), so one product's stock over its warehouses can
    /// pass Int64: an error naming the product, where `+=` trapped and took `lake serve` down.
    static func onHandOverflowText(_ product: String) -> String {
        "inventory: units on hand of product \(VisibleText.escape(product)) over its warehouses"
    }

    /// Days in the report window: the options' bounds, else the span of the order data.
    static func windowDays(_ catalog: Catalog, _ o: ReportOptions) throws -> Int {
        if let f = o.from, let t = o.to { return Int(t - f) + 1 }
        guard let scan = try TableScan.ifPresent(catalog: catalog, table: .curatedOrders, asOf: o.asOf) else { return 1 }
        let files = try catalog.dataFiles(tableID: scan.table.tableID, at: .snapshot(scan.snapshot.id), columnStats: false,
                                          inlined: .readSeparately)
        // A file whose rows are all deleted holds no order data.
        var dates = files.filter { $0.liveRecordCount > 0 }.compactMap { $0.partitionValues["event_date"].flatMap { LakeCatalog.Timestamps.parseDate($0) } }
        // Inlined rows have no partition values: their own event dates count.
        if let c = scan.table.column(named: "event_date"),
           let rows = try catalog.inlinedRows(tableID: scan.table.tableID, at: .snapshot(scan.snapshot.id), columns: [c]),
           case .int32(let days) = rows.columns[0].data {
            dates += days.indices.filter { !rows.columns[0].isNull($0) }.map { Int64(days[$0]) }
        }
        guard let lo = dates.min(), let hi = dates.max() else { return 1 }
        let from = o.from.map(Int64.init) ?? lo, to = o.to.map(Int64.init) ?? hi
        return Int(max(1, to - from + 1))
    }

    // MARK: - customers

    /// Top customers by spend, repeat-purchase rate, orders-per-customer distribution, and new
    /// versus returning customers per day (confirmed orders).
    static func customers(_ catalog: Catalog, _ o: ReportOptions, session: ReportSession? = nil) throws -> [ResultTable] {
        let scanned = try customerOrders(catalog, o, session: session)
        let a = scanned.customers.figures, ids = scanned.ids
        let count = ids.count
        // Top customers: spend descending, then id ascending by bytes, as DuckDB orders VARCHARs
        // (String order is canonical: an id with "e" + U+0301 sorted as one with a precomposed "é").
        let k = o.limit ?? 10
        func before(_ x: Int, _ y: Int) -> Bool {
            if a[x].spend != a[y].spend { return a[x].spend > a[y].spend }
            return ExactID(ids[x]) < ExactID(ids[y])
        }
        var best: [Int] = []
        if k > 64 {
            best = Array((0 ..< count).sorted(by: before).prefix(k))
        } else if k > 0 {
            for c in 0 ..< count {
                if best.count == k { if !before(c, best[k - 1]) { continue }; best.removeLast() }
                var i = best.count
                while i > 0 && before(c, best[i - 1]) { i -= 1 }
                best.insert(c, at: i)
            }
        }
        var top = ResultTable(title: "Top customers by spend", columns: ["customer_id", "orders", "spend", "avg_order_value", "first_order", "last_order"])
        for c in best {
            top.rows.append([.string(ids[c]), .int(a[c].orders), .decimal(a[c].spend, scale: 2), .decimal(Money.divide(a[c].spend, by: a[c].orders), scale: 2),
                             .timestamp(a[c].first), .timestamp(a[c].last)])
        }
        let customers = Int64(count)
        let repeaters = Int64(a.lazy.filter { $0.orders > 1 }.count)
        let orders = a.reduce(0) { $0 + $1.orders }
        let spend = try a.lazy.map(\.spend).sum(orThrow: "customers: the summary's spend of all customers")
        let summary = ResultTable(title: "Customer summary", columns: ["customers", "repeat_customers", "repeat_purchase_rate", "orders", "avg_orders_per_customer", "avg_order_value"], rows: [[
            .int(customers), .int(repeaters), customers > 0 ? .double(Double(repeaters) / Double(customers)) : .null, .int(orders),
            customers > 0 ? .double(Double(orders) / Double(customers)) : .null, orders > 0 ? .decimal(Money.divide(spend, by: orders), scale: 2) : .null,
        ]])
        // Every customer has at least one order: buckets 1 ... 5+ (0 kept for the rule's sake).
        var buckets = [Int64](repeating: 0, count: 6)
        for c in a { buckets[Int(min(max(c.orders, 0), 5))] += 1 }
        let distribution = ResultTable(title: "Orders per customer", columns: ["orders_per_customer", "customers"],
                                       rows: buckets.indices.filter { buckets[$0] > 0 }.map { [.string($0 == 5 ? "5+" : String($0)), .int(buckets[$0])] })
        let daily = ResultTable(title: "New and returning customers per day", columns: ["date", "new_customers", "returning_customers"],
                                rows: scanned.perDay.map { [.date($0.day), .int($0.new), .int($0.returning)] })
        return [top, summary, distribution, daily]
    }

    /// Each window customer's first day of a confirmed order in the whole lake as of the
    /// snapshot: `inWindow` (their first day in the window) unless a confirmed order before it,
    /// outside the window or on another channel, exists. Without --from or --channel the window
    /// holds every earlier day: nothing to read. With them the customers report said a customer
    /// was new on the window's first day whatever they had ordered before (found by an
    /// exploratory test: "new" changed with --from).
    static func lifetimeFirstDays(_ scan: TableScan?, _ o: ReportOptions, _ inWindow: [Int32], ids: StringColumn) throws -> [Int32] {
        guard let scan, o.from != nil || o.channel != nil, !inWindow.isEmpty else { return inWindow }
        var index: [ExactID: Int] = [:]
        index.reserveCapacity(ids.count)
        for c in 0 ..< ids.count { index[ExactID(ids[c])] = c }
        var first = inWindow
        // Only days before a customer's first in the window matter: those up to the latest of them.
        let latest = inWindow.max()!
        let p = [try scan.predicate("status", .eq, [OrderStatus.confirmed.rawValue]), ColumnPredicate("event_date", .lt, [.int(Int64(latest))])]
        let (batches, _) = try scan.run(columns: ["customer_id", "event_date"], where: p)
        forEachRow(batches) { b, r in
            guard let id = b.batch.columns[0].string(at: r), let c = index[ExactID(id)] else { return }
            let day = Int32(int(b.batch.columns[1], r))
            if day < first[c] { first[c] = day }
        }
        return first
    }

    /// Confirmed orders in the window per customer (the customers report's figures) and per
    /// channel (`lake run`'s revenue by channel), from one scan; shared through the session.
    static func customerOrders(_ catalog: Catalog, _ o: ReportOptions, session: ReportSession? = nil) throws -> CustomerOrders {
        if let session { return try session.customerOrders(o) { try customerOrders(catalog, $0) } }
        var states: [CustomersWorker] = [], stats = ScanStats()
        let scan = try TableScan.ifPresent(catalog: catalog, table: .curatedOrders, asOf: o.asOf)
        if let scan {
            try scan.requireCents(["order_total"])
            var p = try windowPredicates(scan, o)
            p.append(try scan.predicate("status", .eq, [OrderStatus.confirmed.rawValue]))
            (states, stats) = try scan.reduce(columns: ["customer_id", "order_total", "event_time", "event_date", "channel"], where: p,
                                              sizedState: CustomersWorker.init(rows:)) { $0.add(file: $1, $2) }
        }
        // A customer is new on the day of their first confirmed order in the lake (any channel),
        // returning on their other days: counted over distinct (customer, day) pairs. When the
        // window's days fit one 64-bit word, a customer's days are bits of one word (a pair is an
        // OR, the distinct pairs its set bits); past 64 days the pairs are sorted.
        var lo = Int32.max, hi = Int32.min
        for w in states {
            for d in w.days {
                let day = Int32(bitPattern: UInt32(truncatingIfNeeded: d))
                lo = min(lo, day)
                hi = max(hi, day)
            }
        }
        var perDay: [CustomerOrders.Day] = []
        if lo <= hi && Int(hi) - Int(lo) < 64 {
            var words: [UInt64] = []
            let (a, interner) = try CustomersWorker.merge(states) { w, map in
                let need = Int(map.max() ?? -1) + 1
                if words.count < need { words += repeatElement(0, count: need - words.count) }
                words.withUnsafeMutableBufferPointer { to in
                    for d in w.days {
                        let day = Int32(bitPattern: UInt32(truncatingIfNeeded: d))
                        to[Int(map[Int(d >> 32)])] |= 1 << UInt64(day - lo)
                    }
                }
            }
            let span = Int(hi - lo) + 1
            var new = [Int64](repeating: 0, count: span), returning = [Int64](repeating: 0, count: span)
            let firstDays = try lifetimeFirstDays(scan, o, a.figures.map(\.firstDay), ids: interner.values)
            for (c, word) in words.enumerated() {
                let first = Int(firstDays[c]) - Int(lo)
                var bits = word
                while bits != 0 {
                    let d = bits.trailingZeroBitCount
                    if d == first { new[d] += 1 } else { returning[d] += 1 }
                    bits &= bits - 1
                }
            }
            for d in 0 ..< span where new[d] + returning[d] > 0 { perDay.append(.init(day: lo + Int32(d), new: new[d], returning: returning[d])) }
            return CustomerOrders(customers: a, ids: interner.values, perDay: perDay, channels: a.byChannel.groups(a.figures), stats: stats)
        }
        var days: [UInt64] = []
        let (a, interner) = try CustomersWorker.merge(states) { w, map in
            for d in w.days { days.append(UInt64(UInt32(map[Int(d >> 32)])) << 32 | (d & 0xFFFF_FFFF)) }
        }
        Kernels.sortUnique(&days)
        let firstDays = try lifetimeFirstDays(scan, o, a.figures.map(\.firstDay), ids: interner.values)
        var byDay: [Int32: (new: Int64, returning: Int64)] = [:]
        for pair in days {
            let c = Int(pair >> 32), d = Int32(bitPattern: UInt32(truncatingIfNeeded: pair))
            if d == firstDays[c] { byDay[d, default: (0, 0)].new += 1 } else { byDay[d, default: (0, 0)].returning += 1 }
        }
        perDay = byDay.keys.sorted().map { .init(day: $0, new: byDay[$0]!.new, returning: byDay[$0]!.returning) }
        return CustomerOrders(customers: a, ids: interner.values, perDay: perDay, channels: a.byChannel.groups(a.figures), stats: stats)
    }

    // MARK: - operations

    static func seconds(_ v: Double?) -> Value { v.map { .duration(seconds: Int64($0.rounded())) } ?? .null }

    /// Per ingest run: volumes, rejects by reason, throughput, event-to-commit latency; and the
    /// reject rate by day and channel from the raw layer.
    static func operations(_ catalog: Catalog, _ o: ReportOptions) throws -> [ResultTable] {
        // Lag: event time to commit (a backfill of old events lags by days, a live stream by seconds).
        var runs = ResultTable(title: "Ingest runs (lag: event time to commit)", columns: [
            "snapshot", "kind", "source", "records", "accepted", "rejected", "duplicates", "records_per_s",
            "lag_p50", "lag_p95", "lag_max", "files", "top_rejects",
        ])
        for r in try catalog.ingestRuns(at: o.asOf) {
            let reasons = r.rejects.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(3).map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            runs.rows.append([
                r.snapshotID.map(Value.int) ?? .null, .string(r.kind.rawValue), .string(r.source), .int(r.records), .int(r.accepted),
                .int(r.quarantined), .int(r.duplicates), .int(Int64(r.recordsPerSecond)),
                seconds(r.latencyP50), seconds(r.latencyP95), seconds(r.latencyMax),
                .int(r.filesWritten), .string(reasons),
            ])
        }
        var rejects = ResultTable(title: "Reject rate by day and channel (raw orders)", columns: ["date", "channel", "records", "rejected", "reject_rate", "top_reason"])
        if let scan = try TableScan.ifPresent(catalog: catalog, table: .rawOrders, asOf: o.asOf) {
            let (states, _) = try scan.reduce(columns: ["event_date", "channel", "reject_reason"], where: try windowPredicates(scan, o),
                                              state: RejectRateWorker.init) { $0.add($2) }
            // The channel by bytes: a raw line keeps the channel as sent, and two spellings that
            // differ only in Unicode normalization are two groups in DuckDB.
            struct Key: Hashable { var date: Int32; var channel: ExactID }
            var acc: [Key: (records: Int64, rejected: Int64, reasons: [String: Int64])] = [:]
            for w in states {
                let names = (0 ..< w.names.count).map { w.names.values[$0] }
                for (g, k) in w.keys.enumerated() {
                    let key = Key(date: k.date, channel: ExactID(names[Int(k.channel)]))
                    var v = acc[key] ?? (0, 0, [:])
                    v.records += w.records[g]
                    v.rejected += w.rejected[g]
                    for (code, n) in w.reasons[g].enumerated() where n > 0 { v.reasons[names[code], default: 0] += n }
                    acc[key] = v
                }
            }
            for (k, v) in acc.sorted(by: { ($0.key.date, $0.key.channel) < ($1.key.date, $1.key.channel) }) {
                let top = v.reasons.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key
                rejects.rows.append([.date(k.date), .string(k.channel.text), .int(v.records), .int(v.rejected), .double(Double(v.rejected) / Double(v.records)),
                                     top.map(Value.string) ?? .null])
            }
        }
        return [runs, rejects]
    }
}

/// One worker's share of the reject-rate table: per (event date, channel) group, records,
/// rejects, and rejects by reason. Channels and reasons are worker-local codes, made once per
/// dictionary entry, so no row hashes a string.
struct RejectRateWorker {
    struct Key: Hashable { var date: Int32; var channel: Int32 }

    var names = ByteInterner()
    var index: [Key: Int] = [:]
    var keys: [Key] = []
    var records: [Int64] = [], rejected: [Int64] = []
    /// Per group: rejects by reason code.
    var reasons: [[Int64]] = []

    /// Per-row codes of a string column, a null row (or a column that holds no strings) coded
    /// as the empty string, as `Column.string(at:) ?? ""` reads it. A dictionary column is
    /// coded once per entry and its rows read through the entry's code.
    private mutating func codes(_ c: Column) -> [Int32] {
        let empty = names.id("")
        var out: [Int32]
        switch c.data {
        case .dictionary(let idx, let values):
            let map = (0 ..< values.count).map { values.withBytes($0) { names.id($0) } }
            out = [Int32](repeating: empty, count: idx.count)
            map.withUnsafeBufferPointer { map in
                idx.withUnsafeBufferPointer { idx in
                    out.withUnsafeMutableBufferPointer { out in
                        for r in idx.indices {
                            let i = Int(idx[r])
                            precondition(i >= 0 && i < map.count, "dictionary index out of range")
                            out[r] = map[i]
                        }
                    }
                }
            }
        default:
            out = names.ids(c)
            if out.count != c.count { return [Int32](repeating: empty, count: c.count) }
        }
        if let valid = c.validity { for r in out.indices where !valid[r] { out[r] = empty } }
        return out
    }

    mutating func add(_ batches: [ScanBatch]) {
        for b in batches {
            let columns = b.batch.columns
            let date = Kernels.int32s(columns[0]), channel = codes(columns[1]), reason = codes(columns[2])
            // A row is a reject when it has a reason (`string(at:)` not nil).
            let isString: Bool
            switch columns[2].data {
            case .string, .dictionary: isString = true
            default: isString = false
            }
            let valid = columns[2].validity
            // Raw files are partitioned by date and channel: the key is mostly the previous
            // row's, so a row's group is found first (groups made as needed), then counted
            // through pointers (an array element written per row paid a uniqueness check).
            var groups = [Int32](repeating: -1, count: b.batch.count)
            var lastKey = Key(date: 0, channel: -1), lastGroup: Int32 = -1
            b.forEachRow { r in
                let key = Key(date: date[r], channel: channel[r])
                if lastGroup < 0 || key != lastKey {
                    lastKey = key
                    lastGroup = Int32(group(key))
                }
                groups[r] = lastGroup
            }
            var rejects: [Int32] = []
            records.withUnsafeMutableBufferPointer { records in
                rejected.withUnsafeMutableBufferPointer { rejected in
                    b.forEachRow { r in
                        let g = Int(groups[r])
                        records[g] += 1
                        guard isString, valid?[r] ?? true else { return }
                        rejected[g] += 1
                        rejects.append(Int32(r))
                    }
                }
            }
            for r in rejects {
                let g = Int(groups[Int(r)]), code = Int(reason[Int(r)])
                if reasons[g].count <= code { reasons[g] += [Int64](repeating: 0, count: code + 1 - reasons[g].count) }
                reasons[g][code] += 1
            }
        }
    }

    private mutating func group(_ key: Key) -> Int {
        if let g = index[key] { return g }
        let g = keys.count
        index[key] = g
        keys.append(key)
        records.append(0); rejected.append(0); reasons.append([])
        return g
    }
}

/// One worker's share of daily-revenue: groups over the files it decoded.
struct DailyRevenueWorker {
    /// Revenue in 128 bits (DuckDB's DECIMAL(38) sum); units are INT32 per order, so their Int64
    /// sum passes only past 2^32 orders in one group (checked all the same).
    struct Acc { var orders: Int64 = 0, units: Int64 = 0, revenue: Int128 = 0, pending: Int64 = 0, cancelled: Int64 = 0 }
    struct Key: Hashable { var date: Int32; var channel: Int32; var country: Int32 }

    /// Channel and country strings: codes local to this worker.
    var names = ByteInterner()
    var index: [Key: Int32] = [:]
    var keys: [Key] = []
    var accs: [Acc] = []
    /// Per file: its distinct confirmed customers, distinct (group << 32 | customer) pairs, and
    /// the distinct count per group.
    var parts: [(customers: StringColumn, pairs: [UInt64], counts: [(group: Int, count: Int64)])] = []
    /// The first group whose units (Int64) or revenue (Int128) did not fit: the report fails naming it
    /// (`overflowError`) instead of trapping in the row loop.
    var overflowed: Int?

    static func overflowText(_ date: Int32, _ channel: String, _ country: String) -> String {
        "daily-revenue: units or revenue of \(Timestamps.dateText(days: Int64(date))) \(channel) \(country)"
    }

    func overflowError() -> SumOverflow? {
        guard let g = overflowed else { return nil }
        let k = keys[g]
        return SumOverflow(Self.overflowText(k.date, names.values[Int(k.channel)], names.values[Int(k.country)]))
    }

    /// Adds one file's batches.
    mutating func add(_ batches: [ScanBatch]) {
        let rows = batches.reduce(0) { $0 + $1.matchedCount }
        var customers = KeyInterner(expected: max(64, rows / 2))
        var pairs: [UInt64] = []
        pairs.reserveCapacity(rows)
        for b in batches {
            let batch = b.batch
            let date = Kernels.int32s(batch.columns[0])
            let channel = names.ids(batch.columns[1]), country = names.ids(batch.columns[2])
            let status = Kernels.match(batch.columns[3], [OrderStatus.confirmed, .pending, .cancelled].map(\.rawValue))
            let total = Kernels.int64s(batch.columns[5]), units = Kernels.int64s(batch.columns[6])
            let groups = groupIDs(b, date, channel, country)
            // Customers matter for confirmed rows only: a null customer is not counted (SQL count DISTINCT).
            let customer = batch.columns[4]
            var confirmed = b
            confirmed.selection = []
            b.forEachRow { r in if status[r] == 0 && !customer.isNull(r) { confirmed.selection!.append(Int32(r)) } }
            let codes = Kernels.codes(customer, confirmed, &customers)
            b.forEachRow { r in
                let g = Int(groups[r])
                switch status[r] {
                case 0:
                    accs[g].orders += 1
                    let (u, uo) = accs[g].units.addingReportingOverflow(units[r])
                    let (v, vo) = accs[g].revenue.addingReportingOverflow(Int128(total[r]))
                    if uo || vo { overflowed = overflowed ?? g } else { accs[g].units = u; accs[g].revenue = v }
                    if codes[r] >= 0 { pairs.append(UInt64(g) << 32 | UInt64(UInt32(codes[r]))) }
                case 1: accs[g].pending += 1
                case 2: accs[g].cancelled += 1
                default: break
                }
            }
        }
        Kernels.sortUnique(&pairs)
        var counts: [(group: Int, count: Int64)] = []
        for p in pairs {
            let g = Int(p >> 32)
            if counts.last?.group == g { counts[counts.count - 1].count += 1 } else { counts.append((g, 1)) }
        }
        parts.append((customers.values, pairs, counts))
    }

    /// Each row's worker group. A batch's (date, channel, country) codes span a small box
    /// (one date and channel per partition file), so a flat array over the box maps them to
    /// groups and the dictionary is consulted once per box cell, not per row.
    private mutating func groupIDs(_ b: ScanBatch, _ date: [Int32], _ channel: [Int32], _ country: [Int32]) -> [Int32] {
        let n = b.batch.count
        var groups = [Int32](repeating: 0, count: n)
        // Only matching rows make groups: a filtered-out row must not leave an empty group.
        guard let first = b.selection.map({ $0.first.map(Int.init) }) ?? (n > 0 ? 0 : nil) else { return groups }
        var dLo = date[first], dHi = date[first], cLo = channel[first], cHi = channel[first], kLo = country[first], kHi = country[first]
        b.forEachRow { r in
            dLo = min(dLo, date[r]); dHi = max(dHi, date[r])
            cLo = min(cLo, channel[r]); cHi = max(cHi, channel[r])
            kLo = min(kLo, country[r]); kHi = max(kHi, country[r])
        }
        let dN = Int(dHi) - Int(dLo) + 1, cN = Int(cHi - cLo) + 1, kN = Int(kHi - kLo) + 1
        if dN <= 1 << 16, cN <= 1 << 16, kN <= 1 << 16, dN * cN * kN <= 1 << 16 {
            var box = [Int32](repeating: -1, count: dN * cN * kN)
            b.forEachRow { r in
                let cell = ((Int(date[r]) - Int(dLo)) * cN + Int(channel[r] - cLo)) * kN + Int(country[r] - kLo)
                var g = box[cell]
                if g < 0 {
                    g = group(Key(date: date[r], channel: channel[r], country: country[r]))
                    box[cell] = g
                }
                groups[r] = g
            }
        } else {
            b.forEachRow { r in groups[r] = group(Key(date: date[r], channel: channel[r], country: country[r])) }
        }
        return groups
    }

    private mutating func group(_ key: Key) -> Int32 {
        if let g = index[key] { return g }
        let g = Int32(keys.count)
        index[key] = g
        keys.append(key)
        accs.append(Acc())
        return g
    }
}

/// One worker's share of the customers report: per customer (ids local to the worker) orders,
/// spend, first and last order time, first order day; and (customer, day) pairs.
extension CustomersWorker {
    /// Merges the workers' customers into one id space: `figures` indexed by customer.
    /// `each` sees every worker with the map from its local ids to the merged ones.
    static func merge(_ states: [CustomersWorker], _ each: (CustomersWorker, [Int32]) -> Void = { _, _ in })
        throws(SumOverflow) -> (CustomersWorker, KeyInterner) {
        for w in states { if let c = w.overflowed { throw SumOverflow(overflowText(w.ids.values[c])) } }
        var overflowed: Int32?
        var a = CustomersWorker(rows: 0)
        guard !states.isEmpty else { return (a, KeyInterner()) }
        // The first worker's ids, figures and channels stay as they are (a new interner fed them
        // in order would give the same ids, and adding them to empty figures changes nothing);
        // only the other workers' are interned again and added. They are moved out of the
        // worker, not shared with it: the first write to a shared table (tens of MB on 1 M
        // orders) would copy it.
        var states = states
        var interner = states[0].ids
        states[0].ids = KeyInterner(expected: 0)
        // At most every other worker's ids are new: room for them at once.
        let more = states.dropFirst().reduce(into: (count: 0, bytes: 0)) { $0.count += $1.ids.count; $0.bytes += $1.ids.values.bytes.count }
        interner.reserve(count: more.count, bytes: more.bytes)
        a.figures = states[0].figures
        states[0].figures = []
        a.byChannel = states[0].byChannel
        each(states[0], (0 ..< interner.count).map(Int32.init))
        for w in states.dropFirst() {
            let map = (0 ..< w.ids.count).map { w.ids.values.withBytes($0) { interner.id($0) } }
            a.grow(to: interner.count)
            let slots = a.byChannel.merge(w.byChannel)
            w.figures.withUnsafeBufferPointer { from in
                a.figures.withUnsafeMutableBufferPointer { to in
                    for (l, g) in map.enumerated() {
                        let x = from[l]
                        let g = Int(g)
                        to[g].orders += x.orders
                        let (v, o) = to[g].spend.addingReportingOverflow(x.spend)
                        if o { overflowed = overflowed ?? Int32(g) } else { to[g].spend = v }
                        to[g].first = min(to[g].first, x.first)
                        to[g].last = max(to[g].last, x.last)
                        to[g].firstDay = min(to[g].firstDay, x.firstDay)
                        to[g].channels |= slots.map(x.channels)
                    }
                }
            }
            each(w, map)
        }
        if let c = overflowed { throw SumOverflow(overflowText(interner.values[Int(c)])) }
        return (a, interner)
    }
}

/// One customer's figures side by side: a row updates one cache line rather than one line in
/// each of five arrays (the customers outgrow the cache).
struct CustomerFigures {
    /// 128 bits (DuckDB's DECIMAL(38) sum): a customer's spend is exact however many orders.
    var spend: Int128 = 0
    var orders: Int64 = 0, first: Int64 = .max, last: Int64 = .min
    var firstDay: Int32 = .max
    /// Bit s: the customer (not null) has a row in channel slot s (`ChannelOrders`).
    var channels: UInt64 = 0
}

struct CustomersWorker {
    var ids: KeyInterner

    init() { ids = KeyInterner(expected: 1 << 15) }

    /// For a worker handed up to `rows` orders: customers order a few times each, so half
    /// that many ids fit without the table growing (a larger share of repeat buyers only
    /// leaves it emptier).
    init(rows: Int) {
        ids = KeyInterner(expected: max(64, rows / 2))
        // Reserved, not touched: appending customers then never copies the figures.
        figures.reserveCapacity(max(64, rows / 2))
    }

    var figures: [CustomerFigures] = []
    /// customer << 32 | day, one per order (repeats removed at the end).
    var days: [UInt64] = []
    /// Per channel, when the scan reads the channel as a fifth column.
    var byChannel = ChannelOrders()
    /// The first customer whose spend did not fit 128 bits (unreachable below 2^64 orders; `merge` throws naming them).
    var overflowed: Int?

    static func overflowText(_ customer: String) -> String { "customer figures: spend of customer \(customer)" }

    mutating func grow(to count: Int) {
        if figures.count < count { figures += repeatElement(CustomerFigures(), count: count - figures.count) }
    }

    /// Columns: customer_id, order_total, event_time, event_date, and optionally channel.
    /// `file` is the file's position in scan order (`TableScan.reduce`).
    mutating func add(file: Int = 0, _ batches: [ScanBatch]) {
        // Appending grows `days` geometrically; a `reserveCapacity(count + n)` per batch
        // would reallocate to exactly that and copy the whole array every batch.
        var days = self.days
        self.days = []
        defer { self.days = days }
        for (bi, b) in batches.enumerated() {
            let columns = b.batch.columns
            let customer = Kernels.codes(columns[0], b, &ids)
            grow(to: ids.count)
            let channels = columns.count > 4 ? byChannel.add(b, file: file, batch: bi) : nil
            let total = Kernels.int64s(columns[1]), time = Kernels.int64s(columns[2]), day = Kernels.int32s(columns[3])
            // A customer's figures are asked for a few rows ahead (`lake_prefetch_for_write`):
            // the array outgrows the cache, and the misses then overlap.
            let rows = b.selection ?? (0 ..< Int32(b.batch.count)).map { $0 }
            let ahead = 8
            if days.capacity < days.count + rows.count { days.reserveCapacity(max(days.count + rows.count, 2 * days.capacity)) }
            let noChannels = [UInt64](repeating: 0, count: channels == nil ? b.batch.count : 0)
            // Every column through a pointer: the row loop pays no bounds or uniqueness checks.
            figures.withUnsafeMutableBufferPointer { f in
                rows.withUnsafeBufferPointer { rows in
                    customer.withUnsafeBufferPointer { customer in
                        total.withUnsafeBufferPointer { total in
                            time.withUnsafeBufferPointer { time in
                                day.withUnsafeBufferPointer { day in
                                    (channels ?? noChannels).withUnsafeBufferPointer { channels in
                                        for k in rows.indices {
                                            if k + ahead < rows.count { lake_prefetch_for_write(f.baseAddress! + Int(customer[Int(rows[k + ahead])])) }
                                            let r = Int(rows[k])
                                            let c = Int(customer[r])
                                            f[c].orders += 1
                                            let (v, o) = f[c].spend.addingReportingOverflow(Int128(total[r]))
                                            if o { overflowed = overflowed ?? c } else { f[c].spend = v }
                                            f[c].first = min(f[c].first, time[r])
                                            f[c].last = max(f[c].last, time[r])
                                            f[c].firstDay = min(f[c].firstDay, day[r])
                                            f[c].channels |= channels[r]
                                            days.append(UInt64(UInt32(c)) << 32 | UInt64(UInt32(bitPattern: day[r])))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What one scan of confirmed orders gives the customers report and `lake run`'s revenue by
/// channel: per customer (ids dense, `ids[i]` is customer i), new and returning customers per
/// day (by day), and the per-channel groups (nil when they cannot be exact).
struct CustomerOrders {
    struct Day { var day: Int32, new: Int64, returning: Int64 }

    var customers: CustomersWorker
    var ids: StringColumn
    var perDay: [Day]
    var channels: [ChannelOrders.Group]?
    var stats: ScanStats
}

/// Confirmed orders per channel as `Query.run` aggregates `ReportJob.revenueByChannelSpec`:
/// rows, non-null order totals and their exact sum, and distinct non-null customers, with each
/// group's first row in scan order (the query lists groups in that order before sorting).
/// Slot 0 is the null channel, slot 1 + k the channel with code k in `names`. A customer's
/// channels are bits of one word (`CustomerFigures.channels`), so this holds at most 64 slots;
/// past that, or when a sum overflows, `groups` is nil and the query runs on its own.
struct ChannelOrders {
    static let slots = 64

    struct Group {
        var channel: Value
        var first: ScanPosition
        var rows: Int64, totals: Int64, sum: Int128, customers: Int64
    }

    /// Where another worker's slots went in a merge.
    struct SlotMap {
        var slot: [Int]
        var identity: Bool

        func map(_ bits: UInt64) -> UInt64 {
            if identity { return bits }
            var bits = bits, mapped: UInt64 = 0
            while bits != 0 {
                mapped |= 1 << UInt64(slot[bits.trailingZeroBitCount])
                bits &= bits - 1
            }
            return mapped
        }
    }

    var names = ByteInterner()
    var first = [ScanPosition](repeating: ScanPosition(file: .max, batch: 0, row: 0), count: slots)
    var rows = [Int64](repeating: 0, count: slots), totals = [Int64](repeating: 0, count: slots), sum = [Int128](repeating: 0, count: slots)
    var exact = true

    /// One batch: channel at column 4, order total at 1, customer at 0. Returns each row's
    /// channel bit for its customer's `channels` (0 for a null customer).
    mutating func add(_ b: ScanBatch, file: Int, batch: Int) -> [UInt64] {
        let columns = b.batch.columns
        let channel = columns[4], total = columns[1], customer = columns[0]
        let code = Kernels.codes(channel, b, &names)
        let amount = Kernels.int64s(total)
        var bits = [UInt64](repeating: 0, count: b.batch.count)
        // Slots seen in this batch: a slot's first row here is the batch's earliest row of it,
        // so its position is compared once per batch, not once per row.
        var seen: UInt64 = 0
        var exact = self.exact, first = self.first
        let channelValid = channel.validity, totalValid = total.validity, customerValid = customer.validity
        rows.withUnsafeMutableBufferPointer { rows in
            totals.withUnsafeMutableBufferPointer { totals in
                sum.withUnsafeMutableBufferPointer { sum in
                    bits.withUnsafeMutableBufferPointer { bits in
                        b.forEachRow { r in
                            let s = channelValid?[r] ?? true ? Int(code[r]) + 1 : 0
                            guard s < Self.slots else { exact = false; return }
                            rows[s] += 1
                            if seen & (1 << UInt64(s)) == 0 {
                                seen |= 1 << UInt64(s)
                                let here = ScanPosition(file: file, batch: batch, row: r)
                                if here < first[s] { first[s] = here }
                            }
                            if totalValid?[r] ?? true {
                                totals[s] += 1
                                let (v, o) = sum[s].addingReportingOverflow(Int128(amount[r]))
                                sum[s] = v
                                if o { exact = false }
                            }
                            if customerValid?[r] ?? true { bits[r] = 1 << UInt64(s) }
                        }
                    }
                }
            }
        }
        self.exact = exact
        self.first = first
        return bits
    }

    /// Adds another worker's groups; returns where its slots went, for its customers' bits.
    mutating func merge(_ w: ChannelOrders) -> SlotMap {
        exact = exact && w.exact
        var slot = Array(0 ..< Self.slots)
        for k in 0 ..< w.names.count {
            let s = 1 + Int(w.names.values.withBytes(k) { names.id($0) })
            guard s < Self.slots, k + 1 < Self.slots else { exact = false; break }
            slot[k + 1] = s
        }
        for s in 0 ..< Self.slots where w.rows[s] > 0 {
            let t = slot[s]
            rows[t] += w.rows[s]
            totals[t] += w.totals[s]
            first[t] = min(first[t], w.first[s])
            let (v, o) = sum[t].addingReportingOverflow(w.sum[s])
            sum[t] = v
            if o { exact = false }
        }
        return SlotMap(slot: slot, identity: slot.indices.allSatisfy { slot[$0] == $0 })
    }

    /// The groups (channels with rows), in no particular order; nil when not exact.
    func groups(_ customers: [CustomerFigures]) -> [Group]? {
        guard exact else { return nil }
        var distinct = [Int64](repeating: 0, count: Self.slots)
        for c in customers {
            var bits = c.channels
            while bits != 0 {
                distinct[bits.trailingZeroBitCount] += 1
                bits &= bits - 1
            }
        }
        return (0 ..< Self.slots).filter { rows[$0] > 0 }.map { s in
            Group(channel: s == 0 ? .null : .string(names.values[s - 1]), first: first[s], rows: rows[s], totals: totals[s], sum: sum[s],
                  customers: distinct[s])
        }
    }
}

/// One worker's share of product sales, with per-file distinct orders.
struct ProductSalesWorker {
    /// (file, batch, row): the scan order of a row.
    typealias Position = (Int, Int, Int)

    var products = ByteInterner()
    /// Revenue in 128 bits (DuckDB's DECIMAL(38) sum); units are INT32 quantities, summed in Int64 (checked).
    var units: [Int64] = [], revenue: [Int128] = [], orders: [Int64] = []
    var info: [(position: Position, category: String, brand: String)] = []
    /// Per file, when the worker keeps its runs (`keepingRuns`): its runs of order ids and its
    /// distinct (product << 32 | run) pairs, which `mergeProductSales` unions when some order
    /// id is in two runs.
    var parts: [(orders: StringColumn, pairs: [UInt64])] = []
    let keepingRuns: Bool
    /// Hashes of each file's runs of order ids: all distinct when no order id is in two runs.
    var orderHashes: [UInt64] = []

    /// `keepingRuns` false: only the runs' hashes are kept (the usual case, where they are all
    /// distinct); `mergeProductSales` then answers nil when they are not, and the scan is
    /// read again keeping them.
    init(keepingRuns: Bool = false) { self.keepingRuns = keepingRuns }
    /// The first product whose units (Int64) or revenue (Int128) did not fit (`mergeProductSales` throws).
    var overflowed: Int?

    static func overflowText(_ product: String) -> String { "product sales: units or revenue of product \(product)" }

    /// An order's items are consecutive rows of its file (the ingest writes them together), so a
    /// run of equal order ids is taken for one order: a row compares its id with the previous
    /// row's instead of probing a hash table, and a product is counted once per run (a stamp per
    /// product) instead of sorting (product, order) pairs. An id that comes back after another
    /// (a file written otherwise) makes two runs of one id: their hashes repeat, and
    /// `mergeProductSales` then unions the orders exactly, as for an order spread over files.
    mutating func add(file: Int, _ batches: [ScanBatch]) {
        // Worked on as locals (moved out, not copied): the row loop's closures then touch no
        // property of `self`.
        var units = self.units, revenue = self.revenue, orders = self.orders, info = self.info, overflowed = self.overflowed
        self.units = []; self.revenue = []; self.orders = []; self.info = []
        defer { self.units = units; self.revenue = revenue; self.orders = orders; self.info = info; self.overflowed = overflowed }
        var runs = Kernels.Runs(keepingBytes: keepingRuns)
        let keepingRuns = self.keepingRuns
        // Per product: the last run that counted it.
        var stamp = [Int32](repeating: -1, count: units.count)
        var pairs: [UInt64] = []
        for (bi, b) in batches.enumerated() {
            let batch = b.batch
            let product = Kernels.codes(batch.columns[0], b, &products)
            let run = Kernels.runs(batch.columns[5], b, &runs)
            let quantity = Kernels.int64s(batch.columns[3]), lineRevenue = Kernels.int64s(batch.columns[4])
            let known = units.count
            if products.count > known {
                // `codes` numbers new products in the order of their first rows: product
                // `known` first shows up at the first row holding it, then `known + 1`, ...
                var next = Int32(known)
                let end = Int32(products.count)
                b.forEachRow { r in
                    if next < end && product[r] == next {
                        info.append(((file, bi, r), batch.columns[1].string(at: r) ?? "", batch.columns[2].string(at: r) ?? ""))
                        next += 1
                    }
                }
                let added = products.count - known
                units += repeatElement(0, count: added); revenue += repeatElement(0, count: added)
                orders += repeatElement(0, count: added); stamp += repeatElement(-1, count: added)
            }
            // Grown geometrically ahead of the row loop (an exact reserve per batch would copy
            // the whole array every batch), so its appends never reallocate there.
            if keepingRuns && pairs.capacity < pairs.count + b.matchedCount { pairs.reserveCapacity(max(pairs.count + b.matchedCount, 2 * pairs.capacity)) }
            // Sized for every product first, so the row loop writes through pointers (an array
            // element written in the loop paid a uniqueness check and a bounds check each time).
            units.withUnsafeMutableBufferPointer { units in
                revenue.withUnsafeMutableBufferPointer { revenue in
                    orders.withUnsafeMutableBufferPointer { orders in
                        stamp.withUnsafeMutableBufferPointer { stamp in
                            product.withUnsafeBufferPointer { product in
                                run.withUnsafeBufferPointer { run in
                                    quantity.withUnsafeBufferPointer { quantity in
                                        lineRevenue.withUnsafeBufferPointer { lineRevenue in
                                            b.forEachRow { r in
                                                let p = Int(product[r])
                                                let (u, uo) = units[p].addingReportingOverflow(quantity[r])
                                                let (v, vo) = revenue[p].addingReportingOverflow(Int128(lineRevenue[r]))
                                                if uo || vo { overflowed = overflowed ?? p } else { units[p] = u; revenue[p] = v }
                                                let o = run[r]
                                                if stamp[p] != o {
                                                    stamp[p] = o
                                                    orders[p] += 1
                                                    if keepingRuns { pairs.append(UInt64(UInt32(p)) << 32 | UInt64(UInt32(bitPattern: o))) }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        orderHashes += runs.hashes
        if let bytes = runs.bytes { parts.append((bytes, pairs)) }
    }
}
