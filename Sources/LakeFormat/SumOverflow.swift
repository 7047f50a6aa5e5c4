/// A sum of 64-bit integers (money in cents, counts) that does not fit Int64. Every column a
/// sum reads fits its type (a DECIMAL(18,2) order total, say), but enough of them added up do
/// not: the sum is refused with what was being added up rather than wrapping or trapping
/// (a trap takes down `lake serve` with every other request). DuckDB sums such columns in
/// 128 bits; lake keeps 64-bit figures and says so.
public struct SumOverflow: Error, CustomStringConvertible, Equatable, Sendable {
    /// What was being added up, e.g. "daily-revenue: revenue of 2024-01-15 web".
    public let what: String

    public init(_ what: String) { self.what = what }

    public var description: String {
        "\(what): a sum overflowed 64-bit integers (beyond ±9,223,372,036,854,775,807 cents or units); "
            + "lake cannot sum these rows exactly, DuckDB can (DECIMAL(38) sums)"
    }
}

extension Int64 {
    /// `self + x`, or `SumOverflow(what())` when it does not fit: the one rule every sum follows.
    @inlinable
    public func adding(_ x: Int64, orThrow what: @autoclosure () -> String) throws(SumOverflow) -> Int64 {
        let (r, o) = addingReportingOverflow(x)
        if o { throw SumOverflow(what()) }
        return r
    }

    /// `self += x`, or `SumOverflow(what())` (self unchanged) when it does not fit.
    @inlinable
    public mutating func add(_ x: Int64, orThrow what: @autoclosure () -> String) throws(SumOverflow) {
        self = try adding(x, orThrow: what())
    }
}

extension Sequence where Element == Int64 {
    /// The elements' sum, or `SumOverflow(what())` when it does not fit.
    public func sum(orThrow what: @autoclosure () -> String) throws(SumOverflow) -> Int64 {
        var total: Int64 = 0
        for x in self {
            let (r, o) = total.addingReportingOverflow(x)
            if o { throw SumOverflow(what()) }
            total = r
        }
        return total
    }
}
