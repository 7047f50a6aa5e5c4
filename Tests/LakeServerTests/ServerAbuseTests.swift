import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LakeTestSupport
import Testing

/// Session 17 probe of `lake serve` under clients that misbehave, over raw loopback sockets
/// (URLSession neither sends half a request nor a malformed percent-escape).
@Suite("lake serve: misbehaving clients", .serialized)
struct ServerAbuseTests {
    let fx: LakeFixture

    init() throws { fx = try LakeFixture.shared.get() }

    /// A connected TCP socket to the server, with a receive timeout.
    static func connect(_ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure(description: "socket failed") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { close(fd); throw TestFailure(description: "connect failed: errno \(errno)") }
        var tv = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    static func send(_ fd: Int32, _ text: [UInt8]) -> Bool {
        text.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == text.count
    }

    /// Everything the server sends until it closes the connection (or the receive timeout).
    static func readAll(_ fd: Int32) -> String {
        var out = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buffer[0 ..< n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether the server has closed the connection: readable with nothing to read.
    static func closedByPeer(_ fd: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 0) == 1 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) == 0
    }

    static func openDescriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// Clients that send a request's headers a line at a time and never finish them held a
    /// descriptor each for as long as they kept trickling: enough of them left every other client
    /// unanswered. Now the connection is closed once it has gone --idle-timeout seconds without a
    /// whole request head; a complete request is still answered, and the descriptors come back.
    @Test func halfSentHeadersAreCutAfterTheIdleTimeout() async throws {
        let s = try ServerProcess(lake: fx.root, ["--tokens", fx.tokens, "--idle-timeout", "1"])
        defer { s.stop() }
        let pid = s.process.processIdentifier
        let before = Self.openDescriptors(pid)
        var slow: [Int32] = []
        defer { for fd in slow { close(fd) } }
        for _ in 0 ..< 20 {
            let fd = try Self.connect(s.port)
            #expect(Self.send(fd, Array("GET /healthz HTTP/1.1\r\nHost: x\r\n".utf8)))
            slow.append(fd)
        }
        // Keep trickling header lines for 4 s, four times the timeout.
        for _ in 0 ..< 16 {
            for fd in slow { _ = Self.send(fd, Array("X-Slow: 1\r\n".utf8)) }
            try await Task.sleep(nanoseconds: 250_000_000)
        }
        let cut = slow.filter(Self.closedByPeer).count
        #expect(cut == slow.count, "\(slow.count - cut) of \(slow.count) half-sent requests still hold a connection")
        let ok = try await get(s.base + "/healthz", token: fx.token)
        #expect(ok.status == 200)
        for fd in slow { close(fd) }
        slow = []
        try await Task.sleep(nanoseconds: 500_000_000)
        #expect(Self.openDescriptors(pid) <= before + 2, "descriptors: \(before) before, \(Self.openDescriptors(pid)) after")
    }

    /// A value whose percent-encoding is malformed or not UTF-8 was kept as sent, so
    /// `country=%ZZ` answered 200 with an empty report (a country of that literal name).
    @Test func malformedPercentEncodingIsA400NamingTheParameter() throws {
        let s = try ServerProcess(lake: fx.root, ["--tokens", fx.tokens])
        defer { s.stop() }
        for query in ["country=%ZZ", "country=%FF%FE", "country=%C0%80", "country=abc%4", "from=2024-01-1%"] {
            let fd = try Self.connect(s.port)
            defer { close(fd) }
            let request = "GET /api/v1/daily_sales?\(query) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(fx.token)\r\nConnection: close\r\n\r\n"
            #expect(Self.send(fd, Array(request.utf8)))
            let answer = Self.readAll(fd)
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(query): \(answer.prefix(300))")
            #expect(answer.contains("application/problem+json"), "\(query): \(answer.prefix(300))")
            let name = String(query.prefix { $0 != "=" })
            #expect(answer.contains("\"parameter\":\"\(name)\""), "\(query): \(answer.prefix(400))")
        }
        // Well-formed escapes still decode: %55%53 is US.
        let fd = try Self.connect(s.port)
        defer { close(fd) }
        #expect(Self.send(fd, Array("GET /api/v1/daily_sales?country=%55%53 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(fx.token)\r\nConnection: close\r\n\r\n".utf8)))
        let answer = Self.readAll(fd)
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer.prefix(300))")
        #expect(answer.contains("\"country\": \"US\""), "\(answer.prefix(600))")
    }

    /// Session 17 probe: a request the HTTP parser rejects (bytes that are not HTTP in the
    /// request line, a TLS handshake on the plain port, a head past the decoder's limits) got
    /// Hummingbird's bare 400 with an empty body, not a problem document like every other
    /// error. Raw sockets: no HTTP client sends these.
    @Test func parserRejectionsAreProblemDocuments() throws {
        let s = try ServerProcess(lake: fx.root, ["--tokens", fx.tokens])
        defer { s.stop() }
        // A TLS 1.2 ClientHello's first bytes: record type 22, version 3.1, a length, type 1.
        let tlsHello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1, 0x03, 0x03] + [UInt8](repeating: 0x2A, count: 32)
        let bigHead = Array("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 100_000))\r\n\r\n".utf8)
        let cases: [(String, [UInt8], Int, String, String)] = [
            ("bad bytes in the request line", Array("GET /he\u{01}llo HTTP/1.1\r\nHost: x\r\n\r\n".utf8), 400, "malformed-request", "not valid HTTP/1.1"),
            ("not a method", Array("\u{7f}\u{7f}\u{7f} / HTTP/1.1\r\n\r\n".utf8), 400, "malformed-request", "does not start with an HTTP method"),
            ("TLS handshake", tlsHello, 400, "malformed-request", "use http://, not https://"),
            ("100 KB header", bigHead, 431, "request-head-too-large", "exceed the server's limit"),
        ]
        for (name, bytes, status, slug, detail) in cases {
            let fd = try Self.connect(s.port)
            defer { close(fd) }
            _ = Self.send(fd, bytes)
            let answer = Self.readAll(fd)
            let parts = answer.components(separatedBy: "\r\n\r\n")
            let head = parts[0].lowercased()
            #expect(head.hasPrefix("http/1.1 \(status)"), "\(name): \(answer.prefix(300))")
            #expect(head.contains("content-type: application/problem+json"), "\(name): \(head)")
            #expect(head.contains("connection: close"), "\(name): \(head)")
            let body = parts.dropFirst().joined(separator: "\r\n\r\n")
            let doc = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            #expect(doc?["type"] as? String == "https://lake.invalid/problems/\(slug)", "\(name): \(body)")
            #expect(doc?["status"] as? Int == status, "\(name): \(body)")
            #expect((doc?["title"] as? String)?.isEmpty == false, "\(name): \(body)")
            #expect((doc?["detail"] as? String)?.contains(detail) == true, "\(name): \(body)")
            if let length = head.components(separatedBy: "\r\n").first(where: { $0.hasPrefix("content-length:") }) {
                #expect(length == "content-length: \(body.utf8.count)", "\(name): \(head)")
            } else {
                Issue.record("\(name): no content-length: \(head)")
            }
        }
        // Logged and counted like any request (route "other": no path was read).
        for slug in ["malformed-request", "request-head-too-large"] {
            #expect(s.log.contains("\"error\":\"\(slug)\""), "\(s.log.suffix(800))")
        }
        let metrics = try Self.connect(s.port)
        defer { close(metrics) }
        #expect(Self.send(metrics, Array("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(fx.token)\r\nConnection: close\r\n\r\n".utf8)))
        let counted = Self.readAll(metrics)
        #expect(counted.contains("lake_http_requests_total{route=\"other\",status=\"400\"} 3")
                && counted.contains("lake_http_requests_total{route=\"other\",status=\"431\"} 1"), "\(counted.prefix(1500))")
        // A route's own 400 is left as it was, and the server still answers.
        let fd = try Self.connect(s.port)
        defer { close(fd) }
        #expect(Self.send(fd, Array("GET /api/v1/daily_sales?country=%ZZ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(fx.token)\r\nConnection: close\r\n\r\n".utf8)))
        let answer = Self.readAll(fd)
        #expect(answer.hasPrefix("HTTP/1.1 400") && answer.contains("\"parameter\":\"country\""), "\(answer.prefix(400))")
    }
}
