import ArgumentParser
import Foundation
import LakeCatalog
import LakePipeline
import LakeQuery

/// Options every report command shares, beside `LakeOptions` and `AsOfOption`, which each
/// command declares itself: an option group inside an option group made a debug build's
/// argument parsing several times slower (swift-argument-parser's debug checks validate every
/// group again inside each check of its parent), and the tests run debug `lake` thousands of times.
struct ReportFlags: ParsableArguments {
    @Option(help: ArgumentHelp("First event date of the window (YYYY-MM-DD).", valueName: "DATE"))
    var from: String?
    @Option(help: ArgumentHelp("Last event date of the window (YYYY-MM-DD).", valueName: "DATE"))
    var to: String?
    @Option(help: "Only this channel (web, mobile, api; or another one the lake's orders hold, e.g. written by DuckDB).")
    var channel: String?
    @Option(parsing: .unconditional, help: "At most this many rows in the main table.")
    var limit: Int?
    @Option(help: "daily-revenue, top-customers: only orders shipped to this country.")
    var country: String?
    @Option(help: "product-metrics: only products of this category.")
    var category: String?
    @Option(help: "top-customers: rank by spend or orders (default: spend).")
    var by: CustomerRanking?
    @Option(help: "Output format: table, csv or json.")
    var format: ResultTable.Format = .table

    /// The settings given on the command line: `ReportOptions.check` refuses one the report
    /// does not read.
    var given: Set<ReportSetting> {
        var g: Set<ReportSetting> = []
        if from != nil { g.insert(.from) }
        if to != nil { g.insert(.to) }
        if channel != nil { g.insert(.channel) }
        if limit != nil { g.insert(.limit) }
        if country != nil { g.insert(.country) }
        if category != nil { g.insert(.category) }
        if by != nil { g.insert(.ranking) }
        return g
    }

    /// The options for `report` on `catalog`, refused as a usage error when they would print
    /// other figures than the ones asked for (`ReportOptions.check`).
    func options(for report: ReportName, asOf: AsOf?, stock: StockFlags? = nil, catalog: Catalog) throws -> ReportOptions {
        var o = try options(asOf: asOf)
        var given = self.given
        if let stock {
            stock.apply(to: &o)
            given.formUnion(stock.given)
        }
        // The channels of every version of orders the registry and the lake know, read only to
        // check a --channel: resolving the registry (its stored and built-in versions, parsed
        // with Foundation's JSON) cost every report about 48 M instructions, 15 ms.
        let channels = o.channel == nil ? [] : try LakeStore.registry(RegistryOptions.environmentSource, catalog: catalog).orderChannels()
        // Another channel is looked for in the lake's data only when given (a catalog query).
        let inLake = try o.channel.map { given in
            channels.contains(where: { $0.utf8.elementsEqual(given.utf8) }) ? [] : try Reports.channelsInLake(catalog: catalog, asOf: o.asOf)
        } ?? []
        do { try o.check(for: report, given: given, channels: channels, inLake: inLake) } catch { throw ValidationError(error.description) }
        return o
    }

    func options(asOf: AsOf?) throws -> ReportOptions {
        var o = ReportOptions()
        o.asOf = asOf
        func day(_ text: String?, _ flag: String) throws -> Int32? {
            guard let text else { return nil }
            guard let d = LakeCatalog.Timestamps.parseDate(text) else { throw ValidationError("\(flag) \(text): expected a date YYYY-MM-DD") }
            return Int32(d)
        }
        o.from = try day(from, "--from")
        o.to = try day(to, "--to")
        o.channel = channel
        o.limit = limit
        o.country = country
        o.category = category
        o.ranking = by ?? .spend
        return o
    }
}

/// The inventory report's own thresholds (also taken by `report diff`).
struct StockFlags: ParsableArguments {
    @Option(name: .customLong("low-stock"), parsing: .unconditional, help: "Units on hand below which stock is low (default: 20).")
    var lowStock: Int64?
    @Option(name: .customLong("min-days-of-cover"), parsing: .unconditional, help: "Days of cover below which stock is low (default: 7).")
    var minDaysOfCover: Double?

    var given: Set<ReportSetting> {
        var g: Set<ReportSetting> = []
        if lowStock != nil { g.insert(.lowStock) }
        if minDaysOfCover != nil { g.insert(.minDaysOfCover) }
        return g
    }

    func apply(to o: inout ReportOptions) {
        if let lowStock { o.lowStock = lowStock }
        if let minDaysOfCover { o.minDaysOfCover = minDaysOfCover }
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Business reports, at any point in time.",
        discussion: """
          lake report daily-revenue --from 2024-01-01 --to 2024-01-07 --channel web
          lake report top-products --limit 5 --format json
          lake report inventory --low-stock 30
          lake report customers --as-of 3
          lake report operations
          lake report diff daily-revenue --from-snapshot 3 --to-snapshot 5

        Revenue counts confirmed orders; pending and cancelled are counted in their own columns. `lake report NAME --help` describes each report.
        """,
        subcommands: [DailyRevenueReport.self, TopProductsReport.self, InventoryReport.self, CustomersReport.self,
                      OperationsReport.self, TopCustomersReport.self, ProductMetricsReport.self, SnapshotsReport.self,
                      TablesReport.self, DiffReport.self, ShowReport.self]
    )
}

/// A report as its own subcommand, so `lake report inventory --help` describes the inventory
/// report (one generic `show NAME` made every report's help the same).
protocol NamedReportCommand: ParsableCommand {
    static var reportName: ReportName { get }
    var lake: LakeOptions { get }
    var when: AsOfOption { get }
    var flags: ReportFlags { get }
    /// The inventory thresholds, for the reports that take them.
    var stockFlags: StockFlags? { get }
}

extension NamedReportCommand {
    var stockFlags: StockFlags? { nil }

    func run() throws {
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false, readOnly: true)
        let options = try flags.options(for: Self.reportName, asOf: when.asOf, stock: stockFlags, catalog: catalog)
        print(try Reports.run(Self.reportName, catalog: catalog, options: options).render(flags.format, maxCellWidth: tableCellWidth))
    }
}

struct DailyRevenueReport: NamedReportCommand {
    static let reportName = ReportName.dailyRevenue
    static let configuration = CommandConfiguration(
        commandName: reportName.rawValue, abstract: "Orders, units and confirmed revenue per event date, channel and country.",
        discussion: """
          lake report daily-revenue
          lake report daily-revenue --from 2024-01-01 --to 2024-01-07 --channel web
          lake report daily-revenue --as-of 3 --format csv > revenue.csv
        """)
    @OptionGroup var lake: LakeOptions
    @OptionGroup var when: AsOfOption
    @OptionGroup var flags: ReportFlags
}

struct TopProductsReport: NamedReportCommand {
    static let reportName = ReportName.topProducts
    static let configuration = CommandConfiguration(
        commandName: reportName.rawValue, abstract: "Products by confirmed revenue, with units, orders, category and brand.",
        discussion: """
          lake report top-products --limit 5
          lake report top-products --from 2024-01-15 --channel mobile --format json
        """)
    @OptionGroup var lake: LakeOptions
    @OptionGroup var when: AsOfOption
    @OptionGroup var flags: ReportFlags
}

struct InventoryReport: NamedReportCommand {
    static let reportName = ReportName.inventory
    static let configuration = CommandConfiguration(
        commandName: reportName.rawValue, abstract: "Stock on hand per product and warehouse, days of cover, and what is running low.",
        discussion: """
        On hand is the latest update per product and warehouse; days of cover is on hand over the warehouse's share of the product's average daily units sold in the window.

          lake report inventory
          lake report inventory --low-stock 30 --min-days-of-cover 10
        """)
    @OptionGroup var lake: LakeOptions
    @OptionGroup var when: AsOfOption
    @OptionGroup var flags: ReportFlags
    @OptionGroup var stock: StockFlags

    var stockFlags: StockFlags? { stock }
}

struct CustomersReport: NamedReportCommand {
    static let reportName = ReportName.customers
    static let configuration = CommandConfiguration(
        commandName: reportName.rawValue, abstract: "Top customers by spend, repeat purchases, and new vs returning customers per day.",
        discussion: """
          lake report customers --limit 10
          lake report customers --as-of 3 --format json
        """)
    @OptionGroup var lake: LakeOptions
    @OptionGroup var when: AsOfOption
    @OptionGroup var flags: ReportFlags
}

struct OperationsReport: NamedReportCommand {
    static let reportName = ReportName.operations
    static let configuration = CommandConfiguration(
        commandName: reportName.rawValue, abstract: "Per ingest run: volumes, rejects, throughput and event-to-commit lag; reject rates per day.",
        discussion: """
        Lag is from an order's event time to the commit that stored it: seconds for a live stream, days for a backfill of old events. Table output shows it as a duration; CSV and JSON give seconds.

          lake report operations
          lake report operations --format json
        """)
    @OptionGroup var lake: LakeOptions
    @OptionGroup var when: AsOfOption
    @OptionGroup var flags: ReportFlags
}

struct TopCustomersReport: NamedReportCommand {
    static let reportName = ReportName.topCustomers
    static let configuration = CommandConfiguration(
        commandName: reportName.rawValue, abstract: "Customer lifetime value: spend, orders, average order value, first and last order, purchase frequency.",
        discussion: """
          lake report top-customers --limit 10
          lake report top-customers --by orders --country US --format json
        """)
    @OptionGroup var lake: LakeOptions
    @OptionGroup var when: AsOfOption
    @OptionGroup var flags: ReportFlags
}

struct ProductMetricsReport: NamedReportCommand {
    static let reportName = ReportName.productMetrics
    static let configuration = CommandConfiguration(
        commandName: reportName.rawValue, abstract: "Per product: revenue, units, orders, ranks, stock on hand, inventory valuation and days of cover.",
        discussion: """
          lake report product-metrics --limit 20
          lake report product-metrics --category Electronics --format json
        """)
    @OptionGroup var lake: LakeOptions
    @OptionGroup var when: AsOfOption
    @OptionGroup var flags: ReportFlags
}

struct SnapshotsReport: NamedReportCommand {
    static let reportName = ReportName.snapshots
    static let configuration = CommandConfiguration(
        commandName: reportName.rawValue, abstract: "The lake's snapshots as a report (what `lake serve` answers at /api/v1/snapshots).",
        discussion: """
          lake report snapshots --format json
        """)
    @OptionGroup var lake: LakeOptions
    @OptionGroup var when: AsOfOption
    @OptionGroup var flags: ReportFlags
}

struct TablesReport: NamedReportCommand {
    static let reportName = ReportName.tables
    static let configuration = CommandConfiguration(
        commandName: reportName.rawValue, abstract: "The lake's tables at a snapshot as a report (what `lake serve` answers at /api/v1/tables).",
        discussion: """
          lake report tables --as-of 3 --format json
        """)
    @OptionGroup var lake: LakeOptions
    @OptionGroup var when: AsOfOption
    @OptionGroup var flags: ReportFlags
}

/// `lake report show NAME`, kept for scripts written before each report had its own command.
struct ShowReport: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a report by name.", shouldDisplay: false)

    @Argument(help: ArgumentHelp("The report.", valueName: "NAME"))
    var name: ReportName
    @OptionGroup var lake: LakeOptions
    @OptionGroup var when: AsOfOption
    @OptionGroup var flags: ReportFlags
    @OptionGroup var stock: StockFlags

    func run() throws {
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false, readOnly: true)
        let options = try flags.options(for: name, asOf: when.asOf, stock: stock, catalog: catalog)
        print(try Reports.run(name, catalog: catalog, options: options).render(flags.format, maxCellWidth: tableCellWidth))
    }
}

struct DiffReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff", abstract: "How a report changed between two snapshots.",
        discussion: """
        Rows are matched on the report's key columns (e.g. date, channel, country). A changed row gives one line per changed column with its old and new value; an added or removed row gives one line per column.

          lake report diff daily-revenue --from-snapshot 3 --to-snapshot 5
          lake report diff top-products --from-snapshot 2 --format json
          lake report diff inventory --from-snapshot 1 --low-stock 30
        """)

    @Argument(help: ArgumentHelp("The report.", valueName: "NAME"))
    var name: ReportName
    @Option(name: .customLong("from-snapshot"), parsing: .unconditional, help: "The earlier snapshot id.")
    var fromSnapshot: Int64
    @Option(name: .customLong("to-snapshot"), parsing: .unconditional, help: "The later snapshot id (default: the latest).")
    var toSnapshot: Int64?
    @OptionGroup var lake: LakeOptions
    @OptionGroup var when: AsOfOption
    @OptionGroup var flags: ReportFlags
    @OptionGroup var stock: StockFlags

    func run() throws {
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false, readOnly: true)
        let to = try toSnapshot ?? catalog.latestSnapshot().id
        do { try ReportDiff.check(from: fromSnapshot, to: to, toIsLatest: toSnapshot == nil) } catch { throw ValidationError(error.description) }
        let options = try flags.options(for: name, asOf: when.asOf, stock: stock, catalog: catalog)
        print(try ReportDiff.run(name, catalog: catalog, from: fromSnapshot, to: to, options: options).render(flags.format, maxCellWidth: tableCellWidth))
    }
}
extension CustomerRanking: ExpressibleByArgument {}
extension ReportName: ExpressibleByArgument {}
