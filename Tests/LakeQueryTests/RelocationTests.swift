import Foundation
import GRDB
import LakeCatalog
import LakePipeline
import LakeTestSupport
import Testing

/// A lake names no absolute location: moved or copied, it keeps working for `lake` and for
/// DuckDB 1.5.5, which resolves the relative data_path against its working directory.
@Suite("Relocatable lake")
struct RelocationTests {
    /// DuckDB started in the (moved) lake directory attaches it with no DATA_PATH and no
    /// OVERRIDE_DATA_PATH, by a relative and by an absolute manifest path, and reads values
    /// from the data files (a sum, which no catalog statistic answers).
    static let attachInPlace = Python.duckdbPrelude + """
    lake = sys.argv[1]
    os.chdir(lake)
    out = {}
    for name, path in (("relative", "manifest.sqlite"), ("absolute", os.path.join(lake, "manifest.sqlite"))):
        con = duck()
        con.execute(f"ATTACH 'ducklake:sqlite:{path}' AS l (READ_ONLY)")
        out[name] = [
            str(con.execute("SELECT sum(order_total) FROM l.curated.orders").fetchone()[0]),
            con.execute("SELECT count(*) FROM l.raw.orders WHERE line IS NOT NULL").fetchone()[0],
        ]
        con.close()
    print(json.dumps(out))
    """

    @Test("A moved lake and a copy of it: lake reads them, DuckDB attaches them without DATA_PATH")
    func movedAndCopiedLake() throws {
        let dir = try TemporaryDirectory("relocate")
        defer { dir.remove() }
        let original = dir.url.appendingPathComponent("lake")
        let input = packageRoot.appendingPathComponent("Evaluation-Files")
        for (kind, file) in [("catalog", "product_catalog.json"), ("orders", "orders_stream.jsonl")] {
            let r = try runLake(["ingest", kind, input.appendingPathComponent(file).path, "--lake", original.path])
            try #require(r.status == 0, "ingest \(kind): \(r.err)")
        }
        let before = try totals(original)

        let moved = dir.url.appendingPathComponent("elsewhere/renamed")
        try FileManager.default.createDirectory(at: moved.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: original, to: moved)
        let copy = dir.url.appendingPathComponent("copy")
        try FileManager.default.copyItem(at: moved, to: copy)

        for lake in [moved, copy] {
            #expect(try totals(lake) == before, "lake reads \(lake.path)")
            let duck = try #require(try Python.json(Self.attachInPlace, [lake.path]) as? [String: [Any]])
            for (how, row) in duck {
                #expect(row.first as? String == before.revenue, "DuckDB, \(how) manifest path in \(lake.path)")
                #expect(row.last as? Int == before.rawLines, "DuckDB, \(how) manifest path in \(lake.path)")
            }
        }
    }

    @Test("A lake made with an absolute data_path gets the relative one at its next read-write open")
    func absoluteDataPathIsRewritten() throws {
        let dir = try TemporaryDirectory("relocate-old")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake")
        _ = try Catalog.open(root: root)
        let queue = try DatabaseQueue(path: root.appendingPathComponent(Catalog.manifestName).path)
        try queue.write { db in
            try db.execute(sql: "UPDATE ducklake_metadata SET value = ? WHERE key = 'data_path'", arguments: [root.path + "/"])
        }
        try queue.close()
        func stored() throws -> String? {
            try Catalog.open(root: root, readOnly: true).read { db in
                try String.fetchOne(db, sql: "SELECT value FROM ducklake_metadata WHERE key = 'data_path'")
            }
        }
        #expect(try stored() == root.path + "/", "a read-only open changes nothing")
        _ = try Catalog.open(root: root)
        #expect(try stored() == "./")
    }

    /// Confirmed-or-not revenue over every accepted order and the number of raw lines, as `lake` computes them.
    private func totals(_ lake: URL) throws -> (revenue: String, rawLines: Int) {
        let revenue = try runLake(["query", "orders", "--agg", "sum(order_total)", "--format", "json", "--lake", lake.path])
        try #require(revenue.status == 0, "\(revenue.err)")
        let raw = try runLake(["query", "raw.orders", "--agg", "count(*)", "--format", "json", "--lake", lake.path])
        try #require(raw.status == 0, "\(raw.err)")
        let r = try #require((try JSONSerialization.jsonObject(with: Data(revenue.out.utf8)) as? [[String: Any]])?.first)
        let n = try #require((try JSONSerialization.jsonObject(with: Data(raw.out.utf8)) as? [[String: Any]])?.first)
        return (try #require(r.values.first as? String), try #require(n.values.first as? Int))
    }
}
