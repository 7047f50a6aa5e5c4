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

// MARK: - Column chunks

/// Encodes one column's rows of one row group: optional dictionary page, then data pages.
struct ChunkEncoder {
    let field: Field
    let options: ParquetWriteOptions
    let codec: ZstdCodec?

    // Scratch reused across pages of the chunk.
    private var page: [UInt8] = []
    private var levels: [UInt32] = []

    init(field: Field, options: ParquetWriteOptions, codec: ZstdCodec?) {
        self.field = field
        self.options = options
        self.codec = codec
    }

    /// The physical values of the chunk's non-null rows, in a form each encoding can walk.
    private enum Values {
        case bool([Bool])
        case fixed(UnsafeRawBufferPointer, width: Int)  // points into the column's array, no copy
        case strings
    }

    mutating func encode(_ column: Column, range: Range<Int>, at chunkOffset: Int64,
                         into out: inout [UInt8]) throws -> (ColumnChunk, ColumnStatistics) {
        let validity = column.validity.map { Array($0[range]) }
        let nullCount = validity.map { $0.reduce(0) { $0 + ($1 ? 0 : 1) } } ?? 0
        let nonNull = range.count - nullCount
        let physical: PhysicalType
        switch field.type {
        case .bool: physical = .boolean
        case .int32, .date: physical = .int32
        case .int64, .timestamp, .decimal: physical = .int64
        case .double: physical = .double
        case .string: physical = .byteArray
        }

        var pages = PageSink(codec: codec, start: chunkOffset, checksums: options.pageChecksums)
        var stats = ColumnStatistics(nullCount: Int64(nullCount))
        var dictionaryPage: [UInt8]?
        var dictionaryCount = 0
        var indices: [UInt32] = []
        var bitWidth = 0

        // Decide the encoding: build a dictionary (bounded by pageBytes) and keep it when
        // dictionary page + packed indices come out smaller than PLAIN.
        switch column.data {
        case .bool:
            break
        case .int32(let a):
            if options.dictionary, nonNull > 0 {
                (dictionaryPage, dictionaryCount, indices) = a.withUnsafeBufferPointer {
                    buildFixedDictionary($0, range: range, validity: validity, width: 4)
                }
            }
            let (lo, hi) = minMax(a, range: range, validity: validity)
            stats.min = lo.map(StatValue.int)
            stats.max = hi.map(StatValue.int)
        case .int64(let a):
            if options.dictionary, nonNull > 0 {
                (dictionaryPage, dictionaryCount, indices) = a.withUnsafeBufferPointer {
                    buildFixedDictionary($0, range: range, validity: validity, width: 8)
                }
            }
            let (lo, hi) = minMax(a, range: range, validity: validity)
            stats.min = lo.map(StatValue.int)
            stats.max = hi.map(StatValue.int)
        case .double(let a):
            if options.dictionary, nonNull > 0 {
                (dictionaryPage, dictionaryCount, indices) = a.withUnsafeBufferPointer {
                    buildFixedDictionary($0, range: range, validity: validity, width: 8)
                }
            }
            let values = a[range].enumerated().lazy.filter { (validity?[$0.offset] ?? true) && !$0.element.isNaN }.map(\.element)
            stats.min = values.min().map(StatValue.double)
            stats.max = values.max().map(StatValue.double)
        case .string(let s):
            if options.dictionary, nonNull > 0 {
                (dictionaryPage, dictionaryCount, indices) = buildStringDictionary(s, range: range, validity: validity)
            }
            let (lo, hi) = stringMinMax(s, range: range, validity: validity)
            stats.min = lo.map { .bytes(StatBounds.lower($0)) }
            stats.max = hi.map { .bytes(StatBounds.upper($0)) }
        case .dictionary(let idx, let values):
            if options.dictionary, nonNull > 0 {
                (dictionaryPage, dictionaryCount, indices) = remapDictionary(idx, values, range: range, validity: validity)
            }
            let (lo, hi) = dictionaryMinMax(idx, values, range: range, validity: validity)
            stats.min = lo.map { .bytes(StatBounds.lower($0)) }
            stats.max = hi.map { .bytes(StatBounds.upper($0)) }
        }
        if case .bool(let a) = column.data {
            let present = a[range].enumerated().lazy.filter { validity?[$0.offset] ?? true }.map(\.element)
            if nonNull > 0 {
                stats.min = .bool(!present.contains(false) ? true : false)
                stats.max = .bool(present.contains(true))
            }
        }
        if dictionaryPage != nil { bitWidth = RLEHybrid.bitWidth(forMax: UInt32(max(dictionaryCount - 1, 0))) }

        // Rows per data page, from the encoded bytes per row.
        let plainBytesPerRow: Double
        switch column.data {
        case .bool: plainBytesPerRow = 0.125
        case .int32: plainBytesPerRow = 4
        case .int64, .double: plainBytesPerRow = 8
        case .string(let s): plainBytesPerRow = 4 + Double(s.bytes.count) / Double(max(s.count, 1))
        case .dictionary(_, let v): plainBytesPerRow = 4 + Double(v.bytes.count) / Double(max(v.count, 1))
        }
        let bytesPerRow = dictionaryPage != nil ? max(Double(bitWidth) / 8, 0.125) : plainBytesPerRow
        let pageRows = max(1024, Int(Double(options.pageBytes) / bytesPerRow))

        var dictionaryOffset: Int64?
        if let dict = dictionaryPage {
            dictionaryOffset = pages.position
            pages.add(type: .dictionaryPage, payload: dict, numValues: dictionaryCount, encoding: .plain, into: &out)
        }
        let dataOffset = pages.position
        var cursor = 0  // index of the next non-null value
        var row = range.lowerBound
        while row < range.upperBound {
            let end = min(row + pageRows, range.upperBound)
            page.removeAll(keepingCapacity: true)
            var present = end - row
            if field.nullable {
                levels.removeAll(keepingCapacity: true)
                present = 0
                for r in row ..< end {
                    let valid = validity?[r - range.lowerBound] ?? true
                    levels.append(valid ? 1 : 0)
                    if valid { present += 1 }
                }
                let lengthAt = page.count
                page.append(contentsOf: [0, 0, 0, 0])
                levels.withUnsafeBufferPointer { RLEHybrid.encode($0, bitWidth: 1, into: &page) }
                let n = UInt32(page.count - lengthAt - 4)
                for k in 0 ..< 4 { page[lengthAt + k] = UInt8(truncatingIfNeeded: n >> (8 * UInt32(k))) }
            }
            if dictionaryPage != nil {
                page.append(UInt8(bitWidth))
                indices.withUnsafeBufferPointer {
                    RLEHybrid.encode(UnsafeBufferPointer(rebasing: $0[cursor ..< cursor + present]), bitWidth: bitWidth, into: &page)
                }
            } else {
                appendPlain(column.data, rows: row ..< end, chunkStart: range.lowerBound, validity: validity)
            }
            cursor += present
            pages.add(type: .dataPage, payload: page, numValues: end - row,
                      encoding: dictionaryPage != nil ? .rleDictionary : .plain, into: &out)
            row = end
        }

        var encodings: [Int32] = [Encoding.plain.rawValue, Encoding.rle.rawValue]
        if dictionaryPage != nil { encodings.append(Encoding.rleDictionary.rawValue) }
        var parquetStats = Statistics()
        parquetStats.nullCount = Int64(nullCount)
        parquetStats.minValue = stats.min.map { statBytes($0, physical) }
        parquetStats.maxValue = stats.max.map { statBytes($0, physical) }
        let meta = ColumnMetaData(
            type: physical, encodings: encodings, pathInSchema: [field.name],
            codec: codec == nil ? CompressionCodec.uncompressed.rawValue : CompressionCodec.zstd.rawValue,
            numValues: Int64(range.count), totalUncompressedSize: pages.uncompressed,
            totalCompressedSize: pages.position - chunkOffset, dataPageOffset: dataOffset,
            dictionaryPageOffset: dictionaryOffset, statistics: parquetStats)
        return (ColumnChunk(fileOffset: dataOffset, metaData: meta), stats)
    }

    // MARK: PLAIN

    private mutating func appendPlain(_ data: ColumnData, rows: Range<Int>, chunkStart: Int, validity: [Bool]?) {
        @inline(__always) func valid(_ r: Int) -> Bool { validity?[r - chunkStart] ?? true }
        switch data {
        case .bool(let a):
            var acc: UInt8 = 0
            var bits = 0
            for r in rows where valid(r) {
                if a[r] { acc |= 1 << UInt8(bits) }
                bits += 1
                if bits == 8 { page.append(acc); acc = 0; bits = 0 }
            }
            if bits > 0 { page.append(acc) }
        case .int32(let a): appendFixed(a, rows: rows, chunkStart: chunkStart, validity: validity)
        case .int64(let a): appendFixed(a, rows: rows, chunkStart: chunkStart, validity: validity)
        case .double(let a): appendFixed(a, rows: rows, chunkStart: chunkStart, validity: validity)
        case .string(let s):
            s.bytes.withUnsafeBytes { raw in
                for r in rows where valid(r) {
                    let start = Int(s.offsets[r]), end = Int(s.offsets[r + 1])
                    appendLE(UInt32(end - start), to: &page)
                    page.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start ..< end]))
                }
            }
        case .dictionary(let idx, let values):
            values.bytes.withUnsafeBytes { raw in
                for r in rows where valid(r) {
                    let range = values.byteRange(Int(idx[r]))
                    appendLE(UInt32(range.count), to: &page)
                    page.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[range]))
                }
            }
        }
    }

    private mutating func appendFixed<T>(_ a: [T], rows: Range<Int>, chunkStart: Int, validity: [Bool]?) {
        a.withUnsafeBytes { raw in
            let w = MemoryLayout<T>.stride
            if let validity {
                for r in rows where validity[r - chunkStart] {
                    page.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[r * w ..< (r + 1) * w]))
                }
            } else {
                // Little-endian hosts store values exactly as PLAIN does: one copy for the page.
                page.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[rows.lowerBound * w ..< rows.upperBound * w]))
            }
        }
    }

    // MARK: Dictionaries

    /// Dictionary page (PLAIN, uncompressed), its entry count and the index of every non-null
    /// row; nil page when the dictionary does not pay.
    private func buildFixedDictionary<T>(_ a: UnsafeBufferPointer<T>, range: Range<Int>, validity: [Bool]?,
                                         width: Int) -> ([UInt8]?, Int, [UInt32]) {
        var builder = WordDictionaryBuilder(limit: options.pageBytes / width, expected: 256)
        var indices: [UInt32] = []
        indices.reserveCapacity(range.count)
        let raw = UnsafeRawBufferPointer(a)
        for r in range {
            if let validity, !validity[r - range.lowerBound] { continue }
            let word: UInt64 = width == 4
                ? UInt64(raw.loadUnaligned(fromByteOffset: r * 4, as: UInt32.self))
                : raw.loadUnaligned(fromByteOffset: r * 8, as: UInt64.self)
            guard let i = builder.index(of: word) else { return (nil, 0, []) }
            indices.append(UInt32(i))
        }
        let bw = RLEHybrid.bitWidth(forMax: UInt32(max(builder.count - 1, 0)))
        let dictBytes = builder.count * width
        let indexBytes = (indices.count * bw + 7) / 8 + 16
        guard dictBytes + indexBytes < indices.count * width * 3 / 4 else { return (nil, 0, []) }
        var page: [UInt8] = []
        page.reserveCapacity(dictBytes)
        for w in builder.values {
            if width == 4 { appendLE(UInt32(truncatingIfNeeded: w), to: &page) } else { appendLE(w, to: &page) }
        }
        return (page, builder.count, indices)
    }

    private func buildStringDictionary(_ s: StringColumn, range: Range<Int>, validity: [Bool]?) -> ([UInt8]?, Int, [UInt32]) {
        var builder = StringDictionaryBuilder(byteLimit: options.pageBytes, expected: 256)
        var indices: [UInt32] = []
        indices.reserveCapacity(range.count)
        var plainBytes = 0
        let ok: Bool = s.bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
            for r in range {
                if let validity, !validity[r - range.lowerBound] { continue }
                let start = Int(s.offsets[r]), end = Int(s.offsets[r + 1])
                plainBytes += 4 + end - start
                guard let i = builder.index(of: base + start, end - start) else { return false }
                indices.append(UInt32(i))
            }
            return true
        }
        guard ok else { return (nil, 0, []) }
        return finishStringDictionary(builder, indices: indices, plainBytes: plainBytes)
    }

    private func remapDictionary(_ idx: [Int32], _ values: StringColumn, range: Range<Int>, validity: [Bool]?) -> ([UInt8]?, Int, [UInt32]) {
        var builder = StringDictionaryBuilder(byteLimit: options.pageBytes, expected: min(values.count, 1 << 16))
        var map = [Int32](repeating: -1, count: values.count)
        var indices: [UInt32] = []
        indices.reserveCapacity(range.count)
        var plainBytes = 0
        let ok: Bool = values.bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
            for r in range {
                if let validity, !validity[r - range.lowerBound] { continue }
                let v = Int(idx[r])
                let br = values.byteRange(v)
                plainBytes += 4 + br.count
                var m = map[v]
                if m < 0 {
                    guard let i = builder.index(of: base + br.lowerBound, br.count) else { return false }
                    m = i
                    map[v] = i
                }
                indices.append(UInt32(m))
            }
            return true
        }
        guard ok else { return (nil, 0, []) }
        return finishStringDictionary(builder, indices: indices, plainBytes: plainBytes)
    }

    private func finishStringDictionary(_ builder: StringDictionaryBuilder, indices: [UInt32], plainBytes: Int) -> ([UInt8]?, Int, [UInt32]) {
        let bw = RLEHybrid.bitWidth(forMax: UInt32(max(builder.count - 1, 0)))
        let indexBytes = (indices.count * bw + 7) / 8 + 16
        guard builder.plainBytes + indexBytes < plainBytes * 3 / 4 else { return (nil, 0, []) }
        var page: [UInt8] = []
        page.reserveCapacity(builder.plainBytes)
        let values = builder.values
        values.bytes.withUnsafeBytes { raw in
            for i in 0 ..< values.count {
                let r = values.byteRange(i)
                appendLE(UInt32(r.count), to: &page)
                page.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[r]))
            }
        }
        return (page, builder.count, indices)
    }

    // MARK: Statistics

    private func minMax<T: FixedWidthInteger>(_ a: [T], range: Range<Int>, validity: [Bool]?) -> (Int64?, Int64?) {
        var lo = T.max, hi = T.min, any = false
        a.withUnsafeBufferPointer { p in
            for r in range {
                if let validity, !validity[r - range.lowerBound] { continue }
                let v = p[r]
                if v < lo { lo = v }
                if v > hi { hi = v }
                any = true
            }
        }
        return any ? (Int64(lo), Int64(hi)) : (nil, nil)
    }

    private func stringMinMax(_ s: StringColumn, range: Range<Int>, validity: [Bool]?) -> ([UInt8]?, [UInt8]?) {
        var lo: Range<Int>?, hi: Range<Int>?
        s.bytes.withUnsafeBytes { raw in
            for r in range {
                if let validity, !validity[r - range.lowerBound] { continue }
                let cur = s.byteRange(r)
                if lo == nil || compareBytes(raw, cur, lo!) < 0 { lo = cur }
                if hi == nil || compareBytes(raw, cur, hi!) > 0 { hi = cur }
            }
        }
        return (lo.map { Array(s.bytes[$0]) }, hi.map { Array(s.bytes[$0]) })
    }

    private func dictionaryMinMax(_ idx: [Int32], _ values: StringColumn, range: Range<Int>, validity: [Bool]?) -> ([UInt8]?, [UInt8]?) {
        var used = [Bool](repeating: false, count: values.count)
        for r in range {
            if let validity, !validity[r - range.lowerBound] { continue }
            used[Int(idx[r])] = true
        }
        var lo: Range<Int>?, hi: Range<Int>?
        values.bytes.withUnsafeBytes { raw in
            for (i, u) in used.enumerated() where u {
                let cur = values.byteRange(i)
                if lo == nil || compareBytes(raw, cur, lo!) < 0 { lo = cur }
                if hi == nil || compareBytes(raw, cur, hi!) > 0 { hi = cur }
            }
        }
        return (lo.map { Array(values.bytes[$0]) }, hi.map { Array(values.bytes[$0]) })
    }
}

@inline(__always)
func compareBytes(_ raw: UnsafeRawBufferPointer, _ a: Range<Int>, _ b: Range<Int>) -> Int {
    let n = min(a.count, b.count)
    if n > 0, let base = raw.baseAddress {
        let c = memcmp(base + a.lowerBound, base + b.lowerBound, n)
        if c != 0 { return Int(c) }
    }
    return a.count - b.count
}

/// A statistics value in Parquet's binary form: PLAIN without a length prefix.
func statBytes(_ v: StatValue, _ physical: PhysicalType) -> [UInt8] {
    var out: [UInt8] = []
    switch (v, physical) {
    case (.bool(let b), _): out = [b ? 1 : 0]
    case (.int(let i), .int32): appendLE(Int32(truncatingIfNeeded: i), to: &out)
    case (.int(let i), _): appendLE(i, to: &out)
    case (.double(let d), _): appendLE(d.bitPattern, to: &out)
    case (.bytes(let b), _): out = b
    }
    return out
}

/// Accumulates a chunk's pages: compresses each, writes its header, tracks sizes and offsets.
struct PageSink {
    let codec: ZstdCodec?
    let checksums: Bool
    private(set) var position: Int64
    private(set) var uncompressed: Int64 = 0

    init(codec: ZstdCodec?, start: Int64, checksums: Bool) {
        self.codec = codec
        self.checksums = checksums
        position = start
    }

    mutating func add(type: PageType, payload: [UInt8], numValues: Int, encoding: Encoding, into out: inout [UInt8]) {
        var compressed: [UInt8] = []
        let body: [UInt8]
        if let codec {
            compressed.reserveCapacity(payload.count / 2 + 64)
            payload.withUnsafeBytes { _ = codec.compress($0, into: &compressed) }
            body = compressed
        } else {
            body = payload
        }
        var header = PageHeader(type: type.rawValue, uncompressedPageSize: Int32(payload.count),
                                compressedPageSize: Int32(body.count))
        // The spec's CRC covers the page as stored: the compressed bytes, not the header.
        if checksums { header.crc = Int32(bitPattern: CRC32.checksum(body)) }
        if type == .dictionaryPage {
            header.dictionaryPage = DictionaryPageHeader(numValues: Int32(numValues), encoding: encoding.rawValue)
        } else {
            header.dataPage = DataPageHeader(numValues: Int32(numValues), encoding: encoding.rawValue,
                                             definitionLevelEncoding: Encoding.rle.rawValue,
                                             repetitionLevelEncoding: Encoding.rle.rawValue)
        }
        let h = header.encoded()
        out.append(contentsOf: h)
        out.append(contentsOf: body)
        position += Int64(h.count + body.count)
        uncompressed += Int64(h.count + payload.count)
    }
}
