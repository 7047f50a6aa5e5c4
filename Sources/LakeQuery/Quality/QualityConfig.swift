import Foundation

/// Thresholds for quality checks, anomaly detection and alerts (<lake>/alerts.json, or --config). Every key
/// is optional in the file; a missing key keeps the default below, which is also what the
/// checked-in config/alerts.json documents.
public struct QualityConfig: Codable, Sendable, Equatable {
    /// Share of a batch's raw lines rejected as missing_field (any one field) above which completeness fails.
    public var completenessMaxMissingRate = 0.02
    /// Share of lines rejected for validity (malformed, wrong type, out of range, outside an enum).
    public var validityMaxInvalidRate = 0.05
    /// Share of lines naming a product the catalog does not have.
    public var referentialMaxUnknownProductRate = 0.02
    /// Share of lines that repeat an order_id already accepted (replays, conflicting duplicates).
    public var uniquenessMaxRawDuplicateRate = 0.05
    /// p95 of event-time-to-commit lag above which freshness fails; 0 turns the gate off (a
    /// backfill of old events is legitimately "late", so only live streams should set it).
    public var freshnessMaxP95Seconds = 0.0
    /// A batch scoring below this (0-100) raises an alert.
    public var minQualityScore = 80.0
    /// |robust z| above which a daily figure is a spike or a drop.
    public var anomalyZThreshold = 3.5
    /// Trailing days that form the baseline of each day.
    public var anomalyWindowDays = 7
    /// Full days of history needed before a day is scored at all.
    public var anomalyMinHistoryDays = 5
    /// A day is full, and may serve in a baseline, when its orders (all channels) reach this
    /// share of a typical day's (the upper quartile of the days with orders); partial days (a
    /// few late events) would make every normal day a spike.
    public var anomalyMinDayShare = 0.25
    /// A spike or drop must also move this share away from the baseline median, so a quiet
    /// series (MAD near 0) does not flag a difference of one order.
    public var anomalyMinRelativeChange = 0.3
    /// A daily reject rate must also move this much (absolute) above its baseline.
    public var rejectRateMinJump = 0.05
    /// A daily null rate must also move this much (absolute) above its baseline.
    public var nullRateMinJump = 0.2
    /// More data files than this in one partition raises the small-files alert (fix: `lake compact`).
    public var maxFilesPerPartition = 8

    public init() {}

    enum CodingKeys: String, CodingKey {
        case completenessMaxMissingRate = "completeness_max_missing_rate"
        case validityMaxInvalidRate = "validity_max_invalid_rate"
        case referentialMaxUnknownProductRate = "referential_max_unknown_product_rate"
        case uniquenessMaxRawDuplicateRate = "uniqueness_max_raw_duplicate_rate"
        case freshnessMaxP95Seconds = "freshness_max_p95_seconds"
        case minQualityScore = "min_quality_score"
        case anomalyZThreshold = "anomaly_z_threshold"
        case anomalyWindowDays = "anomaly_window_days"
        case anomalyMinHistoryDays = "anomaly_min_history_days"
        case anomalyMinDayShare = "anomaly_min_day_share"
        case anomalyMinRelativeChange = "anomaly_min_relative_change"
        case rejectRateMinJump = "reject_rate_min_jump"
        case nullRateMinJump = "null_rate_min_jump"
        case maxFilesPerPartition = "max_files_per_partition"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = QualityConfig()
        completenessMaxMissingRate = try c.decodeIfPresent(Double.self, forKey: .completenessMaxMissingRate) ?? d.completenessMaxMissingRate
        validityMaxInvalidRate = try c.decodeIfPresent(Double.self, forKey: .validityMaxInvalidRate) ?? d.validityMaxInvalidRate
        referentialMaxUnknownProductRate = try c.decodeIfPresent(Double.self, forKey: .referentialMaxUnknownProductRate) ?? d.referentialMaxUnknownProductRate
        uniquenessMaxRawDuplicateRate = try c.decodeIfPresent(Double.self, forKey: .uniquenessMaxRawDuplicateRate) ?? d.uniquenessMaxRawDuplicateRate
        freshnessMaxP95Seconds = try c.decodeIfPresent(Double.self, forKey: .freshnessMaxP95Seconds) ?? d.freshnessMaxP95Seconds
        minQualityScore = try c.decodeIfPresent(Double.self, forKey: .minQualityScore) ?? d.minQualityScore
        anomalyZThreshold = try c.decodeIfPresent(Double.self, forKey: .anomalyZThreshold) ?? d.anomalyZThreshold
        anomalyWindowDays = try c.decodeIfPresent(Int.self, forKey: .anomalyWindowDays) ?? d.anomalyWindowDays
        anomalyMinHistoryDays = try c.decodeIfPresent(Int.self, forKey: .anomalyMinHistoryDays) ?? d.anomalyMinHistoryDays
        anomalyMinDayShare = try c.decodeIfPresent(Double.self, forKey: .anomalyMinDayShare) ?? d.anomalyMinDayShare
        anomalyMinRelativeChange = try c.decodeIfPresent(Double.self, forKey: .anomalyMinRelativeChange) ?? d.anomalyMinRelativeChange
        rejectRateMinJump = try c.decodeIfPresent(Double.self, forKey: .rejectRateMinJump) ?? d.rejectRateMinJump
        nullRateMinJump = try c.decodeIfPresent(Double.self, forKey: .nullRateMinJump) ?? d.nullRateMinJump
        maxFilesPerPartition = try c.decodeIfPresent(Int.self, forKey: .maxFilesPerPartition) ?? d.maxFilesPerPartition
        guard anomalyWindowDays >= 2, anomalyMinHistoryDays >= 2, anomalyZThreshold > 0 else {
            throw QualityError.badConfig("anomaly_window_days and anomaly_min_history_days must be at least 2, anomaly_z_threshold above 0")
        }
        guard (0 ... 1).contains(anomalyMinDayShare) else {
            throw QualityError.badConfig("anomaly_min_day_share must be between 0 and 1 (a share of a typical day's orders), got \(anomalyMinDayShare)")
        }
    }

    /// Reads a config file; a missing file is an error (the caller decides whether to fall back to defaults).
    /// The lake-level configuration: `<lake>/alerts.json`, next to the manifest, so every
    /// command run on a lake (from any directory, by cron or by hand) uses the same thresholds.
    public static let lakeFileName = "alerts.json"

    /// The configuration a command evaluating quality or alerts uses: `explicit` (a --config
    /// FILE) when given, else the lake's `alerts.json` when present, else the built-in defaults.
    /// The same rule for every command, so `quality check`, `quality report`, `metrics`,
    /// `dashboard` and the checks after `ingest orders` (with or without --follow) agree.
    public static func resolve(explicit: String?, lake root: URL) throws -> QualityConfig {
        if let explicit { return try load(path: explicit) }
        let lakeFile = root.appendingPathComponent(lakeFileName).path
        return FileManager.default.fileExists(atPath: lakeFile) ? try load(path: lakeFile) : QualityConfig()
    }

    public static func load(path: String) throws -> QualityConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw QualityError.badConfig("cannot read \(path)") }
        do {
            return try JSONDecoder().decode(QualityConfig.self, from: data)
        } catch let e as QualityError {
            throw e
        } catch {
            throw QualityError.badConfig("\(path): \(error)")
        }
    }
}

public enum QualityError: Error, CustomStringConvertible, Equatable {
    case badConfig(String)

    public var description: String {
        switch self {
        case .badConfig(let why): return "alert config: \(why)"
        }
    }
}
