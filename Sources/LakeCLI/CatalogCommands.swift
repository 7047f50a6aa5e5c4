import ArgumentParser
import Foundation
import LakeCatalog
import LakePipeline
import LakeFormat

// Catalog commands: they parse arguments, call LakeCatalog, and print. No lake logic lives here.

/// --as-of shared by the read commands.
struct AsOfOption: ParsableArguments {
    @Option(name: .customLong("as-of"), parsing: .unconditional,
            help: ArgumentHelp("Read the lake as it was at a snapshot id (12) or a UTC time (2024-02-01T00:00:00Z, 2024-02-01).",
                               valueName: "SNAPSHOT|TIME"),
            transform: { try AsOf.parse($0) })
    var asOf: AsOf?
}

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create an empty lake: its catalog (<lake>/manifest.sqlite, or --catalog) with the raw and curated layers.",
        discussion: """
        The manifest is a DuckLake 1.0 catalog in SQLite with a relative data path, so the lake can \
        be moved or copied, and DuckDB 1.5 or later started in the lake directory reads it too:
          ATTACH 'ducklake:sqlite:manifest.sqlite' AS l (READ_ONLY)
        Tables are created by their first ingest at the latest registry version; --schema-version \
        creates a table now at an older one (the v2 walkthrough starts from orders v1). \
        Running init on an existing lake changes nothing. In a directory that already holds data \
        files but no catalog (a lost manifest.sqlite) init refuses: restore the manifest from a \
        backup instead. --force creates an empty catalog there anyway; vacuum still refuses to \
        delete files older than that catalog. With --catalog postgresql://… the catalog is \
        created in that (empty) database instead, and the lake root holds only the data files.

        Examples:
          lake init --lake /data/lake
          lake init --lake /data/lake --catalog postgresql://lake@127.0.0.1:5432/lake
          LAKE_DIR=/data/lake lake init
          lake init --lake /data/v1lake --schema-version orders=1
          lake init --lake /data/lake --format json
        """)

    @OptionGroup var lake: LakeOptions
    @OptionGroup var registry: RegistryOptions
    @Flag(help: "Create the catalog even though the directory holds data files without one.") var force = false
    @Option(name: .customLong("schema-version"), help: ArgumentHelp(
        "Create a registry table now at this version (repeatable).", valueName: "TABLE=VERSION"))
    var pins: [String] = []
    @Option(help: "table, json (one object: lake, created, snapshot_id, created_layers, created_tables) or csv (a header and one row).")
    var format: OutputFormat = .table

    func validate() throws {
        for p in pins {
            do throws(LakeInitError) { _ = try LakeStore.parsePin(p) } catch { throw ValidationError(error.description) }
        }
    }

    func run() throws {
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, overExistingData: force)
        try catalog.requireWritable()
        let store = LakeStore(catalog: catalog, registry: try LakeStore.registry(registry.source, catalog: catalog))
        let done = try store.initialize(pins: try pins.map { try LakeStore.parsePin($0) })
        let latest = try done.snapshot ?? catalog.latestSnapshot().id
        var result = Records(["lake", "created", "snapshot_id", "created_layers", "created_tables"])
        result.append([lake.root.path, done.snapshot != nil, latest,
                       done.createdLayers.joined(separator: " "), done.createdTables.joined(separator: " ")])
        try printResult(result, lists: ["created_layers": done.createdLayers, "created_tables": done.createdTables], format: format) {
            guard let snap = done.snapshot else {
                print("Lake at \(lake.root.path) is ready (latest snapshot \(latest)).")
                return
            }
            let parts = (done.createdLayers.isEmpty ? [] : ["layers " + done.createdLayers.joined(separator: ", ")])
                + (done.createdTables.isEmpty ? [] : ["tables " + done.createdTables.joined(separator: ", ")])
            print("Initialized lake at \(lake.root.path) with \(parts.joined(separator: " and ")) (snapshot \(snap)).")
        }
    }
}

struct SnapshotsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots",
        abstract: "List the lake's snapshots: every commit, when it happened and what it changed.",
        discussion: """
        Any snapshot id or time shown here can be passed to --as-of of the read commands. \
        Vacuum removes snapshots older than its retention (never the latest).

        Examples:
          lake snapshots
          lake snapshots --format json
        """)

    @OptionGroup var lake: LakeOptions
    @Option(help: "table, json or csv.") var format: OutputFormat = .table

    func run() throws {
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false, readOnly: true)
        let snaps = try catalog.snapshots()
        switch format {
        case .json:
            try printJSON(snaps.map { s -> [String: Any] in
                ["snapshot_id": s.id, "time": Timestamps.isoText(micros: s.timeMicros), "schema_version": s.schemaVersion,
                 "changes": s.changes, "changes_by_name": try catalog.readableChanges(s), "author": s.author ?? NSNull(), "message": s.message ?? NSNull()]
            })
        case .table, .csv:
            let rows = try snaps.map { s in
                [String(s.id), Timestamps.isoText(micros: s.timeMicros), String(s.schemaVersion), try catalog.readableChanges(s).joined(separator: " "),
                 s.author ?? "", s.message ?? ""]
            }
            printListing(["snapshot", "time (UTC)", "schema", "changes", "author", "message"], rows, format: format)
        }
    }
}

struct TablesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tables",
        abstract: "List tables with their columns and partitioning, as of now or --as-of.",
        discussion: """
        Column ids are the Parquet field ids; they survive renames. JSON gives one object a \
        table (its columns an array); CSV one row a column, the table's fields repeated.

        Examples:
          lake tables
          lake tables --as-of 2
          lake tables --format json | jq '.[] | {table, rows}'
          lake tables --format csv > columns.csv
        """)

    @OptionGroup var lake: LakeOptions
    @OptionGroup var when: AsOfOption
    @Option(help: "table, json or csv.") var format: OutputFormat = .table

    func run() throws {
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false, readOnly: true)
        let snap = try catalog.resolve(when.asOf)
        let listed = try catalog.tables(at: .snapshot(snap.id)).map { t in (table: t, size: try catalog.tableSize(tableID: t.tableID, at: .snapshot(snap.id))) }
        // The default a row written now gets (DuckDB's SET DEFAULT changes it), not the
        // initial default older files read a later-added column as.
        func columnFields(_ c: ColumnInfo) -> [String] {
            [String(c.columnID), c.name, c.duckLakeType, c.nullable ? "yes" : "no", c.writeDefault ?? ""]
        }
        switch format {
        case .json:
            try printJSON(listed.map { l -> [String: Any] in
                ["table": l.table.qualifiedName, "table_id": l.table.tableID, "snapshot": snap.id, "files": l.size.files, "rows": l.size.rows,
                 "inlined_rows": l.size.inlinedRows, "partitioned_by": l.table.partitionColumns.map(\.name),
                 "columns": l.table.columns.map { c -> [String: Any] in
                     ["id": c.columnID, "name": c.name, "type": c.duckLakeType, "nullable": c.nullable, "default": c.writeDefault ?? NSNull()]
                 }]
            })
        case .csv:
            printListing(["table", "table_id", "snapshot", "files", "rows", "partitioned_by", "column_id", "column", "type", "nullable", "default"],
                         listed.flatMap { l in
                             l.table.columns.map { c in
                                 [l.table.qualifiedName, String(l.table.tableID), String(snap.id), String(l.size.files), String(l.size.rows),
                                  l.table.partitionColumns.map(\.name).joined(separator: ",")] + columnFields(c)
                             }
                         }, format: .csv)
        case .table:
            print("Snapshot \(snap.id) (\(Timestamps.isoText(micros: snap.timeMicros)))")
            if listed.isEmpty { print("No tables."); return }
            for l in listed {
                let t = l.table
                let parts = t.partitionColumns.isEmpty ? "" : "  partitioned by \(t.partitionColumns.map(\.name).joined(separator: ", "))"
                print("\n\(t.qualifiedName)  (table id \(t.tableID), \(l.size.files) files, \(l.size.rows) rows"
                      + (l.size.inlinedRows > 0 ? ", \(l.size.inlinedRows) of them inlined in the catalog" : "") + ")\(parts)")
                printListing(["id", "column", "type", "nullable", "default"], t.columns.map(columnFields), format: .table, indent: "  ")
            }
        }
    }
}

struct FilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "files",
        abstract: "List the Parquet files a read of TABLE scans, with row counts, sizes, partitions and delete files.",
        discussion: """
        TABLE is layer.name (raw.orders, curated.orders); a bare name means curated.

        Examples:
          lake files orders --as-of 12
          lake files raw.orders --format csv
        """)

    @OptionGroup var lake: LakeOptions
    @Argument(help: "layer.name, or a curated table's name.") var table: String
    @OptionGroup var when: AsOfOption
    @Option(help: "table, json or csv.") var format: OutputFormat = .table

    func run() throws {
        let name = TableName(parsing: table)
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false, readOnly: true)
        let snap = try catalog.resolve(when.asOf)
        let t = try catalog.table(schema: name.schema, name: name.name, at: .snapshot(snap.id))
        let files = try catalog.dataFiles(tableID: t.tableID, at: .snapshot(snap.id), inlined: .readSeparately)
        let inlined = try catalog.inlinedRowCount(tableID: t.tableID, at: .snapshot(snap.id))
        let rootPath = lake.root.path.hasSuffix("/") ? lake.root.path : lake.root.path + "/"
        func shown(_ path: String) -> String { path.hasPrefix(rootPath) ? String(path.dropFirst(rootPath.count)) : path }
        func shown(_ f: DataFile) -> String { shown(f.path) }
        // A file keeps the spec it was written under (DuckDB's SET PARTITIONED BY replaces the
        // table's): its own keys, the current spec's first. Only the current spec's were shown,
        // an older file's other keys left out and the ones it lacks shown empty.
        func partitions(_ f: DataFile) -> String {
            let current = t.partitionColumns.map(\.name).filter { f.partitionValues[$0] != nil }
            let others = f.partitionValues.keys.filter { !current.contains($0) }.sorted()
            return (current + others).map { "\($0)=\(f.partitionValues[$0] ?? "")" }.joined(separator: "/")
        }
        switch format {
        case .json:
            try printJSON(files.map { f -> [String: Any] in
                ["data_file_id": f.dataFileID, "path": shown(f), "record_count": f.recordCount, "file_size_bytes": f.fileSizeBytes,
                 "row_id_start": f.rowIDStart ?? NSNull(), "begin_snapshot": f.beginSnapshot, "partition": f.partitionValues,
                 "delete_file": f.deleteFile.map { shown($0.url.path) } ?? NSNull(), "delete_count": f.deleteFile?.deleteCount ?? 0,
                 "inlined_deletes": f.inlinedDeletes.count]
            })
        case .table, .csv:
            let rows = files.map { f in
                [String(f.dataFileID), shown(f), String(f.recordCount), String(f.fileSizeBytes), f.rowIDStart.map(String.init) ?? "",
                 partitions(f), String(f.beginSnapshot), String(f.deletedCount), f.deleteFile.map { shown($0.url.path) } ?? ""]
            }
            if format == .table {
                // Records count every row a file holds; a read sees them minus the delete files' rows.
                let deleted = files.reduce(Int64(0)) { $0 + $1.deletedCount }
                let withDeletes = files.filter(\.hasDeletes).count
                print("\(t.qualifiedName) at snapshot \(snap.id): \(files.count) files, \(files.reduce(Int64(0)) { $0 + $1.liveRecordCount } + inlined) rows"
                      + (inlined > 0 ? " (\(inlined) of them inlined in the catalog by DuckDB, in no file)" : "")
                      + (deleted > 0 ? " (\(deleted) more deleted in \(withDeletes) files)" : ""))
            }
            printListing(["id", "path", "records", "bytes", "row_id_start", "partition", "since_snapshot", "deleted", "delete_file"], rows,
                         format: format)
        }
    }
}

struct VacuumCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vacuum",
        abstract: "Forget snapshots older than the retention and delete files nothing retained can read.",
        discussion: """
        Deletes (1) files only expired snapshots could read, e.g. the inputs of a compaction, \
        (2) files an interrupted vacuum scheduled but did not delete, and (3) *.parquet under raw/ \
        and curated/ that the catalog never recorded (a crashed write) and that are older than the \
        retention AND than a 1 h safety window that --retain cannot shorten (--force can). \
        Files of writers still running (ingest, compaction) are never deleted, even with --force: \
        each writer registers a lease in the catalog before writing. Vacuum refuses, deleting \
        nothing, when unreferenced files cannot be this catalog's debris (the catalog never \
        recorded a file, or the files are older than the catalog: a lost or replaced \
        manifest.sqlite). The latest snapshot is always kept, and --as-of keeps working for every \
        snapshot inside the retention. --dry-run shows what would go.

        Examples:
          lake vacuum --retain 7d --dry-run
          lake vacuum --retain 0s --force
        """)

    @OptionGroup var lake: LakeOptions
    @Option(help: ArgumentHelp("Keep this much history: 7d, 36h, 90m, 2w, 0s.", valueName: "DURATION"),
            transform: { text in
                guard let seconds = parseDuration(text) else {
                    throw ValidationError("--retain '\(text)' is not a duration; use a number with s, m, h, d or w, e.g. 7d")
                }
                return seconds
            })
    var retain: TimeInterval = 7 * 86_400
    @Flag(help: "Report what would be deleted without deleting anything.") var dryRun = false
    @Flag(help: "Also delete unreferenced files younger than the 1 h safety window (never those of running writers).")
    var force = false
    @Option(help: "table, json (one object: expired snapshots, files, what was kept and why) or csv (one row per file deleted, or that would be).")
    var format: OutputFormat = .table
    @Flag(help: "No progress bar (drawn on standard error only when that is a terminal and --format is table).")
    var quiet = false

    func run() throws {
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false)
        let noBar = quiet || format != .table
        // Erasures older than the retention are purged first (`lake erase --help`).
        let purge: (erasures: Int, report: PurgeReport)? = try withPurgeBar(quiet: noBar) { progress, phase, expiry in
            try Purge.pending(catalog, retain: retain, dryRun: dryRun, progress: progress, phase: phase, expiry: expiry)
        }
        // The replacement files read whole before their originals go, then each later step
        // named on the line (a compaction of many small batches leaves tens of thousands of
        // files: their expiry and deletion took a minute, `Catalog.VacuumStep`).
        let bar = ProgressBar(label: "vacuum", unit: .count("files checked"), quiet: noBar)
        let report: VacuumReport
        do {
            defer { bar.finish() }
            report = try catalog.vacuum(retain: retain, dryRun: dryRun, force: force, keeping: DeletedOrderIDs.keeper,
                                        progress: { bar.update($0, $1) }, step: { step in
                switch step {
                case .expire: bar.phase("vacuum: expiring snapshots")
                case .delete: bar.phase("vacuum: deleting files", unit: .count("files"))
                case .orphans: bar.phase("vacuum: looking for unrecorded files")
                }
            }, deleted: { bar.update($0, $1) })
        }
        var files = Records(["action", "reason", "path", "bytes"])
        for f in report.files { files.append([dryRun ? "would_delete" : "deleted", f.reason.rawValue, f.url.path, f.bytes]) }
        switch format {
        case .csv: files.printCSV()
        case .json:
            try printJSON([
                "dry_run": dryRun, "expired_snapshots": report.expiredSnapshots, "files": files.objects, "bytes": report.bytes,
                "purge": purge.map { p -> Any in
                    ["erasures": p.erasures, "snapshot_id": p.report.snapshotID.map { $0 as Any } ?? NSNull(),
                     "files_rewritten": p.report.filesRewritten, "expired_snapshots": p.report.expiredSnapshots,
                     "scrub_complete": p.report.scrubComplete]
                } ?? NSNull(),
                "failed_deletes": report.failedDeletes.map(\.path), "kept_unverified": report.keptUnverified.map(\.path),
                "kept_outside_root": report.keptOutsideRoot.map(\.path), "kept_for_writers": report.keptForWriters,
                "kept_for_next_vacuum": report.keptForNextVacuum, "kept_young": report.keptYoung,
                "stale_leases": report.staleLeases, "leftover_holds": report.leftoverHolds,
                "deleted_ids_unread": report.deletedKeysUnread,
            ] as [String: Any])
        case .table: printText(report, purge: purge)
        }
    }

    private func printText(_ report: VacuumReport, purge: (erasures: Int, report: PurgeReport)?) {
        if let p = purge {
            print(dryRun ? "Would purge \(p.erasures) erasures older than the retention."
                  : "Purged \(p.erasures) erasures at snapshot \(p.report.snapshotID.map(String.init) ?? "-"): \(p.report.filesRewritten) files rewritten, \(p.report.expiredSnapshots.count) earlier snapshots expired.")
            if !p.report.scrubComplete { print(EraseCommand.scrubCutShort) }
        }
        let verb = dryRun ? "Would expire" : "Expired"
        print("\(verb) \(report.expiredSnapshots.count) snapshots\(report.expiredSnapshots.isEmpty ? "" : " (\(report.expiredSnapshots.map(String.init).joined(separator: ", ")))").")
        for f in report.files { print("  \(dryRun ? "would delete" : "deleted") \(f.reason.rawValue) \(f.url.path) (\(f.bytes) bytes)") }
        for u in report.keptUnverified { print("  kept \(u.path): the files that replaced it fail verification (run lake verify)") }
        for path in report.deletedKeysUnread {
            print("  \(path) fails verification, so the ids of the orders deleted in it were not recorded: `lake quality check` may count them as missing rows")
        }
        print("\(dryRun ? "Would free" : "Freed") \(report.bytes) bytes in \(report.files.count) files.")
        for u in report.failedDeletes { print("  could not delete \(u.path); the next vacuum retries it") }
        for u in report.keptOutsideRoot {
            print("  kept \(u.path): no retained snapshot reads it, but it lies outside the lake root (registered by DuckDB's ducklake_add_data_files) and lake never deletes there; DuckDB's ducklake_cleanup_old_files does")
        }
        if report.keptForWriters > 0 { print("Kept \(report.keptForWriters) unreferenced files of writers still running.") }
        if report.keptForNextVacuum > 0 {
            print("Kept \(report.keptForNextVacuum) files another writer replaced while this vacuum ran; the next vacuum verifies the replacements and removes them.")
        }
        if report.keptYoung > 0 { print("Kept \(report.keptYoung) unreferenced files younger than the 1 h safety window (--force deletes them).") }
        if report.staleLeases > 0 { print("\(dryRun ? "Would drop" : "Dropped") \(report.staleLeases) write leases of writers that no longer run.") }
        if report.leftoverHolds > 0 {
            print("\(dryRun ? "Would remove" : "Removed") \(report.leftoverHolds) hold names (.<file>.pending) of committed files that an interrupted writer left; the files keep their own names.")
        }
    }
}

/// "7d" → seconds (`Durations.parse`, where the fuzz tests reach it).
func parseDuration(_ text: String) -> TimeInterval? { Durations.parse(text) }

func printJSON(_ value: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}

struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Work with the lake's catalog as a whole.",
        discussion: """
        Examples:
          lake catalog copy --lake /data/lake --to postgresql://lake@db.internal/lake
          lake catalog copy --lake /data/lake --to /data/lake-catalog.sqlite
        """,
        subcommands: [CatalogCopyCommand.self]
    )
}

struct CatalogCopyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy the whole catalog (every snapshot, so time travel is kept) to PostgreSQL or a new SQLite file.",
        discussion: """
        The target must be empty: a PostgreSQL database without tables, or a SQLite file that does not exist yet. Data files stay where they are. A PostgreSQL copy is then used as --catalog URL with the same --lake; a SQLite copy becomes the lake's catalog when moved to <lake>/manifest.sqlite (move the old one aside first). Copying back from PostgreSQL takes --catalog URL and --to a new SQLite file.

        The copy is where the lake's catalog moves: the source is retired in the same step, and every later write or vacuum through it is refused, naming the copy (reads still work). Two live catalogs over one lake each know only their own new files, and each one's vacuum would delete the other's. --keep-source leaves the source live, for a copy kept as a backup that nothing writes through.

        Examples:
          lake catalog copy --lake /data/lake --to postgresql://lake@db.internal/lake
          lake catalog copy --lake /data/lake --to /data/lake/catalog-copy.sqlite
          lake catalog copy --lake /data/lake --to /data/backup.sqlite --keep-source
        """)

    @OptionGroup var lake: LakeOptions
    @Option(help: ArgumentHelp("The target catalog: a PostgreSQL URL or libpq keyword string, or a new SQLite file path.", valueName: "URL"))
    var to: String
    @Option(help: "table, json (one object: target, snapshots, rows, tables) or csv (a header and one row).")
    var format: OutputFormat = .table
    @Flag(help: "Leave the source catalog live (a backup copy): otherwise it is retired, and writes and vacuums through it are refused.")
    var keepSource = false

    func run() throws {
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false)
        let report = try catalog.copy(to: CatalogLocation.parse(to), retireSource: !keepSource)
        var result = Records(["target", "snapshots", "rows", "tables"])
        result.append([report.target, report.snapshots, report.rows, report.tables])
        try printResult(result, format: format) {
            print("Copied \(report.snapshots) snapshots (\(report.rows) catalog rows in \(report.tables) tables) to \(report.target)."
                  + (keepSource ? "" : " \(catalog.locationText) is retired: write through the copy from now on."))
        }
    }
}
