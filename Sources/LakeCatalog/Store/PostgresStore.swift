import CLibPQ
import Foundation

/// Where a catalog lives: a SQLite file, or a PostgreSQL database named by a libpq connection
/// string (`postgresql://user@host:port/db` or `host=… dbname=…`). libpq itself reads the
/// password from the string, PGPASSWORD, ~/.pgpass or a PGSERVICE entry.
public enum CatalogLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(URL)
    case postgres(String)

    /// `text` as given to `--catalog` / LAKE_CATALOG: a URL with a postgres scheme or a libpq
    /// keyword string (it has `=`) is PostgreSQL; anything else is a SQLite file path.
    public static func parse(_ text: String) -> CatalogLocation {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("postgresql://") || t.hasPrefix("postgres://") { return .postgres(t) }
        if t.hasPrefix("postgres:") { return .postgres(String(t.dropFirst("postgres:".count))) }
        if t.contains("=") && !t.contains("/") || t.range(of: #"(^|\s)(dbname|host|service)="#, options: .regularExpression) != nil {
            return .postgres(t)
        }
        return .sqlite(URL(fileURLWithPath: t).standardizedFileURL)
    }

    public var isPostgres: Bool { if case .postgres = self { return true } else { return false } }

    /// For messages: the path, or the connection string with any password replaced by `***`.
    public var description: String {
        switch self {
        case .sqlite(let url): return url.path
        case .postgres(let conninfo): return Self.mask(conninfo)
        }
    }

    /// Hides the password of a libpq URL (`user:secret@`, `?password=secret`) or keyword string.
    public static func mask(_ conninfo: String) -> String {
        var s = conninfo
        if let r = s.range(of: #"(://[^:/@?]*):[^@/?]*@"#, options: .regularExpression) {
            let head = s[r].prefix { $0 != "@" }
            let user = head.prefix(upTo: head.lastIndex(of: ":")!)
            s.replaceSubrange(r, with: user + ":***@")
        }
        s = s.replacingOccurrences(of: #"([?&]password=)[^&]*"#, with: "$1***", options: .regularExpression)
        s = s.replacingOccurrences(of: #"(^|\s)password\s*=\s*('([^'\\]|\\.)*'|\S*)"#, with: "$1password=***", options: .regularExpression)
        return s
    }
}

/// The PostgreSQL backend: a small pool of blocking libpq connections. The catalog is
/// synchronous (one transaction per call, on the caller's thread), so a blocking client fits it
/// without an event loop.
final class PostgresStore: CatalogStore, @unchecked Sendable {
    let conninfo: String
    let location: String
    var dialect: SQLDialect { .postgres }
    private let lock = NSLock()
    private var idle: [PGConnection] = []
    /// Catalog tables seen to exist, shared by the pool's connections (see `KnownTables`).
    private let knownTables = KnownTables()
    /// How long a writer waits for another writer's lock before the attempt is retried.
    static let lockTimeoutMillis = 10_000
    /// pg_advisory_xact_lock key all of lake's writers take: "lake" in ASCII.
    static let writeLockKey: Int64 = 0x6C61_6B65

    init(conninfo: String) throws {
        self.conninfo = conninfo
        location = CatalogLocation.mask(conninfo)
        // Connect once now, so a wrong URL or password fails at open with the server's words.
        checkin(try connect())
    }

    deinit {
        for c in idle { c.close() }
    }

    private func connect() throws -> PGConnection {
        let c = try PGConnection(conninfo: conninfo, location: location)
        c.knownTables = knownTables
        return c
    }

    private func checkout() throws -> PGConnection {
        lock.lock()
        let c = idle.popLast()
        lock.unlock()
        return try c ?? connect()
    }

    private func checkin(_ c: PGConnection) {
        guard c.isHealthy else { c.close(); return }
        lock.lock()
        if idle.count < 4 { idle.append(c); lock.unlock() } else { lock.unlock(); c.close() }
    }

    /// A connection with `begin` run on it. A pooled connection the server ended while it sat
    /// idle (a server restart, a failover, pg_terminate_backend, idle_session_timeout) fails its
    /// first statement; nothing of the transaction ran yet, so a new connection takes its place
    /// instead of failing the command (session 14 probe: compactions failed at BEGIN after all
    /// their reads and file writes). A new connection failing too is reported.
    private func begun(_ begin: [String], writes: Bool) throws -> PGConnection {
        var c = try checkout()
        for attempt in 1 ... 2 {
            c.inReadOnlyTransaction = !writes
            do {
                for statement in begin { try c.execute(sql: statement, arguments: []) }
                return c
            } catch let e as SQLError where attempt == 1 && (e.kind == .connection || !c.isConnected) {
                c.close()
                c = try connect()
            } catch {
                c.inReadOnlyTransaction = false
                // A failed ROLLBACK means the connection is unusable: it is closed, not pooled.
                do { try c.execute(sql: "ROLLBACK", arguments: []); checkin(c) } catch { c.close() }
                throw error
            }
        }
        preconditionFailure("unreachable: the second attempt returns or throws")
    }

    private func inTransaction<T>(begin: [String], writes: Bool = false, _ body: (SQLDatabase) throws -> T) throws -> T {
        let c = try begun(begin, writes: writes)
        let db = SQLDatabase(dialect: .postgres, backend: c)
        defer { c.inReadOnlyTransaction = false }
        do {
            let result = try body(db)
            do {
                try c.execute(sql: "COMMIT", arguments: [])
            } catch let e as SQLError where writes && (e.kind == .connection || !c.isConnected) {
                // The server may have committed before the connection went: not a failure a
                // caller may clean up after (its files could be referenced now).
                c.close()
                throw CommitOutcomeUnknown(location: location, detail: e.message, connectionLost: true)
            }
            checkin(c)
            return result
        } catch {
            // A failed ROLLBACK means the connection is unusable: it is closed, not pooled.
            do { try c.execute(sql: "ROLLBACK", arguments: []); checkin(c) } catch { c.close() }
            throw error
        }
    }

    func read<T>(_ body: (SQLDatabase) throws -> T) throws -> T {
        try inTransaction(begin: ["BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"], body)
    }

    /// READ COMMITTED plus one advisory lock per catalog database: after the lock every
    /// statement sees every earlier commit, like SQLite's `BEGIN IMMEDIATE`. DuckDB's ducklake
    /// does not take that lock; a commit of its racing ours fails on ducklake_snapshot's primary
    /// key (23505), which the retry loop treats like a busy lock.
    func write<T>(_ body: (SQLDatabase) throws -> T) throws -> T {
        try inTransaction(begin: ["BEGIN", "SET LOCAL lock_timeout = \(Self.lockTimeoutMillis)",
                                  "SELECT pg_advisory_xact_lock(\(Self.writeLockKey))"], writes: true, body)
    }

    func writeWithoutTransaction<T>(_ body: (SQLDatabase) throws -> T) throws -> T {
        let c = try checkout()
        defer { checkin(c) }
        return try body(SQLDatabase(dialect: .postgres, backend: c))
    }

    func close() throws {
        lock.lock()
        let all = idle
        idle = []
        lock.unlock()
        for c in all { c.close() }
    }
}

/// One libpq connection. Statements go out with `PQexecParams`: values as text (blobs as
/// binary), results as text, decoded by column type.
final class PGConnection: SQLBackend {
    private var conn: OpaquePointer?
    private var cache: [String: String] = [:]
    /// The longest SQL text whose rewrite is cached (see `run`).
    static let cachedStatementMaxLength = 1024
    /// Characters of SQL text (ours and its rewrite) this connection keeps cached.
    var cachedStatementBytes: Int { cache.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count } }
    private(set) var changesCount = 0
    /// Set while a READ ONLY transaction is open: a table seen to exist then was committed.
    var inReadOnlyTransaction = false {
        didSet { missingTables.removeAll(keepingCapacity: true) }
    }
    /// Tables this READ ONLY transaction found missing. Its REPEATABLE READ snapshot was taken
    /// by its first statement, at or before the check, so a table another session creates
    /// later holds no row this transaction could see: it stays missing until the transaction
    /// ends. A read looks up DuckDB's inlined-deletion table of each table it reads, which
    /// rarely exists: three times per table in the quality check after every micro-batch.
    private var missingTables: Set<String> = []
    var knownTables: KnownTables?
    /// The server's latest notice on this connection, kept by `lake_PQcaptureNotices` instead of
    /// printed by libpq (cleared before each statement): a failing statement's message carries
    /// it, a statement that succeeds drops it.
    private let notice = UnsafeMutablePointer<CChar>.allocate(capacity: 512)
    private var noticeCapture: UnsafeMutableRawPointer?

    init(conninfo: String, location: String) throws {
        notice[0] = 0
        conn = Self.connect(conninfo)
        guard let conn, lake_PQstatus(conn) == CONNECTION_OK else {
            let message = conn.map { String(cString: lake_PQerrorMessage($0)) } ?? lake_pq_load_error().map { String(cString: $0) } ?? "out of memory"
            if let conn { lake_PQfinish(conn) }
            conn = nil
            throw SQLError(kind: Self.isLoginRefusal(message) ? .loginRefused : .connection, code: "08001",
                           message: "cannot connect to the PostgreSQL catalog \(location): \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        noticeCapture = lake_PQcaptureNotices(conn, notice, 512)
        // Timestamps come back in UTC (DuckLake's snapshot_time is TIMESTAMPTZ); notices stay quiet.
        try execute(sql: "SET TimeZone = 'UTC'", arguments: [])
        try execute(sql: "SET client_min_messages = warning", arguments: [])
    }

    /// Whether libpq's report of a failed connection is the server refusing this login, which
    /// the same login meets again, rather than a server out of reach, starting up, shutting
    /// down or full, which waiting can cure. libpq gives a failed connection's SQLSTATE to no
    /// API, so the server's (English) messages are matched; a message in another language is
    /// taken as an outage, as before: retried until `--reconnect-for` ends, never lost.
    /// Only methods the server decides alone count: LDAP, RADIUS, PAM, ident and GSSAPI
    /// report "authentication failed" to the client when their own service is down too.
    /// libpq 14 and later report every attempt (each address, each encryption method) in one
    /// message, each starting "connection to server": only the last attempt's is read, so an
    /// SSL attempt pg_hba.conf refused before a plain one met an outage is an outage.
    static func isLoginRefusal(_ message: String) -> Bool {
        let last = message.range(of: "connection to server ", options: .backwards).map { message[$0.lowerBound...] } ?? message[...]
        let refusals = [
            "password authentication failed",     // 28P01: password, md5, scram-sha-256
            "Peer authentication failed",         // 28000
            "certificate authentication failed",  // 28000
            "no pg_hba.conf entry",               // 28000
            "pg_hba.conf rejects connection",     // 28000: a reject line
            "no password supplied",               // libpq: the server asked for one, none was given
            "is not permitted to log in",         // 28000: NOLOGIN role
            "permission denied for database",     // 42501: no CONNECT privilege
            "does not exist",                     // 3D000 database, 28000 role
        ]
        guard last.contains("FATAL") || last.contains("fe_sendauth") else { return false }
        return refusals.contains { last.contains($0) }
    }

    /// A libpq setting the catalog gives a connection that does not set its own.
    struct ConnectionDefault {
        var keyword: String
        var value: String
        /// An environment variable that sets it instead (libpq reads it for unset settings).
        var environment: String?
        /// The oldest libpq (`PQlibVersion`) that knows the keyword: an unknown one fails the
        /// connection ("invalid connection option"), and `lake` loads the host's libpq.
        var sinceLibpq: Int32
    }

    /// Bounds libpq leaves open unless asked: it waits without end for a server that accepted
    /// the TCP connection and never answers (a hung host, a proxy whose backend is gone), and a
    /// network that silently drops packets is noticed by TCP after about 15 minutes. The
    /// connect timeout bounds only the connection's set-up (10 s per address the host resolves
    /// to); keepalives and the TCP user timeout end a connection whose peer's kernel stopped
    /// answering, not one whose server is alive and silent. Ignored on a Unix-domain socket.
    static let connectionDefaults: [ConnectionDefault] = [
        ConnectionDefault(keyword: "connect_timeout", value: "10", environment: "PGCONNECT_TIMEOUT", sinceLibpq: 90000),
        ConnectionDefault(keyword: "keepalives_idle", value: "30", sinceLibpq: 90000),
        ConnectionDefault(keyword: "keepalives_interval", value: "10", sinceLibpq: 90000),
        ConnectionDefault(keyword: "keepalives_count", value: "3", sinceLibpq: 90000),
        ConnectionDefault(keyword: "tcp_user_timeout", value: "60000", sinceLibpq: 120000),
    ]

    /// The keywords and values a connection to `conninfo` (a URL or keyword string) is opened
    /// with: the defaults first and `conninfo`, expanded as `dbname`, last. libpq applies them
    /// in order, so the conninfo's own settings win. A connection through a service file
    /// (`service=`, PGSERVICE) gets no defaults: libpq reads the file only for settings not
    /// already given, so ours would override the file's.
    static func connectionParameters(_ conninfo: String, environment: [String: String], libpqVersion: Int32) -> [(keyword: String, value: String)] {
        let viaService = environment["PGSERVICE"] != nil || conninfo.contains("service=")
        let defaults = viaService ? [] : connectionDefaults.filter { d in
            d.sinceLibpq <= libpqVersion && (d.environment.map { environment[$0] == nil } ?? true)
        }
        return defaults.map { ($0.keyword, $0.value) } + [("dbname", conninfo)]
    }

    private static func connect(_ conninfo: String) -> OpaquePointer? {
        let parameters = connectionParameters(conninfo, environment: ProcessInfo.processInfo.environment, libpqVersion: lake_PQlibVersion())
        let cKeywords = parameters.map { strdup($0.keyword) }, cValues = parameters.map { strdup($0.value) }
        defer { (cKeywords + cValues).forEach { free($0) } }
        let k = cKeywords.map { UnsafePointer($0) } + [nil], v = cValues.map { UnsafePointer($0) } + [nil]
        return lake_PQconnectdbParams(k, v, 1)
    }

    /// Set when a statement failed with libpq's own error (no SQLSTATE): the connection is not
    /// used again, whatever `PQstatus` says.
    private var lost = false

    var isConnected: Bool { !lost && (conn.map { lake_PQstatus($0) == CONNECTION_OK } ?? false) }

    var isHealthy: Bool {
        guard let conn, !lost else { return false }
        return lake_PQstatus(conn) == CONNECTION_OK && lake_PQtransactionStatus(conn) == PQTRANS_IDLE
    }

    func close() {
        if let conn { lake_PQfinish(conn) }
        conn = nil
        free(noticeCapture)
        noticeCapture = nil
    }

    deinit {
        close()
        notice.deallocate()
    }

    /// `message` and, when the server sent a notice during the statement that it does not
    /// repeat (the FATAL that ends an idle connection comes before libpq's "server closed the
    /// connection unexpectedly"), that notice after it.
    private func withNotice(_ message: String) -> String {
        let said = String(cString: notice).trimmingCharacters(in: .whitespacesAndNewlines)
        notice[0] = 0
        guard !said.isEmpty else { return message }
        // "FATAL:  text": the text is what the error would repeat.
        let text = said.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? said
        if message.contains(text) { return message }
        return message + " (the server's notice: \(said.replacingOccurrences(of: "  ", with: " ")))"
    }

    private func run(_ sql: String, _ arguments: [SQLValue]) throws -> OpaquePointer {
        guard let conn else { throw SQLError(kind: .connection, code: "08003", message: "the PostgreSQL connection is closed") }
        let text: String
        if let cached = cache[sql] {
            text = cached
        } else {
            text = PostgresSQL.rewrite(sql)
            // Only short texts: a multi-row INSERT or an IN list has another text for every row
            // count (up to 65,535 binds each), and a long-lived writer's connection would keep
            // every one it ever sent. Rewriting a long statement costs little beside sending it.
            if sql.utf8.count <= Self.cachedStatementMaxLength { cache[sql] = text }
        }
        // Each parameter as C text (or bytes, for blobs); libpq copies them before returning.
        var buffers: [[UInt8]?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        for a in arguments {
            switch a {
            case .null: buffers.append(nil); lengths.append(0); formats.append(0)
            case .int64(let v): buffers.append(Array(String(v).utf8) + [0]); lengths.append(0); formats.append(0)
            case .double(let d):
                let t = d.isNaN ? "NaN" : d.isInfinite ? (d > 0 ? "Infinity" : "-Infinity") : "\(d)"
                buffers.append(Array(t.utf8) + [0]); lengths.append(0); formats.append(0)
            case .string(let s): buffers.append(Array(s.utf8) + [0]); lengths.append(0); formats.append(0)
            case .blob(let d): buffers.append(Array(d)); lengths.append(Int32(d.count)); formats.append(1)
            }
        }
        notice[0] = 0
        let result: OpaquePointer? = withPointers(buffers) { pointers in
            lake_PQexecParams(conn, text, Int32(arguments.count), nil, pointers, lengths, formats, 0)
        }
        guard let result else {
            lost = true
            throw SQLError(kind: .connection, code: "08006", message: withNotice(String(cString: lake_PQerrorMessage(conn))))
        }
        let status = lake_PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let state = lake_PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
            let message = withNotice(String(cString: lake_PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines))
            lake_PQclear(result)
            let kind: SQLError.Kind
            switch state {
            case "40001", "40P01", "55P03": kind = .retryable
            // A unique violation on the snapshot id: another engine committed that snapshot first.
            case "23505" where message.contains("ducklake_snapshot"): kind = .retryable
            case let s where s.hasPrefix("08") || s.hasPrefix("57P"): kind = .connection
            // libpq's own report of a lost connection ("server closed the connection
            // unexpectedly") carries no SQLSTATE. After `pg_ctl restart -m immediate` libpq
            // still says CONNECTION_OK on it (its write failed, the read met the end), so the
            // stale-connection retry never ran (session 16 probe: the first request after the
            // restart answered 503); an error without SQLSTATE is libpq's, never the server's,
            // and leaves the connection unusable.
            case "":
                kind = .connection
                lost = true
            default: kind = .other
            }
            let code = state.isEmpty ? "" : " \(state)"
            throw SQLError(kind: kind, code: state.isEmpty && kind == .connection ? "08006" : state,
                           message: "PostgreSQL\(code): \(message) (in: \(text.prefix(200)))")
        }
        changesCount = Int(String(cString: lake_PQcmdTuples(result))) ?? 0
        return result
    }

    private func withPointers<R>(_ buffers: [[UInt8]?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        var pointers: [UnsafePointer<CChar>?] = []
        var storage: [UnsafeMutablePointer<UInt8>] = []
        for b in buffers {
            guard let b else { pointers.append(nil); continue }
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(b.count, 1))
            p.initialize(from: b, count: b.count)
            storage.append(p)
            pointers.append(UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self))
        }
        defer { for p in storage { p.deallocate() } }
        return body(pointers)
    }

    func execute(sql: String, arguments: [SQLValue]) throws {
        lake_PQclear(try run(sql, arguments))
    }

    func fetch(sql: String, arguments: [SQLValue]) throws -> [SQLRow] {
        let result = try run(sql, arguments)
        defer { lake_PQclear(result) }
        let rows = lake_PQntuples(result), width = lake_PQnfields(result)
        var names: [String] = []
        var types: [UInt32] = []
        for i in 0 ..< width {
            names.append(String(cString: lake_PQfname(result, i)))
            types.append(lake_PQftype(result, i))
        }
        let shared = SQLRow.Names(names)
        var out: [SQLRow] = []
        out.reserveCapacity(Int(rows))
        for r in 0 ..< rows {
            var values: [SQLValue] = []
            values.reserveCapacity(Int(width))
            for c in 0 ..< width {
                if lake_PQgetisnull(result, r, c) != 0 { values.append(.null); continue }
                let text = String(cString: lake_PQgetvalue(result, r, c))
                values.append(Self.decode(text, type: types[Int(c)]))
            }
            out.append(SQLRow(names: shared, values: values))
        }
        return out
    }

    /// Text-format values by type OID (pg_type.h): integers, floats, booleans, bytea; anything
    /// else (varchar, uuid, timestamptz, numeric) stays text.
    static func decode(_ text: String, type: UInt32) -> SQLValue {
        switch type {
        case 20, 21, 23, 26: return Int64(text).map(SQLValue.int64) ?? .string(text)
        case 700, 701: return Double(text).map(SQLValue.double) ?? .string(text)
        case 16: return .int64(text == "t" ? 1 : 0)
        case 17: return .blob(hexBytes(text))
        default: return .string(text)
        }
    }

    static func hexBytes(_ text: String) -> Data {
        var bytes = Data()
        let u = Array(text.utf8)
        guard u.count >= 2, u[0] == UInt8(ascii: "\\"), u[1] == UInt8(ascii: "x") else { return Data(u) }
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return 0
            }
        }
        bytes.reserveCapacity((u.count - 2) / 2)
        var i = 2
        while i + 1 < u.count {
            bytes.append(nibble(u[i]) << 4 | nibble(u[i + 1]))
            i += 2
        }
        return bytes
    }

    func tableExists(_ name: String) throws -> Bool {
        if knownTables?.contains(name) == true { return true }
        if inReadOnlyTransaction && missingTables.contains(name) { return false }
        let exists = try fetch(sql: """
            SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relname = ? AND c.relkind IN ('r', 'p', 'v')
            """, arguments: [.string(name)]).isEmpty == false
        if inReadOnlyTransaction {
            if exists { knownTables?.insert(name) } else { missingTables.insert(name) }
        }
        return exists
    }

    func columns(in table: String) throws -> [String] {
        try fetch(sql: """
            SELECT a.attname FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relname = ? AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
            """, arguments: [.string(table)]).compactMap { String.fromSQL($0.values[0]) }
    }
}

/// Catalog tables a connection of this store saw to exist in a committed state, so their
/// existence is not asked again (a catalogue lookup per `tableExists`, several per commit of a
/// long-lived writer). Only tables that are never dropped are kept: DuckLake's own and our
/// lake_* tables; DuckDB's per-table inlined-data tables come and go, so they are always asked.
final class KnownTables: @unchecked Sendable {
    private let lock = NSLock()
    private var names: Set<String> = []

    func contains(_ name: String) -> Bool { lock.withLock { names.contains(name) } }

    func insert(_ name: String) {
        let stable = name.hasPrefix("lake_") || (name.hasPrefix("ducklake_")
            && (!name.hasPrefix("ducklake_inlined_data_") || name == "ducklake_inlined_data_tables"))
        if stable { lock.withLock { _ = names.insert(name) } }
    }
}

/// The SQLite spellings the catalog uses, in PostgreSQL's: `?` → `$n`, `INSERT OR IGNORE` →
/// `ON CONFLICT DO NOTHING`, SQLite-only column types in our lake_* DDL. DuckLake's own tables
/// are created from `DuckLakeSchema.postgresTables`, DuckDB's DDL, not rewritten.
enum PostgresSQL {
    static func rewrite(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var n = 0
        var quote: Character?
        for ch in sql {
            if let q = quote {
                out.append(ch)
                if ch == q { quote = nil }
                continue
            }
            switch ch {
            case "'", "\"": quote = ch; out.append(ch)
            case "?": n += 1; out += "$\(n)"
            default: out.append(ch)
            }
        }
        if let r = out.range(of: "INSERT OR IGNORE INTO", options: [.caseInsensitive]) {
            out.replaceSubrange(r, with: "INSERT INTO")
            out += " ON CONFLICT DO NOTHING"
        }
        let trimmed = out.drop { $0 == " " || $0 == "\n" }
        if trimmed.uppercased().hasPrefix("CREATE TABLE") {
            out = out.replacingOccurrences(of: #"\bDOUBLE\b"#, with: "DOUBLE PRECISION", options: .regularExpression)
                .replacingOccurrences(of: #"\bBLOB\b"#, with: "BYTEA", options: .regularExpression)
                .replacingOccurrences(of: #"\bINTEGER\b"#, with: "BIGINT", options: .regularExpression)
            if out.contains("EXISTS lake_"), let close = out.lastIndex(of: ")") {
                out.insert(contentsOf: ", lake_seq BIGSERIAL", at: close)
            }
        }
        return out
    }
}
