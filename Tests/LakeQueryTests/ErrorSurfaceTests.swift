import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
import LakeQuery
import LakeTestSupport
import Testing

/// Storage and corruption errors surface (issue 20, item 11): the checks and reports that ask
/// "is there such a table?" must not take a damaged catalog for "no table" and answer empty.
@Suite struct ErrorSurfaceTests {
    @Test("a damaged catalog is an error for quality checks, anomalies, the dashboard and reports, never an empty answer")
    func damagedCatalogIsAnErrorNotAnEmptyAnswer() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let before = try QualityChecks.run(catalog: lake.catalog, rescan: true)
        #expect(!before.batches.isEmpty)
        #expect(try TableScan.ifPresent(catalog: lake.catalog, table: .rawOrders) != nil)
        #expect(try TableScan.ifPresent(catalog: lake.catalog, table: TableName(schema: "raw", name: "nothing")) == nil)

        // Another process damages the catalog: the table of columns is gone. It also moves the
        // schema version on, as a schema change does, so this open catalog cannot answer from
        // the table metadata it cached for the old version and has to read the damaged table.
        _ = try Python.run("""
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1])
        con.execute("ALTER TABLE ducklake_column RENAME TO ducklake_column_damaged")
        con.execute("UPDATE ducklake_snapshot SET schema_version = schema_version + 1 WHERE snapshot_id = (SELECT max(snapshot_id) FROM ducklake_snapshot)")
        con.commit()
        """, [lake.root + "/manifest.sqlite"])

        #expect(throws: (any Error).self) { try TableScan.ifPresent(catalog: lake.catalog, table: .rawOrders) }
        #expect(throws: (any Error).self) { try QualityChecks.run(catalog: lake.catalog, rescan: true) }
        #expect(throws: (any Error).self) { try AnomalyDetector.detect(catalog: lake.catalog, rescan: true) }
        #expect(throws: (any Error).self) { try Dashboard.render(catalog: lake.catalog) }
        #expect(throws: (any Error).self) { try Reports.run(.productMetrics, catalog: lake.catalog, options: ReportOptions()) }
        // The user-facing scan names the damage, not a missing table.
        do {
            _ = try TableScan(catalog: lake.catalog, name: "orders")
            Issue.record("a scan of a damaged catalog succeeded")
        } catch let e as QueryError {
            Issue.record("a damaged catalog was reported as \(e)")
        } catch {}
    }
}
