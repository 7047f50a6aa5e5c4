/// What is wrong with a JSON text, precisely enough to fix the producer.
public enum JSONProblem: Sendable, Equatable, CustomStringConvertible {
    case unexpectedEnd(expecting: String)
    case unterminatedString
    case unexpectedByte(UInt8, expecting: String)
    case invalidEscape(UInt8)
    case invalidUnicodeEscape
    case unpairedSurrogate
    case controlCharacterInString(UInt8)
    case invalidUTF8
    case invalidNumber
    case nestedTooDeep
    case trailingData

    public var description: String {
        switch self {
        case .unexpectedEnd(let e): return "line ends where \(e) was expected (truncated?)"
        case .unterminatedString: return "unterminated string"
        case .unexpectedByte(let b, let e): return "unexpected \(JSONProblem.show(b)) where \(e) was expected"
        case .invalidEscape(let b): return "invalid escape \\\(JSONProblem.show(b, quoted: false))"
        case .invalidUnicodeEscape: return "invalid \\u escape (need 4 hex digits)"
        case .unpairedSurrogate: return "unpaired UTF-16 surrogate in \\u escape"
        case .controlCharacterInString(let b): return "unescaped control character 0x\(String(b, radix: 16)) in string"
        case .invalidUTF8: return "invalid UTF-8"
        case .invalidNumber: return "invalid number"
        case .nestedTooDeep: return "nesting deeper than 64 levels"
        case .trailingData: return "unexpected data after the JSON value"
        }
    }

    static func show(_ b: UInt8, quoted: Bool = true) -> String {
        if b >= 0x21 && b < 0x7f {
            let c = String(UnicodeScalar(b))
            return quoted ? "'\(c)'" : c
        }
        return "byte 0x" + String(b, radix: 16)
    }
}

public struct JSONError: Error, Sendable, Equatable {
    public var problem: JSONProblem
    /// 0-based offset into the scanned bytes.
    public var offset: Int
}

/// A forward-only JSON tokenizer over borrowed bytes. No allocation except into the caller's
/// scratch buffer for string contents; strings are validated (escapes, surrogates, UTF-8) as
/// they are copied, so everything stored downstream is valid UTF-8.
struct JSONScanner {
    let base: UnsafePointer<UInt8>
    let end: Int
    var i = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        // A non-nil base even for empty input keeps every access path branch-free.
        base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(bitPattern: 1)!
        end = bytes.count
    }

    @inline(__always) func fail(_ p: JSONProblem, at: Int? = nil) -> JSONError { JSONError(problem: p, offset: at ?? i) }

    @inline(__always) mutating func skipWhitespace() {
        while i < end {
            let c = base[i]
            if c == 32 || c == 10 || c == 13 || c == 9 { i += 1 } else { return }
        }
    }

    /// The next non-whitespace byte (not consumed). `expecting` is a StaticString: a String
    /// argument cost a release call on every token, and it is only read on the error path.
    @inline(__always) mutating func peek(expecting: StaticString) throws(JSONError) -> UInt8 {
        skipWhitespace()
        guard i < end else { throw fail(.unexpectedEnd(expecting: expecting.description)) }
        return base[i]
    }

    @inline(__always) mutating func expect(_ b: UInt8, _ what: StaticString) throws(JSONError) {
        let c = try peek(expecting: what)
        guard c == b else { throw fail(.unexpectedByte(c, expecting: what.description)) }
        i += 1
    }

    /// After '{' or ',' in an object: true when another member follows. Consumes '}' at the end.
    @inline(__always) mutating func objectHasMember(first: Bool) throws(JSONError) -> Bool {
        let c = try peek(expecting: first ? "a key or '}'" : "',' or '}'")
        if c == UInt8(ascii: "}") { i += 1; return false }
        if first { return true }
        guard c == UInt8(ascii: ",") else { throw fail(.unexpectedByte(c, expecting: "',' or '}'")) }
        i += 1
        return true
    }

    @inline(__always) mutating func arrayHasElement(first: Bool) throws(JSONError) -> Bool {
        let c = try peek(expecting: first ? "a value or ']'" : "',' or ']'")
        if c == UInt8(ascii: "]") { i += 1; return false }
        if first { return true }
        guard c == UInt8(ascii: ",") else { throw fail(.unexpectedByte(c, expecting: "',' or ']'")) }
        i += 1
        return true
    }

    /// Advances `j` over plain string bytes (printable ASCII other than '"' and '\\') eight at a
    /// time (SWAR), stopping at the first byte that needs a closer look.
    @inline(__always)
    func skipPlain(_ j: inout Int) {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while j + 8 <= end {
            let w = UnsafeRawPointer(base + j).loadUnaligned(as: UInt64.self)
            let quote = w ^ (ones &* 0x22)
            let slash = w ^ (ones &* 0x5C)
            // haszero(x) = (x - 0x01..) & ~x & 0x80..; control bytes are < 0x20; high bit = non-ASCII.
            let special = ((quote &- ones) & ~quote) | ((slash &- ones) & ~slash) | (w &- ones &* 0x20) | w
            if special & highs != 0 { break }
            j += 8
        }
        while j < end {
            let b = base[j]
            if b == 34 || b == 92 || b < 0x20 || b >= 0x80 { return }
            j += 1
        }
    }

    /// Scans a key: returns its raw span when it has no escapes (the common case, matched in
    /// place), else decodes it into `scratch` and returns nil. Consumes the ':' after it.
    @inline(__always)
    mutating func key(scratch: inout [UInt8]) throws(JSONError) -> (start: Int, count: Int)? {
        let c = try peek(expecting: "a key")
        guard c == 34 else { throw fail(.unexpectedByte(c, expecting: "a key in double quotes")) }
        let start = i + 1
        var j = start
        skipPlain(&j)
        while j < end {
            let b = base[j]
            if b == 34 {
                i = j + 1
                try expect(58, "':' after a key")
                return (start, j - start)
            }
            if b == 92 || b < 0x20 || b >= 0x80 { break }
            j += 1
        }
        scratch.removeAll(keepingCapacity: true)
        _ = try string(into: &scratch)
        try expect(58, "':' after a key")
        return nil
    }

    /// Scans a string starting at '"' and returns where its value lies in "text" coordinates,
    /// where text = the scanned bytes followed by `out`'s decoded extras: a string without
    /// escapes is returned in place (no copy); one with escapes is decoded and appended to
    /// `out`, which must be empty or start with a copy of the scanned bytes (an empty `out`
    /// takes that copy first).
    @inline(__always)
    mutating func stringSpan(into out: inout [UInt8]) throws(JSONError) -> (start: Int, count: Int) {
        let open = i
        var j = i + 1
        while true {
            skipPlain(&j)
            guard j < end else { throw fail(.unterminatedString, at: open) }
            let b = base[j]
            if b == 34 {
                i = j + 1
                return (open + 1, j - open - 1)
            }
            if b == 92 {
                i = open
                if out.isEmpty { out.append(contentsOf: UnsafeBufferPointer(start: base, count: end)) }
                let start = try string(into: &out)
                return (start, out.count - start)
            }
            if b < 0x20 { i = j; throw fail(.controlCharacterInString(b)) }
            i = j
            try skipUTF8(b)
            j = i
        }
    }

    /// Scans a string starting at '"' (whitespace already skipped), appending its decoded
    /// UTF-8 to `out`. Returns the start index in `out`.
    @inline(__always)
    mutating func string(into out: inout [UInt8]) throws(JSONError) -> Int {
        let open = i
        i += 1
        let startOut = out.count
        var runStart = i
        while true {
            guard i < end else { throw fail(.unterminatedString, at: open) }
            let b = base[i]
            if b == 34 {
                if i > runStart { out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: i - runStart)) }
                i += 1
                return startOut
            }
            if b == 92 {
                if i > runStart { out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: i - runStart)) }
                try escape(into: &out)
                runStart = i
                continue
            }
            if b < 0x20 { throw fail(.controlCharacterInString(b)) }
            if b >= 0x80 { try skipUTF8(b) } else { i += 1 }
        }
    }

    /// Validates one multi-byte UTF-8 sequence (no overlongs, surrogates or > U+10FFFF).
    @inline(__always)
    mutating func skipUTF8(_ b0: UInt8) throws(JSONError) {
        let len: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
        switch b0 {
        case 0xC2 ... 0xDF: len = 2
        case 0xE0: len = 3; lo = 0xA0
        case 0xE1 ... 0xEC, 0xEE ... 0xEF: len = 3
        case 0xED: len = 3; hi = 0x9F
        case 0xF0: len = 4; lo = 0x90
        case 0xF1 ... 0xF3: len = 4
        case 0xF4: len = 4; hi = 0x8F
        default: throw fail(.invalidUTF8)
        }
        guard i + len <= end else { throw fail(.invalidUTF8) }
        let b1 = base[i + 1]
        guard b1 >= lo && b1 <= hi else { throw fail(.invalidUTF8) }
        var k = 2
        while k < len {
            guard base[i + k] & 0xC0 == 0x80 else { throw fail(.invalidUTF8) }
            k += 1
        }
        i += len
    }

    mutating func escape(into out: inout [UInt8]) throws(JSONError) {
        let at = i
        guard i + 1 < end else { throw fail(.unterminatedString) }
        let e = base[i + 1]
        i += 2
        switch e {
        case 34: out.append(34)
        case 92: out.append(92)
        case 47: out.append(47)
        case UInt8(ascii: "b"): out.append(8)
        case UInt8(ascii: "f"): out.append(12)
        case UInt8(ascii: "n"): out.append(10)
        case UInt8(ascii: "r"): out.append(13)
        case UInt8(ascii: "t"): out.append(9)
        case UInt8(ascii: "u"):
            var scalar = try hex4(at: at)
            if scalar >= 0xD800 && scalar <= 0xDBFF {
                guard i + 1 < end, base[i] == 92, base[i + 1] == UInt8(ascii: "u") else { throw fail(.unpairedSurrogate, at: at) }
                i += 2
                let low = try hex4(at: at)
                guard low >= 0xDC00 && low <= 0xDFFF else { throw fail(.unpairedSurrogate, at: at) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                throw fail(.unpairedSurrogate, at: at)
            }
            appendUTF8(scalar, to: &out)
        default:
            throw fail(.invalidEscape(e), at: at)
        }
    }

    @inline(__always) mutating func hex4(at: Int) throws(JSONError) -> UInt32 {
        guard i + 4 <= end else { throw fail(.invalidUnicodeEscape, at: at) }
        var v: UInt32 = 0
        for k in 0 ..< 4 {
            let c = base[i + k]
            let d: UInt8
            switch c {
            case 48 ... 57: d = c - 48
            case 65 ... 70: d = c - 55
            case 97 ... 102: d = c - 87
            default: throw fail(.invalidUnicodeEscape, at: at)
            }
            v = v << 4 | UInt32(d)
        }
        i += 4
        return v
    }

    @inline(__always) func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
        switch v {
        case 0 ..< 0x80: out.append(UInt8(v))
        case 0x80 ..< 0x800:
            out.append(UInt8(0xC0 | v >> 6)); out.append(UInt8(0x80 | v & 0x3F))
        case 0x800 ..< 0x10000:
            out.append(UInt8(0xE0 | v >> 12)); out.append(UInt8(0x80 | v >> 6 & 0x3F)); out.append(UInt8(0x80 | v & 0x3F))
        default:
            out.append(UInt8(0xF0 | v >> 18)); out.append(UInt8(0x80 | v >> 12 & 0x3F))
            out.append(UInt8(0x80 | v >> 6 & 0x3F)); out.append(UInt8(0x80 | v & 0x3F))
        }
    }

    /// The number at `i` read straight to its value in units of 10^-`scale`, when it is written
    /// plainly: an optional '-', at most 16 integer digits without a leading zero, at most
    /// `scale` fractional digits (at least one after a '.'), then a delimiter or the line's end.
    /// Nearly every quantity and price is; one pass instead of `number` then a decimal parse
    /// of its text (about 200 instructions a price). Anything else (an exponent, more places,
    /// more digits, bad syntax) returns nil and consumes nothing, for `number` and
    /// `ExactDecimal` to read or refuse. 16 digits times 100 stays inside Int64.
    @inline(__always)
    mutating func plainDecimal(scale: Int) -> Int64? {
        var j = i
        let negative = j < end && base[j] == 45
        if negative { j += 1 }
        let first = j
        var v: Int64 = 0
        while j < end && j - first < 16 {
            let d = base[j] &- 48
            guard d < 10 else { break }
            v = v &* 10 &+ Int64(d)
            j += 1
        }
        guard j > first, j - first == 1 || base[first] != 48 else { return nil }
        var places = 0
        if j < end && base[j] == 46 {
            j += 1
            while j < end && places < scale {
                let d = base[j] &- 48
                guard d < 10 else { break }
                v = v &* 10 &+ Int64(d)
                j += 1
                places += 1
            }
            guard places > 0 else { return nil }
        }
        if j < end {
            let c = base[j]
            guard c == 44 || c == 125 || c == 93 || c == 32 || c == 10 || c == 13 || c == 9 else { return nil }
        }
        while places < scale {
            v &*= 10
            places += 1
        }
        i = j
        return negative ? -v : v
    }

    /// Scans a number per the JSON grammar; returns its span and whether it is a plain integer
    /// (no fraction, no exponent).
    @inline(__always)
    mutating func number() throws(JSONError) -> (start: Int, count: Int, isInteger: Bool) {
        let start = i
        var integer = true
        if i < end && base[i] == 45 { i += 1 }
        guard i < end else { throw fail(.invalidNumber, at: start) }
        if base[i] == 48 {
            i += 1
        } else if base[i] >= 49 && base[i] <= 57 {
            while i < end && base[i] >= 48 && base[i] <= 57 { i += 1 }
        } else {
            throw fail(.invalidNumber, at: start)
        }
        if i < end && base[i] == 46 {
            integer = false
            i += 1
            let f = i
            while i < end && base[i] >= 48 && base[i] <= 57 { i += 1 }
            guard i > f else { throw fail(.invalidNumber, at: start) }
        }
        if i < end && (base[i] == 101 || base[i] == 69) {
            integer = false
            i += 1
            if i < end && (base[i] == 43 || base[i] == 45) { i += 1 }
            let e = i
            while i < end && base[i] >= 48 && base[i] <= 57 { i += 1 }
            guard i > e else { throw fail(.invalidNumber, at: start) }
        }
        // A number must end at a delimiter: "12abc" is not 12 followed by junk we ignore.
        if i < end {
            let c = base[i]
            if !(c == 44 || c == 125 || c == 93 || c == 32 || c == 10 || c == 13 || c == 9) { throw fail(.invalidNumber, at: start) }
        }
        return (start, i - start, integer)
    }

    /// Consumes `true`, `false` or `null`; returns which.
    mutating func literal() throws(JSONError) -> UInt8 {
        let c = base[i]
        let word: StaticString = c == UInt8(ascii: "t") ? "true" : c == UInt8(ascii: "f") ? "false" : "null"
        let n = word.utf8CodeUnitCount
        guard i + n <= end else { throw fail(.unexpectedEnd(expecting: "'\(word)'")) }
        for k in 0 ..< n where base[i + k] != word.utf8Start[k] {
            throw fail(.unexpectedByte(base[i + k], expecting: "'\(word)'"), at: i + k)
        }
        i += n
        return c
    }

    /// Skips any value (for fields we do not read), validating it fully.
    mutating func skipValue(scratch: inout [UInt8], depth: Int = 0) throws(JSONError) {
        guard depth < 64 else { throw fail(.nestedTooDeep) }
        let c = try peek(expecting: "a value")
        switch c {
        case 34:
            let mark = scratch.count
            _ = try string(into: &scratch)
            scratch.removeSubrange(mark...)
        case UInt8(ascii: "{"):
            i += 1
            var first = true
            while try objectHasMember(first: first) {
                first = false
                _ = try key(scratch: &scratch)
                try skipValue(scratch: &scratch, depth: depth + 1)
            }
        case UInt8(ascii: "["):
            i += 1
            var first = true
            while try arrayHasElement(first: first) {
                first = false
                try skipValue(scratch: &scratch, depth: depth + 1)
            }
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            _ = try literal()
        case UInt8(ascii: "-"), 48 ... 57:
            _ = try number()
        default:
            throw fail(.unexpectedByte(c, expecting: "a value"))
        }
    }

    /// Whether a JSON value can start with byte `c` (`typeName` names its type).
    static func startsValue(_ c: UInt8) -> Bool {
        switch c {
        case 34, UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "-"),
             UInt8(ascii: "0") ... UInt8(ascii: "9"):
            return true
        default: return false
        }
    }

    /// Name of the JSON type starting with byte `c`, for type-mismatch messages.
    static func typeName(_ c: UInt8) -> String {
        switch c {
        case 34: return "string"
        case UInt8(ascii: "{"): return "object"
        case UInt8(ascii: "["): return "array"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "boolean"
        case UInt8(ascii: "n"): return "null"
        default: return "number"
        }
    }
}
