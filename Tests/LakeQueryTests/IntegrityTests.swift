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
            + (try Reports.run("daily-revenue", catalog: catalog, options: options).sections)
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

    /// Flips each bit in `bits` of the file's last `footer + 8` bytes in turn (restoring it after
    /// each), and sorts every trial into error / same answer / different answer.
    static func sweep(_ catalog: Catalog, file: DataFile, date: String, expected: [ResultTable], bits: [Int]) throws -> Sweep {
        let url = URL(fileURLWithPath: file.path)
        let original = try [UInt8](Data(contentsOf: url))
        defer { try? Data(original).write(to: url) }
        var s = Sweep()
        for bit in bits {
            var bytes = original
            bytes[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
            try Data(bytes).write(to: url)
            s.trials += 1
            do {
                if try answers(catalog, date: date) == expected { s.same += 1 } else { s.different.append(bit) }
            } catch {
                s.errors += 1
            }
        }
        return s
    }

    static func footerBits(_ file: DataFile) throws -> Range<Int> {
        let size = Int(file.fileSizeBytes)
        let footer = Int(try #require(file.footerSize))
        return (size - footer - 8) * 8 ..< size * 8
    }

    @Test("every single-bit flip of a data file's footer (Thrift footer, its length, the magic) is an error")
    func footerBitFlipSweep() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let (file, date) = try Self.target(lake.catalog)
        #expect(file.footerChecksum != nil)
        let expected = try Self.answers(lake.catalog, date: date)
        #expect(expected[0].rows.count == Int(file.recordCount))
        let bits = try Self.footerBits(file)
        let started = Date()
        let s = try Self.sweep(lake.catalog, file: file, date: date, expected: expected, bits: Array(bits))
        print("footer sweep: \(s.trials) trials over \(bits.count / 8) bytes, \(s.errors) errors, \(s.same) same, \(s.different.count) different, \(Date().timeIntervalSince(started)) s")
        #expect(s.trials == bits.count)
        #expect(s.different.isEmpty, "bits whose flip changed an answer: \(s.different.prefix(20))")
        // With the footer checksum recorded, no flip can even parse into the same answer.
        #expect(s.errors == s.trials)
        // And the file is intact again: the sweep restored it.
        #expect(try Self.answers(lake.catalog, date: date) == expected)
    }
}
