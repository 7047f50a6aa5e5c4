import LakeCatalog
import LakeFormat

/// The columns every curated.order_items row repeats from its order, kept per order by the
/// quality rescan so that an item disagreeing with its order is found: another engine's UPDATE
/// of curated.orders (`SET status = 'cancelled'`) does not reach the items, and the product
/// reports, which read the items alone, kept counting such an order as confirmed.
struct OrderFields {
    static let repeated = ["status", "channel", "event_time"]
    /// The repeated columns both tables hold, in `repeated`'s order (at most three).
    var names: [String]
    /// One row's values of `names`, unused ones NULL.
    typealias Values = (Int64, Int64, Int64)
    /// By the rescan's order index; read only for orders `recordOrder` was given.
    private var byOrder: [Values] = []
    private let orders: Int
    /// Interned strings: a string's value is `stringBase + k`, far below any timestamp or
    /// integer a column of these holds, so a column whose type differs between the tables
    /// never compares equal by accident.
    private var codes: [String: Int64] = [:]
    private var texts: [String] = []
    private static let null = Int64.min
    private static let stringBase = Int64.min + 1

    /// `orders`: how many order indexes there are.
    init(names: [String], orders: Int) {
        self.names = names
        self.orders = orders
    }

    /// Records order `i`'s values of `names` (`columns` holds them in that order, from row `r`).
    mutating func recordOrder(_ i: Int, _ columns: ArraySlice<Column>, _ r: Int) {
        guard !names.isEmpty else { return }
        if byOrder.isEmpty { byOrder = Array(repeating: (Self.null, Self.null, Self.null), count: orders) }
        byOrder[i] = values(columns, r)
    }

    /// The item's values at row `r` when they differ from its order `i`'s, else nil (also when
    /// no column is shared). Only for an order `recordOrder` was given. The text for a message
    /// is made by `describe`, for the few examples shown, not for every differing item.
    mutating func itemDiffering(from i: Int, _ columns: ArraySlice<Column>, _ r: Int) -> Values? {
        guard !names.isEmpty, !byOrder.isEmpty else { return nil }
        let item = values(columns, r)
        let order = byOrder[i]
        return item == order ? nil : item
    }

    /// How `item` differs from order `i` ("status: item confirmed, order cancelled").
    func describe(_ item: Values, from i: Int) -> String {
        let order = byOrder[i]
        var parts: [String] = []
        for (k, name) in names.enumerated() where Self.field(item, k) != Self.field(order, k) {
            parts.append("\(name): item \(text(Self.field(item, k), name)), order \(text(Self.field(order, k), name))")
        }
        return parts.joined(separator: ", ")
    }

    private mutating func values(_ columns: ArraySlice<Column>, _ r: Int) -> Values {
        var v = (Self.null, Self.null, Self.null)
        for k in names.indices {
            let x = value(columns[columns.startIndex + k], r)
            switch k {
            case 0: v.0 = x
            case 1: v.1 = x
            default: v.2 = x
            }
        }
        return v
    }

    private mutating func value(_ c: Column, _ r: Int) -> Int64 {
        if c.isNull(r) { return Self.null }
        switch c.data {
        case .int64(let a): return a[r]
        case .int32(let a): return Int64(a[r])
        default:
            guard let s = c.string(at: r) else { return Self.null }
            if let code = codes[s] { return code }
            let code = Self.stringBase + Int64(texts.count)
            codes[s] = code
            texts.append(s)
            return code
        }
    }

    private static func field(_ v: Values, _ k: Int) -> Int64 {
        switch k {
        case 0: return v.0
        case 1: return v.1
        default: return v.2
        }
    }

    /// A value for a message: strings as they are, event_time as DuckLake writes a timestamp.
    private func text(_ v: Int64, _ name: String) -> String {
        if v == Self.null { return "NULL" }
        let k = v &- Self.stringBase
        if k >= 0 && k < Int64(texts.count) { return VisibleText.escape(texts[Int(k)]) }
        return name == "event_time" ? StatText.timestamp(micros: v) : String(v)
    }
}
