import Foundation
import GRDB
import LakeTestSupport
import Testing
@testable import LakeCatalog

/// DuckDB 1.5.5 makes a lake whose catalog stores its absolute DATA_PATH, or adds one batch to
/// it (`add` mode), and prints the row count it reads.
private let duckdbLake = """
root, mode = sys.argv[1], sys.argv[2]
c = connect()
override = ", OVERRIDE_DATA_PATH TRUE, READ_ONLY" if mode == "read" else ""
c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', DATA_INLINING_ROW_LIMIT 0{override})")
if mode == "make":
    c.execute("CREATE SCHEMA l.curated")
    c.execute("CREATE TABLE l.curated.t(id BIGINT, d DATE)")
    c.execute("ALTER TABLE l.curated.t SET PARTITIONED BY (d)")
    c.execute("INSERT INTO l.curated.t SELECT r, DATE '2024-01-01' + (r % 3)::INT FROM range(100) t(r)")
    c.execute("INSERT INTO l.curated.t SELECT r, DATE '2024-01-01' + (r % 3)::INT FROM range(100, 200) t(r)")
elif mode == "add":
    c.execute("INSERT INTO l.curated.t SELECT r, DATE '2024-01-04' FROM range(200, 250) t(r)")
print(json.dumps({"rows": c.execute("SELECT count(*) FROM l.curated.t").fetchone()[0]}))
"""

/// Session 17 probe: a copy of a lake whose catalog stores an absolute data path (DuckDB keeps
/// the DATA_PATH it was attached with) still names the original's directory. `lake` read it as
/// stored, and wrote as stored too: a vacuum of the copy deleted the original's files that the
/// copy does not reference (the original's later batches, the copy's compaction inputs).
@Suite(.serialized) struct CopiedLakeDataPathTests {
    @Test func aCopyNamingTheOriginalsDirectoryIsNotWritten() throws {
        let dir = try TempDir("lake-copied-data-path"); defer { dir.cleanup() }
        let original = dir.url.appendingPathComponent("original").standardizedFileURL
        let copy = dir.url.appendingPathComponent("copy").standardizedFileURL
        try FileManager.default.createDirectory(at: original, withIntermediateDirectories: true)
        #expect(try Python.json(duckdbLake, args: [original.path, "make"], in: dir.url) as? [String: Int] == ["rows": 200])
        try FileManager.default.copyItem(at: original, to: copy)
        // The original moves on after the copy was taken: a file only its catalog references.
        #expect(try Python.json(duckdbLake, args: [original.path, "add"], in: dir.url) as? [String: Int] == ["rows": 250])

        // What the probe ran: a compaction of the copy retires files that are the original's,
        // and the copy's vacuum then deletes them. Both are refused, naming the data path.
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        for args in [["compact", "curated.t"], ["vacuum", "--retain", "0s", "--force"]] {
            let r = try runProcess(exe, args + ["--lake", copy.path])
            #expect(r.status == 1, "\(args): exit \(r.status) \(r.err)")
            #expect(r.err.contains("which is outside the lake directory \(copy.path)/"), "\(args): \(r.err)")
        }
        let copied = try Catalog.open(root: copy, create: false)
        #expect(copied.dataPath.standardizedFileURL.path.hasPrefix(original.path), "the copy reads the original's directory: \(copied.dataPath.path)")
        do {
            _ = try copied.vacuum(retain: 0, force: true)
            Issue.record("the copy's vacuum ran")
        } catch CatalogError.dataPathOutsideLake(_, let data, let lake) {
            #expect(data.hasPrefix(original.path) && lake.hasPrefix(copy.path), "\(data) \(lake)")
        }
        #expect(throws: CatalogError.self) { try copied.requireWritable() }
        // The original is whole: DuckDB reads all its rows (without the refusal the vacuum
        // deleted the added batch's file, and this read failed).
        #expect(try Python.json(duckdbLake, args: [original.path, "read"], in: dir.url) as? [String: Int] == ["rows": 250])

        // The original itself, also through a symlink, is written as before.
        try Catalog.open(root: original, create: false).requireWritable()
        let link = dir.url.appendingPathComponent("link")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: original)
        try Catalog.open(root: link, create: false).requireWritable()

        // The remedy the message gives: the copy's data path set to its own directory.
        let db = try DatabaseQueue(path: copy.appendingPathComponent("manifest.sqlite").path)
        try db.write { try $0.execute(sql: "UPDATE ducklake_metadata SET value = './' WHERE key = 'data_path' AND scope IS NULL") }
        try db.close()
        let own = try Catalog.open(root: copy, create: false)
        _ = try own.vacuum(retain: 0, force: true)
        #expect(try Python.json(duckdbLake, args: [original.path, "read"], in: dir.url) as? [String: Int] == ["rows": 250])
        #expect(try Python.json(duckdbLake, args: [copy.path, "read"], in: dir.url) as? [String: Int] == ["rows": 200])
    }
}
