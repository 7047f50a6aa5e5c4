import LakeFormat

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors from reading and writing files, naming the path and the OS error.
public enum FileIOError: Error, CustomStringConvertible, Equatable {
    case open(path: String, errno: Int32)
    case read(path: String, errno: Int32)
    case write(path: String, errno: Int32)
    case rename(from: String, to: String, errno: Int32)
    case lineTooLong(path: String, line: Int, limit: Int)
    /// See `SourceInputError.changedWhileRead`.
    case changedWhileRead(path: String, detail: String)
    /// See `SourceInputError.interrupted`.
    case interrupted(path: String, signal: Int32)
    /// See `SourceInputError.compressed`.
    case compressed(path: String, format: CompressionFormat)

    public var description: String {
        switch self {
        case .open(let p, let e): return "\(p): cannot open (\(errnoText(e)))"
        case .read(let p, let e): return "\(p): read failed (\(errnoText(e)))"
        case .write(let p, let e): return "\(p): write failed (\(errnoText(e)))"
        case .rename(let a, let b, let e): return "cannot rename \(a) to \(b) (\(errnoText(e)))"
        case .lineTooLong(let p, let l, let limit):
            return "\(p): line \(l) is longer than \(limit) bytes; is this really a JSON Lines / CSV file?"
        case .changedWhileRead(let p, let detail):
            return "\(p): the file changed while it was read (\(detail)), so what was read may mix two versions of it and nothing was committed; "
                + "ingest it again once nothing writes to it (copy it aside first, or follow a file that keeps growing with `lake ingest orders --follow`)"
        case .interrupted(let p, let signal):
            return "\(p): \(Interrupted(signal: signal).description)"
        case .compressed(let p, let format):
            return format.refusal(path: p)
        }
    }
}

/// Appends bytes to a large in-memory buffer and hands it to `write(2)` only when full, so
/// writing hundreds of MB costs a few hundred syscalls. Output goes to `<path>.tmp` and is
/// renamed into place by `close()`, so a crash never leaves a half-written file under the
/// real name.
public struct ByteWriter: ~Copyable {
    public let path: String
    private let tmpPath: String
    private var fd: Int32
    private var buffer: [UInt8]
    private let capacity: Int
    public private(set) var bytesWritten: Int64 = 0

    public init(path: String, bufferSize: Int = 4 << 20) throws(FileIOError) {
        self.path = path
        tmpPath = path + ".tmp"
        fd = open(tmpPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw .open(path: tmpPath, errno: errno) }
        capacity = bufferSize
        buffer = []
        buffer.reserveCapacity(bufferSize)
    }

    deinit { if fd >= 0 { _ = Glibc.close(fd); unlink(tmpPath) } }

    @inline(__always)
    public mutating func write(_ byte: UInt8) throws(FileIOError) {
        buffer.append(byte)
        if buffer.count >= capacity { try flush() }
    }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws(FileIOError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= capacity { try flush() }
    }

    public mutating func write(_ bytes: [UInt8]) throws(FileIOError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= capacity { try flush() }
    }

    public mutating func write(_ s: String) throws(FileIOError) {
        var s = s
        s.withUTF8 { buffer.append(contentsOf: $0) }
        if buffer.count >= capacity { try flush() }
    }

    public mutating func flush() throws(FileIOError) {
        var failure: Int32 = 0
        buffer.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                done += n
            }
        }
        if failure != 0 { throw .write(path: tmpPath, errno: failure) }
        bytesWritten += Int64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, closes and atomically renames `<path>.tmp` to `path`, then syncs the directory
    /// so the new name survives a power loss too. Returns the bytes written.
    @discardableResult
    public consuming func close() throws(FileIOError) -> Int64 {
        try flush()
        if fsync(fd) != 0 { throw .write(path: tmpPath, errno: errno) }
        // A failed close (NFS, quota) can mean the bytes never landed: an error, not a rename.
        let closed = Glibc.close(fd)
        let closeErrno = errno
        fd = -1
        if closed != 0 { unlink(tmpPath); throw .write(path: tmpPath, errno: closeErrno) }
        if rename(tmpPath, path) != 0 {
            let e = errno
            unlink(tmpPath)
            throw .rename(from: tmpPath, to: path, errno: e)
        }
        let directory = Durability.parent(of: path)
        do { try Durability.syncDirectory(directory) } catch let ParquetError.io(_, _, e) {
            throw .write(path: directory, errno: e)
        } catch {
            throw .write(path: directory, errno: EIO)
        }
        return bytesWritten
    }
}

/// Number and date formatting straight into byte buffers (no String round trips).
enum ByteFormat {
    @inline(__always)
    static func appendInt(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 {
            out.append(UInt8(ascii: "-"))
            appendUInt(value.magnitude, to: &out)
        } else {
            appendUInt(UInt64(value), to: &out)
        }
    }

    @inline(__always)
    static func appendUInt(_ value: UInt64, to out: inout [UInt8]) {
        if value < 10 { out.append(48 + UInt8(value)); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        var v = value
        withUnsafeMutableBytes(of: &digits) { d in
            while v > 0 {
                d[n] = 48 + UInt8(v % 10)
                v /= 10
                n += 1
            }
            while n > 0 {
                n -= 1
                out.append(d[n])
            }
        }
    }

    /// Zero-padded to `width` digits.
    @inline(__always)
    static func appendPadded(_ value: Int, width: Int, to out: inout [UInt8]) {
        var div = 1
        for _ in 1 ..< width { div *= 10 }
        var v = value
        while div > 0 {
            out.append(48 + UInt8((v / div) % 10))
            v %= div
            div /= 10
        }
    }

    /// Unscaled cents as "12.34" / "-0.05".
    static func appendCents(_ cents: Int64, to out: inout [UInt8]) {
        var m = cents.magnitude
        if cents < 0 { out.append(UInt8(ascii: "-")) }
        appendUInt(m / 100, to: &out)
        out.append(UInt8(ascii: "."))
        m %= 100
        out.append(48 + UInt8(m / 10))
        out.append(48 + UInt8(m % 10))
    }

    /// "2024-01-15T10:30:00Z" (whole seconds) or with ".000Z" millis when `millis` is set.
    static func appendISO(micros: Int64, millis: Bool, to out: inout [UInt8]) {
        let secs = floorDiv(micros, 1_000_000)
        let days = floorDiv(secs, 86_400)
        let sod = Int(secs - days * 86_400)
        let (y, m, d) = CivilDate.fromDays(days)
        appendPadded(y, width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(m, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(d, width: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        appendPadded(sod / 3600, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(sod / 60 % 60, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(sod % 60, width: 2, to: &out)
        if millis {
            out.append(UInt8(ascii: "."))
            appendPadded(Int(floorMod(micros, 1_000_000) / 1000), width: 3, to: &out)
        }
        out.append(UInt8(ascii: "Z"))
    }
}

@inline(__always) func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

@inline(__always) func floorMod(_ a: Int64, _ b: Int64) -> Int64 { a - floorDiv(a, b) * b }

