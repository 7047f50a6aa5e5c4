import Foundation
import LakeTestSupport
import Testing
@testable import LakeServer
import LakeCatalog

@Suite("lake serve: tokens, rate limiter, parameters")
struct ServerUnitTests {
    @Test("a tokens file holds digests: the right token names its entry, others match none; bad lines are refused with their number")
    func tokens() throws {
        let dir = try TemporaryDirectory("tokens")
        defer { dir.remove() }
        let path = dir.file("tokens")
        try "# comment\n\nalice:\(TokenStore.digestHex("a-token"))\nbob:\(TokenStore.digestHex("b-token").uppercased())\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let store = try TokenStore.load(path: path)
        #expect(store.name(of: "a-token") == "alice")
        #expect(store.name(of: "b-token") == "bob")
        #expect(store.name(of: "a-toke") == nil && store.name(of: "") == nil)
        // The digest of "abc" (FIPS 180-2's example), so the hash is SHA-256 and not another.
        #expect(TokenStore.digestHex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        try "alice:1234\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try TokenStore.load(path: path) } throws: { "\($0)".contains("line 1") }
        try "just-a-token\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try TokenStore.load(path: path) } throws: { "\($0)".contains("no ':'") }
    }

    /// A catalog server that went away is the lake being unavailable, as a locked or missing
    /// catalog is: 503, not 500 (session 24 review: `CatalogError.unreachable` was new and fell
    /// through to 500).
    @Test("catalog errors a retry can cure answer 503, the others 500")
    func catalogErrorStatus() {
        func status(_ e: CatalogError) -> String {
            if case .unavailable = APIError.from(e, path: "/api/v1/reports/daily-revenue", method: "GET") { return "503" }
            if case .internalError = APIError.from(e, path: "/api/v1/reports/daily-revenue", method: "GET") { return "500" }
            return "other"
        }
        #expect(status(.unreachable("server closed the connection unexpectedly")) == "503")
        #expect(status(.loginRefused("FATAL:  password authentication failed for user \"lake\"")) == "503")
        #expect(status(.storage("disk I/O error")) == "503")
        #expect(status(.busy(attempts: 3)) == "503")
        #expect(status(.corrupt("two live snapshots")) == "500")
    }

    @Test("token bucket: a burst, then one request per 1/rate seconds; keys are independent; Retry-After is the wait")
    func bucket() {
        let limiter = RateLimiter(rate: 2, burst: 3)
        #expect((0 ..< 3).map { _ in limiter.take("a", now: 100) } == [nil, nil, nil])
        #expect(limiter.take("a", now: 100) == 1)
        #expect(limiter.take("b", now: 100) == nil)
        #expect(limiter.take("a", now: 100.5) == nil)  // half a second at 2/s brings one token back
        #expect(limiter.take("a", now: 100.6) == 1)
        let slow = RateLimiter(rate: 0.1, burst: 1)
        #expect(slow.take("c", now: 0) == nil)
        #expect(slow.take("c", now: 1) == 9)
    }

    @Test("parameters: unknown and repeated names are refused, values checked by type and range")
    func parameters() throws {
        func q(_ pairs: [(String, String)], _ allowed: Set<String>) throws(APIError) -> QueryParameters {
            try QueryParameters(pairs.map { (key: Substring($0.0), value: Substring($0.1)) }, allowed: allowed)
        }
        #expect(throws: APIError.badParameter(name: "x", detail: "unknown parameter; this endpoint takes a, b")) { try q([("x", "1")], ["a", "b"]) }
        #expect(throws: APIError.self) { try q([("a", "1"), ("a", "2")], ["a"]) }
        let p = try q([("from", "2024-01-31"), ("limit", "7")], ["from", "limit"])
        #expect(try p.date("from") == 19753)
        #expect(try p.integer("limit", in: 1 ... 10) == 7)
        #expect(throws: APIError.self) { try p.integer("limit", in: 1 ... 5) }
        #expect(p.canonical == "from=2024-01-31&limit=7")
        let endpoint = DataEndpoint.dailySales
        #expect(throws: APIError.badParameter(name: "channel", detail: "'fax' is not one of web, api")) {
            try endpoint.options(try q([("channel", "fax")], endpoint.parameters), channels: ["web", "api"])
        }
    }
}
