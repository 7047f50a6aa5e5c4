import Foundation
import LakeCatalog
import LakeFormat

/// Health and quality figures in the Prometheus text exposition format (0.0.4), written by hand:
/// swift-prometheus is not a dependency of this package, and the format is a few lines of text.
public enum Metrics {
    public static func render(catalog: Catalog, asOf: AsOf? = nil, config: QualityConfig = QualityConfig()) throws -> String {
        let runs = try catalog.ingestRuns(at: asOf)
        let health = try LakeHealth.measure(catalog: catalog, asOf: asOf)
        let outcome = try Alerting.evaluate(catalog: catalog, asOf: asOf, config: config)
        let quality = outcome.quality
        var out: [String] = []
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(String, Double)]) {
            out.append("# HELP \(name) \(help)")
            out.append("# TYPE \(name) \(type)")
            for (labels, v) in samples { out.append("\(name)\(labels) \(number(v))") }
        }
        var records: [String: Int64] = [:], rejected: [String: Int64] = [:]
        for r in runs {
            records[r.kind.rawValue, default: 0] += r.records
            for (reason, n) in r.rejects { rejected[reason, default: 0] += n }
        }
        family("lake_ingest_records_total", "counter", "Source records read by ingest runs, by source kind.",
               records.sorted { $0.key < $1.key }.map { ("{kind=\"\(label($0.key))\"}", Double($0.value)) })
        family("lake_ingest_rejected_total", "counter", "Records quarantined by ingest runs, by reject reason.",
               rejected.sorted { $0.key < $1.key }.map { ("{reason=\"\(label($0.key))\"}", Double($0.value)) })
        family("lake_ingest_runs_total", "counter", "Ingest runs committed.", [("", Double(runs.count))])
        let last = runs.last { $0.kind == .orders }
        let lat: [(String, Double?)] = [("0.5", last?.latencyP50), ("0.95", last?.latencyP95), ("1", last?.latencyMax)]
        family("lake_ingest_latency_seconds", "gauge", "Event time to commit of the latest order batch, by quantile.",
               lat.compactMap { q, v in v.map { ("{quantile=\"\(q)\"}", $0) } })
        family("lake_ingest_throughput_records_per_second", "gauge", "Records per second of the latest order batch.",
               last.map { [("", $0.recordsPerSecond)] } ?? [])
        family("lake_table_files", "gauge", "Live data files per table.",
               health.tables.map { ("{table=\"\(label($0.table))\"}", Double($0.files)) })
        family("lake_table_bytes", "gauge", "Bytes of live data files per table.",
               health.tables.map { ("{table=\"\(label($0.table))\"}", Double($0.bytes)) })
        family("lake_partition_files_max", "gauge",
               "Most data files in one partition of any table; above \(config.maxFilesPerPartition), run `lake compact`.",
               [("", Double(health.maxFilesPerPartition))])
        family("lake_catalog_bytes", "gauge", "Size of the catalog: manifest.sqlite with its WAL, or the catalog's tables in PostgreSQL.", [("", Double(health.catalogBytes))])
        family("lake_quality_score", "gauge", "Quality score 0-100: the lake (mean of batches) and each order batch.",
               [("{batch=\"all\"}", quality.score)] + quality.batches.map { ("{batch=\"\(label($0.batchID))\"}", $0.score) })
        family("lake_quality_checks_failed", "gauge", "Gated quality checks failing over all order batches.",
               [("", Double(quality.results.filter { !$0.passed }.count))])
        family("lake_anomalies", "gauge", "Anomalies found in the daily series, by kind.",
               Dictionary(grouping: outcome.anomalies, by: \.kind).sorted { $0.key < $1.key }.map { ("{kind=\"\(label($0.key.rawValue))\"}", Double($0.value.count)) })
        family("lake_alerts_firing", "gauge", "Alerts that `lake quality check` would fire now.", [("", Double(outcome.alerts.count))])
        return out.joined(separator: "\n") + "\n"
    }

    /// Label values escape backslash, double quote and newline, as the format requires.
    static func label(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}

/// `lake quality report`: per batch and per day, with scores.
public enum QualityReport {
    public static func build(_ q: QualityRun) -> [ResultTable] {
        // Titles stay fixed: JSON output keys its sections by title.
        let summary = ResultTable(title: "Quality summary", columns: ["snapshot", "batches", "lake_score", "failed_checks"], rows: [[
            .int(q.snapshotID), .int(Int64(q.batches.count)), .double(q.score), .int(Int64(q.results.filter { !$0.passed }.count)),
        ]])
        var batches = ResultTable(title: "Quality per ingest batch",
                                  columns: ["snapshot", "batch_id", "source", "records", "score", "failed_checks"])
        var checks = ResultTable(title: "Checks per batch", columns: ["snapshot", "batch_id", "check", "value", "threshold", "passed", "detail"])
        for b in q.batches {
            let failed = b.results.filter { !$0.passed }.map(\.check.description)
            batches.rows.append([.int(b.snapshotID), .string(b.batchID), .string(b.source), .int(b.records), .double(b.score),
                                 .string(failed.isEmpty ? "" : failed.joined(separator: ", "))])
            for r in b.results {
                checks.rows.append([.int(b.snapshotID), .string(b.batchID), .string(r.check.description), .double(r.value), .double(r.threshold),
                                    .bool(r.passed), .string(r.detail)])
            }
        }
        var days = ResultTable(title: "Quality per event day (raw lines of all batches)",
                               columns: ["date", "records", "rejected", "reject_rate", "score", "failed_checks"])
        for d in q.days {
            let failed = d.results.filter { !$0.passed }.map(\.check.description)
            days.rows.append([.date(d.date), .int(d.records), .int(d.rejected), .double(d.records > 0 ? Double(d.rejected) / Double(d.records) : 0),
                              .double(d.score), .string(failed.joined(separator: ", "))])
        }
        return [summary, batches, days, checks]
    }

    /// The whole report: per batch, per day, every check, and the anomalies with their evidence.
    public static func report(_ q: QualityRun, anomalies: [AnomalyFinding]) -> Report {
        var table = ResultTable(title: "Anomalies", columns: ["kind", "date", "channel", "value", "baseline", "score", "threshold", "detail"])
        for a in anomalies {
            table.rows.append([.string(a.kind.rawValue), .string(a.date), a.channel.map(Value.string) ?? .null, .double(a.value),
                               .double(a.baseline), .double(a.score), .double(a.threshold), .string(a.detail)])
        }
        return Report(name: "quality", snapshot: q.snapshotID, sections: build(q) + [table])
    }
}
