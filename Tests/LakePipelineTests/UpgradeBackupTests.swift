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

    /// A SIGKILL mid-copy leaves the hidden partial copy (session 14: 8 runs in 25); nothing
    /// removed it. The next `lake upgrade` does, whether the catalog is still 0.3 (the killed run
    /// did not migrate) or already 1.0 (a later run did); a dry run changes nothing.
    @Test("the next lake upgrade removes the partial backup copies killed upgrades left, at 0.3 and at 1.0; --dry-run leaves them")
    func upgradeRemovesPartialCopiesOfKilledUpgrades() throws {
        let dir = try TemporaryDirectory("upgrade-backup-partial")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Python.run(Python.duckdbPrelude + Self.build03, [root.path], python: Python.duckdb14Executable)
        let manifest = root.appendingPathComponent(Catalog.manifestName)
        // What a kill mid-copy leaves: the first pages of the catalog under the partial name, and the copy's journal.
        func leaveKilledCopy(_ stamp: String) throws -> [String] {
            let partial = Catalog.partialBackupURL(root.appendingPathComponent("manifest-0.3-backup-\(stamp).sqlite"))
            let head = try Data(contentsOf: manifest).prefix(4096)
            try head.write(to: partial)
            try Data(count: 512).write(to: URL(fileURLWithPath: partial.path + "-journal"))
            return [partial.lastPathComponent, partial.lastPathComponent + "-journal"]
        }
        func names() throws -> Set<String> { Set(try FileManager.default.contentsOfDirectory(atPath: root.path)) }
        let first = try leaveKilledCopy("20261129T101010.123Z")

        let dry = try runLake(["upgrade", "--dry-run", "--lake", root.path])
        #expect(dry.status == 0, "\(dry.err)")
        #expect(try names().isSuperset(of: first), "a dry run removed files")

        let upgraded = try runLake(["upgrade", "--lake", root.path])
        let afterUpgrade = try names()
        #expect(upgraded.status == 0, "\(upgraded.err)")
        #expect(try SQLiteStore.peekVersion(manifest.path) == "1.0")
        #expect(afterUpgrade.isDisjoint(with: first), "the partial copy is left: \(afterUpgrade.sorted())")
        #expect(upgraded.out.contains("removed \(first[0]), the partial backup copy of an interrupted upgrade"), "\(upgraded.out)")
        let backups = afterUpgrade.filter { $0.hasPrefix("manifest-0.3-backup-") && $0.hasSuffix(".sqlite") }
        #expect(backups.count == 1, "\(afterUpgrade.sorted())")

        // Killed again mid-copy, while another run finished the upgrade: the catalog is 1.0 now.
        let second = try leaveKilledCopy("20261129T111111.456Z")
        let current = try runLake(["upgrade", "--lake", root.path])
        #expect(current.status == 0, "\(current.err)")
        #expect(current.out.contains("already a DuckLake 1.0 catalog"), "\(current.out)")
        let afterCurrent = try names()
        #expect(afterCurrent.isDisjoint(with: second), "the partial copy is left: \(afterCurrent.sorted())")
        #expect(current.out.contains("removed \(second[0])"), "\(current.out)")
        #expect(afterCurrent.filter { $0.hasPrefix("manifest-0.3-backup-") && $0.hasSuffix(".sqlite") } == backups, "the complete backup stays")
    }
}
