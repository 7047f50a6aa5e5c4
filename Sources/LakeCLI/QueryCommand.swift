import ArgumentParser
import Foundation
import LakeCatalog
import LakeQuery


struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Scan a table with filters, grouping and aggregates, at any snapshot.",
        discussion: """
        Conditions on partition columns (event_date, channel) open no file outside the range; other \
        conditions skip files and row groups by their min/max statistics. Only the named columns are read.

          lake query orders --where "channel = web" --where "event_date = 2024-01-15"
          lake query order_items --group-by category --agg "sum(line_revenue)" \\
            --agg "count(*)" --order-by "sum(line_revenue) desc"
          lake query raw.orders --where "reject_reason != ''" --limit 20 \\
            --columns line_number,reject_reason,reject_detail
          lake query orders --agg "count(*)" --as-of 3 --explain

        For ad-hoc SQL, attach the lake to DuckDB (see README).
        """)

    @OptionGroup var lake: LakeOptions
    @Argument(help: "Table as layer.name (curated.orders, raw.orders); a bare name means curated.")
    var table: String
    @Option(help: "Comma-separated columns to return (default: all); repeatable.")
    var columns: [String] = []
    @Option(name: .customLong("where"), help: "A condition COLUMN OP VALUE (OP: = != < <= > >= in between); repeatable, all must hold.")
    var conditions: [String] = []
    @Option(name: .customLong("group-by"), help: "Comma-separated grouping columns; repeatable (a second --group-by adds columns).")
    var groupBy: [String] = []
    @Option(help: "An aggregate: count(*), count(col), count_distinct(col), sum(col), min(col), max(col), avg(col); repeatable.")
    var agg: [String] = []
    @Option(name: .customLong("order-by"), help: "A result column, optionally followed by asc or desc; repeatable. Text orders by its bytes and NULLs come last either way, as in DuckDB.")
    var orderBy: [String] = []
    @Option(parsing: .unconditional, help: "At most this many rows.")
    var limit: Int?
    @OptionGroup var when: AsOfOption
    @Option(help: "Output format: table, csv or json.")
    var format: ResultTable.Format = .table
    @Flag(help: "Print the scan plan (files and row groups considered, pruned, read) after the result.")
    var explain = false

    /// The errors a corrected command line fixes; a column of a type lake cannot read needs
    /// DuckDB instead, so it stays a plain failure.
    static func isUsage(_ error: QueryError) -> Bool {
        switch error {
        case .unknownTable, .unknownColumn, .badPredicate, .badValue, .badAggregate, .badOrder, .noColumns: return true
        case .unreadableColumn, .unknownReport, .badOption, .moneyNotInCents: return false
        }
    }

    func validate() throws {
        // A negative limit trapped in the result's trim.
        if let limit, limit < 0 { throw ValidationError("--limit \(limit): expected 0 or more rows") }
        // `--group-by ""` is no grouping, which lists every row when no --agg is given.
        if !groupBy.isEmpty && Self.names(groupBy).isEmpty {
            throw ValidationError("--group-by names no column: give comma-separated column names (--group-by channel,country)")
        }
    }

    /// The names in repeated comma-separated options, trimmed; empty ones dropped.
    static func names(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    }

    func run() throws {
        var spec = QuerySpec(table: table)
        // Repeated options add up (one used to replace the other silently).
        spec.columns = columns.isEmpty ? nil : Self.names(columns)
        spec.conditions = conditions
        spec.groupBy = Self.names(groupBy)
        spec.orderBy = orderBy
        spec.limit = limit
        spec.asOf = when.asOf
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false, readOnly: true)
        let result: QueryResult
        do {
            spec.aggregates = try agg.map(AggregateSpec.parse)
            result = try Query.run(spec, catalog: catalog)
        } catch let error as QueryError where Self.isUsage(error) {
            // A misspelt table, column, condition or aggregate is the command line's fault:
            // exit 64 with the usage, as a report's unknown option is.
            throw ValidationError(error.description)
        }
        print(result.table.render(format, maxCellWidth: tableCellWidth))
        if !result.omittedColumns.isEmpty {
            printError("note: not shown: \(result.omittedColumns.joined(separator: ", ")) (types lake cannot read; query them with DuckDB)")
        }
        if explain {
            let s = result.stats
            printError("""
            plan: \(spec.table) at snapshot \(result.snapshot)
              conditions: \(conditions.isEmpty ? "none" : conditions.joined(separator: " AND "))
              files: \(s.filesConsidered) considered, \(s.filesPrunedByPartition) pruned by partition, \(s.filesPrunedByStatistics) skipped by statistics, \(s.filesRead) read
              row groups: \(s.rowGroupsConsidered) considered, \(s.rowGroupsSkipped) skipped by statistics, \(s.rowGroupsRead) read
              rows: \(s.rowsRead) decoded\(s.rowsDeleted > 0 ? " (\(s.rowsDeleted) more removed by delete files)" : ""), \(s.rowsMatched) matched
            """)
        }
    }
}
