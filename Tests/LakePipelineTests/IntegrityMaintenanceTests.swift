import Foundation
import LakeCatalog
import LakeTestSupport
import Testing
@testable import LakeFormat
@testable import LakePipeline

/// Corrupted data files against the maintenance commands and `lake verify`: compaction and
/// migration refuse them, vacuum keeps the originals of a bad rewrite, verify names them.
@Suite("Integrity: maintenance and lake verify", .serialized)
struct IntegrityMaintenanceTests {
    /// Runs SQL on the lake's manifest with Python's sqlite3 (a test's way to play another tool).
    static func sql(_ lake: BatchedLake, _ statements: [String]) throws {
        try Python.run("""
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1])
        for s in sys.argv[2:]:
            con.execute(s)
        con.commit()
        """, [lake.lakeRoot + "/manifest.sqlite"] + statements)
    }

    /// Flips one bit in the middle of the first page's body (the chunk starts at byte 4).
    static func corruptFirstPage(_ path: String) throws {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let (body, size) = try bytes.withUnsafeBytes { raw in
            var r = ThriftReader(raw, at: 4)
            let h = try r.readPageHeader()
            return (r.position, Int(h.compressedPageSize))
        }
        bytes[body + size / 2] ^= 0x08
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Every file and its bytes under the lake's data directories, and the catalog's content as
    /// SQL text: what a read-only command must leave exactly as it found it.
    static func state(_ lake: BatchedLake) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let root = URL(fileURLWithPath: lake.lakeRoot)
        for layer in ["raw", "curated"] {
            let walker = FileManager.default.enumerator(at: root.appendingPathComponent(layer), includingPropertiesForKeys: nil)
            while let url = walker?.nextObject() as? URL {
                if url.pathExtension == "parquet" { out[url.path] = try Data(contentsOf: url) }
            }
        }
        let dump = try Python.run("""
        import sqlite3, sys
        print("\\n".join(sqlite3.connect(sys.argv[1]).iterdump()))
        """, [lake.lakeRoot + "/manifest.sqlite"])
        out["manifest"] = Data(dump.utf8)
        return out
    }

    static func orders(_ lake: BatchedLake) throws -> (TableInfo, [DataFile]) {
        let t = try lake.catalog.table(schema: "curated", name: "orders")
        return (t, try lake.catalog.dataFiles(tableID: t.tableID))
    }

    @Test("a column the catalog says a file holds but whose field id its footer lacks is an error naming file and column, not nulls")
    func missingFieldIDIsCorruption() throws {
        let lake = try BatchedLake(batches: 1)
        defer { lake.dir.remove() }
        let (table, files) = try Self.orders(lake)
        let file = try #require(files.max { $0.recordCount < $1.recordCount })
        let state = try #require(table.column(named: "state"))
        // Rewrite the file with `state` under another field id, and make it look like a file
        // another tool committed (no footer checksum, the new size), so only the column check
        // stands between the flipped id and a column of nulls.
        let original = try ParquetFileReader(path: file.path).readAll()
        let fields = original.schema.fields.map { f in
            f.fieldID.map(Int64.init) == state.columnID ? Field(f.name, f.type, nullable: f.nullable, fieldID: 9_999) : f
        }
        let summary = try ParquetFileWriter.write(RecordBatch(schema: Schema(fields), columns: original.columns), to: file.path)
        try Self.sql(lake, ["DELETE FROM lake_file_integrity WHERE data_file_id = \(file.dataFileID)",
                            "UPDATE ducklake_data_file SET file_size_bytes = \(summary.fileSize) WHERE data_file_id = \(file.dataFileID)"])
        let reread = try #require(try Self.orders(lake).1.first { $0.dataFileID == file.dataFileID })
        #expect(reread.footerChecksum == nil)
        #expect(throws: DataFileError.missingColumn(path: file.path, column: "state", columnID: state.columnID)) {
            _ = try DataFileReader(reread, columns: table.columns, files: lake.catalog.files)
        }
        // A read of other columns only still opens it (the check is for the columns read).
        #expect(try DataFileReader(reread, columns: table.columns.filter { $0.name == "order_id" }, files: lake.catalog.files).read().count > 0)
        let v = Catalog.verify(reread, table: table, files: lake.catalog.files)
        #expect(v.status == .missingColumn && v.detail?.contains("state") == true)
    }

    @Test("compaction refuses a partition with a corrupted input: typed error naming the file, nothing committed")
    func compactionRefusesCorruptInput() throws {
        let lake = try BatchedLake(batches: 3)
        defer { lake.dir.remove() }
        let (_, files) = try Self.orders(lake)
        let byDate = Dictionary(grouping: files) { $0.partitionValues["event_date"] ?? "" }
        let (date, group) = try #require(byDate.filter { $0.value.count >= 2 }.max { $0.value.count < $1.value.count })
        try Self.corruptFirstPage(group[0].path)
        let before = try lake.catalog.latestSnapshot().id
        var options = CompactionOptions()
        options.table = "curated.orders"
        options.date = date
        #expect {
            _ = try Compaction.run(lake.catalog, options: options)
        } throws: { e in
            guard case .corruptInput(let t, let detail)? = e as? MaintenanceError else { return false }
            return t == "curated.orders" && detail.contains(group[0].path) && "\(e)".contains("refusing to rewrite")
        }
        #expect(try lake.catalog.latestSnapshot().id == before)
        #expect(try Self.orders(lake).1.map(\.dataFileID) == files.map(\.dataFileID))
    }

    @Test("migration with --rewrite refuses a corrupted input; old files legitimately lack the new columns")
    func migrationRefusesCorruptInput() throws {
        let lake = try BatchedLake(batches: 1, v1Only: true)
        defer { lake.dir.remove() }
        let store = LakeStore(catalog: lake.catalog, registry: try liveRegistry())
        let (_, files) = try Self.orders(lake)
        let url = URL(fileURLWithPath: files[0].path)
        let good = try Data(contentsOf: url)
        try Self.corruptFirstPage(files[0].path)
        let before = try lake.catalog.latestSnapshot().id
        #expect(throws: MaintenanceError.self) { _ = try Migration.run(store, table: "orders", to: 2, rewrite: true) }
        #expect(try lake.catalog.latestSnapshot().id == before)
        // Restored, the migration without rewrite leaves v1 files that lack the v2 columns:
        // that is not corruption, and every file verifies.
        try good.write(to: url)
        _ = try Migration.run(store, table: "orders", to: 2, rewrite: false)
        let results = try lake.catalog.verifyFiles()
        #expect(!results.isEmpty && results.allSatisfy(\.ok), "\(results.filter { !$0.ok }.map(\.detail))")
    }

    @Test("vacuum keeps the inputs of a compaction whose output fails verification, and deletes them once it verifies")
    func vacuumKeepsLastGoodCopy() throws {
        let lake = try BatchedLake(batches: 3)
        defer { lake.dir.remove() }
        let (_, files) = try Self.orders(lake)
        let byDate = Dictionary(grouping: files) { $0.partitionValues["event_date"] ?? "" }
        let (date, group) = try #require(byDate.filter { $0.value.count >= 2 }.max { $0.value.count < $1.value.count })
        var options = CompactionOptions()
        options.table = "curated.orders"
        options.date = date
        _ = try Compaction.run(lake.catalog, options: options)
        let outputs = try Self.orders(lake).1.filter { $0.partitionValues["event_date"] == date }
        #expect(!outputs.isEmpty && Set(outputs.map(\.dataFileID)).isDisjoint(with: group.map(\.dataFileID)))
        let merged = try #require(outputs.first { $0.mergedThrough != nil })
        let outputURL = URL(fileURLWithPath: merged.path)
        let good = try Data(contentsOf: outputURL)
        try Self.corruptFirstPage(merged.path)

        let kept = try lake.catalog.vacuum(retain: 0, now: Date().addingTimeInterval(1))
        // The merged file's rows are its directory's inputs': those are kept (the last good copy),
        // the inputs of the day's other, verified merges go.
        let directory = outputURL.standardizedFileURL.deletingLastPathComponent().path
        let all = Set(group.map { URL(fileURLWithPath: $0.path).standardizedFileURL.path })
        let inputs = all.filter { ($0 as NSString).deletingLastPathComponent == directory }
        #expect(!inputs.isEmpty && inputs.count < all.count)
        #expect(inputs.isSubset(of: Set(kept.keptUnverified.map(\.path))))
        #expect(inputs.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        #expect(Set(kept.files.map(\.url.path)).isDisjoint(with: inputs))
        #expect(all.subtracting(inputs).allSatisfy { !FileManager.default.fileExists(atPath: $0) })

        try good.write(to: outputURL)
        let freed = try lake.catalog.vacuum(retain: 0, now: Date().addingTimeInterval(1))
        #expect(freed.keptUnverified.isEmpty)
        #expect(inputs.isSubset(of: Set(freed.files.map(\.url.path))))
        #expect(inputs.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
    }

    @Test("a merge committed while vacuum runs keeps its inputs for the next vacuum, which verifies the merged file first")
    func aMergeCommittedDuringVacuumIsVerifiedBeforeItsInputsGo() throws {
        let lake = try BatchedLake(batches: 3)
        defer { lake.dir.remove() }
        var options = CompactionOptions()
        options.table = "curated.orders"
        var inputs = Set<String>()
        var good: (url: URL, data: Data)?
        var failure: (any Error)?
        // The merge commits after vacuum looked for unverified merges, before it deletes what
        // is scheduled; its merged file then turns bad. Until session 35 this vacuum deleted the
        // merge's inputs, the last good copy of those rows, unverified.
        let first = try lake.catalog.vacuum(retain: 0, now: Date().addingTimeInterval(1), step: { step in
            guard step == .expire, good == nil else { return }
            do {
                _ = try Compaction.run(lake.catalog, options: options)
                inputs = Set(try lake.scheduledPaths())
                let merged = try #require(try Self.orders(lake).1.first { $0.mergedThrough != nil })
                good = (URL(fileURLWithPath: merged.path), try Data(contentsOf: URL(fileURLWithPath: merged.path)))
                try Self.corruptFirstPage(merged.path)
            } catch { failure = error }
        })
        #expect(failure == nil, "\(failure.map { "\($0)" } ?? "")")
        let bad = try #require(good)
        #expect(!inputs.isEmpty && first.keptForNextVacuum == inputs.count)
        #expect(inputs.allSatisfy { FileManager.default.fileExists(atPath: $0) }, "the merge's inputs are still there")
        #expect(Set(first.files.map(\.url.standardizedFileURL.path)).isDisjoint(with: inputs))

        // The next vacuum verifies the merged file: the inputs in its directory stay, the others go.
        let second = try lake.catalog.vacuum(retain: 0, now: Date().addingTimeInterval(1))
        let directory = bad.url.standardizedFileURL.deletingLastPathComponent().path
        let same = inputs.filter { ($0 as NSString).deletingLastPathComponent == directory }
        #expect(!same.isEmpty && same.isSubset(of: Set(second.keptUnverified.map(\.path))))
        #expect(same.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        #expect(inputs.subtracting(same).allSatisfy { !FileManager.default.fileExists(atPath: $0) })

        try bad.data.write(to: bad.url)
        let third = try lake.catalog.vacuum(retain: 0, now: Date().addingTimeInterval(1))
        #expect(third.keptUnverified.isEmpty && third.keptForNextVacuum == 0)
        #expect(same.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
    }

    @Test("`lake verify` reports every file, names the bad ones (page CRC, size), exits 1; a clean lake exits 0")
    func verifyCommand() throws {
        #expect(FileManager.default.isExecutableFile(atPath: lakeBinary.path), "run `swift build` first: \(lakeBinary.path)")
        let lake = try BatchedLake(batches: 1)
        defer { lake.dir.remove() }
        let clean = try runLake(["verify", "--lake", lake.lakeRoot, "--format", "json"])
        #expect(clean.status == 0, "\(clean.err)")
        let all = try #require(try JSONSerialization.jsonObject(with: Data(clean.out.utf8)) as? [[String: Any]])
        let total = try lake.catalog.tables().reduce(0) { $0 + (try lake.catalog.dataFiles(tableID: $1.tableID)).count }
        #expect(all.count == total)
        #expect(all.allSatisfy { $0["status"] as? String == "ok" && ($0["pages_with_crc"] as? Int ?? 0) > 0 })

        let (_, files) = try Self.orders(lake)
        try Self.corruptFirstPage(files[0].path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: files[1].path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0]))  // grown by one byte
        try handle.close()
        let bad = try runLake(["verify", "--lake", lake.lakeRoot, "--table", "orders", "--format", "csv"])
        #expect(bad.status == 1)
        #expect(bad.err.contains("2 of \(files.count) files fail verification"))
        let lines = bad.out.split(separator: "\n").map(String.init)
        #expect(lines.count == files.count + 1)
        let relative = { (p: String) in String(p.dropFirst(lake.lakeRoot.count + 1)) }
        #expect(lines.contains { $0.contains(relative(files[0].path)) && $0.contains(",checksum_mismatch,") })
        #expect(lines.contains { $0.contains(relative(files[1].path)) && $0.contains(",size_mismatch,") })
        #expect(lines.filter { $0.contains(",ok,") }.count == files.count - 2)
        // Each failed file's commit, and the source that commit ingested: what to restore.
        #expect(lines.contains { $0.contains(",\(files[0].beginSnapshot),\(relative(files[0].path)),") }, "the snapshot column")
        for snapshot in Set([files[0].beginSnapshot, files[1].beginSnapshot]) {
            let runs = try lake.catalog.ingestRuns().filter { $0.snapshotID == snapshot }
            let run = try #require(runs.first, "snapshot \(snapshot) recorded its ingest run")
            let hash = try #require(run.sourceHash)
            #expect(bad.err.contains("snapshot \(snapshot): ") && bad.err.contains("by \"ingest orders"), "\(bad.err)")
            #expect(bad.err.contains("  source: \(run.source) (orders, content hash \(hash), batch \(run.batchID ?? "")"), "\(bad.err)")
        }
    }

    @Test("files DuckDB wrote (no footer record) verify by size, decode and columns; an ADD COLUMN is not a missing column; a truncated one fails")
    func verifyADuckDBLake() throws {
        let dir = try TemporaryDirectory("lake-duck-verify")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try Python.run(Python.duckdbPrelude + """
        root = sys.argv[1]
        c = duck()
        c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', DATA_INLINING_ROW_LIMIT 0)")
        c.execute("CREATE SCHEMA l.curated")
        c.execute("CREATE TABLE l.curated.orders(order_id BIGINT NOT NULL, channel VARCHAR, amount DECIMAL(12,2), placed_at TIMESTAMPTZ)")
        c.execute("INSERT INTO l.curated.orders SELECT i, 'web', i * 1.25, TIMESTAMPTZ '2024-01-15 10:00:00+00' + INTERVAL (i) MINUTE FROM range(2000) t(i)")
        c.execute("ALTER TABLE l.curated.orders ADD COLUMN coupon VARCHAR")
        c.execute("INSERT INTO l.curated.orders VALUES (5000, 'app', 9.99, NULL, 'SPRING')")
        c.execute("DETACH l")
        """, [root])
        let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
        let results = try catalog.verifyFiles(table: "curated.orders")
        #expect(results.count == 2)
        #expect(results.allSatisfy { $0.ok && !$0.footerChecksumRecorded && $0.pages > 0 }, "\(results.map(\.detail))")

        let victim = results[0].path
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: victim)))
        bytes.removeLast(1)
        try Data(bytes).write(to: URL(fileURLWithPath: victim))
        let after = try catalog.verifyFiles(table: "curated.orders")
        #expect(after.first { $0.path == victim }?.status == .sizeMismatch)
        #expect(after.filter(\.ok).count == 1)
    }

    @Test("SIGKILL during `lake verify` changes nothing: catalog content and every data file byte for byte")
    func killDuringVerify() throws {
        let lake = try BatchedLake(batches: 3)
        defer { lake.dir.remove() }
        let before = try Self.state(lake)
        for delay in [0.05, 0.2, 0.5, 1.0] {
            let p = Process()
            p.executableURL = lakeBinary
            p.arguments = ["verify", "--lake", lake.lakeRoot, "--quiet"]
            p.currentDirectoryURL = packageRoot
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: delay)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        let after = try Self.state(lake)
        #expect(after.keys.sorted() == before.keys.sorted())
        #expect(after == before)
        #expect(try lake.catalog.verifyFiles().allSatisfy(\.ok))
    }
}
