#if canImport(Glibc)
import Glibc
#endif
import LakeFormat

/// One line as the reader hands it out. `bytes` excludes the newline (and a trailing '\r')
/// and points into the reader's buffer: valid only inside the callback.
public struct Line {
    public var bytes: UnsafeRawBufferPointer
    /// 1-based.
    public var number: Int
    /// Offset of the line's first byte in the file.
    public var offset: Int64
    /// The line ended "\r\n" (the '\r' is not in `bytes`): a CSV field quoted across lines keeps
    /// the line break as written.
    public var endsWithCR = false
}

/// Streams a file (or stdin) in large chunks and yields each line in place, without copying
/// it. A line that straddles chunks is moved to the front of the buffer once; a line longer
/// than the buffer grows it, up to `maxLineBytes`, beyond which the file is not line data.
public struct LineReader: ~Copyable {
    /// The longest line (its bytes before the newline) any reader of line sources takes: a
    /// longer one means the source is not JSON Lines or CSV. One-off ingests and followers alike.
    public static let maxLineBytes = 64 << 20
    public let path: String
    private let fd: Int32
    /// The descriptor when this reader opened the file (closed when the reader goes); nil when it
    /// reads a `SourceInput`, which owns its own.
    private let file: FileDescriptor?
    private let chunkSize: Int
    private let maxLineBytes: Int
    private var input: SourceInput? = nil

    public init(path: String, chunkSize: Int = 4 << 20, maxLineBytes: Int = LineReader.maxLineBytes) throws(FileIOError) {
        self.path = path
        do { file = try FileDescriptor(opening: path, flags: O_RDONLY) } catch { throw .open(path: path, errno: error.errno) }
        fd = file!.raw
        self.chunkSize = max(chunkSize, 16)
        self.maxLineBytes = maxLineBytes
    }

    /// Reads a source from where it stands to its end, hashing what it reads (`SourceInput`):
    /// the one way ingest reads files, pipes, FIFOs and standard input.
    public init(_ input: SourceInput, chunkSize: Int = 4 << 20, maxLineBytes: Int = LineReader.maxLineBytes) {
        path = input.path
        fd = input.fd
        file = nil
        self.input = input
        self.chunkSize = max(chunkSize, 16)
        self.maxLineBytes = maxLineBytes
    }

    /// Calls `body` for every line, in order. A final line without a newline is still a line;
    /// an empty file has none.
    public func forEachLine<E: Error>(_ body: (Line) throws(E) -> Void) throws -> Void {
        var buffer = UnsafeMutableRawPointer.allocate(byteCount: chunkSize, alignment: 16)
        var capacity = chunkSize
        defer { buffer.deallocate() }
        var filled = 0           // bytes valid in buffer
        var lineStart = 0        // start of the current (incomplete) line in buffer
        var fileOffset: Int64 = 0  // file offset of buffer[0]
        var lineNumber = 0
        var eof = false
        var scanFrom = 0
        var bomChecked = false
        while true {
            // Yield every complete line in buffer[lineStart ..< filled].
            let base = buffer.assumingMemoryBound(to: UInt8.self)
            var i = scanFrom
            while i < filled {
                if let nl = memchr(base + i, 10, filled - i) {
                    let end = base.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                    lineNumber += 1
                    var stop = end
                    if stop > lineStart && base[stop - 1] == 13 { stop -= 1 }
                    try body(Line(bytes: UnsafeRawBufferPointer(start: base + lineStart, count: stop - lineStart),
                                  number: lineNumber, offset: fileOffset + Int64(lineStart), endsWithCR: stop < end))
                    lineStart = end + 1
                    i = lineStart
                } else {
                    i = filled
                }
            }
            if eof {
                if lineStart < filled {
                    lineNumber += 1
                    var stop = filled
                    if base[stop - 1] == 13 { stop -= 1 }
                    try body(Line(bytes: UnsafeRawBufferPointer(start: base + lineStart, count: stop - lineStart),
                                  number: lineNumber, offset: fileOffset + Int64(lineStart)))
                }
                return
            }
            // Keep the partial line: move it to the front, or grow when it fills the buffer.
            let partial = filled - lineStart
            if lineStart > 0 {
                if partial > 0 { memmove(buffer, buffer + lineStart, partial) }
                fileOffset += Int64(lineStart)
                lineStart = 0
                filled = partial
            }
            if filled == capacity {
                // The limit is on the line (its bytes before the newline), whatever the buffer's size.
                guard filled - lineStart <= maxLineBytes else { throw FileIOError.lineTooLong(path: path, line: lineNumber + 1, limit: maxLineBytes) }
                let grown = min(capacity * 2, lineStart + maxLineBytes + 1)
                let bigger = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 16)
                bigger.copyMemory(from: buffer, byteCount: filled)
                buffer.deallocate()
                buffer = bigger
                capacity = grown
            }
            scanFrom = filled
            var n: Int
            if let input {
                do { n = try input.read(into: buffer + filled, count: capacity - filled) } catch {
                    throw error.readError
                }
            } else {
                n = read(fd, buffer + filled, capacity - filled)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileIOError.read(path: path, errno: errno)
                }
            }
            if n == 0 { eof = true } else { filled += n }
            // A UTF-8 byte-order mark (added by some editors and spreadsheet exports) opens the
            // stream, not the first line's content: the header or first record starts after it.
            // Decided once 3 bytes are in (a pipe may deliver fewer per read), or at the end.
            if !bomChecked && fileOffset == 0 && (filled >= 3 || eof) {
                bomChecked = true
                let b = buffer.assumingMemoryBound(to: UInt8.self)  // `base` is stale if the buffer grew
                if filled >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF && lineStart == 0 {
                    lineStart = 3
                    scanFrom = 3
                }
            }
        }
    }
}
