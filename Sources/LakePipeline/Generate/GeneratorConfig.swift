import LakeFormat
/// What `lake generate` produces. Everything random flows from `seed`, so the same config
/// always yields byte-identical files.
public struct GeneratorConfig: Sendable, Equatable {
    /// Lines in orders_stream.jsonl before spikes (every line is one received event, including
    /// faulty lines and replays, matching "1,000 orders in JSONL").
    public var orders: Int = 1000
    public var days: Int = 30
    /// First day, as days since 1970-01-01 (default 2024-01-01).
    public var startDay: Int64 = CivilDate.days(year: 2024, month: 1, day: 1)
    public var seed: UInt64 = GeneratorConfig.sampleSeed
    public var schemaVersion: Int = 1
    public var spikes: [Spike] = []
    public var faults: FaultRates = .standard
    public var products: Int = 50
    public var inventoryRows: Int = 50

    public init() {}

    /// The seed of the bundled sample (Evaluation-Files is `lake generate --seed 42`, pinned by
    /// GeneratorTests). Its order ids keep their original numbering.
    public static let sampleSeed: UInt64 = 42
    /// `lake generate`'s default: not the sample's, so a fresh file ingested next to the sample
    /// adds new orders instead of 1,000 duplicates (GeneratorTests checks no order id is shared).
    public static let defaultSeed: UInt64 = 2026
}

/// Multiplies the orders of one day and channel (for anomaly detection tests).
public struct Spike: Sendable, Equatable {
    public var day: Int64
    public var channel: String
    public var factor: Double

    public init(day: Int64, channel: String, factor: Double) {
        self.day = day
        self.channel = channel
        self.factor = factor
    }

    /// Parses "2024-01-20:web:5x" (the trailing x is optional; factor may be fractional).
    public init(parsing text: String) throws(GeneratorError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 else { throw .badSpike(text, "expected DATE:CHANNEL:FACTORx, e.g. 2024-01-20:web:5x") }
        guard let day = CivilDate.parse(parts[0]) else { throw .badSpike(text, "date must be YYYY-MM-DD") }
        guard OrderGenerator.channels.contains(parts[1]) else {
            throw .badSpike(text, "channel must be one of \(OrderGenerator.channels.joined(separator: ", "))")
        }
        var f = parts[2]
        if f.hasSuffix("x") || f.hasSuffix("X") { f.removeLast() }
        guard let factor = Double(f), factor >= 1, factor <= 1000 else { throw .badSpike(text, "factor must be a number from 1 to 1000") }
        self.init(day: day, channel: parts[1], factor: factor)
    }
}

/// Probability per order line of each injected fault. At most one fault per line. The sum of
/// the rejecting ones is the expected reject rate (about 6% by default).
public struct FaultRates: Sendable, Equatable {
    /// Line cut short at a random byte (a producer crashed mid-write).
    public var truncated = 0.005
    /// A colon dropped after a key (a hand-rolled serializer bug).
    public var syntax = 0.005
    /// A required field absent, or present as "".
    public var missingField = 0.01
    /// One item with quantity 0 or negative.
    public var badQuantity = 0.01
    /// One item with a negative unit price.
    public var negativePrice = 0.005
    /// One item whose product id is not in the catalog.
    public var unknownProduct = 0.01
    /// channel or status outside its enum ("WEB", "shipped").
    public var badEnum = 0.005
    /// An earlier accepted line sent again, byte for byte (at-least-once delivery).
    public var replay = 0.01
    /// Valid order whose timestamp is 1-3 days before its neighbours (accepted).
    public var late = 0.01
    /// Share of mobile orders in the app's v2 shape: customerId, ts as epoch millis, \u escapes
    /// (accepted; normalised through the registry aliases).
    public var mobileVariant = 0.3

    public static let standard = FaultRates()
    public static let none = FaultRates(
        truncated: 0, syntax: 0, missingField: 0, badQuantity: 0, negativePrice: 0, unknownProduct: 0,
        badEnum: 0, replay: 0, late: 0, mobileVariant: 0)

    public init() {}

    public init(truncated: Double, syntax: Double, missingField: Double, badQuantity: Double, negativePrice: Double,
                unknownProduct: Double, badEnum: Double, replay: Double, late: Double, mobileVariant: Double) {
        self.truncated = truncated
        self.syntax = syntax
        self.missingField = missingField
        self.badQuantity = badQuantity
        self.negativePrice = negativePrice
        self.unknownProduct = unknownProduct
        self.badEnum = badEnum
        self.replay = replay
        self.late = late
        self.mobileVariant = mobileVariant
    }
}

/// Kinds of line the generator wrote, for its summary and for tests that check the validator
/// finds exactly what was injected.
public enum GeneratedLineKind: String, CaseIterable, Sendable {
    case clean, mobileVariant = "mobile_variant", late
    case truncated, syntax, missingField = "missing_field", badQuantity = "bad_quantity"
    case negativePrice = "negative_price", unknownProduct = "unknown_product", badEnum = "bad_enum", replay

    /// Whether a correct validator must reject lines of this kind.
    public var rejected: Bool {
        switch self {
        case .clean, .mobileVariant, .late: return false
        default: return true
        }
    }
}

public struct GenerationSummary: Sendable, Equatable {
    public var lines = 0
    public var counts: [GeneratedLineKind: Int] = [:]
    /// Sum of the order totals (unscaled cents) of lines a correct validator accepts.
    public var acceptedTotalCents: Int64 = 0
    public var acceptedItems = 0
    public var orderBytes: Int64 = 0
    public var products = 0
    public var inventoryRows = 0
    public var inventoryBadRows = 0

    public var expectedAccepted: Int { counts.filter { !$0.key.rejected }.reduce(0) { $0 + $1.value } }
    public var expectedRejected: Int { counts.filter { $0.key.rejected }.reduce(0) { $0 + $1.value } }
}

public enum GeneratorError: Error, CustomStringConvertible, Equatable {
    case badSpike(String, String)
    case badConfig(String)
    case unsupportedSchemaVersion(Int)
    case io(FileIOError)

    public var description: String {
        switch self {
        case .badSpike(let s, let why): return "--spike \(s): \(why)"
        case .badConfig(let why): return "invalid generator settings: \(why)"
        case .unsupportedSchemaVersion(let v): return "--schema-version \(v): versions 1 and 2 of the order stream are defined (2 adds currency, discount_amount, payment_method: schemas/orders v2)"
        case .io(let e): return e.description
        }
    }
}
