// A test-only catalog writer: the process the crash-injection and multi-process tests kill and
// race (Tests/LakeCatalogTests/CommitCrashTests.swift, CommitConcurrencyTests.swift). It is not
// part of `lake`; it drives the real write path (LakeFormat's ParquetFileWriter with fsync, then
// one Catalog.commit per operation) on the table curated.events, and reports on stdout, one JSON
// object per line written with a single write(2), so a line is never half there after a kill:
//
//   {"event":"start","writer":W,"seq":K,"op":"append"}        before an operation writes anything
//   {"event":"commit","writer":W,"seq":K,"op":…,"snapshot":S,"ids":[…]}   after commit returned
//   {"event":"conflict","writer":W,"seq":K,"error":"…"}       a CatalogError.conflict, retried
//
// Every commit's message is "writer=W seq=K op=OP files=N rows=R removed=M", so a checker can
// verify each snapshot holds exactly what its writer meant to commit (never part of it).
//
// Usage: LakeCatalogWriter --lake DIR --writer W [--setup] [--ops N] [--mix append|all|schema|compact]
//        [--seed S] [--kill-at POINT:N] [--think-ms MS] [--start-when FILE]
// --start-when: open the catalog, create FILE.ready-W, then wait until FILE exists before the
// first operation, so writers started one after another begin together once all are ready (on a
// loaded machine the first could otherwise be done before the last has started: no race).
// POINT is file.written (bytes written, before fsync), file.synced (file and directory synced,
// before the commit), or commit.<CommitPoint> (locked, dataFileAdded, beforeCommit, committed);
// the process raises SIGKILL the N-th time it reaches POINT.

import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport

struct Options {
    var lake = ""
    var writer: Int64 = 0
    var setup = false
    var ops = 100
    var mix = "append"
    var seed: UInt64 = 1
    var killPoint: String?
    var killAt = 0
    var thinkMillis = 0
    var startWhen: String?

    init(_ args: [String]) throws {
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < args.count else { throw Usage(text: "\(args[i - 1]) needs a value") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--lake": lake = try value()
            case "--writer": writer = Int64(try value()) ?? 0
            case "--setup": setup = true
            case "--ops": ops = Int(try value()) ?? 0
            case "--mix": mix = try value()
            case "--seed": seed = UInt64(try value()) ?? 1
            case "--think-ms": thinkMillis = Int(try value()) ?? 0
            case "--start-when": startWhen = try value()
            case "--kill-at":
                let parts = try value().split(separator: ":")
                guard parts.count == 2, let n = Int(parts[1]) else { throw Usage(text: "--kill-at POINT:N") }
                killPoint = String(parts[0])
                killAt = n
            default: throw Usage(text: "unknown argument \(args[i])")
            }
            i += 1
        }
        if lake.isEmpty { throw Usage(text: "--lake is required") }
    }
}

struct Usage: Error, CustomStringConvertible { var text: String; var description: String { text } }

/// Counts arrivals at named points and kills the process at the chosen one. Shared by the
/// @Sendable hooks, which may run on GRDB's writer queue.
final class Killer: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    let point: String?
    let at: Int

    init(point: String?, at: Int) {
        self.point = point
        self.at = at
    }

    func reach(_ name: String) {
        guard name == point else { return }
        lock.lock()
        counts[name, default: 0] += 1
        let n = counts[name]!
        lock.unlock()
        if n == at { kill(getpid(), SIGKILL) }
    }
}

func emit(_ object: [String: Any]) {
    guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
    data.append(0x0A)
    // One write(2) per line: a kill can cut the stream between lines, never inside one.
    data.withUnsafeBytes { p in _ = write(1, p.baseAddress, p.count) }
}

let schemaName = "curated", tableName = "events"
let baseFields: [Field] = [Field("id", .int64), Field("writer", .int64), Field("seq", .int64), Field("bucket", .int32)]
let buckets = 0 ... 5

struct Writer {
    let options: Options
    let catalog: Catalog
    let killer: Killer
    var rng: SplitMix64

    var parquet: ParquetWriteOptions {
        var o = ParquetWriteOptions()
        let killer = killer
        o.beforeSync = { _ in killer.reach("file.written") }
        return o
    }

    /// Creates curated.events unless it exists (several writers may race to do it).
    func setup() throws {
        struct Exists: Error {}
        do {
            try catalog.commit(message: "setup") { tx in
                if try tx.table(schema: schemaName, name: tableName) != nil { throw Exists() }
                try tx.ensureSchema(schemaName)
                _ = try tx.createTable(schema: schemaName, name: tableName, fields: baseFields, partitionBy: ["bucket"])
            }
        } catch is Exists {}
    }

    mutating func run() throws {
        for seq in 0 ..< Int64(options.ops) {
            let op: String
            switch options.mix {
            case "all": op = rng.chance(0.1) ? "addColumn" : rng.chance(0.3) ? "compact" : "append"
            case "schema": op = seq % 3 == 1 ? "addColumn" : "append"
            case "compact": op = rng.chance(0.7) ? "compact" : "append"
            default: op = "append"
            }
            emit(["event": "start", "writer": options.writer, "seq": seq, "op": op])
            var attempts = 0
            while true {
                attempts += 1
                do {
                    try perform(op, seq: seq)
                    break
                } catch let e as CatalogError {
                    guard case .conflict = e, attempts < 20 else { throw e }
                    emit(["event": "conflict", "writer": options.writer, "seq": seq, "op": op, "error": e.description])
                }
            }
        }
    }

    mutating func perform(_ op: String, seq: Int64) throws {
        let base = try catalog.latestSnapshot()
        guard let table = try catalog.tables(at: .snapshot(base.id)).first(where: { $0.schemaName == schemaName && $0.name == tableName }) else {
            throw Usage(text: "curated.events does not exist: run with --setup first")
        }
        switch op {
        case "addColumn":
            let name = "c\(options.writer)_\(seq)"
            let (snap, _) = try catalog.commit(message: message(seq, op, files: 0, rows: 0, removed: 0)) { tx in
                try tx.addColumn(tableID: table.tableID, Field(name, .int64, nullable: true))
            }
            emit(["event": "commit", "writer": options.writer, "seq": seq, "op": op, "snapshot": snap.id, "ids": [Int64]()])
        case "compact":
            let live = try catalog.dataFiles(tableID: table.tableID, at: .snapshot(base.id))
            let groups = Dictionary(grouping: live) { $0.partitionValues["bucket"] ?? "" }.filter { $0.value.count >= 2 }
            guard let key = groups.keys.sorted().dropFirst(rng.int(0 ... max(0, groups.count - 1))).first else {
                return try append(table, base: base, seq: seq)
            }
            let inputs = Array(groups[key]!.sorted { $0.dataFileID < $1.dataFileID }.prefix(4))
            let schema = try table.schema()
            var parts: [RecordBatch] = []
            for f in inputs {
                for b in try DataFileReader(f, columns: table.columns, files: catalog.files).read(parallelism: 1) {
                    parts.append(RecordBatch(schema: schema, columns: b.columns))
                }
            }
            let merged = RecordBatch.concatenate(parts.map { ($0, 0 ..< $0.count) }, schema: schema)
            let bucket = Int32(key) ?? 0
            let file = try writeFile(table, merged, bucket: bucket, seq: seq, tag: "c")
            think()
            let rows = Int(file.recordCount)
            do {
                let (snap, _) = try catalog.commit(message: message(seq, op, files: 1, rows: rows, removed: inputs.count)) { tx in
                    try tx.requireSchemaUnchanged(tableID: table.tableID, since: base.id)
                    try tx.removeDataFiles(inputs.map(\.dataFileID))
                    try tx.addDataFile(tableID: table.tableID, file)
                }
                emit(["event": "commit", "writer": options.writer, "seq": seq, "op": op, "snapshot": snap.id, "ids": [Int64]()])
            } catch {
                // Never registered: remove it now rather than leave it to vacuum.
                catalog.files.discard([table.directory.appendingPathComponent(file.relativePath).path])
                throw error
            }
        default:
            try append(table, base: base, seq: seq)
        }
    }

    mutating func append(_ table: TableInfo, base: SnapshotInfo, seq: Int64) throws {
        let schema = try table.schema()
        var chosen = Array(buckets).map(Int32.init)
        for i in chosen.indices.reversed() { chosen.swapAt(i, rng.int(0 ... i)) }
        var files: [NewDataFile] = []
        var ids: [Int64] = []
        do {
            for (f, bucket) in chosen.prefix(rng.int(1 ... 3)).enumerated() {
                let n = rng.int(1 ... 40)
                let fileIDs = (0 ..< Int64(n)).map { options.writer * 1_000_000_000 + seq * 10_000 + Int64(f) * 100 + $0 }
                ids += fileIDs
                let columns = schema.fields.map { field -> Column in
                    switch field.name {
                    case "id": return Column(.int64(fileIDs))
                    case "writer": return Column(.int64(Array(repeating: options.writer, count: n)))
                    case "seq": return Column(.int64(Array(repeating: seq, count: n)))
                    case "bucket": return Column(.int32(Array(repeating: bucket, count: n)))
                    default:  // columns added later: nullable, some nulls
                        return Column(.int64(fileIDs), validity: fileIDs.map { $0 % 3 != 0 })
                    }
                }
                files.append(try writeFile(table, RecordBatch(schema: schema, columns: columns), bucket: bucket, seq: seq, tag: "a"))
            }
            think()
            let rows = files.reduce(0) { $0 + Int($1.recordCount) }
            let (snap, _) = try catalog.commit(message: message(seq, "append", files: files.count, rows: rows, removed: 0)) { tx in
                try tx.requireSchemaUnchanged(tableID: table.tableID, since: base.id)
                for f in files { try tx.addDataFile(tableID: table.tableID, f) }
            }
            emit(["event": "commit", "writer": options.writer, "seq": seq, "op": "append", "snapshot": snap.id, "ids": ids])
        } catch {
            catalog.files.discard(files.map { table.directory.appendingPathComponent($0.relativePath).path })
            throw error
        }
    }

    /// Writes one Parquet file under a fresh name in the bucket's directory, fsynced with its
    /// directory (the lake's LocalStorage publish), and describes it for the catalog.
    func writeFile(_ table: TableInfo, _ batch: RecordBatch, bucket: Int32, seq: Int64, tag: String) throws -> NewDataFile {
        let relative = "bucket=\(bucket)/w\(options.writer)-s\(seq)-\(tag)-\(UUID().uuidString.lowercased()).parquet"
        let url = table.directory.appendingPathComponent(relative)
        let writer = try catalog.files.writer(url.path, schema: batch.schema, options: parquet)
        try writer.write(batch)
        let summary = try writer.close()
        killer.reach("file.synced")
        var stats: [Int64: ColumnStats] = [:]
        for (i, field) in batch.schema.fields.enumerated() {
            let s = summary.columnStatistics[i]
            func text(_ v: StatValue?) -> String? {
                if case .int(let x)? = v { return String(x) }
                return nil
            }
            let nulls = s.nullCount ?? 0
            stats[Int64(field.fieldID!)] = ColumnStats(min: text(s.min), max: text(s.max), nullCount: nulls,
                                                       valueCount: summary.rowCount - nulls)
        }
        return NewDataFile(relativePath: relative, recordCount: summary.rowCount, fileSizeBytes: summary.fileSize,
                           footerSize: summary.footerSize, footerChecksum: summary.footerChecksum, partitionValues: ["bucket": String(bucket)], columnStats: stats)
    }

    func message(_ seq: Int64, _ op: String, files: Int, rows: Int, removed: Int) -> String {
        "writer=\(options.writer) seq=\(seq) op=\(op) files=\(files) rows=\(rows) removed=\(removed)"
    }

    /// Widens the window between reading the base snapshot and committing, so racing writers
    /// really do commit in between (the concurrency tests want conflicts to happen).
    func think() {
        if options.thinkMillis > 0 { usleep(UInt32(options.thinkMillis) * 1000) }
    }
}

// `--pg-cluster FILE`: starts a test PostgreSQL cluster (LakeTestSupport's), writes its port
// and directory to FILE (one a line, written whole by a rename) and sleeps until killed; the
// watchdog test SIGKILLs this process and expects the cluster gone (PostgresWatchdogTests).
if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "--pg-cluster" {
    do {
        let cluster = try PostgresCluster()
        let file = CommandLine.arguments[2]
        try "\(cluster.port)\n\(cluster.directory.path)\n".write(toFile: file + ".part", atomically: false, encoding: .utf8)
        guard rename(file + ".part", file) == 0 else { throw Usage(text: "cannot rename \(file).part") }
        while true { sleep(60) }
    } catch {
        FileHandle.standardError.write(Data("LakeCatalogWriter: \(error)\n".utf8))
        exit(1)
    }
}

do {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    let killer = Killer(point: options.killPoint, at: options.killAt)
    let hooks = CommitHooks { point in killer.reach("commit." + point.rawValue) }
    // LAKE_CATALOG, as for `lake`, puts the catalog elsewhere (a PostgreSQL URL).
    let location = ProcessInfo.processInfo.environment["LAKE_CATALOG"].map(CatalogLocation.parse)
    let catalog = try Catalog.open(root: URL(fileURLWithPath: options.lake), catalog: location, hooks: hooks)
    var writer = Writer(options: options, catalog: catalog, killer: killer, rng: SplitMix64(seed: options.seed &* 7919 &+ UInt64(bitPattern: options.writer)))
    if options.setup {
        try writer.setup()
    } else {
        if let go = options.startWhen {
            guard FileManager.default.createFile(atPath: "\(go).ready-\(options.writer)", contents: nil) else {
                throw Usage(text: "cannot create \(go).ready-\(options.writer)")
            }
            // Bounded only so a test that never says go does not leave a writer behind.
            let deadline = Date().addingTimeInterval(600)
            while !FileManager.default.fileExists(atPath: go) {
                guard Date() < deadline else { throw Usage(text: "no \(go) within 600 s") }
                usleep(2_000)
            }
        }
        try writer.run()
    }
} catch {
    FileHandle.standardError.write(Data("LakeCatalogWriter: \(error)\n".utf8))
    exit(1)
}
