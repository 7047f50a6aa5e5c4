import Foundation
import LakeTestSupport
import Testing
@testable import LakePipeline

/// The parallel ingest's reader / validators / settler pipeline: whatever order the validation
/// threads finish in, chunks are consumed in line order, and failures keep line order too.
@Suite("Ingest: chunk pipeline keeps line order", .serialized)
struct ChunkPipelineTests {
    private struct Planted: Error, Equatable { let at: Int }

    /// A file of `lines` numbered lines, cut into chunks of about 64 bytes.
    private func source(_ dir: TemporaryDirectory, lines: Int) throws -> (SourceInput, LineChunker, Int) {
        let path = dir.file("lines.txt")
        let text = (1 ... lines).map { "{\"line\": \($0)}" }.joined(separator: "\n") + "\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let input = try SourceInput.open(path)
        return (input, LineChunker(input, chunkBytes: 64), text.utf8.count)
    }

    /// The line numbers a chunk holds, after a pause that lets later chunks finish first.
    private static func numbers(_ chunk: LineChunk) -> [Int] {
        usleep(UInt32.random(in: 0 ... 2000))
        var out: [Int] = []
        chunk.forEachLine { out.append($0.number) }
        return out
    }

    @Test("every chunk is consumed once, in line order, whichever validator finishes first", arguments: [1, 2, 3])
    func consumedInLineOrder(validators: Int) throws {
        let dir = try TemporaryDirectory("chunk-pipeline")
        defer { dir.remove() }
        let (input, chunker, size) = try source(dir, lines: 2000)
        var seen: [Int] = []
        try ChunkPipeline<[Int]>.run(window: validators + 1, validators: validators, read: { try chunker.next() },
                                     validate: { _, chunk in Self.numbers(chunk) }) { chunk, numbers in
            #expect(numbers.first == chunk.firstLine)
            seen += numbers
        }
        #expect(seen == Array(1 ... 2000))
        #expect(input.bytesRead == Int64(size), "the reader hashed every byte")
    }

    @Test("a read failure is thrown after every chunk before it was consumed, and none after")
    func readFailureKeepsLineOrder() throws {
        let dir = try TemporaryDirectory("chunk-pipeline")
        defer { dir.remove() }
        let (_, chunker, _) = try source(dir, lines: 2000)
        let lock = NSLock()
        var reads = 0
        var consumed = 0
        #expect(throws: Planted(at: 7)) {
            try ChunkPipeline<[Int]>.run(window: 3, validators: 2, read: {
                let n = lock.withLock { () -> Int in
                    reads += 1
                    return reads
                }
                if n == 8 { throw Planted(at: 7) }
                return try chunker.next()
            }, validate: { _, chunk in Self.numbers(chunk) }) { _, _ in consumed += 1 }
        }
        #expect(consumed == 7)
    }

    @Test("a failure while consuming stops the reader and validators and is rethrown")
    func consumeFailureStops() throws {
        let dir = try TemporaryDirectory("chunk-pipeline")
        defer { dir.remove() }
        let (input, chunker, size) = try source(dir, lines: 20000)
        var consumed = 0
        #expect(throws: Planted(at: 3)) {
            try ChunkPipeline<[Int]>.run(window: 3, validators: 2, read: { try chunker.next() },
                                         validate: { _, chunk in Self.numbers(chunk) }) { _, _ in
                if consumed == 3 { throw Planted(at: 3) }
                consumed += 1
            }
        }
        #expect(consumed == 3)
        // At most `window` chunks past the failing one were read: the reader stopped.
        #expect(input.bytesRead < Int64(size) / 10)
    }

    /// The text of each line of `chunk`, with its number.
    private static func lines(_ chunk: LineChunk) -> [(Int, String)] {
        var out: [(Int, String)] = []
        chunk.forEachLine { out.append(($0.number, String(decoding: $0.bytes, as: UTF8.self))) }
        return out
    }

    @Test("a chunk's buffer goes to a later chunk only once the chunk is released; a held chunk keeps its lines")
    func buffersReusedOnlyWhenReleased() throws {
        let dir = try TemporaryDirectory("chunk-pipeline")
        defer { dir.remove() }
        let expected = (1 ... 2000).map { ($0, "{\"line\": \($0)}") }
        // Every chunk held: no two share storage, and each still holds its own lines at the end.
        let (_, held, _) = try source(dir, lines: 2000)
        var chunks: [LineChunk] = []
        while let c = try held.next() { chunks.append(c) }
        #expect(chunks.count > 100)
        #expect(Set(chunks.map { Int(bitPattern: $0.bytes.baseAddress) }).count == chunks.count)
        let heldLines = chunks.flatMap(Self.lines)
        #expect(heldLines.map(\.0) == expected.map(\.0) && heldLines.map(\.1) == expected.map(\.1))
        // Each chunk released before the next is read: the next one is read into its buffer.
        let (_, released, _) = try source(dir, lines: 2000)
        var seen: [(Int, String)] = []
        var previous: Int?
        var reused = 0
        while let c = try released.next() {
            if let previous, previous == Int(bitPattern: c.bytes.baseAddress) { reused += 1 }
            previous = Int(bitPattern: c.bytes.baseAddress)
            seen += Self.lines(c)
        }
        #expect(reused == chunks.count - 1)
        #expect(seen.map(\.0) == expected.map(\.0) && seen.map(\.1) == expected.map(\.1))
    }
}
