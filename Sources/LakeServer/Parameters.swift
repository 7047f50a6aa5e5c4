import Foundation
import LakeCatalog
import LakeQuery

/// A request's query parameters, checked against what its endpoint accepts: an unknown or
/// repeated parameter is a 400 naming it, never silently ignored (a typo like `form=` would
/// otherwise answer for the whole lake).
struct QueryParameters {
    private(set) var values: [String: String] = [:]

    init<S: Sequence>(_ pairs: S, allowed: Set<String>) throws(APIError) where S.Element == (key: Substring, value: Substring) {
        for (k, v) in pairs {
            let key = String(k)
            guard allowed.contains(key) else {
                throw .badParameter(name: key, detail: "unknown parameter; this endpoint takes \(allowed.sorted().joined(separator: ", "))")
            }
            guard values[key] == nil else { throw .badParameter(name: key, detail: "given more than once") }
            values[key] = String(v)
        }
    }

    /// `query`: the URI's query as sent. Values are percent-decoded strictly: a `%` without two
    /// hex digits after it, or decoded bytes that are not UTF-8, is a 400 naming the parameter.
    /// Hummingbird's `queryParameters` keeps such a value as sent, so `country=%ZZ` (or a
    /// Latin-1 `%E9`) answered 200 for a country of that literal name: an empty report, as if
    /// nothing had sold there. Names are compared as sent (`%63ountry` is an unknown parameter).
    init(query: String?, allowed: Set<String>) throws(APIError) {
        var pairs: [(key: Substring, value: Substring)] = []
        for part in (query ?? "").split(separator: "&") {
            let key = part.prefix { $0 != "=" }
            let raw = part.dropFirst(key.count + 1)
            guard let value = Self.percentDecoded(raw) else {
                throw .badParameter(name: String(key), detail: "the value is not percent-encoded UTF-8 (a % needs two hex digits, and the bytes must be UTF-8)")
            }
            pairs.append((key, Substring(value)))
        }
        try self.init(pairs, allowed: allowed)
    }

    /// `text` with its %XX escapes decoded; nil when an escape is malformed or the bytes are not UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var utf8 = text.utf8[...]
        while let b = utf8.popFirst() {
            guard b == UInt8(ascii: "%") else { bytes.append(b); continue }
            guard let h = utf8.popFirst().flatMap(Self.hexValue), let l = utf8.popFirst().flatMap(Self.hexValue) else { return nil }
            bytes.append(h << 4 | l)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0") ... UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a") ... UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A") ... UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    subscript(_ name: String) -> String? { values[name] }

    /// The parameters in a fixed order, for cache keys and ETags.
    var canonical: String { values.keys.sorted().map { "\($0)=\(values[$0]!)" }.joined(separator: "&") }

    func date(_ name: String) throws(APIError) -> Int32? {
        guard let text = values[name] else { return nil }
        guard text.utf8.count == 10, let d = Timestamps.parseDate(text), let day = Int32(exactly: d) else {
            throw .badParameter(name: name, detail: "'\(text)' is not a date YYYY-MM-DD")
        }
        return day
    }

    func integer(_ name: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let text = values[name] else { return nil }
        guard let n = Int(text), range.contains(n) else {
            throw .badParameter(name: name, detail: "'\(text)' is not an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    func oneOf(_ name: String, _ allowed: [String]) throws(APIError) -> String? {
        guard let text = values[name] else { return nil }
        // By bytes: a value equal only canonically (another Unicode normalization) matches no row.
        guard allowed.contains(where: { $0.utf8.elementsEqual(text.utf8) }) else {
            throw .badParameter(name: name, detail: "'\(text)' is not one of \(allowed.joined(separator: ", "))")
        }
        return text
    }

    /// Free text (a country, a category): non-empty, printable, at most 100 characters.
    func text(_ name: String) throws(APIError) -> String? {
        guard let text = values[name] else { return nil }
        guard !text.isEmpty, text.count <= 100, !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .badParameter(name: name, detail: "expected 1 to 100 printable characters")
        }
        return text
    }

    func asOf() throws(APIError) -> AsOf? {
        guard let text = values["as_of"] else { return nil }
        do { return try AsOf.parse(text) } catch {
            throw .badParameter(name: "as_of", detail: "'\(text)' is not a snapshot id or an ISO-8601 time")
        }
    }
}
