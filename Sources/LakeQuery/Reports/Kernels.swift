import CLakeSupport
import Foundation
import LakeFormat

// Columnar building blocks for the reports: strings become small integer codes once per
// dictionary entry (not per row), groups are dense indices into flat Int64 arrays, and distinct
// counts avoid one Swift Set per group.

enum Kernels {
    /// Per-row index of the row's string in `targets` (`UInt8.max` when none matches). For
    /// dictionary columns each distinct value is compared once. A null row is tested on its
    /// placeholder (the empty string), as the interned codes the reports used before.
    static func match(_ c: Column, _ targets: [String]) -> [UInt8] {
        let wanted = targets.map { Array($0.utf8) }
        func lookup(_ bytes: UnsafeRawBufferPointer) -> UInt8 {
            for (i, t) in wanted.enumerated() where t.count == bytes.count && t.elementsEqual(bytes) { return UInt8(i) }
            return .max
        }
        switch c.data {
        case .dictionary(let idx, let values):
            let map = (0 ..< values.count).map { values.withBytes($0, lookup) }
            return map.withUnsafeBufferPointer { m in idx.map { m[Int($0)] } }
        case .string(let s):
            return (0 ..< s.count).map { s.withBytes($0, lookup) }
        default:
            return [UInt8](repeating: .max, count: c.count)
        }
    }

    /// Per-row codes of a string column in `interner`, for the batch's matching rows only (the
    /// rest are -1): a dictionary entry is interned on its first matching row, so values only
    /// filtered-out rows hold never get a code. Nulls get their placeholder's code (the empty
    /// string's), as `ByteInterner.ids` gives them. Only string columns (a trap otherwise).
    static func codes<I: Interning>(_ c: Column, _ b: ScanBatch, _ interner: inout I) -> [Int32] {
        var out = [Int32](repeating: -1, count: c.count)
        switch c.data {
        case .dictionary(let idx, let values):
            var map = [Int32](repeating: -1, count: values.count)
            // Through pointers: the row loop pays no bounds or uniqueness check per row.
            idx.withUnsafeBufferPointer { idx in
                map.withUnsafeMutableBufferPointer { map in
                    out.withUnsafeMutableBufferPointer { out in
                        b.forEachRow { r in
                            let i = Int(idx[r])
                            // The decoder checks indices against the dictionary; a column built
                            // otherwise still traps here, as the checked subscript did.
                            precondition(i >= 0 && i < map.count, "dictionary index out of range")
                            var code = map[i]
                            if code < 0 {
                                code = values.withBytes(i) { interner.id($0) }
                                map[i] = code
                            }
                            out[r] = code
                        }
                    }
                }
            }
        case .string(let s):
            // Each row's key is probed a few rows after its slot was asked for (`prefetch`).
            let ahead = 8
            if let selection = b.selection {
                for k in selection.indices {
                    if k + ahead < selection.count { s.withBytes(Int(selection[k + ahead])) { interner.prefetch($0) } }
                    let r = Int(selection[k])
                    out[r] = s.withBytes(r) { interner.id($0) }
                }
            } else {
                let n = b.batch.count
                for r in 0 ..< n {
                    if r + ahead < n { s.withBytes(r + ahead) { interner.prefetch($0) } }
                    out[r] = s.withBytes(r) { interner.id($0) }
                }
            }
        default:
            // Callers index arrays by these codes through unchecked pointers: a -1 would write
            // before their storage. The report columns coded here are VARCHAR in every schema
            // version, and DuckLake allows no type change from VARCHAR.
            preconditionFailure("string codes asked of a column that holds no strings")
        }
        return out
    }

    /// Per matching row, its run: consecutive matching rows holding equal strings share one,
    /// noted in `runs` (a run goes on across batches when the next batch starts with the last
    /// run's string). Other rows, and every row of a column that holds no strings, are -1.
    /// A row reads its string as `codes` does (a null row its placeholder).
    static func runs(_ c: Column, _ b: ScanBatch, _ runs: inout Runs) -> [Int32] {
        var out = [Int32](repeating: -1, count: c.count)
        switch c.data {
        case .dictionary(let idx, let values):
            // One dictionary entry is one string: only a change of index compares bytes.
            idx.withUnsafeBufferPointer { idx in
                out.withUnsafeMutableBufferPointer { out in noteRuns(values, b, &runs, out) { idx[$0] } }
            }
        case .string(let s):
            out.withUnsafeMutableBufferPointer { out in noteRuns(s, b, &runs, out) { Int32($0) } }
        default:
            break
        }
        return out
    }

    /// One file's runs of equal strings (`Kernels.runs`): each run's hash, the last run's bytes
    /// (the next batch's first run is compared with them), and every run's bytes only when
    /// asked for (`keepingBytes`): product sales need them only when two runs' hashes repeat,
    /// and gathering them copied every order id of the file once more.
    struct Runs {
        fileprivate(set) var hashes: [UInt64] = []
        /// Run i's bytes, when kept.
        fileprivate(set) var bytes: StringColumn?
        fileprivate var last: [UInt8]?

        init(keepingBytes: Bool) { bytes = keepingBytes ? StringColumn() : nil }

        var count: Int { hashes.count }
    }

    /// Byte equality; values of 4 to 16 bytes (order ids) compare as two overlapping words each
    /// side, in bounds, instead of calling memcmp.
    @inline(__always)
    private static func equal(_ x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer) -> Bool {
        let n = x.count
        guard n == y.count else { return false }
        if n == 0 { return true }
        if n >= 8 && n <= 16 {
            return x.loadUnaligned(as: UInt64.self) == y.loadUnaligned(as: UInt64.self)
                && x.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) == y.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        }
        if n >= 4 && n < 8 {
            return x.loadUnaligned(as: UInt32.self) == y.loadUnaligned(as: UInt32.self)
                && x.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self) == y.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
        }
        return memcmp(x.baseAddress!, y.baseAddress!, n) == 0
    }

    /// `runs` for the strings `values[at(r)]` of the batch's matching rows. A run is compared
    /// with the one before it (the last noted, else the last of `runs`) in place and hashed
    /// there; when `runs` keeps bytes, the batch's new runs are noted by where their strings sit
    /// in `values` and gathered in one go at the end.
    private static func noteRuns(_ values: StringColumn, _ b: ScanBatch, _ runs: inout Runs, _ out: UnsafeMutableBufferPointer<Int32>,
                                 _ at: (Int) -> Int32) {
        let keeping = runs.bytes != nil
        var noted: [Int32] = []
        var hashes = runs.hashes
        runs.hashes = []
        let base = Int32(hashes.count) - 1
        let carried = runs.last ?? []
        var lastIndex: Int32 = -1
        values.offsets.withUnsafeBufferPointer { offsets in
            values.bytes.withUnsafeBytes { bytes in
                carried.withUnsafeBytes { carried in
                    var last: Int32 = -1
                    // `prev`: the last noted run's bytes, else the carried run's (nil: none).
                    var prev: UnsafeRawBufferPointer? = base >= 0 ? carried : nil
                    var n = Int32(0)
                    b.forEachRow { r in
                        let i = at(r)
                        if i != last {
                            last = i
                            // The pointer reads below are unchecked in a release build; the
                            // decoder refuses such an index, this keeps the loop's own guard.
                            precondition(i >= 0 && Int(i) + 1 < offsets.count, "string index \(i) outside the column's \(offsets.count - 1) values")
                            let start = Int(offsets[Int(i)]), end = Int(offsets[Int(i) + 1])
                            let value = UnsafeRawBufferPointer(rebasing: bytes[start ..< end])
                            if prev == nil || !equal(prev!, value) {
                                if keeping { noted.append(i) }
                                hashes.append(hash(value))
                                lastIndex = i
                                n += 1
                                prev = value
                            }
                        }
                        out[r] = base + n
                    }
                }
            }
        }
        runs.hashes = hashes
        if lastIndex >= 0 { runs.last = values.withBytes(Int(lastIndex)) { Array($0) } }
        if keeping { runs.bytes!.append(gathering: noted, from: values) }
    }

    /// A 64-bit hash of bytes (equal bytes, equal hash), for cheap disjointness checks.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count)
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ w) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        var tail: UInt64 = 0, shift: UInt64 = 0
        if i < n && n >= 8 {
            // The last 8 bytes as one word (overlapping the last full one; the length is in
            // the seed): an order id's 1 to 7 bytes past its words were read one at a time.
            tail = bytes.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
            i = n
        }
        while i < n {
            tail |= UInt64(bytes[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 29)
    }

    static func int64s(_ c: Column) -> [Int64] {
        switch c.data {
        case .int64(let a): return a
        case .int32(let a):
            // Widened in place (a loop the compiler vectorizes; `map` called a closure a value).
            return [Int64](unsafeUninitializedCapacity: a.count) { out, initialized in
                a.withUnsafeBufferPointer { a in
                    for i in a.indices { out[i] = Int64(a[i]) }
                }
                initialized = a.count
            }
        default: return [Int64](repeating: 0, count: c.count)
        }
    }

    static func int32s(_ c: Column) -> [Int32] {
        if case .int32(let a) = c.data { return a }
        return [Int32](repeating: 0, count: c.count)
    }

    /// Sorts in place (LSD radix sort on 16-bit digits): the distinct counts sort millions of
    /// packed pairs, where a comparison sort costs several times more.
    static func radixSort(_ a: inout [UInt64]) {
        let n = a.count
        if n < 256 { a.sort(); return }
        // Small arrays take 8-bit digits: clearing 64 K counters per pass would cost more than the sort.
        let bits = n < 1 << 17 ? 8 : 16
        let digits = 64 / bits, radix = 1 << bits, mask = UInt64(radix - 1)
        // One read of the input counts every digit's histogram.
        var counts = [Int](repeating: 0, count: digits * radix)
        a.withUnsafeBufferPointer { src in
            counts.withUnsafeMutableBufferPointer { cnt in
                for v in src {
                    var x = v
                    for d in 0 ..< digits {
                        cnt[d * radix + Int(x & mask)] += 1
                        x >>= UInt64(bits)
                    }
                }
            }
        }
        var tmp = [UInt64](repeating: 0, count: n)
        for d in 0 ..< digits {
            let shift = UInt64(d * bits)
            let done: Bool = counts.withUnsafeMutableBufferPointer { cnt in
                let base = d * radix
                // A digit every value shares moves nothing: skip its pass.
                if cnt[base + Int((a[0] >> shift) & mask)] == n { return true }
                var sum = 0
                for i in base ..< base + radix { let c = cnt[i]; cnt[i] = sum; sum += c }
                a.withUnsafeBufferPointer { src in
                    tmp.withUnsafeMutableBufferPointer { dst in
                        for v in src {
                            let i = base + Int((v >> shift) & mask)
                            dst[cnt[i]] = v
                            cnt[i] += 1
                        }
                    }
                }
                return false
            }
            if !done { swap(&a, &tmp) }
        }
    }

    /// Whether no value repeats. The values are hashes (spread evenly over 64 bits): one pass
    /// counts them by their top bits, one moves them into those buckets, and each bucket (a few
    /// values) is checked on its own; `sortUnique` made four passes over every value.
    static func allDistinct(_ a: [UInt64]) -> Bool {
        let n = a.count
        if n < 256 {
            var s = a
            s.sort()
            return s.indices.dropFirst().allSatisfy { s[$0] != s[$0 - 1] }
        }
        var bits = 1
        while 1 << bits < n / 4 && bits < 24 { bits += 1 }
        let shift = UInt64(64 - bits)
        var start = [Int32](repeating: 0, count: (1 << bits) + 1)
        var moved = [UInt64](repeating: 0, count: n)
        return a.withUnsafeBufferPointer { src in
            start.withUnsafeMutableBufferPointer { start in
                for v in src { start[Int(v >> shift) + 1] += 1 }
                for k in 1 ..< start.count { start[k] += start[k - 1] }
                var next = Array(start.dropLast())
                return moved.withUnsafeMutableBufferPointer { dst in
                    next.withUnsafeMutableBufferPointer { next in
                        for v in src {
                            let k = Int(v >> shift)
                            dst[Int(next[k])] = v
                            next[k] += 1
                        }
                    }
                    for k in 0 ..< start.count - 1 {
                        let lo = Int(start[k]), hi = Int(start[k + 1])
                        if hi - lo < 2 { continue }
                        if hi - lo <= 16 {
                            // A few values: compared pairwise (the standard sort's set-up cost more).
                            for i in lo ..< hi - 1 { for j in i + 1 ..< hi where dst[i] == dst[j] { return false } }
                            continue
                        }
                        var bucket = UnsafeMutableBufferPointer(rebasing: dst[lo ..< hi])
                        bucket.sort()
                        for j in 1 ..< bucket.count where bucket[j] == bucket[j - 1] { return false }
                    }
                    return true
                }
            }
        }
    }

    /// Sorts and removes repeats.
    static func sortUnique(_ a: inout [UInt64]) {
        radixSort(&a)
        var n = 0
        for i in a.indices where i == 0 || a[i] != a[n - 1] {
            a[n] = a[i]
            n += 1
        }
        a.removeLast(a.count - n)
    }
}

/// Dense ids for byte strings, like `ByteInterner`, tuned for many short keys (customer and
/// order ids): a key of up to 16 bytes sits in its slot with its length, hash tag and id, so a
/// probe reads one slot and no other memory (ByteInterner reads slot, offsets and bytes: three
/// cache misses once the table outgrows the cache). Longer keys compare their bytes on a match.
/// Byte strings to dense ids in first-seen order.
protocol Interning {
    mutating func id(_ bytes: UnsafeRawBufferPointer) -> Int32
    /// Starts loading what `id(bytes)` will read (a hint: it changes nothing). Mutating only so
    /// that a caller holding the interner `inout` calls it in place, without copying it (and
    /// retaining its arrays) per call.
    mutating func prefetch(_ bytes: UnsafeRawBufferPointer)
}

extension Interning {
    mutating func prefetch(_ bytes: UnsafeRawBufferPointer) {}
}

extension ByteInterner: Interning {}

struct KeyInterner: Interning {
    private struct Slot { var a: UInt64 = 0, b: UInt64 = 0, meta: UInt64 = 0 }

    /// Id `i`'s bytes are `values[i]`.
    private(set) var values = StringColumn()
    private var slots: [Slot]
    private var mask: Int

    init(expected: Int = 1024) {
        var cap = 64
        while cap < expected * 2 { cap <<= 1 }
        slots = [Slot](repeating: Slot(), count: cap)
        mask = cap - 1
        // Reserved, not touched: the ids' bytes then grow without copying themselves through
        // every power of two (each copy a fresh buffer whose pages fault in).
        values.reserve(count: expected, bytes: expected * 16)
    }

    /// Room for `count` more ids of `bytes` more bytes in all, without reallocating.
    mutating func reserve(count: Int, bytes: Int) {
        values.reserve(count: values.count + count, bytes: values.bytes.count + bytes)
    }

    var count: Int { values.count }

    @inline(__always)
    private static func pack(_ p: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        let n = p.count
        if n >= 16 { return (p.loadUnaligned(as: UInt64.self), p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        if n >= 8 {
            let b = n == 8 ? 0 : p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) >> UInt64((16 - n) * 8)
            return (p.loadUnaligned(as: UInt64.self), b)
        }
        var a: UInt64 = 0
        for i in 0 ..< n { a |= UInt64(p[i]) << UInt64(i * 8) }
        return (a, 0)
    }

    @inline(__always)
    private static func hash(_ a: UInt64, _ b: UInt64, _ p: UnsafeRawBufferPointer) -> UInt64 {
        if p.count > 16 { return Kernels.hash(p) }
        var h = (a ^ UInt64(p.count)) &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ (h >> 29) ^ b) &* 0xBF58_476D_1CE4_E5B9
        return h ^ (h >> 32)
    }

    /// Starts loading the slot a probe for `p` begins at: `codes` asks a few rows ahead, so
    /// the cache misses of a table larger than the cache overlap instead of coming one by one.
    mutating func prefetch(_ p: UnsafeRawBufferPointer) {
        let (a, b) = Self.pack(p)
        let s = Int(truncatingIfNeeded: Self.hash(a, b, p)) & mask
        slots.withUnsafeBufferPointer { lake_prefetch_for_write($0.baseAddress! + s) }
    }

    mutating func id(_ p: UnsafeRawBufferPointer) -> Int32 {
        let (a, b) = Self.pack(p)
        let h = Self.hash(a, b, p)
        // meta: length (8 bits, 255 = longer) | 24-bit hash tag | id + 1 (0 = empty slot).
        let high = UInt64(min(p.count, 255)) << 56 | (h >> 40) << 32
        var s = Int(truncatingIfNeeded: h) & mask
        let found: Int32? = slots.withUnsafeBufferPointer { table in
            while true {
                let e = table[s]
                if e.meta == 0 { return nil }
                if e.meta & 0xFFFF_FFFF_0000_0000 == high && e.a == a && e.b == b {
                    let id = Int(e.meta & 0xFFFF_FFFF) - 1
                    if p.count <= 16 || values.withBytes(id, { $0.elementsEqual(p) }) { return Int32(id) }
                }
                s = (s + 1) & mask
            }
        }
        if let found { return found }
        let id = values.count
        // As typed bytes: `Array.append(contentsOf:)` copies a raw buffer byte by byte
        // (~80 instructions a customer id), a typed one in one memcpy.
        values.bytes.append(contentsOf: p.assumingMemoryBound(to: UInt8.self))
        values.offsets.append(Int32(values.bytes.count))
        slots[s] = Slot(a: a, b: b, meta: high | UInt64(id + 1))
        if values.count * 2 > slots.count { grow() }
        return Int32(id)
    }

    private mutating func grow() {
        let cap = slots.count * 2, m = cap - 1
        var fresh = [Slot](repeating: Slot(), count: cap)
        for e in slots where e.meta != 0 {
            let id = Int(e.meta & 0xFFFF_FFFF) - 1
            let h = values.withBytes(id) { Self.hash(e.a, e.b, $0) }
            var s = Int(truncatingIfNeeded: h) & m
            while fresh[s].meta != 0 { s = (s + 1) & m }
            fresh[s] = e
        }
        slots = fresh
        mask = m
    }
}
