import Foundation
import GRDB
import LakeFormat
import Testing
@testable import LakeCatalog

/// The test-only writer (`Tests/LakeCatalogWriter`) that `swift build --build-tests` leaves next to `lake`.
let writerBinary = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent(".build/debug/LakeCatalogWriter")

/// One line of the writer's stdout.
struct WriterEvent {
    var event: String
    var writer: Int64
    var seq: Int64
    var op: String
    var snapshot: Int64?
    var ids: [Int64]
    var error: String?
}

/// A running LakeCatalogWriter. Output goes to files, not pipes, so a killed or chatty writer
/// never blocks and what it wrote before dying stays readable.
final class WriterProcess {
    let process = Process()
    let outURL: URL
    let errURL: URL

    /// `environment` adds to the test's own (LAKE_CATALOG puts the catalog on PostgreSQL).
    init(lake: URL, arguments: [String], dir: URL, label: String, environment: [String: String] = [:]) throws {
        outURL = dir.appendingPathComponent("\(label).out")
        errURL = dir.appendingPathComponent("\(label).err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.executableURL = writerBinary
        process.arguments = ["--lake", lake.path] + arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        try process.run()
        try out.close()
        try err.close()
    }

    /// Waits for the exit; false (after killing it) when it outlives `timeout`.
    @discardableResult
    func wait(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return false
        }
        process.waitUntilExit()
        return true
    }

    /// Lets writers started with `--start-when go` begin together: waits until each has opened
    /// its catalog (its `go.ready-W` file exists, or it already exited), then creates `go`.
    static func startTogether(_ writers: [WriterProcess], ids: [Int64], go: String) {
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline, !zip(writers, ids).allSatisfy({ w, id in
            FileManager.default.fileExists(atPath: "\(go).ready-\(id)") || !w.process.isRunning
        }) { Thread.sleep(forTimeInterval: 0.005) }
        #expect(FileManager.default.createFile(atPath: go, contents: nil), "cannot create \(go)")
    }

    func killNow() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    var killedBySIGKILL: Bool { process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL }
    var exitedCleanly: Bool { process.terminationReason == .exit && process.terminationStatus == 0 }
    var stderr: String { (try? String(contentsOf: errURL, encoding: .utf8)) ?? "" }

    var events: [WriterEvent] {
        let text = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return WriterEvent(event: o["event"] as? String ?? "", writer: (o["writer"] as? NSNumber)?.int64Value ?? -1,
                               seq: (o["seq"] as? NSNumber)?.int64Value ?? -1, op: o["op"] as? String ?? "",
                               snapshot: (o["snapshot"] as? NSNumber)?.int64Value,
                               ids: (o["ids"] as? [NSNumber])?.map(\.int64Value) ?? [], error: o["error"] as? String)
        }
    }
}

/// What a checked lake looks like, for comparing before and after a kill.
struct LakeState {
    var latest: Int64
    var snapshots: [Int64]
    /// Commit message per retained snapshot.
    var messages: [Int64: String]
    /// curated.events ids read through DataFileReader at the latest snapshot, sorted.
    var liveIDs: [Int64]
    /// `.parquet` files under curated/ that no data_file row references.
    var orphans: [URL]
    var liveFiles: Int
}

/// The writer's commit message, "writer=W seq=K op=OP files=N rows=R removed=M", as fields.
func parseMessage(_ text: String) -> [String: String] {
    var out: [String: String] = [:]
    for part in text.split(separator: " ") {
        let kv = part.split(separator: "=", maxSplits: 1)
        if kv.count == 2 { out[String(kv[0])] = String(kv[1]) }
    }
    return out
}

/// The commit protocol's invariants, checked on a lake no writer is touching. Each violation
/// is recorded as a test issue labelled `label`.
enum CommitInvariants {
    static func check(_ root: URL, label: String, gapFreeRowIDs: Bool, readRows: Bool = true) throws -> LakeState {
        let catalog = try Catalog.open(root: root, create: false)
        let integrity = try catalog.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
        #expect(integrity == ["ok"], "\(label): integrity_check \(integrity)")

        struct FileRow { var id: Int64; var table: Int64; var url: URL; var records: Int64; var size: Int64; var footer: Int64?
                         var rowStart: Int64; var begin: Int64; var end: Int64? }
        var files: [FileRow] = []
        var snaps: [SnapshotInfo] = []
        var messages: [Int64: String] = [:]
        try catalog.read { db in
            snaps = try Catalog.fetchSnapshots(db)
            guard let first = snaps.first, let latest = snaps.last else {
                Issue.record("\(label): no snapshots")
                return
            }
            // Snapshot ids contiguous, times increasing, id counters never going back.
            #expect(snaps.map(\.id) == Array(first.id ... latest.id), "\(label): snapshot ids \(snaps.map(\.id))")
            for (a, b) in zip(snaps, snaps.dropFirst()) {
                #expect(a.timeMicros < b.timeMicros, "\(label): snapshot \(b.id) not after \(a.id)")
                #expect(a.nextFileID <= b.nextFileID && a.nextCatalogID <= b.nextCatalogID, "\(label): id counters went back at \(b.id)")
            }
            let missingChanges = try Int64.fetchOne(db, sql: """
                SELECT count(*) FROM ducklake_snapshot s LEFT JOIN ducklake_snapshot_changes c ON c.snapshot_id = s.snapshot_id
                WHERE c.snapshot_id IS NULL OR c.changes_made IS NULL OR c.changes_made = ''
                """)
            #expect(missingChanges == 0, "\(label): \(missingChanges ?? -1) snapshots without a change summary")
            // Nothing refers to a snapshot that was never committed.
            for t in ["ducklake_schema", "ducklake_table", "ducklake_column", "ducklake_data_file", "ducklake_partition_info"] {
                let maxRef = try Int64.fetchOne(db, sql: "SELECT max(max(begin_snapshot), coalesce(max(end_snapshot), 0)) FROM \(t)") ?? 0
                #expect(maxRef <= latest.id, "\(label): \(t) refers to snapshot \(maxRef) > latest \(latest.id)")
            }
            // next_file_id / next_catalog_id lie beyond every id in use.
            let maxFile = try Int64.fetchOne(db, sql: "SELECT max(data_file_id) FROM ducklake_data_file") ?? -1
            #expect(latest.nextFileID > maxFile, "\(label): next_file_id \(latest.nextFileID) <= data_file_id \(maxFile)")
            let maxCatalog = try Int64.fetchOne(db, sql: """
                SELECT max(x) FROM (SELECT max(schema_id) AS x FROM ducklake_schema UNION ALL SELECT max(table_id) FROM ducklake_table
                                    UNION ALL SELECT max(partition_id) FROM ducklake_partition_info)
                """) ?? -1
            #expect(latest.nextCatalogID > maxCatalog, "\(label): next_catalog_id \(latest.nextCatalogID) <= id \(maxCatalog)")

            let retained = Set(snaps.map(\.id))
            let dirs = Dictionary(uniqueKeysWithValues: try Catalog.fetchTables(db, snapshot: latest.id, dataPath: catalog.dataPath).map { ($0.tableID, $0.directory) })
            for r in try SQLRow.fetchAll(db, sql: """
                SELECT data_file_id, table_id, path, path_is_relative, record_count, file_size_bytes, footer_size, row_id_start,
                       begin_snapshot, end_snapshot FROM ducklake_data_file ORDER BY data_file_id
                """) {
                let tid: Int64 = r["table_id"]
                files.append(FileRow(id: r["data_file_id"], table: tid,
                                     url: Catalog.fileURL(path: r["path"], isRelative: r["path_is_relative"], tableDir: dirs[tid] ?? catalog.dataPath),
                                     records: r["record_count"], size: r["file_size_bytes"], footer: r["footer_size"],
                                     rowStart: r["row_id_start"], begin: r["begin_snapshot"], end: r["end_snapshot"]))
            }
            // Every writer snapshot holds exactly what its writer meant to commit: never part of it.
            for s in snaps {
                let text = try String.fetchOne(db, sql: "SELECT commit_message FROM ducklake_snapshot_changes WHERE snapshot_id = ?", arguments: [s.id]) ?? ""
                messages[s.id] = text
                let m = parseMessage(text)
                guard let op = m["op"], let n = Int(m["files"] ?? ""), let rows = Int64(m["rows"] ?? ""), let removed = Int(m["removed"] ?? "") else { continue }
                let added = files.filter { $0.begin == s.id }
                #expect(added.count == n && added.reduce(0) { $0 + $1.records } == rows,
                        "\(label): snapshot \(s.id) '\(text)' has \(added.count) files, \(added.reduce(0) { $0 + $1.records }) rows")
                // Rows ended here stay in the catalog while the snapshot before is retained.
                if retained.contains(s.id - 1) {
                    let ended = files.filter { $0.end == s.id }.count
                    #expect(ended == removed, "\(label): snapshot \(s.id) '\(text)' removed \(ended) files")
                }
                if op == "addColumn" {
                    let cols = try Int64.fetchOne(db, sql: "SELECT count(*) FROM ducklake_column WHERE begin_snapshot = ?", arguments: [s.id]) ?? 0
                    #expect(cols == 1, "\(label): snapshot \(s.id) '\(text)' added \(cols) columns")
                }
            }
            // Row-id ranges never overlap; without expired history they tile 0 ..< next_row_id.
            for tid in Set(files.map(\.table)) {
                let mine = files.filter { $0.table == tid }.sorted { $0.rowStart < $1.rowStart }
                var end: Int64 = 0
                for (i, f) in mine.enumerated() {
                    if gapFreeRowIDs {
                        #expect(f.rowStart == end, "\(label): table \(tid) file \(f.id) starts at row id \(f.rowStart), expected \(end)")
                    } else if i > 0 {
                        #expect(f.rowStart >= end, "\(label): table \(tid) file \(f.id) row ids overlap the previous file")
                    }
                    end = f.rowStart + f.records
                }
                let ts = try SQLRow.fetchOne(db, sql: "SELECT record_count, next_row_id, file_size_bytes FROM ducklake_table_stats WHERE table_id = ?", arguments: [tid])
                let live = mine.filter { $0.end == nil }
                let nextRowID: Int64 = ts?["next_row_id"] ?? -1
                #expect(gapFreeRowIDs ? nextRowID == end : nextRowID >= end, "\(label): table \(tid) next_row_id \(nextRowID), files end at \(end)")
                let recordCount: Int64? = ts?["record_count"], bytes: Int64? = ts?["file_size_bytes"]
                #expect(recordCount == live.reduce(0) { $0 + $1.records }, "\(label): table \(tid) record_count stats")
                #expect(bytes == live.reduce(0) { $0 + $1.size }, "\(label): table \(tid) file_size_bytes stats")
            }
        }
        // Every recorded file exists with the recorded size and footer.
        for f in files {
            guard let attrs = try? FileManager.default.attributesOfItem(atPath: f.url.path) else {
                Issue.record("\(label): data file \(f.id) missing: \(f.url.path)")
                continue
            }
            #expect((attrs[.size] as? NSNumber)?.int64Value == f.size, "\(label): data file \(f.id) size differs from the catalog")
            if let footer = f.footer, let h = FileHandle(forReadingAtPath: f.url.path) {
                try h.seek(toOffset: UInt64(f.size - 8))
                let tail = [UInt8](h.readData(ofLength: 8))
                try h.close()
                let len = tail.count == 8 ? Int64(tail[0]) | Int64(tail[1]) << 8 | Int64(tail[2]) << 16 | Int64(tail[3]) << 24 : -1
                #expect(len == footer && tail.suffix(4) == Array("PAR1".utf8), "\(label): data file \(f.id) footer differs from the catalog")
            }
        }
        // Debris: Parquet files under the layer no row references, and hold names of files no
        // row references (a write killed before its commit). A hold of a committed file (a kill
        // between the commit and its release) is not debris: vacuum drops it as a leftover.
        let known = Set(files.map(\.url.standardizedFileURL.path))
        var orphans: [URL] = []
        if let walker = FileManager.default.enumerator(at: root.appendingPathComponent("curated"), includingPropertiesForKeys: nil) {
            for case let url as URL in walker {
                let path = url.standardizedFileURL.path
                if let held = LocalStorage.heldName(ofFile: url.lastPathComponent) {
                    if !known.contains(url.deletingLastPathComponent().appendingPathComponent(held).standardizedFileURL.path) { orphans.append(url) }
                } else if url.pathExtension == "parquet" && !known.contains(path) {
                    orphans.append(url)
                }
            }
        }
        var ids: [Int64] = []
        let live = files.filter { $0.end == nil }
        if readRows, let table = try catalog.tables().first(where: { $0.qualifiedName == "curated.events" }) {
            ids = try readIDs(catalog, table: table, label: label)
            #expect(Int64(ids.count) == live.reduce(0) { $0 + $1.records }, "\(label): \(ids.count) rows read, catalog says \(live.reduce(0) { $0 + $1.records })")
        }
        let latest = snaps.last?.id ?? -1
        return LakeState(latest: latest, snapshots: snaps.map(\.id), messages: messages, liveIDs: ids,
                         orphans: orphans.sorted { $0.path < $1.path }, liveFiles: live.count)
    }

    /// The table's ids at the snapshot through DataFileReader (as scans read them), sorted; each
    /// row's writer and seq columns must agree with what its id encodes, and no id may repeat.
    static func readIDs(_ catalog: Catalog, table: TableInfo, at asOf: AsOf? = nil, label: String) throws -> [Int64] {
        var ids: [Int64] = []
        for f in try catalog.dataFiles(tableID: table.tableID, at: asOf) {
            var rows = 0
            for b in try DataFileReader(f, columns: table.columns, files: catalog.files).read(parallelism: 1) {
                rows += b.count
                guard case .int64(let id) = b.columns[0].materialized().data,
                      case .int64(let writer) = b.columns[1].materialized().data,
                      case .int64(let seq) = b.columns[2].materialized().data else {
                    Issue.record("\(label): unexpected column types in \(f.url.lastPathComponent)")
                    continue
                }
                for i in id.indices where writer[i] != id[i] / 1_000_000_000 || seq[i] != id[i] % 1_000_000_000 / 10_000 {
                    Issue.record("\(label): row \(id[i]) carries writer \(writer[i]) seq \(seq[i])")
                }
                ids += id
            }
            #expect(Int64(rows) == f.recordCount, "\(label): \(f.url.lastPathComponent) has \(rows) rows, catalog says \(f.recordCount)")
        }
        ids.sort()
        #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 }, "\(label): duplicate ids")
        return ids
    }

    /// DuckDB's ducklake extension attached to the lake: rows, distinct ids and their sum.
    static func duckdbCounts(_ root: URL, in dir: URL) throws -> (rows: Int, distinct: Int, sum: String) {
        let out = try Python.json("""
        root = sys.argv[1]
        c = connect()
        c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
        n, d, s = c.execute("SELECT count(*), count(DISTINCT id), coalesce(sum(id), 0) FROM l.curated.events").fetchone()
        print(json.dumps({"rows": n, "distinct": d, "sum": str(s)}))
        """, args: [root.path], in: dir) as? [String: Any]
        return ((out?["rows"] as? Int) ?? -1, (out?["distinct"] as? Int) ?? -1, (out?["sum"] as? String) ?? "")
    }
}
