import Foundation
import Testing
@testable import LakeCatalog

/// Every lake_* table is created once, when a catalog opens for writing, so commits, leases and
/// quality records run no DDL; a catalog an older build left without some gains them at its next
/// writable open, and a read-only open changes nothing.
@Suite struct BookkeepingTablesTests {
    private func tables(_ catalog: Catalog) throws -> Set<String> {
        try catalog.read { db in Set(try Bookkeeping.tableNames.filter { try db.tableExists($0) }) }
    }

    @Test func createdAtOpenAndRecreatedWhenMissing() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let fresh = try Catalog.open(root: dir.url)
        #expect(try tables(fresh) == Set(Bookkeeping.tableNames))
        // An older build made these lazily, on first use: drop them as if never used.
        let missing = ["lake_erasure", "lake_key_run", "lake_write_lease", "lake_quality_figure", "lake_file_integrity"]
        try fresh.store.write { db in for t in missing { try db.execute(sql: "DROP TABLE \(t)") } }

        let readOnly = try Catalog.open(root: dir.url, create: false, readOnly: true)
        #expect(try tables(readOnly) == Set(Bookkeeping.tableNames).subtracting(missing), "a read-only open must not write")

        let writable = try Catalog.open(root: dir.url, create: false)
        #expect(try tables(writable) == Set(Bookkeeping.tableNames))
        // Indexes come with them.
        let indexes = try writable.read { db in
            try db.fetch(sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'lake_%'", arguments: []).map { row -> String in row[0] }
        }
        #expect(Set(indexes).isSuperset(of: ["lake_key_run_table", "lake_quality_figure_snapshot"]))
    }
}
