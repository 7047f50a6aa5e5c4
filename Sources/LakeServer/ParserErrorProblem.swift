import Foundation
import HTTPTypes
import LakeCatalog
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Turns Hummingbird's answer to a request the HTTP parser rejected into a problem document.
///
/// Hummingbird 2 answers such a request (a head over the decoder's 80 KB limits, bytes that
/// are not HTTP in the request line, a TLS handshake sent to the plain port) in its connection
/// loop, before any route or middleware runs: a bare `400`, `Content-Length: 0`, then it closes
/// the connection. Nothing in the router sees it. This handler sits after the HTTP codec
/// (`HTTP1Channel.Configuration.additionalChannelHandlers`): it notes the parser's error as the
/// error passes inbound to that loop, and when the loop's bare 400 comes back outbound, it
/// writes the problem document in its place (431 for an oversized head). Any other response,
/// a route's own 400 included (it has a body), passes unchanged.
final class ParserErrorProblemHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var parserError: HTTPParserError?
    /// The document replacing the bare answer's empty body, written before its end.
    private var pendingBody: ByteBuffer?
    /// The request log and metrics the router's requests go to: such a request is counted
    /// (route "other") and logged like any other, with the problem's type for its path.
    private let metrics: RequestMetrics
    private let log: @Sendable (String) -> Void

    init(metrics: RequestMetrics, log: @escaping @Sendable (String) -> Void) {
        self.metrics = metrics
        self.log = log
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let e = error as? HTTPParserError { parserError = e }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where parserError != nil && pendingBody == nil && head.status == .badRequest && head.headerFields[.contentLength] == "0":
            let problem = Self.problem(parserError!)
            let body = ByteBuffer(bytes: problem.document(instance: nil))
            var fields = head.headerFields
            fields[.contentType] = "application/problem+json"
            fields[.contentLength] = String(body.readableBytes)
            fields[.connection] = "close"
            pendingBody = body
            context.write(wrapOutboundOut(.head(HTTPResponse(status: problem.status, headerFields: fields))), promise: promise)
            let status = Int(problem.status.code)
            metrics.observe(route: Routes.label(""), status: status, seconds: 0)
            var line: [String: Any] = [
                "time": Timestamps.isoText(micros: Int64(Date().timeIntervalSince1970 * 1e6)), "status": status,
                "error": problem.slug, "detail": problem.detail,
            ]
            line["client"] = context.remoteAddress?.ipAddress ?? NSNull()
            log(ProblemLogMiddleware.json(line))
        case .end(let trailers) where pendingBody != nil:
            context.write(wrapOutboundOut(.body(pendingBody!)), promise: nil)
            pendingBody = nil
            parserError = nil
            context.write(wrapOutboundOut(.end(trailers)), promise: promise)
        default:
            context.write(data, promise: promise)
        }
    }

    /// What the client sent wrong, as far as the parser tells.
    static func problem(_ e: HTTPParserError) -> APIError {
        switch e {
        case .headerOverflow:
            return .requestHeadTooLarge(detail: "the request line and headers exceed the server's limit (80 KB in all, "
                + "80 KB for one field, 1,000 fields); send fewer or shorter headers")
        case .invalidMethod:
            return .malformedRequest(detail: "the request does not start with an HTTP method (this server answers GET and HEAD); "
                + "a TLS handshake sent to this plain-HTTP port looks like this: use http://, not https://")
        default:
            return .malformedRequest(detail: "the request is not valid HTTP/1.1 (the parser reports: \(e)); "
                + "the connection is closed, nothing else in it was read")
        }
    }
}
