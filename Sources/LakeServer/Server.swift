import Foundation
import LakeFormat
import HTTPTypes
import Hummingbird
import LakeCatalog
import LakeQuery
import Logging
import NIOCore

/// Everything `lake serve` is told on its command line.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var tokens: TokenStore?
    /// Requests per second per client (token or address); nil turns limiting off.
    public var rate: Double? = 50
    public var burst = 100
    /// /healthz and /metrics without a token.
    public var openMonitoring = false
    /// / and /openapi.json without a token (a browser cannot send a bearer header).
    public var openDashboard = false
    /// Seconds a connection may stay without a whole request head, or idle between requests,
    /// before it is closed. Without it a client that opened connections and sent half a header
    /// held a descriptor each for ever: 300 of them under a 256-descriptor limit left every other
    /// client unanswered. A request being computed is never cut.
    public var idleTimeout = 30

    public init() {}

    /// Loopback addresses: the only ones the server binds to without tokens.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}

public enum ServerError: Error, CustomStringConvertible {
    case refusedToBind(host: String)

    public var description: String {
        switch self {
        case .refusedToBind(let h):
            return "refusing to serve on \(h) without --tokens: anyone who reaches it could read the lake; pass --tokens FILE or bind 127.0.0.1"
        }
    }
}

/// The routes, for the metrics' route label: a fixed set, so label values stay bounded.
enum Routes {
    static let fixed = ["/", "/healthz", "/metrics", "/openapi.json"] + DataEndpoint.allCases.map(\.path)
    static func label(_ path: String) -> String { fixed.contains(path) ? path : "other" }
}

public enum LakeServer {
    /// The router: small handlers over `LakeAPI`, with the access and problem/log middleware.
    static func router(api: LakeAPI, config: ServerConfiguration, metrics: RequestMetrics, log: @escaping @Sendable (String) -> Void) -> Router<LakeRequestContext> {
        // HEAD runs the GET handler and drops the body: the 405 answer's Allow names both.
        let router = Router(context: LakeRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: ProblemLogMiddleware(metrics: metrics, log: log))
        var open: Set<String> = []
        if config.openMonitoring { open.formUnion(["/healthz", "/metrics"]) }
        if config.openDashboard { open.formUnion(["/", "/openapi.json"]) }
        router.add(middleware: AccessMiddleware(tokens: config.tokens, limiter: config.rate.map { RateLimiter(rate: $0, burst: config.burst) }, openPaths: open))

        for endpoint in DataEndpoint.allCases {
            router.get(RouterPath(endpoint.path)) { request, context in
                let q = try QueryParameters(query: request.uri.query, allowed: endpoint.parameters)
                return try await respond(api.data(endpoint, q), request, context, api,
                                         replan: q["as_of"] == nil ? { try api.data(endpoint, q) } : nil)
            }
        }
        router.get("/") { request, context in
            _ = try QueryParameters(query: request.uri.query, allowed: [])
            return try await respond(api.dashboard(), request, context, api, replan: { try api.dashboard() })
        }
        router.get("/metrics") { request, context in
            _ = try QueryParameters(query: request.uri.query, allowed: [])
            let (plan, lake) = try await api.answer(try api.lakeMetrics(), replan: { try api.lakeMetrics() })
            context.note.snapshot = plan.snapshot
            return text(lake.body + metrics.render(), contentType: lake.contentType)
        }
        router.get("/healthz") { request, context in
            _ = try QueryParameters(query: request.uri.query, allowed: [])
            let snap = try api.health()
            context.note.snapshot = snap.id
            return text("{\"status\":\"ok\",\"snapshot\":\(snap.id)}\n", contentType: "application/json; charset=utf-8")
        }
        router.get("/openapi.json") { request, _ in
            _ = try QueryParameters(query: request.uri.query, allowed: [])
            return text(OpenAPI.document, contentType: "application/json; charset=utf-8")
        }
        return router
    }

    static func text(_ body: String, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The answer with its snapshot and ETag; a matching If-None-Match gets 304 before any work.
    /// `replan` (a request for the latest snapshot) plans the request again should vacuum expire
    /// its snapshot before the answer is computed (`LakeAPI.answer(_:replan:)`).
    static func respond(_ plan: LakeAPI.Plan, _ request: Request, _ context: LakeRequestContext, _ api: LakeAPI,
                        replan: (() throws -> LakeAPI.Plan)? = nil) async throws -> Response {
        context.note.snapshot = plan.snapshot
        if let inm = request.headers[.ifNoneMatch] {
            let tags = inm.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if tags.contains("*") || tags.contains(plan.etag) || tags.contains("W/" + plan.etag) {
                return Response(status: .notModified, headers: headers(plan))
            }
        }
        let (answered, answer) = try await api.answer(plan, replan: replan)
        context.note.snapshot = answered.snapshot
        var fields = headers(answered)
        fields[.contentType] = answer.contentType
        return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(string: answer.body)))
    }

    static func headers(_ plan: LakeAPI.Plan) -> HTTPFields {
        var headers: HTTPFields = [.eTag: plan.etag, .cacheControl: "no-cache"]
        headers[HTTPField.Name("X-Lake-Snapshot")!] = String(plan.snapshot)
        return headers
    }

    /// Serves until SIGINT or SIGTERM; in-flight requests finish before it returns.
    /// `onListening` gets the bound port (the one chosen when `config.port` is 0).
    public static func run(api: LakeAPI, config: ServerConfiguration, onListening: @escaping @Sendable (Int) -> Void) async throws {
        guard config.tokens != nil || ServerConfiguration.isLoopback(config.host) else { throw ServerError.refusedToBind(host: config.host) }
        let metrics = RequestMetrics()
        let log: @Sendable (String) -> Void = { line in StandardStream.write((line + "\n"), to: StandardStream.error) }
        var logger = Logger(label: "lake.serve")
        // Hummingbird's own info lines would break "one JSON line per request" on stderr.
        logger.logLevel = .warning
        let app = Application(
            router: router(api: api, config: config, metrics: metrics, log: log),
            server: .http1(configuration: .init(additionalChannelHandlers: [ParserErrorProblemHandler(metrics: metrics, log: log)],
                                                idleTimeout: .seconds(Int64(config.idleTimeout)))),
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "lake"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? config.port) },
            logger: logger
        )
        try await app.runService()
    }

    /// For the synchronous CLI: runs the server on the concurrency pool and waits for it to stop.
    public static func runBlocking(api: LakeAPI, config: ServerConfiguration, onListening: @escaping @Sendable (Int) -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        let result = ResultBox()
        Task {
            do { try await run(api: api, config: config, onListening: onListening) } catch { result.error = error }
            done.signal()
        }
        done.wait()
        if let e = result.error { throw e }
    }
}

private final class ResultBox: @unchecked Sendable {
    // Written by the server task before it signals, read after the wait: ordered by the semaphore.
    var error: (any Error)?
}
