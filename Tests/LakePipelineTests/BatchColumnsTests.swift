import Foundation
@testable import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

/// The validators of one batch (the batch's own and one per validating thread) code channels,
/// statuses, the batch id and the source file into dictionaries made once for the batch, so a
/// row group made of several validators' pieces concatenates codes. With a dictionary each, the
/// writer took the pieces as strings and hashed every row again (5.3 M values of a 1 M-order
/// ingest); the files were the same, only slower to write.
@Suite struct BatchColumnsTests {
    func drained(_ columns: OrderValidator.BatchColumns?, _ id: String) throws -> ValidatedOrders {
        let rules = try OrderRules(registry: TestSupport.registry())
        let catalog = try ProductCatalogParser.parse(path: TestSupport.evaluationFiles + "/product_catalog.json").catalog
        var v = columns.map {
            OrderValidator(rules: rules, catalog: catalog, columns: $0, ingestTimeMicros: 1_706_745_600_000_000,
                           committed: nil, expectedLines: 16, deferDuplicates: true)
        } ?? OrderValidator(rules: rules, catalog: catalog, batchID: "b", sourceFile: "s.jsonl", ingestTimeMicros: 1_706_745_600_000_000)
        let bytes = Array(goodLine.replacingOccurrences(of: "ORD-1", with: id).utf8)
        bytes.withUnsafeBytes { v.add($0, lineNumber: 1, byteOffset: 0) }
        return v.drain()
    }

    /// Whether every dictionary column of `a` shares its values' storage with `b`'s.
    func shared(_ a: RecordBatch, _ b: RecordBatch) -> [String: Bool] {
        var out: [String: Bool] = [:]
        for (i, field) in a.schema.fields.enumerated() {
            guard case .dictionary(_, let values) = a.columns[i].data else { continue }
            out[field.name] = b.columns[i].data.sharesDictionary(values)
        }
        return out
    }

    @Test func validatorsOfOneBatchShareTheirDictionaries() throws {
        let columns = OrderValidator.BatchColumns(rules: try OrderRules(registry: TestSupport.registry()), batchID: "b", sourceFile: "s.jsonl")
        let (one, two) = (try drained(columns, "ORD-1"), try drained(columns, "ORD-2"))
        let raw = shared(one.raw, two.raw), orders = shared(one.orders, two.orders), items = shared(one.items, two.items)
        for name in ["batch_id", "source_file", "channel"] { #expect(raw[name] == true, "raw.\(name): \(raw)") }
        for name in ["channel", "status"] {
            #expect(orders[name] == true, "orders.\(name): \(orders)")
            #expect(items[name] == true, "items.\(name): \(items)")
        }
        // Each made on its own (as every validator was): equal values, storage of its own.
        let (three, four) = (try drained(nil, "ORD-3"), try drained(nil, "ORD-4"))
        #expect(shared(three.raw, four.raw)["batch_id"] == false && shared(three.orders, four.orders)["channel"] == false)
    }
}
