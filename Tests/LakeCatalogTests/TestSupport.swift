import Foundation
import LakeFormat
import LakeTestSupport
@testable import LakeCatalog

/// A fresh directory under the system temp dir, removed by the caller via `cleanup`.
struct TempDir {
    let url: URL

    init(_ label: String = "lake-catalog") throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// Stats for every column of a table with given per-column (min, max, nulls), so tests can
/// register files without real Parquet behind them.
func stats(_ table: TableInfo, _ values: [String: (String?, String?, Int64)] = [:]) -> [Int64: ColumnStats] {
    var out: [Int64: ColumnStats] = [:]
    for c in table.columns {
        let v = values[c.name] ?? (nil, nil, 0)
        out[c.columnID] = ColumnStats(min: v.0, max: v.1, nullCount: v.2)
    }
    return out
}

/// Writes a placeholder file at the data file's location so vacuum has something to delete.
func touch(_ url: URL, bytes: Int = 16) throws {
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(repeating: 0x50, count: bytes).write(to: url)
}

let orderFields: [Field] = [
    Field("order_id", .int64),
    Field("order_date", .date),
    Field("channel", .string),
    Field("amount", .decimal(precision: 12, scale: 2), nullable: true),
    Field("placed_at", .timestamp, nullable: true),
]

/// Creates curated.orders partitioned by (order_date, channel) and returns its table id.
@discardableResult
func makeOrders(_ catalog: Catalog) throws -> Int64 {
    let (_, created) = try catalog.commit(message: "create orders") { tx in
        try tx.ensureSchema("curated")
        return try tx.createTable(schema: "curated", name: "orders", fields: orderFields, partitionBy: ["order_date", "channel"])
    }
    return created.tableID
}

func orderFile(_ t: TableInfo, _ name: String, date: String, channel: String, rows: Int64, size: Int64 = 1000,
               idRange: (Int64, Int64) = (1, 1)) -> NewDataFile {
    NewDataFile(relativePath: "order_date=\(date)/channel=\(channel)/\(name).parquet", recordCount: rows, fileSizeBytes: size,
                footerSize: 100, partitionValues: ["order_date": date, "channel": channel],
                columnStats: stats(t, ["order_id": (String(idRange.0), String(idRange.1), 0),
                                       "order_date": (date, date, 0), "channel": (channel, channel, 0),
                                       "amount": ("1.00", "9.99", 1)]))
}

// MARK: Python peer

enum Python {
    /// The interpreter CI provides: $LAKE_PYTHON, else <package root>/.venv/bin/python.
    static var executable: URL {
        if let p = ProcessInfo.processInfo.environment["LAKE_PYTHON"], !p.isEmpty { return URL(fileURLWithPath: p) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".venv/bin/python")
    }

    /// DuckDB 1.4.4 (DuckLake 0.3), only to make inputs for the upgrade tests.
    static var duckdb14: URL { URL(fileURLWithPath: LakeTestSupport.Python.duckdb14Executable) }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Shared by every script: `duck()` from LakeTestSupport (DuckDB's ducklake and sqlite
    /// extensions loaded by path from the venv, no network), plus `connect()`, which pins the
    /// session to UTC so timestamps print as the catalog stores them.
    static let prelude = LakeTestSupport.Python.duckdbPrelude + """
    def connect():
        c = duck()
        c.execute("SET TimeZone = 'UTC'")
        return c

    """

    /// Runs `script` (prelude prepended) with `args`; returns stdout. Fails, never skips, when
    /// python is missing: CI always provides it.
    static func run(_ script: String, args: [String] = [], in dir: URL, python: URL? = nil) throws -> String {
        let result = try PythonPeerServer.run(source: prelude + script, arguments: args, python: (python ?? executable).path)
        guard result.status == 0 else {
            throw Failure(description: "python exited \(result.status):\n\(String(decoding: result.stderr, as: UTF8.self))")
        }
        return String(decoding: result.stdout, as: UTF8.self)
    }

    static func json(_ script: String, args: [String] = [], in dir: URL, python: URL? = nil) throws -> Any {
        let text = try run(script, args: args, in: dir, python: python)
        guard let line = text.split(separator: "\n").last else { throw Failure(description: "no output") }
        return try JSONSerialization.jsonObject(with: Data(line.utf8))
    }
}
