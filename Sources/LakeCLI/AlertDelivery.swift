import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LakeCatalog
import LakeQuery

// Alert delivery: where `lake quality check` sends the alerts LakeQuery evaluated. It is output,
// like printing, so it lives with the command that prints; LakeQuery only evaluates and records.

enum AlertDeliveryError: Error, CustomStringConvertible {
    case io(String)
    case webhook(String)

    var description: String {
        switch self {
        case .io(let why): return why
        case .webhook(let why): return "webhook: \(why)"
        }
    }
}

enum AlertDelivery {
    static func appendJSONLines(_ alerts: [AlertRecord], to path: String) throws {
        guard !alerts.isEmpty else { return }
        let text = alerts.map(Alerting.json).joined(separator: "\n") + "\n"
        let fm = FileManager.default
        if !fm.fileExists(atPath: path) {
            guard fm.createFile(atPath: path, contents: nil) else { throw AlertDeliveryError.io("cannot create \(path)") }
        }
        guard let h = FileHandle(forWritingAtPath: path) else { throw AlertDeliveryError.io("cannot open \(path) for appending") }
        defer { try? h.close() }
        do {
            try h.seekToEnd()
            try h.write(contentsOf: Data(text.utf8))
        } catch {
            throw AlertDeliveryError.io("cannot append to \(path): \(error.localizedDescription)")
        }
    }

    /// The webhook as errors name it: scheme, host, port and path. User info and the query are
    /// left out, as they may carry a token.
    static func redacted(_ url: URL) -> String {
        guard var c = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return "the webhook URL" }
        let hadSecret = c.user != nil || c.password != nil || c.query != nil
        c.user = nil
        c.password = nil
        c.query = nil
        c.fragment = nil
        return (c.string ?? "the webhook URL") + (hadSecret ? " (credentials and query not shown)" : "")
    }

    /// Why a request failed, in words (Foundation on Linux describes most of these only by code).
    static func reason(_ error: Error) -> String {
        let e = error as NSError
        guard e.domain == NSURLErrorDomain else { return e.localizedDescription }
        switch URLError.Code(rawValue: e.code) {
        case .cannotConnectToHost: return "connection refused: nothing is listening there"
        case .cannotFindHost: return "host not found (DNS)"
        case .timedOut: return "timed out"
        case .notConnectedToInternet: return "no network"
        case .networkConnectionLost: return "the connection was closed before the answer"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
             .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
            return "TLS handshake failed (certificate or protocol)"
        case .badServerResponse: return "the answer was not valid HTTP"
        default: return "\(e.localizedDescription) (URL error \(e.code))"
        }
    }

    /// POSTs `{"alerts": [...]}`. Errors name the URL without user info or query (a token may be there).
    static func post(_ alerts: [AlertRecord], to url: URL, timeout: TimeInterval = 10) throws {
        let shown = redacted(url)
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw AlertDeliveryError.webhook("\(shown): only http and https URLs are supported")
        }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(("{\"alerts\": [" + alerts.map(Alerting.json).joined(separator: ", ") + "]}").utf8)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var failure: String?
        let task = URLSession.shared.dataTask(with: request) { _, response, error in
            if let error { failure = "POST \(shown) failed: \(reason(error))" } else if let http = response as? HTTPURLResponse,
                !(200 ..< 300).contains(http.statusCode) {
                failure = "POST \(shown): the receiver answered HTTP \(http.statusCode)"
            }
            done.signal()
        }
        task.resume()
        if done.wait(timeout: .now() + timeout + 1) == .timedOut {
            task.cancel()
            throw AlertDeliveryError.webhook("POST \(shown): no answer within \(Int(timeout)) s")
        }
        if let failure { throw AlertDeliveryError.webhook(failure) }
    }
}
