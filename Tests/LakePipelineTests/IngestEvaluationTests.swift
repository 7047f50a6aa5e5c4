import Foundation
import LakeCatalog
import LakeTestSupport
import Testing
@testable import LakePipeline

// End-to-end checks of `OrderIngest` against peers that share none of its code: the expected
// curated tables are computed in Python straight from the source files under the README's
// business rules, and the lake is read back through DuckDB's ducklake extension (not our
// reader), so a bug in our writer, catalog or validator shows up as a difference.

let evaluationFiles = packageRoot.appendingPathComponent("Evaluation-Files")
let evaluationOrders = evaluationFiles.appendingPathComponent("orders_stream.jsonl").path
let evaluationCatalog = evaluationFiles.appendingPathComponent("product_catalog.json").path
let evaluationInventory = evaluationFiles.appendingPathComponent("inventory_updates.csv").path
let schemasDirectory = packageRoot.appendingPathComponent("schemas", isDirectory: true)

/// One curated order as both sides report it: money as exact decimal text, time as epoch micros.
struct OrderRow: Codable, Equatable, CustomStringConvertible {
    var order_id: String
    var customer_id: String
    var event_time_us: Int64
    var event_date: String
    var channel: String
    var status: String
    var country: String
    var state: String?
    var city: String?
    var item_count: Int
    var order_total: String
    var description: String { "\(order_id) \(customer_id) \(event_time_us) \(channel) \(status) \(order_total)" }
}

struct ItemRow: Codable, Equatable, CustomStringConvertible {
    var order_id: String
    var line_number: Int
    var product_id: String
    var quantity: Int
    var unit_price: String
    var line_revenue: String
    var category: String
    var brand: String
    var list_price: String
    var description: String { "\(order_id)#\(line_number) \(product_id) \(quantity)x\(unit_price)=\(line_revenue)" }
}

/// The lake's (or the reference's) view of an orders ingest, sorted so two views compare with ==.
struct LakeView: Codable, Equatable {
    var orders: [OrderRow]
    var items: [ItemRow]
    /// reject reason → count over the raw layer (duplicates under their own reasons).
    var rejects: [String: Int]
    /// rows in raw.orders (every line received).
    var raw_rows: Int
}

/// The README rules, written from scratch in Python: parse each line with exact decimals,
/// normalise the mobile variant (customerId, ts in epoch ms), reject on the first problem in the
/// validator's documented order, first accepted occurrence of an order_id wins. Arguments:
/// catalog path, then one or more JSONL paths processed in order as if one stream.
let pythonReference = """
import json, sys, datetime, decimal
from decimal import Decimal
decimal.setcontext(decimal.Context(prec=1000, Emax=999999, Emin=-999999))
def whole(v):
    # A JSON number whose exact value is whole (2, 2.0, 1e2) as an int, else None.
    if isinstance(v, bool): return None
    if isinstance(v, int): return v
    if isinstance(v, Decimal) and v == v.to_integral_value(): return int(v)
    return None
def entry(pairs):
    # A key written twice makes the entry invalid (which value is meant is a guess).
    d = dict(pairs)
    if len(d) != len(pairs): d[None] = "duplicate key"
    return d
catalog = {}
for p in json.load(open(sys.argv[1]), parse_float=Decimal, object_pairs_hook=entry):
    if (isinstance(p, dict) and None not in p and isinstance(p.get("product_id"), str) and p["product_id"]
            and isinstance(p.get("price"), (int, Decimal)) and not isinstance(p.get("price"), bool) and p["product_id"] not in catalog):
        catalog[p["product_id"]] = p
CHANNELS = ("web", "mobile", "api"); STATUSES = ("confirmed", "pending", "cancelled")
def cents(d): return int((Decimal(d) * 100).to_integral_exact())
def money(c): return f"{'-' if c < 0 else ''}{abs(c)//100}.{abs(c)%100:02d}"
def micros(o):
    if "timestamp" in o and o["timestamp"] is not None:
        t = datetime.datetime.fromisoformat(o["timestamp"].replace("Z", "+00:00"))
        if t.tzinfo is None: raise ValueError("no zone")
        return int((t - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) / datetime.timedelta(microseconds=1))
    if "ts" in o and o["ts"] is not None:
        if whole(o["ts"]) is None: raise ValueError("not whole milliseconds")
        return whole(o["ts"]) * 1000
    return None
def reason(o):
    if not isinstance(o, dict): return "malformed_json"
    cust = o.get("customer_id", o.get("customerId"))
    for name, v in (("order_id", o.get("order_id")), ("customer_id", cust)):
        if v is None or v == "": return "missing_field"
    try: t = micros(o)
    except ValueError: return "invalid_timestamp"
    if t is None: return "missing_field"
    for name in ("channel", "status"):
        if o.get(name) in (None, ""): return "missing_field"
    if o.get("items") is None or o.get("shipping_address") is None: return "missing_field"
    if o["shipping_address"].get("country") in (None, ""): return "missing_field"
    if o["channel"] not in CHANNELS: return "invalid_channel"
    if o["status"] not in STATUSES: return "invalid_status"
    if len(o["items"]) < 1: return "missing_field"
    for it in o["items"]:
        if it.get("product_id") in (None, "") or it.get("quantity") is None or it.get("unit_price") is None: return "missing_field"
        if whole(it["quantity"]) is None or whole(it["quantity"]) < 1: return "invalid_quantity"
        it["quantity"] = whole(it["quantity"])
        if it["unit_price"] < 0: return "invalid_price"
        if it["product_id"] not in catalog: return "unknown_product"
    return None
orders, items, rejects, winners, raw_rows = {}, [], {}, {}, 0
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    lines = data.split(b"\\n")
    if data.endswith(b"\\n"): lines.pop()
    for line in lines:
        raw_rows += 1
        text = line.decode().rstrip("\\r")
        if text.strip() == "":
            r = "empty_line"; o = None
        else:
            try:
                o = json.loads(text, parse_float=Decimal); r = reason(o)
            except ValueError:
                o = None; r = "malformed_json"
        if r is None:
            a = o["shipping_address"]
            content = (o.get("customer_id", o.get("customerId")), micros(o), o["channel"], o["status"],
                       a.get("country"), a.get("state"), a.get("city"),
                       [(it["product_id"], it["quantity"], cents(it["unit_price"])) for it in o["items"]])
            if o["order_id"] in winners:
                r = "duplicate_order" if winners[o["order_id"]] == content else "conflicting_duplicate"
        if r is not None:
            rejects[r] = rejects.get(r, 0) + 1; continue
        winners[o["order_id"]] = content
        t = micros(o); a = o["shipping_address"]; total = 0
        for i, it in enumerate(o["items"]):
            rev = it["quantity"] * cents(it["unit_price"]); total += rev
            p = catalog[it["product_id"]]
            items.append(dict(order_id=o["order_id"], line_number=i + 1, product_id=it["product_id"], quantity=it["quantity"],
                              unit_price=money(cents(it["unit_price"])), line_revenue=money(rev), category=p["category"],
                              brand=p["brand"], list_price=money(cents(p["price"]))))
        orders[o["order_id"]] = dict(order_id=o["order_id"], customer_id=o.get("customer_id", o.get("customerId")),
            event_time_us=t, event_date=str(datetime.datetime.fromtimestamp(t / 1e6, datetime.timezone.utc).date()),
            channel=o["channel"], status=o["status"], country=a["country"], state=a.get("state"), city=a.get("city"),
            item_count=len(o["items"]), order_total=money(total))
print(json.dumps(dict(orders=sorted(orders.values(), key=lambda r: r["order_id"]),
                      items=sorted(items, key=lambda r: (r["order_id"], r["line_number"])),
                      rejects=rejects, raw_rows=raw_rows)))
"""

/// Reads the lake through DuckDB's ducklake extension (read-only attach) at the latest snapshot.
let duckLakeView = Python.duckdbPrelude + """
root = sys.argv[1]
con = duck()
con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
def rows(sql): 
    cur = con.execute(sql); names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]
orders = rows(\"\"\"SELECT order_id, customer_id, epoch_us(event_time) AS event_time_us, CAST(event_date AS VARCHAR) AS event_date,
    channel, status, country, state, shipping_city AS city, item_count, CAST(order_total AS VARCHAR) AS order_total
    FROM l.curated.orders ORDER BY order_id\"\"\")
items = rows(\"\"\"SELECT order_id, line_number, product_id, quantity, CAST(unit_price AS VARCHAR) AS unit_price,
    CAST(line_revenue AS VARCHAR) AS line_revenue, category, brand, CAST(list_price AS VARCHAR) AS list_price
    FROM l.curated.order_items ORDER BY order_id, line_number\"\"\")
rejects = {r: n for r, n in con.execute("SELECT reject_reason, count(*) FROM l.raw.orders WHERE reject_reason IS NOT NULL GROUP BY 1").fetchall()}
raw_rows = con.execute("SELECT count(*) FROM l.raw.orders").fetchone()[0]
print(json.dumps(dict(orders=orders, items=items, rejects=rejects, raw_rows=raw_rows)))
"""

func decodeView(_ text: String) throws -> LakeView {
    try JSONDecoder().decode(LakeView.self, from: Data(text.utf8))
}

func referenceView(orders paths: [String], catalog: String = evaluationCatalog) throws -> LakeView {
    try decodeView(try Python.run(pythonReference, [catalog] + paths))
}

func lakeView(_ root: URL) throws -> LakeView {
    try decodeView(try Python.run(duckLakeView, [root.path]))
}

/// A fresh lake with the evaluation product catalog loaded.
func lakeWithCatalog(_ dir: TemporaryDirectory, catalog: String = evaluationCatalog) throws -> LakeStore {
    let store = try LakeStore.open(root: dir.url.appendingPathComponent("lake", isDirectory: true), schemas: schemasDirectory)
    _ = try CatalogIngest.run(store, path: catalog)
    return store
}

/// Writes lines [from, to] (1-based, inclusive) of `source` to `dest`, each with its newline.
func writeLines(_ source: String, from: Int, to: Int, into dest: String) throws {
    let text = try String(contentsOfFile: source, encoding: .utf8)
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if lines.last == "" { lines.removeLast() }
    try (lines[(from - 1) ..< min(to, lines.count)].joined(separator: "\n") + "\n").write(toFile: dest, atomically: true, encoding: .utf8)
}

/// Duplicates (both kinds) summed, and the other reasons. Across batches the lake keeps only
/// the ids of committed orders, not their content, so a replay that differs from the committed
/// order is "duplicate_order" where one pass over the data would say "conflicting_duplicate".
func splitDuplicates(_ r: [String: Int]) -> (dupes: Int, other: [String: Int]) {
    let isDup = { (k: String) in k == "duplicate_order" || k == "conflicting_duplicate" }
    return (r.filter { isDup($0.key) }.values.reduce(0, +), r.filter { !isDup($0.key) })
}

/// Field-by-field comparison so a failure names the first differing order or item, not two
/// thousand-row blobs.
func expectSame(_ lake: LakeView, _ reference: LakeView, exactRejects: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) {
    // Ids as lists (a repeated id must fail), reported as what is missing/extra/repeated.
    let lakeIDs = lake.orders.map(\.order_id), refIDs = reference.orders.map(\.order_id)
    let missing = Set(refIDs).subtracting(lakeIDs), extra = Set(lakeIDs).subtracting(refIDs)
    let repeated = Dictionary(grouping: lakeIDs, by: { $0 }).filter { $0.value.count > 1 }.keys
    #expect(lakeIDs == refIDs, "\(lakeIDs.count) vs \(refIDs.count) orders; missing \(missing.sorted().prefix(5)), extra \(extra.sorted().prefix(5)), repeated \(repeated.sorted().prefix(5))",
            sourceLocation: sourceLocation)
    let refOrders = Dictionary(uniqueKeysWithValues: reference.orders.map { ($0.order_id, $0) })
    let diffOrders = lake.orders.filter { refOrders[$0.order_id] != $0 }
    #expect(diffOrders.isEmpty, "orders differing from the reference: \(diffOrders.prefix(5)) vs \(diffOrders.prefix(5).map { refOrders[$0.order_id] })",
            sourceLocation: sourceLocation)
    #expect(lake.items.count == reference.items.count, sourceLocation: sourceLocation)
    let firstItemDiff = zip(lake.items, reference.items).first { $0 != $1 }
    #expect(firstItemDiff == nil, "first item differing: \(String(describing: firstItemDiff))", sourceLocation: sourceLocation)
    if exactRejects {
        #expect(lake.rejects == reference.rejects, sourceLocation: sourceLocation)
    } else {
        #expect(splitDuplicates(lake.rejects).dupes == splitDuplicates(reference.rejects).dupes, sourceLocation: sourceLocation)
        #expect(splitDuplicates(lake.rejects).other == splitDuplicates(reference.rejects).other, sourceLocation: sourceLocation)
    }
    #expect(lake.raw_rows == reference.raw_rows, sourceLocation: sourceLocation)
}

@Suite("Ingest: evaluation files against independent peers", .serialized)
struct IngestEvaluationTests {
    @Test("curated orders and items equal a Python computation from the source; raw holds every line with its reason")
    func evaluationFilesMatchReference() throws {
        let dir = try TemporaryDirectory("ingest-eval")
        defer { dir.remove() }
        let store = try lakeWithCatalog(dir)
        let summary = try OrderIngest.run(store, path: evaluationOrders)
        let reference = try referenceView(orders: [evaluationOrders])
        let lake = try lakeView(store.root)

        // Sanity of the reference itself: the sample is known to be 1000 lines, mostly good.
        #expect(reference.raw_rows == 1000)
        #expect(reference.orders.count > 900)
        #expect(reference.rejects.values.reduce(0, +) == 1000 - reference.orders.count)

        expectSame(lake, reference)
        // The summary the CLI prints agrees with what is in the lake.
        #expect(summary.records == 1000)
        #expect(summary.accepted == Int64(lake.orders.count))
        #expect(summary.rejects == lake.rejects.mapValues(Int64.init))
        #expect(summary.quarantined + summary.duplicates + summary.accepted == 1000)
        // Mobile variant lines were accepted and normalised (customerId → customer_id, ts ms → micros).
        let mobileVariant = try String(contentsOfFile: evaluationOrders, encoding: .utf8)
            .split(separator: "\n").filter { $0.contains("\"customerId\"") }.count
        #expect(mobileVariant > 0)
    }

    @Test("re-ingesting the same file adds nothing and says so")
    func reingestIsNoOp() throws {
        let dir = try TemporaryDirectory("ingest-again")
        defer { dir.remove() }
        let store = try lakeWithCatalog(dir)
        let first = try OrderIngest.run(store, path: evaluationOrders)
        #expect(first.snapshotID != nil)
        let before = try lakeView(store.root)
        let snapshots = try store.catalog.snapshots().count
        let again = try OrderIngest.run(store, path: evaluationOrders)
        #expect(again.alreadyIngestedAt == first.snapshotID)
        #expect(again.snapshotID == nil && again.accepted == 0 && again.records == 0)
        #expect(try store.catalog.snapshots().count == snapshots)
        #expect(try lakeView(store.root) == before)
    }

    @Test("two overlapping files end with each order once, equal to the single-file result")
    func overlappingFilesAreExactlyOnce() throws {
        let dir = try TemporaryDirectory("ingest-overlap")
        defer { dir.remove() }
        let a = dir.file("part-a.jsonl"), b = dir.file("part-b.jsonl")
        try writeLines(evaluationOrders, from: 1, to: 600, into: a)
        try writeLines(evaluationOrders, from: 400, to: 1000, into: b)
        let store = try lakeWithCatalog(dir)
        let sa = try OrderIngest.run(store, path: a)
        let sb = try OrderIngest.run(store, path: b)
        #expect(sa.records == 600 && sb.records == 601)

        let lake = try lakeView(store.root)
        let single = try referenceView(orders: [evaluationOrders])
        // Each order exactly once, and the same orders/items/totals as one clean ingest of the whole file.
        #expect(Set(lake.orders.map(\.order_id)).count == lake.orders.count)
        // Compared as Bools so a failure prints a count, not two thousand-row arrays.
        let sameOrders = lake.orders == single.orders, sameItems = lake.items == single.items
        #expect(sameOrders, "\(lake.orders.count) orders vs \(single.orders.count) in one clean pass")
        #expect(sameItems, "\(lake.items.count) items vs \(single.items.count) in one clean pass")
        // Raw keeps every line received (the overlap twice); the reference run over a then b
        // as one stream has the same rejects up to the kind of duplicate (see splitDuplicates).
        #expect(lake.raw_rows == 1201)
        let stream = try referenceView(orders: [a, b])
        let streamSame = stream.orders == single.orders
        #expect(streamSame)
        expectSame(lake, stream, exactRejects: false)
        let split = splitDuplicates
        #expect(split(stream.rejects).dupes > split(single.rejects).dupes)  // the overlap really replayed orders
    }

    @Test("the dedupe set comes from the catalog's key runs; a lake without them, or with a damaged one, is read from its files and gets a baseline")
    func orderIDRunsCoverTheTable() throws {
        let dir = try TemporaryDirectory("ingest-key-runs")
        defer { dir.remove() }
        let parts = [(1, 400), (300, 700), (600, 850), (800, 1000)].enumerated().map { i, r in
            let path = dir.file("part-\(i).jsonl")
            return (path, r)
        }
        for (path, r) in parts { try writeLines(evaluationOrders, from: r.0, to: r.1, into: path) }
        let store = try lakeWithCatalog(dir)
        func runs() throws -> KeyRuns {
            let latest = try store.catalog.latestSnapshot().id
            let t = try store.catalog.table(schema: "curated", name: "orders", at: .snapshot(latest))
            return try store.catalog.keyRuns(tableID: t.tableID, column: "order_id", at: latest)
        }
        func manifest(_ sql: String) throws {
            _ = try Python.run("import sqlite3, sys\nc = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()",
                               [store.root.appendingPathComponent("manifest.sqlite").path, sql])
        }
        _ = try OrderIngest.run(store, path: parts[0].0)
        _ = try OrderIngest.run(store, path: parts[1].0)
        var r = try runs()
        #expect(r.runs.count == 2 && r.coverTable && r.tableRows > 0)

        // A lake from before key runs: the ids are read from the data files, the overlap is
        // still caught, and the commit stores one baseline covering the whole table.
        try manifest("DELETE FROM lake_key_run")
        let third = try OrderIngest.run(store, path: parts[2].0)
        #expect(third.duplicates > 0)
        r = try runs()
        #expect(r.runs.count == 1 && r.coverTable)

        // A damaged run is not trusted either; compaction in between keeps the runs valid.
        _ = try Compaction.run(store.catalog)
        #expect(try runs().coverTable)
        try manifest("UPDATE lake_key_run SET payload = x'28b52ffd00'")
        let fourth = try OrderIngest.run(store, path: parts[3].0)
        #expect(fourth.duplicates > 0)
        r = try runs()
        #expect(r.runs.count == 1 && r.coverTable)

        // Whichever path each batch took, every order is there once: the one-pass result.
        let lake = try lakeView(store.root)
        let single = try referenceView(orders: [evaluationOrders])
        #expect(Set(lake.orders.map(\.order_id)).count == lake.orders.count)
        let same = lake.orders == single.orders
        #expect(same, "\(lake.orders.count) orders vs \(single.orders.count) in one clean pass")
    }
}
