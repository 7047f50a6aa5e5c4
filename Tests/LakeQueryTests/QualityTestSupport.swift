import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LakeCatalog
import LakePipeline
import LakeTestSupport

/// A lake built from generator output in a temporary directory.
struct GeneratedLake {
    let dir: TemporaryDirectory
    let store: LakeStore
    let summary: GenerationSummary
    var catalog: Catalog { store.catalog }
    var root: String { dir.file("lake") }

    init(_ config: GeneratorConfig, edit: ((String) -> String)? = nil) throws {
        dir = try TemporaryDirectory("lake-quality")
        let input = dir.file("input")
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        summary = try OrderGenerator.generate(config, into: input)
        if let edit {
            let path = input + "/orders_stream.jsonl"
            let text = try String(contentsOfFile: path, encoding: .utf8)
            try edit(text).write(toFile: path, atomically: true, encoding: .utf8)
        }
        store = try LakeStore.open(root: URL(fileURLWithPath: dir.file("lake")), schemas: packageRoot.appendingPathComponent("schemas"))
        _ = try CatalogIngest.run(store, path: input + "/product_catalog.json")
        _ = try InventoryIngest.run(store, path: input + "/inventory_updates.csv")
        _ = try OrderIngest.run(store, path: input + "/orders_stream.jsonl")
    }

    static func config(spikes: [String] = [], clean: Bool = false, orders: Int = 1000) throws -> GeneratorConfig {
        var c = GeneratorConfig()
        c.orders = orders
        c.spikes = try spikes.map { try Spike(parsing: $0) }
        if clean { c.faults = .none }
        return c
    }
}

/// Runs the built `lake` executable (built by `swift build`, as the test runner's target is).
func runLake(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
    let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
    guard FileManager.default.isExecutableFile(atPath: exe) else { throw TestFailure("build the lake executable first: \(exe)") }
    return try runProcess(exe, args)
}

/// Starts `lake args` (its output discarded) and SIGKILLs it `delay` seconds later if it is
/// still running (nil: lets it finish): whether it was killed, how long it ran, its exit status.
func runLakeKilling(_ args: [String], after delay: TimeInterval?) throws -> (killed: Bool, seconds: TimeInterval, status: Int32) {
    let p = Process()
    p.executableURL = packageRoot.appendingPathComponent(".build/debug/lake")
    p.arguments = args
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    let started = Date()
    try p.run()
    var killed = false
    if let delay {
        Thread.sleep(forTimeInterval: delay)
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            killed = true
        }
    }
    p.waitUntilExit()
    return (killed, Date().timeIntervalSince(started), p.terminationStatus)
}

/// A one-shot HTTP receiver on 127.0.0.1: accepts one connection, reads one request, answers
/// 200, and hands back the request text. It waits for the connection until `finish()` (called
/// once the client process has exited) or `timeout` seconds at most: a fixed 15 s window from
/// construction was shorter than a loaded machine takes to start `lake quality check` and
/// compute its alerts, and the webhook then found nobody answering.
final class LocalReceiver: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    /// Written by `finish()` to end the wait for a connection that never comes.
    private let stop: [Int32]
    private let done = DispatchSemaphore(value: 0)
    private(set) var request: String?

    init(timeout: Int32 = 600) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 1) == 0 else { close(fd); throw TestFailure("bind/listen failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = UInt16(bigEndian: addr.sin_port)
        self.fd = fd
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { close(fd); throw TestFailure("pipe failed") }
        stop = pipeFDs
        detachThread { [self] in
            defer { done.signal() }
            // A connection already queued wins over the stop signal: the client may have sent its
            // request and exited before this thread first ran.
            var pfds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: stop[0], events: Int16(POLLIN), revents: 0)]
            guard poll(&pfds, 2, timeout * 1000) > 0, pfds[0].revents & Int16(POLLIN) != 0 else { return }
            let c = accept(fd, nil, nil)
            guard c >= 0 else { return }
            defer { close(c) }
            var tv = timeval(tv_sec: 60, tv_usec: 0)
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var data = [UInt8]()
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = recv(c, &buf, buf.count, 0)
                if n <= 0 { break }
                data += buf[0 ..< n]
                let text = String(decoding: data, as: UTF8.self)
                if let headerEnd = text.range(of: "\r\n\r\n") {
                    let headers = text[..<headerEnd.lowerBound].lowercased()
                    let length = headers.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                    if data.count - text.utf8.distance(from: text.startIndex, to: headerEnd.upperBound) >= length { break }
                }
            }
            self.request = String(decoding: data, as: UTF8.self)
            let reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            _ = reply.withCString { send(c, $0, strlen($0), 0) }
        }
    }

    /// Ends the wait for a connection (the client has exited: whatever it sent is queued),
    /// waits for the receiver to finish and closes its sockets.
    func finish() -> String? {
        var byte: UInt8 = 1
        _ = write(stop[1], &byte, 1)
        done.wait()
        close(fd)
        close(stop[0])
        close(stop[1])
        return request
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The debug `lake` binary against one lake: `lake(["report", …])` is the output of a command
/// that must succeed (`--lake` appended); a failure throws with its status and stderr.
struct LakeCommand {
    let executable: String
    let root: String

    @discardableResult
    func callAsFunction(_ args: [String]) throws -> String {
        let r = try runProcess(executable, args + ["--lake", root])
        guard r.status == 0 else { throw TestFailure("lake \(args.joined(separator: " ")) exited \(r.status): \(r.err)") }
        return r.out
    }
}
