/// Which quality check a result is. Its text (`description`) is what `lake_quality_result`
/// stores, what reports and the API print and what an alert's kind names after "quality.",
/// so these strings never change; `init(parsing:)` reads them back.
public enum QualityCheckID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// "completeness": lines missing a required field.
    case completeness
    /// "completeness.field.<field>": lines missing that one field (informational).
    case fieldCompleteness(String)
    /// "validity": lines with a malformed, mistyped, out-of-range or out-of-enum value.
    case validity
    /// "referential_integrity": lines naming a product the catalog does not have.
    case referentialIntegrity
    /// "uniqueness.raw": lines repeating an accepted order_id.
    case rawUniqueness
    /// "uniqueness.curated": a batch's order ids appearing more than once in curated.orders.
    case curatedUniqueness
    /// "consistency.order_total": order_total against the sum of its items' line_revenue.
    case orderTotalConsistency
    /// "consistency.item_count": item_count against the order's order_items rows.
    case itemCountConsistency
    /// "consistency.orphan_items": order_items rows of an accepted order that curated.orders no
    /// longer holds (another engine deleted the order and left its items).
    case orphanItems
    /// "consistency.item_fields": order_items rows whose status, channel or event_time differ
    /// from their order's (another engine updated the order and not its items).
    case itemFieldsConsistency
    /// "completeness.curated_rows": one curated order per accepted raw line.
    case curatedRows
    /// "completeness.curated.state": orders without a state (informational: optional field).
    case curatedStateNulls
    /// "completeness.curated.city": orders without a city (informational: optional field).
    case curatedCityNulls
    /// "freshness.p95_seconds": event-to-commit lag.
    case freshnessP95
    /// A stored id this build does not know: a result a newer `lake` recorded in a shared lake.
    /// Kept, with its text, rather than refused: results are history to show, and one newer
    /// check must not make every older result unreadable. Never produced by this build's checks.
    case other(String)

    static let fieldPrefix = "completeness.field."

    /// The ids with a fixed text, by that text.
    private static let fixed: [String: QualityCheckID] = Dictionary(uniqueKeysWithValues: [
        QualityCheckID.completeness, .validity, .referentialIntegrity, .rawUniqueness, .curatedUniqueness, .orderTotalConsistency,
        .itemCountConsistency, .orphanItems, .itemFieldsConsistency, .curatedRows, .curatedStateNulls, .curatedCityNulls, .freshnessP95,
    ].map { ($0.description, $0) })

    public init(parsing text: String) {
        if let id = Self.fixed[text] {
            self = id
        } else if text.hasPrefix(Self.fieldPrefix), text.count > Self.fieldPrefix.count {
            self = .fieldCompleteness(String(text.dropFirst(Self.fieldPrefix.count)))
        } else {
            self = .other(text)
        }
    }

    public var description: String {
        switch self {
        case .completeness: return "completeness"
        case .fieldCompleteness(let field): return Self.fieldPrefix + field
        case .validity: return "validity"
        case .referentialIntegrity: return "referential_integrity"
        case .rawUniqueness: return "uniqueness.raw"
        case .curatedUniqueness: return "uniqueness.curated"
        case .orderTotalConsistency: return "consistency.order_total"
        case .itemCountConsistency: return "consistency.item_count"
        case .orphanItems: return "consistency.orphan_items"
        case .itemFieldsConsistency: return "consistency.item_fields"
        case .curatedRows: return "completeness.curated_rows"
        case .curatedStateNulls: return "completeness.curated.state"
        case .curatedCityNulls: return "completeness.curated.city"
        case .freshnessP95: return "freshness.p95_seconds"
        case .other(let text): return text
        }
    }

    /// Whether the check's `passed` counts in a batch's score. Per-field completeness and the
    /// optional-field figures are recorded for trends; the aggregate completeness check gates.
    /// An unknown (newer) check gates: its writer recorded it as a pass or a fail.
    public var isGated: Bool {
        switch self {
        case .fieldCompleteness, .curatedStateNulls, .curatedCityNulls: return false
        default: return true
        }
    }

    public static func < (a: QualityCheckID, b: QualityCheckID) -> Bool { a.description < b.description }
}

extension QualityCheckID: StoredAsText {}

/// A value stored and exchanged as its text: JSON encodes `description`, decoding parses it
/// back with `init(parsing:)` (which keeps text it does not know rather than failing).
public protocol StoredAsText: Codable, CustomStringConvertible {
    init(parsing text: String)
}

extension StoredAsText {
    public init(from decoder: Decoder) throws {
        self.init(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
