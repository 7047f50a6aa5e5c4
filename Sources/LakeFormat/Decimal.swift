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
