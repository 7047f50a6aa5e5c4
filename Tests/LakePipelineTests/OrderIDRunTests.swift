import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

/// The persistent sorted id runs behind cross-batch dedupe (`SortedIDRun`, `OrderIDIndex`).
@Suite("Order id runs: exact under collisions, merges keep every id, tiers stay few")
struct OrderIDRunTests {
    static func ids(_ prefix: String, _ range: Range<Int>) -> [String] { range.map { "\(prefix)-\($0)" } }

    static func run(_ ids: [String], _ fp: IDFingerprint) throws -> SortedIDRun {
        var r = OrderIDRun()
        for var id in ids { id.withUTF8 { r.append(UnsafeRawBufferPointer($0)) } }
        let encoded = SortedIDRun.encode(r, fingerprint: fp)
        #expect(encoded.count == Set(ids).count)
        return try SortedIDRun(payload: encoded.payload)
    }

    static func contains(_ set: OrderIDRunSet, _ id: String) -> Bool {
        var id = id
        return id.withUTF8 { set.containsOrderID(UnsafeRawBufferPointer($0)) }
    }

    static func all(_ run: SortedIDRun) throws -> [String] {
        var out: [String] = []
        try run.forEach { out.append(String(decoding: $0, as: UTF8.self)) }
        return out
    }

    // Every id has the same fingerprint, or the fingerprint is only the length: each probe
    // meets thousands of equal fingerprints and must still answer by the exact bytes.
    static let colliding: [(String, IDFingerprint)] = [
        ("constant", IDFingerprint { _ in 42 }),
        ("length", IDFingerprint { UInt64($0.count) }),
        ("standard", .standard),
    ]

    @Test("the key run built on several threads is byte for byte the one built on one, repeats and collisions included",
          arguments: colliding)
    func parallelEncodeEqualsSerial(_ name: String, _ fp: IDFingerprint) throws {
        // Enough ids for several slices (one per 65,536 ids), in no sorted order, with exact
        // repeats straddling the slices' boundaries.
        var ids = Self.ids("ORD", 0 ..< 200_000).shuffled()
        ids += ids.prefix(5_000) + ids.suffix(5_000)
        if name == "constant" { ids = Array(ids.prefix(20_000)) + Array(ids.suffix(150_000).prefix(2_000)) }
        var r = OrderIDRun()
        for var id in ids { id.withUTF8 { r.append(UnsafeRawBufferPointer($0)) } }
        let serial = SortedIDRun.encode(r, fingerprint: fp, parallelism: 1)
        let parallel = SortedIDRun.encode(r, fingerprint: fp, parallelism: 4)
        #expect(serial.count == Set(ids).count)
        #expect(parallel.count == serial.count)
        #expect(parallel.payload == serial.payload)
        #expect(try Self.all(SortedIDRun(payload: parallel.payload)).count == Set(ids).count)
    }

    @Test("a fingerprint match is verified against the exact id: forced collisions never turn a new order into a duplicate",
          arguments: 0 ..< 3)
    func forcedCollisionsStayExact(_ which: Int) throws {
        let (name, fp) = Self.colliding[which]
        // 5,000 ids: two blocks, so hits are verified across the block boundary. (With the
        // constant fingerprint every probe compares against all of them.)
        let committed = Self.ids("ORD", 0 ..< 5_000)
        let set = OrderIDRunSet([try Self.run(committed, fp)], fingerprint: fp)
        for id in committed where id.hashValue % 5 == 0 || id == committed.last {
            #expect(Self.contains(set, id), "\(name): committed \(id) not found")
        }
        // Same length and prefix as committed ids, never committed.
        for id in Self.ids("ORX", 0 ..< 300) + Self.ids("ORD", 5_000 ..< 5_300) + ["", "ORD-", "ORD-00"] {
            #expect(!Self.contains(set, id), "\(name): \(id) reported as committed")
        }
        #expect(set.failure == nil)
    }

    /// The probe starts from the run's bucket directory (first fingerprint per top-bits prefix):
    /// every run size, from empty to many buckets, and fingerprints piled at both ends of the
    /// range or sharing only their top bits, answer exactly as a set would.
    @Test("the bucket directory finds every committed id and no other, at every run size and fingerprint spread")
    func bucketDirectoryIsExact() throws {
        let spreads: [(String, IDFingerprint)] = [
            ("standard", .standard),
            // Half the ids just above 0, half just below UInt64.max: the first and last buckets.
            ("ends", IDFingerprint { b in
                let h = IDFingerprint.standard.hash(b)
                return h & 1 == 0 ? h >> 40 : UInt64.max - (h >> 40)
            }),
            // Only the top 16 bits vary: long runs of equal fingerprints inside a bucket.
            ("top bits", IDFingerprint { IDFingerprint.standard.hash($0) & 0xFFFF_0000_0000_0000 }),
        ]
        for (name, fp) in spreads {
            for size in [0, 1, 8, 9, 64, 1_000, 70_000] {
                let committed = Self.ids("ORD", 0 ..< size)
                let set = OrderIDRunSet([try Self.run(committed, fp)], fingerprint: fp)
                let missing = committed.filter { !Self.contains(set, $0) }
                #expect(missing.isEmpty, "\(name), \(size) ids: \(missing.count) committed ids not found, e.g. \(missing.prefix(3))")
                let phantom = Self.ids("ORX", 0 ..< 2_000).filter { Self.contains(set, $0) }
                #expect(phantom.isEmpty, "\(name), \(size) ids: \(phantom.prefix(3)) reported as committed")
                #expect(set.failure == nil)
            }
        }
    }

    /// A run stores its ids in (fingerprint, bytes) order, which the probe's binary search
    /// relies on: the bucketed sort equals a plain comparison sort, for uniform fingerprints
    /// (buckets of a few ids), piled-up ones (one bucket of thousands) and repeated ids.
    @Test("ids are stored in (fingerprint, bytes) order, whatever the fingerprints' spread")
    func storedOrderIsFingerprintThenBytes() throws {
        let spreads: [(String, IDFingerprint)] = Self.colliding + [
            ("sixteen values", IDFingerprint { IDFingerprint.standard.hash($0) % 16 }),
            ("top bits", IDFingerprint { IDFingerprint.standard.hash($0) & 0xFFFF_0000_0000_0000 }),
        ]
        for (name, fp) in spreads {
            for size in [0, 1, 2, 33, 5_000, 70_000] {
                let ids = Self.ids("ORD", 0 ..< size) + Self.ids("ORD", 0 ..< size / 3)
                // Each id's fingerprint and bytes computed once, not in every comparison of the sort.
                let keyed = Set(ids).map { id -> (fp: UInt64, bytes: [UInt8], id: String) in
                    var text = id
                    return (text.withUTF8 { fp.hash(UnsafeRawBufferPointer($0)) }, Array(id.utf8), id)
                }
                let expected = keyed.sorted { $0.fp != $1.fp ? $0.fp < $1.fp : $0.bytes.lexicographicallyPrecedes($1.bytes) }.map(\.id)
                let got = try Self.all(try Self.run(ids, fp))
                #expect(got == expected, "\(name), \(size) ids: first difference at \(got.indices.first { $0 >= expected.count || got[$0] != expected[$0] } ?? got.count)")
            }
        }
    }

    @Test("merging runs keeps every id exactly once, also with colliding fingerprints and runs from the older format", arguments: 0 ..< 3)
    func mergesPreserveEveryID(_ which: Int) throws {
        let (name, fp) = Self.colliding[which]
        let parts = [Self.ids("A", 0 ..< 5_000), Self.ids("B", 0 ..< 1), Self.ids("C", 0 ..< 4_097), Self.ids("D", 0 ..< 300)]
        var runs = try parts.dropLast().map { try Self.run($0, fp) }
        // A run as an older build stored it: ids in commit order in one zstd frame.
        var legacy: [UInt8] = []
        func put(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { legacy.append(contentsOf: $0) } }
        let last = parts.last!
        put(last.count)
        for id in last { put(id.utf8.count) }
        for id in last { legacy.append(contentsOf: Array(id.utf8)) }
        runs.append(try SortedIDRun.open(legacy.withUnsafeBytes { ZstdFrame.compress($0) }, expected: Int64(last.count), fingerprint: fp))

        let merged = try SortedIDRun.merge(runs, fingerprint: fp)
        let run = try SortedIDRun(payload: merged.payload)
        let expected = parts.flatMap { $0 }
        #expect(merged.count == expected.count)
        let got = try Self.all(run)
        #expect(got.count == expected.count && Set(got) == Set(expected), "\(name)")
        let set = OrderIDRunSet([run], fingerprint: fp)
        // One expectation over the ids the set misses, not one per id.
        let missed = expected.filter { !Self.contains(set, $0) }
        #expect(missed.isEmpty, "\(name): \(missed.count) ids missed, first \(missed.prefix(3))")
        #expect(!Self.contains(set, "A-5000") && !Self.contains(set, "E-0"))

        // A merge of runs that overlap (which a correct lake never has) stores each id once,
        // so its count no longer matches the catalog's and the loader rebuilds from the files.
        let overlapping = try SortedIDRun.merge([try Self.run(parts[0], fp), try Self.run(parts[0], fp)], fingerprint: fp)
        #expect(overlapping.count == parts[0].count)
    }

    @Test("a damaged run is refused when opened, or reported when a probe meets a damaged block")
    func damagedRunsAreNeverTrusted() throws {
        let fp = IDFingerprint.standard
        var r = OrderIDRun()
        for var id in Self.ids("ORD", 0 ..< 100) { id.withUTF8 { r.append(UnsafeRawBufferPointer($0)) } }
        let good = SortedIDRun.encode(r, fingerprint: fp).payload
        func u32(_ p: [UInt8], _ at: Int) -> Int { Int(p[at]) | Int(p[at + 1]) << 8 | Int(p[at + 2]) << 16 | Int(p[at + 3]) << 24 }
        func set32(_ p: inout [UInt8], _ at: Int, _ v: UInt32) { for k in 0 ..< 4 { p[at + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) } }
        // LKR3: header (20 bytes), 2^d + 1 bucket starts, then the fingerprint slices.
        #expect(u32(good, 0) == 0x3352_4B4C)
        let bits = u32(good, 16), keysAt = 20 + 4 * ((1 << bits) + 1)
        let bucket = (0 ..< (1 << bits)).first { u32(good, 20 + 4 * ($0 + 1)) - u32(good, 20 + 4 * $0) >= 2 }!
        // Fingerprints out of order within a bucket: binary search could miss a committed id.
        var swapped = good
        set32(&swapped, keysAt + 4 * u32(good, 20 + 4 * bucket), UInt32.max)
        #expect(throws: IDRunDamaged.self) { try SortedIDRun(payload: swapped) }
        // A bucket start past the run's end, or starts out of order.
        var pastEnd = good
        set32(&pastEnd, 20 + 4 * 1, 101)
        #expect(throws: IDRunDamaged.self) { try SortedIDRun(payload: pastEnd) }
        var unordered = good
        set32(&unordered, 20 + 4 * bucket, UInt32(u32(good, 20 + 4 * (bucket + 1)) + 1))
        #expect(throws: IDRunDamaged.self) { try SortedIDRun(payload: unordered) }
        // More directory bits than a reader accepts, or than the payload holds.
        var tooWide = good
        set32(&tooWide, 16, 23)
        #expect(throws: IDRunDamaged.self) { try SortedIDRun(payload: tooWide) }
        var truncated = good
        truncated.removeLast(good.count - keysAt)
        #expect(throws: IDRunDamaged.self) { try SortedIDRun(payload: truncated) }
        #expect(throws: IDRunDamaged.self) { try SortedIDRun.open(good, expected: 99, fingerprint: fp) }
        // A corrupt block: the probe cannot verify, so the set reports it and the batch refuses to commit.
        var corrupt = good
        corrupt[corrupt.count - 6] ^= 0xff
        let set = OrderIDRunSet([try SortedIDRun(payload: corrupt)], fingerprint: fp)
        _ = Self.contains(set, "ORD-5")
        #expect(set.failure != nil)
    }
}

extension OrderIDRunTests {
    /// A run in the LKR2 layout, as sessions 6-14 stored it (the layout in `SortedIDRun`'s
    /// comment): n UInt64 fingerprints, then blocks of m + 1 UInt32 offsets and the bytes.
    static func legacyLKR2(_ ids: [String], _ fp: IDFingerprint) -> [UInt8] {
        func key(_ id: String) -> UInt64 { var id = id; return id.withUTF8 { fp.hash(UnsafeRawBufferPointer($0)) } }
        let sorted = Set(ids).map { (key($0), Array($0.utf8)) }.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1.lexicographicallyPrecedes($1.1) }
        var out: [UInt8] = []
        func put32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out.append(contentsOf: $0) } }
        func put64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        let b = SortedIDRun.blockSize, k = (sorted.count + b - 1) / b
        put32(0x3252_4B4C); put32(sorted.count); put32(b); put32(k)
        for (f, _) in sorted { put64(f) }
        var frames: [[UInt8]] = []
        for j in 0 ..< k {
            let slice = sorted[j * b ..< min(sorted.count, (j + 1) * b)]
            var raw: [UInt8] = []
            var end = 0
            withUnsafeBytes(of: UInt32(0).littleEndian) { raw.append(contentsOf: $0) }
            for (_, id) in slice { end += id.count; withUnsafeBytes(of: UInt32(end).littleEndian) { raw.append(contentsOf: $0) } }
            for (_, id) in slice { raw += id }
            frames.append(raw.withUnsafeBytes { ZstdFrame.compress($0) })
        }
        var at: UInt64 = 0
        put64(0)
        for f in frames { at += UInt64(f.count); put64(at) }
        for f in frames { out += f }
        return out
    }

    /// Lakes written before session 15 hold LKR2 runs: they are probed in place, merged into
    /// LKR3 runs with the new ones, and answer exactly as a set would, under collisions too.
    @Test("runs in the LKR2 layout of older builds are read exactly, and merges rewrite them as LKR3", arguments: 0 ..< 3)
    func olderLayoutStaysReadable(_ which: Int) throws {
        let (name, fp) = Self.colliding[which]
        let old = Self.ids("ORD", 0 ..< 9_000), new = Self.ids("ORD", 9_000 ..< 9_500)
        let legacy = try SortedIDRun.open(Self.legacyLKR2(old, fp), expected: Int64(old.count), fingerprint: fp)
        #expect(!legacy.isCurrentLayout)
        let set = OrderIDRunSet([legacy, try Self.run(new, fp)], fingerprint: fp)
        for id in old where id.hashValue % 7 == 0 || id == old.last { #expect(Self.contains(set, id), "\(name): \(id) missed in the LKR2 run") }
        for id in new { #expect(Self.contains(set, id), "\(name): \(id) missed in the LKR3 run") }
        for id in Self.ids("ORD", 9_500 ..< 9_800) + Self.ids("ORX", 0 ..< 300) { #expect(!Self.contains(set, id), "\(name): \(id) reported as committed") }
        #expect(set.failure == nil)
        // Both layouts list their ids in the same (fingerprint, bytes) order.
        #expect(try Self.all(legacy) == Self.all(try Self.run(old, fp)))
        let merged = try SortedIDRun.merge(set.runs, fingerprint: fp)
        let run = try SortedIDRun(payload: merged.payload)
        #expect(run.isCurrentLayout && merged.count == old.count + new.count)
        #expect(Set(try Self.all(run)) == Set(old + new))
    }

    /// Ids are stored with LEB128 lengths: empty ids, lengths at the one-, two- and three-byte
    /// boundaries, and a block of such ids read back byte for byte.
    @Test("ids of any length, empty to past 16 KiB, are stored and found exactly")
    func idLengthsRoundTrip() throws {
        let fp = IDFingerprint.standard
        let lengths = [0, 1, 11, 127, 128, 129, 255, 16_383, 16_384, 20_000]
        let ids = lengths.map { String(repeating: "x", count: $0) } + lengths.map { "ORD-" + String(repeating: "7", count: $0) }
            + Self.ids("ORD", 0 ..< 5_000)
        let run = try Self.run(ids, fp)
        #expect(Set(try Self.all(run)) == Set(ids))
        let set = OrderIDRunSet([run], fingerprint: fp)
        for id in ids { #expect(Self.contains(set, id), "id of \(id.utf8.count) bytes missed") }
        for n in [2, 126, 130, 16_385] { #expect(!Self.contains(set, String(repeating: "x", count: n))) }
        #expect(set.failure == nil)
    }
}

extension OrderIDRunTests {
    /// The stored runs cover curated.orders and hold exactly its order ids (read from the data
    /// files), each once. Returns the number of runs.
    @discardableResult
    static func expectRunsExact(_ store: LakeStore, _ label: String) throws -> Int {
        let latest = try store.catalog.latestSnapshot().id
        guard let table = try? store.catalog.table(schema: "curated", name: "orders", at: .snapshot(latest)) else { return 0 }
        let stored = try store.catalog.keyRuns(tableID: table.tableID, column: OrderIDIndex.column, at: latest)
        #expect(stored.coverTable, "\(label): runs do not cover the table")
        var fromRuns: [String] = []
        for run in stored.runs {
            try SortedIDRun.open(run.payload, expected: run.keyCount, fingerprint: .standard).forEach {
                fromRuns.append(String(decoding: $0, as: UTF8.self))
            }
        }
        var fromFiles: [String] = []
        try OrderIDIndex.fromFiles(store, table: table, at: latest).forEach { fromFiles.append(String(decoding: $0, as: UTF8.self)) }
        #expect(fromRuns.count == fromFiles.count && Set(fromRuns) == Set(fromFiles), "\(label): runs differ from the table's ids")
        return stored.runs.count
    }

    @Test("overlapping micro-batches: tier merges keep the runs few and equal to the table's ids; the lake equals the Python reference")
    func tiersOverOverlappingMicroBatches() throws {
        let dir = try TemporaryDirectory("ingest-id-tiers")
        defer { dir.remove() }
        let store = try lakeWithCatalog(dir)
        var commits = 0
        // 16 batches of 80 lines, each overlapping the previous by 20: replayed orders meet ids
        // that by then sit in merged runs of every tier.
        for i in 0 ..< 16 {
            let path = dir.file("mb-\(i).jsonl")
            try writeLines(evaluationOrders, from: 1 + i * 60, to: 80 + i * 60, into: path)
            let s = try OrderIngest.run(store, path: path)
            if s.snapshotID != nil { commits += 1 }
            if i > 0 { #expect(s.duplicates > 0, "batch \(i) replays the previous one's tail") }

            let runs = try Self.expectRunsExact(store, "batch \(i)")
            // Binary-counter tiers: at most one run per power of two of commits, plus the new one.
            #expect(runs <= Int(log2(Double(commits))) + 2, "\(runs) runs after \(commits) commits")
        }
        let lake = try lakeView(store.root)
        let whole = dir.file("whole.jsonl")
        try writeLines(evaluationOrders, from: 1, to: 80 + 15 * 60, into: whole)
        let single = try referenceView(orders: [whole])
        let same = lake.orders == single.orders
        #expect(same, "\(lake.orders.count) orders vs \(single.orders.count) in one clean pass")
    }
}
