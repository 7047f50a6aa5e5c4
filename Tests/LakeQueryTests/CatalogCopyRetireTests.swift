import Foundation
@testable import LakeCatalog
import LakeTestSupport
import Testing

/// `lake catalog copy` moves the lake's catalog: the source is retired. Found by an exploratory
/// test: after a copy to PostgreSQL the old manifest.sqlite stayed live, the default of every
/// command run without --catalog, and its `lake vacuum` deleted every file committed through
/// PostgreSQL since (unknown to it, so orphans), leaving that catalog unreadable. The same holds
/// for any two live catalogs over one lake root; a SQLite copy shows it without a server.
@Suite struct CatalogCopyRetireTests {
    func parquetFiles(_ root: String) -> Set<String> {
        let all = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
        return Set(all.filter { $0.hasSuffix(".parquet") })
    }

    @Test func theSourceOfACopyRefusesWritesAndVacuumsAndStillReads() throws {
        let lake = try GeneratedLake(try GeneratedLake.config(orders: 300))
        defer { lake.dir.remove() }
        let copy = lake.dir.file("moved.sqlite")
        let copied = try runLake(["catalog", "copy", "--lake", lake.root, "--to", copy])
        #expect(copied.status == 0 && copied.out.contains("is retired"), "\(copied.out) \(copied.err)")
        let files = parquetFiles(lake.root)
        #expect(!files.isEmpty)

        // A file only the copy knows: the vacuum through the old catalog would call it an orphan.
        let orphan = lake.root + "/curated/orders/only-the-copy-knows.parquet"
        #expect(FileManager.default.createFile(atPath: orphan, contents: Data("PAR1".utf8)))
        let refused: [[String]] = [
            ["vacuum", "--retain", "0s", "--force"],
            ["vacuum", "--retain", "0s", "--force", "--dry-run"],
            ["ingest", "orders", "--quiet", lake.dir.file("input/orders_stream.jsonl")],
            ["compact"],
            ["delete", "curated.orders", "--where", "channel = web"],
        ]
        for args in refused {
            let r = try runLake(args + ["--lake", lake.root])
            #expect(r.status == 1, "\(args): exit \(r.status) \(r.err)")
            #expect(r.err.contains("was copied to \(copy) by `lake catalog copy`") && r.err.contains("the lake's manifest.sqlite")
                    && r.err.contains("DROP TABLE lake_catalog_retired"), "\(args): \(r.err)")
        }
        #expect(FileManager.default.fileExists(atPath: orphan), "the vacuum deleted a file the copy may name")
        #expect(parquetFiles(lake.root) == files.union(["curated/orders/only-the-copy-knows.parquet"]))
        // Reads still work.
        let old = try runLake(["report", "daily-revenue", "--lake", lake.root, "--format", "json"])
        #expect(old.status == 0 && old.out.contains("revenue"), "\(old.err)")
        // Copying a retired catalog is a read: allowed (here, as a backup that stays live).
        let again = try runLake(["catalog", "copy", "--lake", lake.root, "--to", lake.dir.file("again.sqlite"), "--keep-source"])
        #expect(again.status == 0 && !again.out.contains("retired"), "\(again.err)")
        // The copy moved into place is the lake's catalog: it reads the same and writes.
        let fm = FileManager.default
        let manifest = lake.root + "/manifest.sqlite"
        try fm.moveItem(atPath: manifest, toPath: lake.dir.file("retired.sqlite"))
        for side in ["-wal", "-shm"] { try? fm.removeItem(atPath: manifest + side) }
        try fm.moveItem(atPath: copy, toPath: manifest)
        let moved = try runLake(["report", "daily-revenue", "--lake", lake.root, "--format", "json"])
        #expect(moved.out == old.out, "\(moved.err)")
        try fm.removeItem(atPath: orphan)
        let vacuum = try runLake(["vacuum", "--lake", lake.root, "--retain", "0s", "--force"])
        #expect(vacuum.status == 0, "\(vacuum.err)")
    }

    @Test func aCopyKeptAsABackupLeavesTheSourceLive() throws {
        let lake = try GeneratedLake(try GeneratedLake.config(orders: 300))
        defer { lake.dir.remove() }
        let r = try runLake(["catalog", "copy", "--lake", lake.root, "--to", lake.dir.file("backup.sqlite"), "--keep-source", "--format", "json"])
        #expect(r.status == 0, "\(r.err)")
        let vacuum = try runLake(["vacuum", "--lake", lake.root, "--retain", "0s", "--force"])
        #expect(vacuum.status == 0, "\(vacuum.err)")
        let catalog = try Catalog.open(root: URL(fileURLWithPath: lake.root), create: false)
        #expect(try catalog.retirement() == nil)
        #expect(throws: Never.self) { try catalog.requireWritable() }
    }
}
