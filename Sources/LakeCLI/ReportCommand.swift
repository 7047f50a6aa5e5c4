import ArgumentParser
import Foundation
import LakeCatalog
import LakeQuery

/// Options every report command shares.
struct ReportFlags: ParsableArguments {
    @OptionGroup var lake: LakeOptions
    @Option(name: .customLong("as-of"), help: "A snapshot id or an ISO-8601 time (default: the latest snapshot).")
    var asOf: String?
    @Option(help: ArgumentHelp("First event date of the window (YYYY-MM-DD).", valueName: "DATE"))
    var from: String?
    @Option(help: ArgumentHelp("Last event date of the window (YYYY-MM-DD).", valueName: "DATE"))
    var to: String?
    @Option(help: "Only this channel (web, mobile, api).")
    var channel: String?
    @Option(help: "At most this many rows in the main table.")
    var limit: Int?
    @Option(name: .customLong("low-stock"), help: "inventory: units on hand below which stock is low.")
    var lowStock: Int64 = 20
    @Option(name: .customLong("min-days-of-cover"), help: "inventory: days of cover below which stock is low.")
    var minDaysOfCover: Double = 7
    @Option(help: "daily-revenue, top-customers: only orders shipped to this country.")
    var country: String?
    @Option(help: "product-metrics: only products of this category.")
    var category: String?
    @Option(help: "top-customers: rank by spend or orders.")
    var by: CustomerRanking = .spend
    @Option(help: "Output format: table, csv or json.")
    var format: ResultTable.Format = .table

    func options() throws -> ReportOptions {
        var o = ReportOptions()
        o.asOf = try asOf.map { try AsOf.parse($0) }
        func day(_ text: String?, _ flag: String) throws -> Int32? {
            guard let text else { return nil }
            guard let d = LakeCatalog.Timestamps.parseDate(text) else { throw ValidationError("\(flag) \(text): expected a date YYYY-MM-DD") }
            return Int32(d)
        }
        o.from = try day(from, "--from")
        o.to = try day(to, "--to")
        o.channel = channel
        o.limit = limit
        o.lowStock = lowStock
        o.minDaysOfCover = minDaysOfCover
        o.country = country
        o.category = category
        o.ranking = by
        return o
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Business reports, at any point in time.",
        discussion: """
        Reports: \(Reports.names.joined(separator: ", ")).

          lake report daily-revenue --from 2024-01-01 --to 2024-01-07 --channel web
          lake report top-products --limit 5 --format json
          lake report inventory --low-stock 30
          lake report customers --as-of 2024-02-01T00:00:00Z
          lake report operations
          lake report diff daily-revenue --from-snapshot 3 --to-snapshot 5

        Revenue counts confirmed orders; pending and cancelled are counted in their own columns.
        """,
        subcommands: [ShowReport.self, DiffReport.self],
        defaultSubcommand: ShowReport.self
    )
}

struct ShowReport: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a report (the default: `lake report NAME`).")

    @Argument(help: ArgumentHelp("The report: \(Reports.names.joined(separator: ", ")).", valueName: "NAME"))
    var name: String
    @OptionGroup var flags: ReportFlags

    func run() throws {
        let catalog = try Catalog.open(root: flags.lake.root, create: false, readOnly: true)
        print(try Reports.run(name, catalog: catalog, options: try flags.options()).render(flags.format))
    }
}

struct DiffReport: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "How a report changed between two snapshots.")

    @Argument(help: ArgumentHelp("The report.", valueName: "NAME"))
    var name: String
    @Option(name: .customLong("from-snapshot"), help: "The earlier snapshot id.")
    var fromSnapshot: Int64
    @Option(name: .customLong("to-snapshot"), help: "The later snapshot id (default: the latest).")
    var toSnapshot: Int64?
    @OptionGroup var flags: ReportFlags

    func run() throws {
        let catalog = try Catalog.open(root: flags.lake.root, create: false, readOnly: true)
        let to = try toSnapshot ?? catalog.latestSnapshot().id
        print(try ReportDiff.run(name, catalog: catalog, from: fromSnapshot, to: to, options: try flags.options()).render(flags.format))
    }
}
extension CustomerRanking: ExpressibleByArgument {}
