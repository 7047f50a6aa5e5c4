import Foundation
import LakeTestSupport
import Testing
@testable import LakeFormat

@Suite struct ParquetRoundTripTests {
    @Test(arguments: [true, false])
    func everyTypeRoundTrips(dictionary: Bool) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let batch = sampleBatch(rows: 3_500)
        var options = ParquetWriteOptions()
        options.rowGroupRows = 1_000
        options.dictionary = dictionary
        options.metadata = ["lake.schema_version": "3"]
        let path = dir.file("t.parquet")
        let summary = try ParquetFileWriter.write(batch, to: path, options: options)
        #expect(summary.rowCount == 3_500)
        #expect(summary.rowGroupCount == 4)

        let reader = try ParquetFileReader(path: path)
        #expect(reader.schema == batch.schema)
        #expect(reader.rowCount == 3_500)
        #expect(reader.rowGroupCount == 4)
        #expect(reader.keyValueMetadata["lake.schema_version"] == "3")
        let back = try reader.readAll()
        #expect(canonicalRows(back) == canonicalRows(batch))
        if dictionary {
            // Within a row group, low-cardinality strings come back still dictionary-encoded.
            let first = try reader.read(rowGroup: 0, columns: [1])
            guard case .dictionary(_, let values) = first.columns[0].data else {
                Issue.record("channel should be dictionary-encoded")
                return
            }
            #expect(values.count == 3)
        }
    }

    /// The PLAIN string reader copies a value of up to 16 bytes as two words where the page has
    /// 16 bytes after it: every length from 0 to 40, on pages so small that many values end
    /// within 16 bytes of the page's end, reads back byte for byte.
    @Test("PLAIN strings of every short length, at page ends too, read back exactly")
    func shortPlainStringsNearPageEndsReadBack() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var strings = StringColumn()
        var rng = SplitMix64(seed: 5)
        for i in 0 ..< 4_000 {
            let n = (i * 7 + rng.int(0 ..< 3)) % 41
            strings.append(String((0 ..< n).map { _ in Character(UnicodeScalar(UInt8(rng.int(33 ..< 127)))) }))
        }
        let batch = RecordBatch(schema: Schema([Field("s", .string, fieldID: 1)]), columns: [Column(.string(strings))])
        for pageBytes in [64, 100, 1 << 10] {
            var options = ParquetWriteOptions()
            options.plainColumns = ["s"]
            options.pageBytes = pageBytes
            options.compression = .uncompressed
            let path = dir.file("s-\(pageBytes).parquet")
            try ParquetFileWriter.write(batch, to: path, options: options)
            #expect(canonicalRows(try ParquetFileReader(path: path).readAll()) == canonicalRows(batch), "pages of \(pageBytes) bytes")
        }
    }

    /// Values distinct but for repeats of the one before (an order's items share its id and
    /// time): zstd stores a repeat as a short match, so PLAIN beats a dictionary there, whose
    /// distinct values cost as much and whose per-row indices barely compress. Uncompressed, a
    /// repeat costs PLAIN its full width and the dictionary is kept. Low-cardinality columns keep
    /// theirs either way.
    @Test("values distinct but for adjacent repeats: PLAIN with zstd (smaller), a dictionary uncompressed")
    func adjacentRepeatsOfDistinctValuesStayPlainWhenCompressed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let rows = 20_000
        var rng = SplitMix64(seed: 11)
        var ids = StringColumn(), codes = StringColumn()
        var times: [Int64] = []
        var order = 0, left = 0
        for _ in 0 ..< rows {
            if left == 0 { order += 1; left = rng.int(1 ..< 5) }  // 1–4 items an order
            left -= 1
            ids.append("ORD-\(7_000_000 + order * 37)")
            times.append(1_704_067_200_000_000 + Int64(order) * 1_234_567)
            codes.append(["web", "mobile", "api"][rng.int(0 ..< 3)])
        }
        let batch = RecordBatch(schema: Schema([Field("order_id", .string, fieldID: 1), Field("event_time", .timestamp, fieldID: 2),
                                                Field("channel", .string, fieldID: 3)]),
                                columns: [Column(.string(ids)), Column(.int64(times)), Column(.string(codes))])
        func write(_ compression: ParquetCompression, _ dictionary: Bool = true) throws -> (pages: [Bool], bytes: Int) {
            var options = ParquetWriteOptions()
            options.compression = compression
            options.dictionary = dictionary
            let path = dir.file("\(compression)-\(dictionary).parquet")
            let summary = try ParquetFileWriter.write(batch, to: path, options: options)
            let reader = try ParquetFileReader(path: path)
            #expect(canonicalRows(try reader.readAll()) == canonicalRows(batch))
            return (reader.meta.rowGroups[0].columns.map { $0.metaData.dictionaryPageOffset != nil }, Int(summary.fileSize))
        }
        let zstd = try write(.zstd(level: 1))
        #expect(zstd.pages == [false, false, true], "order_id and event_time PLAIN, channel a dictionary")
        let raw = try write(.uncompressed)
        #expect(raw.pages == [true, true, true], "uncompressed, every repeat costs PLAIN: dictionaries kept")
        // Each kept dictionary pays for itself against all-PLAIN of the same codec.
        #expect(zstd.bytes < (try write(.zstd(level: 1), false)).bytes)
        #expect(raw.bytes < (try write(.uncompressed, false)).bytes)
    }

    @Test("a column in plainColumns is written PLAIN, the others still try a dictionary; same values")
    func plainColumnsSkipTheDictionary() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let batch = sampleBatch(rows: 1_000)
        var options = ParquetWriteOptions()
        options.plainColumns = [batch.schema.fields[1].name]
        let path = dir.file("p.parquet")
        try ParquetFileWriter.write(batch, to: path, options: options)
        let reader = try ParquetFileReader(path: path)
        #expect(canonicalRows(try reader.readAll()) == canonicalRows(batch))
        // Low-cardinality, yet read back as plain strings: no dictionary page was written.
        let first = try reader.read(rowGroup: 0, columns: [1])
        guard case .string = first.columns[0].data else {
            Issue.record("\(batch.schema.fields[1].name) was dictionary-encoded although listed in plainColumns")
            return
        }
        var tried = ParquetWriteOptions()
        tried.plainColumns = []
        let other = dir.file("d.parquet")
        try ParquetFileWriter.write(batch, to: other, options: tried)
        guard case .dictionary = try ParquetFileReader(path: other).read(rowGroup: 0, columns: [1]).columns[0].data else {
            Issue.record("without plainColumns the column should be dictionary-encoded")
            return
        }
    }

    @Test func uncompressedAndProjection() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let batch = sampleBatch(rows: 300)
        var options = ParquetWriteOptions()
        options.compression = .uncompressed
        let path = dir.file("u.parquet")
        try ParquetFileWriter.write(batch, to: path, options: options)
        let reader = try ParquetFileReader(path: path)
        let projected = try reader.read(rowGroup: 0, columns: [9, 4])
        #expect(projected.schema.fields.map(\.name) == ["coupon", "unit_price"])
        let expected = canonicalRows(batch).map { [$0[9], $0[4]] }
        #expect(canonicalRows(projected) == expected)
    }

    @Test func manySmallWritesAssembleRowGroups() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let batch = sampleBatch(rows: 2_000)
        var options = ParquetWriteOptions()
        options.rowGroupRows = 700
        let path = dir.file("m.parquet")
        let writer = try ParquetFileWriter(path: path, schema: batch.schema, options: options)
        var start = 0
        for size in [1, 99, 450, 600, 850] {
            try writer.write(batch.slice(start ..< start + size))
            start += size
        }
        let summary = try writer.close()
        #expect(summary.rowGroupCount == 3)
        let reader = try ParquetFileReader(path: path)
        #expect((0 ..< 3).map(reader.rowGroupRowCount) == [700, 700, 600])
        #expect(canonicalRows(try reader.readAll()) == canonicalRows(batch))
    }

    @Test func statisticsDriveRowGroupSkipping() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let batch = sampleBatch(rows: 4_000)
        var options = ParquetWriteOptions()
        options.rowGroupRows = 1_000
        let path = dir.file("s.parquet")
        let summary = try ParquetFileWriter.write(batch, to: path, options: options)
        let reader = try ParquetFileReader(path: path)

        // Each row group's event_time bounds are its first and last rows (time increases).
        guard case .int64(let times) = batch.columns[5].data else { Issue.record("event_time"); return }
        for rg in 0 ..< 4 {
            let stats = try #require(reader.statistics(rowGroup: rg, column: 5))
            #expect(stats.min == .int(times[rg * 1_000]))
            #expect(stats.max == .int(times[rg * 1_000 + 999]))
            #expect(stats.nullCount == 0)
        }
        let weightNulls = Int64(batch.columns[7].nullCount)
        #expect(summary.columnStatistics[7].nullCount == weightNulls)
        #expect(summary.columnStatistics[1].min == .string("api"))
        #expect(summary.columnStatistics[1].max == .string("web"))

        let inThird = ColumnPredicate("event_time", .between, [.int(times[2_100]), .int(times[2_200])])
        #expect(reader.rowGroups(matching: [inThird]) == [2])
        let none = ColumnPredicate("event_time", .lt, [.int(times[0])])
        #expect(reader.rowGroups(matching: [none]).isEmpty)
        let channel = ColumnPredicate("channel", .eq, [.string("zzz")])
        #expect(reader.rowGroups(matching: [channel]).isEmpty)
        let orders = ColumnPredicate("order_id", .in, [.string("ORD-100001"), .string("ORD-101999")])
        #expect(reader.rowGroups(matching: [orders]) == [0, 3])
    }

    @Test func writerRefusesMismatchedBatches() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let schema = Schema([Field("a", .int64)])
        let writer = try ParquetFileWriter(path: dir.file("x.parquet"), schema: schema)
        let wrongType = RecordBatch(schema: schema, columns: [Column(.int32([1]))])
        #expect(throws: ParquetError.self) { try writer.write(wrongType) }
        let nulls = RecordBatch(schema: schema, columns: [Column(.int64([1, 2]), validity: [true, false])])
        #expect(throws: ParquetError.self) { try writer.write(nulls) }
        #expect(throws: ParquetError.self) {
            try ParquetFileWriter(path: dir.file("y.parquet"), schema: Schema([Field("d", .decimal(precision: 39, scale: 2))]))
        }
    }

    @Test func allNullAndEmptyColumns() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let schema = Schema([Field("s", .string, nullable: true), Field("i", .int64, nullable: true)])
        let batch = RecordBatch(schema: schema, columns: [
            Column(.string(StringColumn(["", "", ""])), validity: [false, false, false]),
            Column(.int64([0, 5, 0]), validity: [false, true, false]),
        ])
        let path = dir.file("n.parquet")
        let summary = try ParquetFileWriter.write(batch, to: path)
        #expect(summary.columnStatistics[0].nullCount == 3)
        #expect(summary.columnStatistics[0].min == nil)
        #expect(summary.columnStatistics[1].min == .int(5))
        let back = try ParquetFileReader(path: path).readAll()
        #expect(canonicalRows(back) == [["null", "null"], ["null", "5"], ["null", "null"]])
        // A file with no rows still has a schema and reads as an empty batch.
        let empty = try ParquetFileWriter(path: dir.file("e.parquet"), schema: schema)
        _ = try empty.close()
        let e = try ParquetFileReader(path: dir.file("e.parquet"))
        #expect(e.rowCount == 0)
        #expect(try e.readAll().count == 0)
    }
}
