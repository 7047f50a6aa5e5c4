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

    public init() {}
}

/// One report: one or more titled tables. The first is the report's main table.
public struct Report: Sendable {
    public var name: String
    public var snapshot: Int64
    public var sections: [ResultTable]

    /// JSON: the main table as an array of objects; several sections as an object of arrays
    /// keyed by section name.
    public func render(_ format: ResultTable.Format) -> String {
        switch format {
        case .json where sections.count > 1:
            let parts = sections.map { "\(jsonString(snakeCase($0.title ?? "rows"))): \($0.renderJSON())" }
            return "{\n" + parts.joined(separator: ",\n") + "\n}"
        case .csv where sections.count > 1:
            return sections.map { "# \($0.title ?? "")\n" + $0.renderCSV() }.joined(separator: "\n\n")
        default:
            return sections.map { $0.render(format) }.joined(separator: "\n\n")
        }
    }
}

public enum Reports {
    public static let names = ["daily-revenue", "top-products", "inventory", "customers", "operations"]

    public static func run(_ name: String, catalog: Catalog, options: ReportOptions) throws -> Report {
        let snapshot = try catalog.resolve(options.asOf)
        var o = options
        o.asOf = .snapshot(snapshot.id)
        let sections: [ResultTable]
        switch name {
        case "daily-revenue": sections = [try dailyRevenue(catalog, o)]
        case "top-products": sections = [try topProducts(catalog, o)]
        case "inventory": sections = [try inventory(catalog, o)]
        case "customers": sections = try customers(catalog, o)
        case "operations": sections = try operations(catalog, o)
        default: throw QueryError.unknownReport(name, available: names)
        }
        return Report(name: name, snapshot: snapshot.id, sections: sections)
    }

    /// Columns that identify a row of each report's main table, for `diff`.
    static func keyColumns(_ name: String) -> Int {
        switch name {
        case "daily-revenue": return 3
        case "inventory": return 2
        case "operations": return 2
        default: return 1
        }
    }

    // MARK: - Shared scanning

    static func windowPredicates(_ scan: TableScan, _ o: ReportOptions) throws -> [ColumnPredicate] {
        var p: [ColumnPredicate] = []
        if let from = o.from { p.append(ColumnPredicate("event_date", .ge, [.int(Int64(from))])) }
        if let to = o.to { p.append(ColumnPredicate("event_date", .le, [.int(Int64(to))])) }
        if let c = o.channel { p.append(try scan.predicate("channel", .eq, [c])) }
        return p
    }

    /// Per-row callbacks over a scan's matching rows, with string columns turned into interned
    /// codes once per batch.
    static func forEachRow(_ batches: [ScanBatch], _ body: (ScanBatch, Int) throws -> Void) rethrows {
        for b in batches {
            if let sel = b.selection { for r in sel { try body(b, Int(r)) } } else { for r in 0 ..< b.batch.count { try body(b, r) } }
        }
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
    static func dailyRevenue(_ catalog: Catalog, _ o: ReportOptions) throws -> ResultTable {
        let scan = try TableScan(catalog: catalog, name: "curated.orders", asOf: o.asOf)
        let columns = ["event_date", "channel", "country", "status", "customer_id", "order_total", "units"]
        let (batches, _) = try scan.run(columns: columns, where: try windowPredicates(scan, o))
        struct Acc { var orders: Int64 = 0, units: Int64 = 0, revenue: Int64 = 0, pending: Int64 = 0, cancelled: Int64 = 0 }
        struct Key: Hashable { var date: Int32; var channel: Int64; var country: Int64 }
        var interner = StringInterner()
        // Groups are indices into arrays mutated in place: a struct holding a Set, read out of a
        // dictionary and written back, would copy the set on every row.
        var index: [Key: Int] = [:]
        var keys: [Key] = [], accs: [Acc] = [], customers: [Set<Int64>] = []
        let confirmed = interner.id("confirmed"), pending = interner.id("pending"), cancelled = interner.id("cancelled")
        for b in batches {
            let batch = b.batch
            let date = dates(batch.columns[0]), channel = interner.codes(batch.columns[1]), country = interner.codes(batch.columns[2])
            let status = interner.codes(batch.columns[3])
            // Customers matter only for confirmed orders: intern just those rows' ids.
            let customer = customerCodes(batch.columns[4], status: status, confirmed: confirmed, interner: &interner)
            let total = ints(batch.columns[5]), units = ints(batch.columns[6])
            forEachRow([b]) { _, r in
                let key = Key(date: date[r], channel: channel[r], country: country[r])
                let g: Int
                if let i = index[key] { g = i } else {
                    g = keys.count
                    index[key] = g
                    keys.append(key); accs.append(Acc()); customers.append([])
                }
                if status[r] == confirmed {
                    accs[g].orders += 1
                    accs[g].units += units[r]
                    accs[g].revenue += total[r]
                    customers[g].insert(customer[r])
                } else if status[r] == pending {
                    accs[g].pending += 1
                } else if status[r] == cancelled {
                    accs[g].cancelled += 1
                }
            }
        }
        var table = ResultTable(title: "Daily revenue by channel and country (confirmed orders)", columns: [
            "date", "channel", "country", "orders", "units", "revenue", "avg_order_value", "customers", "pending", "cancelled",
        ])
        let names = interner.strings
        let order = keys.indices.sorted {
            (keys[$0].date, names[Int(keys[$0].channel)], names[Int(keys[$0].country)]) < (keys[$1].date, names[Int(keys[$1].channel)], names[Int(keys[$1].country)])
        }
        for g in order {
            let k = keys[g], a = accs[g]
            table.rows.append([
                .date(k.date), .string(names[Int(k.channel)]), .string(names[Int(k.country)]), .int(a.orders), .int(a.units),
                .decimal(a.revenue, scale: 2), a.orders > 0 ? .decimal(Money.divide(a.revenue, by: a.orders), scale: 2) : .null,
                .int(Int64(customers[g].count)), .int(a.pending), .int(a.cancelled),
            ])
        }
        if let limit = o.limit, table.rows.count > limit { table.rows = Array(table.rows.prefix(limit)) }
        return table
    }

    static func customerCodes(_ c: Column, status: [Int64], confirmed: Int64, interner: inout StringInterner) -> [Int64] {
        var out = [Int64](repeating: -1, count: c.count)
        for r in 0 ..< c.count where status[r] == confirmed && !c.isNull(r) {
            out[r] = interner.code(c, r)
        }
        return out
    }

    // MARK: - top-products

    static func productSales(_ catalog: Catalog, _ o: ReportOptions) throws -> (units: [String: Int64], revenue: [String: Int64], orders: [String: Set<Int64>], info: [String: (String, String)]) {
        let scan = try TableScan(catalog: catalog, name: "curated.order_items", asOf: o.asOf)
        var p = try windowPredicates(scan, o)
        p.append(try scan.predicate("status", .eq, ["confirmed"]))
        let (batches, _) = try scan.run(columns: ["product_id", "category", "brand", "quantity", "line_revenue", "order_id"], where: p)
        var interner = StringInterner()
        var units: [Int64: Int64] = [:], revenue: [Int64: Int64] = [:], orders: [Int64: Set<Int64>] = [:]
        var info: [Int64: (Int64, Int64)] = [:]
        for b in batches {
            let batch = b.batch
            let product = interner.codes(batch.columns[0]), category = interner.codes(batch.columns[1]), brand = interner.codes(batch.columns[2])
            let quantity = ints(batch.columns[3]), lineRevenue = ints(batch.columns[4]), order = interner.codes(batch.columns[5])
            forEachRow([b]) { _, r in
                units[product[r], default: 0] += quantity[r]
                revenue[product[r], default: 0] += lineRevenue[r]
                orders[product[r], default: []].insert(order[r])  // in place: no copy of the set
                if info[product[r]] == nil { info[product[r]] = (category[r], brand[r]) }
            }
        }
        let s = interner.strings
        return (Dictionary(uniqueKeysWithValues: units.map { (s[Int($0.key)], $0.value) }),
                Dictionary(uniqueKeysWithValues: revenue.map { (s[Int($0.key)], $0.value) }),
                Dictionary(uniqueKeysWithValues: orders.map { (s[Int($0.key)], $0.value) }),
                Dictionary(uniqueKeysWithValues: info.map { (s[Int($0.key)], (s[Int($0.value.0)], s[Int($0.value.1)])) }))
    }

    /// Products ranked by revenue and by units (confirmed orders), with category and brand.
    static func topProducts(_ catalog: Catalog, _ o: ReportOptions) throws -> ResultTable {
        let sales = try productSales(catalog, o)
        let ids = Array(sales.units.keys)
        let byUnits = ids.sorted { (sales.units[$0]!, $1) > (sales.units[$1]!, $0) }
        var unitRank: [String: Int] = [:]
        for (i, id) in byUnits.enumerated() { unitRank[id] = i + 1 }
        let byRevenue = ids.sorted { (sales.revenue[$0]!, $1) > (sales.revenue[$1]!, $0) }
        var table = ResultTable(title: "Top products (confirmed orders)", columns: [
            "product_id", "category", "brand", "revenue_rank", "revenue", "units_rank", "units", "orders",
        ])
        for (i, id) in byRevenue.prefix(o.limit ?? 10).enumerated() {
            let (category, brand) = sales.info[id] ?? ("", "")
            table.rows.append([
                .string(id), .string(category), .string(brand), .int(Int64(i + 1)), .decimal(sales.revenue[id]!, scale: 2),
                .int(Int64(unitRank[id]!)), .int(sales.units[id]!), .int(Int64(sales.orders[id]?.count ?? 0)),
            ])
        }
        return table
    }

    // MARK: - inventory

    /// On hand per product and warehouse (latest update as of the snapshot), units sold in the
    /// window, turnover (units sold / units on hand, per product) and days of cover; low stock
    /// when on hand or days of cover falls under the thresholds.
    static func inventory(_ catalog: Catalog, _ o: ReportOptions) throws -> ResultTable {
        let scan = try TableScan(catalog: catalog, name: "curated.inventory", asOf: o.asOf)
        let (batches, _) = try scan.run(columns: ["product_id", "warehouse_location", "available_quantity", "last_updated"])
        struct Key: Hashable { var product: String; var warehouse: String }
        var latest: [Key: (Int64, Int64)] = [:]  // (last_updated, quantity)
        forEachRow(batches) { b, r in
            let batch = b.batch
            guard let p = batch.columns[0].string(at: r), let w = batch.columns[1].string(at: r) else { return }
            let q = int(batch.columns[2], r), t = batch.columns[3].isNull(r) ? Int64.min : int(batch.columns[3], r)
            let key = Key(product: p, warehouse: w)
            if let cur = latest[key], cur.0 > t { return }
            latest[key] = (t, q)
        }
        var onHandByProduct: [String: Int64] = [:]
        for (k, v) in latest { onHandByProduct[k.product, default: 0] += v.1 }
        let sales = try productSales(catalog, o)
        let days = try windowDays(catalog, o)
        var table = ResultTable(title: "Inventory: on hand, sales in the window, turnover, low stock", columns: [
            "product_id", "warehouse", "on_hand", "units_sold", "turnover", "days_of_cover", "low_stock",
        ])
        var rows: [(Bool, String, String, [Value])] = []
        for (k, v) in latest {
            let sold = sales.units[k.product] ?? 0
            let productOnHand = onHandByProduct[k.product] ?? 0
            let turnover: Value = productOnHand > 0 ? .double(Double(sold) / Double(productOnHand)) : .null
            let daily = Double(sold) / Double(max(days, 1))
            // This warehouse's share of the product's daily sales, by its share of stock.
            let share = productOnHand > 0 ? Double(v.1) / Double(productOnHand) : 0
            let cover: Value = daily * share > 0 ? .double(Double(v.1) / (daily * share)) : .null
            let low = v.1 < o.lowStock || (cover.doubleValue < o.minDaysOfCover)
            rows.append((low, k.product, k.warehouse, [
                .string(k.product), .string(k.warehouse), .int(v.1), .int(sold), turnover, cover, .bool(low),
            ]))
        }
        rows.sort { ($0.0 ? 0 : 1, $0.1, $0.2) < ($1.0 ? 0 : 1, $1.1, $1.2) }
        table.rows = rows.map(\.3)
        if let limit = o.limit, table.rows.count > limit { table.rows = Array(table.rows.prefix(limit)) }
        return table
    }

    /// Days in the report window: the options' bounds, else the span of the order data.
    static func windowDays(_ catalog: Catalog, _ o: ReportOptions) throws -> Int {
        if let f = o.from, let t = o.to { return Int(t - f) + 1 }
        let scan = try TableScan(catalog: catalog, name: "curated.orders", asOf: o.asOf)
        let files = try catalog.dataFiles(tableID: scan.table.tableID, at: o.asOf)
        let dates = files.compactMap { $0.partitionValues["event_date"].flatMap { LakeCatalog.Timestamps.parseDate($0) } }
        guard let lo = dates.min(), let hi = dates.max() else { return 1 }
        let from = o.from.map(Int64.init) ?? lo, to = o.to.map(Int64.init) ?? hi
        return Int(max(1, to - from + 1))
    }

    // MARK: - customers

    /// Top customers by spend, repeat-purchase rate, orders-per-customer distribution, and new
    /// versus returning customers per day (confirmed orders).
    static func customers(_ catalog: Catalog, _ o: ReportOptions) throws -> [ResultTable] {
        let scan = try TableScan(catalog: catalog, name: "curated.orders", asOf: o.asOf)
        var p = try windowPredicates(scan, o)
        p.append(try scan.predicate("status", .eq, ["confirmed"]))
        let (batches, _) = try scan.run(columns: ["customer_id", "order_total", "event_time", "event_date"], where: p)
        struct Acc { var orders: Int64 = 0, spend: Int64 = 0, first: Int64 = .max, last: Int64 = .min; var days: [Int32] = [] }
        var slot: [String: Int] = [:]
        var ids: [String] = [], accs: [Acc] = []
        var interner = StringInterner()
        for b in batches {
            let customer = interner.codes(b.batch.columns[0])
            let total = ints(b.batch.columns[1]), time = ints(b.batch.columns[2]), day = dates(b.batch.columns[3])
            forEachRow([b]) { _, r in
                let id = interner.string(customer[r])
                let g: Int
                if let i = slot[id] { g = i } else { g = ids.count; slot[id] = g; ids.append(id); accs.append(Acc()) }
                accs[g].orders += 1
                accs[g].spend += total[r]
                accs[g].first = min(accs[g].first, time[r])
                accs[g].last = max(accs[g].last, time[r])
                accs[g].days.append(day[r])
            }
        }
        let acc = Dictionary(uniqueKeysWithValues: zip(ids, accs))
        var top = ResultTable(title: "Top customers by spend", columns: ["customer_id", "orders", "spend", "avg_order_value", "first_order", "last_order"])
        for (id, a) in acc.sorted(by: { ($0.value.spend, $1.key) > ($1.value.spend, $0.key) }).prefix(o.limit ?? 10) {
            top.rows.append([.string(id), .int(a.orders), .decimal(a.spend, scale: 2), .decimal(Money.divide(a.spend, by: a.orders), scale: 2),
                             .timestamp(a.first), .timestamp(a.last)])
        }
        let customers = Int64(acc.count)
        let repeaters = Int64(acc.values.filter { $0.orders > 1 }.count)
        let orders = acc.values.reduce(0) { $0 + $1.orders }
        let spend = acc.values.reduce(0) { $0 + $1.spend }
        let summary = ResultTable(title: "Customer summary", columns: ["customers", "repeat_customers", "repeat_purchase_rate", "orders", "avg_orders_per_customer", "avg_order_value"], rows: [[
            .int(customers), .int(repeaters), customers > 0 ? .double(Double(repeaters) / Double(customers)) : .null, .int(orders),
            customers > 0 ? .double(Double(orders) / Double(customers)) : .null, orders > 0 ? .decimal(Money.divide(spend, by: orders), scale: 2) : .null,
        ]])
        var buckets: [Int64: Int64] = [:]
        for a in acc.values { buckets[min(a.orders, 5), default: 0] += 1 }
        let distribution = ResultTable(title: "Orders per customer", columns: ["orders_per_customer", "customers"],
                                       rows: buckets.keys.sorted().map { [.string($0 == 5 ? "5+" : String($0)), .int(buckets[$0]!)] })
        // A customer is new on the day of their first order in the window, returning after.
        var perDay: [Int32: (new: Int64, returning: Int64)] = [:]
        for a in acc.values {
            let days = Set(a.days).sorted()
            for (i, d) in days.enumerated() {
                var v = perDay[d] ?? (0, 0)
                if i == 0 { v.new += 1 } else { v.returning += 1 }
                perDay[d] = v
            }
        }
        let daily = ResultTable(title: "New and returning customers per day", columns: ["date", "new_customers", "returning_customers"],
                                rows: perDay.keys.sorted().map { [.date($0), .int(perDay[$0]!.new), .int(perDay[$0]!.returning)] })
        return [top, summary, distribution, daily]
    }

    // MARK: - operations

    static func seconds(_ v: Double?) -> Value { v.map { .int(Int64($0.rounded())) } ?? .null }

    /// Per ingest run: volumes, rejects by reason, throughput, event-to-commit latency; and the
    /// reject rate by day and channel from the raw layer.
    static func operations(_ catalog: Catalog, _ o: ReportOptions) throws -> [ResultTable] {
        var runs = ResultTable(title: "Ingest runs (latency: event time to commit, seconds)", columns: [
            "snapshot", "kind", "source", "records", "accepted", "rejected", "dupes", "rec_per_s",
            "lat_p50", "lat_p95", "lat_max", "files", "top_rejects",
        ])
        for r in try catalog.ingestRuns(at: o.asOf) {
            let reasons = r.rejects.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(3).map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            runs.rows.append([
                .int(r.snapshotID), .string(r.kind), .string(r.source), .int(r.records), .int(r.accepted), .int(r.quarantined),
                .int(r.duplicates), .int(r.seconds > 0 ? Int64(Double(r.records) / r.seconds) : 0),
                seconds(r.latencyP50), seconds(r.latencyP95), seconds(r.latencyMax),
                .int(r.filesWritten), .string(reasons),
            ])
        }
        var rejects = ResultTable(title: "Reject rate by day and channel (raw orders)", columns: ["date", "channel", "records", "rejected", "reject_rate", "top_reason"])
        if let scan = try? TableScan(catalog: catalog, name: "raw.orders", asOf: o.asOf) {
            let (batches, _) = try scan.run(columns: ["event_date", "channel", "reject_reason"], where: try windowPredicates(scan, o))
            struct Key: Hashable { var date: Int32; var channel: String }
            var acc: [Key: (Int64, Int64, [String: Int64])] = [:]
            forEachRow(batches) { b, r in
                let key = Key(date: date(b.batch.columns[0], r), channel: b.batch.columns[1].string(at: r) ?? "")
                var v = acc[key] ?? (0, 0, [:])
                v.0 += 1
                if let reason = b.batch.columns[2].string(at: r) {
                    v.1 += 1
                    v.2[reason, default: 0] += 1
                }
                acc[key] = v
            }
            for (k, v) in acc.sorted(by: { ($0.key.date, $0.key.channel) < ($1.key.date, $1.key.channel) }) {
                let top = v.2.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key
                rejects.rows.append([.date(k.date), .string(k.channel), .int(v.0), .int(v.1), .double(Double(v.1) / Double(v.0)), top.map(Value.string) ?? .null])
            }
        }
        return [runs, rejects]
    }
}
