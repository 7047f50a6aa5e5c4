import Dispatch
import Foundation
import LakeCatalog
import LakeFormat

public enum QueryError: Error, CustomStringConvertible, Equatable {
    case unknownTable(String, available: [String])
    case unknownColumn(table: String, column: String, available: [String])
    case badPredicate(String, reason: String)
    case badValue(column: String, type: String, text: String)
    case badAggregate(String, reason: String)
    case badOrder(String)
    case unknownReport(String, available: [String])
    case badOption(String)

    public var description: String {
        switch self {
        case .unknownTable(let t, let available):
            return "no table \(t) at this snapshot; tables: \(available.joined(separator: ", "))"
        case .unknownColumn(let t, let c, let available):
            return "\(t) has no column \(c); columns: \(available.joined(separator: ", "))"
        case .badPredicate(let p, let reason):
            return "cannot read the condition \"\(p)\": \(reason) (expected COLUMN OP VALUE with OP one of = != < <= > >= in, e.g. \"channel = web\" or \"event_date in 2024-01-01,2024-01-02\")"
        case .badValue(let c, let type, let text):
            return "\"\(text)\" is not a valid \(type) for column \(c)"
        case .badAggregate(let a, let reason):
            return "cannot read the aggregate \"\(a)\": \(reason) (expected count(*), count(col), count_distinct(col), sum(col), min(col), max(col) or avg(col))"
        case .badOrder(let o):
            return "cannot order by \"\(o)\": name a result column, optionally followed by asc or desc"
        case .unknownReport(let r, let available):
            return "no report \(r); reports: \(available.joined(separator: ", "))"
        case .badOption(let detail):
            return detail
        }
    }
}

/// How much of a table a scan touched: what `--explain` prints.
public struct ScanStats: Sendable, Equatable {
    public var filesConsidered = 0
    public var filesPrunedByPartition = 0
    public var filesPrunedByStatistics = 0
    public var filesRead = 0
    public var rowGroupsConsidered = 0
    public var rowGroupsSkipped = 0
    public var rowGroupsRead = 0
    public var rowsRead = 0
    public var rowsMatched = 0

    public init() {}

    public mutating func add(_ o: ScanStats) {
        filesConsidered += o.filesConsidered
        filesPrunedByPartition += o.filesPrunedByPartition
        filesPrunedByStatistics += o.filesPrunedByStatistics
        filesRead += o.filesRead
        rowGroupsConsidered += o.rowGroupsConsidered
        rowGroupsSkipped += o.rowGroupsSkipped
        rowGroupsRead += o.rowGroupsRead
        rowsRead += o.rowsRead
        rowsMatched += o.rowsMatched
    }
}

/// Rows of one row group after filtering: `selection` lists the matching rows (nil: all).
public struct ScanBatch: Sendable {
    public var batch: RecordBatch
    public var selection: [Int32]?

    public var matchedCount: Int { selection?.count ?? batch.count }
}

/// A scan of one table at one snapshot. Planning uses only the catalog (partition values and
/// per-file min/max) and the footers of the files that survive; only the requested columns of
/// the surviving row groups are decoded.
public struct TableScan: Sendable {
    public let catalog: Catalog
    public let table: TableInfo
    public let snapshot: SnapshotInfo

    /// `name` is "layer.table" (curated.orders, raw.orders); a bare name means curated.
    public init(catalog: Catalog, name: String, asOf: AsOf? = nil) throws {
        self.catalog = catalog
        snapshot = try catalog.resolve(asOf)
        let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
        let (schema, table) = parts.count == 2 ? (parts[0], parts[1]) : ("curated", name)
        do {
            self.table = try catalog.table(schema: schema, name: table, at: .snapshot(snapshot.id))
        } catch {
            let available = (try? catalog.tables(at: .snapshot(snapshot.id)).map(\.qualifiedName).sorted()) ?? []
            throw QueryError.unknownTable("\(schema).\(table)", available: available)
        }
    }

    public var columnNames: [String] { table.columns.map(\.name) }

    func column(_ name: String) throws -> ColumnInfo {
        guard let c = table.column(named: name), c.type != nil else {
            throw QueryError.unknownColumn(table: table.qualifiedName, column: name, available: columnNames)
        }
        return c
    }

    public func type(of name: String) throws -> ColumnType { try column(name).type! }

    /// Builds a typed predicate from text: `column op values`, values parsed for the column's type.
    public func predicate(_ columnName: String, _ op: PredicateOp, _ texts: [String]) throws -> ColumnPredicate {
        let type = try type(of: columnName)
        let values = try texts.map { text -> StatValue in
            guard let v = StatParsing.value(text, type) else {
                throw QueryError.badValue(column: columnName, type: type.description, text: text)
            }
            return v
        }
        return ColumnPredicate(columnName, op, values)
    }

    /// Reads `columns` of every row that satisfies all `predicates`, decoding files on all cores.
    public func run(columns: [String], where predicates: [ColumnPredicate] = []) throws -> (batches: [ScanBatch], stats: ScanStats) {
        let wanted = try columns.map(column)
        let filterColumns = try predicates.map { try column($0.column) }
        var stats = ScanStats()
        let files = try catalog.dataFiles(tableID: table.tableID, at: .snapshot(snapshot.id))
        stats.filesConsidered = files.count
        var survivors: [DataFile] = []
        for file in files {
            switch prune(file, predicates, filterColumns) {
            case .partition: stats.filesPrunedByPartition += 1
            case .statistics: stats.filesPrunedByStatistics += 1
            case .keep: survivors.append(file)
            }
        }
        stats.filesRead = survivors.count
        if survivors.isEmpty { return ([], stats) }
        let toRead = survivors

        // Decode files in parallel; each worker keeps its own results in its own slot.
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, survivors.count))
        nonisolated(unsafe) var results = [Result<([ScanBatch], ScanStats), Error>?](repeating: nil, count: survivors.count)
        results.withUnsafeMutableBufferPointer { slots in
            nonisolated(unsafe) let slots = slots
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var i = w
                while i < toRead.count {
                    slots[i] = Result { try readFile(toRead[i], wanted, predicates, filterColumns) }
                    i += workers
                }
            }
        }
        var batches: [ScanBatch] = []
        for r in results {
            let (b, s) = try r!.get()
            batches.append(contentsOf: b)
            stats.add(s)
        }
        return (batches, stats)
    }

    private enum Pruning { case partition, statistics, keep }

    private func prune(_ file: DataFile, _ predicates: [ColumnPredicate], _ columns: [ColumnInfo]) -> Pruning {
        var keep = Pruning.keep
        for (p, c) in zip(predicates, columns) {
            guard let type = c.type else { continue }
            if let text = file.partitionValues[c.name], let v = StatParsing.value(text, type) {
                if !p.mayMatch(ColumnStatistics(min: v, max: v, nullCount: 0)) { return .partition }
                continue
            }
            if let s = file.columnStats[c.columnID] {
                let stats = ColumnStatistics(min: s.min.flatMap { StatParsing.value($0, type) },
                                             max: s.max.flatMap { StatParsing.value($0, type) }, nullCount: s.nullCount)
                if !p.mayMatch(stats, rowCount: file.recordCount) { keep = .statistics }
            }
        }
        return keep
    }

    private func readFile(_ file: DataFile, _ wanted: [ColumnInfo], _ predicates: [ColumnPredicate],
                          _ filterColumns: [ColumnInfo]) throws -> ([ScanBatch], ScanStats) {
        var stats = ScanStats()
        let reader = try ParquetFileReader(path: file.url.path)
        // Columns are matched by field id (DuckLake column id), so renamed columns still resolve;
        // a column the file predates reads as its default.
        func fileIndex(_ c: ColumnInfo) -> Int? {
            if let i = reader.schema.fields.firstIndex(where: { $0.fieldID.map(Int64.init) == c.columnID }) { return i }
            if reader.schema.fields.allSatisfy({ $0.fieldID == nil }) { return reader.schema.index(of: c.name) }
            return nil
        }
        let filePredicates = zip(predicates, filterColumns).compactMap { p, c -> ColumnPredicate? in
            guard let i = fileIndex(c) else { return nil }
            var q = p
            q.column = reader.schema.fields[i].name
            return q
        }
        let groups = reader.rowGroups(matching: filePredicates)
        stats.rowGroupsConsidered = reader.rowGroupCount
        stats.rowGroupsSkipped = reader.rowGroupCount - groups.count
        stats.rowGroupsRead = groups.count
        if groups.isEmpty { return ([], stats) }
        let needed = wanted + filterColumns.filter { f in !wanted.contains { $0.columnID == f.columnID } }
        let present = needed.compactMap(fileIndex)
        let read = try reader.readRowGroups(groups, columns: present, parallelism: 1)
        var out: [ScanBatch] = []
        for b in read {
            let rows = b.count
            stats.rowsRead += rows
            var columns: [Column] = []
            var k = 0
            for c in needed {
                if fileIndex(c) != nil {
                    // A file written before the column was widened holds the narrower type.
                    guard let column = b.columns[k].widened(to: c.type!) else {
                        throw QueryError.badOption("\(file.url.path): column \(c.name) holds values that cannot be read as \(c.type!)")
                    }
                    columns.append(column)
                    k += 1
                } else {
                    columns.append(constantColumn(c, rows: rows))
                }
            }
            let schema = Schema(needed.map { Field($0.name, $0.type!, nullable: $0.nullable, fieldID: Int32($0.columnID)) })
            let full = RecordBatch(schema: schema, columns: columns)
            let selection = try Filter.select(full, predicates)
            let matched = selection?.count ?? rows
            stats.rowsMatched += matched
            if matched == 0 { continue }
            let projected = RecordBatch(schema: Schema(Array(schema.fields.prefix(wanted.count))), columns: Array(columns.prefix(wanted.count)))
            out.append(ScanBatch(batch: projected, selection: selection))
        }
        return (out, stats)
    }

    /// A column missing from an older file: its initial default, else nulls.
    private func constantColumn(_ c: ColumnInfo, rows: Int) -> Column {
        let type = c.type!
        let text = c.initialDefault
        let valid: [Bool]? = text == nil ? Array(repeating: false, count: rows) : nil
        let v = text.flatMap { StatParsing.value($0, type) }
        switch type {
        case .bool:
            if case .bool(let b)? = v { return Column(.bool(Array(repeating: b, count: rows))) }
            return Column(.bool(Array(repeating: false, count: rows)), validity: valid ?? Array(repeating: false, count: rows))
        case .int32, .date:
            if case .int(let i)? = v { return Column(.int32(Array(repeating: Int32(truncatingIfNeeded: i), count: rows))) }
            return Column(.int32(Array(repeating: 0, count: rows)), validity: Array(repeating: false, count: rows))
        case .int64, .timestamp, .decimal:
            if case .int(let i)? = v { return Column(.int64(Array(repeating: i, count: rows))) }
            return Column(.int64(Array(repeating: 0, count: rows)), validity: Array(repeating: false, count: rows))
        case .double:
            if case .double(let d)? = v { return Column(.double(Array(repeating: d, count: rows))) }
            return Column(.double(Array(repeating: 0, count: rows)), validity: Array(repeating: false, count: rows))
        case .string:
            var values = StringColumn()
            if let text { values.append(text) } else { values.appendEmpty() }
            return Column(.dictionary(indices: Array(repeating: 0, count: rows), values: values), validity: valid)
        }
    }
}

/// Text (from the command line, the catalog's stats, partition values) to typed bound values.
public enum StatParsing {
    public static func value(_ text: String, _ type: ColumnType) -> StatValue? {
        let t = text.trimmingCharacters(in: .whitespaces)
        switch type {
        case .bool:
            switch t.lowercased() {
            case "true", "t", "1": return .bool(true)
            case "false", "f", "0": return .bool(false)
            default: return nil
            }
        case .int32, .int64: return Int64(t).map(StatValue.int)
        case .double: return Double(t).map(StatValue.double)
        case .string: return .string(text)
        case .decimal(_, let scale): return DecimalText.parse(t, scale: scale).map(StatValue.int)
        case .date: return LakeCatalog.Timestamps.parseDate(t).map(StatValue.int)
        case .timestamp:
            if let micros = LakeCatalog.Timestamps.parseTimestamp(t) { return .int(micros) }
            return LakeCatalog.Timestamps.parseDate(t).map { .int($0 * 86_400_000_000) }
        }
    }
}
