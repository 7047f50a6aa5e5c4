import ArgumentParser
import Foundation
import LakeFormat
import LakeCatalog
import LakePipeline
import LakeQuery

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The main job: ingest a folder's catalog, inventory and orders, then print the reports.",
        discussion: """
        Expects product_catalog.json, inventory_updates.csv and orders_stream.jsonl in the folder, \
        ingested in that order (orders are validated against the catalog). Running it twice adds \
        nothing the second time.

        Then prints the headline reports (top products, inventory, customers, operations, revenue \
        by channel), computed side by side; each is printed as soon as it and the ones before it \
        are done, always in that order. With --format json or csv only the ingest summaries are \
        printed (one JSON array, or CSV rows); `lake report NAME --format json` gives each report.

        When a report fails, the others are still printed, the failing report is named with its \
        error on stderr, and lake run exits with status 3: the sources were ingested and committed, \
        so do not re-run the ingest; fix the cause and run `lake report NAME`. A failed ingest \
        exits with status 1 and prints no reports; the sources before it stay committed (their \
        summaries are printed and stderr names their snapshots): fix the cause and run again, \
        nothing lands twice. A source that is missing or cannot be read is refused before any is \
        ingested.

        Examples:
          lake run --input Evaluation-Files --lake ./lake
          lake run --input /data/2024-03-10 --quiet --format json   # summaries only
        """)

    @OptionGroup var lake: LakeOptions
    @OptionGroup var registry: RegistryOptions
    @OptionGroup var flags: IngestFlags
    @Option(help: ArgumentHelp("Folder with the source files.", valueName: "DIR"))
    var input = "Evaluation-Files"
    @OptionGroup var alerts: AlertConfigOption

    /// The three sources lake run ingests, in that order.
    static let sourceNames = ["product_catalog.json", "inventory_updates.csv", "orders_stream.jsonl"]

    /// A mistyped --input is a usage error found before anything is opened: without this check
    /// the run first created the lake, then failed on "product_catalog.json: cannot open".
    /// Called by `run`, not as `validate()`: the parser validates before it rejects an unknown
    /// option, so `lake run --source DIR` said "--input Evaluation-Files: no such folder".
    func checkInput() throws {
        var isDirectory: ObjCBool = false
        let expected = "it must hold \(Self.sourceNames.joined(separator: ", ")) (`lake generate --out DIR` writes a sample set; `lake ingest` takes one source at a time)"
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
            throw ValidationError("--input \(input): no such folder; \(expected)")
        }
        guard isDirectory.boolValue else { throw ValidationError("--input \(input) is a file, not a folder; \(expected)") }
        let missing = Self.sourceNames.filter {
            !FileManager.default.fileExists(atPath: URL(fileURLWithPath: input, isDirectory: true).appendingPathComponent($0).path)
        }
        guard missing.isEmpty else {
            // orders_stream.jsonl.gz where orders_stream.jsonl was expected: say so.
            let compressed = missing.flatMap { name in CompressionFormat.allCases.map { name + "." + $0.fileSuffix } }.filter {
                FileManager.default.fileExists(atPath: URL(fileURLWithPath: input, isDirectory: true).appendingPathComponent($0).path)
            }
            let found = compressed.isEmpty ? "" : " (\(compressed.joined(separator: ", ")) \(compressed.count == 1 ? "is" : "are") there: "
                + "decompress into the folder first, lake reads its sources as text)"
            throw ValidationError("--input \(input) has no \(missing.joined(separator: " and "))\(found); \(expected)")
        }
        // Unreadable (permissions) is found here too: found at its own ingest, the orders file
        // failed the run after the catalog and inventory had been committed.
        // A pipe is left to its ingest: opening it here would take it from its writer.
        for name in Self.sourceNames {
            let path = URL(fileURLWithPath: input, isDirectory: true).appendingPathComponent(name).path
            var st = stat()
            guard stat(path, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                throw ValidationError("--input \(input): \(name) is a directory, not a file; nothing was ingested")
            }
            guard (st.st_mode & S_IFMT) == S_IFREG else { continue }
            let fd = open(path, O_RDONLY)
            if fd < 0 {
                throw ValidationError("--input \(input): \(name) cannot be read (\(errnoText(errno))); nothing was ingested")
            }
            // A compressed source is refused by its own ingest; found here, before the ones
            // before it are committed.
            var head = [UInt8](repeating: 0, count: 8)
            let n = read(fd, &head, head.count)
            close(fd)
            if n > 0, let format = CompressionFormat.detect(head.prefix(n)) {
                throw ValidationError("--input \(input): \(name) is \(format.rawValue)-compressed; decompress it into the folder first "
                    + "(lake reads its sources as text); nothing was ingested")
            }
        }
    }

    func run() throws {
        try checkInput()
        let store = try lake.ingestStore(for: .catalog, registry: registry)
        let qualityConfig = try alerts.load(lake: store.root)
        let dir = URL(fileURLWithPath: input, isDirectory: true)
        let catalog = dir.appendingPathComponent("product_catalog.json").path
        let inventory = dir.appendingPathComponent("inventory_updates.csv").path
        let orders = dir.appendingPathComponent("orders_stream.jsonl").path
        var clock = PhaseClock("run")
        var summaries: [IngestRun] = []
        let orderSummary: IngestRun
        do { orderSummary = try stoppable {
            summaries.append(try CatalogIngest.run(store, path: catalog))
            summaries.append(try InventoryIngest.run(store, path: inventory))
            clock.lap("catalog and inventory")
            let bar = ProgressBar(label: "orders", quiet: flags.quiet || flags.format != .table)
            let orderSummary = try OrderIngest.run(store, path: orders, progress: bar.update)
            summaries.append(orderSummary)
            bar.finish()
            clock.lap("ingest orders")
            BatchQualityHook.run(store.catalog, orderSummary, config: qualityConfig)
            clock.lap("batch quality hook")
            return orderSummary
        } } catch {
            // The sources before the failing one are committed: say so, or exit 1 and one error
            // line read as "nothing happened", while the lake already has a new catalog.
            if !summaries.isEmpty {
                for s in summaries where flags.format == .table { print(SummaryText.render(s, format: .table)) }
                fflush(nil)
                let landed = summaries.map { s in
                    "\(s.kind) \(s.snapshotID.map { "committed at snapshot \($0)" } ?? s.alreadyIngestedAt.map { "already ingested at snapshot \($0)" } ?? "nothing added")"
                }
                printError("lake run: \(landed.joined(separator: ", ")); the next source failed (below). Fix the cause and run again: what landed is not added twice.")
            }
            throw error
        }
        switch flags.format {
        case .json: print(jsonText(summaries))
        case .csv:
            // One header, then a row per source, so the output reads as one CSV table.
            for (i, s) in summaries.enumerated() {
                let text = SummaryText.render(s, format: .csv)
                print(i == 0 ? text : String(text.drop { $0 != "\n" }.dropFirst()))
            }
        case .table: for s in summaries { print(SummaryText.render(s, format: .table)) }
        }
        guard flags.format == .table else { return }
        // The headline reports (`lake report NAME` shows each in full), computed side by side.
        // Each table is printed once it and every one before it are done, in this order.
        let headline = try ReportJob.headline()
        var failed: [ReportJob] = []
        Reports.runAll(headline, catalog: store.catalog) { i, outcome in
            switch outcome {
            case .success(.report(let report)):
                print("")
                // The customers report's headline is its top list and its summary.
                var sections = 1
                if case .report(.customers, _) = headline[i] { sections = 2 }
                print(report.sections.prefix(sections).map { $0.renderTable(maxCellWidth: tableCellWidth) }.joined(separator: "\n\n"))
            case .success(.query(let query)):
                print("\nDaily revenue: `lake report daily-revenue` (per date, channel, country); by channel:")
                var byChannel = query.table
                // Headers for readers, not the aggregate expressions that computed them.
                byChannel.columns = ["channel", "confirmed_orders", "revenue", "avg_order_value", "customers"]
                print(byChannel.renderTable(maxCellWidth: tableCellWidth))
            case .failure(let error):
                failed.append(headline[i])
                // The tables before it are on stdout first, so a terminal shows the error in place.
                fflush(nil)
                printError("lake run: \(headline[i]) failed: \(error)")
            }
            // Out now, not when the last report is done (stdout is block-buffered into a pipe).
            fflush(nil)
        }
        clock.lap("reports")
        if !failed.isEmpty {
            // From the summary, not a catalog read: a catalog error here would hide that the data landed.
            let landed = orderSummary.snapshotID.map { "orders committed at snapshot \($0)" }
                ?? orderSummary.alreadyIngestedAt.map { "orders already ingested at snapshot \($0)" } ?? "no new orders"
            // The by-channel query is a cut of daily revenue: that report shows the same rows.
            let retry = failed.map { job -> String in
                if case .report(let name, _) = job { return "lake report \(name)" }
                return "lake report \(ReportName.dailyRevenue)"
            }
            printError("""
                lake run: the ingest is committed (\(landed)); \(failed.count) of \(headline.count) reports failed \
                (\(failed.map(\.description).joined(separator: ", "))). Do not re-run the ingest: fix the cause, then \
                \(retry.map { "`\($0)`" }.joined(separator: ", ")).
                """)
            throw ExitCode(Self.reportFailedStatus)
        }
    }

    /// The exit status when every source was ingested and committed but a report failed: not 1
    /// (a failed ingest), so a scheduler can tell that the data landed.
    static let reportFailedStatus: Int32 = 3
}
