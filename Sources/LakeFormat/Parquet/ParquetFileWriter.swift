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
    /// Columns of long repetitive text (a verbatim source line) whose zstd pages are compressed
    /// with `ZstdProfile.repetitiveText` instead of the level's own match finder: faster and
    /// smaller on JSON lines at level 1. The pages are ordinary zstd frames.
    public var repetitiveTextColumns: Set<String> = []
    /// String columns written without min/max statistics (footer and summary): values no
    /// query filters on by range, such as a verbatim source line, whose bounds cost a
    /// comparison of every value. The null count is still written. A catalog must read the
    /// missing bounds of a file with values as "unknown", never as "no values".
    public var unboundedColumns: Set<String> = []
    /// Store each page's CRC-32 in its header (Parquet's `crc` field), so a flipped bit in a
    /// page is an error on read, here and in any reader that verifies (pyarrow, parquet-java).
    public var pageChecksums: Bool = true
    /// Stored in the footer's key_value_metadata (e.g. the registry's schema version).
    public var metadata: [String: String] = [:]
    /// fsync the file, then its directory, before close returns, so a catalog commit never
    /// points at unsynced data or at a name a power loss could drop. Applies to a file written
    /// by path (`init(path:)`); a `Storage` object's publish is always durable.
    public var sync: Bool = true
    /// Test instrumentation: runs in `close()` once every byte is written and before the fsync
    /// (the storage publish).
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
    /// Where the bytes go; dropped unpublished when the writer is abandoned (an error before
    /// `close`), which leaves no object under the key.
    private var sink: (any StorageWriter)?
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

    /// Writes a standalone file at `path` (tests, tools; not a lake's data file: those go
    /// through `init(storage:key:…)`): created or truncated in place, fsynced with its directory
    /// when `options.sync`.
    public convenience init(path: String, schema: Schema, options: ParquetWriteOptions = ParquetWriteOptions()) throws {
        try Self.checkSchema(schema, path: path)
        let sink: PathFileWriter
        do { sink = try PathFileWriter(path: path, sync: options.sync) } catch { throw ParquetError(error) }
        self.init(sink: sink, path: path, schema: schema, options: options)
    }

    /// Writes the new object `key` of `storage`: it appears, durably, only when `close` returns
    /// (`options.sync` does not apply: a storage's publish is always durable).
    public convenience init(storage: any Storage, key: StorageKey, schema: Schema, options: ParquetWriteOptions = ParquetWriteOptions()) throws {
        let path = storage.location(of: key)
        try Self.checkSchema(schema, path: path)
        let sink: any StorageWriter
        do { sink = try storage.create(key) } catch { throw ParquetError(error) }
        self.init(sink: sink, path: path, schema: schema, options: options)
    }

    private init(sink: any StorageWriter, path: String, schema: Schema, options: ParquetWriteOptions) {
        self.path = path
        self.schema = schema
        self.options = options
        self.sink = sink
        statistics = Array(repeating: ColumnStatistics(nullCount: 0), count: schema.fields.count)
        buffer.append(contentsOf: parquetMagic)
        offset = 4
    }

    private static func checkSchema(_ schema: Schema, path: String) throws {
        for f in schema.fields {
            if case .decimal(let p, let s) = f.type, p < 1 || p > DecimalBytes.maxPrecision || s < 0 || s > p {
                throw ParquetError.schemaMismatch(path: path, detail: "column \(f.name): decimal(\(p),\(s)) must have 1 <= precision <= \(DecimalBytes.maxPrecision) and 0 <= scale <= precision")
            }
        }
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

    /// Queues the rows `rows` of `batch`, in that order: what `write(batch.gather(rows))` does,
    /// without the gathered copy when these rows complete a row group at once (the usual case
    /// for an ingest partition's share of a drain, with row groups bounded by bytes): they are
    /// encoded from `batch` where they lie. Rows that would stay queued are gathered, so no
    /// queued row holds on to the rest of `batch`.
    public func write(_ batch: RecordBatch, rows: [Int]) throws {
        precondition(!finished, "write after close")
        let n = batch.count
        precondition(rows.allSatisfy { $0 >= 0 && $0 < n }, "write: row out of range")
        try check(batch, rows: rows)
        if rows.isEmpty { return }
        let bytes = batch.estimatedBytes(ofRows: rows)
        // The one flush `write` makes when the rows' bytes, not their count, end the row group.
        guard pendingRows + rows.count < options.rowGroupRows, pendingBytes + bytes >= options.rowGroupBytes else {
            return try write(batch.gather(rows))
        }
        pendingRows += rows.count
        pendingBytes += bytes
        try flushRowGroup(rows: pendingRows, picked: (batch, rows))
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
        // Publishing syncs the bytes and the name (a local directory entry, an object store's
        // completed PUT), so a catalog commit never points at data a power loss could drop.
        guard let sink else { preconditionFailure("close twice") }
        self.sink = nil
        do { try sink.publish() } catch { throw ParquetError(error) }
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

    /// Writes a whole batch as the new object `key` of `storage`.
    @discardableResult
    public static func write(_ batch: RecordBatch, storage: any Storage, key: StorageKey, options: ParquetWriteOptions = ParquetWriteOptions()) throws -> ParquetFileSummary {
        let w = try ParquetFileWriter(storage: storage, key: key, schema: batch.schema, options: options)
        try w.write(batch)
        return try w.close()
    }

    // MARK: - Row groups

    /// Whether `batch` (only `rows` of it, when given) can be written under the file's schema.
    private func check(_ batch: RecordBatch, rows: [Int]? = nil) throws {
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
            if !f.nullable, let validity = col.validity {
                let nulls = rows.map { $0.reduce(0) { $0 + (validity[$1] ? 0 : 1) } } ?? col.nullCount
                if nulls > 0 { throw ParquetError.schemaMismatch(path: path, detail: "column \(f.name) is required but has \(nulls) nulls") }
            }
        }
    }

    /// Encodes the next `rows` rows as a row group: the queued ones, then `picked` (which then
    /// ends the row group: `rows` counts it too).
    private func flushRowGroup(rows: Int, picked: (batch: RecordBatch, rows: [Int])? = nil) throws {
        // Take `rows` rows from the queue: ranges of the queued batches, encoded where they are
        // (the encoder concatenates only what it cannot read in pieces).
        var parts: [(batch: RecordBatch, range: Range<Int>)] = []
        var need = rows - (picked?.rows.count ?? 0)
        while need > 0 {
            let (b, r) = pending[0]
            let take = min(need, r.count)
            parts.append((b, r.lowerBound ..< r.lowerBound + take))
            need -= take
            if take == r.count { pending.removeFirst() } else { pending[0].range = r.lowerBound + take ..< r.upperBound }
        }
        pendingRows -= rows
        if pendingRows == 0 { pendingBytes = 0 }

        let groupStart = offset
        // Buffers and the zstd context come from a pool per row group, not per writer: ingest
        // keeps hundreds of writers open (one per partition and table), and each context holds
        // megabytes once used; reused, they are not allocated and faulted in again.
        let scratch = EncoderScratch.pool.take()
        defer { EncoderScratch.pool.give(scratch) }
        var out = scratch.out
        scratch.out = []
        defer { scratch.out = out }
        out.append(contentsOf: buffer)  // what is not yet written (the leading magic)
        buffer.removeAll()
        var chunks: [ColumnChunk] = []
        var uncompressedTotal: Int64 = 0
        for (i, field) in schema.fields.enumerated() {
            var encoder = ChunkEncoder(field: field, options: options, scratch: scratch)
            defer { encoder.finish() }
            var chunkParts = parts.map { ChunkPart.range($0.batch.columns[i], $0.range) }
            if let picked { chunkParts.append(.picked(picked.batch.columns[i], picked.rows)) }
            let (chunk, stats) = try encoder.encode(chunkParts, at: offset, into: &out)
            offset += chunk.metaData.totalCompressedSize
            uncompressedTotal += chunk.metaData.totalUncompressedSize
            chunks.append(chunk)
            statistics[i].merge(stats)
            if out.count >= 1 << 22 { try write(&out) }
        }
        try write(&out)
        rowGroups.append(RowGroup(columns: chunks, totalByteSize: uncompressedTotal, numRows: Int64(rows),
                                  fileOffset: groupStart, totalCompressedSize: offset - groupStart))
        totalRows += Int64(rows)
    }

    private func flushBuffer() throws {
        try write(&buffer)
        buffer.removeAll()
    }

    /// Writes `bytes` to the file and empties it, keeping its capacity.
    private func write(_ bytes: inout [UInt8]) throws {
        guard let sink else { preconditionFailure("write after close") }
        var failure: StorageError?
        bytes.withUnsafeBytes { raw in
            do throws(StorageError) { try sink.write(raw) } catch { failure = error }
        }
        if let failure { throw ParquetError(failure) }
        bytes.removeAll(keepingCapacity: true)
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
                if let n = DecimalBytes.length(precision: p) {
                    e.type = .fixedLenByteArray
                    e.typeLength = Int32(n)
                }
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

/// A standalone file written in place at its path, as every Parquet file was before `Storage`:
/// for tests and tools that write loose files, not for a lake's data files.
final class PathFileWriter: StorageWriter {
    let path: String
    let sync: Bool
    private var fd: Int32

    init(path: String, sync: Bool) throws(StorageError) {
        self.path = path
        self.sync = sync
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw .io(location: path, operation: "create", errno: errno) }
    }

    // An abandoned file stays as written so far (a loose file, not an object).
    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        try writeFully(fd, bytes, location: path)
    }

    func publish() throws(StorageError) {
        if sync && fsync(fd) != 0 { throw .io(location: path, operation: "fsync", errno: errno) }
        let closed = Glibc.close(fd)
        fd = -1
        if closed != 0 { throw .io(location: path, operation: "close", errno: errno) }
        if sync {
            do { try Durability.syncDirectory(Durability.parent(of: path)) } catch let ParquetError.io(p, op, e) {
                throw .io(location: p, operation: op, errno: e)
            } catch {
                throw .io(location: path, operation: "fsync directory", errno: EIO)
            }
        }
    }
}

let parquetMagic: [UInt8] = [0x50, 0x41, 0x52, 0x31]  // "PAR1"

@inline(__always)
func appendLE<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
    withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
}
