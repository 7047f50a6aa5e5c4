import CFaultVFS
import Foundation
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakeCatalog

/// `lake upgrade` copies the 0.3 catalog to `manifest-0.3-backup-<UTC>.sqlite` before migrating,
/// and the documented undo is to copy that file over manifest.sqlite. A copy that failed (a full
/// disk, EIO) or was killed midway (session 14 probe: SIGKILL at random points, 3 runs in 25)
/// left an empty or half-written file under that name: restoring it would replace the catalog
/// with an empty database. The copy is now made under a hidden partial name and renamed when
/// complete. The write failure here is real, below SQLite (Tests/CFaultVFS).
@Suite(.serialized) struct UpgradeBackupTests {
    static let build03 = """
        root = sys.argv[1]
        c = duck()
        c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE)")
        c.execute("CREATE SCHEMA l.curated")
        c.execute("CREATE TABLE l.curated.orders(order_id BIGINT NOT NULL, amount DECIMAL(12,2))")
        c.execute("INSERT INTO l.curated.orders VALUES (1, 12.50), (2, 3.10)")
        print(json.dumps({"ok": True}))
        """

    @Test("an upgrade whose backup copy fails leaves no file under the backup's name and the catalog at 0.3; the rerun works")
    func failedBackupLeavesNoBackupNamedFile() throws {
        try #require(lake_fault_vfs_install() == 0)
        let dir = try TemporaryDirectory("upgrade-backup-eio")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Python.run(Python.duckdbPrelude + Self.build03, [root.path], python: Python.duckdb14Executable)
        let manifest = root.appendingPathComponent(Catalog.manifestName).path
        #expect(try SQLiteStore.peekVersion(manifest) == "0.3")

        lake_fault_vfs_fail_writes_containing("manifest-0.3-backup-")
        defer { lake_fault_vfs_clear_write_failures() }
        #expect(throws: CatalogError.self) { try Catalog.upgrade(root: root) }
        lake_fault_vfs_clear_write_failures()
        let names = try FileManager.default.contentsOfDirectory(atPath: root.path)
        #expect(!names.contains { $0.hasPrefix("manifest-0.3-backup-") }, "a failed copy is left under the backup's name: \(names.sorted())")
        #expect(!names.contains { $0.contains("backup") }, "the failed copy was not removed: \(names.sorted())")
        #expect(try SQLiteStore.peekVersion(manifest) == "0.3")

        let report = try Catalog.upgrade(root: root)
        let backup = try #require(report.backup)
        #expect(try SQLiteStore.peekVersion(backup.path) == "0.3", "the backup is the 0.3 catalog")
        #expect(try SQLiteStore.peekVersion(manifest) == "1.0")
        // (Reading the backup above gave it a -wal and -shm: it is a WAL-mode database like the catalog.)
        let left = try FileManager.default.contentsOfDirectory(atPath: root.path)
            .filter { $0.contains("backup") && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }
        #expect(left == [backup.lastPathComponent], "\(left)")
    }
}
