// Writes RecordBatches as one Apache Parquet file: flat schema, v1 data pages, PLAIN or
// RLE_DICTIONARY per column chunk (whichever is smaller), zstd pages, min/max/null_count
// statistics per chunk, a field_id on every column, and key/value metadata.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum ParquetCompression: Sendable, Equatable {
    case uncompressed
    case zstd(level: Int32)
}

public struct ParquetWriteOptions: Sendable {
    public var compression: ParquetCompression = .zstd(level: 3)
    /// Rows per row group: the unit of statistics-based skipping.
    public var rowGroupRows: Int = 122_880
    /// Also end a row group once the queued rows hold this many bytes, which bounds the memory
    /// of a writer kept open while rows trickle in (one per partition during ingest).
    public var rowGroupBytes: Int = 128 << 20
    /// Target uncompressed size of a data page, and the cap on a dictionary page.
    public var pageBytes: Int = 1 << 20
    /// Try dictionary encoding per column chunk and keep it where it is smaller than PLAIN.
    public var dictionary: Bool = true
    /// Columns written PLAIN without trying a dictionary: values known to be unique in
    /// practice, such as a verbatim source line, where a dictionary tried per chunk is built
    /// (a hash and a copy of every byte) only to be dropped as larger than PLAIN.
    public var plainColumns: Set<String> = []
    /// Store each page's CRC-32 in its header (Parquet's `crc` field), so a flipped bit in a
    /// page is an error on read, here and in any reader that verifies (pyarrow, parquet-java).
    public var pageChecksums: Bool = true
    /// Stored in the footer's key_value_metadata (e.g. the registry's schema version).
    public var metadata: [String: String] = [:]
    /// fsync the file, then its directory, before close returns, so a catalog commit never
    /// points at unsynced data or at a name a power loss could drop.
    public var sync: Bool = true
    /// Test instrumentation: runs in `close()` once every byte is written and before the fsync.
    /// The crash tests kill the process here (`Tests/LakeCatalogWriter`); nil in production.
    public var beforeSync: (@Sendable (_ path: String) -> Void)?

    public init() {}
}

/// What a finished file holds, for the catalog: sizes and per-column statistics.
public struct ParquetFileSummary: Sendable {
    public var path: String
    public var rowCount: Int64
    public var fileSize: Int64
    public var footerSize: Int64
    /// CRC-32 of the file's last `footerSize + 4` bytes before the closing magic (the Thrift
    /// footer and its length): recorded by the catalog, checked by `ParquetFileReader(path:expect:)`.
    public var footerChecksum: UInt32
    public var rowGroupCount: Int
    /// One entry per schema field, merged over every row group.
    public var columnStatistics: [ColumnStatistics]
}

public final class ParquetFileWriter {
    public let path: String
    public let schema: Schema
    private let options: ParquetWriteOptions
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var offset: Int64 = 0
    private var rowGroups: [RowGroup] = []
    private var pending: [(batch: RecordBatch, range: Range<Int>)] = []
    private var pendingRows = 0
    /// Estimated bytes of the rows queued for the next row group.
    public private(set) var pendingBytes = 0
    private var totalRows: Int64 = 0
    private var statistics: [ColumnStatistics]
    private var finished = false

    public init(path: String, schema: Schema, options: ParquetWriteOptions = ParquetWriteOptions()) throws {
        for f in schema.fields {
            if case .decimal(let p, let s) = f.type, p < 1 || p > 18 || s < 0 || s > p {
                throw ParquetError.schemaMismatch(path: path, detail: "column \(f.name): decimal(\(p),\(s)) must have 1 <= precision <= 18 and 0 <= scale <= precision")
            }
        }
        self.path = path
        self.schema = schema
        self.options = options
        statistics = Array(repeating: ColumnStatistics(nullCount: 0), count: schema.fields.count)
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw ParquetError.io(path: path, operation: "create", errno: errno) }
        buffer.append(contentsOf: parquetMagic)
        offset = 4
    }

    deinit {
        // An abandoned writer leaves an unreferenced file: debris that vacuum removes.
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    /// Queues `batch`; full row groups are encoded and written as they fill.
    public func write(_ batch: RecordBatch) throws {
        precondition(!finished, "write after close")
        try check(batch)
        if batch.count == 0 { return }
        pending.append((batch, 0 ..< batch.count))
        pendingRows += batch.count
        pendingBytes += batch.estimatedBytes
        while pendingRows >= options.rowGroupRows { try flushRowGroup(rows: options.rowGroupRows) }
        if pendingBytes >= options.rowGroupBytes && pendingRows > 0 { try flushRowGroup(rows: pendingRows) }
    }

    /// Ends the current row group now (a caller holding many open writers bounds their memory
    /// together); nothing when no row is queued.
    public func endRowGroup() throws {
        precondition(!finished, "write after close")
        if pendingRows > 0 { try flushRowGroup(rows: pendingRows) }
    }

    /// Writes the last row group and the footer, fsyncs, and closes the file.
    public func close() throws -> ParquetFileSummary {
        precondition(!finished, "close twice")
        finished = true
        if pendingRows > 0 { try flushRowGroup(rows: pendingRows) }
        let meta = FileMetaData(
            version: 2, schema: schemaElements(), numRows: totalRows, rowGroups: rowGroups,
            keyValueMetadata: options.metadata.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
            createdBy: "lake version 0.1 (Swift)")
        let footer = meta.encoded()
        buffer.append(contentsOf: footer)
        appendLE(UInt32(footer.count), to: &buffer)
        let footerChecksum = buffer.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[($0.count - footer.count - 4)...])) }
        buffer.append(contentsOf: parquetMagic)
        offset += Int64(footer.count + 8)
        try flushBuffer()
        options.beforeSync?(path)
        if options.sync && fsync(fd) != 0 { throw ParquetError.io(path: path, operation: "fsync", errno: errno) }
        if Glibc.close(fd) != 0 { fd = -1; throw ParquetError.io(path: path, operation: "close", errno: errno) }
        fd = -1
        // The new name lives in the directory: sync it too, or a power loss after the commit
        // could leave the catalog pointing at a file the file system no longer lists.
        if options.sync { try Durability.syncDirectory(Durability.parent(of: path)) }
        return ParquetFileSummary(path: path, rowCount: totalRows, fileSize: offset, footerSize: Int64(footer.count),
                                  footerChecksum: footerChecksum, rowGroupCount: rowGroups.count, columnStatistics: statistics)
    }

    /// Writes a whole batch as one file.
    @discardableResult
    public static func write(_ batch: RecordBatch, to path: String, options: ParquetWriteOptions = ParquetWriteOptions()) throws -> ParquetFileSummary {
        let w = try ParquetFileWriter(path: path, schema: batch.schema, options: options)
        try w.write(batch)
        return try w.close()
    }

    // MARK: - Row groups

    private func check(_ batch: RecordBatch) throws {
        guard batch.schema.fields.count == schema.fields.count else {
            throw ParquetError.schemaMismatch(path: path, detail: "\(batch.schema.fields.count) columns, the file has \(schema.fields.count)")
        }
        for (i, f) in schema.fields.enumerated() {
            let col = batch.columns[i]
            let ok: Bool
            switch (f.type, col.data) {
            case (.bool, .bool): ok = true
            case (.int32, .int32), (.date, .int32): ok = true
            case (.int64, .int64), (.timestamp, .int64), (.decimal, .int64): ok = true
            case (.double, .double): ok = true
            case (.string, .string), (.string, .dictionary): ok = true
            default: ok = false
            }
            guard ok else {
                throw ParquetError.schemaMismatch(path: path, detail: "column \(f.name) is \(f.type) but the batch holds \(col.data)")
            }
            if !f.nullable, col.validity != nil, col.nullCount > 0 {
                throw ParquetError.schemaMismatch(path: path, detail: "column \(f.name) is required but has \(col.nullCount) nulls")
            }
        }
    }

    private func flushRowGroup(rows: Int) throws {
        // Take `rows` rows from the queue: straight from the batch when one batch covers them
        // (no copy), else concatenated.
        let source: RecordBatch
        let range: Range<Int>
        if pending[0].range.count >= rows {
            source = pending[0].batch
            range = pending[0].range.lowerBound ..< pending[0].range.lowerBound + rows
            pending[0].range = range.upperBound ..< pending[0].range.upperBound
            if pending[0].range.isEmpty { pending.removeFirst() }
        } else {
            var parts: [(RecordBatch, Range<Int>)] = []
            var need = rows
            while need > 0 {
                let (b, r) = pending[0]
                let take = min(need, r.count)
                parts.append((b, r.lowerBound ..< r.lowerBound + take))
                need -= take
                if take == r.count { pending.removeFirst() } else { pending[0].range = r.lowerBound + take ..< r.upperBound }
            }
            source = RecordBatch.concatenate(parts, schema: schema)
            range = 0 ..< rows
        }
        pendingRows -= rows
        if pendingRows == 0 { pendingBytes = 0 }

        let groupStart = offset
        // A compression context per row group, not per writer: ingest keeps hundreds of writers
        // open (one per partition and table), and each zstd context holds megabytes once used.
        var codec: ZstdCodec?
        if case .zstd(let level) = options.compression { codec = ZstdCodec(level: level) }
        var chunks: [ColumnChunk] = []
        var uncompressedTotal: Int64 = 0
        for (i, field) in schema.fields.enumerated() {
            var encoder = ChunkEncoder(field: field, options: options, codec: codec)
            let (chunk, stats) = try encoder.encode(source.columns[i], range: range, at: offset, into: &buffer)
            offset += chunk.metaData.totalCompressedSize
            uncompressedTotal += chunk.metaData.totalUncompressedSize
            chunks.append(chunk)
            statistics[i].merge(stats)
            if buffer.count >= 1 << 22 { try flushBuffer() }
        }
        codec = nil
        try flushBuffer()
        rowGroups.append(RowGroup(columns: chunks, totalByteSize: uncompressedTotal, numRows: Int64(rows),
                                  fileOffset: groupStart, totalCompressedSize: offset - groupStart))
        totalRows += Int64(rows)
    }

    private func flushBuffer() throws {
        var written = 0
        while written < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ParquetError.io(path: path, operation: "write", errno: errno)
            }
            written += n
        }
        // Keep a small buffer's capacity for the next row group; give a large one back.
        buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
    }

    private func schemaElements() -> [SchemaElement] {
        var elements = [SchemaElement(name: "schema", numChildren: Int32(schema.fields.count))]
        for f in schema.fields {
            var e = SchemaElement(name: f.name)
            e.repetition = f.nullable ? .optional : .required
            e.fieldID = f.fieldID
            switch f.type {
            case .bool: e.type = .boolean
            case .int32: e.type = .int32
            case .int64: e.type = .int64
            case .double: e.type = .double
            case .string:
                e.type = .byteArray
                e.convertedType = ConvertedType.utf8.rawValue
                e.logicalType = .string
            case .date:
                e.type = .int32
                e.convertedType = ConvertedType.date.rawValue
                e.logicalType = .date
            case .timestamp:
                e.type = .int64
                e.convertedType = ConvertedType.timestampMicros.rawValue
                e.logicalType = .timestamp(utc: true, unit: .micros)
            case .decimal(let p, let s):
                e.type = .int64
                e.convertedType = ConvertedType.decimal.rawValue
                e.precision = Int32(p)
                e.scale = Int32(s)
                e.logicalType = .decimal(scale: Int32(s), precision: Int32(p))
            }
            elements.append(e)
        }
        return elements
    }
}

let parquetMagic: [UInt8] = [0x50, 0x41, 0x52, 0x31]  // "PAR1"

@inline(__always)
func appendLE<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
    withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
}
