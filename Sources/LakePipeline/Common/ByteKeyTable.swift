import CLakeSupport

/// A hash map from byte strings to Int32, with every key stored in one contiguous buffer.
/// Looking up "PROD-007" or "ORD-123456" straight from a parser's byte slice needs no String,
/// no allocation and no per-key object; a million order ids cost ~ (id bytes + 24) bytes each.
/// Keys are compared byte for byte, so two different ids can never be confused (a bare 64-bit
/// hash as the key could collide and silently drop a real order as a "duplicate").
public struct ByteKeyTable: Sendable {
    /// 0 empty, else the key's hash's high 32 bits (a tag) << 32 | (entry index + 1): a probe
    /// reads one slot and compares a key's bytes only on a tag match, so an insert into a big
    /// table costs one cache miss (on the slot), not three (slot, hash, key).
    private var slots: [UInt64]
    private var keyOffsets: [Int]       // per entry + 1
    private var keyBytes: [UInt8]
    public private(set) var values: [Int32]
    private var mask: Int
    /// Tests only: every key gets this hash, so every lookup walks colliding entries and must
    /// tell them apart by their bytes.
    private let forcedHash: UInt64?

    public init(capacity: Int = 64, forcedHash: UInt64? = nil) {
        self.forcedHash = forcedHash
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
        keyOffsets = [0]
        keyBytes = []
        values = []
    }

    public var count: Int { values.count }

    /// The table's hash of `key`: computed once (e.g. on the thread that parsed the key) and
    /// passed to `insertIfAbsent(_:hash:value:)` and `prefetch(hash:)`.
    /// 8 bytes a step, finished by SplitMix64's mixer so that both the slot (low bits) and the
    /// tag (high 32 bits) depend on every byte. It was fnv1a64, a dependent multiply per byte:
    /// about 90 cycles for an order id and a product id, on every line. In memory only: nothing
    /// stored depends on it (the key runs' fingerprints are `IDFingerprint`'s).
    @inline(__always)
    public static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        let n = key.count
        var h = 0x9E37_79B9_7F4A_7C15 &* UInt64(n &+ 1)
        @inline(__always) func step(_ w: UInt64) {
            h = (h ^ w) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
        }
        if let p = key.baseAddress, n > 0 {
            if n >= 8 {
                var i = 0
                while i + 8 <= n {
                    step(UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
                    i += 8
                }
                // The last n - i bytes, read as the top of the word that ends the key.
                if i < n { step(UInt64(littleEndian: p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)) >> UInt64(8 * (8 - (n - i)))) }
            } else if n >= 4 {
                let lo = UInt64(UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
                let hi = UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)))
                step(lo | hi << 32)
            } else {
                step(UInt64(key[0]) | UInt64(key[n >> 1]) << 8 | UInt64(key[n - 1]) << 16)
            }
        }
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }

    /// The key of entry `i` (entries are numbered in insertion order).
    public func key(_ i: Int) -> String {
        String(decoding: keyBytes[keyOffsets[i] ..< keyOffsets[i + 1]], as: UTF8.self)
    }

    @inline(__always)
    private func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> (slot: Int, entry: Int32) {
        var s = Int(truncatingIfNeeded: hash) & mask
        let tag = hash >> 32
        return slots.withUnsafeBufferPointer { sl in
            keyBytes.withUnsafeBytes { kb in
                keyOffsets.withUnsafeBufferPointer { ko in
                    while true {
                        let v = sl[s]
                        if v == 0 { return (s, -1) }
                        if v >> 32 == tag {
                            let ei = Int(truncatingIfNeeded: v & 0xFFFF_FFFF) - 1
                            let start = ko[ei], end = ko[ei + 1]
                            if end - start == key.count
                                && (key.count == 0 || memcmpEqual(kb.baseAddress! + start, key.baseAddress!, key.count)) {
                                return (s, Int32(ei))
                            }
                        }
                        s = (s + 1) & mask
                    }
                }
            }
        }
    }

    /// Starts loading the slot a key with `hash` probes first, so that an insert a few keys
    /// later finds it in cache (see `FirstOccurrences.claim`).
    @inline(__always)
    public func prefetch(hash: UInt64) {
        let s = Int(truncatingIfNeeded: forcedHash ?? hash) & mask
        slots.withUnsafeBufferPointer { lake_prefetch_for_write($0.baseAddress! + s) }
    }

    /// The value stored for `key`, or nil.
    @inline(__always)
    public func value(for key: UnsafeRawBufferPointer) -> Int32? {
        let r = find(key, hash: forcedHash ?? Self.hash(key))
        return r.entry < 0 ? nil : values[Int(r.entry)]
    }

    public func contains(_ key: UnsafeRawBufferPointer) -> Bool { value(for: key) != nil }

    public func value(for key: String) -> Int32? {
        var key = key
        return key.withUTF8 { value(for: UnsafeRawBufferPointer($0)) }
    }

    /// Inserts `key` -> `value` unless present. Returns the existing value when the key was
    /// already there (the table is unchanged), nil when it was inserted.
    @discardableResult
    @inline(__always)
    public mutating func insertIfAbsent(_ key: UnsafeRawBufferPointer, value: Int32) -> Int32? {
        insertIfAbsent(key, hash: Self.hash(key), value: value)
    }

    /// `insertIfAbsent(_:value:)` with the key's `hash(_:)` computed by the caller.
    @discardableResult
    public mutating func insertIfAbsent(_ key: UnsafeRawBufferPointer, hash computed: UInt64, value: Int32) -> Int32? {
        let hash = forcedHash ?? computed
        let r = find(key, hash: hash)
        if r.entry >= 0 { return values[Int(r.entry)] }
        let entry = values.count
        slots[r.slot] = (hash >> 32) << 32 | UInt64(entry + 1)
        keyBytes.append(contentsOf: key)
        keyOffsets.append(keyBytes.count)
        values.append(value)
        if values.count * 2 > slots.count { grow() }
        return nil
    }

    @discardableResult
    public mutating func insertIfAbsent(_ key: String, value: Int32) -> Int32? {
        var key = key
        return key.withUTF8 { insertIfAbsent(UnsafeRawBufferPointer($0), value: value) }
    }

    /// Calls `body` with every key's bytes, in insertion order, without copying them.
    public func forEachKey(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        try keyBytes.withUnsafeBytes { kb in
            for i in 0 ..< values.count {
                try body(UnsafeRawBufferPointer(rebasing: kb[keyOffsets[i] ..< keyOffsets[i + 1]]))
            }
        }
    }

    /// Hands over every key (the bytes and the `count + 1` offsets into them, in insertion
    /// order) without copying them, and empties the table, releasing its slots.
    public mutating func takeKeys() -> (bytes: [UInt8], offsets: [Int]) {
        let keys = (keyBytes, keyOffsets)
        self = ByteKeyTable(capacity: 0, forcedHash: forcedHash)
        return keys
    }

    /// Sizes the table for about `capacity` keys of about `keyBytes` bytes each, so filling it
    /// does not rehash or copy its arrays along the way. Keeps every entry.
    public mutating func reserve(capacity: Int, keyBytes bytesPerKey: Int) {
        keyOffsets.reserveCapacity(capacity + 1)
        values.reserveCapacity(capacity)
        keyBytes.reserveCapacity(capacity * bytesPerKey)
        var size = slots.count
        while size < capacity * 2 { size <<= 1 }
        if size > slots.count { rehash(size: size) }
    }

    private mutating func grow() { rehash(size: slots.count * 2) }

    /// Hashes are not stored (the slot keeps only their high half): a rehash, rare once the
    /// table is reserved, computes them again from the keys.
    private mutating func rehash(size: Int) {
        var fresh = [UInt64](repeating: 0, count: size)
        let newMask = size - 1
        keyBytes.withUnsafeBytes { kb in
            for i in 0 ..< values.count {
                let hash = forcedHash ?? Self.hash(UnsafeRawBufferPointer(rebasing: kb[keyOffsets[i] ..< keyOffsets[i + 1]]))
                var s = Int(truncatingIfNeeded: hash) & newMask
                while fresh[s] != 0 { s = (s + 1) & newMask }
                fresh[s] = (hash >> 32) << 32 | UInt64(i + 1)
            }
        }
        slots = fresh
        mask = newMask
    }
}

@inline(__always)
func memcmpEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
        i += 8
    }
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}
