import Foundation
import LakeCatalog
import LakeTestSupport
import Testing
@testable import LakePipeline

/// Runs the built `lake` binary; returns exit status, stdout and stderr.
func runLake(_ arguments: [String], timeout: TimeInterval = 300) throws -> (status: Int32, reason: Process.TerminationReason, out: String, err: String) {
    let process = Process()
    process.executableURL = lakeBinary
    process.arguments = arguments
    // The CLI's default registry is ./schemas: run where the repository's is.
    process.currentDirectoryURL = packageRoot
    let outFile = try TemporaryDirectory("lake-out")
    defer { outFile.remove() }
    #expect(FileManager.default.createFile(atPath: outFile.file("o"), contents: nil))
    #expect(FileManager.default.createFile(atPath: outFile.file("e"), contents: nil))
    process.standardOutput = FileHandle(forWritingAtPath: outFile.file("o"))
    process.standardError = FileHandle(forWritingAtPath: outFile.file("e"))
    // Past `timeout` the process is killed (reason .uncaughtSignal): a hang fails the test, not the run.
    let done = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in done.signal() }
    try process.run()
    if done.wait(timeout: .now() + timeout) == .timedOut { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    return (process.terminationStatus, process.terminationReason,
            (try? String(contentsOfFile: outFile.file("o"), encoding: .utf8)) ?? "",
            (try? String(contentsOfFile: outFile.file("e"), encoding: .utf8)) ?? "")
}

/// The debug binary `swift build` leaves in the package (the test command builds it first).
let lakeBinary = packageRoot.appendingPathComponent(".build/debug/lake")

@Suite("Ingest: bad input is a typed error, nothing committed", .serialized)
struct IngestBadInputTests {
    /// Snapshot count and ingest-run count, which any commit would change.
    func state(_ store: LakeStore) throws -> (snapshots: Int, runs: Int) {
        (try store.catalog.snapshots().count, try store.catalog.ingestRuns().count)
    }

    @Test("missing file, empty file, a CSV, a JSON array given to `ingest orders`: typed errors naming the file")
    func badOrderFiles() throws {
        let dir = try TemporaryDirectory("ingest-bad")
        defer { dir.remove() }
        let store = try lakeWithCatalog(dir)
        let before = try state(store)

        let missing = dir.file("nope.jsonl")
        #expect(throws: IngestError.self) { try OrderIngest.run(store, path: missing) }
        do { _ = try OrderIngest.run(store, path: missing) } catch { #expect("\(error)".contains(missing)) }

        let empty = dir.file("empty.jsonl")
        try Data().write(to: URL(fileURLWithPath: empty))
        #expect(throws: IngestError.emptyInput(path: empty)) { try OrderIngest.run(store, path: empty) }
        // A byte-order mark and nothing else holds no line: refused the same, not an empty snapshot.
        let bom = dir.file("bom.jsonl")
        try Data([0xEF, 0xBB, 0xBF]).write(to: URL(fileURLWithPath: bom))
        for parallelism in [1, 2] {
            var options = IngestOptions()
            options.parallelism = parallelism
            #expect(throws: IngestError.emptyInput(path: bom, bytes: 3), "parallelism \(parallelism)") {
                try OrderIngest.run(store, path: bom, options: options)
            }
        }

        let csv = dir.file("orders.csv")
        try "order_id,customer_id\nORD-1,CUST-1\n".write(toFile: csv, atomically: true, encoding: .utf8)
        #expect {
            try OrderIngest.run(store, path: csv)
        } throws: { error in
            guard case IngestError.wrongFormat(let path, let line, let detail) = error else { return false }
            return path == csv && line == 1 && detail.contains("not JSON Lines")
        }

        let array = dir.file("orders.json")
        try "[\n  {\"order_id\": \"ORD-1\"}\n]\n".write(toFile: array, atomically: true, encoding: .utf8)
        // A JSON array is named so, with the command that makes it JSON Lines (session 38).
        #expect {
            try OrderIngest.run(store, path: array)
        } throws: { error in
            guard case IngestError.wrongFormat(_, 1, let detail) = error else { return false }
            return detail.contains("the input starts with \"[\"") && detail.contains("a JSON array") && detail.contains("jq -c '.[]'")
        }
        #expect(!OrderIngest.notJSONLines(Array("order_id,customer_id".utf8), path: csv).contains("JSON array"))
        #expect(throws: IngestError.self) { try OrderIngest.checkLooksLikeJSONLines(array) }
        do { try OrderIngest.checkLooksLikeJSONLines(array) } catch { #expect("\(error)".contains("a JSON array"), "\(error)") }

        #expect(try state(store) == before)

        // A byte-order mark then one blank line holds a line: rejected with its reason, not refused.
        let blank = dir.file("blank.jsonl")
        try Data([0xEF, 0xBB, 0xBF, 0x0A]).write(to: URL(fileURLWithPath: blank))
        let run = try OrderIngest.run(store, path: blank)
        #expect(run.records == 1 && run.accepted == 0 && run.rejects.values.reduce(0, +) == 1, "\(run)")
    }

    /// Session 19 probe: an ingest that opened the lake with a registry lacking orders v2, racing
    /// a `schema migrate orders --to 2` from another registry, failed with "table 'orders' has no
    /// version 2; registered: 1", which named neither the lake nor what to do.
    @Test("a store whose registry lacks the version the lake's orders moved to since it opened: registryLacksLakeVersion, nothing committed")
    func registryBehindTheLake() throws {
        let dir = try TemporaryDirectory("ingest-registry-behind")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake")
        let behind = try LakeStore.open(root: root, schemas: try registryV1Copy(dir))
        _ = try CatalogIngest.run(behind, path: evaluationCatalog)
        // Another process, with the full registry, creates curated.orders at its latest version.
        let current = try LakeStore.open(root: root, schemas: schemasDirectory)
        _ = try OrderIngest.run(current, path: evaluationOrders)
        // New orders (the same content would be skipped by the ledger).
        let more = dir.url.appendingPathComponent("more.jsonl").path
        let lines = try String(contentsOfFile: evaluationOrders, encoding: .utf8).split(separator: "\n").prefix(20)
        try (lines.map { $0.replacingOccurrences(of: "ORD-", with: "ORDN-") }.joined(separator: "\n") + "\n")
            .write(toFile: more, atomically: true, encoding: .utf8)
        let before = try state(behind)
        #expect(throws: IngestError.registryLacksLakeVersion(table: "raw.orders", lakeVersion: 2, registered: [1])) {
            try OrderIngest.run(behind, path: more)
        }
        #expect(try state(behind) == before)
        let text = IngestError.registryLacksLakeVersion(table: "curated.orders", lakeVersion: 2, registered: [1]).description
        #expect(text.contains("lake schema migrate") && text.contains("run the command again"), "\(text)")
        // Opened again, the store takes in the lake's stored v2: the ingest runs.
        let reopened = try LakeStore.open(root: root, schemas: try registryV1Copy(try TemporaryDirectory("ingest-registry-behind-2")))
        #expect(try OrderIngest.run(reopened, path: more).accepted > 0)
    }

    @Test("orders before any catalog: noProductCatalog, no snapshot")
    func ordersBeforeCatalog() throws {
        let dir = try TemporaryDirectory("ingest-nocat")
        defer { dir.remove() }
        let store = try LakeStore.open(root: dir.url.appendingPathComponent("lake"), schemas: schemasDirectory)
        let before = try state(store)
        #expect(throws: IngestError.noProductCatalog(.orders)) { try OrderIngest.run(store, path: evaluationOrders) }
        #expect(try state(store) == before)
        // Orders handed to `ingest catalog` are refused, so they cannot become a catalog either.
        #expect(throws: (any Error).self) { try CatalogIngest.run(store, path: evaluationOrders) }
        #expect(try state(store) == before)
    }

    /// Probe finding 11: an inventory column the registry does not know was ignored without a
    /// trace; it is counted as schema drift in the ingest run, as unknown order fields are.
    @Test("inventory with an extra column: loaded, and the column counted as schema drift in the stored ingest run")
    func inventoryDriftIsCounted() throws {
        let dir = try TemporaryDirectory("ingest-inv-drift")
        defer { dir.remove() }
        let store = try lakeWithCatalog(dir)
        let csv = dir.file("drift.csv")
        try "product_id,available_quantity,warehouse_location,last_updated,note,\nPROD-001,5,WH-A,2024-02-01T00:00:00Z,x,\nPROD-002,6,WH-A,2024-02-01T00:00:00Z,y,\n"
            .write(toFile: csv, atomically: true, encoding: .utf8)
        let run = try InventoryIngest.run(store, path: csv)
        #expect(run.accepted == 2)
        #expect(run.unknownFields == ["note": 2, "(column 6, no name)": 2])
        let stored = try #require(try store.catalog.ingestRuns().first { $0.kind == .inventory })
        #expect(stored.unknownFields == run.unknownFields)
    }

    /// Probe finding 12: inventory rows reference products.product_id (schemas/inventory), so
    /// before any catalog they are refused as orders are (they were accepted unchecked, any id).
    @Test("inventory before any catalog: noProductCatalog, no snapshot, no file; after the catalog the unknown id is rejected")
    func inventoryBeforeCatalog() throws {
        let dir = try TemporaryDirectory("ingest-inv-nocat")
        defer { dir.remove() }
        let store = try LakeStore.open(root: dir.url.appendingPathComponent("lake"), schemas: schemasDirectory)
        let csv = dir.file("h6.csv")
        try "product_id,available_quantity,warehouse_location,last_updated\nPROD-999,5,WH-A,2024-02-01T00:00:00Z\nPROD-001,3,WH-A,2024-02-01T00:00:00Z\n"
            .write(toFile: csv, atomically: true, encoding: .utf8)
        let before = try state(store)
        #expect(throws: IngestError.noProductCatalog(.inventory)) { try InventoryIngest.run(store, path: csv) }
        #expect(IngestError.noProductCatalog(.inventory).description.hasPrefix("no product catalog in the lake yet: inventory rows are validated against it"))
        #expect(try state(store) == before)
        let written = FileManager.default.enumerator(atPath: store.root.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".parquet") } ?? []
        #expect(written.isEmpty, "\(written)")
        // The order lake run uses (catalog first) still loads it, checking each id.
        _ = try CatalogIngest.run(store, path: evaluationFiles.appendingPathComponent("product_catalog.json").path)
        let run = try InventoryIngest.run(store, path: csv)
        #expect(run.accepted == 1 && run.rejects == ["unknown_product": 1])
    }

    @Test("a catalog that is not an array, or has no valid product, is refused whole")
    func badCatalogs() throws {
        let dir = try TemporaryDirectory("ingest-badcat")
        defer { dir.remove() }
        let store = try LakeStore.open(root: dir.url.appendingPathComponent("lake"), schemas: schemasDirectory)
        let before = try state(store)

        let object = dir.file("object.json")
        try "{\"product_id\": \"PROD-001\", \"category\": \"x\", \"brand\": \"y\", \"price\": 1.00}\n".write(toFile: object, atomically: true, encoding: .utf8)
        #expect {
            try CatalogIngest.run(store, path: object)
        } throws: { error in
            guard case ProductCatalogError.notAnArray(let path, _) = error else { return false }
            return path == object
        }

        let noValid = dir.file("novalid.json")
        try "[\n {\"product_id\": \"PROD-001\", \"brand\": \"y\", \"price\": 1.00},\n {\"category\": \"x\"}\n]\n"
            .write(toFile: noValid, atomically: true, encoding: .utf8)
        #expect {
            try CatalogIngest.run(store, path: noValid)
        } throws: { error in
            guard case IngestError.wrongFormat(let path, _, let detail) = error else { return false }
            return path == noValid && detail.contains("no valid product")
        }

        let empty = dir.file("empty.json")
        try "[]".write(toFile: empty, atomically: true, encoding: .utf8)
        #expect(throws: IngestError.self) { try CatalogIngest.run(store, path: empty) }

        #expect(try state(store) == before)
    }

    /// Found by an exploratory test: a UTF-16 catalog was said to "hold a JSON number", and an
    /// inventory whose first line is not a CSV header (5 MB of x, a gzip file) was echoed whole
    /// into the error.
    @Test("a catalog in UTF-16 or not JSON at all, an inventory without a header: errors that name the problem in a line")
    func wrongEncodingAndHugeHeader() throws {
        let dir = try TemporaryDirectory("ingest-encoding")
        defer { dir.remove() }
        let store = try LakeStore.open(root: dir.url.appendingPathComponent("lake"), schemas: schemasDirectory)
        let before = try state(store)
        let catalogText = try String(contentsOf: evaluationFiles.appendingPathComponent("product_catalog.json"), encoding: .utf8)
        for (name, data, encoding) in [("le.json", catalogText.data(using: .utf16LittleEndian)!, "UTF-16 (little-endian)"),
                                       ("be.json", catalogText.data(using: .utf16BigEndian)!, "UTF-16 (big-endian)")] {
            let path = dir.file(name)
            try (Data(encoding.contains("little") ? [0xFF, 0xFE] : [0xFE, 0xFF]) + data).write(to: URL(fileURLWithPath: path))
            #expect {
                try CatalogIngest.run(store, path: path)
            } throws: { error in
                guard case ProductCatalogError.notUTF8(let p, let e) = error else { return false }
                return p == path && e == encoding && "\(error)".contains("iconv -f UTF-16 -t UTF-8")
            }
        }
        let binary = dir.file("binary.json")
        try Data([0x7F, 0x8B, 0x08, 0x00, 0xAB]).write(to: URL(fileURLWithPath: binary))
        #expect {
            try CatalogIngest.run(store, path: binary)
        } throws: { error in
            "\(error)" == "\(binary):1:1: unexpected byte 0x7f where '[' (a JSON array of product objects) was expected"
        }
        // gzip's magic number: named as compressed (session 38), not as an unexpected byte.
        let gzipped = dir.file("catalog.json.gz")
        try Data([0x1F, 0x8B, 0x08, 0x00, 0xAB]).write(to: URL(fileURLWithPath: gzipped))
        #expect {
            try CatalogIngest.run(store, path: gzipped)
        } throws: { error in
            "\(error)".hasPrefix("\(gzipped) is gzip-compressed")
        }
        // A trailing comma: the ']' is named where it stands ("found a JSON number" before session 33).
        let trailing = dir.file("trailing.json")
        try #"[{"product_id": "P", "category": "C", "brand": "B", "price": 1},]"#.write(toFile: trailing, atomically: true, encoding: .utf8)
        #expect {
            try CatalogIngest.run(store, path: trailing)
        } throws: { error in
            "\(error)" == "\(trailing):1:65: unexpected ']' where a product object was expected"
        }

        _ = try CatalogIngest.run(store, path: evaluationFiles.appendingPathComponent("product_catalog.json").path)
        let afterCatalog = try state(store)
        let huge = dir.file("huge.csv")
        try (String(repeating: "x", count: 5_000_000) + "\n").write(toFile: huge, atomically: true, encoding: .utf8)
        let wide = dir.file("wide.csv")
        try ((0 ..< 500).map { "c\($0)" }.joined(separator: ",") + "\n").write(toFile: wide, atomically: true, encoding: .utf8)
        for path in [huge, wide] {
            #expect {
                try InventoryIngest.run(store, path: path)
            } throws: { error in
                let text = "\(error)"
                return text.count < 700 && text.hasPrefix("\(URL(fileURLWithPath: path).lastPathComponent):1: header is ") && text.contains("…")
                    && text.hasSuffix("expected the columns \(InventoryParser.columns.joined(separator: ",")) (any order)")
            }
        }
        // A spreadsheet export separated by semicolons (or tabs, or bars) is named so (session 38).
        let rows = try String(contentsOfFile: evaluationInventory, encoding: .utf8).split(separator: "\n").prefix(3)
        for (separator, says) in [(";", "separated by semicolons (;)"), ("\t", "separated by tabs"), ("|", "separated by bars (|)")] {
            let path = dir.file("sep-\(says.count).csv")
            try (rows.map { $0.replacingOccurrences(of: ",", with: separator) }.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            #expect {
                try InventoryIngest.run(store, path: path)
            } throws: { error in
                "\(error)".contains("header is ") && "\(error)".hasSuffix("\(says), and lake reads comma-separated CSV: convert the file first")
            }
        }
        // Not for a header that holds other names, whatever separates them.
        #expect(InventoryError.otherSeparator(["product;quantity"], expected: InventoryParser.columns) == nil)
        #expect(try state(store) == afterCatalog)
        #expect(before != afterCatalog)
    }

    @Test("catalog entries that fail validation are kept in raw.products with reason and line; the rest is the catalog")
    func catalogRejectsKept() throws {
        let dir = try TemporaryDirectory("ingest-rawprod")
        defer { dir.remove() }
        let store = try LakeStore.open(root: dir.url.appendingPathComponent("lake"), schemas: schemasDirectory)
        let path = dir.file("catalog.json")
        try """
        [
         {"product_id": "PROD-001", "category": "A", "brand": "B", "price": 1.50},
         {"product_id": "PROD-002", "brand": "B", "price": 2.00},
         {"product_id": "PROD-003", "category": "A", "brand": "B", "price": 3.00},
         {"product_id": "PROD-001", "category": "A", "brand": "B", "price": 9.99}
        ]

        """.write(toFile: path, atomically: true, encoding: .utf8)
        let summary = try CatalogIngest.run(store, path: path)
        // A duplicate counts under duplicates only, as for orders: records = accepted + quarantined + duplicates.
        #expect(summary.records == 4 && summary.accepted == 2 && summary.quarantined == 1 && summary.duplicates == 1, "\(summary)")
        let out = try Python.json(Python.duckdbPrelude + """
            root = sys.argv[1]
            con = duck()
            con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
            cur = [r[0] for r in con.execute("SELECT product_id FROM l.curated.products ORDER BY 1").fetchall()]
            raw = [list(r) for r in con.execute("SELECT entry_index, line_number, product_id, reject_reason, reject_detail FROM l.raw.products ORDER BY entry_index").fetchall()]
            print(json.dumps(dict(curated=cur, raw=raw)))
            """, [store.root.path]) as! [String: Any]
        #expect(out["curated"] as? [String] == ["PROD-001", "PROD-003"])
        let raw = out["raw"] as! [[Any]]
        #expect(raw.count == 2 && (raw.last?[3] as? String) == "duplicate_product", "\(raw)")
        #expect(raw.first?[0] as? Int == 1 && raw.first?[1] as? Int == 3 && raw.first?[2] as? String == "PROD-002")
        #expect(raw.first?[3] as? String == "missing_field")
        #expect((raw.first?[4] as? String)?.contains("category") == true)
    }

    @Test("inventory with a non-numeric quantity: that row quarantined with its reason, the rest committed")
    func inventoryBadQuantity() throws {
        let dir = try TemporaryDirectory("ingest-inv")
        defer { dir.remove() }
        let store = try lakeWithCatalog(dir)
        let csv = dir.file("inventory.csv")
        try """
        product_id,available_quantity,warehouse_location,last_updated
        PROD-001,10,WH-SF,2024-01-15T09:00:00Z
        PROD-002,lots,WH-NY,2024-01-15T08:45:00Z
        PROD-003,7,WH-NY,2024-01-15T08:45:00Z

        """.write(toFile: csv, atomically: true, encoding: .utf8)
        let summary = try InventoryIngest.run(store, path: csv)
        #expect(summary.accepted == 2 && summary.quarantined == 1)
        let out = try Python.json(Python.duckdbPrelude + """
            root = sys.argv[1]
            con = duck()
            con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
            cur = con.execute("SELECT product_id, available_quantity FROM l.curated.inventory ORDER BY 1").fetchall()
            raw = con.execute("SELECT line_number, line, reject_reason, reject_detail FROM l.raw.inventory WHERE reject_reason IS NOT NULL").fetchall()
            print(json.dumps(dict(curated=[[a, b] for a, b in cur], raw=[list(r) for r in raw])))
            """, [store.root.path]) as! [String: Any]
        let curated = out["curated"] as! [[Any]]
        #expect(curated.map { $0[0] as! String } == ["PROD-001", "PROD-003"])
        #expect(curated.map { $0[1] as! Int } == [10, 7])
        let raw = out["raw"] as! [[Any]]
        #expect(raw.count == 1)
        #expect(raw.first?[0] as? Int == 3)
        #expect((raw.first?[1] as? String)?.contains("lots") == true)
        #expect(raw.first?[2] as? String == "invalid_quantity")
        #expect((raw.first?[3] as? String)?.contains("lots") == true)
    }

    @Test("the CLI turns bad input into a message and a non-zero exit, not a crash")
    func cliExitCodes() throws {
        #expect(FileManager.default.isExecutableFile(atPath: lakeBinary.path), "run `swift build` first: \(lakeBinary.path)")
        let dir = try TemporaryDirectory("ingest-cli")
        defer { dir.remove() }
        let root = dir.file("lake")
        let empty = dir.file("empty.jsonl")
        try Data().write(to: URL(fileURLWithPath: empty))
        for args in [["ingest", "orders", "--lake", root, "--quiet", evaluationOrders],  // no catalog yet
                     ["ingest", "orders", "--lake", root, "--quiet", dir.file("missing.jsonl")],
                     ["ingest", "orders", "--lake", root, "--quiet", empty],
                     ["ingest", "orders", "--lake", root, "--quiet", evaluationInventory],
                     ["ingest", "catalog", "--lake", root, evaluationOrders]] {
            let r = try runLake(args)
            #expect(r.reason == .exit, "\(args): killed by signal \(r.status)")
            #expect(r.status != 0, "\(args) exited 0")
            #expect(!r.err.isEmpty, "\(args): no message on stderr")
            #expect(!r.err.contains("Fatal error"), "\(args): \(r.err)")
        }
        // --follow on a FIFO no one writes to: refused at once. Opening it first waited for a
        // writer forever, deaf to SIGTERM and SIGINT (found by an exploratory test).
        let fifo = dir.file("nowriter.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let follow = try runLake(["ingest", "orders", "--lake", root, "--quiet", "--follow", fifo], timeout: 30)
        #expect(follow.reason == .exit && follow.status == 1, "exit \(follow.status) (\(follow.reason)): \(follow.err)")
        #expect(follow.err.contains("--follow needs a regular file"), "\(follow.err)")
        // A misspelt option of `lake run`, from a directory without ./Evaluation-Files: named as
        // such, not as the default --input missing (the input check ran before the parser's).
        let misspelt = try runLake(["run", "--lake", root, "--source", dir.path], in: URL(fileURLWithPath: dir.path))
        #expect(misspelt.status == 64 && misspelt.err.contains("Unknown option '--source'"), "exit \(misspelt.status): \(misspelt.err)")
        // Nothing was committed by any of them: at most the empty bootstrap snapshot exists.
        let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: true)
        #expect(try catalog.ingestRuns().isEmpty)
        #expect(try catalog.snapshots().count <= 1)
    }
}
