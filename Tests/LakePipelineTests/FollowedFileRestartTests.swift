import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

/// A follower restarted on a file that is no longer the one its checkpoint counted (rotated
/// while no follower ran): before session 21 only the byte before the checkpoint was checked
/// (a line end), so a new file with a line ending at the same offset was read from there, its
/// first lines silently skipped, exit 0.
@Suite("Follow: a restart checks the committed bytes before its checkpoint", .serialized)
struct FollowedFileRestartTests {
    static func lines(_ path: String) throws -> [Data] {
        let all = try Data(contentsOf: URL(fileURLWithPath: path))
        var out: [Data] = [], start = 0
        for (i, b) in all.enumerated() where b == UInt8(ascii: "\n") {
            out.append(all[start ... i])
            start = i + 1
        }
        return out
    }

    @Test("a file replaced since the checkpoint with a line end at the same offset: an error, nothing committed")
    func replacedWithALineEndAtTheCheckpoint() throws {
        let dir = try TemporaryDirectory("follow-witness")
        defer { dir.remove() }
        let store = try lakeWithCatalog(dir)
        let orders = try Self.lines(evaluationOrders)
        let file = dir.file("live.jsonl")
        var options = StreamOptions()
        options.stopAtEnd = true
        options.commitEvery = 40

        let first = orders[0 ..< 100].reduce(Data(), +)
        try first.write(to: URL(fileURLWithPath: file))
        #expect(try StreamIngest.follow(store, path: file, options: options, stop: StopFlag()).records == 100)
        // The same file grown: the restart checks its witness and reads on.
        let grown = first + orders[100 ..< 150].reduce(Data(), +)
        try grown.write(to: URL(fileURLWithPath: file))
        #expect(try StreamIngest.follow(store, path: file, options: options, stop: StopFlag()).records == 50)

        // Rotated while no follower ran: a new file under the name, longer than the checkpoint,
        // padded (spaces inside the first object) so that one of its lines ends exactly there.
        var next = Array(orders[150 ..< 450])
        var sum = 0, k = 0
        while sum + next[k].count <= grown.count { sum += next[k].count; k += 1 }
        let pad = grown.count - sum
        next[0] = Data("{".utf8) + Data(repeating: UInt8(ascii: " "), count: pad) + next[0].dropFirst()
        let replacement = next.reduce(Data(), +)
        try #require(replacement.count > grown.count && replacement[grown.count - 1] == UInt8(ascii: "\n"))
        try replacement.write(to: URL(fileURLWithPath: dir.file("live.new")))
        #expect(rename(dir.file("live.new"), file) == 0)

        #expect {
            _ = try StreamIngest.follow(store, path: file, options: options, stop: StopFlag())
        } throws: { error in
            "\(error)".contains("are not the ones committed there") && "\(error)".contains("live.jsonl") && "\(error)".contains("--from-start")
        }
        // Nothing of the new file was committed: the runs hold the first file's 150 lines.
        let runs = try store.catalog.ingestRuns().filter { $0.kind == .orders }
        #expect(runs.reduce(0) { $0 + $1.records } == 150)
        let cp = try store.catalog.streamCheckpoint(source: URL(fileURLWithPath: file).standardizedFileURL.path)
        #expect(cp?.byteOffset == Int64(grown.count) && cp?.lineNumber == 150 && cp?.witness?.byteCount == 64)

        // The way on that the error names: follow the new file from its first line.
        options.fromStart = true
        let fromStart = try StreamIngest.follow(store, path: file, options: options, stop: StopFlag())
        #expect(fromStart.records == 300)
        let after = try store.catalog.streamCheckpoint(source: URL(fileURLWithPath: file).standardizedFileURL.path)
        #expect(after?.byteOffset == Int64(replacement.count) && after?.lineNumber == 300)
        // And a plain restart of the new file now resumes at its own checkpoint.
        options.fromStart = false
        #expect(try StreamIngest.follow(store, path: file, options: options, stop: StopFlag()).records == 0)
    }

    @Test("a checkpoint an older build saved (no witness) still resumes; a save without one drops a stale witness")
    func checkpointWithoutWitness() throws {
        let dir = try TemporaryDirectory("follow-no-witness")
        defer { dir.remove() }
        let store = try lakeWithCatalog(dir)
        let orders = try Self.lines(evaluationOrders)
        let file = dir.file("live.jsonl")
        var options = StreamOptions()
        options.stopAtEnd = true
        try orders[0 ..< 60].reduce(Data(), +).write(to: URL(fileURLWithPath: file))
        #expect(try StreamIngest.follow(store, path: file, options: options, stop: StopFlag()).records == 60)
        let source = URL(fileURLWithPath: file).standardizedFileURL.path
        let saved = try #require(try store.catalog.streamCheckpoint(source: source))
        #expect(saved.witness != nil)
        // As an older build moves a checkpoint: no witness row at the new offset.
        _ = try store.catalog.commit(message: "older build") { tx in
            try tx.saveStreamCheckpoint(source: source, byteOffset: saved.byteOffset, lineNumber: saved.lineNumber)
        }
        #expect(try store.catalog.streamCheckpoint(source: source)?.witness == nil)
        try orders[0 ..< 90].reduce(Data(), +).write(to: URL(fileURLWithPath: file))
        #expect(try StreamIngest.follow(store, path: file, options: options, stop: StopFlag()).records == 30)
        #expect(try store.catalog.streamCheckpoint(source: source)?.witness != nil)
    }
}

extension IngestStreamTests {
    @Test("stopped with a last line that has no newline: exit 0, and stderr says the line was not ingested")
    func stopWithAnUnterminatedLastLine() throws {
        #expect(FileManager.default.isExecutableFile(atPath: lakeBinary.path), "run `swift build` first: \(lakeBinary.path)")
        let dir = try TemporaryDirectory("follow-unterminated")
        defer { dir.remove() }
        let root = dir.file("lake"), file = dir.file("stream.jsonl"), log = dir.file("follow.log")
        #expect(try runLake(["ingest", "catalog", "--lake", root, evaluationCatalog]).status == 0)
        let orders = try FollowedFileRestartTests.lines(evaluationOrders)
        let head = orders[0 ..< 50].reduce(Data(), +)
        try (head + orders[50].dropLast()).write(to: URL(fileURLWithPath: file))
        var p = try startFollow(root, file, log: log)
        #expect(try waitForCheckpoint(root, file, offset: Int64(head.count))?.lineNumber == 50)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit && p.terminationStatus == 0)
        let said = try String(contentsOfFile: log, encoding: .utf8)
        #expect(said.contains("\(orders[50].count - 1) bytes after line 50 (byte \(head.count)) were not ingested: a last line with no line end yet"), "\(said)")

        // Its newline written, a restart commits it and says nothing more.
        try append(file, Data("\n".utf8))
        p = try startFollow(root, file, log: log)
        #expect(try waitForCheckpoint(root, file, offset: Int64(head.count + orders[50].count))?.lineNumber == 51)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit && p.terminationStatus == 0)
        let second = try String(contentsOfFile: log, encoding: .utf8)  // startFollow starts the log afresh
        #expect(second.contains("lines ..51") && !second.contains("were not ingested"), "\(second)")
    }
}
