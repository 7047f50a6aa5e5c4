import Foundation
import GRDB
import LakeFormat
import Testing
@testable import LakeCatalog

/// Rows of the interop table, kept as Swift values so the test can both hand them to pyarrow
/// and compute the stats our catalog records.
private struct SaleRow {
    var id: Int64
    var day: String
    var channel: String
    var amount: String?
    var placedAt: Int64?
}

private let salesFields: [Field] = [
    Field("id", .int64),
    Field("sale_date", .date),
    Field("channel", .string),
    Field("amount", .decimal(precision: 12, scale: 2), nullable: true),
    Field("placed_at", .timestamp, nullable: true),
]

/// The batch's columns in LakeFormat form, for StatText.stats.
private func columns(_ rows: [SaleRow]) -> [LakeFormat.Column] {
    [
        LakeFormat.Column(.int64(rows.map(\.id))),
        LakeFormat.Column(.int32(rows.map { Int32(Timestamps.parseDate($0.day) ?? 0) })),
        LakeFormat.Column(.string(StringColumn(rows.map(\.channel)))),
        LakeFormat.Column(.int64(rows.map { $0.amount.flatMap { DecimalText.parse($0, scale: 2) } ?? 0 }), validity: rows.map { $0.amount != nil }),
        LakeFormat.Column(.int64(rows.map { $0.placedAt ?? 0 }), validity: rows.map { $0.placedAt != nil }),
    ]
}

/// pyarrow writes each file with PARQUET:field_id = our column ids, the way LakeFormat will.
private let writeParquet = """
import datetime, decimal
import pyarrow as pa, pyarrow.parquet as pq
spec = json.load(open(sys.argv[1]))
out = []
for f in spec:
    ids = f["field_ids"]
    def field(name, t, nullable):
        return pa.field(name, t, nullable=nullable, metadata={b"PARQUET:field_id": str(ids[name]).encode()})
    schema = pa.schema([field("id", pa.int64(), False), field("sale_date", pa.date32(), False),
                        field("channel", pa.string(), False), field("amount", pa.decimal128(12, 2), True),
                        field("placed_at", pa.timestamp("us", tz="UTC"), True)])
    rows = f["rows"]
    table = pa.table([
        pa.array([r["id"] for r in rows], pa.int64()),
        pa.array([datetime.date.fromisoformat(r["day"]) for r in rows], pa.date32()),
        pa.array([r["channel"] for r in rows], pa.string()),
        pa.array([None if r["amount"] is None else decimal.Decimal(r["amount"]) for r in rows], pa.decimal128(12, 2)),
        pa.array([r["ts"] for r in rows], pa.timestamp("us", tz="UTC")),
    ], schema=schema)
    os.makedirs(os.path.dirname(f["path"]), exist_ok=True)
    pq.write_table(table, f["path"])
    data = open(f["path"], "rb").read()
    out.append({"size": len(data), "footer": int.from_bytes(data[-8:-4], "little")})
print(json.dumps(out))
"""

/// DuckDB reads our manifest read-only at the latest snapshot and at an earlier version.
private let readWithDuckDB = """
root, version, before_compaction = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = connect()
c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
q = "SELECT id, sale_date::VARCHAR, channel, amount::VARCHAR, placed_at::VARCHAR FROM l.curated.sales {} ORDER BY id"
out = {
    "latest": c.execute(q.format("")).fetchall(),
    "earlier": c.execute(q.format(f"AT (VERSION => {version})")).fetchall(),
    "before_compaction": c.execute(q.format(f"AT (VERSION => {before_compaction})")).fetchall(),
    "files_before_compaction": sorted(r[0] for r in c.execute(f"SELECT data_file FROM ducklake_list_files('l', 'sales', schema => 'curated', snapshot_version => {before_compaction})").fetchall()),
    "big": [r[0] for r in c.execute("SELECT id FROM l.curated.sales WHERE amount > 50 ORDER BY id").fetchall()],
    "day16": c.execute("SELECT count(*) FROM l.curated.sales WHERE sale_date = DATE '2024-01-16'").fetchone()[0],
    "files": sorted(r[0] for r in c.execute("SELECT data_file FROM ducklake_list_files('l', 'sales', schema => 'curated')").fetchall()),
    "changes": {str(r[0]): {k: list(v) for k, v in r[1].items()} for r in c.execute("SELECT snapshot_id, changes FROM l.snapshots()").fetchall()},
}
print(json.dumps(out))
"""

/// DuckDB builds a lake (partitioned table, insert, added column, insert) and reports what it
/// sees at two versions, plus the DDL of every catalog table it created.
private let buildWithDuckDB = """
import sqlite3
root = sys.argv[1]
c = connect()
c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 0)")
def snap():
    return c.execute("SELECT max(snapshot_id) FROM l.snapshots()").fetchone()[0]
c.execute("CREATE SCHEMA l.curated")
c.execute("CREATE TABLE l.curated.orders(order_id BIGINT NOT NULL, order_date DATE, channel VARCHAR, amount DECIMAL(12,2), placed_at TIMESTAMPTZ)")
c.execute("ALTER TABLE l.curated.orders SET PARTITIONED BY (order_date, channel)")
c.execute(\"\"\"INSERT INTO l.curated.orders VALUES
  (1, DATE '2024-01-15', 'web', 12.50, TIMESTAMPTZ '2024-01-15 10:30:00+00'),
  (2, DATE '2024-01-15', 'web', NULL, TIMESTAMPTZ '2024-01-15 23:59:59.5+00'),
  (3, DATE '2024-01-15', 'app', 2.05, NULL),
  (10, DATE '2024-01-16', 'web', 999.99, TIMESTAMPTZ '2024-01-16 00:00:00+00')\"\"\")
v1 = snap()
c.execute("ALTER TABLE l.curated.orders ADD COLUMN coupon VARCHAR")
v2 = snap()
c.execute(\"\"\"INSERT INTO l.curated.orders VALUES
  (11, DATE '2024-01-16', 'app', -0.05, TIMESTAMPTZ '2023-12-31 23:00:00+00', 'NEWYEAR'),
  (9, DATE '2024-01-14', 'web', 100.00, TIMESTAMPTZ '2024-01-14 08:00:00.000001+00', NULL)\"\"\")
v3 = snap()
c.execute("DELETE FROM l.curated.orders WHERE order_id = 1")
v4 = snap()
out = {"v1": v1, "v2": v2, "v3": v3, "v4": v4, "at": {}, "count_v4": c.execute("SELECT count(*) FROM l.curated.orders").fetchone()[0]}
for v in (v1, v3):
    files = c.execute(f"SELECT data_file FROM ducklake_list_files('l', 'orders', schema => 'curated', snapshot_version => {v})").fetchall()
    cols = c.execute(f"DESCRIBE SELECT * FROM l.curated.orders AT (VERSION => {v})").fetchall()
    agg = c.execute(f\"\"\"SELECT count(*), count(amount), min(order_id)::VARCHAR, max(order_id)::VARCHAR,
        min(order_date)::VARCHAR, max(order_date)::VARCHAR, min(channel), max(channel),
        min(amount)::VARCHAR, max(amount)::VARCHAR, min(placed_at)::VARCHAR, max(placed_at)::VARCHAR
        FROM l.curated.orders AT (VERSION => {v})\"\"\").fetchone()
    out["at"][str(v)] = {"files": sorted(f[0] for f in files), "columns": [[r[0], r[1]] for r in cols], "agg": list(agg)}
c.execute("DETACH l")
db = sqlite3.connect(f"{root}/manifest.sqlite")
out["ddl"] = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
print(json.dumps(out))
"""

/// DuckDB writes into a table our catalog created (and later altered), then reports its rows.
private let appendWithDuckDB = """
root, step = sys.argv[1], sys.argv[2]
c = connect()
c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 0)")
if step == "1":
    c.execute("INSERT INTO l.curated.orders VALUES (1, DATE '2024-01-15', 'web', 19.99, TIMESTAMPTZ '2024-01-15 10:00:00+00'), (2, DATE '2024-01-16', 'app', NULL, NULL)")
else:
    c.execute("INSERT INTO l.curated.orders VALUES (3, DATE '2024-01-16', 'app', 5.00, NULL, 'SPRING')")
rows = c.execute("SELECT order_id, amount::VARCHAR, coupon FROM l.curated.orders ORDER BY order_id").fetchall() if step == "2" else \
       c.execute("SELECT order_id, amount::VARCHAR FROM l.curated.orders ORDER BY order_id").fetchall()
print(json.dumps({"snapshot": c.execute("SELECT max(snapshot_id) FROM l.snapshots()").fetchone()[0], "rows": rows}))
"""

@Suite(.serialized) struct DuckDBInterop {
    @Test func duckDBAppendsToATableWeCreatedAndAltered() throws {
        let dir = try TempDir("lake-interop"); defer { dir.cleanup() }
        let root = dir.url.appendingPathComponent("lake").standardizedFileURL
        let catalog = try Catalog.open(root: root)
        let tid = try makeOrders(catalog)

        let first = try #require(try Python.json(appendWithDuckDB, args: [root.path, "1"], in: dir.url) as? [String: Any])
        let s1 = Int64(try #require(first["snapshot"] as? Int))
        #expect((first["rows"] as? [[Any]])?.count == 2)
        let files1 = try catalog.dataFiles(tableID: tid, at: .snapshot(s1))
        #expect(files1.count == 2)
        #expect(files1.map { $0.partitionValues["channel"] ?? "" }.sorted() == ["app", "web"])
        #expect(files1.allSatisfy { FileManager.default.fileExists(atPath: $0.url.path) })
        #expect(files1.allSatisfy { $0.url.path.hasPrefix(root.path + "/curated/orders/order_date=") })
        let web = try #require(files1.first { $0.partitionValues["channel"] == "web" })
        // DuckDB's own stats for its file, read back through our API, in the text form StatText writes.
        #expect(web.columnStats[4]?.min == "19.99")
        #expect(web.columnStats[5]?.min == StatText.timestamp(micros: 1_705_312_800_000_000))

        let (sAlter, coupon) = try catalog.commit { tx in try tx.addColumn(tableID: tid, Field("coupon", .string, nullable: true)) }
        let second = try #require(try Python.json(appendWithDuckDB, args: [root.path, "2"], in: dir.url) as? [String: Any])
        let s2 = Int64(try #require(second["snapshot"] as? Int))
        #expect(s2 == sAlter.id + 1)
        let rows = (second["rows"] as? [[Any]] ?? []).map { $0.map { v in (v as? NSNumber).map { "\($0)" } ?? (v as? String) } }
        #expect(rows == [["1", "19.99", nil], ["2", nil, nil], ["3", "5.00", "SPRING"]])
        let files2 = try catalog.dataFiles(tableID: tid, at: .snapshot(s2))
        let newest = try #require(files2.max { $0.dataFileID < $1.dataFileID })
        #expect(newest.beginSnapshot == s2)
        #expect(newest.columnStats[Int64(coupon.fieldID ?? 0)]?.max == "SPRING")
        #expect(try catalog.table(id: tid, at: .snapshot(s1)).column(named: "coupon") == nil)
    }

    /// DuckDB's SET PARTITIONED BY ends a table's partition spec, and the files written under
    /// it keep naming it. Vacuum keeps the spec while they do (DuckDB's own expire does too):
    /// forgotten, those files had no partition values, compaction put every one of them into one
    /// group, and its commit was refused for good.
    @Test func vacuumKeepsAReplacedPartitionSpecItsFilesStillName() throws {
        let dir = try TempDir("lake-interop"); defer { dir.cleanup() }
        let root = dir.url.appendingPathComponent("lake").standardizedFileURL
        let catalog = try Catalog.open(root: root)
        let tid = try makeOrders(catalog)
        _ = try Python.json(appendWithDuckDB, args: [root.path, "1"], in: dir.url)
        let repartition = """
            c = connect()
            c.execute(f"ATTACH 'ducklake:sqlite:{sys.argv[1]}/manifest.sqlite' AS l (DATA_PATH '{sys.argv[1]}/', OVERRIDE_DATA_PATH TRUE)")
            c.execute("ALTER TABLE l.curated.orders SET PARTITIONED BY (channel)")
            print(json.dumps({"snapshot": c.execute("SELECT max(snapshot_id) FROM l.snapshots()").fetchone()[0]}))
            """
        _ = try Python.json(repartition, args: [root.path], in: dir.url)
        let before = try catalog.dataFiles(tableID: tid)
        #expect(before.count == 2 && before.allSatisfy { Set($0.partitionValues.keys) == ["order_date", "channel"] })
        let vacuumed = try catalog.expireSnapshots(olderThan: Date().addingTimeInterval(60))
        #expect(!vacuumed.expiredSnapshots.isEmpty)
        let after = try catalog.dataFiles(tableID: tid)
        #expect(after.map(\.dataFileID) == before.map(\.dataFileID))
        #expect(after.map(\.partitionValues) == before.map(\.partitionValues))
    }

    @Test func duckDBReadsALakeWeCatalogued() throws {
        let dir = try TempDir("lake-interop"); defer { dir.cleanup() }
        let root = dir.url.appendingPathComponent("lake").standardizedFileURL
        let catalog = try Catalog.open(root: root)

        let batchA: [(String, String, [SaleRow])] = [
            ("2024-01-15", "web", [
                SaleRow(id: 1, day: "2024-01-15", channel: "web", amount: "12.50", placedAt: 1_705_314_600_000_000),
                SaleRow(id: 2, day: "2024-01-15", channel: "web", amount: "2.50", placedAt: 1_705_318_200_123_456),
                SaleRow(id: 3, day: "2024-01-15", channel: "web", amount: nil, placedAt: nil),
            ]),
            ("2024-01-15", "app", [SaleRow(id: 4, day: "2024-01-15", channel: "app", amount: "100.00", placedAt: 1_705_300_000_000_000)]),
        ]
        let batchB: [(String, String, [SaleRow])] = [
            ("2024-01-16", "web", [
                SaleRow(id: 5, day: "2024-01-16", channel: "web", amount: "-0.05", placedAt: 1_705_400_000_500_000),
                SaleRow(id: 6, day: "2024-01-16", channel: "web", amount: "999.99", placedAt: nil),
            ]),
        ]

        let (_, created) = try catalog.commit(message: "create sales") { tx in
            try tx.ensureSchema("curated")
            return try tx.createTable(schema: "curated", name: "sales", fields: salesFields, partitionBy: ["sale_date", "channel"])
        }
        let table = try catalog.table(id: created.tableID)
        let fieldIDs = Dictionary(uniqueKeysWithValues: created.fields.map { ($0.name, Int($0.fieldID ?? -1)) })
        #expect(fieldIDs == ["id": 1, "sale_date": 2, "channel": 3, "amount": 4, "placed_at": 5])

        // Writes the batch's files with pyarrow, then registers them in one commit.
        func register(_ batch: [(String, String, [SaleRow])], tag: String, replacing old: [Int64] = []) throws -> SnapshotInfo {
            var spec: [[String: Any]] = []
            var rels: [String] = []
            for (i, (day, channel, rows)) in batch.enumerated() {
                let rel = "sale_date=\(day)/channel=\(channel)/\(tag)-\(i).parquet"
                rels.append(rel)
                spec.append([
                    "path": table.directory.appendingPathComponent(rel).path, "field_ids": fieldIDs,
                    "rows": rows.map { r -> [String: Any] in
                        ["id": r.id, "day": r.day, "channel": r.channel, "amount": r.amount as Any? ?? NSNull(), "ts": r.placedAt as Any? ?? NSNull()]
                    },
                ])
            }
            let specURL = dir.url.appendingPathComponent("\(tag).json")
            try JSONSerialization.data(withJSONObject: spec).write(to: specURL)
            let written = try #require(try Python.json(writeParquet, args: [specURL.path], in: dir.url) as? [[String: Int]])
            #expect(written.count == batch.count)
            let (snap, _) = try catalog.commit(author: "test", message: tag) { tx in
                try tx.removeDataFiles(old)
                for (i, (day, channel, rows)) in batch.enumerated() {
                    let cols = columns(rows)
                    var st: [Int64: ColumnStats] = [:]
                    for (k, f) in created.fields.enumerated() { st[Int64(f.fieldID ?? 0)] = StatText.stats(cols[k], type: f.type) }
                    try tx.addDataFile(tableID: created.tableID, NewDataFile(
                        relativePath: rels[i], recordCount: Int64(rows.count), fileSizeBytes: Int64(written[i]["size"] ?? 0),
                        footerSize: Int64(written[i]["footer"] ?? 0), partitionValues: ["sale_date": day, "channel": channel],
                        columnStats: st))
                }
            }
            return snap
        }
        let snapA = try register(batchA, tag: "a")
        let snapB = try register(batchB, tag: "b")
        // Compaction: the web file of the first commit is rewritten into a new file.
        let snapC = try register([batchA[0]], tag: "c", replacing: [0])
        #expect(snapC.changesMade == "merge_adjacent:\(created.tableID),inline_flush:\(created.tableID)")

        let result = try #require(try Python.json(readWithDuckDB, args: [root.path, String(snapA.id), String(snapB.id)], in: dir.url) as? [String: Any])
        func text(_ rows: [SaleRow]) -> [[String?]] {
            rows.map { [String($0.id), $0.day, $0.channel, $0.amount, $0.placedAt.map(StatText.timestamp(micros:))] }
        }
        func decode(_ any: Any?) -> [[String?]] {
            (any as? [[Any]] ?? []).map { row in row.map { v in (v as? NSNumber).map { "\($0)" } ?? (v as? String) } }
        }
        let allRows = (batchA + batchB).flatMap(\.2).sorted { $0.id < $1.id }
        #expect(decode(result["latest"]) == text(allRows))
        #expect(decode(result["earlier"]) == text(batchA.flatMap(\.2).sorted { $0.id < $1.id }))
        #expect(decode(result["before_compaction"]) == text(allRows))
        let beforeFiles = try catalog.dataFiles(tableID: created.tableID, at: .snapshot(snapB.id)).map(\.url.path).sorted()
        #expect(result["files_before_compaction"] as? [String] == beforeFiles)
        #expect(beforeFiles.contains { $0.hasSuffix("/a-0.parquet") })
        #expect(result["big"] as? [Int] == [4, 6])
        #expect(result["day16"] as? Int == 2)
        let ourFiles = try catalog.dataFiles(tableID: created.tableID).map(\.url.path).sorted()
        #expect(result["files"] as? [String] == ourFiles)
        #expect(ourFiles.count == 3 && !ourFiles.contains { $0.hasSuffix("/a-0.parquet") })
        let changes = result["changes"] as? [String: [String: [String]]]
        #expect(changes?[String(snapB.id)] == ["tables_inserted_into": [String(created.tableID)]])
        #expect(changes?["1"]?["tables_created"] == ["curated.sales"])
        #expect(changes?["1"]?["schemas_created"] == ["curated"])
    }

    @Test func weReadALakeDuckDBBuilt() throws {
        let dir = try TempDir("lake-interop"); defer { dir.cleanup() }
        let root = dir.url.appendingPathComponent("lake").standardizedFileURL
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let out = try #require(try Python.json(buildWithDuckDB, args: [root.path], in: dir.url) as? [String: Any])
        let v1 = Int64(try #require(out["v1"] as? Int)), v2 = Int64(try #require(out["v2"] as? Int)), v3 = Int64(try #require(out["v3"] as? Int))
        let at = try #require(out["at"] as? [String: [String: Any]])

        // Our DDL is DuckDB's, table for table.
        let duckDDL = try #require(out["ddl"] as? [String: String])
        let fresh = try Catalog.open(root: dir.url.appendingPathComponent("ours"))
        let ourDDL = try fresh.read { db in
            // Our own lake_* bookkeeping tables are created with the catalog; DuckDB ignores them.
            Dictionary(uniqueKeysWithValues: try SQLRow.fetchAll(db, sql: "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'lake\\_%' ESCAPE '\\'").map {
                ($0["name"] as String, $0["sql"] as String)
            })
        }
        #expect(Set(ourDDL.keys) == Set(duckDDL.keys))
        for (name, sql) in duckDDL.sorted(by: { $0.key < $1.key }) {
            #expect(ourDDL[name] == sql, "DDL of \(name) differs from DuckDB's")
        }

        let catalog = try Catalog.open(root: root, create: false)
        #expect(try catalog.snapshots().last?.id == Int64(out["v4"] as? Int ?? -1))
        let tables1 = try catalog.tables(at: .snapshot(v1))
        #expect(tables1.map(\.qualifiedName) == ["curated.orders"])
        let t1 = tables1[0]
        let t3 = try catalog.table(schema: "curated", name: "orders", at: .snapshot(v3))
        #expect(t1.tableID == t3.tableID)
        #expect(t1.partitionColumns.map(\.name) == ["order_date", "channel"])
        #expect(t1.columns.map(\.type) == [.int64, .date, .string, .decimal(precision: 12, scale: 2), .timestamp])
        #expect(t1.columns.map(\.nullable) == [false, true, true, true, true])
        #expect(t1.column(named: "coupon") == nil)
        #expect(t3.column(named: "coupon")?.type == .string)
        #expect(t3.column(named: "coupon")?.beginSnapshot == v2)
        #expect(try t3.schema().fields.count == 6)

        for (v, t) in [(v1, t1), (v3, t3)] {
            let duck = try #require(at[String(v)])
            let names = (duck["columns"] as? [[String]] ?? []).map { $0[0] }
            #expect(t.columns.map(\.name) == names)
            let files = try catalog.dataFiles(tableID: t.tableID, at: .snapshot(v))
            #expect(files.map(\.url.path).sorted() == duck["files"] as? [String])
            let agg = duck["agg"] as? [Any] ?? []
            #expect(files.reduce(0) { $0 + $1.recordCount } == Int64(agg[0] as? Int ?? -1))
            // Every file carries its partition values, and they agree with the file's own stats.
            for f in files {
                #expect(f.partitionValues["order_date"] == f.columnStats[2]?.min)
                #expect(f.partitionValues["channel"] == f.columnStats[3]?.max)
                #expect(f.rowIDStart != nil && (f.footerSize ?? 0) > 0)
            }
            let amountNulls = files.reduce(Int64(0)) { $0 + ($1.columnStats[4]?.nullCount ?? 0) }
            #expect(amountNulls == Int64((agg[0] as? Int ?? 0) - (agg[1] as? Int ?? 0)))
            // Min/max over the files' stats equal DuckDB's own min()/max() over the rows.
            for (k, cid) in [Int64(1), 2, 3, 4, 5].enumerated() {
                let type = t.column(id: cid)?.type
                let mins = files.compactMap { $0.columnStats[cid]?.min }
                let maxs = files.compactMap { $0.columnStats[cid]?.max }
                let lo = mins.min { (StatText.compare($0, $1, type: type) ?? 0) < 0 }
                let hi = maxs.max { (StatText.compare($0, $1, type: type) ?? 0) < 0 }
                #expect(lo == agg[2 + 2 * k] as? String, "min of column \(cid) at \(v)")
                #expect(hi == agg[3 + 2 * k] as? String, "max of column \(cid) at \(v)")
            }
        }

        // DuckDB's DELETE wrote a delete file; we expose it from its snapshot on, so readers can skip the row.
        let v4 = Int64(try #require(out["v4"] as? Int))
        let files4 = try catalog.dataFiles(tableID: t3.tableID, at: .snapshot(v4))
        #expect(try catalog.dataFiles(tableID: t3.tableID, at: .snapshot(v3)).allSatisfy { $0.deleteFile == nil })
        let withDeletes = files4.filter { $0.deleteFile != nil }
        #expect(withDeletes.count == 1)
        #expect(withDeletes.first?.deleteFile?.deleteCount == 1)
        #expect(withDeletes.first.map { FileManager.default.fileExists(atPath: $0.deleteFile?.url.path ?? "") } == true)
        let live = files4.reduce(Int64(0)) { $0 + $1.recordCount - ($1.deleteFile?.deleteCount ?? 0) }
        #expect(live == Int64(try #require(out["count_v4"] as? Int)))
        // The orphan scan knows delete files: nothing DuckDB wrote counts as an orphan.
        #expect(try catalog.removeOrphanFiles(olderThan: Date().addingTimeInterval(3600), dryRun: true).files.isEmpty)

        // Vacuum keeps what the latest snapshot reads (including the delete file) and nothing else
        // changes for readers of the latest snapshot.
        let liveBefore = Set(files4.map(\.url) + files4.compactMap(\.deleteFile?.url))
        let vac = try catalog.expireSnapshots(olderThan: Date().addingTimeInterval(3600))
        #expect(vac.expiredSnapshots.count == Int(v4))
        #expect(vac.files.allSatisfy { !liveBefore.contains($0.url) })
        #expect(liveBefore.allSatisfy { FileManager.default.fileExists(atPath: $0.path) })
        #expect(try catalog.dataFiles(tableID: t3.tableID) == files4)

        // And we can append to DuckDB's lake: the next ids continue its counters.
        let before = try catalog.latestSnapshot()
        let (snap, fid) = try catalog.commit { tx in
            try tx.addColumn(tableID: t3.tableID, Field("note", .string, nullable: true))
        }
        #expect(snap.id == before.id + 1 && snap.nextFileID == before.nextFileID)
        #expect(fid.fieldID == 7)
    }
}

/// DuckDB 1.5.5 writes and maintains a DuckLake 1.0 lake: inserts, ADD/RENAME COLUMN,
/// ducklake_merge_adjacent_files, then (step "maintain", after our own insert)
/// ducklake_expire_snapshots, ducklake_cleanup_old_files and one more insert. It reports every
/// retained snapshot's count and id sum, and the live files.
private let maintainWithDuckDB = """
root, step = sys.argv[1], sys.argv[2]
c = connect()
c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 0)")
def snap():
    return c.execute("SELECT max(snapshot_id) FROM l.snapshots()").fetchone()[0]
out = {}
if step == "build":
    c.execute("CREATE SCHEMA l.curated")
    c.execute("CREATE TABLE l.curated.events(id BIGINT, tag VARCHAR)")
    for k, tag in enumerate("abc"):
        c.execute(f"INSERT INTO l.curated.events SELECT range, '{tag}' FROM range({k * 10}, {k * 10 + 10})")
    c.execute("ALTER TABLE l.curated.events ADD COLUMN qty INTEGER DEFAULT 1")
    c.execute("ALTER TABLE l.curated.events RENAME COLUMN tag TO label")
    c.execute("INSERT INTO l.curated.events SELECT range, 'd', 2 FROM range(30, 40)")
    c.execute("CALL ducklake_merge_adjacent_files('l')")
else:
    c.execute("CALL ducklake_expire_snapshots('l', older_than => now())")
    c.execute("CALL ducklake_cleanup_old_files('l', cleanup_all => true)")
    c.execute("INSERT INTO l.curated.events SELECT range, 'e', 3 FROM range(45, 50)")
out["at"] = {}
for (v,) in c.execute("SELECT snapshot_id FROM l.snapshots() ORDER BY 1").fetchall():
    try:
        out["at"][str(v)] = list(c.execute(f"SELECT count(*), coalesce(sum(id), 0) FROM l.curated.events AT (VERSION => {v})").fetchone())
    except duckdb.Error as e:
        if "does not exist" not in str(e): raise
out["latest"] = list(c.execute("SELECT count(*), sum(id), sum(qty), count(DISTINCT label) FROM l.curated.events").fetchone())
out["files"] = sorted(r[0] for r in c.execute("SELECT data_file FROM ducklake_list_files('l', 'events', schema => 'curated')").fetchall())
print(json.dumps(out))
"""

extension DuckDBInterop {
    /// Rows, id sum and qty sum of the table at the latest snapshot, read through our reader.
    private func readBack(_ catalog: Catalog, _ tableID: Int64, at asOf: AsOf? = nil) throws -> [Int64] {
        let t = try catalog.table(id: tableID, at: asOf)
        var rows: Int64 = 0, ids: Int64 = 0, qty: Int64 = 0
        for f in try catalog.dataFiles(tableID: tableID, at: asOf) {
            #expect(f.deleteFile == nil && FileManager.default.fileExists(atPath: f.url.path))
            for b in try DataFileReader(f, columns: t.columns, files: catalog.files).read(parallelism: 1) {
                for (c, col) in zip(t.columns, b.columns) {
                    switch (c.name, col.data) {
                    case ("id", .int64(let v)): rows += Int64(v.count); ids += v.reduce(0, +)
                    case ("qty", .int32(let v)): qty += v.reduce(0) { $0 + Int64($1) }
                    default: break
                    }
                }
            }
        }
        return [rows, ids, qty]
    }

    @Test func weReadAndWriteALakeDuckDB15WroteAndMaintained() throws {
        let dir = try TempDir("lake-interop"); defer { dir.cleanup() }
        let root = dir.url.appendingPathComponent("lake").standardizedFileURL
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let built = try #require(try Python.json(maintainWithDuckDB, args: [root.path, "build"], in: dir.url) as? [String: Any])

        let catalog = try Catalog.open(root: root, create: false)
        #expect(catalog.format == .v10)
        let t = try catalog.table(schema: "curated", name: "events")
        #expect(t.columns.map(\.name) == ["id", "label", "qty"])
        #expect(t.column(named: "qty")?.initialDefault == "1")
        // Every retained snapshot reads what DuckDB reads, rows and counts, also inside the merged
        // file's range, where its rows are filtered by their `_ducklake_internal_snapshot_id`
        // (refused until session 34).
        let at = try #require(built["at"] as? [String: [Int]])
        var insideMerge = 0
        for (v, duck) in at {
            let files = try catalog.dataFiles(tableID: t.tableID, at: .snapshot(Int64(v)!))
            insideMerge += files.contains { $0.visibleThrough != nil } ? 1 : 0
            // Rows inserted later were not deleted: a check telling deleted rows from missing ones never sees them.
            for f in files where f.visibleThrough != nil {
                #expect(f.hiddenCount > 0)
                #expect(try DataFileReader(f, columns: t.columns.filter { $0.name == "id" }, files: catalog.files).readDeleted().isEmpty)
            }
            #expect(Int(files.reduce(0) { $0 + $1.liveRecordCount }) == duck[0], "count at snapshot \(v)")
            #expect(try readBack(catalog, t.tableID, at: .snapshot(Int64(v)!)).prefix(2).map(Int.init) == duck, "rows at snapshot \(v)")
        }
        #expect(at.count >= 5 && insideMerge >= 2, "\(insideMerge) snapshots inside the merge")
        let latest = try #require(built["latest"] as? [Int])
        #expect(try readBack(catalog, t.tableID) == [40, 780, 50])
        #expect(latest.prefix(3).map(Int64.init) == [40, 780, 50])

        // Our own insert into DuckDB's table: a LakeFormat Parquet file with the catalog's field ids.
        let schema = try t.schema()
        let cols: [LakeFormat.Column] = [
            LakeFormat.Column(.int64(Array(40 ..< 45))),
            LakeFormat.Column(.string(StringColumn(Array(repeating: "ours", count: 5)))),
            LakeFormat.Column(.int32(Array(repeating: 5, count: 5))),
        ]
        let rel = "ours-\(UUID().uuidString.lowercased()).parquet"
        let summary = try ParquetFileWriter.write(RecordBatch(schema: schema, columns: cols), to: t.directory.appendingPathComponent(rel).path)
        var st: [Int64: ColumnStats] = [:]
        for (c, col) in zip(t.columns, cols) { st[c.columnID] = StatText.stats(col, type: try #require(c.type)) }
        let (ours, _) = try catalog.commit(message: "lake insert") { tx in
            try tx.addDataFile(tableID: t.tableID, NewDataFile(relativePath: rel, recordCount: 5, fileSizeBytes: summary.fileSize,
                                                               footerSize: summary.footerSize, partitionValues: [:], columnStats: st))
        }

        // DuckDB reads it, expires every older snapshot, deletes the files only they read, inserts again.
        let maintained = try #require(try Python.json(maintainWithDuckDB, args: [root.path, "maintain"], in: dir.url) as? [String: Any])
        #expect(maintained["latest"] as? [Int] == [50, 780 + 210 + 235, 50 + 25 + 15, 6])
        let snapshots = try catalog.snapshots().map(\.id)
        #expect(snapshots.map(String.init).sorted() == (maintained["at"] as? [String: [Int]])?.keys.sorted())
        #expect(snapshots.first == ours.id && snapshots.count == 2, "DuckDB kept our snapshot (the latest when it expired) and its insert")
        #expect(try readBack(catalog, t.tableID) == [50, 780 + 210 + 235, 50 + 25 + 15])
        #expect(try catalog.dataFiles(tableID: t.tableID).map(\.url.path).sorted() == maintained["files"] as? [String])
        // Nothing under the table directory is left that the catalog does not know of.
        #expect(try catalog.removeOrphanFiles(olderThan: Date().addingTimeInterval(3600), layers: ["curated"], dryRun: true).files.isEmpty)
    }
}
