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

    /// NULL's key code is Int64.min, which is also -0.0's bit pattern and a real int64 value:
    /// each must still be its own group, -0.0 must group with 0.0 (they compare equal) and every
    /// NaN be one value, as in DuckDB.
    @Test("NULL is its own group, apart from -0.0 and from Int64.min; -0.0 groups with 0.0; NaNs are one value")
    func nullsAndSignedZeros() throws {
        let schema = Schema([Field("x", .double, nullable: true), Field("n", .int64, nullable: true)])
        let x = Column(.double([0.0, -0.0, 0, 1.5, .nan, -Double.nan, 2.5]), validity: [true, true, false, true, true, true, true])
        let n = Column(.int64([.min, 0, 7, .min, 1, 1, 0]), validity: [true, false, true, true, true, true, false])
        let batch = ScanBatch(batch: RecordBatch(schema: schema, columns: [x, n]), selection: nil)
        let types: [String: ColumnType] = ["x": .double, "n": .int64]
        func groups(_ by: String, _ agg: String) throws -> [String: Int64] {
            var g = try Grouper(groupBy: [by], aggregates: [try AggregateSpec.parse("count(*)"), try AggregateSpec.parse(agg)], types: types)
            try g.add(batch)
            var out: [String: Int64] = [:]
            for row in g.result().rows {
                guard case .int(let count) = row[1] else { Issue.record("count is \(row[1])"); continue }
                out["\(row[0])", default: 0] += count
            }
            return out
        }
        let byX = try groups("x", "count_distinct(n)")
        #expect(byX.count == 5, "groups: 0 (0.0 and -0.0), NULL, 1.5, NaN (two NaNs), 2.5 → \(byX)")
        #expect(byX.values.sorted() == [1, 1, 1, 2, 2], "\(byX)")
        let byN = try groups("n", "count_distinct(x)")
        #expect(byN.count == 4, "groups: Int64.min (2 rows), NULL (2 rows), 7, 1 (2 rows) → \(byN)")
        #expect(byN.values.sorted() == [1, 2, 2, 2], "\(byN)")
        // count_distinct over 0.0 and -0.0 (and two NaNs): one value each.
        var all = try Grouper(groupBy: [], aggregates: [try AggregateSpec.parse("count_distinct(x)")], types: types)
        try all.add(batch)
        #expect(all.result().rows.first?.first == .int(4), "0, 1.5, NaN, 2.5: \(all.result().rows)")
    }
}
