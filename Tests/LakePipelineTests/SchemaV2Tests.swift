import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

// Orders schema v2 end to end: the validator's new columns and reject reasons, the refusal of a
// v2 source by a v1 lake, migration then ingest, time travel and DuckDB through the DuckLake
// attach after migrate, compact and vacuum.

@Suite("Schema v2: validation")
struct SchemaV2ValidationTests {
    var catalog: ProductCatalog {
        get throws { try ProductCatalogParser.parse(path: TestSupport.evaluationFiles + "/product_catalog.json").catalog }
    }

    /// goodLine (one item, 2 x 29.99 = 59.98) with its id replaced and `extra` members appended.
    func line(_ id: String, _ extra: String = "") -> String {
        let base = goodLine.replacingOccurrences(of: "ORD-1", with: id)
        return extra.isEmpty ? base : String(base.dropLast()) + ", " + extra + "}"
    }

    func validate(_ lines: [String], rules: OrderRules) throws -> (ValidatedOrders, SchemaBehindLine?) {
        var v = OrderValidator(rules: rules, catalog: try catalog, batchID: "t", sourceFile: "v2.jsonl", ingestTimeMicros: 1_706_745_600_000_000)
        for (i, l) in lines.enumerated() {
            let bytes = Array(l.utf8)
            bytes.withUnsafeBytes { v.add($0, lineNumber: i + 1, byteOffset: 0) }
        }
        return (v.drain(), v.schemaBehind)
    }

    @Test("each v2 field has its reject reason, with the exact problem in the detail")
    func newRejectReasons() throws {
        let cases: [(String, RejectReason, String)] = [
            (line("C1", #""currency": "usd""#), .invalidCurrency, #"currency "usd" is not an ISO 4217 code"#),
            (line("C2", #""currency": "US""#), .invalidCurrency, #"currency "US""#),
            (line("C3", #""currency": "EURO""#), .invalidCurrency, #"currency "EURO""#),
            (line("C4", #""currency": """#), .invalidCurrency, #"currency """#),
            (line("C5", #""currency": 840"#), .invalidType, "currency must be a string"),
            (line("D1", #""discount_amount": -1.00"#), .invalidDiscount, "discount_amount -1.00 is below 0.00"),
            (line("D2", #""discount_amount": 59.99"#), .invalidDiscount, "discount_amount 59.99 exceeds the order total 59.98"),
            (line("D3", #""discount_amount": 1.005"#), .invalidDiscount, "discount_amount 1.005 is not a decimal with at most 2 decimal places"),
            (line("D4", #""discount_amount": "5.00""#), .invalidDiscount, "discount_amount (a string)"),
            (line("P1", #""payment_method": "cash""#), .invalidPaymentMethod, #"payment_method "cash" is not one of card, paypal, bank_transfer, gift_card"#),
            (line("P2", #""payment_method": "Card""#), .invalidPaymentMethod, #"payment_method "Card""#),
        ]
        let ok = [
            line("OK1", #""currency": "EUR", "discount_amount": 59.98, "payment_method": "gift_card""#),  // discount = total is allowed
            line("OK2"),                                                                              // a v1 line: defaults
            line("OK3", #""currency": null, "discount_amount": null, "payment_method": null"#),       // null reads as absent
            line("OK4", #""discount_amount": 0.5, "payment_method": "bank_transfer""#),
        ]
        let (v, behind) = try validate(cases.map(\.0) + ok, rules: TestSupport.rules())
        #expect(behind == nil)
        #expect(TestSupport.strings(v.raw, "reject_reason") == cases.map { $0.1.rawValue } + [nil, nil, nil, nil])
        let details = TestSupport.strings(v.raw, "reject_detail")
        for (i, c) in cases.enumerated() {
            #expect(details[i]?.contains("v2.jsonl line \(i + 1): ") == true && details[i]?.contains(c.2) == true, "\(details[i] ?? "nil")")
        }
        #expect(v.rejects[.invalidCurrency] == 4 && v.rejects[.invalidDiscount] == 4 && v.rejects[.invalidPaymentMethod] == 2)
        // Every line stays in raw as received.
        #expect(TestSupport.strings(v.raw, "line") == cases.map(\.0) + ok)

        #expect(v.orders.schema.fields.map(\.name) == ["order_id", "customer_id", "event_time", "event_date", "channel", "status", "country",
                                                       "state", "shipping_city", "item_count", "order_total", "units",
                                                       "currency", "discount_amount", "payment_method"])
        #expect(v.orders.schema.fields.map(\.fieldID) == (1 ... 15).map { Int32($0) })
        #expect(TestSupport.strings(v.orders, "order_id") == ["OK1", "OK2", "OK3", "OK4"])
        #expect(TestSupport.strings(v.orders, "currency") == ["EUR", "USD", "USD", "USD"])
        #expect(TestSupport.int64s(v.orders, "discount_amount") == [5998, 0, 0, 50])
        #expect(TestSupport.strings(v.orders, "payment_method") == ["gift_card", nil, nil, "bank_transfer"])
        #expect(TestSupport.strings(v.orders, "shipping_city") == Array(repeating: "San Francisco", count: 4))
        #expect(TestSupport.int64s(v.orders, "order_total") == [5998, 5998, 5998, 5998])  // the total stays gross
    }

    @Test("a resend with different v2 values is a conflicting duplicate, an identical one a duplicate")
    func v2FieldsAreOrderContent() throws {
        let a = line("X", #""currency": "EUR", "discount_amount": 1.00"#)
        let (v, _) = try validate([a, a, line("X", #""currency": "GBP", "discount_amount": 1.00"#), line("X", #""currency": "EUR", "discount_amount": 2.00"#)],
                                  rules: TestSupport.rules())
        #expect(TestSupport.strings(v.raw, "reject_reason") == [nil, "duplicate_order", "conflicting_duplicate", "conflicting_duplicate"])
    }

    @Test("rules for a v1 lake emit v1 rows and stop at the first line with a v2 field, naming it")
    func v1OutputStopsAtAV2Line() throws {
        let v1 = try OrderRules(registry: TestSupport.registry(), versions: ["orders": 1])
        #expect(v1.versions == ["raw_orders": 2, "orders": 1, "order_items": 1])
        let (ok, none) = try validate([line("A"), line("B")], rules: v1)
        #expect(none == nil)
        #expect(ok.orders.schema.fields.map(\.name).contains("city") && !ok.orders.schema.fields.map(\.name).contains("currency"))
        #expect(TestSupport.strings(ok.orders, "city") == ["San Francisco", "San Francisco"])

        let (_, behind) = try validate([line("A"), line("B", #""payment_method": null"#), line("C", #""currency": "EUR""#)], rules: v1)
        #expect(behind == SchemaBehindLine(lineNumber: 2, field: "payment_method", outputVersion: 1, neededVersion: 2))

        let path = try TestSupport.tempDir() + "/orders.jsonl"
        try ([line("A"), line("B"), line("C", #""discount_amount": 0.00"#)].joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: IngestError.schemaBehind(source: "orders.jsonl", line: 3, field: "discount_amount", table: "orders", lakeVersion: 1, sourceVersion: 2)) {
            try OrderValidator.validateFile(path: path, rules: v1, catalog: try catalog, batchID: "t", ingestTimeMicros: 0) { _ in }
        }
    }
}

/// A lake created before v2 shipped (every table at v1) holding the first half of a generated
/// v1 stream, plus the second half of the same stream generated as v2 (`lake generate
/// --schema-version 2`): the same orders, so the halves never share an order id.
struct V2Lake {
    let dir: TemporaryDirectory
    /// The lake opened with the live registry (orders v2 registered, the lake still at v1).
    let store: LakeStore
    let v1Half: String, v2Half: String
    let v1Count: Int, v2Count: Int
    var catalog: Catalog { store.catalog }
    var lakeRoot: String { dir.url.appendingPathComponent("lake").path }

    init() throws {
        dir = try TemporaryDirectory("schema-v2")
        var lines: [Int: [Substring]] = [:]
        for v in [1, 2] {
            // One day: both halves in the same partitions, so compaction merges v1-era and v2 files.
            lines[v] = try generatedOrderLines(orders: 400, days: 1, schemaVersion: v, into: dir.file("gen-v\(v)"))
        }
        let half = lines[1]!.count / 2
        v1Half = dir.file("orders_v1.jsonl")
        v2Half = dir.file("orders_v2.jsonl")
        try (lines[1]![..<half].joined(separator: "\n") + "\n").write(toFile: v1Half, atomically: true, encoding: .utf8)
        try (lines[2]![half...].joined(separator: "\n") + "\n").write(toFile: v2Half, atomically: true, encoding: .utf8)
        v1Count = half
        v2Count = lines[2]!.count - half
        let old = try LakeStore.open(root: dir.url.appendingPathComponent("lake"), schemas: try registryV1Copy(dir))
        _ = try CatalogIngest.run(old, path: dir.file("gen-v1/product_catalog.json"))
        let s = try OrderIngest.run(old, path: v1Half)
        guard s.accepted == half else { throw TestFailure("v1 half: \(s.accepted) of \(half) accepted: \(s.rejects)") }
        store = LakeStore(catalog: old.catalog, registry: try liveRegistry())
    }

    /// Rows of a table at a snapshot through our reader (by field id, with defaults), as text:
    /// decimals with their scale, null as nil; sorted.
    func ours(_ qualified: String, _ columns: [String], at snapshot: Int64) throws -> [[String?]] {
        let parts = qualified.split(separator: ".").map(String.init)
        let table = try catalog.table(schema: parts[0], name: parts[1], at: .snapshot(snapshot))
        let schema = try table.schema()
        var rows: [[String?]] = []
        for f in try catalog.dataFiles(tableID: table.tableID, at: .snapshot(snapshot)) {
            for b in try FileRows.read(f, table: table, schema: schema, files: catalog.files) {
                let cols = try columns.map { name -> (Column, ColumnType) in
                    guard let i = schema.index(of: name) else { throw TestFailure("\(qualified) has no column \(name) at snapshot \(snapshot)") }
                    return (b.columns[i], schema.fields[i].type)
                }
                for r in 0 ..< b.count {
                    rows.append(cols.map { c, type in
                        if c.isNull(r) { return nil }
                        switch (c.data, type) {
                        case (.int64(let v), .decimal(_, let scale)): return DecimalText.format(v[r], scale: scale)
                        case (.int64(let v), _): return String(v[r])
                        case (.int32(let v), .date): return StatText.date(days: v[r])
                        case (.int32(let v), _): return String(v[r])
                        default: return c.string(at: r)
                        }
                    })
                }
            }
        }
        return sorted(rows)
    }

    /// The same through DuckDB's ducklake extension (read-only attach), `AT (VERSION => n)`.
    func duck(_ qualified: String, _ columns: [String], at snapshot: Int64?) throws -> [[String?]] {
        let at = snapshot.map { " AT (VERSION => \($0))" } ?? ""
        return sorted(try duckSQL("SELECT \(columns.joined(separator: ", ")) FROM l.\(qualified)\(at)"))
    }

    func duckSQL(_ sql: String) throws -> [[String?]] {
        let script = Python.duckdbPrelude + """
        con = duck()
        con.execute("ATTACH 'ducklake:sqlite:\(lakeRoot)/manifest.sqlite' AS l (DATA_PATH '\(lakeRoot)/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
        rows = con.execute(sys.argv[1]).fetchall()
        print(json.dumps([[None if v is None else str(v) for v in r] for r in rows]))
        """
        let out = try Python.json(script, [sql]) as? [[Any]] ?? []
        return out.map { $0.map { $0 as? String } }
    }

    func sorted(_ rows: [[String?]]) -> [[String?]] {
        rows.sorted { a, b in a.map { $0 ?? "\u{0}" }.joined(separator: "\u{1}") < b.map { $0 ?? "\u{0}" }.joined(separator: "\u{1}") }
    }

    /// An independent reading of the v2 half in Python: order_id, currency (USD when absent),
    /// discount (exact, 0.00 when absent), payment method (null when absent), city.
    func expectedV2Rows() throws -> [[String?]] {
        let script = """
        import json, sys
        from decimal import Decimal
        out = []
        for line in open(sys.argv[1], encoding="utf-8"):
            o = json.loads(line, parse_float=Decimal)
            d = o.get("discount_amount")
            out.append([o["order_id"], o.get("currency") or "USD", str(Decimal(d if d is not None else 0).quantize(Decimal("0.01"))),
                        o.get("payment_method"), o["shipping_address"].get("city")])
        print(json.dumps(out))
        """
        let out = try Python.json(script, [v2Half]) as? [[Any]] ?? []
        return sorted(out.map { $0.map { $0 as? String } })
    }
}

@Suite("Schema v2: ingest, migrate, time travel, DuckDB", .serialized)
struct SchemaV2LakeTests {
    @Test("a v2 source into a v1 lake is refused with the command to run; nothing is committed (file and --follow)")
    func v2SourceIntoV1LakeIsRefused() throws {
        let lake = try V2Lake()
        defer { lake.dir.remove() }
        let before = try lake.catalog.latestSnapshot().id
        let runs = try lake.catalog.ingestRuns().count
        let expected = IngestError.schemaBehind(source: "orders_v2.jsonl", line: 1, field: "currency", table: "orders", lakeVersion: 1, sourceVersion: 2)
        do {
            let s = try OrderIngest.run(lake.store, path: lake.v2Half)
            Issue.record("v2 source accepted by a v1 lake: \(s.accepted) orders")
        } catch let e as IngestError {
            #expect(e == expected)
            #expect("\(e)".contains("orders_v2.jsonl line 1: field currency belongs to orders schema v2, but the lake's orders table is at v1"))
            #expect("\(e)".contains("`lake schema migrate orders --to 2`") && "\(e)".contains("nothing was committed"))
        }
        #expect(try lake.catalog.latestSnapshot().id == before)
        #expect(try lake.catalog.ingestRuns().count == runs)
        #expect(try lake.catalog.ledgerEntry(kind: .orders, identity: ContentHash.file(lake.v2Half)) == nil)

        var options = StreamOptions()
        options.stopAtEnd = true
        #expect(throws: expected) { try StreamIngest.follow(lake.store, path: lake.v2Half, options: options, stop: StopFlag()) }
        #expect(try lake.catalog.latestSnapshot().id == before)
        #expect(try lake.catalog.streamCheckpoint(source: URL(fileURLWithPath: lake.v2Half).standardizedFileURL.path) == nil)

        // The lake is still at v1 and a v1 source is still welcome.
        let orders = try lake.catalog.table(schema: "curated", name: "orders")
        #expect(try lake.catalog.tableSchemaVersion(tableID: orders.tableID)?.version == 1)
    }

    @Test("migrate --to 2, then the v2 source is accepted: new values from the source, old rows read the defaults; time travel and DuckDB agree after compact and vacuum",
          arguments: [false, true])
    func migrateThenIngestV2(rewrite: Bool) throws {
        let lake = try V2Lake()
        defer { lake.dir.remove() }
        let s0 = try lake.catalog.latestSnapshot().id
        let v1Cols = ["order_id", "city", "order_total"]
        let oldRows = try lake.ours("curated.orders", v1Cols, at: s0)
        #expect(oldRows.count == lake.v1Count)
        #expect(try lake.duck("curated.orders", v1Cols, at: s0) == oldRows)

        let dry = try Migration.run(lake.store, table: "orders", to: 2, rewrite: rewrite, dryRun: true)
        #expect(dry.snapshotID == nil && dry.plan.steps.count == 4)
        #expect(try lake.catalog.latestSnapshot().id == s0)
        let s1 = try #require(try Migration.run(lake.store, table: "orders", to: 2, rewrite: rewrite).snapshotID)

        let summary = try OrderIngest.run(lake.store, path: lake.v2Half)
        #expect(summary.accepted == lake.v2Count && summary.rejects.isEmpty, "\(summary.rejects)")
        let s2 = try #require(summary.snapshotID)
        #expect(s2 == s1 + 1)
        // The new files are written in v2: 15 columns, shipping_city at id 9.
        let table = try lake.catalog.table(schema: "curated", name: "orders")
        let newFiles = try lake.catalog.dataFiles(tableID: table.tableID).filter { $0.beginSnapshot == s2 }
        #expect(!newFiles.isEmpty)
        for f in newFiles {
            let reader = try ParquetFileReader(path: f.url.path)
            #expect(reader.schema.fields.map(\.fieldID) == (1 ... 15).map { Int32($0) })
            #expect(reader.schema.fields[8].name == "shipping_city")
        }

        // Current snapshot: v2 rows carry the source's values (checked against Python), v1 rows the defaults.
        let v2Cols = ["order_id", "currency", "discount_amount", "payment_method", "shipping_city"]
        let expectedNew = try lake.expectedV2Rows()
        #expect(expectedNew.count == lake.v2Count)
        #expect(expectedNew.contains { $0[1] != "USD" } && expectedNew.contains { $0[2] != "0.00" } && expectedNew.contains { $0[3] == nil })
        let expectedOld = oldRows.map { [$0[0], "USD", "0.00", nil, $0[1]] }
        let current = try lake.ours("curated.orders", v2Cols, at: s2)
        #expect(current == lake.sorted(expectedNew + expectedOld))
        #expect(try lake.duck("curated.orders", v2Cols, at: nil) == current)
        // Revenue stays the gross order_total: the old rows' totals did not move.
        let totals = Dictionary(uniqueKeysWithValues: try lake.ours("curated.orders", ["order_id", "order_total"], at: s2).map { ($0[0]!, $0[1]) })
        #expect(oldRows.allSatisfy { totals[$0[0]!] == $0[2] })

        // Time travel: before the migration the table is v1 (city, no currency) with the old data only.
        let v1Table = try lake.catalog.table(schema: "curated", name: "orders", at: .snapshot(s0))
        #expect(v1Table.column(named: "city")?.columnID == 9 && v1Table.column(named: "currency") == nil && v1Table.columns.count == 12)
        #expect(try lake.ours("curated.orders", v1Cols, at: s0) == oldRows)
        #expect(try lake.duck("curated.orders", v1Cols, at: s0) == oldRows)
        #expect(throws: (any Error).self) { try lake.duck("curated.orders", ["currency"], at: s0) }
        // Right after the migration: v2 schema, old data with the defaults.
        #expect(try lake.duck("curated.orders", v2Cols, at: s1) == lake.sorted(expectedOld))
        #expect(try lake.ours("curated.orders", v2Cols, at: s1) == lake.sorted(expectedOld))

        // Every table, ours vs DuckDB, at each snapshot, through compact and vacuum.
        let checks: [(String, [String])] = [
            ("curated.orders", ["order_id", "customer_id", "channel", "status", "event_date", "order_total", "units"]),
            ("curated.order_items", ["order_id", "line_number", "product_id", "quantity", "unit_price", "line_revenue"]),
            ("raw.orders", ["source_file", "line_number", "byte_offset", "order_id", "reject_reason", "line"]),
        ]
        func agree(at snapshot: Int64, current: Bool = false) throws {
            for (t, cols) in checks {
                let o = try lake.ours(t, cols, at: snapshot)
                #expect(!o.isEmpty)
                #expect(try lake.duck(t, cols, at: current ? nil : snapshot) == o, "\(t) at \(snapshot)")
            }
        }
        var options = CompactionOptions()
        options.minFiles = 2
        let compacted = try Compaction.run(lake.catalog, options: options)
        let s3 = try lake.catalog.latestSnapshot().id
        #expect(compacted.snapshotID == s3 && s3 == s2 + 1 && compacted.filesAfter < compacted.filesBefore)
        _ = try lake.catalog.vacuum(retain: 3600)  // keeps every snapshot: time travel still works
        for s in [s0, s1, s2] { try agree(at: s) }
        try agree(at: s3, current: true)
        #expect(try lake.ours("curated.orders", v2Cols, at: s3) == current)
        #expect(try lake.duck("curated.orders", v2Cols, at: s2) == current)
        #expect(try lake.duck("curated.orders", v1Cols, at: s0) == oldRows)
        _ = try lake.catalog.vacuum(retain: 0)  // only the latest snapshot survives
        try agree(at: s3, current: true)
        #expect(try lake.duck("curated.orders", v2Cols, at: nil) == current)
        #expect(try lake.ours("raw.orders", ["line_number"], at: s3).count == lake.v1Count + lake.v2Count)
    }

    @Test("a new lake creates orders at the latest registry version; a v1 source reads the defaults")
    func newLakeIsCreatedAtLatest() throws {
        let dir = try TemporaryDirectory("schema-v2-new")
        defer { dir.remove() }
        let store = try LakeStore.open(root: dir.url.appendingPathComponent("lake"), schemas: packageRoot.appendingPathComponent("schemas"))
        let input = packageRoot.appendingPathComponent("Evaluation-Files")
        _ = try CatalogIngest.run(store, path: input.appendingPathComponent("product_catalog.json").path)
        let s = try OrderIngest.run(store, path: input.appendingPathComponent("orders_stream.jsonl").path)
        let orders = try store.catalog.table(schema: "curated", name: "orders")
        #expect(try store.catalog.tableSchemaVersion(tableID: orders.tableID)?.version == 2)
        #expect(orders.columns.map(\.columnID) == (1 ... 15).map { Int64($0) })
        let raw = try store.catalog.table(schema: "raw", name: "orders")
        #expect(try store.catalog.tableSchemaVersion(tableID: raw.tableID)?.version == 2)
        let items = try store.catalog.table(schema: "curated", name: "order_items")
        #expect(try store.catalog.tableSchemaVersion(tableID: items.tableID)?.version == 1)
        // Migrating to the version the lake is at changes nothing (a retry after a crash is safe); below it is refused.
        let snapshots = try store.catalog.latestSnapshot().id
        let again = try Migration.run(store, table: "orders", to: 2)
        #expect(try again.alreadyApplied && again.snapshotID == nil && again.plan.steps.isEmpty && store.catalog.latestSnapshot().id == snapshots)
        #expect(throws: MigrationError.notForward(table: "curated.orders", from: 2, to: 1)) { try Migration.run(store, table: "orders", to: 1) }
        let rows = try Python.json(Python.duckdbPrelude + """
        con = duck()
        root = sys.argv[1]
        con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
        print(json.dumps([str(v) for v in con.execute("SELECT count(*), count(*) FILTER (WHERE currency = 'USD'), sum(discount_amount), count(payment_method) FROM l.curated.orders").fetchone()]))
        """, [store.root.path]) as? [String]
        #expect(rows == [String(s.accepted), String(s.accepted), "0.00", "0"])
    }
}
