// Exact decimal text <-> unscaled integers. Money never passes through a binary float:
// "29.99" at scale 2 is the integer 2999, summed as integers and printed back exactly. A value
// is an Int64 (a DECIMAL(18) column) or an Int128 (a sum of them, DuckDB's DECIMAL(38)).

public enum DecimalText {
    /// Parses ASCII decimal text ("-12", "29.9", "29.99", "1e2" is refused) into an unscaled
    /// integer at `scale`. Returns nil for malformed text, more fractional digits than `scale`
    /// that are not zeros, or overflow.
    public static func parse(_ bytes: UnsafeRawBufferPointer, scale: Int) -> Int64? { parse(bytes, scale: scale, as: Int64.self) }

    /// `parse(_:scale:)` into any signed width, e.g. `Int128` for a DECIMAL(38) sum's text.
    public static func parse<T: FixedWidthInteger & SignedInteger>(_ bytes: UnsafeRawBufferPointer, scale: Int, as _: T.Type) -> T? {
        var i = 0
        let n = bytes.count
        guard n > 0 else { return nil }
        var negative = false
        if bytes[0] == UInt8(ascii: "-") { negative = true; i = 1 } else if bytes[0] == UInt8(ascii: "+") { i = 1 }
        var value: T = 0
        var digits = 0
        var fraction = -1  // digits seen after the point; -1 before the point
        while i < n {
            let c = bytes[i]
            if c == UInt8(ascii: ".") {
                if fraction >= 0 { return nil }
                fraction = 0
            } else if c >= 48 && c <= 57 {
                let d = T(c - 48)
                if fraction >= 0 {
                    if fraction >= scale {
                        // Extra fractional digits are only accepted when they are zeros (29.990).
                        if d != 0 { return nil }
                        i += 1
                        digits += 1
                        continue
                    }
                    fraction += 1
                }
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(d)
                if o1 || o2 { return nil }
                value = a
                digits += 1
            } else {
                return nil
            }
            i += 1
        }
        guard digits > 0 else { return nil }
        var f = max(fraction, 0)
        while f < scale {
            let (m, o) = value.multipliedReportingOverflow(by: 10)
            if o { return nil }
            value = m
            f += 1
        }
        return negative ? -value : value
    }

    public static func parse(_ text: String, scale: Int) -> Int64? { parse(text, scale: scale, as: Int64.self) }

    public static func parse<T: FixedWidthInteger & SignedInteger>(_ text: String, scale: Int, as type: T.Type) -> T? {
        var text = text
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0), scale: scale, as: type) }
    }

    /// Formats an unscaled integer of any width: format(2999, scale: 2) == "29.99",
    /// format(-5, 2) == "-0.05"; an Int128 sum prints all its digits.
    public static func format<T: BinaryInteger>(_ unscaled: T, scale: Int) -> String {
        if scale == 0 { return String(unscaled) }
        let negative = unscaled < 0
        let magnitude = unscaled.magnitude
        var digits = String(magnitude)
        if digits.count <= scale { digits = String(repeating: "0", count: scale - digits.count + 1) + digits }
        let point = digits.index(digits.endIndex, offsetBy: -scale)
        return (negative ? "-" : "") + digits[..<point] + "." + digits[point...]
    }
}

/// Decimals wider than 18 digits in Parquet: big-endian two's complement in a
/// FIXED_LEN_BYTE_ARRAY. The spec lets `n` bytes hold up to floor(log10(2^(8n-1) - 1)) digits;
/// we write the fewest bytes for the precision (DuckDB 1.5.5 writes 16 for every precision
/// above 18; readers take the length from the schema, so both read alike).
public enum DecimalBytes {
    /// Largest precision lake reads and writes (DuckDB's and DuckLake's maximum).
    public static let maxPrecision = 38

    /// The FIXED_LEN_BYTE_ARRAY length a column of `precision` is written with; nil for
    /// precisions INT64 holds (at most 18) or beyond `maxPrecision`.
    public static func length(precision: Int) -> Int? {
        guard precision > 18, precision <= maxPrecision else { return nil }
        // 10^precision - 1 must fit in 8n - 1 bits: log2(10) = 3.3219…
        let bits = Int((Double(precision) * 3.321928094887362).rounded(.up)) + 1
        return (bits + 7) / 8
    }

    /// Appends `value` sign-extended to `length` big-endian bytes.
    @inline(__always)
    public static func append(_ value: Int64, length: Int, to out: inout [UInt8]) {
        let ext: UInt8 = value < 0 ? 0xFF : 0
        for _ in 0 ..< max(0, length - 8) { out.append(ext) }
        for k in stride(from: min(length, 8) - 1, through: 0, by: -1) { out.append(UInt8(truncatingIfNeeded: value >> (8 * Int64(k)))) }
    }
}

extension ColumnType {
    /// The FIXED_LEN_BYTE_ARRAY length this type is written with (a decimal of more than 18
    /// digits); nil for every type written as a number or a string.
    public var fixedDecimalLength: Int? {
        if case .decimal(let p, _) = self { return DecimalBytes.length(precision: p) }
        return nil
    }
}

/// The exact value of a number written in decimal, fraction or exponent notation ("2.0",
/// "1e2", "2.999e1", "100e-2"), at a fixed scale: the one rule every source applies to a count
/// or an amount (order quantities and prices, catalog prices, inventory quantities). A number
/// is taken when its exact decimal value fits the scale, as DuckDB's cast of the same text
/// does, but never rounded: 2.5 is not a whole number and 29.999 is not an amount in cents,
/// however it is written.
public enum ExactDecimal: Sendable, Equatable {
    /// The unscaled value: 100 for "1e2" at scale 0, 2999 for "2.999e1" at scale 2.
    case value(Int64)
    /// Non-zero digits below the scale (2.5 at scale 0, 29.999 at scale 2).
    case tooManyPlaces
    /// A whole value at the scale whose magnitude exceeds Int64 (the caller's range check
    /// comes after, on values that fit).
    case outOfRange
    /// Not a number: empty, a stray character, no digits, an exponent without digits.
    case malformed

    /// Parses ASCII `[+-] digits [. digits] [(e|E) [+-] digits]` (at least one digit before
    /// the exponent) from the bytes, with no binary floating point: the digits are kept as an
    /// integer and the exponent moves the decimal point. Leading zeros are allowed (a CSV cell
    /// "007"); a JSON caller has checked its stricter grammar already.
    public static func parse(_ bytes: UnsafeRawBufferPointer, scale: Int) -> ExactDecimal {
        // Plain decimals within the scale (nearly every value any source sends) take the
        // existing exact parser; only what it refuses is worked out digit by digit below.
        if let v = DecimalText.parse(bytes, scale: scale) { return .value(v) }
        let n = bytes.count
        var i = 0
        var negative = false
        if n > 0 && (bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+")) { negative = bytes[0] == UInt8(ascii: "-"); i = 1 }
        // significand = the digits without their trailing zeros; `zeros` counts those.
        var significand: Int64 = 0
        var significandOverflow = false
        var zeros = 0
        var digits = 0
        var fractionDigits = 0
        var point = false
        while i < n {
            let c = bytes[i]
            if c >= 48 && c <= 57 {
                digits += 1
                if point { fractionDigits += 1 }
                if c == 48 {
                    zeros += 1
                } else {
                    // Fold the zeros held back, then this digit.
                    var k = 0
                    while k <= zeros && !significandOverflow {
                        let (m, o) = significand.multipliedReportingOverflow(by: 10)
                        significand = m
                        significandOverflow = o
                        k += 1
                    }
                    if !significandOverflow {
                        let (a, o) = significand.addingReportingOverflow(Int64(c - 48))
                        significand = a
                        significandOverflow = o
                    }
                    zeros = 0
                }
            } else if c == UInt8(ascii: ".") {
                if point { return .malformed }
                point = true
            } else if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                break
            } else {
                return .malformed
            }
            i += 1
        }
        guard digits > 0 else { return .malformed }
        var exponent = 0
        if i < n {
            i += 1  // the 'e'
            var exponentNegative = false
            if i < n && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-")) { exponentNegative = bytes[i] == UInt8(ascii: "-"); i += 1 }
            let start = i
            while i < n && bytes[i] >= 48 && bytes[i] <= 57 {
                // Saturates far beyond any exponent that could leave a value in range.
                exponent = min(exponent * 10 + Int(bytes[i] - 48), 1 << 40)
                i += 1
            }
            guard i == n && i > start else { return .malformed }
            if exponentNegative { exponent = -exponent }
        }
        if significand == 0 && !significandOverflow { return .value(0) }  // 0e5, -0.000: zero
        // value * 10^scale = significand * 10^shift, and the significand ends in a non-zero digit.
        let shift = zeros - fractionDigits + exponent + scale
        if shift < 0 { return .tooManyPlaces }
        if significandOverflow || shift > 18 { return .outOfRange }
        var v = significand
        for _ in 0 ..< shift {
            let (m, o) = v.multipliedReportingOverflow(by: 10)
            if o { return .outOfRange }
            v = m
        }
        return .value(negative ? -v : v)
    }

    public static func parse(_ text: String, scale: Int) -> ExactDecimal {
        var text = text
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0), scale: scale) }
    }
}
