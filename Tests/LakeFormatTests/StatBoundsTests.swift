import Foundation
import LakeTestSupport
import Testing
@testable import LakeFormat

/// Issue 14, item 9 and the pruning gap: truncated string bounds stay bounds, and the pruning
/// predicates keep a file whose min or max equals the operand.
@Suite struct StatBoundsTests {
    @Test("pruning keeps a file whose min or max equals the bound: <=, >=, <, >, =, between, in")
    func boundEqualToMinOrMax() {
        let stats = ColumnStatistics(min: .int(10), max: .int(20), nullCount: 0)
        func may(_ op: PredicateOp, _ v: Int64...) -> Bool { ColumnPredicate("c", op, v.map(StatValue.int)).mayMatch(stats) }
        // x <= min: the min row matches; x >= max: the max row matches.
        #expect(may(.le, 10))
        #expect(may(.ge, 20))
        #expect(may(.le, 20))
        #expect(may(.ge, 10))
        #expect(!may(.le, 9))
        #expect(!may(.ge, 21))
        // Strict comparisons at the bound exclude it.
        #expect(!may(.lt, 10))
        #expect(!may(.gt, 20))
        #expect(may(.lt, 11))
        #expect(may(.gt, 19))
        #expect(may(.eq, 10))
        #expect(may(.eq, 20))
        #expect(!may(.eq, 21))
        // One-day windows at either end: between D and D.
        #expect(may(.between, 10, 10))
        #expect(may(.between, 20, 20))
        #expect(may(.between, 0, 10))
        #expect(may(.between, 20, 30))
        #expect(!may(.between, 21, 30))
        #expect(!may(.between, 0, 9))
        #expect(may(.in, 1, 20))
        #expect(!may(.in, 1, 21))
        // A single-value file (a partition value): min == max == the bound.
        let one = ColumnStatistics(min: .int(15), max: .int(15), nullCount: 0)
        for op in [PredicateOp.le, .ge, .eq] { #expect(ColumnPredicate("c", op, [.int(15)]).mayMatch(one), "\(op)") }
        #expect(ColumnPredicate("c", .between, [.int(15), .int(15)]).mayMatch(one))
    }

    @Test("truncated min is a lower bound and truncated max an upper bound, on character boundaries")
    func truncationKeepsBounds() throws {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [String] = ["a", "z", "é", "€", "😀", "\u{7F}", "\u{FFFF}", "\u{10FFFF}", "0"]
        for _ in 0 ..< 2_000 {
            let n = Int.random(in: 0 ... 120, using: &rng)
            let s = (0 ..< n).map { _ in alphabet.randomElement(using: &rng)! }.joined()
            let v = Array(s.utf8)
            let lo = StatBounds.lower(v), hi = StatBounds.upper(v)
            #expect(!v.lexicographicallyPrecedes(lo), "lower bound above the value")
            #expect(!hi.lexicographicallyPrecedes(v), "upper bound below the value")
            #expect(String(validating: lo, as: UTF8.self) != nil && String(validating: hi, as: UTF8.self) != nil)
            if v.count <= StatBounds.maxBytes { #expect(lo == v && hi == v) }
            // Every value sharing the truncated prefix still sorts below the max bound.
            if v.count > StatBounds.maxBytes, hi != v {
                #expect(lo.count <= StatBounds.maxBytes && hi.count <= StatBounds.maxBytes + 3)
                let longer = v + Array(repeating: 0xF4, count: 10)
                #expect(longer.lexicographicallyPrecedes(hi))
            }
        }
        // All U+10FFFF: no shorter upper bound exists, so the value itself is kept.
        let top = Array(String(repeating: "\u{10FFFF}", count: 40).utf8)
        #expect(StatBounds.upper(top) == top)
    }

    @Test("a 1 MB string is stored as 64-byte bounds in the footer, and pruning still finds it")
    func longStringFooterStatistics() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let long = String(repeating: "x", count: 1 << 20) + "tail"
        let values = ["a", long, "m"]
        let schema = Schema([Field("s", .string)])
        let batch = RecordBatch(schema: schema, columns: [Column(.string(StringColumn(values)))])
        let path = dir.file("long.parquet")
        var options = ParquetWriteOptions()
        options.dictionary = false
        let summary = try ParquetFileWriter.write(batch, to: path, options: options)
        let fileSize = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        // The footer (and so the whole file: 1 MB of 'x' compresses to little) holds no copy of the value.
        #expect(summary.footerSize < 1_000)
        #expect(fileSize < 100_000)
        let reader = try ParquetFileReader(path: path)
        let stats = try #require(reader.statistics(rowGroup: 0, column: 0))
        guard case .bytes(let lo)? = stats.min, case .bytes(let hi)? = stats.max else { Issue.record("no string stats"); return }
        #expect(lo == Array("a".utf8))
        #expect(hi.count <= StatBounds.maxBytes && !hi.lexicographicallyPrecedes(Array(long.utf8)))
        #expect(summary.columnStatistics[0].max == .bytes(hi))
        // Equality on the long value, and on a value just above its prefix, keeps or prunes correctly.
        #expect(reader.rowGroups(matching: [ColumnPredicate("s", .eq, [.string(long)])]) == [0])
        #expect(reader.rowGroups(matching: [ColumnPredicate("s", .ge, [.string(long)])]) == [0])
        #expect(reader.rowGroups(matching: [ColumnPredicate("s", .gt, [.string("y")])]) == [])
        #expect(try reader.readAll().columns[0].string(at: 1) == long)
    }

    @Test("input text in messages: control bytes, BOM, bidi and invalid UTF-8 are made visible")
    func visibleText() {
        #expect(VisibleText.escape("\u{FEFF}product_id") == "\\u{FEFF}product_id")
        #expect(VisibleText.escape("a\u{1B}[2Jb\tc\n") == "a\\u{001B}[2Jb\\tc\\n")
        #expect(VisibleText.escape("\u{202E}abc") == "\\u{202E}abc")
        #expect(VisibleText.escape("plain café €") == "plain café €")
        #expect(VisibleText.escape(bytes: [0x61, 0xFF, 0xEF, 0xBB, 0xBF, 0x62]) == "a\\x{FF}\\u{FEFF}b")
        #expect(VisibleText.escape(bytes: [0xE2, 0x82]) == "\\x{E2}\\x{82}")
    }
}
