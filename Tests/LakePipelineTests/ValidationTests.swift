import Foundation
import LakeFormat
import Testing
@testable import LakePipeline

/// An independent implementation of the order rules in plain Python (json + Decimal), run on
/// the same file: accepted orders with exact totals, reject reason per line, partitions.
let pythonOrderCheck = #"""
import json, sys, decimal
from decimal import Decimal
from datetime import datetime
# Exact arithmetic on any number a line may hold (1e300, 1e-400): no rounding to 28 digits.
decimal.setcontext(decimal.Context(prec=1000, Emax=999999, Emin=-999999))

def whole(v):
    """A JSON number whose exact value is whole (2, 2.0, 1e2, 100e-2), as an int; else None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, Decimal) and v == v.to_integral_value():
        return int(v)
    return None

orders_path, catalog_path = sys.argv[1], sys.argv[2]
catalog = {p["product_id"]: p for p in json.load(open(catalog_path, encoding="utf-8"), parse_float=Decimal)}
CHANNELS, STATUSES = ["web", "mobile", "api"], ["confirmed", "pending", "cancelled"]
DAY = 86_400_000_000

def parse_time(o):
    if "timestamp" in o and "ts" in o:
        raise Reject("duplicate_field")
    if o.get("ts") is not None:
        if isinstance(o["ts"], bool) or not isinstance(o["ts"], (int, Decimal)):
            raise Reject("invalid_type")
        if whole(o["ts"]) is None:
            raise Reject("invalid_timestamp")
        return whole(o["ts"]) * 1000
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
        if q is not None and whole(q) is None:
            raise Reject("invalid_quantity")
        if p is not None and (not isinstance(p, (int, Decimal)) or isinstance(p, bool) or whole(Decimal(p) * 100) is None):
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
        if not 1 <= whole(it["quantity"]) <= 2**31 - 1:
            raise Reject("invalid_quantity")
        cents = whole(Decimal(it["unit_price"]) * 100)
        if not 0 <= cents <= 999_999_999_999_999_999:
            raise Reject("invalid_price")
        if it["product_id"] not in catalog:
            raise Reject("unknown_product")
        total += whole(it["quantity"]) * cents
        lines.append((it["product_id"], whole(it["quantity"]), cents))
    a = o["shipping_address"]
    return o["order_id"], cust, t, o["channel"], o["status"], total, (a.get("country"), a.get("state"), a.get("city"), lines)

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
            items += len(lines[3])
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
            // The same revenue (59.98) split otherwise, and the same order shipped elsewhere:
            // conflicts too, not repeats (were duplicate_order before session 33).
            line(id: "ORD-1").replacingOccurrences(of: #""quantity": 2, "unit_price": 29.99"#, with: #""quantity": 1, "unit_price": 59.98"#),
            line(id: "ORD-1").replacingOccurrences(of: "San Francisco", with: "Oakland"),
            line(id: "ORD-2", qty: 0),           // rejected: does not claim ORD-2
            line(id: "ORD-2"),                   // the corrected resend is accepted
            "",
        ])
        let v = try TestSupport.validate(path, catalog: catalog)
        #expect(TestSupport.strings(v.orders, "order_id") == ["ORD-1", "ORD-2"])
        #expect(v.rejects == [.duplicateOrder: 1, .conflictingDuplicate: 3, .invalidQuantity: 1, .emptyLine: 1])
        #expect(TestSupport.strings(v.raw, "reject_detail")[5] == "orders.jsonl line 6: items[0].quantity 0 is outside 1...2147483647")

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

    /// Unknown keys are counted for schema drift from lines that are JSON objects, accepted or
    /// rejected for their values, never from a line that is not JSON: a truncated line's keys
    /// raised a drift alert.
    @Test func unknownFieldsComeOnlyFromLinesThatAreJSON() throws {
        let path = try writeLines([
            #"{"junk_field": 5, "oops"#,
            #"{"a": [[[[[[{"nested_junk": "#,
            line(id: "OK").replacingOccurrences(of: "{", with: #"{"gift_note": "hi", "#, options: .anchored),
            line(id: "BAD", qty: 0).replacingOccurrences(of: "{", with: #"{"loyalty_tier": 2, "#, options: .anchored),
        ])
        let v = try TestSupport.validate(path, catalog: catalog)
        #expect(v.rejects == [.malformedJSON: 2, .invalidQuantity: 1])
        #expect(v.unknownFields == ["gift_note": 1, "loyalty_tier": 1])
    }

    /// A unit_price above the maximum was said to be "below 0.00 or above the maximum".
    @Test func aPriceOutsideItsBoundsIsNamedWithTheBoundItCrossed() throws {
        let path = try writeLines([
            line(id: "LOW").replacingOccurrences(of: "29.99", with: "-0.01"),
            line(id: "HIGH").replacingOccurrences(of: "29.99", with: "10000000000000000"),
        ])
        let v = try TestSupport.validate(path, catalog: catalog)
        #expect(TestSupport.strings(v.raw, "reject_reason") == ["invalid_price", "invalid_price"])
        #expect(TestSupport.strings(v.raw, "reject_detail").map { $0?.split(separator: ":", maxSplits: 1).last.map(String.init) } == [
            " items[0].unit_price -0.01 is below the minimum 0.00",
            " items[0].unit_price 10000000000000000.00 is above the maximum 9999999999999999.99",
        ])
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
        #expect(PartitionKey(date: Int32(CivilDate.days(year: 2024, month: 1, day: 15)), channel: "web").path == "event_date=2024-01-15/channel=web")
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

/// Numbers written with a fraction or an exponent (probe finding 13): one exact rule
/// (`ExactDecimal`) for order quantities and prices, catalog prices and inventory quantities,
/// checked against Python's `decimal.Decimal` as the reference.
@Suite struct ExactNumberTests {
    /// A number in one of several notations: a plain integer or decimal, a fraction with
    /// trailing zeros, an exponent (e/E, signed or not), values near and beyond the scale and
    /// 64-bit range. JSON grammar (no leading zeros, a digit on both sides of the point).
    static func randomNumber(_ rng: inout SplitMix64) -> String {
        func digits(_ n: Int, leadingNonZero: Bool) -> String {
            var s = ""
            for k in 0 ..< n { s += String(k == 0 && leadingNonZero ? rng.int(1 ... 9) : rng.chance(0.3) ? 0 : rng.int(0 ... 9)) }
            return s
        }
        var text = rng.chance(0.25) ? "-" : ""
        let intLength = rng.chance(0.2) ? 0 : rng.int(1 ... (rng.chance(0.1) ? 22 : 6))
        text += intLength == 0 ? "0" : digits(intLength, leadingNonZero: true)
        if rng.chance(0.6) {
            let f = rng.int(1 ... 6)
            // Half the fractions are zeros after a few digits: exact at scale 0 or 2 when shifted.
            text += "." + (rng.chance(0.5) ? digits(rng.int(0 ... 2), leadingNonZero: false) + String(repeating: "0", count: f) : digits(f, leadingNonZero: false))
        }
        if rng.chance(0.6) {
            text += rng.chance(0.5) ? "e" : "E"
            let e = rng.chance(0.05) ? rng.int(-400 ... 400) : rng.int(-8 ... 8)
            text += e < 0 ? "-" : rng.chance(0.3) ? "+" : ""
            text += String(abs(e))
        }
        return text
    }

    /// Python's classification of each text at each scale: the unscaled integer, "places" or
    /// "range" (beyond Int64 at the scale).
    static let pythonExact = #"""
import sys, json, decimal
from decimal import Decimal
decimal.setcontext(decimal.Context(prec=2000, Emax=999999, Emin=-999999))
out = []
for text in json.load(open(sys.argv[1])):
    row = []
    for scale in (0, 2):
        v = Decimal(text).scaleb(scale)
        if v != v.to_integral_value():
            row.append("places")
        elif not -(2**63 - 1) <= v <= 2**63 - 1:
            row.append("range")
        else:
            row.append(str(int(v)))
    out.append(row)
print(json.dumps(out))
"""#

    static func ours(_ e: ExactDecimal) -> String {
        switch e {
        case .value(let v): return String(v)
        case .tooManyPlaces: return "places"
        case .outOfRange: return "range"
        case .malformed: return "malformed"
        }
    }

    @Test("5,000 random numbers in several notations, at scales 0 and 2: the same value or refusal as Python's decimal.Decimal", arguments: [UInt64(12), 2026])
    func agreesWithPythonDecimal(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var texts = (0 ..< 5000).map { _ in Self.randomNumber(&rng) }
        // The probe's examples and the edges, always included.
        texts += ["1.0", "1E0", "1e2", "100e-2", "0.1e1", "2.999e1", "2.5", "29.999", "1e300", "1e-400", "-0", "-0.00", "0e400",
                  "9223372036854775807", "9223372036854775808", "-9223372036854775807", "-9223372036854775808", "92233720368547758.07",
                  "92233720368547758.08", "922337203685477580.7e-1", "10000000000000000000000e-4", "1.00000000000000000000000001"]
        let dir = try TestSupport.tempDir()
        let path = dir + "/numbers.json"
        try JSONSerialization.data(withJSONObject: texts).write(to: URL(fileURLWithPath: path))
        let py = try #require(try JSONSerialization.jsonObject(with: TestSupport.runPython(Self.pythonExact, args: [path])) as? [[String]])
        try #require(py.count == texts.count)
        var mismatches: [String] = []
        var kinds: [String: Int] = [:]
        for (i, t) in texts.enumerated() {
            for (k, scale) in [0, 2].enumerated() {
                let got = Self.ours(ExactDecimal.parse(t, scale: scale))
                if got != py[i][k] { mismatches.append("\(t) at scale \(scale): ours \(got), Python \(py[i][k])") }
                kinds[got == "places" || got == "range" ? got : "value", default: 0] += 1
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches: \(mismatches.prefix(10))")
        // The sample exercises every outcome in numbers, not just one.
        #expect(kinds["value", default: 0] > 2000 && kinds["places", default: 0] > 1000 && kinds["range", default: 0] > 50, "\(kinds)")
    }

    /// Order lines whose quantity and unit_price are written in random notations, validated by
    /// the lake and by the independent Python rules (`pythonOrderCheck`): the same accepted
    /// orders with the same exact totals, the same reason on every refused line.
    @Test("order lines with numbers in random notations: the lake and the Python reference agree line by line", arguments: [UInt64(7), 1913])
    func orderLinesAgreeWithTheReference(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        // Moderate magnitudes (no order-total overflow, which the reference does not model);
        // Double only picks the test's inputs, it computes nothing compared.
        func small() -> String {
            var t: String
            repeat { t = ExactNumberTests.randomNumber(&rng) } while !(abs(Double(t) ?? .infinity) < 1e5)
            return t
        }
        // A whole quantity 1...99 in a random notation: 7, 7.0, 70e-1, 0.7E1, 7.00e+0.
        func wholeQuantity() -> String {
            let n = rng.int(1 ... 99)
            switch rng.below(5) {
            case 0: return String(n)
            case 1: return "\(n)." + String(repeating: "0", count: rng.int(1 ... 3))
            case 2: let k = rng.int(1 ... 3); return "\(n)" + String(repeating: "0", count: k) + "e-\(k)"
            case 3: return "0.\(n)" + (rng.chance(0.5) ? "E" : "e") + "\(String(n).count)"
            default: return "\(n).00e+0"
            }
        }
        var lines: [String] = []
        let fixed: [(String, String)] = [("1.0", "29.99"), ("1E0", "1e2"), ("1e2", "2.999e1"), ("100e-2", "29.990"), ("0.1e1", "0.2999E2"),
                                         ("2.5", "29.99"), ("2", "29.999"), ("2.0", "1e-400"), ("1e300", "1"), ("3", "1e300")]
        for i in 0 ..< 1500 {
            let (q, p) = i < fixed.count ? fixed[i] : (rng.chance(0.5) ? wholeQuantity() : small(), small())
            lines.append(goodLine.replacingOccurrences(of: "ORD-1", with: "ORD-N\(i)")
                .replacingOccurrences(of: #""quantity": 2"#, with: #""quantity": \#(q)"#)
                .replacingOccurrences(of: "29.99", with: p))
        }
        // The mobile alias with epoch milliseconds written every way.
        for (i, ts) in ["1705314600000", "1705314600000.0", "1.7053146e12", "1705314600000.7", "17053146e5"].enumerated() {
            lines.append(goodLine.replacingOccurrences(of: "ORD-1", with: "ORD-T\(i)")
                .replacingOccurrences(of: #""timestamp": "2024-01-15T10:30:00Z""#, with: #""ts": \#(ts)"#))
        }
        let path = try TestSupport.tempDir() + "/numbers.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let catalogPath = TestSupport.evaluationFiles + "/product_catalog.json"
        let py = try #require(try JSONSerialization.jsonObject(with: TestSupport.runPython(pythonOrderCheck, args: [path, catalogPath])) as? [String: Any])
        let v = try TestSupport.validate(path, catalog: ProductCatalogParser.parse(path: catalogPath).catalog)
        let reasons = TestSupport.strings(v.raw, "reject_reason"), lineNumbers = TestSupport.int64s(v.raw, "line_number")
        var byLine: [String: String] = [:]
        for (i, r) in reasons.enumerated() { if let r { byLine[String(lineNumbers[i])] = r } }
        let pyByLine = try #require(py["reject_by_line"] as? [String: String])
        let differing = Set(byLine.keys).union(pyByLine.keys).filter { byLine[$0] != pyByLine[$0] }.sorted { Int($0)! < Int($1)! }
        #expect(differing.isEmpty, "\(differing.count) lines differ: \(differing.prefix(8).map { "line \($0): lake \(byLine[$0] ?? "accepted"), Python \(pyByLine[$0] ?? "accepted"): \(lines[Int($0)! - 1])" })")
        let ids = TestSupport.strings(v.orders, "order_id").map { $0! }, totals = TestSupport.int64s(v.orders, "order_total")
        let pyTotals = try #require(py["order_totals"] as? [String: Int])
        #expect(Dictionary(uniqueKeysWithValues: zip(ids, totals.map(Int.init))) == pyTotals)
        // Both outcomes occur in numbers: the notations are accepted, inexact values refused.
        #expect(v.orders.count > 200 && byLine.values.filter { $0 == "invalid_quantity" }.count > 100
                && byLine.values.filter { $0 == "invalid_price" }.count > 100, "\(v.orders.count) accepted, \(v.rejects)")
        // The probe's exact lines are accepted with their exact values; its inexact ones refused.
        #expect(Array(ids.prefix(5)) == ["ORD-N0", "ORD-N1", "ORD-N2", "ORD-N3", "ORD-N4"])
        #expect(Array(totals.prefix(5)) == [2999, 10000, 299_900, 2999, 2999])
        #expect((1 ... 5).map { byLine[String(5 + $0)] } == ["invalid_quantity", "invalid_price", "invalid_price", "invalid_quantity", "invalid_price"])
    }
}
