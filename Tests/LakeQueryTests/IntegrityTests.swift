import Foundation
import LakeCatalog
import LakeFormat
import LakeQuery
import LakeTestSupport
import Testing

/// Corruption is an error, never an answer: the footer bit-flip sweep of issue 14 item 4.
@Suite("Integrity: a corrupted data file errors, it never answers differently", .serialized)
struct IntegrityTests {
    /// The answers the issue saw go wrong: one day's orders (every column), that day's
    /// daily-revenue report, and revenue by channel over the whole table.
    static func answers(_ catalog: Catalog, date: String) throws -> [ResultTable] {
        var day = QuerySpec(table: "orders")
        day.conditions = ["event_date = \(date)"]
        var byChannel = QuerySpec(table: "orders")
        byChannel.groupBy = ["channel"]
        byChannel.aggregates = [try AggregateSpec.parse("sum(order_total)"), try AggregateSpec.parse("count(*)")]
        var options = ReportOptions()
        let days = try #require(Timestamps.parseDate(date))
        options.from = Int32(days)
        options.to = Int32(days)
        return [try Query.run(day, catalog: catalog).table, try Query.run(byChannel, catalog: catalog).table]
            + (try Reports.run(.dailyRevenue, catalog: catalog, options: options).sections)
    }

    /// The curated.orders file with the most rows, and its event date.
    static func target(_ catalog: Catalog) throws -> (file: DataFile, date: String) {
        let t = try catalog.table(schema: "curated", name: "orders")
        let f = try #require(try catalog.dataFiles(tableID: t.tableID).max { $0.recordCount < $1.recordCount })
        return (f, try #require(f.partitionValues["event_date"]))
    }

    struct Sweep {
        var trials = 0
        var errors = 0
        var same = 0
        var different: [Int] = []
    }

    /// Flips each bit in `bits` of the file in place (one byte written, then written back) and
    /// sorts every trial into error / same answer / different answer.
    static func sweep<A: Equatable>(_ path: String, bits: [Int], answer: () throws -> A, expected: A) throws -> Sweep {
        let url = URL(fileURLWithPath: path)
        let original = try [UInt8](Data(contentsOf: url))
        let handle = try FileHandle(forWritingTo: url)
        defer {
            try? handle.close()
            try? Data(original).write(to: url)
        }
        var s = Sweep()
        for bit in bits {
            let at = UInt64(bit / 8)
            try handle.seek(toOffset: at)
            try handle.write(contentsOf: [original[bit / 8] ^ (UInt8(1) << UInt8(bit % 8))])
            s.trials += 1
            do {
                if try answer() == expected { s.same += 1 } else { s.different.append(bit) }
            } catch {
                s.errors += 1
            }
            try handle.seek(toOffset: at)
            try handle.write(contentsOf: [original[bit / 8]])
        }
        return s
    }

    /// Every bit of the file's last `footer + 8` bytes: the Thrift footer, its length, the magic.
    static func footerBits(_ file: DataFile) throws -> [Int] {
        let size = Int(file.fileSizeBytes)
        let footer = Int(try #require(file.footerSize))
        return Array((size - footer - 8) * 8 ..< size * 8)
    }

    /// The file's rows as the catalog layer reads them (every column, by field id), with
    /// dictionary columns materialized so equal values compare equal.
    static func rows(_ file: DataFile, _ table: TableInfo) throws -> [[Column]] {
        // The lake is local: a storage rooted at "/" reads the catalog's absolute paths.
        try DataFileReader(file, columns: table.columns, files: LakeFiles(storage: LocalStorage(root: "/"), root: URL(fileURLWithPath: "/")))
            .read(parallelism: 1).map { $0.columns.map { $0.materialized() } }
    }

    @Test("footer bit-flip sweep, every bit: with the footer checksum recorded at commit, each flip is an error")
    func footerBitFlipSweep() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let (file, _) = try Self.target(lake.catalog)
        let table = try lake.catalog.table(id: file.tableID)
        #expect(file.footerChecksum != nil)
        let expected = try Self.rows(file, table)
        #expect(expected.reduce(0) { $0 + ($1.first?.count ?? 0) } == Int(file.recordCount))
        let bits = try Self.footerBits(file)
        let started = Date()
        let recorded = try Self.sweep(file.path, bits: bits, answer: { try Self.rows(file, table) }, expected: expected)
        print("footer sweep, checksum recorded: \(recorded.trials) trials over \(bits.count / 8) bytes, \(recorded.errors) errors, \(recorded.same) same, \(recorded.different.count) different, \(Date().timeIntervalSince(started)) s")
        #expect(recorded.trials == bits.count)
        #expect(recorded.errors == recorded.trials)

        #expect(try Self.rows(file, table) == expected)
    }

    @Test("whole-file bit-flip sweep, every bit (magic, page headers, pages, footer): each flip errors or reads the same rows")
    func wholeFileBitFlipSweep() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let (file, _) = try Self.target(lake.catalog)
        let table = try lake.catalog.table(id: file.tableID)
        let expected = try Self.rows(file, table)
        let bits = Array(0 ..< Int(file.fileSizeBytes) * 8)
        let started = Date()
        let s = try Self.sweep(file.path, bits: bits, answer: { try Self.rows(file, table) }, expected: expected)
        print("whole-file sweep: \(s.trials) trials over \(file.fileSizeBytes) bytes, \(s.errors) errors, \(s.same) same, \(s.different.count) different (bytes \(s.different.prefix(30).map { $0 / 8 })), \(Date().timeIntervalSince(started)) s")
        #expect(s.different.isEmpty)
    }

    @Test("footer bit-flip sweep checked by size only (a file another tool wrote, no recorded checksum), every bit: each flip errors or reads the same rows, except a timestamp unit's")
    func footerBitFlipSweepSizeOnly() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let (recorded, _) = try Self.target(lake.catalog)
        let table = try lake.catalog.table(id: recorded.tableID)
        var file = recorded
        file.footerChecksum = nil
        let expected = try Self.rows(file, table)
        let bits = try Self.footerBits(file)
        let started = Date()
        let s = try Self.sweep(file.path, bits: bits, answer: { try Self.rows(file, table) }, expected: expected)
        // Which columns each differing flip changed, to name them.
        var changed: [Int: [String]] = [:]
        let url = URL(fileURLWithPath: file.path)
        let original = try Data(contentsOf: url)
        for bit in s.different {
            var bytes = [UInt8](original)
            bytes[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
            try Data(bytes).write(to: url)
            let got = try Self.rows(file, table)
            changed[bit] = table.columns.indices.filter { c in got.map { $0[c] } != expected.map { $0[c] } }.map { table.columns[$0].name }
        }
        try original.write(to: url)
        print("footer sweep, size only: \(s.trials) trials, \(s.errors) errors, \(s.same) same, \(s.different.count) different \(changed), \(Date().timeIntervalSince(started)) s")
        // The kinds of flip the size check and the field-id check cannot see: a timestamp's
        // unit (MICROS <-> MILLIS/NANOS is one bit in the Thrift union's field id) rescales
        // its values, and another tool may legitimately write any unit; likewise a decimal's
        // scale lowered by the flip, which reads as a file DuckDB wrote before widening the
        // column to more decimal places (DECIMAL(20,2) -> DECIMAL(38,4)) and is rescaled. Only
        // the footer checksum (files lake wrote) catches them; the sweep above proves that.
        #expect(changed.values.allSatisfy { cols in cols.allSatisfy { c in
            switch table.columns.first(where: { $0.name == c })?.type {
            case .timestamp?, .decimal?: return true
            default: return false
            }
        } },
                "flips that read different rows, by bit: \(changed)")
        #expect(s.errors + s.same + s.different.count == s.trials && s.errors > 0)
    }

    @Test("footer bit-flip sweep through query and report (one bit in 11, all eight bit positions): each flip errors or answers exactly as before")
    func footerBitFlipSweepThroughQueries() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let (file, date) = try Self.target(lake.catalog)
        let expected = try Self.answers(lake.catalog, date: date)
        #expect(expected[0].rows.count >= Int(file.recordCount))
        let bits = try Self.footerBits(file).enumerated().filter { $0.offset % 11 == 0 }.map(\.element)
        let started = Date()
        let s = try Self.sweep(file.path, bits: bits, answer: { try Self.answers(lake.catalog, date: date) }, expected: expected)
        print("footer sweep through queries: \(s.trials) trials, \(s.errors) errors, \(s.same) same, \(s.different.count) different, \(Date().timeIntervalSince(started)) s")
        #expect(s.different.isEmpty, "bits whose flip changed an answer: \(s.different.prefix(20))")
        #expect(s.errors == s.trials)
        #expect(try Self.answers(lake.catalog, date: date) == expected)
    }
}
