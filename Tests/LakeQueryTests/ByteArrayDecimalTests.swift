import Foundation
import LakeTestSupport
import Testing

/// DECIMAL columns stored as BYTE_ARRAY (big-endian two's complement of each value's own length,
/// as Spark, Hive and parquet-mr write them) had no test: pyarrow 26 and DuckDB write decimals
/// as INT32, INT64 or FIXED_LEN_BYTE_ARRAY only, so the file is written here byte by byte (one
/// PLAIN page per column) and checked against both peers before lake reads it. DuckDB 1.5.5
/// registers it in the lake (`ducklake_add_data_files`, where it lies, outside the root); lake
/// reads the same values, sums them exactly, compacts them, and refuses a value past the 18
/// digits it holds by saying so. The compaction of a table whose files all lay outside the root
/// failed at its commit ("must be relative to the table directory"): its output now goes to the
/// table's directory.
@Suite(.serialized) struct ByteArrayDecimalTests {
    /// argv: path, JSON rows [id, amount text or null, pad to 16 bytes], precision (scale 2).
    static let writer = #"""
    import struct, sys, json
    from decimal import Decimal
    def varint(n):
        out = bytearray()
        while True:
            b = n & 0x7F; n >>= 7
            if n: out.append(b | 0x80)
            else: out.append(b); return bytes(out)
    def zz(n): return (n << 1) ^ (n >> 63)
    
    class S:  # a thrift compact struct
        def __init__(self): self.b = bytearray(); self.last = 0
        def head(self, fid, t):
            d = fid - self.last
            if 0 < d <= 15: self.b.append((d << 4) | t)
            else: self.b.append(t); self.b += varint(zz(fid))
            self.last = fid
        def i32(self, fid, v): self.head(fid, 5); self.b += varint(zz(v)); return self
        def i64(self, fid, v): self.head(fid, 6); self.b += varint(zz(v)); return self
        def bin(self, fid, v): self.head(fid, 8); v = v.encode() if isinstance(v, str) else v; self.b += varint(len(v)) + v; return self
        def struct(self, fid, s): self.head(fid, 12); self.b += s.end(); return self
        def lst(self, fid, et, items):
            self.head(fid, 9)
            n = len(items)
            self.b.append((n << 4) | et if n < 15 else 0xF0 | et)
            if n >= 15: self.b += varint(n)
            for it in items:
                if et == 5: self.b += varint(zz(it))
                elif et == 8: it = it.encode(); self.b += varint(len(it)) + it
                elif et == 12: self.b += it.end()
            return self
        def end(self): return bytes(self.b) + b"\x00"
    
    def column_page(values, plain):
        # OPTIONAL column: RLE definition levels (runs), then PLAIN values of the non-null ones.
        levels = bytearray(); i = 0
        while i < len(values):
            d = 0 if values[i] is None else 1; j = i
            while j < len(values) and (0 if values[j] is None else 1) == d: j += 1
            levels += varint((j - i) << 1) + bytes([d]); i = j
        body = struct.pack("<I", len(levels)) + bytes(levels) + b"".join(plain(v) for v in values if v is not None)
        dph = S().i32(1, len(values)).i32(2, 0).i32(3, 3).i32(4, 3)
        ph = S().i32(1, 0).i32(2, len(body)).i32(3, len(body)).struct(5, dph)
        return ph.end() + body
    
    def two(v, pad):
        n = 1
        while not (-(1 << (8 * n - 1)) <= v < (1 << (8 * n - 1))): n += 1
        return v.to_bytes(16 if pad else n, "big", signed=True)
    
    path, spec = sys.argv[1], json.loads(sys.argv[2])
    precision = int(sys.argv[3]) if len(sys.argv) > 3 else 18
    ids = [r[0] for r in spec]
    amounts = [None if r[1] is None else int(Decimal(r[1]) * 100) for r in spec]
    pads = [r[2] for r in spec]
    out = bytearray(b"PAR1")
    chunks = []
    off = len(out)
    page = column_page(ids, lambda v: struct.pack("<q", v)); out += page
    chunks.append((2, "id", off, len(page), len(ids)))
    off = len(out)
    enc = [None if a is None else two(a, p) for a, p in zip(amounts, pads)]
    page = column_page(enc, lambda b: struct.pack("<I", len(b)) + b); out += page
    chunks.append((6, "amount", off, len(page), len(enc)))
    cols = [S().i64(2, o).struct(3, S().i32(1, t).lst(2, 5, [0, 3]).lst(3, 8, [n]).i32(4, 0).i64(5, nv).i64(6, size).i64(7, size).i64(9, o))
            for t, n, o, size, nv in chunks]
    schema = [S().bin(4, "schema").i32(5, 2),
              S().i32(1, 2).i32(3, 1).bin(4, "id"),
              S().i32(1, 6).i32(3, 1).bin(4, "amount").i32(6, 5).i32(7, 2).i32(8, precision).struct(10, S().struct(5, S().i32(1, 2).i32(2, precision)))]
    rg = S().lst(1, 12, cols).i64(2, sum(c[3] for c in chunks)).i64(3, len(ids))
    meta = S().i32(1, 1).lst(2, 12, schema).i64(3, len(ids)).lst(4, 12, [rg]).bin(6, "lake test (BYTE_ARRAY decimal)").end()
    out += meta + struct.pack("<I", len(meta)) + b"PAR1"
    open(path, "wb").write(out)
    """#

    static let attach = Python.duckdbPrelude + """
        root = sys.argv[1]
        con = duck()
        con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE)")

        """

    /// Writes the rows as a BYTE_ARRAY-decimal file and checks both peers read that physical type
    /// and these values.
    static func write(_ path: String, _ rows: [(Int, String?, Bool)], precision: Int = 18) throws {
        let spec = "[" + rows.map { "[\($0.0), \($0.1.map { "\"\($0)\"" } ?? "null"), \($0.2)]" }.joined(separator: ",") + "]"
        _ = try Python.run(writer, [path, spec, String(precision)])
        let expected = rows.map { [String($0.0), $0.1 ?? "None"] }
        let peers = try Python.json(Python.duckdbPrelude + """
            import pyarrow.parquet as pq
            path = sys.argv[1]
            physical = pq.ParquetFile(path).metadata.row_group(0).column(1).physical_type
            arrow = [[str(r["id"]), str(r["amount"])] for r in pq.read_table(path).to_pylist()]
            con = duck()
            duck_rows = [[str(i), str(a)] for (i, a) in con.execute("SELECT id, amount FROM read_parquet(?)", [path]).fetchall()]
            print(json.dumps({"physical": physical, "pyarrow": arrow, "duckdb": duck_rows}))
            """, [path]) as? [String: Any]
        #expect(peers?["physical"] as? String == "BYTE_ARRAY")
        #expect(peers?["pyarrow"] as? [[String]] == expected, "pyarrow reads \(peers?["pyarrow"] ?? "nothing")")
        #expect(peers?["duckdb"] as? [[String]] == expected, "DuckDB reads \(peers?["duckdb"] ?? "nothing")")
    }

    /// lake's rows of curated.amounts as "id,amount" lines (the empty field a NULL), or its error.
    static func ours(_ root: String) throws -> (status: Int32, rows: [String], err: String) {
        let r = try runLake(["query", "curated.amounts", "--format", "csv", "--lake", root])
        let rows = r.out.split(separator: "\n").dropFirst().map(String.init).sorted { Int($0.prefix { $0 != "," })! < Int($1.prefix { $0 != "," })! }
        return (r.status, rows, r.err)
    }

    static func csv(_ rows: [(Int, String?, Bool)]) -> [String] { rows.map { "\($0.0),\($0.1 ?? "")" } }

    @Test func byteArrayDecimalsReadExactlyAndCompact() throws {
        let dir = try TemporaryDirectory("byte-array-decimal")
        defer { dir.remove() }
        let root = dir.file("lake"), outside = dir.file("added")
        #expect(try runLake(["init", "--lake", root]).status == 0)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        // Minimal lengths (1 to 8 bytes) and values padded to 16 bytes (sign-extended).
        let a: [(Int, String?, Bool)] = [(1, "12.34", false), (2, "-0.01", false), (3, nil, false), (4, "9999999999999999.99", false),
                                         (5, "-9999999999999999.99", true), (6, "0.00", true), (7, "1.28", false), (8, "-1.29", true)]
        let b: [(Int, String?, Bool)] = [(9, "-5.55", true), (10, "100.00", false), (11, "-1.28", false)]
        try Self.write(outside + "/a.parquet", a)
        try Self.write(outside + "/b.parquet", b)
        let duck = try Python.json(Self.attach + """
            con.execute("CREATE TABLE l.curated.amounts (id BIGINT, amount DECIMAL(18,2))")
            for f in sys.argv[2:]:
                con.execute(f"CALL ducklake_add_data_files('l', 'amounts', '{f}', schema => 'curated')")
            (s, n) = con.execute("SELECT CAST(sum(amount) AS VARCHAR), count(amount) FROM l.curated.amounts").fetchone()
            print(json.dumps([s, str(n)]))
            """, [root, outside + "/a.parquet", outside + "/b.parquet"]) as? [String]
        #expect(duck == ["105.49", "10"], "DuckDB: \(duck ?? [])")
        var r = try Self.ours(root)
        #expect(r.status == 0 && r.rows == Self.csv(a + b), "\(r.rows) \(r.err)")
        let sum = try runLake(["query", "curated.amounts", "--agg", "sum(amount)", "--agg", "count(amount)", "--format", "csv", "--lake", root])
        #expect(sum.status == 0 && sum.out.split(separator: "\n").last.map(String.init) == duck?.joined(separator: ","), "\(sum.out) \(sum.err)")
        #expect(try runLake(["verify", "--lake", root]).status == 0)

        // lake rewrites them in its own encoding, into the lake: the same values, for both.
        let compact = try runLake(["compact", "curated.amounts", "--lake", root])
        #expect(compact.status == 0 && compact.out.contains("2 files -> 1"), "\(compact.out) \(compact.err)")
        r = try Self.ours(root)
        #expect(r.status == 0 && r.rows == Self.csv(a + b), "after the compaction: \(r.rows) \(r.err)")
        let after = try Python.json(Self.attach + """
            print(json.dumps([str(i) + "," + ("" if v is None else str(v)) for (i, v) in con.execute("SELECT id, amount FROM l.curated.amounts ORDER BY id").fetchall()]))
            """, [root]) as? [String]
        #expect(after == Self.csv(a + b), "DuckDB reads the compacted file as \(after ?? [])")
        #expect(try runLake(["verify", "--lake", root]).status == 0)
    }

    @Test func aWideByteArrayDecimalReadsToInt64AndRefusesPastIt() throws {
        let dir = try TemporaryDirectory("byte-array-decimal-38")
        defer { dir.remove() }
        let root = dir.file("lake"), outside = dir.file("added")
        #expect(try runLake(["init", "--lake", root]).status == 0)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        // Int64's bounds in cents: 8 bytes, or 16 padded.
        let edge: [(Int, String?, Bool)] = [(1, "12.34", false), (2, "-92233720368547758.08", false), (3, "92233720368547758.07", true)]
        try Self.write(outside + "/edge.parquet", edge, precision: 38)
        _ = try Python.run(Self.attach + """
            con.execute("CREATE TABLE l.curated.amounts (id BIGINT, amount DECIMAL(38,2))")
            con.execute(f"CALL ducklake_add_data_files('l', 'amounts', '{sys.argv[2]}', schema => 'curated')")
            """, [root, outside + "/edge.parquet"])
        var r = try Self.ours(root)
        #expect(r.status == 0 && r.rows == Self.csv(edge), "\(r.rows) \(r.err)")

        let past: [(Int, String?, Bool)] = [(4, "1000000000000000000000.00", false), (5, "92233720368547758.08", false)]
        try Self.write(outside + "/past.parquet", past, precision: 38)
        _ = try Python.run(Self.attach + """
            con.execute(f"CALL ducklake_add_data_files('l', 'amounts', '{sys.argv[2]}', schema => 'curated')")
            """, [root, outside + "/past.parquet"])
        r = try Self.ours(root)
        #expect(r.status == 1 && r.err.contains("past.parquet") && r.err.contains("does not fit the 18 digits"), "\(r.status) \(r.rows) \(r.err)")
    }
}
