/// Parquet STRING columns hold UTF-8 only: DuckDB and pyarrow refuse a value with other bytes
/// ("Invalid string encoding"), and one such value makes the whole column unreadable to them.
/// Validated values are UTF-8 by construction (the JSON scanner checks every string); rejected
/// input kept as received (a raw order line, a CSV record) can hold any bytes, and is stored
/// through `escapingInvalidUTF8` when it is not UTF-8.
public enum StoredText {
    /// Whether `bytes` are well-formed UTF-8 (an ASCII scan first: almost every line is).
    public static func isUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.contains(where: { $0 >= 0x80 }) else { return true }
        return String(validating: bytes, as: UTF8.self) != nil
    }

    /// `bytes` as UTF-8 text: every byte outside a well-formed sequence written as `\xNN`
    /// (two uppercase hex digits) and, so that such an escape is never ambiguous, every
    /// backslash doubled. Meant for bytes `isUTF8` refused; the caller says in the value's
    /// context that it was escaped.
    public static func escapingInvalidUTF8(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        let hex = Array("0123456789ABCDEF".utf8)
        var i = 0
        while i < bytes.count {
            // A fresh decoder per scalar, so an invalid byte costs only itself.
            var it = bytes[i...].makeIterator()
            var decoder = UTF8()
            if case .scalarValue(let u) = decoder.decode(&it) {
                let width = UTF8.width(u)
                if u == "\\" { out += [0x5C, 0x5C] } else { out += bytes[i ..< i + width] }
                i += width
            } else {
                out += [0x5C, UInt8(ascii: "x"), hex[Int(bytes[i] >> 4)], hex[Int(bytes[i] & 15)]]
                i += 1
            }
        }
        return out
    }
}
