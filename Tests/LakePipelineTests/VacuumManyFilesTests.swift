import Foundation
import LakeCatalog
import LakeTestSupport
import Testing
@testable import LakePipeline

@Suite("Vacuum of a compacted lake of many small batches")
struct VacuumManyFilesTests {
    @Test("more than 1,000 replaced files: every one deleted, their statistics and partition values forgotten, DuckDB reads the same")
    func forgetsEveryReplacedFile() throws {
        // Seven generated batches over 30 days: each writes a file per day and channel of
        // orders, items and raw lines, which the compaction replaces.
        let dir = try TemporaryDirectory("vacuum-many")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake")
        let store = try LakeStore.open(root: root, schemas: packageRoot.appendingPathComponent("schemas"))
        for seed in 1 ... 7 {
            var c = GeneratorConfig()
            c.orders = 400
            c.days = 30
            c.seed = UInt64(seed)
            let out = dir.file("g\(seed)")
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            _ = try OrderGenerator.generate(c, into: out)
            if seed == 1 { _ = try CatalogIngest.run(store, path: out + "/product_catalog.json") }
            _ = try OrderIngest.run(store, path: out + "/orders_stream.jsonl")
        }
        let catalog = store.catalog
        let before = try catalog.latestSnapshot().id
        let replaced = try catalog.tables().flatMap { try catalog.dataFiles(tableID: $0.tableID) }
        let compacted = try Compaction.run(catalog)
        _ = try #require(compacted.snapshotID)
        // DuckDB's rows and checksum per table, at the latest snapshot.
        func duckdb() throws -> [String: String] {
            let figures = try Python.json(Python.duckdbPrelude + """
                root = sys.argv[1]
                con = duck()
                con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
                out = {}
                for t in ["curated.orders", "curated.order_items", "raw.orders"]:
                    r = con.execute(f"SELECT count(*), sum(hash(x)) FROM l.{t} x").fetchone()
                    out[t] = f"{r[0]}:{r[1]}"
                print(json.dumps(out))
                """, [root.path])
            return try #require(figures as? [String: String])
        }
        let duckBefore = try duckdb()
        let live = Set(try catalog.tables().flatMap { try catalog.dataFiles(tableID: $0.tableID) }.map(\.dataFileID))
        let gone = replaced.filter { !live.contains($0.dataFileID) }
        // Past one statement's 1,000 files, so the batched forgetting spans several statements.
        #expect(gone.count > 1_000, "only \(gone.count) files replaced (of \(replaced.count) before snapshot \(before))")

        let vacuum = try catalog.vacuum(retain: 0, now: Date().addingTimeInterval(1), force: true)
        // The compaction scheduled its inputs (`.scheduled`); nothing else was left to forget.
        #expect(vacuum.files.filter { $0.reason == .scheduled }.count == gone.count && vacuum.failedDeletes.isEmpty)
        #expect(gone.filter { FileManager.default.fileExists(atPath: $0.url.path) }.isEmpty)
        // No row of a forgotten file is left in the catalog, and the live files keep theirs.
        let counts = try Python.json("""
            import sqlite3, sys, json
            c = sqlite3.connect(sys.argv[1])
            out = {}
            for t in ["ducklake_file_column_stats", "ducklake_file_partition_value"]:
                out[t + ":orphaned"] = c.execute(f"SELECT count(*) FROM {t} WHERE data_file_id NOT IN (SELECT data_file_id FROM ducklake_data_file)").fetchone()[0]
                out[t + ":files"] = c.execute(f"SELECT count(DISTINCT data_file_id) FROM {t}").fetchone()[0]
            out["files"] = c.execute("SELECT count(*) FROM ducklake_data_file").fetchone()[0]
            print(json.dumps(out))
            """, [root.appendingPathComponent("manifest.sqlite").path]) as? [String: Int]
        let c = try #require(counts)
        #expect(c["ducklake_file_column_stats:orphaned"] == 0 && c["ducklake_file_partition_value:orphaned"] == 0, "\(c)")
        #expect(c["files"] == live.count && (c["ducklake_file_column_stats:files"] ?? 0) > live.count / 2, "\(c) vs \(live.count) live files")
        #expect(try duckdb() == duckBefore)
    }
}
