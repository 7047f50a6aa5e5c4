import Foundation
import LakeTestSupport
import Testing

/// A lake whose confirmed revenue for one day does not fit Int64 cents (twelve orders at
/// 9,000,000,000,000,000.00, ingested six at a time): one request summing it used to trap the
/// whole `lake serve` process.
@Suite("lake serve: a sum that overflows is a problem response, the server keeps serving", .serialized)
struct ServerSumOverflowTests {

    @Test("daily_sales, top_customers, product_metrics and /metrics answer an RFC 9457 problem; /healthz and tables still answer after them")
    func overflowIsAProblemNotACrash() async throws {
        let fx = try LakeFixture.shared.get()
        let dir = try TemporaryDirectory("serve-bigmoney")
        defer { dir.remove() }
        let root = try bigMoneyLake(in: dir)
        let s = try ServerProcess(lake: root, ["--tokens", fx.tokens])
        defer { s.stop() }
        for path in ["/api/v1/daily_sales?from=2024-01-15&to=2024-01-15", "/api/v1/top_customers", "/api/v1/product_metrics", "/metrics"] {
            let r = try await get(s.base + path, token: fx.token)
            #expect(r.status == 500, "\(path): \(r.status) \(r.body)")
            #expect(r.header("Content-Type") == "application/problem+json", "\(path)")
            let doc = r.json as? [String: Any]
            #expect(doc?["status"] as? Int == 500 && (doc?["detail"] as? String)?.contains("overflowed 64-bit integers") == true, "\(path): \(r.body)")
            #expect(s.process.isRunning, "the server died on \(path): \(s.log)")
        }
        let health = try await get(s.base + "/healthz", token: fx.token)
        #expect(health.status == 200, "\(health.body)")
        let tables = try await get(s.base + "/api/v1/tables", token: fx.token)
        #expect(tables.status == 200, "\(tables.body)")
        #expect(s.process.isRunning)
    }
}
