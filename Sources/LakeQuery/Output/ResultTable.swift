import Foundation
import LakeFormat

/// The result of a query or report: named columns and rows of values, printable as an aligned
/// table for people, or as CSV and JSON (an array of objects with snake_case keys, money as
/// strings with its two decimals, dates as YYYY-MM-DD) for other programs.
public struct ResultTable: Sendable, Equatable {
    public var title: String?
    public var columns: [String]
    public var rows: [[Value]]

    public init(title: String? = nil, columns: [String], rows: [[Value]] = []) {
        self.title = title
        self.columns = columns
        self.rows = rows
    }

    public enum Format: String, Sendable, CaseIterable {
        case table, csv, json
    }

    /// The longest text cell the table format shows whole on a terminal; longer ones are cut.
    public static let terminalCellWidth = 28

    /// `maxCellWidth`: see `renderTable` (`.max` writing into a pipe or a file).
    public func render(_ format: Format, maxCellWidth: Int = terminalCellWidth) -> String {
        switch format {
        case .table: return renderTable(maxCellWidth: maxCellWidth)
        case .csv: return renderCSV()
        case .json: return renderJSON()
        }
    }

    /// Aligned columns; numbers right-aligned; long text cut to keep rows within a terminal.
    /// A number is never cut: an inventory value of 30 digits printed as its first 27 and an
    /// ellipsis read as a different amount.
    public func renderTable(maxCellWidth: Int = terminalCellWidth) -> String {
        func cell(_ v: Value) -> String {
            // Cells hold input text (raw lines, reject details): made visible, so an escape
            // sequence in a source cannot drive the terminal or hide in a padded column.
            let t = v == .null ? "-" : VisibleText.escape(v.text)
            return t.count > maxCellWidth && !v.isNumeric ? String(t.prefix(maxCellWidth - 1)) + "…" : t
        }
        let cells = rows.map { $0.map(cell) }
        var widths = columns.map(\.count)
        for r in cells { for (i, c) in r.enumerated() where c.count > widths[i] { widths[i] = c.count } }
        let numeric = columns.indices.map { i in rows.contains { $0[i].isNumeric } && rows.allSatisfy { $0[i].isNumeric || $0[i] == .null } }
        func pad(_ s: String, _ i: Int) -> String {
            let fill = String(repeating: " ", count: max(0, widths[i] - s.count))
            return numeric[i] ? fill + s : s + fill
        }
        var lines: [String] = []
        if let title { lines.append(title) }
        lines.append(columns.indices.map { pad(columns[$0], $0) }.joined(separator: "  "))
        lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        for r in cells { lines.append(r.indices.map { pad(r[$0], $0) }.joined(separator: "  ")) }
        if rows.isEmpty { lines.append("(no rows)") }
        return lines.joined(separator: "\n")
    }

    public func renderCSV() -> String {
        func quote(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var lines = [columns.map(quote).joined(separator: ",")]
        for r in rows { lines.append(r.map { quote($0.machineText) }.joined(separator: ",")) }
        return lines.joined(separator: "\n")
    }

    public func renderJSON() -> String {
        func json(_ v: Value) -> String {
            switch v {
            case .null: return "null"
            case .bool(let b): return b ? "true" : "false"
            case .int(let i): return String(i)
            case .duration(let seconds): return String(seconds)
            case .double(let d): return d.isFinite ? Value.format(d) : "null"
            case .real(let d): return d.isFinite ? v.text : "null"
            case .string, .decimal, .date, .timestamp: return jsonString(v.text)
            }
        }
        let keys = columns.map { jsonString(snakeCase($0)) }
        let objects = rows.map { r in "  {" + zip(keys, r).map { "\($0): \(json($1))" }.joined(separator: ", ") + "}" }
        return objects.isEmpty ? "[]" : "[\n" + objects.joined(separator: ",\n") + "\n]"
    }
}

func snakeCase(_ s: String) -> String {
    var out = ""
    for ch in s.lowercased() {
        if ch.isLetter || ch.isNumber { out.append(ch) } else if !out.hasSuffix("_") { out.append("_") }
    }
    while out.hasSuffix("_") { out.removeLast() }
    return out
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}
