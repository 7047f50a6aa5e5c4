import Foundation
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakeCatalog
@testable import LakePipeline

// Issue 14 items 1, 2, 8, 10, 11, through the built `lake` binary: vacuum racing writers, a
// lost manifest, an interrupted vacuum, a read-only lake, concurrent appends with compaction.

/// Starts `lake ARGS` in the repository root without waiting; stdout/stderr go to files.
private func startLake(_ arguments: [String], log: String) throws -> Process {
    let p = Process()
    p.executableURL = lakeBinary
    p.arguments = arguments
    p.currentDirectoryURL = packageRoot
    #expect(FileManager.default.createFile(atPath: log, contents: nil))
    let handle = FileHandle(forWritingAtPath: log)
    p.standardOutput = handle
    p.standardError = handle
    try p.run()
    return p
}

/// Writes `lines` to `path`, one per line.
private func writeJSONL(_ lines: ArraySlice<Substring>, _ path: String) throws {
    try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
}

private func parquetFiles(under root: String) -> [String] {
    guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
    return walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".parquet") }
}

/// Every data file the latest snapshot references: (path, recorded size).
private func liveFiles(_ root: String) throws -> [(String, Int64)] {
    let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
    var out: [(String, Int64)] = []
    for t in try catalog.tables() {
        for f in try catalog.dataFiles(tableID: t.tableID, columnStats: false) { out.append((f.path, f.fileSizeBytes)) }
    }
    return out
}

private func sizeOnDisk(_ path: String) -> Int64? {
    (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
}

/// A generated, fault-free orders stream split into `parts` files of disjoint order ids, plus
/// its product catalog. Returns (catalog path, part paths, orders per part).
private func generatedParts(_ dir: TemporaryDirectory, orders: Int, parts: Int) throws -> (String, [String]) {
    let lines = try generatedOrderLines(orders: orders, days: 20, schemaVersion: 1, into: dir.file("src"))
    let per = (lines.count + parts - 1) / parts
    var paths: [String] = []
    for i in 0 ..< parts {
        let path = dir.file("part\(i).jsonl")
        try writeJSONL(lines[(i * per) ..< min(lines.count, (i + 1) * per)], path)
        paths.append(path)
    }
    return (dir.file("src/product_catalog.json"), paths)
}

@Suite("Vacuum and writers: nothing committed or in flight is ever lost", .serialized)
struct VacuumSafetyTests {
    init() {
        #expect(FileManager.default.isExecutableFile(atPath: lakeBinary.path), "run `swift build` first: \(lakeBinary.path)")
    }

    /// Item 1: `vacuum --retain 0s` (with and without --force) in a loop while ingests write.
    /// Each ingest holds a write lease, so vacuum keeps its files; afterwards every live file
    /// exists at its recorded size and the reports equal those of a lake nobody vacuumed.
    /// Each ingest reads a FIFO and first gets more than one read chunk (8 MiB): it writes files
    /// of that chunk, then waits for the rest, so vacuums surely meet its uncommitted files (a
    /// race on a fast ingest of a plain file sometimes found none: CI of stop 39).
    @Test func vacuumLoopNeverRobsAnInFlightIngest() throws {
        let dir = try TemporaryDirectory("vacuum-race")
        defer { dir.remove() }
        let (catalogFile, parts) = try generatedParts(dir, orders: 60_000, parts: 2)
        let lake = dir.file("lake"), reference = dir.file("reference")
        for root in [lake, reference] { #expect(try runLake(["ingest", "catalog", "--lake", root, catalogFile]).status == 0) }
        var vacuums = 0
        /// One vacuum, alternately forced; the files it kept for running writers.
        func vacuum() throws -> Int {
            let args = ["vacuum", "--lake", lake, "--retain", "0s"] + (vacuums % 2 == 0 ? ["--force"] : [])
            let v = try runLake(args)
            #expect(v.status == 0, "vacuum: \(v.err)")
            vacuums += 1
            guard let line = v.out.split(separator: "\n").first(where: { $0.hasPrefix("Kept") && $0.contains("writers still running") }) else { return 0 }
            return Int(line.split(separator: " ")[1]) ?? 0
        }
        for (round, part) in parts.enumerated() {
            let bytes = Array(try String(contentsOfFile: part, encoding: .utf8).utf8)
            try #require(bytes.count > 9 << 20, "part \(round) is not longer than a read chunk: \(bytes.count) bytes")
            let head = try #require(bytes[(9 << 20)...].firstIndex(of: UInt8(ascii: "\n"))) + 1
            let ingest = try FIFOIngest(root: lake, fifo: dir.file("part\(round).fifo"), errFile: dir.file("ingest\(round).err"))
            func send(_ slice: ArraySlice<UInt8>) {
                var rest = slice
                while !rest.isEmpty {
                    let n = rest.withUnsafeBytes { write(ingest.writer, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    rest = rest.dropFirst(n)
                }
            }
            send(bytes[..<head])
            // The ingest now holds a lease and writes the first chunk's files, then waits on the FIFO.
            var kept = 0, waited = 0.0
            while kept == 0 && ingest.process.isRunning && waited < 120 {
                kept += try vacuum()
                if kept == 0 { Thread.sleep(forTimeInterval: 0.2); waited += 0.2 }
            }
            #expect(kept > 0, "round \(round): no vacuum saw the running ingest's files in \(Int(waited)) s")
            send(bytes[head...])
            close(ingest.writer)
            // Vacuums go on racing the rest of the ingest and its commit.
            while ingest.process.isRunning { _ = try vacuum() }
            ingest.process.waitUntilExit()
            #expect(ingest.process.terminationStatus == 0, "ingest \(round): \(ingest.err)")
            #expect(try runLake(["ingest", "orders", "--lake", reference, "--quiet", part]).status == 0)
        }
        // One more forced vacuum with nothing in flight: it may only take debris, never live files.
        #expect(try runLake(["vacuum", "--lake", lake, "--retain", "0s", "--force"]).status == 0)
        let live = try liveFiles(lake)
        #expect(!live.isEmpty)
        for (path, size) in live { #expect(sizeOnDisk(path) == size, "live file \(path) is missing or changed") }
        for report in [["report", "daily-revenue", "--format", "csv"], ["report", "top-products", "--format", "csv"]] {
            let a = try runLake(report + ["--lake", lake]), b = try runLake(report + ["--lake", reference])
            #expect(a.status == 0 && b.status == 0, "\(report): \(a.err) \(b.err)")
            #expect(a.out == b.out && !a.out.isEmpty, "\(report) differs from the never-vacuumed lake")
        }
    }

    /// Item 2: a deleted or emptied manifest is never replaced by an empty catalog implicitly,
    /// and vacuum never deletes files the catalog did not write.
    @Test func lostOrEmptiedManifestThenVacuumDeletesNothing() throws {
        let dir = try TemporaryDirectory("lost-manifest")
        defer { dir.remove() }
        let (catalogFile, parts) = try generatedParts(dir, orders: 2_000, parts: 2)
        let lake = dir.file("lake")
        #expect(try runLake(["ingest", "catalog", "--lake", lake, catalogFile]).status == 0)
        #expect(try runLake(["ingest", "orders", "--lake", lake, "--quiet", parts[0]]).status == 0)
        let files = parquetFiles(under: lake)
        #expect(files.count > 10)
        let manifest = lake + "/manifest.sqlite"
        func dropManifest(empty: Bool) throws {
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: manifest + suffix) {
                try FileManager.default.removeItem(atPath: manifest + suffix)
            }
            if empty { #expect(FileManager.default.createFile(atPath: manifest, contents: Data())) }
        }
        for empty in [false, true] {
            try dropManifest(empty: empty)
            let ingest = try runLake(["ingest", "orders", "--lake", lake, "--quiet", parts[1]])
            #expect(ingest.status != 0 && ingest.err.contains("no catalog"), "ingest: \(ingest.err)")
            #expect(try runLake(["vacuum", "--lake", lake, "--retain", "0s", "--force"]).status != 0)
            #expect(try runLake(["init", "--lake", lake]).status != 0)
            #expect(try runLake(["snapshots", "--lake", lake]).status != 0)
            // The manifest is left as it was found: absent, or zero bytes.
            #expect(empty ? sizeOnDisk(manifest) == 0 : !FileManager.default.fileExists(atPath: manifest))
            #expect(Set(parquetFiles(under: lake)) == Set(files))
        }

        // A new catalog on purpose: vacuum still refuses, as the catalog never recorded a file...
        #expect(try runLake(["init", "--force", "--lake", lake]).status == 0)
        let refused = try runLake(["vacuum", "--lake", lake, "--retain", "0s", "--force"])
        #expect(refused.status != 0 && refused.err.contains("never recorded"), "\(refused.out) \(refused.err)")
        #expect(Set(parquetFiles(under: lake)) == Set(files))
        // ...and, once it has files of its own, refuses files older than itself.
        #expect(try runLake(["ingest", "catalog", "--lake", lake, catalogFile]).status == 0)
        let old = Date().addingTimeInterval(-2 * 3600)
        for f in files { try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: lake + "/" + f) }
        let older = try runLake(["vacuum", "--lake", lake, "--retain", "0s", "--force"])
        #expect(older.status != 0 && older.err.contains("older than the catalog"), "\(older.out) \(older.err)")
        #expect(Set(files).isSubset(of: Set(parquetFiles(under: lake))))
    }

    /// Item 10: a vacuum killed after its catalog commit (files scheduled, not yet deleted):
    /// the dry run counts the scheduled files, the real run deletes exactly those.
    @Test func dryRunAfterKilledVacuumCountsScheduledFiles() throws {
        let dir = try TemporaryDirectory("killed-vacuum")
        defer { dir.remove() }
        let (catalogFile, parts) = try generatedParts(dir, orders: 3_000, parts: 3)
        let lake = dir.file("lake")
        #expect(try runLake(["ingest", "catalog", "--lake", lake, catalogFile]).status == 0)
        for p in parts { #expect(try runLake(["ingest", "orders", "--lake", lake, "--quiet", p]).status == 0) }
        #expect(try runLake(["compact", "curated.orders", "--lake", lake]).status == 0)
        // Exactly the state a SIGKILL between vacuum's commit and its deletes leaves.
        let catalog = try Catalog.open(root: URL(fileURLWithPath: lake), create: false)
        let scheduled = try catalog.scheduleExpired(olderThan: Date().addingTimeInterval(1), dryRun: false)
        #expect(scheduled.files.count >= 5)
        #expect(scheduled.files.allSatisfy { FileManager.default.fileExists(atPath: $0.url.path) })
        let bytes = scheduled.bytes

        let dry = try runLake(["vacuum", "--lake", lake, "--dry-run"])
        #expect(dry.status == 0)
        #expect(dry.out.contains("Would free \(bytes) bytes in \(scheduled.files.count) files."), "\(dry.out)")
        #expect(scheduled.files.allSatisfy { FileManager.default.fileExists(atPath: $0.url.path) })
        let real = try runLake(["vacuum", "--lake", lake])
        #expect(real.out.contains("Freed \(bytes) bytes in \(scheduled.files.count) files."), "\(real.out)")
        #expect(scheduled.files.allSatisfy { !FileManager.default.fileExists(atPath: $0.url.path) })
        #expect(try runLake(["vacuum", "--lake", lake, "--dry-run"]).out.contains("Would free 0 bytes in 0 files."))
        for (path, size) in try liveFiles(lake) { #expect(sizeOnDisk(path) == size) }
    }

    /// Item 8: another user, without write access to the lake, reads it: snapshots, tables,
    /// files, query and reports, with and without -wal/-shm files beside the manifest.
    @Test func readOnlyLakeIsReadableByAnotherUser() throws {
        let dir = try TemporaryDirectory("readonly")
        defer {
            try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.file("lake"))
            dir.remove()
        }
        let (catalogFile, parts) = try generatedParts(dir, orders: 2_000, parts: 1)
        let lake = dir.file("lake")
        #expect(try runLake(["ingest", "catalog", "--lake", lake, catalogFile]).status == 0)
        #expect(try runLake(["ingest", "orders", "--lake", lake, "--quiet", parts[0]]).status == 0)
        let commands = [["snapshots"], ["tables"], ["files", "curated.orders"], ["query", "orders", "--limit", "5", "--format", "csv"],
                        ["report", "daily-revenue", "--format", "csv"], ["quality", "report"]]
        var expected: [String] = []
        for c in commands {
            let r = try runLake(c + ["--lake", lake])
            #expect(r.status == 0, "\(c): \(r.err)")
            expected.append(r.out)
        }
        let asRoot = getuid() == 0
        // As root, file permissions do not bind: run as `nobody`. Otherwise take write access away.
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
        if !asRoot { try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: lake) }
        func asReader(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
            guard asRoot else { let r = try runLake(args); return (r.status, r.out, r.err) }
            return try runProcess("/usr/bin/setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", lakeBinary.path] + args)
        }
        // The reader really cannot write here (else this test would prove nothing).
        let probe = lake + "/probe"
        let touch = asRoot ? try asReaderShell(["touch", probe]) : (FileManager.default.createFile(atPath: probe, contents: nil) ? 0 : 1)
        #expect(touch != 0 && !FileManager.default.fileExists(atPath: probe), "the reader can write to the lake")
        for state in ["as the writer left it", "without -wal/-shm"] {
            if state == "without -wal/-shm" {
                let wal = lake + "/manifest.sqlite-wal"
                #expect(sizeOnDisk(wal) ?? 0 == 0, "the writers left a log that was not checkpointed")
                for s in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: lake + "/manifest.sqlite" + s) {
                    if !asRoot { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: lake) }
                    try FileManager.default.removeItem(atPath: lake + "/manifest.sqlite" + s)
                    if !asRoot { try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: lake) }
                }
            }
            for (c, want) in zip(commands, expected) {
                let r = try asReader(c + ["--lake", lake])
                #expect(r.status == 0, "\(state) \(c): \(r.err)")
                #expect(r.out == want, "\(state) \(c): output differs from the owner's")
            }
            // Writers still fail, with an error rather than a crash, that says the user cannot write the lake.
            let vacuum = try asReader(["vacuum", "--lake", lake])
            #expect(vacuum.status != 0)
            #expect(vacuum.err.contains("cannot write") && vacuum.err.contains("run it as the lake's owner"), "\(state): \(vacuum.err)\(vacuum.out)")
        }
    }

    /// Item 11: three processes appending disjoint orders while compaction loops: every ingest
    /// commits (disjoint appends rebase instead of conflicting), every order exactly once.
    @Test func concurrentIngestsAndCompactionAllCommit() throws {
        let dir = try TemporaryDirectory("concurrent-ingest")
        defer { dir.remove() }
        let (catalogFile, parts) = try generatedParts(dir, orders: 9_000, parts: 9)
        let lake = dir.file("lake")
        #expect(try runLake(["ingest", "catalog", "--lake", lake, catalogFile]).status == 0)
        let script = parts.enumerated().map { i, p in (i % 3, p) }
        var workers: [Process] = []
        for w in 0 ..< 3 {
            let mine = script.filter { $0.0 == w }.map { "'\(lakeBinary.path)' ingest orders --lake '\(lake)' --quiet '\($0.1)' || echo FAILED" }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", mine.joined(separator: "; ")]
            p.currentDirectoryURL = packageRoot
            #expect(FileManager.default.createFile(atPath: dir.file("w\(w).log"), contents: nil))
            p.standardOutput = FileHandle(forWritingAtPath: dir.file("w\(w).log"))
            p.standardError = p.standardOutput
            try p.run()
            workers.append(p)
        }
        var compactions = 0
        while workers.contains(where: \.isRunning) {
            let c = try runLake(["compact", "curated.orders", "--min-files", "2", "--lake", lake])
            if c.status == 0 && c.out.contains("Compacted") { compactions += 1 }
        }
        for (w, p) in workers.enumerated() {
            p.waitUntilExit()
            let log = try String(contentsOfFile: dir.file("w\(w).log"), encoding: .utf8)
            #expect(!log.contains("FAILED") && !log.contains("Error"), "worker \(w): \(log)")
        }
        #expect(compactions > 0, "no compaction ran alongside the ingests")
        let store = try LakeStore.open(root: URL(fileURLWithPath: lake), schemas: schemasDirectory)
        let table = try store.catalog.table(schema: "curated", name: "orders")
        let rows = try store.catalog.dataFiles(tableID: table.tableID, columnStats: false).reduce(0) { $0 + $1.recordCount }
        let ids = try OrderIDIndex.fromFiles(store, table: table, at: table.snapshot)
        #expect(rows == 9_000 && ids.count == 9_000, "rows \(rows), distinct ids \(ids.count)")
        #expect(try store.catalog.ingestRuns().filter { $0.kind == .orders }.count == 9)
    }

    /// Item 11, deterministically: a batch prepared at an old base commits over a disjoint
    /// append and a compaction, and conflicts only on a real overlap of order ids.
    @Test func appendRebasesOverDisjointCommitsAndConflictsOnOverlap() throws {
        let dir = try TemporaryDirectory("rebase")
        defer { dir.remove() }
        let lines = try generatedOrderLines(orders: 900, days: 5, schemaVersion: 1, into: dir.file("src"))
        let store = try LakeStore.open(root: dir.url.appendingPathComponent("lake"), schemas: schemasDirectory)
        _ = try CatalogIngest.run(store, path: dir.file("src/product_catalog.json"))
        try writeJSONL(lines[0 ..< 300], dir.file("a.jsonl"))
        try writeJSONL(lines[300 ..< 600], dir.file("b.jsonl"))
        try writeJSONL(lines[600 ..< 900], dir.file("c.jsonl"))
        try writeJSONL(lines[550 ..< 650], dir.file("overlap.jsonl"))
        _ = try OrderIngest.run(store, path: dir.file("a.jsonl"))

        func prepare(_ path: String) throws -> OrderBatch {
            let base = try store.catalog.latestSnapshot()
            var batch = try OrderBatch(store: store, base: base, products: try ProductSource.current(store, at: .snapshot(base.id)),
                                       rules: try store.orderRules(), committed: try OrderIDIndex.load(store, at: base.id),
                                       sourceName: URL(fileURLWithPath: path).lastPathComponent, options: IngestOptions())
            let reader = try LineReader(path: path)
            try reader.forEachLine { line in try batch.add(line) }
            return batch
        }
        var disjoint = try prepare(dir.file("c.jsonl"))
        var overlapping = try prepare(dir.file("overlap.jsonl"))
        // After both bases: an append of b (ids 300..<600) and a compaction that replaces files.
        _ = try OrderIngest.run(store, path: dir.file("b.jsonl"))
        var options = CompactionOptions()
        options.table = "curated.orders"
        let compacted = try Compaction.run(store.catalog, options: options)
        #expect(compacted.snapshotID != nil)

        let committed = try disjoint.commit(ledger: nil, checkpoint: nil, sourceBytes: 0)
        #expect(committed.accepted == 300)
        #expect(throws: IngestError.conflict(table: .curatedOrders)) {
            try overlapping.commit(ledger: nil, checkpoint: nil, sourceBytes: 0)
        }
        let table = try store.catalog.table(schema: "curated", name: "orders")
        let ids = try OrderIDIndex.fromFiles(store, table: table, at: table.snapshot)
        let rows = try store.catalog.dataFiles(tableID: table.tableID, columnStats: false).reduce(0) { $0 + $1.recordCount }
        #expect(ids.count == 900 && rows == 900)
        // The retry path: the overlapping file ingested normally adds only its 50 new... none: all are committed.
        let retried = try OrderIngest.run(store, path: dir.file("overlap.jsonl"))
        #expect(retried.accepted == 0 && retried.duplicates == 100)
    }
}

/// Runs a command as `nobody` and returns its exit status.
private func asReaderShell(_ args: [String]) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
    p.arguments = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"] + args
    p.standardError = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
}
