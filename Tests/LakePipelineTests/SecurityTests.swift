import Foundation
import LakeCatalog
import LakeTestSupport
import Testing
@testable import LakePipeline

/// Security properties of the lake (issue 9): partition values never leave the lake root, catalog
/// SQL only binds values, files are not world-writable, and a backup restores to a readable lake.
@Suite("Security: path escaping, bound SQL, permissions, backup/restore", .serialized)
struct SecurityTests {
    /// Every regular file and directory under `dir` (recursively), as absolute standardized paths.
    static func walk(_ dir: URL) -> [String] {
        guard let e = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil, options: []) else { return [] }
        return e.compactMap { ($0 as? URL)?.standardizedFileURL.path }
    }

    /// A well-formed order line with the given fields.
    static func orderLine(id: String, customer: String = "CUST-1", channel: String = "web", product: String = "PROD-001",
                          city: String = "Chicago") -> String {
        func q(_ s: String) -> String {  // JSON string literal
            let data = try! JSONSerialization.data(withJSONObject: [s], options: [])
            let t = String(decoding: data, as: UTF8.self)
            return String(t.dropFirst().dropLast())
        }
        return #"{"order_id": \#(q(id)), "customer_id": \#(q(customer)), "timestamp": "2024-01-15T10:00:00Z", "channel": \#(q(channel)), "items": [{"product_id": \#(q(product)), "quantity": 2, "unit_price": 10.50}], "shipping_address": {"country": "US", "state": "IL", "city": \#(q(city))}, "status": "confirmed"}"#
    }

    // MARK: Partition values that would escape the lake

    @Test("SegmentWriter.escape: no value yields a path separator or a dot-dot component")
    func escapeNeutralisesTraversal() throws {
        #expect(SegmentWriter.escape("../../etc") == "..%2F..%2Fetc")
        #expect(SegmentWriter.escape("a/b") == "a%2Fb")
        #expect(SegmentWriter.escape("..") == "%2E%2E")
        #expect(SegmentWriter.escape(".") == "%2E")
        #expect(SegmentWriter.escape("") == "%00")
        #expect(SegmentWriter.escape("web") == "web")
        #expect(SegmentWriter.escape("a\\b\0c") == "a%5Cb%00c")
        #expect(SegmentWriter.escape("ü") == "%C3%BC")
        for hostile in ["../../etc", "/etc/passwd", "..", ".", "a/../../b", "%2F", "x\ny", "\0", "../", "/", "..\\..\\x"] {
            let escaped = SegmentWriter.escape(hostile)
            #expect(!escaped.contains("/"), "\(hostile) -> \(escaped)")
            #expect(escaped != ".." && escaped != "." && !escaped.isEmpty, "\(hostile) -> \(escaped)")
            #expect(escaped.utf8.allSatisfy { $0 < 0x80 && $0 > 0x20 }, "\(hostile) -> \(escaped)")
            // The partition directory stays two levels below the table directory.
            let table = URL(fileURLWithPath: "/lake/raw/orders", isDirectory: true)
            let path = SegmentWriter.partitionPath(PartitionKey(date: 19737, channel: hostile))
            let resolved = table.appendingPathComponent(path).appendingPathComponent("f.parquet").standardizedFileURL.path
            #expect(resolved.hasPrefix("/lake/raw/orders/event_date=2024-01-15/channel="), "\(hostile) -> \(resolved)")
        }
        // Distinct values that differ only in an escaped byte land in distinct folders.
        let values = ["a/b", "a_b", "a b", "a\\b", "..", "."]
        #expect(Set(values.map(SegmentWriter.escape)).count == values.count)
    }

    @Test("an order whose channel is ../../etc or a/b is rejected as invalid_channel; raw keeps it inside the lake under channel=unknown")
    func traversalChannelIngest() throws {
        let dir = try TemporaryDirectory("sec-traversal")
        defer { dir.remove() }
        let store = try lakeWithCatalog(dir)
        let input = dir.file("orders.jsonl")
        let lines = [
            Self.orderLine(id: "ORD-OK-1"),
            Self.orderLine(id: "ORD-EVIL-1", channel: "../../etc"),
            Self.orderLine(id: "ORD-EVIL-2", channel: "a/b"),
            Self.orderLine(id: "ORD-EVIL-3", channel: "/etc"),
        ]
        try (lines.joined(separator: "\n") + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let summary = try OrderIngest.run(store, path: input)
        #expect(summary.accepted == 1)
        #expect(summary.rejects["invalid_channel"] == 3, "\(summary.rejects)")

        // Nothing outside the lake root: the temp dir holds only the lake and the input file.
        let top = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(top == ["lake", "orders.jsonl"], "\(top)")
        let root = store.root.standardizedFileURL.path
        for path in Self.walk(store.root) {
            #expect(path.hasPrefix(root + "/"), "\(path) outside \(root)")
            #expect(!path.contains("/etc"), "\(path)")
        }
        // Every partition folder under raw/orders is a known channel or the fallback.
        let rawOrders = store.root.appendingPathComponent("raw/orders")
        for date in try FileManager.default.contentsOfDirectory(atPath: rawOrders.path) {
            for ch in try FileManager.default.contentsOfDirectory(atPath: rawOrders.appendingPathComponent(date).path) {
                #expect(["channel=web", "channel=mobile", "channel=api", "channel=unknown"].contains(ch), "\(date)/\(ch)")
            }
        }
        // DuckDB, through the DuckLake attach, sees the rejected lines with their reason in the fallback partition.
        let out = try Python.json(Python.duckdbPrelude + """
        root = sys.argv[1]
        con = duck()
        con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
        rows = con.execute("SELECT order_id, channel, reject_reason FROM l.raw.orders ORDER BY order_id").fetchall()
        print(json.dumps([[v if v is not None else "NULL" for v in r] for r in rows]))
        """, [store.root.path]) as? [[String]]
        #expect(out == [["ORD-EVIL-1", "unknown", "invalid_channel"], ["ORD-EVIL-2", "unknown", "invalid_channel"],
                        ["ORD-EVIL-3", "unknown", "invalid_channel"], ["ORD-OK-1", "web", "NULL"]])
    }

    // MARK: Catalog SQL binds values

    @Test("values with quotes and '; DROP TABLE round-trip through ingest (catalog stats, ledger, raw, curated) and DuckDB")
    func hostileValuesRoundTrip() throws {
        let dir = try TemporaryDirectory("sec-sql")
        defer { dir.remove() }
        let evilProduct = #"PROD-'Q"; DROP TABLE ducklake_data_file; --"#
        let evilBrand = #"O'Reilly "Books"'); DELETE FROM ducklake_snapshot; --"#
        let catalogFile = dir.file("cat'alog.json")
        let products: [[String: Any]] = [
            ["product_id": "PROD-001", "category": "Books", "brand": "Plain", "price": 10.5,
             "launch_date": "2023-10-17T00:00:00.000Z", "description": "plain"],
            ["product_id": evilProduct, "category": "Bo'oks", "brand": evilBrand, "price": 10.5,
             "launch_date": "2023-10-17T00:00:00.000Z", "description": "'; DROP TABLE lake_ingest_run; --"],
        ]
        try JSONSerialization.data(withJSONObject: products, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: catalogFile))
        let store = try LakeStore.open(root: dir.url.appendingPathComponent("lake", isDirectory: true), schemas: schemasDirectory)
        _ = try CatalogIngest.run(store, path: catalogFile)

        let evilOrder = #"ORD-'1"; DROP TABLE ducklake_snapshot; --"#
        let evilCustomer = #"CUST-O'Brien'); DROP TABLE ducklake_table; --"#
        let evilCity = #"Saint 'John' "\" City"#
        let input = dir.file("o'rders; DROP TABLE x.jsonl")
        let lines = [
            Self.orderLine(id: evilOrder, customer: evilCustomer, product: evilProduct, city: evilCity),
            Self.orderLine(id: "ORD-2", product: "PROD-001"),
        ]
        try (lines.joined(separator: "\n") + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let summary = try OrderIngest.run(store, path: input)
        #expect(summary.accepted == 2, "\(summary.rejects)")
        // Re-ingest finds the file in the ledger by its content hash: nothing added.
        let again = try OrderIngest.run(store, path: input)
        #expect(again.accepted == 0)

        let out = try Python.json(Python.duckdbPrelude + """
        root = sys.argv[1]
        con = duck()
        con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
        o = con.execute("SELECT order_id, customer_id, shipping_city FROM l.curated.orders ORDER BY order_id").fetchall()
        i = con.execute("SELECT order_id, product_id, brand, category FROM l.curated.order_items ORDER BY order_id").fetchall()
        p = con.execute("SELECT product_id, brand FROM l.curated.products ORDER BY product_id").fetchall()
        s = con.execute("SELECT DISTINCT source_file FROM l.raw.orders").fetchall()
        import sqlite3
        db = sqlite3.connect(f"{root}/manifest.sqlite")
        tables = sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'"))
        stats = sorted(set(r[0] for r in db.execute("SELECT min_value FROM ducklake_file_column_stats WHERE min_value LIKE '%DROP TABLE%'")))
        print(json.dumps({"orders": [list(r) for r in o], "items": [list(r) for r in i], "products": [list(r) for r in p],
                          "sources": [r[0] for r in s], "tables": tables, "stats": stats}))
        """, [store.root.path]) as? [String: Any]
        let result = try #require(out)
        #expect(result["orders"] as? [[String]] == [[evilOrder, evilCustomer, evilCity], ["ORD-2", "CUST-1", "Chicago"]])
        #expect(result["items"] as? [[String]] == [[evilOrder, evilProduct, evilBrand, "Bo'oks"], ["ORD-2", "PROD-001", "Plain", "Books"]])
        // ORDER BY product_id: "'" (0x27) sorts before "0".
        #expect(result["products"] as? [[String]] == [[evilProduct, evilBrand], ["PROD-001", "Plain"]])
        let sources = result["sources"] as? [String] ?? []
        #expect(sources.count == 1 && sources[0].hasSuffix("o'rders; DROP TABLE x.jsonl"), "\(sources)")
        let tables = result["tables"] as? [String] ?? []
        for t in ["ducklake_snapshot", "ducklake_table", "ducklake_data_file", "lake_ingest_run", "lake_source_ledger"] {
            #expect(tables.contains(t), "table \(t) is gone: \(tables)")
        }
        // The hostile strings reached the catalog's column statistics as data (bound), intact.
        let stats = result["stats"] as? [String] ?? []
        #expect(stats.contains(evilOrder) || stats.contains(evilProduct), "\(stats)")
        #expect(try store.catalog.snapshots().count >= 3)
    }

    @Test("no SQL in Sources/LakeCatalog or Sources/LakePipeline is built by string interpolation of a value")
    func noInterpolatedSQL() throws {
        // A coarse lint: `sql: "...\(` with a value would be an injection path. Interpolations of
        // our own constants (table names, placeholders lists) are allowed when marked below.
        var offenders: [String] = []
        for dir in ["Sources/LakeCatalog", "Sources/LakePipeline", "Sources/LakeQuery"] {
            for path in Self.walk(packageRoot.appendingPathComponent(dir)) where path.hasSuffix(".swift") {
                let text = try String(contentsOfFile: path, encoding: .utf8)
                for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                where line.contains("sql:") && line.contains("\\(") {
                    // Allowed: constant SQL fragments and identifiers from literal lists (checked by hand:
                    // visibleAt and unseen are string constants, table iterates over literal table names,
                    // db.rowID and db.insertionOrder are the dialect's fixed column names, placeholders
                    // is a list of "?" only).
                    let allowed: Set<String> = ["visibleAt", "unseen", "table", "db.rowID", "db.insertionOrder", "placeholders"]
                    var rest = Substring(line)
                    while let r = rest.range(of: "\\(") {
                        let tail = rest[r.upperBound...]
                        let name = String(tail.prefix { $0 != ")" })
                        if !allowed.contains(name) {
                            offenders.append("\(path.replacingOccurrences(of: packageRoot.path + "/", with: "")):\(n + 1): \\(\(name))")
                        }
                        rest = tail
                    }
                }
            }
        }
        #expect(offenders.isEmpty, "SQL with interpolated text (check each binds values):\n\(offenders.joined(separator: "\n"))")
    }

    // MARK: Permissions

    @Test("files and directories under the lake root, and the catalog, are not world-writable")
    func permissions() throws {
        let dir = try TemporaryDirectory("sec-perm")
        defer { dir.remove() }
        let store = try lakeWithCatalog(dir)
        _ = try OrderIngest.run(store, path: evaluationOrders)
        _ = try InventoryIngest.run(store, path: evaluationFiles.appendingPathComponent("inventory_updates.csv").path)
        // The process umask, read without changing it (tests run in parallel).
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let umaskText = status.split(separator: "\n").first { $0.hasPrefix("Umask:") }?.split(separator: "\t").last ?? "0022"
        let umask = UInt16(umaskText.trimmingCharacters(in: .whitespaces), radix: 8) ?? 0o022
        var paths = Self.walk(store.root)
        paths.append(store.root.path)
        #expect(paths.contains { $0.hasSuffix("/manifest.sqlite") })
        #expect(paths.contains { $0.hasSuffix(".parquet") })
        for path in paths {
            let attrs = try FileManager.default.attributesOfItem(atPath: path)
            let mode = (attrs[.posixPermissions] as? NSNumber)?.uint16Value ?? 0o777
            #expect(mode & 0o002 == 0, "\(path) is world-writable: \(String(mode, radix: 8)) (umask \(String(umask, radix: 8)))")
            if attrs[.type] as? FileAttributeType == .typeRegular {
                #expect(mode & 0o111 == 0, "\(path) is executable: \(String(mode, radix: 8))")
                // Parquet files are created 0644 minus the umask: never more than the owner can write.
                #expect(mode & 0o022 == 0 || umask & 0o022 != 0o022, "\(path): \(String(mode, radix: 8))")
            }
        }
    }

    // MARK: Backup and restore

    @Test("a backup (SQLite backup API + copy of the data files) restored to a new root reads the same rows")
    func backupRestore() throws {
        let dir = try TemporaryDirectory("sec-backup")
        defer { dir.remove() }
        let store = try lakeWithCatalog(dir)
        _ = try OrderIngest.run(store, path: evaluationOrders)
        let original = store.root
        let restored = dir.url.appendingPathComponent("restored", isDirectory: true)
        try FileManager.default.createDirectory(at: restored, withIntermediateDirectories: true)

        // 1. Catalog: the online backup API (what `sqlite3 manifest.sqlite ".backup 'x'"` does).
        try Python.run("""
        import sqlite3, sys
        src = sqlite3.connect(sys.argv[1]); dst = sqlite3.connect(sys.argv[2])
        src.backup(dst); dst.close(); src.close()
        """, [original.appendingPathComponent("manifest.sqlite").path, restored.appendingPathComponent("manifest.sqlite").path])
        // 2. Data files: everything but the manifest and its WAL/SHM.
        for entry in try FileManager.default.contentsOfDirectory(atPath: original.path)
        where !entry.hasPrefix("manifest.sqlite") {
            try FileManager.default.copyItem(at: original.appendingPathComponent(entry), to: restored.appendingPathComponent(entry))
        }

        let reader = """
        root = sys.argv[1]
        con = duck()
        con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', READ_ONLY, OVERRIDE_DATA_PATH true)")
        out = {}
        for t in ["curated.orders", "curated.order_items", "curated.products", "raw.orders"]:
            rows = con.execute(f"SELECT * FROM l.{t}").fetchall()
            out[t] = sorted(repr(r) for r in rows)
        print(json.dumps(out))
        """
        let before = try Python.json(Python.duckdbPrelude + reader, [original.path]) as? [String: [String]]
        let snapshotsBefore = try store.catalog.snapshots().map(\.id)
        let filesBefore = try store.catalog.tables().flatMap { try store.catalog.dataFiles(tableID: $0.tableID).map(\.storedPath) }.sorted()

        // The original is gone: the restore must stand alone.
        try FileManager.default.removeItem(at: original)

        let catalog = try Catalog.open(root: restored, create: false)
        #expect(catalog.dataPath.standardizedFileURL.path == restored.standardizedFileURL.path)
        #expect(try catalog.snapshots().map(\.id) == snapshotsBefore)
        let filesAfter = try catalog.tables().flatMap { try catalog.dataFiles(tableID: $0.tableID).map(\.storedPath) }.sorted()
        #expect(filesAfter == filesBefore)
        let restoredStore = try LakeStore.open(root: restored, schemas: schemasDirectory)
        let after = try Python.json(Python.duckdbPrelude + reader, [restored.path]) as? [String: [String]]
        #expect(before != nil && after == before)
        #expect((before?["curated.orders"]?.count ?? 0) > 900)
        // The restored lake takes new commits: re-ingest of the same file is a no-op (ledger restored).
        let again = try OrderIngest.run(restoredStore, path: evaluationOrders)
        #expect(again.accepted == 0)
    }
}

