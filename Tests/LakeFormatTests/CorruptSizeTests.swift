import Foundation
import LakeTestSupport
import Testing
@testable import LakeFormat

/// Sizes and offsets a corrupt file can carry that are signed or near Int64.max: each must be a
/// `ParquetError`, never an arithmetic or range trap, which would end the whole process (a
/// `lake serve` answering every client, a scan on the worker pool) over one bad file. A file
/// DuckDB or another writer added has no footer checksum in the catalog to catch it first.
/// (Negative page sizes and an empty schema are already refused by the Thrift parser.)
@Suite struct CorruptSizeTests {
    private func goodFile(_ dir: TemporaryDirectory) throws -> [UInt8] {
        let path = dir.file("good.parquet")
        try ParquetFileWriter.write(sampleBatch(rows: 500, seed: 3), to: path)
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    }

    private func expectParquetError(_ bytes: [UInt8], _ dir: TemporaryDirectory, _ what: Comment) throws {
        let path = dir.file("bad-\(UUID().uuidString).parquet")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: ParquetError.self, what) { _ = try ParquetFileReader(path: path).readAll() }
    }

    /// A copy of a good file whose footer `change` edited (re-encoded, the data pages unchanged).
    private func withFooter(_ dir: TemporaryDirectory, _ change: (inout FileMetaData) -> Void) throws -> [UInt8] {
        let good = try goodFile(dir)
        let footerLength = Int(good[good.count - 8]) | Int(good[good.count - 7]) << 8 | Int(good[good.count - 6]) << 16 | Int(good[good.count - 5]) << 24
        let dataEnd = good.count - 8 - footerLength
        var meta: FileMetaData = try good.withUnsafeBytes { raw in
            var reader = ThriftReader(UnsafeRawBufferPointer(rebasing: raw[dataEnd ..< dataEnd + footerLength]))
            return try reader.readFileMetaData()
        }
        change(&meta)
        let footer = meta.encoded()
        var out = Array(good[0 ..< dataEnd]) + footer
        withUnsafeBytes(of: UInt32(footer.count).littleEndian) { out.append(contentsOf: $0) }
        return out + Array("PAR1".utf8)
    }

    @Test("a column chunk size of Int64.max: an error, not an overflow trap")
    func hugeChunkSize() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try expectParquetError(try withFooter(dir) { $0.rowGroups[0].columns[0].metaData.totalCompressedSize = .max }, dir,
                               "total_compressed_size = Int64.max")
    }

    @Test("a data page offset near Int64.max: an error, not an overflow trap")
    func hugeOffset() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try expectParquetError(try withFooter(dir) {
            $0.rowGroups[0].columns[0].metaData.dataPageOffset = .max - 10
            $0.rowGroups[0].columns[0].metaData.dictionaryPageOffset = nil
        }, dir, "data_page_offset near Int64.max")
    }

    @Test("row group row counts whose sum overflows: an error, not an overflow trap")
    func rowCountOverflow() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try expectParquetError(try withFooter(dir) { m in
            m.rowGroups = [m.rowGroups[0], m.rowGroups[0]]
            m.rowGroups[0].numRows = .max
            m.numRows = .max
        }, dir, "row counts that overflow when added")
    }
}
