import Foundation

/// The catalog's database layer: one small interface over the two backends the catalog runs
/// on (SQLite through GRDB, PostgreSQL through libpq). Catalog code speaks SQLite-flavoured SQL
/// with `?` placeholders; `SQLDatabase` runs it on either backend, the PostgreSQL one rewriting
/// the few spellings that differ (see `PostgresSQL.rewrite`).
public enum SQLDialect: Sendable, Equatable {
    case sqlite
    case postgres
}

/// One value read from or bound to a statement; the cases mirror SQLite's storage classes.
/// A PostgreSQL BOOLEAN reads as `.int64` 0/1 (DuckLake stores flags as BIGINT on SQLite).
public enum SQLValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case int64(Int64)
    case double(Double)
    case string(String)
    case blob(Data)

    /// GRDB's spelling, kept so code switching over `value.storage` reads the same on both backends.
    public var storage: SQLValue { self }
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    public var description: String {
        switch self {
        case .null: return "NULL"
        case .int64(let v): return String(v)
        case .double(let v): return String(v)
        case .string(let s): return "'" + s + "'"
        case .blob(let d): return "<\(d.count) bytes>"
        }
    }
}

/// A Swift value that binds to and reads from a `SQLValue`.
public protocol SQLValueConvertible {
    var sqlValue: SQLValue { get }
    static func fromSQL(_ value: SQLValue) -> Self?
}

extension SQLValue: SQLValueConvertible {
    public var sqlValue: SQLValue { self }
    public static func fromSQL(_ value: SQLValue) -> SQLValue? { value }
}

extension Int64: SQLValueConvertible {
    public var sqlValue: SQLValue { .int64(self) }
    public static func fromSQL(_ value: SQLValue) -> Int64? {
        switch value {
        case .int64(let v): return v
        case .double(let d): return d.rounded() == d && abs(d) < 9.2e18 ? Int64(d) : nil
        case .string(let s): return Int64(s)
        default: return nil
        }
    }
}

extension Int: SQLValueConvertible {
    public var sqlValue: SQLValue { .int64(Int64(self)) }
    public static func fromSQL(_ value: SQLValue) -> Int? { Int64.fromSQL(value).map { Int($0) } }
}

extension Int32: SQLValueConvertible {
    public var sqlValue: SQLValue { .int64(Int64(self)) }
    public static func fromSQL(_ value: SQLValue) -> Int32? { Int64.fromSQL(value).flatMap { Int32(exactly: $0) } }
}

extension Double: SQLValueConvertible {
    public var sqlValue: SQLValue { .double(self) }
    public static func fromSQL(_ value: SQLValue) -> Double? {
        switch value {
        case .double(let d): return d
        case .int64(let v): return Double(v)
        case .string(let s): return Double(s)
        default: return nil
        }
    }
}

extension Bool: SQLValueConvertible {
    public var sqlValue: SQLValue { .int64(self ? 1 : 0) }
    public static func fromSQL(_ value: SQLValue) -> Bool? {
        switch value {
        case .int64(let v): return v != 0
        case .double(let d): return d != 0
        case .string(let s): return ["t", "true", "1"].contains(s.lowercased()) ? true : (["f", "false", "0"].contains(s.lowercased()) ? false : nil)
        default: return nil
        }
    }
}

extension String: SQLValueConvertible {
    public var sqlValue: SQLValue { .string(self) }
    public static func fromSQL(_ value: SQLValue) -> String? {
        switch value {
        case .string(let s): return s
        // SQLite hands back what was stored: a number in a VARCHAR column written by another tool.
        case .int64(let v): return String(v)
        case .double(let d): return String(d)
        case .blob(let d): return String(data: d, encoding: .utf8)
        case .null: return nil
        }
    }
}

extension Data: SQLValueConvertible {
    public var sqlValue: SQLValue { .blob(self) }
    public static func fromSQL(_ value: SQLValue) -> Data? {
        switch value {
        case .blob(let d): return d
        case .string(let s): return Data(s.utf8)
        default: return nil
        }
    }
}

extension Optional: SQLValueConvertible where Wrapped: SQLValueConvertible {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
    public static func fromSQL(_ value: SQLValue) -> Wrapped?? {
        if case .null = value { return .some(nil) }
        guard let v = Wrapped.fromSQL(value) else { return nil }
        return .some(v)
    }
}

/// Statement arguments, written as an array literal of bindable values (`[id, name, nil]`).
public struct SQLArguments: ExpressibleByArrayLiteral, Sendable {
    public var values: [SQLValue]
    public init(_ values: [SQLValue]) { self.values = values }
    public init(arrayLiteral elements: (any SQLValueConvertible)?...) {
        values = elements.map { $0?.sqlValue ?? .null }
    }
    /// Appends values; returns nil, like GRDB's `append(contentsOf:)` returns its conflicts.
    @discardableResult
    public mutating func append(contentsOf elements: [(any SQLValueConvertible)?]) -> Bool? {
        values += elements.map { $0?.sqlValue ?? .null }
        return nil
    }
}

/// One fetched row: column names shared by the rows of one statement, and the values.
public struct SQLRow: Sendable {
    final class Names: Sendable {
        let names: [String]
        init(_ names: [String]) { self.names = names }
        func index(of name: String) -> Int? {
            if let i = names.firstIndex(of: name) { return i }
            let lower = name.lowercased()
            return names.firstIndex { $0.lowercased() == lower }
        }
    }
    let names: Names
    public let values: [SQLValue]

    public var columnNames: [String] { names.names }
    public var count: Int { values.count }
    /// GRDB's positional subscript: the value decoded as `T` (`row[2] as SQLValue` for the raw value).
    public subscript<T: SQLValueConvertible>(_ index: Int) -> T {
        guard let decoded = T.fromSQL(values[index]) else { fatalError("cannot read column \(index) (\(values[index])) as \(T.self)") }
        return decoded
    }
    /// GRDB's subscript: the named column decoded as `T` (an optional `T` for NULL-able ones).
    /// A failed conversion traps, as GRDB's does; catalog code uses the throwing `value`.
    public subscript<T: SQLValueConvertible>(_ name: String) -> T {
        let v = names.index(of: name).map { values[$0] } ?? .null
        guard let decoded = T.fromSQL(v) else { fatalError("cannot read column \(name) (\(v)) as \(T.self)") }
        return decoded
    }

    /// The blob at `index` (nil for NULL), GRDB's spelling.
    public func withUnsafeData<R>(atIndex index: Int, _ body: (Data?) throws -> R) rethrows -> R {
        switch values[index] {
        case .blob(let d): return try body(d)
        case .string(let s): return try body(Data(s.utf8))
        default: return try body(nil)
        }
    }
    public func hasColumn(_ name: String) -> Bool { names.index(of: name) != nil }

    /// Decodes a catalog column, reporting NULLs or wrong types in required columns as a
    /// corrupt catalog (a trap would take the whole process down on one bad row).
    public func value<T: SQLValueConvertible>(_ column: String) throws -> T {
        guard let i = names.index(of: column) else {
            throw CatalogError.corrupt("unreadable catalog column \(column): no such column in the result")
        }
        return try value(at: i, column)
    }

    /// The same by position (no per-row name lookup); `column` names it in the error.
    public func value<T: SQLValueConvertible>(at index: Int, _ column: String) throws -> T {
        guard index < values.count else {
            throw CatalogError.corrupt("unreadable catalog column \(column): no column \(index) in the result")
        }
        guard let v = T.fromSQL(values[index]) else {
            throw CatalogError.corrupt("unreadable catalog column \(column): cannot read \(values[index]) as \(T.self)")
        }
        return v
    }
}

/// Rows of one statement, read one at a time (GRDB's cursor shape).
public final class SQLCursor {
    let rows: [SQLRow]
    var position = 0
    init(rows: [SQLRow]) { self.rows = rows }
    public func next() throws -> SQLRow? {
        guard position < rows.count else { return nil }
        defer { position += 1 }
        return rows[position]
    }
}

public struct SQLColumn: Sendable {
    public let name: String
}

/// A database failure, with what the retry logic needs to know about it.
public struct SQLError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// Another writer holds the lock (SQLITE_BUSY/LOCKED, PostgreSQL lock_timeout 55P03), or
        /// the server aborted the transaction to resolve a race (40001 serialization failure,
        /// 40P01 deadlock, 23505 on a snapshot id another engine took first): retry the attempt.
        case retryable
        /// The server cannot be reached, did not answer, or dropped the connection: waiting
        /// for it can help.
        case connection
        /// The server answered and refused this login: a wrong password, a role or database
        /// that does not exist, no pg_hba.conf entry, no CONNECT privilege. The same login is
        /// refused again, so nothing retries it.
        case loginRefused
        case other
    }
    public let kind: Kind
    /// SQLite's result code or PostgreSQL's SQLSTATE.
    public let code: String
    public let message: String
    public var description: String { message }
}

/// One connection inside one transaction (or none, for `writeWithoutTransaction`): the handle
/// every catalog query goes through. Valid only inside the closure that received it.
public final class SQLDatabase {
    public let dialect: SQLDialect
    let backend: any SQLBackend

    init(dialect: SQLDialect, backend: any SQLBackend) {
        self.dialect = dialect
        self.backend = backend
    }

    public func execute(sql: String, arguments: SQLArguments = []) throws {
        try backend.execute(sql: sql, arguments: arguments.values)
    }

    /// `INSERT INTO <table> VALUES row, row, …` for many rows in few statements on PostgreSQL:
    /// each binds at most 65,535 values (its protocol's limit), so a commit's catalog rows cost
    /// a handful of round trips instead of one each. On SQLite, one compiled single-row
    /// statement per row (see below). `row` is the placeholder tuple, e.g.
    /// "(?, ?, NULL)"; every element of `rows` binds its `?`s. `table` is a literal of the
    /// caller's (a table name, with its column list where needed), never a value.
    public func insertRows(into table: String, row: String, _ rows: [SQLArguments]) throws {
        guard let width = rows.first?.values.count else { return }
        // SQLite has no round trip to save: the cost of a many-row statement was compiling it
        // (sqlite3_prepare of 999 placeholders, about 3 M instructions per statement, 90 % of a
        // commit's catalog inserts), so one single-row statement, compiled once per connection,
        // runs once per row.
        if dialect == .sqlite {
            let sql = "INSERT INTO \(table) VALUES " + row
            for r in rows {
                precondition(r.values.count == width, "insertRows: every row binds the same number of values")
                try backend.executePrepared(sql: sql, arguments: r.values)
            }
            return
        }
        // PostgreSQL binds up to 65,535 values a statement: a commit's file column stats (one
        // row per file and column) then take one round trip instead of three.
        let limit = 65_535
        let perStatement = Swift.max(1, limit / Swift.max(width, 1))
        var start = 0
        while start < rows.count {
            let chunk = rows[start ..< Swift.min(rows.count, start + perStatement)]
            var values: [SQLValue] = []
            values.reserveCapacity(chunk.count * width)
            for r in chunk {
                precondition(r.values.count == width, "insertRows: every row binds the same number of values")
                values += r.values
            }
            try backend.execute(sql: "INSERT INTO \(table) VALUES " + Array(repeating: row, count: chunk.count).joined(separator: ", "),
                                arguments: values)
            start += chunk.count
        }
    }

    func fetch(sql: String, arguments: SQLArguments) throws -> [SQLRow] {
        try backend.fetch(sql: sql, arguments: arguments.values)
    }

    /// Whether a table of that name exists (in the catalog's schema on PostgreSQL).
    public func tableExists(_ name: String) throws -> Bool { try backend.tableExists(name) }

    /// The table's columns in declaration order.
    public func columns(in table: String) throws -> [SQLColumn] { try backend.columns(in: table).map(SQLColumn.init(name:)) }

    /// Rows changed by the last statement.
    public var changesCount: Int { backend.changesCount }

    /// The expression naming a row for a later UPDATE/DELETE in the same transaction: SQLite's
    /// rowid, PostgreSQL's ctid (read as `SQLValue`, bound back unchanged).
    public var rowID: String { dialect == .sqlite ? "rowid" : "ctid" }

    /// The column that orders a lake_* table's rows as inserted: SQLite's rowid; on PostgreSQL
    /// the `lake_seq` BIGSERIAL every lake_* table gets (`PostgresSQL.rewrite`).
    public var insertionOrder: String { dialect == .sqlite ? "rowid" : "lake_seq" }

    /// The larger of two values: SQLite's scalar max(a, b); PostgreSQL's max is only an
    /// aggregate, its two-argument form is GREATEST.
    public var greatest: String { dialect == .sqlite ? "max" : "GREATEST" }
}

protocol SQLBackend: AnyObject {
    func execute(sql: String, arguments: [SQLValue]) throws
    /// One statement run many times in a connection's life (the same text, new arguments):
    /// compiled once and kept, where the backend can.
    func executePrepared(sql: String, arguments: [SQLValue]) throws
    func fetch(sql: String, arguments: [SQLValue]) throws -> [SQLRow]
    func tableExists(_ name: String) throws -> Bool
    func columns(in table: String) throws -> [String]
    var changesCount: Int { get }
}

extension SQLBackend {
    func executePrepared(sql: String, arguments: [SQLValue]) throws { try execute(sql: sql, arguments: arguments) }
}

extension SQLRow {
    public static func fetchAll(_ db: SQLDatabase, sql: String, arguments: SQLArguments = []) throws -> [SQLRow] {
        try db.fetch(sql: sql, arguments: arguments)
    }
    public static func fetchOne(_ db: SQLDatabase, sql: String, arguments: SQLArguments = []) throws -> SQLRow? {
        try db.fetch(sql: sql, arguments: arguments).first
    }
    public static func fetchCursor(_ db: SQLDatabase, sql: String, arguments: SQLArguments = []) throws -> SQLCursor {
        SQLCursor(rows: try db.fetch(sql: sql, arguments: arguments))
    }
}

extension SQLValueConvertible {
    /// The first column of the first row; nil when there is no row or it is NULL.
    public static func fetchOne(_ db: SQLDatabase, sql: String, arguments: SQLArguments = []) throws -> Self? {
        guard let row = try db.fetch(sql: sql, arguments: arguments).first, row.count > 0 else { return nil }
        if row.values[0].isNull { return nil }
        guard let v = Self.fromSQL(row.values[0]) else {
            throw CatalogError.corrupt("cannot read \(row.values[0]) as \(Self.self) (\(sql.prefix(80)))")
        }
        return v
    }

    /// The first column of every row (NULLs are an error: use an optional type to allow them).
    public static func fetchAll(_ db: SQLDatabase, sql: String, arguments: SQLArguments = []) throws -> [Self] {
        try db.fetch(sql: sql, arguments: arguments).map { row in
            guard row.count > 0, let v = Self.fromSQL(row.values[0]) else {
                throw CatalogError.corrupt("cannot read \(row.count > 0 ? row.values[0] : .null) as \(Self.self) (\(sql.prefix(80)))")
            }
            return v
        }
    }
}

/// Where a catalog lives and how writers take turns there; one per opened catalog, shared by
/// its copies. `read` sees one consistent snapshot; `write` is one transaction that holds the
/// catalog's write lock (SQLite `BEGIN IMMEDIATE`; PostgreSQL an advisory transaction lock),
/// so writers are serialised exactly as before on both backends.
protocol CatalogStore: AnyObject, Sendable {
    var dialect: SQLDialect { get }
    /// The catalog's location for messages, with any password masked.
    var location: String { get }
    func read<T>(_ body: (SQLDatabase) throws -> T) throws -> T
    func write<T>(_ body: (SQLDatabase) throws -> T) throws -> T
    /// No transaction around `body` (SQLite PRAGMAs that cannot run inside one).
    func writeWithoutTransaction<T>(_ body: (SQLDatabase) throws -> T) throws -> T
    func close() throws
}

/// Thrown inside a write transaction to roll it back (a dry run); caught by the caller.
struct RollbackRequest: Error {}
