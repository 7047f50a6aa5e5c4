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

    /// Encodes `parts` end to end as one column chunk, exactly as the concatenation of the
    /// ranges and of the picked rows gathered would be encoded. Picked rows of strings are read
    /// through their row list (an ingest partition's rows of a drain, where they lie: the
    /// gathered copy of every verbatim line was the writers' largest copy); picked rows of
    /// other types are gathered, which costs no more than their row list.
    mutating func encode(_ parts: [ChunkPart], at chunkOffset: Int64, into out: inout [UInt8]) throws -> (ColumnChunk, ColumnStatistics) {
        let pickedStrings = parts.contains {
            if case .picked(let c, _) = $0, case .string = c.data { return true }
            return false
        }
        guard pickedStrings else {
            return try encode(parts.map { part -> (Column, Range<Int>) in
                switch part {
                case .range(let c, let r): return (c, r)
                case .picked(let c, let rows): return (c.gatherChecked(rows), 0 ..< rows.count)
                }
            }, at: chunkOffset, into: &out)
        }
        var runs: [StringRun] = []
        var validity: [Bool]?
        var rows = 0
        if parts.contains(where: { $0.column.validity != nil }) { validity = [] }
        for part in parts {
            let run: StringRun
            switch part {
            case .range(let c, let r):
                switch c.data {
                case .string(let s): run = StringRun(values: s, rows: r)
                case .dictionary(let idx, let values): run = StringRun(values: values, indices: idx, rows: r)
                default: preconditionFailure("a string column chunk with \(c.data)")
                }
                if validity != nil { validity!.append(contentsOf: c.validity.map { Array($0[r]) } ?? Array(repeating: true, count: r.count)) }
            case .picked(let c, let picked):
                switch c.data {
                case .string(let s): run = StringRun(values: s, indices: picked.map { Int32($0) }, rows: 0 ..< picked.count)
                case .dictionary(let idx, let values):
                    run = StringRun(values: values, indices: picked.map { idx[$0] }, rows: 0 ..< picked.count)
                default: preconditionFailure("a string column chunk with \(c.data)")
                }
                if validity != nil { validity!.append(contentsOf: c.validity.map { v in picked.map { v[$0] } } ?? Array(repeating: true, count: picked.count)) }
            }
            runs.append(run)
            rows += run.rows.count
        }
        let bytes = runs.reduce(0) { $0 + $1.valueBytes }
        return try encodeStrings(runs, validity: validity, bytesPerValue: Double(bytes) / Double(max(rows, 1)), at: chunkOffset, into: &out)
    }

    /// Encodes the rows `parts` (ranges of columns of this field's type, end to end) as one
    /// column chunk, exactly as their concatenation would be encoded. String parts are read
    /// where they are: a row group of an ingest partition is queued as many drains' pieces, and
    /// concatenating them first copied every byte of the verbatim source lines once more.
    mutating func encode(_ parts: [(Column, Range<Int>)], at chunkOffset: Int64,
                         into out: inout [UInt8]) throws -> (ColumnChunk, ColumnStatistics) {
        precondition(!parts.isEmpty, "a column chunk has at least one part")
        if parts.count == 1 { return try encode(parts[0].0, range: parts[0].1, at: chunkOffset, into: &out) }
        // Dictionary parts over one values array stay a dictionary column (indices concatenated),
        // as do all other types; parts with dictionaries of their own (one per validating
        // thread: a raw row's batch id and source file) or mixed with strings were materialized
        // as strings by the concatenation, which the runs read in place.
        if case .dictionary(_, let shared) = parts[0].0.data, parts.allSatisfy({ $0.0.data.sharesDictionary(shared) }) {
            let whole = Column.concatenate(parts)
            return try encode(whole, range: 0 ..< whole.count, at: chunkOffset, into: &out)
        }
        var runs: [StringRun] = []
        runs.reserveCapacity(parts.count)
        for (column, rows) in parts {
            switch column.data {
            case .string(let s): runs.append(StringRun(values: s, rows: rows))
            case .dictionary(let idx, let values): runs.append(StringRun(values: values, indices: idx, rows: rows))
            default:
                let whole = Column.concatenate(parts)
                return try encode(whole, range: 0 ..< whole.count, at: chunkOffset, into: &out)
            }
        }
        // The validity the concatenation has: none unless some part has one.
        var validity: [Bool]?
        if parts.contains(where: { $0.0.validity != nil }) {
            var v: [Bool] = []
            v.reserveCapacity(runs.reduce(0) { $0 + $1.rows.count })
            for (c, r) in parts {
                if let cv = c.validity { v.append(contentsOf: cv[r]) } else { v.append(contentsOf: repeatElement(true, count: r.count)) }
            }
            validity = v
        }
        // The concatenation's bytes per row: the parts' own, not their whole columns'.
        let bytes = runs.reduce(0) { $0 + $1.valueBytes }
        let rows = runs.reduce(0) { $0 + $1.rows.count }
        return try encodeStrings(runs, validity: validity, bytesPerValue: Double(bytes) / Double(max(rows, 1)), at: chunkOffset, into: &out)
    }

    mutating func encode(_ column: Column, range: Range<Int>, at chunkOffset: Int64,
                         into out: inout [UInt8]) throws -> (ColumnChunk, ColumnStatistics) {
        // A dictionary far larger than the chunk (a big product catalog behind a few rows) is
        // cheaper to write as the rows' strings than to walk per entry.
        if case .dictionary(_, let values) = column.data, values.count > max(1 << 12, range.count * 4) {
            return try encode(column.slice(range).materialized(), range: 0 ..< range.count, at: chunkOffset, into: &out)
        }
        let validity = column.validity.map { Array($0[range]) }
        if case .string(let s) = column.data {
            // Pages are sized from the bytes per value of the whole column, as they always were.
            return try encodeStrings([StringRun(values: s, rows: range)], validity: validity,
                                     bytesPerValue: Double(s.bytes.count) / Double(max(s.count, 1)), at: chunkOffset, into: &out)
        }
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
        if case .decimal(let p, _) = field.type, let n = DecimalBytes.length(precision: p), case .int64(let a) = column.data {
            return encodeWideDecimal(a, length: n, range: range, validity: validity, at: chunkOffset, into: &out)
        }

        let tryDictionary = options.dictionary && !options.plainColumns.contains(field.name)
        var stats = ColumnStatistics(nullCount: Int64(nullCount))
        var dictionary: BuiltDictionary?

        // Decide the encoding: build a dictionary (bounded by pageBytes) and keep it when
        // dictionary page + packed indices come out smaller than PLAIN.
        switch column.data {
        case .bool(let a):
            let present = a[range].enumerated().lazy.filter { validity?[$0.offset] ?? true }.map(\.element)
            if nonNull > 0 {
                stats.min = .bool(!present.contains(false) ? true : false)
                stats.max = .bool(present.contains(true))
            }
        case .int32(let a):
            if tryDictionary, nonNull > 0 {
                dictionary = a.withUnsafeBufferPointer { buildFixedDictionary($0, range: range, validity: validity, width: 4) }
            }
            let (lo, hi) = minMax(a, range: range, validity: validity)
            stats.min = lo.map(StatValue.int)
            stats.max = hi.map(StatValue.int)
        case .int64(let a):
            if tryDictionary, nonNull > 0 {
                dictionary = a.withUnsafeBufferPointer { buildFixedDictionary($0, range: range, validity: validity, width: 8) }
            }
            let (lo, hi) = minMax(a, range: range, validity: validity)
            stats.min = lo.map(StatValue.int)
            stats.max = hi.map(StatValue.int)
        case .double(let a):
            if tryDictionary, nonNull > 0 {
                dictionary = a.withUnsafeBufferPointer { buildFixedDictionary($0, range: range, validity: validity, width: 8) }
            }
            let values = a[range].enumerated().lazy.filter { (validity?[$0.offset] ?? true) && !$0.element.isNaN }.map(\.element)
            stats.min = values.min().map(StatValue.double)
            stats.max = values.max().map(StatValue.double)
            stats.containsNaN = a[range].enumerated().contains { (validity?[$0.offset] ?? true) && $0.element.isNaN }
        case .string:
            preconditionFailure("string columns are encoded by encodeStrings")
        case .dictionary(let idx, let values):
            if tryDictionary, nonNull > 0 {
                dictionary = remapDictionary(idx, values, range: range, validity: validity)
            }
            let (lo, hi) = dictionaryMinMax(idx, values, range: range, validity: validity)
            stats.min = lo.map { .bytes(StatBounds.lower($0)) }
            stats.max = hi.map { .bytes(StatBounds.upper($0)) }
        }

        let plainBytesPerRow: Double
        switch column.data {
        case .bool: plainBytesPerRow = 0.125
        case .int32: plainBytesPerRow = 4
        case .int64, .double: plainBytesPerRow = 8
        case .string(let s): plainBytesPerRow = 4 + Double(s.bytes.count) / Double(max(s.count, 1))
        case .dictionary(_, let v): plainBytesPerRow = 4 + Double(v.bytes.count) / Double(max(v.count, 1))
        }
        let data = column.data
        return writePages(physical: physical, stats: stats, validity: validity, count: range.count, dictionary: dictionary,
                          plainBytesPerRow: plainBytesPerRow, at: chunkOffset, into: &out) { rows, page in
            Self.appendPlain(data, rows: rows.lowerBound + range.lowerBound ..< rows.upperBound + range.lowerBound,
                             chunkStart: range.lowerBound, validity: validity, into: &page)
        }
    }

    /// A string column chunk made of `runs` end to end; `validity` is the chunk's (row 0 is the
    /// first run's first row) and `bytesPerValue` sizes the pages.
    private mutating func encodeStrings(_ runs: [StringRun], validity: [Bool]?, bytesPerValue: Double,
                                        at chunkOffset: Int64, into out: inout [UInt8]) throws -> (ColumnChunk, ColumnStatistics) {
        let count = runs.reduce(0) { $0 + $1.rows.count }
        let nullCount = validity.map { $0.reduce(0) { $0 + ($1 ? 0 : 1) } } ?? 0
        var stats = ColumnStatistics(nullCount: Int64(nullCount))
        var dictionary: BuiltDictionary?
        if options.dictionary && !options.plainColumns.contains(field.name), count - nullCount > 0 {
            dictionary = buildStringDictionary(runs, validity: validity)
        }
        if !options.unboundedColumns.contains(field.name) {
            // With a dictionary, min and max are those of its entries: one comparison per distinct
            // value instead of per row.
            let (lo, hi) = dictionary?.strings.map { stringMinMax([StringRun(values: $0, rows: 0 ..< $0.count)], validity: nil) }
                ?? stringMinMax(runs, validity: validity)
            stats.min = lo.map { .bytes(StatBounds.lower($0)) }
            stats.max = hi.map { .bytes(StatBounds.upper($0)) }
        }
        // The runs are walked page after page, in order: `run` is the one holding chunk row `first`.
        var run = 0, first = 0
        return writePages(physical: .byteArray, stats: stats, validity: validity, count: count, dictionary: dictionary,
                          plainBytesPerRow: 4 + bytesPerValue, at: chunkOffset, into: &out) { rows, page in
            var row = rows.lowerBound
            while row < rows.upperBound {
                while row >= first + runs[run].rows.count {
                    first += runs[run].rows.count
                    run += 1
                }
                let r = runs[run]
                let end = min(rows.upperBound, first + r.rows.count)
                Self.appendStrings(r, rows: r.rows.lowerBound + row - first ..< r.rows.lowerBound + end - first,
                                   validity: validity, validityAt: row, into: &page)
                row = end
            }
        }
    }

    /// The chunk's pages (dictionary page, then data pages of levels and values) and its
    /// metadata. Rows are the chunk's, 0 ..< count; `appendPlain` appends the PLAIN values of
    /// the non-null rows of a range to the page.
    private mutating func writePages(physical: PhysicalType, stats: ColumnStatistics, validity: [Bool]?, count: Int,
                                     dictionary: BuiltDictionary?, plainBytesPerRow: Double, at chunkOffset: Int64,
                                     into out: inout [UInt8], appendPlain: (Range<Int>, inout [UInt8]) -> Void) -> (ColumnChunk, ColumnStatistics) {
        var pages = PageSink(scratch: scratch, level: level,
                             profile: options.repetitiveTextColumns.contains(field.name) ? .repetitiveText : .standard,
                             start: chunkOffset, checksums: options.pageChecksums)
        let bitWidth = dictionary.map { RLEHybrid.bitWidth(forMax: UInt32(max($0.count - 1, 0))) } ?? 0
        // Rows per data page, from the encoded bytes per row.
        let bytesPerRow = dictionary != nil ? max(Double(bitWidth) / 8, 0.125) : plainBytesPerRow
        let pageRows = max(1024, Int(Double(options.pageBytes) / bytesPerRow))

        var dictionaryOffset: Int64?
        if let dictionary {
            dictionaryOffset = pages.position
            pages.add(type: .dictionaryPage, payload: dictionary.page, numValues: dictionary.count, encoding: .plain, into: &out)
        }
        let dataOffset = pages.position
        var cursor = 0  // index of the next non-null value
        var row = 0
        while row < count {
            let end = min(row + pageRows, count)
            page.removeAll(keepingCapacity: true)
            var present = end - row
            if field.nullable {
                let lengthAt = page.count
                page.append(contentsOf: [0, 0, 0, 0])
                if let validity {
                    levels.removeAll(keepingCapacity: true)
                    present = 0
                    for r in row ..< end {
                        let valid = validity[r]
                        levels.append(valid ? 1 : 0)
                        if valid { present += 1 }
                    }
                    levels.withUnsafeBufferPointer { RLEHybrid.encode($0, bitWidth: 1, into: &page) }
                } else {
                    // No nulls in the chunk: the levels are one run of ones, written as such.
                    RLEHybrid.encodeRun(1, count: end - row, bitWidth: 1, into: &page)
                }
                let n = UInt32(page.count - lengthAt - 4)
                for k in 0 ..< 4 { page[lengthAt + k] = UInt8(truncatingIfNeeded: n >> (8 * UInt32(k))) }
            }
            if let dictionary {
                page.append(UInt8(bitWidth))
                dictionary.indices.withUnsafeBufferPointer {
                    RLEHybrid.encode(UnsafeBufferPointer(rebasing: $0[cursor ..< cursor + present]), bitWidth: bitWidth, into: &page)
                }
            } else {
                appendPlain(row ..< end, &page)
            }
            cursor += present
            pages.add(type: .dataPage, payload: page, numValues: end - row,
                      encoding: dictionary != nil ? .rleDictionary : .plain, into: &out)
            row = end
        }

        var encodings: [Int32] = [Encoding.plain.rawValue, Encoding.rle.rawValue]
        if dictionary != nil { encodings.append(Encoding.rleDictionary.rawValue) }
        var parquetStats = Statistics()
        parquetStats.nullCount = stats.nullCount
        let length = field.type.fixedDecimalLength
        parquetStats.minValue = stats.min.map { statBytes($0, physical, length: length) }
        parquetStats.maxValue = stats.max.map { statBytes($0, physical, length: length) }
        let meta = ColumnMetaData(
            type: physical, encodings: encodings, pathInSchema: [field.name],
            codec: level == nil ? CompressionCodec.uncompressed.rawValue : CompressionCodec.zstd.rawValue,
            numValues: Int64(count), totalUncompressedSize: pages.uncompressed,
            totalCompressedSize: pages.position - chunkOffset, dataPageOffset: dataOffset,
            dictionaryPageOffset: dictionaryOffset, statistics: parquetStats)
        return (ColumnChunk(fileOffset: dataOffset, metaData: meta), stats)
    }

    /// A decimal wider than 18 digits (a column DuckDB widened): PLAIN FIXED_LEN_BYTE_ARRAY,
    /// big-endian, no dictionary (the values are amounts: rarely repeated).
    private mutating func encodeWideDecimal(_ a: [Int64], length: Int, range: Range<Int>, validity: [Bool]?,
                                            at chunkOffset: Int64, into out: inout [UInt8]) -> (ColumnChunk, ColumnStatistics) {
        var stats = ColumnStatistics(nullCount: Int64(validity.map { $0.reduce(0) { $0 + ($1 ? 0 : 1) } } ?? 0))
        let (lo, hi) = minMax(a, range: range, validity: validity)
        stats.min = lo.map(StatValue.int)
        stats.max = hi.map(StatValue.int)
        return writePages(physical: .fixedLenByteArray, stats: stats, validity: validity, count: range.count, dictionary: nil,
                          plainBytesPerRow: Double(length), at: chunkOffset, into: &out) { rows, page in
            for r in rows where validity?[r] ?? true { DecimalBytes.append(a[range.lowerBound + r], length: length, to: &page) }
        }
    }

    // MARK: PLAIN

    private static func appendPlain(_ data: ColumnData, rows: Range<Int>, chunkStart: Int, validity: [Bool]?, into page: inout [UInt8]) {
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
        case .int32(let a): appendFixed(a, rows: rows, chunkStart: chunkStart, validity: validity, into: &page)
        case .int64(let a): appendFixed(a, rows: rows, chunkStart: chunkStart, validity: validity, into: &page)
        case .double(let a): appendFixed(a, rows: rows, chunkStart: chunkStart, validity: validity, into: &page)
        case .string(let s):
            appendStrings(StringRun(values: s, rows: rows), rows: rows, validity: validity, validityAt: rows.lowerBound - chunkStart, into: &page)
        case .dictionary(let idx, let values):
            appendStrings(StringRun(values: values, indices: idx, rows: rows), rows: rows, validity: validity,
                          validityAt: rows.lowerBound - chunkStart, into: &page)
        }
    }

    /// PLAIN BYTE_ARRAY values of `rows` of `run` (a 4-byte length, then the bytes), skipping
    /// the nulls: `validity[validityAt]` is the chunk's entry for `rows.lowerBound`. The page
    /// grows once per call and the values are copied into it through a pointer: a row at a
    /// time through Array.append, the verbatim source lines paid two capacity and uniqueness
    /// checks per line.
    private static func appendStrings(_ run: StringRun, rows: Range<Int>, validity: [Bool]?, validityAt: Int, into page: inout [UInt8]) {
        guard !rows.isEmpty else { return }
        var size = 0
        if validity == nil && run.indices == nil {
            size = 4 * rows.count + Int(run.values.offsets[rows.upperBound] - run.values.offsets[rows.lowerBound])
        } else {
            for r in rows where validity?[validityAt + r - rows.lowerBound] ?? true { size += 4 + run.byteRange(r).count }
        }
        let start = page.count
        page.append(contentsOf: repeatElement(0, count: size))
        page.withUnsafeMutableBytes { dst in
            run.values.bytes.withUnsafeBytes { src in
                var at = start
                for r in rows {
                    if let validity, !validity[validityAt + r - rows.lowerBound] { continue }
                    let value = run.byteRange(r)
                    dst.storeBytes(of: UInt32(value.count).littleEndian, toByteOffset: at, as: UInt32.self)
                    if !value.isEmpty { (dst.baseAddress! + at + 4).copyMemory(from: src.baseAddress! + value.lowerBound, byteCount: value.count) }
                    at += 4 + value.count
                }
            }
        }
    }

    private static func appendFixed<T>(_ a: [T], rows: Range<Int>, chunkStart: Int, validity: [Bool]?, into page: inout [UInt8]) {
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
