import Foundation
import LakeCatalog
import LakeFormat

// The reports behind `lake serve`'s endpoints that `lake report` did not have yet: customer
// lifetime value, product metrics, and the catalog's snapshots and tables as report tables. They
// live here, not in the server, so that `lake report NAME --format json` and the HTTP API print
// the same bytes from one implementation.

/// How `top-customers` ranks.
public enum CustomerRanking: String, Sendable, CaseIterable {
    case spend, orders
}

extension Reports {
    // MARK: - top-customers

    /// Customer lifetime value over confirmed orders in the window: orders, total spend, average
    /// order value, first and last order, and the mean gap between orders in days (null for a
    /// single order). Ranked by spend or by orders; ties by the other figure, then by id. The id
    /// comes first: `lake report diff` keys rows by their first column.
    static func topCustomers(_ catalog: Catalog, _ o: ReportOptions) throws -> ResultTable {
        var states: [CustomersWorker] = []
        if let scan = try TableScan.ifPresent(catalog: catalog, table: .curatedOrders, asOf: o.asOf) {
            try scan.requireCents(["order_total"])
            var p = try windowPredicates(scan, o)
            if let country = o.country { p.append(try scan.predicate("country", .eq, [country])) }
            p.append(try scan.predicate("status", .eq, [OrderStatus.confirmed.rawValue]))
            (states, _) = try scan.reduce(columns: ["customer_id", "order_total", "event_time", "event_date"], where: p,
                                          state: CustomersWorker.init) { $0.add($2) }
        }
        let (merged, interner) = try CustomersWorker.merge(states)
        let a = merged.figures
        let ids = interner.values
        let count = interner.count
        // Strings are compared once per pair only on ties of both figures.
        let spend = a.map(\.spend), orders = a.map { Int128($0.orders) }
        let primary = o.ranking == .spend ? spend : orders, secondary = o.ranking == .spend ? orders : spend
        let ranked = (0 ..< count).sorted { x, y in
            if primary[x] != primary[y] { return primary[x] > primary[y] }
            if secondary[x] != secondary[y] { return secondary[x] > secondary[y] }
            return ExactID(ids[x]) < ExactID(ids[y])
        }
        var table = ResultTable(title: "Top customers by \(o.ranking.rawValue) (lifetime value, confirmed orders)", columns: [
            "customer_id", "rank", "orders", "lifetime_value", "avg_order_value", "first_order", "last_order", "avg_days_between_orders",
        ])
        for (i, c) in ranked.prefix(o.limit ?? 10).enumerated() {
            let gapDays: Value = a[c].orders > 1
                ? .double(Double(a[c].last - a[c].first) / 86_400_000_000 / Double(a[c].orders - 1)) : .null
            table.rows.append([
                .string(ids[c]), .int(Int64(i + 1)), .int(a[c].orders), .decimal(a[c].spend, scale: 2),
                .decimal(Money.divide(a[c].spend, by: a[c].orders), scale: 2), .timestamp(a[c].first), .timestamp(a[c].last), gapDays,
            ])
        }
        return table
    }

    // MARK: - product-metrics

    /// Per product of the catalog (and any product sold without being in it): revenue, units and
    /// orders in the window (confirmed), their ranks, category and brand, stock on hand over all
    /// warehouses, inventory valuation (on hand × list price) and days of cover (on hand over the
    /// window's mean daily units sold; null without sales). Ordered by revenue rank.
    static func productMetrics(_ catalog: Catalog, _ o: ReportOptions) throws -> ResultTable {
        let sales = try productSales(catalog, o)
        var info: [ExactID: (category: String, brand: String, price: Int64?)] = [:]
        if let scan = try TableScan.ifPresent(catalog: catalog, table: .curatedProducts, asOf: o.asOf) {
            try scan.requireCents(["price"])
            let (batches, _) = try scan.run(columns: ["product_id", "category", "brand", "price"])
            forEachRow(batches) { b, r in
                let c = b.batch.columns
                guard let id = c[0].string(at: r) else { return }
                info[ExactID(id)] = (c[1].string(at: r) ?? "", c[2].string(at: r) ?? "", c[3].isNull(r) ? nil : int(c[3], r))
            }
        }
        for (id, (category, brand)) in sales.info where info[id] == nil { info[id] = (category, brand, nil) }
        let stock = try TableScan.ifPresent(catalog: catalog, table: .curatedInventory, asOf: o.asOf) != nil ? try onHand(catalog, o) : [:]
        let days = try windowDays(catalog, o)
        let ids = Array(info.keys)
        func ranks<T: BinaryInteger>(_ figure: [ExactID: T]) -> [ExactID: Int] {
            let sorted = ids.sorted { (figure[$0] ?? 0, $1) > (figure[$1] ?? 0, $0) }
            return Dictionary(uniqueKeysWithValues: sorted.enumerated().map { ($1, $0 + 1) })
        }
        let revenueRank = ranks(sales.revenue), unitsRank = ranks(sales.units)
        var table = ResultTable(title: "Product metrics (confirmed orders in the window; stock as of the snapshot)", columns: [
            "product_id", "category", "brand", "revenue_rank", "revenue", "units_rank", "units", "orders", "on_hand",
            "list_price", "inventory_value", "days_of_cover",
        ])
        // The category by bytes, as `--country` filters (a predicate): String == also took a category
        // spelled with the other Unicode normalization, which DuckDB's WHERE does not.
        let chosen = ids.filter { id in o.category.map { info[id]!.category.utf8.elementsEqual($0.utf8) } ?? true }.sorted { revenueRank[$0]! < revenueRank[$1]! }
        for id in chosen.prefix(o.limit ?? 10) {
            let p = info[id]!
            let units = sales.units[id] ?? 0, onHand = stock[id] ?? 0
            let daily = Double(units) / Double(max(days, 1))
            table.rows.append([
                .string(id.text), .string(p.category), .string(p.brand), .int(Int64(revenueRank[id]!)), .decimal(sales.revenue[id] ?? 0, scale: 2),
                .int(Int64(unitsRank[id]!)), .int(units), .int(sales.orders[id] ?? 0), .int(onHand),
                // On hand × list price in 128 bits: the product of two Int64 always fits.
                p.price.map { .decimal(Int128($0), scale: 2) } ?? .null, p.price.map { .decimal(Int128($0) * Int128(onHand), scale: 2) } ?? .null,
                daily > 0 ? .double(Double(onHand) / daily) : .null,
            ])
        }
        return table
    }

    /// A product's stock in one warehouse.
    struct StockKey: Hashable { var product: ExactID; var warehouse: ExactID }

    /// The latest update per (product, warehouse) as of the snapshot: (last_updated, quantity).
    /// Empty without an inventory table yet. Keys are unique (`duplicate_key` at ingest); rows
    /// DuckDB added with a key already held tie on last_updated, and the later row read wins.
    static func latestStock(_ catalog: Catalog, _ o: ReportOptions) throws -> [StockKey: (updated: Int64, quantity: Int64)] {
        let batches = try TableScan.ifPresent(catalog: catalog, table: .curatedInventory, asOf: o.asOf)?
            .run(columns: ["product_id", "warehouse_location", "available_quantity", "last_updated"]).0 ?? []
        var latest: [StockKey: (updated: Int64, quantity: Int64)] = [:]
        forEachRow(batches) { b, r in
            let c = b.batch.columns
            guard let p = c[0].string(at: r), let w = c[1].string(at: r) else { return }
            let q = int(c[2], r), t = c[3].isNull(r) ? Int64.min : int(c[3], r)
            let key = StockKey(product: ExactID(p), warehouse: ExactID(w))
            if let cur = latest[key], cur.updated > t { return }
            latest[key] = (t, q)
        }
        return latest
    }

    /// Units on hand per product: the latest update per (product, warehouse) as of the snapshot, summed.
    static func onHand(_ catalog: Catalog, _ o: ReportOptions) throws -> [ExactID: Int64] {
        let latest = try latestStock(catalog, o)
        var total: [ExactID: Int64] = [:]
        for (k, v) in latest { try total[k.product, default: 0].add(v.1, orThrow: onHandOverflowText(k.product.text)) }
        return total
    }

    // MARK: - snapshots and tables

    /// Every retained snapshot up to the one read: id, commit time, schema version, changes, author, message.
    static func snapshots(_ catalog: Catalog, _ o: ReportOptions) throws -> ResultTable {
        let upTo = try catalog.resolve(o.asOf).id
        var table = ResultTable(title: "Snapshots", columns: ["snapshot_id", "time", "schema_version", "changes", "author", "message"])
        for s in try catalog.snapshots() where s.id <= upTo {
            table.rows.append([.int(s.id), .timestamp(s.timeMicros), .int(s.schemaVersion), .string(s.changes.joined(separator: " ")),
                               s.author.map(Value.string) ?? .null, s.message.map(Value.string) ?? .null])
        }
        return table
    }

    /// Tables at the snapshot: files, rows, columns (name:type) and partition columns.
    static func tables(_ catalog: Catalog, _ o: ReportOptions) throws -> ResultTable {
        var table = ResultTable(title: "Tables", columns: ["table", "table_id", "files", "rows", "columns", "partitioned_by"])
        for t in try catalog.tables(at: o.asOf) {
            let size = try catalog.tableSize(tableID: t.tableID, at: o.asOf)
            table.rows.append([
                .string(t.qualifiedName), .int(t.tableID), .int(Int64(size.files)), .int(size.rows),
                .string(t.columns.map { "\($0.name):\($0.duckLakeType)" }.joined(separator: " ")),
                .string(t.partitionColumns.map(\.name).joined(separator: " ")),
            ])
        }
        return table
    }
}

extension QualityReport {
    /// `lake quality report` and `/api/v1/quality`: per-batch and per-day checks with the anomalies found.
    public static func run(catalog: Catalog, asOf: AsOf?, config: QualityConfig) throws -> Report {
        let q = try QualityChecks.run(catalog: catalog, asOf: asOf, config: config)
        let anomalies = try AnomalyDetector.detect(catalog: catalog, asOf: asOf, config: config)
        return report(q, anomalies: anomalies)
    }
}
