import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A run of whole lines of a source, cut so that chunks can be validated on different threads:
/// it knows the number of its first line and the offset of its first byte, so every line keeps
/// the number and offset a serial read (`LineReader`) gives it.
final class LineChunk: @unchecked Sendable {
    // Owned; written once by `LineChunker` before the chunk is handed out, then only read.
    private let storage: UnsafeMutableRawPointer
    private let capacity: Int
    /// Where the storage goes back when the chunk is done with.
    private let buffers: ChunkBuffers
    /// Whole lines, each with its newline except possibly the source's last.
    let bytes: UnsafeRawBufferPointer
    /// 1-based number of the first line.
    let firstLine: Int
    /// Offset of `bytes[0]` in the source.
    let offset: Int64
    /// How many lines `bytes` holds.
    let lineCount: Int

    fileprivate init(storage: UnsafeMutableRawPointer, capacity: Int, buffers: ChunkBuffers, start: Int, count: Int,
                     firstLine: Int, offset: Int64, lineCount: Int) {
        self.storage = storage
        self.capacity = capacity
        self.buffers = buffers
        bytes = UnsafeRawBufferPointer(start: storage + start, count: count)
        self.firstLine = firstLine
        self.offset = offset
        self.lineCount = lineCount
    }

    deinit { buffers.give(storage, capacity: capacity) }

    /// Calls `body` for every line, in order, as `LineReader` would: without the newline and
    /// a '\r' before it.
    func forEachLine<E: Error>(_ body: (Line) throws(E) -> Void) throws(E) {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        let end = bytes.count
        var start = 0, number = firstLine
        while start < end {
            var stop: Int, next: Int
            if let nl = memchr(base + start, 10, end - start) {
                stop = base.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                next = stop + 1
            } else {
                stop = end
                next = end
            }
            if stop > start && base[stop - 1] == 13 { stop -= 1 }
            try body(Line(bytes: UnsafeRawBufferPointer(start: base + start, count: stop - start), number: number, offset: offset + Int64(start)))
            number += 1
            start = next
        }
    }
}

/// Chunk buffers kept for the next chunks once their chunk is done with (validated and
/// settled): the source is read into memory already faulted in. A fresh 8 MiB buffer a chunk
/// was faulted in page by page by read(2)'s copy, about 15 % of an ingest's page faults
/// (`perf record -e page-faults`). Only buffers of the standard size are kept (a chunk grown
/// for a long line is freed), at most `limit` of them: the chunks in flight.
final class ChunkBuffers: @unchecked Sendable {
    let size: Int
    private let limit: Int
    private let lock = NSLock()
    private var idle: [UnsafeMutableRawPointer] = []

    init(size: Int, limit: Int) {
        self.size = size
        self.limit = limit
    }

    deinit { for b in idle { b.deallocate() } }

    /// A buffer of `capacity` bytes, a kept one when `capacity` is the standard size.
    func take(capacity: Int) -> UnsafeMutableRawPointer {
        if capacity == size {
            lock.lock()
            let kept = idle.popLast()
            lock.unlock()
            if let kept { return kept }
        }
        return UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    func give(_ buffer: UnsafeMutableRawPointer, capacity: Int) {
        if capacity == size {
            lock.lock()
            let kept = idle.count < limit
            if kept { idle.append(buffer) }
            lock.unlock()
            if kept { return }
        }
        buffer.deallocate()
    }
}

/// Cuts a source into line-aligned chunks of about `chunkBytes` each, reading it once through
/// `SourceInput` (so the ledger hash covers exactly the bytes read), whatever it is: a regular
/// file, a pipe, a FIFO or standard input. A line longer than a chunk makes its chunk larger, up
/// to `maxLineBytes`, beyond which the source is not line data (as `LineReader`). A UTF-8
/// byte-order mark at the start is skipped, as `LineReader` does.
final class LineChunker {
    private let input: SourceInput
    private let chunkBytes: Int
    private let maxLineBytes: Int
    /// The incomplete line after the last chunk's final newline.
    private var carry: [UInt8] = []
    private var carryOffset: Int64 = 0
    private var linesBefore = 0
    private var eof = false
    private var atStart = true
    private let buffers: ChunkBuffers

    /// `keep`: how many chunk buffers to keep for reuse (the chunks a caller holds at once).
    init(_ input: SourceInput, chunkBytes: Int, maxLineBytes: Int = LineReader.maxLineBytes, keep: Int = 4) {
        self.input = input
        self.chunkBytes = max(chunkBytes, 16)
        self.maxLineBytes = maxLineBytes
        buffers = ChunkBuffers(size: self.chunkBytes, limit: keep)
    }

    /// The next chunk, or nil once the source is consumed.
    func next() throws(FileIOError) -> LineChunk? {
        if eof && carry.isEmpty { return nil }
        // Room for the carried line and more, but never past one byte beyond the longest line
        // allowed: a longer one must fill the buffer without a newline to be refused.
        var capacity = max(chunkBytes, min(carry.count * 2, maxLineBytes + 1))
        var buffer = buffers.take(capacity: capacity)
        var handedOut = false
        defer { if !handedOut { buffers.give(buffer, capacity: capacity) } }
        carry.withUnsafeBytes { if $0.count > 0 { buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        var filled = carry.count
        var scanned = filled  // no newline in the carried bytes
        // Where the chunk's bytes start: past a byte-order mark, found once, and kept while a
        // long first line grows the buffer (reset each pass, the mark became line 1's first bytes).
        var start = 0
        while true {
            while filled < capacity && !eof {
                let n: Int
                do { n = try input.read(into: buffer + filled, count: capacity - filled) } catch {
                    throw error.readError
                }
                if n == 0 { eof = true } else { filled += n }
            }
            if atStart && (filled >= 3 || eof) {
                atStart = false
                let b = buffer.assumingMemoryBound(to: UInt8.self)
                if filled >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
                    start = 3
                    carryOffset = 3
                    scanned = max(scanned, 3)
                }
            }
            let base = buffer.assumingMemoryBound(to: UInt8.self)
            // The chunk ends after its last newline; at the end of the source, at its last byte.
            var cut = -1
            var i = filled
            while i > scanned {
                i -= 1
                if base[i] == 10 { cut = i + 1; break }
            }
            if eof && cut < filled { cut = filled }
            if cut > start {
                let lines = Self.countLines(UnsafeRawBufferPointer(start: base + start, count: cut - start))
                let chunk = LineChunk(storage: buffer, capacity: capacity, buffers: buffers, start: start, count: cut - start, firstLine: linesBefore + 1,
                                      offset: carryOffset, lineCount: lines)
                handedOut = true
                carry = Array(UnsafeRawBufferPointer(start: base + cut, count: filled - cut))
                carryOffset += Int64(cut - start)
                linesBefore += lines
                return chunk
            }
            if eof {  // only a byte-order mark, or nothing
                carry = []
                return nil
            }
            // No newline yet: one line longer than the buffer. Grow it and read on, to one byte
            // past the longest line allowed: the limit is on the line, whatever the buffer's size.
            guard filled - start <= maxLineBytes else { throw FileIOError.lineTooLong(path: input.path, line: linesBefore + 1, limit: maxLineBytes) }
            scanned = filled
            let grown = min(capacity * 2, start + maxLineBytes + 1)
            let bigger = buffers.take(capacity: grown)
            bigger.copyMemory(from: buffer, byteCount: filled)
            buffers.give(buffer, capacity: capacity)
            buffer = bigger
            capacity = grown
        }
    }

    /// Lines in `bytes`: its newlines, plus one for a last line without one.
    private static func countLines(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else { return 0 }
        var n = 0, at = 0
        while at < bytes.count, let nl = memchr(base + at, 10, bytes.count - at) {
            n += 1
            at = base.distance(to: nl.assumingMemoryBound(to: UInt8.self)) + 1
        }
        return at < bytes.count ? n + 1 : n
    }
}
