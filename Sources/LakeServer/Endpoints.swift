import Foundation
import LakeCatalog
import LakeQuery

/// The data endpoints: each one a `lake` report, the parameters it takes, and how they become
/// the report's options. The CLI command that prints the same bytes is noted per endpoint.
enum DataEndpoint: String, CaseIterable, Sendable {
    case dailySales = "daily_sales"         // lake report daily-revenue
    case topCustomers = "top_customers"     // lake report top-customers
    case productMetrics = "product_metrics" // lake report product-metrics
    case inventory                          // lake report inventory
    case snapshots                          // lake report snapshots
    case tables                             // lake report tables
    case quality                            // lake quality report

    var path: String { "/api/v1/\(rawValue)" }

    /// The report `Reports.run` computes; nil for quality, which has its own entry point.
    var report: ReportName? {
        switch self {
        case .dailySales: return .dailyRevenue
        case .topCustomers: return .topCustomers
        case .productMetrics: return .productMetrics
        case .inventory: return .inventory
        case .snapshots: return .snapshots
        case .tables: return .tables
        case .quality: return nil
        }
    }

    var parameters: Set<String> {
        switch self {
        case .dailySales: return ["as_of", "from", "to", "channel", "country"]
        case .topCustomers: return ["as_of", "limit", "by"]
        case .productMetrics: return ["as_of", "limit", "category"]
        case .inventory: return ["as_of", "low_stock"]
        case .snapshots, .tables, .quality: return ["as_of"]
        }
    }

    static let maxLimit = 1000

    /// The report options for these parameters; every bad value is a 400 naming its parameter.
    /// `inLake`: the channels the lake's orders hold at the request's snapshot, asked only for
    /// a channel `channels` (the registry's) does not list.
    func options(_ q: QueryParameters, channels: [String], inLake: () throws(APIError) -> [String] = { [] }) throws(APIError) -> ReportOptions {
        var o = ReportOptions()
        switch self {
        case .dailySales:
            o.from = try q.date("from")
            o.to = try q.date("to")
            if let f = o.from, let t = o.to, f > t {
                throw .badParameter(name: "from", detail: "\(q["from"]!) is after to=\(q["to"]!)")
            }
            if let given = q["channel"], !channels.contains(given) {
                o.channel = try q.oneOf("channel", channels + (try inLake()).filter { !channels.contains($0) })
            } else {
                o.channel = try q.oneOf("channel", channels)
            }
            o.country = try q.text("country")
        case .topCustomers:
            o.limit = try q.integer("limit", in: 1 ... Self.maxLimit)
            o.ranking = try q.oneOf("by", CustomerRanking.allCases.map(\.rawValue)).flatMap(CustomerRanking.init(rawValue:)) ?? .spend
        case .productMetrics:
            o.limit = try q.integer("limit", in: 1 ... Self.maxLimit)
            o.category = try q.text("category")
        case .inventory:
            if let n = try q.integer("low_stock", in: 0 ... 1_000_000_000) { o.lowStock = Int64(n) }
        case .snapshots, .tables, .quality:
            break
        }
        return o
    }
}
