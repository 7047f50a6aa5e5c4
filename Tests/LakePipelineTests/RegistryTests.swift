import Foundation
import LakeFormat
import Testing
@testable import LakePipeline

@Suite struct RegistryTests {
    @Test func sha256KnownAnswers() {
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func loadsEveryTableWithStableFieldIDs() throws {
        let reg = try TestSupport.registry()
        #expect(reg.tableNames == ["inventory", "order_items", "orders", "products", "raw_inventory", "raw_orders", "raw_products"])
        let orders = try reg.schema("orders", version: 1)
        #expect(orders.lakeSchema.fields == [
            Field("order_id", .string, fieldID: 1), Field("customer_id", .string, fieldID: 2),
            Field("event_time", .timestamp, fieldID: 3), Field("event_date", .date, fieldID: 4),
            Field("channel", .string, fieldID: 5), Field("status", .string, fieldID: 6), Field("country", .string, fieldID: 7),
            Field("state", .string, nullable: true, fieldID: 8), Field("city", .string, nullable: true, fieldID: 9),
            Field("item_count", .int32, fieldID: 10), Field("order_total", .decimal(precision: 18, scale: 2), fieldID: 11),
            Field("units", .int32, fieldID: 12),
        ])
        #expect(orders.partitionBy == ["event_date", "channel"])
        // v2 (the latest): same ids 1-12 with city renamed at id 9, then currency, discount, payment method.
        let v2 = try reg.schema("orders")
        #expect(v2.version == 2)
        #expect(v2.columns.map(\.id) == (1 ... 15).map { Int32($0) })
        #expect(v2.columns[8].name == "shipping_city")
        #expect(v2.columns.suffix(3).map(\.name) == ["currency", "discount_amount", "payment_method"])
        #expect(v2.column("currency")?.defaultValue == "USD" && v2.column("discount_amount")?.defaultValue == "0.00")
        #expect(v2.column("payment_method")?.nullable == true && v2.column("payment_method")?.defaultValue == nil)
        #expect(reg.versions("raw_orders") == [1, 2])
        #expect(try reg.schema("raw_orders", version: 2).lakeSchema == reg.schema("raw_orders", version: 1).lakeSchema)
        let items = try reg.schema("order_items", version: 1)
        #expect(items.columns.map(\.name) == ["order_id", "line_number", "product_id", "quantity", "unit_price", "line_revenue",
                                              "category", "brand", "list_price", "event_time", "event_date", "channel", "status"])
        let raw = try reg.schema("raw_orders")
        #expect(raw.source?.field("customer_id")?.aliases.map(\.name) == ["customerId"])
        #expect(raw.source?.field("timestamp")?.aliases.first?.conversion == .epochMillis)
        #expect(raw.source?.field("items")?.field("quantity")?.constraints.min == "1")
        #expect(raw.source?.field("items")?.field("product_id")?.constraints.references == "products.product_id")
        #expect(raw.source?.field("channel")?.constraints.enumValues == ["web", "mobile", "api"])
        #expect(throws: RegistryError.unknownVersion(table: "orders", version: 9, known: [1, 2])) { try reg.schema("orders", version: 9) }
        #expect(throws: RegistryError.self) { try reg.schema("nope") }
    }

    func registryCopy(_ name: String = #function) throws -> String {
        let dir = try TestSupport.tempDir(name) + "/schemas"
        try FileManager.default.copyItem(atPath: TestSupport.root + "/schemas", toPath: dir)
        return dir
    }

    func rewrite(_ path: String, _ edit: (String) -> String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try edit(text).write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func fingerprintIgnoresFormattingButNotMeaning() throws {
        let dir = try registryCopy()
        let before = try SchemaRegistry.load(directory: dir).schema("orders", version: 1).fingerprint
        #expect(before.count == 64)
        try rewrite(dir + "/orders/v1.json") { $0.replacingOccurrences(of: "\n", with: "\n  \t").replacingOccurrences(of: "{\"id\"", with: "{ \"id\"") }
        #expect(try SchemaRegistry.load(directory: dir).schema("orders", version: 1).fingerprint == before)
        try rewrite(dir + "/orders/v1.json") { $0.replacingOccurrences(of: #""name": "state", "type": "string", "nullable": true"#,
                                                                        with: #""name": "state", "type": "string", "nullable": false"#) }
        let after = try SchemaRegistry.load(directory: dir).schema("orders", version: 1)
        #expect(after.column("state")?.nullable == false)
        #expect(after.fingerprint != before)
    }

    @Test func badDefinitionsFailWithTheFileNamed() throws {
        let cases: [(String, (String) -> String, String)] = [
            ("orders", { $0.replacingOccurrences(of: #""id": 2,"#, with: #""id": 1,"#) }, "column id 1 is used twice"),
            ("orders", { $0.replacingOccurrences(of: #""type": "int32""#, with: #""type": "int33""#) }, "unknown type"),
            ("orders", { $0.replacingOccurrences(of: #""partition_by": ["event_date", "channel"]"#, with: #""partition_by": ["day"]"#) },
             "partition column 'day' is not a column"),
            ("orders", { $0.replacingOccurrences(of: #""version": 1"#, with: #""version": 2"#) }, "but the file is v1.json"),
            ("orders", { $0.replacingOccurrences(of: #""min": "0""#, with: #""min": 0"#) }, "must be decimal text"),
            ("raw_orders", { $0.replacingOccurrences(of: #""conversion": "epoch_millis""#, with: #""conversion": "epoch_weeks""#) },
             "unknown conversion"),
            ("products", { String($0.dropLast(3)) }, "not valid JSON"),
        ]
        for (table, edit, message) in cases {
            let dir = try registryCopy("bad\(message.filter(\.isLetter))")
            try rewrite(dir + "/\(table)/v1.json", edit)
            do {
                _ = try SchemaRegistry.load(directory: dir)
                Issue.record("expected an error containing \(message)")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
                #expect("\(error)".contains("\(table)/v1.json"))
            }
        }
    }

    /// Session 28's bug hunt: a v3 that dropped a column and a v4 that gave its id to a new
    /// column loaded fine; once a vacuum had forgotten the dropped column, the migration to v4
    /// took the id and every file written before the drop read the dropped column's values as
    /// the new one's. The registry now refuses such a version when it loads.
    @Test func aDroppedColumnsIDIsRefusedInALaterVersion() throws {
        let dir = try registryCopy("reused-id")
        let v2 = try String(contentsOfFile: dir + "/orders/v2.json", encoding: .utf8)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(v2.utf8)) as? [String: Any])
        let columns = try #require(object["columns"] as? [[String: Any]])
        let last = try #require(columns.max { ($0["id"] as? Int ?? 0) < ($1["id"] as? Int ?? 0) })
        let lastID = try #require(last["id"] as? Int), lastName = try #require(last["name"] as? String)
        func write(_ version: Int, _ columns: [[String: Any]]) throws {
            var o = object
            o["version"] = version
            o["columns"] = columns
            try JSONSerialization.data(withJSONObject: o).write(to: URL(fileURLWithPath: dir + "/orders/v\(version).json"))
        }
        let kept = columns.filter { $0["id"] as? Int != lastID }
        try write(3, kept)
        _ = try SchemaRegistry.load(directory: dir)
        try write(4, kept + [["id": lastID, "name": "gift_note", "type": "string", "nullable": true]])
        #expect {
            _ = try SchemaRegistry.load(directory: dir)
        } throws: { error in
            let text = "\(error)"
            return text.contains("orders/v4.json") && text.contains("column 'gift_note' has id \(lastID), the id of '\(lastName)', which v3 dropped")
                && text.contains("e.g. \(lastID + 1)")
        }
        try write(4, kept + [["id": lastID + 1, "name": "gift_note", "type": "string", "nullable": true]])
        #expect(try SchemaRegistry.load(directory: dir).schema("orders").column("gift_note") != nil)
    }

    @Test func orderRulesComeFromTheRegistry() throws {
        let rules = try TestSupport.rules()
        #expect(rules.channels == ["web", "mobile", "api"])
        #expect(rules.quantityMin == 1)
        #expect(rules.priceMinCents == 0)
        #expect(rules.fingerprints["orders"] == (try TestSupport.registry().schema("orders").fingerprint))

        let dir = try registryCopy()
        // A new alias in the registry is honoured without code changes.
        // The source fields come from the latest raw_orders version (v2).
        try rewrite(dir + "/raw_orders/v2.json") { $0.replacingOccurrences(of: #""aliases": [{"name": "customerId", "note": "mobile app v2"}]"#,
                                                                            with: #""aliases": [{"name": "customerId"}, {"name": "cust"}]"#) }
        let custom = try OrderRules(registry: SchemaRegistry.load(directory: dir))
        let parsed = try TestSupport.parse(goodLine.replacingOccurrences(of: "customer_id", with: "cust"), map: custom.fieldMap).get()
        #expect(parsed.string(parsed.customerID) == "CUST-9")

        try rewrite(dir + "/raw_orders/v2.json") { $0.replacingOccurrences(of: #"{"name": "order_id", "type": "string", "required": true}"#,
                                                                            with: #"{"name": "order_id", "type": "string", "required": false}"#) }
        #expect(throws: OrderRulesError.self) { try OrderRules(registry: SchemaRegistry.load(directory: dir)) }
        try rewrite(dir + "/orders/v1.json") { $0.replacingOccurrences(of: #""name": "city""#, with: #""name": "town""#) }
        try rewrite(dir + "/raw_orders/v2.json") { $0.replacingOccurrences(of: #"{"name": "order_id", "type": "string", "required": false}"#,
                                                                            with: #"{"name": "order_id", "type": "string", "required": true}"#) }
        #expect(throws: OrderRulesError.columnMismatch(table: "orders", problem: "column 'town' is registered but the pipeline does not produce it")) {
            try OrderRules(registry: SchemaRegistry.load(directory: dir), versions: ["orders": 1])
        }
        // The output follows the version asked for (the lake's), the latest by default.
        let reg = try TestSupport.registry()
        #expect(try OrderRules(registry: reg).ordersSchema.fields.map(\.name).contains("shipping_city"))
        #expect(try OrderRules(registry: reg, versions: ["orders": 1]).ordersSchema.fields.map(\.name).contains("city"))
        // A v2 source field that must be present would refuse every v1 stream.
        try rewrite(dir + "/raw_orders/v2.json") { $0.replacingOccurrences(of: #"{"name": "currency", "type": "string", "required": false"#,
                                                                            with: #"{"name": "currency", "type": "string", "required": true"#) }
        #expect(throws: OrderRulesError.self) { try OrderRules(registry: SchemaRegistry.load(directory: dir), versions: ["orders": 1]) }
    }
}
