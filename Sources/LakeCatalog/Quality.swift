import Foundation
import LakeFormat

// Data-quality results and alerts, in `lake_*` tables next to the DuckLake catalog (DuckDB's
// ducklake extension ignores them). A check reads the lake and does not change it, so its
// results are stored under the snapshot it checked, without a commit of their own: checking
// never grows the lake's history, and a time-travelling read sees the results of the checks
// run on the snapshots up to the one it reads.

/// One check over one ingest batch (or over the lake, batch_id "*"), with its evidence.
public struct QualityResult: Codable, Sendable, Equatable {
    /// The snapshot the check read (0 until recorded).
    public var snapshotID: Int64
    /// The snapshot that committed the batch checked.
    public var batchSnapshotID: Int64
    public var batchID: String
    public var check: QualityCheckID
    public var value: Double
    public var threshold: Double
    public var passed: Bool
    public var detail: String

    public init(snapshotID: Int64 = 0, batchSnapshotID: Int64, batchID: String, check: QualityCheckID, value: Double,
                threshold: Double, passed: Bool, detail: String) {
        self.snapshotID = snapshotID
        self.batchSnapshotID = batchSnapshotID
        self.batchID = batchID
        self.check = check
        self.value = value
        self.threshold = threshold
        self.passed = passed
        self.detail = detail
    }
}

/// An alert as recorded: what fired, with its evidence.
public struct AlertRecord: Codable, Sendable, Equatable {
    public var snapshotID: Int64
    public var firedAt: Date
    public var kind: AlertKind
    public var severity: AlertSeverity
    public var subject: String
    public var value: Double
    public var baseline: Double?
    public var score: Double?
    public var threshold: Double
    public var message: String

    public init(snapshotID: Int64 = 0, firedAt: Date, kind: AlertKind, severity: AlertSeverity, subject: String, value: Double,
                baseline: Double?, score: Double?, threshold: Double, message: String) {
        self.snapshotID = snapshotID
        self.firedAt = firedAt
        self.kind = kind
        self.severity = severity
        self.subject = subject
        self.value = value
        self.baseline = baseline
        self.score = score
        self.threshold = threshold
        self.message = message
    }
}

enum QualityTables {
    static let ddl = [
        """
        CREATE TABLE IF NOT EXISTS lake_quality_result (
            snapshot_id BIGINT NOT NULL, batch_snapshot_id BIGINT NOT NULL, batch_id VARCHAR NOT NULL,
            check_name VARCHAR NOT NULL, value DOUBLE NOT NULL, threshold DOUBLE NOT NULL, passed BOOLEAN NOT NULL,
            detail VARCHAR NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS lake_alert (
            snapshot_id BIGINT NOT NULL, fired_at VARCHAR NOT NULL, kind VARCHAR NOT NULL, severity VARCHAR NOT NULL,
            subject VARCHAR NOT NULL, value DOUBLE NOT NULL, baseline DOUBLE, score DOUBLE, threshold DOUBLE NOT NULL,
            message VARCHAR NOT NULL)
        """,
    ]

    static func ensure(_ db: SQLDatabase) throws {
        for sql in ddl { try db.execute(sql: sql) }
    }

    static func exists(_ db: SQLDatabase, _ name: String) throws -> Bool {
        try db.tableExists(name)
    }
}

extension Catalog {
    /// Stores a check's results and alerts under `snapshot`, the snapshot the check read, in
    /// one SQLite transaction and without a new snapshot. Running the same check again on the
    /// same snapshot replaces the results of the batches it covers (they are the same figures);
    /// alerts are events and are appended.
    public func recordQualityCheck(snapshot: Int64, results: [QualityResult], alerts: [AlertRecord]) throws {
        _ = try resolve(.snapshot(snapshot))  // a typed error for a snapshot that does not exist
        try Self.withRetry {
            try store.write { db in
                for batch in Set(results.map(\.batchID)) {
                    try db.execute(sql: "DELETE FROM lake_quality_result WHERE snapshot_id = ? AND batch_id = ?", arguments: [snapshot, batch])
                }
                // Multi-row INSERTs: a batch's ~15 results were a round trip each under the write
                // lock on PostgreSQL, after every commit of a long-lived writer.
                try db.insertRows(into: "lake_quality_result", row: "(?, ?, ?, ?, ?, ?, ?, ?)", results.map { r in [
                    snapshot, r.batchSnapshotID, r.batchID, r.check.description, r.value, r.threshold, r.passed, r.detail,
                ] })
                try db.insertRows(into: "lake_alert", row: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", alerts.map { a in [
                    snapshot, Timestamps.iso(a.firedAt), a.kind.description, a.severity.rawValue, a.subject, a.value, a.baseline, a.score,
                    a.threshold, a.message,
                ] })
            }
        }
    }
}

extension Catalog {
    /// Results of the checks that read this snapshot or an earlier one, oldest first.
    public func qualityResults(at asOf: AsOf? = nil) throws -> [QualityResult] {
        let snap = try resolve(asOf)
        return try read { db in
            guard try QualityTables.exists(db, "lake_quality_result") else { return [] }
            return try SQLRow.fetchAll(db, sql: """
                SELECT * FROM lake_quality_result WHERE snapshot_id <= ? ORDER BY snapshot_id, \(db.insertionOrder)
                """, arguments: [snap.id]).map { r in
                QualityResult(snapshotID: try r.value("snapshot_id"), batchSnapshotID: try r.value("batch_snapshot_id"),
                              batchID: try r.value("batch_id"), check: QualityCheckID(parsing: try r.value("check_name")), value: try r.value("value"),
                              threshold: try r.value("threshold"), passed: try r.value("passed"), detail: try r.value("detail"))
            }
        }
    }

    /// Alerts fired by checks that read this snapshot or an earlier one, oldest first.
    public func alerts(at asOf: AsOf? = nil) throws -> [AlertRecord] {
        let snap = try resolve(asOf)
        return try read { db in
            guard try QualityTables.exists(db, "lake_alert") else { return [] }
            return try SQLRow.fetchAll(db, sql: "SELECT * FROM lake_alert WHERE snapshot_id <= ? ORDER BY snapshot_id, \(db.insertionOrder)",
                                    arguments: [snap.id]).map { r in
                let fired: String? = try r.value("fired_at")
                return AlertRecord(snapshotID: try r.value("snapshot_id"),
                            firedAt: Timestamps.parseTimestamp(fired ?? "").map(Timestamps.date(micros:)) ?? Date(timeIntervalSince1970: 0),
                            kind: AlertKind(parsing: try r.value("kind")), severity: try Self.severity(r.value("severity")), subject: try r.value("subject"),
                            value: try r.value("value"), baseline: try r.value("baseline"), score: try r.value("score"),
                            threshold: try r.value("threshold"), message: try r.value("message"))
            }
        }
    }

    /// Severity is a closed set a reader must understand to act on an alert: an unknown one is
    /// refused with its text, not guessed.
    static func severity(_ text: String) throws -> AlertSeverity {
        guard let severity = AlertSeverity(rawValue: text) else {
            throw CatalogError.corrupt("lake_alert has an alert of severity \"\(text)\" (this build knows error and warning)")
        }
        return severity
    }

    /// Size of the catalog in bytes, not the data files: the SQLite file with its WAL and shared
    /// memory, or on PostgreSQL the catalog schema's tables with their indexes and TOAST (it was
    /// the size of a manifest.sqlite a PostgreSQL lake does not have: 0).
    public func catalogBytes() throws -> Int64 {
        switch location {
        case .postgres:
            return try read { db in
                try Int64.fetchOne(db, sql: """
                    SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::BIGINT FROM pg_class c
                    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'
                    """) ?? 0
            }
        case .sqlite(let file):
            var total: Int64 = 0
            for suffix in ["", "-wal", "-shm"] {
                var st = stat()
                if stat(file.path + suffix, &st) == 0 { total += Int64(st.st_size) }
                // The WAL and shared-memory files exist only while a connection has them.
                else if errno != ENOENT { throw CatalogError.storage("cannot stat \(file.path + suffix): \(errnoText(errno))") }
            }
            return total
        }
    }
}
