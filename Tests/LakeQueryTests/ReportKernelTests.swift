import LakeFormat
@testable import LakeQuery
import Testing

/// The columnar report kernels (per-worker flat groups, per-file distinct counts merged at the
/// end) against a plain per-row computation with Swift Strings and Sets, on synthetic batches
/// with nulls, hundreds of groups, filtered rows, and groups and orders spread over several
/// files and workers.
@Suite struct ReportKernelTests {
    struct Row {
        var date: Int32, channel: String, country: String, status: String, customer: String?, total: Int64, units: Int64
    }

    /// Deterministic pseudo-random rows.
    struct Rand {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
    }

    static func stringColumn(_ values: [String?], dictionary: Bool) -> Column {
        let validity: [Bool]? = values.contains { $0 == nil } ? values.map { $0 != nil } : nil
        if dictionary {
            var distinct: [String] = [], index: [String: Int32] = [:]
            let idx = values.map { v -> Int32 in
                let s = v ?? ""
                if let i = index[s] { return i }
                index[s] = Int32(distinct.count)
                distinct.append(s)
                return Int32(distinct.count - 1)
            }
            return Column(.dictionary(indices: idx, values: StringColumn(distinct)), validity: validity)
        }
        return Column(.string(StringColumn(values.map { $0 ?? "" })), validity: validity)
    }

    static func orderBatch(_ rows: [Row], dictionary: Bool, selection: [Int32]?) -> ScanBatch {
        let names = ["event_date", "channel", "country", "status", "customer_id", "order_total", "units"]
        let types: [ColumnType] = [.date, .string, .string, .string, .string, .decimal(precision: 18, scale: 2), .int32]
        let schema = Schema(zip(names, types).map { Field($0, $1, nullable: true) })
        let batch = RecordBatch(schema: schema, columns: [
            Column(.int32(rows.map(\.date))),
            stringColumn(rows.map(\.channel), dictionary: dictionary),
            stringColumn(rows.map(\.country), dictionary: dictionary),
            stringColumn(rows.map(\.status), dictionary: true),
            stringColumn(rows.map(\.customer), dictionary: !dictionary),
            Column(.int64(rows.map(\.total))),
            Column(.int32(rows.map { Int32($0.units) })),
        ])
        return ScanBatch(batch: batch, selection: selection)
    }

    @Test func dailyRevenueKernelEqualsPlainGrouping() throws {
        var rand = Rand(state: 7)
        let channels = ["web", "mobile", "api"], countries = ["US", "DE", "FR", "GB", "JP", "BR", "", "ÅX"]
        let statuses = ["confirmed", "confirmed", "confirmed", "pending", "cancelled", "refunded"]
        var workers = [DailyRevenueWorker(), DailyRevenueWorker()]
        var plain: [String: (Int64, Int64, Int64, Set<String>, Int64, Int64)] = [:]
        // 40 files over 30 days: several files share a day and channel (as several commits to one
        // partition do), so their groups must union customer sets; some files mix days.
        for file in 0 ..< 40 {
            var rows: [Row] = []
            let day = Int32(19_700 + file % 30), channel = channels[file % 3]
            for _ in 0 ..< 300 + rand.next(400) {
                let d = file % 7 == 0 ? day + Int32(rand.next(3)) : day
                rows.append(Row(date: d, channel: channel, country: countries[rand.next(countries.count)],
                                status: statuses[rand.next(statuses.count)],
                                customer: rand.next(20) == 0 ? nil : "C\(rand.next(500))",
                                total: Int64(rand.next(100_000)) - 1_000, units: Int64(rand.next(9))))
            }
            // Every third file is filtered: only even rows match.
            let selection: [Int32]? = file % 3 == 0 ? stride(from: 0, to: rows.count, by: 2).map(Int32.init) : nil
            for r in selection.map({ $0.map(Int.init) }) ?? Array(rows.indices) {
                let row = rows[r]
                let key = "\(row.date)|\(row.channel)|\(row.country)"
                var v = plain[key] ?? (0, 0, 0, [], 0, 0)
                switch row.status {
                case "confirmed":
                    v.0 += 1; v.1 += row.units; v.2 += row.total
                    if let c = row.customer { v.3.insert(c) }
                case "pending": v.4 += 1
                case "cancelled": v.5 += 1
                default: break
                }
                plain[key] = v
            }
            let half = rows.count / 2
            let batches = [
                Self.orderBatch(Array(rows[..<half]), dictionary: file % 2 == 0, selection: selection?.filter { $0 < half }),
                Self.orderBatch(Array(rows[half...]), dictionary: file % 2 == 0, selection: selection?.filter { $0 >= half }.map { $0 - Int32(half) }),
            ]
            workers[file % 5 == 0 ? 1 : 0].add(batches)
        }
        let table = try Reports.dailyRevenueTable(workers, limit: nil)
        let expected = plain.keys.sorted { a, b in
            let x = a.split(separator: "|", omittingEmptySubsequences: false), y = b.split(separator: "|", omittingEmptySubsequences: false)
            return (Int(x[0])!, String(x[1]), String(x[2])) < (Int(y[0])!, String(y[1]), String(y[2]))
        }.map { key -> [String] in
            let v = plain[key]!
            let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            return [Value.date(Int32(parts[0])!).text, parts[1], parts[2], String(v.0), String(v.1), Value.decimal(Int128(v.2), scale: 2).text,
                    v.0 > 0 ? Value.decimal(Int128(Money.divide(v.2, by: v.0)), scale: 2).text : "", String(v.3.count), String(v.4), String(v.5)]
        }
        #expect(table.rows.count > 300)
        #expect(table.rows.map { $0.map(\.text) } == expected)
    }

    @Test func productSalesCountOrdersAcrossFiles() throws {
        var rand = Rand(state: 11)
        let names = ["product_id", "category", "brand", "quantity", "line_revenue", "order_id"]
        let types: [ColumnType] = [.string, .string, .string, .int32, .decimal(precision: 18, scale: 2), .string]
        let schema = Schema(zip(names, types).map { Field($0, $1, nullable: true) })
        // Disjoint: each file has its own orders, their items scattered in the file. Overlapping:
        // orders repeat across files. Contiguous (as the ingest writes them): an order's items are
        // consecutive rows (a product may repeat in one order) and an order may straddle the
        // file's two batches; the second batch is filtered.
        // Workers that keep only their runs' hashes merge only the contiguous layout (the
        // others answer nil: the scan is read again keeping the runs).
        enum Layout: CaseIterable { case disjoint, overlapping, contiguous }
        for layout in Layout.allCases {
          for keepingRuns in [false, true] {
            var workers = [ProductSalesWorker(keepingRuns: keepingRuns), ProductSalesWorker(keepingRuns: keepingRuns)]
            var units: [String: Int64] = [:], revenue: [String: Int64] = [:], orders: [String: Set<String>] = [:]
            var info: [String: (String, String)] = [:]
            for file in 0 ..< 12 {
                var cols: [[String]] = [[], [], [], []]
                var quantity: [Int32] = [], lineRevenue: [Int64] = []
                var order = "", left = 0, next = 0
                for _ in 0 ..< 200 + rand.next(200) {
                    let p = rand.next(60)
                    switch layout {
                    case .disjoint: order = "O\(file)-\(rand.next(100))"
                    case .overlapping: order = "O\(rand.next(300))"
                    case .contiguous:
                        if left == 0 { order = "O\(file)-\(next)"; next += 1; left = 1 + rand.next(4) }
                        left -= 1
                    }
                    cols[0].append("P\(p)"); cols[1].append("cat\(p % 7)-\(file % 2)"); cols[2].append("brand\(p % 5)"); cols[3].append(order)
                    quantity.append(Int32(rand.next(5) + 1)); lineRevenue.append(Int64(rand.next(50_000)))
                }
                let batch = RecordBatch(schema: schema, columns: [
                    Self.stringColumn(cols[0], dictionary: file % 2 == 0), Self.stringColumn(cols[1], dictionary: true),
                    Self.stringColumn(cols[2], dictionary: false), Column(.int32(quantity)), Column(.int64(lineRevenue)),
                    Self.stringColumn(cols[3], dictionary: file % 3 == 0),
                ])
                var scanBatches = [ScanBatch(batch: batch, selection: nil)]
                var rows = Array(0 ..< batch.count)
                if layout == .contiguous {
                    // Two batches cut inside an order; the second keeps most of its rows.
                    var cut = batch.count / 2
                    while cut > 0 && cols[3][cut - 1] != cols[3][cut] { cut -= 1 }
                    let first = RecordBatch(schema: schema, columns: batch.columns.map { Self.slice($0, 0 ..< cut) })
                    let second = RecordBatch(schema: schema, columns: batch.columns.map { Self.slice($0, cut ..< batch.count) })
                    let kept = (0 ..< Int32(second.count)).filter { $0 % 7 != 3 }
                    scanBatches = [ScanBatch(batch: first, selection: nil), ScanBatch(batch: second, selection: kept)]
                    rows = Array(0 ..< cut) + kept.map { cut + Int($0) }
                }
                for r in rows {
                    units[cols[0][r], default: 0] += Int64(quantity[r])
                    revenue[cols[0][r], default: 0] += lineRevenue[r]
                    orders[cols[0][r], default: []].insert(cols[3][r])
                    if info[cols[0][r]] == nil { info[cols[0][r]] = (cols[1][r], cols[2][r]) }
                }
                // Files go to workers in order, as the scan hands them out (first row seen = first in scan order).
                workers[file % 2].add(file: file, scanBatches)
            }
            let hashes = workers.flatMap(\.orderHashes)
            guard let exact = try Reports.mergeProductSales(workers) else {
                #expect(!keepingRuns && layout != .contiguous, "\(layout)")
                continue
            }
            #expect(keepingRuns || layout == .contiguous, "\(layout)")
            #expect(Set(exact.units.keys) == Set(units.keys.map(ExactID.init)))
            let merged = (units: Dictionary(uniqueKeysWithValues: exact.units.map { ($0.key.text, $0.value) }),
                          revenue: Dictionary(uniqueKeysWithValues: exact.revenue.map { ($0.key.text, $0.value) }),
                          orders: Dictionary(uniqueKeysWithValues: exact.orders.map { ($0.key.text, $0.value) }),
                          info: Dictionary(uniqueKeysWithValues: exact.info.map { ($0.key.text, $0.value) }))
            #expect(merged.units == units)
            #expect(merged.revenue == revenue.mapValues { Int128($0) })
            #expect(merged.orders == orders.mapValues { Int64($0.count) }, "\(layout)")
            #expect(merged.info.mapValues { [$0.0, $0.1] } == info.mapValues { [$0.0, $0.1] })
            // Contiguous orders take the per-file counts (every run's id distinct); the others
            // repeat ids in runs, so their orders are unioned.
            #expect((Set(hashes).count == hashes.count) == (layout == .contiguous), "\(layout)")
          }
        }
    }

    /// Rows `range` of a column (dictionary columns keep their whole dictionary).
    static func slice(_ c: Column, _ range: Range<Int>) -> Column {
        let validity = c.validity.map { Array($0[range]) }
        switch c.data {
        case .int32(let a): return Column(.int32(Array(a[range])), validity: validity)
        case .int64(let a): return Column(.int64(Array(a[range])), validity: validity)
        case .dictionary(let idx, let values): return Column(.dictionary(indices: Array(idx[range]), values: values), validity: validity)
        case .string(let s): return Column(.string(StringColumn(range.map { s[$0] })), validity: validity)
        default: fatalError("slice: not used with \(c.data)")
        }
    }

    @Test func sortUniqueMatchesSetSemantics() {
        var rand = Rand(state: 3)
        for n in [0, 1, 255, 256, 5_000, 200_000] {
            var a = (0 ..< n).map { _ in UInt64(rand.next(1 << 30)) << UInt64(rand.next(34)) | UInt64(rand.next(4)) }
            let expected = Array(Set(a)).sorted()
            Kernels.sortUnique(&a)
            #expect(a == expected)
        }
    }

    /// Keys of every length up to 40 bytes, including ones that differ only by trailing zero
    /// bytes, get one id each, in first-seen order, through several table growths.
    @Test func keyInternerAssignsDenseIds() {
        var rand = Rand(state: 5)
        var interner = KeyInterner(expected: 4)
        var expected: [[UInt8]: Int32] = [:]
        for _ in 0 ..< 50_000 {
            let n = rand.next(41)
            var key = (0 ..< n).map { _ in UInt8(rand.next(3)) }
            if rand.next(4) == 0 { key.append(0) }
            let id = key.withUnsafeBytes { interner.id($0) }
            if let e = expected[key] { #expect(id == e) } else {
                #expect(Int(id) == expected.count)
                expected[key] = id
            }
        }
        #expect(interner.count == expected.count)
        for (key, id) in expected { #expect(Array(interner.values.bytes[interner.values.byteRange(Int(id))]) == key) }
    }

    /// `Kernels.runs` against a plain comparison of each matching row's bytes with the previous
    /// matching row's, over batches that carry a run into the next: ids of 0 to 20 bytes from a
    /// two-letter alphabet (neighbours that differ only in their first, middle or last byte,
    /// the lengths the word-load comparison splits at: 4, 8, 16), PLAIN and dictionary, with and
    /// without a selection.
    @Test func runsMatchPlainRunDetection() {
        var rand = Rand(state: 11)
        for dictionary in [false, true] {
            for selecting in [false, true] {
                var runs = Kernels.Runs(keepingBytes: true)
                var hashOnly = Kernels.Runs(keepingBytes: false)
                var expectedRuns: [[UInt8]] = []
                var last: [UInt8]?
                for _ in 0 ..< 40 {
                    let n = 1 + rand.next(300)
                    var values: [String] = []
                    for _ in 0 ..< n {
                        // Mostly a repeat of the previous id (an order's items), else a fresh one.
                        if let prev = values.last, rand.next(3) > 0 { values.append(prev); continue }
                        // Or the previous id with one letter changed: equal lengths, one byte apart.
                        if let prev = values.last, !prev.isEmpty, rand.next(2) == 0 {
                            var bytes = Array(prev.utf8)
                            let at = [0, bytes.count / 2, bytes.count - 1][rand.next(3)]
                            bytes[at] = bytes[at] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
                            values.append(String(decoding: bytes, as: UTF8.self))
                            continue
                        }
                        let length = [0, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 20][rand.next(12)]
                        values.append(String((0 ..< length).map { _ in rand.next(2) == 0 ? Character("a") : Character("b") }))
                    }
                    let selection: [Int32]? = selecting ? (0 ..< Int32(n)).filter { _ in rand.next(4) > 0 } : nil
                    let column = Self.stringColumn(values, dictionary: dictionary)
                    let schema = Schema([Field("order_id", .string)])
                    let b = ScanBatch(batch: RecordBatch(schema: schema, columns: [column]), selection: selection)
                    let got = Kernels.runs(column, b, &runs)
                    #expect(Kernels.runs(column, b, &hashOnly) == got)
                    var expected = [Int32](repeating: -1, count: n)
                    for r in selection.map({ $0.map(Int.init) }) ?? Array(0 ..< n) {
                        let bytes = Array(values[r].utf8)
                        if bytes != last {
                            expectedRuns.append(bytes)
                            last = bytes
                        }
                        expected[r] = Int32(expectedRuns.count - 1)
                    }
                    #expect(got == expected)
                }
                #expect(runs.count == expectedRuns.count)
                #expect(hashOnly.bytes == nil)
                #expect(hashOnly.hashes == runs.hashes)
                #expect(runs.hashes == expectedRuns.map { $0.withUnsafeBytes { Kernels.hash($0) } })
                let kept = runs.bytes ?? StringColumn()
                #expect(kept.count == expectedRuns.count)
                for (i, bytes) in expectedRuns.enumerated() where i < kept.count { #expect(Array(kept.bytes[kept.byteRange(i)]) == bytes) }
            }
        }
    }
}
