import Foundation
import LakeTestSupport
import Testing
@testable import LakeFormat

/// The encoder's pooled scratch (buffers and zstd context reused across row groups and writers)
/// and the dictionary shortcuts must leave no trace in the files: the bytes of a file depend on
/// its rows and options only.
@Suite struct EncoderScratchTests {
    private func write(_ batch: RecordBatch, level: Int32, to path: String) throws -> [UInt8] {
        var options = ParquetWriteOptions()
        options.compression = .zstd(level: level)
        options.rowGroupRows = 700
        try ParquetFileWriter.write(batch, to: path, options: options)
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test("a file's bytes do not depend on what the pooled scratch encoded before (other levels, larger pages)")
    func pooledScratchLeavesNoTrace() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let batch = sampleBatch(rows: 2_000)
        let first = try write(batch, level: 3, to: dir.file("a.parquet"))
        // Between the two level-3 writes, the pool's scratches serve level 1 and 19 writers,
        // from several threads at once, and a far larger batch.
        _ = try write(sampleBatch(rows: 20_000), level: 19, to: dir.file("big.parquet"))
        try parallelMapBlocking(count: 8, threads: 4) { i in _ = try write(batch, level: 1, to: dir.file("l1-\(i).parquet")) }
        let again = try write(batch, level: 3, to: dir.file("b.parquet"))
        #expect(first == again)
        let level1 = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file("l1-0.parquet"))))
        #expect(level1 != first, "level 1 and level 3 should compress differently")
        for path in ["a.parquet", "l1-3.parquet", "big.parquet"] {
            #expect(try ParquetFileReader(path: dir.file(path)).readAll().count == (path == "big.parquet" ? 20_000 : 2_000))
        }
        #expect(canonicalRows(try ParquetFileReader(path: dir.file("l1-5.parquet")).readAll()) == canonicalRows(batch))
    }

    @Test("a column's zstd profile is reset after it: the other columns and later files are compressed as without it")
    func zstdProfileLeavesNoTrace() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let batch = sampleBatch(rows: 2_000)
        func write(_ name: String, text: Set<String>) throws -> [UInt8] {
            var options = ParquetWriteOptions()
            options.compression = .zstd(level: 1)
            options.rowGroupRows = 700
            options.repetitiveTextColumns = text
            try ParquetFileWriter.write(batch, to: dir.file(name), options: options)
            return try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file(name))))
        }
        let standard = try write("a.parquet", text: [])
        // order_id is the first column, so the columns after it are encoded by a context that
        // has just compressed with the profile; then whole files, from several threads.
        let profiled = try write("b.parquet", text: ["order_id"])
        try parallelMapBlocking(count: 8, threads: 4) { i in _ = try write("p-\(i).parquet", text: ["order_id", "coupon"]) }
        #expect(try write("c.parquet", text: []) == standard)
        #expect(profiled != standard, "the profile should change the order_id pages")
        let a = try ParquetFileReader(path: dir.file("a.parquet")), b = try ParquetFileReader(path: dir.file("b.parquet"))
        #expect(canonicalRows(try b.readAll()) == canonicalRows(batch))
        // Only order_id's chunks differ in size.
        for rg in 0 ..< a.meta.rowGroups.count {
            let ca = a.meta.rowGroups[rg].columns, cb = b.meta.rowGroups[rg].columns
            for c in 1 ..< ca.count {
                #expect(ca[c].metaData.totalCompressedSize == cb[c].metaData.totalCompressedSize, "row group \(rg) column \(c)")
            }
        }
    }

    @Test("dictionary trials: runs, a mostly distinct start, a dictionary far larger than the chunk; values read back equal")
    func dictionaryTrials() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let n = 5_000
        // A long run of one value, a column whose first 1,024 values are distinct (then it
        // repeats: PLAIN after the trial stops), and a dictionary column over 50,000 entries of
        // which the rows use a few (written from the rows' strings).
        var bigValues = StringColumn()
        for i in 0 ..< 50_000 { bigValues.append("entry-\(i)") }
        var runs = StringColumn(), distinctStart = StringColumn()
        for i in 0 ..< n {
            runs.append(i < 4_000 ? "same" : "other-\(i % 3)")
            distinctStart.append(i < 1_024 ? "d-\(i)" : "r-\(i % 2)")
        }
        let schema = Schema([Field("runs", .string), Field("distinct_start", .string),
                             Field("big", .string, nullable: true), Field("ints", .int64)])
        let batch = RecordBatch(schema: schema, columns: [
            Column(.string(runs)), Column(.string(distinctStart)),
            Column(.dictionary(indices: (0 ..< n).map { Int32(($0 * 7) % 50_000) }, values: bigValues), validity: (0 ..< n).map { $0 % 11 != 0 }),
            Column(.int64((0 ..< n).map { $0 < 3_000 ? 42 : Int64($0) })),
        ])
        var options = ParquetWriteOptions()
        options.rowGroupRows = n
        let path = dir.file("d.parquet")
        try ParquetFileWriter.write(batch, to: path, options: options)
        let reader = try ParquetFileReader(path: path)
        #expect(canonicalRows(try reader.readAll()) == canonicalRows(batch))
        let group = try reader.read(rowGroup: 0, columns: [0, 1])
        guard case .dictionary(_, let kept) = group.columns[0].data else { Issue.record("a run-heavy column should keep its dictionary"); return }
        #expect(kept.count == 4)
        guard case .string = group.columns[1].data else { Issue.record("a mostly distinct start should end the trial with PLAIN"); return }
    }
}
