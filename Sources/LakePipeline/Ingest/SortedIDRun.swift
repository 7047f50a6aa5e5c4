import CLakeSupport
import Foundation
import LakeFormat

/// The 64-bit fingerprint a sorted run orders its ids by. Stored runs are probed with the
/// function they were built with, so production code uses `standard` only; tests pass a
/// colliding one to prove that a fingerprint match is always verified against the exact id.
struct IDFingerprint: Sendable {
    let hash: @Sendable (UnsafeRawBufferPointer) -> UInt64

    /// FNV-1a with a 64-bit finaliser (murmur3 fmix64): FNV alone leaves short, similar ids
    /// (ORD-000001, ORD-000002) close together in the high bits; the finaliser spreads them.
    static let standard = IDFingerprint { bytes in
        var h = fnv1a64(bytes)
        h ^= h >> 33; h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33; h = h &* 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }
}

/// A damaged or inconsistent stored run. The data files stay the truth: a loader that meets
/// this rebuilds the id set from them.
struct IDRunDamaged: Error, CustomStringConvertible {
    var detail: String
    var description: String { "order id run: \(detail)" }
}

/// One persistent run of unique order ids, sorted by (fingerprint, id bytes), probed in place
/// by binary search over its fingerprints. Only a fingerprint match touches the exact ids,
/// which are kept in independently zstd-compressed blocks of `blockSize` ids, so a probe that
/// misses costs no decompression and a hit decompresses one block.
///
/// Layout "LKR3" (little-endian, written since session 15): "LKR3", count n, block size B,
/// block count k, directory bits d (UInt32 each); 2^d + 1 bucket starts (UInt32: the index of
/// the first id whose fingerprint's top d bits are that bucket or more; the last is n); n
/// fingerprint slices (UInt32: the 32 bits below the top d, ascending within a bucket); k + 1
/// block offsets (UInt64, from the first block); the blocks. A block is a zstd frame of m
/// lengths (LEB128) followed by the ids' bytes. A run of 1 M generated orders is 8.1 MB
/// (15.1 MB as LKR2): the top d bits are implied by the bucket, and the UInt32 offsets of LKR2
/// cost as much compressed as the ids themselves.
///
/// Layout "LKR2" (sessions 6-14, still read; merges rewrite it as LKR3): "LKR2", n, B, k;
/// n fingerprints (UInt64, ascending); k + 1 block offsets; the blocks, each a zstd frame of
/// m + 1 UInt32 offsets into its id bytes, then the bytes. Its directory is built when opened.
final class SortedIDRun: @unchecked Sendable {
    static let magic: UInt32 = 0x3352_4B4C  // "LKR3"
    static let magicV2: UInt32 = 0x3252_4B4C  // "LKR2"
    static let blockSize = 4096
    /// At most 2^22 buckets (16 MiB of directory); a run holds at most 2^32 ids.
    static let maxDirectoryBits = 22
    private static let headerV2 = 16, headerV3 = 20

    let payload: [UInt8]
    let count: Int
    private let blocks: Int
    private let blockSize: Int
    private let v3: Bool
    private let keysAt: Int
    private let offsetsAt: Int
    private let blocksAt: Int
    // Blocks decoded by earlier hits; under a lock because a parallel validator may probe from
    // several threads.
    private let lock = NSLock()
    private var decoded: [Int: (offsets: [UInt32], bytes: [UInt8])] = [:]
    private var damage: IDRunDamaged?
    /// `directory[p]` is the index of the first fingerprint whose top bits are `p` or more
    /// (`directory[buckets] == count`), about 8 fingerprints a bucket. A probe reads two
    /// adjacent entries and searches one bucket: two cache misses a run, where a binary search
    /// over a run of a million fingerprints took about 20. A follower probes every id of every
    /// batch against every run (one a `OrderIDIndex.mergeCap` ids), so this is what keeps its
    /// commits flat as the lake grows. Stored in an LKR3 run; built when an LKR2 run is opened
    /// (a follower keeps its runs between commits), in the pass that checks the order.
    private let directory: [UInt32]
    private let directoryShift: UInt64
    /// LKR3: a fingerprint's stored slice is `UInt32(truncatingIfNeeded: fp >> sliceShift)`.
    private let sliceShift: UInt64

    /// The directory bits a run of `count` ids gets: about 8 ids a bucket.
    static func directoryBits(_ count: Int) -> Int {
        var bits = 0
        while bits < maxDirectoryBits && (8 << bits) < count { bits += 1 }
        return bits
    }

    /// Parses and checks a stored run: header, sizes and fingerprint order (an unsorted run
    /// would make binary search miss a committed id). Blocks are checked as they are decoded
    /// (zstd's checksum).
    init(payload: [UInt8]) throws {
        self.payload = payload
        func u32(_ at: Int) -> Int {
            payload.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
        }
        guard payload.count >= Self.headerV2, u32(0) == Int(Self.magic) || u32(0) == Int(Self.magicV2) else {
            throw IDRunDamaged(detail: "not a sorted run")
        }
        v3 = u32(0) == Int(Self.magic)
        count = u32(4)
        blockSize = u32(8)
        blocks = u32(12)
        guard blockSize > 0, blocks == (count + blockSize - 1) / blockSize else { throw IDRunDamaged(detail: "bad header") }
        let bits: Int
        if v3 {
            guard payload.count >= Self.headerV3 else { throw IDRunDamaged(detail: "bad header") }
            bits = u32(16)
            guard bits <= Self.maxDirectoryBits else { throw IDRunDamaged(detail: "bad header") }
            keysAt = Self.headerV3 + 4 * ((1 << bits) + 1)
            offsetsAt = keysAt + 4 * count
        } else {
            bits = Self.directoryBits(count)
            keysAt = Self.headerV2
            offsetsAt = keysAt + 8 * count
        }
        blocksAt = offsetsAt + 8 * (blocks + 1)
        guard payload.count >= blocksAt else { throw IDRunDamaged(detail: "bad header") }
        // Locals: the closure below may not capture `self` before `directory` is set.
        let (count, blocks, keysAt, offsetsAt, blocksAt, v3) = (count, blocks, keysAt, offsetsAt, blocksAt, v3)
        let shift = UInt64(64 - bits)
        var directory = [UInt32](repeating: UInt32(count), count: (1 << bits) + 1)
        let sorted = payload.withUnsafeBytes { b -> Bool in
            if v3 {
                for p in 0 ... (1 << bits) {
                    directory[p] = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: Self.headerV3 + 4 * p, as: UInt32.self))
                }
                guard directory[0] == 0, directory[1 << bits] == UInt32(count) else { return false }
                for p in 0 ..< (1 << bits) {
                    let lo = Int(directory[p]), hi = Int(directory[p + 1])
                    if lo > hi || hi > count { return false }
                    var prev: UInt32 = 0
                    for i in lo ..< hi {
                        let key = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: keysAt + 4 * i, as: UInt32.self))
                        if key < prev { return false }
                        prev = key
                    }
                }
            } else {
                var prev: UInt64 = 0
                var next = 0  // the first bucket whose start is not yet set
                for i in 0 ..< count {
                    let fp = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: keysAt + 8 * i, as: UInt64.self))
                    if fp < prev { return false }
                    prev = fp
                    // Smart shift: by 64 (a run small enough for one bucket) gives 0.
                    let bucket = Int(fp >> shift)
                    while next <= bucket { directory[next] = UInt32(i); next += 1 }
                }
            }
            for j in 0 ..< blocks {
                let lo = b.loadUnaligned(fromByteOffset: offsetsAt + 8 * j, as: UInt64.self)
                let hi = b.loadUnaligned(fromByteOffset: offsetsAt + 8 * (j + 1), as: UInt64.self)
                if lo > hi { return false }
            }
            return blocks == 0 || Int(UInt64(littleEndian: b.loadUnaligned(fromByteOffset: offsetsAt + 8 * blocks, as: UInt64.self)))
                == payload.count - blocksAt
        }
        guard sorted else { throw IDRunDamaged(detail: "fingerprints out of order or blocks out of range") }
        self.directory = directory
        directoryShift = shift
        sliceShift = UInt64(32 - bits)
    }

    /// A stored run as written by this build or an LKR2 one, or one from an older build (one
    /// zstd blob of ids in commit order), sorted on load; the next merge rewrites it as LKR3.
    static func open(_ payload: [UInt8], expected: Int64, fingerprint: IDFingerprint) throws -> SortedIDRun {
        let magic = payload.count >= 4 ? payload.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) } : 0
        let run = magic == Self.magic || magic == Self.magicV2 ? try SortedIDRun(payload: payload)
            : try SortedIDRun(payload: encode(try OrderIDRun.decodeUnsorted(payload), fingerprint: fingerprint).payload)
        guard Int64(run.count) == expected else { throw IDRunDamaged(detail: "\(run.count) ids, catalog says \(expected)") }
        return run
    }

    /// Whether this run is stored in the current layout (an LKR2 run reads the same).
    var isCurrentLayout: Bool { v3 }

    /// What the run stores of fingerprint `fp`: all of it (LKR2) or its slice below the
    /// bucket's bits (LKR3). Within a bucket, stored keys order as the fingerprints do.
    @inline(__always)
    private func storedKey(_ fp: UInt64) -> UInt64 {
        v3 ? UInt64(UInt32(truncatingIfNeeded: fp >> sliceShift)) : fp
    }

    @inline(__always)
    private func key(_ i: Int) -> UInt64 {
        payload.withUnsafeBytes {
            v3 ? UInt64(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: keysAt + 4 * i, as: UInt32.self)))
                : UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: keysAt + 8 * i, as: UInt64.self))
        }
    }

    /// Exact membership: every id whose stored fingerprint equals `fp`'s is compared byte for
    /// byte. A block that fails to decode is recorded (see `failure`) and counts as a miss; the
    /// batch then refuses to commit, so a damaged run can never let a duplicate through.
    func contains(_ id: UnsafeRawBufferPointer, fingerprint fp: UInt64) -> Bool {
        let bucket = Int(fp >> directoryShift)
        let want = storedKey(fp)
        var lo = Int(directory[bucket])
        let end = Int(directory[bucket + 1])
        var hi = end
        while lo < hi {
            let mid = (lo + hi) >> 1
            if key(mid) < want { lo = mid + 1 } else { hi = mid }
        }
        var i = lo
        while i < end && key(i) == want {
            do {
                if try withID(i, { candidate in
                    candidate.count == id.count && (id.count == 0 || memcmpEqual(candidate.baseAddress!, id.baseAddress!, id.count))
                }) { return true }
            } catch {
                lock.withLock { if damage == nil { damage = error as? IDRunDamaged ?? IDRunDamaged(detail: "\(error)") } }
                return false
            }
            i += 1
        }
        return false
    }

    /// The first block that failed to decode during a probe, if any.
    var failure: IDRunDamaged? { lock.withLock { damage } }

    private func block(_ j: Int) throws -> (offsets: [UInt32], bytes: [UInt8]) {
        if let b = lock.withLock({ decoded[j] }) { return b }
        let raw: [UInt8] = try payload.withUnsafeBytes { p in
            let lo = Int(UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offsetsAt + 8 * j, as: UInt64.self)))
            let hi = Int(UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offsetsAt + 8 * (j + 1), as: UInt64.self)))
            do { return try ZstdFrame.decompress(UnsafeRawBufferPointer(rebasing: p[blocksAt + lo ..< blocksAt + hi])) } catch {
                throw IDRunDamaged(detail: "block \(j): \(error)")
            }
        }
        let m = min(blockSize, count - j * blockSize)
        var offsets = [UInt32](repeating: 0, count: m + 1)
        let bytes: [UInt8]
        if v3 {
            // m LEB128 lengths, then the bytes.
            let head = try raw.withUnsafeBytes { r -> Int in
                var at = 0, end: UInt64 = 0
                for k in 0 ..< m {
                    var length: UInt64 = 0, shift: UInt64 = 0
                    while true {
                        guard at < r.count, shift < 35 else { throw IDRunDamaged(detail: "block \(j) lengths") }
                        let byte = r[at]
                        at += 1
                        length |= UInt64(byte & 0x7f) << shift
                        shift += 7
                        if byte < 0x80 { break }
                    }
                    end += length
                    guard end <= UInt64(UInt32.max) else { throw IDRunDamaged(detail: "block \(j) lengths") }
                    offsets[k + 1] = UInt32(end)
                }
                return at
            }
            bytes = Array(raw[head...])
        } else {
            guard raw.count >= 4 * (m + 1) else { throw IDRunDamaged(detail: "block \(j) truncated") }
            raw.withUnsafeBytes { r in for k in 0 ... m { offsets[k] = UInt32(littleEndian: r.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self)) } }
            bytes = Array(raw[(4 * (m + 1))...])
        }
        for k in 0 ..< m where offsets[k] > offsets[k + 1] { throw IDRunDamaged(detail: "block \(j) offsets") }
        guard Int(offsets[m]) == bytes.count else { throw IDRunDamaged(detail: "block \(j) size") }
        let b = (offsets, bytes)
        lock.withLock { decoded[j] = b }
        return b
    }

    private func withID<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let b = try block(i / blockSize), k = i % blockSize
        return try b.bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[Int(b.offsets[k]) ..< Int(b.offsets[k + 1])])) }
    }

    /// Every id, in run order; throws on a damaged block.
    func forEach(_ body: (UnsafeRawBufferPointer) -> Void) throws {
        for j in 0 ..< blocks {
            let b = try block(j)
            b.bytes.withUnsafeBytes { p in
                for k in 0 ..< b.offsets.count - 1 { body(UnsafeRawBufferPointer(rebasing: p[Int(b.offsets[k]) ..< Int(b.offsets[k + 1])])) }
            }
        }
    }

    /// Sorts `ids` into a run. Exact repeats are stored once (`count` says how many remain),
    /// so a merge of runs that overlap, which a correct lake never has, shrinks the key count
    /// and the coverage check then rebuilds the set from the data files. The fingerprints, the
    /// buckets' sorts and the blocks are computed on `parallelism` threads: a commit sorts its
    /// key run while the segments close, and on 1 M orders this was the commit's longest task
    /// (0.28 s on one core, most of it waiting on memory while gathering the ids in sorted order).
    static func encode(_ ids: OrderIDRun, fingerprint: IDFingerprint,
                       parallelism: Int = ProcessInfo.processInfo.activeProcessorCount) -> (payload: [UInt8], count: Int) {
        var offsets = [Int](repeating: 0, count: ids.count + 1)
        for (i, n) in ids.lengths.enumerated() { offsets[i + 1] = offsets[i] + Int(n) }
        let starts = offsets
        let count = ids.count
        // Contiguous slices of `0 ..< total`, one per worker: each worker's writes stay in its
        // own part of the output.
        let slices = max(1, min(parallelism, count / 65_536))
        func slice(_ w: Int, of total: Int) -> Range<Int> { total * w / slices ..< total * (w + 1) / slices }
        return ids.bytes.withUnsafeBytes { all -> ([UInt8], Int) in
            func id(_ i: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: all[starts[i] ..< starts[i + 1]]) }
            typealias Pair = (fp: UInt64, index: UInt32)
            // Ids in (fingerprint, bytes) order. Fingerprints are uniform, so counting passes on
            // their top bits leave buckets of a few ids each, ordered in place (a comparison
            // sort of 1 M pairs took 0.3 s, the longest task of a commit); ties, rare (a
            // repeated id or a fingerprint collision), order by their bytes. The counting sort
            // goes in two passes: the top 8 bits (256 write streams, which the caches keep up
            // with), then the rest of the bucket bits within each top bucket (about 60 KB, in
            // cache). One pass over 2^17 buckets scattered 1 M pairs over 16 MB at a cache miss
            // or two each, on one core; both passes now run on every core.
            let bits = max(1, min(20, Int.bitWidth - max(count, 1).leadingZeroBitCount - 3))
            let shift = UInt64(64 - bits)
            let topBits = min(8, bits), lowBits = bits - topBits
            let topShift = UInt64(64 - topBits), tops = 1 << topBits, lows = 1 << lowBits
            let lowMask = UInt64(lows - 1)
            var order = [Pair](repeating: (0, 0), count: count)
            var spread = [Pair](repeating: (0, 0), count: count)
            // Each worker's count per top bucket, then where its pairs of each top bucket go.
            var cursor = [Int](repeating: 0, count: slices * tops)
            var topStart = [Int](repeating: 0, count: tops + 1)
            order.withUnsafeMutableBufferPointer { o in
                cursor.withUnsafeMutableBufferPointer { c in
                    forEachInParallel(count: slices, parallelism: slices) { _, w in
                        for i in slice(w, of: count) {
                            let fp = fingerprint.hash(id(i))
                            o[i] = (fp, UInt32(truncatingIfNeeded: i))
                            c[w * tops + Int(fp >> topShift)] += 1
                        }
                    }
                }
            }
            var placed = 0
            for t in 0 ..< tops {
                topStart[t] = placed
                for w in 0 ..< slices {
                    let counted = cursor[w * tops + t]
                    cursor[w * tops + t] = placed
                    placed += counted
                }
            }
            topStart[tops] = placed
            order.withUnsafeBufferPointer { o in
                spread.withUnsafeMutableBufferPointer { sp in
                    cursor.withUnsafeMutableBufferPointer { c in
                        forEachInParallel(count: slices, parallelism: slices) { _, w in
                            for i in slice(w, of: count) {
                                let pair = o[i], t = w * tops + Int(pair.fp >> topShift)
                                sp[c[t]] = pair
                                c[t] += 1
                            }
                        }
                    }
                }
            }
            func precedes(_ a: Pair, _ b: Pair) -> Bool {
                a.fp != b.fp ? a.fp < b.fp : id(Int(a.index)).lexicographicallyPrecedes(id(Int(b.index)))
            }
            spread.withUnsafeBufferPointer { sp in
                order.withUnsafeMutableBufferPointer { o in
                    forEachInParallel(count: tops, parallelism: slices, split: .dynamic) { _, t in
                        let from = topStart[t], to = topStart[t + 1]
                        guard to > from else { return }
                        var start = [Int](repeating: 0, count: lows + 1)
                        for j in from ..< to { start[Int((sp[j].fp >> shift) & lowMask) + 1] += 1 }
                        start[0] = from
                        for b in 0 ..< lows { start[b + 1] += start[b] }
                        var next = start
                        for j in from ..< to {
                            let b = Int((sp[j].fp >> shift) & lowMask)
                            o[next[b]] = sp[j]
                            next[b] += 1
                        }
                        for b in 0 ..< lows where start[b + 1] - start[b] > 1 {
                            let lo = start[b], hi = start[b + 1]
                            guard hi - lo <= 32 else { o[lo ..< hi].sort(by: precedes); continue }
                            for k in lo + 1 ..< hi {
                                let x = o[k]
                                var j = k
                                while j > lo && precedes(x, o[j - 1]) { o[j] = o[j - 1]; j -= 1 }
                                o[j] = x
                            }
                        }
                    }
                }
            }
            spread = []
            // The kept pairs move to the front of `order`, so the fingerprints are read in order
            // rather than through each id's index.
            var n = 0
            order.withUnsafeMutableBufferPointer { o in
                for j in 0 ..< count {
                    let pair = o[j]
                    if n > 0, o[n - 1].fp == pair.fp, id(Int(o[n - 1].index)).elementsEqual(id(Int(pair.index))) { continue }
                    o[n] = pair
                    n += 1
                }
            }
            let k = (n + blockSize - 1) / blockSize
            let d = directoryBits(n), sliceShift = UInt64(32 - d), bucketShift = UInt64(64 - d)
            let keysAt = headerV3 + 4 * ((1 << d) + 1)
            var out: [UInt8] = []
            out.reserveCapacity(keysAt + 4 * n + 8 * (k + 1) + 5 * n)
            func put32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out.append(contentsOf: $0) } }
            func put64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
            put32(Int(magic)); put32(n); put32(blockSize); put32(k); put32(d)
            // The directory and the fingerprint slices are written through pointers into
            // buffers of their final size: an append per value cost ~100 instructions each.
            out.appendWritten(count: keysAt - headerV3 + 4 * n) { dst in
                let slices = keysAt - headerV3
                var next = 0  // the first bucket whose start is not yet written
                for j in 0 ..< n {
                    let fp = order[j].fp
                    // Smart shift: by 64 (a run small enough for one bucket) gives 0.
                    let bucket = Int(fp >> bucketShift)
                    while next <= bucket { dst.storeBytes(of: UInt32(j).littleEndian, toByteOffset: 4 * next, as: UInt32.self); next += 1 }
                    dst.storeBytes(of: UInt32(truncatingIfNeeded: fp >> sliceShift).littleEndian, toByteOffset: slices + 4 * j, as: UInt32.self)
                }
                while next <= 1 << d { dst.storeBytes(of: UInt32(n).littleEndian, toByteOffset: 4 * next, as: UInt32.self); next += 1 }
            }
            // Each block gathers its ids from all over the input (a cache miss or two per id)
            // and compresses them alone, so blocks are built side by side.
            var frames = [[UInt8]](repeating: [], count: k)
            order.withUnsafeBufferPointer { o in
                frames.withUnsafeMutableBufferPointer { frames in
                    forEachInParallel(count: k, parallelism: slices, split: .dynamic) { _, j in
                        let slice = o[j * blockSize ..< min(n, (j + 1) * blockSize)]
                        // m lengths (LEB128: one byte below 128), then the ids' bytes.
                        // The ids lie all over the input: each one costs a miss on its offset
                        // and one on its bytes, which were waited for one at a time. This pass
                        // prefetches the offsets 16 ids ahead and each id's bytes once its offset
                        // is read, so the copy below finds them in cache. (Only a write prefetch
                        // is exposed to Swift; on data only read it fetches the line the same.)
                        var head = 0, bytes = 0
                        let ahead = 16
                        starts.withUnsafeBufferPointer { st in
                            for k in slice.indices {
                                if k + ahead < slice.endIndex { lake_prefetch_for_write(st.baseAddress! + Int(o[k + ahead].index)) }
                                let i = Int(o[k].index), length = st[i + 1] - st[i]
                                lake_prefetch_for_write(all.baseAddress! + st[i])
                                head += leb128Size(length)
                                bytes += length
                            }
                        }
                        var raw: [UInt8] = []
                        raw.appendWritten(count: head + bytes) { dst in
                            var at = head, h = 0
                            for pair in slice {
                                let i = Int(pair.index)
                                var length = starts[i + 1] - starts[i]
                                if length > 0 { (dst.baseAddress! + at).copyMemory(from: all.baseAddress! + starts[i], byteCount: length) }
                                at += length
                                while length >= 0x80 { dst[h] = UInt8(truncatingIfNeeded: length) | 0x80; h += 1; length >>= 7 }
                                dst[h] = UInt8(length)
                                h += 1
                            }
                        }
                        frames[j] = raw.withUnsafeBytes { ZstdFrame.compress($0) }
                    }
                }
            }
            var at: UInt64 = 0
            put64(0)
            for f in frames { at += UInt64(f.count); put64(at) }
            for f in frames { out.append(contentsOf: f) }
            return (out, n)
        }
    }

    /// One run holding every id of `runs` (a tier merge).
    static func merge(_ runs: [SortedIDRun], fingerprint: IDFingerprint) throws -> (payload: [UInt8], count: Int) {
        var all = OrderIDRun()
        for run in runs { try run.forEach { all.append($0) } }
        return encode(all, fingerprint: fingerprint)
    }
}

/// The committed ids as a set of sorted runs: a probe hashes the id once and binary-searches
/// each run, so checking a batch costs its own ids × runs × log(run), not a load of every id.
final class OrderIDRunSet: OrderIDLookup, @unchecked Sendable {
    let runs: [SortedIDRun]
    let fingerprint: IDFingerprint

    init(_ runs: [SortedIDRun] = [], fingerprint: IDFingerprint = .standard) {
        self.runs = runs
        self.fingerprint = fingerprint
    }

    func containsOrderID(_ id: UnsafeRawBufferPointer) -> Bool {
        // A first batch has no runs: no hash for every order it checks.
        if runs.isEmpty { return false }
        let fp = fingerprint.hash(id)
        for run in runs where run.contains(id, fingerprint: fp) { return true }
        return false
    }

    /// A block that failed to decode while probing: the answers may have missed an id.
    var failure: IDRunDamaged? { runs.lazy.compactMap(\.failure).first }
}

@inline(__always)
private func leb128Size(_ v: Int) -> Int {
    var v = v, n = 1
    while v >= 0x80 { v >>= 7; n += 1 }
    return n
}

extension Array where Element == UInt8 {
    /// Appends `count` bytes (zeroed, then written by `fill` through a raw pointer).
    fileprivate mutating func appendWritten(count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) {
        let start = self.count
        append(contentsOf: repeatElement(0, count: count))
        withUnsafeMutableBytes { fill(UnsafeMutableRawBufferPointer(rebasing: $0[start ..< start + count])) }
    }
}
