import Foundation
import LakeFormat
import Testing
@testable import LakeCatalog

/// Delete files we write ourselves, read the way DuckDB's are (DeleteFileTests covers DuckDB's):
/// positions count across row groups, per-position snapshots filter by the snapshot read, and
/// files DuckDB would refuse are refused with a typed error.
@Suite struct DeleteVectorTests {
    /// The files are loose files in a temp directory: a storage rooted at "/" reads them by absolute path.
    static let files = LakeFiles(storage: LocalStorage(root: "/"), root: URL(fileURLWithPath: "/"))
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
        try DataFileReader(file, columns: [idColumn], files: Self.files).read(rowGroups: rowGroups, parallelism: 1).map { b in
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
        let reader = try DataFileReader(file, columns: [Self.idColumn], files: Self.files)
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

    /// DuckLake 1.0's inlined file deletions (ducklake_inlined_delete_<table_id>), laid out as
    /// DuckDB writes them, apply from their snapshot on, with the delete file, in every count.
    @Test func inlinedDeletionsApplyFromTheirSnapshot() throws {
        let dir = try TempDir("deletes")
        defer { dir.cleanup() }
        let catalog = try Catalog.open(root: dir.url)
        let (_, created) = try catalog.commit { tx in
            try tx.ensureSchema("curated")
            return try tx.createTable(schema: "curated", name: "t", fields: [Field("id", .int64)], partitionBy: [])
        }
        let table = try catalog.table(schema: "curated", name: "t")
        let path = table.directory.appendingPathComponent("f.parquet").path
        try FileManager.default.createDirectory(at: table.directory, withIntermediateDirectories: true)
        var options = ParquetWriteOptions()
        options.rowGroupRows = 4
        options.sync = false
        let writer = try ParquetFileWriter(path: path, schema: Schema(created.fields), options: options)
        try writer.write(RecordBatch(schema: Schema(created.fields), columns: [Column(.int64(Array(0 ..< 10)))]))
        let summary = try writer.close()
        let (s1, fid) = try catalog.commit { tx in
            try tx.addDataFile(tableID: created.tableID, NewDataFile(relativePath: "f.parquet", recordCount: 10, fileSizeBytes: summary.fileSize,
                                                                      footerSize: summary.footerSize,
                                                                      columnStats: [1: ColumnStats(min: "0", max: "9", nullCount: 0)]))
        }
        func inline(_ rows: [Int64]) throws -> Int64 {
            try catalog.commit { tx in
                let t = DeleteVector.inlinedTable(tableID: created.tableID)
                try tx.database.execute(sql: "CREATE TABLE IF NOT EXISTS \(t)(file_id BIGINT, row_id BIGINT, begin_snapshot BIGINT)")
                for r in rows { try tx.database.execute(sql: "INSERT INTO \(t) VALUES (?, ?, ?)", arguments: [fid, r, tx.snapshotID]) }
            }.0.id
        }
        let s2 = try inline([7, 3])
        let s3 = try inline([0, 9])
        func ids(_ s: Int64) throws -> [Int64] {
            let files = try catalog.dataFiles(tableID: created.tableID, at: .snapshot(s))
            return try files.flatMap { f in try Self.ids(f).flatMap { $0 } }
        }
        #expect(try ids(s1.id) == Array(0 ..< 10))
        #expect(try ids(s2) == [0, 1, 2, 4, 5, 6, 8, 9])
        #expect(try ids(s3) == [1, 2, 4, 5, 6, 8])
        var file = try #require(try catalog.dataFiles(tableID: created.tableID, at: .snapshot(s3)).first)
        #expect(file.inlinedDeletes == [0, 3, 7, 9] && file.liveRecordCount == 6)
        #expect(try catalog.keyRuns(tableID: created.tableID, column: "id", at: s2).tableRows == 8)
        // With a delete file too: both apply, a position in both once.
        file.deleteFile = try Self.deleteFile(dir, file, [1, 3])
        #expect(try Self.ids(file).flatMap { $0 } == [2, 4, 5, 6, 8])
        // A rewrite that saw these deletes sees a new inlined one as a change.
        let marks = try catalog.commit { tx in try tx.currentDeleteMarks(tableID: created.tableID) }.1
        #expect(marks[fid] == DeleteMark(deleteFileID: nil, inlined: 4))
    }

    @Test func filesDuckDBWouldRefuseAreRefused() throws {
        let dir = try TempDir("deletes")
        defer { dir.cleanup() }
        var file = try Self.dataFile(dir)
        func refused(_ positions: [Int64], count: Int64? = nil, format: String = "parquet", _ expected: String) throws {
            file.deleteFile = try Self.deleteFile(dir, file, positions, count: count, format: format)
            do {
                _ = try DataFileReader(file, columns: [Self.idColumn], files: Self.files)
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
