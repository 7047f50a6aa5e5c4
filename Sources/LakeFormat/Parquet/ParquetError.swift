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
    /// The batch handed to the writer does not match the schema it was opened with.
    case schemaMismatch(path: String, detail: String)

    public var description: String {
        switch self {
        case .io(let path, let op, let e):
            return "\(path): \(op) failed: \(String(cString: strerror(e)))"
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
        case .schemaMismatch(let path, let detail):
            return "\(path): batch does not match the file's schema: \(detail)"
        }
    }
}


/// A page-level decoding failure, before the reader knows which file and column it came from.
struct PageError: Error {
    var detail: String
    init(_ detail: String) { self.detail = detail }
}
