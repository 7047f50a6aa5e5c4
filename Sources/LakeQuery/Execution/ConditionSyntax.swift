import LakeFormat

/// The syntax of one `--where` condition, before any column or type is known:
///
///     COLUMN OP VALUE              OP: = != <> < <= > >=
///     COLUMN in (V1, V2, …)        or COLUMN in V1,V2,…
///     COLUMN between A and B       (inclusive; also "between A,B")
///
/// A value is bare text (outer spaces trimmed) or quoted with '…' or "…", where a doubled quote
/// stands for one ("O''Brien"). Quotes and parentheses are syntax, never part of a bare value:
/// anything this grammar does not describe is refused with what was expected and where, so a
/// typo can never turn into a condition that silently matches nothing.
public struct ConditionSyntax: Sendable, Equatable {
    public var column: String
    public var op: PredicateOp
    public var values: [String]

    public init(column: String, op: PredicateOp, values: [String]) {
        self.column = column
        self.op = op
        self.values = values
    }

    public static func parse(_ text: String) throws(QueryError) -> ConditionSyntax {
        var p = Parser(text)
        return try p.condition()
    }

    private struct Parser {
        let text: String
        let b: [UInt8]
        var i = 0

        init(_ text: String) {
            self.text = text
            b = Array(text.utf8)
        }

        func fail(_ reason: String) -> QueryError {
            // Positions count characters from 1, as they appear on the command line.
            let at = String(decoding: b[..<min(i, b.count)], as: UTF8.self).count + 1
            return .badPredicate(text, reason: i < b.count ? "\(reason) at character \(at)" : "\(reason) at the end")
        }

        mutating func spaces() { while i < b.count, b[i] == 32 || b[i] == 9 { i += 1 } }

        static func isWordByte(_ c: UInt8) -> Bool {
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95
        }

        /// A keyword (case-insensitive) followed by a non-word byte or the end.
        mutating func keyword(_ k: String) -> Bool {
            let kb = Array(k.utf8)
            guard i + kb.count <= b.count else { return false }
            for (j, c) in kb.enumerated() where b[i + j] | 0x20 != c { return false }
            if i + kb.count < b.count, Self.isWordByte(b[i + kb.count]) { return false }
            i += kb.count
            return true
        }

        mutating func condition() throws(QueryError) -> ConditionSyntax {
            spaces()
            let start = i
            while i < b.count, Self.isWordByte(b[i]) { i += 1 }
            guard i > start else { throw fail("expected a column name") }
            let column = String(decoding: b[start ..< i], as: UTF8.self)
            spaces()
            if keyword("in") { return ConditionSyntax(column: column, op: .in, values: try list()) }
            if keyword("between") { return ConditionSyntax(column: column, op: .between, values: try between()) }
            guard let op = comparison() else {
                throw fail("expected an operator (= != <> < <= > >= in between)")
            }
            spaces()
            let value = try value(stops: [])
            spaces()
            guard i == b.count else { throw fail("unexpected text after the value") }
            return ConditionSyntax(column: column, op: op, values: [value])
        }

        mutating func comparison() -> PredicateOp? {
            for (token, op) in [("!=", PredicateOp.ne), ("<>", .ne), ("<=", .le), (">=", .ge), ("=", .eq), ("<", .lt), (">", .gt)] {
                let t = Array(token.utf8)
                if i + t.count <= b.count, Array(b[i ..< i + t.count]) == t {
                    i += t.count
                    return op
                }
            }
            return nil
        }

        /// A quoted or bare value. A bare value runs to the end (or to a byte in `stops`), has
        /// its outer spaces trimmed, and may not contain quotes, parentheses or start with an
        /// operator character: those mean the condition was written in a syntax we do not read.
        mutating func value(stops: Set<UInt8>) throws(QueryError) -> String {
            guard i < b.count else { throw fail("expected a value") }
            let q = b[i]
            if q == 39 || q == 34 {  // ' or "
                i += 1
                var out: [UInt8] = []
                while true {
                    guard i < b.count else { throw fail("quoted value is never closed (missing \(q == 39 ? "'" : "\""))") }
                    if b[i] == q {
                        if i + 1 < b.count, b[i + 1] == q { out.append(q); i += 2; continue }
                        i += 1
                        return String(decoding: out, as: UTF8.self)
                    }
                    out.append(b[i])
                    i += 1
                }
            }
            if [61, 60, 62, 33].contains(q) { throw fail("unexpected '\(Character(Unicode.Scalar(q)))' (one operator per condition)") }
            let start = i
            while i < b.count, !stops.contains(b[i]) {
                switch b[i] {
                case 39, 34: throw fail("a quote inside an unquoted value; quote the whole value ('…' or \"…\")")
                case 40, 41: throw fail("unexpected parenthesis; lists are written: COLUMN in (A, B)")
                default: i += 1
                }
            }
            var end = i
            while end > start, b[end - 1] == 32 || b[end - 1] == 9 { end -= 1 }
            guard end > start else { throw fail("expected a value") }
            return String(decoding: b[start ..< end], as: UTF8.self)
        }

        mutating func list() throws(QueryError) -> [String] {
            spaces()
            let parenthesised = i < b.count && b[i] == 40
            if parenthesised { i += 1 }
            var values: [String] = []
            while true {
                spaces()
                if parenthesised, i < b.count, b[i] == 41, values.isEmpty { throw fail("empty list; in needs at least one value") }
                let quoted = i < b.count && (b[i] == 39 || b[i] == 34)
                let item = try value(stops: parenthesised ? [44, 41] : [44])
                // "in (confirmed pending)" is a missing comma far more often than a value with a
                // space: such a value must be quoted.
                if !quoted, item.utf8.contains(where: { $0 == 32 || $0 == 9 }) {
                    throw fail("list value '\(VisibleText.escape(item))' contains a space; separate values with ',' or quote a value with spaces")
                }
                values.append(item)
                spaces()
                if i < b.count, b[i] == 44 { i += 1; continue }
                break
            }
            if parenthesised {
                guard i < b.count, b[i] == 41 else { throw fail("expected ',' or ')' in the list") }
                i += 1
                spaces()
            }
            guard i == b.count else { throw fail("unexpected text after the list") }
            return values
        }

        mutating func between() throws(QueryError) -> [String] {
            spaces()
            let low = try token()
            spaces()
            if i < b.count, b[i] == 44 { i += 1 } else if !keyword("and") { throw fail("expected 'and' between the two bounds") }
            spaces()
            let high = try value(stops: [])
            spaces()
            guard i == b.count else { throw fail("unexpected text after the upper bound") }
            return [low, high]
        }

        /// A quoted value, or a bare one up to the next space or comma (the lower bound of between).
        mutating func token() throws(QueryError) -> String {
            guard i < b.count else { throw fail("expected a value") }
            if b[i] == 39 || b[i] == 34 { return try value(stops: []) }
            return try value(stops: [32, 9, 44])
        }
    }
}
