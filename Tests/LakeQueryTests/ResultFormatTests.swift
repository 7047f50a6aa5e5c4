import Foundation
import LakeCatalog
import LakePipeline
import LakeTestSupport
import Testing

/// Commands whose result is one record (init, upgrade, schema migrate, catalog copy, generate)
/// and `schema show` pipe: --format json prints one JSON object, --format csv a header and rows
/// of the same fields, each checked against what the text output and the lake itself say;
/// errors stay on standard error with their exit codes whatever the format.
@Suite(.serialized) struct ResultFormatTests {
    /// One JSON object on standard output, nothing on standard error.
    func object(_ args: [String], status: Int32 = 0) throws -> [String: Any] {
        let r = try runLake(args + ["--format", "json"])
        #expect(r.status == status && r.err.isEmpty, "lake \(args.joined(separator: " ")): exit \(r.status) \(r.err)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "not one JSON object: \(r.out)")
    }

    /// The CSV's rows as Python's csv module reads them (quoted cells with commas and quotes).
    func csv(_ args: [String]) throws -> [[String]] {
        let r = try runLake(args + ["--format", "csv"])
        #expect(r.status == 0 && r.err.isEmpty, "lake \(args.joined(separator: " ")): exit \(r.status) \(r.err)")
        let dir = try TemporaryDirectory("csv-out")
        defer { dir.remove() }
        try r.out.write(toFile: dir.file("out.csv"), atomically: true, encoding: .utf8)
        let rows = try Python.json("import csv, json, sys\nprint(json.dumps(list(csv.reader(open(sys.argv[1], newline='')))))", [dir.file("out.csv")])
        return try #require(rows as? [[String]])
    }

    @Test func initPrintsItsResult() throws {
        let dir = try TemporaryDirectory("format-init")
        defer { dir.remove() }
        let lake = dir.file("lake")
        let made = try object(["init", "--lake", lake, "--schema-version", "orders=1"])
        #expect(made["lake"] as? String == lake && made["created"] as? Bool == true, "\(made)")
        #expect(Set(made["created_layers"] as? [String] ?? []) == ["raw", "curated"], "\(made)")
        #expect((made["created_tables"] as? [String])?.contains("curated.orders") == true, "\(made)")
        let latest = try Catalog.open(root: URL(fileURLWithPath: lake), create: false, readOnly: true).latestSnapshot().id
        #expect(made["snapshot_id"] as? Int == Int(latest), "\(made) vs latest \(latest)")
        // Again: nothing created, the same snapshot.
        let again = try object(["init", "--lake", lake])
        #expect(again["created"] as? Bool == false && again["snapshot_id"] as? Int == Int(latest), "\(again)")
        #expect((again["created_layers"] as? [String])?.isEmpty == true && (again["created_tables"] as? [String])?.isEmpty == true, "\(again)")
        let rows = try csv(["init", "--lake", lake])
        #expect(rows == [["lake", "created", "snapshot_id", "created_layers", "created_tables"], [lake, "false", "\(latest)", "", ""]], "\(rows)")
        // The text stays the default.
        let text = try runLake(["init", "--lake", lake])
        #expect(text.status == 0 && text.out == "Lake at \(lake) is ready (latest snapshot \(latest)).\n", "\(text.out)")
        // An error is on standard error, with its exit code, and prints no JSON.
        try "x".write(toFile: dir.file("afile"), atomically: true, encoding: .utf8)
        let failed = try runLake(["init", "--lake", dir.file("afile/sub"), "--format", "json"])
        #expect(failed.status == 1 && failed.out.isEmpty && failed.err.contains("Not a directory"), "\(failed)")
    }

    @Test func schemaMigratePrintsItsPlanAndResult() throws {
        let lake = try EvaluationLake(v1Only: true)
        defer { lake.dir.remove() }
        let root = lake.dir.url.path
        let text = try runLake(["schema", "migrate", "orders", "--to", "2", "--dry-run", "--lake", root])
        #expect(text.status == 0, "\(text.err)")
        let textSteps = text.out.split(separator: "\n").filter { $0.hasPrefix("  ") }.map { String($0.dropFirst(2)) }
        let plan = try object(["schema", "migrate", "orders", "--to", "2", "--dry-run", "--lake", root])
        #expect(plan["table"] as? String == "curated.orders" && plan["registry_table"] as? String == "orders", "\(plan)")
        #expect(plan["from_version"] as? Int == 1 && plan["to_version"] as? Int == 2, "\(plan)")
        #expect(plan["dry_run"] as? Bool == true && plan["already_applied"] as? Bool == false && plan["rewrite"] as? Bool == false, "\(plan)")
        #expect(plan["snapshot_id"] is NSNull && plan["files_rewritten"] as? Int == 0, "\(plan)")
        let steps = try #require(plan["steps"] as? [String])
        #expect(steps.count > 1 && steps == textSteps, "\(steps) vs the text's \(textSteps)")
        #expect(steps.contains { $0.hasPrefix("rename column city -> shipping_city") }, "\(steps)")

        let header = ["table", "registry_table", "from_version", "to_version", "dry_run", "already_applied", "rewrite",
                      "snapshot_id", "files_rewritten", "seconds", "steps"]
        let before = try Catalog.open(root: lake.dir.url, create: false, readOnly: true).latestSnapshot().id
        let files = try Catalog.open(root: lake.dir.url, create: false, readOnly: true).dataFiles(
            tableID: try Catalog.open(root: lake.dir.url, create: false, readOnly: true).table(schema: "curated", name: "orders").tableID).count
        let done = try csv(["schema", "migrate", "orders", "--to", "2", "--rewrite", "--lake", root])
        #expect(done.count == 2 && done.first == header, "\(done)")
        let row = Dictionary(uniqueKeysWithValues: zip(header, done.last ?? []))
        let after = try Catalog.open(root: lake.dir.url, create: false, readOnly: true).latestSnapshot().id
        #expect(after > before && row["snapshot_id"] == "\(after)", "\(row) vs snapshot \(after)")
        #expect(row["files_rewritten"] == "\(files)" && row["dry_run"] == "false" && row["rewrite"] == "true", "\(row)")
        #expect(row["steps"] == steps.joined(separator: "; ") && Double(row["seconds"] ?? "") != nil, "\(row)")
        // At v2 already: nothing planned, nothing committed.
        let again = try object(["schema", "migrate", "orders", "--to", "2", "--lake", root])
        #expect(again["already_applied"] as? Bool == true && again["snapshot_id"] is NSNull && again["from_version"] as? Int == 2, "\(again)")
        // Refused (a step back): standard error, exit 1, standard output empty.
        let refused = try runLake(["schema", "migrate", "orders", "--to", "1", "--lake", root, "--format", "json"])
        #expect(refused.status == 1 && refused.out.isEmpty && refused.err.contains("not a step forward"), "\(refused)")
    }

    @Test func upgradeCopyGenerateAndSchemaShowPrintTheirResults() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let root = lake.dir.url.path
        let manifest = lake.dir.url.appendingPathComponent("manifest.sqlite").path

        let upgrade = try object(["upgrade", "--dry-run", "--lake", root])
        #expect(upgrade["catalog"] as? String == manifest && upgrade["already_current"] as? Bool == true, "\(upgrade)")
        #expect(upgrade["to_version"] as? String == "1.0" && upgrade["backup"] is NSNull && upgrade["dry_run"] as? Bool == true, "\(upgrade)")
        let upgradeCSV = try csv(["upgrade", "--lake", root])
        #expect(upgradeCSV.first == ["catalog", "from_version", "to_version", "dry_run", "already_current", "backup", "steps"], "\(upgradeCSV)")
        #expect(upgradeCSV.count == 2 && upgradeCSV.last?[0] == manifest && upgradeCSV.last?[4] == "true", "\(upgradeCSV)")

        let snapshots = try #require(try JSONSerialization.jsonObject(with: Data(try runLake(["snapshots", "--lake", root, "--format", "json"]).out.utf8)) as? [Any])
        let target = lake.dir.file("copy.sqlite")
        let copied = try object(["catalog", "copy", "--lake", root, "--to", target])
        #expect(copied["target"] as? String == target && copied["snapshots"] as? Int == snapshots.count, "\(copied)")
        #expect((copied["tables"] as? Int ?? 0) > 10 && (copied["rows"] as? Int ?? 0) > snapshots.count, "\(copied)")
        let copyCSV = try csv(["catalog", "copy", "--lake", root, "--to", lake.dir.file("copy2.sqlite")])
        #expect(copyCSV.count == 2 && copyCSV.first == ["target", "snapshots", "rows", "tables"], "\(copyCSV)")
        #expect(copyCSV.last.map { Array($0.dropFirst()) } == ["\(snapshots.count)", "\(copied["rows"] ?? "")", "\(copied["tables"] ?? "")"], "\(copyCSV)")

        let out = lake.dir.file("gen")
        let generated = try object(["generate", "--out", out, "--orders", "500", "--days", "3"])
        let lines = try String(contentsOfFile: out + "/orders_stream.jsonl", encoding: .utf8).split(separator: "\n").count
        #expect(generated["out"] as? String == out && generated["order_lines"] as? Int == lines, "\(generated) vs \(lines) lines")
        let bytes = try FileManager.default.attributesOfItem(atPath: out + "/orders_stream.jsonl")[.size] as? Int
        #expect(generated["order_bytes"] as? Int == bytes, "\(generated)")
        let kinds = try #require(generated["line_kinds"] as? [String: Int])
        #expect(kinds.values.reduce(0, +) == lines, "\(kinds)")
        #expect((generated["expected_accepted"] as? Int ?? 0) + (generated["expected_rejected"] as? Int ?? 0) == lines, "\(generated)")
        let genCSV = try csv(["generate", "--out", out, "--orders", "500", "--days", "3"])
        #expect(genCSV.first == ["out", "order_lines", "order_bytes", "products", "inventory_rows", "inventory_bad_rows",
                                 "expected_accepted", "expected_rejected", "seconds"], "\(genCSV)")
        #expect(genCSV.count == 2 && genCSV.last?[1] == "\(lines)" && genCSV.last?[2] == "\(bytes ?? -1)", "\(genCSV)")

        let registry = try SchemaRegistry.load(directory: packageRoot.appendingPathComponent("schemas").path)
        let orders = try registry.schema("orders")
        let show = try csv(["schema", "show", "orders"])
        #expect(show.first == ["id", "name", "type", "nullable", "constraints", "description"], "\(show)")
        #expect(show.dropFirst().map { $0[1] } == orders.columns.map(\.name) && show.dropFirst().map { $0[0] } == orders.columns.map { "\($0.id)" }, "\(show)")
        // raw_orders: the table with the source mapping (fields, aliases, nested items).
        let shown = try object(["schema", "show", "raw_orders", "--version", "1"])
        let v1 = try registry.schema("raw_orders", version: 1)
        #expect(shown["table"] as? String == "raw_orders" && shown["version"] as? Int == 1 && shown["fingerprint"] as? String == "sha256:\(v1.fingerprint)", "\(shown)")
        #expect((shown["columns"] as? [[String: Any]])?.map { $0["name"] as? String } == v1.columns.map(\.name), "\(shown)")
        let source = try #require(shown["source"] as? [String: Any])
        let fields = try #require(source["fields"] as? [[String: Any]])
        #expect(fields.map { $0["name"] as? String } == v1.source?.fields.map(\.name) && fields.count > 3, "\(source)")
        // Nested fields (an order's items) are arrays of the same objects.
        #expect(fields.contains { ($0["fields"] as? [[String: Any]])?.isEmpty == false }, "\(fields)")
    }
}
