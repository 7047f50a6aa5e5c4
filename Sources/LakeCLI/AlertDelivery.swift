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
    /// One `write(2)` on a descriptor opened with O_APPEND: the kernel puts each write at the end
    /// of the file as it is then, so two `lake quality check` runs appending at once (overlapping
    /// cron or Airflow runs) both keep their lines. Creating the file if absent is part of the
    /// same `open`, so a second run cannot replace a file the first one just appended to.
    static func appendJSONLines(_ alerts: [AlertRecord], to path: String) throws {
        guard !alerts.isEmpty else { return }
        let bytes = Array((alerts.map(Alerting.json).joined(separator: "\n") + "\n").utf8)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw AlertDeliveryError.io("cannot open \(path) for appending: \(String(cString: strerror(errno)))") }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                _ = close(fd)
                throw AlertDeliveryError.io("cannot append to \(path): \(String(cString: strerror(e)))")
            }
            done += n
        }
        if close(fd) != 0 { throw AlertDeliveryError.io("cannot append to \(path): \(String(cString: strerror(errno)))") }
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
