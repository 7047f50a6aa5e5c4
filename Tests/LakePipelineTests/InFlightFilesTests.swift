import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

/// A writer's files can vanish between writing and committing: a vacuum that judged the writer
/// gone (a lease it could not check), a hand `rm`, a full disk's cleanup. A commit that replaces
/// a table's files with files that are not there loses the table's rows, so every such commit
/// checks them under the write lock and refuses.
@Suite("Commits refuse files that vanished before them", .serialized)
struct InFlightFilesTests {
    @Test("schema migrate --rewrite whose new files were deleted before its commit: refused, the table keeps its rows")
    func migrationRewriteRefusesMissingOutputs() throws {
        let lake = try BatchedLake(batches: 2, v1Only: true)
        defer { lake.dir.remove() }
        let existing = Set(Self.parquetFiles(lake.lakeRoot))
        let before = try lake.catalog.latestSnapshot().id
        let rows = try lake.ourChecksum("curated", "orders", at: before)

        // Under the write lock, before the commit's body runs: delete every file the migration
        // wrote (what a vacuum that took the migration's lease for dead would have done).
        var catalog = lake.catalog
        let root = lake.lakeRoot
        catalog.hooks = CommitHooks { point in
            guard point == .locked else { return }
            // Its vacuum deletes a file with its hold name (`LocalStorage.delete`), so the bytes are
            // gone; a name alone deleted by another engine is restored (OrphanSweepRaceTests).
            for f in Self.parquetFiles(root) where !existing.contains(f) {
                let url = URL(fileURLWithPath: f)
                try? FileManager.default.removeItem(atPath: f)
                try? FileManager.default.removeItem(at: url.deletingLastPathComponent().appendingPathComponent(LocalStorage.holdName(of: url.lastPathComponent)))
            }
        }
        let store = LakeStore(catalog: catalog, registry: try liveRegistry())
        #expect(throws: CatalogSafetyError.self) { try Migration.run(store, table: "orders", to: 2, rewrite: true) }

        #expect(try lake.catalog.latestSnapshot().id == before, "a migration committed files that were not there")
        let after = try lake.ourChecksum("curated", "orders", at: try lake.catalog.latestSnapshot().id)
        #expect(after.rows == rows.rows && after.sum == rows.sum)
    }

    static func parquetFiles(_ root: String) -> [String] {
        let names = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
        return names.filter { $0.hasSuffix(".parquet") }.map { root + "/" + $0 }
    }
}
