import Foundation
import Testing
@testable import LakePipeline

@Suite struct LatencySketchTests {
    /// The fixed-size sketch agrees with the exact percentiles (all event times sorted) to its
    /// bucket width: 1 % of the event's age at the reference, plus nothing on the commit side;
    /// the maximum is exact. Ages span seconds to months, with events stamped after the start.
    @Test(arguments: [1, 7, 1000, 250_000])
    func sketchMatchesExactPercentiles(count: Int) {
        var rng = SystemRandomNumberGenerator()
        let reference: Int64 = 1_700_000_000_000_000
        var times: [Int64] = []
        for i in 0 ..< count {
            // Mostly the last 30 days, some within the last second, some up to a minute ahead.
            let age: Int64 = switch i % 10 {
            case 0: Int64.random(in: 0 ..< 1_000_000, using: &rng)
            case 1: -Int64.random(in: 1 ..< 60_000_000, using: &rng)
            default: Int64.random(in: 0 ..< 30 * 86_400_000_000, using: &rng)
            }
            times.append(reference - age)
        }
        var sketch = LatencySketch(reference: reference)
        for chunk in stride(from: 0, to: times.count, by: 997) { sketch.add(Array(times[chunk ..< min(times.count, chunk + 997)])) }
        let commit = reference + 42_000_000
        var sorted = times
        let exact = LatencyStats(eventTimes: &sorted, commitMicros: commit)
        let s = sketch.stats(commitMicros: commit)
        #expect(s.max == exact.max)
        for (got, want) in [(s.p50, exact.p50), (s.p95, exact.p95)] {
            let g = try! #require(got), w = try! #require(want)
            let age = abs(w - 42)  // the event's age at the reference, in seconds
            #expect(abs(g - w) <= 0.006 * age + 1e-6, "sketch \(g) vs exact \(w)")
        }
        #expect(LatencySketch(reference: reference).stats(commitMicros: commit).p50 == nil)
    }

    /// An event whose age sits at the bottom of its bucket: the bucket's middle is older than
    /// the event, so the sketch's p50 and p95 came out above the exact maximum (lake report
    /// operations showed lag_p95 92155102 s over lag_max 92087988 s for one batch).
    @Test func percentilesNeverExceedTheMaximum() {
        let reference: Int64 = 1_700_000_000_000_000, commit = reference + 5_000_000
        for k in stride(from: 200, through: 3_000, by: 97) {
            let age = Int64(pow(LatencySketch.gamma, Double(k)).rounded(.up))
            guard age > 0, age < Int64.max / 4 else { continue }
            for count in [1, 3, 40] {
                var sketch = LatencySketch(reference: reference)
                sketch.add([Int64](repeating: reference - age, count: count))
                let s = sketch.stats(commitMicros: commit)
                let p50 = try! #require(s.p50), p95 = try! #require(s.p95), max = try! #require(s.max)
                #expect(p50 <= p95 && p95 <= max, "age \(age) µs x\(count): p50 \(p50), p95 \(p95), max \(max)")
                #expect(max == Double(commit - (reference - age)) / 1e6)
            }
        }
    }
}
