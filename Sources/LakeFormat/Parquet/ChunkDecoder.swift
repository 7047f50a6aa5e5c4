// Decodes the pages of one column chunk into one typed column. Nullable columns decode their
// definition levels, then scatter the non-null values into a dense array with placeholders.
// Strings stay dictionary-encoded while every page of the chunk is; otherwise they are
// expanded into one contiguous buffer.

struct ChunkDecoder {
    let leaf: LeafColumn
    let rows: Int
    private(set) var valuesRead = 0

    private var bools: [Bool] = []
    private var ints32: [Int32] = []
    private var ints64: [Int64] = []
    private var doubles: [Double] = []
    private var strings = StringColumn()
    private var stringIndices: [Int32] = []
    private var stringsAreIndices = true

    private var dictionaryLoaded = false
    private var dictionaryCount = 0
    private var dictInts32: [Int32] = []
    private var dictInts64: [Int64] = []
    private var dictDoubles: [Double] = []
    private var dictStrings = StringColumn()

    private var validity: [Bool] = []
    private var sawNull = false
    private var levels: [UInt32] = []
    private var indices: [UInt32] = []
    /// The current page's dictionary indices were decoded into `stringIndices` itself.
    private var pageIndicesInColumn = false

    init(leaf: LeafColumn, rows: Int) {
        self.leaf = leaf
        self.rows = rows
        // The value arrays are reserved when first appended to (`scatter`, the string indices):
        // a chunk of one page takes its page's array whole, and a reservation here was an
        // allocation of every row's width thrown away.
        if leaf.field.nullable { validity.reserveCapacity(rows) }
    }

    // MARK: Pages

    mutating func readDictionary(_ payload: UnsafeRawBufferPointer, count: Int) throws {
        guard !dictionaryLoaded else { throw PageError("a second dictionary page in one column chunk") }
        guard count >= 0 else { throw PageError("negative dictionary size") }
        dictionaryLoaded = true
        dictionaryCount = count
        switch leaf.field.type {
        case .bool: throw PageError("dictionary-encoded booleans")
        case .int32, .date: dictInts32 = try plainInt32(payload, 0, count)
        case .int64, .timestamp, .decimal: dictInts64 = try plainInt64(payload, 0, count)
        case .double: dictDoubles = try plainDouble(payload, 0, count)
        case .string:
            dictStrings.reserve(count: count, bytes: payload.count)
            _ = try plainByteArrays(payload, 0, count, into: &dictStrings)
        }
    }

    mutating func readDataPage(_ payload: UnsafeRawBufferPointer, header: DataPageHeader) throws {
        let n = Int(header.numValues)
        guard n <= rows - valuesRead else { throw PageError("pages hold more values than the row group's \(rows) rows") }
        var p = 0
        var present = n
        if leaf.field.nullable {
            guard payload.count >= 4 else { throw PageError("page too short for its definition levels") }
            let len = Int(UInt32(payload[0]) | UInt32(payload[1]) << 8 | UInt32(payload[2]) << 16 | UInt32(payload[3]) << 24)
            guard len <= payload.count - 4 else { throw PageError("definition levels of \(len) bytes run past the page") }
            if levels.count < n { levels = [UInt32](repeating: 0, count: n) }
            try levels.withUnsafeMutableBufferPointer {
                try RLEHybrid.decode(UnsafeRawBufferPointer(rebasing: payload[4 ..< 4 + len]), bitWidth: 1, count: n, into: $0.baseAddress!)
            }
            present = 0
            for i in 0 ..< n {
                let l = levels[i]
                guard l <= 1 else { throw PageError("definition level \(l) in a flat column") }
                present += Int(l)
            }
            p = 4 + len
        }
        let encoding = Encoding(rawValue: header.encoding)
        pageIndicesInColumn = false
        let dictionaryEncoded = encoding == .plainDictionary || encoding == .rleDictionary
        if dictionaryEncoded {
            guard dictionaryLoaded else { throw PageError("dictionary-encoded page without a dictionary page") }
            guard p < payload.count || present == 0 else { throw PageError("page ends before its bit width") }
            let bw = present == 0 && p >= payload.count ? 0 : Int(payload[p])
            p += 1
            // A chunk's only page of dictionary strings, every row present (the usual case),
            // decodes its indices straight into the column's array: copying them from `indices`
            // was one more pass over every row of every string column a scan reads.
            pageIndicesInColumn = leaf.field.type == .string && stringsAreIndices && present == n && n == rows && stringIndices.isEmpty && present > 0
            if pageIndicesInColumn {
                stringIndices = try [Int32](unsafeUninitializedCapacity: present) { out, initialized in
                    try UnsafeMutableRawPointer(out.baseAddress!).withMemoryRebound(to: UInt32.self, capacity: present) {
                        try RLEHybrid.decode(UnsafeRawBufferPointer(rebasing: payload[p...]), bitWidth: bw, count: present, into: $0)
                    }
                    initialized = present
                }
                try stringIndices.withUnsafeBufferPointer {
                    try UnsafeRawPointer($0.baseAddress!).withMemoryRebound(to: UInt32.self, capacity: present) {
                        try checkIndices(UnsafeBufferPointer(start: $0, count: present))
                    }
                }
            } else {
                if indices.count < present { indices = [UInt32](repeating: 0, count: present) }
                if present > 0 {
                    try indices.withUnsafeMutableBufferPointer {
                        try RLEHybrid.decode(UnsafeRawBufferPointer(rebasing: payload[p...]), bitWidth: bw, count: present, into: $0.baseAddress!)
                    }
                    try indices.withUnsafeBufferPointer { try checkIndices(UnsafeBufferPointer(rebasing: $0[0 ..< present])) }
                }
            }
        }
        let nullable = leaf.field.nullable && present < n
        // Version-2 encodings of fixed-width values become the PLAIN bytes they stand for, so
        // every conversion (unsigned, millis, big-endian decimals) stays in one place.
        var plain: [UInt8]?
        var deltaStrings: StringColumn?
        switch encoding {
        case .plain?, .plainDictionary?, .rleDictionary?: break
        case .deltaBinaryPacked?:
            guard leaf.physical == .int32 || leaf.physical == .int64 else { throw PageError("DELTA_BINARY_PACKED on a \(leaf.physical) column") }
            let width = leaf.physical == .int32 ? 4 : 8
            let values = try DeltaBinaryPacked.decode(payload, at: p, count: present).values
            var bytes = [UInt8](repeating: 0, count: present * width)
            bytes.withUnsafeMutableBytes { out in
                for (i, v) in values.enumerated() {
                    if width == 4 { out.storeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian, toByteOffset: i * 4, as: UInt32.self) }
                    else { out.storeBytes(of: v.littleEndian, toByteOffset: i * 8, as: Int64.self) }
                }
            }
            plain = bytes
        case .byteStreamSplit?:
            let width: Int
            switch leaf.physical {
            case .int32, .float: width = 4
            case .int64, .double: width = 8
            case .fixedLenByteArray: width = leaf.typeLength
            default: throw PageError("BYTE_STREAM_SPLIT on a \(leaf.physical) column")
            }
            plain = try ByteStreamSplit.decode(payload, at: p, count: present, width: width)
        case .deltaLengthByteArray?, .deltaByteArray?:
            guard leaf.physical == .byteArray else { throw PageError("\(encodingName(header.encoding)) on a \(leaf.physical) column") }
            var values = StringColumn()
            if encoding == .deltaLengthByteArray {
                try DeltaByteArray.decodeLengths(payload, at: p, count: present, into: &values)
            } else {
                try DeltaByteArray.decodeIncremental(payload, at: p, count: present, into: &values)
            }
            deltaStrings = values
        case .rle?:
            // Booleans as RLE/bit-packed runs of width 1 behind a 4-byte length (what data page
            // v2 writers use for them), turned into PLAIN's packed bits.
            guard leaf.physical == .boolean else { throw PageError("RLE values on a \(leaf.physical) column") }
            guard payload.count - p >= 4 else { throw PageError("page ends before its RLE length") }
            let len = Int(UInt32(payload[p]) | UInt32(payload[p + 1]) << 8 | UInt32(payload[p + 2]) << 16 | UInt32(payload[p + 3]) << 24)
            guard len <= payload.count - p - 4 else { throw PageError("RLE values of \(len) bytes run past the page") }
            var bits = [UInt32](repeating: 0, count: present)
            if present > 0 {
                try bits.withUnsafeMutableBufferPointer {
                    try RLEHybrid.decode(UnsafeRawBufferPointer(rebasing: payload[p + 4 ..< p + 4 + len]), bitWidth: 1, count: present, into: $0.baseAddress!)
                }
            }
            var packed = [UInt8](repeating: 0, count: (present + 7) / 8)
            for (i, b) in bits.enumerated() where b != 0 { packed[i >> 3] |= 1 << UInt8(i & 7) }
            plain = packed
        default:
            throw PageError("\(encodingName(header.encoding)) encoding")
        }
        if let plain {
            try plain.withUnsafeBytes { try decodeValues($0, 0, n: n, present: present, nullable: nullable, dictionaryEncoded: false, decoded: nil) }
        } else {
            try decodeValues(payload, p, n: n, present: present, nullable: nullable, dictionaryEncoded: dictionaryEncoded, decoded: deltaStrings)
        }
        if leaf.field.nullable {
            if nullable {
                for i in 0 ..< n { validity.append(levels[i] == 1) }
                sawNull = true
            } else {
                validity.append(contentsOf: repeatElement(true, count: n))
            }
        }
        valuesRead += n
    }

    /// Throws unless every index is below the dictionary's count. The largest index first (a
    /// loop the compiler vectorizes); only a page that has an index out of range looks for the
    /// first one, for the message.
    private func checkIndices(_ idx: UnsafeBufferPointer<UInt32>) throws {
        var m: UInt32 = 0
        for i in idx.indices { m = max(m, idx[i]) }
        if Int(m) >= dictionaryCount {
            for i in idx where Int(i) >= dictionaryCount {
                throw PageError("dictionary index \(i) out of range (dictionary has \(dictionaryCount) entries)")
            }
        }
    }

    /// The page's `present` values from `payload` at `p` (PLAIN bytes, dictionary indices
    /// already in `indices`, or `decoded` strings), scattered over its `n` rows.
    private mutating func decodeValues(_ payload: UnsafeRawBufferPointer, _ p: Int, n: Int, present: Int, nullable: Bool,
                                       dictionaryEncoded: Bool, decoded: StringColumn?) throws {
            switch leaf.field.type {
            case .bool:
                let v = try plainBool(payload, p, present)
                scatter(v, into: &bools, n: n, nullable: nullable, placeholder: false)
            case .int32, .date:
                let v = dictionaryEncoded ? lookup(dictInts32, present) : try plainInt32(payload, p, present)
                scatter(v, into: &ints32, n: n, nullable: nullable, placeholder: 0)
            case .int64, .timestamp, .decimal:
                let v = dictionaryEncoded ? lookup(dictInts64, present) : try decoded.map(Self.decimals) ?? plainInt64(payload, p, present)
                scatter(v, into: &ints64, n: n, nullable: nullable, placeholder: 0)
            case .double:
                let v = dictionaryEncoded ? lookup(dictDoubles, present) : try plainDouble(payload, p, present)
                scatter(v, into: &doubles, n: n, nullable: nullable, placeholder: 0)
            case .string:
                if dictionaryEncoded && stringsAreIndices && decoded == nil {
                    if pageIndicesInColumn {
                        // `readDataPage` decoded them into `stringIndices` already.
                    } else if !nullable {
                        // Indices are below the dictionary's count (checked): the same bits as Int32.
                        if stringIndices.capacity < rows { stringIndices.reserveCapacity(rows) }
                        if present > 0 { indices.withUnsafeBufferPointer { idx in
                            UnsafeRawPointer(idx.baseAddress!).withMemoryRebound(to: Int32.self, capacity: present) {
                                stringIndices.append(contentsOf: UnsafeBufferPointer(start: $0, count: present))
                            }
                        } }
                    } else {
                        let v = indices[0 ..< present].map { Int32(bitPattern: $0) }
                        scatter(v, into: &stringIndices, n: n, nullable: nullable, placeholder: 0)
                    }
                } else {
                    if stringsAreIndices { expandStringIndices() }
                    if !nullable && !dictionaryEncoded && decoded == nil {
                        // Every row has a value: PLAIN bytes go straight into the column.
                        _ = try plainByteArrays(payload, p, present, into: &strings)
                        return
                    }
                    var k = 0
                    var values = StringColumn()
                    if dictionaryEncoded {
                        dictStrings.bytes.withUnsafeBytes { raw in
                            for i in 0 ..< present { values.append(UnsafeRawBufferPointer(rebasing: raw[dictStrings.byteRange(Int(indices[i]))])) }
                        }
                    } else if let decoded {
                        values = decoded
                    } else {
                        values.reserve(count: present, bytes: payload.count - p)
                        _ = try plainByteArrays(payload, p, present, into: &values)
                    }
                    if !nullable {
                        strings.append(contentsOf: values)
                        return
                    }
                    values.bytes.withUnsafeBytes { raw in
                        for i in 0 ..< n {
                            if !nullable || levels[i] == 1 {
                                strings.append(UnsafeRawBufferPointer(rebasing: raw[values.byteRange(k)]))
                                k += 1
                            } else {
                                strings.appendEmpty()
                            }
                        }
                    }
                }
            }
    }

    func finish() -> Column {
        let v = sawNull ? validity : nil
        switch leaf.field.type {
        case .bool: return Column(.bool(bools), validity: v)
        case .int32, .date: return Column(.int32(ints32), validity: v)
        case .int64, .timestamp, .decimal: return Column(.int64(ints64), validity: v)
        case .double: return Column(.double(doubles), validity: v)
        case .string:
            if stringsAreIndices {
                var dict = dictStrings
                // Null rows point at entry 0; give an all-null chunk an entry to point at.
                if dict.count == 0 && !stringIndices.isEmpty { dict.appendEmpty() }
                return Column(.dictionary(indices: stringIndices, values: dict), validity: v)
            }
            return Column(.string(strings), validity: v)
        }
    }

    // MARK: Helpers

    private mutating func expandStringIndices() {
        stringsAreIndices = false
        strings.reserve(count: rows, bytes: rows * 8)
        dictStrings.bytes.withUnsafeBytes { raw in
            for (row, i) in stringIndices.enumerated() {
                if leaf.field.nullable && !validity[row] { strings.appendEmpty() } else {
                    strings.append(UnsafeRawBufferPointer(rebasing: raw[dictStrings.byteRange(Int(i))]))
                }
            }
        }
        stringIndices = []
    }

    private func lookup<T>(_ dict: [T], _ count: Int) -> [T] {
        // Indices were range-checked when decoded. Written in place, not appended: an append
        // per value paid the array's capacity and uniqueness checks.
        [T](unsafeUninitializedCapacity: count) { out, initialized in
            indices.withUnsafeBufferPointer { idx in
                dict.withUnsafeBufferPointer { d in
                    for i in 0 ..< count { (out.baseAddress! + i).initialize(to: d[Int(idx[i])]) }
                }
            }
            initialized = count
        }
    }

    private func scatter<T>(_ values: [T], into out: inout [T], n: Int, nullable: Bool, placeholder: T) {
        if !nullable {
            // A chunk of one page (the usual case) takes the page's array as it is: appending
            // copied every value once more.
            if out.isEmpty && n == rows { out = values; return }
            if out.capacity < rows { out.reserveCapacity(rows) }
            out.append(contentsOf: values)
            return
        }
        if out.capacity < rows { out.reserveCapacity(rows) }
        var k = 0
        for i in 0 ..< n {
            if levels[i] == 1 {
                out.append(values[k])
                k += 1
            } else {
                out.append(placeholder)
            }
        }
    }

    private func need(_ payload: UnsafeRawBufferPointer, _ p: Int, _ bytes: Int) throws {
        guard p >= 0, bytes >= 0, bytes <= payload.count - p else {
            throw PageError("page holds \(payload.count - p) value bytes, \(bytes) needed")
        }
    }

    private func plainBool(_ payload: UnsafeRawBufferPointer, _ p: Int, _ count: Int) throws -> [Bool] {
        try need(payload, p, (count + 7) / 8)
        var out: [Bool] = []
        out.reserveCapacity(count)
        for i in 0 ..< count { out.append(payload[p + i >> 3] >> UInt8(i & 7) & 1 == 1) }
        return out
    }

    private func plainInt32(_ payload: UnsafeRawBufferPointer, _ p: Int, _ count: Int) throws -> [Int32] {
        try need(payload, p, count * 4)
        return (0 ..< count).map { Int32(littleEndian: payload.loadUnaligned(fromByteOffset: p + $0 * 4, as: Int32.self)) }
    }

    private func plainInt64(_ payload: UnsafeRawBufferPointer, _ p: Int, _ count: Int) throws -> [Int64] {
        switch leaf.conversion {
        case .int32ToInt64:
            if leaf.field.type == .int64 {  // unsigned 32-bit
                return try plainInt32(payload, p, count).map { Int64(UInt32(bitPattern: $0)) }
            }
            return try plainInt32(payload, p, count).map { Int64($0) }
        case .int96Timestamp:
            try need(payload, p, count * 12)
            return (0 ..< count).map { i in
                let nanos = Int64(littleEndian: payload.loadUnaligned(fromByteOffset: p + i * 12, as: Int64.self))
                let julianDay = Int64(Int32(littleEndian: payload.loadUnaligned(fromByteOffset: p + i * 12 + 8, as: Int32.self)))
                // Julian day 2 440 588 is 1970-01-01. Wrapping arithmetic: no stored value traps.
                return (julianDay &- 2_440_588) &* 86_400_000_000 &+ nanos / 1000
            }
        case .fixedDecimal(let len):
            try need(payload, p, count * len)
            var out: [Int64] = []
            out.reserveCapacity(count)
            for i in 0 ..< count {
                guard let v = bigEndianDecimal(payload, p + i * len, len) else { throw Self.pastInt64 }
                out.append(v)
            }
            return out
        case .byteArrayDecimal:
            var values = StringColumn()
            _ = try plainByteArrays(payload, p, count, into: &values)
            return try Self.decimals(values)
        default:
            try need(payload, p, count * 8)
            // Copied into an uninitialized array (zeroing it first doubled the writes).
            var out = [Int64](unsafeUninitializedCapacity: count) { buffer, initialized in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: payload[p ..< p + count * 8]))
                initialized = count
            }
            if leaf.conversion == .timestampMillis {
                for i in out.indices { out[i] = out[i] &* 1000 }
            } else if leaf.conversion == .timestampNanos {
                for i in out.indices { out[i] = out[i] / 1000 }
            }
            return out
        }
    }

    static let pastInt64 = PageError("a decimal value does not fit the 18 digits lake holds (a column widened past DECIMAL(18,s) holds a larger value)",
                                     outOfRange: true)

    /// BYTE_ARRAY decimals (big-endian two's complement of any length up to 16 bytes) as Int64.
    static func decimals(_ values: StringColumn) throws -> [Int64] {
        try values.bytes.withUnsafeBytes { raw in
            try (0 ..< values.count).map { i in
                let r = values.byteRange(i)
                guard !r.isEmpty, r.count <= 16 else { throw PageError("a BYTE_ARRAY decimal of \(r.count) bytes") }
                guard let v = bigEndianDecimal(raw, r.lowerBound, r.count) else { throw pastInt64 }
                return v
            }
        }
    }

    private func plainDouble(_ payload: UnsafeRawBufferPointer, _ p: Int, _ count: Int) throws -> [Double] {
        if leaf.conversion == .floatToDouble {
            try need(payload, p, count * 4)
            return (0 ..< count).map { Double(Float(bitPattern: UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: p + $0 * 4, as: UInt32.self)))) }
        }
        try need(payload, p, count * 8)
        return [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: payload[p ..< p + count * 8]))
            initialized = count
        }
    }

    /// Appends `count` PLAIN byte arrays from `payload` at `start` to `out`; returns the offset
    /// after them. The lengths are read (and checked) first, then the bytes are copied into a
    /// buffer grown once: appending value by value spent more on the array's bookkeeping than on
    /// copying 11-byte ids. On an error `out` is left partial (the chunk's read fails).
    private func plainByteArrays(_ payload: UnsafeRawBufferPointer, _ start: Int, _ count: Int, into out: inout StringColumn) throws -> Int {
        var p = start
        let base = out.bytes.count
        var total = 0
        // The offsets through a pointer, appended at once: an append a value paid a uniqueness
        // and a capacity check (ids, a whole PLAIN column of them, pass here).
        let offsets = try [Int32](unsafeUninitializedCapacity: count) { buffer, initialized in
            for k in 0 ..< count {
                guard payload.count - p >= 4 else { throw PageError("page ends inside a string length") }
                let len = Int(UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: p, as: UInt32.self)))
                p += 4
                guard len <= payload.count - p else { throw PageError("string of \(len) bytes runs past the page") }
                p += len
                total += len
                buffer[k] = Int32(base + total)
                initialized = k + 1
            }
        }
        out.offsets.append(contentsOf: offsets)
        guard total > 0 else { return p }
        // 16 bytes of slack: a short value (an id, a code) is copied as two 8-byte words, not
        // through a call to memcpy, where both the page and the buffer have room for them.
        let copied = [UInt8](unsafeUninitializedCapacity: total + 16) { buffer, initialized in
            let to = UnsafeMutableRawPointer(buffer.baseAddress!)
            let from = payload.baseAddress!
            let wordsEnd = payload.count - 16
            var q = start, o = 0
            for _ in 0 ..< count {
                let len = Int(UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: q, as: UInt32.self)))
                if len <= 16 && q + 4 <= wordsEnd {
                    (to + o).storeBytes(of: from.loadUnaligned(fromByteOffset: q + 4, as: UInt64.self), as: UInt64.self)
                    (to + o + 8).storeBytes(of: from.loadUnaligned(fromByteOffset: q + 12, as: UInt64.self), as: UInt64.self)
                } else {
                    (to + o).copyMemory(from: from + q + 4, byteCount: len)
                }
                q += 4 + len
                o += len
            }
            initialized = total
        }
        if out.bytes.isEmpty { out.bytes = copied } else { out.bytes.append(contentsOf: copied) }
        return p
    }
}
