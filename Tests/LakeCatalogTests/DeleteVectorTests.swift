import Foundation
import LakeFormat
import Testing
@testable import LakeCatalog

/// Delete files we write ourselves, read the way DuckDB's are (DeleteFileTests covers DuckDB's):
/// positions count across row groups, per-position snapshots filter by the snapshot read, and
/// files DuckDB would refuse are refused with a typed error.
@Suite struct DeleteVectorTests {
    static let idColumn = ColumnInfo(columnID: 1, name: "id", type: .int64, duckLakeType: "int64", nullable: false,
                                     initialDefault: nil, defaultValue: nil, order: 1, beginSnapshot: 0)

    /// A 10-row data file (ids 0…9) in row groups of 4, 4 and 2 rows.
    static func dataFile(_ dir: TempDir) throws -> DataFile {
        let path = dir.url.appendingPathComponent("data.parquet").path
        var options = ParquetWriteOptions()
        options.rowGroupRows = 4
        options.sync = false
        let writer = try ParquetFileWriter(path: path, schema: Schema([Field("id", .int64, fieldID: 1)]), options: options)
        try writer.write(RecordBatch(schema: Schema([Field("id", .int64, fieldID: 1)]), columns: [Column(.int64(Array(0 ..< 10)))]))
        _ = try writer.close()
        return DataFile(dataFileID: 1, tableID: 1, path: path, storedPath: "data.parquet", pathIsRelative: true, recordCount: 10,
                        fileSizeBytes: 0, footerSize: nil, rowIDStart: 0, beginSnapshot: 1, endSnapshot: nil,
                        partitionValues: [:], columnStats: [:], deleteFile: nil)
    }

    /// Writes a delete file as DuckDB lays it out (file_path, pos[, _ducklake_internal_snapshot_id]).
    static func deleteFile(_ dir: TempDir, _ data: DataFile, _ positions: [Int64], snapshots: [Int64]? = nil,
                           count: Int64? = nil, at snapshot: Int64 = 5, format: String = "parquet") throws -> DeleteFile {
        let url = dir.url.appendingPathComponent("d-\(UUID().uuidString)-delete.parquet")
        var fields = [Field("file_path", .string, nullable: true), Field("pos", .int64, nullable: true)]
        var columns = [Column(.string(StringColumn(Array(repeating: data.path, count: positions.count)))), Column(.int64(positions))]
        if let snapshots {
            fields.append(Field("_ducklake_internal_snapshot_id", .int64, nullable: true))
            columns.append(Column(.int64(snapshots)))
        }
        var options = ParquetWriteOptions()
        options.sync = false
        let writer = try ParquetFileWriter(path: url.path, schema: Schema(fields), options: options)
        try writer.write(RecordBatch(schema: Schema(fields), columns: columns))
        _ = try writer.close()
        return DeleteFile(deleteFileID: 2, url: url, deleteCount: count ?? Int64(positions.count), format: format, snapshot: snapshot,
                          beginSnapshot: 2)
    }

    static func ids(_ file: DataFile, rowGroups: [Int]? = nil) throws -> [[Int64]] {
        try DataFileReader(file, columns: [idColumn]).read(rowGroups: rowGroups, parallelism: 1).map { b in
            guard case .int64(let v) = b.columns[0].data else { return [] }
            return v
        }
    }

    @Test func positionsAreFileGlobalAcrossRowGroups() throws {
        let dir = try TempDir("deletes")
        defer { dir.cleanup() }
        var file = try Self.dataFile(dir)
        #expect(try Self.ids(file) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
        // Row group 1 (positions 4…7) is deleted whole: it is not decoded and yields no batch.
        file.deleteFile = try Self.deleteFile(dir, file, [1, 4, 5, 6, 7, 9])
        #expect(try Self.ids(file) == [[0, 2, 3], [8]])
        #expect(try Self.ids(file, rowGroups: [2]) == [[8]])
        #expect(file.liveRecordCount == 4)
        let reader = try DataFileReader(file, columns: [Self.idColumn])
        #expect(reader.rowGroupStart(2) == 8)
        #expect(reader.deletes?.deleted(start: 0, count: 4) == 1)
        #expect(reader.deletes?.survivors(start: 8, count: 2) == [0])
        #expect(reader.deletes?.survivors(start: 100, count: 5) == nil)
    }

    @Test func perPositionSnapshotsApplyOnlyFromTheirSnapshot() throws {
        let dir = try TempDir("deletes")
        defer { dir.cleanup() }
        var file = try Self.dataFile(dir)
        file.deleteFile = try Self.deleteFile(dir, file, [0, 3, 8], snapshots: [3, 5, 7], count: 3, at: 5)
        #expect(try Self.ids(file).flatMap { $0 } == [1, 2, 4, 5, 6, 7, 8, 9])
        file.deleteFile = try Self.deleteFile(dir, file, [0, 3, 8], snapshots: [3, 5, 7], count: 3, at: 4)
        #expect(try Self.ids(file).flatMap { $0 } == [1, 2, 3, 4, 5, 6, 7, 8, 9])
    }

    @Test func filesDuckDBWouldRefuseAreRefused() throws {
        let dir = try TempDir("deletes")
        defer { dir.cleanup() }
        var file = try Self.dataFile(dir)
        func refused(_ positions: [Int64], count: Int64? = nil, format: String = "parquet", _ expected: String) throws {
            file.deleteFile = try Self.deleteFile(dir, file, positions, count: count, format: format)
            do {
                _ = try DataFileReader(file, columns: [Self.idColumn])
                Issue.record("accepted \(positions) (\(format)), expected: \(expected)")
            } catch let e as DeleteFileError {
                #expect(e.description.contains(expected), "\(e)")
                #expect(e.description.contains(file.deleteFile!.url.path))
            }
        }
        try refused([3, 2], "strictly ascending")
        try refused([2, 2], "strictly ascending")
        try refused([10], "outside data file")
        try refused([-1], "outside data file")
        try refused([1, 2], count: 3, "delete_count says 3")
        try refused([1], format: "puffin", "format puffin")
    }
}
