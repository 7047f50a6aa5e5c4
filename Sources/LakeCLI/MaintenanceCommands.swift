import ArgumentParser
import Foundation
import LakeCatalog
import LakePipeline

// Maintenance commands: parse arguments, call LakePipeline's Maintenance, print.

struct CompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Merge each partition's small files into files up to a target size, in one snapshot.",
        discussion: """
        Every partition with at least --min-files live files is read, sorted (by --sort-by, default \
        event_time when the table has it) and rewritten; the old files are removed and the new ones \
        added in ONE commit, so readers see all or nothing and --as-of older snapshots still read the \
        old files until `lake vacuum`. A partition whose input files another writer removed \
        meanwhile is left as it was. Running it twice changes nothing the second time.

        Examples:
          lake compact --dry-run
          lake compact curated.orders --min-files 2
          lake compact orders --partition event_date=2024-01-15 --format json
        """)

    @OptionGroup var lake: LakeOptions
    @Argument(help: "Table as layer.table (curated.orders); a bare name means curated. Default: every table.")
    var table: String?
    @Option(help: ArgumentHelp("Only this day's partitions: event_date=YYYY-MM-DD (date=YYYY-MM-DD is taken too).", valueName: "event_date=YYYY-MM-DD"))
    var partition: String?
    @Option(parsing: .unconditional, help: "Largest file to write, in bytes (estimated from the input's bytes per row).")
    var targetFileSize: Int64 = 128 << 20
    @Option(help: "Only partitions with at least this many files.") var minFiles = 2
    @Option(help: "Sort rows by this column before writing.") var sortBy: String?
    @Flag(help: "Print what would be merged without writing anything.") var dryRun = false
    @Option(help: "table, json (one object: totals, partitions, skipped tables) or csv (one row per partition).")
    var format: OutputFormat = .table
    @Flag(help: "No progress bar (it is drawn on standard error only when that is a terminal and --format is table).")
    var quiet = false

    func run() throws {
        var o = CompactionOptions()
        o.table = table
        if let p = partition {
            guard let day = ["event_date=", "date="].first(where: p.hasPrefix).map({ String(p.dropFirst($0.count)) }) else {
                throw ValidationError("--partition '\(p)': expected event_date=YYYY-MM-DD")
            }
            o.date = day
        }
        o.targetFileSize = targetFileSize
        o.minFiles = minFiles
        o.sortBy = sortBy
        o.dryRun = dryRun
        do { try o.check() } catch { throw ValidationError(error.description) }
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false)
        // The bar inside: erased before `stoppable` says what a signal stopped.
        let r: CompactionReport
        do {
            r = try stoppable {
                try withProgressBar("compact", unit: .count("files"), quiet: quiet || format != .table) { progress in
                    try Compaction.run(catalog, options: o, progress: progress)
                }
            }
        } catch let error as MaintenanceError {
            // A misspelt table or sort column is the command line's fault: exit 64 with the
            // usage, as `lake query` and `lake delete` do (it was exit 1).
            switch error {
            case .unknownTable, .unknownSortColumn: throw ValidationError(error.description)
            default: throw error
            }
        }
        switch format {
        case .json:
            try printJSON([
                "dry_run": dryRun, "snapshot_id": r.snapshotID.map { $0 as Any } ?? NSNull(), "seconds": r.seconds,
                "files_before": r.filesBefore, "files_after": r.filesAfter, "bytes_before": r.bytesBefore, "bytes_after": r.bytesAfter,
                "partitions": partitions(r).objects,
                "skipped_tables": r.skippedTables.map { ["table": $0.table, "column": $0.column, "type": $0.type] },
            ] as [String: Any])
        case .csv: partitions(r).printCSV()
        case .table: printText(r)
        }
    }

    private func partitions(_ r: CompactionReport) -> Records {
        var out = Records(["table", "partition", "rows", "files_before", "files_after", "bytes_before", "bytes_after", "status"])
        for g in r.groups {
            out.append([g.table, g.partition, g.rows, g.filesBefore, g.filesAfter, g.bytesBefore, g.bytesAfter,
                        g.skippedConflict ? "skipped_conflict" : dryRun ? "planned" : "compacted"])
        }
        return out
    }

    private func printText(_ r: CompactionReport) {
        for g in r.groups {
            let tail = g.skippedConflict ? "skipped: its files changed under it (run again)"
                : dryRun ? "\(g.filesBefore) files -> ~\(g.filesAfter)" : "\(g.filesBefore) files -> \(g.filesAfter), \(g.bytesBefore) -> \(g.bytesAfter) bytes"
            print("  \(g.table) \(g.partition): \(g.rows) rows, \(tail)")
        }
        for t in r.skippedTables {
            print("  \(t.table): skipped: column \(t.column) has type \(t.type), which lake cannot rewrite (compact it with DuckDB's ducklake_merge_adjacent_files)")
        }
        if r.groups.isEmpty {
            print("Nothing to compact (no partition has \(minFiles)+ files that are not already compacted).")
        } else if dryRun {
            print("Would compact \(r.groups.count) partitions: \(r.filesBefore) files, \(r.bytesBefore) bytes.")
        } else {
            let snap = r.snapshotID.map { "snapshot \($0)" } ?? "nothing committed"
            print("Compacted \(r.groups.filter { !$0.skippedConflict }.count) partitions: files \(r.filesBefore) -> \(r.filesAfter), bytes \(r.bytesBefore) -> \(r.bytesAfter), \(String(format: "%.2f", r.seconds)) s (\(snap)).")
        }
    }
}

/// `lake schema migrate` once registered under SchemaCommand; until then `lake migrate`.
struct SchemaMigrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply registry version N of a table to the lake, in one snapshot.",
        discussion: """
        Columns are matched by id between the lake's version and vN: new columns are added with \
        their "default" (what older rows read as), renamed ones keep their id (files are not \
        touched), int32 -> int64 and decimal precision increases widen, missing ones are dropped. \
        Narrowing or incompatible changes are refused, naming the column. Without --rewrite old \
        files stay as they are and are read under the new schema; with --rewrite every file is \
        rewritten in the new schema in the same snapshot. --as-of an earlier snapshot still shows \
        the old schema and data. Ctrl-C or SIGTERM during the rewrite stops it before the commit: \
        the rewritten files are deleted, nothing changes, and it exits 130 or 143. A table already \
        at vN is left alone (exit 0, nothing committed), so running the command again after a crash \
        is safe; a version below the table's is refused.

        Examples:
          lake schema migrate orders --to 2 --dry-run   # the plan; nothing changes
          lake schema migrate orders --to 2 --rewrite
          lake schema migrate orders --to 2 --format json
        """)

    @OptionGroup var lake: LakeOptions
    @OptionGroup var registry: RegistryOptions
    @Argument(help: "Registry table: orders, order_items, raw_orders, ...") var table: String
    @Option(help: "Registry version to migrate to.") var to: Int
    @Flag(help: "Rewrite the table's files in the new schema in the same snapshot.") var rewrite = false
    @Flag(help: "Print the plan without changing anything.") var dryRun = false
    @Option(help: "table, json (one object, its steps an array) or csv (a header and one row, the steps joined by '; ').")
    var format: OutputFormat = .table
    @Flag(help: "No progress bar for --rewrite (drawn on standard error only when that is a terminal and --format is table).")
    var quiet = false

    func run() throws {
        let store = try LakeStore.open(root: lake.root, catalog: lake.catalogLocation, registry: registry.source, create: false)
        let r = try stoppable {
            try withProgressBar("rewrite", unit: .count("files"), quiet: quiet || format != .table) { progress in
                try Migration.run(store, table: table, to: to, rewrite: rewrite, dryRun: dryRun, progress: progress)
            }
        }
        let p = r.plan
        var result = Records(["table", "registry_table", "from_version", "to_version", "dry_run", "already_applied", "rewrite",
                              "snapshot_id", "files_rewritten", "seconds", "steps"])
        result.append([p.catalogTable, p.registryTable, p.fromVersion, p.toVersion, dryRun, r.alreadyApplied, rewrite,
                       r.snapshotID, r.filesRewritten, r.seconds, p.steps.map(\.description).joined(separator: "; ")])
        try printResult(result, lists: ["steps": p.steps.map(\.description)], format: format) { printText(r) }
    }

    private func printText(_ r: MigrationReport) {
        let p = r.plan
        if r.alreadyApplied {
            print("\(p.catalogTable) is already at schema v\(p.toVersion) (registry \(p.registryTable)): nothing to migrate, nothing committed"
                + (rewrite && !dryRun ? "; no file was rewritten (a rewrite is part of a version step)" : "") + ".")
            return
        }
        print("\(dryRun ? "Plan" : "Migrated") \(p.catalogTable) (registry \(p.registryTable)) v\(p.fromVersion) -> v\(p.toVersion):")
        for s in p.steps { print("  \(s)") }
        if p.steps.isEmpty { print("  no column changes; only the recorded version moves") }
        if !dryRun {
            let files = rewrite ? ", \(r.filesRewritten) files rewritten" : ", files untouched (read by field id)"
            print("Snapshot \(r.snapshotID.map(String.init) ?? "-")\(files), \(String(format: "%.2f", r.seconds)) s.")
        }
    }
}
