import Foundation
import LakeCatalog
import LakeQuery
import Synchronization

/// What the server answers, without HTTP: each answer is computed from exactly one snapshot,
/// resolved once per request, and the rendered body is cached by (endpoint, parameters,
/// snapshot). A snapshot never changes once committed, so a cached body is never stale; a new
/// commit only makes new keys. The catalog stays open across requests.
public final class LakeAPI: Sendable {
    public struct Answer: Sendable {
        public var body: String
        public var snapshot: Int64
        public var etag: String
        public var contentType: String
    }

    let catalog: Catalog
    let quality: QualityConfig
    /// Valid `channel` values: the orders schema's enum in the registry.
    let channels: [String]
    /// Answers by "snapshot|key", as tasks: concurrent requests for an answer not computed yet
    /// await the one computation instead of each starting their own (after a commit, every
    /// client misses at once).
    private let cache = Mutex<(entries: [String: Task<Answer, any Error>], order: [String])>(([:], []))
    static let cacheEntries = 512

    public init(catalog: Catalog, quality: QualityConfig, channels: [String]) {
        self.catalog = catalog
        self.quality = quality
        self.channels = channels
    }

    /// The snapshot this request reads: the latest, or `as_of`'s. An `as_of` the lake cannot
    /// answer (no such snapshot, before the first) is the client's error.
    func snapshot(_ asOf: AsOf?) throws -> SnapshotInfo {
        do {
            return try catalog.resolve(asOf)
        } catch let e as CatalogError {
            switch e {
            case .snapshotNotFound, .noSnapshotAtTime: throw APIError.badParameter(name: "as_of", detail: e.description)
            default: throw e
            }
        }
    }

    /// ETag: the snapshot and a hash of what was asked, so one URL's tag changes exactly when a
    /// commit could change its answer.
    static func etag(_ key: String, snapshot: Int64) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return "\"s\(snapshot)-\(String(h, radix: 16))\""
    }

    /// One request's work, resolved but not yet computed: enough to answer If-None-Match with
    /// a 304 before any Parquet is read.
    public struct Plan: Sendable {
        var key: String
        public var snapshot: Int64
        public var etag: String
        var contentType: String
        /// Whether the client chose the snapshot: then a snapshot without the tables a report
        /// reads is their `as_of`'s fault, else the lake is not ready yet.
        var asOfGiven: Bool
        var compute: @Sendable () throws -> String
    }

    func plan(key: String, snapshot: Int64, contentType: String, asOfGiven: Bool = false, _ compute: @escaping @Sendable () throws -> String) -> Plan {
        Plan(key: "\(snapshot)|\(key)", snapshot: snapshot, etag: Self.etag(key, snapshot: snapshot), contentType: contentType,
             asOfGiven: asOfGiven, compute: compute)
    }

    /// Looks the answer up or computes it. `compute` runs off the event loops: reports decode
    /// Parquet on every core and must not stall the server's I/O threads.
    func answer(_ plan: Plan) async throws -> Answer {
        let task = cache.withLock { c -> Task<Answer, any Error> in
            if let t = c.entries[plan.key] { return t }
            let t = Task { try await Self.compute(plan) }
            c.entries[plan.key] = t
            c.order.append(plan.key)
            // Oldest first: old snapshots' answers are the ones least likely asked again.
            if c.order.count > Self.cacheEntries { c.entries[c.order.removeFirst()] = nil }
            return t
        }
        do {
            return try await task.value
        } catch {
            // A failed computation is not kept: the next request tries again.
            cache.withLock { c in
                if let i = c.order.firstIndex(of: plan.key) { c.order.remove(at: i); c.entries[plan.key] = nil }
            }
            throw error
        }
    }

    /// Replans of a request for the latest snapshot (see `answer(_:replan:)`).
    static let replans = 3

    /// `answer(plan)`, except that a request for the latest snapshot (`replan` given: the
    /// client named no `as_of`) whose snapshot vacuum expired before its answer was computed is
    /// planned again at the new latest, up to `replans` times. A commit and a vacuum with a short
    /// retention between the two made quality, /metrics and the dashboard answer 500 "snapshot N
    /// does not exist" (session 13 probe: 15 of 38,500 requests while ingest, compaction, delete
    /// and `vacuum --retain 0s --force` ran); a report could lose its files the same way. The
    /// snapshot was the latest when the request came, so answering at the one after it is what
    /// the client asked for. Returns the plan answered (its snapshot and ETag).
    func answer(_ plan: Plan, replan: (() throws -> Plan)?) async throws -> (Plan, Answer) {
        var plan = plan
        var replans = 0
        while true {
            do {
                return (plan, try await answer(plan))
            } catch {
                guard isExpired(plan.snapshot) else { throw error }
                guard let replan else {
                    // The client's as_of was there when the request came: still its parameter's
                    // problem (as before the vacuum), not an internal error.
                    throw APIError.badParameter(name: "as_of", detail: "snapshot \(plan.snapshot) was expired by vacuum while this request was "
                        + "computed; see /api/v1/snapshots for the snapshots retained")
                }
                guard replans < Self.replans else {
                    // Vacuum keeps less history than one answer takes to compute: a 503 the
                    // client may retry, naming the cause, not an internal error.
                    throw APIError.unavailable(detail: "vacuum expired the snapshot this request read (\(plan.snapshot)) before its answer "
                        + "was computed, \(replans + 1) times in a row: retry, or keep more history (`lake vacuum --retain`)")
                }
                replans += 1
                plan = try replan()
            }
        }
    }

    /// Whether `snapshot` is gone from the catalog (vacuum expired it).
    func isExpired(_ snapshot: Int64) -> Bool {
        do {
            _ = try catalog.resolve(.snapshot(snapshot))
            return false
        } catch CatalogError.snapshotNotFound {
            return true
        } catch {
            return false
        }
    }

    static func compute(_ plan: Plan) async throws -> Answer {
        let body: String
        do {
            body = try await offload(plan.compute)
        } catch let e as QueryError {
            guard case .unknownTable = e else { throw e }
            if plan.asOfGiven { throw APIError.badParameter(name: "as_of", detail: "snapshot \(plan.snapshot) predates the data: \(e.description)") }
            throw APIError.unavailable(detail: "the lake holds no data yet: \(e.description)")
        }
        return Answer(body: body, snapshot: plan.snapshot, etag: plan.etag, contentType: plan.contentType)
    }

    static func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { cont in
            DispatchQueue.global(qos: .userInitiated).async { cont.resume(with: Result { try body() }) }
        }
    }

    // MARK: - Answers

    /// A data endpoint: the same text `lake report … --format json` prints (with its newline).
    func data(_ endpoint: DataEndpoint, _ q: QueryParameters) throws -> Plan {
        let catalog = self.catalog
        // The snapshot first: the lake's channels are read at it, and an as_of naming no
        // snapshot is the 400 it always was (schemathesis found it a 500 "snapshot does not
        // exist" when a channel outside the registry asked the lake at the raw as_of).
        let snap = try snapshot(try q.asOf())
        var options = try endpoint.options(q, channels: channels) { () throws(APIError) -> [String] in
            do { return try Reports.channelsInLake(catalog: catalog, asOf: .snapshot(snap.id)) } catch {
                throw APIError.from(error, path: endpoint.path, method: "GET")
            }
        }
        options.asOf = .snapshot(snap.id)
        let quality = self.quality, o = options
        return plan(key: "\(endpoint.path)?\(q.canonical)", snapshot: snap.id, contentType: "application/json; charset=utf-8", asOfGiven: q["as_of"] != nil) {
            let report: Report
            if let name = endpoint.report {
                report = try Reports.run(name, catalog: catalog, options: o)
            } else {
                report = try QualityReport.run(catalog: catalog, asOf: o.asOf, config: quality)
            }
            return report.render(.json) + "\n"
        }
    }

    /// The dashboard of the latest snapshot; the page reloads itself so it stays live.
    func dashboard() throws -> Plan {
        let snap = try snapshot(nil)
        let catalog = self.catalog, quality = self.quality
        return plan(key: "/", snapshot: snap.id, contentType: "text/html; charset=utf-8") {
            let html = try Dashboard.render(catalog: catalog, asOf: .snapshot(snap.id), config: quality)
            // A refresh every 30 s picks up new snapshots without any script on the page.
            return html.replacingOccurrences(of: "<head>", with: "<head>\n<meta http-equiv=\"refresh\" content=\"30\">", options: [], range: html.range(of: "<head>"))
        }
    }

    /// `lake metrics`' figures for the latest snapshot (cached per snapshot); the server's own
    /// request figures are appended by the caller, live.
    func lakeMetrics() throws -> Plan {
        let snap = try snapshot(nil)
        let catalog = self.catalog, quality = self.quality
        return plan(key: "/metrics", snapshot: snap.id, contentType: "text/plain; version=0.0.4; charset=utf-8") {
            try Metrics.render(catalog: catalog, asOf: .snapshot(snap.id), config: quality)
        }
    }

    func health() throws -> SnapshotInfo { try catalog.latestSnapshot() }
}
