import Foundation
import LakeTestSupport
import Testing

/// The reports added for the API, recomputed by DuckDB (ducklake attach of the same lake) and
/// compared value by value: customer lifetime value and product metrics.
@Suite("top-customers and product-metrics against DuckDB")
struct ServiceReportPeerTests {
    static let script = Python.duckdbPrelude + """
    from decimal import Decimal, ROUND_HALF_UP
    root = sys.argv[1]
    con = duck()
    con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
    def money(d): return str(Decimal(d).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    customers = []
    for cid, n, spend, span in con.execute('''
        SELECT customer_id, count(*), sum(order_total), epoch(max(event_time)) - epoch(min(event_time))
        FROM l.curated.orders WHERE status = 'confirmed' GROUP BY 1 ORDER BY 3 DESC, 2 DESC, 1 LIMIT 40''').fetchall():
        customers.append({"customer_id": cid, "orders": n, "lifetime_value": money(spend), "avg_order_value": money(Decimal(spend) / n),
                          "gap": (span / 86400 / (n - 1)) if n > 1 else None})
    products = []
    for row in con.execute('''
        WITH sales AS (SELECT product_id, sum(line_revenue) revenue, sum(quantity) units, count(DISTINCT order_id) orders
                       FROM l.curated.order_items WHERE status = 'confirmed' GROUP BY 1),
             latest AS (SELECT product_id, warehouse_location, arg_max(available_quantity, last_updated) q
                        FROM l.curated.inventory GROUP BY 1, 2),
             stock AS (SELECT product_id, sum(q) on_hand FROM latest GROUP BY 1)
        SELECT p.product_id, p.category, p.brand, coalesce(s.revenue, 0), coalesce(s.units, 0), coalesce(s.orders, 0),
               coalesce(k.on_hand, 0), p.price
        FROM l.curated.products p LEFT JOIN sales s USING (product_id) LEFT JOIN stock k USING (product_id)
        ORDER BY 4 DESC, 1''').fetchall():
        pid, category, brand, revenue, units, orders, on_hand, price = row
        products.append({"product_id": pid, "category": category, "brand": brand, "revenue": money(revenue), "units": int(units),
                         "orders": int(orders), "on_hand": int(on_hand), "list_price": money(price), "inventory_value": money(price * on_hand)})
    print(json.dumps({"customers": customers, "products": products}))
    """

    @Test("lifetime value per customer and metrics per product equal DuckDB's over the same files")
    func agreeWithDuckDB() throws {
        let fx = try LakeFixture.shared.get()
        let peer = try #require(try Python.json(Self.script, [fx.root]) as? [String: [[String: Any]]])
        let ours = try JSONSerialization.jsonObject(with: Data(lake(["report", "top-customers", "--lake", fx.root, "--limit", "40", "--format", "json"]).out.utf8)) as? [[String: Any]]
        let theirs = try #require(peer["customers"])
        #expect(ours?.count == 40 && theirs.count == 40)
        for (i, (a, b)) in zip(ours ?? [], theirs).enumerated() {
            for key in ["customer_id", "orders", "lifetime_value", "avg_order_value"] {
                #expect("\(a[key]!)" == "\(b[key]!)", "customer row \(i) \(key)")
            }
            #expect(a["rank"] as? Int == i + 1)
            if let gap = b["gap"] as? Double {
                #expect(abs((a["avg_days_between_orders"] as? Double ?? -1) - gap) < 1e-4, "row \(i) gap")
            } else {
                #expect(a["avg_days_between_orders"] is NSNull)
            }
        }
        let products = try JSONSerialization.jsonObject(with: Data(lake(["report", "product-metrics", "--lake", fx.root, "--limit", "1000", "--format", "json"]).out.utf8)) as? [[String: Any]]
        let peerProducts = try #require(peer["products"])
        #expect(products?.count == peerProducts.count && peerProducts.count > 10)
        for (i, (a, b)) in zip(products ?? [], peerProducts).enumerated() {
            for key in ["product_id", "category", "brand", "revenue", "units", "orders", "on_hand", "list_price", "inventory_value"] {
                #expect("\(a[key]!)" == "\(b[key]!)", "product row \(i) \(key)")
            }
            #expect(a["revenue_rank"] as? Int == i + 1)
        }
    }
}
