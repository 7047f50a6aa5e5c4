@testable import LakeFormat
import Testing

/// Adversarial cases for the bulk copies of `gather` and `concatenate`: string columns whose
/// offsets do not start at 0 (a column viewed inside a larger buffer), multi-byte UTF-8,
/// empty strings, nulls in some parts only, dictionary and plain parts mixed, empty ranges.
@Suite("Gather and concatenate: offsets not at 0, multi-byte UTF-8, mixed parts")
struct GatherEdgeCaseTests {
    /// "é", "漢字", "" (a null's placeholder), "🦆!" stored after 3 bytes of other data.
    static func offsetColumn() -> Column {
        let values = ["é", "漢字", "", "🦆!"]
        var bytes: [UInt8] = Array("zzz".utf8)
        var offsets: [Int32] = [3]
        for v in values { bytes += Array(v.utf8); offsets.append(Int32(bytes.count)) }
        bytes += Array("tail".utf8)
        return Column(.string(StringColumn(offsets: offsets, bytes: bytes)), validity: [true, true, false, true])
    }

    static func expected(_ c: Column, _ rows: [Int]) -> [String?] { rows.map { c.string(at: $0) } }

    @Test("gather of a string column whose offsets start past 0 copies each value's own bytes")
    func gatherWithBaseOffset() {
        let c = Self.offsetColumn()
        let b = RecordBatch(schema: Schema([Field("s", .string, nullable: true)]), columns: [c])
        for rows in [[3, 0, 1, 2, 1], [], [2], [3, 3, 3]] {
            let g = b.gather(rows).columns[0]
            #expect(Self.expected(g, Array(0 ..< rows.count)) == Self.expected(c, rows))
            guard case .string(let s) = g.data else { Issue.record("kind changed"); continue }
            #expect(s.offsets.first == 0 && s.bytes.count == Int(s.offsets.last!))
        }
    }

    @Test("concatenate of offset-based, plain and dictionary parts with empty ranges and partial nulls")
    func concatenateMixedParts() {
        let a = Self.offsetColumn()
        let plain = Column(.string(StringColumn(["ß", "", "Ω≈"])))
        let dict = Column(.dictionary(indices: [2, 0, 1, 2], values: StringColumn(["日本", "", "x"])), validity: [true, false, true, true])
        let parts: [(Column, Range<Int>)] = [(a, 1 ..< 4), (plain, 0 ..< 0), (dict, 0 ..< 4), (a, 0 ..< 1), (plain, 1 ..< 3), (a, 4 ..< 4)]
        let c = Column.concatenate(parts)
        let want = parts.flatMap { col, r in r.map { col.string(at: $0) } }
        #expect(Self.expected(c, Array(0 ..< c.count)) == want)
        #expect(c.count == want.count)
        guard case .string(let s) = c.data else { Issue.record("kind changed"); return }
        #expect(s.offsets.first == 0 && s.bytes.count == Int(s.offsets.last!))
        #expect(zip(s.offsets, s.offsets.dropFirst()).allSatisfy { $0 <= $1 })
    }
}
