import Foundation
import LakeCatalog
import LakePipeline
import LakeQuery
import LakeTestSupport
import Testing

/// Turns a catalog this build wrote into the DuckLake 0.3 catalog earlier builds wrote for the
/// same commits: without the 1.0 tables and columns, `partial_file_info` instead of
/// `partial_max` (always NULL: no build ever merged across snapshots), one
/// `ducklake_schema_versions` row per schema version (snapshot 0 included) instead of per table,
/// and version 0.3. (SQLite appends a re-added column, so `partial_file_info` ends up after
/// `mapping_id`; every reader, ours and DuckDB's, addresses columns by name.)
private let downgradeTo03 = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
for t in ["ducklake_file_variant_stats", "ducklake_macro", "ducklake_macro_impl", "ducklake_macro_parameters",
          "ducklake_sort_info", "ducklake_sort_expression"]:
    db.execute(f"DROP TABLE {t}")
db.execute("ALTER TABLE ducklake_column DROP COLUMN default_value_dialect")
db.execute("ALTER TABLE ducklake_column DROP COLUMN default_value_type")
db.execute("ALTER TABLE ducklake_delete_file DROP COLUMN partial_max")
db.execute("ALTER TABLE ducklake_data_file ADD COLUMN partial_file_info VARCHAR")
db.execute("ALTER TABLE ducklake_data_file DROP COLUMN partial_max")
db.execute("DELETE FROM ducklake_schema_versions")
db.execute("ALTER TABLE ducklake_schema_versions DROP COLUMN table_id")
db.execute("INSERT INTO ducklake_schema_versions SELECT min(snapshot_id), schema_version FROM ducklake_snapshot GROUP BY schema_version")
# DuckLake 0.3 (DuckDB 1.4, and our previous build) names a compaction compacted_table; 1.0 merge_adjacent.
# Nor did it record the inline_flush our compactions add since (DuckDB 1.4 refuses that kind).
for sid, changes in db.execute("SELECT snapshot_id, changes_made FROM ducklake_snapshot_changes").fetchall():
    kept = [c for c in changes.split(",") if not c.startswith("inline_flush:")]
    db.execute("UPDATE ducklake_snapshot_changes SET changes_made = ? WHERE snapshot_id = ?", [",".join(kept), sid])
db.execute("UPDATE ducklake_snapshot_changes SET changes_made = replace(changes_made, 'merge_adjacent:', 'compacted_table:')")
db.execute("UPDATE ducklake_metadata SET value = '0.3' WHERE key = 'version'")
db.execute("COMMIT")
"""

/// Curated orders and items at every snapshot, through DuckDB (1.4.4 on 0.3, 1.5.5 on 1.0),
/// attached read-only without AUTOMATIC_MIGRATION.
private let duckEverySnapshot = """
root = sys.argv[1]
con = duck()
con.execute("SET TimeZone = 'UTC'")
con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
out = {}
for (v,) in con.execute("SELECT snapshot_id FROM l.snapshots() ORDER BY 1").fetchall():
    row = []
    for t in ("curated.orders", "curated.order_items", "raw.orders", "curated.inventory"):
        try:
            row.append(list(con.execute(f"SELECT count(*), md5(string_agg(r, '|' ORDER BY r)) FROM (SELECT concat_ws(',', *COLUMNS(*)) AS r FROM l.{t} AT (VERSION => {v}))").fetchone()))
        except duckdb.Error as e:
            if "does not exist" not in str(e): raise
            row.append(None)
    out[str(v)] = row
print(json.dumps(out))
"""

@Suite struct UpgradeReports {
    /// Every report at every snapshot, as CSV (or the error a snapshot before the tables gives).
    private func reports(_ catalog: Catalog) throws -> [String] {
        var out: [String] = []
        for s in try catalog.snapshots() {
            for name in [ReportName.dailyRevenue, .topProducts, .customers, .inventory, .operations] {
                var o = ReportOptions()
                o.asOf = .snapshot(s.id)
                do {
                    out.append("\(s.id) \(name)\n" + (try Reports.run(name, catalog: catalog, options: o).render(.csv)))
                } catch {
                    out.append("\(s.id) \(name) error: \(error)")
                }
            }
        }
        return out
    }

    @Test func lakeOfThePreviousBuildUpgradesWithIdenticalReportsAtEverySnapshot() throws {
        let dir = try TemporaryDirectory("lake-upgrade-reports")
        defer { dir.remove() }
        let input = packageRoot.appendingPathComponent("Evaluation-Files")
        let lines = try String(contentsOf: input.appendingPathComponent("orders_stream.jsonl"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        try (lines[..<600].joined(separator: "\n") + "\n").write(toFile: dir.file("part1.jsonl"), atomically: true, encoding: .utf8)
        try lines[600...].joined(separator: "\n").write(toFile: dir.file("part2.jsonl"), atomically: true, encoding: .utf8)
        do {
            let store = try LakeStore.open(root: dir.url, schemas: packageRoot.appendingPathComponent("schemas"))
            _ = try CatalogIngest.run(store, path: input.appendingPathComponent("product_catalog.json").path)
            _ = try InventoryIngest.run(store, path: input.appendingPathComponent("inventory_updates.csv").path)
            _ = try OrderIngest.run(store, path: dir.file("part1.jsonl"))
            _ = try OrderIngest.run(store, path: dir.file("part2.jsonl"))
            _ = try Compaction.run(store.catalog)
        }
        let manifest = dir.url.appendingPathComponent(Catalog.manifestName).path
        try Python.run(downgradeTo03, [manifest])

        let old = try Catalog.open(root: dir.url, create: false)
        #expect(old.format == .v03)
        let before = try reports(old)
        let snapshots = try old.snapshots().count
        #expect(snapshots >= 6 && before.count == 5 * snapshots)
        #expect(before.filter { $0.contains("error:") }.count < before.count / 2, "most snapshots have reports to compare")
        // Writes are refused before anything is written.
        #expect(throws: CatalogError.upgradeRequired(path: manifest, version: "0.3")) {
            _ = try LakeStore.open(root: dir.url, schemas: packageRoot.appendingPathComponent("schemas"))
        }
        let duck14 = try Python.json(Python.duckdbPrelude + duckEverySnapshot, [dir.path], python: Python.duckdb14Executable) as? [String: Any]

        let report = try Catalog.upgrade(root: dir.url)
        #expect(report.backup != nil && !report.alreadyCurrent)
        let upgraded = try Catalog.open(root: dir.url, create: false)
        #expect(upgraded.format == .v10)
        #expect(try reports(upgraded) == before)
        let duck15 = try Python.json(Python.duckdbPrelude + duckEverySnapshot, [dir.path]) as? [String: Any]
        #expect(duck14 != nil && NSDictionary(dictionary: duck15 ?? [:]).isEqual(to: duck14 ?? ["": 0]))

        // And the lake takes the next ingest.
        let store = try LakeStore.open(root: dir.url, schemas: packageRoot.appendingPathComponent("schemas"))
        let again = try OrderIngest.run(store, path: input.appendingPathComponent("orders_stream.jsonl").path)
        #expect(again.snapshotID != nil)
    }
}
