import Foundation

/// The repository root, found from this file's location (Tests/LakeTestSupport/…).
public let packageRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A fresh directory under the system temp dir, removed when the value is released by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let url: URL
    public var path: String { url.path }

    /// `onDisk`: under /var/tmp, not `$TMPDIR` (which `scripts/test.sh` puts on tmpfs). For tests
    /// whose point depends on the disk's pace: a signal sent while a process writes (on tmpfs the
    /// work finished, and committed, between the look at the files in flight and the signal), and
    /// an ingest under a small open-file limit (on tmpfs its files closed before it ran out).
    public init(_ label: String = "lake-test", onDisk: Bool = false) throws {
        let base = onDisk ? URL(fileURLWithPath: "/var/tmp", isDirectory: true) : FileManager.default.temporaryDirectory
        url = base.appendingPathComponent("\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    public func remove() { try? FileManager.default.removeItem(at: url) }
}

public struct PeerError: Error, CustomStringConvertible {
    public var description: String
}

/// Runs Python with the venv that holds the independent peers (DuckDB 1.5.5 with its ducklake
/// and sqlite extensions, pyarrow). Interop tests fail, never skip, when it is missing: the test
/// command (scripts/test.sh) always provides it through LAKE_PYTHON, the DuckDB 1.4.4 venv
/// that makes DuckLake 0.3 inputs for the upgrade tests through LAKE_PYTHON_DUCKDB14, and the
/// newest DuckDB (2.0.1, the Parquet peer) through LAKE_PYTHON_DUCKDB2.
public enum Python {
    public static var executable: String {
        ProcessInfo.processInfo.environment["LAKE_PYTHON"] ?? packageRoot.appendingPathComponent(".venv/bin/python").path
    }

    /// The DuckDB 1.4.4 interpreter (writes DuckLake 0.3 catalogs), for the upgrade tests only.
    public static var duckdb14Executable: String {
        ProcessInfo.processInfo.environment["LAKE_PYTHON_DUCKDB14"] ?? packageRoot.appendingPathComponent(".venv-duckdb14/bin/python").path
    }

    /// The newest DuckDB (2.0.1) with pyarrow: a Parquet peer only. No ducklake, sqlite or
    /// postgres extension package exists for DuckDB 2.0 (they stop at 1.5.5), 1.5.5's files
    /// refuse to load into 2.0.1 (each is built for one version) and the tests have no network
    /// for INSTALL, so `duck()` fails there: DuckLake interop stays on `executable` (1.5.5).
    public static var duckdb2Executable: String {
        ProcessInfo.processInfo.environment["LAKE_PYTHON_DUCKDB2"] ?? packageRoot.appendingPathComponent(".venv-duckdb2/bin/python").path
    }

    /// Both Parquet peers, oldest first: the DuckDB the DuckLake tests pin and the newest one.
    public static var parquetPeers: [String] { [executable, duckdb2Executable] }

    /// Python code that defines `duck()`: a DuckDB connection with ducklake and sqlite loaded
    /// from the extension files the pip packages install, by path (no network): DuckDB 1.5's
    /// `duckdb-extension-<name>` packages keep them under extensions/v<version>/, DuckDB 1.4's
    /// `duckdb-ext-*` under duckdb_ext/extensions/v<version>/<platform>/.
    public static let duckdbPrelude = """
    import duckdb, glob, importlib, os, sys, json
    def extension_file(name, package):
        try:
            base = os.path.dirname(importlib.import_module("duckdb_extension_" + package).__file__)
            found = glob.glob(os.path.join(base, "extensions", "v" + duckdb.__version__, name + ".duckdb_extension"))
        except ImportError:
            found = glob.glob(os.path.join(sys.prefix, "lib", "python*", "site-packages", "duckdb_ext", "extensions",
                                           "v" + duckdb.__version__, "*", name + ".duckdb_extension"))
        if not found:
            raise SystemExit("no " + name + " extension for DuckDB " + duckdb.__version__ + " under " + sys.prefix)
        return found[0]
    def duck():
        con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
        con.execute("LOAD '" + extension_file("sqlite_scanner", "sqlite_scanner") + "'")
        con.execute("LOAD '" + extension_file("ducklake", "ducklake") + "'")
        return con
    def insert_duck_order(c, lake, order_id, channel):
        # One confirmed order of 100.05 EUR on 2024-01-03 for CUST-DUCK, as DuckDB inserts it
        # into the lake attached as `lake` (columns the table has that the row lacks: NULL).
        cols = [r[0] for r in c.execute("DESCRIBE " + lake + ".curated.orders").fetchall()]
        row = {"order_id": "'" + order_id + "'", "customer_id": "'CUST-DUCK'", "event_time": "TIMESTAMPTZ '2024-01-03 10:00:00+00'",
               "event_date": "DATE '2024-01-03'", "channel": "'" + channel + "'", "status": "'confirmed'", "country": "'DE'",
               "item_count": "1", "order_total": "100.05", "units": "1", "currency": "'EUR'", "discount_amount": "0.00"}
        c.execute("INSERT INTO " + lake + ".curated.orders SELECT " + ", ".join(row.get(n, "NULL") for n in cols))

    """

    /// Runs `script` with `arguments` and returns its standard output; throws with stderr on failure.
    @discardableResult
    public static func run(_ script: String, _ arguments: [String] = [], python: String = executable) throws -> String {
        let result = try PythonPeerServer.run(source: script, arguments: arguments, python: python)
        let stdout = String(decoding: result.stdout, as: UTF8.self)
        guard result.status == 0 else {
            throw PeerError(description: "python exited \(result.status):\n\(String(decoding: result.stderr, as: UTF8.self))\n\(stdout)")
        }
        return stdout
    }

    /// Runs `script` and decodes its standard output as JSON.
    public static func json(_ script: String, _ arguments: [String] = [], python: String = executable) throws -> Any {
        let out = try run(script, arguments, python: python)
        do {
            return try JSONSerialization.jsonObject(with: Data(out.utf8), options: [.fragmentsAllowed])
        } catch {
            throw PeerError(description: "the script's output is not JSON (\(error)): \(out.prefix(2000))")
        }
    }
}

/// A copy of the repository's registry without any version above 1 (orders v2, raw_orders v2):
/// the registry a lake created before v2 shipped was built with.
public func registryV1Copy(_ dir: TemporaryDirectory) throws -> URL {
    let reg = dir.url.appendingPathComponent("schemas-v1")
    try FileManager.default.copyItem(at: packageRoot.appendingPathComponent("schemas"), to: reg)
    for table in try FileManager.default.contentsOfDirectory(atPath: reg.path) {
        let tdir = reg.appendingPathComponent(table)
        for file in try FileManager.default.contentsOfDirectory(atPath: tdir.path) where file != "v1.json" {
            try FileManager.default.removeItem(at: tdir.appendingPathComponent(file))
        }
    }
    return reg
}

/// Runs `executable` with `arguments` in `directory` (the package root by default) and returns
/// its exit status and output. Both pipes are read to the end before waiting, so a chatty
/// command cannot block on a full pipe.
/// `environment` adds to (or overrides) this process's environment.
public func runProcess(_ executable: String, _ arguments: [String], in directory: URL = packageRoot,
                       environment: [String: String] = [:]) throws
    -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    if !environment.isEmpty {
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    p.currentDirectoryURL = directory
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    nonisolated(unsafe) var e = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        e = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// Order lines at the top of DECIMAL(18,2) (unit price 9,000,000,000,000,000.00, one item, all
/// on 2024-01-15 web): each is valid, and twelve of them sum past Int64 cents (probe finding 1
/// of session 11). Shared by the ingest, report and server overflow tests.
public func bigMoneyOrders(_ ids: ClosedRange<Int>) -> String {
    ids.map {
        #"{"order_id": "BIG-\#($0)", "customer_id": "CUST-1", "timestamp": "2024-01-15T10:30:00Z", "channel": "web", "#
            + #""items": [{"product_id": "PROD-001", "quantity": 1, "unit_price": 9000000000000000.00}], "#
            + #""shipping_address": {"country": "US"}, "status": "confirmed"}"# + "\n"
    }.joined()
}

/// A lake (under `dir`, built by the `lake` executable) holding the evaluation catalog and
/// inventory and twelve `bigMoneyOrders` in two committed batches: the lake's confirmed revenue
/// of 2024-01-15 web (108000000000000000.00) does not fit Int64 cents.
public func bigMoneyLake(in dir: TemporaryDirectory) throws -> String {
    let root = dir.file("lake")
    try bigMoneyOrders(1 ... 6).write(toFile: dir.file("a.jsonl"), atomically: true, encoding: .utf8)
    try bigMoneyOrders(7 ... 12).write(toFile: dir.file("b.jsonl"), atomically: true, encoding: .utf8)
    let inputs = packageRoot.appendingPathComponent("Evaluation-Files")
    for args in [
        ["init", "--lake", root],
        ["ingest", "catalog", "--lake", root, inputs.appendingPathComponent("product_catalog.json").path],
        ["ingest", "inventory", "--lake", root, inputs.appendingPathComponent("inventory_updates.csv").path],
        ["ingest", "orders", "--lake", root, dir.file("a.jsonl")],
        ["ingest", "orders", "--lake", root, dir.file("b.jsonl")],
    ] {
        let r = try runProcess(packageRoot.appendingPathComponent(".build/debug/lake").path, args)
        guard r.status == 0 else { throw PeerError(description: "lake \(args.joined(separator: " ")): \(r.err)") }
    }
    return root
}

/// DuckDB 1.5.5's money figures of a lake (ducklake attach, read-only), as DuckDB prints them
/// (`CAST(sum(...) AS VARCHAR)`: DECIMAL(38,2) sums of the DECIMAL(18,2) columns), over
/// confirmed orders: "total", "channel:<c>", "daily:<date> <channel> <country>" (revenue),
/// "daily-units:…", "customer:<id>" (spend), "customer-avg:<id>" (spend / orders, rounded half
/// up to cents, as lake rounds), "product:<id>" (line revenue), "product-units:<id>", "avg"
/// (the mean confirmed order total, rounded the same way).
public func duckDBMoneyFigures(root: String) throws -> [String: String] {
    let script = Python.duckdbPrelude + """
    from decimal import Decimal, ROUND_HALF_UP
    root = sys.argv[1]
    con = duck()
    con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
    def cents(d): return str(Decimal(d).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    out = {}
    confirmed = "FROM l.curated.orders WHERE status = 'confirmed'"
    for (t,) in con.execute(f"SELECT CAST(sum(order_total) AS VARCHAR) {confirmed}").fetchall(): out["total"] = t
    for (t, n) in con.execute(f"SELECT sum(order_total), count(*) {confirmed}").fetchall(): out["avg"] = cents(Decimal(t) / n)
    for (c, t) in con.execute(f"SELECT channel, CAST(sum(order_total) AS VARCHAR) {confirmed} GROUP BY 1").fetchall(): out["channel:" + c] = t
    for (d, c, k, t, u) in con.execute(f"SELECT CAST(event_date AS VARCHAR), channel, country, CAST(sum(order_total) AS VARCHAR), CAST(sum(units) AS VARCHAR) {confirmed} GROUP BY 1, 2, 3").fetchall():
        out[f"daily:{d} {c} {k}"] = t
        out[f"daily-units:{d} {c} {k}"] = u
    for (c, t, s, n) in con.execute(f"SELECT customer_id, CAST(sum(order_total) AS VARCHAR), sum(order_total), count(*) {confirmed} GROUP BY 1").fetchall():
        out["customer:" + c] = t
        out["customer-avg:" + c] = cents(Decimal(s) / n)
    for (p, t, u) in con.execute("SELECT product_id, CAST(sum(line_revenue) AS VARCHAR), CAST(sum(quantity) AS VARCHAR) FROM l.curated.order_items WHERE status = 'confirmed' GROUP BY 1").fetchall():
        out["product:" + p] = t
        out["product-units:" + p] = u
    print(json.dumps(out))
    """
    guard let figures = try Python.json(script, [root]) as? [String: String] else { throw PeerError(description: "DuckDB's money figures: not a JSON object of strings") }
    return figures
}
