/// Text from an input, made safe to print in a message: control characters, a byte-order mark,
/// invisible and direction-changing characters, and invalid UTF-8 become visible escapes
/// (`\t`, `\u{FEFF}`, `\x{FF}`), so a message never moves the cursor, clears the terminal, or
/// shows two different values as identical. The one escaping rule for every layer's errors.
public enum VisibleText {
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for u in text.unicodeScalars { append(u, to: &out) }
        return out
    }

    /// `text` escaped, cut after its first `limit` characters with "…": for input echoed in an
    /// error, whose line may be megabytes (a binary file read as CSV).
    public static func escape(_ text: String, limit: Int) -> String {
        guard text.count > limit else { return escape(text) }
        return escape(String(text.prefix(limit))) + "…"
    }

    /// Bytes as read (e.g. a CSV header): invalid UTF-8 shows as `\x{..}` per byte, not as U+FFFD.
    public static func escape<C: Collection>(bytes: C) -> String where C.Element == UInt8 {
        let b = Array(bytes)
        var out = ""
        var i = 0
        while i < b.count {
            // A fresh decoder per scalar, so an invalid byte costs only itself.
            var it = b[i...].makeIterator()
            var decoder = UTF8()
            if case .scalarValue(let u) = decoder.decode(&it) {
                append(u, to: &out)
                i += UTF8.width(u)
            } else {
                out += "\\x{" + hex(UInt32(b[i]), 2) + "}"
                i += 1
            }
        }
        return out
    }

    static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x00 ... 0x1F, 0x7F ... 0x9F: return true                // C0, DEL, C1 controls
        case 0xFEFF, 0xFFFD: return true                               // byte-order mark, replacement character
        case 0x200B ... 0x200F, 0x2028 ... 0x202E, 0x2060 ... 0x2069: return true  // zero-width, separators, bidi
        default: return false
        }
    }

    private static func append(_ u: Unicode.Scalar, to out: inout String) {
        guard needsEscape(u) else { out.unicodeScalars.append(u); return }
        switch u {
        case "\t": out += "\\t"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        default: out += "\\u{" + hex(u.value, 4) + "}"
        }
    }

    private static func hex(_ v: UInt32, _ width: Int) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
