#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything that can go wrong reading or writing a Parquet segment, each naming the file.
public enum ParquetError: Error, CustomStringConvertible, Equatable {
    case io(path: String, operation: String, errno: Int32)
    /// The file does not start and end with the magic bytes "PAR1".
    case notParquet(path: String, reason: String)
    /// The footer or a page is cut short, or an offset points outside the file.
    case truncated(path: String, detail: String)
    /// The Thrift footer or a page header cannot be decoded.
    case corruptMetadata(path: String, detail: String)
    /// A page's bytes do not decode (bad levels, indices out of range, sizes that disagree).
    case corruptPage(path: String, column: String, detail: String)
    case decompressionFailed(path: String, column: String, codec: String, detail: String)
    /// A valid Parquet feature that this reader does not implement.
    case unsupported(path: String, feature: String)
    /// A value the file holds validly that lake's in-memory type cannot: a decimal of a column
    /// another engine widened past 18 digits whose value does not fit Int64. Not damage.
    case valueOutOfRange(path: String, column: String, detail: String)
    /// The batch handed to the writer does not match the schema it was opened with.
    case schemaMismatch(path: String, detail: String)
    /// The file's size is not the size recorded when it was committed (truncated, grown or replaced).
    case sizeMismatch(path: String, expected: Int64, actual: Int64)
    /// The footer's bytes are not the ones written: CRC-32 recorded at commit vs the file's now.
    case footerChecksumMismatch(path: String, expected: UInt32, actual: UInt32)
    /// A page's bytes are not the ones written: the CRC-32 in its header vs the bytes' now.
    case pageChecksumMismatch(path: String, column: String, rowGroup: Int, offset: Int64, expected: UInt32, actual: UInt32)
    /// The storage refused an operation that has no file-system equivalent above (a key
    /// outside the lake, a second create of one key).
    case storage(StorageError)

    /// A storage failure as the Parquet reader and writer report it: OS failures and missing
    /// files as `.io` (as before storage existed, so callers classify them alike), a short
    /// read as `.truncated`.
    public init(_ e: StorageError) {
        switch e {
        case .notFound(let l): self = .io(path: l, operation: "open", errno: ENOENT)
        case .io(let l, let op, let errno): self = .io(path: l, operation: op, errno: errno)
        case .shortRead(let l, let offset, let count, let size):
            self = .truncated(path: l, detail: "file ends at \(size), expected \(count) bytes from \(offset)")
        default: self = .storage(e)
        }
    }

    public var description: String {
        switch self {
        case .io(let path, let op, let e):
            return "\(path): \(op) failed: \(errnoText(e))"
        case .storage(let e): return e.description
        case .notParquet(let path, let reason):
            return "\(path): not a Parquet file (\(reason))"
        case .truncated(let path, let detail):
            return "\(path): truncated Parquet file: \(detail)"
        case .corruptMetadata(let path, let detail):
            return "\(path): corrupt Parquet metadata: \(detail)"
        case .corruptPage(let path, let column, let detail):
            return "\(path): column \(column): corrupt page: \(detail)"
        case .decompressionFailed(let path, let column, let codec, let detail):
            return "\(path): column \(column): \(codec) page does not decompress: \(detail)"
        case .unsupported(let path, let feature):
            return "\(path): unsupported Parquet feature: \(feature)"
        case .valueOutOfRange(let path, let column, let detail):
            return "\(path): column \(column): \(detail); the file is not damaged: read this column with DuckDB"
        case .schemaMismatch(let path, let detail):
            return "\(path): batch does not match the file's schema: \(detail)"
        case .sizeMismatch(let path, let expected, let actual):
            return "\(path): the file is \(actual) bytes but was committed with \(expected) (truncated, grown or replaced); restore it from a backup"
        case .footerChecksumMismatch(let path, let expected, let actual):
            return "\(path): footer checksum mismatch (CRC-32 \(hex(actual)), committed \(hex(expected))): the file's metadata is corrupt; restore it from a backup"
        case .pageChecksumMismatch(let path, let column, let rowGroup, let offset, let expected, let actual):
            return "\(path): column \(column): row group \(rowGroup): page at byte \(offset) fails its checksum (CRC-32 \(hex(actual)), header says \(hex(expected))): the page is corrupt; restore the file from a backup"
        }
    }
}

private func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - s.count) + s
}

/// A page-level decoding failure, before the reader knows which file and column it came from.
struct PageError: Error {
    var detail: String
    /// A valid value lake cannot hold (`ParquetError.valueOutOfRange`), not a malformed page.
    var outOfRange = false
    init(_ detail: String, outOfRange: Bool = false) {
        self.detail = detail
        self.outOfRange = outOfRange
    }
}
