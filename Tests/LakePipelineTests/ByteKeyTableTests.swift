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
}
