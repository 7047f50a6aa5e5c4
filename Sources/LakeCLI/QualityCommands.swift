import ArgumentParser
import Foundation
import LakeFormat
import LakeCatalog
import LakeQuery

/// --config, shared by every command that evaluates quality checks or alerts.
struct AlertConfigOption: ParsableArguments {
    @Option(help: ArgumentHelp("Alert thresholds (default: <lake>/alerts.json if present, else built-in defaults).", valueName: "FILE"))
    var config: String?

    func load(lake root: URL) throws -> QualityConfig { try QualityConfig.resolve(explicit: config, lake: root) }
}

struct QualityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quality",
        abstract: "Data quality checks per ingest batch, anomaly detection and alerts.",
        discussion: """
        Checks per order batch (completeness, validity, referential integrity, uniqueness, consistency, freshness), daily anomalies (orders, revenue, reject and null rates against a trailing baseline of full days) and lake health (small files). Thresholds: --config FILE, else <lake>/alerts.json if present, else built-in defaults (the same for quality, metrics, dashboard and the checks after each orders ingest).

          lake quality report
          lake quality report --format json --as-of 3
          lake quality check --webhook http://127.0.0.1:9000/alerts
        """,
        subcommands: [QualityReportCommand.self, QualityCheckCommand.self],
        defaultSubcommand: QualityReportCommand.self
    )
}

struct QualityReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Quality per batch and per day, with scores, and the anomalies found.",
        discussion: """
        Examples:
          lake quality report
          lake quality report --as-of 3 --format json
        """)
    @OptionGroup var lake: LakeOptions
    @OptionGroup var when: AsOfOption
    @OptionGroup var alerts: AlertConfigOption
    @Option(help: "Output format: table, csv or json.")
    var format: ResultTable.Format = .table

    func run() throws {
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false, readOnly: true)
        print(try QualityReport.run(catalog: catalog, asOf: when.asOf, config: try alerts.load(lake: lake.root)).render(format, maxCellWidth: tableCellWidth))
    }
}

struct QualityCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Run the checks, record results and alerts in the catalog; exit 1 when an alert fires.",
        discussion: """
        Results and alerts are stored under the snapshot checked (`lake quality report` and `lake metrics` read them); a check adds no snapshot. Alerts are also appended as JSON lines to <lake>/alerts.jsonl, and POSTed as {"alerts": [...]} with --webhook.

          lake quality check                 # exit status 1 when an alert fires
          lake quality check --config /etc/lake/alerts.json --alerts-file alerts.jsonl
          lake quality check --webhook http://127.0.0.1:9000/hook
          lake quality check --as-of 5       # the lake as it was at snapshot 5
          lake quality check --rescan        # recompute from the tables
        """)
    @OptionGroup var lake: LakeOptions
    @OptionGroup var when: AsOfOption
    @OptionGroup var alerts: AlertConfigOption
    @Option(name: .customLong("alerts-file"), help: ArgumentHelp("Append alerts as JSON lines here (default: <lake>/alerts.jsonl).", valueName: "FILE"))
    var alertsFile: String?
    @Option(help: ArgumentHelp("POST the alerts as JSON to this http(s) URL.", valueName: "URL"))
    var webhook: String?
    @Flag(help: "Scan the tables instead of adding up the quality figures each ingest stored with its batch (a cross-check; slow on a big lake).")
    var rescan = false
    @Option(help: "table, json (one object: the snapshot checked, batches, score, anomalies and each alert as in alerts.jsonl) or csv (one row per alert).")
    var format: OutputFormat = .table

    func run() throws {
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false)
        var outcome = try Alerting.evaluate(catalog: catalog, asOf: when.asOf, config: try alerts.load(lake: lake.root), rescan: rescan)
        let snapshot = try Alerting.record(outcome, catalog: catalog)
        for i in outcome.alerts.indices { outcome.alerts[i].snapshotID = snapshot }
        if format == .table {
            print("quality: \(outcome.quality.batches.count) batch(es), score \(String(format: "%.1f", outcome.quality.score)), "
                  + "\(outcome.anomalies.count) anomal\(outcome.anomalies.count == 1 ? "y" : "ies"), \(outcome.alerts.count) alert(s); "
                  + "recorded under snapshot \(snapshot) (the snapshot checked; no new snapshot)")
            for a in outcome.alerts { print(Alerting.text(a)) }
        } else if format == .csv {
            var rows = Records(["fired_at", "snapshot_id", "kind", "severity", "subject", "value", "baseline", "score", "threshold", "message"])
            for a in outcome.alerts {
                rows.append([Timestamps.iso(a.firedAt), a.snapshotID, a.kind.description, a.severity.rawValue, a.subject, a.value,
                             a.baseline, a.score, a.threshold, a.message])
            }
            rows.printCSV()
        } else {
            try printJSON([
                "snapshot_id": snapshot, "batches": outcome.quality.batches.count, "score": outcome.quality.score,
                "anomalies": outcome.anomalies.count,
                "alerts": try outcome.alerts.map { try JSONSerialization.jsonObject(with: Data(Alerting.json($0).utf8)) },
            ] as [String: Any])
        }
        let path = alertsFile ?? lake.root.appendingPathComponent("alerts.jsonl").path
        try AlertDelivery.appendJSONLines(outcome.alerts, to: path)
        if let webhook, !outcome.alerts.isEmpty {
            guard let url = URL(string: webhook) else { throw ValidationError("--webhook: not a URL") }
            try AlertDelivery.post(outcome.alerts, to: url)
            if format == .table { print("posted \(outcome.alerts.count) alert(s) to the webhook") }
        }
        if !outcome.alerts.isEmpty { throw ExitCode(1) }
    }
}

struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics", abstract: "Health and quality figures in the Prometheus text format.",
        discussion: """
        Snapshots, rows and files per table, ingest throughput and lag, quality scores and the alerts `lake quality check` would fire now; for a node_exporter textfile collector or a scrape through any static file server.

          lake metrics
          lake metrics --as-of 12
          lake metrics > /var/lib/node_exporter/textfile/lake.prom
        """)
    @OptionGroup var lake: LakeOptions
    @OptionGroup var when: AsOfOption
    @OptionGroup var alerts: AlertConfigOption

    func run() throws {
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false, readOnly: true)
        print(try Metrics.render(catalog: catalog, asOf: when.asOf, config: try alerts.load(lake: lake.root)), terminator: "")
    }
}

struct DashboardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard", abstract: "Write a self-contained HTML dashboard (inline CSS and SVG).",
        discussion: """
        Daily orders and revenue per channel with the anomalies marked, quality per batch, and table health; one file with no external resources, to open in a browser or mail.

          lake dashboard --out dashboard.html
          lake dashboard --out snapshot-12.html --as-of 12
        """)
    @OptionGroup var lake: LakeOptions
    @OptionGroup var when: AsOfOption
    @OptionGroup var alerts: AlertConfigOption
    @Option(help: ArgumentHelp("The HTML file to write.", valueName: "FILE"))
    var out: String

    func run() throws {
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false, readOnly: true)
        let html = try Dashboard.render(catalog: catalog, asOf: when.asOf, config: try alerts.load(lake: lake.root))
        do {
            try Data(html.utf8).write(to: URL(fileURLWithPath: out))
        } catch {
            throw ValidationError("cannot write --out \(out): \(fileErrorText(error))")
        }
        print("wrote \(out)")
    }
}
