import Foundation
import LakeTestSupport
import Testing

/// Ctrl-C (SIGINT) or SIGTERM during a batch ingest or a compaction killed the process where it
/// was: nothing partial was committed, but every file the batch had written stayed (session 16
/// probe: up to 998 `.tmp-….pending` files after one interrupted `lake run` of 40,000 orders;
/// 236 published files and their hold names after an interrupted `lake compact`), for a vacuum
/// to remove an hour later. The first signal now stops the work at its next check, deletes its
/// files and exits 128 + the signal, saying so.
@Suite(.serialized) struct InterruptedBatchTests {
    static func files(under root: String, _ match: (String) -> Bool) -> [String] {
        (FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []).filter { match(($0 as NSString).lastPathComponent) }
    }

    static func directories(under root: String) -> Set<String> {
        FailedWriteCleanupTests.directories(under: URL(fileURLWithPath: root))
    }

    /// Whether process `pid` has a handler for `signal` (the SigCgt mask in /proc/PID/status).
    static func catches(_ signal: Int32, pid: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
              let mask = UInt64(line.dropFirst("SigCgt:".count).trimmingCharacters(in: .whitespaces), radix: 16) else { return false }
        return mask & (1 << UInt64(signal - 1)) != 0
    }

    static func latestSnapshot(_ root: String) throws -> String {
        let r = try runLake(["snapshots", "--lake", root, "--format", "csv"])
        #expect(r.status == 0, "\(r.err)")
        return String(r.out.split(separator: "\n").last?.split(separator: ",").first ?? "")
    }

    /// SIGTERM: the test runner may have started us ignoring SIGINT, which the child inherits
    /// and `Interruption` keeps (a background job's SIGINT is its shell's business).
    @Test("SIGTERM while `lake ingest orders` reads a FIFO, after it wrote files: exit 143 naming the signal, nothing committed, no file or directory left; the rerun commits")
    func interruptedIngestLeavesNothing() throws {
        let dir = try TemporaryDirectory("interrupted-ingest")
        defer { dir.remove() }
        let root = dir.file("lake"), gen = dir.file("gen"), fifo = dir.file("orders.fifo")
        var r = try runLake(["generate", "--orders", "60000", "--days", "200", "--seed", "3", "--out", gen])
        #expect(r.status == 0, "\(r.err)")
        r = try runLake(["ingest", "catalog", "--lake", root, gen + "/product_catalog.json"])
        #expect(r.status == 0, "\(r.err)")
        let before = try Self.latestSnapshot(root)
        let directoriesBefore = Self.directories(under: root)
        let lines = try String(contentsOfFile: gen + "/orders_stream.jsonl", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)

        let ingest = try FIFOIngest(root: root, fifo: fifo, errFile: dir.file("err"))
        let p = ingest.process, writer = ingest.writer
        func send(_ text: Substring) {
            var bytes = Array(text.utf8)
            bytes.append(UInt8(ascii: "\n"))
            _ = bytes.withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }
        }
        // Most of the orders: the ingest writes files into their partitions, then waits for more.
        for line in lines.prefix(45_000) { send(line) }
        var waited = 0.0
        while Self.files(under: root, { $0.hasPrefix(".tmp-") }).isEmpty && waited < 120 {
            Thread.sleep(forTimeInterval: 0.1)
            waited += 0.1
        }
        let writing = Self.files(under: root, { $0.hasPrefix(".tmp-") }).count
        #expect(writing > 0, "the ingest wrote no file in 120 s")
        kill(p.processIdentifier, SIGTERM)
        Thread.sleep(forTimeInterval: 0.3)
        // More bytes: a read blocked on the FIFO returns, and the next one sees the signal.
        for line in lines.dropFirst(45_000).prefix(10) { send(line) }
        close(writer)
        p.waitUntilExit()
        let err = ingest.err
        #expect(p.terminationReason == .exit && p.terminationStatus == 143,
                "reason \(p.terminationReason.rawValue), status \(p.terminationStatus): \(err)")
        #expect(err.contains("stopped by SIGTERM") && err.contains("nothing of it was committed"), "\(err)")
        #expect(try Self.latestSnapshot(root) == before, "a snapshot was committed")
        let left = Self.files(under: root) { $0.hasSuffix(".pending") || $0.hasSuffix(".parquet") }
            .filter { !$0.hasPrefix("curated/products") && !$0.hasPrefix("raw/products") }
        #expect(left.isEmpty, "\(left.count) files left of \(writing) being written, e.g. \(left.prefix(3))")
        #expect(Self.directories(under: root) == directoriesBefore, "directories left")

        r = try runLake(["ingest", "orders", "--lake", root, "--quiet", gen + "/orders_stream.jsonl"])
        #expect(r.status == 0, "\(r.err)")
        r = try runLake(["verify", "--lake", root])
        #expect(r.status == 0, "\(r.out)\(r.err)")
    }

    /// Session 16 probe: `lake ingest orders -` blocked reading a pipe that sends nothing did not
    /// see the first SIGINT/SIGTERM (the handlers restart the read) until data or the end came; a
    /// second signal killed it. Now the first one ends it like any interrupted ingest.
    @Test("SIGTERM while `lake ingest orders -` waits on a silent pipe: exit 143 within seconds, nothing committed")
    func silentPipeSeesTheFirstSignal() throws {
        let dir = try TemporaryDirectory("interrupted-silent-pipe")
        defer { dir.remove() }
        let root = dir.file("lake")
        let r = try runLake(["ingest", "catalog", "--lake", root, packageRoot.appendingPathComponent("Evaluation-Files/product_catalog.json").path])
        #expect(r.status == 0, "\(r.err)")
        let before = try Self.latestSnapshot(root)
        let input = Pipe()
        let p = Process()
        p.executableURL = lakeBinary
        p.currentDirectoryURL = packageRoot
        p.arguments = ["ingest", "orders", "--lake", root, "--quiet", "-"]
        let errFile = dir.file("err")
        #expect(FileManager.default.createFile(atPath: errFile, contents: nil))
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle(forWritingAtPath: errFile)
        try p.run()
        // Once the lake catches SIGTERM it has opened the lake (its handler comes after) and soon
        // blocks in the read of standard input; a signal before that would kill it outright.
        var caught = false, waitedForHandler = 0.0
        while !caught && p.isRunning && waitedForHandler < 120 {
            caught = Self.catches(SIGTERM, pid: p.processIdentifier)
            if !caught { Thread.sleep(forTimeInterval: 0.05); waitedForHandler += 0.05 }
        }
        try #require(caught, "the ingest never installed its SIGTERM handler")
        Thread.sleep(forTimeInterval: 0.5)
        kill(p.processIdentifier, SIGTERM)
        var waited = 0.0
        while p.isRunning && waited < 10 {
            Thread.sleep(forTimeInterval: 0.1)
            waited += 0.1
        }
        let stillBlocked = p.isRunning
        #expect(!stillBlocked, "still running 10 s after SIGTERM")
        // Without the fix only the pipe's end (or a second signal) ends it.
        try input.fileHandleForWriting.close()
        if stillBlocked { Thread.sleep(forTimeInterval: 2); if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        p.waitUntilExit()
        let err = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
        #expect(p.terminationReason == .exit && p.terminationStatus == 143, "reason \(p.terminationReason.rawValue), status \(p.terminationStatus): \(err)")
        #expect(err.contains("stopped by SIGTERM") && err.contains("nothing of it was committed"), "\(err)")
        #expect(try Self.latestSnapshot(root) == before, "a snapshot was committed")
    }
}
