import CWebhook
import Foundation
import LakeCatalog
import LakeFormat
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
        if fd < 0 { throw AlertDeliveryError.io("cannot open \(path) for appending: \(errnoText(errno))") }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                _ = close(fd)
                throw AlertDeliveryError.io("cannot append to \(path): \(errnoText(e))")
            }
            done += n
        }
        if close(fd) != 0 { throw AlertDeliveryError.io("cannot append to \(path): \(errnoText(errno))") }
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

    /// Why a request failed, in words, from libcurl's code (CURLcode, curl/curl.h) and message.
    static func reason(code: Int32, message: String) -> String {
        switch code {
        case 7: return "connection refused: nothing is listening there"        // CURLE_COULDNT_CONNECT
        case 6: return "host not found (DNS)"                                   // CURLE_COULDNT_RESOLVE_HOST
        case 28: return "timed out"                                            // CURLE_OPERATION_TIMEDOUT
        case 52, 55, 56: return "the connection was closed before the answer"  // GOT_NOTHING, SEND_ERROR, RECV_ERROR
        case 35, 58, 59, 60, 77, 83, 90, 91:                                   // SSL_CONNECT_ERROR … SSL_INVALIDCERTSTATUS
            return "TLS handshake failed (certificate or protocol): \(message)"
        case 8: return "the answer was not valid HTTP"                         // CURLE_WEIRD_SERVER_REPLY
        case 1: return "only http and https URLs are supported"                // CURLE_UNSUPPORTED_PROTOCOL
        default: return "\(message) (curl error \(code))"
        }
    }

    /// POSTs `{"alerts": [...]}`. Errors name the URL without user info or query (a token may be there).
    static func post(_ alerts: [AlertRecord], to url: URL, timeout: TimeInterval = 10) throws {
        let shown = redacted(url)
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw AlertDeliveryError.webhook("\(shown): only http and https URLs are supported")
        }
        let body = Array(("{\"alerts\": [" + alerts.map(Alerting.json).joined(separator: ", ") + "]}").utf8)
        var status = 0
        var message = [CChar](repeating: 0, count: 512)
        let code = body.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { chars in
                lake_webhook_post(url.absoluteString, chars.baseAddress, chars.count, Int(timeout * 1000), &status, &message, message.count)
            }
        }
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if code == Int32(LAKE_WEBHOOK_NO_LIBCURL) || code == Int32(LAKE_WEBHOOK_NO_HANDLE) {
            throw AlertDeliveryError.webhook("POST \(shown) failed: \(text)")
        }
        var failure: String?
        if code != 0 {
            failure = "POST \(shown) failed: \(reason(code: code, message: text))"
        } else if !(200 ..< 300).contains(status) {
            failure = "POST \(shown): the receiver answered HTTP \(status)"
        }
        if let failure { throw AlertDeliveryError.webhook(failure) }
    }
}
