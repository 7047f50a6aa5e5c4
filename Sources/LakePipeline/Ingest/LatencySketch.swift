import Foundation

/// Event-to-commit lag percentiles of a batch in fixed memory, whatever its size: the ingest
/// used to keep every accepted event time (8 bytes per order, sorted at the end), one of the
/// things that grew with the input.
///
/// The commit time is not known while lines stream by, so the sketch keeps each event's age at
/// a fixed `reference` (the batch's start) in log-spaced buckets (relative width 1 %, a
/// DDSketch-style layout), ages on both sides of zero (events stamped after the start). At
/// commit, a percentile is the bucket's age plus (commit − reference): within 0.5 % of the
/// age, plus nothing on the commit side. The maximum (the oldest event) is kept exactly.
struct LatencySketch {
    static let gamma = 1.01
    private static let logGamma = log(gamma)
    /// Buckets per side: ages up to gamma^4000 µs (≈ 1.9e17 µs, thousands of years) — more than any timestamp the parser accepts.
    static let perSide = 4000

    let reference: Int64
    private var counts = [Int64](repeating: 0, count: 2 * perSide + 1)
    private(set) var total: Int64 = 0
    private var oldest = Int64.max

    init(reference: Int64) { self.reference = reference }

    /// The bucket of age `d` µs: monotonic in d, `perSide` at zero.
    @inline(__always)
    private static func index(_ d: Int64) -> Int {
        let v = d.magnitude
        let k = v < 1 ? 0 : Swift.min(perSide, Int((log(Double(v)) / logGamma).rounded(.down)) + 1)
        return d < 0 ? perSide - k : perSide + k
    }

    /// A representative age of bucket `i`: the geometric middle of its range.
    private static func age(_ i: Int) -> Double {
        let k = i - perSide
        if k == 0 { return 0 }
        let mid = pow(gamma, Double(abs(k)) - 0.5)
        return k < 0 ? -mid : mid
    }

    mutating func add(_ eventTimes: [Int64]) {
        for t in eventTimes {
            counts[Self.index(reference - t)] += 1
            if t < oldest { oldest = t }
        }
        total += Int64(eventTimes.count)
    }

    /// p50 is the median event's lag, p95 the lag of the event at the 5th percentile of event
    /// times (older events wait longer), max the oldest event's lag (exact), which bounds the other two.
    func stats(commitMicros: Int64) -> (p50: Double?, p95: Double?, max: Double?) {
        guard total > 0 else { return (nil, nil, nil) }
        let offset = Double(commitMicros - reference)
        // Event time index i (ascending times) is age index n-1-i (ascending ages).
        func lag(eventQuantile q: Double) -> Double {
            let i = Swift.min(total - 1, Int64((Double(total - 1) * q).rounded()))
            let target = total - 1 - i
            var seen: Int64 = 0
            for (b, n) in counts.enumerated() where n > 0 {
                seen += n
                if seen > target { return (offset + Self.age(b)) / 1e6 }
            }
            return (offset + Self.age(counts.count - 1)) / 1e6
        }
        // A bucket's middle can lie above the oldest event's exact age (by up to half the bucket's
        // 1 %): lake report operations printed lag_p95 above lag_max. A percentile is at most
        // the maximum it is a percentile of.
        let maxLag = Double(commitMicros - oldest) / 1e6
        return (Swift.min(lag(eventQuantile: 0.5), maxLag), Swift.min(lag(eventQuantile: 0.05), maxLag), maxLag)
    }
}
