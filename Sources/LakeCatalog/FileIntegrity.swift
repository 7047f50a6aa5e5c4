import Foundation
import LakeFormat

// Integrity of committed data files, end to end.
//
// At commit, `addDataFile` records the file's footer checksum in `lake_file_integrity`, in the
// same transaction as its `ducklake_data_file` row (which already holds its size). Every open
// through `DataFileReader` then checks, before it parses a byte of the footer, that the file
// has the committed size and (when recorded) the committed footer CRC-32; every page read
// checks the page CRC-32 its header carries. Together these cover every byte a read trusts:
// the footer (schema, field ids, offsets, statistics) by the recorded checksum, the pages by
// their own CRCs, the file's extent by the size.
//
// Why the footer and not the whole file: a scan reads only the columns and row groups it needs,
// so a whole-file checksum would have to read every byte on every open (a one-column query on
// a 13-column file would read ~13× as much). The footer is read on every open anyway and is a
// few kilobytes; the pages carry their own CRCs, checked as they are read. `lake verify` reads
// everything.
//
// Files another tool committed (DuckDB) have no record and are checked by size only; their
// pages are checked when the writer stored CRCs (pyarrow with write_page_checksum=True).

enum FileIntegrity {
    static let ddl = """
        CREATE TABLE IF NOT EXISTS lake_file_integrity (
            data_file_id INTEGER PRIMARY KEY, table_id BIGINT NOT NULL, footer_crc32 BIGINT NOT NULL)
        """

    static func exists(_ db: SQLDatabase) throws -> Bool {
        try db.tableExists("lake_file_integrity")
    }

    /// Called by `addDataFiles`, inside the commit's transaction: each table's files got the ids
    /// `firstDataFileID`, `firstDataFileID + 1`, … in order.
    static func record(_ db: SQLDatabase, _ groups: [(firstDataFileID: Int64, tableID: Int64, files: [NewDataFile])]) throws {
        var rows: [SQLArguments] = []
        for (firstDataFileID, tableID, files) in groups {
            for (i, file) in files.enumerated() {
                guard let checksum = file.footerChecksum else { continue }
                rows.append([firstDataFileID + Int64(i), tableID, Int64(checksum)])
            }
        }
        guard !rows.isEmpty else { return }
        try db.insertRows(into: "lake_file_integrity", row: "(?, ?, ?)", rows)
    }

    /// Recorded footer checksums of the table's files with ids in `lo...hi`.
    static func footerChecksums(_ db: SQLDatabase, tableID: Int64, from lo: Int64, to hi: Int64) throws -> [Int64: UInt32] {
        guard try exists(db) else { return [:] }
        var out: [Int64: UInt32] = [:]
        let cursor = try SQLRow.fetchCursor(db, sql: """
            SELECT data_file_id, footer_crc32 FROM lake_file_integrity WHERE data_file_id BETWEEN ? AND ? AND table_id = ?
            """, arguments: [lo, hi, tableID])
        while let r = try cursor.next() {
            let v: Int64 = try r.value(at: 1, "footer_crc32")
            guard let crc = UInt32(exactly: v) else { throw CatalogError.corrupt("lake_file_integrity.footer_crc32 \(v) is not a CRC-32") }
            out[try r.value(at: 0, "data_file_id")] = crc
        }
        return out
    }

    /// Drops records of data files the catalog no longer holds (after vacuum removed their rows).
    static func forgetRemoved(_ db: SQLDatabase) throws {
        guard try exists(db) else { return }
        try db.execute(sql: "DELETE FROM lake_file_integrity WHERE data_file_id NOT IN (SELECT data_file_id FROM ducklake_data_file)")
    }

    /// What the catalog recorded about a file, as the Parquet reader checks it. A recorded size
    /// of 0 means "unknown" (no Parquet file is empty), as some tools leave it.
    static func expectation(_ file: DataFile) -> ParquetFileReader.Expectation {
        .init(fileSize: file.fileSizeBytes > 0 ? file.fileSizeBytes : nil, footerChecksum: file.footerChecksum)
    }

    /// Opens and checks one file at the Parquet level: size, footer checksum, every page's CRC
    /// and decode. Throws the first failure.
    static func verifyPhysical(path: String, expect: ParquetFileReader.Expectation, files: LakeFiles) throws -> (ParquetFileReader, PageCounts) {
        let reader = try files.reader(path, expect: expect)
        return (reader, try reader.verifyPages(parallelism: 1))
    }
}

// MARK: - lake verify

/// One file's verdict from `Catalog.verifyFiles`.
public struct FileVerification: Sendable, Equatable {
    public enum Status: String, Sendable, Equatable {
        case ok
        /// Not on disk (or not openable).
        case missing
        case sizeMismatch = "size_mismatch"
        case checksumMismatch = "checksum_mismatch"
        /// A column the catalog says the file holds is not in its footer.
        case missingColumn = "missing_column"
        /// The footer or a page does not parse or decode, or the row count disagrees.
        case corrupt
        /// Valid Parquet that uses a feature lake cannot read (data page v2, an encoding or
        /// codec it lacks): another tool wrote it; not damage, and not restorable from a backup.
        case unsupported
    }

    public var table: String
    public var dataFileID: Int64
    public var path: String
    /// The snapshot that committed the file (`FileOrigin` says what that commit was).
    public var snapshotID: Int64
    public var recordedBytes: Int64
    public var recordCount: Int64
    /// True when the catalog holds the file's footer checksum (files we wrote).
    public var footerChecksumRecorded: Bool
    public var pages: Int
    public var pagesWithCRC: Int
    public var status: Status
    /// The error, naming what failed; nil when ok.
    public var detail: String?

    public var ok: Bool { status == .ok }
}

extension Catalog {
    /// Checks every data file live at the snapshot (of one table, or all): it exists, has the
    /// committed size and footer checksum, its footer parses, it holds every column the catalog
    /// says it does, every page passes its CRC and decodes, and it holds the committed row
    /// count. Read-only: nothing in the catalog or on disk changes. `progress(doneBytes,
    /// totalBytes)` (recorded sizes) is called after each file.
    public func verifyFiles(table name: String? = nil, at asOf: AsOf? = nil,
                            progress: ((Int64, Int64) -> Void)? = nil) throws -> [FileVerification] {
        let snap = try resolve(asOf)
        let all = try tables(at: .snapshot(snap.id))
        let chosen: [TableInfo]
        if let name {
            let wanted = TableName(parsing: name)
            chosen = all.filter { $0.schemaName == wanted.schema && $0.name == wanted.name }
            if chosen.isEmpty { throw CatalogError.tableNotFound(name: wanted.description, snapshot: snap.id) }
        } else {
            chosen = all
        }
        var work: [(TableInfo, DataFile)] = []
        for t in chosen {
            // Inlined rows live in the catalog itself: there is no file of theirs to verify.
            for f in try dataFiles(tableID: t.tableID, at: .snapshot(snap.id), columnStats: false, inlined: .readSeparately) { work.append((t, f)) }
        }
        var out: [FileVerification] = []
        out.reserveCapacity(work.count)
        let total = work.reduce(Int64(0)) { $0 + $1.1.fileSizeBytes }
        var done: Int64 = 0
        for (t, f) in work {
            out.append(Self.verify(f, table: t, files: files))
            done += f.fileSizeBytes
            progress?(done, total)
        }
        return out
    }

    /// One file's verdict (never throws: a failure is the verdict).
    public static func verify(_ file: DataFile, table: TableInfo, files: LakeFiles) -> FileVerification {
        var v = FileVerification(table: table.qualifiedName, dataFileID: file.dataFileID, path: file.path, snapshotID: file.beginSnapshot,
                                 recordedBytes: file.fileSizeBytes, recordCount: file.recordCount,
                                 footerChecksumRecorded: file.footerChecksum != nil, pages: 0, pagesWithCRC: 0,
                                 status: .ok, detail: nil)
        do {
            // The same open as every scan (size, footer checksum, columns by field id) ...
            let reader = try DataFileReader(file, columns: table.columns, files: files)
            // ... then every page of every column, not only those a query would touch.
            let counts = try reader.reader.verifyPages()
            v.pages = counts.pages
            v.pagesWithCRC = counts.checksummed
            if reader.reader.rowCount != file.recordCount {
                v.status = .corrupt
                v.detail = "\(file.path): holds \(reader.reader.rowCount) rows, the catalog recorded \(file.recordCount)"
            }
        } catch let e as ParquetError {
            switch e {
            case .io(_, let op, let errno) where op == "open" || op == "stat":
                v.status = errno == ENOENT ? .missing : .corrupt
            case .sizeMismatch: v.status = .sizeMismatch
            case .footerChecksumMismatch, .pageChecksumMismatch: v.status = .checksumMismatch
            // A widened decimal holding a value past Int64: valid, not damage.
            case .unsupported, .valueOutOfRange: v.status = .unsupported
            default: v.status = .corrupt
            }
            v.detail = e.description
        } catch let e as CatalogError {
            // A wrong --lake for a catalog kept apart from its files: missing here, and the
            // detail says which directory to pass.
            if case .filesNotUnderLake = e { v.status = .missing } else { v.status = .corrupt }
            v.detail = e.description
        } catch let e as DataFileError {
            switch e {
            case .missingColumn: v.status = .missingColumn
            case .encrypted: v.status = .unsupported
            case .unreadableColumn: v.status = .corrupt
            }
            v.detail = e.description
        } catch {
            v.status = .corrupt
            v.detail = "\(file.path): \(error)"
        }
        return v
    }
}

/// What committed a file, so a failed file leads to its backup or its source: the commit
/// (its time and message: "ingest orders orders_2024-01-15.jsonl", "compact 3 partition(s)",
/// none for another engine's commit) and the ingest runs it recorded, with each source's path
/// and content hash. A snapshot vacuum expired has no commit left.
public struct FileOrigin: Sendable {
    public var snapshotID: Int64
    public var commit: SnapshotInfo?
    public var ingestRuns: [IngestRun]
}

extension Catalog {
    /// The origin of each of these snapshots (read-only), in snapshot order.
    /// Two lookups a snapshot, not the lake's whole history (a followed source records a run
    /// every commit).
    public func origins(ofSnapshots ids: Set<Int64>) throws -> [FileOrigin] {
        try ids.sorted().map { id in
            let commit: SnapshotInfo?
            do { commit = try resolve(.snapshot(id)) } catch CatalogError.snapshotNotFound { commit = nil }
            let runs = try read { db -> [IngestRun] in
                guard try Bookkeeping.exists(db) else { return [] }
                return try SQLRow.fetchAll(db, sql: "SELECT * FROM lake_ingest_run WHERE snapshot_id = ?", arguments: [id]).map(Bookkeeping.run)
            }
            return FileOrigin(snapshotID: id, commit: commit, ingestRuns: runs)
        }
    }
}

// MARK: - Vacuum keeps the last good copy

/// A compaction or rewrite: the files of `tableID` ended at `snapshot` were replaced by the
/// files of that table that begin at it.
struct Replacement: Hashable {
    var tableID: Int64
    var snapshot: Int64
}

/// What a vacuum's look at the replacements found: those it looked at, and of them those whose
/// files all verify.
struct ReplacementCheck {
    var looked: Set<Replacement> = []
    var verified: Set<Replacement> = []
}

/// What vacuum does with a file no retained snapshot reads.
enum ReplacedFileFate {
    /// Nothing replaced it, or its replacement verifies.
    case delete
    /// Its replacement was looked at and does not verify: the original is the last good copy.
    case keepUnverified
    /// Its replacement was committed after the look (a concurrent compaction): not verified
    /// yet, so kept, silently, for the next vacuum.
    case keepForNextVacuum
}

extension Catalog {
    /// The replacements whose originals a vacuum with this cutoff would delete, each with
    /// whether every file that replaced them verifies (size, footer checksum, page CRCs and
    /// decode). Read-only and outside the vacuum's write transaction, so verifying does not hold
    /// the writer lock; a replacement committed after this look is not in `looked`, and its
    /// originals are kept until the next vacuum.
    /// `progress(doneFiles, totalFiles)`: the replacement files checked so far (checking them
    /// is most of a vacuum's time after a compaction: each is read whole).
    func verifiedReplacements(cutoffMicros: Int64, progress: ((Int64, Int64) -> Void)? = nil) throws -> ReplacementCheck {
        let (candidates, outputs): (Set<Replacement>, [Replacement: [(String, ParquetFileReader.Expectation)]]) = try read { db in
            let snaps = try Self.fetchSnapshots(db)
            guard let latest = snaps.last else { return ([], [:]) }
            let retained = snaps.filter { !($0.timeMicros < cutoffMicros) || $0.id == latest.id }.map(\.id)
            var candidates = Set<Replacement>()
            for r in try SQLRow.fetchAll(db, sql: "SELECT DISTINCT table_id, begin_snapshot, end_snapshot FROM ducklake_data_file WHERE end_snapshot IS NOT NULL") {
                let begin: Int64 = try r.value("begin_snapshot"), end: Int64 = try r.value("end_snapshot")
                if !retained.contains(where: { $0 >= begin && $0 < end }) {
                    candidates.insert(Replacement(tableID: try r.value("table_id"), snapshot: end))
                }
            }
            let dirs = try tableDirectories(db)
            let hasIntegrity = try FileIntegrity.exists(db)
            var outputs: [Replacement: [(String, ParquetFileReader.Expectation)]] = [:]
            for c in candidates {
                outputs[c] = try expectations(db, filter: "d.table_id = ? AND d.begin_snapshot = ?", arguments: [c.tableID, c.snapshot],
                                              directories: dirs, integrity: hasIntegrity)
            }
            return (candidates, outputs)
        }
        var check = ReplacementCheck(looked: candidates)
        let total = Int64(outputs.values.reduce(0) { $0 + $1.count })
        var done: Int64 = 0
        if total > 0 { progress?(0, total) }
        for c in candidates {
            let files = outputs[c] ?? []
            // No files began there: the table was dropped or emptied, nothing replaced the originals.
            if files.isEmpty { continue }
            if files.allSatisfy({ path, expect in
                done += 1
                defer { progress?(done, total) }
                return Self.verifies(path: path, expect: expect, files: self.files)
            }) { check.verified.insert(c) }
        }
        if total > 0 { progress?(total, total) }
        return check
    }

    /// The data files `filter` (over `ducklake_data_file d`) selects, each with what verifying it
    /// holds it to: its absolute path, size and, for ours, footer checksum.
    func expectations(_ db: SQLDatabase, filter: String, arguments: SQLArguments, directories: [Int64: URL],
                      integrity: Bool) throws -> [(String, ParquetFileReader.Expectation)] {
        try SQLRow.fetchAll(db, sql: """
            SELECT d.table_id, d.path, d.path_is_relative, d.file_size_bytes, \(integrity ? "i.footer_crc32" : "NULL AS footer_crc32")
            FROM ducklake_data_file d \(integrity ? "LEFT JOIN lake_file_integrity i ON i.data_file_id = d.data_file_id" : "")
            WHERE \(filter)
            """, arguments: arguments).map { r in
            let url = Self.fileURL(path: try r.value("path") ?? "", isRelative: try r.value("path_is_relative"),
                                   tableDir: directories[try r.value("table_id")] ?? dataPath)
            let size: Int64 = try r.value("file_size_bytes") ?? 0
            let crc: Int64? = try r.value("footer_crc32")
            return (url.standardizedFileURL.path, ParquetFileReader.Expectation(fileSize: size > 0 ? size : nil, footerChecksum: crc.flatMap(UInt32.init(exactly:))))
        }
    }

    /// A file with a recorded footer checksum (ours) is verified whole: size, footer, every
    /// page's CRC and decode. One without (another tool's) is held to what the catalog knows of
    /// it, as on every open: it exists with the recorded size. Any failure, an I/O error
    /// included, counts as "not verified": the originals stay, which costs only disk space
    /// until the next vacuum looks again.
    static func verifies(path: String, expect: ParquetFileReader.Expectation, files: LakeFiles) -> Bool {
        do {
            if expect.footerChecksum != nil {
                _ = try FileIntegrity.verifyPhysical(path: path, expect: expect, files: files)
                return true
            }
            guard let info = try files.info(path) else { return false }
            return expect.fileSize.map { $0 == info.size } ?? true
        } catch {
            return false
        }
    }

    /// What happens to a file ended at `end` that no retained snapshot reads: files replaced it
    /// there and were verified (delete), were looked at and failed (keep: the last good copy), or
    /// were committed after the look (keep until the next vacuum verifies them).
    static func fateOfReplaced(_ db: SQLDatabase, tableID: Int64, end: Int64?, check: ReplacementCheck) throws -> ReplacedFileFate {
        guard let end else { return .delete }
        let replacement = Replacement(tableID: tableID, snapshot: end)
        if check.verified.contains(replacement) { return .delete }
        let replaced = try Int.fetchOne(db, sql: "SELECT count(*) FROM ducklake_data_file WHERE table_id = ? AND begin_snapshot = ?",
                                        arguments: [tableID, end]) ?? 0
        if replaced == 0 { return .delete }
        return check.looked.contains(replacement) ? .keepUnverified : .keepForNextVacuum
    }
}
