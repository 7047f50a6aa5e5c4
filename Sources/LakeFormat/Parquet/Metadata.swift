// The parts of parquet.thrift that this lake writes and reads, with their Thrift field ids.
// Fields we never use are skipped on read, so newer writers' footers still parse.

enum PhysicalType: Int32 {
    case boolean = 0, int32 = 1, int64 = 2, int96 = 3, float = 4, double = 5, byteArray = 6, fixedLenByteArray = 7
}

enum Repetition: Int32 { case required = 0, optional = 1, repeated = 2 }

enum Encoding: Int32 {
    case plain = 0, plainDictionary = 2, rle = 3, bitPacked = 4, deltaBinaryPacked = 5
    case deltaLengthByteArray = 6, deltaByteArray = 7, rleDictionary = 8, byteStreamSplit = 9
}

enum CompressionCodec: Int32 {
    case uncompressed = 0, snappy = 1, gzip = 2, lzo = 3, brotli = 4, lz4 = 5, zstd = 6, lz4Raw = 7
}

enum PageType: Int32 { case dataPage = 0, indexPage = 1, dictionaryPage = 2, dataPageV2 = 3 }

// ConvertedType values we write or interpret (the legacy annotation many readers still check).
enum ConvertedType: Int32 {
    case utf8 = 0, decimal = 5, date = 6, timestampMillis = 9, timestampMicros = 10
    case int8 = 15, int16 = 16, int32 = 17, int64 = 18
}

enum TimeUnit { case millis, micros, nanos }

enum LogicalType: Equatable {
    case string
    case decimal(scale: Int32, precision: Int32)
    case date
    case timestamp(utc: Bool, unit: TimeUnit)
    case integer(bitWidth: Int8, signed: Bool)
    case other(Int16)
}

struct SchemaElement {
    var type: PhysicalType?
    var typeLength: Int32?
    var repetition: Repetition?
    var name: String
    var numChildren: Int32?
    var convertedType: Int32?
    var scale: Int32?
    var precision: Int32?
    var fieldID: Int32?
    var logicalType: LogicalType?
}

struct Statistics {
    var maxValue: [UInt8]?
    var minValue: [UInt8]?
    var nullCount: Int64?
    var distinctCount: Int64?
    // Deprecated min/max (fields 1 and 2), sorted with signed byte order by old writers; we
    // only fall back to them for types whose order cannot differ (numbers).
    var legacyMax: [UInt8]?
    var legacyMin: [UInt8]?
}

struct ColumnMetaData {
    var type: PhysicalType
    var encodings: [Int32]
    var pathInSchema: [String]
    var codec: Int32
    var numValues: Int64
    var totalUncompressedSize: Int64
    var totalCompressedSize: Int64
    var dataPageOffset: Int64
    var dictionaryPageOffset: Int64?
    var statistics: Statistics?
}

struct ColumnChunk {
    var fileOffset: Int64
    var metaData: ColumnMetaData
    var offsetIndexOffset: Int64?
    var offsetIndexLength: Int32?
    var columnIndexOffset: Int64?
    var columnIndexLength: Int32?
}

struct RowGroup {
    var columns: [ColumnChunk]
    var totalByteSize: Int64
    var numRows: Int64
    var fileOffset: Int64?
    var totalCompressedSize: Int64?
}

struct FileMetaData {
    var version: Int32
    var schema: [SchemaElement]
    var numRows: Int64
    var rowGroups: [RowGroup]
    var keyValueMetadata: [(String, String?)]
    var createdBy: String?
}

struct DataPageHeader {
    var numValues: Int32
    var encoding: Int32
    var definitionLevelEncoding: Int32
    var repetitionLevelEncoding: Int32
}

struct DictionaryPageHeader {
    var numValues: Int32
    var encoding: Int32
}

struct PageHeader {
    var type: Int32
    var uncompressedPageSize: Int32
    var compressedPageSize: Int32
    /// CRC-32 of the page's bytes as stored (after compression), excluding this header.
    var crc: Int32?
    var dataPage: DataPageHeader?
    var dictionaryPage: DictionaryPageHeader?
    var dataPageV2: DataPageHeaderV2?
}

/// DATA_PAGE_V2 (pyarrow's `data_page_version="2.0"`, parquet-java's v2 writer): the levels are
/// stored before the values, never compressed and without a length prefix (their lengths are
/// here), and only the values are compressed, when `isCompressed`.
struct DataPageHeaderV2 {
    var numValues: Int32
    var numNulls: Int32
    var numRows: Int32
    var encoding: Int32
    var definitionLevelsByteLength: Int32
    var repetitionLevelsByteLength: Int32
    var isCompressed = true
}

// MARK: - Writing

extension Statistics {
    func write(_ w: inout ThriftWriter, id: Int16) {
        w.beginStruct(id)
        if let nullCount { w.field(3, i64: nullCount) }
        if let distinctCount { w.field(4, i64: distinctCount) }
        if let maxValue { w.field(5, binary: maxValue) }
        if let minValue { w.field(6, binary: minValue) }
        w.endStruct()
    }
}

extension SchemaElement {
    func write(_ w: inout ThriftWriter) {
        w.beginListElementStruct()
        if let type { w.field(1, i32: type.rawValue) }
        if let typeLength { w.field(2, i32: typeLength) }
        if let repetition { w.field(3, i32: repetition.rawValue) }
        w.field(4, string: name)
        if let numChildren { w.field(5, i32: numChildren) }
        if let convertedType { w.field(6, i32: convertedType) }
        if let scale { w.field(7, i32: scale) }
        if let precision { w.field(8, i32: precision) }
        if let fieldID { w.field(9, i32: fieldID) }
        if let logicalType {
            w.beginStruct(10)
            switch logicalType {
            case .string:
                w.beginStruct(1); w.endStruct()
            case .decimal(let scale, let precision):
                w.beginStruct(5); w.field(1, i32: scale); w.field(2, i32: precision); w.endStruct()
            case .date:
                w.beginStruct(6); w.endStruct()
            case .timestamp(let utc, let unit):
                w.beginStruct(8)
                w.field(1, bool: utc)
                w.beginStruct(2)
                switch unit {
                case .millis: w.beginStruct(1)
                case .micros: w.beginStruct(2)
                case .nanos: w.beginStruct(3)
                }
                w.endStruct()
                w.endStruct()
                w.endStruct()
            case .integer(let bitWidth, let signed):
                w.beginStruct(10)
                w.field(1, i8: bitWidth)
                w.field(2, bool: signed)
                w.endStruct()
            case .other:
                break
            }
            w.endStruct()
        }
        w.endStruct()
    }
}

extension ColumnChunk {
    func write(_ w: inout ThriftWriter) {
        w.beginListElementStruct()
        w.field(2, i64: fileOffset)
        w.beginStruct(3)
        let m = metaData
        w.field(1, i32: m.type.rawValue)
        w.beginList(2, of: .i32, count: m.encodings.count)
        for e in m.encodings { w.element(i32: e) }
        w.beginList(3, of: .binary, count: m.pathInSchema.count)
        for p in m.pathInSchema { w.element(string: p) }
        w.field(4, i32: m.codec)
        w.field(5, i64: m.numValues)
        w.field(6, i64: m.totalUncompressedSize)
        w.field(7, i64: m.totalCompressedSize)
        w.field(9, i64: m.dataPageOffset)
        if let d = m.dictionaryPageOffset { w.field(11, i64: d) }
        if let s = m.statistics { s.write(&w, id: 12) }
        w.endStruct()
        if let offsetIndexOffset, let offsetIndexLength {
            w.field(4, i64: offsetIndexOffset)
            w.field(5, i32: offsetIndexLength)
        }
        if let columnIndexOffset, let columnIndexLength {
            w.field(6, i64: columnIndexOffset)
            w.field(7, i32: columnIndexLength)
        }
        w.endStruct()
    }
}

extension FileMetaData {
    func encoded() -> [UInt8] {
        var w = ThriftWriter(reservingCapacity: 4096)
        w.field(1, i32: version)
        w.beginList(2, of: .struct, count: schema.count)
        for e in schema { e.write(&w) }
        w.field(3, i64: numRows)
        w.beginList(4, of: .struct, count: rowGroups.count)
        for (ordinal, rg) in rowGroups.enumerated() {
            w.beginListElementStruct()
            w.beginList(1, of: .struct, count: rg.columns.count)
            for c in rg.columns { c.write(&w) }
            w.field(2, i64: rg.totalByteSize)
            w.field(3, i64: rg.numRows)
            if let o = rg.fileOffset { w.field(5, i64: o) }
            if let t = rg.totalCompressedSize { w.field(6, i64: t) }
            w.field(7, i16: Int16(truncatingIfNeeded: ordinal))
            w.endStruct()
        }
        if !keyValueMetadata.isEmpty {
            w.beginList(5, of: .struct, count: keyValueMetadata.count)
            for (k, v) in keyValueMetadata {
                w.beginListElementStruct()
                w.field(1, string: k)
                if let v { w.field(2, string: v) }
                w.endStruct()
            }
        }
        if let createdBy { w.field(6, string: createdBy) }
        // column_orders: TypeDefinedOrder for every leaf, which tells readers that min_value and
        // max_value follow each type's natural order (unsigned bytes for strings).
        let leaves = schema.count - 1
        w.beginList(7, of: .struct, count: leaves)
        for _ in 0 ..< leaves {
            w.beginListElementStruct()
            w.beginStruct(1); w.endStruct()
            w.endStruct()
        }
        w.endStruct()
        return w.bytes
    }
}

extension PageHeader {
    func encoded() -> [UInt8] {
        var w = ThriftWriter(reservingCapacity: 32)
        w.field(1, i32: type)
        w.field(2, i32: uncompressedPageSize)
        w.field(3, i32: compressedPageSize)
        if let crc { w.field(4, i32: crc) }
        if let d = dataPage {
            w.beginStruct(5)
            w.field(1, i32: d.numValues)
            w.field(2, i32: d.encoding)
            w.field(3, i32: d.definitionLevelEncoding)
            w.field(4, i32: d.repetitionLevelEncoding)
            w.endStruct()
        }
        if let d = dictionaryPage {
            w.beginStruct(7)
            w.field(1, i32: d.numValues)
            w.field(2, i32: d.encoding)
            w.endStruct()
        }
        w.endStruct()
        return w.bytes
    }
}

// MARK: - Reading

extension ThriftReader {
    mutating func readStatistics() throws -> Statistics {
        var s = Statistics()
        try readStruct { r, id, t in
            switch id {
            case 1: try r.expect(t, .binary, "Statistics.max"); s.legacyMax = try r.binary()
            case 2: try r.expect(t, .binary, "Statistics.min"); s.legacyMin = try r.binary()
            case 3: try r.expect(t, .i64, "null_count"); s.nullCount = try r.i64()
            case 4: try r.expect(t, .i64, "distinct_count"); s.distinctCount = try r.i64()
            case 5: try r.expect(t, .binary, "max_value"); s.maxValue = try r.binary()
            case 6: try r.expect(t, .binary, "min_value"); s.minValue = try r.binary()
            default: return false
            }
            return true
        }
        return s
    }

    mutating func readLogicalType() throws -> LogicalType? {
        var result: LogicalType?
        try readStruct { r, id, t in
            guard t == .struct else { return false }
            switch id {
            case 1: try r.skip(t); result = .string
            case 5:
                var scale: Int32 = 0, precision: Int32 = 0
                try r.readStruct { r, id, t in
                    switch id {
                    case 1: try r.expect(t, .i32, "DecimalType.scale"); scale = try r.i32()
                    case 2: try r.expect(t, .i32, "DecimalType.precision"); precision = try r.i32()
                    default: return false
                    }
                    return true
                }
                result = .decimal(scale: scale, precision: precision)
            case 6: try r.skip(t); result = .date
            case 8:
                var utc = false
                var unit = TimeUnit.micros
                try r.readStruct { r, id, t in
                    switch id {
                    case 1: utc = try r.bool(t)
                    case 2:
                        try r.readStruct { r, id, t in
                            switch id {
                            case 1: unit = .millis
                            case 2: unit = .micros
                            case 3: unit = .nanos
                            default: return false
                            }
                            try r.skip(t)
                            return true
                        }
                    default: return false
                    }
                    return true
                }
                result = .timestamp(utc: utc, unit: unit)
            case 10:
                var bits: Int8 = 0
                var signed = true
                try r.readStruct { r, id, t in
                    switch id {
                    case 1: bits = Int8(bitPattern: try r.byte())
                    case 2: signed = try r.bool(t)
                    default: return false
                    }
                    return true
                }
                result = .integer(bitWidth: bits, signed: signed)
            default:
                try r.skip(t)
                result = .other(id)
            }
            return true
        }
        return result
    }

    mutating func readSchemaElement() throws -> SchemaElement {
        var e = SchemaElement(name: "")
        var sawName = false
        try readStruct { r, id, t in
            switch id {
            case 1:
                try r.expect(t, .i32, "SchemaElement.type")
                let v = try r.i32()
                guard let p = PhysicalType(rawValue: v) else { throw ThriftError("unknown physical type \(v)") }
                e.type = p
            case 2: try r.expect(t, .i32, "type_length"); e.typeLength = try r.i32()
            case 3:
                try r.expect(t, .i32, "repetition_type")
                let v = try r.i32()
                guard let rep = Repetition(rawValue: v) else { throw ThriftError("unknown repetition \(v)") }
                e.repetition = rep
            case 4: try r.expect(t, .binary, "name"); e.name = try r.string(); sawName = true
            case 5: try r.expect(t, .i32, "num_children"); e.numChildren = try r.i32()
            case 6: try r.expect(t, .i32, "converted_type"); e.convertedType = try r.i32()
            case 7: try r.expect(t, .i32, "scale"); e.scale = try r.i32()
            case 8: try r.expect(t, .i32, "precision"); e.precision = try r.i32()
            case 9: try r.expect(t, .i32, "field_id"); e.fieldID = try r.i32()
            case 10: try r.expect(t, .struct, "logicalType"); e.logicalType = try r.readLogicalType()
            default: return false
            }
            return true
        }
        guard sawName else { throw ThriftError("a schema element has no name") }
        return e
    }

    mutating func readColumnMetaData() throws -> ColumnMetaData {
        var type: PhysicalType?
        var encodings: [Int32] = []
        var path: [String] = []
        var codec: Int32?
        var numValues: Int64?, uncompressed: Int64?, compressed: Int64?, dataPageOffset: Int64?
        var dictionaryPageOffset: Int64?
        var statistics: Statistics?
        try readStruct { r, id, t in
            switch id {
            case 1:
                try r.expect(t, .i32, "ColumnMetaData.type")
                let v = try r.i32()
                guard let p = PhysicalType(rawValue: v) else { throw ThriftError("unknown physical type \(v)") }
                type = p
            case 2: try r.expect(t, .list, "encodings"); encodings = try r.readList { try $0.i32() }
            case 3: try r.expect(t, .list, "path_in_schema"); path = try r.readList { try $0.string() }
            case 4: try r.expect(t, .i32, "codec"); codec = try r.i32()
            case 5: try r.expect(t, .i64, "num_values"); numValues = try r.i64()
            case 6: try r.expect(t, .i64, "total_uncompressed_size"); uncompressed = try r.i64()
            case 7: try r.expect(t, .i64, "total_compressed_size"); compressed = try r.i64()
            case 9: try r.expect(t, .i64, "data_page_offset"); dataPageOffset = try r.i64()
            case 11: try r.expect(t, .i64, "dictionary_page_offset"); dictionaryPageOffset = try r.i64()
            case 12: try r.expect(t, .struct, "statistics"); statistics = try r.readStatistics()
            default: return false
            }
            return true
        }
        guard let type, let codec, let numValues, let uncompressed, let compressed, let dataPageOffset else {
            throw ThriftError("column metadata lacks a required field (type, codec, sizes or data_page_offset)")
        }
        return ColumnMetaData(
            type: type, encodings: encodings, pathInSchema: path, codec: codec, numValues: numValues,
            totalUncompressedSize: uncompressed, totalCompressedSize: compressed,
            dataPageOffset: dataPageOffset, dictionaryPageOffset: dictionaryPageOffset, statistics: statistics)
    }

    mutating func readColumnChunk() throws -> ColumnChunk {
        var fileOffset: Int64 = 0
        var meta: ColumnMetaData?
        var filePath: String?
        var oio: Int64?, oil: Int32?, cio: Int64?, cil: Int32?
        try readStruct { r, id, t in
            switch id {
            case 1: try r.expect(t, .binary, "file_path"); filePath = try r.string()
            case 2: try r.expect(t, .i64, "file_offset"); fileOffset = try r.i64()
            case 3: try r.expect(t, .struct, "meta_data"); meta = try r.readColumnMetaData()
            case 4: try r.expect(t, .i64, "offset_index_offset"); oio = try r.i64()
            case 5: try r.expect(t, .i32, "offset_index_length"); oil = try r.i32()
            case 6: try r.expect(t, .i64, "column_index_offset"); cio = try r.i64()
            case 7: try r.expect(t, .i32, "column_index_length"); cil = try r.i32()
            case 8, 9: throw ThriftError("column is encrypted (Parquet modular encryption is not supported)")
            default: return false
            }
            return true
        }
        if let filePath, !filePath.isEmpty { throw ThriftError("column chunk stored in another file (\(filePath)) is not supported") }
        guard let meta else { throw ThriftError("column chunk has no metadata") }
        return ColumnChunk(fileOffset: fileOffset, metaData: meta, offsetIndexOffset: oio, offsetIndexLength: oil,
                           columnIndexOffset: cio, columnIndexLength: cil)
    }

    mutating func readRowGroup() throws -> RowGroup {
        var columns: [ColumnChunk] = []
        var total: Int64 = 0, rows: Int64?
        var fileOffset: Int64?, compressed: Int64?
        try readStruct { r, id, t in
            switch id {
            case 1: try r.expect(t, .list, "RowGroup.columns"); columns = try r.readList { try $0.readColumnChunk() }
            case 2: try r.expect(t, .i64, "total_byte_size"); total = try r.i64()
            case 3: try r.expect(t, .i64, "num_rows"); rows = try r.i64()
            case 5: try r.expect(t, .i64, "file_offset"); fileOffset = try r.i64()
            case 6: try r.expect(t, .i64, "total_compressed_size"); compressed = try r.i64()
            default: return false
            }
            return true
        }
        guard let rows, rows >= 0 else { throw ThriftError("row group lacks num_rows") }
        return RowGroup(columns: columns, totalByteSize: total, numRows: rows, fileOffset: fileOffset,
                        totalCompressedSize: compressed)
    }

    mutating func readFileMetaData() throws -> FileMetaData {
        var version: Int32 = 1
        var schema: [SchemaElement] = []
        var numRows: Int64?
        var rowGroups: [RowGroup] = []
        var kv: [(String, String?)] = []
        var createdBy: String?
        try readStruct { r, id, t in
            switch id {
            case 1: try r.expect(t, .i32, "version"); version = try r.i32()
            case 2: try r.expect(t, .list, "schema"); schema = try r.readList { try $0.readSchemaElement() }
            case 3: try r.expect(t, .i64, "num_rows"); numRows = try r.i64()
            case 4: try r.expect(t, .list, "row_groups"); rowGroups = try r.readList { try $0.readRowGroup() }
            case 5:
                try r.expect(t, .list, "key_value_metadata")
                kv = try r.readList { r in
                    var key = ""
                    var value: String?
                    try r.readStruct { r, id, t in
                        switch id {
                        case 1: try r.expect(t, .binary, "key"); key = try r.string()
                        case 2: try r.expect(t, .binary, "value"); value = try r.string()
                        default: return false
                        }
                        return true
                    }
                    return (key, value)
                }
            case 6: try r.expect(t, .binary, "created_by"); createdBy = try r.string()
            case 8, 9: throw ThriftError("file is encrypted (Parquet modular encryption is not supported)")
            default: return false
            }
            return true
        }
        guard let numRows else { throw ThriftError("file metadata lacks num_rows") }
        guard !schema.isEmpty else { throw ThriftError("file metadata has an empty schema") }
        return FileMetaData(version: version, schema: schema, numRows: numRows, rowGroups: rowGroups,
                            keyValueMetadata: kv, createdBy: createdBy)
    }

    mutating func readPageHeader() throws -> PageHeader {
        var type: Int32?, uncompressed: Int32?, compressed: Int32?, crc: Int32?
        var dataPage: DataPageHeader?
        var dict: DictionaryPageHeader?
        var v2: DataPageHeaderV2?
        try readStruct { r, id, t in
            switch id {
            case 1: try r.expect(t, .i32, "PageHeader.type"); type = try r.i32()
            case 2: try r.expect(t, .i32, "uncompressed_page_size"); uncompressed = try r.i32()
            case 3: try r.expect(t, .i32, "compressed_page_size"); compressed = try r.i32()
            case 4: try r.expect(t, .i32, "crc"); crc = try r.i32()
            case 5:
                try r.expect(t, .struct, "data_page_header")
                var h = DataPageHeader(numValues: -1, encoding: 0, definitionLevelEncoding: 3, repetitionLevelEncoding: 3)
                try r.readStruct { r, id, t in
                    switch id {
                    case 1: try r.expect(t, .i32, "num_values"); h.numValues = try r.i32()
                    case 2: try r.expect(t, .i32, "encoding"); h.encoding = try r.i32()
                    case 3: try r.expect(t, .i32, "definition_level_encoding"); h.definitionLevelEncoding = try r.i32()
                    case 4: try r.expect(t, .i32, "repetition_level_encoding"); h.repetitionLevelEncoding = try r.i32()
                    default: return false
                    }
                    return true
                }
                dataPage = h
            case 7:
                try r.expect(t, .struct, "dictionary_page_header")
                var h = DictionaryPageHeader(numValues: -1, encoding: 0)
                try r.readStruct { r, id, t in
                    switch id {
                    case 1: try r.expect(t, .i32, "num_values"); h.numValues = try r.i32()
                    case 2: try r.expect(t, .i32, "encoding"); h.encoding = try r.i32()
                    default: return false
                    }
                    return true
                }
                dict = h
            case 8:
                try r.expect(t, .struct, "data_page_header_v2")
                var h = DataPageHeaderV2(numValues: -1, numNulls: -1, numRows: -1, encoding: 0, definitionLevelsByteLength: -1, repetitionLevelsByteLength: -1)
                try r.readStruct { r, id, t in
                    switch id {
                    case 1: try r.expect(t, .i32, "num_values"); h.numValues = try r.i32()
                    case 2: try r.expect(t, .i32, "num_nulls"); h.numNulls = try r.i32()
                    case 3: try r.expect(t, .i32, "num_rows"); h.numRows = try r.i32()
                    case 4: try r.expect(t, .i32, "encoding"); h.encoding = try r.i32()
                    case 5: try r.expect(t, .i32, "definition_levels_byte_length"); h.definitionLevelsByteLength = try r.i32()
                    case 6: try r.expect(t, .i32, "repetition_levels_byte_length"); h.repetitionLevelsByteLength = try r.i32()
                    case 7: try r.expect(t, .boolTrue, "is_compressed"); h.isCompressed = try r.bool(t)
                    default: return false
                    }
                    return true
                }
                guard h.numValues >= 0, h.numNulls >= 0, h.numRows >= 0, h.definitionLevelsByteLength >= 0, h.repetitionLevelsByteLength >= 0 else {
                    throw ThriftError("data_page_header_v2 lacks a count or a level length")
                }
                v2 = h
            default: return false
            }
            return true
        }
        guard let type, let uncompressed, let compressed, uncompressed >= 0, compressed >= 0 else {
            throw ThriftError("page header lacks its type or sizes")
        }
        return PageHeader(type: type, uncompressedPageSize: uncompressed, compressedPageSize: compressed, crc: crc,
                          dataPage: dataPage, dictionaryPage: dict, dataPageV2: v2)
    }
}
