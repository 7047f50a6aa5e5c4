@testable import LakeQuery
import Testing

/// Forced collisions for the query engine's open-addressing tables: keys chosen (with the
/// tables' own mixing, restated here) to land in one home slot of the first table size, so
/// every lookup walks a probe run and must tell keys apart by comparing them; then enough
/// keys to grow the table several times with those runs in it.
@Suite("Query: group table and distinct codes under forced collisions")
struct GroupTableCollisionTests {
    /// GroupTable's home slot for a table of 16 slots.
    static func groupSlot(_ k: Grouper.Key) -> Int {
        var h = UInt64(bitPattern: k.a) &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ (h >> 29) ^ UInt64(bitPattern: k.b)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 32) ^ UInt64(bitPattern: k.c)) &* 0x94D0_49BB_1331_11EB
        h = (h ^ (h >> 29) ^ UInt64(bitPattern: k.d)) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: h ^ (h >> 32)) & 15
    }

    /// DistinctCodes' home slot for a set of 16 slots.
    static func codeSlot(_ v: Int64) -> Int {
        var h = UInt64(bitPattern: v) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 32
        return Int(truncatingIfNeeded: h) & 15
    }

    @Test("keys sharing one home slot keep distinct group numbers through growth")
    func groupTableCollisions() {
        var colliding: [Grouper.Key] = []
        var a: Int64 = -50_000
        while colliding.count < 7 {
            let k = Grouper.Key(a: a, b: a % 3, c: .min, d: 0)
            if Self.groupSlot(k) == 5 { colliding.append(k) }
            a += 1
        }
        var ours = GroupTable()
        var dict: [Grouper.Key: Int] = [:]
        // The colliding keys first (7 of 16 slots: no growth yet), each looked up before and after.
        let all = colliding + colliding.reversed() + (0 ..< 5_000).map { Grouper.Key(a: Int64($0 % 1_700), b: 0, c: Int64($0 % 3), d: -1) } + colliding
        for key in all {
            #expect(ours.group(of: key) == dict[key])
            if dict[key] == nil {
                dict[key] = dict.count
                ours.insert(key, group: dict.count - 1)
            }
            #expect(ours.group(of: key) == dict[key])
        }
        for (key, g) in dict { #expect(ours.group(of: key) == g) }
    }

    @Test("codes sharing one home slot (0 among them) are each counted once through growth")
    func distinctCollisions() {
        var colliding: [Int64] = [0]
        var v: Int64 = 1
        while colliding.count < 8 {
            if Self.codeSlot(v) == Self.codeSlot(.min) { colliding.append(v) }
            v += 1
        }
        colliding.append(.min)
        var ours = DistinctCodes()
        var set = Set<Int64>()
        for x in colliding + colliding + (0 ..< 3_000).map { Int64($0) * 7 } + colliding.reversed() {
            ours.insert(x)
            set.insert(x)
            #expect(ours.count == set.count)
        }
    }
}
