// The vocabulary of alerts, owned here because `lake_alert` stores it: what fired (a failed
// quality check, a low batch score, an anomaly, too many small files) and how bad it is.

/// What an anomaly is about. The raw value is the name alerts (`anomaly.<kind>`), reports and
/// the API show.
public enum AnomalyKind: String, Sendable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    case ordersSpike = "orders_spike"
    case ordersDrop = "orders_drop"
    case revenueSpike = "revenue_spike"
    case revenueDrop = "revenue_drop"
    case rejectRateJump = "reject_rate_jump"
    case nullRateJump = "null_rate_jump"
    case schemaDrift = "schema_drift"

    public var description: String { rawValue }
    public static func < (a: AnomalyKind, b: AnomalyKind) -> Bool { a.rawValue < b.rawValue }
    /// A rise in the share of bad lines or empty fields (what the dashboard marks as a reject day).
    public var isRateJump: Bool { self == .rejectRateJump || self == .nullRateJump }
    /// A day's orders or revenue moved (what the dashboard marks on its daily charts).
    public var isVolumeMove: Bool { [.ordersSpike, .ordersDrop, .revenueSpike, .revenueDrop].contains(self) }
}

/// What an alert is about. Its text (`description`) is what `lake_alert.kind`, the alerts
/// file, the webhook body and `lake quality check` show: "quality.<check>", "quality.score",
/// "anomaly.<kind>", "health.small_files"; `init(parsing:)` reads it back.
public enum AlertKind: Hashable, Sendable, CustomStringConvertible {
    /// A gated quality check failed for a batch.
    case failedCheck(QualityCheckID)
    /// A batch's quality score fell below `min_quality_score`.
    case lowQualityScore
    /// The anomaly detector flagged a day.
    case anomaly(AnomalyKind)
    /// A partition holds more data files than `max_files_per_partition`.
    case smallFiles
    /// A stored kind this build does not know (a newer `lake`'s alert), kept with its text for
    /// the same reason as `QualityCheckID.other`.
    case other(String)

    public init(parsing text: String) {
        if text == "quality.score" {
            self = .lowQualityScore
        } else if text == "health.small_files" {
            self = .smallFiles
        } else if text.hasPrefix("anomaly."), let kind = AnomalyKind(rawValue: String(text.dropFirst("anomaly.".count))) {
            self = .anomaly(kind)
        } else if text.hasPrefix("quality."), text.count > "quality.".count {
            self = .failedCheck(QualityCheckID(parsing: String(text.dropFirst("quality.".count))))
        } else {
            self = .other(text)
        }
    }

    public var description: String {
        switch self {
        case .failedCheck(let check): return "quality.\(check)"
        case .lowQualityScore: return "quality.score"
        case .anomaly(let kind): return "anomaly.\(kind)"
        case .smallFiles: return "health.small_files"
        case .other(let text): return text
        }
    }
}

public enum AlertSeverity: String, Sendable, Hashable, Codable, CustomStringConvertible {
    case error
    case warning

    public var description: String { rawValue }
}

extension AlertKind: StoredAsText {}
