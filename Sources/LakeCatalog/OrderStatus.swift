/// An order's status (the `status` column of curated.orders and curated.order_items, an enum
/// in the orders registry). Only a confirmed order is revenue: the reports, the anomaly series
/// and the quality figures the ingest stores all apply that one rule through this type.
public enum OrderStatus: String, CaseIterable, Sendable {
    case confirmed
    case pending
    case cancelled
}
