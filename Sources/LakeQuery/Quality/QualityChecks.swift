import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline

/// Reject reasons grouped into the quality dimension they violate, from `RejectReason.dimension`.
enum RejectClass {
    static let completeness = RejectReason.storedNames(in: .completeness)
    static let validity = RejectReason.storedNames(in: .validity)
    static let referential = RejectReason.storedNames(in: .referentialIntegrity)
    static let duplicates = RejectReason.storedNames(in: .uniqueness)
}

/// Raw-line counts of one batch or one day: what the rate checks are computed from.
struct LineCounts {
    var records: Int64 = 0
    var rejects: [String: Int64] = [:]
    /// missing_field rejects by the field named in reject_detail.
    var missingByField: [String: Int64] = [:]

    func sum(_ reasons: Set<String>) -> Int64 { rejects.filter { reasons.contains($0.key) }.reduce(0) { $0 + $1.value } }
    func rate(_ n: Int64) -> Double { records > 0 ? Double(n) / Double(records) : 0 }
}

/// Curated-side figures of one batch: what the consistency, uniqueness and optional-field checks read.
struct CuratedCounts {
    var orders: Int64 = 0, duplicateIDs: Int64 = 0, mismatched: Int64 = 0, itemCountMismatch: Int64 = 0
    /// order_items rows of the batch's orders that curated.orders no longer holds, and rows
    /// whose status, channel or event_time differ from their order's. Always 0 in stored
    /// figures: lake's own deletes cascade to the items, and any delete or foreign row makes
    /// the check rescan.
    var orphanItems: Int64 = 0, itemFieldMismatch: Int64 = 0
    var fieldExamples: [String] = []
    /// Accepted orders of the batch that lake's deletes removed from curated.orders on purpose (`DeletedOrderIDs`).
    var deleted: Int64 = 0
    var stateNulls: Int64 = 0, cityNulls: Int64 = 0
    var examples: [String] = []
}

/// The checks of one batch, with a 0-100 score (share of gated checks passed).
public struct BatchQuality: Sendable {
    public var batchID: String
    public var snapshotID: Int64
    public var source: String
    public var records: Int64
    public var results: [QualityResult]
    public var score: Double { QualityChecks.score(results) }
}

/// The rate checks recomputed over one event day's raw lines (all batches).
public struct DayQuality: Sendable {
    public var date: Int32
    public var records: Int64
    public var rejected: Int64
    public var results: [QualityResult]
    public var score: Double { QualityChecks.score(results) }
}

public struct QualityRun: Sendable {
    public var snapshotID: Int64
    public var batches: [BatchQuality]
    public var days: [DayQuality]
    /// All batches' results, in batch order.
    public var results: [QualityResult] { batches.flatMap(\.results) }
    /// The lake's score: the mean of the batch scores (100 with no order batch), to one decimal
    /// as a batch's is (unrounded, JSON and the metrics showed 92.60000000000001).
    public var score: Double { batches.isEmpty ? 100 : QualityChecks.oneDecimal(batches.map(\.score).reduce(0, +) / Double(batches.count)) }
}

/// Quality checks per order ingest batch, driven by the registry's constraints as the
/// validator applied them (reject reasons in raw.orders) and by the curated rows the batch
/// produced (found through the order ids its accepted raw lines carry, so compaction, which
/// rewrites files, does not lose the link).
public enum QualityChecks {
    /// The share of gated checks passed (`QualityCheckID.isGated`: informational figures are
    /// recorded for trends and do not count).
    static func score(_ results: [QualityResult]) -> Double {
        let gated = results.filter(\.check.isGated)
        guard !gated.isEmpty else { return 100 }
        return oneDecimal(100 * Double(gated.filter(\.passed).count) / Double(gated.count))
    }

    /// A score as it is shown: the double nearest its value to one decimal.
    static func oneDecimal(_ x: Double) -> Double { (x * 10).rounded() / 10 }

    /// Runs every check over the order batches committed at or before `asOf` (only `batchIDs`
    /// when given). This is the one call an ingest can make after its commit.
    ///
    /// `batchFilesOnly` is the ingest hook's fast path: raw lines are read from the files the
    /// batches' own snapshots added, curated rows from the partitions those files touch, so a
    /// micro-batch costs its own size rather than the lake's. Per-day figures are then partial
    /// (only those batches' lines), so callers that report days leave it off.
    ///
    /// By default the figures the ingests stored with their batches are added up instead
    /// (`StoredQuality`: no table is read) whenever they cover the tables exactly; `rescan`
    /// forces the scan of the data (`lake quality check --rescan`).
    public static func run(catalog: Catalog, asOf: AsOf? = nil, batchIDs: Set<String>? = nil,
                           config: QualityConfig = QualityConfig(), batchFilesOnly: Bool = false, rescan: Bool = false) throws -> QualityRun {
        let snapshot = try catalog.resolve(asOf)
        let at = AsOf.snapshot(snapshot.id)
        let runs = try catalog.ingestRuns(at: at).filter { run in
            run.kind == .orders && (batchIDs.map { run.batchID.map($0.contains) ?? false } ?? true)
        }
        guard !runs.isEmpty else { return QualityRun(snapshotID: snapshot.id, batches: [], days: []) }
        if !rescan, let stored = try StoredQuality.load(catalog: catalog, snapshot: snapshot.id, batchIDs: batchFilesOnly ? batchIDs : nil) {
            return assemble(snapshotID: snapshot.id, runs: runs, perBatch: stored.perBatch, perDay: stored.perDay,
                            curated: stored.curated, config: config)
        }
        guard var raw = try TableScan.ifPresent(catalog: catalog, table: .rawOrders, asOf: at) else {
            return QualityRun(snapshotID: snapshot.id, batches: [], days: [])
        }
        let wanted = Set(runs.compactMap(\.batchID))
        // Partitions ("date|channel") the scoped batches wrote; nil means read whole tables.
        var touched: Set<String>? = nil
        if batchFilesOnly {
            let commits = Set(runs.compactMap(\.snapshotID))
            // Only our ingests' files: rows DuckDB inlined belong to no batch of ours.
            let own = try catalog.dataFiles(tableID: raw.table.tableID, at: at, columnStats: false, inlined: .readSeparately).filter { commits.contains($0.beginSnapshot) }
            // A compaction between the commit and this check rewrote them: fall back to full scans.
            if !own.isEmpty {
                let ids = Set(own.map(\.dataFileID))
                raw.fileFilter = { ids.contains($0.dataFileID) }
                touched = Set(own.map(Self.partitionKey))
            }
        }
        func scoped(_ scan: inout TableScan) {
            guard let touched else { return }
            scan.fileFilter = { touched.contains(Self.partitionKey($0)) }
        }

        // Raw lines: counts per batch and per day; accepted order ids per batch.
        var perBatch: [String: LineCounts] = [:]
        var perDay: [Int32: LineCounts] = [:]
        // Order ids by their bytes (`ExactID`): two ids that differ only in Unicode normalization
        // are two orders, and as String keys the rescan after a delete counted them as one
        // duplicated order whose total did not match its (both orders') items.
        var batchOfOrder: [ExactID: String] = [:]
        // The other batches that accepted an order id: only after a delete (a corrected source
        // loaded again after `lake delete`), as dedupe refuses a live id.
        var alsoAcceptedBy: [ExactID: [String]] = [:]
        let (rawBatches, _) = try raw.run(columns: ["batch_id", "order_id", "reject_reason", "reject_detail", "event_date"])
        Reports.forEachRow(rawBatches) { b, r in
            let c = b.batch.columns
            guard let batch = c[0].string(at: r) else { return }
            let day: Int32? = c[4].isNull(r) ? nil : Reports.date(c[4], r)
            let reason = c[2].string(at: r)
            // Per-day figures cover every batch; per-batch ones only the wanted batches.
            func tally(_ lc: inout LineCounts) {
                lc.records += 1
                if let reason {
                    lc.rejects[reason, default: 0] += 1
                    if reason == RejectReason.missingField.rawValue { lc.missingByField[QualityFigures.field(c[3].string(at: r)), default: 0] += 1 }
                }
            }
            if let day { tally(&perDay[day, default: LineCounts()]) }
            guard wanted.contains(batch) else { return }
            tally(&perBatch[batch, default: LineCounts()])
            if reason == nil, let text = c[1].string(at: r) {
                let id = ExactID(text)
                if let earlier = batchOfOrder.updateValue(batch, forKey: id), earlier != batch { alsoAcceptedBy[id, default: []].append(earlier) }
            }
        }

        // Curated orders and items of those batches.
        var curated: [String: CuratedCounts] = [:]
        var orderTotal: [ExactID: (Int64, Int64)] = [:]  // order_id → (order_total cents, item_count)
        var seen: [ExactID: Int] = [:]
        let itemsScan = try TableScan.ifPresent(catalog: catalog, table: .curatedOrderItems, asOf: at)
        // The order's columns each item repeats, as both tables have them now (another engine
        // may have dropped one): an UPDATE of the order alone leaves its items disagreeing.
        var shared = OrderFields(names: OrderFields.repeated.filter { name in
            itemsScan?.columnNames.contains(name) == true
        })
        if var orders = try TableScan.ifPresent(catalog: catalog, table: .curatedOrders, asOf: at) {
            scoped(&orders)
            shared.names = shared.names.filter(orders.columnNames.contains)
            // Orders v2 renamed city to shipping_city (same column id); snapshots before the migration have city.
            let city = orders.columnNames.contains("shipping_city") ? "shipping_city" : "city"
            try orders.requireCents(["order_total"])
            let (batches, _) = try orders.run(columns: ["order_id", "order_total", "item_count", "state", city] + shared.names)
            Reports.forEachRow(batches) { b, r in
                let c = b.batch.columns
                guard let text = c[0].string(at: r), case let id = ExactID(text), let batch = batchOfOrder[id] else { return }
                seen[id, default: 0] += 1
                curated[batch, default: CuratedCounts()].orders += 1
                if seen[id]! == 2 { curated[batch]!.duplicateIDs += 1 }
                orderTotal[id] = (Reports.int(c[1], r), Reports.int(c[2], r))
                shared.recordOrder(id, c[5...], r)
                if c[3].isNull(r) || c[3].string(at: r) == "" { curated[batch]!.stateNulls += 1 }
                if c[4].isNull(r) || c[4].string(at: r) == "" { curated[batch]!.cityNulls += 1 }
            }
            // Orders deleted on purpose are accounted for, not missing: those a delete (ours or
            // DuckDB's) still masks in the files, those deleted in files a snapshot retired (a
            // DuckDB DELETE of a whole file, a rewrite), and those recorded before a compaction
            // or a vacuum dropped their rows (`DeletedOrderIDs`). For such an id, each batch's accepted line
            // whose row is gone counts as deleted: every batch's when no row of the id is live,
            // else every batch's but the one its live row is credited to (`batchOfOrder`: the id
            // was loaded again after the delete, or DuckDB's UPDATE rewrote the row).
            var counted = Set<ExactID>()
            func deleted(_ text: String) {
                let id = ExactID(text)
                guard let last = batchOfOrder[id], counted.insert(id).inserted else { return }
                let gone = (seen[id] == nil ? [last] : []) + (alsoAcceptedBy[id] ?? [])
                for batch in gone { curated[batch, default: CuratedCounts()].deleted += 1 }
            }
            for b in try orders.runDeleted(columns: ["order_id"]) {
                for r in 0 ..< b.count { if let id = b.columns[0].string(at: r) { deleted(id) } }
            }
            try DeletedOrderIDs.load(catalog, tableID: orders.table.tableID, at: snapshot.id).forEach(deleted)
            let retired = try catalog.retiredFiles(tableID: orders.table.tableID, through: snapshot.id)
            try DeletedOrderIDs.deleted(in: retired, files: catalog.files).forEach { deleted($0.text) }
        }
        var itemSums: [ExactID: (Int128, Int64)] = [:]  // order_id → (sum line_revenue cents, 128 bits; items)
        var fieldMismatches: [(id: ExactID, batch: String, detail: String)] = []
        if var items = itemsScan {
            scoped(&items)
            try items.requireCents(["line_revenue"])
            let (batches, _) = try items.run(columns: ["order_id", "line_revenue"] + shared.names)
            try Reports.forEachRow(batches) { b, r in
                guard let text = b.batch.columns[0].string(at: r), case let id = ExactID(text) else { return }
                guard orderTotal[id] != nil else {
                    // An item of an order one of these batches accepted, whose order is gone
                    // while the item is live: the delete did not reach order_items (lake's
                    // deletes do). A DuckDB-inserted item (no batch of ours) is not judged.
                    if let batch = batchOfOrder[id] { curated[batch, default: CuratedCounts()].orphanItems += 1 }
                    return
                }
                if let differs = shared.itemDiffers(id, b.batch.columns[2...], r) {
                    let batch = batchOfOrder[id]!
                    curated[batch]!.itemFieldMismatch += 1
                    fieldMismatches.append((id, batch, "\(VisibleText.escape(id.text)) \(differs)"))
                }
                var v = itemSums[id] ?? (0, 0)
                try v.0.add(Int128(Reports.int(b.batch.columns[1], r)), orThrow: "quality check: line revenue of order \(VisibleText.escape(text))")
                v.1 += 1
                itemSums[id] = v
            }
        }
        // The examples are the smallest mismatched ids of each batch, not the first in the
        // dictionary's order: Swift seeds that per process, and the same snapshot must give the
        // same report (and `lake serve` the same body under the same ETag).
        var mismatches: [(id: ExactID, batch: String, total: Int64, sum: Int128)] = []
        for (id, (total, count)) in orderTotal {
            let batch = batchOfOrder[id]!
            let (sum, items) = itemSums[id] ?? (0, 0)
            if sum != Int128(total) {
                curated[batch]!.mismatched += 1
                mismatches.append((id, batch, total, sum))
            }
            if items != count { curated[batch]!.itemCountMismatch += 1 }
        }
        for m in mismatches.sorted(by: { $0.id < $1.id }) where curated[m.batch]!.examples.count < 3 {
            curated[m.batch]!.examples.append("\(m.id.text): total \(DecimalText.format(m.total, scale: 2)) vs items \(DecimalText.format(m.sum, scale: 2))")
        }
        // One example an order (its items usually all differ alike), the smallest ids first.
        var previous: ExactID?
        for m in fieldMismatches.sorted(by: { $0.id < $1.id }) where m.id != previous && curated[m.batch]!.fieldExamples.count < 3 {
            curated[m.batch]!.fieldExamples.append(m.detail)
            previous = m.id
        }
        return assemble(snapshotID: snapshot.id, runs: runs, perBatch: perBatch, perDay: perDay, curated: curated, config: config)
    }

    /// The checks from the figures, however they were obtained (stored or rescanned).
    static func assemble(snapshotID: Int64, runs: [IngestRun], perBatch: [String: LineCounts], perDay: [Int32: LineCounts],
                         curated: [String: CuratedCounts], config: QualityConfig) -> QualityRun {
        var out: [BatchQuality] = []
        // Every ledger row has both (the columns are NOT NULL).
        for run in runs {
            guard let batchID = run.batchID, let snapshotID = run.snapshotID else { continue }
            let lc = perBatch[batchID] ?? LineCounts()
            let cur = curated[batchID] ?? CuratedCounts()
            var results = rateChecks(lc, config: config, batchID: batchID, snapshot: snapshotID)
            func add(_ check: QualityCheckID, _ value: Double, _ threshold: Double, _ passed: Bool, _ detail: String) {
                results.append(QualityResult(batchSnapshotID: snapshotID, batchID: batchID, check: check, value: value,
                                             threshold: threshold, passed: passed, detail: detail))
            }
            let accepted = lc.records - lc.rejects.values.reduce(0, +)
            add(.curatedUniqueness, Double(cur.duplicateIDs), 0, cur.duplicateIDs == 0,
                "\(cur.duplicateIDs) order_id(s) of this batch appear more than once in curated.orders")
            add(.orderTotalConsistency, Double(cur.mismatched), 0, cur.mismatched == 0,
                cur.mismatched == 0 ? "order_total = sum(line_revenue) for all \(cur.orders) orders"
                    : "\(cur.mismatched) of \(cur.orders) orders differ: " + cur.examples.joined(separator: "; "))
            add(.itemCountConsistency, Double(cur.itemCountMismatch), 0, cur.itemCountMismatch == 0,
                "\(cur.itemCountMismatch) orders whose item_count differs from their order_items rows")
            add(.orphanItems, Double(cur.orphanItems), 0, cur.orphanItems == 0,
                cur.orphanItems == 0 ? "every order_items row of this batch has its order in curated.orders"
                    : "\(cur.orphanItems) order_items rows whose order curated.orders no longer holds: a DELETE of orders that left "
                    + "their items (the product reports still count them); delete them from curated.order_items too (lake delete cascades)")
            add(.itemFieldsConsistency, Double(cur.itemFieldMismatch), 0, cur.itemFieldMismatch == 0,
                cur.itemFieldMismatch == 0 ? "order_items rows repeat their order's status, channel and event_time"
                    : "\(cur.itemFieldMismatch) order_items rows differ from their order (an UPDATE of curated.orders that did not update "
                    + "curated.order_items; the product reports read the items' values): " + cur.fieldExamples.joined(separator: "; "))
            // The value is the live count (what any reader counts); the orders deleted on purpose lower what it must reach.
            add(.curatedRows, Double(cur.orders), Double(accepted - cur.deleted), cur.orders == accepted - cur.deleted,
                "\(cur.orders) curated orders for \(accepted) accepted raw lines"
                    + (cur.deleted > 0 ? " (and \(cur.deleted) deleted by lake delete or a DuckDB DELETE)" : ""))
            let n = Double(max(cur.orders, 1))
            add(.curatedStateNulls, Double(cur.stateNulls) / n, 1, true, "\(cur.stateNulls) orders without state (optional field)")
            add(.curatedCityNulls, Double(cur.cityNulls) / n, 1, true, "\(cur.cityNulls) orders without city (optional field)")
            let p95 = run.latencyP95 ?? 0
            let gate = config.freshnessMaxP95Seconds
            add(.freshnessP95, p95, gate, gate <= 0 || p95 <= gate,
                "event-to-commit lag p50 \(Int((run.latencyP50 ?? 0).rounded())) s, p95 \(Int(p95.rounded())) s"
                    + (gate <= 0 ? " (not gated: freshness_max_p95_seconds is 0)" : ""))
            out.append(BatchQuality(batchID: batchID, snapshotID: snapshotID, source: run.source, records: lc.records, results: results))
        }
        let days = perDay.keys.sorted().map { d -> DayQuality in
            let lc = perDay[d]!
            return DayQuality(date: d, records: lc.records, rejected: lc.rejects.values.reduce(0, +),
                              results: rateChecks(lc, config: config, batchID: "*", snapshot: 0))
        }
        return QualityRun(snapshotID: snapshotID, batches: out, days: days)
    }

    /// The ingest hook: checks one just-committed batch and stores its results under the
    /// snapshot it read (no snapshot of its own). Returns the batch's results and score.
    @discardableResult
    public static func recordBatch(catalog: Catalog, batchID: String, config: QualityConfig = QualityConfig()) throws -> BatchQuality? {
        let run = try self.run(catalog: catalog, batchIDs: [batchID], config: config, batchFilesOnly: true)
        guard let batch = run.batches.first else { return nil }
        try catalog.recordQualityCheck(snapshot: run.snapshotID, results: batch.results, alerts: [])
        return batch
    }

    /// A file's (event date, channel) partition as one key; raw and curated tables share it.
    @Sendable static func partitionKey(_ file: DataFile) -> String {
        (file.partitionValues["event_date"] ?? "") + "|" + (file.partitionValues["channel"] ?? "")
    }

    /// The checks computed from raw-line counts alone (shared by batches and days).
    static func rateChecks(_ lc: LineCounts, config: QualityConfig, batchID: String, snapshot: Int64) -> [QualityResult] {
        var results: [QualityResult] = []
        func add(_ check: QualityCheckID, _ n: Int64, _ threshold: Double, _ what: String) {
            let rate = lc.rate(n)
            results.append(QualityResult(batchSnapshotID: snapshot, batchID: batchID, check: check, value: rate, threshold: threshold,
                                         passed: rate <= threshold, detail: "\(n) of \(lc.records) lines \(what)"))
        }
        add(.completeness, lc.sum(RejectClass.completeness), config.completenessMaxMissingRate, "missing a required field or empty")
        for (field, n) in lc.missingByField.sorted(by: { $0.key < $1.key }) {
            add(.fieldCompleteness(field), n, config.completenessMaxMissingRate, "missing or empty \(field)")
        }
        let invalid = lc.rejects.filter { RejectClass.validity.contains($0.key) }.sorted { $0.key < $1.key }
        add(.validity, lc.sum(RejectClass.validity), config.validityMaxInvalidRate,
            "invalid" + (invalid.isEmpty ? "" : " (" + invalid.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"))
        add(.referentialIntegrity, lc.sum(RejectClass.referential), config.referentialMaxUnknownProductRate,
            "naming a product not in the catalog")
        add(.rawUniqueness, lc.sum(RejectClass.duplicates), config.uniquenessMaxRawDuplicateRate, "repeating an accepted order_id")
        return results
    }
}
