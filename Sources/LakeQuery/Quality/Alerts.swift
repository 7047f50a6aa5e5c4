import Foundation
import LakeCatalog
import LakeFormat

/// Files per table and the fullest partition: the small-files signal.
public struct LakeHealth: Sendable {
    public struct TableFiles: Sendable {
        public var table: String
        public var files: Int
        public var bytes: Int64
        public var maxFilesPerPartition: Int
        public var fullestPartition: String
    }
    public var tables: [TableFiles]
    public var catalogBytes: Int64
    public var maxFilesPerPartition: Int { tables.map(\.maxFilesPerPartition).max() ?? 0 }

    public static func measure(catalog: Catalog, asOf: AsOf?) throws -> LakeHealth {
        var out: [TableFiles] = []
        for t in try catalog.tables(at: asOf).sorted(by: { $0.qualifiedName < $1.qualifiedName }) {
            // File health: inlined rows are in the catalog, not in files.
            let files = try catalog.dataFiles(tableID: t.tableID, at: asOf, inlined: .readSeparately)
            var perPartition: [String: Int] = [:]
            for f in files {
                let key = f.partitionValues.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "/")
                perPartition[key, default: 0] += 1
            }
            let fullest = perPartition.max { ($0.value, $1.key) < ($1.value, $0.key) }
            out.append(TableFiles(table: t.qualifiedName, files: files.count, bytes: files.reduce(0) { $0 + $1.fileSizeBytes },
                                  maxFilesPerPartition: fullest?.value ?? 0, fullestPartition: fullest?.key ?? ""))
        }
        return LakeHealth(tables: out, catalogBytes: try catalog.catalogBytes())
    }
}

/// Everything `lake quality check` evaluates, and the alerts that fired.
public struct QualityCheckOutcome: Sendable {
    public var quality: QualityRun
    public var anomalies: [AnomalyFinding]
    public var health: LakeHealth
    public var alerts: [AlertRecord]
}

public enum Alerting {
    /// Runs checks, anomaly detection and health, and turns what crosses a threshold into alerts.
    /// `rescan` reads the tables instead of adding up the figures the ingests stored.
    public static func evaluate(catalog: Catalog, asOf: AsOf? = nil, config: QualityConfig = QualityConfig(),
                                now: Date = Date(), rescan: Bool = false) throws -> QualityCheckOutcome {
        let quality = try QualityChecks.run(catalog: catalog, asOf: asOf, config: config, rescan: rescan)
        let anomalies = try AnomalyDetector.detect(catalog: catalog, asOf: asOf, config: config, rescan: rescan)
        let health = try LakeHealth.measure(catalog: catalog, asOf: asOf)
        var alerts: [AlertRecord] = []
        for b in quality.batches {
            for r in b.results where !r.passed {
                alerts.append(AlertRecord(firedAt: now, kind: .failedCheck(r.check), severity: .error,
                                          subject: "batch \(b.batchID) (\(b.source), snapshot \(b.snapshotID))", value: r.value,
                                          baseline: nil, score: nil, threshold: r.threshold, message: r.detail))
            }
            if b.score < config.minQualityScore {
                alerts.append(AlertRecord(firedAt: now, kind: .lowQualityScore, severity: .error,
                                          subject: "batch \(b.batchID) (\(b.source), snapshot \(b.snapshotID))", value: b.score,
                                          baseline: nil, score: nil, threshold: config.minQualityScore,
                                          message: "quality score \(Value.format(b.score)) below \(Value.format(config.minQualityScore))"))
            }
        }
        for a in anomalies {
            alerts.append(AlertRecord(firedAt: now, kind: .anomaly(a.kind), severity: .warning,
                                      subject: a.date + (a.channel.map { " " + $0 } ?? ""), value: a.value, baseline: a.baseline,
                                      score: a.score, threshold: a.threshold, message: a.detail))
        }
        for t in health.tables where t.maxFilesPerPartition > config.maxFilesPerPartition {
            alerts.append(AlertRecord(firedAt: now, kind: .smallFiles, severity: .warning, subject: t.table,
                                      value: Double(t.maxFilesPerPartition), baseline: nil, score: nil,
                                      threshold: Double(config.maxFilesPerPartition),
                                      message: "\(t.maxFilesPerPartition) files in partition \(t.fullestPartition) of \(t.table); run `lake compact`"))
        }
        return QualityCheckOutcome(quality: quality, anomalies: anomalies, health: health, alerts: alerts)
    }

    /// Stores the results and the alerts under the snapshot the check read (no new snapshot: a
    /// check must not grow the lake's history) and returns that snapshot's id.
    @discardableResult
    public static func record(_ outcome: QualityCheckOutcome, catalog: Catalog) throws -> Int64 {
        try catalog.recordQualityCheck(snapshot: outcome.quality.snapshotID, results: outcome.quality.results, alerts: outcome.alerts)
        return outcome.quality.snapshotID
    }

    /// One alert as one JSON object (a line of the alerts file, an element of the webhook body).
    public static func json(_ a: AlertRecord) -> String {
        func num(_ d: Double?) -> String { d.map { $0.isFinite ? Value.format($0) : "null" } ?? "null" }
        return "{" + [
            "\"fired_at\": \(jsonString(Timestamps.iso(a.firedAt)))", "\"snapshot_id\": \(a.snapshotID)",
            "\"kind\": \(jsonString(a.kind.description))", "\"severity\": \(jsonString(a.severity.rawValue))", "\"subject\": \(jsonString(a.subject))",
            "\"value\": \(num(a.value))", "\"baseline\": \(num(a.baseline))", "\"score\": \(num(a.score))",
            "\"threshold\": \(num(a.threshold))", "\"message\": \(jsonString(a.message))",
        ].joined(separator: ", ") + "}"
    }

    /// A line for people: what fired and its evidence.
    public static func text(_ a: AlertRecord) -> String {
        var parts = ["ALERT \(a.severity) \(a.kind) [\(a.subject)]: value \(Value.format(a.value))"]
        if let b = a.baseline { parts.append("baseline \(Value.format(b))") }
        if let s = a.score { parts.append("score \(Value.format(s))") }
        parts.append("threshold \(Value.format(a.threshold))")
        return parts.joined(separator: ", ") + " — " + a.message
    }
}

