import Foundation
import Synchronization

/// Request counts and latency histograms per route and status, rendered in the Prometheus text
/// exposition format next to `lake metrics`' figures. Routes are the fixed endpoint paths (an
/// unknown path counts as "other"), so the label sets stay bounded whatever clients send.
public final class RequestMetrics: Sendable {
    /// Upper bounds in seconds: fine under 50 ms, where the API's answers from cache sit.
    static let buckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    struct Key: Hashable { var route: String; var status: Int }
    struct Series { var count: Int64 = 0; var sum = 0.0; var counts = [Int64](repeating: 0, count: RequestMetrics.buckets.count) }
    private let series = Mutex<[Key: Series]>([:])

    public init() {}

    public func observe(route: String, status: Int, seconds: Double) {
        series.withLock { table in
            var s = table[Key(route: route, status: status)] ?? Series()
            s.count += 1
            s.sum += seconds
            for (i, b) in Self.buckets.enumerated() where seconds <= b { s.counts[i] += 1 }
            table[Key(route: route, status: status)] = s
        }
    }

    public func render() -> String {
        let snapshot = series.withLock { $0 }
        let keys = snapshot.keys.sorted { ($0.route, $0.status) < ($1.route, $1.status) }
        var out = "# HELP lake_http_requests_total HTTP requests served, by route and status.\n# TYPE lake_http_requests_total counter\n"
        for k in keys { out += "lake_http_requests_total{route=\"\(k.route)\",status=\"\(k.status)\"} \(snapshot[k]!.count)\n" }
        out += "# HELP lake_http_request_duration_seconds Time from request to response, by route and status.\n# TYPE lake_http_request_duration_seconds histogram\n"
        for k in keys {
            let s = snapshot[k]!, labels = "route=\"\(k.route)\",status=\"\(k.status)\""
            for (i, b) in Self.buckets.enumerated() {
                out += "lake_http_request_duration_seconds_bucket{\(labels),le=\"\(b)\"} \(s.counts[i])\n"
            }
            out += "lake_http_request_duration_seconds_bucket{\(labels),le=\"+Inf\"} \(s.count)\n"
            out += "lake_http_request_duration_seconds_sum{\(labels)} \(String(format: "%.6f", s.sum))\n"
            out += "lake_http_request_duration_seconds_count{\(labels)} \(s.count)\n"
        }
        return out
    }
}
