import Foundation
import LakeFormat
import Testing
@testable import LakePipeline

/// A cut line must not be dated by the value the cut left behind: `"ts": 1705` is a complete
/// JSON number, 1705 ms after the epoch, and used to put the line in raw.orders' 1970-01-01
/// partition. A line that is not valid JSON goes to the ingest-date partition.
@Suite("Truncated lines")
struct TruncatedLineTests {
    static let ingestDay = Timestamps.day(ofMicros: 1_706_745_600_000_000)

    @Test("A line cut inside its epoch-millisecond ts is malformed and dated by the ingest")
    func cutTimestampDoesNotDate() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let complete = #"{"order_id": "ORD-1", "customerId": "CUST-1", "ts": 1705305600000, "channel": "mobile", "#
            + #""items": [{"product_id": "PROD-001", "quantity": 1, "unit_price": 10.00}], "#
            + #""shipping_address": {"country": "US"}, "status": "confirmed"}"#
        let lines = [
            complete,
            #"{"order_id": "ORD-2", "customerId": "CUST-2", "ts": 1705"#,          // cut inside the number
            #"{"order_id": "ORD-3", "customerId": "CUST-3", "ts": 1705305600000, "cha"#,  // cut after it
        ]
        let path = dir + "/cut.jsonl"
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let catalog = try ProductCatalogParser.parse(path: TestSupport.evaluationFiles + "/product_catalog.json").catalog
        let v = try TestSupport.validate(path, catalog: catalog)

        let reasons = TestSupport.strings(v.raw, "reject_reason"), dates = TestSupport.int32s(v.raw, "event_date")
        let numbers = TestSupport.int64s(v.raw, "line_number"), times = TestSupport.column(v.raw, "event_time")
        let accepted = try #require((0 ..< v.raw.count).first { numbers[$0] == 1 })
        #expect(reasons[accepted] == nil)
        #expect(dates[accepted] == Timestamps.day(ofMicros: 1_705_305_600_000_000), "a valid ts still dates its line")
        for line in [2, 3] as [Int64] {
            let i = try #require((0 ..< v.raw.count).first { numbers[$0] == line })
            #expect(reasons[i] == "malformed_json")
            #expect(times.isNull(i), "line \(line) keeps no event time")
            #expect(dates[i] == Self.ingestDay, "line \(line) is in the ingest-date partition, not \(dates[i])")
        }
    }
}
