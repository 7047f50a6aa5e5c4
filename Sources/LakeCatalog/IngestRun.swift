import Foundation

/// One ingest: what it read, accepted, quarantined and wrote. The same value is what an ingest
/// returns (the summary line, `lake ingest … --format json`) and the row it records in
/// `lake_ingest_run` (read back by the operations report, the quality checks and the metrics),
/// so a figure cannot be counted one way in the summary and another in the ledger.
public struct IngestRun: Sendable, Equatable {
    public var kind: SourceKind
    public var source: String
    /// The snapshot that committed the run; nil when nothing was committed (the content was
    /// already in the ledger, or a follow found no complete line). Set on every ledger row.
    public var snapshotID: Int64?
    /// The batch id the committed rows carry (raw.orders.batch_id, what the quality checks
    /// group by); nil when nothing was committed and on a follow's totals, which span batches.
    /// Set on every ledger row.
    public var batchID: String?
    /// Set when the same source content was committed before, at that snapshot: nothing was added.
    public var alreadyIngestedAt: Int64?
    public var sourceHash: String?
    public var sourceBytes: Int64
    public var startedAt: Date
    public var finishedAt: Date
    public var records: Int64
    public var accepted: Int64
    public var quarantined: Int64
    public var duplicates: Int64
    /// Reject reason (its stored name) → count, duplicates included under their own reasons.
    /// Stored names, not `RejectReason`: the reasons are the pipeline's vocabulary (orders,
    /// catalog and inventory each have theirs), above this layer.
    public var rejects: [String: Int64]
    public var filesWritten: Int64
    public var bytesWritten: Int64
    public var partitions: Int64
    public var seconds: Double
    /// Seconds from event time to commit over the accepted records (nil when not applicable).
    public var latencyP50: Double?
    public var latencyP95: Double?
    public var latencyMax: Double?
    /// Source fields the registry does not know → how many records carried each.
    public var unknownFields: [String: Int64]

    /// `seconds` defaults to the time from `startedAt` to `finishedAt`.
    public init(kind: SourceKind, source: String, snapshotID: Int64? = nil, batchID: String? = nil, alreadyIngestedAt: Int64? = nil,
                sourceHash: String? = nil, sourceBytes: Int64 = 0, startedAt: Date, finishedAt: Date,
                records: Int64 = 0, accepted: Int64 = 0, quarantined: Int64 = 0, duplicates: Int64 = 0, rejects: [String: Int64] = [:],
                filesWritten: Int64 = 0, bytesWritten: Int64 = 0, partitions: Int64 = 0, seconds: Double? = nil,
                latencyP50: Double? = nil, latencyP95: Double? = nil, latencyMax: Double? = nil, unknownFields: [String: Int64] = [:]) {
        self.kind = kind
        self.source = source
        self.snapshotID = snapshotID
        self.batchID = batchID
        self.alreadyIngestedAt = alreadyIngestedAt
        self.sourceHash = sourceHash
        self.sourceBytes = sourceBytes
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.records = records
        self.accepted = accepted
        self.quarantined = quarantined
        self.duplicates = duplicates
        self.rejects = rejects
        self.filesWritten = filesWritten
        self.bytesWritten = bytesWritten
        self.partitions = partitions
        self.seconds = seconds ?? finishedAt.timeIntervalSince(startedAt)
        self.latencyP50 = latencyP50
        self.latencyP95 = latencyP95
        self.latencyMax = latencyMax
        self.unknownFields = unknownFields
    }

    /// The run of a source whose content the ledger already holds (committed at `snapshot`):
    /// nothing read into the lake, nothing written.
    public static func alreadyIngested(kind: SourceKind, source: String, startedAt: Date, at snapshot: Int64) -> IngestRun {
        IngestRun(kind: kind, source: source, alreadyIngestedAt: snapshot, startedAt: startedAt, finishedAt: Date())
    }

    public var recordsPerSecond: Double { seconds > 0 ? Double(records) / seconds : 0 }
}

extension IngestRun: Encodable {
    // The keys `lake ingest … --format json` has always printed (scripts and the Airflow DAG
    // read them). The ledger-only figures (hash, times, latency) are in `report operations`.
    enum CodingKeys: String, CodingKey {
        case kind, source, records, accepted, quarantined, duplicates, rejects, partitions, seconds
        case filesWritten = "files_written", bytesWritten = "bytes_written", snapshotID = "snapshot_id"
        case recordsPerSecond = "records_per_second", alreadyIngestedAt = "already_ingested_at"
        case unknownFields = "unknown_fields", batchID = "batch_id"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(source, forKey: .source)
        try c.encode(records, forKey: .records)
        try c.encode(accepted, forKey: .accepted)
        try c.encode(quarantined, forKey: .quarantined)
        try c.encode(duplicates, forKey: .duplicates)
        try c.encode(rejects, forKey: .rejects)
        try c.encode(filesWritten, forKey: .filesWritten)
        try c.encode(bytesWritten, forKey: .bytesWritten)
        try c.encode(partitions, forKey: .partitions)
        try c.encodeIfPresent(snapshotID, forKey: .snapshotID)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(recordsPerSecond, forKey: .recordsPerSecond)
        try c.encodeIfPresent(alreadyIngestedAt, forKey: .alreadyIngestedAt)
        try c.encode(unknownFields, forKey: .unknownFields)
        // Only an orders batch has rows the quality checks group by batch; a catalog or
        // inventory run's batch id stays in the ledger.
        if kind == .orders { try c.encodeIfPresent(batchID, forKey: .batchID) }
    }
}
