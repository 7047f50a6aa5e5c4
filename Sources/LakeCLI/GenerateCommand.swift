import ArgumentParser
import Foundation
import LakeFormat
import LakePipeline

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write deterministic sample sources: orders_stream.jsonl, product_catalog.json, inventory_updates.csv.",
        discussion: """
        The same --seed always writes the same bytes. About 6% of order lines carry the faults real streams have (truncated or malformed JSON, missing fields, quantity <= 0, negative prices, unknown products, bad enums, exact replays) plus accepted oddities (late events, and the mobile app's variant with customerId and ts in epoch milliseconds). --clean turns them all off.

          lake generate --out /tmp/src              # 1,000 lines over 30 days
          lake generate --out /tmp/big --orders 100000 --clean
          lake generate --out /tmp/v2 --schema-version 2 --spike 2024-01-20:web:5x
          lake generate --out Evaluation-Files --seed 42   # the bundled sample
          lake generate --out /tmp/src --format json
        """
    )

    // Required: a default folder would sooner or later overwrite the bundled sample.
    @Option(help: ArgumentHelp("Output directory (created if missing); files of the same name in it are replaced.", valueName: "DIR"))
    var out: String

    @Option(parsing: .unconditional, help: "Order lines to write (before spikes).")
    var orders = 1000

    @Option(parsing: .unconditional, help: "Days the orders span.")
    var days = 30

    @Option(help: ArgumentHelp("First day, YYYY-MM-DD (UTC).", valueName: "DATE"))
    var start = "2024-01-01"

    @Option(help: "Random seed; 42 rewrites the bundled sample (Evaluation-Files). Other seeds give other order ids.")
    var seed: UInt64 = GeneratorConfig.defaultSeed

    @Option(name: .customLong("schema-version"), help: "Order stream schema version to emit.")
    var schemaVersion = 1

    @Option(help: ArgumentHelp("Multiply one day and channel's orders, e.g. 2024-01-20:web:5x (repeatable).", valueName: "DATE:CHANNEL:FACTORx"))
    var spike: [String] = []

    @Flag(help: "Write no faults and no mobile variant.")
    var clean = false

    @Option(help: "table, json (one object: the counts, line_kinds per kind) or csv (a header and one row).")
    var format: OutputFormat = .table

    @Flag(help: "No progress bar (drawn on standard error only when that is a terminal and --format is table).")
    var quiet = false

    @Option(name: .customLong("bench-parse"), help: .hidden)
    var benchParse: String?

    @Option(name: .customLong("schemas"), help: .hidden)
    var schemasDir: String?

    func run() throws {
        if let file = benchParse {
            try runBench(file)
            return
        }
        var config = GeneratorConfig()
        config.orders = orders
        config.days = days
        guard let startDay = CivilDate.parse(start) else { throw ValidationError("--start must be YYYY-MM-DD, got \(start)") }
        config.startDay = startDay
        config.seed = seed
        config.schemaVersion = schemaVersion
        do { config.spikes = try spike.map { try Spike(parsing: $0) } } catch { throw ValidationError("\(error)") }
        if clean { config.faults = .none }
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            throw ValidationError("cannot create --out \(out): \(fileErrorText(error))")
        }
        let t0 = Date()
        let summary: GenerationSummary
        do {
            summary = try withProgressBar("generate", unit: .count("orders"), quiet: quiet || format != .table) { progress throws(GeneratorError) in
                try OrderGenerator.generate(config, into: out, progress: progress)
            }
        } catch {
            // Settings out of range are usage errors (64); only a write failure is not.
            if case .io = error { throw error }
            throw ValidationError(error.description)
        }
        let secs = Date().timeIntervalSince(t0)
        var result = Records(["out", "order_lines", "order_bytes", "products", "inventory_rows", "inventory_bad_rows",
                              "expected_accepted", "expected_rejected", "seconds"])
        result.append([out, summary.lines, summary.orderBytes, summary.products, summary.inventoryRows, summary.inventoryBadRows,
                       summary.expectedAccepted, summary.expectedRejected, secs])
        // The line kinds only in JSON: a CSV row has one cell per field, and their set depends on the settings.
        let kinds = Dictionary(uniqueKeysWithValues: GeneratedLineKind.allCases.compactMap { k in summary.counts[k].map { (k.rawValue, $0) } })
        try printResult(result, lists: ["line_kinds": kinds], format: format) { printText(summary, seconds: secs) }
    }

    private func printText(_ summary: GenerationSummary, seconds secs: Double) {
        print("wrote \(out)/orders_stream.jsonl: \(summary.lines) lines, \(summary.orderBytes) bytes")
        print("wrote \(out)/product_catalog.json: \(summary.products) products")
        print("wrote \(out)/inventory_updates.csv: \(summary.inventoryRows) rows (\(summary.inventoryBadRows) with a non-numeric quantity)")
        for kind in GeneratedLineKind.allCases {
            if let n = summary.counts[kind] { print("  \(kind.rawValue): \(n)\(kind.rejected ? " (must be rejected)" : "")") }
        }
        print("expected accepted orders: \(summary.expectedAccepted), rejected lines: \(summary.expectedRejected)")
        print(String(format: "in %.2f s", secs))
    }

    /// Parse + validate a JSONL file end to end (read, parse, validate, build batches) and report
    /// MB/s; used to measure the hot path on a release build.
    private func runBench(_ file: String) throws {
        let registry = try schemasDir.map { try SchemaRegistry.load(directory: $0) } ?? SchemaRegistry.bundled()
        let catalogPath = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("product_catalog.json").path
        let catalog = try ProductCatalogParser.parse(path: catalogPath).catalog
        let rules = try OrderRules(registry: registry)
        // Parse only (no validation, no batches), to separate the two costs.
        var parser = OrderLineParser(map: rules.fieldMap)
        var parseBytes: Int64 = 0
        let p0 = Date()
        try LineReader(path: file).forEachLine { line in
            parseBytes += Int64(line.bytes.count + 1)
            do throws(OrderLineError) { try parser.parse(line.bytes) } catch {}
        }
        let parseSecs = Date().timeIntervalSince(p0)
        print(String(format: "parse only: %.3f s, %.1f MB/s", parseSecs, Double(parseBytes) / parseSecs / 1e6))

        let t0 = Date()
        var validator = OrderValidator(rules: rules, catalog: catalog, batchID: "bench", sourceFile: file, ingestTimeMicros: 0, expectedLines: 65_536)
        var bytes: Int64 = 0
        var accepted = 0, rejected = 0
        let reader = try LineReader(path: file)
        try reader.forEachLine { line in
            bytes += Int64(line.bytes.count + 1)
            validator.add(line)
            if validator.pendingRows >= 65_536 {
                let out = validator.drain()
                accepted += out.orders.count
                rejected += out.rejectedCount
            }
        }
        let out = validator.drain()
        accepted += out.orders.count
        rejected += out.rejectedCount
        let secs = Date().timeIntervalSince(t0)
        print("bytes=\(bytes) accepted=\(accepted) rejected=\(rejected)")
        print(String(format: "parse+validate: %.3f s, %.1f MB/s", secs, Double(bytes) / secs / 1e6))
    }
}
