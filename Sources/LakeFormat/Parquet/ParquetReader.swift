// Reads Parquet files (ours, DuckDB's, pyarrow's) into typed column batches: flat columns of
// the lake's types; any other top-level column (nested, UUID, …) is an `OpaqueColumn`.
// Everything read from the file is untrusted: every offset, length and index is checked, and
// anything malformed or unsupported becomes a ParquetError naming the file and the problem.

import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a file's physical values become the lake's logical ones.
enum ValueConversion: Equatable {
    case none
    case int32ToInt64           // decimal or unsigned 32-bit values stored in INT32
    case floatToDouble
    case timestampMillis        // INT64 millis -> micros
    case timestampNanos         // INT64 nanos -> micros
    case int96Timestamp         // INT96 (nanos of the day, Julian day; Spark's and Impala's legacy timestamps) -> micros
    case fixedDecimal(Int)      // big-endian two's complement of n bytes -> Int64
    case byteArrayDecimal       // big-endian two's complement of each value's length -> Int64
}

struct LeafColumn {
    var field: Field
    var physical: PhysicalType
    var conversion: ValueConversion
    var typeLength: Int
    /// The column chunk's position in each row group: past a nested column it is not the
    /// field's position in `schema`.
    var chunk: Int
}

/// A top-level column this reader cannot decode: nested (LIST, MAP, STRUCT), repeated, or of a
/// type the lake has no column type for (UUID, INT96, unsigned 64-bit, wide decimals). Another
/// engine sharing the catalog (DuckDB) may add one to a lake table. The file stays readable for
/// every other column; asking for this one is an error, never nulls.
public struct OpaqueColumn: Sendable, Equatable {
    public let name: String
    public let fieldID: Int32?
    /// Why it cannot be decoded, e.g. "a nested column (LIST)".
    public let reason: String
    /// Its column chunks' positions in each row group (one per leaf of a nested column).
    let chunks: Range<Int>
}

/// Immutable once opened: column chunks are read with pread (no shared file offset) and each
/// decode owns its decompression context, so several threads may read one file at once.
public final class ParquetFileReader: @unchecked Sendable {
    public let path: String
    /// The file's decodable columns as lake types (field ids as the file stores them); the
    /// others are in `opaqueColumns`.
    public let schema: Schema
    public let rowCount: Int64
    public let keyValueMetadata: [String: String]
    public let createdBy: String?
    public let fileSize: Int64
    let footerLength: Int64
    let meta: FileMetaData
    let leaves: [LeafColumn]
    /// Columns the file holds that `schema` leaves out because this reader cannot decode them.
    public let opaqueColumns: [OpaqueColumn]
    /// Column chunks per row group: the leaves of the schema tree, decodable or not.
    let chunkCount: Int
    /// The file's bytes: a storage object read by range (pread on a kept descriptor, locally).
    private let source: any StorageReader

    /// CRC-32 of the footer and its 4-byte length, as `ParquetFileSummary.footerChecksum`.
    public let footerChecksum: UInt32

    public var rowGroupCount: Int { meta.rowGroups.count }

    /// What a catalog recorded about a file when it was committed. The reader checks it before
    /// it parses a byte of the footer, so a truncated, grown or bit-flipped file is an error
    /// rather than a footer that happens to parse into different data.
    public struct Expectation: Sendable, Equatable {
        public var fileSize: Int64?
        public var footerChecksum: UInt32?
        public init(fileSize: Int64?, footerChecksum: UInt32?) {
            self.fileSize = fileSize
            self.footerChecksum = footerChecksum
        }
    }

    /// Opens a standalone file by path (tests, tools, files outside a lake).
    public convenience init(path: String, expect: Expectation? = nil) throws {
        let source: any StorageReader
        do { source = try LocalStorageReader(path) } catch { throw ParquetError(error) }
        try self.init(source: source, path: path, expect: expect)
    }

    /// Opens the object `key` of `storage`: a lake's data or delete file.
    public convenience init(storage: any Storage, key: StorageKey, expect: Expectation? = nil) throws {
        let source: any StorageReader
        do { source = try storage.open(key) } catch { throw ParquetError(error) }
        try self.init(source: source, path: storage.location(of: key), expect: expect)
    }

    /// Reads `source`; `path` names it in errors.
    public init(source: any StorageReader, path: String, expect: Expectation? = nil) throws {
        self.path = path
        self.source = source
        let size = source.size
        if let expected = expect?.fileSize, expected != size {
            throw ParquetError.sizeMismatch(path: path, expected: expected, actual: size)
        }
        guard size >= 12 else { throw ParquetError.notParquet(path: path, reason: "\(size) bytes is too short to hold the magic bytes and a footer") }
        let head = try Self.pread(source, at: 0, count: 4)
        guard head == parquetMagic else { throw ParquetError.notParquet(path: path, reason: "the first 4 bytes are not PAR1") }
        let tail = try Self.pread(source, at: size - 8, count: 8)
        guard Array(tail[4...]) == parquetMagic else {
            throw ParquetError.notParquet(path: path, reason: "the last 4 bytes are not PAR1 (truncated or still being written?)")
        }
        let footerLength = Int64(UInt32(tail[0]) | UInt32(tail[1]) << 8 | UInt32(tail[2]) << 16 | UInt32(tail[3]) << 24)
        guard footerLength > 0, footerLength <= size - 12 else {
            throw ParquetError.truncated(path: path, detail: "footer length \(footerLength) does not fit a file of \(size) bytes")
        }
        let footer = try Self.pread(source, at: size - 8 - footerLength, count: Int(footerLength))
        // The pointer is used inside the closure only: one that escapes it may not point at the bytes.
        let checksum = tail.withUnsafeBytes { CRC32.update(CRC32.checksum(footer), UnsafeRawBufferPointer(rebasing: $0[0 ..< 4])) }
        if let expected = expect?.footerChecksum, expected != checksum {
            throw ParquetError.footerChecksumMismatch(path: path, expected: expected, actual: checksum)
        }
        self.footerChecksum = checksum
        let meta: FileMetaData
        do {
            meta = try footer.withUnsafeBytes { raw in
                var r = ThriftReader(raw)
                return try r.readFileMetaData()
            }
        } catch let e as ThriftError {
            throw ParquetError.corruptMetadata(path: path, detail: e.description)
        }
        self.meta = meta
        self.footerLength = footerLength
        self.fileSize = size
        self.rowCount = meta.numRows
        self.createdBy = meta.createdBy
        var kv: [String: String] = [:]
        for (k, v) in meta.keyValueMetadata { kv[k] = v ?? "" }
        self.keyValueMetadata = kv
        (self.leaves, self.opaqueColumns, self.chunkCount) = try Self.columns(meta.schema, path: path)
        self.schema = Schema(leaves.map(\.field))
        try validateLayout()
    }

    public func rowGroupRowCount(_ index: Int) -> Int { Int(meta.rowGroups[index].numRows) }

    /// The footer's min/max/null_count for one column chunk, as lake values; nil when absent
    /// or not trustworthy.
    public func statistics(rowGroup: Int, column: Int) -> ColumnStatistics? {
        let leaf = leaves[column]
        guard let s = meta.rowGroups[rowGroup].columns[leaf.chunk].metaData.statistics else { return nil }
        var out = ColumnStatistics(nullCount: s.nullCount)
        var lo = s.minValue, hi = s.maxValue
        // Legacy min/max were compared as signed bytes by old writers: trust them for numbers only.
        if lo == nil || hi == nil, leaf.physical != .byteArray, leaf.physical != .fixedLenByteArray {
            lo = s.legacyMin
            hi = s.legacyMax
        }
        out.min = lo.flatMap { decodeStat($0, leaf) }
        out.max = hi.flatMap { decodeStat($0, leaf) }
        return out
    }

    /// Row groups that may hold rows satisfying every predicate (by footer statistics).
    public func rowGroups(matching predicates: [ColumnPredicate]) -> [Int] {
        (0 ..< rowGroupCount).filter { rg in
            predicates.allSatisfy { p in
                guard let c = schema.index(of: p.column), let stats = statistics(rowGroup: rg, column: c) else { return true }
                return p.mayMatch(stats, rowCount: meta.rowGroups[rg].numRows)
            }
        }
    }

    /// Reads the given columns (all when nil) of one row group.
    public func read(rowGroup: Int, columns: [Int]? = nil) throws -> RecordBatch {
        precondition(rowGroup >= 0 && rowGroup < rowGroupCount, "row group \(rowGroup) out of range")
        let wanted = try wantedColumns(columns)
        var out: [Column] = []
        out.reserveCapacity(wanted.count)
        for c in wanted { out.append(try readChunk(rowGroup: rowGroup, column: c)) }
        return RecordBatch(schema: Schema(wanted.map { leaves[$0].field }), columns: out)
    }

    /// Reads row groups (all when nil) as one batch each, decoding column chunks on up to
    /// `parallelism` threads. Dictionary-encoded strings stay encoded per row group.
    public func readRowGroups(_ groups: [Int]? = nil, columns: [Int]? = nil,
                              parallelism: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> [RecordBatch] {
        let groups = groups ?? Array(0 ..< rowGroupCount)
        let wanted = try wantedColumns(columns)
        let tasks = groups.flatMap { g in wanted.map { (g, $0) } }
        if tasks.isEmpty { return groups.map { _ in RecordBatch(schema: Schema([]), columns: []) } }
        let chunks = try parallelMap(count: tasks.count, parallelism: parallelism) {
            try self.readChunk(rowGroup: tasks[$0].0, column: tasks[$0].1)
        }
        let schema = Schema(wanted.map { leaves[$0].field })
        return groups.indices.map { k in
            RecordBatch(schema: schema, columns: Array(chunks[k * wanted.count ..< (k + 1) * wanted.count]))
        }
    }

    /// Reads the given columns of every row group as one batch.
    public func readAll(columns: [Int]? = nil) throws -> RecordBatch {
        let wanted = try wantedColumns(columns)
        let batches = try (0 ..< rowGroupCount).map { try read(rowGroup: $0, columns: wanted) }
        let s = Schema(wanted.map { leaves[$0].field })
        if batches.count == 1 { return batches[0] }
        if batches.isEmpty {
            return RecordBatch(schema: s, columns: s.fields.map { emptyColumn($0.type) })
        }
        return RecordBatch.concatenate(batches.map { ($0, 0 ..< $0.count) }, schema: s)
    }

    /// `columns`, or every column when nil: then a column the reader cannot decode is an error,
    /// so "all columns" never silently means "all but one".
    private func wantedColumns(_ columns: [Int]?) throws -> [Int] {
        if let columns { return columns }
        if let first = opaqueColumns.first {
            throw ParquetError.unsupported(path: path, feature: "column \(first.name): \(first.reason)")
        }
        return Array(leaves.indices)
    }

    // MARK: - Footer validation

    private func validateLayout() throws {
        let dataEnd = fileSize - 8 - footerLength
        var total: Int64 = 0
        for (g, rg) in meta.rowGroups.enumerated() {
            // Every bound is checked without overflowing: a corrupt footer is an error to report,
            // and an overflow trap would take the whole process down (a server with it).
            guard rg.columns.count == chunkCount else {
                throw ParquetError.corruptMetadata(path: path, detail: "row group \(g) has \(rg.columns.count) columns, the schema \(chunkCount)")
            }
            for (c, chunk) in rg.columns.enumerated() {
                let m = chunk.metaData
                let start = chunkStart(m)
                guard start >= 4, m.totalCompressedSize >= 0, start <= dataEnd, m.totalCompressedSize <= dataEnd - start else {
                    throw ParquetError.truncated(path: path, detail: "row group \(g) column chunk \(c) (\(chunkName(c))) spans \(m.totalCompressedSize) bytes from byte \(start), past the data end \(dataEnd)")
                }
            }
            for leaf in leaves where rg.columns[leaf.chunk].metaData.type != leaf.physical {
                throw ParquetError.corruptMetadata(path: path, detail: "column \(leaf.field.name) is \(rg.columns[leaf.chunk].metaData.type) in row group \(g) but \(leaf.physical) in the schema")
            }
            let (sum, overflow) = total.addingReportingOverflow(rg.numRows)
            guard !overflow else { throw ParquetError.corruptMetadata(path: path, detail: "row group row counts overflow a 64-bit count") }
            total = sum
        }
        guard total == meta.numRows else {
            throw ParquetError.corruptMetadata(path: path, detail: "row groups hold \(total) rows, the footer says \(meta.numRows)")
        }
    }

    /// The column a chunk belongs to, for errors.
    private func chunkName(_ chunk: Int) -> String {
        leaves.first { $0.chunk == chunk }?.field.name ?? opaqueColumns.first { $0.chunks.contains(chunk) }?.name ?? "?"
    }

    private func chunkStart(_ m: ColumnMetaData) -> Int64 {
        // Some writers point data_page_offset at the dictionary page or set a zero dictionary offset.
        if let d = m.dictionaryPageOffset, d > 0, d < m.dataPageOffset { return d }
        return m.dataPageOffset
    }

    /// The file's top-level columns: decodable leaves and opaque columns, with each one's column
    /// chunk positions. A corrupt tree (children past the end) is an error; a valid column this
    /// reader cannot decode is an `OpaqueColumn`.
    private static func columns(_ elements: [SchemaElement], path: String) throws -> (leaves: [LeafColumn], opaque: [OpaqueColumn], chunks: Int) {
        guard let root = elements.first else { throw ParquetError.corruptMetadata(path: path, detail: "the schema is empty") }
        /// The index after the subtree at `i` and its number of leaves (column chunks).
        func subtree(_ i: Int, depth: Int) throws -> (end: Int, leaves: Int) {
            guard i < elements.count else { throw ParquetError.corruptMetadata(path: path, detail: "the schema tree has fewer elements than its num_children say") }
            guard depth < 64 else { throw ParquetError.corruptMetadata(path: path, detail: "the schema tree nests deeper than 64 levels") }
            let n = Int(elements[i].numChildren ?? 0)
            guard n >= 0 else { throw ParquetError.corruptMetadata(path: path, detail: "column \(elements[i].name) has a negative num_children") }
            if n == 0 { return (i + 1, 1) }
            var end = i + 1, count = 0
            for _ in 0 ..< n {
                let child = try subtree(end, depth: depth + 1)
                end = child.end
                count += child.leaves
            }
            return (end, count)
        }
        let top = Int(root.numChildren ?? 0)
        guard top >= 0 else { throw ParquetError.corruptMetadata(path: path, detail: "the schema root has a negative num_children") }
        var leaves: [LeafColumn] = []
        var opaque: [OpaqueColumn] = []
        var i = 1, chunk = 0
        for _ in 0 ..< top {
            let (end, count) = try subtree(i, depth: 1)
            let e = elements[i]
            if (e.numChildren ?? 0) > 0 {
                opaque.append(OpaqueColumn(name: e.name, fieldID: e.fieldID, reason: "a nested column (\(nestedKind(e)))", chunks: chunk ..< chunk + count))
            } else if e.repetition == .repeated {
                opaque.append(OpaqueColumn(name: e.name, fieldID: e.fieldID, reason: "a repeated column", chunks: chunk ..< chunk + count))
            } else {
                do {
                    leaves.append(try leaf(e, chunk: chunk, path: path))
                } catch ParquetError.unsupported(_, let feature) {
                    opaque.append(OpaqueColumn(name: e.name, fieldID: e.fieldID, reason: feature, chunks: chunk ..< chunk + count))
                }
            }
            i = end
            chunk += count
        }
        guard i == elements.count else {
            throw ParquetError.corruptMetadata(path: path, detail: "the schema has \(elements.count - i) elements outside the root's \(root.numChildren ?? 0) columns")
        }
        return (leaves, opaque, chunk)
    }

    private static func nestedKind(_ e: SchemaElement) -> String {
        switch e.convertedType {
        case 1?, 2?: return "MAP"
        case 3?: return "LIST"
        default: return "STRUCT"
        }
    }

    private static func leaf(_ e: SchemaElement, chunk: Int, path: String) throws -> LeafColumn {
        guard let physical = e.type else { throw ParquetError.corruptMetadata(path: path, detail: "column \(e.name) has no physical type") }
        let nullable = e.repetition != .required
        var conversion = ValueConversion.none
        let type: ColumnType
        var decimal: (Int, Int)?
        if case .decimal(let s, let p) = e.logicalType { decimal = (Int(p), Int(s)) } else if e.convertedType == ConvertedType.decimal.rawValue {
            decimal = (Int(e.precision ?? 0), Int(e.scale ?? 0))
        }
        switch physical {
        case .boolean: type = .bool
        case .int32:
            if let (p, s) = decimal {
                type = .decimal(precision: p, scale: s); conversion = .int32ToInt64
            } else if e.logicalType == .date || e.convertedType == ConvertedType.date.rawValue {
                type = .date
            } else if case .integer(32, false) = e.logicalType {
                type = .int64; conversion = .int32ToInt64
            } else if e.convertedType == 14 {  // UINT_32
                type = .int64; conversion = .int32ToInt64
            } else {
                type = .int32
            }
        case .int64:
            if let (p, s) = decimal {
                type = .decimal(precision: p, scale: s)
            } else if case .timestamp(_, let unit) = e.logicalType {
                type = .timestamp
                conversion = unit == .millis ? .timestampMillis : unit == .nanos ? .timestampNanos : .none
            } else if e.convertedType == ConvertedType.timestampMicros.rawValue {
                type = .timestamp
            } else if e.convertedType == ConvertedType.timestampMillis.rawValue {
                type = .timestamp; conversion = .timestampMillis
            } else if case .integer(64, false) = e.logicalType {
                throw ParquetError.unsupported(path: path, feature: "unsigned 64-bit column \(e.name)")
            } else if e.convertedType == 12 {
                throw ParquetError.unsupported(path: path, feature: "unsigned 64-bit column \(e.name)")
            } else {
                type = .int64
            }
        case .int96:
            // Deprecated, but what Spark and Impala long wrote for TIMESTAMP (UTC by convention).
            type = .timestamp; conversion = .int96Timestamp
        case .float:
            type = .double; conversion = .floatToDouble
        case .double:
            type = .double
        case .byteArray:
            if let (p, s) = decimal {
                type = .decimal(precision: p, scale: s); conversion = .byteArrayDecimal
            } else {
                type = .string
            }
        case .fixedLenByteArray:
            guard let (p, s) = decimal else {
                throw ParquetError.unsupported(path: path, feature: "FIXED_LEN_BYTE_ARRAY without DECIMAL (column \(e.name))")
            }
            guard let len = e.typeLength, len > 0, len <= 16 else {
                throw ParquetError.corruptMetadata(path: path, detail: "column \(e.name) has a bad type_length")
            }
            type = .decimal(precision: p, scale: s)
            conversion = .fixedDecimal(Int(len))
        }
        // Decimals of up to 38 digits are read as Int64 (a column DuckDB widened holds the
        // narrower values it had); a value past Int64 fails the read of its page.
        if case .decimal(let p, let s) = type, p < 1 || p > DecimalBytes.maxPrecision || s < 0 || s > p {
            throw ParquetError.unsupported(path: path, feature: "decimal(\(p),\(s)) (column \(e.name))")
        }
        return LeafColumn(field: Field(e.name, type, nullable: nullable, fieldID: e.fieldID),
                          physical: physical, conversion: conversion, typeLength: Int(e.typeLength ?? 0), chunk: chunk)
    }

    private func decodeStat(_ b: [UInt8], _ leaf: LeafColumn) -> StatValue? {
        func le(_ n: Int) -> UInt64? {
            guard b.count >= n else { return nil }
            var v: UInt64 = 0
            for i in 0 ..< n { v |= UInt64(b[i]) << (8 * UInt64(i)) }
            return v
        }
        switch leaf.physical {
        case .boolean: return b.first.map { .bool($0 != 0) }
        case .int32: return le(4).map { .int(Int64(Int32(truncatingIfNeeded: $0))) }
        case .int64:
            guard let v = le(8).map({ Int64(bitPattern: $0) }) else { return nil }
            switch leaf.conversion {
            case .timestampMillis: return .int(v &* 1000)
            case .timestampNanos: return .int(v / 1000)
            default: return .int(v)
            }
        case .float: return le(4).map { .double(Double(Float(bitPattern: UInt32($0)))) }
        case .double: return le(8).map { .double(Double(bitPattern: $0)) }
        case .byteArray:
            guard leaf.conversion == .byteArrayDecimal else { return .bytes(b) }
            return b.isEmpty || b.count > 16 ? nil : b.withUnsafeBytes { bigEndianDecimal($0, 0, b.count) }.map { .int($0) }
        case .fixedLenByteArray:
            guard case .fixedDecimal(let n) = leaf.conversion, b.count == n else { return nil }
            return b.withUnsafeBytes { bigEndianDecimal($0, 0, n) }.map { .int($0) }
        case .int96: return nil
        }
    }

    // MARK: - Column chunks

    private static func pread(_ source: any StorageReader, at offset: Int64, count: Int) throws -> [UInt8] {
        do { return try source.read(at: offset, count: count) } catch { throw ParquetError(error) }
    }

    /// Reads and decodes every page of every column chunk, checking each page CRC present:
    /// the whole-file check of `lake verify`. Chunks are decoded on up to `parallelism` threads.
    /// An opaque column's pages are checked by CRC and decompressed, not decoded.
    public func verifyPages(parallelism: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> PageCounts {
        let opaqueChunks = opaqueColumns.flatMap { o in o.chunks.map { ($0, o.name) } }
        let perGroup = leaves.count + opaqueChunks.count
        let perChunk = try parallelMap(count: rowGroupCount * perGroup, parallelism: parallelism) { i in
            let (g, k) = i.quotientAndRemainder(dividingBy: perGroup)
            var counts = PageCounts()
            var tooLarge: ParquetError?
            try withUnsafeMutablePointer(to: &counts) { c in
                if k < self.leaves.count {
                    do {
                        _ = try self.readChunk(rowGroup: g, column: k, counts: c)
                    } catch let e as ParquetError {
                        // A valid value lake cannot hold is not damage: the chunk's pages are
                        // still checked (CRC, decompression), and so are the columns after it;
                        // the value is reported only if no damage is found.
                        guard case .valueOutOfRange = e else { throw e }
                        c.pointee = PageCounts()
                        try self.checkOpaqueChunk(rowGroup: g, chunk: self.leaves[k].chunk, name: self.leaves[k].field.name, counts: c)
                        tooLarge = e
                    }
                } else {
                    let (chunk, name) = opaqueChunks[k - self.leaves.count]
                    try self.checkOpaqueChunk(rowGroup: g, chunk: chunk, name: name, counts: c)
                }
            }
            return (counts, tooLarge)
        }
        if let first = perChunk.lazy.compactMap(\.1).first { throw first }
        var total = PageCounts()
        for (c, _) in perChunk {
            total.pages += c.pages
            total.checksummed += c.checksummed
        }
        return total
    }

    /// Walks an opaque column chunk's pages to its recorded end: each header parses, each CRC
    /// present matches, each v1 or dictionary page decompresses to its stated size.
    private func checkOpaqueChunk(rowGroup: Int, chunk: Int, name: String, counts: UnsafeMutablePointer<PageCounts>) throws {
        let m = meta.rowGroups[rowGroup].columns[chunk].metaData
        let codec = try chunkCodec(m, column: name)
        let start = chunkStart(m)
        let bytes = try Self.pread(source, at: start, count: Int(m.totalCompressedSize))
        do {
            try bytes.withUnsafeBytes { raw in
                var pos = 0
                var scratch: [UInt8] = []
                while pos < raw.count {
                    let (type, header, body, next) = try nextPage(raw, at: pos, start: start, rowGroup: rowGroup, column: name, counts: counts)
                    pos = next
                    if type == .dictionaryPage || type == .dataPage {
                        try decompress(body, header: header, codec: codec, column: name, scratch: &scratch) { _ in }
                    }
                }
            }
        } catch let e as PageError {
            throw ParquetError.corruptPage(path: path, column: name, detail: e.detail)
        }
    }

    private func chunkCodec(_ m: ColumnMetaData, column: String) throws -> CompressionCodec {
        switch CompressionCodec(rawValue: m.codec) {
        case .uncompressed?: return .uncompressed
        case .snappy?: return .snappy
        case .zstd?: return .zstd
        case .gzip?: return .gzip
        case .brotli?: return .brotli
        case .lz4Raw?: return .lz4Raw
        // LZO, and the deprecated LZ4 (its framing differs between Hadoop's and raw writers).
        case let other?: throw ParquetError.unsupported(path: path, feature: "\(other) compression (column \(column))")
        case nil: throw ParquetError.corruptMetadata(path: path, detail: "unknown compression codec \(m.codec)")
        }
    }

    /// The page at `pos` of a chunk: its type, header and body, with the CRC checked when present.
    private func nextPage(_ raw: UnsafeRawBufferPointer, at pos: Int, start: Int64, rowGroup: Int, column: String,
                          counts: UnsafeMutablePointer<PageCounts>?) throws -> (PageType, PageHeader, UnsafeRawBufferPointer, Int) {
        var r = ThriftReader(raw, at: pos)
        let header: PageHeader
        do { header = try r.readPageHeader() } catch let e as ThriftError { throw PageError("page header: \(e.description)") }
        let at = r.position
        let size = Int(header.compressedPageSize)
        guard size >= 0, size <= raw.count - at else { throw PageError("page of \(size) bytes runs past its column chunk") }
        let body = UnsafeRawBufferPointer(rebasing: raw[at ..< at + size])
        if let crc = header.crc {
            let actual = CRC32.checksum(body)
            guard actual == UInt32(bitPattern: crc) else {
                throw ParquetError.pageChecksumMismatch(path: path, column: column, rowGroup: rowGroup,
                                                        offset: start + Int64(at), expected: UInt32(bitPattern: crc), actual: actual)
            }
            counts?.pointee.checksummed += 1
        }
        counts?.pointee.pages += 1
        guard let type = PageType(rawValue: header.type) else { throw PageError("unknown page type \(header.type)") }
        return (type, header, body, at + size)
    }

    /// Hands `use` a page body decompressed (into `scratch` unless stored uncompressed). The
    /// bytes are lent, not returned: a pointer into `scratch` outside its `withUnsafeBytes`
    /// may outlive the array's storage (Swift can end its lifetime at its last use).
    private func decompress<R>(_ body: UnsafeRawBufferPointer, header: PageHeader, codec: CompressionCodec, column: String,
                               scratch: inout [UInt8], _ use: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let uncompressedSize = Int(header.uncompressedPageSize)
        switch codec {
        case .uncompressed:
            guard uncompressedSize == body.count else { throw PageError("uncompressed page sizes disagree (\(uncompressedSize) vs \(body.count))") }
            return try use(body)
        default:
            guard uncompressedSize >= 0, uncompressedSize <= 1 << 30 else { throw PageError("page claims \(uncompressedSize) uncompressed bytes") }
            if scratch.count < uncompressedSize {
                // zstd throws unless it wrote exactly the page's size, so its buffer is not
                // zeroed first (a memset of every page's bytes, a few percent of a report's
                // scan). The other codecs check their output size too; their buffers stay zeroed
                // as a precaution only (their pages are read from other engines' files, rarely).
                scratch = codec == .zstd ? [UInt8](unsafeUninitializedCapacity: uncompressedSize) { _, n in n = uncompressedSize }
                    : [UInt8](repeating: 0, count: uncompressedSize)
            }
            do {
                try scratch.withUnsafeMutableBytes { out in
                    let dst = UnsafeMutableRawBufferPointer(rebasing: out[0 ..< uncompressedSize])
                    switch codec {
                    case .zstd: try ZstdDecoderPool.shared.withDecoder { try $0.decompress(body, into: dst) }
                    case .snappy: try Snappy.decompress(body, into: dst)
                    case .gzip: try Gzip.decompress(body, into: dst)
                    case .brotli: try Brotli.decompress(body, into: dst)
                    case .lz4Raw: try LZ4Raw.decompress(body, into: dst)
                    default: preconditionFailure("chunkCodec admits \(codec)")
                    }
                }
            } catch let e as PageError {
                throw ParquetError.decompressionFailed(path: path, column: column, codec: "\(codec)", detail: e.detail)
            }
            return try scratch.withUnsafeBytes { try use(UnsafeRawBufferPointer(rebasing: $0[0 ..< uncompressedSize])) }
        }
    }

    private func checkEncoding(_ encoding: Int32, column: String) throws {
        switch Encoding(rawValue: encoding) {
        case .plain?, .plainDictionary?, .rleDictionary?, .deltaBinaryPacked?, .deltaLengthByteArray?, .deltaByteArray?, .byteStreamSplit?,
             .rle?: return  // RLE: booleans only (ChunkDecoder checks)
        default: throw ParquetError.unsupported(path: path, feature: "\(encodingName(encoding)) encoding (column \(column))")
        }
    }

    /// A DATA_PAGE_V2 page as the v1 page it stands for (a 4-byte length and the definition
    /// levels when the column is nullable, then the values uncompressed), assembled in
    /// `assembled`, so one decoder reads both kinds. The copy is paid only on files another
    /// writer made with data page v2. Flat columns have no repetition levels.
    private func dataPageV2(_ body: UnsafeRawBufferPointer, header: PageHeader, codec: CompressionCodec, column: String, nullable: Bool,
                            scratch: inout [UInt8], assembled: inout [UInt8],
                            _ use: (UnsafeRawBufferPointer, DataPageHeader) throws -> Void) throws {
        guard let v2 = header.dataPageV2 else { throw PageError("data page v2 without its header") }
        let rep = Int(v2.repetitionLevelsByteLength), def = Int(v2.definitionLevelsByteLength)
        guard rep == 0 else { throw PageError("repetition levels in a flat column") }
        guard nullable || def == 0 else { throw PageError("definition levels in a required column") }
        guard def <= body.count, def <= Int(header.uncompressedPageSize) else { throw PageError("definition levels of \(def) bytes run past the page") }
        let valuesBody = UnsafeRawBufferPointer(rebasing: body[def...])
        var valuesHeader = header
        valuesHeader.uncompressedPageSize = header.uncompressedPageSize - Int32(def)
        assembled.removeAll(keepingCapacity: true)
        // A required column has no definition levels; the v1 layout then starts with the values.
        if nullable {
            appendLE(UInt32(def), to: &assembled)
            assembled.append(contentsOf: UnsafeRawBufferPointer(rebasing: body[0 ..< def]))
        }
        try decompress(valuesBody, header: valuesHeader, codec: v2.isCompressed ? codec : .uncompressed, column: column, scratch: &scratch) {
            assembled.append(contentsOf: $0)
        }
        let v1 = DataPageHeader(numValues: v2.numValues, encoding: v2.encoding, definitionLevelEncoding: Encoding.rle.rawValue,
                                repetitionLevelEncoding: Encoding.rle.rawValue)
        try assembled.withUnsafeBytes { try use($0, v1) }
    }

    private func readChunk(rowGroup: Int, column: Int, counts: UnsafeMutablePointer<PageCounts>? = nil) throws -> Column {
        let leaf = leaves[column]
        let name = leaf.field.name
        let m = meta.rowGroups[rowGroup].columns[leaf.chunk].metaData
        let rows = Int(meta.rowGroups[rowGroup].numRows)
        let codec = try chunkCodec(m, column: name)
        let start = chunkStart(m)
        let bytes = try Self.pread(source, at: start, count: Int(m.totalCompressedSize))
        var decoder = ChunkDecoder(leaf: leaf, rows: rows)
        do {
            try bytes.withUnsafeBytes { raw in
                var pos = 0
                var scratch: [UInt8] = [], assembled: [UInt8] = []
                while decoder.valuesRead < rows {
                    guard pos < raw.count else { throw PageError("column chunk ends after \(decoder.valuesRead) of \(rows) values") }
                    let (type, header, body, next) = try nextPage(raw, at: pos, start: start, rowGroup: rowGroup, column: name, counts: counts)
                    pos = next
                    switch type {
                    case .indexPage: continue
                    case .dataPageV2:
                        try dataPageV2(body, header: header, codec: codec, column: name, nullable: leaf.field.nullable,
                                       scratch: &scratch, assembled: &assembled) { payload, h in
                            try checkEncoding(h.encoding, column: name)
                            try decoder.readDataPage(payload, header: h)
                        }
                        continue
                    case .dictionaryPage, .dataPage:
                        break
                    }
                    try decompress(body, header: header, codec: codec, column: name, scratch: &scratch) { payload in
                        if type == .dictionaryPage {
                            guard let d = header.dictionaryPage else { throw PageError("dictionary page without its header") }
                            guard d.encoding == Encoding.plain.rawValue || d.encoding == Encoding.plainDictionary.rawValue else {
                                throw ParquetError.unsupported(path: path, feature: "dictionary page encoding \(encodingName(d.encoding)) (column \(name))")
                            }
                            try decoder.readDictionary(payload, count: Int(d.numValues))
                        } else {
                            guard let d = header.dataPage else { throw PageError("data page without its header") }
                            guard d.numValues >= 0 else { throw PageError("negative value count") }
                            try checkEncoding(d.encoding, column: name)
                            try decoder.readDataPage(payload, header: d)
                        }
                    }
                }
            }
        } catch let e as PageError {
            if e.outOfRange { throw ParquetError.valueOutOfRange(path: path, column: name, detail: e.detail) }
            throw ParquetError.corruptPage(path: path, column: name, detail: e.detail)
        }
        guard decoder.valuesRead == rows else {
            throw ParquetError.corruptPage(path: path, column: name, detail: "pages hold \(decoder.valuesRead) values, the row group \(rows)")
        }
        return decoder.finish()
    }
}

/// Pages a verification read, and how many of them carried a CRC it checked.
public struct PageCounts: Sendable, Equatable {
    public var pages = 0
    public var checksummed = 0
    public init() {}
}

extension CompressionCodec: CustomStringConvertible {
    var description: String {
        switch self {
        case .uncompressed: return "UNCOMPRESSED"
        case .snappy: return "SNAPPY"
        case .gzip: return "GZIP"
        case .lzo: return "LZO"
        case .brotli: return "BROTLI"
        case .lz4: return "LZ4"
        case .zstd: return "ZSTD"
        case .lz4Raw: return "LZ4_RAW"
        }
    }
}

func encodingName(_ raw: Int32) -> String {
    switch Encoding(rawValue: raw) {
    case .plain?: return "PLAIN"
    case .plainDictionary?: return "PLAIN_DICTIONARY"
    case .rle?: return "RLE"
    case .bitPacked?: return "BIT_PACKED"
    case .deltaBinaryPacked?: return "DELTA_BINARY_PACKED"
    case .deltaLengthByteArray?: return "DELTA_LENGTH_BYTE_ARRAY"
    case .deltaByteArray?: return "DELTA_BYTE_ARRAY"
    case .rleDictionary?: return "RLE_DICTIONARY"
    case .byteStreamSplit?: return "BYTE_STREAM_SPLIT"
    case nil: return "encoding #\(raw)"
    }
}

func emptyColumn(_ type: ColumnType) -> Column {
    switch type {
    case .bool: return Column(.bool([]))
    case .int32, .date: return Column(.int32([]))
    case .int64, .timestamp, .decimal: return Column(.int64([]))
    case .double: return Column(.double([]))
    case .string: return Column(.string(StringColumn()))
    }
}

@inline(__always)
func bigEndianDecimal(_ raw: UnsafeRawBufferPointer, _ at: Int, _ n: Int) -> Int64? {
    let low = min(n, 8)
    var u: UInt64 = 0
    for i in (n - low) ..< n { u = u << 8 | UInt64(raw[at + i]) }
    let shift = UInt64(64 - 8 * low)
    let v = Int64(bitPattern: u << shift) >> Int64(shift)
    // Bytes above the low eight must be pure sign extension, else the value needs > 64 bits.
    let ext: UInt8 = v < 0 ? 0xFF : 0
    for i in 0 ..< (n - low) where raw[at + i] != ext { return nil }
    return v
}
