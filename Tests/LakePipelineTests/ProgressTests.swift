import Foundation
import LakeCatalog
import LakeTestSupport
import Testing
@testable import LakePipeline

/// Every (done, total) a long job reported, from whichever thread reported it.
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var calls: [(done: Int64, total: Int64)] = []

    var report: WorkProgress {
        { done, total in
            self.lock.lock()
            self.calls.append((done, total))
            self.lock.unlock()
        }
    }

    var values: [(done: Int64, total: Int64)] {
        lock.lock()
        defer { lock.unlock() }
        return calls
    }

    /// One total throughout, done never falling, and the last call is total of total.
    func risesTo(_ total: Int64, _ what: String) {
        let v = values
        #expect(!v.isEmpty, "\(what): no progress reported")
        #expect(v.allSatisfy { $0.total == total }, "\(what): totals \(Set(v.map(\.total))) are not \(total)")
        #expect(zip(v, v.dropFirst()).allSatisfy { $0.done <= $1.done }, "\(what): done fell: \(v.map(\.done))")
        #expect(v.last.map { $0.done == total } == true, "\(what): ended at \(v.last.map { "\($0.done)" } ?? "-") of \(total)")
    }
}

@Suite("Progress of long work: the pipeline's callbacks", .serialized)
struct ProgressCallbackTests {
    @Test("compaction reports the input files rewritten, rising to all of them")
    func compaction() throws {
        let lake = try BatchedLake(batches: 4)
        defer { lake.dir.remove() }
        let log = ProgressLog()
        let report = try Compaction.run(lake.catalog, progress: log.report)
        #expect(report.snapshotID != nil && report.filesBefore > report.groups.count)
        log.risesTo(Int64(report.filesBefore), "compaction")
        // A second run has nothing to rewrite: no bar for nothing.
        let idle = ProgressLog()
        let again = try Compaction.run(lake.catalog, progress: idle.report)
        #expect(again.groups.isEmpty && idle.values.isEmpty)
    }

    @Test("a migration's rewrite reports every live file of the table")
    func migrationRewrite() throws {
        let lake = try BatchedLake(batches: 2, v1Only: true)
        defer { lake.dir.remove() }
        let store = LakeStore(catalog: lake.catalog, registry: try liveRegistry())
        let files = try lake.catalog.dataFiles(tableID: try lake.catalog.table(schema: "curated", name: "orders").tableID).count
        let log = ProgressLog()
        let r = try Migration.run(store, table: "orders", to: 2, rewrite: true, progress: log.report)
        #expect(r.filesRewritten == files && files > 1)
        log.risesTo(Int64(files), "migration")
    }

    @Test("an erasure reports the files it reads to find the rows, then its purge the files with deletes it rewrites")
    func erasure() throws {
        let lake = try BatchedLake(batches: 3)
        defer { lake.dir.remove() }
        let customer = "CUST-00004"
        // Read: the orders files whose statistics may hold the customer, every item and raw file.
        let orders = try lake.catalog.table(schema: "curated", name: "orders")
        let cust = try #require(orders.column(named: "customer_id"))
        let mayHold = try lake.catalog.dataFiles(tableID: orders.tableID).filter { Erasure.mayHold($0, cust, customer) }.count
        let items = try lake.catalog.dataFiles(tableID: try lake.catalog.table(schema: "curated", name: "order_items").tableID).count
        let raw = try lake.catalog.dataFiles(tableID: try lake.catalog.table(schema: "raw", name: "orders").tableID).count
        let scan = ProgressLog(), log = ProgressLog()
        let r = try Erasure.run(lake.catalog, customerID: customer, purge: true, scanned: scan.report, progress: log.report)
        #expect(r.delete.files > 1 && r.purgeSnapshotID != nil)
        scan.risesTo(Int64(mayHold + items + raw), "erasure's scan")
        // One rewrite per file holding a deleted row.
        log.risesTo(Int64(r.delete.files), "purge")
    }

    @Test("a purge names its steps after the rewrites, in order: the expiry (counting the replacement files it checks), then the catalog's rebuild")
    func purgePhases() throws {
        let lake = try BatchedLake(batches: 3)
        defer { lake.dir.remove() }
        // One log for the three callbacks, so their order shows.
        final class Events: @unchecked Sendable {
            private let lock = NSLock()
            private var list: [String] = []
            func add(_ e: String) { lock.lock(); list.append(e); lock.unlock() }
            var all: [String] { lock.lock(); defer { lock.unlock() }; return list }
        }
        let events = Events(), expiry = ProgressLog()
        let r = try Erasure.run(lake.catalog, customerID: "CUST-00004", purge: true,
                                progress: { done, total in events.add("rewrite \(done)/\(total)") },
                                phase: { events.add("phase \($0)") },
                                expiry: { done, total in expiry.report(done, total); events.add("expiry") })
        #expect(r.purgeSnapshotID != nil && r.delete.files > 1)
        let e = events.all
        #expect(e.filter { $0.hasPrefix("phase") } == ["phase expire", "phase scrub"], "\(e)")
        // The rewrites all end (at 100 %) before the expiry is named; its checks come between it and the rebuild.
        let expire = try #require(e.firstIndex(of: "phase expire")), scrub = try #require(e.firstIndex(of: "phase scrub"))
        #expect(e[..<expire].last == "rewrite \(r.delete.files)/\(r.delete.files)", "\(e)")
        #expect(e[..<expire].allSatisfy { $0.hasPrefix("rewrite") } && e[(expire + 1) ..< scrub].allSatisfy { $0 == "expiry" }, "\(e)")
        // The expiry reads each file the rewrite wrote (one per file with deletes, none for a file
        // whose every row was deleted) before the originals go.
        let checked = expiry.values.last?.total ?? 0
        #expect(checked > 1 && checked <= Int64(r.delete.files), "\(checked) checked for \(r.delete.files) rewritten")
        expiry.risesTo(checked, "expiry")
    }

    @Test("the generator reports order lines, rising to every line it wrote (spikes included)")
    func generator() throws {
        let dir = try TemporaryDirectory("gen-progress")
        defer { dir.remove() }
        var c = GeneratorConfig()
        c.orders = 40_000
        c.spikes = [try Spike(parsing: "2024-01-05:web:3x")]
        let log = ProgressLog()
        let summary = try OrderGenerator.generate(c, into: dir.path, progress: log.report)
        #expect(summary.lines > 40_000)
        log.risesTo(Int64(summary.lines), "generate")
        // Reported along the way, not only at the start and the end.
        #expect(log.values.count > 3)
    }
}

/// Runs `command` (a shell command line) under `script`, on a pseudo-terminal: what a person at a
/// terminal sees, standard output and error mixed, newlines as "\r\n".
func runOnTerminal(_ command: String) throws -> (status: Int32, text: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
    process.arguments = ["-qfec", command, "/dev/null"]
    process.currentDirectoryURL = packageRoot
    process.standardInput = FileHandle.nullDevice
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite("Progress of long work: a bar on a terminal only", .serialized)
struct ProgressBarCLITests {
    static let erase = "\r\u{1B}[K"

    /// A copy of `lake`'s root (or of `root`), so each run starts from the same lake.
    func copy(_ lake: BatchedLake, of root: String? = nil, _ name: String) throws -> String {
        let to = lake.dir.file(name)
        try FileManager.default.copyItem(atPath: root ?? lake.lakeRoot, toPath: to)
        return to
    }

    /// The bar `label` was drawn, reached 100 %, and was erased before `result` was printed.
    func drawnAndCleared(_ text: String, label: String, result: String, _ what: String) {
        let draws = text.components(separatedBy: "\r\(label) [").dropFirst()
        #expect(!draws.isEmpty, "\(what): no bar in \(text.debugDescription)")
        #expect(draws.contains { $0.hasPrefix(String(repeating: "#", count: 30) + "] 100%") }, "\(what): never at 100 %: \(text.debugDescription)")
        guard let lastDraw = text.range(of: "\r\(label) [", options: .backwards),
              let cleared = text.range(of: Self.erase, range: lastDraw.upperBound ..< text.endIndex),
              let printed = text.range(of: result) else {
            Issue.record("\(what): bar not erased, or no \"\(result)\": \(text.debugDescription)")
            return
        }
        #expect(cleared.upperBound <= printed.lowerBound, "\(what): the result was printed before the bar was erased")
    }

    /// Standard output with timings masked ("0.42 s"), which differ run to run.
    func masked(_ text: String) -> String {
        text.replacingOccurrences(of: #"[0-9]+\.[0-9]+ s"#, with: "_ s", options: .regularExpression)
    }

    @Test("lake compact, schema migrate --rewrite, erase (--purge), generate, vacuum: on a terminal a bar that reaches 100 % and is erased; piped, no bar and the same output as --quiet")
    func barOnlyOnTerminal() throws {
        let lake = try BatchedLake(batches: 4, v1Only: true)
        defer { lake.dir.remove() }
        let bin = lakeBinary.path
        // A compacted lake: vacuum then checks every replacement file before it deletes the originals.
        let compacted = try copy(lake, "compacted")
        #expect(try runLake(["compact", "--quiet", "--lake", compacted]).status == 0)
        let cases: [(label: String, args: (String) -> [String], result: String, from: String?)] = [
            ("compact", { ["compact", "--lake", $0] }, "Compacted ", nil),
            ("rewrite", { ["schema", "migrate", "orders", "--to", "2", "--rewrite", "--lake", $0] }, "Migrated ", nil),
            ("erase", { ["erase", "customer", "CUST-00004", "--lake", $0] }, "Deleted ", nil),
            ("delete", { ["delete", "orders", "--where", "channel = web", "--lake", $0] }, "Deleted ", nil),
            ("purge", { ["erase", "customer", "CUST-00004", "--purge", "--lake", $0] }, "Purged at snapshot", nil),
            ("generate", { ["generate", "--orders", "20000", "--out", $0] }, "wrote ", nil),
            ("vacuum", { ["vacuum", "--retain", "0s", "--force", "--lake", $0] }, "Freed ", compacted),
        ]
        for c in cases {
            // On a terminal: the bar, at 100 %, erased before the result.
            let tty = try copy(lake, of: c.from, "\(c.label)-tty")
            let shown = try runOnTerminal(([bin] + c.args(tty)).map { "'\($0)'" }.joined(separator: " "))
            #expect(shown.status == 0, "\(c.label): \(shown.text)")
            drawnAndCleared(shown.text, label: c.label, result: c.result, c.label)
            // --quiet on a terminal: no bar.
            let quiet = try runOnTerminal(([bin] + c.args(try copy(lake, of: c.from, "\(c.label)-tty-quiet")) + ["--quiet"]).map { "'\($0)'" }.joined(separator: " "))
            #expect(quiet.status == 0 && !quiet.text.contains("\r\(c.label) [") && quiet.text.contains(c.result), "\(c.label) --quiet: \(quiet.text.debugDescription)")

            // Piped (stderr a file): no bar, no carriage return, and standard output as --quiet's.
            let (a, b) = (try copy(lake, of: c.from, "\(c.label)-pipe"), try copy(lake, of: c.from, "\(c.label)-pipe-quiet"))
            let piped = try runLake(c.args(a))
            let pipedQuiet = try runLake(c.args(b) + ["--quiet"])
            #expect(piped.status == 0 && pipedQuiet.status == 0, "\(c.label): \(piped.err) \(pipedQuiet.err)")
            #expect(!piped.err.contains("\r") && !piped.err.contains("\u{1B}") && !piped.out.contains("\r"), "\(c.label): \(piped.err.debugDescription)")
            let (out, quietOut) = (masked(piped.out.replacingOccurrences(of: a, with: "LAKE")), masked(pipedQuiet.out.replacingOccurrences(of: b, with: "LAKE")))
            #expect(piped.out.contains(c.result) && out == quietOut, "\(c.label): \(out) vs \(quietOut)")
        }
        // The purge's steps after its rewrites are named on the line, in order, then erased:
        // the bar does not sit at 100 % while the history expires and the catalog is rebuilt.
        let purged = try runOnTerminal([bin, "erase", "customer", "CUST-00004", "--purge", "--lake", try copy(lake, "purge-phases")]
            .map { "'\($0)'" }.joined(separator: " "))
        let steps = ["\rpurge [" + String(repeating: "#", count: 30) + "] 100%", "\rpurge: expiring earlier snapshots", "\rpurge: rebuilding the catalog",
                     Self.erase + "  curated.orders"]
        let found = steps.map { purged.text.range(of: $0)?.lowerBound }
        #expect(found.allSatisfy { $0 != nil } && zip(found, found.dropFirst()).allSatisfy { $0! < $1! },
                "purge steps not shown in order: \(purged.text.debugDescription)")
        // So are a vacuum's steps after its check: the expiry, the deletes (counted), the look for orphans.
        let vacuumed = try runOnTerminal([bin, "vacuum", "--retain", "0s", "--force", "--lake", try copy(lake, of: compacted, "vacuum-steps")]
            .map { "'\($0)'" }.joined(separator: " "))
        let vacuumSteps = ["\rvacuum [" + String(repeating: "#", count: 30) + "] 100%", "\rvacuum: expiring snapshots",
                           "\rvacuum: deleting files [" + String(repeating: "#", count: 30) + "] 100%", "\rvacuum: looking for unrecorded files",
                           Self.erase + "Expired "]
        let at = vacuumSteps.map { vacuumed.text.range(of: $0)?.lowerBound }
        #expect(at.allSatisfy { $0 != nil } && zip(at, at.dropFirst()).allSatisfy { $0! < $1! },
                "vacuum steps not shown in order: \(vacuumed.text.debugDescription)")
        // A machine-readable format never gets the bar, even on a terminal.
        for (label, args) in [("compact", ["compact", "--format", "json"]), ("purge", ["erase", "customer", "CUST-00004", "--purge", "--format", "json"])] {
            let json = try runOnTerminal(([bin] + args + ["--lake", try copy(lake, "\(label)-json")]).map { "'\($0)'" }.joined(separator: " "))
            #expect(json.status == 0 && !json.text.contains("\r\(label) [") && json.text.contains("\"snapshot_id\""), "\(label) json: \(json.text.debugDescription)")
        }
    }
}
