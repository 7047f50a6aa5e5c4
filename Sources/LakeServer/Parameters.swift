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
        guard allowed.contains(text) else {
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
