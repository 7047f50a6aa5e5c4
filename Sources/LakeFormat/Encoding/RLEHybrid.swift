// Parquet's RLE / bit-packing hybrid, used for definition levels and dictionary indices.
// A run is either `count` repeats of one value (header = count << 1) or groups of eight
// values packed LSB-first at `bitWidth` bits each (header = groups << 1 | 1).

enum RLEHybrid {
    static func bitWidth(forMax value: UInt32) -> Int { value == 0 ? 0 : 32 - value.leadingZeroBitCount }

    /// Appends the hybrid encoding of `values` (each < 2^bitWidth) to `out`.
    ///
    /// Maximal runs of eight or more equal values are RLE runs; everything between them is
    /// bit-packed, a pending packed stretch borrowing a run's first values to end on a whole
    /// group of eight. Only runs of eight matter, so the scan counts equal neighbours since the
    /// last change and stops when it reaches seven: one compare per value where dictionary
    /// indices are random, instead of working out every short run.
    static func encode(_ values: UnsafeBufferPointer<UInt32>, bitWidth: Int, into out: inout [UInt8]) {
        let n = values.count
        guard n > 0, let p = values.baseAddress else { return }
        var i = 0  // where the next maximal run starts (p[i] != p[i - 1])
        var packStart = -1
        while i < n {
            var runStart = i, equal = 0, k = i + 1
            var found = false
            while k < n {
                if p[k] == p[k - 1] {
                    equal += 1
                    if equal == 7 { found = true; break }
                } else {
                    equal = 0
                    runStart = k
                }
                k += 1
            }
            guard found else {
                // Every run left is shorter than eight: packed.
                if packStart < 0 { packStart = i }
                break
            }
            // A run (a partition's one date, a one-entry dictionary's zeros: whole pages of
            // them) is extended four values per step.
            let v = p[k]
            var j = k + 1
            let four = UInt64(v) | UInt64(v) << 32
            let raw = UnsafeRawPointer(p)
            while j + 4 <= n && raw.loadUnaligned(fromByteOffset: j * 4, as: UInt64.self) == four
                && raw.loadUnaligned(fromByteOffset: j * 4 + 8, as: UInt64.self) == four { j += 4 }
            while j < n && p[j] == v { j += 1 }
            if runStart > i && packStart < 0 { packStart = i }
            var s = runStart, run = j - runStart
            if packStart >= 0 {
                // A bit-packed run holds whole groups of eight: borrow the run's first values to fill it.
                let rem = (s - packStart) % 8
                if rem != 0 {
                    s += 8 - rem
                    run -= 8 - rem
                }
                packRun(values, packStart ..< s, bitWidth: bitWidth, into: &out)
                packStart = -1
            }
            if run >= 8 {
                writeRepeated(value: v, count: run, bitWidth: bitWidth, into: &out)
            } else if run > 0 {
                packStart = s
            }
            i = j
        }
        if packStart >= 0 { packRun(values, packStart ..< n, bitWidth: bitWidth, into: &out) }
    }

    /// Appends what `encode` writes for `count` copies of `value`, without the values in memory.
    static func encodeRun(_ value: UInt32, count: Int, bitWidth: Int, into out: inout [UInt8]) {
        if count >= 8 {
            writeRepeated(value: value, count: count, bitWidth: bitWidth, into: &out)
        } else if count > 0 {
            [UInt32](repeating: value, count: count).withUnsafeBufferPointer { encode($0, bitWidth: bitWidth, into: &out) }
        }
    }

    private static func writeVarint(_ value: Int, into out: inout [UInt8]) {
        var v = UInt64(value)
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    private static func writeRepeated(value: UInt32, count: Int, bitWidth: Int, into out: inout [UInt8]) {
        writeVarint(count << 1, into: &out)
        var v = value
        for _ in 0 ..< (bitWidth + 7) / 8 {
            out.append(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
    }

    /// Packs `range` (padded with zeros to a multiple of eight) as one bit-packed run.
    private static func packRun(_ values: UnsafeBufferPointer<UInt32>, _ range: Range<Int>, bitWidth: Int, into out: inout [UInt8]) {
        let groups = (range.count + 7) / 8
        writeVarint(groups << 1 | 1, into: &out)
        if bitWidth == 0 { return }
        // Eight values of `bitWidth` bits are `bitWidth` bytes: the run's size is known, so it is
        // zeroed once (the padding stays zero) and filled through a pointer, not byte by byte
        // through Array.append (dictionary indices of every row go through here).
        let start = out.count
        // Eight bytes of slack: a group is stored as one 8-byte word (its high bytes zero),
        // which may reach past the run; dropped at the end.
        out.append(contentsOf: repeatElement(0, count: groups * bitWidth + 8))
        out.withUnsafeMutableBufferPointer { buffer in
            let dst = UnsafeMutableRawPointer(buffer.baseAddress! + start)
            let width = UInt64(bitWidth)
            guard let p = values.baseAddress else { return }
            if bitWidth <= 8 {
                // Eight values of up to 8 bits fit one word: built in a register, stored once
                // (dictionary indices and definition levels are mostly this narrow).
                var k = range.lowerBound, at = 0
                while k + 8 <= range.upperBound {
                    var acc = UInt64(p[k])
                    acc |= UInt64(p[k + 1]) &<< width
                    acc |= UInt64(p[k + 2]) &<< (2 &* width)
                    acc |= UInt64(p[k + 3]) &<< (3 &* width)
                    acc |= UInt64(p[k + 4]) &<< (4 &* width)
                    acc |= UInt64(p[k + 5]) &<< (5 &* width)
                    acc |= UInt64(p[k + 6]) &<< (6 &* width)
                    acc |= UInt64(p[k + 7]) &<< (7 &* width)
                    dst.storeBytes(of: acc.littleEndian, toByteOffset: at, as: UInt64.self)
                    at += bitWidth
                    k += 8
                }
                if k < range.upperBound {
                    // The last group, padded with zeros.
                    var acc: UInt64 = 0, shift: UInt64 = 0
                    while k < range.upperBound {
                        acc |= UInt64(p[k]) &<< shift
                        shift += width
                        k += 1
                    }
                    dst.storeBytes(of: acc.littleEndian, toByteOffset: at, as: UInt64.self)
                }
                return
            }
            // Wider values: bits gather in a 64-bit word stored whole when full; the last
            // partial word is stored byte by byte.
            var acc: UInt64 = 0
            var bits: UInt64 = 0
            var at = 0
            for k in range {
                let v = UInt64(p[k])
                acc |= v &<< bits
                bits += width
                if bits >= 64 {
                    dst.storeBytes(of: acc.littleEndian, toByteOffset: at, as: UInt64.self)
                    at += 8
                    bits -= 64
                    // The value's bits that did not fit (none when the word ended exactly with it).
                    acc = bits == 0 ? 0 : v &>> (width - bits)
                }
            }
            while bits > 0 {
                dst.storeBytes(of: UInt8(truncatingIfNeeded: acc), toByteOffset: at, as: UInt8.self)
                at += 1
                acc >>= 8
                bits = bits > 8 ? bits - 8 : 0
            }
        }
        out.removeLast(8)
    }

    /// Decodes exactly `count` values into `out`. Every read is checked against `data`.
    static func decode(_ data: UnsafeRawBufferPointer, bitWidth: Int, count: Int,
                       into out: UnsafeMutablePointer<UInt32>) throws {
        guard bitWidth >= 0 && bitWidth <= 32 else { throw PageError("bit width \(bitWidth) out of range") }
        let mask: UInt64 = bitWidth == 32 ? 0xFFFF_FFFF : (1 << UInt64(bitWidth)) - 1
        let valueBytes = (bitWidth + 7) / 8
        var pos = 0
        var produced = 0
        let base = data.baseAddress
        // Where value j of a bit-packed group of 8 starts: byte aj, bit sj (used from 9 bits up).
        let w = bitWidth
        let a1 = w >> 3, a2 = (2 * w) >> 3, a3 = (3 * w) >> 3, a4 = (4 * w) >> 3, a5 = (5 * w) >> 3, a6 = (6 * w) >> 3, a7 = (7 * w) >> 3
        let s1 = UInt64(w & 7), s2 = UInt64((2 * w) & 7), s3 = UInt64((3 * w) & 7), s4 = UInt64((4 * w) & 7)
        let s5 = UInt64((5 * w) & 7), s6 = UInt64((6 * w) & 7), s7 = UInt64((7 * w) & 7)
        while produced < count {
            // Run header.
            var header: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard pos < data.count else { throw PageError("RLE data ends before \(count) values (got \(produced))") }
                let b = data[pos]; pos += 1
                header |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { break }
                shift += 7
                if shift > 56 { throw PageError("RLE run header too long") }
            }
            if header & 1 == 0 {
                let runLength = Int(clamping: header >> 1)
                guard pos + valueBytes <= data.count else { throw PageError("RLE run value cut short") }
                var v: UInt32 = 0
                for i in 0 ..< valueBytes { v |= UInt32(data[pos + i]) << (8 * UInt32(i)) }
                pos += valueBytes
                let n = min(runLength, count - produced)
                (out + produced).update(repeating: v, count: n)
                produced += n
            } else {
                let groups = Int(clamping: header >> 1)
                guard groups <= (data.count - pos) * 8 + 1 else { throw PageError("bit-packed run longer than its page") }
                let runBytes = groups * bitWidth
                guard pos + runBytes <= data.count else { throw PageError("bit-packed run cut short") }
                let n = min(groups * 8, count - produced)
                if bitWidth > 0, let base {
                    let runStart = base + pos
                    // An 8-byte load may read past the run, up to the end of the page: only the
                    // run's bits are kept. The last byte index from which such a load stays in the page:
                    let safeEnd = data.count - pos - 8
                    var first = 0
                    if bitWidth <= 8 {
                        // 8 values of up to 8 bits are one group of `bitWidth` bytes: one load and
                        // eight shifts, instead of a load per value (dictionary indices and
                        // definition levels are mostly this narrow).
                        let width = UInt64(bitWidth)
                        while first + 8 <= n && (first >> 3) * bitWidth <= safeEnd {
                            let word = UInt64(littleEndian: runStart.loadUnaligned(fromByteOffset: (first >> 3) * bitWidth, as: UInt64.self))
                            let o = out + produced + first
                            o[0] = UInt32(truncatingIfNeeded: word & mask)
                            o[1] = UInt32(truncatingIfNeeded: (word >> width) & mask)
                            o[2] = UInt32(truncatingIfNeeded: (word >> (2 * width)) & mask)
                            o[3] = UInt32(truncatingIfNeeded: (word >> (3 * width)) & mask)
                            o[4] = UInt32(truncatingIfNeeded: (word >> (4 * width)) & mask)
                            o[5] = UInt32(truncatingIfNeeded: (word >> (5 * width)) & mask)
                            o[6] = UInt32(truncatingIfNeeded: (word >> (6 * width)) & mask)
                            o[7] = UInt32(truncatingIfNeeded: (word >> (7 * width)) & mask)
                            first += 8
                        }
                    } else {
                        // Wider values: a group of 8 is `bitWidth` bytes, value j at bit j * bitWidth
                        // of it; one 8-byte load per value (j * bitWidth % 8 + bitWidth <= 39 bits) at
                        // the offset and shift worked out once per call (a1…a7, s1…s7).
                        // The group's last load starts at byte a7 and reads 8 bytes.
                        while first + 8 <= n && (first >> 3) * w + a7 <= safeEnd {
                            let g = runStart + (first >> 3) * w
                            let o = out + produced + first
                            @inline(__always) func value(_ byte: Int, _ shift: UInt64) -> UInt32 {
                                UInt32(truncatingIfNeeded: (UInt64(littleEndian: g.loadUnaligned(fromByteOffset: byte, as: UInt64.self)) >> shift) & mask)
                            }
                            o[0] = value(0, 0); o[1] = value(a1, s1); o[2] = value(a2, s2); o[3] = value(a3, s3)
                            o[4] = value(a4, s4); o[5] = value(a5, s5); o[6] = value(a6, s6); o[7] = value(a7, s7)
                            first += 8
                        }
                    }
                    for k in first ..< n {
                        let bit = k * bitWidth
                        let byte = bit >> 3
                        let word: UInt64
                        if byte <= safeEnd {
                            word = UInt64(littleEndian: runStart.loadUnaligned(fromByteOffset: byte, as: UInt64.self))
                        } else {
                            var w: UInt64 = 0
                            var i = 0
                            while byte + i < runBytes && i < 8 {
                                w |= UInt64(runStart.load(fromByteOffset: byte + i, as: UInt8.self)) << (8 * UInt64(i))
                                i += 1
                            }
                            word = w
                        }
                        out[produced + k] = UInt32(truncatingIfNeeded: (word >> UInt64(bit & 7)) & mask)
                    }
                } else {
                    (out + produced).update(repeating: 0, count: n)
                }
                pos += runBytes
                produced += n
            }
        }
    }
}
