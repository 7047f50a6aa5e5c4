import Foundation
import LakeCatalog
import LakeTestSupport
import Testing
@testable import LakePipeline

/// Issue 14, items 3, 7, 9 and 12, through the real `lake` binary where the issue is about the
/// command line: inputs that are not regular files, out-of-range times, long strings in
/// statistics, byte-order marks and control bytes in messages.
@Suite("Inputs: streams, ranges, long values, BOMs", .serialized)
struct InputStreamTests {
    /// Runs `script` with bash (for pipes, FIFOs and process substitution); $LAKE is the binary.
    func bash(_ script: String) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", script]
        process.currentDirectoryURL = packageRoot
        var env = ProcessInfo.processInfo.environment
        env["LAKE"] = lakeBinary.path
        process.environment = env
        let dir = try TemporaryDirectory("lake-sh")
        defer { dir.remove() }
        #expect(FileManager.default.createFile(atPath: dir.file("o"), contents: nil))
        #expect(FileManager.default.createFile(atPath: dir.file("e"), contents: nil))
        process.standardOutput = FileHandle(forWritingAtPath: dir.file("o"))
        process.standardError = FileHandle(forWritingAtPath: dir.file("e"))
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOfFile: dir.file("o"), encoding: .utf8),
                try String(contentsOfFile: dir.file("e"), encoding: .utf8))
    }

    func records(_ out: String) -> Int? {
        guard let r = out.range(of: "records ") else { return nil }
        return Int(out[r.upperBound...].prefix { $0.isNumber })
    }

    @Test("item 3: /dev/stdin from a pipe, a FIFO, process substitution and - are read whole, hashed as read, ledgered")
    func nonRegularInputs() throws {
        let dir = try TemporaryDirectory("ingest-streams")
        defer { dir.remove() }
        let lake = dir.file("lake")
        let a = dir.file("a.jsonl"), b = dir.file("b.jsonl"), c = dir.file("c.jsonl")
        try writeLines(evaluationOrders, from: 1, to: 40, into: a)
        try writeLines(evaluationOrders, from: 41, to: 80, into: b)
        try writeLines(evaluationOrders, from: 81, to: 120, into: c)
        try #require(bash("$LAKE ingest catalog --lake \(lake) <(cat \(evaluationCatalog))").status == 0)

        // A pipe through /dev/stdin (the path stat calls size 0): every line read, and the content
        // hash recorded is the file's, so ingesting the file itself afterwards adds nothing.
        let piped = try bash("cat \(a) | $LAKE ingest orders --lake \(lake) --quiet /dev/stdin")
        #expect(piped.status == 0, "\(piped.err)")
        #expect(records(piped.out) == 40, "\(piped.out)")
        let again = try bash("$LAKE ingest orders --lake \(lake) --quiet \(a)")
        #expect(again.status == 0 && again.out.contains("already ingested"), "\(again.out)")
        let store = try LakeStore.open(root: URL(fileURLWithPath: lake), schemas: schemasDirectory)
        #expect(try store.catalog.ledgerEntry(kind: .orders, identity: try ContentHash.file(a)) != nil)

        // A FIFO, written by another process.
        let fifo = dir.file("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let viaFIFO = try bash("cat \(b) > \(fifo) & $LAKE ingest orders --lake \(lake) --quiet \(fifo); wait")
        #expect(viaFIFO.status == 0, "\(viaFIFO.err)")
        #expect(records(viaFIFO.out) == 40, "\(viaFIFO.out)")

        // Process substitution, and the same bytes again through "-": already ingested.
        let substituted = try bash("$LAKE ingest orders --lake \(lake) --quiet <(cat \(c))")
        #expect(substituted.status == 0 && records(substituted.out) == 40, "\(substituted.out) \(substituted.err)")
        let dash = try bash("$LAKE ingest orders --lake \(lake) --quiet - < \(c)")
        #expect(dash.status == 0 && dash.out.contains("already ingested"), "\(dash.out) \(dash.err)")

        // Inventory and catalog through a FIFO too.
        let inv = try bash("cat \(evaluationInventory) > \(fifo) & $LAKE ingest inventory --lake \(lake) \(fifo); wait")
        #expect(inv.status == 0 && records(inv.out) == 50, "\(inv.out) \(inv.err)")

        // An empty FIFO is empty because nothing came through it: an error, nothing committed.
        let before = try store.catalog.snapshots().count
        let empty = try bash(": > \(fifo) & $LAKE ingest orders --lake \(lake) --quiet \(fifo); s=$?; wait; exit $s")
        #expect(empty.status != 0 && empty.err.contains("empty"), "\(empty.err)")
        #expect(try store.catalog.snapshots().count == before)
        #expect(try store.catalog.ingestRuns().filter { $0.kind == .orders }.map(\.records).sorted() == [40, 40, 40])
    }

    @Test("item 5: 7+ fractional digits in --as-of, --where, report and files answer or refuse, never trap")
    func longFractionsOnTheCommandLine() throws {
        let dir = try TemporaryDirectory("cli-fractions")
        defer { dir.remove() }
        _ = try lakeWithCatalog(dir)
        let lake = dir.file("lake")
        let t = "2099-01-01T00:00:00.1234567Z"
        for args in [["query", "products", "--as-of", t, "--agg", "count(*)"],
                     ["query", "products", "--where", "launch_date < \(t)", "--agg", "count(*)"],
                     ["query", "products", "--where", "launch_date between 0001-01-01 and '\(t)'", "--agg", "count(*)"],
                     ["report", "operations", "--as-of", t], ["files", "curated.products", "--as-of", t]] {
            let r = try runLake(args + ["--lake", lake])
            #expect(r.reason == .exit && r.status == 0, "lake \(args.joined(separator: " ")): \(r.err)")
        }
        for bad in ["10000-01-01", "2024-13-01", "2024-01-01T00:00:00.Z", "0000-06-01"] {
            let r = try runLake(["query", "products", "--as-of", bad, "--lake", lake])
            #expect(r.reason == .exit && r.status != 0 && r.err.contains("--as-of"), "\(bad): \(r.err)")
        }
    }

    @Test("item 7: a line in year 10000 is quarantined with a detail naming the value; the rest commits")
    func yearTenThousand() throws {
        let dir = try TemporaryDirectory("ingest-range")
        defer { dir.remove() }
        let store = try lakeWithCatalog(dir)
        let path = dir.file("o.jsonl")
        try writeLines(evaluationOrders, from: 1, to: 10, into: path)
        let far = #"{"order_id": "ORD-FAR", "customerId": "CUST-1", "ts": 253402300800000, "channel": "mobile", "items": [{"product_id": "PROD-001", "quantity": 1, "unit_price": 574.49}], "shipping_address": {"country": "US"}, "status": "confirmed"}"#
        let old = #"{"order_id": "ORD-OLD", "customer_id": "CUST-1", "timestamp": "0000-12-31T23:00:00Z", "channel": "web", "items": [{"product_id": "PROD-001", "quantity": 1, "unit_price": 574.49}], "shipping_address": {"country": "US"}, "status": "confirmed"}"#
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        handle.seekToEndOfFile()
        handle.write(Data((far + "\n" + old + "\n").utf8))
        try handle.close()
        let summary = try OrderIngest.run(store, path: path)
        #expect(summary.records == 12)
        #expect(summary.rejects["invalid_timestamp"] == 2)
        #expect(summary.snapshotID != nil)
        let detail = try bash("$LAKE query raw.orders --lake \(dir.file("lake")) --where \"reject_reason = invalid_timestamp\" --columns line_number,reject_detail --order-by line_number --format csv")
        #expect(detail.status == 0, "\(detail.err)")
        #expect(detail.out.contains("11,") && detail.out.contains("253402300800000") && detail.out.contains("outside the storable range"), "\(detail.out)")
        #expect(detail.out.contains("12,") && detail.out.contains("0000-12-31T23:00:00Z"), "\(detail.out)")
    }

    @Test("item 9: a 100 KB value is stored as short bounds in the catalog; our scan and DuckDB still find it")
    func longValueStatistics() throws {
        let dir = try TemporaryDirectory("ingest-long")
        defer { dir.remove() }
        let store = try lakeWithCatalog(dir)
        let lake = dir.file("lake")
        let long = "CUST-" + String(repeating: "é", count: 50_000)
        let path = dir.file("o.jsonl")
        try writeLines(evaluationOrders, from: 1, to: 4, into: path)
        let line = #"{"order_id": "ORD-LONG", "customer_id": "\#(long)", "timestamp": "2024-01-01T06:00:00Z", "channel": "web", "items": [{"product_id": "PROD-001", "quantity": 1, "unit_price": 574.49}], "shipping_address": {"country": "US"}, "status": "confirmed"}"#
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        handle.seekToEndOfFile()
        handle.write(Data((line + "\n").utf8))
        try handle.close()
        let summary = try OrderIngest.run(store, path: path)
        #expect(summary.records == 5 && summary.accepted >= 1)
        let manifest = try FileManager.default.attributesOfItem(atPath: lake + "/manifest.sqlite")[.size] as! Int
        let stats = try Python.json(Python.duckdbPrelude + """
            import sqlite3
            db = sqlite3.connect("\(lake)/manifest.sqlite")
            longest = db.execute("SELECT max(length(CAST(min_value AS BLOB))), max(length(CAST(max_value AS BLOB))) FROM ducklake_file_column_stats").fetchone()
            con = duck()
            con.execute("ATTACH 'ducklake:sqlite:\(lake)/manifest.sqlite' AS l (DATA_PATH '\(lake)/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
            n = con.execute("SELECT count(*) FROM l.curated.orders WHERE customer_id = ?", ["\(long)"]).fetchone()[0]
            ge = con.execute("SELECT count(*) FROM l.curated.orders WHERE customer_id >= ?", ["\(long)"]).fetchone()[0]
            print(json.dumps({"min": longest[0], "max": longest[1], "n": n, "ge": ge}))
            """) as? [String: Int]
        #expect((stats?["min"] ?? .max) <= 64 && (stats?["max"] ?? .max) <= 67, "\(String(describing: stats))")
        #expect(stats?["n"] == 1 && stats?["ge"] == 1)
        // The manifest did not grow by copies of the value (each would be 100 KB).
        #expect(manifest < 2_000_000)
        let ours = try bash("$LAKE query orders --lake \(lake) --where \"customer_id = '\(long)'\" --columns order_id --format csv")
        #expect(ours.status == 0 && ours.out.contains("ORD-LONG"), "\(ours.err)")
    }

    @Test("item 12: byte-order marks are accepted in inventory CSV, JSONL and catalog JSON; control bytes in messages are escaped")
    func byteOrderMarksAndControlBytes() throws {
        let dir = try TemporaryDirectory("ingest-bom")
        defer { dir.remove() }
        let lake = dir.file("lake")
        let bom = Data([0xEF, 0xBB, 0xBF])
        func withBOM(_ source: String, _ name: String) throws -> String {
            let out = dir.file(name)
            try (bom + (try Data(contentsOf: URL(fileURLWithPath: source)))).write(to: URL(fileURLWithPath: out))
            return out
        }
        let catalog = try bash("$LAKE ingest catalog --lake \(lake) \(try withBOM(evaluationCatalog, "catalog.json"))")
        #expect(catalog.status == 0, "\(catalog.err)")
        let inventory = try bash("$LAKE ingest inventory --lake \(lake) \(try withBOM(evaluationInventory, "inventory.csv"))")
        #expect(inventory.status == 0 && records(inventory.out) == 50, "\(inventory.err)")
        let orders = dir.file("o.jsonl")
        try writeLines(evaluationOrders, from: 1, to: 4, into: orders)  // line 5 of the file is malformed on purpose
        let ordersOut = try bash("$LAKE ingest orders --lake \(lake) --quiet \(try withBOM(orders, "bom.jsonl"))")
        #expect(ordersOut.status == 0 && records(ordersOut.out) == 4 && !ordersOut.out.contains("malformed_json"), "\(ordersOut.out)")

        // A followed file that starts with a BOM: line 1 is an order, not malformed JSON.
        let followDir = try TemporaryDirectory("follow-bom")
        defer { followDir.remove() }
        let followStore = try lakeWithCatalog(followDir)
        var options = StreamOptions()
        options.stopAtEnd = true
        let followed = try StreamIngest.follow(followStore, path: try withBOM(orders, "follow.jsonl"), options: options, stop: StopFlag())
        #expect(followed.records == 4 && followed.rejects["malformed_json"] == nil, "\(followed.rejects)")

        // A header with an escape sequence and a BOM in the middle: shown escaped, never raw.
        let bad = dir.file("bad.csv")
        try Data("product_id,available_quantity,warehouse\u{1B}[2J_location,\u{FEFF}last_updated\nP,1,W,2024-01-01T00:00:00Z\n".utf8)
            .write(to: URL(fileURLWithPath: bad))
        let refused = try bash("$LAKE ingest inventory --lake \(lake) \(bad)")
        #expect(refused.status != 0)
        #expect(!refused.err.contains("\u{1B}") && !refused.err.contains("\u{FEFF}"), "\(refused.err)")
        #expect(refused.err.contains("warehouse\\u{001B}[2J_location") && refused.err.contains("\\u{FEFF}last_updated"), "\(refused.err)")
    }
}
