import Foundation
import LakeCatalog
import LakeFormat

/// One anomaly with its evidence: the day's value, the trailing baseline (median), the robust
/// score and the threshold it crossed.
public struct AnomalyFinding: Sendable, Equatable, Codable {
    public var kind: AnomalyKind
    /// YYYY-MM-DD (event date), or the ingest's finish date for schema drift.
    public var date: String
    public var channel: String?
    public var value: Double
    public var baseline: Double
    public var score: Double
    public var threshold: Double
    public var detail: String
}

/// Daily figures the detector and the dashboard share. Channels are keyed by their bytes
/// (`ExactID`), as every other report keeps them: String's == is canonical equivalence, which
/// merged look-alike channels (an NFC and an NFD "é", only possible from DuckDB's inserts) into
/// one series while daily-revenue and `lake query` listed them apart.
public struct DailySeries: Sendable {
    public var days: [Int32] = []
    /// In byte order, as DuckDB orders them.
    public var channels: [ExactID] = []
    /// [channel][day index]
    public var orders: [ExactID: [Int64]] = [:]
    /// Confirmed revenue in cents (128 bits, as DuckDB sums DECIMAL(18,2)), [channel][day index].
    public var revenueCents: [ExactID: [Int128]] = [:]
    /// Sum of squared confirmed order totals (in units, as Double: a dispersion statistic, never
    /// shown as money), [channel][day index]: the compound-Poisson noise of daily revenue.
    public var revenueSquares: [ExactID: [Double]] = [:]
    /// Raw lines and rejected lines per day (all channels).
    public var rawLines: [Int64] = []
    public var rejected: [Int64] = []
    /// Curated orders without a state, per day (the optional field most likely to go missing).
    public var stateNulls: [Int64] = []
    /// Curated orders without a city (v1 `city`, v2 `shipping_city`) per day.
    public var cityNulls: [Int64] = []
    public var curatedOrders: [Int64] = []

    public init() {}
}

public enum AnomalyDetector {
    /// Robust z-score: (x - median) / (1.4826 * MAD). `floor` bounds the scale from below, so a
    /// flat history (MAD 0) does not turn any small wobble into an infinite score.
    public static func robustScore(_ x: Double, history: [Double], floor: Double) -> (median: Double, score: Double) {
        let med = median(history)
        let mad = median(history.map { abs($0 - med) })
        let scale = max(1.4826 * mad, floor, 1e-12)
        return (med, (x - med) / scale)
    }

    static func median(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return 0 }
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Every day from the first to the last event date (missing days are zeros, not gaps, so a
    /// channel that goes silent is a drop).
    /// From the figures the ingests stored when they cover the tables (`StoredQuality`), else
    /// (or with `rescan`) from a scan of raw.orders and curated.orders.
    public static func series(catalog: Catalog, asOf: AsOf?, rescan: Bool = false) throws -> DailySeries {
        if !rescan, let stored = try StoredQuality.load(catalog: catalog, snapshot: try catalog.resolve(asOf).id) {
            return series(byDay: stored.byDay, curatedPerDay: stored.curatedPerDay, rawPerDay: stored.rawPerDay)
        }
        var byDay: [ExactID: [Int32: (Int64, Int128, Double)]] = [:]
        var curatedPerDay: [Int32: (Int64, Int64, Int64)] = [:]
        if let scan = try TableScan.ifPresent(catalog: catalog, table: .curatedOrders, asOf: asOf) {
            try scan.requireCents(["order_total"])
            // Orders v2 renamed city to shipping_city (same column id); snapshots before the migration have city.
            let city = scan.columnNames.contains("shipping_city") ? "shipping_city" : "city"
            let (batches, _) = try scan.run(columns: ["event_date", "channel", "status", "order_total", "state", city])
            try Reports.forEachRow(batches) { b, r in
                let c = b.batch.columns
                let d = Reports.date(c[0], r), ch = ExactID(c[1].string(at: r) ?? "")
                var v = byDay[ch, default: [:]][d] ?? (0, 0, 0)
                v.0 += 1
                if c[2].string(at: r) == OrderStatus.confirmed.rawValue {
                    let cents = Reports.int(c[3], r)
                    try v.1.add(Int128(cents), orThrow: "daily series: confirmed revenue of \(Timestamps.dateText(days: Int64(d))) \(VisibleText.escape(ch.text))")
                    v.2 += (Double(cents) / 100) * (Double(cents) / 100)
                }
                byDay[ch, default: [:]][d] = v
                var n = curatedPerDay[d] ?? (0, 0, 0)
                n.0 += 1
                if c[4].isNull(r) || c[4].string(at: r) == "" { n.1 += 1 }
                if c[5].isNull(r) || c[5].string(at: r) == "" { n.2 += 1 }
                curatedPerDay[d] = n
            }
        }
        var rawPerDay: [Int32: (Int64, Int64)] = [:]
        if let scan = try TableScan.ifPresent(catalog: catalog, table: .rawOrders, asOf: asOf) {
            let (batches, _) = try scan.run(columns: ["event_date", "reject_reason"])
            Reports.forEachRow(batches) { b, r in
                let c = b.batch.columns
                guard !c[0].isNull(r) else { return }  // a line too broken to date is counted per batch only
                var v = rawPerDay[Reports.date(c[0], r)] ?? (0, 0)
                v.0 += 1
                if !c[1].isNull(r) { v.1 += 1 }
                rawPerDay[Reports.date(c[0], r)] = v
            }
        }
        return series(byDay: byDay, curatedPerDay: curatedPerDay, rawPerDay: rawPerDay)
    }

    /// Empty days kept after the last day with orders before the next one (see `series`).
    static let maxEmptyDays: Int32 = 31

    public static func series(byDay: [ExactID: [Int32: (Int64, Int128, Double)]], curatedPerDay: [Int32: (Int64, Int64, Int64)],
                       rawPerDay: [Int32: (Int64, Int64)]) -> DailySeries {
        var s = DailySeries()
        // The range comes from accepted events only: a line too broken to carry a timestamp is
        // partitioned under its ingest date, which would stretch the series to today.
        let dataDays = Set(byDay.values.flatMap(\.keys)).sorted()
        guard let last = dataDays.last else { return s }
        // Every day in between, except that a run of empty days longer than `maxEmptyDays` is
        // cut short: one far-off date (9999-12-31 as "no date", a year typo) once made the
        // series, and the checks walking it, span millions of days (minutes to hours). The
        // days kept after the data stops still show a silent channel as drops.
        for (day, next) in zip(dataDays, dataDays.dropFirst().map(Optional.some) + [nil]) {
            let end = next.map { min($0 - 1, day + Self.maxEmptyDays) } ?? last
            s.days += Array(day ... max(day, end))
        }
        s.channels = byDay.keys.sorted()
        for ch in s.channels {
            s.orders[ch] = s.days.map { byDay[ch]?[$0]?.0 ?? 0 }
            s.revenueCents[ch] = s.days.map { byDay[ch]?[$0]?.1 ?? 0 }
            s.revenueSquares[ch] = s.days.map { byDay[ch]?[$0]?.2 ?? 0 }
        }
        s.rawLines = s.days.map { rawPerDay[$0]?.0 ?? 0 }
        s.rejected = s.days.map { rawPerDay[$0]?.1 ?? 0 }
        s.curatedOrders = s.days.map { curatedPerDay[$0]?.0 ?? 0 }
        s.stateNulls = s.days.map { curatedPerDay[$0]?.1 ?? 0 }
        s.cityNulls = s.days.map { curatedPerDay[$0]?.2 ?? 0 }
        return s
    }

    public static func detect(catalog: Catalog, asOf: AsOf? = nil, config: QualityConfig = QualityConfig(),
                              rescan: Bool = false) throws -> [AnomalyFinding] {
        let s = try series(catalog: catalog, asOf: asOf, rescan: rescan)
        var out = detect(s, config: config)
        // Schema drift: source fields the registry does not know, per ingest run.
        for run in try catalog.ingestRuns(at: asOf) where !run.unknownFields.isEmpty {
            let fields = run.unknownFields.sorted { $0.key < $1.key }
            let n = fields.reduce(0) { $0 + $1.value }
            out.append(AnomalyFinding(kind: .schemaDrift, date: Timestamps.iso(run.finishedAt).prefix(10).description, channel: nil,
                                      value: Double(n), baseline: 0, score: Double(fields.count), threshold: 0,
                                      detail: "batch \(run.batchID ?? "-") (\(run.source)): unknown fields "
                                          + fields.map { "\($0.key) in \($0.value) records" }.joined(separator: ", ")))
        }
        return out
    }

    /// Which days are full enough to serve as a baseline: the day's orders over all channels
    /// reach `minShare` of a typical day's, the upper quartile of the daily totals (days with no
    /// orders left out). Late events dated before a stream starts make days of a handful of
    /// orders; measured against those, every ordinary day would look like a spike. The median
    /// was the typical day until session 33: in a young lake most days are such late-event days,
    /// so the median was one of them, every day counted as full, and the second real day was a
    /// spike on every channel (found by an exploratory test). The upper quartile stays an
    /// ordinary day unless three days in four are partial.
    public static func fullDays(_ s: DailySeries, minShare: Double) -> [Bool] {
        let totals = s.days.indices.map { i in s.channels.reduce(Int64(0)) { $0 + (s.orders[$1]?[i] ?? 0) } }
        let busy = totals.filter { $0 > 0 }.sorted()
        let typical = busy.isEmpty ? 0 : Double(busy[(busy.count * 3) / 4])
        return totals.map { $0 > 0 && Double($0) >= minShare * typical }
    }

    /// A median of cents (a Double) as whole cents to print; a Double the size of a 128-bit sum
    /// stays well inside Int128, and one that is not finite prints as 0 rather than trapping.
    static func cents(_ d: Double) -> Int128 {
        guard d.isFinite, d.magnitude < 1e37 else { return 0 }
        return Int128(d.rounded())
    }

    /// The detector over prepared series (pure: the tests feed it planted data directly too).
    public static func detect(_ s: DailySeries, config: QualityConfig) -> [AnomalyFinding] {
        var out: [AnomalyFinding] = []
        let w = config.anomalyWindowDays, minHistory = config.anomalyMinHistoryDays, z = config.anomalyZThreshold
        let full = fullDays(s, minShare: config.anomalyMinDayShare)
        // A day's baseline is the last `w` full days before it; with fewer than `minHistory` of
        // them the day is not judged at all. A partial day (a few late events before the stream
        // starts, an outage) is still judged itself, but never serves as anyone's baseline.
        func window(_ i: Int) -> [Int]? {
            var days: [Int] = []
            var j = i - 1
            while j >= 0 && days.count < w {
                if full[j] { days.append(j) }
                j -= 1
            }
            return days.count >= minHistory ? days.reversed() : nil
        }
        func dateText(_ i: Int) -> String { Timestamps.dateText(days: Int64(s.days[i])) }
        for ch in s.channels {
            let orders = s.orders[ch]!, revenue = s.revenueCents[ch]!
            for i in s.days.indices {
                guard let win = window(i) else { continue }
                // Orders: counts are at least Poisson-noisy, so sqrt(median) bounds the scale from below.
                let oh = win.map { Double(orders[$0]) }
                let (om, oz) = robustScore(Double(orders[i]), history: oh, floor: max(median(oh), 1).squareRoot())
                let orelative = abs(Double(orders[i]) - om) / max(om, 1)
                let ordersFlagged = abs(oz) > z && orelative >= config.anomalyMinRelativeChange
                if ordersFlagged {
                    out.append(AnomalyFinding(kind: oz > 0 ? .ordersSpike : .ordersDrop, date: dateText(i), channel: ch.text,
                                              value: Double(orders[i]), baseline: om, score: oz, threshold: z,
                                              detail: "orders \(orders[i]) vs trailing \(win.count)-day median \(Value.format(om))"))
                }
                // Revenue: a compound Poisson sum, Var = lambda * E[X^2], estimated as the mean daily
                // sum of squared order totals over the window and the day itself. Order values are
                // heavy-tailed, so a day with one or two very large orders can still score high on a
                // week of history: a revenue finding also needs the day's order count to move the
                // same way by at least 3/4 of the threshold (a volume move, not a few big baskets: on
                // 1000 generated orders a busy day, orders score 2, with large baskets reached 2.7x).
                let rh = win.map { Double(revenue[$0]) }
                let sq = s.revenueSquares[ch] ?? []
                let squares = sq.isEmpty ? 0 : (win.map { sq[$0] }.reduce(0, +) + sq[i]) / Double(win.count + 1)
                let rmed = median(rh)
                let (rm, rz) = robustScore(Double(revenue[i]), history: rh, floor: max(squares.squareRoot() * 100, 0.1 * rmed))
                let rrelative = abs(Double(revenue[i]) - rm) / max(rm, 1)
                let corroborated = oz.sign == rz.sign && abs(oz) > 0.75 * z
                if abs(rz) > z, rrelative >= config.anomalyMinRelativeChange, corroborated {
                    out.append(AnomalyFinding(kind: rz > 0 ? .revenueSpike : .revenueDrop, date: dateText(i), channel: ch.text,
                                              value: Double(revenue[i]) / 100, baseline: rm / 100, score: rz, threshold: z,
                                              detail: "revenue \(DecimalText.format(revenue[i], scale: 2)) vs trailing \(win.count)-day median \(DecimalText.format(Self.cents(rm), scale: 2)) (orders score \(Value.format(oz)))"))
                }
            }
        }
        // Reject rate and null rate: only rises are alarming.
        // A numerator series left empty (a series built without that figure) counts none.
        func rates(_ num: [Int64], _ den: [Int64]) -> [Double] {
            den.indices.map { i in den[i] > 0 && i < num.count ? Double(num[i]) / Double(den[i]) : 0 }
        }
        for (kind, r, den, minJump, what) in [
            (AnomalyKind.rejectRateJump, rates(s.rejected, s.rawLines), s.rawLines, config.rejectRateMinJump, "raw lines rejected"),
            (.nullRateJump, rates(s.stateNulls, s.curatedOrders), s.curatedOrders, config.nullRateMinJump, "curated orders without state"),
            // City is optional, but a jump in its nulls is as much a broken source as state's
            // (only state was watched until session 33: a city 91 % null raised nothing).
            (.nullRateJump, rates(s.cityNulls, s.curatedOrders), s.curatedOrders, config.nullRateMinJump, "curated orders without city"),
        ] {
            for i in s.days.indices where den[i] > 0 {
                guard let win = window(i) else { continue }
                let history = win.filter { den[$0] > 0 }.map { r[$0] }
                guard history.count >= minHistory else { continue }
                let med = median(history)
                // Binomial noise of a rate over n lines bounds the scale from below.
                let p = min(max(med, 0.01), 0.99)
                let floor = (p * (1 - p) / Double(den[i])).squareRoot()
                let (baseline, score) = robustScore(r[i], history: history, floor: floor)
                guard score > z, r[i] - baseline >= minJump else { continue }
                out.append(AnomalyFinding(kind: kind, date: dateText(i), channel: nil, value: r[i], baseline: baseline, score: score,
                                          threshold: z, detail: "\(Value.format(r[i] * 100))% of \(den[i]) \(what) vs trailing median \(Value.format(baseline * 100))%"))
            }
        }
        // Channels by bytes: two look-alikes are neither < the other as Strings (an unstable order).
        return out.sorted { a, b in
            if (a.date, a.kind) != (b.date, b.kind) { return (a.date, a.kind) < (b.date, b.kind) }
            return ExactID(a.channel ?? "") < ExactID(b.channel ?? "")
        }
    }
}
