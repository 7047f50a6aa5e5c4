import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LakeTestSupport
import Synchronization
import Testing

/// The server under writes, under schemathesis, and in a real browser.
@Suite("lake serve: consistency, schemathesis, Chromium", .serialized)
struct ServerPeerTests {
    let fx: LakeFixture

    init() throws { fx = try LakeFixture.shared.get() }

    @Test("while `lake ingest orders` commits, every response is exactly one snapshot's figures")
    func consistentUnderWrites() async throws {
        let dir = try TemporaryDirectory("lake-serve-writes")
        defer { dir.remove() }
        let root = try fx.copy(into: dir)
        let files = try [2500, 3000].map { n -> String in
            let out = dir.file("src\(n)")
            let r = try lake(["generate", "--out", out, "--orders", String(n), "--days", "10", "--start", "2024-01-10"])
            guard r.status == 0 else { throw TestFailure(description: r.err) }
            return out + "/orders_stream.jsonl"
        }
        let s = try ServerProcess(lake: root, ["--rate-limit", "0"])
        defer { s.stop() }
        var seen: [Int64: Set<String>] = [:]
        let paths = ["/api/v1/daily_sales", "/api/v1/top_customers?limit=5"]
        // One round before the writer starts, so the snapshot before the commits is always seen,
        // however the machine's load times the writer.
        for path in paths {
            let r = try await get(s.base + path)
            let snap = try #require(r.header("X-Lake-Snapshot").flatMap(Int64.init))
            seen[snap, default: []].insert("\(path)\n\(r.body)")
        }
        let finished = Flag()
        let writer = Task.detached {
            defer { finished.set() }
            for f in files {
                let r = try lake(["ingest", "orders", "--lake", root, "--quiet", f])
                guard r.status == 0 else { throw TestFailure(description: r.err) }
            }
        }
        var done = false
        while !done {
            // Checked before the round, so the last round runs after the last commit.
            done = finished.isSet
            for path in paths {
                let r = try await get(s.base + path)
                #expect(r.status == 200)
                let snap = try #require(r.header("X-Lake-Snapshot").flatMap(Int64.init))
                seen[snap, default: []].insert("\(path)\n\(r.body)")
            }
        }
        try await writer.value
        // At least the snapshot before the commits and the last one (each ingest is one snapshot).
        #expect(seen.count >= 2, "requests saw snapshots \(seen.keys.sorted())")
        for (snap, answers) in seen {
            for answer in answers {
                let path = String(answer.prefix { $0 != "\n" }), body = String(answer.drop { $0 != "\n" }.dropFirst())
                let args = path.hasPrefix("/api/v1/daily_sales") ? ["report", "daily-revenue"] : ["report", "top-customers", "--limit", "5"]
                let cli = try lake(args + ["--lake", root, "--format", "json", "--as-of", String(snap)])
                #expect(body == cli.out, "\(path) at snapshot \(snap) is not that snapshot's answer")
            }
        }
        // Different snapshots gave different figures: the check above compared real changes.
        let daily = Set(seen.values.flatMap { $0.filter { $0.hasPrefix("/api/v1/daily_sales") } })
        #expect(daily.count >= 2)
    }

    @Test("schemathesis against /openapi.json with a valid token: no 5xx, every response conforms")
    func schemathesis() async throws {
        let exe = try #require(ProcessInfo.processInfo.environment["LAKE_SCHEMATHESIS"],
                               "set LAKE_SCHEMATHESIS to the schemathesis executable (scripts/setup.sh --api-tests installs .venv-api)")
        let s = try ServerProcess(lake: fx.root, ["--tokens", fx.tokens, "--rate-limit", "0"])
        defer { s.stop() }
        let dir = try TemporaryDirectory("schemathesis")
        defer { dir.remove() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = [
            "run", s.base + "/openapi.json", "--url", s.base, "-H", "Authorization: Bearer \(fx.token)",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance",
            "--max-examples", "5", "--seed", "1", "--workers", "2", "--no-color",
        ]
        p.environment = ProcessInfo.processInfo.environment.merging(["SCHEMATHESIS_HOOKS": "", "HOME": dir.path]) { $1 }
        p.currentDirectoryURL = dir.url
        let out = dir.file("out")
        #expect(FileManager.default.createFile(atPath: out, contents: nil))
        p.standardOutput = FileHandle(forWritingAtPath: out)
        p.standardError = p.standardOutput
        try p.run()
        p.waitUntilExit()
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(p.terminationStatus == 0, "schemathesis failed:\n\(text.suffix(6000))")
        // It really exercised the API: the server logged many requests with 200 and 400 answers.
        let log = s.log
        #expect(log.split(separator: "\n").count > 50)
        #expect(log.contains("\"status\":200") && log.contains("\"status\":400"))
        #expect(!log.contains("\"status\":500"))
    }

    @Test("the dashboard at / renders in headless Chromium: a screenshot, and charts as non-empty SVG")
    func dashboardInChromium() async throws {
        let chromium = ProcessInfo.processInfo.environment["LAKE_CHROMIUM"] ?? "/usr/bin/chromium"
        #expect(FileManager.default.isExecutableFile(atPath: chromium), "install Debian's chromium (scripts/setup.sh --api-tests)")
        let s = try ServerProcess(lake: fx.root, ["--tokens", fx.tokens, "--open-dashboard"])
        defer { s.stop() }
        let dir = try TemporaryDirectory("chromium")
        defer { dir.remove() }
        func chrome(_ extra: [String]) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: chromium)
            p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                           "--user-data-dir=\(dir.file("profile"))", "--window-size=1280,2400"] + extra + [s.base + "/"]
            let out = dir.file("out-\(UUID().uuidString)")
            #expect(FileManager.default.createFile(atPath: out, contents: nil))
            p.standardOutput = FileHandle(forWritingAtPath: out)
            p.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try p.run()
            p.waitUntilExit()
            return try String(contentsOfFile: out, encoding: .utf8)
        }
        let shot = dir.file("dashboard.png")
        _ = try chrome(["--screenshot=\(shot)"])
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000, "screenshot of \(png.count) bytes")
        if let keep = ProcessInfo.processInfo.environment["LAKE_SCREENSHOT"] { try png.write(to: URL(fileURLWithPath: keep)) }
        // The DOM after rendering: every chart is an <svg> with drawn shapes in it.
        let dom = try chrome(["--dump-dom"])
        let svgs = dom.components(separatedBy: "<svg").dropFirst().map { $0.components(separatedBy: "</svg>")[0] }
        #expect(svgs.count >= 2, "charts: \(svgs.count)")
        for svg in svgs {
            let shapes = ["<rect", "<path", "<polyline", "<line", "<circle"].reduce(0) { $0 + svg.components(separatedBy: $1).count - 1 }
            #expect(shapes > 0, "an empty chart")
        }
    }
}

final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
