// Parquet's non-dictionary encodings of format version 2, as DuckDB writes them with
// `PARQUET_VERSION V2` (a DuckLake option, `set_option('parquet_version', '2')`) and pyarrow on
// request: DELTA_BINARY_PACKED integers, DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY strings,
// BYTE_STREAM_SPLIT fixed-width values. Decoding only: we write PLAIN and RLE_DICTIONARY.
// Every read is bounds-checked: a malformed page is a PageError, never a trap.

enum DeltaBinaryPacked {
    /// Decodes `count` values starting at `start`; returns them (as 64-bit: an INT32 column's
    /// values are their low 32 bits, since the deltas wrap the same way) and the position after
    /// the last miniblock that holds one of them.
    static func decode(_ data: UnsafeRawBufferPointer, at start: Int, count: Int) throws -> (values: [Int64], end: Int) {
        var p = start
        let blockSize = try uleb(data, &p)
        let miniblocks = try uleb(data, &p)
        let total = try uleb(data, &p)
        var last = try zigzag(data, &p)
        guard blockSize > 0, blockSize <= 1 << 20, blockSize % 128 == 0, miniblocks > 0, miniblocks <= blockSize, blockSize % miniblocks == 0, (blockSize / miniblocks) % 32 == 0 else {
            throw PageError("DELTA_BINARY_PACKED block of \(blockSize) values in \(miniblocks) miniblocks is malformed")
        }
        guard total >= UInt64(count) else { throw PageError("DELTA_BINARY_PACKED holds \(total) values, \(count) needed") }
        let perMiniblock = Int(blockSize / miniblocks)
        var out: [Int64] = []
        out.reserveCapacity(count)
        if count == 0 { return (out, p) }
        out.append(last)
        while out.count < count {
            let minDelta = try zigzag(data, &p)
            let widthsAt = p
            guard Int(miniblocks) <= data.count - p else { throw PageError("DELTA_BINARY_PACKED block header runs past the page") }
            p += Int(miniblocks)
            for m in 0 ..< Int(miniblocks) where out.count < count {
                let width = Int(data[widthsAt + m])
                guard width <= 64 else { throw PageError("DELTA_BINARY_PACKED bit width \(width)") }
                let bytes = perMiniblock * width / 8
                guard bytes <= data.count - p else { throw PageError("DELTA_BINARY_PACKED miniblock runs past the page") }
                for i in 0 ..< min(perMiniblock, count - out.count) {
                    // Values are packed LSB first; the miniblock's size was checked above and
                    // value i ends inside it, so no read leaves the page.
                    var v: UInt64 = 0, got = 0, bit = i * width
                    while got < width {
                        let byte = UInt64(data[p + (bit >> 3)]), offset = bit & 7
                        let take = min(8 - offset, width - got)
                        v |= ((byte >> UInt64(offset)) & ((1 << UInt64(take)) - 1)) << UInt64(got)
                        got += take
                        bit += take
                    }
                    last = last &+ minDelta &+ Int64(bitPattern: v)
                    out.append(last)
                }
                p += bytes
            }
        }
        return (out, p)
    }

    private static func uleb(_ data: UnsafeRawBufferPointer, _ p: inout Int) throws -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard p < data.count else { throw PageError("DELTA_BINARY_PACKED header runs past the page") }
            let b = data[p]
            p += 1
            guard shift < 64 else { throw PageError("DELTA_BINARY_PACKED varint too long") }
            v |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
        }
    }

    private static func zigzag(_ data: UnsafeRawBufferPointer, _ p: inout Int) throws -> Int64 {
        let u = try uleb(data, &p)
        return Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1)
    }
}

enum DeltaByteArray {
    /// DELTA_LENGTH_BYTE_ARRAY: the lengths (DELTA_BINARY_PACKED), then the bytes back to back.
    static func decodeLengths(_ data: UnsafeRawBufferPointer, at start: Int, count: Int, into out: inout StringColumn) throws {
        let (lengths, end) = try DeltaBinaryPacked.decode(data, at: start, count: count)
        var p = end
        for length in lengths {
            guard length >= 0, length <= Int64(data.count - p) else { throw PageError("string of \(length) bytes runs past the page") }
            out.append(UnsafeRawBufferPointer(rebasing: data[p ..< p + Int(length)]))
            p += Int(length)
        }
    }

    /// DELTA_BYTE_ARRAY: prefix lengths and suffix lengths (both DELTA_BINARY_PACKED), then the
    /// suffixes; each value is the previous value's prefix followed by its suffix.
    static func decodeIncremental(_ data: UnsafeRawBufferPointer, at start: Int, count: Int, into out: inout StringColumn) throws {
        let (prefixes, afterPrefixes) = try DeltaBinaryPacked.decode(data, at: start, count: count)
        let (suffixes, end) = try DeltaBinaryPacked.decode(data, at: afterPrefixes, count: count)
        var p = end
        var previous: [UInt8] = []
        var value: [UInt8] = []
        for i in 0 ..< count {
            let prefix = prefixes[i], suffix = suffixes[i]
            guard prefix >= 0, prefix <= Int64(previous.count) else { throw PageError("prefix of \(prefix) bytes is longer than the previous value") }
            guard suffix >= 0, suffix <= Int64(data.count - p) else { throw PageError("string of \(suffix) bytes runs past the page") }
            value.removeAll(keepingCapacity: true)
            value.append(contentsOf: previous[0 ..< Int(prefix)])
            value.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[p ..< p + Int(suffix)]))
            p += Int(suffix)
            value.withUnsafeBytes { out.append($0) }
            swap(&previous, &value)
        }
    }
}

enum ByteStreamSplit {
    /// `count` values of `width` bytes whose k-th bytes are stored together: k streams of
    /// `count` bytes. Returns the values' little-endian bytes in order.
    static func decode(_ data: UnsafeRawBufferPointer, at start: Int, count: Int, width: Int) throws -> [UInt8] {
        guard count >= 0, width > 0, count <= (data.count - start) / width else {
            throw PageError("BYTE_STREAM_SPLIT page holds \(data.count - start) bytes, \(count) values of \(width) bytes needed")
        }
        // The streams are `count` long only when the page holds exactly these values: a page
        // carries only its non-null values, so that is its whole remaining payload.
        let stream = (data.count - start) / width
        guard stream == count else { throw PageError("BYTE_STREAM_SPLIT streams of \(stream) bytes for \(count) values") }
        var out = [UInt8](repeating: 0, count: count * width)
        out.withUnsafeMutableBufferPointer { dst in
            for k in 0 ..< width {
                let base = start + k * count
                for i in 0 ..< count { dst[i * width + k] = data[base + i] }
            }
        }
        return out
    }
}
