import Foundation
import LakeFormat
import Testing
@testable import LakePipeline

/// An independent implementation of the order rules in plain Python (json + Decimal), run on
/// the same file: accepted orders with exact totals, reject reason per line, partitions.
let pythonOrderCheck = #"""
import json, sys
from decimal import Decimal
from datetime import datetime

orders_path, catalog_path = sys.argv[1], sys.argv[2]
catalog = {p["product_id"]: p for p in json.load(open(catalog_path, encoding="utf-8"), parse_float=Decimal)}
CHANNELS, STATUSES = ["web", "mobile", "api"], ["confirmed", "pending", "cancelled"]
DAY = 86_400_000_000

def parse_time(o):
    if "timestamp" in o and "ts" in o:
        raise Reject("duplicate_field")
    if o.get("ts") is not None:
        if not isinstance(o["ts"], int) or isinstance(o["ts"], bool):
            raise Reject("invalid_type" if not isinstance(o["ts"], (Decimal, float)) else "invalid_timestamp")
        return o["ts"] * 1000
    t = o.get("timestamp")
    if t is None:
        return None
    try:
        d = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except Exception:
        raise Reject("invalid_timestamp")
    if d.tzinfo is None:
        raise Reject("invalid_timestamp")
    epoch = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
    delta = d - epoch
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds

class Reject(Exception):
    pass

def check(o):
    if not isinstance(o, dict):
        raise Reject("malformed_json")
    if "customer_id" in o and "customerId" in o:
        raise Reject("duplicate_field")
    cust = o.get("customer_id", o.get("customerId"))
    for it in o.get("items") or []:
        q, p = it.get("quantity"), it.get("unit_price")
        if q is not None and (not isinstance(q, int) or isinstance(q, bool)):
            raise Reject("invalid_quantity")
        if p is not None and (not isinstance(p, (int, Decimal)) or isinstance(p, bool) or Decimal(p) != Decimal(p).quantize(Decimal("0.01"))):
            raise Reject("invalid_price")
    t = parse_time(o)
    for name, v in [("order_id", o.get("order_id")), ("customer_id", cust)]:
        if not v:
            raise Reject("missing_field")
    if t is None:
        raise Reject("missing_field")
    for name in ["channel", "status"]:
        if not o.get(name):
            raise Reject("missing_field")
    if o.get("items") is None or o.get("shipping_address") is None:
        raise Reject("missing_field")
    if not o["shipping_address"].get("country"):
        raise Reject("missing_field")
    if o["channel"] not in CHANNELS:
        raise Reject("invalid_channel")
    if o["status"] not in STATUSES:
        raise Reject("invalid_status")
    if len(o["items"]) < 1:
        raise Reject("missing_field")
    total = 0
    lines = []
    for it in o["items"]:
        if not it.get("product_id") or it.get("quantity") is None or it.get("unit_price") is None:
            raise Reject("missing_field")
        if not 1 <= it["quantity"] <= 2**31 - 1:
            raise Reject("invalid_quantity")
        cents = int(Decimal(it["unit_price"]) * 100)
        if cents < 0:
            raise Reject("invalid_price")
        if it["product_id"] not in catalog:
            raise Reject("unknown_product")
        total += it["quantity"] * cents
        lines.append((it["product_id"], it["quantity"], cents))
    return o["order_id"], cust, t, o["channel"], o["status"], total, lines

accepted, rejects, by_line, partitions, items = {}, {}, {}, {}, 0
with open(orders_path, "rb") as f:
    for n, raw in enumerate(f, start=1):
        line = raw.rstrip(b"\n").rstrip(b"\r")
        try:
            if not line.strip():
                raise Reject("empty_line")
            try:
                o = json.loads(line, parse_float=Decimal)
            except ValueError:
                raise Reject("malformed_json")
            oid, cust, t, ch, st, total, lines = check(o)
            if oid in accepted:
                raise Reject("duplicate_order" if accepted[oid][1:] == (cust, t, ch, st, total, lines) else "conflicting_duplicate")
            accepted[oid] = (n, cust, t, ch, st, total, lines)
            items += len(lines)
            key = "%d/%s" % (t // DAY, ch)
            partitions[key] = partitions.get(key, 0) + 1
        except Reject as r:
            reason = r.args[0]
            rejects[reason] = rejects.get(reason, 0) + 1
            by_line[str(n)] = reason

print(json.dumps({
    "accepted": len(accepted),
    "order_totals": {k: v[5] for k, v in accepted.items()},
    "order_customers": {k: v[1] for k, v in accepted.items()},
    "order_times": {k: v[2] for k, v in accepted.items()},
    "total_cents": sum(v[5] for v in accepted.values()),
    "items": items,
    "rejects": rejects,
    "reject_by_line": by_line,
    "partitions": partitions,
}))
"""#

@Suite struct ValidationTests {
    var catalog: ProductCatalog {
        get throws { try ProductCatalogParser.parse(path: TestSupport.evaluationFiles + "/product_catalog.json").catalog }
    }

    @Test func evaluationFilesMatchAnIndependentPythonComputation() throws {
        let orders = TestSupport.evaluationFiles + "/orders_stream.jsonl"
        let out = try TestSupport.runPython(pythonOrderCheck, args: [orders, TestSupport.evaluationFiles + "/product_catalog.json"])
        let py = try #require(try JSONSerialization.jsonObject(with: out) as? [String: Any])
        let v = try TestSupport.validate(orders, catalog: catalog)

        #expect(v.orders.count == py["accepted"] as? Int)
        #expect(v.items.count == py["items"] as? Int)
        let pyRejects = try #require(py["rejects"] as? [String: Int])
        #expect(Dictionary(uniqueKeysWithValues: v.rejects.map { ($0.key.rawValue, $0.value) }) == pyRejects)

        // Every order's exact total, customer (aliases resolved) and event time.
        let ids = TestSupport.strings(v.orders, "order_id").map { $0! }
        let totals = TestSupport.int64s(v.orders, "order_total")
        let customers = TestSupport.strings(v.orders, "customer_id")
        let times = TestSupport.int64s(v.orders, "event_time")
        let pyTotals = try #require(py["order_totals"] as? [String: Int])
        let pyCustomers = try #require(py["order_customers"] as? [String: String])
        let pyTimes = try #require(py["order_times"] as? [String: Int])
        #expect(Set(ids) == Set(pyTotals.keys))
        for (i, id) in ids.enumerated() {
            #expect(totals[i] == Int64(pyTotals[id] ?? -1), "total of \(id)")
            #expect(customers[i] == pyCustomers[id], "customer of \(id)")
            #expect(times[i] == Int64(pyTimes[id] ?? -1), "event time of \(id)")
        }
        #expect(totals.reduce(0, +) == Int64(py["total_cents"] as? Int ?? -1))

        // The raw table holds every line, with the same reason on the same line.
        #expect(v.raw.count == 1000)
        let reasons = TestSupport.strings(v.raw, "reject_reason")
        let lineNumbers = TestSupport.int64s(v.raw, "line_number")
        var byLine: [String: String] = [:]
        for (i, r) in reasons.enumerated() { if let r { byLine[String(lineNumbers[i])] = r } }
        #expect(byLine == py["reject_by_line"] as? [String: String])

        // Partition sizes of curated orders.
        let parts = try Partitioning.split(v.orders)
        let pyParts = try #require(py["partitions"] as? [String: Int])
        #expect(Dictionary(uniqueKeysWithValues: parts.map { ("\($0.key.date)/\($0.key.channel)", $0.rows.count) }) == pyParts)
    }

    @Test func curatedRowsAreConsistentAndExact() throws {
        let v = try TestSupport.validate(TestSupport.evaluationFiles + "/orders_stream.jsonl", catalog: catalog)
        let cat = try catalog
        let q = TestSupport.int32s(v.items, "quantity"), price = TestSupport.int64s(v.items, "unit_price")
        let revenue = TestSupport.int64s(v.items, "line_revenue"), list = TestSupport.int64s(v.items, "list_price")
        let products = TestSupport.strings(v.items, "product_id"), categories = TestSupport.strings(v.items, "category")
        for i in 0 ..< v.items.count {
            #expect(revenue[i] == Int64(q[i]) * price[i])
            let row = try #require(cat.row(of: products[i]!))
            #expect(list[i] == cat.prices[row])
            #expect(categories[i] == cat.categories[row])
        }
        // order_total == sum of its line revenues; item_count == its number of item rows.
        var sums: [String: Int64] = [:], counts: [String: Int32] = [:]
        for (i, id) in TestSupport.strings(v.items, "order_id").enumerated() {
            sums[id!, default: 0] += revenue[i]
            counts[id!, default: 0] += 1
        }
        let ids = TestSupport.strings(v.orders, "order_id")
        let totals = TestSupport.int64s(v.orders, "order_total"), itemCounts = TestSupport.int32s(v.orders, "item_count")
        for (i, id) in ids.enumerated() {
            #expect(sums[id!] == totals[i])
            #expect(counts[id!] == itemCounts[i])
        }
        // Late events keep their own date: some accepted orders are dated before their line's
        // neighbours by a day or more.
        let times = TestSupport.int64s(v.orders, "event_time")
        var late = 0
        var maxSoFar: Int64 = 0
        for t in times {
            if t < maxSoFar - 86_400_000_000 { late += 1 }
            maxSoFar = max(maxSoFar, t)
        }
        #expect(late > 0)
        #expect(v.orders.schema == (try TestSupport.rules()).ordersSchema)
        #expect(v.orders.column("state")?.validity == nil)
    }

    @Test func rawRowsKeepReasonDetailAndFallbackPartition() throws {
        let v = try TestSupport.validate(TestSupport.evaluationFiles + "/orders_stream.jsonl", catalog: catalog)
        let reasons = TestSupport.strings(v.raw, "reject_reason"), details = TestSupport.strings(v.raw, "reject_detail")
        let channels = TestSupport.strings(v.raw, "channel"), dates = TestSupport.int32s(v.raw, "event_date")
        let eventTimes = TestSupport.column(v.raw, "event_time")
        let lines = TestSupport.int64s(v.raw, "line_number"), offsets = TestSupport.int64s(v.raw, "byte_offset")
        let text = try String(contentsOfFile: TestSupport.evaluationFiles + "/orders_stream.jsonl", encoding: .utf8)
        let fileLines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var offset: Int64 = 0
        for i in 0 ..< v.raw.count {
            #expect(lines[i] == Int64(i + 1))
            #expect(offsets[i] == offset)
            #expect(TestSupport.column(v.raw, "line").string(at: i) == String(fileLines[i]))
            offset += Int64(fileLines[i].utf8.count + 1)
            if let r = reasons[i] {
                let d = details[i] ?? ""
                #expect(d.hasPrefix("orders_stream.jsonl line \(i + 1): "), "\(d)")
                if r == "malformed_json" && eventTimes.isNull(i) {
                    #expect(dates[i] == Timestamps.day(ofMicros: 1_706_745_600_000_000))  // the ingest date
                }
                if r == "invalid_channel" { #expect(channels[i] == "unknown") }
            } else {
                #expect(details[i] == nil)
                #expect(!eventTimes.isNull(i))
            }
        }
        let malformed = (0 ..< v.raw.count).filter { reasons[$0] == "malformed_json" }
        #expect(!malformed.isEmpty)
    }

    func writeLines(_ lines: [String], _ name: String = #function) throws -> String {
        let path = try TestSupport.tempDir(name) + "/orders.jsonl"
        #expect(FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8)))
        return path
    }

    func line(id: String, qty: Int = 2, product: String = "PROD-001", customer: String = "CUST-9") -> String {
        goodLine.replacingOccurrences(of: "ORD-1", with: id).replacingOccurrences(of: #""quantity": 2"#, with: #""quantity": \#(qty)"#)
            .replacingOccurrences(of: "PROD-001", with: product).replacingOccurrences(of: "CUST-9", with: customer)
    }

    @Test func duplicatesFirstAcceptedWinsAndConflictsAreFlagged() throws {
        let path = try writeLines([
            line(id: "ORD-1"),
            line(id: "ORD-1"),                   // exact replay
            line(id: "ORD-1", customer: "X"),    // same id, different content
            line(id: "ORD-2", qty: 0),           // rejected: does not claim ORD-2
            line(id: "ORD-2"),                   // the corrected resend is accepted
            "",
        ])
        let v = try TestSupport.validate(path, catalog: catalog)
        #expect(TestSupport.strings(v.orders, "order_id") == ["ORD-1", "ORD-2"])
        #expect(v.rejects == [.duplicateOrder: 1, .conflictingDuplicate: 1, .invalidQuantity: 1, .emptyLine: 1])
        #expect(TestSupport.strings(v.raw, "reject_detail")[3] == "orders.jsonl line 4: items[0].quantity 0 is outside 1...2147483647")

        // Across batches: ids the ingest step already committed are rejected as duplicates.
        let committed = CommittedOrderIDs(["ORD-2"])
        let again = try TestSupport.validate(path, catalog: catalog, committed: committed)
        #expect(TestSupport.strings(again.orders, "order_id") == ["ORD-1"])
        #expect(again.rejects[.duplicateOrder] == 2)
    }

    @Test func everyRuleRejectsTheWholeOrderWithItsReason() throws {
        let cases: [(String, RejectReason)] = [
            (line(id: "A", product: "PROD-999"), .unknownProduct),
            (line(id: "B", qty: -1), .invalidQuantity),
            (line(id: "C").replacingOccurrences(of: "29.99", with: "-0.01"), .invalidPrice),
            (line(id: "D").replacingOccurrences(of: #""web""#, with: #""WEB""#), .invalidChannel),
            (line(id: "E").replacingOccurrences(of: #""confirmed""#, with: #""shipped""#), .invalidStatus),
            (line(id: "F").replacingOccurrences(of: #""customer_id": "CUST-9", "#, with: ""), .missingField),
            (line(id: "G").replacingOccurrences(of: #""CUST-9""#, with: #""""#), .missingField),
            (line(id: "H").replacingOccurrences(of: #"[{"product_id": "PROD-001", "quantity": 2, "unit_price": 29.99}]"#, with: "[]"), .missingField),
            (line(id: "I").replacingOccurrences(of: #""country": "US", "#, with: ""), .missingField),
            (line(id: "J", qty: 2_147_483_648), .invalidQuantity),
            (line(id: "K").replacingOccurrences(of: "29.99", with: "99999999999999999.99"), .invalidPrice),
            (line(id: "L", qty: 2_000_000_000).replacingOccurrences(of: "29.99", with: "9999999999.99"), .amountOverflow),
            // Two items of the largest quantity: units (INT32) would not hold their sum; it was stored clamped.
            (line(id: "L2", qty: 2_147_483_647).replacingOccurrences(of: "29.99", with: "0.01")
                .replacingOccurrences(of: #"}]"#, with: #"}, {"product_id": "PROD-002", "quantity": 2147483647, "unit_price": 0.01}]"#), .amountOverflow),
            (line(id: "M").replacingOccurrences(of: "2024-01-15T10:30:00Z", with: "yesterday"), .invalidTimestamp),
            (String(line(id: "N").prefix(100)), .malformedJSON),
        ]
        let path = try writeLines(cases.map(\.0) + [line(id: "OK", product: "PROD-002")])
        let v = try TestSupport.validate(path, catalog: catalog)
        #expect(TestSupport.strings(v.orders, "order_id") == ["OK"])
        #expect(v.items.count == 1)
        #expect(TestSupport.strings(v.raw, "reject_reason") == cases.map { $0.1.rawValue } + [nil])
        // A readable channel/date is kept for the raw partition even when rejected.
        #expect(TestSupport.strings(v.raw, "channel")[0] == "web")
        #expect(TestSupport.strings(v.raw, "order_id")[0] == "A")
    }

    @Test func drainingInPiecesGivesTheSameResultAsOneBatch() throws {
        let path = TestSupport.evaluationFiles + "/orders_stream.jsonl"
        let whole = try TestSupport.validate(path, catalog: catalog)
        var ids: [String?] = [], raws = 0, rejects: [RejectReason: Int] = [:], unknown: [String: Int] = [:]
        try OrderValidator.validateFile(path: path, rules: TestSupport.rules(), catalog: catalog, batchID: "t",
                                        ingestTimeMicros: 0, drainEvery: 37) { part in
            #expect(part.raw.count <= 37)
            ids += TestSupport.strings(part.orders, "order_id")
            raws += part.raw.count
            rejects.merge(part.rejects, uniquingKeysWith: +)
            unknown.merge(part.unknownFields, uniquingKeysWith: +)
        }
        #expect(ids == TestSupport.strings(whole.orders, "order_id"))
        #expect(raws == whole.raw.count)
        #expect(rejects == whole.rejects)
        #expect(unknown == whole.unknownFields)
    }

    @Test func partitionSplitGroupsRowsByDateAndChannel() throws {
        let v = try TestSupport.validate(TestSupport.evaluationFiles + "/orders_stream.jsonl", catalog: catalog)
        for batch in [v.raw, v.orders, v.items] {
            let parts = try Partitioning.split(batch)
            #expect(parts.map(\.rows.count).reduce(0, +) == batch.count)
            #expect(parts.map(\.key) == parts.map(\.key).sorted())
            let dates = TestSupport.int32s(batch, "event_date"), channels = TestSupport.strings(batch, "channel")
            for p in parts {
                #expect(p.rows == p.rows.sorted())
                for r in p.rows { #expect(dates[r] == p.key.date && channels[r] == p.key.channel) }
                let g = Partitioning.gather(batch, rows: p.rows)
                #expect(g.count == p.rows.count)
                #expect(TestSupport.strings(g, "channel").allSatisfy { $0 == p.key.channel })
            }
        }
        let raw = try Partitioning.split(v.raw)
        #expect(raw.contains { $0.key.channel == "unknown" })
        #expect(PartitionKey(date: Int32(CivilDate.days(year: 2024, month: 1, day: 15)), channel: "web").path == "date=2024-01-15/channel=web")
        #expect(throws: PartitionError.missingColumn("day")) { try Partitioning.split(v.orders, dateColumn: "day") }
    }

    /// The split's three ways to a partition: dictionary channel codes (the validator's
    /// batches), string channels, and the hash-table fallback for dates spanning more than a
    /// dense table (bad input can carry any year): each gives the rows a value-by-value grouping gives.
    @Test func partitionSplitDictionaryStringAndWideDates() throws {
        let channels = ["web", "mobile", "store", "web", "", "mobile", "web"]
        var values = StringColumn()
        for c in ["web", "mobile", "store", ""] { values.append(c) }
        let codes: [Int32] = [0, 1, 2, 0, 3, 1, 0]
        var names = StringColumn()
        for c in channels { names.append(c) }
        for dates in [[Int32](arrayLiteral: 10, 10, 11, 12, 10, 11, 10), [-700_000, 10, 2_900_000, 10, -700_000, 2_900_000, 11]] {
            let schema = Schema([Field("event_date", .date), Field("channel", .string)])
            let dictionary = RecordBatch(schema: schema, columns: [Column(.int32(dates)), Column(.dictionary(indices: codes, values: values))])
            let strings = RecordBatch(schema: schema, columns: [Column(.int32(dates)), Column(.string(names))])
            var expected: [PartitionKey: [Int]] = [:]
            for r in dates.indices { expected[PartitionKey(date: dates[r], channel: channels[r]), default: []].append(r) }
            let want = expected.sorted { $0.key < $1.key }.map { "\($0.key.date)/\($0.key.channel): \($0.value)" }
            for batch in [dictionary, strings] {
                #expect(try Partitioning.split(batch).map { "\($0.key.date)/\($0.key.channel): \($0.rows)" } == want)
            }
        }
    }
}
