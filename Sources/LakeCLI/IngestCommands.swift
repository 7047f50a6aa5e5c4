import ArgumentParser
import Foundation
import LakeFormat
import LakeCatalog
import LakePipeline
import LakeQuery

struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Validate a source and commit it to the lake as one atomic snapshot.",
        discussion: """
        Load the product catalog first: orders are checked against it.

          lake ingest catalog Evaluation-Files/product_catalog.json
          lake ingest inventory Evaluation-Files/inventory_updates.csv
          lake ingest orders Evaluation-Files/orders_stream.jsonl

        Follow a growing file, committing micro-batches until SIGINT/SIGTERM (a restart resumes \
        after the last committed line; a line without its newline yet waits):

          lake ingest orders --follow --commit-every 10000 --commit-interval 1 FILE

        Ingesting the same file again adds nothing; an order id already in the lake is counted as a \
        duplicate and not added. Rejected records stay in the raw layer with their reason.
        """,
        subcommands: [IngestOrders.self, IngestInventory.self, IngestCatalog.self]
    )
}

/// Options every ingest command shares, beside `LakeOptions` and `RegistryOptions`, which each
/// command declares itself (see `ReportFlags` for why option groups are not nested).
struct IngestFlags: ParsableArguments {
    @Option(help: "Summary format: table, json or csv (a header, then one row per source).")
    var format: OutputFormat = .table
    @Flag(help: "No progress bar.")
    var quiet = false

    /// Ingests a source read whole (inventory, catalog) into `store` and prints its summary.
    func ingestWhole(into store: LakeStore, _ ingest: (LakeStore) throws -> IngestRun) throws {
        print(SummaryText.render(try stoppable { try ingest(store) }, format: format))
    }
}

extension LakeOptions {
    /// The lake an ingest of `kind` writes to (`LakeStore.openForIngest` decides whether a
    /// path with no lake may become one); a new lake is announced on standard error.
    func ingestStore(for kind: SourceKind, registry: RegistryOptions) throws -> LakeStore {
        // What the directory held before: a new lake among unrelated files is most likely a
        // mistyped --lake (`--lake .`), which the notice should make plain.
        let before = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        let store = try LakeStore.openForIngest(kind, root: root, catalog: catalogLocation, registry: registry.source)
        if store.catalog.created {
            let others = before.filter { !$0.hasPrefix(".") && $0 != "alerts.json" && $0 != "README.md" }.sorted()
            if others.isEmpty {
                printError("created a new lake at \(store.root.path)")
            } else {
                let made = catalogLocation == nil ? "manifest.sqlite, raw/ and curated/" : "raw/ and curated/"
                let shown = others.prefix(3).joined(separator: ", ") + (others.count > 3 ? ", …" : "")
                printError("created a new lake at \(store.root.path), in a directory that already held other files (\(shown)); if that is not the lake you meant, point --lake elsewhere and remove the \(made) lake made there")
            }
        }
        return store
    }
}

struct IngestOrders: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orders",
        abstract: "Ingest an orders JSON Lines file (- reads standard input).",
        discussion: """
        Without --follow the whole file is one snapshot. A file written to while it is read \
        (appended to, truncated) is refused at its end with nothing committed: ingest it once \
        nothing writes to it, or follow it.
          lake ingest orders Evaluation-Files/orders_stream.jsonl
          zcat orders.jsonl.gz | lake ingest orders -
          lake ingest orders live.jsonl --follow --commit-every 10000

        A restart on a file that is not the one its checkpoint counted (rotated: renamed away or \
        truncated, a new file under the name) is refused, nothing committed: ingest the old \
        file's rest (`lake ingest orders live.jsonl.1`), then follow the new one from its start:
          lake ingest orders live.jsonl --follow --from-start

        A follower whose PostgreSQL catalog stops answering (a server restart, a failover) waits \
        for it, trying again after 0.5 s, 1 s, 2 s, ... up to 30 s apart, and goes on from its \
        last commit once it answers; after --reconnect-for seconds (300 by default) of no answer \
        it exits 1. A server that does not answer yet when the follower starts is waited for the \
        same way. Each wait is said on stderr:
          lake ingest orders live.jsonl --follow --reconnect-for 3600
        """)

    @OptionGroup var lake: LakeOptions
    @OptionGroup var registry: RegistryOptions
    @OptionGroup var flags: IngestFlags
    @Argument(help: "The JSONL file, one order object per line; - for standard input.")
    var file: String
    @Flag(help: "Follow the file as it grows and commit micro-batches until SIGINT/SIGTERM; a restart resumes after the last commit.")
    var follow = false
    @Option(parsing: .unconditional, help: ArgumentHelp("With --follow: commit once this many lines are pending.", valueName: "N"))
    var commitEvery = 10_000
    @Option(parsing: .unconditional, help: ArgumentHelp("With --follow: commit pending lines at least this often.", valueName: "SECONDS"))
    var commitInterval = 1.0
    @Flag(help: "With --follow: read the file from its first line, not from its committed checkpoint: for a new file under the name (rotated), which a restart refuses. Orders already committed count as duplicates.")
    var fromStart = false
    @Option(parsing: .unconditional, help: ArgumentHelp("With --follow: how long to wait for a PostgreSQL catalog that stopped answering (a restart, a failover); once it answers, the follower goes on from its last commit. Past that it exits 1; 0 exits at once.", valueName: "SECONDS"))
    var reconnectFor = 300.0
    @OptionGroup var alerts: AlertConfigOption

    func validate() throws {
        if !follow && (commitEvery != 10_000 || commitInterval != 1.0) {
            throw ValidationError("--commit-every and --commit-interval apply only with --follow")
        }
        if !follow && fromStart { throw ValidationError("--from-start applies only with --follow (an ingest without it reads the whole file)") }
        if !follow && reconnectFor != 300 { throw ValidationError("--reconnect-for applies only with --follow") }
        if !(reconnectFor >= 0) || !reconnectFor.isFinite { throw ValidationError("--reconnect-for must be a finite number of seconds, 0 or more") }
        if follow && file == "-" { throw ValidationError("--follow needs a file, not standard input") }
        if commitEvery < 1 { throw ValidationError("--commit-every must be at least 1") }
        if !(commitInterval > 0) { throw ValidationError("--commit-interval must be positive") }
    }

    func run() throws {
        if follow { return try runFollowing() }
        let store = try lake.ingestStore(for: .orders, registry: registry)
        // Read before ingesting: a bad --config is an error before anything is committed.
        let qualityConfig = try alerts.load(lake: store.root)
        let bar = ProgressBar(label: "orders", quiet: flags.quiet || flags.format != .table)
        try stoppable {
            let summary = try OrderIngest.run(store, path: file, progress: bar.update)
            bar.finish()
            print(SummaryText.render(summary, format: flags.format))
            BatchQualityHook.run(store.catalog, summary, config: qualityConfig)
        }
    }

    private func runFollowing() throws {
        let stop = StopFlag()
        stop.installSignalHandlers()
        let reconnecting = { (r: Reconnect) in
            let until = LakeCatalog.Timestamps.isoSeconds(r.giveUpAt)
            printError("lake ingest --follow: \(r.error); trying again in \(String(format: "%.1f", r.wait)) s (attempt \(r.attempt); "
                + "gives up at \(until), --reconnect-for). Nothing is lost: it resumes after the last commit")
        }
        // A catalog server that does not answer yet (started with the follower, restarting) is
        // waited for as one that goes away later.
        guard let store = try StreamIngest.opening({ try lake.ingestStore(for: .orders, registry: registry) },
                                                   reconnectFor: reconnectFor, stop: stop, onReconnect: reconnecting) else { return }
        // Read before ingesting: a bad --config is an error before anything is committed.
        let qualityConfig = try alerts.load(lake: store.root)
        var options = StreamOptions()
        options.commitEvery = commitEvery
        options.commitInterval = commitInterval
        options.fromStart = fromStart
        options.reconnectFor = reconnectFor
        let format = flags.format
        let totals = try StreamIngest.follow(store, path: file, options: options, stop: stop, onCommit: { s, position in
            if format == .table {
                // Unbuffered: a follower runs for hours and its output is read as it goes.
                let text = "snapshot \(s.snapshotID.map(String.init) ?? "-"): lines ..\(position.lineNumber) (byte \(position.byteOffset))  "
                    + "records \(s.records)  accepted \(s.accepted)  quarantined \(s.quarantined)  duplicates \(s.duplicates)\n"
                StandardStream.write(text, to: StandardStream.output)
            }
            // Each micro-batch gets the checks a one-shot ingest's batch gets.
            BatchQualityHook.run(store.catalog, s, config: qualityConfig)
        }, onReconnect: reconnecting)
        print(SummaryText.render(totals, format: flags.format))
        // Stopped while the catalog was out of reach: what is left of the file cannot be told
        // now, and the stop was still a clean one.
        let rest: UnconsumedTail?
        do { rest = try StreamIngest.unconsumed(store, path: file) } catch where Reconnect.isOutage(error) {
            printError("\(VisibleText.escape(file)): stopped while the catalog was out of reach (\(error)); a restart resumes after the last commit")
            return
        } catch where Reconnect.isLoginRefusal(error) {
            printError("\(VisibleText.escape(file)): stopped; what is left of the file cannot be told now (\(error))")
            return
        }
        if let rest {
            let at = "after line \(rest.position.lineNumber) (byte \(rest.position.byteOffset))"
            printError(rest.hasLineEnd
                ? "\(VisibleText.escape(file)): \(rest.bytes) bytes \(at) were not ingested before the stop; a restart resumes there"
                : "\(VisibleText.escape(file)): \(rest.bytes) bytes \(at) were not ingested: a last line with no line end yet. A restart "
                    + "reads it once its newline is written; if the writer is done, append the newline (echo >> FILE) and follow again")
        }
    }
}

struct IngestInventory: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "Ingest an inventory CSV (product_id,available_quantity,warehouse_location,last_updated).",
        discussion: """
        Columns may come in any order (the header names them); a column the registry does not know is ignored and counted as schema drift (`unknown source fields` in the summary). Load the product catalog first: each product_id must name a catalog product (schemas/inventory: references products.product_id), and without a catalog the file is refused with nothing committed. A row with a quantity that is not a whole number (5, 5.0 and 5e0 are the same; 5.5 and N/A are not) or is negative, an unknown product, a bad timestamp (leap seconds included) or a field that is not UTF-8 goes to raw.inventory with its reason; the rest are appended to curated.inventory (on hand = the latest update per product and warehouse). The same file again adds nothing.

          lake ingest inventory Evaluation-Files/inventory_updates.csv
          lake ingest inventory hourly/2024-01-15T10.csv --format json
        """)

    @OptionGroup var lake: LakeOptions
    @OptionGroup var registry: RegistryOptions
    @OptionGroup var flags: IngestFlags
    @Argument(help: "The CSV file.")
    var file: String

    func run() throws {
        try flags.ingestWhole(into: try lake.ingestStore(for: .inventory, registry: registry)) { try InventoryIngest.run($0, path: file) }
    }
}

struct IngestCatalog: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Ingest a product catalog JSON array; it becomes the current version of curated.products.",
        discussion: """
        Each ingest replaces curated.products as a whole (earlier versions stay readable with --as-of); rejected entries go to raw.products. The catalog in force ingested again adds nothing; an earlier version ingested again (a rollback) becomes the current one. Orders are validated against the current catalog, so load it before the first orders. An entry with a key written twice (duplicate_field), a price that is not a JSON number (a string "10.00": invalid_price) or that has more than 2 decimal places in its exact value (29.999; 2.999e1 is 29.99 and is accepted) goes to raw.products with its reason. On a path with no lake, `ingest catalog` (like `lake run`) creates one and says so on stderr; `ingest orders`/`inventory` and every read command refuse with "no lake at PATH" and create nothing.

          lake ingest catalog Evaluation-Files/product_catalog.json
          lake ingest catalog catalog-2024-02.json --format json
        """)

    @OptionGroup var lake: LakeOptions
    @OptionGroup var registry: RegistryOptions
    @OptionGroup var flags: IngestFlags
    @Argument(help: "The JSON file: an array of products.")
    var file: String

    func run() throws {
        try flags.ingestWhole(into: try lake.ingestStore(for: .catalog, registry: registry)) { try CatalogIngest.run($0, path: file) }
    }
}

/// The ingest summary as people and scripts read it.
enum SummaryText {
    static func render(_ s: IngestRun, format: OutputFormat) -> String {
        switch format {
        case .json: return jsonText(s)
        case .csv:
            let header = "kind,source,records,accepted,quarantined,duplicates,files_written,bytes_written,partitions,snapshot_id,seconds,records_per_second"
            let row = "\(s.kind),\(s.source),\(s.records),\(s.accepted),\(s.quarantined),\(s.duplicates),\(s.filesWritten),\(s.bytesWritten),\(s.partitions),\(s.snapshotID.map(String.init) ?? ""),\(String(format: "%.3f", s.seconds)),\(String(format: "%.0f", s.recordsPerSecond))"
            return header + "\n" + row
        case .table:
            if let at = s.alreadyIngestedAt {
                return "\(s.kind) \(s.source): already ingested at snapshot \(at); nothing added"
            }
            var lines = [
                "\(s.kind) \(s.source) -> snapshot \(s.snapshotID.map(String.init) ?? "-")",
                "  records \(s.records)  accepted \(s.accepted)  quarantined \(s.quarantined)  duplicates \(s.duplicates)",
                "  files \(s.filesWritten)  bytes \(s.bytesWritten)  partitions \(s.partitions)  "
                    + String(format: "%.2f s  %.0f records/s", s.seconds, s.recordsPerSecond),
            ]
            if !s.rejects.isEmpty {
                lines.append("  rejected by reason: " + s.rejects.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            }
            if !s.unknownFields.isEmpty {
                lines.append("  unknown source fields (schema drift): " + s.unknownFields.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            }
            return lines.joined(separator: "\n")
        }
    }
}

/// After an orders commit: check that batch's quality and record the results in a commit of
/// their own. A failure here is reported, never thrown: the ingest has already committed.
enum BatchQualityHook {
    static func run(_ catalog: Catalog, _ summary: IngestRun, config: QualityConfig) {
        // Only an orders batch has checks; a run that committed nothing has no batch.
        guard summary.kind == .orders, let batch = summary.batchID else { return }
        do {
            _ = try QualityChecks.recordBatch(catalog: catalog, batchID: batch, config: config)
        } catch {
            printError("warning: quality checks for batch \(batch) were not recorded: \(error)")
        }
    }
}
