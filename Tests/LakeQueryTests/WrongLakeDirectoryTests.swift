import Foundation
import LakeTestSupport
import Testing

/// Session 17 probe: a PostgreSQL catalog read with a --lake other than the directory its files
/// were written to failed with "…parquet: open failed: No such file or directory", with no hint
/// that --lake, which the catalog resolves its relative data path against, was the mistake.
@Suite(.serialized)
struct WrongLakeDirectoryTests {
    @Test func aWrongLakeIsNamedAsSuch() throws {
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase()
        let dir = try TemporaryDirectory("wrong-lake")
        defer { dir.remove() }
        let lake = dir.url.appendingPathComponent("lake").path
        let other = dir.url.appendingPathComponent("other").path
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        let url = pg.url(database: database)
        let files = packageRoot.appendingPathComponent("Evaluation-Files")
        for (kind, file) in [("catalog", "product_catalog.json"), ("orders", "orders_stream.jsonl")] {
            let r = try runLake(["ingest", kind, files.appendingPathComponent(file).path, "--lake", lake, "--catalog", url])
            #expect(r.status == 0, "\(kind): \(r.err)")
        }
        // The catalog's first live data file, relative to the lake: what the error names.
        let first = try pg.psql(database, """
            SELECT s.path || t.path || d.path FROM ducklake_data_file d JOIN ducklake_table t ON t.table_id = d.table_id AND t.end_snapshot IS NULL
            JOIN ducklake_schema s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL WHERE d.end_snapshot IS NULL ORDER BY d.data_file_id LIMIT 1
            """).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(FileManager.default.fileExists(atPath: lake + "/" + first), "\(first)")

        // An existing directory without the lake's files, and one that does not exist.
        for wrong in [other, dir.url.appendingPathComponent("missing").path] {
            for args in [["report", "daily-revenue"], ["query", "orders", "--limit", "3"]] {
                let r = try runLake(args + ["--lake", wrong, "--catalog", url])
                #expect(r.status == 1, "\(args) \(wrong): exit \(r.status) \(r.err)")
                #expect(r.err.contains("so its files are read under --lake \(wrong)")
                        && r.err.contains("--lake most likely does not name the directory this lake's files were written to")
                        && r.err.contains("Pass --lake the directory that holds \(first)"), "\(args) \(wrong): \(r.err)")
                #expect(r.out.isEmpty, "\(args): \(r.out.prefix(200))")
            }
            // A write is refused before it writes anything: its files would have gone to the
            // wrong directory, splitting the lake.
            let snapshots = try pg.psql(database, "SELECT count(*) FROM ducklake_snapshot")
            let w = try runLake(["ingest", "orders", files.appendingPathComponent("orders_stream.jsonl").path, "--lake", wrong, "--catalog", url])
            #expect(w.status == 1 && w.err.contains("Pass --lake the directory that holds \(first)"), "ingest \(wrong): exit \(w.status) \(w.err)")
            #expect(try pg.psql(database, "SELECT count(*) FROM ducklake_snapshot") == snapshots)
            #expect(!FileManager.default.fileExists(atPath: wrong + "/curated"), "files written under \(wrong)")
            // lake verify counts the files missing, each with the same hint.
            let v = try runLake(["verify", "--lake", wrong, "--catalog", url])
            #expect(v.status == 1, "verify \(wrong): exit \(v.status)")
            #expect((v.out + v.err).contains("--lake most likely does not name"), "verify: \(v.out) \(v.err)")
        }
        // A vacuum there would have judged every file of that directory an orphan of this
        // catalog: refused, the directory's files untouched.
        let stray = other + "/curated/orders/old.parquet"
        try FileManager.default.createDirectory(atPath: other + "/curated/orders", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: stray, contents: Data("PAR1".utf8)))
        let vacuum = try runLake(["vacuum", "--retain", "0s", "--force", "--lake", other, "--catalog", url])
        #expect(vacuum.status == 1 && vacuum.err.contains("--lake most likely does not name"), "vacuum: exit \(vacuum.status) \(vacuum.err)")
        #expect(FileManager.default.fileExists(atPath: stray))
        // The right --lake reads.
        let ok = try runLake(["report", "daily-revenue", "--lake", lake, "--catalog", url, "--format", "json"])
        #expect(ok.status == 0 && ok.out.contains("revenue"), "\(ok.err)")
        // With the right --lake, a lost file other than the first is reported as it was: no
        // advice to change --lake, which is right.
        let second = try pg.psql(database, """
            SELECT s.path || t.path || d.path FROM ducklake_data_file d JOIN ducklake_table t ON t.table_id = d.table_id AND t.end_snapshot IS NULL
            JOIN ducklake_schema s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL
            WHERE d.end_snapshot IS NULL AND s.schema_name = 'curated' AND t.table_name = 'orders' ORDER BY d.data_file_id DESC LIMIT 1
            """).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(second != first)
        try FileManager.default.removeItem(atPath: lake + "/" + second)
        let lost = try runLake(["report", "daily-revenue", "--lake", lake, "--catalog", url])
        #expect(lost.status == 1 && lost.err.contains(second) && !lost.err.contains("--lake most likely"), "\(lost.err)")
        // So is the first file, lost while the newest files are there: --lake is right.
        try FileManager.default.removeItem(atPath: lake + "/" + first)
        let parts = first.split(separator: "/")
        for args in [["query", "\(parts[0]).\(parts[1])"], ["verify"]] {
            let r = try runLake(args + ["--lake", lake, "--catalog", url])
            #expect(r.status == 1 && (r.out + r.err).contains(first) && !(r.out + r.err).contains("--lake most likely"), "\(args): \(r.out) \(r.err)")
        }
    }
}
