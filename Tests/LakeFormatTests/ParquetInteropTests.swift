import Foundation
import LakeTestSupport
import Testing
@testable import LakeFormat

/// Our files checked by real, independent Parquet implementations (pyarrow and DuckDB: 1.5.5, the
/// one the DuckLake tests pin, and 2.0.1, the newest), and their files read by ours.
@Suite struct ParquetInteropTests {
    @Test(arguments: [true, false], Python.parquetPeers)
    func pyarrowAndDuckDBReadOurFiles(dictionary: Bool, python: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let batch = sampleBatch(rows: 2_500)
        var options = ParquetWriteOptions()
        options.rowGroupRows = 1_000
        options.dictionary = dictionary
        let path = dir.file("ours.parquet")
        let summary = try ParquetFileWriter.write(batch, to: path, options: options)
        let expected = canonicalRows(batch)

        let script = pythonCanonical + Python.duckdbPrelude + """
        import pyarrow.parquet as pq
        path = sys.argv[1]
        f = pq.ParquetFile(path)
        t = f.read()
        meta = f.metadata
        stats = []
        for rg in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                s = meta.row_group(rg).column(c).statistics
                col = meta.row_group(rg).column(c)
                stats.append({"rg": rg, "col": c, "has_min_max": s.has_min_max, "nulls": s.null_count,
                              "compression": col.compression})
        con = duckdb.connect()
        duck_rows = con.execute("SELECT * FROM read_parquet(?)", [path]).fetchall()
        duck_types = [r[1] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()]
        duck_stats = con.execute("SELECT row_group_id, column_id, stats_min_value, stats_max_value, stats_null_count FROM parquet_metadata(?) ORDER BY 1, 2", [path]).fetchall()
        print(json.dumps({
            "arrow_rows": [[canon(v) for v in r.values()] for r in t.to_pylist()],
            "arrow_types": [str(f.type) for f in t.schema],
            "field_ids": [int(f.metadata[b"PARQUET:field_id"]) for f in t.schema],
            "row_groups": meta.num_row_groups,
            "stats": stats,
            "duck_rows": [[canon(v) for v in r] for r in duck_rows],
            "duck_types": duck_types,
            "duck_stats": [[a, b, c, d, e] for a, b, c, d, e in duck_stats],
        }))
        """
        let out = try #require(try Python.json(script, [path], python: python) as? [String: Any])
        #expect(decodeRows(out["arrow_rows"] as Any) == expected)
        #expect(decodeRows(out["duck_rows"] as Any) == expected)
        #expect(out["arrow_types"] as? [String] == [
            "string", "string", "int32", "int64", "decimal128(18, 2)", "timestamp[us, tz=UTC]", "date32[day]",
            "double", "bool", "string", "int32", "decimal128(18, 2)",
        ])
        #expect(out["duck_types"] as? [String] == [
            "VARCHAR", "VARCHAR", "INTEGER", "BIGINT", "DECIMAL(18,2)", "TIMESTAMP WITH TIME ZONE", "DATE",
            "DOUBLE", "BOOLEAN", "VARCHAR", "INTEGER", "DECIMAL(18,2)",
        ])
        #expect(out["field_ids"] as? [Int] == Array(1 ... 12))
        #expect(out["row_groups"] as? Int == 3)

        // Statistics as the peers read them: present, with our null counts, zstd everywhere.
        let stats = try #require(out["stats"] as? [[String: Any]])
        #expect(stats.count == 36)
        for s in stats {
            let rg = s["rg"] as? Int ?? -1, c = s["col"] as? Int ?? -1
            let range = rg * 1_000 ..< min(rg * 1_000 + 1_000, 2_500)
            let nulls = batch.columns[c].validity.map { v in range.filter { !v[$0] }.count } ?? 0
            #expect(s["nulls"] as? Int == nulls, "row group \(rg) column \(c)")
            #expect(s["compression"] as? String == "ZSTD")
            let allNull = nulls == range.count
            #expect(s["has_min_max"] as? Bool == !allNull, "row group \(rg) column \(c)")
        }
        // DuckDB's view of the same bounds, for the timestamp column of the first row group.
        let duckStats = try #require(out["duck_stats"] as? [[Any]])
        let time = try #require(duckStats.first { ($0[0] as? Int) == 0 && ($0[1] as? Int) == 5 })
        #expect(time[2] as? String == "2024-01-01 00:00:00+00")
        _ = summary
    }

    /// The ingest's raw-line settings: pages of a column compressed with zstd's repetitive-text
    /// profile, and a column written without min/max (null counts kept), read by both peers
    /// exactly as written; the profile's pages are smaller than level 1's own on JSON lines.
    @Test(arguments: Python.parquetPeers)
    func peersReadRepetitiveTextAndUnboundedColumns(python: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let n = 3_000
        var lines = StringColumn(), ids = StringColumn()
        for i in 0 ..< n {
            lines.append("{\"order_id\": \"ORD-\(900_000 + i)\", \"customer_id\": \"CUST-\(i % 97)\", \"channel\": \"web\", \"items\": [{\"product_id\": \"P-\(i % 13)\", \"quantity\": \(i % 5), \"unit_price\": \(i % 50).99}]}")
            ids.append("ORD-\(900_000 + i)")
        }
        let schema = Schema([Field("line", .string, nullable: true, fieldID: 1), Field("order_id", .string, fieldID: 2)])
        let batch = RecordBatch(schema: schema, columns: [Column(.string(lines), validity: (0 ..< n).map { $0 % 10 != 3 }),
                                                          Column(.string(ids))])
        var options = ParquetWriteOptions()
        options.compression = .zstd(level: 1)
        options.rowGroupRows = 1_000
        options.plainColumns = ["line", "order_id"]
        let plainPath = dir.file("level1.parquet")
        try ParquetFileWriter.write(batch, to: plainPath, options: options)
        options.repetitiveTextColumns = ["line"]
        options.unboundedColumns = ["line"]
        let path = dir.file("text.parquet")
        let summary = try ParquetFileWriter.write(batch, to: path, options: options)
        #expect(summary.columnStatistics[0].min == nil && summary.columnStatistics[0].max == nil)
        #expect(summary.columnStatistics[0].nullCount == 300)
        #expect(summary.columnStatistics[1].min == .string("ORD-900000"))
        #expect(canonicalRows(try ParquetFileReader(path: path).readAll()) == canonicalRows(batch))

        let script = pythonCanonical + Python.duckdbPrelude + """
        import pyarrow.parquet as pq
        path, plain = sys.argv[1], sys.argv[2]
        f = pq.ParquetFile(path)
        meta = f.metadata
        stats = [[meta.row_group(rg).column(c).statistics.has_min_max, meta.row_group(rg).column(c).statistics.null_count]
                 for rg in range(meta.num_row_groups) for c in range(meta.num_columns)]
        sizes = [sum(pq.ParquetFile(p).metadata.row_group(rg).column(0).total_compressed_size
                     for rg in range(pq.ParquetFile(p).metadata.num_row_groups)) for p in (path, plain)]
        duck = duckdb.connect().execute("SELECT * FROM read_parquet(?)", [path]).fetchall()
        print(json.dumps({"arrow_rows": [[canon(v) for v in r.values()] for r in f.read().to_pylist()],
                          "duck_rows": [[canon(v) for v in r] for r in duck], "stats": stats, "sizes": sizes}))
        """
        let out = try #require(try Python.json(script, [path, plainPath], python: python) as? [String: Any])
        #expect(decodeRows(out["arrow_rows"] as Any) == canonicalRows(batch))
        #expect(decodeRows(out["duck_rows"] as Any) == canonicalRows(batch))
        let stats = try #require(out["stats"] as? [[Any]])
        #expect(stats.count == 6)
        for (i, s) in stats.enumerated() {
            // line: no bounds, 100 nulls per row group; order_id: bounds, no nulls.
            #expect(s[0] as? Bool == (i % 2 == 1), "row group \(i / 2) column \(i % 2)")
            #expect(s[1] as? Int == (i % 2 == 0 ? 100 : 0), "row group \(i / 2) column \(i % 2)")
        }
        let sizes = try #require(out["sizes"] as? [Int])
        #expect(sizes.count == 2 && sizes[0] < sizes[1], "repetitive-text pages \(sizes) should be smaller than level 1's")
    }

    /// Files written by DuckDB (zstd and its default snappy) and pyarrow (zstd, with and
    /// without dictionary, data page v1; decimals as FIXED_LEN_BYTE_ARRAY) read identically.
    /// DuckDB 2.0.1 writes by default what 1.5.5 does (format 1.0, data page v1, PLAIN and
    /// PLAIN_DICTIONARY, snappy); the encodings each file holds are checked below, so a change of
    /// default in a newer peer shows here first.
    @Test(arguments: Python.parquetPeers)
    func weReadDuckDBAndPyarrowFiles(python: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let script = pythonCanonical + Python.duckdbPrelude + """
        import pyarrow as pa, pyarrow.parquet as pq
        out = sys.argv[1]
        con = duckdb.connect()
        con.execute('''CREATE TABLE t AS SELECT
            'ORD-' || (i // 3)::VARCHAR AS order_id,
            ['web','mobile','api'][1 + i % 3] AS channel,
            (i % 7)::INTEGER AS qty,
            i::BIGINT * 1000003 AS big,
            ((i % 50) * 19.99)::DECIMAL(18,2) AS price,
            TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_microseconds(i::BIGINT * 1234567) AS ts,
            DATE '2024-01-01' + (i % 30)::INTEGER AS d,
            CASE WHEN i % 5 = 0 THEN NULL ELSE (i * 0.25)::DOUBLE END AS w,
            CASE WHEN i % 4 = 0 THEN NULL ELSE i % 2 = 0 END AS b,
            CASE WHEN i % 3 = 0 THEN NULL ELSE 'c' || (i % 11)::VARCHAR END AS s
            FROM range(5000) r(i)''')
        con.execute(f"COPY t TO '{out}/duck_zstd.parquet' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 2048)")
        con.execute(f"COPY t TO '{out}/duck_snappy.parquet' (FORMAT parquet)")
        con.execute(f"COPY t TO '{out}/duck_v2.parquet' (FORMAT parquet, PARQUET_VERSION V2)")
        # The codecs a DuckLake's parquet_compression option can name besides zstd and snappy.
        for codec in ["gzip", "brotli", "lz4"]:
            con.execute(f"COPY t TO '{out}/duck_{codec}.parquet' (FORMAT parquet, COMPRESSION {codec}, ROW_GROUP_SIZE 2048)")
        # to_arrow_table: DuckDB 2.0 dropped the connection's arrow(); both peers have this one.
        table = con.execute("SELECT * FROM t").to_arrow_table()
        pq.write_table(table, f"{out}/arrow_dict.parquet", compression="zstd", data_page_version="1.0", row_group_size=1500)
        pq.write_table(table, f"{out}/arrow_plain.parquet", compression="zstd", use_dictionary=False, data_page_version="1.0")
        pq.write_table(table, f"{out}/arrow_snappy.parquet", data_page_version="1.0")
        for codec in ["gzip", "brotli", "lz4"]:
            pq.write_table(table, f"{out}/arrow_{codec}.parquet", compression=codec, data_page_version="1.0", row_group_size=1700)
        # Data page v2 (levels outside the compressed values; booleans RLE-encoded), compressed and
        # not, and Spark's legacy INT96 timestamps.
        pq.write_table(table, f"{out}/arrow_pagev2.parquet", compression="zstd", data_page_version="2.0", row_group_size=1800)
        pq.write_table(table, f"{out}/arrow_pagev2_plain.parquet", compression="none", data_page_version="2.0", use_dictionary=False)
        pq.write_table(table, f"{out}/arrow_int96.parquet", compression="snappy", use_deprecated_int96_timestamps=True)
        pages = {}
        for name in ["arrow_pagev2", "arrow_int96"]:
            f = pq.ParquetFile(f"{out}/{name}.parquet")
            pages[name] = {"physical": f.schema.column(5).physical_type,
                           "bool_encodings": sorted(f.metadata.row_group(0).column(8).encodings)}
        codecs = {name: sorted({pq.ParquetFile(f"{out}/{name}.parquet").metadata.row_group(0).column(c).compression for c in range(10)})
                  for name in [p + "_" + c for p in ["duck", "arrow"] for c in ["gzip", "brotli", "lz4"]]}
        # Every version-2 encoding we read, on the types that take it.
        pq.write_table(table, f"{out}/arrow_delta.parquet", compression="zstd", use_dictionary=False, data_page_version="1.0",
                       row_group_size=2000, column_encoding={
                           "order_id": "DELTA_BYTE_ARRAY", "channel": "DELTA_LENGTH_BYTE_ARRAY", "qty": "DELTA_BINARY_PACKED",
                           "big": "DELTA_BINARY_PACKED", "price": "BYTE_STREAM_SPLIT", "ts": "DELTA_BINARY_PACKED",
                           "d": "BYTE_STREAM_SPLIT", "w": "BYTE_STREAM_SPLIT", "s": "DELTA_LENGTH_BYTE_ARRAY"})
        encodings = {}
        for name in ["duck_zstd", "duck_snappy"]:
            meta = pq.ParquetFile(f"{out}/{name}.parquet").metadata
            encodings[name] = {"created_by": meta.created_by, "format": meta.format_version,
                               "encodings": sorted({e for rg in range(meta.num_row_groups) for c in range(meta.num_columns)
                                                    for e in meta.row_group(rg).column(c).encodings})}
        v2 = {}
        for name in ["duck_v2", "arrow_delta"]:
            meta = pq.ParquetFile(f"{out}/{name}.parquet").metadata
            v2[name] = sorted({e for rg in range(meta.num_row_groups) for c in range(meta.num_columns)
                               for e in meta.row_group(rg).column(c).encodings})
        print(json.dumps({"rows": [[canon(v) for v in r] for r in con.execute("SELECT * FROM t").fetchall()],
                          "version": duckdb.__version__, "files": encodings, "v2": v2, "codecs": codecs, "pages": pages}))
        """
        let out = try #require(try Python.json(script, [dir.path], python: python) as? [String: Any])
        let expected = decodeRows(out["rows"] as Any)
        #expect(expected.count == 5_000)
        // The peer's defaults as written: format 1.0, PLAIN and dictionary (RLE only for levels).
        let version = try #require(out["version"] as? String)
        let files = try #require(out["files"] as? [String: [String: Any]])
        for (name, file) in files {
            #expect((file["created_by"] as? String)?.contains("v\(version)") == true, "\(name): \(file)")
            #expect(file["format"] as? String == "1.0", "\(name): \(file)")
            #expect(Set(file["encodings"] as? [String] ?? []).isSubset(of: ["PLAIN", "PLAIN_DICTIONARY", "RLE_DICTIONARY", "RLE"]),
                    "\(name): \(file)")
        }
        let v2 = try #require(out["v2"] as? [String: [String]])
        #expect(Set(v2["duck_v2"] ?? []).isSuperset(of: ["DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "BYTE_STREAM_SPLIT"]), "\(v2)")
        #expect(Set(v2["arrow_delta"] ?? []).isSuperset(of: ["DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY", "BYTE_STREAM_SPLIT"]), "\(v2)")
        // duck_v2: DuckDB's opt-in PARQUET_VERSION V2 (a DuckLake option too): DELTA_LENGTH_BYTE_ARRAY
        // strings, DELTA_BINARY_PACKED integers, BYTE_STREAM_SPLIT doubles (1.5.5 and 2.0.1 alike).
        // GZIP, BROTLI and LZ4 pages, as both peers write them. pyarrow names Parquet's LZ4_RAW
        // "LZ4"; that these are LZ4_RAW (codec 7) and not the deprecated LZ4 (5) shows below, where
        // our reader, which refuses the latter by name, reads them.
        let codecs = try #require(out["codecs"] as? [String: [String]])
        for p in ["duck", "arrow"] {
            #expect(codecs["\(p)_gzip"] == ["GZIP"] && codecs["\(p)_brotli"] == ["BROTLI"] && codecs["\(p)_lz4"] == ["LZ4"], "\(codecs)")
        }
        let pages = try #require(out["pages"] as? [String: [String: Any]])
        #expect(pages["arrow_int96"]?["physical"] as? String == "INT96", "\(pages)")
        #expect(pages["arrow_pagev2"]?["bool_encodings"] as? [String] == ["RLE"], "booleans RLE-encoded: \(pages)")
        let compressed = ["gzip", "brotli", "lz4"].flatMap { ["duck_\($0)", "arrow_\($0)"] } + ["arrow_pagev2", "arrow_pagev2_plain", "arrow_int96"]
        for name in ["duck_zstd", "duck_snappy", "duck_v2", "arrow_dict", "arrow_plain", "arrow_snappy", "arrow_delta"] + compressed {
            let reader = try ParquetFileReader(path: dir.file("\(name).parquet"))
            let batch = try reader.readAll()
            #expect(canonicalRows(batch) == expected, "\(name)")
            #expect(reader.schema.fields.map(\.type) == [
                .string, .string, .int32, .int64, .decimal(precision: 18, scale: 2), .timestamp, .date, .double, .bool, .string,
            ], "\(name)")
            // Footer statistics are usable for skipping on foreign files too.
            let p = ColumnPredicate("big", .gt, [.int(4_999 * 1_000_003)])
            #expect(reader.rowGroups(matching: [p]).isEmpty, "\(name)")
        }
    }

    /// The decoders other writers' files reach (data page v2 with RLE booleans, GZIP, BROTLI,
    /// LZ4_RAW, INT96), on truncated and bit-flipped copies: each read throws a ParquetError or
    /// returns the file's shape, never traps. (These files carry no page CRC, so a flipped value
    /// byte may read as another value, as in any reader: lake's own files are checksummed.)
    @Test func foreignCodecsAndPageV2SurviveCorruption() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let script = """
        import sys, pyarrow as pa, pyarrow.parquet as pq, datetime
        out = sys.argv[1]
        n = 400
        t = pa.table({"i": pa.array([i * 7 if i % 5 else None for i in range(n)], pa.int64()),
                      "s": pa.array([f"v{i % 17}" if i % 3 else None for i in range(n)]),
                      "b": pa.array([i % 2 == 0 if i % 4 else None for i in range(n)]),
                      "t": pa.array([datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=i) for i in range(n)])})
        pq.write_table(t, f"{out}/v2.parquet", data_page_version="2.0", compression="zstd")
        for codec in ["gzip", "brotli", "lz4"]:
            pq.write_table(t, f"{out}/{codec}.parquet", compression=codec)
        pq.write_table(t, f"{out}/int96.parquet", use_deprecated_int96_timestamps=True, compression="none")
        """
        try Python.run(script, [dir.path])
        var rng = SplitMix64(seed: 77)
        for name in ["v2", "gzip", "brotli", "lz4", "int96"] {
            let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file("\(name).parquet"))))
            #expect(try ParquetFileReader(path: dir.file("\(name).parquet")).readAll().count == 400, "\(name) reads whole")
            var refused = 0
            for round in 0 ..< 300 {
                var bytes = good
                if round % 4 == 0 {
                    bytes = Array(good.prefix(rng.int(0 ..< good.count)))
                } else {
                    for _ in 0 ..< 1 + rng.int(0 ..< 3) { bytes[rng.int(0 ..< good.count)] ^= UInt8(1) << UInt8(rng.int(0 ..< 8)) }
                }
                let target = dir.file("fuzz-\(name).parquet")
                try Data(bytes).write(to: URL(fileURLWithPath: target))
                do {
                    let back = try ParquetFileReader(path: target).readAll()
                    #expect(back.count == 400 && back.columns.count == 4, "\(name): a damaged file read with another shape")
                } catch is ParquetError {
                    refused += 1
                }
            }
            #expect(refused > 60, "\(name): \(refused) of 300 damaged copies refused")
        }
    }

    /// What we do not implement is named exactly in the error.
    @Test func unsupportedFeaturesAreNamed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let script = """
        import sys, pyarrow as pa, pyarrow.parquet as pq
        out = sys.argv[1]
        import decimal
        pq.write_table(pa.table({"l": pa.array([[1, 2], [3]])}), f"{out}/nested.parquet")
        pq.write_table(pa.table({"u": pa.array([1, 2**63], pa.uint64())}), f"{out}/uint64.parquet")
        """
        try Python.run(script, [dir.path])
        let cases = [("nested", "nested column"), ("uint64", "unsigned 64-bit column u")]
        for (name, phrase) in cases {
            do {
                _ = try ParquetFileReader(path: dir.file("\(name).parquet")).readAll()
                Issue.record("\(name): expected an unsupported-feature error")
            } catch let e as ParquetError {
                guard case .unsupported = e else { Issue.record("\(name): \(e)"); continue }
                #expect(e.description.contains(phrase), "\(name): \(e)")
            }
        }
    }

    /// Decimals wider than 18 digits (a column DuckDB widened to DECIMAL(38,2)): pyarrow's
    /// FIXED_LEN_BYTE_ARRAY of any length reads exactly as Int64 at its scale, Int64's bounds
    /// included, and one cent more is `valueOutOfRange` naming file and column (never a wrapped
    /// value); ours are FIXED_LEN_BYTE_ARRAY of the fewest bytes for the precision, which
    /// pyarrow and DuckDB read as the same numbers, footer statistics too.
    @Test func wideDecimalsReadExactlyAndWhatDoesNotFitIsNamed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let edge = [Int64.min, -1, 0, 1, 123_456, Int64.max]
        try Python.run("""
            import sys, decimal, pyarrow as pa, pyarrow.parquet as pq
            out = sys.argv[1]
            v = [decimal.Decimal(int(x)).scaleb(-2) for x in sys.argv[2].split(",")]
            t = pa.table({"d20": pa.array(v, pa.decimal128(20, 2)), "d38": pa.array(v, pa.decimal128(38, 2)),
                          "d25": pa.array(v[:2] + [None] + v[3:], pa.decimal128(25, 2))})
            pq.write_table(t, f"{out}/fits.parquet", use_dictionary=False)
            pq.write_table(t, f"{out}/fits-dict.parquet", use_dictionary=True)
            big = pa.array([decimal.Decimal(1), decimal.Decimal(int(sys.argv[3])).scaleb(-2)], pa.decimal128(38, 2))
            pq.write_table(pa.table({"total": big}), f"{out}/big.parquet")
            """, [dir.path, edge.map(String.init).joined(separator: ","), "9223372036854775808"])
        for name in ["fits", "fits-dict"] {
            let back = try ParquetFileReader(path: dir.file("\(name).parquet")).readAll()
            #expect(back.schema.fields.map(\.type) == [.decimal(precision: 20, scale: 2), .decimal(precision: 38, scale: 2), .decimal(precision: 25, scale: 2)])
            #expect(back.columns[0].data == .int64(edge) && back.columns[1].data == .int64(edge), "\(name)")
            #expect(back.columns[2].isNull(2) && back.columns[2].validity?.filter { $0 }.count == 5, "\(name)")
        }
        do {
            _ = try ParquetFileReader(path: dir.file("big.parquet")).readAll()
            Issue.record("a value past Int64 was read")
        } catch let e as ParquetError {
            guard case .valueOutOfRange(let path, let column, _) = e else { Issue.record("\(e)"); return }
            #expect(path.hasSuffix("big.parquet") && column == "total", "\(e)")
        }

        // `lake verify` goes on past such a column: damage in a later column is still found
        // (it outranks "unsupported"), and without damage the value is what is reported.
        try Python.run("""
            import sys, decimal, pyarrow as pa, pyarrow.parquet as pq
            out = sys.argv[1]
            t = pa.table({"total": pa.array([decimal.Decimal(1), decimal.Decimal(sys.argv[2])], pa.decimal128(38, 2)),
                          "n": pa.array([7, 8], pa.int64())})
            for name in ("big2", "big2-damaged"):
                pq.write_table(t, f"{out}/{name}.parquet", compression="NONE", use_dictionary=False, write_page_checksum=True)
            n = pq.ParquetFile(f"{out}/big2.parquet").metadata.row_group(0).column(1)
            last = n.data_page_offset + n.total_compressed_size - 1
            with open(f"{out}/big2-damaged.parquet", "r+b") as f:
                f.seek(last); b = f.read(1); f.seek(last); f.write(bytes([b[0] ^ 0xFF]))
            """, [dir.path, "92233720368547758.08"])
        do {
            _ = try ParquetFileReader(path: dir.file("big2-damaged.parquet")).verifyPages()
            Issue.record("a damaged page after a value past Int64 passed verification")
        } catch let e as ParquetError {
            guard case .pageChecksumMismatch(_, let column, _, _, _, _) = e else { Issue.record("not the damage: \(e)"); return }
            #expect(column == "n", "\(e)")
        }
        #expect(throws: ParquetError.self) { _ = try ParquetFileReader(path: dir.file("big2.parquet")).verifyPages() }
        do { _ = try ParquetFileReader(path: dir.file("big2.parquet")).verifyPages() } catch let e as ParquetError {
            guard case .valueOutOfRange(_, let column, _) = e else { Issue.record("\(e)"); return }
            #expect(column == "total", "\(e)")
        }

        // Ours: FIXED_LEN_BYTE_ARRAY(9) for 20 digits, (16) for 38; the peers read our values and bounds.
        let schema = Schema([Field("d20", .decimal(precision: 20, scale: 2), nullable: true), Field("d38", .decimal(precision: 38, scale: 2), nullable: true)])
        let validity = edge.indices.map { $0 != 2 }
        let batch = RecordBatch(schema: schema, columns: [Column(.int64(edge), validity: validity), Column(.int64(edge))])
        let ours = dir.file("ours.parquet")
        try ParquetFileWriter.write(batch, to: ours)
        #expect(try ParquetFileReader(path: ours).readAll() == batch)
        for python in Python.parquetPeers {
            let seen = try Python.json("""
                import sys, json, pyarrow.parquet as pq, duckdb
                f = pq.ParquetFile(sys.argv[1]); rg = f.metadata.row_group(0)
                cols = [f.schema.column(i) for i in range(2)]
                print(json.dumps({"layout": [[c.physical_type, c.length, str(c.logical_type)] for c in cols],
                    "pyarrow": [["null" if x is None else str(x) for x in f.read().column(i).to_pylist()] for i in range(2)],
                    "stats": [[str(rg.column(i).statistics.min), str(rg.column(i).statistics.max)] for i in range(2)],
                    "duckdb": [list(map(str, r)) for r in duckdb.sql(f"SELECT sum(d20), sum(d38), count(d20) FROM '{sys.argv[1]}'").fetchall()]}))
                """, [ours], python: python) as? [String: Any]
            let layout = seen?["layout"] as? [[Any]]
            #expect(layout?.map { "\($0[0]) \($0[1])" } == ["FIXED_LEN_BYTE_ARRAY 9", "FIXED_LEN_BYTE_ARRAY 16"], "\(python): \(String(describing: layout))")
            let text = edge.map { DecimalText.format($0, scale: 2) }
            #expect((seen?["pyarrow"] as? [[String]])?[1] == text, "\(python)")
            #expect((seen?["pyarrow"] as? [[String]])?[0] == text.enumerated().map { $0.offset == 2 ? "null" : $0.element }, "\(python)")
            let bounds = [DecimalText.format(Int64.min, scale: 2), DecimalText.format(Int64.max, scale: 2)]
            #expect(seen?["stats"] as? [[String]] == [bounds, bounds], "\(python): \(String(describing: seen?["stats"]))")
            #expect((seen?["duckdb"] as? [[String]])?.first == ["1234.55", "1234.55", "5"], "\(python): \(String(describing: seen?["duckdb"]))")
        }
    }

    /// Columns this reader cannot decode (LIST, STRUCT, MAP, a 16-byte FIXED_LEN_BYTE_ARRAY as
    /// DuckDB writes a UUID) sit between readable ones: the readable columns decode from their
    /// own column chunks (a nested column has several), footer statistics come from the right
    /// chunk, reading "all columns" refuses rather than drop one, and verification checks the
    /// opaque columns' pages by CRC: a flipped byte in one is found and named.
    @Test(arguments: [true, false])
    func columnsBesideOnesItCannotDecodeRead(dictionary: Bool) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("mixed.parquet")
        let script = """
        import sys, json, decimal, pyarrow as pa, pyarrow.parquet as pq
        n = 3000
        t = pa.table({
            "a": pa.array(range(n), pa.int64()),
            "tags": pa.array([None if i % 7 == 0 else ["t%d" % i, "x"] for i in range(n)], pa.list_(pa.string())),
            "c": pa.array(["v%d" % (i % 50) for i in range(n)]),
            "s": pa.array([{"x": i, "y": "y%d" % i} for i in range(n)], pa.struct([("x", pa.int32()), ("y", pa.string())])),
            "m": pa.array([[("k", i)] for i in range(n)], pa.map_(pa.string(), pa.int32())),
            "u": pa.array([i.to_bytes(16, "big") for i in range(n)], pa.binary(16)),
            "d": pa.array([decimal.Decimal(i) / 100 for i in range(n)], pa.decimal128(18, 2)),
        })
        pq.write_table(t, sys.argv[1], row_group_size=1000, use_dictionary=sys.argv[2] == "1", compression="zstd",
                       data_page_version="1.0", write_page_checksum=True)
        md = pq.ParquetFile(sys.argv[1]).metadata.row_group(1)
        # Where the second row group's chunk of tags' one leaf lies: a byte to flip.
        c = md.column(1)
        start = c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset
        print(json.dumps({"tags": [start, c.total_compressed_size],
                          "leaves": md.num_columns}))
        """
        let info = try #require(try Python.json(script, [path, dictionary ? "1" : "0"]) as? [String: Any])
        let reader = try ParquetFileReader(path: path)
        #expect(reader.schema.fields.map(\.name) == ["a", "c", "d"])
        #expect(reader.opaqueColumns.map(\.name) == ["tags", "s", "m", "u"])
        let reasons = reader.opaqueColumns.map(\.reason)
        #expect(reasons[0].contains("LIST") && reasons[1].contains("STRUCT") && reasons[2].contains("MAP") && reasons[3].contains("FIXED_LEN_BYTE_ARRAY"), "\(reasons)")
        #expect(info["leaves"] as? Int == 9, "a, tags' element, c, s.x, s.y, m's key and value, u, d")

        let batch = try reader.readAll(columns: [0, 1, 2])
        #expect(batch.count == 3000)
        guard case .int64(let a) = batch.columns[0].data, case .int64(let d) = batch.columns[2].data else {
            Issue.record("a and d decode as int64: \(batch.schema)"); return
        }
        #expect(a == (0 ..< 3000).map(Int64.init))
        #expect(d == (0 ..< 3000).map(Int64.init), "d in cents")
        #expect((0 ..< 3000).allSatisfy { batch.columns[1].string(at: $0) == "v\($0 % 50)" })
        // d's statistics are read from d's chunk (the 8th), not the 3rd (c's).
        #expect(reader.rowGroups(matching: [ColumnPredicate("d", .gt, [.int(1_999)])]) == [2])
        #expect(reader.rowGroups(matching: [ColumnPredicate("c", .eq, [.string("v7")])]) == [0, 1, 2])

        do {
            _ = try reader.readAll()
            Issue.record("reading every column must refuse, not leave tags out")
        } catch let e as ParquetError {
            #expect(e.description.contains("column tags: a nested column (LIST)"), "\(e)")
        }
        let counts = try reader.verifyPages()
        #expect(counts.pages == counts.checksummed && counts.pages >= 3 * 9, "\(counts)")

        // One byte flipped inside tags' second-row-group chunk: found by its page CRC.
        let span = try #require(info["tags"] as? [Int])
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[span[0] + span[1] - 3] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let flipped = try ParquetFileReader(path: path)
        #expect(try flipped.readAll(columns: [0, 1, 2]).count == 3000, "the readable columns do not touch tags' pages")
        do {
            _ = try flipped.verifyPages()
            Issue.record("a flipped byte in an opaque column's page must fail verification")
        } catch let e as ParquetError {
            #expect(e.description.contains("tags"), "\(e)")
        }
    }
}
