import Foundation
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

enum TestSupport {
    /// The package root, found from this file's path (Tests/LakePipelineTests/Support.swift).
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0 ..< 3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var evaluationFiles: String { root + "/Evaluation-Files" }

    static func registry() throws -> SchemaRegistry { try SchemaRegistry.load(directory: root + "/schemas") }

    static func rules() throws -> OrderRules { try OrderRules(registry: registry()) }

    static func tempDir(_ name: String = #function) throws -> String {
        let dir = scratchRoot + "/" + name.filter { $0.isLetter || $0.isNumber } + "-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// One directory per test process holds every `tempDir`, removed when the process exits:
    /// a run leaves nothing in /tmp (it used to leave some forty directories a run).
    private static let scratchRoot: String = {
        let root = NSTemporaryDirectory() + "lake-pipeline-tests-\(ProcessInfo.processInfo.processIdentifier)"
        atexit {
            let root = NSTemporaryDirectory() + "lake-pipeline-tests-\(ProcessInfo.processInfo.processIdentifier)"
            try? FileManager.default.removeItem(atPath: root)  // best effort at exit: nothing left to report to
        }
        return root
    }()

    /// The Python used for independent cross-checks: $LAKE_PYTHON, else <root>/.venv/bin/python.
    /// A missing interpreter is a failure, not a skip: the cross-checks are the point.
    static func python() throws -> String {
        let path = ProcessInfo.processInfo.environment["LAKE_PYTHON"] ?? root + "/.venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestFailure("no Python at \(path): set LAKE_PYTHON or run scripts/setup.sh --python")
        }
        return path
    }

    /// Runs `script` with the test Python and returns its stdout, failing on a non-zero exit.
    static func runPython(_ script: String, args: [String] = []) throws -> Data {
        let result = try PythonPeerServer.run(source: script, arguments: args, python: try python())
        guard result.status == 0 else {
            throw TestFailure("python failed (\(result.status)): \(String(decoding: result.stderr, as: UTF8.self))")
        }
        return result.stdout
    }

    /// Validates every line of a JSONL file in one batch.
    static func validate(_ path: String, catalog: ProductCatalog, committed: (any OrderIDLookup)? = nil) throws -> ValidatedOrders {
        var out: ValidatedOrders?
        try OrderValidator.validateFile(path: path, rules: rules(), catalog: catalog, batchID: "test", ingestTimeMicros: 1_706_745_600_000_000,
                                        committed: committed, drainEvery: .max) { out = $0 }
        guard let result = out else { throw TestFailure("no batch produced") }
        return result
    }

    /// Parses one order line, returning the order or the error.
    static func parse(_ line: String, map: OrderFieldMap? = nil) throws -> Result<ParsedOrder, OrderLineError> {
        var parser = OrderLineParser(map: try map ?? rules().fieldMap)
        var bytes = Array(line.utf8)
        return bytes.withUnsafeMutableBytes { raw in
            do throws(OrderLineError) {
                try parser.parse(UnsafeRawBufferPointer(raw))
                return .success(parser.order)
            } catch {
                return .failure(error)
            }
        }
    }

    static func column(_ b: RecordBatch, _ name: String) -> Column { b.column(name)! }

    static func strings(_ b: RecordBatch, _ name: String) -> [String?] {
        let c = column(b, name)
        return (0 ..< c.count).map { c.string(at: $0) }
    }

    static func int64s(_ b: RecordBatch, _ name: String) -> [Int64] {
        guard case .int64(let v) = column(b, name).data else { return [] }
        return v
    }

    static func int32s(_ b: RecordBatch, _ name: String) -> [Int32] {
        guard case .int32(let v) = column(b, name).data else { return [] }
        return v
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The lines of a fault-free generated orders stream (written under `dir`).
func generatedOrderLines(orders: Int, days: Int, schemaVersion: Int, into dir: String) throws -> [Substring] {
    var config = GeneratorConfig()
    config.orders = orders
    config.days = days
    config.faults = .none
    config.schemaVersion = schemaVersion
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    _ = try OrderGenerator.generate(config, into: dir)
    return try String(contentsOfFile: dir + "/orders_stream.jsonl", encoding: .utf8).split(separator: "\n")
}
