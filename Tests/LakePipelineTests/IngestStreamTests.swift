import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

@Suite("Ingest: --follow micro-batches with a checkpoint in the same commit", .serialized)
struct IngestStreamTests {
    /// Starts `lake ingest orders --follow` on `file`.
    func startFollow(_ root: String, _ file: String, log: String, commitEvery: Int = 97) throws -> Process {
        let p = Process()
        p.executableURL = lakeBinary
        p.currentDirectoryURL = packageRoot
        p.arguments = ["ingest", "orders", "--lake", root, "--quiet", "--follow", "--commit-every", String(commitEvery), "--commit-interval", "0.2", file]
        #expect(FileManager.default.createFile(atPath: log, contents: nil))
        let h = FileHandle(forWritingAtPath: log)!
        h.seekToEndOfFile()
        p.standardOutput = h
        p.standardError = h
        try p.run()
        return p
    }

    /// Waits until the committed checkpoint of `file` reaches `offset`; returns it.
    @discardableResult
    func waitForCheckpoint(_ root: String, _ file: String, offset: Int64, timeout: TimeInterval = 180) throws -> StreamCheckpoint? {
        let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
        let source = URL(fileURLWithPath: file).standardizedFileURL.path
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let cp = try catalog.streamCheckpoint(source: source), cp.byteOffset >= offset { return cp }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try catalog.streamCheckpoint(source: source)
    }

    func append(_ file: String, _ bytes: Data) throws {
        let h = FileHandle(forWritingAtPath: file)!
        h.seekToEndOfFile()
        h.write(bytes)
        try h.synchronize()
        try h.close()
    }

    @Test("append in steps while following, SIGTERM, restart: every line once, partial line waits for its newline")
    func followStopRestart() throws {
        #expect(FileManager.default.isExecutableFile(atPath: lakeBinary.path), "run `swift build` first: \(lakeBinary.path)")
        let dir = try TemporaryDirectory("ingest-follow")
        defer { dir.remove() }
        let root = dir.file("lake"), file = dir.file("stream.jsonl"), log = dir.file("follow.log")
        #expect(try runLake(["ingest", "catalog", "--lake", root, evaluationCatalog]).status == 0)
        let all = try Data(contentsOf: URL(fileURLWithPath: evaluationOrders))
        // Byte offsets just past line n's newline.
        var ends: [Int] = [0]
        for (i, b) in all.enumerated() where b == UInt8(ascii: "\n") { ends.append(i + 1) }
        try #require(ends.count == 1001)
        #expect(FileManager.default.createFile(atPath: file, contents: nil))

        var p = try startFollow(root, file, log: log)
        try append(file, all[0 ..< ends[300]])
        #expect(try waitForCheckpoint(root, file, offset: Int64(ends[300]))?.byteOffset == Int64(ends[300]))
        // Lines 301-550 and the first half of line 551 (no newline yet).
        let half = ends[550] + (ends[551] - ends[550]) / 2
        try append(file, all[ends[300] ..< half])
        let cp = try waitForCheckpoint(root, file, offset: Int64(ends[550]))
        #expect(cp?.byteOffset == Int64(ends[550]) && cp?.lineNumber == 550)
        Thread.sleep(forTimeInterval: 0.8)  // several commit intervals: the half line must not be consumed
        #expect(try waitForCheckpoint(root, file, offset: 0)?.byteOffset == Int64(ends[550]))
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit && p.terminationStatus == 0,
                "follow did not stop cleanly: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")

        // Restart, then complete line 551 and append the rest in two steps.
        p = try startFollow(root, file, log: log)
        try append(file, all[half ..< ends[800]])
        #expect(try waitForCheckpoint(root, file, offset: Int64(ends[800]))?.lineNumber == 800)
        try append(file, all[ends[800]...])
        let last = try waitForCheckpoint(root, file, offset: Int64(all.count))
        #expect(last?.byteOffset == Int64(all.count) && last?.lineNumber == 1000)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit && p.terminationStatus == 0)

        // Exactly once: the same orders, items and rejects as one ingest of the whole file,
        // and every line in raw exactly once (by line number).
        let lake = try lakeView(URL(fileURLWithPath: root))
        expectSame(lake, try referenceView(orders: [evaluationOrders]), exactRejects: false)
        let lines = try Python.json(Python.duckdbPrelude + """
            root = sys.argv[1]
            con = duck()
            con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
            print(json.dumps(con.execute("SELECT count(DISTINCT line_number), min(line_number), max(line_number) FROM l.raw.orders").fetchone()))
            """, [root]) as! [Int]
        #expect(lines == [1000, 1, 1000])
        #expect(try Catalog.open(root: URL(fileURLWithPath: root), create: false).ingestRuns().filter { $0.kind == .orders }.count >= 4)
    }

    @Test("SIGKILL a follower at random points and restart it: each line committed exactly once")
    func followKillRestart() throws {
        #expect(FileManager.default.isExecutableFile(atPath: lakeBinary.path), "run `swift build` first: \(lakeBinary.path)")
        let dir = try TemporaryDirectory("ingest-follow-kill")
        defer { dir.remove() }
        let root = dir.file("lake"), file = dir.file("stream.jsonl"), log = dir.file("follow.log")
        #expect(try runLake(["ingest", "catalog", "--lake", root, evaluationCatalog]).status == 0)
        // The file grows by an eighth before each round: however fast the machine, no follower
        // reaches the end before the last round, so every round is killed mid-stream.
        let all = try Data(contentsOf: URL(fileURLWithPath: evaluationOrders))
        let lineEnds = all.indices.filter { all[$0] == UInt8(ascii: "\n") }
        try #require(lineEnds.count == 1000 && lineEnds.last == all.count - 1)
        #expect(FileManager.default.createFile(atPath: file, contents: nil))
        let size = Int64(all.count)
        var rng = SplitMix64(seed: 7)
        var kills = 0
        var midway = 0  // kills that landed after some commit and before the end of the file
        for round in 0 ..< 8 {
            let start = round == 0 ? 0 : lineEnds[round * 125 - 1] + 1
            let grown = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
            try grown.seekToEnd()
            try grown.write(contentsOf: all[start ... lineEnds[(round + 1) * 125 - 1]])
            try grown.close()
            // Kill shortly after the follower's next commit (not after a fixed delay, which a
            // loaded machine turns into "always before the first commit"), so kills land at
            // random points between commits: validating, writing segments, committing.
            let before = try waitForCheckpoint(root, file, offset: 0, timeout: 0)?.byteOffset ?? 0
            // Micro-batches of 29 lines: each round's 125 new lines take at least five commits.
            let p = try startFollow(root, file, log: log, commitEvery: 29)
            _ = try waitForCheckpoint(root, file, offset: before + 1)
            Thread.sleep(forTimeInterval: rng.unit() * 0.3)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            if p.terminationReason == .uncaughtSignal { kills += 1 }
            // Whatever was committed is whole: the checkpoint's line count equals raw's rows.
            let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
            let cp = try catalog.streamCheckpoint(source: URL(fileURLWithPath: file).standardizedFileURL.path)
            let rawRows = try catalog.ingestRuns().filter { $0.kind == .orders }.reduce(0) { $0 + $1.records }
            #expect(Int64(rawRows) == (cp?.lineNumber ?? 0))
            // Midway: the kill came before the follower had committed all the file then held.
            if let n = cp?.lineNumber, n > 0 && n < Int64((round + 1) * 125) { midway += 1 }
            // The id runs (merged in commit transactions the kill may have cut short) hold exactly the committed ids.
            try OrderIDRunTests.expectRunsExact(try LakeStore.open(root: URL(fileURLWithPath: root), schemas: schemasDirectory), "after kill \(kills)")
        }
        #expect(kills == 8)
        #expect(midway > 0, "no kill landed between two commits: the test did not exercise a restart mid-file")
        let p = try startFollow(root, file, log: log)
        let cp = try waitForCheckpoint(root, file, offset: size)
        #expect(cp?.byteOffset == size && cp?.lineNumber == 1000)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit && p.terminationStatus == 0)
        expectSame(try lakeView(URL(fileURLWithPath: root)), try referenceView(orders: [evaluationOrders]), exactRejects: false)
    }
}
