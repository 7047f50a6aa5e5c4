/// Why a record was quarantined. The raw value is what the raw tables store in
/// `reject_reason` and what reports group by, so it never changes once released.
public enum RejectReason: String, CaseIterable, Sendable, Comparable {
    case emptyLine = "empty_line"
    case malformedJSON = "malformed_json"
    case duplicateField = "duplicate_field"
    case invalidType = "invalid_type"
    case missingField = "missing_field"
    case invalidTimestamp = "invalid_timestamp"
    case invalidChannel = "invalid_channel"
    case invalidStatus = "invalid_status"
    case invalidQuantity = "invalid_quantity"
    case invalidPrice = "invalid_price"
    case unknownProduct = "unknown_product"
    case amountOverflow = "amount_overflow"
    /// Orders v2: currency is not an ISO 4217 code (three uppercase letters A-Z).
    case invalidCurrency = "invalid_currency"
    /// Orders v2: discount_amount is not an exact decimal, is negative, or exceeds the order total.
    case invalidDiscount = "invalid_discount"
    /// Orders v2: payment_method is not one of the registry's values.
    case invalidPaymentMethod = "invalid_payment_method"
    /// Same order_id as an order accepted earlier (in this batch or a committed one), same bytes.
    case duplicateOrder = "duplicate_order"
    /// Same order_id as an order accepted earlier in this batch, but different content: the
    /// first one stands, and this one is kept for a human to look at.
    case conflictingDuplicate = "conflicting_duplicate"
    /// A catalog product_id listed twice (the first entry is kept).
    case duplicateProduct = "duplicate_product"
    /// Inventory: a row whose primary key (product_id, warehouse_location, last_updated) an
    /// earlier row of the file, or a committed inventory, holds: the first stands.
    case duplicateKey = "duplicate_key"
    /// A CSV row with more or fewer fields than the header.
    case wrongFieldCount = "wrong_field_count"
    /// CSV: a field whose bytes are not UTF-8 (STRING columns hold UTF-8 only).
    case invalidEncoding = "invalid_encoding"

    public static func < (a: RejectReason, b: RejectReason) -> Bool { a.rawValue < b.rawValue }

    /// The data quality dimension a reject counts in. An exhaustive switch: a new reason does
    /// not compile until it is given one, so no reason is silently left out of every check.
    public var dimension: QualityDimension {
        switch self {
        case .emptyLine, .missingField:
            return .completeness
        case .malformedJSON, .duplicateField, .invalidType, .invalidTimestamp, .invalidChannel, .invalidStatus,
             .invalidQuantity, .invalidPrice, .amountOverflow, .invalidCurrency, .invalidDiscount, .invalidPaymentMethod,
             .wrongFieldCount, .invalidEncoding:
            return .validity
        case .unknownProduct:
            return .referentialIntegrity
        case .duplicateOrder, .conflictingDuplicate, .duplicateProduct, .duplicateKey:
            return .uniqueness
        }
    }

    /// How a run's rejects count in its summary, for every source kind alike: a duplicate (the
    /// uniqueness reasons) is counted under `duplicates`, every other reject under
    /// `quarantined`, so records = accepted + quarantined + duplicates. Inventory and catalog
    /// runs counted a duplicate in both (records 2, accepted 1, quarantined 1, duplicates 1).
    public static func runCounts<S: Sequence>(_ rejects: S) -> (quarantined: Int64, duplicates: Int64) where S.Element == (RejectReason, Int) {
        var quarantined: Int64 = 0, duplicates: Int64 = 0
        for (reason, n) in rejects {
            if reason.dimension == .uniqueness { duplicates += Int64(n) } else { quarantined += Int64(n) }
        }
        return (quarantined, duplicates)
    }

    /// The stored names (`reject_reason` values) of the reasons in one dimension.
    public static func storedNames(in dimension: QualityDimension) -> Set<String> {
        Set(allCases.filter { $0.dimension == dimension }.map(\.rawValue))
    }
}

/// The quality dimensions rejects are counted in (each has its rate check: `QualityChecks.rateChecks`).
public enum QualityDimension: String, CaseIterable, Sendable {
    case completeness
    case validity
    case referentialIntegrity = "referential_integrity"
    case uniqueness
}

public enum OrderRulesError: Error, CustomStringConvertible, Equatable {
    case unsupportedField(String)
    case badConversion(String, String)
    case ambiguousAlias(String)
    case missingSource(String)
    case badConstraint(String)
    case columnMismatch(table: String, problem: String)
    case registry(RegistryError)

    public var description: String {
        switch self {
        case .unsupportedField(let f): return "schema registry raw_orders: field '\(f)' is not one the order parser knows"
        case .badConversion(let f, let a): return "schema registry raw_orders: alias '\(a)' of '\(f)' has a conversion that does not apply to its type"
        case .ambiguousAlias(let path): return "schema registry raw_orders: a name or alias is used twice under '\(path.isEmpty ? "(top level)" : path)'"
        case .missingSource(let t): return "schema registry \(t): no \"source\" section"
        case .badConstraint(let why): return "schema registry raw_orders: \(why)"
        case .columnMismatch(let t, let p): return "schema registry \(t): \(p)"
        case .registry(let e): return e.description
        }
    }
}
