import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
import LakeTestSupport
import Testing
@testable import LakeQuery

/// The quality figures each ingest stores with its batch must add up to exactly what a full
/// rescan of the tables finds, whatever happened to the files since: overlapping batches
/// (duplicates across batches), a compaction that rewrites them, a migration that renames a
/// column, more batches after it, and time travel to the snapshots in between.
@Suite("Quality: stored figures = rescan", .serialized)
struct StoredQualityTests {
    func expectSame(_ stored: QualityRun, _ rescan: QualityRun, _ where_: String) {
        #expect(stored.snapshotID == rescan.snapshotID, "\(where_)")
        #expect(stored.batches.map(\.batchID) == rescan.batches.map(\.batchID), "\(where_)")
        for (a, b) in zip(stored.batches, rescan.batches) {
            #expect(a.records == b.records, "\(where_) batch \(a.batchID)")
            #expect(a.results.map(\.check) == b.results.map(\.check), "\(where_) batch \(a.batchID)")
            for (x, y) in zip(a.results, b.results) {
                #expect(x.value == y.value && x.threshold == y.threshold && x.passed == y.passed, "\(where_) \(x.check): \(x) vs \(y)")
                // Details too, the order-total mismatch examples included (each side names the
                // batch's smallest mismatched ids).
                #expect(x.detail == y.detail, "\(where_) \(x.check)")
            }
        }
        #expect(stored.days.map(\.date) == rescan.days.map(\.date), "\(where_)")
        for (a, b) in zip(stored.days, rescan.days) {
            #expect(a.records == b.records && a.rejected == b.rejected, "\(where_) day \(a.date)")
            #expect(a.results == b.results, "\(where_) day \(a.date)")
        }
    }

    func expectSame(_ a: DailySeries, _ b: DailySeries, _ where_: String) {
        #expect(a.days == b.days && a.channels == b.channels, "\(where_)")
        #expect(a.orders == b.orders && a.revenueCents == b.revenueCents, "\(where_)")
        #expect(a.rawLines == b.rawLines && a.rejected == b.rejected, "\(where_)")
        #expect(a.curatedOrders == b.curatedOrders && a.stateNulls == b.stateNulls && a.cityNulls == b.cityNulls, "\(where_)")
        // Sums of squares are doubles added in another order: equal to rounding.
        for ch in b.channels {
            for (x, y) in zip(a.revenueSquares[ch] ?? [], b.revenueSquares[ch] ?? []) {
                #expect(abs(x - y) <= 1e-9 * max(1, abs(y)), "\(where_) \(ch): \(x) vs \(y)")
            }
        }
    }

    func check(_ catalog: Catalog, at snapshot: Int64, _ where_: String) throws {
        // The stored path is the one taken (the figures cover the tables) ...
        #expect(try StoredQuality.load(catalog: catalog, snapshot: snapshot) != nil, "\(where_): figures do not cover the tables")
        let asOf = AsOf.snapshot(snapshot)
        let rescan = try QualityChecks.run(catalog: catalog, asOf: asOf, rescan: true)
        expectSame(try QualityChecks.run(catalog: catalog, asOf: asOf), rescan, where_)
        // The ingest hook's path reads one batch's figures only: each batch's checks equal the
        // rescan's for it.
        #expect(!rescan.batches.isEmpty)
        for batch in rescan.batches {
            let scoped = try QualityChecks.run(catalog: catalog, asOf: asOf, batchIDs: [batch.batchID], batchFilesOnly: true)
            #expect(try StoredQuality.load(catalog: catalog, snapshot: snapshot, batchIDs: [batch.batchID]) != nil, "\(where_) \(batch.batchID)")
            expectSame(QualityRun(snapshotID: scoped.snapshotID, batches: scoped.batches, days: []),
                       QualityRun(snapshotID: rescan.snapshotID, batches: [batch], days: []), "\(where_), batch \(batch.batchID) alone")
        }
        expectSame(try AnomalyDetector.series(catalog: catalog, asOf: asOf), try AnomalyDetector.series(catalog: catalog, asOf: asOf, rescan: true), where_)
        #expect(try AnomalyDetector.detect(catalog: catalog, asOf: asOf) == (try AnomalyDetector.detect(catalog: catalog, asOf: asOf, rescan: true)), "\(where_)")
    }

    @Test("overlapping batches, compaction, migration, more batches: stored figures equal the rescan at every step")
    func storedEqualsRescan() throws {
        let dir = try TemporaryDirectory("lake-stored-quality")
        defer { dir.remove() }
        let input = packageRoot.appendingPathComponent("Evaluation-Files")
        let lakeURL = dir.url.appendingPathComponent("lake")
        var store = try LakeStore.open(root: lakeURL, schemas: try registryV1Copy(dir))
        _ = try CatalogIngest.run(store, path: input.appendingPathComponent("product_catalog.json").path)
        let lines = try String(contentsOf: input.appendingPathComponent("orders_stream.jsonl"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: true)
        // Eight batches, each repeating the previous one's last 60 lines: duplicates across batches.
        let batches = 8, per = (lines.count + batches - 1) / batches, overlap = 60
        func ingest(_ part: ArraySlice<Substring>, _ name: String) throws {
            let path = dir.file(name)
            try (part.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            _ = try OrderIngest.run(store, path: path)
        }
        var checkpoints: [Int64] = []
        for b in 0 ..< batches {
            try ingest(lines[max(0, b * per - overlap) ..< min(lines.count, (b + 1) * per)], "batch\(b).jsonl")
            if b == 3 { checkpoints.append(try store.catalog.latestSnapshot().id) }
        }
        try check(store.catalog, at: try store.catalog.latestSnapshot().id, "after the batches")

        let compacted = try Compaction.run(store.catalog)
        #expect(compacted.snapshotID != nil, "the compaction rewrote nothing")
        try check(store.catalog, at: try store.catalog.latestSnapshot().id, "after compaction")

        store = try LakeStore.open(root: lakeURL, schemas: packageRoot.appendingPathComponent("schemas"))
        #expect(try Migration.run(store, table: "orders", to: 2, rewrite: true).snapshotID != nil)
        try check(store.catalog, at: try store.catalog.latestSnapshot().id, "after migration")

        // Two more batches after the migration: a resend of a middle window (all duplicates,
        // some lines edited into conflicting duplicates) and the tail again.
        let middle = lines[per ..< per + 200].enumerated().map { i, l in
            i % 7 == 0 ? Substring(l.replacingOccurrences(of: "\"confirmed\"", with: "\"pending\"")) : l
        }
        try ingest(ArraySlice(middle), "resend.jsonl")
        try ingest(lines[(lines.count - 300)...], "tail.jsonl")
        let last = try store.catalog.latestSnapshot().id
        try check(store.catalog, at: last, "after the late batches")
        for s in checkpoints { try check(store.catalog, at: s, "time travel to snapshot \(s)") }
        // Not vacuous: the lake has rejects of several kinds, duplicates among them.
        let runs = try store.catalog.ingestRuns().filter { $0.kind == .orders }
        #expect(runs.count == batches + 2)
        #expect(runs.reduce(0) { $0 + $1.duplicates } > 0)
    }

    @Test("figures that no longer cover the tables (rows the ingest did not count) are not used")
    func uncoveredFallsBack() throws {
        let dir = try TemporaryDirectory("lake-stored-quality-fallback")
        defer { dir.remove() }
        let input = packageRoot.appendingPathComponent("Evaluation-Files")
        let store = try LakeStore.open(root: dir.url.appendingPathComponent("lake"), schemas: packageRoot.appendingPathComponent("schemas"))
        _ = try CatalogIngest.run(store, path: input.appendingPathComponent("product_catalog.json").path)
        _ = try OrderIngest.run(store, path: input.appendingPathComponent("orders_stream.jsonl").path)
        let snap = try store.catalog.latestSnapshot().id
        #expect(try StoredQuality.load(catalog: store.catalog, snapshot: snap) != nil)
        // A commit that adds curated rows without figures (another tool, an older build).
        let orders = try store.catalog.table(schema: "curated", name: "orders")
        let file = try #require(try store.catalog.dataFiles(tableID: orders.tableID, at: .snapshot(snap)).first)
        _ = try store.catalog.commit(message: "foreign rows") { tx in
            _ = try tx.addDataFile(tableID: orders.tableID, NewDataFile(relativePath: file.storedPath, recordCount: file.recordCount,
                                                                        fileSizeBytes: file.fileSizeBytes, partitionValues: file.partitionValues,
                                                                        columnStats: file.columnStats))
        }
        let now = try store.catalog.latestSnapshot().id
        #expect(try StoredQuality.load(catalog: store.catalog, snapshot: now) == nil)
        // Reading one batch's figures still checks every batch's totals against the tables.
        let batch = try #require(try store.catalog.ingestRuns().first { $0.kind == .orders }?.batchID)
        #expect(try StoredQuality.load(catalog: store.catalog, snapshot: now, batchIDs: [batch]) == nil)
        #expect(try StoredQuality.load(catalog: store.catalog, snapshot: snap, batchIDs: [batch]) != nil)
        #expect(try StoredQuality.load(catalog: store.catalog, snapshot: snap) != nil)
    }
}
