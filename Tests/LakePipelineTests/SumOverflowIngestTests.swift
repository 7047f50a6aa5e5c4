import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

/// Twelve valid orders at 9,000,000,000,000,000.00 (DECIMAL(18,2) fits each; their sum does not
/// fit Int64 cents): DuckDB accepts them, so lake must too, with figures that add up exactly.
@Suite("Ingest: a batch whose money sums pass Int64 is accepted, its figures exact", .serialized)
struct SumOverflowIngestTests {
    @Test("12 orders summing past Int64 cents in one batch: accepted, committed, stored figures equal DuckDB's sum(order_total)")
    func bigBatchIsAcceptedExactly() throws {
        let dir = try TemporaryDirectory("ingest-bigmoney")
        defer { dir.remove() }
        let store = try lakeWithCatalog(dir)
        let root = dir.file("lake"), file = dir.file("bigmoney.jsonl")
        try bigMoneyOrders(1 ... 12).write(toFile: file, atomically: true, encoding: .utf8)

        let r = try runLake(["ingest", "orders", file, "--lake", root])
        #expect(r.reason == .exit, "lake trapped: \(r.err)")
        #expect(r.status == 0 && r.out.contains("accepted 12") && r.out.contains("quarantined 0"), "\(r.out)\(r.err)")

        // The stored cell (2024-01-15 web) holds 1,080,000,000,000,000,000,000 cents in parts
        // that each fit the BIGINT column; added up they are DuckDB's sum to the cent.
        let reopened = try LakeStore.open(root: URL(fileURLWithPath: root), schemas: schemasDirectory)
        let snapshot = try reopened.catalog.resolve(nil).id
        let stored = try reopened.catalog.qualityFigures(at: snapshot)
        #expect(stored.coversTables, "the figures cover the tables: \(stored.totals) vs \(stored.coverage)")
        let cents = stored.figures.filter { $0.metric == .confirmedCents }
        #expect(cents.count > 1, "one Int64 cannot hold the cell: \(cents.map(\.n))")
        let sum = cents.reduce(Int128(0)) { $0 + Int128($1.n) }
        let peer = try duckDBMoneyFigures(root: root)
        #expect(DecimalText.format(sum, scale: 2) == peer["total"], "lake \(DecimalText.format(sum, scale: 2)) vs DuckDB \(peer["total"] ?? "-")")
        #expect(peer["total"] == "108000000000000000.00")

        // lake's own answers on it: the quality check from the stored figures, and lake query.
        let check = try runLake(["quality", "check", "--lake", root])
        #expect(check.status == 0 && check.out.contains("score 100.0"), "\(check.out)\(check.err)")
        let q = try runLake(["query", "orders", "--agg", "sum(order_total)", "--format", "csv", "--lake", root])
        #expect(q.status == 0 && q.out.contains("\n108000000000000000.00"), "\(q.out)\(q.err)")
    }
}
