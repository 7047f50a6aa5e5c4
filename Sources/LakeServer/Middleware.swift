import Foundation
import HTTPTypes
import Hummingbird
import LakeCatalog
import Synchronization

/// Per-request context: Hummingbird's core storage, the client's address (the rate-limit key
/// of unauthenticated clients) and a note the inner layers fill for the outer ones to log.
public struct LakeRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let address: String
    let note: RequestNote

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        address = source.channel.remoteAddress?.ipAddress ?? "unknown"
        note = RequestNote()
    }
}

/// What a request's log line needs from layers it passed through: contexts are values, so the
/// outermost middleware would not see an inner one's changes without this shared box.
final class RequestNote: Sendable {
    private let state = Mutex<(token: String?, snapshot: Int64?)>((nil, nil))
    var token: String? {
        get { state.withLock { $0.token } }
        set { state.withLock { $0.token = newValue } }
    }
    var snapshot: Int64? {
        get { state.withLock { $0.snapshot } }
        set { state.withLock { $0.snapshot = newValue } }
    }
}

/// The outermost layer: turns every error into its problem document, then counts the request
/// per route and status and writes one JSON log line to stderr (the token's name, never the token).
struct ProblemLogMiddleware: RouterMiddleware {
    typealias Context = LakeRequestContext
    let metrics: RequestMetrics
    let log: @Sendable (String) -> Void

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = RateLimiter.now()
        let path = request.uri.path
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            let problem = APIError.from(error, path: path, method: request.method.rawValue)
            if case .internalError(let detail) = problem { log(Self.json(["level": "error", "path": path, "error": detail])) }
            response = problem.response(instance: path)
        }
        let seconds = RateLimiter.now() - start
        let status = Int(response.status.code)
        metrics.observe(route: Routes.label(path), status: status, seconds: seconds)
        var line: [String: Any] = [
            "time": Timestamps.isoText(micros: Int64(Date().timeIntervalSince1970 * 1e6)), "method": request.method.rawValue, "path": path, "status": status,
            "duration_ms": (seconds * 1e5).rounded() / 100, "client": context.address,
        ]
        line["token"] = context.note.token ?? NSNull()
        if let s = context.note.snapshot { line["snapshot"] = s }
        log(Self.json(line))
        return response
    }

    static func json(_ object: [String: Any]) -> String {
        // Strings, numbers and null only: serialisation cannot fail on them.
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}

/// Authentication and rate limiting in one pass, so a client is limited by who it proved to be:
/// a valid bearer token is its own bucket; anyone else (no tokens configured, an open path, a
/// wrong token) is limited per address, so guessing tokens is throttled too.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = LakeRequestContext
    let tokens: TokenStore?
    let limiter: RateLimiter?
    /// Paths answered without a token even when tokens are configured.
    let openPaths: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var name: String?
        var denied: String?
        if let tokens {
            if let header = request.headers[.authorization] {
                let parts = header.split(separator: " ", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == "bearer" {
                    name = tokens.name(of: parts[1].drop { $0 == " " })
                    if name == nil { denied = "the bearer token is not valid" }
                } else {
                    denied = "expected Authorization: Bearer <token>"
                }
            } else {
                denied = "an Authorization: Bearer <token> header is required"
            }
            if openPaths.contains(request.uri.path) { denied = nil }
        }
        context.note.token = name
        if let limiter, let wait = limiter.take(name.map { "token:\($0)" } ?? "address:\(context.address)") {
            throw APIError.rateLimited(retryAfter: wait)
        }
        if let denied { throw APIError.unauthorized(detail: denied) }
        return try await next(request, context)
    }
}
