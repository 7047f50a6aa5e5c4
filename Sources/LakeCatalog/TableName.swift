/// A table's place in the lake: its layer (the DuckLake schema: raw or curated) and its name.
/// The lake's own tables are constants, so a misspelt table is a compile error, not an empty
/// result; text from a user goes through `init(parsing:)`, the one place that reads "layer.name".
public struct TableName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var schema: String
    public var name: String

    public init(schema: String, name: String) {
        self.schema = schema
        self.name = name
    }

    /// "raw.orders" or "curated.orders"; a bare name ("orders") means the curated layer, where
    /// the tables people query live.
    public init(parsing text: String) {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        self = parts.count == 2 ? TableName(schema: parts[0], name: parts[1]) : TableName(schema: "curated", name: text)
    }

    public var description: String { schema + "." + name }

    public static func < (a: TableName, b: TableName) -> Bool { (a.schema, a.name) < (b.schema, b.name) }

    public static let rawOrders = TableName(schema: "raw", name: "orders")
    public static let curatedOrders = TableName(schema: "curated", name: "orders")
    public static let curatedOrderItems = TableName(schema: "curated", name: "order_items")
    public static let curatedProducts = TableName(schema: "curated", name: "products")
    public static let curatedInventory = TableName(schema: "curated", name: "inventory")
}

/// What kind of source an ingest read. Stored as its raw value in `lake_ingest_run.kind` and
/// `lake_source_ledger.kind`; the exactly-once ledger is keyed by (kind, content hash).
public enum SourceKind: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    /// Orders as JSON Lines (batch files and `--follow` streams).
    case orders
    /// The product catalog JSON.
    case catalog
    /// Inventory updates CSV.
    case inventory

    public var description: String { rawValue }
}

extension TableInfo {
    public var tableName: TableName { TableName(schema: schemaName, name: name) }
}
