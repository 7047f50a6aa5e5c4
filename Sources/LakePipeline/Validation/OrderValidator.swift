import LakeFormat

/// Order ids already committed by earlier batches. The ingest step implements this over
/// whatever it loads from the lake (e.g. a `CommittedOrderIDs` filled from curated orders).
public protocol OrderIDLookup {
    func containsOrderID(_ id: UnsafeRawBufferPointer) -> Bool
}

/// A set of order ids held as exact bytes (see `ByteKeyTable`: no hash-only keys, so no
/// false "duplicate" can ever drop a real order).
public struct CommittedOrderIDs: OrderIDLookup, Sendable {
    private var table: ByteKeyTable

    public init(capacity: Int = 1024) { table = ByteKeyTable(capacity: capacity) }

    public init<S: Sequence>(_ ids: S) where S.Element == String {
        table = ByteKeyTable(capacity: ids.underestimatedCount)
        for id in ids { table.insertIfAbsent(id, value: 0) }
    }

    public var count: Int { table.count }
    public mutating func insert(_ id: String) { table.insertIfAbsent(id, value: 0) }
    public mutating func insert(_ id: UnsafeRawBufferPointer) { table.insertIfAbsent(id, value: 0) }
    public func containsOrderID(_ id: UnsafeRawBufferPointer) -> Bool { table.contains(id) }
    public func contains(_ id: String) -> Bool { table.value(for: id) != nil }
    public func forEach(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows { try table.forEachKey(body) }
}

/// The first line that carries a field the output schema has no column for yet (a v2 line
/// validated for a lake whose curated.orders is still v1). Ingest refuses the whole source on
/// it (`IngestError.schemaBehind`): storing the line would silently drop its v2 values.
public struct SchemaBehindLine: Sendable, Equatable {
    public var lineNumber: Int
    /// The source key, e.g. "currency".
    public var field: String
    /// The orders registry version the output uses, and the first one with the field's column.
    public var outputVersion: Int
    public var neededVersion: Int
}

/// What one drain of the validator produced.
public struct ValidatedOrders: Sendable {
    /// Every line as received (schema raw_orders), accepted or not.
    public var raw: RecordBatch
    /// Accepted orders (schema orders) and their items (schema order_items).
    public var orders: RecordBatch
    public var items: RecordBatch
    public var rejects: [RejectReason: Int]
    /// Unknown field names seen (schema drift), with how many lines carried each.
    public var unknownFields: [String: Int]
    /// Accepted lines whose event time came through an alias conversion (mobile `ts`).
    public var aliasNormalized: Int
    /// Set by a validator in deferred mode: the accepted orders whose first-occurrence check
    /// is still to be made, in line order (`settleClaims` makes it).
    var claims: DeferredClaims? = nil
    /// The ids of lines rejected as `duplicate_order` of an order committed by an earlier
    /// batch, in line order: the commit checks them against foreign deletes since its base.
    var committedDuplicates = OrderIDRun()

    public var rejectedCount: Int { rejects.values.reduce(0, +) }
}

/// The batch's first-occurrence rule, in one place for the serial validator and for the
/// settling of chunks validated in parallel: the first accepted occurrence of an order id
/// claims it; a later one is a `duplicate_order` when its normalised content matches,
/// `conflicting_duplicate` when it differs. Ids are kept as exact bytes (`ByteKeyTable`
/// compares them byte for byte after a fingerprint match), so a fingerprint collision can never
/// turn a new order into a "duplicate".
struct FirstOccurrences {
    private var seen: ByteKeyTable
    private var contentKeys: [UInt64] = []

    init(capacity: Int, forcedFingerprint: UInt64? = nil) {
        seen = ByteKeyTable(capacity: capacity, forcedHash: forcedFingerprint)
    }

    var count: Int { contentKeys.count }

    /// Sized for about `orders` claims (from the input's size), so the set does not rehash
    /// and copy itself ~9 times as a million-order file fills it.
    mutating func reserve(orders: Int) {
        seen.reserve(capacity: orders, keyBytes: 16)
        contentKeys.reserveCapacity(orders)
    }

    /// Claims `id` for this line, or says why the line is a duplicate of an earlier one.
    /// `hash` is `ByteKeyTable.hash(id)`, when the caller has it already.
    @inline(__always)
    mutating func claim(_ id: UnsafeRawBufferPointer, hash: UInt64? = nil, content: UInt64) -> (RejectReason, String)? {
        if let first = seen.insertIfAbsent(id, hash: hash ?? ByteKeyTable.hash(id), value: Int32(contentKeys.count)) {
            let text = String(decoding: id, as: UTF8.self)
            if contentKeys[Int(first)] == content {
                return (.duplicateOrder, "order_id \(text) repeats an order accepted earlier in this batch")
            }
            return (.conflictingDuplicate, "order_id \(text) was accepted earlier in this batch with different content; the first stands")
        }
        contentKeys.append(content)
        return nil
    }

    /// Starts loading the set's slot for an id with `hash`, to be claimed a few ids later.
    @inline(__always)
    func prefetch(hash: UInt64) { seen.prefetch(hash: hash) }

    /// Moves every claimed id, in claim (line) order, to the end of `run` and empties the set:
    /// the id bytes are handed over, not copied, and the table around them is released first.
    mutating func takeIDs(into run: inout OrderIDRun) {
        contentKeys = []
        let keys = seen.takeKeys()
        run.append(keys: keys.bytes, offsets: keys.offsets)
    }
}

/// Orders a deferred-mode validator accepted, whose first-occurrence check waits for the
/// chunks before them (see `OrderValidator.init(deferDuplicates:)`). The k-th claim is the k-th
/// row of the drain's curated orders, whose items are the next `itemCounts[k]` item rows.
struct DeferredClaims: Sendable {
    /// One accepted order; its id is the drain's curated order_id of the same row.
    struct Claim {
        /// `ByteKeyTable.hash` of the id, computed on the validating thread: settling, the serial
        /// part, then knows every slot it will probe and loads them ahead (`FirstOccurrences.prefetch`).
        var hash: UInt64
        var content: UInt64
        var rawRow: Int32
        var itemCount: Int32
        var fromAlias: Bool
    }

    var rows: [Claim] = []

    var count: Int { rows.count }
}

extension ValidatedOrders {
    /// Applies the first-occurrence rule to the deferred claims, in line order, against the ids
    /// claimed by every line before this drain (`firsts`): a claim that loses becomes the same
    /// reject a serial run gives that line (reason, detail with the source's line number), its
    /// order and item rows leave the curated batches, and the counts follow.
    mutating func settleClaims(_ firsts: inout FirstOccurrences, sourceFile: String) {
        guard let c = claims else { return }
        claims = nil
        guard case .int64(let lineNumbers)? = raw.column("line_number")?.data else { preconditionFailure("raw rows carry line_number") }
        guard case .string(let ids)? = orders.column("order_id")?.data, ids.count == c.count else {
            preconditionFailure("a deferred claim is the curated order of the same row")
        }
        var lost: [(row: Int, reason: RejectReason, detail: String)] = []
        var lostClaims: [Int] = []
        // The batch's id set outgrows the caches at a few hundred thousand ids, and each
        // insert's slot is a cache miss: loading the slot of the claim `lookahead` places on
        // while inserting this one overlaps the misses (this loop was 3.6 % of an ingest's CPU,
        // 77 % of it waiting on the slot).
        let lookahead = 8
        ids.bytes.withUnsafeBytes { bytes in
            for k in 0 ..< c.count {
                if k + lookahead < c.count { firsts.prefetch(hash: c.rows[k + lookahead].hash) }
                let claim = c.rows[k]
                let id = UnsafeRawBufferPointer(rebasing: bytes[Int(ids.offsets[k]) ..< Int(ids.offsets[k + 1])])
                if let (reason, detail) = firsts.claim(id, hash: claim.hash, content: claim.content) {
                    let row = Int(claim.rawRow)
                    lost.append((row, reason, "\(sourceFile) line \(lineNumbers[row]): \(detail)"))
                    rejects[reason, default: 0] += 1
                    if claim.fromAlias { aliasNormalized -= 1 }
                    lostClaims.append(k)
                }
            }
        }
        guard !lost.isEmpty else { return }
        // A chunk loses a few claims out of tens of thousands: the rows are taken out a run of
        // kept rows at a time (`removing`), not gathered row by row.
        var lostItems: [Int] = []
        var item = 0, next = 0
        for i in 0 ..< c.count {
            let n = Int(c.rows[i].itemCount)
            if next < lostClaims.count && lostClaims[next] == i {
                lostItems.append(contentsOf: item ..< item + n)
                next += 1
            }
            item += n
        }
        orders = orders.removing(rows: lostClaims)
        items = items.removing(rows: lostItems)
        for (name, value) in [("reject_reason", { (l: (row: Int, reason: RejectReason, detail: String)) in l.reason.rawValue }),
                              ("reject_detail", { $0.detail })] {
            guard let i = raw.schema.index(of: name) else { continue }
            raw.columns[i] = Self.overwrite(raw.columns[i], rows: lost.map(\.row), with: lost.map(value))
        }
    }

    /// `column` with the values at `rows` (ascending) replaced by `values`, made non-null.
    private static func overwrite(_ column: Column, rows: [Int], with values: [String]) -> Column {
        guard case .string(let old) = column.data else { preconditionFailure("reject columns are strings") }
        var out = StringColumn()
        out.reserve(count: old.count, bytes: old.bytes.count + values.reduce(0) { $0 + $1.utf8.count })
        var validity = column.validity ?? [Bool](repeating: true, count: old.count)
        var next = 0
        old.bytes.withUnsafeBytes { b in
            for r in 0 ..< old.count {
                if next < rows.count && rows[next] == r {
                    out.append(values[next])
                    validity[r] = true
                    next += 1
                } else {
                    out.appendBytes(UnsafeRawBufferPointer(rebasing: b[Int(old.offsets[r]) ..< Int(old.offsets[r + 1])]))
                }
            }
        }
        return Column(.string(out), validity: validityOrNil(validity))
    }
}

/// Turns order lines into columnar batches: raw (everything), curated orders and items
/// (accepted only), counts by reject reason. A whole order is quarantined on its first
/// problem; nothing accepted is dropped and every rejected line keeps its reason and detail.
///
/// Duplicates: the first *accepted* occurrence of an order_id wins (a rejected line does not
/// claim its id, so a corrected resend is accepted). Later lines with the id are rejected as
/// `duplicate_order` when their normalised content matches, `conflicting_duplicate` when it
/// differs. Ids in `committed` (earlier batches) are rejected as `duplicate_order`.
public struct OrderValidator {
    public let rules: OrderRules
    public let catalog: ProductCatalog
    public let batchID: String
    public let sourceFile: String
    public let ingestTimeMicros: Int64
    /// `committed`'s probe as a closure: calling through the stored existential copied the
    /// whole lookup (its runs, cache and sets: retains and releases) for every order.
    private let isCommitted: ((UnsafeRawBufferPointer) -> Bool)?
    private let ingestDate: Int32
    /// The batch's constant raw columns, and the dictionaries of channel (the enum plus
    /// "unknown", raw's channel of a line without a valid one) and status: rows carry only codes.
    private let constants: RawConstants
    private let statusValues: StringColumn
    private var parser: OrderLineParser
    /// The batch's claimed ids, across drains (serial mode).
    private var firsts: FirstOccurrences
    /// Deferred mode: accepted orders' claims wait for `settleClaims` (a chunk validated in
    /// parallel cannot know the ids claimed by the chunks before it).
    private let deferDuplicates: Bool
    private var claims = DeferredClaims()
    /// Ids rejected as committed duplicates since the last drain (empty, unallocated, without any).
    private var committedDuplicates = OrderIDRun()
    /// Catalog rows of the current order's items, found by check() and reused by the builder.
    private var itemRows: [Int32] = []

    private var raw: RawBuilder
    private var cur: CuratedBuilder
    private var rejects: [RejectReason: Int] = [:]
    private var unknownFields: [String: Int] = [:]
    private var aliasNormalized = 0
    /// Set on the first line carrying a field the output orders schema cannot store; the
    /// caller stops and refuses the source (see `SchemaBehindLine`).
    public private(set) var schemaBehind: SchemaBehindLine?

    /// `expectedLines` sizes the column builders up front (a drain's worth of lines is ideal):
    /// growing a 100 MB line column by doubling copies it twice and faults in twice the memory.
    public init(rules: OrderRules, catalog: ProductCatalog, batchID: String, sourceFile: String,
                ingestTimeMicros: Int64, committed: (any OrderIDLookup)? = nil, expectedLines: Int = 4096,
                deferDuplicates: Bool = false) {
        self.init(rules: rules, catalog: catalog, columns: BatchColumns(rules: rules, batchID: batchID, sourceFile: sourceFile),
                  ingestTimeMicros: ingestTimeMicros, committed: committed, expectedLines: expectedLines, deferDuplicates: deferDuplicates)
    }

    /// The dictionaries every row of a batch's validators codes into: the batch's id and source
    /// file, the channels and the statuses. Made once a batch and handed to each of its
    /// validators, so their drains share one storage: a row group made of pieces of several
    /// validators (the chunks of one partition) then concatenates the codes. With a dictionary
    /// each, the writer read every row's string and hashed it again: 5.3 M values of a 1 M-order
    /// ingest (an item's channel and status, an order's, raw's batch id and source file).
    struct BatchColumns {
        let batchID: String, sourceFile: String
        let constants: RawConstants
        let statusValues: StringColumn

        init(rules: OrderRules, batchID: String, sourceFile: String) {
            (self.batchID, self.sourceFile) = (batchID, sourceFile)
            var channels = StringColumn()
            for c in rules.channels { channels.append(c) }
            channels.append(OrderValidator.unknownChannel)
            constants = RawConstants(batchID: batchID, sourceFile: sourceFile, channels: channels)
            var statuses = StringColumn()
            for v in rules.statuses { statuses.append(v) }
            statusValues = statuses
        }
    }

    init(rules: OrderRules, catalog: ProductCatalog, columns: BatchColumns,
         ingestTimeMicros: Int64, committed: (any OrderIDLookup)?, expectedLines: Int, deferDuplicates: Bool) {
        self.rules = rules
        self.catalog = catalog
        self.batchID = columns.batchID
        self.sourceFile = columns.sourceFile
        self.ingestTimeMicros = ingestTimeMicros
        isCommitted = committed.map { lookup in { lookup.containsOrderID($0) } }
        ingestDate = Timestamps.day(ofMicros: ingestTimeMicros)
        constants = columns.constants
        statusValues = columns.statusValues
        parser = OrderLineParser(map: rules.fieldMap)
        raw = RawBuilder(rows: expectedLines, lineBytes: expectedLines * 400)
        firsts = FirstOccurrences(capacity: deferDuplicates ? 0 : expectedLines)
        self.deferDuplicates = deferDuplicates
        cur = CuratedBuilder(orders: expectedLines, items: expectedLines * 5 / 2)
    }

    /// Raw rows buffered since the last drain (drain every few hundred thousand lines to
    /// bound memory).
    public var pendingRows: Int { raw.count }

    /// Bytes of line text buffered since the last drain; drain before 1 GiB (string columns
    /// use Int32 offsets).
    public var pendingBytes: Int { raw.line.count }

    public mutating func add(_ line: Line) { add(line.bytes, lineNumber: line.number, byteOffset: line.offset) }

    public mutating func add(_ bytes: UnsafeRawBufferPointer, lineNumber: Int, byteOffset: Int64) {
        var failure: (RejectReason, String)?
        do throws(OrderLineError) {
            try parser.parseInPlace(bytes)
        } catch {
            failure = (error.reason, error.message)
        }
        var order = ParsedOrder()
        parser.exchangeOrder(&order)
        defer { parser.exchangeOrder(&order) }
        if order.versionedKeys & ~rules.supportedKeys != 0 && schemaBehind == nil { noteBehind(order, lineNumber: lineNumber) }
        order.withText(line: bytes) { t in
            // Keys read before a syntax error are not evidence of a new source field: a broken
            // line's fragment ('{"junk": 5, "oops') raised a schema-drift alert for "junk".
            if !order.unknownFields.isEmpty && failure?.0 != .malformedJSON { noteUnknown(order, t) }
            let channel = rules.channelIndex(t, order.channel)
            if failure == nil { failure = check(order, t, channel: channel) }
            if let (reason, detail) = failure {
                rejects[reason, default: 0] += 1
                raw.append(line: bytes, number: lineNumber, offset: byteOffset,
                           t: t, orderID: order.orderID, eventTime: order.eventTimeMicros,
                           eventDate: order.eventTimeMicros.map(Timestamps.day(ofMicros:)) ?? ingestDate,
                           channel: Int32(channel >= 0 ? channel : rules.channels.count),
                           reject: (reason, "\(sourceFile) line \(lineNumber): \(detail)"))
                return
            }
            let eventTime = order.eventTimeMicros!  // check() guarantees presence
            let eventDate = Timestamps.day(ofMicros: eventTime)
            // Accepted values equal their enum member byte for byte: append them from the line.
            cur.append(order, t, catalog: catalog, rows: itemRows, eventTime: eventTime, eventDate: eventDate,
                       channel: Int32(channel), status: Int32(rules.statusIndex(t, order.status)), rules: rules)
            raw.append(line: bytes, number: lineNumber, offset: byteOffset,
                       t: t, orderID: order.orderID, eventTime: eventTime, eventDate: eventDate,
                       channel: Int32(channel), reject: nil)
            if order.eventTimeFromAlias { aliasNormalized += 1 }
        }
    }

    /// A field's text for a reject detail ("" when absent).
    static func text(_ t: UnsafeRawBufferPointer, _ r: TextRef) -> String {
        r.isPresent ? String(decoding: slice(t, r), as: UTF8.self) : ""
    }

    /// ISO 4217's form: exactly three ASCII uppercase letters.
    @inline(__always)
    static func isCurrencyCode(_ c: UnsafeRawBufferPointer) -> Bool {
        c.count == 3 && c.allSatisfy { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
    }

    /// raw.orders' channel of a line without a valid one (its partition is channel=unknown).
    static let unknownChannel = "unknown"

    /// The first rule the order breaks, in a fixed order (required fields, enums, items,
    /// products, amounts, duplicates), or nil when it is accepted; accepted ids are recorded.
    @inline(__always)
    private mutating func check(_ o: ParsedOrder, _ t: UnsafeRawBufferPointer, channel: Int) -> (RejectReason, String)? {
        func missing(_ r: TextRef, _ name: @autoclosure () -> String) -> (RejectReason, String)? {
            if !r.isPresent { return (.missingField, "\(name()) is missing") }
            if r.count == 0 { return (.missingField, "\(name()) is empty") }
            return nil
        }
        if let m = missing(o.orderID, "order_id") { return m }
        if let m = missing(o.customerID, "customer_id") { return m }
        if o.eventTimeMicros == nil { return (.missingField, "timestamp (or its alias ts) is missing") }
        if let m = missing(o.channel, "channel") { return m }
        if let m = missing(o.status, "status") { return m }
        if !o.hasItems { return (.missingField, "items is missing") }
        if !o.hasAddress { return (.missingField, "shipping_address is missing") }
        if let m = missing(o.country, "shipping_address.country") { return m }
        if rules.requireState, let m = missing(o.state, "shipping_address.state") { return m }
        if rules.requireCity, let m = missing(o.city, "shipping_address.city") { return m }
        if channel < 0 {
            return (.invalidChannel, "channel \"\(Self.text(t, o.channel))\" is not one of \(rules.channels.joined(separator: ", "))")
        }
        let status = rules.statusIndex(t, o.status)
        if status < 0 {
            return (.invalidStatus, "status \"\(Self.text(t, o.status))\" is not one of \(rules.statuses.joined(separator: ", "))")
        }
        if o.items.count < rules.minItems { return (.missingField, "items has \(o.items.count) entries, at least \(rules.minItems) required") }
        var total: Int64 = 0
        // curated.orders.units is INT32: a sum past it was stored clamped, an order row that
        // disagreed with its items with every check passing.
        var units: Int64 = 0
        itemRows.removeAll(keepingCapacity: true)
        var content = UInt64(bitPattern: o.eventTimeMicros!) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(channel << 8 | status)
        // The content key tells a resent order from a conflicting one within the batch (kept
        // in memory only): everything the curated row keeps of the order (an item's product as
        // its catalog row, which names its id exactly; its quantity and unit price, not only
        // their product; the address), so a resend that moved the address or split the same
        // revenue otherwise is a conflict, not a repeat.
        content ^= ByteKeyTable.hash(slice(t, o.customerID))
        content = (content ^ Self.textKey(t, o.country)) &* 0x100_0000_01b3
        content = (content ^ Self.textKey(t, o.state)) &* 0x100_0000_01b3
        content = (content ^ Self.textKey(t, o.city)) &* 0x100_0000_01b3
        for (i, item) in o.items.enumerated() {
            if let m = missing(item.productID, "items[\(i)].product_id") { return m }
            guard let q = item.quantity else { return (.missingField, "items[\(i)].quantity is missing") }
            guard let price = item.unitPriceCents else { return (.missingField, "items[\(i)].unit_price is missing") }
            if q < rules.quantityMin || q > rules.quantityMax {
                return (.invalidQuantity, "items[\(i)].quantity \(q) is outside \(rules.quantityMin)...\(rules.quantityMax)")
            }
            if price < rules.priceMinCents {
                return (.invalidPrice, "items[\(i)].unit_price \(DecimalText.format(price, scale: 2)) is below the minimum \(DecimalText.format(rules.priceMinCents, scale: 2))")
            }
            if price > rules.priceMaxCents {
                return (.invalidPrice, "items[\(i)].unit_price \(DecimalText.format(price, scale: 2)) is above the maximum \(DecimalText.format(rules.priceMaxCents, scale: 2))")
            }
            let pid = UnsafeRawBufferPointer(rebasing: t[Int(item.productID.start) ..< Int(item.productID.start + item.productID.count)])
            guard let row = catalog.row(of: pid) else {
                return (.unknownProduct, "items[\(i)].product_id \(Self.text(t, item.productID)) is not in the product catalog")
            }
            let (revenue, o1) = q.multipliedReportingOverflow(by: price)
            let (sum, o2) = total.addingReportingOverflow(revenue)
            if o1 || o2 || sum > OrderRules.maxDecimal18 { return (.amountOverflow, "order total exceeds decimal(18,2)") }
            total = sum
            units += q
            if units > Int64(Int32.max) { return (.amountOverflow, "order units (the sum of items[].quantity) exceed \(Int32.max)") }
            itemRows.append(Int32(row))
            content = ((content ^ UInt64(row)) &* 0x100_0000_01b3 ^ UInt64(bitPattern: q)) &* 0x100_0000_01b3 ^ UInt64(bitPattern: price)
        }
        // Orders v2 fields (only reached for a v2 output: a v2 line for v1 output stops the ingest).
        if o.currency.isPresent {
            let c = slice(t, o.currency)
            if !Self.isCurrencyCode(c) {
                return (.invalidCurrency, "currency \"\(Self.text(t, o.currency))\" is not an ISO 4217 code (three uppercase letters, e.g. USD)")
            }
            content = (content ^ ByteKeyTable.hash(c)) &* 0x100_0000_01b3
        }
        if let d = o.discountCents {
            if d < rules.discountMinCents {
                return (.invalidDiscount, "discount_amount \(DecimalText.format(d, scale: 2)) is below \(DecimalText.format(rules.discountMinCents, scale: 2))")
            }
            if d > total {
                return (.invalidDiscount, "discount_amount \(DecimalText.format(d, scale: 2)) exceeds the order total \(DecimalText.format(total, scale: 2))")
            }
            content = (content ^ UInt64(bitPattern: d)) &* 0x100_0000_01b3
        }
        if o.paymentMethod.isPresent {
            let m = rules.paymentIndex(t, o.paymentMethod)
            if m < 0 {
                return (.invalidPaymentMethod, "payment_method \"\(Self.text(t, o.paymentMethod))\" is not one of \(rules.paymentMethods.joined(separator: ", "))")
            }
            content = (content ^ UInt64(m + 1)) &* 0x100_0000_01b3
        }
        let id = UnsafeRawBufferPointer(rebasing: t[Int(o.orderID.start) ..< Int(o.orderID.start + o.orderID.count)])
        if isCommitted?(id) == true {
            committedDuplicates.append(id)
            return (.duplicateOrder, "order_id \(Self.text(t, o.orderID)) was already committed by an earlier batch")
        }
        if deferDuplicates {
            // The id itself is the curated order_id of the row add() appends next.
            claims.rows.append(DeferredClaims.Claim(hash: ByteKeyTable.hash(id), content: content, rawRow: Int32(raw.count),
                                                    itemCount: Int32(o.items.count), fromAlias: o.eventTimeFromAlias))
            return nil
        }
        return firsts.claim(id, content: content)
    }

    /// A text field's part of an order's content key; absent is not the empty text.
    @inline(__always)
    static func textKey(_ t: UnsafeRawBufferPointer, _ r: TextRef) -> UInt64 {
        r.isPresent ? ByteKeyTable.hash(slice(t, r)) : 0x5bd1_e995
    }

    /// Moves every order id this validator accepted (serial mode; a deferred-mode validator
    /// claims none: `settleClaims` does) to the end of `run`, in line order, and forgets them.
    mutating func takeClaimedIDs(into run: inout OrderIDRun) { firsts.takeIDs(into: &run) }

    private mutating func noteBehind(_ o: ParsedOrder, lineNumber: Int) {
        for (bit, key, _) in VersionedKey.all where o.versionedKeys & bit != 0 && rules.supportedKeys & bit == 0 {
            schemaBehind = SchemaBehindLine(lineNumber: lineNumber, field: key, outputVersion: rules.versions["orders"] ?? 1,
                                            neededVersion: rules.keyVersions[bit] ?? (rules.versions["orders"] ?? 1) + 1)
            return
        }
    }

    private mutating func noteUnknown(_ o: ParsedOrder, _ t: UnsafeRawBufferPointer) {
        var names = Set<String>()
        for r in o.unknownFields { names.insert(Self.text(t, r)) }
        for n in names { unknownFields[n, default: 0] += 1 }
    }

    /// Hands over everything validated since the last drain and starts new batches. Duplicate
    /// tracking carries over, so drains split one logical batch without changing results.
    public mutating func drain() -> ValidatedOrders {
        let curated = cur.batches(orders: rules.ordersSchema, items: rules.itemsSchema, catalog: catalog,
                                  channels: constants.channels, statuses: statusValues)
        let out = ValidatedOrders(
            raw: raw.batch(rules.rawSchema, constants, ingestTime: ingestTimeMicros), orders: curated.orders, items: curated.items,
            rejects: rejects, unknownFields: unknownFields, aliasNormalized: aliasNormalized,
            claims: deferDuplicates ? claims : nil, committedDuplicates: committedDuplicates)
        committedDuplicates = OrderIDRun()
        claims = DeferredClaims()
        claims.rows.reserveCapacity(out.orders.count)
        // The next batch will likely look like this one: reserve that much up front so the
        // columns never grow by doubling (copying and faulting in twice the memory).
        raw = RawBuilder(like: out.raw)
        cur = CuratedBuilder(orders: out.orders.count, items: out.items.count)
        rejects = [:]
        unknownFields = [:]
        aliasNormalized = 0
        return out
    }

    /// Validates a whole JSONL file (streamed in chunks) in one call, draining every
    /// `drainEvery` lines into `sink`.
    public static func validateFile(path: String, rules: OrderRules, catalog: ProductCatalog, batchID: String,
                                    ingestTimeMicros: Int64, committed: (any OrderIDLookup)? = nil,
                                    drainEvery: Int = 250_000, sink: (ValidatedOrders) throws -> Void) throws {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        var v = OrderValidator(rules: rules, catalog: catalog, batchID: batchID, sourceFile: name,
                               ingestTimeMicros: ingestTimeMicros, committed: committed, expectedLines: min(drainEvery, 1 << 20))
        let reader = try LineReader(path: path)
        try reader.forEachLine { line in
            v.add(line)
            if let behind = v.schemaBehind { throw IngestError.behind(behind, source: name) }
            if v.pendingRows >= drainEvery || v.pendingBytes >= 1 << 30 { try sink(v.drain()) }
        }
        if v.pendingRows > 0 { try sink(v.drain()) }
    }
}

// MARK: columnar builders (one array per column, appended per field; no per-row objects)

extension StringColumn {
    // Inlinable here (StringColumn's own appends are not, across the module boundary), and no
    // String round trip. Offsets are Int32: validateFile drains well before 2 GiB of text.
    @inline(__always)
    mutating func appendBytes(_ p: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: p)
        offsets.append(Int32(truncatingIfNeeded: bytes.count))
    }

    @inline(__always)
    mutating func appendBytes(_ a: [UInt8]) {
        bytes.append(contentsOf: a)
        offsets.append(Int32(truncatingIfNeeded: bytes.count))
    }

    @inline(__always)
    mutating func appendNull() { offsets.append(Int32(truncatingIfNeeded: bytes.count)) }
}

@inline(__always)
func slice(_ t: UnsafeRawBufferPointer, _ r: TextRef) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: t[Int(r.start) ..< Int(r.start) + Int(r.count)])
}

@inline(__always)
func validityOrNil(_ v: [Bool]) -> [Bool]? { v.contains(false) ? v : nil }

/// What every raw row of a batch shares: written as one-entry dictionary columns, not per row.
struct RawConstants {
    var batchID = StringColumn(), sourceFile = StringColumn()
    /// Channel codes' values: the schema's enum, then "unknown".
    let channels: StringColumn

    init(batchID: String, sourceFile: String, channels: StringColumn) {
        self.batchID.append(batchID)
        self.sourceFile.append(sourceFile)
        self.channels = channels
    }
}

/// Gathers one fixed-width field of `rows` into a column: one tight loop, no per-value append.
@inline(__always)
func gatherField<Row, T>(_ rows: [Row], _ field: (Row) -> T) -> [T] {
    rows.withUnsafeBufferPointer { r in
        [T](unsafeUninitializedCapacity: r.count) { out, n in
            for i in 0 ..< r.count { (out.baseAddress! + i).initialize(to: field(r[i])) }
            n = r.count
        }
    }
}

/// A string column over `bytes` whose value `i` ends at `end(rows[i])` (and starts where the
/// previous one ended).
@inline(__always)
func stringColumn<Row>(_ rows: [Row], _ bytes: [UInt8], end: (Row) -> Int32) -> StringColumn {
    let offsets = rows.withUnsafeBufferPointer { r in
        [Int32](unsafeUninitializedCapacity: r.count + 1) { out, n in
            out[0] = 0
            for i in 0 ..< r.count { out[i + 1] = end(r[i]) }
            n = r.count + 1
        }
    }
    return StringColumn(offsets: offsets, bytes: bytes)
}

/// Raw rows are built a line at a time, but most of a line's raw columns are fixed-width:
/// appending each to its own array (an array field of a struct pays a uniqueness check and
/// a capacity check per append, ~17 per line) cost more than the values. A line's fixed-width
/// values are one `Row` record appended at once, its bytes go to two byte buffers, the few
/// rejected lines are kept aside, and `batch` transposes the records into columns.
struct RawBuilder {
    struct Row {
        var lineNumber: Int64
        var byteOffset: Int64
        /// 0 under a null (the placeholder a column stores).
        var eventTime: Int64
        /// Where the line's bytes end in `line`, and its order id's in `orderID`.
        var lineEnd: Int32
        var orderIDEnd: Int32
        var eventDate: Int32
        var channel: Int32
        var hasOrderID: Bool
        var hasEventTime: Bool
    }

    var rows: [Row] = []
    // One append per line, of hundreds of bytes: the array's own append costs little beside
    // the copy, and a buffer reserved (not zeroed) is only faulted in as it fills.
    var line: [UInt8] = []
    var orderID = ByteAppender(capacity: 0)
    /// The rejected lines (a few percent), in row order.
    var rejected: [(row: Int, reason: RejectReason, detail: String)] = []

    init(rows: Int = 4096, lineBytes: Int = 4096 * 400) { reserve(rows: rows, lineBytes: lineBytes) }

    init(like previous: RecordBatch) {
        var bytes = 0
        if case .string(let s)? = previous.column("line")?.data { bytes = s.bytes.count }
        reserve(rows: max(previous.count, 4096), lineBytes: max(bytes, 4096 * 400))
    }

    var count: Int { rows.count }

    mutating func reserve(rows n: Int, lineBytes: Int) {
        rows.reserveCapacity(n)
        line.reserveCapacity(lineBytes + lineBytes / 16)
        orderID = ByteAppender(capacity: n * 12)
    }

    @inline(__always)
    mutating func append(line bytes: UnsafeRawBufferPointer, number: Int, offset: Int64,
                         t: UnsafeRawBufferPointer, orderID oid: TextRef, eventTime et: Int64?,
                         eventDate ed: Int32, channel ch: Int32, reject: (RejectReason, String)?) {
        var hasOrderID = oid.isPresent
        if let (r, d) = reject, !StoredText.isUTF8(bytes) {
            // A rejected line can hold any bytes; stored as they are, it made raw.orders
            // unreadable to DuckDB and pyarrow ("Invalid string encoding").
            line.append(contentsOf: StoredText.escapingInvalidUTF8(bytes))
            if hasOrderID && !StoredText.isUTF8(slice(t, oid)) { hasOrderID = false }
            rejected.append((rows.count, r, d + " (the line is not UTF-8: stored with those bytes as \\xNN and each backslash doubled)"))
        } else {
            line.append(contentsOf: bytes)
            if let (r, d) = reject { rejected.append((rows.count, r, d)) }
        }
        if hasOrderID { orderID.append(slice(t, oid)) }
        rows.append(Row(lineNumber: Int64(number), byteOffset: offset, eventTime: et ?? 0,
                        lineEnd: Int32(truncatingIfNeeded: line.count), orderIDEnd: Int32(truncatingIfNeeded: orderID.count),
                        eventDate: ed, channel: ch, hasOrderID: hasOrderID, hasEventTime: et != nil))
    }

    /// The reject reason and detail columns: null on every accepted line.
    private func rejectColumns() -> (reason: Column, detail: Column) {
        let n = rows.count
        var reason = StringColumn(), detail = StringColumn()
        reason.reserve(count: n, bytes: rejected.count * 16)
        detail.reserve(count: n, bytes: rejected.count * 96)
        var valid = [Bool](repeating: false, count: n)
        var next = 0
        for row in 0 ..< n {
            if next < rejected.count && rejected[next].row == row {
                reason.append(rejected[next].reason.rawValue)
                detail.append(rejected[next].detail)
                valid[row] = true
                next += 1
            } else {
                reason.appendNull()
                detail.appendNull()
            }
        }
        let validity = validityOrNil(valid)
        return (Column(.string(reason), validity: validity), Column(.string(detail), validity: validity))
    }

    /// The raw batch; empties the builder's byte buffers.
    mutating func batch(_ schema: Schema, _ constants: RawConstants, ingestTime: Int64) -> RecordBatch {
        let same = [Int32](repeating: 0, count: rows.count)
        let lineBytes = line, idBytes = orderID.take()
        let rejects = rejectColumns()
        return RecordBatch(schema: schema, columns: schema.fields.map { f in
            switch RawColumn(rawValue: f.name)! {  // checked against the registry by OrderRules.init
            case .batchID: return Column(.dictionary(indices: same, values: constants.batchID))
            case .sourceFile: return Column(.dictionary(indices: same, values: constants.sourceFile))
            case .lineNumber: return Column(.int64(gatherField(rows) { $0.lineNumber }))
            case .byteOffset: return Column(.int64(gatherField(rows) { $0.byteOffset }))
            case .ingestTime: return Column(.int64([Int64](repeating: ingestTime, count: rows.count)))
            case .line: return Column(.string(stringColumn(rows, lineBytes) { $0.lineEnd }))
            case .orderID:
                return Column(.string(stringColumn(rows, idBytes) { $0.orderIDEnd }), validity: validityOrNil(gatherField(rows) { $0.hasOrderID }))
            case .eventTime:
                return Column(.int64(gatherField(rows) { $0.eventTime }), validity: validityOrNil(gatherField(rows) { $0.hasEventTime }))
            case .eventDate: return Column(.int32(gatherField(rows) { $0.eventDate }))
            case .channel: return Column(.dictionary(indices: gatherField(rows) { $0.channel }, values: constants.channels))
            case .rejectReason: return rejects.reason
            case .rejectDetail: return rejects.detail
            }
        })
    }
}

/// Curated rows, built like raw's (`RawBuilder`): one fixed-width record per accepted order and
/// per item, the order's strings in one byte buffer per column, transposed by `batches`.
struct CuratedBuilder {
    struct OrderRow {
        var eventTime: Int64
        var total: Int64
        var discount: Int64
        var eventDate: Int32
        var channel: Int32
        var status: Int32
        var itemCount: Int32
        var units: Int32
        /// Where each string ends in its byte buffer (a null adds no bytes).
        var orderIDEnd: Int32, customerIDEnd: Int32, countryEnd: Int32, stateEnd: Int32, cityEnd: Int32
        var currencyEnd: Int32, paymentEnd: Int32
        var hasState: Bool, hasCity: Bool, hasCurrency: Bool, hasPayment: Bool
    }

    // An item's product id, category and brand are its catalog row's (the id was found in the
    // catalog byte for byte): kept as that row, written as dictionary columns over the catalog's
    // own values, so no item copies or hashes those strings.
    // An item's order id, line number, event time, date, channel and status are its order's:
    // they are not stored per item but expanded from the order columns by `batches`.
    struct ItemRow {
        var price: Int64
        var revenue: Int64
        var listPrice: Int64
        var catalogRow: Int32
        var quantity: Int32
    }

    var orders: [OrderRow] = []
    var items: [ItemRow] = []
    var orderID: ByteAppender, customerID: ByteAppender, country: ByteAppender, state: ByteAppender, city: ByteAppender
    var currency: ByteAppender, payment: ByteAppender

    init(orders o: Int = 4096, items n: Int = 10240) {
        let o = max(o, 4096)
        orders.reserveCapacity(o)
        items.reserveCapacity(max(n, 10240))
        // Sized for typical values (ids of a dozen bytes, two-letter codes) of `o` orders (the
        // previous drain's count); a column that outgrows its guess doubles.
        orderID = ByteAppender(capacity: o * 12)
        customerID = ByteAppender(capacity: o * 12)
        country = ByteAppender(capacity: o * 4)
        state = ByteAppender(capacity: o * 4)
        city = ByteAppender(capacity: o * 12)
        currency = ByteAppender(capacity: o * 3)
        payment = ByteAppender(capacity: o * 6)
    }

    @inline(__always)
    mutating func append(_ o: ParsedOrder, _ t: UnsafeRawBufferPointer, catalog: ProductCatalog, rows: [Int32], eventTime et: Int64,
                         eventDate ed: Int32, channel ch: Int32, status st: Int32, rules: OrderRules) {
        orderID.append(slice(t, o.orderID))
        customerID.append(slice(t, o.customerID))
        country.append(slice(t, o.country))
        if o.state.isPresent { state.append(slice(t, o.state)) }
        if o.city.isPresent { city.append(slice(t, o.city)) }
        var sum: Int64 = 0
        var quantity: Int64 = 0
        for (i, item) in o.items.enumerated() {
            // check() proved presence, ranges, catalog membership and no overflow.
            let row = Int(rows[i])
            let q = item.quantity!, price = item.unitPriceCents!
            items.append(ItemRow(price: price, revenue: q * price, listPrice: catalog.prices[row], catalogRow: rows[i], quantity: Int32(q)))
            sum += q * price
            quantity += q
        }
        // v2 columns (cheap; used only when the output schema has them). check() proved the values.
        let hasCurrency: Bool
        if o.currency.isPresent {
            currency.append(slice(t, o.currency))
            hasCurrency = true
        } else if rules.defaultCurrency.isEmpty {
            hasCurrency = false
        } else {
            currency.append(rules.defaultCurrency)
            hasCurrency = true
        }
        if o.paymentMethod.isPresent { payment.append(slice(t, o.paymentMethod)) }
        @inline(__always) func end(_ b: ByteAppender) -> Int32 { Int32(truncatingIfNeeded: b.count) }
        orders.append(OrderRow(eventTime: et, total: sum, discount: o.discountCents ?? rules.defaultDiscountCents, eventDate: ed,
                               channel: ch, status: st, itemCount: Int32(o.items.count), units: Int32(quantity),
                               orderIDEnd: end(orderID), customerIDEnd: end(customerID), countryEnd: end(country),
                               stateEnd: end(state), cityEnd: end(city), currencyEnd: end(currency), paymentEnd: end(payment),
                               hasState: o.state.isPresent, hasCity: o.city.isPresent, hasCurrency: hasCurrency,
                               hasPayment: o.paymentMethod.isPresent))
    }

    /// The curated orders and order items batches; empties the builder's byte buffers.
    mutating func batches(orders ordersSchema: Schema, items itemsSchema: Schema, catalog: ProductCatalog,
                 channels: StringColumn, statuses: StringColumn) -> (orders: RecordBatch, items: RecordBatch) {
        let ids = stringColumn(orders, orderID.take()) { $0.orderIDEnd }
        let customerIDs = customerID.take(), countries = country.take(), states = state.take(), cities = city.take()
        let currencies = currency.take(), payments = payment.take()
        let itemCount = gatherField(orders) { $0.itemCount }
        let eventTime = gatherField(orders) { $0.eventTime }, eventDate = gatherField(orders) { $0.eventDate }
        let channel = gatherField(orders) { $0.channel }, status = gatherField(orders) { $0.status }
        let ordersBatch = RecordBatch(schema: ordersSchema, columns: ordersSchema.fields.map { f in
            switch OrdersColumn(rawValue: f.name)! {  // checked against the registry by OrderRules.init
            case .orderID: return Column(.string(ids))
            case .customerID: return Column(.string(stringColumn(orders, customerIDs) { $0.customerIDEnd }))
            case .eventTime: return Column(.int64(eventTime))
            case .eventDate: return Column(.int32(eventDate))
            case .channel: return Column(.dictionary(indices: channel, values: channels))
            case .status: return Column(.dictionary(indices: status, values: statuses))
            case .country: return Column(.string(stringColumn(orders, countries) { $0.countryEnd }))
            case .state: return Column(.string(stringColumn(orders, states) { $0.stateEnd }), validity: validityOrNil(gatherField(orders) { $0.hasState }))
            case .city, .shippingCity:
                return Column(.string(stringColumn(orders, cities) { $0.cityEnd }), validity: validityOrNil(gatherField(orders) { $0.hasCity }))
            case .itemCount: return Column(.int32(itemCount))
            case .orderTotal: return Column(.int64(gatherField(orders) { $0.total }))
            case .units: return Column(.int32(gatherField(orders) { $0.units }))
            case .currency:
                return Column(.string(stringColumn(orders, currencies) { $0.currencyEnd }), validity: validityOrNil(gatherField(orders) { $0.hasCurrency }))
            case .discountAmount: return Column(.int64(gatherField(orders) { $0.discount }))
            case .paymentMethod:
                return Column(.string(stringColumn(orders, payments) { $0.paymentEnd }), validity: validityOrNil(gatherField(orders) { $0.hasPayment }))
            }
        })
        let n = items.count
        let catalogRows = gatherField(items) { $0.catalogRow }
        let itemsBatch = RecordBatch(schema: itemsSchema, columns: itemsSchema.fields.map { f in
            switch ItemsColumn(rawValue: f.name)! {  // checked against the registry by OrderRules.init
            case .orderID: return Column(.string(Self.expand(ids, itemCount, total: n)))
            case .lineNumber: return Column(.int32(Self.lineNumbers(itemCount, total: n)))
            case .productID: return Column(.dictionary(indices: catalogRows, values: catalog.ids))
            case .quantity: return Column(.int32(gatherField(items) { $0.quantity }))
            case .unitPrice: return Column(.int64(gatherField(items) { $0.price }))
            case .lineRevenue: return Column(.int64(gatherField(items) { $0.revenue }))
            case .category: return Column(.dictionary(indices: catalogRows, values: catalog.categories))
            case .brand: return Column(.dictionary(indices: catalogRows, values: catalog.brands))
            case .listPrice: return Column(.int64(gatherField(items) { $0.listPrice }))
            case .eventTime: return Column(.int64(Self.expand(eventTime, itemCount, total: n)))
            case .eventDate: return Column(.int32(Self.expand(eventDate, itemCount, total: n)))
            case .channel: return Column(.dictionary(indices: Self.expand(channel, itemCount, total: n), values: channels))
            case .status: return Column(.dictionary(indices: Self.expand(status, itemCount, total: n), values: statuses))
            }
        })
        return (ordersBatch, itemsBatch)
    }

    /// Each order's value repeated once per item (`counts[k]` times for order k): `total` values.
    static func expand<T>(_ values: [T], _ counts: [Int32], total: Int) -> [T] {
        precondition(values.count == counts.count, "one count per order")
        return values.withUnsafeBufferPointer { v in
            counts.withUnsafeBufferPointer { c in
                [T](unsafeUninitializedCapacity: total) { out, n in
                    var at = 0
                    for k in 0 ..< v.count {
                        let m = Int(c[k])
                        precondition(at + m <= total, "item counts exceed the items")
                        (out.baseAddress! + at).initialize(repeating: v[k], count: m)
                        at += m
                    }
                    precondition(at == total, "item counts must add up to the items")
                    n = at
                }
            }
        }
    }

    /// Each order's id repeated once per item: gathered in two passes (sizes, then bytes) by
    /// `StringColumn.append(gathering:from:)`; appending the id item by item cost about a
    /// hundred instructions an item in the array's bookkeeping.
    static func expand(_ ids: StringColumn, _ counts: [Int32], total: Int) -> StringColumn {
        precondition(ids.count == counts.count, "one count per order")
        var out = StringColumn()
        out.append(gathering: expand(Array(0 ..< Int32(ids.count)), counts, total: total), from: ids)
        return out
    }

    /// 1, 2, … per order: an item's line within its order.
    static func lineNumbers(_ counts: [Int32], total: Int) -> [Int32] {
        [Int32](unsafeUninitializedCapacity: total) { out, n in
            var at = 0
            for m in counts {
                precondition(at + Int(m) <= total, "item counts exceed the items")
                for i in 0 ..< Int(m) { (out.baseAddress! + at + i).initialize(to: Int32(i + 1)) }
                at += Int(m)
            }
            precondition(at == total, "item counts must add up to the items")
            n = at
        }
    }

}
