import Foundation
import LakeTestSupport
import Testing

/// DuckDB 1.5.5 inserts orders with a channel the registry's enum does not list: written out as
/// Parquet (inlining limit 0), so the file carries the channel as its partition value, or kept
/// inlined in the catalog (limit 10), a row with no partition value.
private let duckdbKioskOrder = Python.duckdbPrelude + """
root, limit = sys.argv[1], int(sys.argv[2])
c = duck()
c.execute("SET TimeZone = 'UTC'")
c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT {limit})")
insert_duck_order(c, "l", "DUCK-KIOSK-1", "kiosk")
print(json.dumps({"snapshot": c.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('l')").fetchone()[0],
                  "inlined": c.execute("SELECT count(*) FROM __ducklake_metadata_l.ducklake_inlined_data_tables").fetchone()[0]}))
"""

/// Session 17 probe: `--channel` (and lake serve's `channel`) accepted only the registry's
/// enum, so the rows DuckDB inserted with another channel could not be filtered by it. A
/// channel the lake's orders hold at the report's snapshot (their files' partition values) is
/// accepted too; an unknown one's error lists both.
@Suite(.serialized)
struct LakeChannelTests {
    /// Session 19: with the row inlined, `--channel kiosk` was refused ("not a channel") while
    /// every report read the row: the lake's channels came from partition values only.
    @Test(arguments: [0, 10]) func aChannelOnlyTheLakeHoldsIsFiltered(inliningLimit: Int) async throws {
        let dir = try TemporaryDirectory("lake-channel")
        defer { dir.remove() }
        let root = dir.file("lake"), src = dir.file("src")
        for args in [["generate", "--out", src, "--orders", "300", "--days", "5", "--seed", "9"],
                     ["ingest", "catalog", src + "/product_catalog.json", "--lake", root],
                     ["ingest", "orders", src + "/orders_stream.jsonl", "--lake", root]] {
            let r = try lake(args)
            #expect(r.status == 0, "\(args): \(r.err)")
        }
        let before = try lake(["snapshots", "--lake", root, "--format", "csv"]).out.split(separator: "\n").count - 1
        let added = try #require(try Python.json(duckdbKioskOrder, [root, "\(inliningLimit)"]) as? [String: Int])
        let kiosk = try #require(added["snapshot"])
        #expect((added["inlined"] ?? 0 > 0) == (inliningLimit > 0), "\(added)")

        let r = try lake(["report", "daily-revenue", "--channel", "kiosk", "--lake", root, "--format", "json"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("\"channel\": \"kiosk\"") && r.out.contains("100.05") && !r.out.contains("\"channel\": \"web\""), "\(r.out.prefix(600))")
        // Unknown: both lists. Before DuckDB's snapshot the lake holds no kiosk order.
        let wrong = try lake(["report", "daily-revenue", "--channel", "Kiosk", "--lake", root])
        #expect(wrong.status == 64, "exit \(wrong.status) \(wrong.err)")
        #expect(wrong.err.contains("--channel Kiosk is not a channel; channels: api, mobile, web; the lake's orders at this snapshot also hold kiosk"), "\(wrong.err)")
        let earlier = try lake(["report", "daily-revenue", "--channel", "kiosk", "--as-of", "\(kiosk - 1)", "--lake", root])
        #expect(earlier.status == 64 && earlier.err.contains("--channel kiosk is not a channel; channels: api, mobile, web") && !earlier.err.contains("also hold"),
                "\(before) snapshots before; exit \(earlier.status) \(earlier.err)")

        let s = try ServerProcess(lake: root, [])
        defer { s.stop() }
        let answer = try await get(s.base + "/api/v1/daily_sales?channel=kiosk")
        #expect(answer.status == 200 && answer.body.contains("\"channel\": \"kiosk\"") && answer.body.contains("100.05"), "\(answer.status) \(answer.body.prefix(400))")
        let refused = try await get(s.base + "/api/v1/daily_sales?channel=Kiosk")
        #expect(refused.status == 400 && refused.body.contains("not one of api, mobile, web, kiosk"), "\(refused.status) \(refused.body)")
        let past = try await get(s.base + "/api/v1/daily_sales?channel=kiosk&as_of=\(kiosk - 1)")
        #expect(past.status == 400 && past.body.contains("not one of api, mobile, web"), "\(past.status) \(past.body)")
        // An as_of naming no snapshot stays a 400 naming as_of with such a channel too: the
        // lake's channels were read at the raw as_of, a 500 "snapshot does not exist"
        // (schemathesis found it once `channel` was no longer an enum in the OpenAPI document).
        let missing = try await get(s.base + "/api/v1/daily_sales?channel=zz&as_of=\(kiosk + 4000)")
        #expect(missing.status == 400 && missing.body.contains("as_of"), "\(missing.status) \(missing.body)")
    }
}
