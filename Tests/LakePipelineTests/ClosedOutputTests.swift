import Foundation
import LakeTestSupport
import Testing

/// Output to a pipe whose reader is gone, with SIGPIPE ignored (systemd starts services so, and
/// a journald restart breaks their stream; `lake serve` ignores it through NIO). Every write
/// then fails with EPIPE, and `FileHandle.write(_:)` traps: `lake serve` crashed at its next
/// request log line and a follower at its next commit line, with a Swift fatal error and a
/// backtrace (session 16 probe). Lines that cannot be written are dropped now.
@Suite(.serialized) struct ClosedOutputTests {
    /// `lake arguments` with SIGPIPE ignored; `stream` (1 or 2) goes to a pipe already closed at
    /// its reading end, the other to `log`. For the server, stdout is a pipe we read the port from.
    static func start(_ arguments: [String], closing stream: Int32, log: String) throws -> (Process, FileHandle?) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", "trap '' PIPE; exec \"$@\"", "bash", lakeBinary.path] + arguments
        p.currentDirectoryURL = packageRoot
        let closed = Pipe()
        #expect(FileManager.default.createFile(atPath: log, contents: nil))
        let logHandle = FileHandle(forWritingAtPath: log)
        var portPipe: Pipe?
        if stream == 2 {
            p.standardError = closed
            let out = Pipe()
            portPipe = out
            p.standardOutput = out
        } else {
            p.standardOutput = closed
            p.standardError = logHandle
        }
        try p.run()
        try closed.fileHandleForReading.close()
        return (p, portPipe?.fileHandleForReading)
    }

    @Test("a follower whose stdout reader is gone keeps committing: every line once, SIGTERM exit 0")
    func followerWithClosedStdout() throws {
        let dir = try TemporaryDirectory("closed-stdout-follow")
        defer { dir.remove() }
        let root = dir.file("lake"), file = dir.file("live.jsonl")
        var r = try runLake(["ingest", "catalog", "--lake", root, evaluationCatalog])
        #expect(r.status == 0, "\(r.err)")
        let lines = try String(contentsOfFile: evaluationOrders, encoding: .utf8).split(separator: "\n")
        try (lines.prefix(400).joined(separator: "\n") + "\n").write(toFile: file, atomically: false, encoding: .utf8)
        let (p, _) = try Self.start(["ingest", "orders", "--lake", root, "--follow", "--commit-interval", "0.2", file], closing: 1, log: dir.file("err"))
        // Commits, each with a line to the closed stdout.
        for part in [lines.dropFirst(400).prefix(300), lines.dropFirst(700)] {
            Thread.sleep(forTimeInterval: 2)
            let h = try #require(FileHandle(forWritingAtPath: file))
            h.seekToEndOfFile()
            h.write(Data((part.joined(separator: "\n") + "\n").utf8))
            try h.close()
        }
        // Every line committed (a fixed wait could end first on a loaded machine), then a stop.
        let size = Int64(try Data(contentsOf: URL(fileURLWithPath: file)).count)
        let cp = try IngestStreamTests().waitForCheckpoint(root, file, offset: size, timeout: 120)
        #expect(cp?.lineNumber == Int64(lines.count), "checkpoint \(String(describing: cp))")
        #expect(p.isRunning, "the follower ended: \((try? String(contentsOfFile: dir.file("err"), encoding: .utf8))?.prefix(400) ?? "")")
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        #expect(p.terminationReason == .exit && p.terminationStatus == 0, "status \(p.terminationStatus)")
        r = try runLake(["query", "raw.orders", "--lake", root, "--agg", "count(*)", "--agg", "count_distinct(line_number)", "--format", "csv"])
        #expect(r.out.split(separator: "\n").last.map(String.init) == "\(lines.count),\(lines.count)", "\(r.out)\(r.err)")
    }

    @Test("lake serve whose request log (stderr) reader is gone answers every request")
    func serverWithClosedLog() throws {
        let dir = try TemporaryDirectory("closed-stderr-serve")
        defer { dir.remove() }
        let root = dir.file("lake")
        let r = try runLake(["run", "--input", evaluationFiles.path, "--lake", root])
        #expect(r.status == 0, "\(r.err)")
        let (p, out) = try Self.start(["serve", "--lake", root, "--host", "127.0.0.1", "--port", "0"], closing: 2, log: dir.file("err"))
        defer { if p.isRunning { p.terminate() }; p.waitUntilExit() }
        var line = Data()
        while let b = try out?.read(upToCount: 1), !b.isEmpty, b != Data("\n".utf8) { line.append(b) }
        let text = String(decoding: line, as: UTF8.self)
        let port = try #require(text.split(separator: ":").last.flatMap { Int($0) }, "no port in '\(text)'")
        for _ in 0 ..< 4 {
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            curl.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", "http://127.0.0.1:\(port)/api/v1/daily_sales"]
            let o = Pipe()
            curl.standardOutput = o
            try curl.run()
            curl.waitUntilExit()
            let code = String(decoding: o.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(code == "200", "answered \(code)")
        }
        #expect(p.isRunning, "the server ended (status \(p.isRunning ? 0 : p.terminationStatus))")
    }
}
