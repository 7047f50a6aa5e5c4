import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
import LakeQuery
import LakeTestSupport
import Testing

/// Every Parquet file a lake holds, read by the Parquet peers file by file: what ParquetInteropTests
/// checks on one synthetic file, here on the files the pipeline really writes (every table and
/// layer, delete files, compacted and migrated files). The newest DuckDB (2.0.1) has no DuckLake
/// extension package (they stop at 1.5.5), so it cannot attach the lake: it reads each file the
/// catalog lists with read_parquet, and applies the delete files itself for the aggregates.
@Suite struct ParquetPeerLakeTests {
    /// Run by each peer with the lake root: the catalog's files (paths resolved by DuckLake's
    /// rule, in Python, independently of ours), each read by DuckDB and by pyarrow, and
    /// curated.orders' live rows (live data files minus live delete files' positions) aggregated.
    static let peerScript = pythonCanonical + """
        import duckdb, os, sqlite3, sys
        import pyarrow.parquet as pq
        root = sys.argv[1]
        cat = sqlite3.connect(f"file:{root}/manifest.sqlite?mode=ro", uri=True)
        # DuckLake: a relative path is relative to its parent's (file, table, schema, data_path).
        def under(base, path, relative): return os.path.join(base, path) if relative else path
        data_path = under(root, cat.execute("SELECT value FROM ducklake_metadata WHERE key = 'data_path'").fetchone()[0], True)
        tables = {}
        for tid, tname, tpath, trel, sname, spath, srel in cat.execute('''SELECT t.table_id, t.table_name, t.path,
                t.path_is_relative, s.schema_name, s.path, s.path_is_relative
                FROM ducklake_table t JOIN ducklake_schema s USING (schema_id)'''):
            tables[tid] = (sname + "." + tname, under(under(data_path, spath, srel), tpath, trel))
        files = []
        for kind, sql in [("data", '''SELECT data_file_id, table_id, path, path_is_relative, record_count, begin_snapshot,
                              end_snapshot, data_file_id FROM ducklake_data_file ORDER BY 1'''),
                          ("delete", '''SELECT delete_file_id, table_id, path, path_is_relative, delete_count, begin_snapshot,
                              end_snapshot, data_file_id FROM ducklake_delete_file ORDER BY 1''')]:
            for fid, tid, path, rel, count, begin, end, data_file in cat.execute(sql).fetchall():
                table, tdir = tables[tid]
                files.append({"kind": kind, "id": fid, "table": table, "path": under(tdir, path, rel), "catalog_rows": count,
                              "begin": begin, "end": end, "data_file": data_file})
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        encodings = set()
        for f in files:
            # hive_partitioning off: the date=/channel= directories are DuckLake's layout, not columns.
            rel = con.sql("SELECT * FROM read_parquet(?, hive_partitioning = false)", params=[f["path"]])
            f["duck_types"] = [str(t) for t in rel.types]
            f["duck_rows"] = [[canon(v) for v in r] for r in rel.fetchall()]
            pf = pq.ParquetFile(f["path"])
            f["arrow_rows"] = [[canon(v) for v in r.values()] for r in pf.read().to_pylist()]
            meta = pf.metadata
            encodings |= {e for rg in range(meta.num_row_groups) for c in range(meta.num_columns) for e in meta.row_group(rg).column(c).encodings}
        live_deletes = {f["data_file"]: f["path"] for f in files if f["kind"] == "delete" and f["end"] is None}
        con.execute("CREATE TABLE live (order_id VARCHAR, order_total DECIMAL(18,2))")
        for f in files:
            if f["kind"] != "data" or f["table"] != "curated.orders" or f["end"] is not None: continue
            scan = "SELECT order_id, order_total FROM read_parquet(?, hive_partitioning = false, file_row_number = true)"
            if f["id"] in live_deletes:
                con.execute("INSERT INTO live " + scan + " WHERE file_row_number NOT IN (SELECT pos FROM read_parquet(?))",
                            [f["path"], live_deletes[f["id"]]])
            else:
                con.execute("INSERT INTO live " + scan, [f["path"]])
        total, distinct, rows = con.execute("SELECT sum(order_total)::VARCHAR, count(DISTINCT order_id), count(*) FROM live").fetchone()
        inlined = cat.execute("SELECT count(*) FROM ducklake_inlined_data_tables").fetchone()[0]
        print(json.dumps({"version": duckdb.__version__, "files": files, "encodings": sorted(encodings),
                          "orders": {"sum": total, "distinct": distinct, "rows": rows}, "inlined_tables": inlined}))
        """

    /// The DuckDB type read_parquet gives each of our column types: timestamps are UTC instants.
    static func duckType(_ type: ColumnType) -> String {
        switch type {
        case .bool: return "BOOLEAN"
        case .int32: return "INTEGER"
        case .int64: return "BIGINT"
        case .double: return "DOUBLE"
        case .string: return "VARCHAR"
        case .date: return "DATE"
        case .timestamp: return "TIMESTAMP WITH TIME ZONE"
        case .decimal(let p, let s): return "DECIMAL(\(p),\(s))"
        }
    }

    @Test func everyFileTheCatalogListsReadsAlikeInEachDuckDBAndPyarrow() throws {
        // The stream's first five days in three slices, so each partition has several files for
        // compaction to merge (about 200 files in all); at v1, so orders can be migrated to v2
        // with rewritten files.
        let lake = try EvaluationLake(orderChunks: 3, orderLines: 150, v1Only: true)
        defer { lake.dir.remove() }
        let catalog = lake.catalog
        // Delete files on both order layers (curated.orders' delete takes the items with it).
        let customer = try #require(try Deletes.run(catalog, table: "orders", conditions: ["customer_id = CUST-00001"]).snapshotID)
        _ = try #require(try Deletes.run(catalog, table: "raw.orders", conditions: ["reject_reason = invalid_channel"]).snapshotID)
        // Compaction merges the slices' files and applies those deletes: their files end, not vanish.
        let compacted = try #require(try Compaction.run(catalog).snapshotID)
        let store = LakeStore(catalog: catalog, registry: try SchemaRegistry.load(directory: packageRoot.appendingPathComponent("schemas").path))
        let migrated = try #require(try Migration.run(store, table: "orders", to: 2, rewrite: true).snapshotID)
        // A delete file on a migrated (v2) file.
        _ = try #require(try Deletes.run(catalog, table: "orders", conditions: ["customer_id = CUST-00003"]).snapshotID)

        var spec = QuerySpec(table: "orders")
        spec.aggregates = try ["sum(order_total)", "count_distinct(order_id)", "count(*)"].map(AggregateSpec.parse)
        let ours = try #require(try Query.run(spec, catalog: catalog).table.rows.first).map(\.text)

        var versions: [String] = []
        for python in Python.parquetPeers {
            let out = try #require(try Python.json(Self.peerScript, [lake.root], python: python) as? [String: Any])
            let version = out["version"] as? String ?? "?"
            versions.append(version)
            let files = try #require(out["files"] as? [[String: Any]])
            #expect(out["inlined_tables"] as? Int == 0, "DuckDB \(version): every row is in a file")

            // What the lake holds: each table and layer, live and ended delete files, compacted
            // and migrated files (all still on disk: nothing was vacuumed).
            let tables = Set(files.map { $0["table"] as? String ?? "" })
            #expect(tables.isSuperset(of: ["raw.orders", "curated.orders", "curated.order_items", "curated.products", "curated.inventory", "raw.inventory"]),
                    "\(tables.sorted())")
            let deleteTables = Set(files.filter { $0["kind"] as? String == "delete" }.map { $0["table"] as? String ?? "" })
            #expect(deleteTables == ["raw.orders", "curated.orders", "curated.order_items"])
            #expect(files.contains { $0["kind"] as? String == "delete" && $0["begin"] as? Int == Int(customer) && $0["end"] as? Int == Int(compacted) })
            #expect(files.contains { $0["kind"] as? String == "data" && $0["begin"] as? Int == Int(compacted) && $0["table"] as? String == "curated.order_items" })
            #expect(files.contains { $0["kind"] as? String == "delete" && $0["end"] is NSNull && $0["table"] as? String == "curated.orders" })

            var migratedFiles = 0
            for file in files {
                let path = file["path"] as? String ?? "", name = "DuckDB \(version): \(file["kind"] ?? "") file \(path)"
                let reader = try ParquetFileReader(path: path)
                let mine = canonicalRows(try reader.readAll())
                #expect(mine.count == file["catalog_rows"] as? Int, "\(name): rows against the catalog's count")
                #expect(decodeRows(file["duck_rows"] as Any) == mine, "\(name): DuckDB's values")
                #expect(decodeRows(file["arrow_rows"] as Any) == mine, "\(name): pyarrow's values")
                #expect(file["duck_types"] as? [String] == reader.schema.fields.map { Self.duckType($0.type) }, "\(name)")
                if file["begin"] as? Int == Int(migrated) && file["table"] as? String == "curated.orders" && file["kind"] as? String == "data" {
                    migratedFiles += 1
                    // v2's new columns, then each row's DuckLake row id (kept through the rewrite).
                    #expect(reader.schema.fields.map(\.name).suffix(4) == ["currency", "discount_amount", "payment_method", LineageField.rowIDName], "\(name)")
                }
            }
            #expect(migratedFiles > 0)
            // Our writer's encodings, all read above: plain and dictionary pages, RLE levels.
            let encodings = Set(out["encodings"] as? [String] ?? [])
            #expect(encodings.isSuperset(of: ["PLAIN", "RLE_DICTIONARY", "RLE"]), "\(encodings.sorted())")

            // The live rows as the peer applies the delete files, against `lake query`'s answer.
            let orders = try #require(out["orders"] as? [String: Any])
            #expect([orders["sum"] as? String ?? "", String(orders["distinct"] as? Int ?? -1), String(orders["rows"] as? Int ?? -1)] == ours,
                    "DuckDB \(version): \(orders) vs ours \(ours)")
        }
        #expect(versions.count == 2 && versions.last?.hasPrefix("2.") == true, "the pinned DuckDB and the newest: \(versions)")
    }
}
