/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and fully specified, so a seed produces the
/// same sample data on every platform and Swift version. `SystemRandomNumberGenerator` and
/// Swift's default `random(in:)` algorithms are not guaranteed stable, so we never use them here.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0 ..< bound` by multiply-shift (Lemire); the tiny bias for huge bounds is
    /// irrelevant for sample data, and the result depends only on this generator's output.
    @inlinable
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// Uniform in `range` (inclusive).
    @inlinable
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound + 1)
    }

    /// Uniform in `range` (half-open).
    @inlinable
    public mutating func int(_ range: Range<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound)
    }

    /// Uniform double in [0, 1) from the top 53 bits.
    @inlinable
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    @inlinable
    public mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// Index drawn with probability proportional to `weights`.
    public mutating func weighted(_ weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        var x = unit() * total
        for (i, w) in weights.enumerated() {
            if x < w { return i }
            x -= w
        }
        return weights.count - 1
    }
}
