import Foundation
import LakeTestSupport
import Testing
@testable import LakeFormat

/// A row group queued as many pieces (an ingest partition's rows arrive a drain at a time) is
/// encoded from the pieces where they are, not from a concatenated copy: the file must be byte
/// for byte the one the concatenation gives.
@Suite struct ChunkPartsTests {
    /// `sampleBatch` plus long, nearly distinct text (PLAIN by `plainColumns`), text that is
    /// often empty or null, and dictionary columns (`own` and `mixed` get a dictionary of their
    /// own per piece below).
    static func batch(rows: Int) -> RecordBatch {
        let base = sampleBatch(rows: rows, seed: 23)
        var rng = SplitMix64(seed: 5)
        var text = StringColumn(), sparse = StringColumn()
        var sparseValid: [Bool] = []
        var tags = StringColumn()
        for t in ["alpha", "beta", "", "gamma delta"] { tags.append(t) }
        for i in 0 ..< rows {
            text.append("{\"order_id\":\"ORD-\(1_000_000 + i)\",\"note\":\"" + String(repeating: "x", count: rng.int(0 ..< 40)) + "\"}")
            let valid = !rng.chance(0.3)
            sparseValid.append(valid)
            if valid { sparse.append(rng.chance(0.5) ? "" : "s-\(rng.int(0 ..< 5))") } else { sparse.appendEmpty() }
        }
        let tagIndices = (0 ..< rows).map { _ in Int32(rng.int(0 ..< 4)) }
        // Many distinct values: written PLAIN, so the pages are sized from the values' bytes.
        var entries = StringColumn()
        for i in 0 ..< 3_000 { entries.append("entry-\(i)-" + String(repeating: "e", count: i % 50)) }
        let entryIndices = (0 ..< rows).map { _ in Int32(rng.int(0 ..< 3_000)) }
        let schema = Schema(base.schema.fields + [
            Field("text", .string, fieldID: 20), Field("sparse", .string, nullable: true, fieldID: 21), Field("tag", .string, fieldID: 22),
            Field("own", .string, fieldID: 23), Field("mixed", .string, nullable: true, fieldID: 24),
        ])
        return RecordBatch(schema: schema, columns: base.columns + [
            Column(.string(text)), Column(.string(sparse), validity: sparseValid), Column(.dictionary(indices: tagIndices, values: tags)),
            Column(.dictionary(indices: entryIndices, values: entries)),
            Column(.dictionary(indices: tagIndices.reversed(), values: tags), validity: sparseValid.reversed()),
        ])
    }

    /// `column` of `piece` over a copy of its dictionary in storage of its own (as each
    /// validating thread builds its own one-entry dictionaries), or materialized as strings.
    static func ownDictionary(_ piece: RecordBatch, column: Int, materialize: Bool) -> RecordBatch {
        var columns = piece.columns
        guard case .dictionary(let idx, let values) = columns[column].data else { return piece }
        if materialize {
            columns[column] = columns[column].materialized()
        } else {
            var copy = StringColumn()
            values.bytes.withUnsafeBytes { raw in for i in 0 ..< values.count { copy.append(UnsafeRawBufferPointer(rebasing: raw[values.byteRange(i)])) } }
            columns[column] = Column(.dictionary(indices: idx, values: copy), validity: columns[column].validity)
        }
        return RecordBatch(schema: piece.schema, columns: columns)
    }

    @Test("row groups made of many queued pieces encode byte for byte as their concatenation (strings read in place, pages across pieces)")
    func piecesEncodeAsTheirConcatenation() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let rows = 6_000
        let all = Self.batch(rows: rows)
        var options = ParquetWriteOptions()
        options.rowGroupRows = 2_500
        // Pages of 1,024 rows and more, sized from the values' bytes, crossing the pieces' boundaries.
        options.pageBytes = 64 << 10
        options.plainColumns = ["text"]

        let own = all.schema.index(of: "own")!, mixed = all.schema.index(of: "mixed")!
        // Pieces of 1 to 900 rows: most row groups start and end inside a piece.
        var rng = SplitMix64(seed: 99)
        let pieced = try ParquetFileWriter(path: dir.file("pieces.parquet"), schema: all.schema, options: options)
        var at = 0
        var pieces = 0
        while at < rows {
            let n = min(rows - at, rng.int(1 ..< 900))
            var piece = all.slice(at ..< at + n)
            piece = Self.ownDictionary(piece, column: own, materialize: false)
            piece = Self.ownDictionary(piece, column: mixed, materialize: pieces % 3 == 0)
            try pieced.write(piece)
            at += n
            pieces += 1
        }
        let summary = try pieced.close()
        #expect(pieces > 10)

        // The reference: each row group's rows as one batch of their own, with the columns
        // whose pieces have dictionaries of their own materialized, as the concatenation did.
        let whole = try ParquetFileWriter(path: dir.file("whole.parquet"), schema: all.schema, options: options)
        for start in stride(from: 0, to: rows, by: options.rowGroupRows) {
            let group = all.slice(start ..< min(rows, start + options.rowGroupRows))
            try whole.write(Self.ownDictionary(Self.ownDictionary(group, column: own, materialize: true), column: mixed, materialize: true))
            try whole.endRowGroup()
        }
        let reference = try whole.close()
        #expect(summary.rowGroupCount == 3 && reference.rowGroupCount == 3)

        let a = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file("pieces.parquet"))))
        let b = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file("whole.parquet"))))
        let firstDifference = (0 ..< min(a.count, b.count)).first { a[$0] != b[$0] } ?? (a.count == b.count ? nil : min(a.count, b.count))
        #expect(firstDifference == nil, "the files differ from byte \(firstDifference ?? -1) (\(a.count) and \(b.count) bytes)")
        #expect(canonicalRows(try ParquetFileReader(path: dir.file("pieces.parquet")).readAll()) == canonicalRows(all))
        // The statistics the catalog records are the concatenation's too.
        for (s, r) in zip(summary.columnStatistics, reference.columnStatistics) {
            #expect(s.min == r.min && s.max == r.max && s.nullCount == r.nullCount)
        }
    }

    @Test("rows picked from a batch encode byte for byte as their gathered copy: row groups ended by bytes at once (read in place) or left queued (gathered)")
    func pickedRowsEncodeAsTheirGather() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let all = Self.batch(rows: 6_000)
        var options = ParquetWriteOptions()
        options.rowGroupRows = 1_500  // some writes end row groups by count: those gather
        options.rowGroupBytes = 24 << 10
        options.pageBytes = 64 << 10
        options.plainColumns = ["text"]
        let picked = try ParquetFileWriter(path: dir.file("picked.parquet"), schema: all.schema, options: options)
        let gathered = try ParquetFileWriter(path: dir.file("gathered.parquet"), schema: all.schema, options: options)
        // Drains of up to 1,200 rows, each split among three "partitions" by a random key, as
        // an ingest splits a drain by date and channel; the pieces of one partition are written
        // to its file (here: one file for partition 0, the others dropped).
        var rng = SplitMix64(seed: 7)
        var at = 0
        var written = 0
        while at < all.count {
            let n = min(all.count - at, rng.int(1 ..< 1_200))
            var drain = all.slice(at ..< at + n)
            drain = Self.ownDictionary(drain, column: all.schema.index(of: "own")!, materialize: false)
            drain = Self.ownDictionary(drain, column: all.schema.index(of: "mixed")!, materialize: rng.chance(0.3))
            let rows = (0 ..< n).filter { _ in rng.int(0 ..< 3) == 0 }
            try picked.write(drain, rows: rows)
            try gathered.write(drain.gather(rows))
            written += rows.count
            at += n
        }
        let a = try picked.close(), b = try gathered.close()
        #expect(a.rowCount == Int64(written) && a.rowGroupCount == b.rowGroupCount && a.rowGroupCount > 4)
        let x = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file("picked.parquet"))))
        let y = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file("gathered.parquet"))))
        let firstDifference = (0 ..< min(x.count, y.count)).first { x[$0] != y[$0] } ?? (x.count == y.count ? nil : min(x.count, y.count))
        #expect(firstDifference == nil, "the files differ from byte \(firstDifference ?? -1) (\(x.count) and \(y.count) bytes)")
        #expect(canonicalRows(try ParquetFileReader(path: dir.file("picked.parquet")).readAll())
            == canonicalRows(try ParquetFileReader(path: dir.file("gathered.parquet")).readAll()))
    }
}
