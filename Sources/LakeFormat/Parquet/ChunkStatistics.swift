#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The statistics half of a column chunk: min/max of the values written, in Parquet's byte form.
extension ChunkEncoder {

    func minMax<T: FixedWidthInteger>(_ a: [T], range: Range<Int>, validity: [Bool]?) -> (Int64?, Int64?) {
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

    /// Min and max of `runs` end to end; `validity` is the chunk's. Each run is read where it
    /// is: the bounds found in earlier runs are carried as copies (two per run at most).
    /// A value is first compared by its first 16 bytes as one number (`OrderKey`), which
    /// decides nearly every comparison of ids and codes; only equal keys compare all bytes.
    func stringMinMax(_ runs: [StringRun], validity: [Bool]?) -> ([UInt8]?, [UInt8]?) {
        var lo: [UInt8]?, hi: [UInt8]?
        var chunkRow = 0
        for run in runs {
            let s = run.values
            var runLo: Range<Int>?, runHi: Range<Int>?
            let (carriedLo, carriedHi) = (lo ?? [], hi ?? [])
            let any = lo != nil
            carriedLo.withUnsafeBytes { cLo in
                carriedHi.withUnsafeBytes { cHi in
                    s.bytes.withUnsafeBytes { raw in
                        let base = raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
                        let end = raw.count
                        // The current bounds: where their bytes are, and their keys.
                        var loAt = cLo.baseAddress, loCount = cLo.count, loKey = OrderKey.of(cLo)
                        var hiAt = cHi.baseAddress, hiCount = cHi.count, hiKey = OrderKey.of(cHi)
                        var have = any
                        var previous = 0 ..< 0
                        var seen = false
                        for r in run.rows {
                            if let validity, !validity[chunkRow + r - run.rows.lowerBound] { continue }
                            let cur = run.byteRange(r)
                            // A repeat of the value before was compared already (runs: a partition's channel).
                            if seen, cur.count == previous.count, equalBytes(base + cur.lowerBound, base + previous.lowerBound, cur.count) { continue }
                            seen = true
                            previous = cur
                            let p = base + cur.lowerBound
                            let key = OrderKey.of(p, cur.count, readable: end - cur.lowerBound)
                            guard have else {
                                (loAt, loCount, loKey, runLo) = (p, cur.count, key, cur)
                                (hiAt, hiCount, hiKey, runHi) = (p, cur.count, key, cur)
                                have = true
                                continue
                            }
                            if key < loKey || (key == loKey && compareBytes(p, cur.count, loAt, loCount) < 0) {
                                (loAt, loCount, loKey, runLo) = (p, cur.count, key, cur)
                            }
                            if key > hiKey || (key == hiKey && compareBytes(p, cur.count, hiAt, hiCount) > 0) {
                                (hiAt, hiCount, hiKey, runHi) = (p, cur.count, key, cur)
                            }
                        }
                    }
                }
            }
            if let l = runLo { lo = Array(s.bytes[l]) }
            if let h = runHi { hi = Array(s.bytes[h]) }
            chunkRow += run.rows.count
        }
        return (lo, hi)
    }

    func dictionaryMinMax(_ idx: [Int32], _ values: StringColumn, range: Range<Int>, validity: [Bool]?) -> ([UInt8]?, [UInt8]?) {
        var used = [Bool](repeating: false, count: values.count)
        // Through pointers, with the null test hoisted: every row of a dictionary column comes
        // here. An index past the dictionary traps, as the array subscript did.
        used.withUnsafeMutableBufferPointer { used in
            idx.withUnsafeBufferPointer { idx in
                func mark(_ r: Int) {
                    let i = Int(idx[r])
                    precondition(i >= 0 && i < used.count, "dictionary index out of range")
                    used[i] = true
                }
                if let validity {
                    validity.withUnsafeBufferPointer { present in for r in range where present[r - range.lowerBound] { mark(r) } }
                } else {
                    for r in range { mark(r) }
                }
            }
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
    guard let base = raw.baseAddress else { return a.count - b.count }
    return compareBytes(base + a.lowerBound, a.count, base + b.lowerBound, b.count)
}

/// Byte order of `a` (`an` bytes) against `b` (`bn` bytes): memcmp's, a prefix first.
@inline(__always)
func compareBytes(_ a: UnsafeRawPointer, _ an: Int, _ b: UnsafeRawPointer?, _ bn: Int) -> Int {
    let n = min(an, bn)
    if n > 0, let b {
        let c = memcmp(a, b, n)
        if c != 0 { return Int(c) }
    }
    return an - bn
}

/// A byte string's first 16 bytes as a big-endian number, zero-padded. Keys that differ order
/// their strings as `compareBytes` does (the first differing byte decides; where one string
/// has run out its padding is zero, which no byte is below); equal keys say nothing.
enum OrderKey {
    @inline(__always)
    static func of(_ p: UnsafeRawPointer, _ n: Int, readable: Int) -> UInt128 {
        var a: UInt64 = 0, b: UInt64 = 0
        if readable >= 16 {
            a = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
            b = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            // Little-endian loads: byte i is bits 8i...; keep the string's own bytes.
            if n < 8 { a &= (UInt64(1) << UInt64(8 * n)) &- 1 }
            if n < 16 { b &= n <= 8 ? 0 : (UInt64(1) << UInt64(8 * (n - 8))) &- 1 }
        } else {
            var i = 0
            while i < min(n, 16) {
                let byte = UInt64(p.load(fromByteOffset: i, as: UInt8.self))
                if i < 8 { a |= byte << UInt64(8 * i) } else { b |= byte << UInt64(8 * (i - 8)) }
                i += 1
            }
        }
        return UInt128(a.byteSwapped) << 64 | UInt128(b.byteSwapped)
    }

    static func of(_ bytes: UnsafeRawBufferPointer) -> UInt128 {
        guard let p = bytes.baseAddress else { return 0 }
        return of(p, bytes.count, readable: bytes.count)
    }
}

/// A statistics value in Parquet's binary form: PLAIN without a length prefix.
func statBytes(_ v: StatValue, _ physical: PhysicalType, length: Int? = nil) -> [UInt8] {
    var out: [UInt8] = []
    switch (v, physical) {
    case (.bool(let b), _): out = [b ? 1 : 0]
    case (.int(let i), .int32): appendLE(Int32(truncatingIfNeeded: i), to: &out)
    case (.int(let i), .fixedLenByteArray): DecimalBytes.append(i, length: length ?? 16, to: &out)
    case (.int(let i), _): appendLE(i, to: &out)
    case (.double(let d), _): appendLE(d.bitPattern, to: &out)
    case (.bytes(let b), _): out = b
    }
    return out
}
