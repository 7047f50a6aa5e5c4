import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

/// Every raw line as DuckDB reads it back: line number, offset, id, reason and detail, in line order.
let duckRawLines = Python.duckdbPrelude + """
root = sys.argv[1]
con = duck()
con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
rows = con.execute("SELECT line_number, byte_offset, order_id, channel, CAST(event_date AS VARCHAR), reject_reason, reject_detail FROM l.raw.orders ORDER BY line_number").fetchall()
print(json.dumps([list(r) for r in rows]))
"""

struct RawLine: Codable, Equatable, CustomStringConvertible {
    var values: [String?]
    init(from decoder: Decoder) throws {
        var c = try decoder.unkeyedContainer()
        var out: [String?] = []
        while !c.isAtEnd {
            if try c.decodeNil() { out.append(nil) } else if let i = try? c.decode(Int64.self) { out.append(String(i)) } else { out.append(try c.decode(String.self)) }
        }
        values = out
    }
    func encode(to encoder: Encoder) throws { var c = encoder.unkeyedContainer(); try c.encode(values) }
    var description: String { values.map { $0 ?? "NULL" }.joined(separator: " | ") }
}

func rawLines(_ root: URL) throws -> [RawLine] {
    try JSONDecoder().decode([RawLine].self, from: Data(try Python.run(duckRawLines, [root.path]).utf8))
}

/// An orders source whose duplicates sit close together and far apart: the evaluation file
/// (its own duplicates and conflicting duplicates), then a replay of some of its lines in
/// reverse order, and replays with other content (conflicting duplicates), so with small chunks a first occurrence and its repeat are in neighbouring
/// chunks of one round, in different rounds, and in the same chunk.
func duplicateHeavySource(_ dir: TemporaryDirectory) throws -> String {
    let text = try String(contentsOfFile: evaluationOrders, encoding: .utf8)
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if lines.last == "" { lines.removeLast() }
    var out = lines
    for i in stride(from: 40, through: 0, by: -1) { out.append(lines[i]) }
    out.insert(contentsOf: lines[10 ..< 14], at: 15)
    out.append(contentsOf: lines[500 ..< 530])
    // Conflicting replays: the same ids with another customer (part of the normalised content).
    let conflicting = lines[600 ..< 640].map { $0.replacingOccurrences(of: "\"customer_id\": \"", with: "\"customer_id\": \"X") }
    out.insert(contentsOf: conflicting, at: 700)
    out.append(contentsOf: conflicting.reversed())
    let path = dir.file("dupes.jsonl")
    try (out.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite("Ingest: chunks validated in parallel equal the serial run", .serialized)
struct IngestParallelTests {
    func ingest(_ dir: TemporaryDirectory, _ label: String, path: String, parallelism: Int, chunkBytes: Int = 8 << 20,
                forcedFingerprint: UInt64? = nil) throws -> (IngestRun, LakeView, [RawLine]) {
        let store = try LakeStore.open(root: dir.url.appendingPathComponent(label, isDirectory: true), schemas: schemasDirectory)
        _ = try CatalogIngest.run(store, path: evaluationCatalog)
        var options = IngestOptions()
        options.parallelism = parallelism
        options.chunkBytes = chunkBytes
        options.forcedIDFingerprint = forcedFingerprint
        let summary = try OrderIngest.run(store, path: path, options: options)
        return (summary, try lakeView(store.root), try rawLines(store.root))
    }

    @Test("parallel output = serial output = the Python reference, with duplicates straddling chunk boundaries", arguments: [
        (2, 700), (3, 2_000), (2, 64 << 10),
    ])
    func parallelEqualsSerial(parallelism: Int, chunkBytes: Int) throws {
        let dir = try TemporaryDirectory("ingest-parallel")
        defer { dir.remove() }
        let source = try duplicateHeavySource(dir)
        let (serialSummary, serial, serialRaw) = try ingest(dir, "serial", path: source, parallelism: 1)
        let (summary, parallel, raw) = try ingest(dir, "parallel", path: source, parallelism: parallelism, chunkBytes: chunkBytes)
        let reference = try referenceView(orders: [source])

        // The source really has both kinds of in-batch duplicate, so the settling is exercised.
        #expect((reference.rejects["duplicate_order"] ?? 0) >= 40)
        #expect((reference.rejects["conflicting_duplicate"] ?? 0) > 0)
        expectSame(serial, reference)
        expectSame(parallel, reference)
        // Row for row: the same line numbers, offsets, reasons and details (with line numbers).
        #expect(raw.count == serialRaw.count)
        let firstDiff = zip(raw, serialRaw).first { $0 != $1 }
        #expect(firstDiff == nil, "first raw line differing (parallel vs serial): \(String(describing: firstDiff))")
        #expect(raw.contains { $0.values[6]?.contains("repeats an order accepted earlier") == true })
        #expect(summary.records == serialSummary.records && summary.accepted == serialSummary.accepted)
        #expect(summary.rejects == serialSummary.rejects && summary.duplicates == serialSummary.duplicates)
    }

    /// The verbatim line is written without min/max (`unboundedColumns`): every file's stats
    /// and the table's hold NULL bounds with the values counted, and DuckDB, attaching the lake,
    /// filters lines by equality and range exactly as a scan that cannot prune does.
    @Test("raw lines have no bounds; the catalog's bounds are unknown and DuckDB filters lines right")
    func rawLineBoundsUnknown() throws {
        let dir = try TemporaryDirectory("ingest-raw-bounds")
        defer { dir.remove() }
        let source = try duplicateHeavySource(dir)
        _ = try ingest(dir, "lake", path: source, parallelism: 2, chunkBytes: 64 << 10)
        let root = dir.url.appendingPathComponent("lake", isDirectory: true).path
        let script = Python.duckdbPrelude + """
        import sqlite3
        root = sys.argv[1]
        db = sqlite3.connect(f"{root}/manifest.sqlite")
        col = "SELECT c.table_id, c.column_id FROM ducklake_column c JOIN ducklake_table t USING (table_id) WHERE t.table_name = 'orders' AND c.column_name = ? AND t.end_snapshot IS NULL AND c.end_snapshot IS NULL AND t.schema_id = (SELECT schema_id FROM ducklake_schema WHERE schema_name = 'raw')"
        line = db.execute(col, ["line"]).fetchone()
        order_id = db.execute(col, ["order_id"]).fetchone()
        files = db.execute("SELECT count(*), sum(min_value IS NULL AND max_value IS NULL), sum(value_count) FROM ducklake_file_column_stats WHERE table_id = ? AND column_id = ?", line).fetchone()
        table = db.execute("SELECT min_value, max_value FROM ducklake_table_column_stats WHERE table_id = ? AND column_id = ?", line).fetchone()
        ids = db.execute("SELECT min_value IS NOT NULL FROM ducklake_table_column_stats WHERE table_id = ? AND column_id = ?", order_id).fetchone()
        con = duck()
        con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
        pick = con.execute("SELECT line FROM l.raw.orders WHERE line_number = 11").fetchone()[0]
        low, high = con.execute("SELECT min(line), max(line) FROM l.raw.orders").fetchone()
        out = {"files": list(files), "table": list(table), "ids_bounded": bool(ids[0]),
               "lines": con.execute("SELECT count(line) FROM l.raw.orders").fetchone()[0]}
        for name, where, arg in [("eq", "line = ?", pick), ("gt", "line > ?", pick), ("le", "line <= ?", pick),
                                 ("max", "line >= ?", high), ("min", "line <= ?", low), ("above", "line > ?", high)]:
            pruned = con.execute(f"SELECT count(*) FROM l.raw.orders WHERE {where}", [arg]).fetchone()[0]
            full = con.execute(f"SELECT sum(CASE WHEN {where} THEN 1 ELSE 0 END) FROM l.raw.orders", [arg]).fetchone()[0]
            out[name] = [pruned, full or 0]
        print(json.dumps(out))
        """
        let out = try #require(try Python.json(script, [root]) as? [String: Any])
        let files = try #require(out["files"] as? [Int])
        #expect(files.count == 3 && files[0] > 0 && files[1] == files[0], "every raw file's line stats without bounds: \(files)")
        #expect(files[2] == out["lines"] as? Int, "value counts still add up to the lines")
        #expect((out["table"] as? [Any])?.allSatisfy { $0 is NSNull } == true, "table bounds unknown: \(String(describing: out["table"]))")
        #expect(out["ids_bounded"] as? Bool == true, "other columns keep their bounds")
        for name in ["eq", "gt", "le", "max", "min", "above"] {
            let counts = try #require(out[name] as? [Int], "\(name)")
            #expect(counts[0] == counts[1], "\(name): filtered \(counts[0]), counted without pruning \(counts[1])")
        }
        #expect((out["eq"] as? [Int])?.first ?? 0 >= 2, "line 11 is replayed")
        #expect((out["max"] as? [Int])?.first ?? 0 >= 1)
    }

    @Test("with every order id given the same fingerprint, no order is dropped and duplicates are still found")
    func forcedCollisionDropsNothing() throws {
        let dir = try TemporaryDirectory("ingest-collide")
        defer { dir.remove() }
        let source = try duplicateHeavySource(dir)
        let (_, lake, _) = try ingest(dir, "collide", path: source, parallelism: 2, chunkBytes: 3_000, forcedFingerprint: 0x5EED)
        expectSame(lake, try referenceView(orders: [source]))
    }

    /// A partition gone quiet has its queued rows written as a row group early (the idle flush);
    /// late rows for it that keep arriving a few at a time, each after the partition went quiet
    /// again, must not each become a row group of their own: they wait for `finish`, as every
    /// row did before the idle flush. Here 40 lines of 2024-01-01 open the source and one line in
    /// 60 after them is a straggler of that day; 3,000-byte chunks make a write of about 8 lines.
    @Test("stragglers to a partition that went quiet share one row group, not one each")
    func idlePartitionStragglersShareARowGroup() throws {
        let dir = try TemporaryDirectory("ingest-stragglers")
        defer { dir.remove() }
        let lines = try String(contentsOfFile: evaluationOrders, encoding: .utf8).split(separator: "\n").map(String.init)
        let source = lines.enumerated().map { k, line in
            let day = k < 40 || k % 60 == 0 ? "2024-01-01" : "2024-01-02"
            return line.replacing(/"timestamp": "[^"]*"/, with: "\"timestamp\": \"\(day)T10:00:00Z\"")
                .replacing(/"channel": "[^"]*"/, with: "\"channel\": \"web\"")
        }
        let path = dir.file("stragglers.jsonl")
        try (source.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        /// The 2024-01-01 web file of curated.orders: (row groups, rows).
        func quietPartition(_ label: String, parallelism: Int) throws -> (groups: Int, rows: Int) {
            let store = try LakeStore.open(root: dir.url.appendingPathComponent(label, isDirectory: true), schemas: schemasDirectory)
            _ = try CatalogIngest.run(store, path: evaluationCatalog)
            var options = IngestOptions()
            options.parallelism = parallelism
            options.chunkBytes = 3_000
            _ = try OrderIngest.run(store, path: path, options: options)
            let partition = store.root.appendingPathComponent("curated/orders/event_date=2024-01-01/channel=web")
            let files = try FileManager.default.contentsOfDirectory(atPath: partition.path).filter { $0.hasSuffix(".parquet") }
            try #require(files.count == 1, "\(files)")
            let reader = try ParquetFileReader(path: partition.appendingPathComponent(files[0]).path)
            return (reader.rowGroupCount, (0 ..< reader.rowGroupCount).reduce(0) { $0 + reader.rowGroupRowCount($1) })
        }
        // The serial run writes the whole source at once: one row group, the reference rows.
        let serial = try quietPartition("serial", parallelism: 1)
        let parallel = try quietPartition("parallel", parallelism: 2)
        #expect(serial.groups == 1 && serial.rows > 40, "\(serial)")
        #expect(parallel.rows == serial.rows)
        // One row group written when the day went quiet, one for every straggler at the end.
        #expect(parallel.groups <= 2, "\(parallel.groups) row groups for \(parallel.rows) rows")
    }

    @Test("the batch's id set tells colliding ids apart by their bytes")
    func firstOccurrencesVerifyExactly() {
        var firsts = FirstOccurrences(capacity: 16, forcedFingerprint: 7)
        func claim(_ s: String, _ content: UInt64) -> RejectReason? {
            var s = s
            return s.withUTF8 { firsts.claim(UnsafeRawBufferPointer($0), content: content)?.0 }
        }
        for i in 0 ..< 500 { #expect(claim("ORD-\(i)", UInt64(i)) == nil) }
        #expect(firsts.count == 500)
        #expect(claim("ORD-17", 17) == .duplicateOrder)
        #expect(claim("ORD-17", 18) == .conflictingDuplicate)
        #expect(claim("ORD-500", 500) == nil)
        #expect(claim("ORD-1", 1) == .duplicateOrder)
    }

    @Test("reserving the id set mid-way keeps every claim, and its answers are those of an unreserved set")
    func reservedFirstOccurrencesKeepClaims() {
        var plain = FirstOccurrences(capacity: 4)
        var sized = FirstOccurrences(capacity: 4)
        func claim(_ f: inout FirstOccurrences, _ s: String, _ content: UInt64) -> RejectReason? {
            var s = s
            return s.withUTF8 { f.claim(UnsafeRawBufferPointer($0), content: content)?.0 }
        }
        for i in 0 ..< 100 { _ = claim(&plain, "ORD-\(i)", UInt64(i)); _ = claim(&sized, "ORD-\(i)", UInt64(i)) }
        sized.reserve(orders: 5_000)
        for i in stride(from: 0, to: 3_000, by: 3) {
            #expect(claim(&plain, "ORD-\(i)", UInt64(i % 7)) == claim(&sized, "ORD-\(i)", UInt64(i % 7)))
        }
        #expect(plain.count == sized.count)
        var a = OrderIDRun(), b = OrderIDRun()
        plain.takeIDs(into: &a)
        sized.takeIDs(into: &b)
        var left: [String] = [], right: [String] = []
        a.forEach { left.append(String(decoding: $0, as: UTF8.self)) }
        b.forEach { right.append(String(decoding: $0, as: UTF8.self)) }
        #expect(left == right && left.count == 1_066)
    }

    @Test("chunks give every line the number, offset and bytes the line reader gives it", arguments: [16, 17, 40, 100, 4096])
    func chunksMatchLineReader(chunkBytes: Int) throws {
        let dir = try TemporaryDirectory("line-chunks")
        defer { dir.remove() }
        let long = String(repeating: "x", count: 300)
        let cases: [String] = [
            "", "\n", "a", "a\n", "a\r\nb\r\n", "\u{FEFF}{\"a\":1}\n{\"b\":2}", "\u{FEFF}", "\n\n\nz\r",
            "one\n\(long)\ntwo\n\(long)\(long)", "\r\n\r\n", (0 ..< 50).map { "line \($0)" }.joined(separator: "\n"),
        ]
        for (i, text) in cases.enumerated() {
            let path = dir.file("case-\(i).txt")
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            var expected: [String] = []
            try LineReader(path: path).forEachLine { expected.append("\($0.number)@\($0.offset):\(Array($0.bytes))") }
            let input = try SourceInput.open(path)
            let chunker = LineChunker(input, chunkBytes: chunkBytes)
            var got: [String] = []
            var counted = 0
            while let chunk = try chunker.next() {
                counted += chunk.lineCount
                chunk.forEachLine { got.append("\($0.number)@\($0.offset):\(Array($0.bytes))") }
            }
            #expect(got == expected, "case \(i) at \(chunkBytes)-byte chunks")
            #expect(counted == expected.count)
            #expect(input.bytesRead == Int64(text.utf8.count))
        }
    }
}
