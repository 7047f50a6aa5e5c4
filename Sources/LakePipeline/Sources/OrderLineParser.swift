import LakeCatalog
import LakeFormat

/// A span of decoded bytes inside `ParsedOrder.text`; start < 0 means the field was absent
/// (or JSON null).
public struct TextRef: Sendable, Equatable {
    public var start: Int32
    public var count: Int32
    public static let absent = TextRef(start: -1, count: 0)
    @inline(__always) public var isPresent: Bool { start >= 0 }
    @inline(__always) public var isPresentNonEmpty: Bool { start >= 0 && count > 0 }
}

public struct ParsedItem: Sendable, Equatable {
    public var productID = TextRef.absent
    /// Any integer as written; range rules are the validator's job.
    public var quantity: Int64? = nil
    /// Exact unscaled cents.
    public var unitPriceCents: Int64? = nil
}

/// One order line, normalised: canonical field names (aliases resolved), event time in UTC
/// micros, exact cents. Reused from line to line so parsing allocates nothing in steady state.
public struct ParsedOrder: Sendable {
    /// Decoded UTF-8 of every string field, back to back; `TextRef`s index into it.
    public internal(set) var text: [UInt8] = []
    public var orderID = TextRef.absent
    public var customerID = TextRef.absent
    public var channel = TextRef.absent
    public var status = TextRef.absent
    public var country = TextRef.absent
    public var state = TextRef.absent
    public var city = TextRef.absent
    /// Orders v2 fields (absent in v1 streams): ISO 4217 code, order-level discount in exact
    /// cents, payment method.
    public var currency = TextRef.absent
    public var discountCents: Int64? = nil
    public var paymentMethod = TextRef.absent
    /// Which v2 keys the line carries (`VersionedKey` bits), set even when the value is null:
    /// how ingest tells a v2 line from a v1 one.
    public var versionedKeys: UInt8 = 0
    public var eventTimeMicros: Int64? = nil
    /// Whether the event time came from an alias conversion (the mobile `ts`).
    public var eventTimeFromAlias = false
    public var hasItems = false
    public var hasAddress = false
    public var items: [ParsedItem] = []
    /// Keys the registry does not know ("gift_note", "items[].sku", "shipping_address.zip"),
    /// for schema-drift reporting; the values are skipped.
    public var unknownFields: [TextRef] = []

    public init() {}

    mutating func reset() {
        text.removeAll(keepingCapacity: true)
        items.removeAll(keepingCapacity: true)
        unknownFields.removeAll(keepingCapacity: true)
        orderID = .absent; customerID = .absent; channel = .absent; status = .absent
        country = .absent; state = .absent; city = .absent
        currency = .absent; discountCents = nil; paymentMethod = .absent; versionedKeys = 0
        eventTimeMicros = nil; eventTimeFromAlias = false; hasItems = false; hasAddress = false
    }

    /// Calls `body` with the bytes `TextRef`s index: `text`, or the line itself when a
    /// `parseInPlace` left `text` empty.
    @inline(__always)
    func withText<R>(line: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if text.isEmpty { return try body(line) }
        return try text.withUnsafeBytes(body)
    }

    public func string(_ r: TextRef) -> String? {
        guard r.isPresent else { return nil }
        let s = Int(r.start)
        return String(decoding: text[s ..< s + Int(r.count)], as: UTF8.self)
    }
}

/// Why an order line could not be read. `offset` is the 0-based byte within the line.
public enum OrderLineError: Error, Sendable, Equatable {
    case emptyLine
    case syntax(JSONProblem, offset: Int)
    case notAnObject(offset: Int)
    case duplicateField(String, offset: Int)
    case wrongType(field: String, expected: String, found: String, offset: Int)
    /// `why`: `Timestamps.refusal` of the text (not ISO-8601 with a zone, or a leap second).
    case invalidTimestamp(field: String, text: String, why: String, offset: Int)
    /// The epoch-milliseconds alias (mobile `ts`) given a number with a fraction.
    case invalidEpochMillis(field: String, text: String, offset: Int)
    /// A well-formed time outside the years the lake stores (`CivilDate.storableMicros`).
    case timestampOutOfRange(field: String, text: String, offset: Int)
    /// The epoch-milliseconds alias given a number of seconds' size (`epochSecondsBound`).
    case epochSeconds(field: String, millis: Int64, offset: Int)
    case invalidQuantity(field: String, text: String, problem: NumberProblem, offset: Int)
    case invalidPrice(field: String, text: String, problem: NumberProblem, offset: Int)
    case invalidDiscount(text: String, problem: NumberProblem, offset: Int)

    public var reason: RejectReason {
        switch self {
        case .emptyLine: return .emptyLine
        case .syntax, .notAnObject: return .malformedJSON
        case .duplicateField: return .duplicateField
        case .wrongType: return .invalidType
        case .invalidTimestamp, .invalidEpochMillis, .timestampOutOfRange, .epochSeconds: return .invalidTimestamp
        case .invalidQuantity: return .invalidQuantity
        case .invalidPrice: return .invalidPrice
        case .invalidDiscount: return .invalidDiscount
        }
    }

    /// Where in the line the refused value (or key) starts; nil for an empty line.
    var offset: Int? {
        switch self {
        case .emptyLine: return nil
        case .syntax(_, let o), .notAnObject(let o), .duplicateField(_, let o), .wrongType(_, _, _, let o),
             .invalidTimestamp(_, _, _, let o), .invalidEpochMillis(_, _, let o), .timestampOutOfRange(_, _, let o), .epochSeconds(_, _, let o),
             .invalidQuantity(_, _, _, let o), .invalidPrice(_, _, _, let o), .invalidDiscount(_, _, let o):
            return o
        }
    }

    /// "unterminated string at byte 42" (bytes counted from 1, as editors do columns).
    public var message: String {
        switch self {
        case .emptyLine: return "empty line"
        case .syntax(let p, let o): return "\(p) at byte \(o + 1)"
        case .notAnObject(let o): return "expected a JSON object ('{') at byte \(o + 1)"
        case .duplicateField(let f, let o): return "field \(f) appears twice (directly or via an alias) at byte \(o + 1)"
        case .wrongType(let f, let e, let found, let o): return "\(f) must be \(e), found \(found) at byte \(o + 1)"
        case .invalidTimestamp(let f, let t, let why, let o): return "\(f) \(t) \(why) at byte \(o + 1)"
        case .invalidEpochMillis(let f, let t, let o):
            return "\(f) \(t) is not a whole number of epoch milliseconds (\(f) takes an integer, e.g. 1705314600000) at byte \(o + 1)"
        case .timestampOutOfRange(let f, let t, let o):
            return "\(f) \(t) is outside the storable range \(CivilDate.storableRangeText) at byte \(o + 1)"
        case .epochSeconds(let f, let ms, let o):
            return "\(f) \(ms) is too small for epoch milliseconds (it would be \(LakeCatalog.Timestamps.isoText(micros: ms * 1000))): "
                + "epoch seconds? \(f) takes milliseconds, e.g. \(ms == 0 ? 1_705_314_600_000 : ms * 1000) at byte \(o + 1)"
        case .invalidQuantity(let f, let t, let p, let o): return "\(f) \(p.describe(t, scale: 0)) at byte \(o + 1)"
        case .invalidPrice(let f, let t, let p, let o): return "\(f) \(p.describe(t, scale: 2)) at byte \(o + 1)"
        case .invalidDiscount(let t, let p, let o): return "discount_amount \(p.describe(t, scale: 2)) at byte \(o + 1)"
        }
    }
}

/// Why a count or an amount was refused (`ExactDecimal`'s refusals, and a value of another
/// JSON type), worded the same for every source.
public enum NumberProblem: Sendable, Equatable {
    /// A JSON value of another type: the text names it, "(a string)".
    case notANumber
    /// Non-zero digits below the scale.
    case tooManyPlaces
    /// Beyond what 64-bit integers hold at the scale.
    case tooLarge

    public init?(_ e: ExactDecimal) {
        switch e {
        case .value: return nil
        case .tooManyPlaces: self = .tooManyPlaces
        case .outOfRange: self = .tooLarge
        case .malformed: self = .notANumber
        }
    }

    /// "29.999 is not a decimal with at most 2 decimal places", "2.5 is not a whole number".
    public func describe(_ text: String, scale: Int) -> String {
        switch self {
        case .notANumber: return "\(text) is not a number"
        case .tooManyPlaces: return scale == 0 ? "\(text) is not a whole number" : "\(text) is not a decimal with at most \(scale) decimal places"
        case .tooLarge: return scale == 0 ? "\(text) is too large (beyond 64-bit integers)" : "\(text) is too large for decimal(18,\(scale))"
        }
    }
}

/// Compiled key lookup for the order shape, built from the registry's raw_orders source
/// fields so aliases (customerId, ts) live in schemas/, not in code.
public struct OrderFieldMap: Sendable {
    enum Slot: UInt8 {
        case orderID, customerID, timestamp, channel, items, address, status  // top level
        case currency, discountAmount, paymentMethod  // top level, orders v2
        case productID, quantity, unitPrice  // items[]
        case country, state, city  // shipping_address
    }

    struct Entry: Sendable {
        var key: [UInt8]
        var slot: Slot
        var epochMillis: Bool
    }

    /// Keys as plain-old-data records (length, bytes 0-7 and 8-15 as words, where the rest
    /// starts in `tails`), so matching a key of up to 16 bytes is three integer compares with no
    /// array bounds checks or reference counting. Immutable after `init`, shared by the parsing
    /// threads. (A final class: the parser takes it once per object, and copying a struct of
    /// arrays would cost a reference-count pair per array each time.)
    final class KeySet: @unchecked Sendable {
        struct Key {
            var head: UInt64
            var second: UInt64
            /// `mask(length)` and `mask(length - 8)`: the bytes of each word the key covers.
            var headMask: UInt64
            var secondMask: UInt64
            var length: Int
            var tailStart: Int
            var slot: Slot
            var millis: Bool
            /// At most 16 bytes, all printable ASCII other than '"' and '\\': such a key written
            /// in a line is exactly its bytes followed by '"' (`plainLength`).
            var plain: Bool
        }

        private let keys: UnsafeMutableBufferPointer<Key>
        private let tails: [UInt8]
        let names: [String]

        /// For enum values: match returns the value's index.
        convenience init(values: [String]) {
            self.init(values.map { Entry(key: Array($0.utf8), slot: .orderID, epochMillis: false) })
        }

        init(_ entries: [Entry]) {
            var tails: [UInt8] = []
            keys = .allocate(capacity: entries.count)
            for (i, e) in entries.enumerated() {
                let (head, second) = e.key.withUnsafeBytes { KeySet.words($0, readable: $0.count) }
                let plain = e.key.count <= 16 && e.key.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != 34 && $0 != 92 }
                (keys.baseAddress! + i).initialize(to: Key(head: head, second: second, headMask: Self.mask(e.key.count),
                                                           secondMask: Self.mask(e.key.count - 8), length: e.key.count,
                                                           tailStart: tails.count, slot: e.slot, millis: e.epochMillis, plain: plain))
                if e.key.count > 16 { tails.append(contentsOf: e.key[16...]) }
            }
            self.tails = tails
            names = entries.map { String(decoding: $0.key, as: UTF8.self) }
        }

        deinit { keys.deallocate() }

        var count: Int { keys.count }

        /// The slot of entry `i` (an index `match` returned).
        @inline(__always) func slot(_ i: Int) -> Slot {
            precondition(i >= 0 && i < keys.count, "a key index from match")
            return keys[i].slot
        }

        /// Whether entry `i` is the epoch-milliseconds alias of its field.
        @inline(__always) func millis(_ i: Int) -> Bool {
            precondition(i >= 0 && i < keys.count, "a key index from match")
            return keys[i].millis
        }

        @inline(__always)
        static func mask(_ k: Int) -> UInt64 { k >= 8 ? ~0 : (UInt64(1) << UInt64(8 * max(k, 0))) &- 1 }

        /// Bytes 0-7 and 8-15 of `key` as little-endian words, zero past its end. With 16
        /// bytes `readable` from its start (a key inside a line is followed by at least `":`
        /// and its value), two loads and masks instead of a loop per byte.
        @inline(__always)
        static func words(_ key: UnsafeRawBufferPointer, readable: Int) -> (UInt64, UInt64) {
            let n = key.count
            if readable >= 16 {
                let p = key.baseAddress!
                let a = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
                let b = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                return (a & mask(n), b & mask(n - 8))
            }
            var a: UInt64 = 0, b: UInt64 = 0
            var i = 0
            while i < Swift.min(n, 16) {
                if i < 8 { a |= UInt64(key[i]) << (UInt64(i) * 8) } else { b |= UInt64(key[i]) << (UInt64(i - 8) * 8) }
                i += 1
            }
            return (a, b)
        }

        /// The length of entry `guess` when the string starting at `p` (just after its opening
        /// quote, `readable` bytes before the line ends) is that key written plainly, else nil.
        /// The parser's first try for every key: the entry found at the same member position on
        /// the previous line, compared in place before the key is even scanned. A plain key's
        /// bytes followed by '"' are the whole string (it has no escape or quote of its own);
        /// anything else (another key, an escaped spelling, a key near the line's end) goes
        /// the general way (`JSONScanner.key`, `match`).
        @inline(__always)
        func plainLength(at p: UnsafePointer<UInt8>, readable: Int, guess: Int) -> Int? {
            guard guess >= 0 && guess < keys.count && readable > 16 else { return nil }
            let k = keys[guess]
            guard k.plain else { return nil }
            let r = UnsafeRawPointer(p)
            let a = UInt64(littleEndian: r.loadUnaligned(as: UInt64.self))
            let b = UInt64(littleEndian: r.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            guard a & k.headMask == k.head && b & k.secondMask == k.second && p[k.length] == 34 else { return nil }
            return k.length
        }

        @inline(__always)
        func match(_ key: UnsafeRawBufferPointer) -> Int { match(key, readable: key.count, guess: -1) }

        /// The entry equal to `key`, or -1. `guess` (an entry index, or -1) is tried first: the
        /// parser passes the entry found at the same member position on the previous line,
        /// which is right for nearly every line of a source that writes keys in a fixed order.
        @inline(__always)
        func match(_ key: UnsafeRawBufferPointer, readable: Int, guess: Int) -> Int {
            let n = key.count
            let (a, b) = KeySet.words(key, readable: readable)
            @inline(__always) func equal(_ i: Int) -> Bool {
                let k = keys[i]
                guard k.length == n && k.head == a && k.second == b else { return false }
                if n <= 16 { return true }
                return tails.withUnsafeBytes { t in memcmpEqual(t.baseAddress! + k.tailStart, key.baseAddress! + 16, n - 16) }
            }
            if guess >= 0 && guess < keys.count && equal(guess) { return guess }
            for i in 0 ..< keys.count where equal(i) { return i }
            return -1
        }
    }

    let top: KeySet
    let item: KeySet
    let address: KeySet

    static let canonicalTop: [String: Slot] = [
        "order_id": .orderID, "customer_id": .customerID, "timestamp": .timestamp, "channel": .channel,
        "items": .items, "shipping_address": .address, "status": .status,
        "currency": .currency, "discount_amount": .discountAmount, "payment_method": .paymentMethod,
    ]
    static let canonicalItem: [String: Slot] = ["product_id": .productID, "quantity": .quantity, "unit_price": .unitPrice]
    static let canonicalAddress: [String: Slot] = ["country": .country, "state": .state, "city": .city]

    /// Fails when the registry names a field this parser cannot produce, or a conversion that
    /// makes no sense for the field.
    public init(source: SourceSpec) throws(OrderRulesError) {
        func compile(_ fields: [SourceField], _ known: [String: Slot], _ path: String) throws(OrderRulesError) -> [Entry] {
            var out: [Entry] = []
            for f in fields {
                guard let slot = known[f.name] else { throw .unsupportedField(path + f.name) }
                out.append(Entry(key: Array(f.name.utf8), slot: slot, epochMillis: false))
                for a in f.aliases {
                    if a.conversion == .epochMillis && slot != .timestamp { throw .badConversion(path + f.name, a.name) }
                    out.append(Entry(key: Array(a.name.utf8), slot: slot, epochMillis: a.conversion == .epochMillis))
                }
            }
            let keys = out.map(\.key)
            if Set(keys).count != keys.count { throw .ambiguousAlias(path) }
            return out
        }
        top = KeySet(try compile(source.fields, Self.canonicalTop, ""))
        item = KeySet(try compile(source.field("items")?.fields ?? [], Self.canonicalItem, "items[]."))
        address = KeySet(try compile(source.field("shipping_address")?.fields ?? [], Self.canonicalAddress, "shipping_address."))
    }
}

/// Parses one JSON order line in a single pass over its bytes.
public struct OrderLineParser: Sendable {
    let map: OrderFieldMap
    public private(set) var order = ParsedOrder()
    private var keyScratch: [UInt8] = []
    private var skipScratch: [UInt8] = []
    /// Span of the last key in the line, or nil when it had escapes (then it is in keyScratch).
    private var lastKey: (start: Int, count: Int)?
    /// The entry each member position matched last, per object kind (see `matchKey`).
    private var topGuesses = KeyGuesses(), itemGuesses = KeyGuesses(), addressGuesses = KeyGuesses()

    public init(map: OrderFieldMap) {
        self.map = map
        order.text.reserveCapacity(512)
        keyScratch.reserveCapacity(64)
    }

    /// Parses `line` (without its newline) into `order`. On error `order` keeps whatever was
    /// read before the problem (the validator still records the order id and event time in
    /// the raw table when they were readable), except the event time of a line that is not
    /// valid JSON, which may have been cut by truncation.
    public mutating func parse(_ line: UnsafeRawBufferPointer) throws(OrderLineError) {
        try parse(line, copyingLine: true)
    }

    /// `parse` for a caller that still holds `line` when it reads the order (the validator):
    /// `order.text` copies the line only when a decoded string or an unknown key must follow
    /// it, and is empty otherwise: then every `TextRef` indexes `line` itself (`text(line:)`).
    mutating func parseInPlace(_ line: UnsafeRawBufferPointer) throws(OrderLineError) {
        try parse(line, copyingLine: false)
    }

    /// Exchanges `order` with `other`: the validator reads the order it parsed as a local it
    /// owns (a copy would retain and release its three buffers on every line) and hands it
    /// back afterwards, so its buffers are reused by the next line's parse.
    mutating func exchangeOrder(_ other: inout ParsedOrder) {
        swap(&order, &other)
    }

    private mutating func parse(_ line: UnsafeRawBufferPointer, copyingLine: Bool) throws(OrderLineError) {
        order.reset()
        // Text = the line itself, then decoded copies of the few strings with escapes: most
        // fields are referenced in place, with at most one copy of the line instead of one per
        // field (none in place, unless something must follow it).
        if copyingLine { order.text.append(contentsOf: line) }
        var s = JSONScanner(line)
        s.skipWhitespace()
        if s.i == s.end { throw .emptyLine }
        guard s.base[s.i] == UInt8(ascii: "{") else { throw .notAnObject(offset: s.i) }
        s.i += 1
        // Helpers throw JSONError (syntax) or OrderLineError (meaning); errors are rare, so
        // the boxing of untyped throws costs nothing on the accepted path.
        do {
            try members(&s)
        } catch let e as JSONError {
            // A line that is not valid JSON may be cut (a truncated write): its last value may be
            // cut too (`"ts": 1705` reads as a complete number), so no value read from it dates
            // the line; it goes to the ingest-date partition.
            order.eventTimeMicros = nil
            order.eventTimeFromAlias = false
            throw .syntax(e.problem, offset: e.offset)
        } catch let e as OrderLineError {
            // A line that is not JSON further on is malformed, whatever value came first: a cut
            // line's last value may be refused only because the cut shortened it.
            if let at = e.offset, let broken = readKeys(&s, after: at) { throw .syntax(broken.problem, offset: broken.offset) }
            throw e
        } catch {
            preconditionFailure("order parsing throws only JSONError and OrderLineError")
        }
    }

    /// A value the parser refuses (a fractional quantity, a bad timestamp, a number for a string)
    /// stops the parse where it stands, so the keys after it went unread: a rejected line's order
    /// id, channel and event time, which name its raw row and its partition (and count its reject
    /// on that day and channel), depended on whether they came before the bad value. They are
    /// read here from the rest of the line (`s` rescans it from its start), the other values
    /// skipped. A line that is not JSON further on is dated by nothing it holds, as a malformed one
    /// is: its syntax error is returned.
    private mutating func readKeys(_ s: inout JSONScanner, after errorAt: Int) -> JSONError? {
        let topKeys = map.top
        s.i = 0
        s.skipWhitespace()
        s.i += 1  // the '{' parseInPlace checked
        var first = true
        do {
            while try s.objectHasMember(first: first) {
                first = false
                s.skipWhitespace()
                let keyAt = s.i
                let n = try matchKey(&s, topKeys, guess: -1)
                // Up to the refused value (and it): read by the parse already.
                guard keyAt > errorAt else {
                    try s.skipValue(scratch: &skipScratch)
                    continue
                }
                guard n >= 0 else {
                    try skipUnknown(&s, prefix: "")
                    continue
                }
                do {
                    // A key also given before the refused value keeps that first value.
                    switch topKeys.slot(n) {
                    case .orderID where !order.orderID.isPresent: order.orderID = try stringField(&s, "order_id")
                    case .channel where !order.channel.isPresent: order.channel = try stringField(&s, "channel")
                    case .timestamp where order.eventTimeMicros == nil: try timestamp(&s, millis: topKeys.millis(n), name: topKeys.names[n])
                    default: try s.skipValue(scratch: &skipScratch)
                    }
                } catch is OrderLineError {
                    // Refused as well (a second bad value): it stays unread; its bytes were scanned.
                }
            }
            s.skipWhitespace()
            if s.i != s.end { throw s.fail(.trailingData) }
            return nil
        } catch {
            order.eventTimeMicros = nil
            order.eventTimeFromAlias = false
            return error as? JSONError
        }
    }

    private mutating func members(_ s: inout JSONScanner) throws {
        let topKeys = map.top
        var seen: UInt32 = 0
        var first = true
        var position = 0
        while try s.objectHasMember(first: first) {
            first = false
            s.skipWhitespace()
            let keyAt = s.i
            let guess = topGuesses.at(position)
            let n = try matchKey(&s, topKeys, guess: guess)
            if n != guess { topGuesses.set(position, n) }
            position += 1
            guard n >= 0 else {
                try skipUnknown(&s, prefix: "")
                continue
            }
            let slot = topKeys.slot(n)
            let bit: UInt32 = 1 << slot.rawValue
            if seen & bit != 0 { throw OrderLineError.duplicateField(Self.name(slot), offset: keyAt) }
            seen |= bit
            switch slot {
            case .orderID: order.orderID = try stringField(&s, "order_id")
            case .customerID: order.customerID = try stringField(&s, "customer_id")
            case .channel: order.channel = try stringField(&s, "channel")
            case .status: order.status = try stringField(&s, "status")
            case .timestamp: try timestamp(&s, millis: topKeys.millis(n), name: topKeys.names[n])
            case .items: try items(&s)
            case .address: try address(&s)
            case .currency:
                order.versionedKeys |= VersionedKey.currency
                order.currency = try stringField(&s, "currency")
            case .discountAmount:
                order.versionedKeys |= VersionedKey.discountAmount
                order.discountCents = try discount(&s)
            case .paymentMethod:
                order.versionedKeys |= VersionedKey.paymentMethod
                order.paymentMethod = try stringField(&s, "payment_method")
            default: break
            }
        }
        s.skipWhitespace()
        if s.i != s.end { throw s.fail(.trailingData) }
    }

    static func name(_ slot: OrderFieldMap.Slot) -> String {
        switch slot {
        case .orderID: return "order_id"
        case .customerID: return "customer_id"
        case .timestamp: return "timestamp"
        case .channel: return "channel"
        case .items: return "items"
        case .address: return "shipping_address"
        case .status: return "status"
        case .currency: return "currency"
        case .discountAmount: return "discount_amount"
        case .paymentMethod: return "payment_method"
        case .productID: return "product_id"
        case .quantity: return "quantity"
        case .unitPrice: return "unit_price"
        case .country: return "country"
        case .state: return "state"
        case .city: return "city"
        }
    }

    /// Matches the next key against `keys`, trying `guess` first: the entry that was the key at
    /// the same member position of such an object on the previous line (`KeyGuesses`).
    @inline(__always)
    private mutating func matchKey(_ s: inout JSONScanner, _ keys: OrderFieldMap.KeySet, guess: Int) throws(JSONError) -> Int {
        // The guess is a known key: `lastKey` (only read for an unknown one) is left as it is.
        if s.i < s.end && s.base[s.i] == 34, let n = keys.plainLength(at: s.base + s.i + 1, readable: s.end - s.i - 1, guess: guess) {
            s.i += n + 2
            try s.expect(58, "':' after a key")
            return guess
        }
        if let span = try s.key(scratch: &keyScratch) {
            lastKey = span
            return keys.match(UnsafeRawBufferPointer(start: s.base + span.start, count: span.count), readable: s.end - span.start, guess: guess)
        }
        lastKey = nil
        return keyScratch.withUnsafeBytes { keys.match($0) }
    }

    /// Notes the last key as unknown (schema drift) and skips its value.
    private mutating func skipUnknown(_ s: inout JSONScanner, prefix: String) throws(JSONError) {
        if order.text.isEmpty { order.text.append(contentsOf: UnsafeBufferPointer(start: s.base, count: s.end)) }
        let start = Int32(order.text.count)
        order.text.append(contentsOf: prefix.utf8)
        if let k = lastKey {
            order.text.append(contentsOf: UnsafeBufferPointer(start: s.base + k.start, count: k.count))
        } else {
            order.text.append(contentsOf: keyScratch)
        }
        order.unknownFields.append(TextRef(start: start, count: Int32(order.text.count) - start))
        try s.skipValue(scratch: &skipScratch)
    }

    @inline(__always)
    private mutating func stringField(_ s: inout JSONScanner, _ field: @autoclosure () -> String) throws -> TextRef {
        let c = try s.peek(expecting: "a value")
        if c == 34 {
            let span = try s.stringSpan(into: &order.text)
            return TextRef(start: Int32(span.start), count: Int32(span.count))
        }
        if c == UInt8(ascii: "n") {
            _ = try s.literal()
            return .absent
        }
        // Scan the rest of the value first so a syntax error later in the line still wins.
        let at = s.i
        try s.skipValue(scratch: &skipScratch)
        throw OrderLineError.wrongType(field: field(), expected: "a string", found: JSONScanner.typeName(c), offset: at)
    }

    /// Epoch milliseconds below this in magnitude (before 1973-03-03, or as far before 1970) are
    /// refused: a count of seconds has that size for every date from 1973 to the year 5138, and
    /// read as milliseconds it landed the order in January 1970 with no reject (session 36's
    /// fuzzing: a mobile `ts` of 1705314600 committed on 1970-01-20). No order is that old.
    static let epochSecondsBound: UInt64 = 100_000_000_000

    private mutating func timestamp(_ s: inout JSONScanner, millis: Bool, name: @autoclosure () -> String) throws {
        let c = try s.peek(expecting: "a value")
        let at = s.i
        if c == UInt8(ascii: "n") { _ = try s.literal(); return }
        if millis {
            guard c == 45 || (c >= 48 && c <= 57) else {
                try s.skipValue(scratch: &skipScratch)
                throw OrderLineError.wrongType(field: name(), expected: "epoch milliseconds (an integer)",
                                               found: JSONScanner.typeName(c), offset: at)
            }
            let n = try s.number()
            let span = UnsafeRawBufferPointer(start: s.base + n.start, count: n.count)
            // Whole milliseconds however written (1.7053146e12 is 1705314600000), as counts are;
            // a plain integer first.
            var ms = n.isInteger ? Self.int64(span) : nil
            if ms == nil {
                let exact = ExactDecimal.parse(span, scale: 0)
                if exact == .tooManyPlaces {
                    throw OrderLineError.invalidEpochMillis(field: name(), text: String(decoding: span, as: UTF8.self), offset: at)
                }
                if case .value(let v) = exact { ms = v }
            }
            guard let ms, case let (us, false) = ms.multipliedReportingOverflow(by: 1000), CivilDate.storableMicros.contains(us) else {
                throw OrderLineError.timestampOutOfRange(field: name(), text: String(decoding: span, as: UTF8.self), offset: at)
            }
            if ms.magnitude < Self.epochSecondsBound { throw OrderLineError.epochSeconds(field: name(), millis: ms, offset: at) }
            order.eventTimeMicros = us
            order.eventTimeFromAlias = true
            return
        }
        guard c == 34 else {
            try s.skipValue(scratch: &skipScratch)
            throw OrderLineError.wrongType(field: name(), expected: "an ISO-8601 string",
                                           found: JSONScanner.typeName(c), offset: at)
        }
        let span = try s.stringSpan(into: &order.text)
        // In the line itself, or decoded after it (`JSONScanner.stringSpan`).
        let parsed = span.start + span.count <= s.end
            ? Timestamps.parseISO(UnsafeRawBufferPointer(start: s.base + span.start, count: span.count))
            : order.text.withUnsafeBytes { Timestamps.parseISO(UnsafeRawBufferPointer(rebasing: $0[span.start ..< span.start + span.count])) }
        func quoted() -> String {
            let bytes = span.start + span.count <= s.end
                ? Array(UnsafeBufferPointer(start: s.base + span.start, count: span.count)) : Array(order.text[span.start ..< span.start + span.count])
            return "\"" + String(decoding: bytes, as: UTF8.self) + "\""
        }
        guard let t = parsed else {
            let why = span.start + span.count <= s.end
                ? Timestamps.refusal(UnsafeRawBufferPointer(start: s.base + span.start, count: span.count))
                : order.text.withUnsafeBytes { Timestamps.refusal(UnsafeRawBufferPointer(rebasing: $0[span.start ..< span.start + span.count])) }
            throw OrderLineError.invalidTimestamp(field: name(), text: quoted(), why: why, offset: at)
        }
        guard CivilDate.storableMicros.contains(t) else {
            throw OrderLineError.timestampOutOfRange(field: name(), text: quoted(), offset: at)
        }
        order.eventTimeMicros = t
    }

    private mutating func items(_ s: inout JSONScanner) throws {
        let c = try s.peek(expecting: "a value")
        if c == UInt8(ascii: "n") { _ = try s.literal(); return }
        guard c == UInt8(ascii: "[") else {
            let at = s.i
            try s.skipValue(scratch: &skipScratch)
            throw OrderLineError.wrongType(field: "items", expected: "an array", found: JSONScanner.typeName(c), offset: at)
        }
        s.i += 1
        order.hasItems = true
        let itemKeys = map.item
        var first = true
        while try s.arrayHasElement(first: first) {
            first = false
            let index = order.items.count
            let e = try s.peek(expecting: "an item object")
            guard e == UInt8(ascii: "{") else {
                let at = s.i
                try s.skipValue(scratch: &skipScratch)
                throw OrderLineError.wrongType(field: "items[\(index)]", expected: "an object", found: JSONScanner.typeName(e), offset: at)
            }
            s.i += 1
            var item = ParsedItem()
            var seen: UInt32 = 0
            var firstMember = true
            var position = 0
            while try s.objectHasMember(first: firstMember) {
                firstMember = false
                s.skipWhitespace()
                let keyAt = s.i
                let guess = itemGuesses.at(position)
                let n = try matchKey(&s, itemKeys, guess: guess)
                if n != guess { itemGuesses.set(position, n) }
                position += 1
                guard n >= 0 else {
                    try skipUnknown(&s, prefix: "items[].")
                    continue
                }
                let slot = itemKeys.slot(n)
                let bit: UInt32 = 1 << slot.rawValue
                if seen & bit != 0 { throw OrderLineError.duplicateField("items[\(index)].\(Self.name(slot))", offset: keyAt) }
                seen |= bit
                switch slot {
                case .productID: item.productID = try stringField(&s, "items[\(index)].product_id")
                case .quantity: item.quantity = try numberField(&s, "items[\(index)].quantity", quantity: true)
                case .unitPrice: item.unitPriceCents = try numberField(&s, "items[\(index)].unit_price", quantity: false)
                default: break
                }
            }
            order.items.append(item)
        }
    }

    /// A quantity is any JSON number whose exact value is whole (2, 2.0, 1e2: pandas writes an
    /// integer column that held a null as 2.0); a price any number with at most 2 decimal
    /// places in its exact value (29.99, 29.990, 2.999e1). Both parsed from the bytes by
    /// `ExactDecimal`, never rounded: 2.5 and 29.999 are refused.
    @inline(__always)
    private mutating func numberField(_ s: inout JSONScanner, _ field: @autoclosure () -> String, quantity: Bool) throws -> Int64? {
        let c = try s.peek(expecting: "a value")
        let at = s.i
        if let v = s.plainDecimal(scale: quantity ? 0 : 2) { return v }
        if c == UInt8(ascii: "n") { _ = try s.literal(); return nil }
        guard c == 45 || (c >= 48 && c <= 57) else {
            try s.skipValue(scratch: &skipScratch)
            let found = "(a \(JSONScanner.typeName(c)))"
            throw quantity
                ? OrderLineError.invalidQuantity(field: field(), text: found, problem: .notANumber, offset: at)
                : OrderLineError.invalidPrice(field: field(), text: found, problem: .notANumber, offset: at)
        }
        let n = try s.number()
        let span = UnsafeRawBufferPointer(start: s.base + n.start, count: n.count)
        if quantity {
            // A plain integer first (nearly every line); 2.0, 1e2, 100e-2 are whole numbers too.
            if n.isInteger, let v = Self.int64(span) { return v }
            let exact = ExactDecimal.parse(span, scale: 0)
            guard case .value(let v) = exact else {
                throw OrderLineError.invalidQuantity(field: field(), text: String(decoding: span, as: UTF8.self), problem: NumberProblem(exact)!, offset: at)
            }
            return v
        }
        // A plain decimal first (nearly every line), exactly as `ExactDecimal` would read it.
        if let cents = DecimalText.parse(span, scale: 2) { return cents }
        let exact = ExactDecimal.parse(span, scale: 2)
        guard case .value(let cents) = exact else {
            throw OrderLineError.invalidPrice(field: field(), text: String(decoding: span, as: UTF8.self), problem: NumberProblem(exact)!, offset: at)
        }
        return cents
    }

    /// discount_amount: at most 2 decimal places, parsed exactly like a price;
    /// the sign and the bound (the order total) are the validator's job.
    private mutating func discount(_ s: inout JSONScanner) throws -> Int64? {
        let c = try s.peek(expecting: "a value")
        let at = s.i
        if let v = s.plainDecimal(scale: 2) { return v }
        if c == UInt8(ascii: "n") { _ = try s.literal(); return nil }
        guard c == 45 || (c >= 48 && c <= 57) else {
            try s.skipValue(scratch: &skipScratch)
            throw OrderLineError.invalidDiscount(text: "(a \(JSONScanner.typeName(c)))", problem: .notANumber, offset: at)
        }
        let n = try s.number()
        let span = UnsafeRawBufferPointer(start: s.base + n.start, count: n.count)
        if let cents = DecimalText.parse(span, scale: 2) { return cents }
        let exact = ExactDecimal.parse(span, scale: 2)
        guard case .value(let cents) = exact else {
            throw OrderLineError.invalidDiscount(text: String(decoding: span, as: UTF8.self), problem: NumberProblem(exact)!, offset: at)
        }
        return cents
    }

    private mutating func address(_ s: inout JSONScanner) throws {
        let c = try s.peek(expecting: "a value")
        if c == UInt8(ascii: "n") { _ = try s.literal(); return }
        guard c == UInt8(ascii: "{") else {
            let at = s.i
            try s.skipValue(scratch: &skipScratch)
            throw OrderLineError.wrongType(field: "shipping_address", expected: "an object", found: JSONScanner.typeName(c), offset: at)
        }
        s.i += 1
        order.hasAddress = true
        let addressKeys = map.address
        var seen: UInt32 = 0
        var first = true
        var position = 0
        while try s.objectHasMember(first: first) {
            first = false
            s.skipWhitespace()
            let keyAt = s.i
            let guess = addressGuesses.at(position)
            let n = try matchKey(&s, addressKeys, guess: guess)
            if n != guess { addressGuesses.set(position, n) }
            position += 1
            guard n >= 0 else {
                try skipUnknown(&s, prefix: "shipping_address.")
                continue
            }
            let slot = addressKeys.slot(n)
            let bit: UInt32 = 1 << slot.rawValue
            if seen & bit != 0 { throw OrderLineError.duplicateField("shipping_address.\(Self.name(slot))", offset: keyAt) }
            seen |= bit
            switch slot {
            case .country: order.country = try stringField(&s, "shipping_address.country")
            case .state: order.state = try stringField(&s, "shipping_address.state")
            case .city: order.city = try stringField(&s, "shipping_address.city")
            default: break
            }
        }
    }

    /// A JSON integer's text as Int64; nil on overflow.
    @inline(__always)
    static func int64(_ p: UnsafeRawBufferPointer) -> Int64? {
        var i = 0
        var negative = false
        if p[0] == 45 { negative = true; i = 1 }
        var v: Int64 = 0
        while i < p.count {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(p[i] - 48))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        return negative ? -v : v
    }
}

/// The key entry matched at each of an object's first 16 member positions on the previous
/// line (-1: none yet), as plain bytes: reading and updating it is no array access.
struct KeyGuesses: Sendable {
    private var entries: (UInt64, UInt64) = (~0, ~0)

    @inline(__always)
    func at(_ position: Int) -> Int {
        guard position < 16 else { return -1 }
        let word = position < 8 ? entries.0 : entries.1
        let byte = UInt8(truncatingIfNeeded: word >> UInt64((position & 7) * 8))
        return byte == 0xFF ? -1 : Int(byte)
    }

    @inline(__always)
    mutating func set(_ position: Int, _ entry: Int) {
        guard position < 16 else { return }
        let byte = UInt64(entry >= 0 && entry < 0xFF ? UInt8(entry) : 0xFF)
        let shift = UInt64((position & 7) * 8)
        if position < 8 {
            entries.0 = entries.0 & ~(0xFF << shift) | byte << shift
        } else {
            entries.1 = entries.1 & ~(0xFF << shift) | byte << shift
        }
    }
}

/// Bits of `ParsedOrder.versionedKeys`: source keys that exist only from orders v2 on.
public enum VersionedKey {
    public static let currency: UInt8 = 1
    public static let discountAmount: UInt8 = 2
    public static let paymentMethod: UInt8 = 4
    /// (bit, source key, the curated orders column it feeds)
    public static let all: [(bit: UInt8, key: String, column: String)] = [
        (currency, "currency", "currency"), (discountAmount, "discount_amount", "discount_amount"),
        (paymentMethod, "payment_method", "payment_method"),
    ]
}
