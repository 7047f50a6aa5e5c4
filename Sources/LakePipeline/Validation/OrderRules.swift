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
    /// The registry version of each output table ("raw_orders", "orders", "order_items") the
    /// validator emits rows for: the lake's version of that table, or the latest for a new one.
    public let versions: [String: Int]

    // Orders v2 (currency, discount_amount, payment_method). Which v2 source keys the output
    // orders schema has columns for; a line carrying any other v2 key needs a migration first.
    let supportedKeys: UInt8
    /// Versioned key bit -> the first registered orders version with its column.
    let keyVersions: [UInt8: Int]
    /// What a line without currency gets (the column's registry default), as bytes.
    let defaultCurrency: [UInt8]
    /// What a line without discount_amount gets (the column's registry default), in cents.
    let defaultDiscountCents: Int64
    public let discountMinCents: Int64
    public let paymentMethods: [String]
    let paymentKeys: OrderFieldMap.KeySet

    /// decimal(18,2) holds at most 18 digits.
    static let maxDecimal18: Int64 = 999_999_999_999_999_999

    /// `versions` picks the registry version of each output table (the lake's, see
    /// `LakeStore.orderRules`); a table not named gets the latest. The source fields always come
    /// from the latest raw_orders version: the parser knows every field any version of the
    /// stream may carry, so a v2 line is recognised (and refused) even by a lake still at v1.
    public init(registry: SchemaRegistry, versions: [String: Int] = [:]) throws(OrderRulesError) {
        let raw: TableSchema, orders: TableSchema, items: TableSchema, sourceSchema: TableSchema
        do {
            raw = try registry.schema(RegistryTable.rawOrders, version: versions[RegistryTable.rawOrders])
            orders = try registry.schema(RegistryTable.orders, version: versions[RegistryTable.orders])
            items = try registry.schema(RegistryTable.orderItems, version: versions[RegistryTable.orderItems])
            sourceSchema = try registry.schema(RegistryTable.rawOrders)
        } catch { throw .registry(error) }
        self.versions = [RegistryTable.rawOrders: raw.version, RegistryTable.orders: orders.version, RegistryTable.orderItems: items.version]
        guard let source = sourceSchema.source else { throw .missingSource(RegistryTable.rawOrders) }
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

        // Orders v2 fields: declared (optional) in the source, stored when the output orders
        // schema has their columns.
        var supported: UInt8 = 0
        var keyVersions: [UInt8: Int] = [:]
        let ordersVersions = registry.tables[RegistryTable.orders] ?? []
        for (bit, key, column) in VersionedKey.all {
            guard let f = source.field(key) else { continue }
            if f.required { throw .badConstraint("'\(key)' is absent from older order streams, so it must be \"required\": false") }
            guard let first = ordersVersions.first(where: { $0.column(column) != nil }) else {
                throw .badConstraint("source field '\(key)' feeds orders.\(column), which no registered orders version has")
            }
            keyVersions[bit] = first.version
            if orders.column(column) != nil { supported |= bit }
        }
        supportedKeys = supported
        self.keyVersions = keyVersions
        let currencyColumn = orders.column("currency"), discountColumn = orders.column("discount_amount")
        if let c = currencyColumn, !c.nullable, c.defaultValue == nil {
            throw .badConstraint("orders.currency is NOT NULL, so it needs a \"default\" for lines without currency")
        }
        defaultCurrency = Array((currencyColumn?.defaultValue ?? "").utf8)
        if let c = discountColumn, !c.nullable, c.defaultValue == nil {
            throw .badConstraint("orders.discount_amount is NOT NULL, so it needs a \"default\" for lines without discount_amount")
        }
        defaultDiscountCents = try bound(discountColumn?.defaultValue, scale: 2, default: 0)
        discountMinCents = try bound(source.field("discount_amount")?.constraints.min ?? discountColumn?.constraints.min, scale: 2, default: 0)
        let methods = source.field("payment_method")?.constraints.enumValues ?? orders.column("payment_method")?.constraints.enumValues ?? []
        if orders.column("payment_method") != nil && methods.isEmpty { throw .badConstraint("payment_method needs an \"enum\"") }
        paymentMethods = methods
        paymentKeys = OrderFieldMap.KeySet(values: methods)

        rawSchema = raw.lakeSchema
        ordersSchema = orders.lakeSchema
        itemsSchema = items.lakeSchema
        fingerprints = [RegistryTable.rawOrders: raw.fingerprint, RegistryTable.orders: orders.fingerprint, RegistryTable.orderItems: items.fingerprint]
        try Self.check(rawSchema, RawColumn.self, table: RegistryTable.rawOrders)
        try Self.check(ordersSchema, OrdersColumn.self, table: RegistryTable.orders)
        try Self.check(itemsSchema, ItemsColumn.self, table: RegistryTable.orderItems)
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
    func paymentIndex(_ t: UnsafeRawBufferPointer, _ r: TextRef) -> Int { r.isPresent ? paymentKeys.match(slice(t, r)) : -1 }

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
    // v2: city renamed (same id 9, same values), and three new columns.
    case shippingCity = "shipping_city", currency, discountAmount = "discount_amount", paymentMethod = "payment_method"

    var type: ColumnType {
        switch self {
        case .eventTime: return .timestamp
        case .eventDate: return .date
        case .itemCount, .units: return .int32
        case .orderTotal, .discountAmount: return .decimal(precision: 18, scale: 2)
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
