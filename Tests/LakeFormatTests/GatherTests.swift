@testable import LakeFormat
import Testing

/// `RecordBatch.gather` and `Column.concatenate` copy in bulk (one bounds check per gather, one
/// byte copy per string range): each must equal the value-by-value result.
@Suite("Gather and concatenate")
struct GatherTests {
    static func batch() -> RecordBatch {
        let schema = Schema([Field("s", .string, nullable: true), Field("i", .int64), Field("d", .string), Field("b", .bool)])
        let strings = ["", "a", "bcd", "ééé", "", "longer value here", "x"]
        let s = Column(.string(StringColumn(strings)), validity: [true, false, true, true, true, false, true])
        let i = Column(.int64([10, 20, 30, 40, 50, 60, 70]))
        let d = Column(.dictionary(indices: [1, 0, 1, 2, 2, 0, 1], values: StringColumn(["p", "q", "r"])))
        let b = Column(.bool([true, false, false, true, true, false, true]))
        return RecordBatch(schema: schema, columns: [s, i, d, b])
    }

    @Test("gather equals picking each row, with repeats, reordering and an empty selection")
    func gatherMatchesRowByRow() {
        let b = Self.batch()
        for rows in [[6, 0, 3, 3, 5, 1], [], [4], Array(0 ..< 7)] {
            let g = b.gather(rows)
            #expect(g.count == rows.count)
            for (k, r) in rows.enumerated() {
                for c in b.columns.indices {
                    #expect(g.columns[c].isNull(k) == b.columns[c].isNull(r))
                    #expect(g.columns[c].string(at: k) == b.columns[c].string(at: r))
                }
                guard case .int64(let gi) = g.columns[1].data, case .int64(let bi) = b.columns[1].data,
                      case .bool(let gb) = g.columns[3].data, case .bool(let bb) = b.columns[3].data else { Issue.record("types changed"); return }
                #expect(gi[k] == bi[r] && gb[k] == bb[r])
            }
            guard case .string(let s) = g.columns[0].data else { Issue.record("string column changed kind"); return }
            #expect(s.offsets.count == rows.count + 1)
            #expect(s.bytes.count == Int(s.offsets.last!))
        }
    }

    @Test("concatenating string ranges rebases offsets and keeps every value")
    func concatenateStringRanges() {
        let b = Self.batch()
        let parts: [(RecordBatch, Range<Int>)] = [(b, 2 ..< 5), (b, 0 ..< 0), (b, 5 ..< 7), (b, 0 ..< 2)]
        let c = RecordBatch.concatenate(parts, schema: b.schema)
        let rows = Array(2 ..< 5) + Array(5 ..< 7) + Array(0 ..< 2)
        // Parts of one dictionary column (the same values storage) stay dictionary-encoded.
        #expect(c == b.gather(rows))
        #expect(c.materializedStrings() == b.gather(rows).materializedStrings())
        // Parts over different (even if equal) dictionaries are expanded to strings.
        let other = RecordBatch(schema: b.schema, columns: b.columns.map { col in
            guard case .dictionary(let idx, let values) = col.data else { return col }
            var copy = StringColumn()
            for i in 0 ..< values.count { copy.append(values[i]) }
            return Column(.dictionary(indices: idx, values: copy), validity: col.validity)
        })
        let mixed = RecordBatch.concatenate([(b, 2 ..< 5), (other, 5 ..< 7)], schema: b.schema)
        guard case .string = mixed.columns[2].data else { Issue.record("parts over different dictionaries must be expanded"); return }
        #expect(mixed == b.gather(Array(2 ..< 7)).materializedStrings())
    }
}

extension RecordBatch {
    /// Dictionary columns expanded, as `concatenate` returns parts over different dictionaries.
    func materializedStrings() -> RecordBatch { RecordBatch(schema: schema, columns: columns.map { $0.materialized() }) }
}

@Suite("Removing rows")
struct RemovingRowsTests {
    @Test("removing rows equals gathering the others: runs at either end, adjacent drops, all or none")
    func removingMatchesGather() {
        let b = GatherTests.batch()
        for drop in [[], [0], [6], [0, 1, 2, 3, 4, 5, 6], [1, 2], [0, 3, 6], [2, 4, 5], [5]] {
            let keep = (0 ..< b.count).filter { !drop.contains($0) }
            let r = b.removing(rows: drop)
            #expect(r == b.gather(keep), "drop \(drop)")
            #expect(r.materializedStrings() == b.gather(keep).materializedStrings(), "drop \(drop)")
            guard case .string(let s) = r.columns[0].data else { Issue.record("string column changed kind"); return }
            #expect(s.offsets.count == keep.count + 1 && s.offsets[0] == 0)
            #expect(s.bytes.count == Int(s.offsets.last!))
        }
    }
}
