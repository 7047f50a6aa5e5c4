import LakeCatalog
import LakeFormat

public enum InventoryError: Error, CustomStringConvertible, Equatable {
    case io(FileIOError)
    case emptyFile(path: String)
    case duplicateColumn(path: String, column: String)
    case badHeader(path: String, found: [String], expected: [String])
    case unterminatedQuote(path: String, line: Int)
    case tooMuchText(path: String, line: Int, limit: Int)
    case schema(OrderRulesError)
    /// The committed inventory rows a key is checked against could not be read.
    case committedRows(String)

    public var description: String {
        switch self {
        case .io(let e): return e.description
        case .emptyFile(let p): return "\(p): empty file; expected a header line \(InventoryParser.columns.joined(separator: ","))"
        case .badHeader(let p, let found, let expected):
            // Header cells are input: escaped, so an invisible character shows where it is, and
            // cut, so a file that is not CSV (5 MB on its first line) is not echoed whole.
            let shown = found.prefix(12).map { VisibleText.escape($0, limit: 40) }.joined(separator: ",")
            let more = found.count > 12 ? ",… (\(found.count) columns)" : ""
            return "\(p):1: header is \(shown)\(more); expected the columns \(expected.joined(separator: ",")) (any order)"
                + (Self.otherSeparator(found, expected: expected).map { "; the header is separated by \($0), and lake reads comma-separated CSV: convert the file first" } ?? "")
        case .duplicateColumn(let p, let c): return "\(p):1: the header names \(c) twice; which column holds its values is ambiguous, so nothing was read"
        case .unterminatedQuote(let p, let l): return "\(p):\(l): quoted field is never closed"
        case .tooMuchText(let p, let l, let limit):
            return "\(p):\(l): the file holds more than \(limit) bytes of text by this line (one inventory is read whole, and a column of text must stay under 2 GiB); split it into smaller files, which append as one would; nothing was committed"
        case .schema(let e): return e.description
        case .committedRows(let e): return "reading the committed inventory to check the file's keys against: \(e); nothing was committed"
        }
    }
}

extension InventoryError {
    /// How a one-cell header that holds every expected column is separated, when by a
    /// semicolon, a tab or a bar (spreadsheet exports in locales whose decimal mark is a
    /// comma write ';'): its message said only that the header was wrong.
    static func otherSeparator(_ found: [String], expected: [String]) -> String? {
        guard found.count == 1 else { return nil }
        for (separator, name) in [(";", "semicolons (;)"), ("\t", "tabs"), ("|", "bars (|)")] {
            let cells = Set(found[0].split(separator: Character(separator)).map { String($0).trimmingSpaces().lowercased() })
            if expected.allSatisfy(cells.contains) { return name }
        }
        return nil
    }
}

/// Accepted inventory rows (schema `inventory`) and rejected ones (schema `raw_inventory`).
public struct InventoryBatch: Sendable {
    public var accepted: RecordBatch
    public var rejected: RecordBatch
    public var rejects: [RejectReason: Int]
    /// Header columns the registry does not know (schema drift), with how many data rows
    /// carried each: recorded and reported like unknown order fields.
    public var unknownFields: [String: Int]
}

/// An inventory row's primary key (schemas/inventory): product, warehouse, update time.
public struct InventoryKey: Hashable, Sendable {
    public var product: [UInt8]
    public var warehouse: [UInt8]
    public var updated: Int64

    public init(product: [UInt8], warehouse: [UInt8], updated: Int64) {
        self.product = product
        self.warehouse = warehouse
        self.updated = updated
    }

    var text: String {
        "product_id \(VisibleText.escape(String(decoding: product, as: UTF8.self))), warehouse_location "
            + "\(VisibleText.escape(String(decoding: warehouse, as: UTF8.self))), last_updated \(LakeCatalog.Timestamps.isoText(micros: updated))"
    }
}

/// Parses inventory CSV (RFC 4180: quoted fields, "" inside quotes, CRLF, quoted newlines),
/// streaming the file. The header must name the four registry columns (in any order); a row
/// with a bad value is rejected with its reason and the rest of the file still loads.
public enum InventoryParser {
    public static let columns = ["product_id", "available_quantity", "warehouse_location", "last_updated"]

    /// Text an inventory may hold (its accepted and rejected string columns together): the file
    /// is parsed whole and its string columns have Int32 offsets, which a 2.2 GB CSV of long
    /// warehouse names overflowed (the process trapped).
    public static let textLimit = 1 << 30

    public static func parse(path: String, batchID: String, catalog: ProductCatalog?, registry: SchemaRegistry,
                             textLimit: Int = textLimit,
                             committed: @escaping (InventoryKey) throws -> Int64? = { _ in nil }) throws(InventoryError) -> InventoryBatch {
        let input: SourceInput
        do { input = try SourceInput.open(path) } catch { throw .io(.open(path: path, errno: error.errnoValue)) }
        return try parse(input, batchID: batchID, catalog: catalog, registry: registry, textLimit: textLimit, committed: committed)
    }

    /// Parses the input from where it stands to its end. `committed` gives the available
    /// quantity of a committed row holding a key, nil when none does: such a row is a
    /// `duplicate_key`, as is a row repeating an earlier row's key in the file.
    public static func parse(_ input: SourceInput, batchID: String, catalog: ProductCatalog?, registry: SchemaRegistry,
                             textLimit: Int = textLimit,
                             committed: @escaping (InventoryKey) throws -> Int64? = { _ in nil }) throws(InventoryError) -> InventoryBatch {
        let name = input.name
        let accepted: Schema, rejected: Schema
        do {
            accepted = try registry.schema(RegistryTable.inventory).lakeSchema
            rejected = try registry.schema(RegistryTable.rawInventory).lakeSchema
        } catch { throw .schema(.registry(error)) }
        var state = State(file: name, batchID: batchID, catalog: catalog, textLimit: textLimit, committed: committed)
        do {
            let reader = LineReader(input)
            try reader.forEachLine { (line: Line) throws(InventoryError) in try state.feed(line) }
        } catch let e as InventoryError {
            throw e
        } catch let e as FileIOError {
            throw .io(e)
        } catch {
            throw .io(.read(path: input.path, errno: 0))
        }
        if state.pendingQuote { throw .unterminatedQuote(path: name, line: state.recordLine) }
        if state.header == nil { throw .emptyFile(path: name) }
        do {
            return InventoryBatch(accepted: try state.acceptedBatch(accepted), rejected: try state.rejectedBatch(rejected), rejects: state.rejects,
                                  unknownFields: state.unknownFields)
        } catch { throw .schema(error) }
    }

    struct State {
        let file: String
        let batchID: String
        let catalog: ProductCatalog?
        var header: [Int]?  // field position of each of `columns`
        var headerCount = 0
        /// (position, name) of each header column not in `columns`.
        var extraColumns: [(position: Int, name: String)] = []
        var unknownFields: [String: Int] = [:]
        var record: [UInt8] = []  // the record so far, when a quoted field spans lines
        var recordLine = 0
        var pendingQuote = false
        /// The last line fed ended "\r\n": a quoted field spanning it keeps both bytes (RFC 4180).
        var lastEndedCR = false
        var fields: [[UInt8]] = []
        // accepted
        var product = StringColumn(), warehouse = StringColumn()
        var quantity: [Int64] = [], updated: [Int64] = []
        // rejected
        var rLine: [Int64] = [], rText = StringColumn(), rReason = StringColumn(), rDetail = StringColumn()
        var rejects: [RejectReason: Int] = [:]
        let textLimit: Int
        let committed: (InventoryKey) throws -> Int64?
        /// Each accepted row's key: its line and available quantity.
        var seen: [InventoryKey: (line: Int, quantity: Int64)] = [:]

        init(file: String, batchID: String, catalog: ProductCatalog?, textLimit: Int, committed: @escaping (InventoryKey) throws -> Int64?) {
            self.file = file
            self.batchID = batchID
            self.catalog = catalog
            self.textLimit = textLimit
            self.committed = committed
        }

        mutating func feed(_ line: Line) throws(InventoryError) {
            if !pendingQuote {
                record.removeAll(keepingCapacity: true)
                recordLine = line.number
            } else {
                if lastEndedCR { record.append(13) }
                record.append(10)
            }
            record.append(contentsOf: line.bytes)
            lastEndedCR = line.endsWithCR
            pendingQuote = !split()
            if pendingQuote { return }
            if header == nil {
                let given = fields.map { String(decoding: $0, as: UTF8.self).trimmingSpaces() }
                let names = given.map { $0.lowercased() }
                var positions: [Int] = []
                for c in InventoryParser.columns {
                    guard let p = names.firstIndex(of: c) else { throw .badHeader(path: file, found: given, expected: InventoryParser.columns) }
                    // Two columns of one name: which one holds the values is a guess (the first
                    // was taken silently).
                    if names.lastIndex(of: c) != p { throw .duplicateColumn(path: file, column: c) }
                    positions.append(p)
                }
                header = positions
                headerCount = fields.count
                for (p, name) in given.enumerated() where !positions.contains(p) {
                    extraColumns.append((p, name.isEmpty ? "(column \(p + 1), no name)" : name))
                }
                return
            }
            if fields.count == 1 && fields[0].isEmpty { return }  // blank line
            try row()
            if product.bytes.count + warehouse.bytes.count + rText.bytes.count + rDetail.bytes.count > textLimit {
                throw .tooMuchText(path: file, line: recordLine, limit: textLimit)
            }
        }

        /// Splits `record` into `fields`; false when it ends inside a quoted field.
        mutating func split() -> Bool {
            fields.removeAll(keepingCapacity: true)
            var field: [UInt8] = []
            var i = 0
            var quoted = false
            while i < record.count {
                let c = record[i]
                if quoted {
                    if c == 34 {
                        if i + 1 < record.count && record[i + 1] == 34 { field.append(34); i += 2; continue }
                        quoted = false
                    } else {
                        field.append(c)
                    }
                } else if c == 34 && field.isEmpty {
                    quoted = true
                } else if c == 44 {
                    fields.append(field)
                    field.removeAll(keepingCapacity: true)
                } else {
                    field.append(c)
                }
                i += 1
            }
            if quoted { return false }
            fields.append(field)
            return true
        }

        mutating func reject(_ reason: RejectReason, _ detail: String) {
            rejects[reason, default: 0] += 1
            rLine.append(Int64(recordLine))
            var note = ""
            record.withUnsafeBytes { bytes in
                // Kept as received, unless that is not UTF-8, which DuckDB refuses to read.
                if StoredText.isUTF8(bytes) {
                    rText.append(bytes)
                } else {
                    StoredText.escapingInvalidUTF8(bytes).withUnsafeBytes { rText.append($0) }
                    note = " (the record is not UTF-8: stored with those bytes as \\xNN and each backslash doubled)"
                }
            }
            rReason.append(reason.rawValue)
            rDetail.append("\(file) line \(recordLine): \(detail)\(note)")
        }

        mutating func row() throws(InventoryError) {
            guard let h = header else { return }
            guard fields.count == headerCount else {
                return reject(.wrongFieldCount, "\(fields.count) fields, the header has \(headerCount)")
            }
            for c in extraColumns { unknownFields[c.name, default: 0] += 1 }
            // Accepted values land in STRING columns, which hold UTF-8 only (DuckDB and pyarrow
            // refuse to read the column otherwise).
            if let bad = fields.firstIndex(where: { f in f.withUnsafeBytes { !StoredText.isUTF8($0) } }) {
                return reject(.invalidEncoding, "field \(bad + 1) is not UTF-8: \(VisibleText.escape(bytes: fields[bad]))")
            }
            let pid = fields[h[0]].trimmingSpaces()
            let qtyText = fields[h[1]].trimmingSpaces()
            let wh = fields[h[2]].trimmingSpaces()
            let ts = fields[h[3]].trimmingSpaces()
            if pid.isEmpty { return reject(.missingField, "product_id is empty") }
            if wh.isEmpty { return reject(.missingField, "warehouse_location is empty") }
            // The rule order quantities follow: 5, 5.0 and 5e0 are the whole number 5; 5.5 is not.
            let exact = qtyText.withUnsafeBytes { ExactDecimal.parse($0, scale: 0) }
            guard case .value(let q) = exact else {
                return reject(.invalidQuantity, "available_quantity " + NumberProblem(exact)!.describe("\"\(String(decoding: qtyText, as: UTF8.self))\"", scale: 0))
            }
            guard q >= 0 else { return reject(.invalidQuantity, "available_quantity \(q) is negative") }
            guard let t = ts.withUnsafeBytes({ Timestamps.parseISO($0) }) else {
                return reject(.invalidTimestamp, "last_updated \"\(String(decoding: ts, as: UTF8.self))\" \(ts.withUnsafeBytes { Timestamps.refusal($0) })")
            }
            guard CivilDate.storableMicros.contains(t) else {
                return reject(.invalidTimestamp, "last_updated \"\(String(decoding: ts, as: UTF8.self))\" is outside the storable range \(CivilDate.storableRangeText)")
            }
            if let c = catalog, pid.withUnsafeBytes({ c.row(of: $0) }) == nil {
                return reject(.unknownProduct, "product_id \(String(decoding: pid, as: UTF8.self)) is not in the product catalog")
            }
            // The table's primary key: a second row for it leaves which quantity holds a guess (the
            // reports took either), and a resent inventory doubled its rows.
            let key = InventoryKey(product: pid, warehouse: wh, updated: t)
            let differs = { (other: Int64) in other == q ? "" : " with available_quantity \(other) (this row says \(q))" }
            if let first = seen[key] {
                return reject(.duplicateKey, "\(key.text) repeats line \(first.line)\(differs(first.quantity)); the first stands")
            }
            let earlier: Int64?
            do { earlier = try committed(key) } catch { throw .committedRows("\(error)") }
            if let earlier {
                return reject(.duplicateKey, "\(key.text) was committed by an earlier inventory\(differs(earlier)); the committed row stands")
            }
            seen[key] = (recordLine, q)
            pid.withUnsafeBytes { product.append($0) }
            wh.withUnsafeBytes { warehouse.append($0) }
            quantity.append(q)
            updated.append(t)
        }

        func acceptedBatch(_ schema: Schema) throws(OrderRulesError) -> RecordBatch {
            try assemble(schema, ["product_id": Column(.string(product)), "available_quantity": Column(.int64(quantity)),
                                  "warehouse_location": Column(.string(warehouse)), "last_updated": Column(.int64(updated))], table: RegistryTable.inventory)
        }

        func rejectedBatch(_ schema: Schema) throws(OrderRulesError) -> RecordBatch {
            let n = rLine.count
            return try assemble(schema, ["batch_id": Column(.string(StringColumn(repeatElement(batchID, count: n)))),
                                         "source_file": Column(.string(StringColumn(repeatElement(file, count: n)))),
                                         "line_number": Column(.int64(rLine)), "line": Column(.string(rText)),
                                         "reject_reason": Column(.string(rReason)), "reject_detail": Column(.string(rDetail))], table: RegistryTable.rawInventory)
        }
    }
}

extension Array where Element == UInt8 {
    func trimmingSpaces() -> [UInt8] {
        var a = startIndex, b = endIndex
        while a < b && (self[a] == 32 || self[a] == 9) { a += 1 }
        while b > a && (self[b - 1] == 32 || self[b - 1] == 9) { b -= 1 }
        return Array(self[a ..< b])
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(decoding: Array(utf8).trimmingSpaces(), as: UTF8.self)
    }
}
