import Foundation
import HTTPTypes
import Hummingbird
import LakeCatalog
import LakeQuery

/// Every way a request can fail, mapped to one RFC 9457 problem document. Bad input is always
/// a 4xx naming what was wrong; only a failure of the lake itself is a 5xx.
public enum APIError: Error, Sendable, Equatable {
    /// A query parameter is malformed, out of range, repeated or unknown.
    case badParameter(name: String, detail: String)
    case unauthorized(detail: String)
    case rateLimited(retryAfter: Int)
    case notFound(path: String)
    case methodNotAllowed(method: String)
    /// The catalog could not be read (missing, locked, corrupt).
    case unavailable(detail: String)
    case internalError(detail: String)
    /// The HTTP parser rejected the request before any route saw it (`ParserErrorProblemHandler`).
    case malformedRequest(detail: String)
    /// The request line and headers exceed the parser's limits.
    case requestHeadTooLarge(detail: String)

    var status: HTTPResponse.Status {
        switch self {
        case .badParameter: return .badRequest
        case .unauthorized: return .unauthorized
        case .rateLimited: return .tooManyRequests
        case .notFound: return .notFound
        case .methodNotAllowed: return .methodNotAllowed
        case .unavailable: return .serviceUnavailable
        case .internalError: return .internalServerError
        case .malformedRequest: return .badRequest
        case .requestHeadTooLarge: return .init(code: 431, reasonPhrase: "Request Header Fields Too Large")
        }
    }

    var slug: String {
        switch self {
        case .badParameter: return "bad-parameter"
        case .unauthorized: return "unauthorized"
        case .rateLimited: return "rate-limited"
        case .notFound: return "not-found"
        case .methodNotAllowed: return "method-not-allowed"
        case .unavailable: return "unavailable"
        case .internalError: return "internal-error"
        case .malformedRequest: return "malformed-request"
        case .requestHeadTooLarge: return "request-head-too-large"
        }
    }

    var title: String {
        switch self {
        case .badParameter: return "Bad request parameter"
        case .unauthorized: return "Authentication required"
        case .rateLimited: return "Too many requests"
        case .notFound: return "Not found"
        case .methodNotAllowed: return "Method not allowed"
        case .unavailable: return "Lake unavailable"
        case .internalError: return "Internal error"
        case .malformedRequest: return "Malformed HTTP request"
        case .requestHeadTooLarge: return "Request head too large"
        }
    }

    var detail: String {
        switch self {
        case .badParameter(let name, let detail): return "\(name): \(detail)"
        case .unauthorized(let d): return d
        case .rateLimited(let s): return "rate limit exceeded; retry in \(s) s"
        case .notFound(let p): return "no resource at \(p); see /openapi.json"
        case .methodNotAllowed(let m): return "\(m) is not supported; every endpoint answers GET"
        case .unavailable(let d), .internalError(let d), .malformedRequest(let d), .requestHeadTooLarge(let d): return d
        }
    }

    /// The problem document's bytes: type, title, status, detail, instance (none for a request
    /// the parser rejected: it has no target), and `parameter` for a bad parameter.
    func document(instance: String?) -> Data {
        var doc: [String: Any] = ["type": "https://lake.invalid/problems/\(slug)", "title": title, "status": Int(status.code), "detail": detail]
        if let instance { doc["instance"] = instance }
        if case .badParameter(let name, _) = self { doc["parameter"] = name }
        // JSONSerialization of strings and ints cannot fail; the force is on a closed set of types.
        return try! JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// The problem document as a response, with the headers its kind calls for.
    func response(instance: String) -> Response {
        let data = document(instance: instance)
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        switch self {
        case .unauthorized: headers[.wwwAuthenticate] = "Bearer realm=\"lake\""
        case .rateLimited(let s): headers[.retryAfter] = String(s)
        case .methodNotAllowed: headers[.allow] = "GET, HEAD"
        default: break
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Any error a handler or Hummingbird threw, as the problem it stands for. Errors of the
    /// lake's layers that only bad input causes were mapped where the input was parsed; what
    /// reaches here unmapped is the lake failing.
    static func from(_ error: any Error, path: String, method: String) -> APIError {
        if let e = error as? APIError { return e }
        if let e = error as? HTTPError {
            switch e.status {
            // The router answers 404 for any method on a path it has only as GET.
            case .notFound where method != "GET" && Routes.fixed.contains(path): return .methodNotAllowed(method: method)
            case .notFound: return .notFound(path: path)
            case .methodNotAllowed: return .methodNotAllowed(method: method)
            default: return .badParameter(name: "request", detail: e.body ?? "\(e.status)")
            }
        }
        if let e = error as? CatalogError {
            switch e {
            // A refused login (a rotated password, a dropped database) is the catalog being
            // unreadable to this server, as an unreachable one is: 503, as the OpenAPI document says.
            case .notFound, .incompatibleCatalog, .busy, .storage, .unreachable, .loginRefused, .encryptedLake, .filesNotUnderLake:
                return .unavailable(detail: e.description)
            default: return .internalError(detail: e.description)
            }
        }
        // An encrypted lake's files: the server cannot read them, and no retry will change it.
        if let e = error as? DataFileError, case .encrypted = e { return .unavailable(detail: e.description) }
        return .internalError(detail: String(describing: error))
    }
}
