import Foundation
import LakeTestSupport
import Testing
@testable import LakePipeline

/// `Tail`, the reader under `ingest orders --follow`, when the followed file changes under it in
/// ways other than growing: it must stop with an error, never hand out lines read from the wrong
/// place or wait forever on a file nobody writes any more.
@Suite("Ingest: a followed file truncated or replaced under the follower")
struct FollowedFileTests {
    static func line(_ n: Int) -> String { "{\"order_id\": \"ORD-\(n)\", \"note\": \"padding to make lines long\"}\n" }

    /// Every line `tail` hands out now, as text; the error if reading fails.
    static func drain(_ tail: inout Tail) -> Result<[String], Error> {
        var lines: [String] = []
        do {
            _ = try tail.read(maxLines: 1_000) { lines.append(String(decoding: $0.bytes, as: UTF8.self)) }
            return .success(lines)
        } catch {
            return .failure(error)
        }
    }

    @Test("truncated in place (copytruncate) and regrown: an error, not lines from the middle of the new content")
    func truncatedInPlace() throws {
        let dir = try TemporaryDirectory("follow-truncate")
        defer { dir.remove() }
        let file = dir.file("orders.jsonl")
        try (1 ... 20).map(Self.line).joined().write(toFile: file, atomically: false, encoding: .utf8)
        var tail = try Tail(path: file, offset: 0, lineNumber: 0)
        #expect(try Self.drain(&tail).get().count == 20)

        // Rotation by copytruncate: same inode, cut to 0, then the writer appends new orders,
        // more bytes than were read before the cut.
        let h = try #require(FileHandle(forWritingAtPath: file))
        try h.truncate(atOffset: 0)
        try h.close()
        let regrown = (100 ... 160).map(Self.line).joined()
        let append = try #require(FileHandle(forWritingAtPath: file))
        try append.seekToEnd()
        try append.write(contentsOf: Data(regrown.utf8))
        try append.close()

        switch Self.drain(&tail) {
        case .success(let lines):
            // Before the fix: read on at the old offset, from the middle of line ~21 of the new
            // content, silently skipping the lines before it.
            Issue.record("read \(lines.count) lines after the truncation, first: \(lines.first ?? "none")")
        case .failure(let error):
            #expect("\(error)".contains("truncated"), "\(error)")
        }
    }

    /// Rewritten in place with other lines up to the read position and the same 64 bytes before
    /// it: only those bytes were compared, and the new lines before the position were skipped.
    @Test("rewritten in place with the same bytes before the read position: an error, not the lines after it only")
    func rewrittenWithTheSameBytesBeforeThePosition() throws {
        let dir = try TemporaryDirectory("follow-rewrite-head")
        defer { dir.remove() }
        let file = dir.file("orders.jsonl")
        let old = (1 ... 20).map(Self.line).joined()
        try old.write(toFile: file, atomically: false, encoding: .utf8)
        var tail = try Tail(path: file, offset: 0, lineNumber: 0)
        #expect(try Self.drain(&tail).get().count == 20)
        // Other orders, padded to end one line before the old end, then the old last line, then more.
        let lastLine = Self.line(20)
        var other = (500 ... 516).map(Self.line).joined()
        let room = old.utf8.count - lastLine.utf8.count - other.utf8.count
        try #require(room > 0)
        other = "{" + String(repeating: " ", count: room) + other.dropFirst()
        let rewritten = other + lastLine + (600 ... 610).map(Self.line).joined()
        try #require(Array(rewritten.utf8.prefix(old.utf8.count).suffix(64)) == Array(old.utf8.suffix(64)))
        try rewritten.write(toFile: file, atomically: false, encoding: .utf8)
        switch Self.drain(&tail) {
        case .success(let lines):
            Issue.record("read \(lines.count) lines after the rewrite, first: \(lines.first ?? "none")")
        case .failure(let error):
            #expect("\(error)".contains("file's first") && "\(error)".contains("changed"), "\(error)")
        }
    }

    @Test("truncated and not regrown yet: an error at the end of the file, not a silent wait")
    func truncatedShorter() throws {
        let dir = try TemporaryDirectory("follow-shrink")
        defer { dir.remove() }
        let file = dir.file("orders.jsonl")
        try (1 ... 20).map(Self.line).joined().write(toFile: file, atomically: false, encoding: .utf8)
        var tail = try Tail(path: file, offset: 0, lineNumber: 0)
        #expect(try Self.drain(&tail).get().count == 20)
        #expect(truncate(file, 10) == 0)
        #expect(throws: IngestError.self) { _ = try Self.drain(&tail).get() }
    }

    @Test("replaced (renamed away, new file under the name): an error, not a follower stuck on the old file")
    func replaced() throws {
        let dir = try TemporaryDirectory("follow-replace")
        defer { dir.remove() }
        let file = dir.file("orders.jsonl")
        try (1 ... 20).map(Self.line).joined().write(toFile: file, atomically: false, encoding: .utf8)
        var tail = try Tail(path: file, offset: 0, lineNumber: 0)
        #expect(try Self.drain(&tail).get().count == 20)
        try FileManager.default.moveItem(atPath: file, toPath: dir.file("orders.jsonl.1"))
        try (21 ... 30).map(Self.line).joined().write(toFile: file, atomically: false, encoding: .utf8)
        switch Self.drain(&tail) {
        case .success(let lines):
            Issue.record("the follower saw \(lines.count) lines and would wait on the rotated file forever")
        case .failure(let error):
            #expect("\(error)".contains("replaced"), "\(error)")
        }
    }

    @Test("a file that only grows reads on without error, across several appends")
    func growingFileIsFine() throws {
        let dir = try TemporaryDirectory("follow-grow")
        defer { dir.remove() }
        let file = dir.file("orders.jsonl")
        try (1 ... 5).map(Self.line).joined().write(toFile: file, atomically: false, encoding: .utf8)
        var tail = try Tail(path: file, offset: 0, lineNumber: 0)
        #expect(try Self.drain(&tail).get().count == 5)
        #expect(try Self.drain(&tail).get().isEmpty)
        let h = try #require(FileHandle(forWritingAtPath: file))
        try h.seekToEnd()
        try h.write(contentsOf: Data((6 ... 9).map(Self.line).joined().utf8))
        try h.close()
        let next = try Self.drain(&tail).get()
        #expect(next.count == 4 && next.first?.contains("ORD-6") == true)
    }
}

extension FollowedFileTests {
    @Test("restart on a file replaced since the checkpoint: an error, not reading from inside a line of the new file")
    func restartOnReplacedFile() throws {
        let dir = try TemporaryDirectory("follow-restart-replaced")
        defer { dir.remove() }
        let file = dir.file("orders.jsonl")
        try (1 ... 20).map(Self.line).joined().write(toFile: file, atomically: false, encoding: .utf8)
        var tail = try Tail(path: file, offset: 0, lineNumber: 0)
        #expect(try Self.drain(&tail).get().count == 20)
        let checkpoint = (offset: tail.offset, line: tail.lineNumber)
        // A resume at the checkpoint of the same file reads on from the next line.
        var resumed = try Tail(path: file, offset: checkpoint.offset, lineNumber: checkpoint.line)
        #expect(try Self.drain(&resumed).get().isEmpty)
        // Replaced by a longer file whose lines do not end where the checkpoint does.
        try (1 ... 80).map { "{\"order_id\": \"ORD-X\($0)\"}\n" }.joined().write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: IngestError.self) { _ = try Tail(path: file, offset: checkpoint.offset, lineNumber: checkpoint.line) }
    }
}
