import Testing
@testable import LakePipeline

/// `ByteKeyTable` keeps only a tag of each key's hash in its slots and rehashes from the keys:
/// every key must survive growth, under real hashes and under one forced hash for all keys.
@Suite("Byte-keyed table: exact keys through growth, tags and forced collisions")
struct ByteKeyTableTests {
    static func withBytes<R>(_ s: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        var s = s
        return s.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }

    @Test("keys keep their values and insertion order as the table grows from 16 slots",
          arguments: [nil, UInt64(0xDEAD_BEEF_0000_0001)] as [UInt64?])
    func growth(forced: UInt64?) {
        let n = forced == nil ? 20_000 : 600  // every forced-hash probe walks all keys
        var table = ByteKeyTable(capacity: 0, forcedHash: forced)
        for i in 0 ..< n {
            let id = "ORD-\(i)"
            // Half through the caller-computed hash, half through the table's own.
            let previous = Self.withBytes(id) { k in
                i.isMultiple(of: 2) ? table.insertIfAbsent(k, hash: ByteKeyTable.hash(k), value: Int32(i))
                                    : table.insertIfAbsent(k, value: Int32(i))
            }
            #expect(previous == nil)
        }
        #expect(table.count == n)
        for i in stride(from: 0, to: n, by: 7) {
            #expect(table.value(for: "ORD-\(i)") == Int32(i))
            #expect(table.key(i) == "ORD-\(i)")
            // A second insert finds the first and leaves its value.
            let again = Self.withBytes("ORD-\(i)") { table.insertIfAbsent($0, hash: ByteKeyTable.hash($0), value: -1) }
            #expect(again == Int32(i))
        }
        #expect(table.value(for: "ORD-\(n)") == nil)
        #expect(table.value(for: "ORD-") == nil)
        #expect(table.count == n)
    }

    @Test("keys with one hash (same slot tag, same home slot) are told apart by their bytes, prefixes and the empty key included")
    func sameTag() {
        var table = ByteKeyTable(capacity: 64, forcedHash: 0x1234_5678_0000_0000)
        for (i, id) in ["A", "AB", "ABC", "", "B"].enumerated() {
            #expect(Self.withBytes(id) { table.insertIfAbsent($0, hash: 0, value: Int32(i)) } == nil)
        }
        #expect(table.value(for: "ABC") == 2)
        #expect(table.value(for: "") == 3)
        #expect(table.value(for: "ABCD") == nil)
        table.reserve(capacity: 10_000, keyBytes: 4)
        #expect(table.value(for: "B") == 4)
        #expect(table.value(for: "A") == 0)
    }

    /// The hash reads keys a word at a time, with overlapping loads for the tail: every byte
    /// of every length up to 40 must change it (slot bits and tag bits both), and equal bytes
    /// at another address must give the same hash.
    @Test("the hash depends on every byte of keys of 0 to 40 bytes, in its slot and tag bits")
    func hashReadsEveryByte() {
        var buffer = [UInt8](repeating: 0, count: 64)
        for (i, _) in buffer.enumerated() { buffer[i] = UInt8(truncatingIfNeeded: i &* 37 &+ 11) }
        for n in 0 ... 40 {
            buffer.withUnsafeMutableBytes { b in
                let key = UnsafeRawBufferPointer(rebasing: b[8 ..< 8 + n])
                let h = ByteKeyTable.hash(key)
                let copy = Array(key)
                #expect(copy.withUnsafeBytes { ByteKeyTable.hash($0) } == h, "length \(n): depends on the address")
                if n > 0 {
                    #expect(ByteKeyTable.hash(UnsafeRawBufferPointer(rebasing: b[8 ..< 7 + n])) != h, "length \(n): the last byte is ignored")
                }
                for at in 0 ..< n {
                    for bit in [0, 7] {
                        b[8 + at] ^= UInt8(1 << bit)
                        let g = ByteKeyTable.hash(UnsafeRawBufferPointer(rebasing: b[8 ..< 8 + n]))
                        b[8 + at] ^= UInt8(1 << bit)
                        #expect(g & 0xFFFF != h & 0xFFFF && g >> 32 != h >> 32, "length \(n), byte \(at), bit \(bit)")
                    }
                }
                // Bytes outside the key (before and after it) do not change it.
                b[7] ^= 0xFF
                b[8 + n] ^= 0xFF
                #expect(ByteKeyTable.hash(UnsafeRawBufferPointer(rebasing: b[8 ..< 8 + n])) == h, "length \(n): reads outside the key")
                b[7] ^= 0xFF
                b[8 + n] ^= 0xFF
            }
        }
    }
}
