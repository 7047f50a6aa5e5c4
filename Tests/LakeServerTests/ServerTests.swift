import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LakeTestSupport
import Testing

/// `lake serve` as a subprocess on a free loopback port, called over real HTTP.
@Suite("lake serve: the HTTP API", .serialized)
struct ServerTests {
    let fx: LakeFixture

    init() throws { fx = try LakeFixture.shared.get() }

    func server(_ extra: [String] = []) throws -> ServerProcess {
        try ServerProcess(lake: fx.root, ["--tokens", fx.tokens] + extra)
    }

    /// Without --config the server takes the lake's own alerts.json, as `lake quality report`
    /// does; until session 20 it read config/alerts.json in its working directory instead, so
    /// /api/v1/quality and /metrics answered with other thresholds than the CLI.
    @Test func qualityThresholdsComeFromTheLake() async throws {
        let dir = try TemporaryDirectory("serve-lake-alerts")
        defer { dir.remove() }
        let root = try fx.copy(into: dir)
        let defaults = try lake(["quality", "report", "--lake", root, "--format", "json"])
        try #"{"min_quality_score": 101, "validity_max_invalid_rate": 0.0001, "max_files_per_partition": 1}"#
            .write(toFile: root + "/alerts.json", atomically: true, encoding: .utf8)
        let cli = try lake(["quality", "report", "--lake", root, "--format", "json"])
        #expect(cli.status == 0 && defaults.status == 0, "\(cli.err)\(defaults.err)")
        #expect(cli.out != defaults.out, "the lake's thresholds change the report (else the comparison proves nothing)")
        let s = try ServerProcess(lake: root, ["--tokens", fx.tokens])
        defer { s.stop() }
        let r = try await get(s.base + "/api/v1/quality", token: fx.token)
        #expect(r.status == 200 && r.body == cli.out, "\(r.body.prefix(400))")
    }

    @Test("every endpoint's body equals `lake report … --format json` on the same snapshot, with and without as_of")
    func bodiesEqualTheCLI() async throws {
        let s = try server()
        defer { s.stop() }
        let first = String(fx.firstOrders)
        let cases: [(String, [String])] = [
            ("/api/v1/daily_sales", ["report", "daily-revenue"]),
            ("/api/v1/daily_sales?from=2024-01-12&to=2024-01-14&channel=web", ["report", "daily-revenue", "--from", "2024-01-12", "--to", "2024-01-14", "--channel", "web"]),
            ("/api/v1/daily_sales?country=US&as_of=\(first)", ["report", "daily-revenue", "--country", "US", "--as-of", first]),
            ("/api/v1/top_customers", ["report", "top-customers"]),
            ("/api/v1/top_customers?limit=25&by=orders", ["report", "top-customers", "--limit", "25", "--by", "orders"]),
            ("/api/v1/top_customers?by=spend&as_of=\(first)", ["report", "top-customers", "--by", "spend", "--as-of", first]),
            ("/api/v1/product_metrics?limit=50", ["report", "product-metrics", "--limit", "50"]),
            ("/api/v1/product_metrics?category=Electronics&as_of=\(first)", ["report", "product-metrics", "--category", "Electronics", "--as-of", first]),
            ("/api/v1/inventory?low_stock=30", ["report", "inventory", "--low-stock", "30"]),
            ("/api/v1/inventory?as_of=\(first)", ["report", "inventory", "--as-of", first]),
            ("/api/v1/snapshots", ["report", "snapshots"]),
            ("/api/v1/snapshots?as_of=\(first)", ["report", "snapshots", "--as-of", first]),
            ("/api/v1/tables?as_of=2", ["report", "tables", "--as-of", "2"]),
            ("/api/v1/tables", ["report", "tables"]),
            ("/api/v1/quality", ["quality", "report"]),
            ("/api/v1/quality?as_of=\(first)", ["quality", "report", "--as-of", first]),
        ]
        for (path, args) in cases {
            let r = try await get(s.base + path, token: fx.token)
            let cli = try lake(args + ["--lake", fx.root, "--format", "json"])
            #expect(r.status == 200, "\(path): \(r.body)")
            #expect(cli.status == 0, "\(args): \(cli.err)")
            #expect(r.body == cli.out, "\(path) differs from lake \(args.joined(separator: " "))")
            let expected = path.contains("as_of=2") && !path.contains("as_of=\(first)") ? "2" : path.contains("as_of=") ? first : String(fx.latest)
            #expect(r.header("X-Lake-Snapshot") == expected, "\(path)")
            #expect(r.header("Content-Type")?.hasPrefix("application/json") == true)
        }
        // The lake has rows in every report the comparison covers (else equal would be trivial).
        let daily = try await get(s.base + "/api/v1/daily_sales", token: fx.token).json as? [[String: Any]]
        #expect((daily?.count ?? 0) > 20)
        let products = try await get(s.base + "/api/v1/product_metrics?limit=5", token: fx.token).json as? [[String: Any]]
        #expect(products?.count == 5 && products?.first?["inventory_value"] is String)

        let health = try await get(s.base + "/healthz", token: fx.token)
        #expect(health.status == 200 && health.body == "{\"status\":\"ok\",\"snapshot\":\(fx.latest)}\n")
        let metrics = try await get(s.base + "/metrics", token: fx.token)
        let lakeMetrics = try lake(["metrics", "--lake", fx.root])
        #expect(metrics.status == 200 && metrics.body.hasPrefix(lakeMetrics.out), "/metrics starts with `lake metrics`")
        #expect(metrics.body.contains("lake_http_requests_total{route=\"/api/v1/daily_sales\",status=\"200\"} 4"))
        #expect(metrics.body.contains("lake_http_request_duration_seconds_bucket{route=\"/api/v1/quality\",status=\"200\",le=\"+Inf\"} 2"))
        // (After the request counts above.) lake init's snapshot, before any order: no sales then, as the CLI says (before session
        // 17 the server answered 400 "predates the data" and the CLI "no table curated.orders").
        let early = try await get(s.base + "/api/v1/daily_sales?as_of=1", token: fx.token)
        let earlyCLI = try lake(["report", "daily-revenue", "--as-of", "1", "--lake", fx.root, "--format", "json"])
        #expect(early.status == 200 && early.body == earlyCLI.out && (early.json as? [Any])?.isEmpty == true, "\(early.status) \(early.body)")
        let openapi = try await get(s.base + "/openapi.json", token: fx.token)
        let checkedIn = try String(contentsOf: packageRoot.appendingPathComponent("docs/openapi.json"), encoding: .utf8)
        #expect(openapi.body == checkedIn, "docs/openapi.json is stale: run lake serve --openapi > docs/openapi.json")
        let page = try await get(s.base + "/", token: fx.token)
        #expect(page.status == 200 && page.body.contains("<svg") && page.header("Content-Type")?.hasPrefix("text/html") == true)
    }

    @Test("401 with WWW-Authenticate without a valid token; 429 with Retry-After past the burst; the log names the token, never shows it")
    func authAndRateLimit() async throws {
        // One token per 60 s: the buckets cannot refill during the test however loaded the machine
        // is (at 1/s a slow CI run refilled the address's bucket before its last request).
        let s = try server(["--rate-limit", "0.0167/s", "--burst", "3", "--open-monitoring"])
        let url = s.base + "/api/v1/tables"
        for token: String? in [nil, "wrong"] {
            let r = try await get(url, token: token)
            #expect(r.status == 401)
            #expect(r.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            #expect(r.header("Content-Type") == "application/problem+json")
            #expect((r.json as? [String: Any])?["status"] as? Int == 401)
        }
        // /healthz is open with --open-monitoring.
        #expect(try await get(s.base + "/healthz").status == 200)
        // The token has its own bucket of 3: three pass, the fourth waits.
        var statuses: [Int] = []
        var retry: String?
        for _ in 0 ..< 4 {
            let r = try await get(url, token: fx.token)
            statuses.append(r.status)
            if r.status == 429 { retry = r.header("Retry-After") }
        }
        #expect(statuses == [200, 200, 200, 429])
        #expect(retry.flatMap(Int.init).map { $0 >= 30 && $0 <= 60 } == true, "Retry-After is the wait for one token")
        // The unauthenticated requests above used the address's bucket (3 of them): it is empty too.
        #expect(try await get(s.base + "/healthz").status == 429)
        #expect(s.stop() == 0)
        let lines = s.log.split(separator: "\n")
        #expect(lines.count == 8)
        for line in lines {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(o?["method"] as? String == "GET" && o?["status"] is Int && o?["duration_ms"] is Double)
        }
        #expect(lines.filter { $0.contains("\"token\":\"tester\"") }.count == 4)
        #expect(!s.log.contains(fx.token))
    }

    @Test("ETag and If-None-Match: 304 while the snapshot stands, 200 with a new tag for another snapshot")
    func conditionalRequests() async throws {
        let s = try server()
        defer { s.stop() }
        let url = s.base + "/api/v1/daily_sales?from=2024-01-12&to=2024-01-12"
        let r = try await get(url, token: fx.token)
        let tag = try #require(r.header("ETag"))
        let again = try await get(url, token: fx.token, headers: ["If-None-Match": tag])
        #expect(again.status == 304 && again.body.isEmpty && again.header("ETag") == tag)
        let other = try await get(url + "&as_of=\(fx.firstOrders)", token: fx.token, headers: ["If-None-Match": tag])
        #expect(other.status == 200 && other.header("ETag") != tag)
        #expect(try await get(url, token: fx.token, headers: ["If-None-Match": "\"s1-0\""]).status == 200)
    }

    /// Every path answered HEAD with 405 while its Allow header said "GET, HEAD".
    @Test("HEAD answers as GET does, without the body")
    func headRequests() async throws {
        let s = try server()
        defer { s.stop() }
        for path in ["/api/v1/daily_sales?from=2024-01-12&to=2024-01-12", "/api/v1/snapshots", "/healthz", "/openapi.json", "/"] {
            let got = try await get(s.base + path, token: fx.token)
            let head = try await get(s.base + path, token: fx.token, method: "HEAD")
            #expect(got.status == 200 && head.status == 200, "\(path): \(head.status) \(head.body)")
            #expect(head.body.isEmpty, "\(path)")
            #expect(head.header("Content-Length") == String(got.body.utf8.count), "\(path): \(head.headers)")
            #expect(head.header("Content-Type") == got.header("Content-Type") && head.header("ETag") == got.header("ETag"), "\(path)")
        }
        let tag = try #require(try await get(s.base + "/api/v1/snapshots", token: fx.token).header("ETag"))
        #expect(try await get(s.base + "/api/v1/snapshots", token: fx.token, headers: ["If-None-Match": tag], method: "HEAD").status == 304)
        let unauthorized = try await get(s.base + "/api/v1/snapshots", method: "HEAD")
        #expect(unauthorized.status == 401 && unauthorized.body.isEmpty)
    }

    @Test("each bad parameter is a 400 problem document naming it; unknown paths 404; never a 500")
    func badParameters() async throws {
        let s = try server()
        defer { s.stop() }
        let cases: [(String, String)] = [
            ("/api/v1/daily_sales?from=2024-13-01", "from"),
            ("/api/v1/daily_sales?from=yesterday", "from"),
            ("/api/v1/daily_sales?to=2024-02-30", "to"),
            ("/api/v1/daily_sales?from=2024-01-15&to=2024-01-10", "from"),
            ("/api/v1/daily_sales?channel=fax", "channel"),
            ("/api/v1/daily_sales?country=", "country"),
            ("/api/v1/top_customers?limit=0", "limit"),
            ("/api/v1/top_customers?limit=1001", "limit"),
            ("/api/v1/top_customers?limit=ten", "limit"),
            ("/api/v1/top_customers?by=love", "by"),
            ("/api/v1/product_metrics?limit=-1", "limit"),
            ("/api/v1/inventory?low_stock=-5", "low_stock"),
            ("/api/v1/snapshots?as_of=1970-01-01", "as_of"),
            ("/api/v1/tables?as_of=99999", "as_of"),
            ("/api/v1/quality?as_of=soon", "as_of"),
            ("/api/v1/daily_sales?form=2024-01-01", "form"),
            ("/api/v1/daily_sales?channel=web&channel=api", "channel"),
        ]
        for (path, parameter) in cases {
            let r = try await get(s.base + path, token: fx.token)
            let doc = r.json as? [String: Any]
            #expect(r.status == 400, "\(path): \(r.status) \(r.body)")
            #expect(r.header("Content-Type") == "application/problem+json", "\(path)")
            #expect(doc?["parameter"] as? String == parameter, "\(path): \(r.body)")
            #expect(doc?["status"] as? Int == 400 && (doc?["detail"] as? String)?.hasPrefix(parameter) == true, "\(path)")
        }
        var post = URLRequest(url: URL(string: s.base + "/api/v1/daily_sales")!)
        post.httpMethod = "POST"
        post.setValue("Bearer \(fx.token)", forHTTPHeaderField: "Authorization")
        let (_, posted) = try await session.data(for: post)
        #expect((posted as! HTTPURLResponse).statusCode == 405)
        for path in ["/api/v1/nope", "/api/v2/daily_sales", "/favicon.ico"] {
            let r = try await get(s.base + path, token: fx.token)
            #expect(r.status == 404 && r.header("Content-Type") == "application/problem+json", "\(path)")
        }
    }

    @Test("refuses a non-loopback address without --tokens; stops cleanly on SIGINT")
    func bindingAndShutdown() async throws {
        let refused = try lake(["serve", "--lake", fx.root, "--host", "0.0.0.0", "--port", "0"])
        #expect(refused.status != 0 && refused.err.contains("without --tokens"))
        let s = try ServerProcess(lake: fx.root, [])
        #expect(try await get(s.base + "/api/v1/snapshots").status == 200)
        #expect(s.stop(signal: SIGINT) == 0)
    }
}
