import Foundation

// The quality figures of one order batch, computed by the ingest while it validates and stored
// in `lake_quality_figure` in the same transaction as the batch's data (one snapshot per batch).
// `lake quality`, anomalies, metrics and the dashboard add these up instead of reading the
// batch's rows back. The figures are counts per (event date, channel) cell, so any grouping the
// checks need (per batch, per day, per day × channel) is a sum over cells; a rewrite of the data
// (compaction, migration) moves rows between files but changes no figure.

/// One stored figure: a count (`n`) or a sum of doubles (`x`) for one (event date, channel)
/// cell of one batch; `detail` carries text evidence (a mismatch example).
public struct QualityFigure: Sendable, Equatable {
    public var batchSnapshotID: Int64
    public var batchID: String
    public var eventDate: Int32
    public var channel: String
    public var metric: QualityFigureMetric
    public var n: Int64
    public var x: Double
    public var detail: String?

    public init(batchSnapshotID: Int64 = 0, batchID: String, eventDate: Int32, channel: String, metric: QualityFigureMetric, n: Int64,
                x: Double = 0, detail: String? = nil) {
        self.batchSnapshotID = batchSnapshotID
        self.batchID = batchID
        self.eventDate = eventDate
        self.channel = channel
        self.metric = metric
        self.n = n
        self.x = x
        self.detail = detail
    }
}

/// What a stored figure counts. Its text (`description`) is `lake_quality_figure.metric`:
/// a fixed name, or `reject:<reason>` / `missing:<field>` for the open-ended ones.
public enum QualityFigureMetric: Hashable, Sendable, StoredAsText {
    /// raw.orders lines.
    case records
    /// curated.orders rows and curated.order_items rows.
    case orders, items
    /// Confirmed revenue in cents (`n`; a cell past Int64 in several rows, `QualityFigures.int64Parts`)
    /// and the sum of squared confirmed order totals in units (`x`).
    case confirmedCents, confirmedSquares
    /// Curated orders with a null or empty state / city.
    case stateNulls, cityNulls
    /// Orders whose order_total differs from the sum of their items' line_revenue; whose item_count differs from their item rows.
    case totalMismatch, itemCountMismatch
    /// A mismatch example (`detail`), at most three per batch.
    case totalMismatchExample
    /// Raw lines rejected for this reason (its stored name).
    case rejects(reason: String)
    /// missing_field rejects naming this field.
    case missing(field: String)
    /// A metric this build does not know (a newer build's figure): kept, not needed by the checks.
    case other(String)

    static let rejectPrefix = "reject:", missingPrefix = "missing:"
    private static let fixed: [String: QualityFigureMetric] = Dictionary(uniqueKeysWithValues: [
        QualityFigureMetric.records, .orders, .items, .confirmedCents, .confirmedSquares, .stateNulls, .cityNulls, .totalMismatch,
        .itemCountMismatch, .totalMismatchExample,
    ].map { ($0.description, $0) })

    public init(parsing text: String) {
        if let m = Self.fixed[text] {
            self = m
        } else if text.hasPrefix(Self.rejectPrefix) {
            self = .rejects(reason: String(text.dropFirst(Self.rejectPrefix.count)))
        } else if text.hasPrefix(Self.missingPrefix) {
            self = .missing(field: String(text.dropFirst(Self.missingPrefix.count)))
        } else {
            self = .other(text)
        }
    }

    public var description: String {
        switch self {
        case .records: return "records"
        case .orders: return "orders"
        case .items: return "items"
        case .confirmedCents: return "confirmed_cents"
        case .confirmedSquares: return "confirmed_squares"
        case .stateNulls: return "state_nulls"
        case .cityNulls: return "city_nulls"
        case .totalMismatch: return "total_mismatch"
        case .itemCountMismatch: return "item_count_mismatch"
        case .totalMismatchExample: return "total_mismatch_example"
        case .rejects(let reason): return Self.rejectPrefix + reason
        case .missing(let field): return Self.missingPrefix + field
        case .other(let text): return text
        }
    }
}

/// Row totals of the tables the figures describe, at one snapshot: the figures stand in for a
/// rescan only when they add up to exactly these (see `QualityFigures.covers`).
public struct QualityFigureCoverage: Sendable, Equatable {
    public var rawRows: Int64
    public var orderRows: Int64
    public var itemRows: Int64
}

enum QualityFigureTable {
    static let ddl = """
        CREATE TABLE IF NOT EXISTS lake_quality_figure (
            batch_snapshot_id BIGINT NOT NULL, batch_id VARCHAR NOT NULL, event_date INTEGER NOT NULL,
            channel VARCHAR NOT NULL, metric VARCHAR NOT NULL, n BIGINT NOT NULL, x DOUBLE NOT NULL, detail VARCHAR)
        """
    static let index = "CREATE INDEX IF NOT EXISTS lake_quality_figure_snapshot ON lake_quality_figure (batch_snapshot_id)"

    static func exists(_ db: SQLDatabase) throws -> Bool {
        try db.tableExists("lake_quality_figure")
    }
}

extension CatalogTransaction {
    /// Stores a batch's figures under this transaction's snapshot, beside the data they describe.
    public mutating func recordQualityFigures(_ figures: [QualityFigure]) throws {
        try database.insertRows(into: "lake_quality_figure", row: "(?, ?, ?, ?, ?, ?, ?, ?)",
                                figures.map { [snapshotID, $0.batchID, $0.eventDate, $0.channel, $0.metric.description, $0.n, $0.x, $0.detail] })
    }
}

/// What `Catalog.qualityFigures` read: the figures asked for, the live row counts of the three
/// tables, and what the figures of every batch (asked for or not) add up to for them.
public struct StoredQualityFigures: Sendable {
    public var figures: [QualityFigure]
    public var coverage: QualityFigureCoverage
    public var totals: QualityFigureCoverage
    /// Another engine changed the tables' rows since the first figures were stored
    /// (`Catalog.foreignRowChanges`): an UPDATE keeps every count, so the counts alone cannot tell.
    public var foreignChanges = false
    /// The figures describe the tables exactly (see `QualityFigureCoverage`).
    public var coversTables: Bool { !figures.isEmpty && totals == coverage && !foreignChanges }
}

extension Catalog {
    /// The figures of the batches committed at or before `snapshot` (only `batchIDs`' when
    /// given), with the live row counts of raw.orders, curated.orders and curated.order_items at
    /// it and the figures' totals over every batch, read in one transaction. The totals are
    /// summed by the database, so checking one just-committed batch transfers that batch's
    /// figures only, not the whole history's (a follower commits every second for hours).
    public func qualityFigures(at snapshot: Int64, batchIDs: Set<String>? = nil) throws -> StoredQualityFigures {
        try read { db in
            let hasFigures = try QualityFigureTable.exists(db)
            // The first batch with figures: another engine's row changes after it make them stale.
            let first = hasFigures ? try Int64.fetchOne(db, sql: "SELECT min(batch_snapshot_id) FROM lake_quality_figure WHERE batch_snapshot_id <= ?",
                                                        arguments: [snapshot]) : nil
            var foreign = false
            func rows(_ table: TableName) throws -> Int64 {
                guard let id = try Int64.fetchOne(db, sql: """
                    SELECT t.table_id FROM ducklake_table t JOIN ducklake_schema s ON s.schema_id = t.schema_id
                    WHERE s.schema_name = ? AND t.table_name = ? AND t.begin_snapshot <= ? AND (t.end_snapshot IS NULL OR t.end_snapshot > ?)
                      AND s.begin_snapshot <= ? AND (s.end_snapshot IS NULL OR s.end_snapshot > ?)
                    """, arguments: [table.schema, table.name, snapshot, snapshot, snapshot, snapshot]) else { return 0 }
                // Live rows as readers see them: a delete (erase, dedupe by another tool) makes
                // the stored figures overcount, so they no longer cover the table.
                var n = try Catalog.liveFileRows(db, tableID: id, snapshot: snapshot) - hiddenMergedRows(db, tableID: id, snapshot: snapshot)
                // Rows DuckDB inserted inlined are read by every scan but no batch's figures
                // describe them: counting them makes the figures fall short, so they are not used.
                n += try Catalog.countInlinedRows(db, tableID: id, snapshot: snapshot)
                if let first, !foreign { foreign = try Catalog.foreignRowChanges(db, tableID: id, after: first - 1, through: snapshot) }
                return n
            }
            let coverage = QualityFigureCoverage(rawRows: try rows(.rawOrders), orderRows: try rows(.curatedOrders),
                                                 itemRows: try rows(.curatedOrderItems))
            var totals = QualityFigureCoverage(rawRows: 0, orderRows: 0, itemRows: 0)
            guard hasFigures else { return StoredQualityFigures(figures: [], coverage: coverage, totals: totals) }
            let counted: [QualityFigureMetric] = [.records, .orders, .items]
            for r in try SQLRow.fetchAll(db, sql: """
                SELECT metric, CAST(sum(n) AS BIGINT) FROM lake_quality_figure
                WHERE batch_snapshot_id <= ? AND metric IN (?, ?, ?) GROUP BY metric
                """, arguments: SQLArguments([.int64(snapshot)] + counted.map { .string($0.description) })) {
                let n: Int64 = r[1]
                switch QualityFigureMetric(parsing: r[0]) {
                case .records: totals.rawRows = n
                case .orders: totals.orderRows = n
                case .items: totals.itemRows = n
                default: break
                }
            }
            var sql = "SELECT batch_snapshot_id, batch_id, event_date, channel, metric, n, x, detail FROM lake_quality_figure WHERE batch_snapshot_id <= ?"
            var arguments: [SQLValue] = [.int64(snapshot)]
            if let batchIDs {
                guard !batchIDs.isEmpty else { return StoredQualityFigures(figures: [], coverage: coverage, totals: totals) }
                sql += " AND batch_id IN (" + Array(repeating: "?", count: batchIDs.count).joined(separator: ", ") + ")"
                arguments += batchIDs.sorted().map { .string($0) }
            }
            sql += " ORDER BY batch_snapshot_id, \(db.insertionOrder)"
            var out: [QualityFigure] = []
            let cursor = try SQLRow.fetchCursor(db, sql: sql, arguments: SQLArguments(arguments))
            while let r = try cursor.next() {
                out.append(QualityFigure(batchSnapshotID: r[0], batchID: r[1], eventDate: r[2], channel: r[3], metric: QualityFigureMetric(parsing: r[4]),
                                         n: r[5], x: r[6], detail: r[7]))
            }
            var stored = StoredQualityFigures(figures: out, coverage: coverage, totals: totals)
            stored.foreignChanges = foreign
            return stored
        }
    }
}

public enum QualityFigures {
    /// A 128-bit figure (a cell's confirmed cents: orders each fit DECIMAL(18,2), a batch of
    /// them summed in 128 bits may not fit Int64) as stored rows' `n`: parts that each fit the
    /// BIGINT column and add up to it exactly, a single part (none for 0) whenever it fits.
    /// Readers add up every row of a metric, so a cell stored in several rows reads back
    /// exactly, the table's layout is unchanged (no migration of existing lakes, SQLite or
    /// PostgreSQL), and a build that sums in 64 bits fails on such rows with its overflow
    /// error instead of reading a wrong amount. Rows: about |value| / 2^63, at most one per
    /// nine orders at the DECIMAL(18,2) maximum in one (day, channel) cell of one batch.
    public static func int64Parts(_ value: Int128) -> [Int64] {
        var parts: [Int64] = []
        var rest = value
        while rest > Int128(Int64.max) {
            parts.append(.max)
            rest -= Int128(Int64.max)
        }
        while rest < Int128(Int64.min) {
            parts.append(.min)
            rest -= Int128(Int64.min)
        }
        if rest != 0 { parts.append(Int64(rest)) }
        return parts
    }

    /// The field a missing_field reject names: "orders.jsonl line 9: items[2].quantity is missing"
    /// → items.quantity. The detail starts with where the line was (source name, line number),
    /// which is not the field. The ingest (storing figures) and the rescan (reading
    /// reject_detail back) share it.
    public static func field(_ detail: String?) -> String {
        guard let detail else { return "unknown" }
        return asciiField(detail) ?? characterField(detail)
    }

    /// `field` by Characters: any detail.
    static func characterField(_ detail: String) -> String {
        let rest = afterFirstLocation(detail) ?? detail[...]
        guard let first = rest.split(separator: " ").first else { return "unknown" }
        var name = String(first)
        while let open = name.firstIndex(of: "["), let close = name[open...].firstIndex(of: "]") {
            name.removeSubrange(open ... close)
        }
        return name
    }

    /// `field` of an ASCII detail (every detail a source with an ASCII name gets), read as
    /// bytes; nil for any other. The same answer as the Character scan: in ASCII the only
    /// grapheme of two bytes is "\r\n", and neither byte is a space, a digit, a colon, a bracket
    /// or a letter of "line". Walking Characters cost about 27,000 instructions a reject, 0.8 %
    /// of a 1 M-order ingest's (10,000 rejects, on the thread that settles chunks in order).
    static func asciiField(_ detail: String) -> String? {
        var detail = detail
        return detail.withUTF8 { b -> String? in
            let n = b.count
            for c in b where c >= 0x80 { return nil }
            let (space, colon): (UInt8, UInt8) = (0x20, 0x3A)
            @inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
            // After the leftmost "line <digits>: ", else from the start.
            var rest = 0
            var s = 0
            search: while s + 5 <= n {
                if b[s] == 0x6C && b[s + 1] == 0x69 && b[s + 2] == 0x6E && b[s + 3] == 0x65 && b[s + 4] == space {
                    var i = s + 5
                    while i < n && isDigit(b[i]) { i += 1 }
                    if i > s + 5 && i + 1 < n && b[i] == colon && b[i + 1] == space {
                        rest = i + 2
                        break search
                    }
                }
                s += 1
            }
            // The first word (split on spaces, empty words skipped), without its [subscripts].
            while rest < n && b[rest] == space { rest += 1 }
            guard rest < n else { return "unknown" }
            var end = rest
            while end < n && b[end] != space { end += 1 }
            var name = Array(b[rest ..< end])
            while let open = name.firstIndex(of: 0x5B), let close = name[open...].firstIndex(of: 0x5D) {
                name.removeSubrange(open ... close)
            }
            return String(decoding: name, as: UTF8.self)
        }
    }

    /// What follows the leftmost "line <digits>: " in `detail`, or nil when there is none. A
    /// hand scan over Characters, not a Regex: an ingest calls this once per missing_field
    /// reject, and building and running the Regex cost ~3 % of a 1 M-order run's CPU.
    static func afterFirstLocation(_ detail: String) -> Substring? {
        let prefix: [Character] = ["l", "i", "n", "e", " "]
        @inline(__always) func isDigit(_ c: Character) -> Bool { c.asciiValue.map { (48 ... 57).contains($0) } ?? false }
        var start = detail.startIndex
        while start < detail.endIndex {
            var i = start
            var matched = true
            for p in prefix {
                guard i < detail.endIndex, detail[i] == p else { matched = false; break }
                i = detail.index(after: i)
            }
            if matched {
                var digits = 0
                while i < detail.endIndex, isDigit(detail[i]) { digits += 1; i = detail.index(after: i) }
                if digits > 0, i < detail.endIndex, detail[i] == ":" {
                    let space = detail.index(after: i)
                    if space < detail.endIndex, detail[space] == " " { return detail[detail.index(after: space)...] }
                }
            }
            start = detail.index(after: start)
        }
        return nil
    }
}
