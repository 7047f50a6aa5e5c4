import Foundation
import LakeCatalog
import LakePipeline
import LakeQuery
import LakeTestSupport
import Testing

@Suite("lake delete's progress: the files read to find the rows")
struct DeleteProgressTests {
    @Test("a delete from curated.orders reports every orders file its statistics cannot rule out, then the order_items files, rising to all of them")
    func deleteReportsFilesRead() throws {
        let lake = try EvaluationLake(orderChunks: 3)
        defer { lake.dir.remove() }
        let orders = try lake.catalog.table(schema: "curated", name: "orders")
        let items = try lake.catalog.table(schema: "curated", name: "order_items")
        // Every order's total is at least 0: no file's statistics can rule it out, every file is read.
        let orderFiles = Int64(try lake.catalog.dataFiles(tableID: orders.tableID).count)
        let total = orderFiles + Int64(try lake.catalog.dataFiles(tableID: items.tableID).count)
        final class Log: @unchecked Sendable {
            private let lock = NSLock()
            private var list: [(Int64, Int64)] = []
            func add(_ done: Int64, _ total: Int64) { lock.lock(); list.append((done, total)); lock.unlock() }
            var all: [(Int64, Int64)] { lock.lock(); defer { lock.unlock() }; return list }
        }
        let log = Log()
        let r = try Deletes.run(lake.catalog, table: "orders", conditions: ["order_total >= 0"], progress: log.add)
        #expect(r.snapshotID != nil && r.tables.count == 2, "\(r.tables)")
        let v = log.all
        // The orders' files first; the items' files are listed (and join the total) once orders matched.
        #expect(total > 3 && v.allSatisfy { $0.1 == orderFiles || $0.1 == total }, "totals \(Set(v.map(\.1))) are not \(orderFiles) then \(total)")
        #expect(zip(v, v.dropFirst()).allSatisfy { $0.0 <= $1.0 && $0.1 <= $1.1 }, "done or total fell: \(v)")
        #expect(v.first?.0 == 0 && v.last?.0 == total && v.last?.1 == total, "\(v.map(\.0)) of \(total)")
        // Each file read is reported once (the total's rise is one more report at the same count).
        #expect(v.count == Int(total) + 2, "\(v.count) reports for \(total) files")
    }
}
