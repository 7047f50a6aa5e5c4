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
            let own = try catalog.dataFiles(tableID: raw.table.tableID, at: at, columnStats: false, inlined: .readSeparately).filter { file in
                // A merged file holds the rows of every snapshot from its begin through partial_max.
                commits.contains { $0 == file.beginSnapshot || ($0 > file.beginSnapshot && $0 <= file.mergedThrough ?? .min) }
            }
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
        // Order ids are interned by their bytes, once, and every per-order figure lives in
        // arrays by that index: keyed by String (`ExactID`) in five dictionaries, the hashing
        // and comparing of ids was half of a rescan (13 s on 1 M orders). By bytes, two ids
        // that differ only in Unicode normalization are two orders, as in the catalog.
        var orderIDs = KeyInterner(expected: 1 << 16)
        var batchNames: [String] = [], batchCode: [String: Int32] = [:]
        // Per order index: the batch whose accepted line is the id's last (-1: none of the wanted).
        var batchOf: [Int32] = []
        // The other batches that accepted an order id: only after a delete (a corrected source
        // loaded again after `lake delete`), as dedupe refuses a live id.
        var alsoAcceptedBy: [Int32: [String]] = [:]
        let (rawBatches, _) = try raw.run(columns: ["batch_id", "order_id", "reject_reason", "reject_detail", "event_date"])
        for b in rawBatches {
            let c = b.batch.columns
            let ids = Kernels.codes(c[1], b, &orderIDs)
            batchOf += repeatElement(-1, count: orderIDs.count - batchOf.count)
            b.forEachRow { r in
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
                if reason == nil, !c[1].isNull(r) {
                    let code = batchCode[batch] ?? {
                        batchNames.append(batch)
                        batchCode[batch] = Int32(batchNames.count - 1)
                        return Int32(batchNames.count - 1)
                    }()
                    let id = Int(ids[r])
                    let earlier = batchOf[id]
                    batchOf[id] = code
                    if earlier >= 0 && earlier != code { alsoAcceptedBy[Int32(id), default: []].append(batchNames[Int(earlier)]) }
                }
            }
        }
        /// The order index of an id the wanted batches accepted, or nil.
        func accepted(_ id: Int32) -> Int? {
            let i = Int(id)
            return i >= 0 && i < batchOf.count && batchOf[i] >= 0 ? i : nil
        }
        func idText(_ i: Int) -> String { orderIDs.values.withBytes(i) { String(decoding: $0, as: UTF8.self) } }

        // Curated orders and items of those batches, by order index.
        var curated: [String: CuratedCounts] = [:]
        let orderCount = batchOf.count
        var seen = [Int32](repeating: 0, count: orderCount)
        var total = [Int64](repeating: 0, count: orderCount), itemCount = [Int64](repeating: 0, count: orderCount)
        let itemsScan = try TableScan.ifPresent(catalog: catalog, table: .curatedOrderItems, asOf: at)
        // The order's columns each item repeats, as both tables have them now (another engine
        // may have dropped one): an UPDATE of the order alone leaves its items disagreeing.
        var shared = OrderFields(names: OrderFields.repeated.filter { name in
            itemsScan?.columnNames.contains(name) == true
        }, orders: orderCount)
        if var orders = try TableScan.ifPresent(catalog: catalog, table: .curatedOrders, asOf: at) {
            scoped(&orders)
            shared.names = shared.names.filter(orders.columnNames.contains)
            // Orders v2 renamed city to shipping_city (same column id); snapshots before the migration have city.
            let city = orders.columnNames.contains("shipping_city") ? "shipping_city" : "city"
            try orders.requireCents(["order_total"])
            let (batches, _) = try orders.run(columns: ["order_id", "order_total", "item_count", "state", city] + shared.names)
            for b in batches {
                let c = b.batch.columns
                let ids = Kernels.codes(c[0], b, &orderIDs)
                b.forEachRow { r in
                    guard !c[0].isNull(r), let i = accepted(ids[r]) else { return }
                    let batch = batchNames[Int(batchOf[i])]
                    seen[i] += 1
                    curated[batch, default: CuratedCounts()].orders += 1
                    if seen[i] == 2 { curated[batch]!.duplicateIDs += 1 }
                    total[i] = Reports.int(c[1], r)
                    itemCount[i] = Reports.int(c[2], r)
                    shared.recordOrder(i, c[5...], r)
                    if c[3].isNull(r) || c[3].string(at: r) == "" { curated[batch]!.stateNulls += 1 }
                    if c[4].isNull(r) || c[4].string(at: r) == "" { curated[batch]!.cityNulls += 1 }
                }
            }
            // Orders deleted on purpose are accounted for, not missing: those a delete (ours or
            // DuckDB's) still masks in the files, those deleted in files a snapshot retired (a
            // DuckDB DELETE of a whole file, a rewrite), and those recorded before a compaction
            // or a vacuum dropped their rows (`DeletedOrderIDs`). For such an id, each batch's accepted line
            // whose row is gone counts as deleted: every batch's when no row of the id is live,
            // else every batch's but the one its live row is credited to (`batchOf`: the id
            // was loaded again after the delete, or DuckDB's UPDATE rewrote the row).
            var counted = Set<Int>()
            func deleted(_ text: String) {
                var t = text
                let code = t.withUTF8 { orderIDs.id(UnsafeRawBufferPointer($0)) }
                guard let i = accepted(code), counted.insert(i).inserted else { return }
                let gone = (seen[i] == 0 ? [batchNames[Int(batchOf[i])]] : []) + (alsoAcceptedBy[Int32(i)] ?? [])
                for batch in gone { curated[batch, default: CuratedCounts()].deleted += 1 }
            }
            for b in try orders.runDeleted(columns: ["order_id"]) {
                for r in 0 ..< b.count { if let id = b.columns[0].string(at: r) { deleted(id) } }
            }
            try DeletedOrderIDs.load(catalog, tableID: orders.table.tableID, at: snapshot.id).forEach(deleted)
            let retired = try catalog.retiredFiles(tableID: orders.table.tableID, through: snapshot.id)
            try DeletedOrderIDs.deleted(in: retired, files: catalog.files).forEach { deleted($0.text) }
        }
        var itemSum = [Int128](repeating: 0, count: orderCount), items = [Int64](repeating: 0, count: orderCount)
        var fieldMismatches: [(id: Int, item: OrderFields.Values)] = []
        if var scan = itemsScan {
            scoped(&scan)
            try scan.requireCents(["line_revenue"])
            let (batches, _) = try scan.run(columns: ["order_id", "line_revenue"] + shared.names)
            for b in batches {
                let c = b.batch.columns
                let ids = Kernels.codes(c[0], b, &orderIDs)
                try b.forEachRow { r in
                    guard !c[0].isNull(r), let i = accepted(ids[r]) else { return }
                    guard seen[i] > 0 else {
                        // A live item of an order one of these batches accepted, whose order is
                        // gone: the delete did not reach order_items (lake's deletes do). An item
                        // DuckDB inserted for an order no batch of ours accepted is not judged.
                        curated[batchNames[Int(batchOf[i])], default: CuratedCounts()].orphanItems += 1
                        return
                    }
                    if let item = shared.itemDiffering(from: i, c[2...], r) {
                        curated[batchNames[Int(batchOf[i])]]!.itemFieldMismatch += 1
                        fieldMismatches.append((i, item))
                    }
                    try itemSum[i].add(Int128(Reports.int(c[1], r)), orThrow: "quality check: line revenue of order \(VisibleText.escape(idText(i)))")
                    items[i] += 1
                }
            }
        }
        // The examples are the smallest mismatched ids of each batch by bytes, not the first in
        // scan order: the same snapshot must give the same report (and `lake serve` the same
        // body under the same ETag).
        var mismatches: [(id: ExactID, batch: String, total: Int64, sum: Int128)] = []
        for i in 0 ..< orderCount where seen[i] > 0 {
            let batch = batchNames[Int(batchOf[i])]
            if itemSum[i] != Int128(total[i]) {
                curated[batch]!.mismatched += 1
                mismatches.append((ExactID(idText(i)), batch, total[i], itemSum[i]))
            }
            if items[i] != itemCount[i] { curated[batch]!.itemCountMismatch += 1 }
        }
        for m in mismatches.sorted(by: { $0.id < $1.id }) where curated[m.batch]!.examples.count < 3 {
            curated[m.batch]!.examples.append("\(m.id.text): total \(DecimalText.format(m.total, scale: 2)) vs items \(DecimalText.format(m.sum, scale: 2))")
        }
        // One example an order (its items usually all differ alike), the smallest ids first.
        var previous: Int?
        let fields = fieldMismatches.map { (id: ExactID(idText($0.id)), index: $0.id, item: $0.item) }
        for m in fields.sorted(by: { $0.id < $1.id }) {
            let batch = batchNames[Int(batchOf[m.index])]
            guard m.index != previous, curated[batch]!.fieldExamples.count < 3 else { continue }
            curated[batch]!.fieldExamples.append("\(VisibleText.escape(m.id.text)) \(shared.describe(m.item, from: m.index))")
            previous = m.index
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
