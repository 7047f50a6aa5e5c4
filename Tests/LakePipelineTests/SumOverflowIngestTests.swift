import Foundation
import LakeCatalog
import LakeTestSupport
import Testing
@testable import LakePipeline

@Suite("Ingest: money sums that overflow are refused, never a trap", .serialized)
struct SumOverflowIngestTests {
    @Test("12 valid orders whose confirmed revenue overflows Int64: exit 1 naming the file and the (day, channel) cell, nothing committed")
    func overflowingBatchIsRefused() throws {
        let dir = try TemporaryDirectory("ingest-bigmoney")
        defer { dir.remove() }
        let store = try lakeWithCatalog(dir)
        let root = dir.file("lake"), file = dir.file("bigmoney.jsonl")
        try bigMoneyOrders(1 ... 12).write(toFile: file, atomically: true, encoding: .utf8)
        let before = (try store.catalog.snapshots().count, try store.catalog.ingestRuns().count)

        let r = try runLake(["ingest", "orders", file, "--lake", root])
        #expect(r.reason == .exit, "lake trapped: \(r.err)")
        #expect(r.status == 1)
        #expect(r.err.contains("bigmoney.jsonl") && r.err.contains("confirmed revenue of 2024-01-15 web"), "\(r.err)")
        #expect(r.err.contains("overflowed 64-bit integers") && r.err.contains("nothing was committed"), "\(r.err)")
        let reopened = try LakeStore.open(root: URL(fileURLWithPath: root), schemas: schemasDirectory)
        #expect((try reopened.catalog.snapshots().count, try reopened.catalog.ingestRuns().count) == before)

        // Six of them fit one batch's figures: the orders themselves are accepted.
        let half = dir.file("half.jsonl")
        try bigMoneyOrders(1 ... 6).write(toFile: half, atomically: true, encoding: .utf8)
        let ok = try runLake(["ingest", "orders", half, "--lake", root])
        #expect(ok.status == 0 && ok.out.contains("accepted 6"), "\(ok.err)")
    }
}
