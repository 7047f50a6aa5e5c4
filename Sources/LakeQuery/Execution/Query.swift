import LakeCatalog
import LakeFormat

/// An aggregate over a column (or over rows, for count(*)).
public struct AggregateSpec: Sendable, Equatable {
    public enum Function: String, Sendable, CaseIterable {
        case count, count_distinct, sum, min, max, avg
    }

    public var function: Function
    /// nil for count(*).
    public var column: String?

    public var label: String { "\(function.rawValue)(\(column ?? "*"))" }

    /// Parses "sum(order_total)", "count(*)", "count_distinct(customer_id)".
    public static func parse(_ text: String) throws -> AggregateSpec {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard let open = t.firstIndex(of: "("), t.hasSuffix(")") else {
            throw QueryError.badAggregate(text, reason: "missing parentheses")
        }
        let name = String(t[..<open]).trimmingCharacters(in: .whitespaces)
        guard let f = Function(rawValue: name) else { throw QueryError.badAggregate(text, reason: "unknown function \(name)") }
        let arg = String(t[t.index(after: open) ..< t.index(before: t.endIndex)]).trimmingCharacters(in: .whitespaces)
        if arg == "*" {
            guard f == .count else { throw QueryError.badAggregate(text, reason: "only count takes *") }
            return AggregateSpec(function: f, column: nil)
        }
        guard !arg.isEmpty else { throw QueryError.badAggregate(text, reason: "no column") }
        return AggregateSpec(function: f, column: arg)
    }
}

/// What `lake query` asks for.
public struct QuerySpec: Sendable {
    public var table: String
    public var columns: [String]?
    /// "COLUMN OP VALUE" conditions, all of which must hold.
    public var conditions: [String] = []
    public var groupBy: [String] = []
    public var aggregates: [AggregateSpec] = []
    /// "column [asc|desc]", by result column.
    public var orderBy: [String] = []
    public var limit: Int?
    public var asOf: AsOf?

    public init(table: String) { self.table = table }
}

public struct QueryResult: Sendable {
    public var table: ResultTable
    public var stats: ScanStats
    public var snapshot: Int64
    public var conditions: [ColumnPredicate]
    /// Columns left out of an all-columns listing because lake cannot read their type; the
    /// CLI says so, so a missing column is never mistaken for an absent one.
    public var omittedColumns: [String] = []
}

public enum Query {
    /// Parses "channel = web", "channel = 'web'", "event_date >= 2024-01-10",
    /// "channel in (web, mobile)", "status in confirmed,pending",
    /// "event_date between 2024-01-01 and 2024-01-07" (grammar: `ConditionSyntax`), with the
    /// values typed by the column.
    public static func parseCondition(_ text: String, scan: TableScan) throws -> ColumnPredicate {
        let c = try ConditionSyntax.parse(text)
        return try scan.predicate(c.column, c.op, c.values)
    }

    public static func run(_ spec: QuerySpec, catalog: Catalog) throws -> QueryResult {
        if let limit = spec.limit, limit < 0 { throw QueryError.badOption("--limit \(limit): expected 0 or more rows") }
        if spec.columns?.isEmpty == true { throw QueryError.noColumns }
        let scan = try TableScan(catalog: catalog, name: spec.table, asOf: spec.asOf)
        let predicates = try spec.conditions.map { try parseCondition($0, scan: scan) }
        let aggregating = !spec.aggregates.isEmpty || !spec.groupBy.isEmpty
        var table: ResultTable
        var stats: ScanStats
        var omitted: [String] = []
        if aggregating {
            let aggColumns = spec.aggregates.compactMap(\.column)
            var needed: [String] = []
            for c in spec.groupBy + aggColumns where !needed.contains(c) { needed.append(c) }
            if needed.isEmpty, let first = scan.readableColumnNames.first { needed = [first] }
            let template = try Grouper(groupBy: spec.groupBy, aggregates: spec.aggregates, scan: scan)
            let grouper: Grouper
            if template.mergesExactly {
                // Each worker groups the files it decodes; the groups merge in scan order.
                let (states, s) = try scan.reduce(columns: needed, where: predicates, sizedState: { template.sized(rows: $0) }) { g, file, batches in
                    for (i, b) in batches.enumerated() { try g.add(b, file: file, batch: i) }
                }
                stats = s
                grouper = try Grouper.merged(states) ?? template
            } else {
                let (batches, s) = try scan.run(columns: needed, where: predicates)
                stats = s
                var g = template
                for b in batches { try g.add(b) }
                grouper = g
            }
            table = grouper.result()
        } else {
            let columns = spec.columns ?? scan.readableColumnNames
            if spec.columns == nil { omitted = scan.columnNames.filter { !columns.contains($0) } }
            let (batches, s) = try scan.run(columns: columns, where: predicates)
            stats = s
            table = ResultTable(columns: columns)
            let cap = spec.orderBy.isEmpty ? spec.limit : nil
            outer: for b in batches {
                let types = b.batch.schema.fields.map(\.type)
                for row in b.selection.map({ $0.map(Int.init) }) ?? Array(0 ..< b.batch.count) {
                    if let cap, table.rows.count >= cap { break outer }
                    table.rows.append(b.batch.columns.indices.map { cellValue(b.batch.columns[$0], types[$0], row) })
                }
            }
        }
        try order(&table, by: spec.orderBy)
        if let limit = spec.limit, table.rows.count > limit { table.rows.removeLast(table.rows.count - limit) }
        return QueryResult(table: table, stats: stats, snapshot: scan.snapshot.id, conditions: predicates, omittedColumns: omitted)
    }

    static func order(_ table: inout ResultTable, by keys: [String]) throws {
        guard !keys.isEmpty else { return }
        let parsed: [(Int, Bool)] = try keys.map { key in
            let parts = key.split(separator: " ").map { String($0) }
            guard let name = parts.first, parts.count <= 2 else { throw QueryError.badOrder(key) }
            let desc = parts.count == 2 ? (parts[1].lowercased() == "desc" ? true : parts[1].lowercased() == "asc" ? false : nil) : false
            guard let desc, let i = table.columns.firstIndex(where: { $0.lowercased() == name.lowercased() }) else {
                throw QueryError.badOrder(key)
            }
            return (i, desc)
        }
        // Nulls last in either direction, as DuckDB orders them (`less` alone, reversed, put them first).
        table.rows.sort { a, b in
            for (i, desc) in parsed {
                switch (a[i], b[i]) {
                case (.null, .null): continue
                case (.null, _): return false
                case (_, .null): return true
                default: break
                }
                if Value.less(a[i], b[i]) { return !desc }
                if Value.less(b[i], a[i]) { return desc }
            }
            return false
        }
    }
}

/// One cell of a column as a result value.
func cellValue(_ c: Column, _ type: ColumnType, _ row: Int) -> Value {
    if c.isNull(row) { return .null }
    switch (c.data, type) {
    case (.bool(let a), _): return .bool(a[row])
    case (.int32(let a), .date): return .date(a[row])
    case (.int32(let a), _): return .int(Int64(a[row]))
    case (.int64(let a), .timestamp): return .timestamp(a[row])
    case (.int64(let a), .decimal(_, let s)): return .decimal(Int128(a[row]), scale: s)
    case (.int64(let a), _): return .int(a[row])
    case (.double(let a), _): return .real(a[row])
    case (.string, _), (.dictionary, _): return c.string(at: row).map(Value.string) ?? .null
    }
}

/// Interns strings to dense ids so grouping and distinct counting hash integers, not strings.
struct StringInterner {
    private var keys = KeyInterner()

    init() {}

    init(expected: Int) { keys = KeyInterner(expected: expected) }

    /// Per-row ids of a string column for the batch's matching rows (-1 for the rest, which
    /// are never read): values only filtered-out rows hold are not interned, and a dictionary
    /// entry is interned once.
    mutating func codes(_ c: Column, _ b: ScanBatch) -> [Int64] { Kernels.codes(c, b, &keys).map(Int64.init) }

    /// Codes in this interner for every string of `other`, by `other`'s code: how a worker's
    /// codes become the merged grouper's.
    mutating func adopt(_ other: StringInterner) -> [Int64] {
        let values = other.keys.values
        return (0 ..< values.count).map { i in Int64(values.withBytes(i) { keys.id($0) }) }
    }
}

/// Group keys to group numbers with linear probing and a multiplicative hash: a lookup per
/// scanned row, where `[Key: Int]` ran SipHash over 32 bytes for each.
struct GroupTable {
    private var keys: [Grouper.Key] = []
    private var slots = [Int32](repeating: -1, count: 16)

    @inline(__always)
    private static func hash(_ k: Grouper.Key) -> Int {
        var h = UInt64(bitPattern: k.a) &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ (h >> 29) ^ UInt64(bitPattern: k.b)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 32) ^ UInt64(bitPattern: k.c)) &* 0x94D0_49BB_1331_11EB
        h = (h ^ (h >> 29) ^ UInt64(bitPattern: k.d)) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: h ^ (h >> 32))
    }

    /// Group `g`'s key.
    func key(_ g: Int) -> Grouper.Key { keys[g] }

    func group(of key: Grouper.Key) -> Int? {
        let mask = slots.count - 1
        var s = Self.hash(key) & mask
        while true {
            let e = slots[s]
            if e < 0 { return nil }
            if keys[Int(e)] == key { return Int(e) }
            s = (s + 1) & mask
        }
    }

    /// Adds a key not in the table; groups are numbered 0, 1, 2, ... in insertion order.
    mutating func insert(_ key: Grouper.Key, group: Int) {
        precondition(group == keys.count, "groups are numbered in insertion order")
        keys.append(key)
        if keys.count * 2 > slots.count {
            slots = [Int32](repeating: -1, count: slots.count * 2)
            for (i, k) in keys.enumerated() { place(k, Int32(i)) }
        } else {
            place(key, Int32(group))
        }
    }

    private mutating func place(_ key: Grouper.Key, _ value: Int32) {
        let mask = slots.count - 1
        var s = Self.hash(key) & mask
        while slots[s] >= 0 { s = (s + 1) & mask }
        slots[s] = value
    }
}

/// The distinct codes of one group for count_distinct: an open-addressing set of 64-bit codes
/// (string ids, integers, double bit patterns, Int64.min for null never reaches it) with a
/// multiplicative hash instead of `Set<Int64>`'s SipHash per row.
struct DistinctCodes {
    private var slots = [Int64](repeating: 0, count: 16)
    /// Whether code 0 is in the set (0 marks an empty slot).
    private var hasZero = false
    private(set) var count = 0

    @inline(__always)
    mutating func insert(_ v: Int64) {
        if v == 0 {
            if !hasZero { hasZero = true; count += 1 }
            return
        }
        let mask = slots.count - 1
        var h = UInt64(bitPattern: v) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 32
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = slots[s]
            if e == v { return }
            if e == 0 { break }
            s = (s + 1) & mask
        }
        slots[s] = v
        count += 1
        if (count - (hasZero ? 1 : 0)) * 2 > slots.count { grow() }
    }

    /// Calls `body` with every code in the set.
    func forEach(_ body: (Int64) -> Void) {
        if hasZero { body(0) }
        for v in slots where v != 0 { body(v) }
    }

    private mutating func grow() {
        let old = slots
        slots = [Int64](repeating: 0, count: old.count * 2)
        let mask = slots.count - 1
        for v in old where v != 0 {
            var h = UInt64(bitPattern: v) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 32
            var s = Int(truncatingIfNeeded: h) & mask
            while slots[s] != 0 { s = (s + 1) & mask }
            slots[s] = v
        }
    }
}

/// Where a row sits in scan order: the file (catalog order, inlined rows last), the batch of
/// that file, the row of the batch. Groups are listed, and ties among minima and maxima broken,
/// by it, so workers that each grouped some of the files merge into what one pass in scan
/// order gives.
struct ScanPosition: Comparable {
    var file: Int, batch: Int, row: Int

    static func < (x: ScanPosition, y: ScanPosition) -> Bool { (x.file, x.batch, x.row) < (y.file, y.batch, y.row) }
}

/// Hash aggregation: group keys as up to four integer codes, exact integer sums for ints and
/// decimals (128 bits, as DuckDB sums them into HUGEINT / DECIMAL(38)), the first row's values
/// kept to print each group.
struct Grouper {
    /// Up to four key codes, and which of them are NULL: a null's code (Int64.min) is also a
    /// real int64 value, so the flag, not the code, tells the NULL group apart.
    struct Key: Hashable { var a: Int64 = 0, b: Int64 = 0, c: Int64 = 0, d: Int64 = 0, nulls: UInt8 = 0 }

    let groupBy: [String]
    let aggregates: [AggregateSpec]
    let types: [String: ColumnType]
    private var interner = StringInterner()
    private var groups = GroupTable()
    private var keyValues: [[Value]] = []
    /// Each group's first row.
    private var firsts: [ScanPosition] = []
    private var counts: [[Int64]]
    /// 128 bits: fewer than 2^64 rows of Int64 values cannot overflow (the add stays checked).
    private var sums: [[Int128]]
    private var doubleSums: [[Double]]
    private var extremes: [[Value]]
    /// Where each min/max was first seen.
    private var extremeAt: [[ScanPosition]]
    private var distinct: [[DistinctCodes]]
    private var overflow = false
    /// Batches `add(_:)` has numbered (the serial path's positions).
    private var batchesAdded = 0

    init(groupBy: [String], aggregates: [AggregateSpec], scan: TableScan) throws {
        var t: [String: ColumnType] = [:]
        for c in groupBy + aggregates.compactMap(\.column) { t[c] = try scan.type(of: c) }
        try self.init(groupBy: groupBy, aggregates: aggregates, types: t)
    }

    /// `types` holds the type of every grouped and aggregated column.
    init(groupBy: [String], aggregates: [AggregateSpec], types t: [String: ColumnType]) throws {
        guard groupBy.count <= 4 else { throw QueryError.badOption("at most four --group-by columns") }
        self.groupBy = groupBy
        self.aggregates = aggregates
        for a in aggregates {
            guard let c = a.column, let type = t[c] else { continue }
            if a.function == .sum || a.function == .avg {
                switch type {
                case .string, .bool, .date, .timestamp:
                    throw QueryError.badAggregate(a.label, reason: "\(c) is \(type), not a number")
                default: break
                }
            }
        }
        types = t
        counts = Array(repeating: [], count: aggregates.count)
        sums = Array(repeating: [], count: aggregates.count)
        doubleSums = Array(repeating: [], count: aggregates.count)
        extremes = Array(repeating: [], count: aggregates.count)
        extremeAt = Array(repeating: [], count: aggregates.count)
        distinct = Array(repeating: [], count: aggregates.count)
    }

    /// Whether groupers that each saw part of the rows merge into exactly what one grouper fed
    /// every row in scan order gives. Not over a double column: a floating-point sum's rounding
    /// depends on the order of the additions, and a min or max with a NaN on which value came
    /// first (NaN compares neither less nor greater).
    var mergesExactly: Bool {
        !aggregates.contains { a in a.function != .count && a.function != .count_distinct && a.column.flatMap { types[$0] } == .double }
    }

    /// Static: a method on `self` handed `&self.interner` would run on a copy of `self`, which
    /// shares the interner's buffers, so every new string would copy the whole table.
    /// This (empty) grouper for a worker handed up to `rows` rows: a distinct count of strings
    /// (customer or order ids) sizes the interner for half of them up front. Grouping keys alone
    /// do not: they are mostly few (channels, statuses).
    func sized(rows: Int) -> Grouper {
        var g = self
        if aggregates.contains(where: { $0.function == .count_distinct && $0.column.flatMap { types[$0] } == .string }) {
            g.interner = StringInterner(expected: max(64, rows / 2))
        }
        return g
    }

    private static func codes(_ c: Column, _ b: ScanBatch, interner: inout StringInterner) -> [Int64] {
        var out: [Int64]
        switch c.data {
        case .bool(let a): out = a.map { $0 ? 1 : 0 }
        case .int32(let a): out = a.map(Int64.init)
        case .int64(let a): out = a
        // Values that compare equal share a code, as in SQL: -0.0 groups with 0.0 (its bit
        // pattern is also the null code), and every NaN is one value.
        case .double(let a): out = a.map { Int64(bitPattern: $0 == 0 ? 0 : $0.isNaN ? Double.nan.bitPattern : $0.bitPattern) }
        case .string, .dictionary: out = interner.codes(c, b)
        }
        if let v = c.validity { for i in out.indices where !v[i] { out[i] = Int64.min } }
        return out
    }

    /// Adds the next batch of a serial scan (batches in scan order).
    mutating func add(_ scan: ScanBatch) throws {
        batchesAdded += 1
        try add(scan, file: 0, batch: batchesAdded)
    }

    /// Adds batch `batch` of file `file` (positions in scan order, see `ScanPosition`).
    mutating func add(_ scan: ScanBatch, file: Int, batch: Int) throws {
        let b = scan.batch
        let keyColumns = groupBy.map { b.column($0)! }
        let keyCodes = keyColumns.map { Self.codes($0, scan, interner: &interner) }
        let keyValid = keyColumns.map(\.validity)
        let rows = scan.selection.map { $0.map(Int.init) } ?? Array(0 ..< b.count)
        // Each row's group. Files are partitioned, so a row's key is mostly the previous row's:
        // that one is checked before the table.
        var groupOf = [Int32](repeating: 0, count: rows.count)
        var last: (key: Key, group: Int32)?
        for (j, row) in rows.enumerated() {
            var key = Key()
            for k in keyCodes.indices {
                let code = keyCodes[k][row]
                switch k {
                case 0: key.a = code
                case 1: key.b = code
                case 2: key.c = code
                default: key.d = code
                }
                if let v = keyValid[k], !v[row] { key.nulls |= 1 << k }
            }
            if let last, last.key == key { groupOf[j] = last.group; continue }
            let g: Int
            if let existing = groups.group(of: key) {
                g = existing
                // A grouper may see files out of scan order: the earliest row names the group.
                let here = ScanPosition(file: file, batch: batch, row: row)
                if here < firsts[g] {
                    firsts[g] = here
                    keyValues[g] = groupBy.map { cellValue(b.column($0)!, types[$0]!, row) }
                }
            } else {
                g = keyValues.count
                groups.insert(key, group: g)
                keyValues.append(groupBy.map { cellValue(b.column($0)!, types[$0]!, row) })
                appendGroup(first: ScanPosition(file: file, batch: batch, row: row))
            }
            groupOf[j] = Int32(g)
            last = (key, Int32(g))
        }
        for (i, a) in aggregates.enumerated() {
            var count = counts[i]
            counts[i] = []
            defer { counts[i] = count }
            guard let name = a.column, let c = b.column(name) else {
                for g in groupOf { count[Int(g)] += 1 }
                continue
            }
            let valid = c.validity
            func each(_ body: (_ group: Int, _ row: Int) -> Void) {
                for (j, row) in rows.enumerated() where valid?[row] ?? true {
                    let g = Int(groupOf[j])
                    count[g] += 1
                    body(g, row)
                }
            }
            switch a.function {
            case .count:
                each { _, _ in }
            case .count_distinct:
                let codes = Self.codes(c, scan, interner: &interner)
                var sets = distinct[i]
                distinct[i] = []
                each { g, row in sets[g].insert(codes[row]) }
                distinct[i] = sets
            case .sum, .avg:
                switch c.data {
                case .int32(let v):
                    var sum = sums[i]
                    each { g, row in sum[g] = add(sum[g], Int128(v[row])) }
                    sums[i] = sum
                case .int64(let v):
                    var sum = sums[i]
                    each { g, row in sum[g] = add(sum[g], Int128(v[row])) }
                    sums[i] = sum
                case .double(let v):
                    var sum = doubleSums[i]
                    each { g, row in sum[g] += v[row] }
                    doubleSums[i] = sum
                default:
                    each { _, _ in }
                }
            case .min, .max:
                let type = types[name]!
                each { g, row in
                    let v = cellValue(c, type, row)
                    let cur = extremes[i][g], here = ScanPosition(file: file, batch: batch, row: row)
                    if Self.replaces(a.function, v, at: here, cur, at: extremeAt[i][g]) {
                        extremes[i][g] = v
                        extremeAt[i][g] = here
                    }
                }
            }
        }
        if overflow { throw SumOverflow("query: a sum of a column (sum or avg)") }
    }

    /// Whether `v`, seen at `p`, is the min (max) rather than `cur`, seen at `q`: when it is
    /// smaller (larger), or equal and earlier in scan order, since one pass in scan order keeps
    /// the first of equal values (-0.0 and 0.0 print differently).
    private static func replaces(_ f: AggregateSpec.Function, _ v: Value, at p: ScanPosition, _ cur: Value, at q: ScanPosition) -> Bool {
        if cur == .null { return true }
        let better = f == .min ? Value.less(v, cur) : Value.less(cur, v)
        let worse = f == .min ? Value.less(cur, v) : Value.less(v, cur)
        return better || (!worse && p < q)
    }

    private mutating func appendGroup(first: ScanPosition) {
        firsts.append(first)
        for i in aggregates.indices {
            counts[i].append(0); sums[i].append(0); doubleSums[i].append(0); extremes[i].append(.null)
            extremeAt[i].append(first); distinct[i].append(DistinctCodes())
        }
    }

    private mutating func add(_ a: Int128, _ b: Int128) -> Int128 {
        let (r, o) = a.addingReportingOverflow(b)
        if o { overflow = true }
        return r
    }

    /// Groupers that each saw some of the scan's batches (with their positions) as one; nil for none.
    static func merged(_ parts: [Grouper]) throws -> Grouper? {
        guard var out = parts.first else { return nil }
        let stringKeys = out.groupBy.map { out.types[$0] == .string }
        let stringDistinct = out.aggregates.map { a in a.function == .count_distinct && a.column.flatMap { out.types[$0] } == .string }
        for w in parts.dropFirst() {
            out.overflow = out.overflow || w.overflow
            // The worker's string codes in the merged interner.
            let map = out.interner.adopt(w.interner)
            for g in w.keyValues.indices {
                var key = w.groups.key(g)
                for (k, isString) in stringKeys.enumerated() where isString && key.nulls & (1 << k) == 0 {
                    switch k {
                    case 0: key.a = map[Int(key.a)]
                    case 1: key.b = map[Int(key.b)]
                    case 2: key.c = map[Int(key.c)]
                    default: key.d = map[Int(key.d)]
                    }
                }
                let G: Int
                if let existing = out.groups.group(of: key) {
                    G = existing
                    if w.firsts[g] < out.firsts[G] {
                        out.firsts[G] = w.firsts[g]
                        out.keyValues[G] = w.keyValues[g]
                    }
                } else {
                    G = out.keyValues.count
                    out.groups.insert(key, group: G)
                    out.keyValues.append(w.keyValues[g])
                    out.appendGroup(first: w.firsts[g])
                }
                for (i, a) in out.aggregates.enumerated() {
                    out.counts[i][G] += w.counts[i][g]
                    out.sums[i][G] = out.add(out.sums[i][G], w.sums[i][g])
                    out.doubleSums[i][G] += w.doubleSums[i][g]
                    switch a.function {
                    case .min, .max:
                        let v = w.extremes[i][g]
                        if v != .null && replaces(a.function, v, at: w.extremeAt[i][g], out.extremes[i][G], at: out.extremeAt[i][G]) {
                            out.extremes[i][G] = v
                            out.extremeAt[i][G] = w.extremeAt[i][g]
                        }
                    case .count_distinct:
                        w.distinct[i][g].forEach { out.distinct[i][G].insert(stringDistinct[i] ? map[Int($0)] : $0) }
                    default: break
                    }
                }
            }
        }
        if out.overflow { throw SumOverflow("query: a sum of a column (sum or avg)") }
        return out
    }

    func result() -> ResultTable {
        var table = ResultTable(columns: groupBy + aggregates.map(\.label))
        // A global aggregate over no rows still has one row (count 0), as in SQL.
        let groupCount = groupBy.isEmpty ? max(keyValues.count, 1) : keyValues.count
        // Groups in the order of their first rows: a serial grouper made them in that order; merged ones are sorted back.
        let order = keyValues.indices.sorted { firsts[$0] < firsts[$1] } + Array(keyValues.count ..< groupCount)
        for g in order {
            var row = g < keyValues.count ? keyValues[g] : []
            for (i, a) in aggregates.enumerated() {
                let n = g < keyValues.count ? counts[i][g] : 0
                let type = a.column.flatMap { types[$0] }
                switch a.function {
                case .count: row.append(.int(n))
                case .count_distinct: row.append(.int(g < keyValues.count ? Int64(distinct[i][g].count) : 0))
                case .sum:
                    if n == 0 { row.append(.null); continue }
                    switch type {
                    case .decimal(_, let s)?: row.append(.decimal(sums[i][g], scale: s))
                    case .double?: row.append(.real(doubleSums[i][g]))
                    // An integer column's sum past Int64 keeps all its digits (JSON: a string, as money).
                    default: row.append(Int64(exactly: sums[i][g]).map(Value.int) ?? .decimal(sums[i][g], scale: 0))
                    }
                case .avg:
                    if n == 0 { row.append(.null); continue }
                    switch type {
                    case .decimal(_, let s)?: row.append(.decimal(Money.divide(sums[i][g], by: n), scale: s))
                    case .double?: row.append(.real(doubleSums[i][g] / Double(n)))
                    default: row.append(.real(Double(sums[i][g]) / Double(n)))
                    }
                case .min, .max: row.append(g < keyValues.count ? extremes[i][g] : .null)
                }
            }
            table.rows.append(row)
        }
        return table
    }
}

/// Exact money arithmetic on unscaled integers.
public enum Money {
    /// a / b rounded half away from zero (an average of cents stays in cents).
    public static func divide(_ a: Int64, by b: Int64) -> Int64 { rounded(a, b) }

    /// A 128-bit sum of cents over a count, rounded half away from zero: exact for any sum.
    public static func divide(_ a: Int128, by b: Int64) -> Int128 { rounded(a, Int128(b)) }

    private static func rounded<T: FixedWidthInteger & SignedInteger>(_ a: T, _ b: T) -> T {
        guard b != 0 else { return 0 }
        let q = a / b, r = a % b
        if 2 * abs(r) >= abs(b) { return q + ((a < 0) != (b < 0) ? -1 : 1) }
        return q
    }
}
