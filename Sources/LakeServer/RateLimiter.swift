import Foundation
import Synchronization

/// A token bucket per client key (a token's name, or an address): `rate` requests a second on
/// average, bursts of up to `burst`. Buckets idle long enough to be full again are dropped, so
/// the table stays as small as the set of recently active clients.
public final class RateLimiter: Sendable {
    struct Bucket { var tokens: Double; var last: Double }
    let rate: Double
    let burst: Double
    private let buckets = Mutex<[String: Bucket]>([:])

    public init(rate: Double, burst: Int) {
        self.rate = rate
        self.burst = Double(max(1, burst))
    }

    /// Nil when the request may go ahead; else the whole seconds to wait before one token is back.
    public func take(_ key: String, now: Double = RateLimiter.now()) -> Int? {
        buckets.withLock { table in
            if table.count > 10_000 {
                let full = burst / rate
                table = table.filter { now - $0.value.last < full }
            }
            var b = table[key] ?? Bucket(tokens: burst, last: now)
            b.tokens = min(burst, b.tokens + (now - b.last) * rate)
            b.last = now
            if b.tokens >= 1 {
                b.tokens -= 1
                table[key] = b
                return nil
            }
            table[key] = b
            return max(1, Int(((1 - b.tokens) / rate).rounded(.up)))
        }
    }

    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
