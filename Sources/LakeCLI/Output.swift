import ArgumentParser
import Foundation
import LakeFormat
import LakePipeline
import LakeQuery

/// How results are printed: aligned text for people, JSON and CSV for pipes. One enum for every
/// command (reports, queries, listings); LakeQuery owns it because it renders result tables.
typealias OutputFormat = ResultTable.Format

extension ResultTable.Format: ExpressibleByArgument {}

/// The longest text cell the table format prints whole: on a terminal, longer cells are cut
/// (`ResultTable.terminalCellWidth`) to keep rows on screen; into a pipe or a file every cell is
/// whole, or `grep` on a raw line cut at 28 characters found nothing, silently.
let tableCellWidth = isatty(STDOUT_FILENO) == 1 ? ResultTable.terminalCellWidth : Int.max

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

/// A command whose result is one record (init, upgrade, schema migrate, catalog copy, generate):
/// CSV prints its header and one row, JSON one object with the same fields plus `lists` (what
/// one CSV cell cannot hold as such: a migration's steps), the table format the command's text.
func printResult(_ result: Records, lists: [String: Any] = [:], format: OutputFormat, table: () -> Void) throws {
    precondition(result.rows.count == 1, "one record")
    switch format {
    case .json: try printJSON(result.objects[0].merging(lists) { _, list in list })
    case .csv: result.printCSV()
    case .table: table()
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

/// A one-line progress bar on standard error, drawn only when it is a terminal (never into a
/// pipe or file, where "\r" redraws would be noise), at most 10 times a second, and erased by
/// `finish`. Work measured in bytes shows MB and MB/s; counted work names its unit
/// ("120/3937 files 35/s").
final class ProgressBar: @unchecked Sendable {
    enum Unit {
        case bytes
        /// Things counted one by one: files, orders.
        case count(String)
    }

    private var label: String
    private var unit: Unit
    private let enabled: Bool
    // The first report, not the bar's creation: a bar for a later phase (erase's purge) is made
    // before the work starts, and its rate must not count the phases before it.
    private var start: (time: Date, done: Int64)?
    // Long work reports from several threads (compaction rewrites partitions in parallel).
    private let lock = NSLock()
    private var lastDraw = Date.distantPast
    private var drawn = false
    // The last figure reported: one below it is the same work started again.
    private var lastDone: Int64?
    // Said on the line once the work restarted: a bar falling back to 0 unexplained reads as a bug.
    private var restarts = 0

    init(label: String, unit: Unit = .bytes, quiet: Bool) {
        self.label = label
        self.unit = unit
        enabled = !quiet && isatty(STDERR_FILENO) == 1
    }

    func update(_ done: Int64, _ total: Int64) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        // Work that starts again from less than it had done is a re-plan: a delete, erasure or
        // purge whose files another writer's commit changed (`RowDelete`), drawn at once.
        let restarted = lastDone.map { done < $0 } ?? false
        if restarted {
            restarts += 1
            start = nil
        }
        lastDone = done
        let now = Date()
        // From the first report, drawn or not: set at the first draw, the rate read 0/s there.
        if start == nil { start = (now, done) }
        guard now.timeIntervalSince(lastDraw) >= 0.1 || done >= total || restarted else { return }
        lastDraw = now
        drawn = true
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
        let width = 30
        let filled = Int(fraction * Double(width))
        let seconds = max(now.timeIntervalSince(start?.time ?? now), 1e-3)
        let since = Double(done - (start?.done ?? 0))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let figures: String
        switch unit {
        case .bytes:
            let mb = Double(done) / 1e6
            figures = String(format: "%.0f/%.0f MB %.0f MB/s", mb, Double(total) / 1e6, since / 1e6 / seconds)
        case .count(let noun):
            figures = String(format: "%lld/%lld %@ %.0f/s", done, total, noun, since / seconds)
        }
        let again = restarts == 0 ? "" : " (attempt \(restarts + 1): another writer committed meanwhile, started again)"
        // Erase to the line's end: a shorter line must not leave the previous one's tail.
        let line = String(format: "\r%@ [%@] %3.0f%% %@%@\u{1B}[K", label, bar, fraction * 100, figures, again)
        StandardStream.write(line, to: StandardStream.error)
    }

    /// A later step of the same work, drawn at once under `label` (a purge's expiry and catalog
    /// rebuild after its rewrites: without it the bar sat at 100 % for seconds). Its figures, if
    /// it reports any, start afresh (counted in `unit` when given).
    func phase(_ label: String, unit: Unit? = nil) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        self.label = label
        if let unit { self.unit = unit }
        start = nil
        lastDone = nil
        restarts = 0
        lastDraw = Date()
        drawn = true
        StandardStream.write("\r\(label) …\u{1B}[K", to: StandardStream.error)
    }

    func finish() {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        if drawn { StandardStream.write("\r\u{1B}[K", to: StandardStream.error) }
        drawn = false
    }
}

/// Runs `work` with a progress bar (`ProgressBar`), erased when the work ends or throws, so
/// what is printed next (the result, or the error) starts on a clean line.
func withProgressBar<T, E: Error>(_ label: String, unit: ProgressBar.Unit, quiet: Bool,
                                  _ work: (@escaping WorkProgress) throws(E) -> T) throws(E) -> T {
    let bar = ProgressBar(label: label, unit: unit, quiet: quiet)
    defer { bar.finish() }
    return try work { bar.update($0, $1) }
}

/// A purge's bar (`lake erase --purge`, `lake vacuum`): the files rewritten, then the expiry of
/// the earlier snapshots (replacement files checked) and the catalog's rebuild, each under its
/// own label (`ProgressBar.phase`).
func withPurgeBar<T>(quiet: Bool, _ work: (_ progress: @escaping WorkProgress, _ phase: @escaping PurgePhases,
                                           _ expiry: @escaping WorkProgress) throws -> T) throws -> T {
    let bar = ProgressBar(label: "purge", unit: .count("files"), quiet: quiet)
    defer { bar.finish() }
    return try work({ bar.update($0, $1) }, { step in
        switch step {
        case .expire: bar.phase("purge: expiring earlier snapshots")
        case .scrub: bar.phase("purge: rebuilding the catalog")
        }
    }, { bar.update($0, $1) })
}
