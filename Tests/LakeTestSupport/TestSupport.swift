import Foundation

/// The repository root, found from this file's location (Tests/LakeTestSupport/…).
public let packageRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A fresh directory under the system temp dir, removed when the value is released by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let url: URL
    public var path: String { url.path }

    public init(_ label: String = "lake-test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    public func remove() { try? FileManager.default.removeItem(at: url) }
}

public struct PeerError: Error, CustomStringConvertible {
    public var description: String
}

/// Runs Python with the venv that holds the independent peers (DuckDB 1.4.4, its ducklake and
/// sqlite extensions, pyarrow). Interop tests fail, never skip, when it is missing: the test
/// command (scripts/test.sh) always provides it through LAKE_PYTHON.
public enum Python {
    public static var executable: String {
        ProcessInfo.processInfo.environment["LAKE_PYTHON"] ?? packageRoot.appendingPathComponent(".venv/bin/python").path
    }

    /// Python code that defines `duck()`: a DuckDB connection with ducklake and sqlite loaded
    /// from the extension files the pip packages install.
    public static let duckdbPrelude = """
    import duckdb, glob, os, sys, json
    def duck():
        base = glob.glob(sys.prefix + "/lib/python*/site-packages/duckdb_ext/extensions/v*/*")[0]
        con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
        con.execute(f"LOAD '{base}/sqlite_scanner.duckdb_extension'")
        con.execute(f"LOAD '{base}/ducklake.duckdb_extension'")
        return con

    """

    /// Runs `script` with `arguments` and returns its standard output; throws with stderr on failure.
    @discardableResult
    public static func run(_ script: String, _ arguments: [String] = []) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw PeerError(description: "no Python peer at \(executable): run scripts/setup.sh --python or set LAKE_PYTHON")
        }
        let dir = try TemporaryDirectory("py")
        defer { dir.remove() }
        let scriptPath = dir.file("script.py")
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [scriptPath] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes to the end before waiting, so a chatty script cannot block on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var stderrData = Data()
        group.enter()
        DispatchQueue.global().async {
            stderrData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        let stdout = String(decoding: stdoutData, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw PeerError(description: "python exited \(process.terminationStatus):\n\(String(decoding: stderrData, as: UTF8.self))\n\(stdout)")
        }
        return stdout
    }

    /// Runs `script` and decodes its standard output as JSON.
    public static func json(_ script: String, _ arguments: [String] = []) throws -> Any {
        let out = try run(script, arguments)
        return try JSONSerialization.jsonObject(with: Data(out.utf8), options: [.fragmentsAllowed])
    }
}
