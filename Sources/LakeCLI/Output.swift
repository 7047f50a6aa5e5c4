import ArgumentParser
import Foundation
import LakeFormat
import LakeQuery

/// How results are printed: aligned text for people, JSON and CSV for pipes. One enum for every
/// command (reports, queries, listings); LakeQuery owns it because it renders result tables.
typealias OutputFormat = ResultTable.Format

extension ResultTable.Format: ExpressibleByArgument {}

/// A listing (snapshots, files, verification results) for people or as CSV, through the one
/// table renderer the reports use; listing cells (paths, messages) are never cut.
func printListing(_ columns: [String], _ rows: [[String]], format: OutputFormat, indent: String = "") {
    let table = ResultTable(columns: columns, rows: rows.map { $0.map { Value.string($0) } })
    let text = format == .csv ? table.renderCSV() : table.renderTable(maxCellWidth: .max)
    print(text.split(separator: "\n", omittingEmptySubsequences: false).map { indent + $0 }.joined(separator: "\n"))
}

/// Rows of a command's result with one column list: printed as a CSV listing, or as JSON
/// objects keyed by the column names (numbers stay numbers, nil is null), so the two formats
/// of a command always name the same fields.
struct Records {
    let columns: [String]
    var rows: [[Any?]] = []

    init(_ columns: [String]) { self.columns = columns }

    mutating func append(_ values: [Any?]) {
        precondition(values.count == columns.count, "one value per column")
        rows.append(values)
    }

    func printCSV() {
        printListing(columns, rows.map { $0.map { $0.map { "\($0)" } ?? "" } }, format: .csv)
    }

    var objects: [[String: Any]] {
        rows.map { Dictionary(uniqueKeysWithValues: zip(columns, $0.map { $0 ?? NSNull() })) }
    }
}

/// Writes to standard error (progress, warnings) without touching standard output.
func printError(_ text: String) {
    StandardStream.write((text + "\n"), to: StandardStream.error)
}

func jsonText<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
}

/// A one-line progress bar on standard error, drawn only when it is a terminal.
final class ProgressBar: @unchecked Sendable {
    private let label: String
    private let enabled: Bool
    private let start = Date()
    private var lastDraw = Date.distantPast

    init(label: String, quiet: Bool) {
        self.label = label
        enabled = !quiet && isatty(STDERR_FILENO) == 1
    }

    func update(_ done: Int64, _ total: Int64) {
        guard enabled else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 || done >= total else { return }
        lastDraw = now
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
        let width = 30
        let filled = Int(fraction * Double(width))
        let mb = Double(done) / 1e6
        let rate = mb / max(now.timeIntervalSince(start), 1e-3)
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line = String(format: "\r%@ [%@] %3.0f%% %.0f/%.0f MB %.0f MB/s", label, bar, fraction * 100, mb, Double(total) / 1e6, rate)
        StandardStream.write(line, to: StandardStream.error)
    }

    func finish() {
        guard enabled else { return }
        StandardStream.write("\r\u{1B}[K", to: StandardStream.error)
    }
}

