import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LakeTestSupport
import Testing

/// The debug binary `swift build` leaves in the package (the test command builds it first).
let lakeBinary = packageRoot.appendingPathComponent(".build/debug/lake")

struct CommandResult { var status: Int32; var out: String; var err: String }

/// Runs the built `lake` binary from the repository root (its default registry is ./schemas).
func lake(_ arguments: [String]) throws -> CommandResult {
    let p = Process()
    p.executableURL = lakeBinary
    p.arguments = arguments
    p.currentDirectoryURL = packageRoot
    let dir = try TemporaryDirectory("lake-cmd")
    defer { dir.remove() }
    #expect(FileManager.default.createFile(atPath: dir.file("o"), contents: nil))
    #expect(FileManager.default.createFile(atPath: dir.file("e"), contents: nil))
    p.standardOutput = FileHandle(forWritingAtPath: dir.file("o"))
    p.standardError = FileHandle(forWritingAtPath: dir.file("e"))
    try p.run()
    p.waitUntilExit()
    return CommandResult(status: p.terminationStatus, out: try String(contentsOfFile: dir.file("o"), encoding: .utf8),
                         err: try String(contentsOfFile: dir.file("e"), encoding: .utf8))
}

struct TestFailure: Error, CustomStringConvertible { var description: String }

/// A small lake built once for the suite through the CLI: catalog, inventory and 1 500 orders
/// over 10 days in one commit, then 500 more in a second, so `as_of` has two order snapshots.
/// Tests that write copy it first (`copy()`).
final class LakeFixture: Sendable {
    static let shared: Result<LakeFixture, any Error> = Result { try LakeFixture() }
    let dir: TemporaryDirectory
    var root: String { dir.file("lake") }
    var sources: String { dir.file("src") }
    let token = "s3cret-token-for-tests"
    var tokens: String { dir.file("tokens") }
    /// The snapshot after the first orders commit, and the latest one.
    let firstOrders: Int64
    let latest: Int64

    init() throws {
        guard FileManager.default.isExecutableFile(atPath: lakeBinary.path) else { throw TestFailure(description: "run `swift build` first: \(lakeBinary.path)") }
        dir = try TemporaryDirectory("lake-serve")
        let src = dir.file("src"), more = dir.file("more"), root = dir.file("lake")
        for args in [
            ["generate", "--out", src, "--orders", "1500", "--days", "10", "--start", "2024-01-10"],
            // Order ids follow the line's position, so a longer file repeats the first 1 500
            // (rejected as duplicates) and adds 500 new orders.
            ["generate", "--out", more, "--orders", "2000", "--days", "10", "--start", "2024-01-10"],
            ["init", "--lake", root],
            ["ingest", "catalog", "--lake", root, src + "/product_catalog.json"],
            ["ingest", "inventory", "--lake", root, src + "/inventory_updates.csv"],
            ["ingest", "orders", "--lake", root, src + "/orders_stream.jsonl"],
        ] {
            let r = try lake(args)
            guard r.status == 0 else { throw TestFailure(description: "lake \(args.joined(separator: " ")) failed: \(r.err)") }
        }
        firstOrders = Int64(try lake(["report", "snapshots", "--lake", root, "--format", "csv"]).out.split(separator: "\n").last!.split(separator: ",")[0])!
        let r = try lake(["ingest", "orders", "--lake", root, more + "/orders_stream.jsonl"])
        guard r.status == 0 else { throw TestFailure(description: "second ingest failed: \(r.err)") }
        latest = Int64(try lake(["report", "snapshots", "--lake", root, "--format", "csv"]).out.split(separator: "\n").last!.split(separator: ",")[0])!
        let digest = try lake(["serve", "--hash-token", token]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        try "# test tokens\ntester:\(digest)\n".write(toFile: tokens, atomically: true, encoding: .utf8)
    }

    /// A private copy of the lake (its data path is relative, so the copy stands alone).
    func copy(into dir: TemporaryDirectory) throws -> String {
        let target = dir.file("lake")
        try FileManager.default.copyItem(atPath: root, toPath: target)
        return target
    }
}

/// A `lake serve` subprocess on a free loopback port; stopped (SIGTERM) by `stop()`.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    let errFile: String
    private let dir: TemporaryDirectory

    init(lake root: String, _ extra: [String]) throws {
        dir = try TemporaryDirectory("lake-serve-proc")
        errFile = dir.file("err")
        #expect(FileManager.default.createFile(atPath: errFile, contents: nil))
        process.executableURL = lakeBinary
        process.arguments = ["serve", "--lake", root, "--host", "127.0.0.1", "--port", "0"] + extra
        process.currentDirectoryURL = packageRoot
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: errFile)
        try process.run()
        // The first stdout line names the port; read byte by byte so nothing past it is consumed.
        var line = Data()
        let handle = out.fileHandleForReading
        while true {
            let b = handle.readData(ofLength: 1)
            if b.isEmpty || b == Data("\n".utf8) { break }
            line.append(b)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else {
            process.waitUntilExit()
            throw TestFailure(description: "lake serve did not start: '\(text)' \(try String(contentsOfFile: errFile, encoding: .utf8))")
        }
        self.port = port
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// SIGTERM, then the exit status (the server finishes in-flight requests first).
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    var log: String { (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? "" }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) }; dir.remove() }
}

struct HTTPResult {
    var status: Int
    var headers: [String: String]
    var body: String
    func header(_ name: String) -> String? { headers.first { $0.key.lowercased() == name.lowercased() }?.value }
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) }
}

/// One GET (or `method`) through URLSession (a real HTTP client over loopback).
func get(_ url: String, token: String? = nil, headers: [String: String] = [:], method: String = "GET") async throws -> HTTPResult {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    request.cachePolicy = .reloadIgnoringLocalCacheData
    if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
    for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
    let (data, response) = try await session.data(for: request)
    let http = response as! HTTPURLResponse
    var h: [String: String] = [:]
    for (k, v) in http.allHeaderFields { h["\(k)"] = "\(v)" }
    return HTTPResult(status: http.statusCode, headers: h, body: String(decoding: data, as: UTF8.self))
}

let session: URLSession = {
    let c = URLSessionConfiguration.ephemeral
    c.urlCache = nil
    c.timeoutIntervalForRequest = 60
    return URLSession(configuration: c)
}()
