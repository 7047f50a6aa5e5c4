import LakeFormat
@testable import LakeQuery
import Testing

/// The query engine's group table and count_distinct set (linear probing, multiplicative hash)
/// against Swift's Dictionary and Set on the same codes: zero, negatives, Int64.min/max,
/// colliding low bits, repeats, and enough keys to grow several times.
@Suite("Query: group table and distinct codes")
struct GroupTableTests {
    static func codes() -> [Int64] {
        var rng = SystemRandomNumberGenerator()
        var out: [Int64] = [0, 0, -1, 1, .min, .max, .min, 4096, 8192, 16384]
        for _ in 0 ..< 20_000 { out.append(Int64.random(in: -3_000 ... 3_000, using: &rng)) }
        for i in 0 ..< 2_000 { out.append(Int64(i) << 20) }  // same low bits
        return out
    }

    @Test("DistinctCodes counts what Set<Int64> counts")
    func distinctMatchesSet() {
        var set = Set<Int64>()
        var ours = DistinctCodes()
        for v in Self.codes() {
            set.insert(v)
            ours.insert(v)
            #expect(ours.count == set.count)
        }
        #expect(ours.count == set.count)
    }

    @Test("GroupTable numbers keys as a Dictionary would, in first-seen order")
    func groupTableMatchesDictionary() {
        var dict: [Grouper.Key: Int] = [:]
        var ours = GroupTable()
        let codes = Self.codes()
        for (i, v) in codes.enumerated() {
            let key = Grouper.Key(a: v, b: codes[(i * 7) % codes.count] % 3, c: 0, d: i % 2 == 0 ? .min : 5)
            let expected = dict[key]
            #expect(ours.group(of: key) == expected)
            if expected == nil {
                dict[key] = dict.count
                ours.insert(key, group: dict.count - 1)
            }
        }
        for (key, g) in dict { #expect(ours.group(of: key) == g) }
    }
}
