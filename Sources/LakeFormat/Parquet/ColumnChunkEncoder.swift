#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The column-chunk encoder: one column of one row group as pages (levels, PLAIN values, or
// dictionary indices), with the dictionary and statistics halves in their own files.

/// Encodes one column's rows of one row group: optional dictionary page, then data pages.
struct ChunkEncoder {
    let field: Field
    let options: ParquetWriteOptions
    /// The zstd level of every page, nil when pages are stored uncompressed.
    let level: Int32?
    private let scratch: EncoderScratch

    // The scratch's buffers, held here while the chunk is encoded (a struct's own arrays, not
    // a class's, so appends in the hot loops pay no exclusivity checks) and reused across pages.
    private var page: [UInt8]
    private var levels: [UInt32]

    init(field: Field, options: ParquetWriteOptions, scratch: EncoderScratch) {
        self.field = field
        self.options = options
        self.scratch = scratch
        if case .zstd(let l) = options.compression { level = l } else { level = nil }
        page = scratch.page
        levels = scratch.levels
        // Released here so the arrays above are uniquely referenced: appends do not copy them.
        scratch.page = []
        scratch.levels = []
    }

    /// Hands the buffers back to the scratch for the next chunk.
    mutating func finish() {
        scratch.page = page
        scratch.levels = levels
        page = []
        levels = []
    }

    /// The physical values of the chunk's non-null rows, in a form each encoding can walk.
    private enum Values {
        case bool([Bool])
        case fixed(UnsafeRawBufferPointer, width: Int)  // points into the column's array, no copy
        case strings
    }

    mutating func encode(_ column: Column, range: Range<Int>, at chunkOffset: Int64,
                         into out: inout [UInt8]) throws -> (ColumnChunk, ColumnStatistics) {
        // A dictionary far larger than the chunk (a big product catalog behind a few rows) is
        // cheaper to write as the rows' strings than to walk per entry.
        if case .dictionary(_, let values) = column.data, values.count > max(1 << 12, range.count * 4) {
            return try encode(column.slice(range).materialized(), range: 0 ..< range.count, at: chunkOffset, into: &out)
        }
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

        let tryDictionary = options.dictionary && !options.plainColumns.contains(field.name)
        var pages = PageSink(scratch: scratch, level: level, start: chunkOffset, checksums: options.pageChecksums)
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
            if tryDictionary, nonNull > 0 {
                (dictionaryPage, dictionaryCount, indices) = a.withUnsafeBufferPointer {
                    buildFixedDictionary($0, range: range, validity: validity, width: 4)
                }
            }
            let (lo, hi) = minMax(a, range: range, validity: validity)
            stats.min = lo.map(StatValue.int)
            stats.max = hi.map(StatValue.int)
        case .int64(let a):
            if tryDictionary, nonNull > 0 {
                (dictionaryPage, dictionaryCount, indices) = a.withUnsafeBufferPointer {
                    buildFixedDictionary($0, range: range, validity: validity, width: 8)
                }
            }
            let (lo, hi) = minMax(a, range: range, validity: validity)
            stats.min = lo.map(StatValue.int)
            stats.max = hi.map(StatValue.int)
        case .double(let a):
            if tryDictionary, nonNull > 0 {
                (dictionaryPage, dictionaryCount, indices) = a.withUnsafeBufferPointer {
                    buildFixedDictionary($0, range: range, validity: validity, width: 8)
                }
            }
            let values = a[range].enumerated().lazy.filter { (validity?[$0.offset] ?? true) && !$0.element.isNaN }.map(\.element)
            stats.min = values.min().map(StatValue.double)
            stats.max = values.max().map(StatValue.double)
        case .string(let s):
            if tryDictionary, nonNull > 0 {
                (dictionaryPage, dictionaryCount, indices) = buildStringDictionary(s, range: range, validity: validity)
            }
            let (lo, hi) = stringMinMax(s, range: range, validity: validity)
            stats.min = lo.map { .bytes(StatBounds.lower($0)) }
            stats.max = hi.map { .bytes(StatBounds.upper($0)) }
        case .dictionary(let idx, let values):
            if tryDictionary, nonNull > 0 {
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
            codec: level == nil ? CompressionCodec.uncompressed.rawValue : CompressionCodec.zstd.rawValue,
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
}
