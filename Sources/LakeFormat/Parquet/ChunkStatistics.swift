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

    func stringMinMax(_ s: StringColumn, range: Range<Int>, validity: [Bool]?) -> ([UInt8]?, [UInt8]?) {
        var lo: Range<Int>?, hi: Range<Int>?
        s.bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
            var previous = 0 ..< 0
            for r in range {
                if let validity, !validity[r - range.lowerBound] { continue }
                let cur = s.byteRange(r)
                // A repeat of the value before was compared already (runs: a partition's channel).
                if lo != nil, cur.count == previous.count, equalBytes(base + cur.lowerBound, base + previous.lowerBound, cur.count) { continue }
                previous = cur
                if lo == nil || compareBytes(raw, cur, lo!) < 0 { lo = cur }
                if hi == nil || compareBytes(raw, cur, hi!) > 0 { hi = cur }
            }
        }
        return (lo.map { Array(s.bytes[$0]) }, hi.map { Array(s.bytes[$0]) })
    }

    func dictionaryMinMax(_ idx: [Int32], _ values: StringColumn, range: Range<Int>, validity: [Bool]?) -> ([UInt8]?, [UInt8]?) {
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
