// Open-addressing hash tables that assign dictionary indices while the writer scans a column
// chunk. Keys are raw bytes or 64-bit patterns, never Swift Strings, so building a dictionary
// over millions of rows allocates nothing per row.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@inline(__always)
func hashBytes(_ p: UnsafeRawPointer, _ n: Int) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(n)
    var i = 0
    while i + 8 <= n {
        let w = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        h = (h ^ w) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        i += 8
    }
    var tail: UInt64 = 0
    var shift: UInt64 = 0
    while i < n {
        tail |= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << shift
        shift += 8
        i += 1
    }
    h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
    return h ^ (h >> 29)
}

/// Whether two byte ranges of length `n` are equal; short keys (ids, codes) without a call to memcmp.
@inline(__always)
func equalBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    if n >= 8 && n <= 16 {
        // Two overlapping 8-byte loads cover every byte.
        return a.loadUnaligned(as: UInt64.self) == b.loadUnaligned(as: UInt64.self)
            && a.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
    }
    if n < 8 {
        for i in 0 ..< n where a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        return true
    }
    return memcmp(a, b, n) == 0
}

@inline(__always)
func hashWord(_ w: UInt64) -> UInt64 {
    var h = w &* 0x9E37_79B9_7F4A_7C15
    h ^= h >> 32
    h = h &* 0xBF58_476D_1CE4_E5B9
    return h ^ (h >> 29)
}

/// Distinct byte strings in insertion order; `values` becomes the dictionary page.
struct StringDictionaryBuilder: Sendable {
    private(set) var values = StringColumn()
    /// Each slot packs the entry's hash tag (high 32 bits) with its index + 1 (low 32 bits; 0 is
    /// empty), so a probe compares bytes only when the tags agree.
    private var slots: [UInt64]
    private var mask: Int
    /// Stop when the dictionary page would exceed this many PLAIN bytes (pyarrow's default is 1 MiB).
    let byteLimit: Int
    private(set) var plainBytes = 0

    init(byteLimit: Int, expected: Int = 1024) {
        var cap = 64
        while cap < expected * 2 { cap <<= 1 }
        slots = Array(repeating: 0, count: cap)
        mask = cap - 1
        self.byteLimit = byteLimit
    }

    var count: Int { values.count }

    /// The index of these bytes, inserting them if new; nil once the byte limit is passed.
    @inline(__always)
    mutating func index(of p: UnsafeRawPointer, _ n: Int) -> Int32? {
        let h = hashBytes(p, n)
        let tag = h & 0xFFFF_FFFF_0000_0000
        var s = Int(truncatingIfNeeded: h) & mask
        let found: Int32? = slots.withUnsafeBufferPointer { table in
            values.offsets.withUnsafeBufferPointer { offsets in
                values.bytes.withUnsafeBytes { bytes in
                    while true {
                        let e = table[s]
                        if e == 0 { return nil }
                        if e & 0xFFFF_FFFF_0000_0000 == tag {
                            let idx = Int(e & 0xFFFF_FFFF) - 1
                            let start = Int(offsets[idx]), end = Int(offsets[idx + 1])
                            if end - start == n && equalBytes(bytes.baseAddress! + start, p, n) { return Int32(idx) }
                        }
                        s = (s + 1) & mask
                    }
                }
            }
        }
        if let found { return found }
        plainBytes += 4 + n
        if plainBytes > byteLimit { return nil }
        let idx = values.count
        values.append(UnsafeRawBufferPointer(start: p, count: n))
        slots[s] = tag | UInt64(idx + 1)
        if values.count * 2 > slots.count { grow() }
        return Int32(idx)
    }

    private mutating func grow() {
        let cap = slots.count * 2
        var fresh = [UInt64](repeating: 0, count: cap)
        let m = cap - 1
        for e in slots where e != 0 {
            let idx = Int(e & 0xFFFF_FFFF) - 1
            let h = values.withBytes(idx) { hashBytes($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, $0.count) }
            var s = Int(truncatingIfNeeded: h) & m
            while fresh[s] != 0 { s = (s + 1) & m }
            fresh[s] = e
        }
        slots = fresh
        mask = m
    }
}

/// Distinct fixed-width values (stored as their 64-bit pattern) in insertion order.
struct WordDictionaryBuilder {
    private(set) var values: [UInt64] = []
    private var slots: [Int32]
    private var mask: Int
    let limit: Int

    init(limit: Int, expected: Int = 1024) {
        var cap = 64
        while cap < expected * 2 { cap <<= 1 }
        slots = Array(repeating: 0, count: cap)
        mask = cap - 1
        self.limit = limit
    }

    var count: Int { values.count }

    @inline(__always)
    mutating func index(of w: UInt64) -> Int32? {
        var s = Int(truncatingIfNeeded: hashWord(w)) & mask
        let m = mask
        // Probed through pointers: a slot's entry is an index into `values` by construction.
        let found: Int32? = slots.withUnsafeBufferPointer { table in
            values.withUnsafeBufferPointer { v in
                while true {
                    let e = table[s]
                    if e == 0 { return nil }
                    if v[Int(e) - 1] == w { return e - 1 }
                    s = (s + 1) & m
                }
            }
        }
        if let found { return found }
        if values.count >= limit { return nil }
        values.append(w)
        slots[s] = Int32(values.count)
        if values.count * 2 > slots.count { grow() }
        return Int32(values.count - 1)
    }

    private mutating func grow() {
        let cap = slots.count * 2
        var fresh = [Int32](repeating: 0, count: cap)
        let m = cap - 1
        for (i, w) in values.enumerated() {
            var s = Int(truncatingIfNeeded: hashWord(w)) & m
            while fresh[s] != 0 { s = (s + 1) & m }
            fresh[s] = Int32(i + 1)
        }
        slots = fresh
        mask = m
    }
}

/// Dense ids for byte strings, for grouping and distinct counting without building a Swift
/// String (and hashing it with SipHash) per row. Ids are assigned in first-seen order.
public struct ByteInterner: Sendable {
    private var table: StringDictionaryBuilder

    public init() { table = StringDictionaryBuilder(byteLimit: .max) }

    /// Sized for about `expected` distinct values, so filling it does not rehash along the way.
    public init(expected: Int) { table = StringDictionaryBuilder(byteLimit: .max, expected: expected) }

    public var count: Int { table.count }

    /// The interned values: id `i` is `values[i]`.
    public var values: StringColumn { table.values }

    public mutating func id(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        // A zero-length buffer may have no base address; any non-null pointer will do for it.
        let base = bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
        return table.index(of: base, bytes.count)!  // no byte limit, so never nil
    }

    public mutating func id(_ s: String) -> Int32 {
        var s = s
        return s.withUTF8 { id(UnsafeRawBufferPointer($0)) }
    }

    /// Per-row ids of a string column: once per distinct value for dictionary columns.
    public mutating func ids(_ c: Column) -> [Int32] {
        switch c.data {
        case .dictionary(let idx, let values):
            let map = values.bytes.withUnsafeBytes { raw in (0 ..< values.count).map { id(UnsafeRawBufferPointer(rebasing: raw[values.byteRange($0)])) } }
            return idx.map { map[Int($0)] }
        case .string(let s):
            return s.bytes.withUnsafeBytes { raw in (0 ..< s.count).map { id(UnsafeRawBufferPointer(rebasing: raw[s.byteRange($0)])) } }
        default:
            return []
        }
    }
}
