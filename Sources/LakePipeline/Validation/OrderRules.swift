import LakeFormat

/// The order stream's business rules, compiled once from the schema registry (raw_orders
/// source section: required fields, aliases, enums, ranges; curated schemas: output columns),
/// so the per-line checks are plain comparisons.
public struct OrderRules: Sendable {
    public let fieldMap: OrderFieldMap
    public let channels: [String]
    public let statuses: [String]
    let channelKeys: OrderFieldMap.KeySet
    let statusKeys: OrderFieldMap.KeySet
    public let quantityMin: Int64
    public let quantityMax: Int64
    public let priceMinCents: Int64
    public let priceMaxCents: Int64
    public let minItems: Int
    let requireState: Bool
    let requireCity: Bool
    public let rawSchema: Schema
    public let ordersSchema: Schema
    public let itemsSchema: Schema
    /// Fingerprints of the schema versions these rules came from (for lineage in the catalog).
    public let fingerprints: [String: String]

    /// decimal(18,2) holds at most 18 digits.
    static let maxDecimal18: Int64 = 999_999_999_999_999_999

    public init(registry: SchemaRegistry) throws(OrderRulesError) {
        let raw: TableSchema, orders: TableSchema, items: TableSchema
        do {
            raw = try registry.schema("raw_orders")
            orders = try registry.schema("orders")
            items = try registry.schema("order_items")
        } catch { throw .registry(error) }
        guard let source = raw.source else { throw .missingSource("raw_orders") }
        fieldMap = try OrderFieldMap(source: source)

        func field(_ path: String) throws(OrderRulesError) -> SourceField {
            let parts = path.split(separator: ".").map(String.init)
            var f = source.field(parts[0])
            if parts.count == 2 { f = f?.field(parts[1]) }
            guard let found = f else { throw .badConstraint("field '\(path)' must be declared") }
            return found
        }
        // Curated columns these feed are NOT NULL, so the source fields must be required.
        for p in ["order_id", "customer_id", "timestamp", "channel", "items", "shipping_address", "status",
                  "items.product_id", "items.quantity", "items.unit_price", "shipping_address.country"] {
            guard try field(p).required else { throw .badConstraint("'\(p)' feeds a NOT NULL curated column, so it must be \"required\": true") }
        }
        requireState = try field("shipping_address.state").required
        requireCity = try field("shipping_address.city").required
        guard let ch = try field("channel").constraints.enumValues else { throw .badConstraint("channel needs an \"enum\"") }
        guard let st = try field("status").constraints.enumValues else { throw .badConstraint("status needs an \"enum\"") }
        channels = ch
        statuses = st
        channelKeys = OrderFieldMap.KeySet(values: ch)
        statusKeys = OrderFieldMap.KeySet(values: st)
        func bound(_ text: String?, scale: Int, default d: Int64) throws(OrderRulesError) -> Int64 {
            guard let t = text else { return d }
            guard let v = DecimalText.parse(t, scale: scale) else { throw .badConstraint("bound \(t) does not fit scale \(scale)") }
            return v
        }
        let q = try field("items.quantity").constraints
        quantityMin = try bound(q.min, scale: 0, default: 1)
        quantityMax = min(try bound(q.max, scale: 0, default: Int64(Int32.max)), Int64(Int32.max))  // stored as int32
        let p = try field("items.unit_price").constraints
        priceMinCents = try bound(p.min, scale: 2, default: 0)
        priceMaxCents = min(try bound(p.max, scale: 2, default: Self.maxDecimal18), Self.maxDecimal18)
        minItems = try field("items").constraints.minItems ?? 1

        rawSchema = raw.lakeSchema
        ordersSchema = orders.lakeSchema
        itemsSchema = items.lakeSchema
        fingerprints = ["raw_orders": raw.fingerprint, "orders": orders.fingerprint, "order_items": items.fingerprint]
        try Self.check(rawSchema, RawColumn.self, table: "raw_orders")
        try Self.check(ordersSchema, OrdersColumn.self, table: "orders")
        try Self.check(itemsSchema, ItemsColumn.self, table: "order_items")
    }

    /// Every registered column must be one the validator produces, with the same type.
    static func check<C: ProducedColumn>(_ schema: Schema, _: C.Type, table: String) throws(OrderRulesError) {
        for f in schema.fields {
            guard let c = C(rawValue: f.name) else {
                throw .columnMismatch(table: table, problem: "column '\(f.name)' is registered but the pipeline does not produce it")
            }
            guard c.type == f.type else {
                throw .columnMismatch(table: table, problem: "column '\(f.name)' is registered as \(f.type) but produced as \(c.type)")
            }
        }
    }

    @inline(__always)
    func channelIndex(_ t: UnsafeRawBufferPointer, _ r: TextRef) -> Int { r.isPresent ? channelKeys.match(slice(t, r)) : -1 }

    @inline(__always)
    func statusIndex(_ t: UnsafeRawBufferPointer, _ r: TextRef) -> Int { r.isPresent ? statusKeys.match(slice(t, r)) : -1 }
}

protocol ProducedColumn: RawRepresentable where RawValue == String {
    var type: ColumnType { get }
}

enum RawColumn: String, ProducedColumn, CaseIterable {
    case batchID = "batch_id", sourceFile = "source_file", lineNumber = "line_number", byteOffset = "byte_offset"
    case ingestTime = "ingest_time", line, orderID = "order_id", eventTime = "event_time", eventDate = "event_date"
    case channel, rejectReason = "reject_reason", rejectDetail = "reject_detail"

    var type: ColumnType {
        switch self {
        case .lineNumber, .byteOffset: return .int64
        case .ingestTime, .eventTime: return .timestamp
        case .eventDate: return .date
        default: return .string
        }
    }
}

enum OrdersColumn: String, ProducedColumn, CaseIterable {
    case orderID = "order_id", customerID = "customer_id", eventTime = "event_time", eventDate = "event_date"
    case channel, status, country, state, city, itemCount = "item_count", orderTotal = "order_total", units

    var type: ColumnType {
        switch self {
        case .eventTime: return .timestamp
        case .eventDate: return .date
        case .itemCount, .units: return .int32
        case .orderTotal: return .decimal(precision: 18, scale: 2)
        default: return .string
        }
    }
}

enum ItemsColumn: String, ProducedColumn, CaseIterable {
    case orderID = "order_id", lineNumber = "line_number", productID = "product_id", quantity, unitPrice = "unit_price"
    case lineRevenue = "line_revenue", category, brand, listPrice = "list_price", eventTime = "event_time"
    case eventDate = "event_date", channel, status

    var type: ColumnType {
        switch self {
        case .lineNumber, .quantity: return .int32
        case .unitPrice, .lineRevenue, .listPrice: return .decimal(precision: 18, scale: 2)
        case .eventTime: return .timestamp
        case .eventDate: return .date
        default: return .string
        }
    }
}
