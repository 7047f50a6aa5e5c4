import Foundation
import LakeCatalog
import LakeTestSupport
import Testing

/// DuckDB attached to our lake adds columns of types lake has no column type for (LIST, UUID,
/// STRUCT, MAP) and fills them on some rows; TIMESTAMPTZ is one lake reads. Every DuckDB-written
/// file is then valid Parquet with nested columns. lake must keep working on everything else
/// and be honest about what it cannot read: `lake verify` passes (it used to call the files
/// corrupt and tell the user to restore them from a backup), reports and queries of other
/// columns run, asking for such a column names its type, a listing of all columns says what it
/// left out, compaction leaves the table alone (rewriting would lose the column), and a
/// `lake delete` keeps DuckDB's values of the surviving rows.
@Suite(.serialized) struct ForeignColumnTypesTests {
    static let added = ["tags", "u", "s", "m"]

    /// `inlining` false: DuckDB keeps no rows in the catalog (writes files) and registers no inlined-data tables.
    static func duck(_ root: String, _ statements: [String], inlining: Bool = true) throws -> [[Int]] {
        let out = try Python.json(Python.duckdbPrelude + """
            con = duck()
            con.execute("ATTACH 'ducklake:sqlite:\(root)/manifest.sqlite' AS l (DATA_PATH '\(root)/', OVERRIDE_DATA_PATH TRUE\(inlining ? "" : ", DATA_INLINING_ROW_LIMIT 0"))")
            rows = []
            for s in sys.argv[1:]:
                r = con.execute(s).fetchall()
                rows.append([int(v) for v in r[0]] if r and all(isinstance(v, int) for v in r[0]) else [])
            print(json.dumps(rows))
            """, statements)
        return try #require(out as? [[Int]])
    }

    /// A lake in `dir` with curated.orders at registry v1 and 200 generated orders; its root.
    static func ordersV1Lake(_ dir: TemporaryDirectory, seed: Int) throws -> String {
        let root = dir.file("lake")
        #expect(try runLake(["init", "--schema-version", "orders=1", "--lake", root]).status == 0)
        _ = try runLake(["generate", "--out", dir.file("v1"), "--orders", "200", "--seed", "\(seed)"])
        #expect(try runLake(["ingest", "catalog", dir.file("v1/product_catalog.json"), "--lake", root]).status == 0)
        #expect(try runLake(["ingest", "orders", dir.file("v1/orders_stream.jsonl"), "--lake", root]).status == 0)
        return root
    }

    static let counts = "SELECT count(*), count(tags), count(u), count(ts), count(s), count(m), "
        + "count(*) FILTER (WHERE channel = 'web'), count(tags) FILTER (WHERE channel <> 'web') FROM l.curated.orders"

    /// `lake query` printed every DOUBLE value with at most four decimals, in table, CSV and
    /// JSON alike (0.00001 as 0, 1.23456789 as 1.2346, the sum of such a column likewise): a
    /// DOUBLE column DuckDB added, its aggregates and an integer average now print every digit,
    /// as DuckDB does.
    @Test func doubleValuesPrintEveryDigit() throws {
        let lake = try EvaluationLake(orderLines: 300)
        defer { lake.dir.remove() }
        let root = lake.root
        let theirs = try Python.run(Python.duckdbPrelude + """
            con = duck()
            con.execute("ATTACH 'ducklake:sqlite:" + sys.argv[1] + "/manifest.sqlite' AS l (DATA_PATH '" + sys.argv[1] + "/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 0)")
            con.execute("ALTER TABLE l.curated.orders ADD COLUMN w DOUBLE")
            con.execute("UPDATE l.curated.orders SET w = CASE status WHEN 'pending' THEN 0.00001 WHEN 'confirmed' THEN 1.23456789 ELSE 1e300 END")
            for r in con.execute("SELECT status, min(w), sum(w), avg(units) FROM l.curated.orders GROUP BY 1 ORDER BY 1").fetchall():
                print(",".join(str(v) for v in r))
            """, [root])
        let csv = try runLake(["query", "curated.orders", "--group-by", "status", "--agg", "min(w)", "--agg", "sum(w)", "--agg", "avg(units)",
                               "--order-by", "status", "--format", "csv", "--lake", root])
        #expect(csv.status == 0, "\(csv.err)")
        let expected = theirs.split(separator: "\n").map(String.init)
        #expect(expected.contains { $0.hasPrefix("pending,1e-05,") } && expected.contains { $0.hasPrefix("confirmed,1.23456789,") }, "\(theirs)")
        let ours = Array(csv.out.split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) })
        let want = expected.map { $0.split(separator: ",").map(String.init) }
        #expect(ours.count == want.count, "lake:\n\(csv.out)\nDuckDB:\n\(theirs)")
        for (a, b) in zip(ours, want) {
            // Minimum and average digit for digit; the sums of doubles to rounding (added in another order).
            #expect(a.count == 4 && a[0] == b[0] && a[1] == b[1] && a[3] == b[3], "lake \(a), DuckDB \(b)")
            if let x = Double(a[2]), let y = Double(b[2]) { #expect(abs(x - y) <= 1e-12 * abs(y), "lake \(a), DuckDB \(b)") } else { Issue.record("sum: lake \(a), DuckDB \(b)") }
        }
        let json = try runLake(["query", "curated.orders", "--where", "status = pending", "--agg", "min(w)", "--format", "json", "--lake", root])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [[String: Any]], "\(json.out) \(json.err)")
        #expect(rows.first?.values.compactMap { $0 as? Double } == [0.00001], "\(json.out)")
    }

    /// NaN in a DOUBLE column DuckDB added compares as DuckDB compares it: equal to itself and
    /// greater than every other value. lake's conditions matched it both below (<=) and above
    /// (>=) every value and never with > or =, and a file's statistics (which leave NaN out)
    /// pruned it from `w > 5` although its NaN rows match.
    @Test func nanComparesAsInDuckDB() throws {
        let lake = try EvaluationLake(orderLines: 300)
        defer { lake.dir.remove() }
        let root = lake.root
        let conditions = ["w > 5", "w >= 1", "w <= 1", "w < 5", "w = nan", "w != 1", "w != nan", "w in (1, nan)", "w between 0 and nan"]
        let sql = ["w > 5", "w >= 1", "w <= 1", "w < 5", "w = 'nan'::DOUBLE", "w <> 1", "w <> 'nan'::DOUBLE", "w IN (1, 'nan'::DOUBLE)",
                   "w BETWEEN 0 AND 'nan'::DOUBLE"]
        let theirs = try Self.duck(root, [
            "ALTER TABLE l.curated.orders ADD COLUMN w DOUBLE",
            "UPDATE l.curated.orders SET w = CASE status WHEN 'pending' THEN 'nan'::DOUBLE ELSE 1 END",
            "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FROM l.curated.orders",
        ] + sql.map { "SELECT count(*) FROM l.curated.orders WHERE \($0)" }, inlining: false)
        let pending = theirs[2][0], all = theirs[2][1]
        #expect(pending > 0 && pending < all, "\(theirs)")
        let expected = [pending, all, all - pending, all - pending, pending, pending, all - pending, all, all]
        // DuckDB 1.5.5 answers `w <> 1` with 0 over DuckLake: it prunes every file whose
        // statistics say min = max = 1, NaN left out (a table in DuckDB itself counts the NaN
        // rows, as its documentation says). The other eight are DuckDB's answers.
        #expect(theirs.dropFirst(3).map { $0.first ?? -1 } == expected.enumerated().map { $0.offset == 5 ? 0 : $0.element },
                "DuckDB's NaN order: \(theirs)")
        for (condition, want) in zip(conditions, expected) {
            let r = try runLake(["query", "curated.orders", "--where", condition, "--agg", "count(*)", "--format", "csv", "--lake", root])
            #expect(r.status == 0, "\(condition): \(r.err)")
            #expect(r.out.split(separator: "\n").last.flatMap { Int($0) } == want, "\(condition): lake \(r.out), expected \(want)")
        }
        // Aggregates and order likewise: max is NaN, min 1; NaN sorts after 1.
        let extremes = try runLake(["query", "curated.orders", "--agg", "min(w)", "--agg", "max(w)", "--format", "csv", "--lake", root])
        #expect(extremes.out.split(separator: "\n").last == "1.0,nan", "\(extremes.out) \(extremes.err)")
        let sorted = try runLake(["query", "curated.orders", "--group-by", "w", "--agg", "count(*)", "--order-by", "w", "--format", "csv", "--lake", root])
        #expect(sorted.out.split(separator: "\n").dropFirst().map(String.init) == ["1.0,\(all - pending)", "nan,\(pending)"], "\(sorted.out) \(sorted.err)")
    }

    /// `lake files` showed every file under the table's current partition spec: after DuckDB's
    /// SET PARTITIONED BY (channel), the files written under (event_date, channel) were listed
    /// as channel=… only, and a new file lacking a key as key= (empty).
    @Test func filesShowTheSpecEachFileWasWrittenUnder() throws {
        let lake = try EvaluationLake(orderLines: 300)
        defer { lake.dir.remove() }
        let root = lake.root
        _ = try Self.duck(root, [
            "ALTER TABLE l.curated.orders SET PARTITIONED BY (channel)",
            "INSERT INTO l.curated.orders SELECT * REPLACE ('P-' || order_id AS order_id) FROM l.curated.orders WHERE channel = 'web' ORDER BY order_id LIMIT 20",
        ], inlining: false)
        let r = try runLake(["files", "curated.orders", "--format", "csv", "--lake", root])
        #expect(r.status == 0, "\(r.err)")
        let rows = r.out.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let shown = rows.map { $0[5] }
        #expect(shown.count >= 2 && shown.filter { $0 == "channel=web" }.count == 1, "\(r.out)")
        #expect(shown.filter { $0 != "channel=web" }.allSatisfy { $0.hasPrefix("channel=") && $0.contains("/event_date=2024-") }, "\(r.out)")
    }

    @Test func lakeKeepsWorkingBesideColumnsItCannotRead() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let root = lake.root
        let before = try Self.duck(root, [
            "ALTER TABLE l.curated.orders ADD COLUMN tags VARCHAR[]",
            "ALTER TABLE l.curated.orders ADD COLUMN u UUID",
            "ALTER TABLE l.curated.orders ADD COLUMN ts TIMESTAMPTZ",
            "ALTER TABLE l.curated.orders ADD COLUMN s STRUCT(a INT, b VARCHAR)",
            "ALTER TABLE l.curated.orders ADD COLUMN m MAP(VARCHAR, INT)",
            "UPDATE l.curated.orders SET tags = ['gift', 'vip'], u = uuid(), ts = TIMESTAMPTZ '2024-02-01 10:00:00+00', "
                + "s = {'a': 1, 'b': 'q'}, m = MAP {'k': 1} WHERE order_id IN (SELECT order_id FROM l.curated.orders ORDER BY order_id LIMIT 300)",
            Self.counts,
        ]).last!
        #expect(before[1] == 300 && before[5] == 300, "DuckDB filled the new columns: \(before)")

        let verify = try runLake(["verify", "--lake", root])
        #expect(verify.status == 0, "lake verify: \(verify.out.prefix(600)) \(verify.err)")
        #expect(!verify.err.contains("restore"))

        let report = try runLake(["report", "daily-revenue", "--lake", root, "--format", "json"])
        #expect(report.status == 0, "\(report.err)")

        let count = try runLake(["query", "curated.orders", "--agg", "count(*)", "--format", "csv", "--lake", root])
        #expect(count.status == 0 && count.out.split(separator: "\n").last.map(String.init) == String(before[0]), "\(count.out) \(count.err)")
        // ts is TIMESTAMPTZ: lake reads it, and the rows DuckDB set have it.
        let ts = try runLake(["query", "curated.orders", "--where", "ts = 2024-02-01T10:00:00Z", "--agg", "count(*)", "--format", "csv", "--lake", root])
        #expect(ts.status == 0 && ts.out.split(separator: "\n").last == "300", "\(ts.out) \(ts.err)")

        for column in Self.added {
            let r = try runLake(["query", "curated.orders", "--columns", "order_id,\(column)", "--lake", root])
            #expect(r.status != 0 && r.err.contains("column \(column) has type") && r.err.contains("which lake cannot read"), "\(column): \(r.err)")
        }
        let all = try runLake(["query", "curated.orders", "--limit", "3", "--lake", root])
        #expect(all.status == 0, "\(all.err)")
        #expect(all.err.contains("not shown: tags, u, s, m"), "\(all.err)")

        let compact = try runLake(["compact", "--lake", root])
        #expect(compact.status == 0, "\(compact.err)")
        #expect(compact.out.contains("curated.orders: skipped: column tags has type list"), "\(compact.out)")
        let named = try runLake(["compact", "curated.orders", "--lake", root])
        #expect(named.status != 0 && named.err.contains("cannot rewrite"), "\(named.status) \(named.err)")

        let delete = try runLake(["delete", "curated.orders", "--where", "channel = web", "--lake", root])
        #expect(delete.status == 0, "\(delete.err)")
        let after = try Self.duck(root, [Self.counts]).last!
        // DuckDB still reads every value it wrote on the rows that survive.
        #expect(after == [before[0] - before[6], before[7], before[7], before[7], before[7], before[7], 0, before[7]], "before \(before), after \(after)")
        let lakeCount = try runLake(["query", "curated.orders", "--agg", "count(*)", "--format", "csv", "--lake", root])
        #expect(lakeCount.out.split(separator: "\n").last.map(String.init) == String(after[0]), "\(lakeCount.out)")
        #expect(try runLake(["verify", "--lake", root]).status == 0)
    }

    /// DuckLake's `parquet_version` option makes DuckDB write DELTA_BINARY_PACKED,
    /// DELTA_LENGTH_BYTE_ARRAY and BYTE_STREAM_SPLIT pages into the lake. lake used to fail
    /// every read of such a table and `lake verify` called the files corrupt; now they read,
    /// agree with DuckDB, and compaction rewrites them in our encodings. The same for the codecs
    /// a lake's `parquet_compression` option can name besides zstd and snappy (GZIP, BROTLI,
    /// LZ4_RAW), which every read of the table refused until session 11.
    @Test(arguments: ["parquet_version=2", "parquet_compression=gzip", "parquet_compression=brotli", "parquet_compression=lz4"])
    func filesDuckDBWritesWithOtherParquetOptionsRead(option: String) throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let root = lake.root
        let (name, value) = (option.split(separator: "=")[0], option.split(separator: "=")[1])
        let sums = "SELECT count(*), sum(order_total * 100)::BIGINT, sum(item_count), count(DISTINCT customer_id), "
            + "sum(epoch_us(event_time))::BIGINT % 1000000007 FROM l.curated.orders"
        let duck = try Self.duck(root, [
            "CALL l.set_option('\(name)', '\(value)')",
            "INSERT INTO l.curated.orders SELECT * REPLACE ('ORD-V2-' || order_id AS order_id) FROM l.curated.orders",
            sums,
        ]).last!
        let verify = try runLake(["verify", "--lake", root])
        #expect(verify.status == 0, "\(verify.out.suffix(800)) \(verify.err)")
        func lakeSums() throws -> [String] {
            let r = try runLake(["query", "curated.orders", "--agg", "count(*)", "--agg", "sum(order_total)", "--agg", "sum(item_count)",
                                 "--agg", "count_distinct(customer_id)", "--format", "csv", "--lake", root])
            #expect(r.status == 0, "\(r.err)")
            return r.out.split(separator: "\n").last.map { $0.split(separator: ",").map(String.init) } ?? []
        }
        let ours = try lakeSums()
        #expect(ours.count == 4 && Int(ours[0]) == duck[0] && ours[1].replacingOccurrences(of: ".", with: "") == String(duck[1])
                && Int(ours[2]) == duck[2] && Int(ours[3]) == duck[3], "lake \(ours), DuckDB \(duck)")
        let compact = try runLake(["compact", "curated.orders", "--lake", root])
        #expect(compact.status == 0 && compact.out.contains("Compacted") && !compact.out.contains("Compacted 0 "), "\(compact.out) \(compact.err)")
        #expect(try lakeSums() == ours)
        #expect(try Self.duck(root, [sums]).last! == duck, "DuckDB reads the compacted files the same")
    }

    /// DuckDB re-partitions a table (SET PARTITIONED BY): old files keep their key values under
    /// the old spec, new ones carry values of the new spec, year() and month() keys among them.
    /// lake read an old file's first key (event_date) as the new spec's first key (channel), so
    /// `--where "channel = web"` pruned every file and answered 0 instead of 935 on this lake.
    /// Each file's values are now read under its own spec, transforms other than identity left
    /// to the statistics; every filtered count equals DuckDB's.
    @Test func filtersAgreeWithDuckDBAfterItRepartitionsATable() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let root = lake.root
        let filters = [("channel = web", "channel = 'web'"), ("event_date = 2024-01-15", "event_date = DATE '2024-01-15'"),
                       ("event_date >= 2024-01-20", "event_date >= DATE '2024-01-20'"), ("channel in (api, mobile)", "channel IN ('api', 'mobile')")]
        let counts = "SELECT " + filters.map { "count(*) FILTER (WHERE \($0.1))" }.joined(separator: ", ") + " FROM l.curated.orders"
        func ours() throws -> [Int] {
            try filters.map { f in
                let r = try runLake(["query", "curated.orders", "--where", f.0, "--agg", "count(*)", "--format", "csv", "--lake", root])
                #expect(r.status == 0, "\(r.err)")
                return Int(r.out.split(separator: "\n").last ?? "") ?? -1
            }
        }
        let byChannel = try Self.duck(root, ["ALTER TABLE l.curated.orders SET PARTITIONED BY (channel)", counts]).last!
        #expect(byChannel.allSatisfy { $0 > 0 })
        #expect(try ours() == byChannel, "after SET PARTITIONED BY (channel)")
        let byMonth = try Self.duck(root, [
            "ALTER TABLE l.curated.orders SET PARTITIONED BY (year(event_date), month(event_date))",
            "INSERT INTO l.curated.orders SELECT * REPLACE ('ORD-P-' || order_id AS order_id) FROM l.curated.orders WHERE channel = 'web'",
            counts,
        ]).last!
        #expect(byMonth[0] == 2 * byChannel[0])
        #expect(try ours() == byMonth, "after SET PARTITIONED BY (year(event_date), month(event_date)) and an insert under it")

        // Our ingest into the re-partitioned table is refused before it writes a file, naming
        // the spec and the statement that restores it.
        let inputs = try TemporaryDirectory("repartitioned-input")
        defer { inputs.remove() }
        let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
        let before = try catalog.latestSnapshot().id
        let r = try runLake(["ingest", "orders", try AlteredTableIngestTests.freshOrders(inputs, count: 20), "--lake", root])
        #expect(r.status == 1, "\(r.err)")
        #expect(r.err.contains("curated.orders is now partitioned by year(event_date), month(event_date)")
                && r.err.contains("SET PARTITIONED BY (event_date, channel)"), "\(r.err)")
        #expect(try catalog.latestSnapshot().id == before)
        try WidenedTableTests.expectNoStrayFile(root, "refused before writing a file")
    }

    /// Session 28's second bug hunt: DuckDB rescaled the money columns (order_total and
    /// products.price to DECIMAL(38,4)). `lake query` read them right, but the reports, quality
    /// checks and metrics added their values up as cents (revenue 100 times too large, every
    /// order a total/items mismatch alert), and an ingest stored 567.99 as a list price of
    /// 56799.00. They now refuse, naming the column; `lake query` still reads it.
    @Test func moneyColumnsAnotherEngineRescaledAreRefusedNotMisread() throws {
        let lake = try EvaluationLake(orderLines: 300)
        defer { lake.dir.remove() }
        let root = lake.root
        let before = try runLake(["query", "curated.orders", "--lake", root, "--agg", "sum(order_total)", "--format", "csv"])
        #expect(before.status == 0, "\(before.err)")
        _ = try Self.duck(root, ["ALTER TABLE l.curated.orders ALTER COLUMN order_total TYPE DECIMAL(38,4)",
                                 "ALTER TABLE l.curated.products ALTER COLUMN price TYPE DECIMAL(38,4)"])
        let after = try runLake(["query", "curated.orders", "--lake", root, "--agg", "sum(order_total)", "--format", "csv"])
        #expect(after.status == 0, "\(after.err)")
        let sums = [before.out, after.out].map { $0.split(separator: "\n").last.map { String($0) } ?? "" }
        #expect(Decimal(string: sums[0]) != nil && Decimal(string: sums[0]) == Decimal(string: sums[1]), "\(sums)")
        // (The figures each ingest stored, which `lake quality check` and `lake metrics` add up,
        // were computed in cents before the change: those stay right.)
        for args in [["report", "daily-revenue"], ["report", "customers"], ["report", "top-customers"], ["quality", "check", "--rescan"]] {
            let r = try runLake(args + ["--lake", root])
            #expect(r.status != 0 && r.err.contains("curated.orders.order_total is decimal(38,4), not decimal(p,2)"), "\(args): exit \(r.status) \(r.err)")
        }
        let metrics = try runLake(["report", "product-metrics", "--lake", root])
        #expect(metrics.status != 0 && metrics.err.contains("is decimal(38,4), not decimal(p,2)"), "\(metrics.err)")
        let snapshot = try Catalog.open(root: URL(fileURLWithPath: root), create: false).latestSnapshot().id
        let inputs = try TemporaryDirectory("rescaled-input")
        defer { inputs.remove() }
        let source = try String(contentsOf: packageRoot.appendingPathComponent("Evaluation-Files/orders_stream.jsonl"), encoding: .utf8)
        try (source.split(separator: "\n").suffix(50).joined(separator: "\n") + "\n").write(toFile: inputs.file("new.jsonl"), atomically: true, encoding: .utf8)
        let ingest = try runLake(["ingest", "orders", inputs.file("new.jsonl"), "--lake", root])
        #expect(ingest.status != 0 && ingest.err.contains("curated.products.price is decimal(38,4)"), "\(ingest.err)")
        #expect(try Catalog.open(root: URL(fileURLWithPath: root), create: false).latestSnapshot().id == snapshot)
    }

    /// Session 28's second bug hunt: DuckDB keeps a small INSERT's rows inlined in the catalog,
    /// in a table laid out for the schema version; DuckDB's ALTER lays out the next version's,
    /// lake's migration did not, and DuckDB's next small INSERT wrote by position into the old
    /// layout (a new column's values into a dropped one's slot; v1 → v2 refused by DuckDB). A
    /// migration of a table with inlined rows is refused, nothing committed, a dry run says so
    /// too; once they are flushed it runs and drops the empty layouts (session 30).
    @Test func aMigrationOfATableDuckDBInlinedRowsInIsRefused() throws {
        let dir = try TemporaryDirectory("inlined-migrate")
        defer { dir.remove() }
        let root = try Self.ordersV1Lake(dir, seed: 28)
        _ = try Self.duck(root, ["INSERT INTO l.curated.orders SELECT * REPLACE ('I-' || order_id AS order_id) FROM l.curated.orders ORDER BY order_id LIMIT 3"])
        let snapshot = try Catalog.open(root: URL(fileURLWithPath: root), create: false).latestSnapshot().id
        for extra in [["--dry-run"], []] {
            let r = try runLake(["schema", "migrate", "orders", "--to", "2", "--lake", root] + extra)
            #expect(r.status != 0 && r.err.contains("curated.orders has rows DuckDB inlined in the catalog (ducklake_inlined_data_")
                    && r.err.contains("nothing was migrated"), "\(extra): exit \(r.status) \(r.err)")
        }
        #expect(try Catalog.open(root: URL(fileURLWithPath: root), create: false).latestSnapshot().id == snapshot)
        let count = try Self.duck(root, ["SELECT count(*) FROM l.curated.orders WHERE order_id LIKE 'I-%'"])
        #expect(count.last == [3])

        // Flushed, the rows leave the catalog and the empty layout DuckDB keeps registered no
        // longer stops the migration (it refused such a table for good): the commit drops it,
        // and DuckDB's next small INSERT lays out v2's columns, which both engines read.
        _ = try Self.duck(root, ["CALL ducklake_flush_inlined_data('l')"])
        let migrated = try runLake(["schema", "migrate", "orders", "--to", "2", "--lake", root])
        #expect(migrated.status == 0, "\(migrated.out) \(migrated.err)")
        let after = try Self.duck(root, [
            "INSERT INTO l.curated.orders BY NAME SELECT * REPLACE ('J-' || order_id AS order_id, 'EUR' AS currency, 2.50::DECIMAL(18,2) AS discount_amount) "
                + "FROM l.curated.orders WHERE order_id NOT LIKE 'I-%' ORDER BY order_id LIMIT 2",
            "SELECT count(*), count(*) FILTER (WHERE currency = 'EUR' AND discount_amount = 2.50) FROM l.curated.orders WHERE order_id LIKE 'J-%'",
            "SELECT count(*) FROM l.curated.orders",
        ])
        #expect(after[1] == [2, 2], "DuckDB: \(after)")
        let inlined = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
        let table = try inlined.table(schema: "curated", name: "orders")
        #expect(try inlined.inlinedDataTablesHoldingRows(tableID: table.tableID).count == 1, "DuckDB kept the new rows inlined")
        let ours = try runLake(["query", "curated.orders", "--where", "currency = EUR", "--where", "discount_amount = 2.50", "--agg", "count(*)",
                                "--format", "csv", "--lake", root])
        #expect(ours.out.split(separator: "\n").last == "2", "\(ours.out) \(ours.err)")
        let all = try runLake(["query", "curated.orders", "--agg", "count(*)", "--format", "csv", "--lake", root])
        #expect(all.out.split(separator: "\n").last.flatMap { Int($0) } == after[2].first, "\(all.out) DuckDB \(after)")
        #expect(try runLake(["verify", "--lake", root]).status == 0)
    }

    /// `lake schema migrate --rewrite` wrote the new files from the registry's columns only: a
    /// column DuckDB had added was left out, and the commit failed with an internal "invalid
    /// statistics" message (without that check, the column's values would have been lost). The
    /// rewrite now carries such a column, and refuses up front, naming them, a column lake cannot
    /// read and a new registry column whose id DuckDB's column took (the rewrite read the one's
    /// values as the other's: "column currency is required but has 3 nulls").
    @Test func aMigrationRewriteCarriesAColumnDuckDBAdded() throws {
        let dir = try TemporaryDirectory("foreign-column-rewrite")
        defer { dir.remove() }
        let root = try Self.ordersV1Lake(dir, seed: 29)
        let noted = "SELECT count(*) FROM l.curated.orders WHERE note = 'n-' || order_id"
        // Without inlining: a table with DuckDB's inlined-data layouts is refused by another rule.
        let before = try Self.duck(root, [
            "ALTER TABLE l.curated.orders ADD COLUMN note VARCHAR",
            "ALTER TABLE l.curated.orders ADD COLUMN tags VARCHAR[]",
            "UPDATE l.curated.orders SET note = 'n-' || order_id WHERE channel <> 'web'",
            noted, "SELECT count(*) FROM l.curated.orders",
        ], inlining: false)
        let (notes, rows) = (before[3], before[4])
        #expect(notes[0] > 10 && notes[0] < rows[0], "\(before)")
        let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
        let snapshot = try catalog.latestSnapshot().id
        // The bundled v2 adds currency as id 13, the id DuckDB gave note.
        for extra in [["--dry-run"], ["--rewrite"], []] {
            let r = try runLake(["schema", "migrate", "orders", "--to", "2", "--lake", root] + extra)
            #expect(r.status == 1 && r.err.contains("new column currency has id 13, which the lake's column note (added by another engine)")
                    && r.err.contains("nothing was migrated"), "\(extra): exit \(r.status) \(r.err)")
        }
        // A registry whose v2 only renames city: nothing collides.
        let schemas = dir.url.appendingPathComponent("schemas")
        try FileManager.default.copyItem(at: packageRoot.appendingPathComponent("schemas"), to: schemas)
        let v2 = schemas.appendingPathComponent("orders/v2.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: v2)) as? [String: Any])
        json["columns"] = (json["columns"] as? [[String: Any]])?.filter { ($0["id"] as? Int ?? 99) <= 12 }
        try JSONSerialization.data(withJSONObject: json).write(to: v2)
        let migrate = ["schema", "migrate", "orders", "--to", "2", "--rewrite", "--schemas", schemas.path, "--lake", root]
        let refused = try runLake(migrate)
        #expect(refused.status == 1 && refused.err.contains("curated.orders.tags is a ") && refused.err.contains("lake cannot read")
                && refused.err.contains("nothing was migrated"), "exit \(refused.status) \(refused.err)")
        #expect(try catalog.latestSnapshot().id == snapshot)

        _ = try Self.duck(root, ["ALTER TABLE l.curated.orders DROP COLUMN tags"], inlining: false)
        let r = try runLake(migrate)
        #expect(r.status == 0, "\(r.out) \(r.err)")
        #expect(try catalog.latestSnapshot().id == snapshot + 2)
        // Every file was rewritten, and DuckDB reads the column's values from the new ones.
        #expect(try Self.duck(root, [noted, "SELECT count(*) FROM l.curated.orders"]) == [notes, rows])
        let live = try catalog.dataFiles(tableID: try #require(try catalog.tableIfPresent(.curatedOrders)).tableID)
        #expect(!live.isEmpty && live.allSatisfy { $0.beginSnapshot == snapshot + 2 }, "\(live.map(\.beginSnapshot))")
        let verify = try runLake(["verify", "--lake", root])
        #expect(verify.status == 0, "\(verify.out) \(verify.err)")
    }

    /// The way out `idTaken` advises, followed to its end: DuckDB's ADD COLUMN took id 13, the
    /// bundled v2's currency. A registry version of one's own giving v2's three new columns ids
    /// above the table's highest migrates; after it, ingests through that registry and through
    /// the bundled one (same version number, other ids) both put each value under the lake's own
    /// column ids: DuckDB reads every new order's currency and payment method, the column it
    /// added stays its own.
    @Test func aRegistryVersionOfOnesOwnMigratesPastAnIDDuckDBTook() throws {
        let dir = try TemporaryDirectory("foreign-column-own-ids")
        defer { dir.remove() }
        let root = try Self.ordersV1Lake(dir, seed: 31)
        _ = try Self.duck(root, ["ALTER TABLE l.curated.orders ADD COLUMN note VARCHAR",
                                 "UPDATE l.curated.orders SET note = 'n-' || order_id WHERE channel = 'web'"], inlining: false)
        let bundled = try runLake(["schema", "migrate", "orders", "--to", "2", "--lake", root])
        #expect(bundled.status == 1 && bundled.err.contains("give currency an id above the table's highest"), "\(bundled.err)")

        let schemas = dir.url.appendingPathComponent("schemas")
        try FileManager.default.copyItem(at: packageRoot.appendingPathComponent("schemas"), to: schemas)
        let v2 = schemas.appendingPathComponent("orders/v2.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: v2)) as? [String: Any])
        json["columns"] = (json["columns"] as? [[String: Any]])?.map { column in
            var c = column
            if let id = c["id"] as? Int, id >= 13 { c["id"] = id + 1 }
            return c
        }
        try JSONSerialization.data(withJSONObject: json).write(to: v2)
        let migrated = try runLake(["schema", "migrate", "orders", "--to", "2", "--schemas", schemas.path, "--lake", root])
        #expect(migrated.status == 0 && migrated.out.contains("add column currency (id 14)"), "\(migrated.out) \(migrated.err)")

        // Two v2 files of distinct orders: one through the lake's own registry, one through the bundled.
        var expected: [String: (currency: String, payment: String)] = [:]
        for (seed, registry) in [(41, ["--schemas", schemas.path]), (43, [])] {
            let out = dir.file("v2-\(seed)")
            _ = try runLake(["generate", "--out", out, "--orders", "150", "--seed", "\(seed)", "--schema-version", "2"])
            let r = try runLake(["ingest", "orders", "\(out)/orders_stream.jsonl", "--lake", root] + registry)
            #expect(r.status == 0, "\(registry): \(r.out) \(r.err)")
            let rows = try runLake(["query", "curated.orders", "--columns", "order_id,currency,payment_method", "--format", "csv", "--lake", root])
            for line in rows.out.split(separator: "\n").dropFirst() {
                let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                if f.count == 3 { expected[f[0]] = (f[1], f[2]) }
            }
        }
        let paid = expected.values.filter { !$0.payment.isEmpty }.count, foreign = expected.values.filter { $0.currency != "USD" }.count
        #expect(paid > 100 && foreign > 20, "the v2 files' values reached the lake: \(paid) paid, \(foreign) not in USD")
        // DuckDB by the catalog's column ids: the same values, and note only where it set it.
        let theirs = try Self.duck(root, [
            "SELECT count(*), count(payment_method), count(*) FILTER (WHERE currency <> 'USD') FROM l.curated.orders",
            "SELECT count(*) FROM l.curated.orders WHERE note IS NOT NULL AND note <> 'n-' || order_id",
            "SELECT count(note) FROM l.curated.orders WHERE payment_method IS NOT NULL",
        ], inlining: false)
        #expect(theirs == [[expected.count, paid, foreign], [0], [0]], "\(theirs)")
        let verify = try runLake(["verify", "--lake", root])
        #expect(verify.status == 0, "\(verify.out) \(verify.err)")
    }

    /// DuckDB renames curated.orders (ALTER TABLE … RENAME TO). Its order ids are what an ingest
    /// checks for duplicates, so an ingest that created a new curated.orders accepted every
    /// order again: order_items grew by the same items a second time (4 059 → 5 050 rows for
    /// 500 resent lines). It is refused now, before writing; renamed back, the resent orders
    /// are duplicates again.
    @Test func anIngestIsRefusedWhileCuratedOrdersIsRenamed() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let root = lake.root
        let inputs = try TemporaryDirectory("renamed-input")
        defer { inputs.remove() }
        let source = try String(contentsOf: packageRoot.appendingPathComponent("Evaluation-Files/orders_stream.jsonl"), encoding: .utf8)
        let resent = inputs.file("resent.jsonl")
        try (source.split(separator: "\n").prefix(300).joined(separator: "\n") + "\n").write(toFile: resent, atomically: true, encoding: .utf8)
        let items = "SELECT count(*) FROM l.curated.order_items"
        let before = try Self.duck(root, ["ALTER TABLE l.curated.orders RENAME TO orders_renamed", items]).last!

        let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
        let snapshot = try catalog.latestSnapshot().id
        let refused = try runLake(["ingest", "orders", resent, "--lake", root])
        #expect(refused.status == 1, "\(refused.out) \(refused.err)")
        #expect(refused.err.contains("curated.orders is missing while raw.orders and curated.order_items hold this lake's orders"), "\(refused.err)")
        #expect(try catalog.latestSnapshot().id == snapshot)
        #expect(try Self.duck(root, [items]).last! == before)

        // The same for order_items dropped: a new one would hold only the new batch's items.
        let dropped = try TemporaryDirectory("dropped-items")
        defer { dropped.remove() }
        try FileManager.default.copyItem(atPath: root, toPath: dropped.path + "/lake")
        _ = try Self.duck(dropped.path + "/lake", ["ALTER TABLE l.curated.orders_renamed RENAME TO orders", "DROP TABLE l.curated.order_items"])
        let noItems = try runLake(["ingest", "orders", resent, "--lake", dropped.path + "/lake"])
        #expect(noItems.status == 1 && noItems.err.contains("curated.order_items is missing while raw.orders and curated.orders hold"), "\(noItems.err)")

        _ = try Self.duck(root, ["ALTER TABLE l.curated.orders_renamed RENAME TO orders"])
        let again = try runLake(["ingest", "orders", resent, "--lake", root, "--format", "json"])
        #expect(again.status == 0, "\(again.err)")
        #expect(again.out.contains("\"accepted\":0") || again.out.contains("\"accepted\" : 0"), "every resent order is a duplicate: \(again.out)")
        #expect(try Self.duck(root, [items]).last! == before)
    }

    /// A lake DuckDB created encrypted (`ATTACH … (ENCRYPTED)`): every data file is encrypted
    /// Parquet ("PARE" magic, its key in ducklake_data_file.encryption_key). lake used to call
    /// every file corrupt and advise restoring it from a backup, and `lake ingest catalog`
    /// wrote an unencrypted file into the lake. Now reads name the encryption, verify says
    /// `unsupported` (not damage), every write is refused before a file is written, and the
    /// catalog-only commands still work.
    @Test func anEncryptedLakeIsRefusedNeitherMisreadNorWrittenInPlaintext() throws {
        let source = try EvaluationLake(orderLines: 300)
        defer { source.dir.remove() }
        let dir = try TemporaryDirectory("encrypted-lake")
        defer { dir.remove() }
        let root = dir.path
        // DuckDB without httpfs has only a read-only crypto module; the unsafe one is enough to
        // produce the files (their strength is not what this test is about).
        let made = try Python.json(Python.duckdbPrelude + """
            con = duck()
            con.execute("SET force_mbedtls_unsafe = true")
            con.execute("ATTACH 'ducklake:sqlite:\(root)/manifest.sqlite' AS l (DATA_PATH '\(root)/', ENCRYPTED)")
            con.execute("ATTACH 'ducklake:sqlite:\(source.root)/manifest.sqlite' AS s (DATA_PATH '\(source.root)/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
            con.execute("CREATE SCHEMA l.curated")
            con.execute("CREATE TABLE l.curated.orders AS SELECT * FROM s.curated.orders")
            print(json.dumps(con.execute("SELECT count(*) FROM l.curated.orders").fetchall()[0][0]))
            """) as? Int
        let rows = try #require(made)
        #expect(rows > 0)
        let files = try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.hasSuffix(".parquet") }
        #expect(files.count == 1, "\(files)")
        let magic = try FileHandle(forReadingFrom: URL(fileURLWithPath: root + "/" + files[0])).read(upToCount: 4)
        #expect(magic == Data("PARE".utf8), "DuckDB wrote an encrypted file")

        let verify = try runLake(["verify", "--lake", root, "--format", "json"])
        #expect(verify.status != 0)
        #expect(verify.out.contains("unsupported") && verify.out.contains("encrypted Parquet"), "\(verify.out)")
        #expect(!verify.err.contains("restore"), "\(verify.err)")
        let query = try runLake(["query", "curated.orders", "--agg", "count(*)", "--lake", root])
        #expect(query.status != 0 && query.err.contains("is encrypted Parquet"), "\(query.err)")
        let tables = try runLake(["tables", "--lake", root])
        #expect(tables.status == 0 && tables.out.contains("curated.orders"), "\(tables.err)")

        let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
        #expect(catalog.encrypted)
        let snapshot = try catalog.latestSnapshot().id
        let input = packageRoot.appendingPathComponent("Evaluation-Files").path
        for command in [["ingest", "catalog", input + "/product_catalog.json"], ["ingest", "orders", input + "/orders_stream.jsonl"],
                        ["compact"], ["vacuum"], ["delete", "curated.orders", "--where", "channel = web"]] {
            let r = try runLake(command + ["--lake", root])
            #expect(r.status != 0 && r.err.contains("is an encrypted DuckLake"), "\(command): \(r.status) \(r.err)")
        }
        #expect(try catalog.latestSnapshot().id == snapshot)
        let after = try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.hasSuffix(".parquet") }
        #expect(after == files, "no file written: \(after)")
    }

    /// DuckDB's `ducklake_add_data_files` registers an existing Parquet file where it is, by
    /// absolute path, outside the lake root. lake refused every read of the table ("lies outside
    /// the lake root"), `lake verify` called the file corrupt, and once DuckDB's merge had
    /// scheduled it for deletion every `lake vacuum` failed. Now it is read where it is,
    /// compacted like any file, and vacuum leaves it (lake never deletes outside its root):
    /// DuckDB's `ducklake_cleanup_old_files` deletes it.
    @Test func aFileDuckDBAddedOutsideTheLakeIsReadAndNeverDeletedByLake() throws {
        let lake = try EvaluationLake(orderLines: 300)
        defer { lake.dir.remove() }
        let root = lake.root
        let outside = try TemporaryDirectory("added-files")
        defer { outside.remove() }
        let file = outside.path + "/event_date=2024-01-01/channel=web/extra.parquet"
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let total = "SELECT count(*), CAST(sum(order_total) * 100 AS BIGINT) FROM l.curated.orders"
        let duck = try Self.duck(root, [
            "COPY (SELECT * REPLACE (order_id || '-added' AS order_id) FROM l.curated.orders WHERE event_date = DATE '2024-01-01' AND channel = 'web' LIMIT 10) TO '\(file)'",
            "CALL ducklake_add_data_files('l', 'orders', '\(file)', schema => 'curated', hive_partitioning => true)",
            total,
        ]).last!
        func ours() throws -> [Int] {
            let r = try runLake(["query", "curated.orders", "--agg", "count(*)", "--agg", "sum(order_total)", "--format", "csv", "--lake", root])
            #expect(r.status == 0, "\(r.err)")
            let fields = r.out.split(separator: "\n").last?.split(separator: ",") ?? []
            guard fields.count == 2, let n = Int(fields[0]), let sum = Decimal(string: String(fields[1])) else { return [] }
            return [n, NSDecimalNumber(decimal: sum * 100).intValue]
        }
        #expect(try ours() == duck, "DuckDB reads \(duck)")
        let verify = try runLake(["verify", "--lake", root])
        #expect(verify.status == 0 && verify.out.contains(file), "\(verify.out.suffix(400)) \(verify.err)")

        let compact = try runLake(["compact", "curated.orders", "--lake", root])
        #expect(compact.status == 0 && compact.out.contains("2 files -> 1"), "\(compact.out) \(compact.err)")
        #expect(try ours() == duck)
        for _ in 0 ..< 2 {
            // The second run meets the file still scheduled for deletion: it used to fail there.
            let vacuum = try runLake(["vacuum", "--retain", "0s", "--force", "--lake", root])
            #expect(vacuum.status == 0 && vacuum.out.contains("kept \(file)"), "\(vacuum.out) \(vacuum.err)")
            #expect(FileManager.default.fileExists(atPath: file), "lake never deletes outside its root")
        }
        #expect(try Self.duck(root, [total]).last! == duck)
        _ = try Self.duck(root, ["CALL ducklake_cleanup_old_files('l', cleanup_all => true)"])
        #expect(!FileManager.default.fileExists(atPath: file), "DuckDB's cleanup deletes it")
        #expect(try runLake(["vacuum", "--retain", "0s", "--force", "--lake", root]).status == 0)
    }

    /// Files DuckDB registers with `ducklake_add_data_files` carry no field ids: DuckDB records a
    /// name mapping (file column name → column id, and which columns come from the hive path).
    /// lake matched such files by the columns' current names, so after DuckDB renamed a column
    /// its values in those files read as NULL (count(city) 1 879 instead of 1 889), and a file
    /// that does not store its partition columns, or one registered with `allow_missing`,
    /// failed as "corrupt; restore it from a backup".
    @Test func filesAddedWithoutFieldIDsReadThroughTheirNameMapping() throws {
        let lake = try EvaluationLake(orderLines: 300)
        defer { lake.dir.remove() }
        let root = lake.root
        let outside = try TemporaryDirectory("mapped-files")
        defer { outside.remove() }
        let whole = outside.path + "/event_date=2024-01-01/channel=web/whole.parquet"
        let bare = outside.path + "/event_date=2024-01-01/channel=api/bare.parquet"
        let partial = outside.path + "/event_date=2024-01-01/channel=mobile/partial.parquet"
        for f in [whole, bare, partial] {
            try FileManager.default.createDirectory(atPath: (f as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        }
        // Non-null counts as filters: DuckDB 1.5.5's count(column) counts a column an allow_missing
        // file lacks as non-null (5 of 5) while the values read are NULL (a filter counts 0).
        func nonNull(_ c: String) -> String { "count(*) FILTER (WHERE \(c) IS NOT NULL)" }
        let figures = "SELECT count(*), \(nonNull("city")), \(nonNull("channel")), \(nonNull("event_date")), CAST(sum(order_total) * 100 AS BIGINT), "
            + "count(*) FILTER (WHERE channel = 'api' AND event_date = DATE '2024-01-01'), \(nonNull("currency")), \(nonNull("payment_method")) FROM l.curated.orders"
        let duck = try Self.duck(root, [
            "COPY (SELECT * REPLACE (order_id || '-w' AS order_id) FROM l.curated.orders WHERE event_date = DATE '2024-01-01' AND channel = 'web' LIMIT 10) TO '\(whole)'",
            // Without its partition columns: their values are the file's hive path.
            "COPY (SELECT * EXCLUDE (event_date, channel) REPLACE (order_id || '-b' AS order_id) FROM l.curated.orders WHERE event_date = DATE '2024-01-01' AND channel = 'api' LIMIT 7) TO '\(bare)'",
            "CALL ducklake_add_data_files('l', 'orders', '\(whole)', schema => 'curated', hive_partitioning => true)",
            "CALL ducklake_add_data_files('l', 'orders', '\(bare)', schema => 'curated', hive_partitioning => true)",
            // Without two columns, registered with allow_missing: they read as their defaults.
            "COPY (SELECT * EXCLUDE (currency, payment_method) REPLACE (order_id || '-p' AS order_id) FROM l.curated.orders WHERE event_date = DATE '2024-01-01' AND channel = 'mobile' LIMIT 5) TO '\(partial)'",
            "CALL ducklake_add_data_files('l', 'orders', '\(partial)', schema => 'curated', hive_partitioning => true, allow_missing => true)",
            "ALTER TABLE l.curated.orders RENAME COLUMN shipping_city TO city",
            figures,
        ]).last!
        #expect(duck[0] == duck[1] && duck[1] == duck[2] && duck[2] == duck[3], "DuckDB reads every value: \(duck)")
        let r = try runLake(["query", "curated.orders", "--agg", "count(*)", "--agg", "count(city)", "--agg", "count(channel)", "--agg", "count(event_date)",
                             "--agg", "sum(order_total)", "--agg", "count(currency)", "--agg", "count(payment_method)", "--format", "csv", "--lake", root])
        #expect(r.status == 0, "\(r.err)")
        let fields = r.out.split(separator: "\n").last?.split(separator: ",").map(String.init) ?? []
        #expect(fields.count == 7 && fields.prefix(4).map { Int($0) } == duck.prefix(4).map { Optional($0) }
                && fields[4].replacingOccurrences(of: ".", with: "") == String(duck[4])
                && Int(fields[5]) == duck[6] && Int(fields[6]) == duck[7], "lake \(fields), DuckDB \(duck)")
        let api = try runLake(["query", "curated.orders", "--where", "channel = api", "--where", "event_date = 2024-01-01", "--agg", "count(*)",
                               "--format", "csv", "--lake", root])
        #expect(api.status == 0 && api.out.split(separator: "\n").last.map(String.init) == String(duck[5]), "\(api.out) \(api.err)")
        let verify = try runLake(["verify", "--lake", root])
        #expect(verify.status == 0, "\(verify.out.suffix(600)) \(verify.err)")
    }

    /// The lake's first order id, and a file resending that order twice: first renamed to
    /// ORD-NEW-1 (what a DuckDB UPDATE of its id makes it), then as it was.
    static func resendOfTheFirstOrder(_ root: String, into inputs: TemporaryDirectory) throws -> (id: String, resend: String) {
        let first = try runLake(["query", "curated.orders", "--columns", "order_id", "--order-by", "order_id", "--limit", "1", "--format", "csv", "--lake", root])
        let id = try #require(first.out.split(separator: "\n").last.map(String.init))
        let source = try String(contentsOf: packageRoot.appendingPathComponent("Evaluation-Files/orders_stream.jsonl"), encoding: .utf8)
        let line = try #require(source.split(separator: "\n").first { $0.contains("\"order_id\": \"\(id)\"") }.map(String.init))
        let resend = inputs.file("resend.jsonl")
        try ([line.replacingOccurrences(of: "\"\(id)\"", with: "\"ORD-NEW-1\""), line].joined(separator: "\n") + "\n")
            .write(toFile: resend, atomically: true, encoding: .utf8)
        return (id, resend)
    }

    /// DuckDB UPDATEs keep every row count, and lake trusted its key runs and stored quality
    /// figures on counts alone: an order id DuckDB changed was accepted again when resent (its
    /// revenue counted twice) while the old id was refused as "already committed", and
    /// `lake quality check` scored 100 over totals DuckDB had zeroed. A file lake did not commit,
    /// a delete file or an inlined row after them now means they no longer describe the table
    /// (the ids are read from the files, the checks rescan), also after lake's compaction and
    /// vacuum rewrote DuckDB's files into its own.
    @Test func aDuckDBUpdateIsSeenByTheDedupeAndTheQualityCheck() throws {
        let lake = try EvaluationLake(orderLines: 300)
        defer { lake.dir.remove() }
        let root = lake.root
        let inputs = try TemporaryDirectory("update-input")
        defer { inputs.remove() }
        let (id, resend) = try Self.resendOfTheFirstOrder(root, into: inputs)
        let twice = "SELECT count(*) FROM (SELECT order_id FROM l.curated.orders GROUP BY order_id HAVING count(*) > 1)"
        _ = try Self.duck(root, [
            "UPDATE l.curated.orders SET order_id = 'ORD-NEW-1' WHERE order_id = '\(id)'",
            // A second UPDATE writes the rows into files (a single-row change stays inlined).
            "UPDATE l.curated.orders SET customer_id = customer_id || '' WHERE channel = 'web'",
        ])
        let r = try runLake(["ingest", "orders", resend, "--lake", root, "--format", "json"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("\"accepted\" : 1") && r.out.contains("\"duplicate_order\" : 1"), "ORD-NEW-1 is a duplicate, \(id) is new again: \(r.out)")
        #expect(try Self.duck(root, [twice]).last! == [0], "no order id twice")

        // (The resent original's items are now in order_items twice: DuckDB's UPDATE renamed the
        // order, not its items. The checks, rescanning, say so; that is the data as it is.)
        _ = try Self.duck(root, ["UPDATE l.curated.orders SET order_total = 0 WHERE channel = 'web' AND order_total > 0"])
        let zeroed = try runLake(["quality", "check", "--lake", root])
        #expect(zeroed.status != 0 && zeroed.out.contains("total 0.00 vs items"), "the zeroed totals are found: \(zeroed.out) \(zeroed.err)")
        // lake's compaction rewrites DuckDB's files into its own and vacuum drops theirs: the
        // evidence is gone, and so are the runs and figures that predate it.
        #expect(try runLake(["compact", "--lake", root]).status == 0)
        #expect(try runLake(["vacuum", "--retain", "0s", "--force", "--lake", root]).status == 0)
        let after = try runLake(["quality", "check", "--lake", root])
        #expect(after.status != 0 && after.out.contains("total 0.00 vs items"), "\(after.out) \(after.err)")
        let again = try runLake(["ingest", "orders", resend, "--lake", root, "--format", "json"])
        #expect(again.status == 0 && (again.out.contains("\"accepted\" : 0") || again.out.contains("already")), "\(again.out) \(again.err)")
        #expect(try Self.duck(root, [twice]).last! == [0])
    }

    /// The other order of the same events: lake compacts and vacuums *before* anything of lake
    /// looked at the lake again, so DuckDB's files and deletes are partly rewritten away. The
    /// runs and figures must still be found stale. (This does not prove the drop of runs and
    /// figures in `CatalogTransaction.removeDataFiles` on its own (the next test does): DuckDB's UPDATE leaves
    /// partitions with a single file of its own, which compaction keeps, and they are evidence
    /// enough; it passes with the drop removed.)
    @Test func aCompactionRightAfterADuckDBUpdateLeavesNoStaleRunsOrFigures() throws {
        let lake = try EvaluationLake(orderLines: 300)
        defer { lake.dir.remove() }
        let root = lake.root
        let inputs = try TemporaryDirectory("update-compact-input")
        defer { inputs.remove() }
        let (id, resend) = try Self.resendOfTheFirstOrder(root, into: inputs)
        // One transaction, so the renamed row goes into a file with the others (a one-row change
        // alone stays inlined in the catalog, which compaction leaves, and which is evidence too).
        _ = try Self.duck(root, [
            "BEGIN TRANSACTION",
            "UPDATE l.curated.orders SET order_id = 'ORD-NEW-1' WHERE order_id = '\(id)'",
            "UPDATE l.curated.orders SET order_total = 0 WHERE channel = 'web' AND order_total > 0",
            "COMMIT",
        ])
        let compact = try runLake(["compact", "--lake", root])
        #expect(compact.status == 0, "\(compact.out) \(compact.err)")
        #expect(try runLake(["vacuum", "--retain", "0s", "--force", "--lake", root]).status == 0)
        let foreignLeft = try Self.duck(root, ["SELECT count(*) FROM l.curated.orders WHERE order_id = 'ORD-NEW-1'"])
        #expect(foreignLeft.last == [1], "DuckDB's rename survives the compaction: \(foreignLeft)")
        let check = try runLake(["quality", "check", "--lake", root])
        #expect(check.status != 0 && check.out.contains("total 0.00 vs items"), "the zeroed totals are found: \(check.out) \(check.err)")
        let r = try runLake(["ingest", "orders", resend, "--lake", root, "--format", "json"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("\"accepted\" : 1") && r.out.contains("\"duplicate_order\" : 1"), "ORD-NEW-1 is a duplicate, \(id) is new again: \(r.out)")
        #expect(try Self.duck(root, ["SELECT count(*) FROM (SELECT order_id FROM l.curated.orders GROUP BY order_id HAVING count(*) > 1)"]).last! == [0])
    }

    /// The drop on its own, which the compaction test above cannot show (compaction keeps a
    /// partition of one DuckDB file, and that file stays as evidence): a rewrite that replaces
    /// every file DuckDB wrote (here: a transaction that removes it, as a rewrite's does) takes
    /// the evidence of foreign rows away, so the key runs and quality figures stored before it,
    /// which know nothing of DuckDB's rows, must go in the same commit.
    @Test func removingEveryForeignFileDropsTheRunsAndFiguresStoredBeforeIt() throws {
        let lake = try EvaluationLake(orderLines: 300)
        defer { lake.dir.remove() }
        let root = lake.root
        // Every row again under a new id: enough rows for a file (a few would stay inlined).
        _ = try Self.duck(root, ["INSERT INTO l.curated.orders SELECT * REPLACE ('DUCK-' || order_id AS order_id) FROM l.curated.orders"])
        let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
        let orders = try catalog.table(schema: "curated", name: "orders")
        let foreign = try catalog.dataFiles(tableID: orders.tableID).filter { $0.footerChecksum == nil }
        #expect(!foreign.isEmpty && Set(foreign.map(\.beginSnapshot)).count == 1, "DuckDB's insert wrote files (one a partition): \(foreign.map(\.path))")
        let stored = try Self.derivedRows(root, tableID: orders.tableID)
        #expect(stored[0] > 0 && stored[1] > 0, "the ingest stored key runs and quality figures: \(stored)")
        try catalog.commit { tx in try tx.removeDataFiles(foreign.map(\.dataFileID)) }
        #expect(try Self.derivedRows(root, tableID: orders.tableID) == [0, 0], "runs and figures stored before the foreign file")
        // With nothing stored left, the check rescans and agrees with an explicit rescan.
        let check = try runLake(["quality", "check", "--lake", root, "--format", "json"])
        let rescan = try runLake(["quality", "check", "--rescan", "--lake", root, "--format", "json"])
        #expect(check.status == rescan.status && check.out == rescan.out, "\(check.out)\n--- rescan ---\n\(rescan.out)")
    }

    /// Rows of `lake_key_run` for the table and of `lake_quality_figure`, read with Python's sqlite3.
    static func derivedRows(_ root: String, tableID: Int64) throws -> [Int] {
        try #require(Python.json("""
            import sqlite3, sys, json
            c = sqlite3.connect(sys.argv[1])
            print(json.dumps([c.execute("SELECT count(*) FROM lake_key_run WHERE table_id = ?", (int(sys.argv[2]),)).fetchone()[0],
                              c.execute("SELECT count(*) FROM lake_quality_figure").fetchone()[0]]))
            """, [root + "/manifest.sqlite", String(tableID)]) as? [Int])
    }

    /// A rejected order line or CSV record can hold any bytes; stored as received in a STRING
    /// column, bytes that are not UTF-8 made raw.orders (and curated.inventory, which accepted
    /// such a warehouse) unreadable to DuckDB and pyarrow ("Invalid string encoding"). Now the
    /// CSV record is refused (`invalid_encoding`) and rejected text is stored escaped.
    @Test func bytesThatAreNotUTF8NeverReachAStringColumn() throws {
        let lake = try EvaluationLake(orderLines: 300)
        defer { lake.dir.remove() }
        let root = lake.root
        let inputs = try TemporaryDirectory("not-utf8")
        defer { inputs.remove() }
        var orders = Data(#"{"order_id": "BAD-"#.utf8) + Data([0xFF]) + Data(#"", "note": "a\\b", "channel": "web"}"#.utf8) + Data("\n".utf8)
        orders += Data(#"{"order_id": "ORD-X"#.utf8) + Data([0xC3]) + Data("\n".utf8)  // cut inside a character
        try orders.write(to: URL(fileURLWithPath: inputs.file("orders.jsonl")))
        var csv = Data("product_id,available_quantity,warehouse_location,last_updated\nPROD-001,5,WH-".utf8) + Data([0xFF])
        csv += Data(",2024-02-01T00:00:00Z\n".utf8)
        try csv.write(to: URL(fileURLWithPath: inputs.file("inventory.csv")))
        #expect(try runLake(["ingest", "orders", inputs.file("orders.jsonl"), "--lake", root]).status == 0)
        let inventory = try runLake(["ingest", "inventory", inputs.file("inventory.csv"), "--lake", root])
        #expect(inventory.status == 0 && inventory.out.contains("invalid_encoding 1"), "\(inventory.out) \(inventory.err)")
        // DuckDB reads every string of the three tables (it refused the whole column before).
        let counts = try Self.duck(root, [
            // The escapes: the byte 0xFF as \xFF, the line's two backslashes (JSON "a\\b") doubled.
            "SELECT count(*), sum(length(line)), count(*) FILTER (WHERE contains(line, 'BAD-' || chr(92) || 'xFF') "
                + "AND contains(line, 'a' || repeat(chr(92), 4) || 'b')) FROM l.raw.orders WHERE reject_detail LIKE '%is not UTF-8%'",
            "SELECT count(*), sum(length(warehouse_location)) FROM l.curated.inventory",
            "SELECT count(*) FILTER (WHERE reject_reason = 'invalid_encoding'), sum(length(line)) FROM l.raw.inventory",
        ])
        #expect(counts[0].count == 3 && counts[0][0] == 2 && counts[0][2] == 1, "the two lines, escaped: \(counts)")
        #expect(counts[1].count == 2 && counts[1][0] > 0, "\(counts)")
        #expect(counts[2].first == 1, "\(counts)")
    }
}
