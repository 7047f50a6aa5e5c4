import Testing
@testable import LakeFormat

/// The one rule that turns values stored in one type into a type another engine widened the
/// column to (DataFileReader for old files, WriteLayout for the pipeline's rows): exact, or nil.
@Suite struct WidenedColumnTests {
    @Test func decimalsAreRescaledExactlyOrRefused() {
        let cents = Column(.int64([250, -1, 0]), validity: [true, true, false])
        // DuckDB's DECIMAL(20,2) -> DECIMAL(38,4): 2.50 is 25000 at scale 4.
        let wider = cents.widened(from: .decimal(precision: 20, scale: 2), to: .decimal(precision: 38, scale: 4))
        #expect(wider == Column(.int64([25_000, -100, 0]), validity: [true, true, false]))
        // Same scale: unchanged, whatever the precision.
        #expect(cents.widened(from: .decimal(precision: 18, scale: 2), to: .decimal(precision: 38, scale: 2)) == cents)
        // INT32-backed decimals become Int64 and are rescaled too.
        #expect(Column(.int32([7])).widened(from: .decimal(precision: 9, scale: 1), to: .decimal(precision: 20, scale: 3)) == Column(.int64([700])))
        // A value the new scale pushes past Int64 is refused, never wrapped.
        #expect(Column(.int64([Int64.max / 10])).widened(from: .decimal(precision: 18, scale: 0), to: .decimal(precision: 38, scale: 2)) == nil)
        // A smaller scale would lose digits: refused.
        #expect(cents.widened(from: .decimal(precision: 18, scale: 2), to: .decimal(precision: 38, scale: 1)) == nil)
        // Integers widen as before.
        #expect(Column(.int32([1, -2])).widened(from: .int32, to: .int64) == Column(.int64([1, -2])))
    }

    @Test func flbaLengthIsTheFewestBytesForThePrecision() {
        // n bytes hold floor(log10(2^(8n-1) - 1)) digits (Parquet's DECIMAL rules).
        func digits(_ n: Int) -> Int { Int((Double(8 * n - 1) * 0.30102999566398120).rounded(.down)) }
        for p in 19 ... 38 {
            let n = DecimalBytes.length(precision: p)!
            #expect(digits(n) >= p && digits(n - 1) < p, "precision \(p): \(n) bytes")
        }
        #expect(DecimalBytes.length(precision: 18) == nil && DecimalBytes.length(precision: 39) == nil)
        #expect(DecimalBytes.length(precision: 38) == 16)
        var out: [UInt8] = []
        DecimalBytes.append(-2, length: 9, to: &out)
        #expect(out == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE])
    }
}
