import ArgumentParser
import Foundation
import LakeCatalog
import LakePipeline
import LakeQuery

// Row-level deletes: parse arguments, call LakeQuery's Deletes / LakePipeline's Erasure, print.

struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete the rows that match --where, in one snapshot of DuckLake delete files.",
        discussion: """
        Conditions use the grammar of `lake query --where` and must all hold. Data files are not \
        rewritten: each file with matching rows gets a DuckLake delete file (its positions, merged \
        with the file's earlier deletes), so DuckDB reads the same rows we do, and --as-of an \
        earlier snapshot still shows the deleted rows until `lake compact` + `lake vacuum`. \
        Deleting from curated.orders also deletes those orders' curated.order_items rows in the \
        same snapshot. Nothing matching: "0 rows", no snapshot, exit 0. A concurrent compaction or \
        delete of the same files makes the delete re-plan (5 attempts, pausing 50-800 ms between), never lose a row.
        Examples:
          lake delete curated.orders --where "customer_id = CUST-00042" --dry-run
          lake delete orders --where "event_date = 2024-01-15" --where "channel = web"
          lake delete raw.orders --where "reject_reason = invalid_channel"
        """)

    @OptionGroup var lake: LakeOptions
    @Argument(help: "Table as layer.table (curated.orders, raw.orders); a bare name means curated.") var table: String
    @Option(name: .customLong("where"), help: ArgumentHelp("COLUMN OP VALUE (repeatable; all must hold).", valueName: "COND"))
    var conditions: [String] = []
    @Flag(help: "Print how many rows in how many files would be deleted, without deleting.") var dryRun = false
    @Option(help: "table, json (one object with a row per table) or csv (one row per table).") var format: OutputFormat = .table
    @Flag(help: "No progress bar (drawn on standard error only when that is a terminal and --format is table).")
    var quiet = false

    static func isUsage(_ error: QueryError) -> Bool {
        if case .badOption = error { return true }
        return QueryCommand.isUsage(error)
    }

    func run() throws {
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false)
        // The bar inside: erased before `stoppable` says what a signal stopped.
        let r: DeleteReport
        do {
            r = try stoppable {
                try withProgressBar("delete", unit: .count("files read"), quiet: quiet || format != .table) { progress in
                    try Deletes.run(catalog, table: table, conditions: conditions, dryRun: dryRun, progress: progress)
                }
            }
        } catch let error as QueryError where Self.isUsage(error) {
            // A misspelt table, column or condition, or no --where at all, is the command line's
            // fault: exit 64 with the usage, as `lake query` does (it was exit 1).
            throw ValidationError(error.description)
        }
        switch format {
        case .json: try printJSON(deleteJSON(r))
        case .csv: deleteTables(r).printCSV()
        case .table: printDeleteReport(r)
        }
    }
}

struct EraseCommand: ParsableCommand {
    static let scrubCutShort = "Another session of the PostgreSQL server held a transaction older than the purge longer than the scrub "
        + "waits (LAKE_SCRUB_WAIT seconds, 30 by default), so the catalog's files may keep old row versions (an erased id among them) "
        + "until autovacuum rewrites them: end the long-running transaction and run `lake erase customer … --purge` again."

    static let configuration = CommandConfiguration(
        commandName: "erase",
        abstract: "Right to erasure: delete one customer's rows from every layer, in one snapshot.",
        discussion: """
        Deletes the customer's curated.orders rows, those orders' curated.order_items rows, and \
        the raw.orders lines (accepted and quarantined) whose customer field is the id, or that \
        do not parse and hold the id as a JSON string. The erasure is recorded in lake_erasure \
        (when, rows per table, snapshot) without the id. Until purged, --as-of a snapshot before \
        the erasure still shows the rows. --purge (or `lake vacuum` once the erasure is older \
        than the retention) rewrites every file with deleted rows without them, expires every \
        earlier snapshot (time travel to before the purge ends), deletes the old files and \
        rebuilds the catalog without free pages or WAL, so no byte of the customer is left. A \
        concurrent compaction or delete of the same files makes the erasure and the purge re-plan \
        (5 attempts each, pausing 50-800 ms between); a purge still refused leaves the erasure \
        committed and pending for `lake vacuum`. On a PostgreSQL catalog the scrub first waits \
        (LAKE_SCRUB_WAIT seconds, 30 by default) for older transactions on the server to end, \
        and says so when one outlasts the wait: run the purge again once it has ended. \
        Ctrl-C or SIGTERM stops the delete, or the purge's rewrite, before its commit (its files \
        deleted, exit 130 or 143; an erasure committed before the purge stays, and the same \
        command run again purges); once the purge has committed, its expiry finishes first and the \
        signal skips the catalog's scrub, or ends its wait: the same command run again scrubs. \
        A raw line is matched by its decoded customer field, so JSON escapes ("CUST\\u002D42") \
        are found too; a line that does not parse matches when, escapes decoded, it holds the id \
        as a whole JSON string or ends right after it.
        Examples:
          lake erase customer CUST-00042 --dry-run
          lake erase customer CUST-00042 --purge
        """)

    @OptionGroup var lake: LakeOptions
    @Argument(help: "What to erase: customer.") var kind: ErasureSubject
    @Argument(help: "The customer id, e.g. CUST-00042.") var id: String
    @Flag(help: "Print how many rows in how many files would be deleted, without deleting.") var dryRun = false
    @Flag(help: "Purge at once: rewrite files, expire all earlier snapshots, scrub the catalog.") var purge = false
    @Option(help: "table, json (the delete's object and the purge's) or csv (one row per table).") var format: OutputFormat = .table
    @Flag(help: "No progress bar (drawn on standard error only when that is a terminal and --format is table).")
    var quiet = false

    func run() throws {
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false)
        let noBar = quiet || format != .table
        // Two bars on one line: the files read to find the rows, then the purge's rewrites.
        let r = try stoppable {
            try withProgressBar("erase", unit: .count("files read"), quiet: noBar) { scanned in
                try withPurgeBar(quiet: noBar) { purged, phase, expiry in
                    try Erasure.run(catalog, customerID: id, dryRun: dryRun, purge: purge, scanned: scanned, progress: purged,
                                    phase: phase, expiry: expiry)
                }
            }
        }
        switch format {
        case .json:
            var object = deleteJSON(r.delete)
            object["purge"] = r.purgeSnapshotID.map { s -> Any in
                ["snapshot_id": s, "expired_snapshots": r.expiredSnapshots, "files_removed": r.filesRemoved, "scrub_complete": r.scrubComplete]
            } ?? NSNull()
            try printJSON(object)
            return
        case .csv:
            deleteTables(r.delete).printCSV()
            return
        case .table: printDeleteReport(r.delete)
        }
        if let p = r.purgeSnapshotID {
            print("Purged at snapshot \(p): \(r.expiredSnapshots.count) earlier snapshots expired, \(r.filesRemoved) files deleted; "
                  + "the catalog was rebuilt without free pages and its WAL emptied.")
        }
        if !r.scrubComplete { print(Self.scrubCutShort) }
        if r.purgeSnapshotID == nil, !dryRun && !purge && r.delete.snapshotID != nil {
            print("Run `lake erase customer … --purge` or `lake vacuum` after the retention to remove the bytes.")
        }
    }
}

/// A delete's rows and files per table, the rows of `--format csv` and of "tables" in JSON.
func deleteTables(_ r: DeleteReport) -> Records {
    var out = Records(["table", "rows", "files"])
    for t in r.tables { out.append([t.table, t.rows, t.files]) }
    return out
}

func deleteJSON(_ r: DeleteReport) -> [String: Any] {
    ["dry_run": r.dryRun, "snapshot_id": r.snapshotID.map { $0 as Any } ?? NSNull(), "rows": r.rows, "files": r.files,
     "retries": r.retries, "tables": deleteTables(r).objects]
}

func printDeleteReport(_ r: DeleteReport) {
    for t in r.tables { print("  \(t.table): \(t.rows) rows in \(t.files) files") }
    if r.dryRun {
        print("Would delete \(r.rows) rows in \(r.files) files.")
    } else if let s = r.snapshotID {
        print("Deleted \(r.rows) rows in \(r.files) files (snapshot \(s)\(r.retries > 0 ? ", after \(r.retries) re-plans" : "")).")
    } else {
        print("Deleted 0 rows: nothing matched, no snapshot.")
    }
}

/// What `lake erase` can erase; one case today (a customer's rows in every layer).
enum ErasureSubject: String, ExpressibleByArgument, CaseIterable {
    case customer
}
