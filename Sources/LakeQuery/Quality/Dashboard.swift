import Foundation
import LakeCatalog
import LakeFormat

/// One self-contained HTML page: inline CSS and SVG, no scripts, no network. Figures carry
/// data-* attributes so a test (or a scraper) can read the numbers the page shows.
public enum Dashboard {
    static let colors = ["web": "#2563eb", "mobile": "#16a34a", "api": "#d97706"]
    static func color(_ ch: String) -> String { colors[ch] ?? "#6b7280" }

    public static func render(catalog: Catalog, asOf: AsOf? = nil, config: QualityConfig = QualityConfig()) throws -> String {
        let snapshot = try catalog.resolve(asOf)
        let at = AsOf.snapshot(snapshot.id)
        let s = try AnomalyDetector.series(catalog: catalog, asOf: at)
        let anomalies = try AnomalyDetector.detect(catalog: catalog, asOf: at, config: config)
        let quality = try QualityChecks.run(catalog: catalog, asOf: at, config: config)
        let health = try LakeHealth.measure(catalog: catalog, asOf: at)
        var inventoryOptions = ReportOptions()
        inventoryOptions.asOf = at
        // No inventory ingested yet: the dashboard shows no stock card (any other error is thrown).
        let inventory = try TableScan.ifPresent(catalog: catalog, table: .curatedInventory, asOf: at) == nil
            ? nil : try Reports.run(.inventory, catalog: catalog, options: inventoryOptions).sections[0]

        var h = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>lake dashboard</title>
        <style>
        body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#111827;background:#f9fafb}
        h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:0 0 8px}
        .sub{color:#6b7280;font-size:13px;margin-bottom:16px}
        .grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
        .card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:14px}
        .kpis{display:flex;gap:16px;margin-bottom:16px}.kpi{flex:1}.kpi b{display:block;font-size:22px}
        table{border-collapse:collapse;font-size:12px;width:100%} td,th{white-space:nowrap;padding:3px 6px;border-bottom:1px solid #f3f4f6;text-align:left}
        td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
        .bad{color:#b91c1c;font-weight:600}.ok{color:#15803d}
        .legend span{display:inline-block;margin-right:12px;font-size:12px}
        .legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
        svg text{font-size:10px;fill:#6b7280}
        </style></head><body>
        <h1>lake: FastCommerce orders</h1>
        <div class="sub">snapshot \(snapshot.id) · \(esc(Timestamps.iso(snapshot.time))) · \(s.days.first.map { Timestamps.dateText(days: Int64($0)) } ?? "-") to \(s.days.last.map { Timestamps.dateText(days: Int64($0)) } ?? "-")</div>

        """
        // KPIs: totals are sums of exact cents, formatted once.
        let revenueByChannel = try s.channels.map { ch throws(SumOverflow) in (ch.text, try s.revenueCents[ch]!.sum(orThrow: "dashboard: confirmed revenue of channel \(VisibleText.escape(ch.text))")) }
        let totalRevenue = try revenueByChannel.map(\.1).sum(orThrow: "dashboard: confirmed revenue of all channels")
        let totalOrders = s.channels.reduce(0) { $0 + s.orders[$1]!.reduce(0, +) }
        let rawLines = s.rawLines.reduce(0, +), rejected = s.rejected.reduce(0, +)
        h += """
        <div class="kpis">
        <div class="card kpi">Confirmed revenue<b data-total-revenue="all">\(DecimalText.format(totalRevenue, scale: 2))</b></div>
        <div class="card kpi">Orders (all statuses)<b data-total-orders="all">\(totalOrders)</b></div>
        <div class="card kpi">Quarantine rate<b>\(rawLines > 0 ? Value.format(100 * Double(rejected) / Double(rawLines)) : "0")%</b></div>
        <div class="card kpi">Quality score<b data-quality-score="all" class="\(quality.score < config.minQualityScore ? "bad" : "ok")">\(Value.format(quality.score))</b></div>
        <div class="card kpi">Anomalies<b data-anomalies="\(anomalies.count)" class="\(anomalies.isEmpty ? "ok" : "bad")">\(anomalies.count)</b></div>
        </div>
        <div class="grid">

        """
        let legend = "<div class=\"legend\">" + s.channels.map { "<span><i style=\"background:\(color($0.text))\"></i>\(esc($0.text))</span>" }.joined() + "</div>"
        let revenueTotals = "<table>" + revenueByChannel.map { "<tr><td>\(esc($0.0))</td><td class=\"n\" data-total-revenue=\"\(esc($0.0))\">\(DecimalText.format($0.1, scale: 2))</td></tr>" }.joined() + "</table>"
        // By bytes, as the series: look-alike channels (NFC and NFD) must not share marks.
        let spikeDays = Set(anomalies.filter { $0.kind.isVolumeMove }.map { ExactID("\($0.date)|\($0.channel ?? "")") })
        h += card("Daily confirmed revenue by channel", legend + lineChart(s, series: s.channels.map { ch in (ch.text, s.revenueCents[ch]!.map { Double($0) / 100 }) }, marks: spikeDays, id: "revenue") + revenueTotals)
        let orderTotals = "<table>" + s.channels.map { "<tr><td>\(esc($0.text))</td><td class=\"n\" data-total-orders=\"\(esc($0.text))\">\(s.orders[$0]!.reduce(0, +))</td></tr>" }.joined() + "</table>"
        h += card("Orders per day by channel", legend + lineChart(s, series: s.channels.map { ch in (ch.text, s.orders[ch]!.map(Double.init)) }, marks: spikeDays, id: "orders") + orderTotals)
        let rejectDays = Set(anomalies.filter { $0.kind.isRateJump }.map(\.date))
        h += card("Quarantine rate by day (red: anomaly)", quarantineChart(s, marked: rejectDays))
        // Anomaly list.
        var at_ = "<table><tr><th>kind</th><th>date</th><th>channel</th><th class=n>value</th><th class=n>baseline</th><th class=n>score</th><th class=n>threshold</th></tr>"
        for a in anomalies {
            at_ += "<tr class=\"anomaly\"><td class=bad>\(esc(a.kind.rawValue))</td><td>\(esc(a.date))</td><td>\(esc(a.channel ?? "-"))</td><td class=n>\(Value.format(a.value))</td><td class=n>\(Value.format(a.baseline))</td><td class=n>\(Value.format(a.score))</td><td class=n>\(Value.format(a.threshold))</td></tr>"
        }
        if anomalies.isEmpty { at_ += "<tr><td colspan=7 class=ok>none</td></tr>" }
        h += card("Anomalies (robust z over a trailing \(config.anomalyWindowDays)-day window)", at_ + "</table>")
        // Quality scores.
        var qt = "<table><tr><th>snapshot</th><th>batch</th><th>source</th><th class=n>records</th><th class=n>score</th><th>failed</th></tr>"
        for b in quality.batches {
            let failed = b.results.filter { !$0.passed }.map(\.check.description).joined(separator: ", ")
            qt += "<tr class=\"batch\"><td>\(b.snapshotID)</td><td>\(esc(String(b.batchID.prefix(8))))</td><td>\(esc(b.source))</td><td class=n>\(b.records)</td><td class=\"n \(b.score < config.minQualityScore ? "bad" : "ok")\" data-batch-score=\"\(esc(b.batchID))\">\(Value.format(b.score))</td><td>\(esc(failed))</td></tr>"
        }
        if quality.batches.isEmpty { qt += "<tr><td colspan=6>no order batches</td></tr>" }
        h += card("Quality score per ingest batch", qt + "</table>")
        // Low stock.
        var lt = "<table><tr><th>product</th><th>warehouse</th><th class=n>on hand</th><th class=n>sold</th><th class=n>days of cover</th></tr>"
        let low = inventory?.rows.filter { $0.last == .bool(true) } ?? []
        for r in low.prefix(25) {
            lt += "<tr class=\"low-stock\"><td>\(esc(r[0].text))</td><td>\(esc(r[1].text))</td><td class=n>\(esc(r[2].text))</td><td class=n>\(esc(r[3].text))</td><td class=n>\(r[5] == .null ? "-" : Value.format(r[5].doubleValue))</td></tr>"
        }
        if low.isEmpty { lt += "<tr><td colspan=5>no product low on stock</td></tr>" }
        if low.count > 25 { lt += "<tr><td colspan=5>… \(low.count - 25) more</td></tr>" }
        h += card("Low stock (\(low.count))", "<div data-low-stock=\"\(low.count)\"></div>" + lt + "</table>")
        // Health.
        var ht = "<table><tr><th>table</th><th class=n>files</th><th class=n>max files / partition</th></tr>"
        for t in health.tables {
            ht += "<tr><td>\(esc(t.table))</td><td class=n>\(t.files)</td><td class=\"n \(t.maxFilesPerPartition > config.maxFilesPerPartition ? "bad" : "")\">\(t.maxFilesPerPartition)</td></tr>"
        }
        h += card("Pipeline health (catalog \(health.catalogBytes / 1024) KiB)", ht + "</table>")
        h += "</div></body></html>\n"
        return h
    }

    static func card(_ title: String, _ body: String) -> String { "<div class=\"card\"><h2>\(esc(title))</h2>\(body)</div>\n" }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static let width = 540.0, height = 200.0, left = 52.0, bottom = 22.0, top = 8.0

    static func axis(_ s: DailySeries, maxY: Double) -> String {
        var g = ""
        for k in 0 ... 4 {
            let v = maxY * Double(k) / 4
            let y = top + (height - top - bottom) * (1 - Double(k) / 4)
            g += "<line x1=\"\(left)\" x2=\"\(width)\" y1=\"\(f(y))\" y2=\"\(f(y))\" stroke=\"#e5e7eb\"/>"
            g += "<text x=\"\(left - 4)\" y=\"\(f(y + 3))\" text-anchor=\"end\">\(tick(v))</text>"
        }
        let n = s.days.count
        for i in stride(from: 0, to: n, by: max(1, n / 6)) {
            g += "<text x=\"\(f(x(i, n)))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">\(Timestamps.dateText(days: Int64(s.days[i])).suffix(5))</text>"
        }
        return g
    }

    /// Axis labels: 17.5k, not a rounded 18k that disagrees with the grid.
    static func tick(_ v: Double) -> String { v >= 1000 ? Value.format(v / 1000) + "k" : Value.format(v) }

    static func x(_ i: Int, _ n: Int) -> Double { left + 6 + (width - left - 12) * (n > 1 ? Double(i) / Double(n - 1) : 0.5) }
    static func y(_ v: Double, _ maxY: Double) -> Double { top + (height - top - bottom) * (1 - (maxY > 0 ? v / maxY : 0)) }
    static func f(_ d: Double) -> String { String(format: "%.1f", d) }

    static func niceMax(_ v: Double) -> Double {
        guard v > 0 else { return 1 }
        let p = pow(10, floor(log10(v)))
        for m in [1.0, 2, 2.5, 5, 10] where m * p >= v { return m * p }
        return 10 * p
    }

    /// One polyline per channel; anomalous days get a red ring on that channel's line.
    static func lineChart(_ s: DailySeries, series: [(String, [Double])], marks: Set<ExactID>, id: String) -> String {
        let n = s.days.count
        let maxY = niceMax(series.flatMap(\.1).max() ?? 0)
        var g = "<svg id=\"\(id)\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"100%\" role=\"img\">" + axis(s, maxY: maxY)
        for (ch, values) in series {
            let pts = values.enumerated().map { "\(f(x($0.offset, n))),\(f(y($0.element, maxY)))" }.joined(separator: " ")
            g += "<polyline class=\"series\" data-channel=\"\(esc(ch))\" fill=\"none\" stroke=\"\(color(ch))\" stroke-width=\"1.6\" points=\"\(pts)\"/>"
            for (i, v) in values.enumerated() where marks.contains(ExactID("\(Timestamps.dateText(days: Int64(s.days[i])))|\(ch)")) {
                g += "<circle class=\"anomaly-mark\" cx=\"\(f(x(i, n)))\" cy=\"\(f(y(v, maxY)))\" r=\"6\" fill=\"none\" stroke=\"#dc2626\" stroke-width=\"2\"><title>anomaly \(Timestamps.dateText(days: Int64(s.days[i]))) \(esc(ch))</title></circle>"
            }
        }
        return g + "</svg>"
    }

    static func quarantineChart(_ s: DailySeries, marked: Set<String>) -> String {
        let n = s.days.count
        let rates = zip(s.rejected, s.rawLines).map { $1 > 0 ? 100 * Double($0) / Double($1) : 0 }
        let maxY = niceMax(rates.max() ?? 0)
        var g = "<svg id=\"quarantine\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"100%\" role=\"img\">" + axis(s, maxY: maxY)
        let bw = max(2, (width - left - 12) / Double(max(n, 1)) - 2)
        for (i, r) in rates.enumerated() {
            let date = Timestamps.dateText(days: Int64(s.days[i]))
            let bad = marked.contains(date)
            let top_ = y(r, maxY)
            g += "<rect class=\"\(bad ? "anomaly-mark " : "")bar\" x=\"\(f(x(i, n) - bw / 2))\" y=\"\(f(top_))\" width=\"\(f(bw))\" height=\"\(f(y(0, maxY) - top_))\" fill=\"\(bad ? "#dc2626" : "#9ca3af")\"><title>\(date): \(Value.format(r))% of \(s.rawLines[i]) lines</title></rect>"
        }
        return g + "<text x=\"\(left)\" y=\"\(f(top + 2))\">%</text></svg>"
    }
}
