#if canImport(Glibc)
import Glibc
#endif
import LakeFormat

/// The product catalog, column by column, with a byte-keyed index for enrichment lookups
/// straight from parsed order bytes.
public struct ProductCatalog: Sendable {
    private var index = ByteKeyTable(capacity: 256)
    public private(set) var ids = StringColumn()
    public private(set) var categories = StringColumn()
    public private(set) var brands = StringColumn()
    public private(set) var prices: [Int64] = []
    public private(set) var launchTimes: [Int64] = []
    public private(set) var launchValid: [Bool] = []
    public private(set) var descriptions = StringColumn()
    public private(set) var descriptionValid: [Bool] = []

    public init() {}

    public var count: Int { prices.count }

    /// Adds a product; false (and nothing added) when the id is already present.
    @discardableResult
    public mutating func add(id: String, category: String, brand: String, priceCents: Int64,
                             launchMicros: Int64? = nil, description: String? = nil) -> Bool {
        guard index.insertIfAbsent(id, value: Int32(prices.count)) == nil else { return false }
        ids.append(id)
        categories.append(category)
        brands.append(brand)
        prices.append(priceCents)
        launchTimes.append(launchMicros ?? 0)
        launchValid.append(launchMicros != nil)
        descriptions.append(description ?? "")
        descriptionValid.append(description != nil)
        return true
    }

    /// Row of the product with this id.
    @inline(__always)
    public func row(of id: UnsafeRawBufferPointer) -> Int? { index.value(for: id).map(Int.init) }

    public func row(of id: String) -> Int? { index.value(for: id).map(Int.init) }

    /// The catalog as a batch of the registry's `products` schema.
    public func batch(schema: Schema) throws(OrderRulesError) -> RecordBatch {
        let cols: [String: Column] = [
            "product_id": Column(.string(ids)), "category": Column(.string(categories)), "brand": Column(.string(brands)),
            "price": Column(.int64(prices)),
            "launch_date": Column(.int64(launchTimes), validity: launchValid.allSatisfy { $0 } ? nil : launchValid),
            "description": Column(.string(descriptions), validity: descriptionValid.allSatisfy { $0 } ? nil : descriptionValid),
        ]
        return try assemble(schema, cols, table: RegistryTable.products)
    }
}

/// A catalog entry that was skipped, with why.
public struct CatalogReject: Sendable, Equatable {
    /// 0-based position in the array.
    public var index: Int
    /// 1-based line where the entry starts.
    public var line: Int
    public var productID: String?
    public var reason: RejectReason
    public var detail: String
}

public enum ProductCatalogError: Error, CustomStringConvertible, Equatable {
    case io(FileIOError)
    case tooLarge(path: String, limit: Int)
    case syntax(path: String, line: Int, column: Int, problem: JSONProblem)
    case notAnArray(path: String, found: String)
    /// The file starts with a UTF-16 or UTF-32 byte-order mark (`encoding` names which).
    case notUTF8(path: String, encoding: String)
    case entryNotAnObject(path: String, index: Int, line: Int, found: String)

    public var description: String {
        switch self {
        case .io(let e): return e.description
        case .tooLarge(let p, let limit): return "\(p): product catalog larger than \(limit) bytes"
        case .syntax(let p, let l, let c, let problem): return "\(p):\(l):\(c): \(problem)"
        case .notAnArray(let p, let found):
            return "\(p): a product catalog must be a JSON array of product objects, but the file holds a JSON \(found)"
        case .notUTF8(let p, let encoding):
            return "\(p): the file is \(encoding) (it starts with that byte-order mark); a product catalog is UTF-8 JSON: convert it first, e.g. iconv -f \(encoding.prefix { $0 != " " }) -t UTF-8"
        case .entryNotAnObject(let p, let i, let l, let found):
            return "\(p):\(l): catalog entry \(i) must be an object with product_id, category, brand, price; found a JSON \(found)"
        }
    }
}

/// Parses `product_catalog.json`: a JSON array of products. Structural problems fail the whole
/// file (it is reference data: a half-read catalog would misreport unknown products);
/// individual products with missing or invalid fields are skipped and returned as rejects.
public enum ProductCatalogParser {
    /// Catalogs are reference data of at most a few MB; this bound stops a wrong path (a
    /// multi-GB order dump) from being slurped into memory.
    public static let maxBytes = 256 << 20

    public static func parse(path: String) throws(ProductCatalogError) -> (catalog: ProductCatalog, rejects: [CatalogReject]) {
        let input: SourceInput
        do { input = try SourceInput.open(path) } catch { throw .io(.open(path: path, errno: error.errnoValue)) }
        return try parse(input)
    }

    /// Parses the input from where it stands to its end (read into memory: at most `maxBytes`).
    public static func parse(_ input: SourceInput) throws(ProductCatalogError) -> (catalog: ProductCatalog, rejects: [CatalogReject]) {
        let bytes: [UInt8]
        do { bytes = try input.readAll(limit: maxBytes) } catch {
            if case .tooLarge = error { throw .tooLarge(path: input.path, limit: maxBytes) }
            throw .io(error.readError)
        }
        let result = bytes.withUnsafeBytes { raw in Result { () throws(ProductCatalogError) in try parse(raw, path: input.path) } }
        return try result.get()
    }

    /// The encoding a UTF-16 or UTF-32 byte-order mark names, nil without one. Read as UTF-8,
    /// such a file failed on its first byte, with a message about JSON types.
    static func wideEncoding(_ raw: UnsafeRawBufferPointer) -> String? {
        let head = Array(raw.prefix(4))
        if head.starts(with: [0xFF, 0xFE, 0, 0]) { return "UTF-32 (little-endian)" }
        if head.starts(with: [0, 0, 0xFE, 0xFF]) { return "UTF-32 (big-endian)" }
        if head.starts(with: [0xFF, 0xFE]) { return "UTF-16 (little-endian)" }
        if head.starts(with: [0xFE, 0xFF]) { return "UTF-16 (big-endian)" }
        return nil
    }

    public static func parse(_ raw: UnsafeRawBufferPointer, path: String) throws(ProductCatalogError) -> (catalog: ProductCatalog, rejects: [CatalogReject]) {
        var s = JSONScanner(raw)
        var catalog = ProductCatalog()
        var rejects: [CatalogReject] = []
        var scratch: [UInt8] = []
        // Entries are asked for in file order: count on from the last offset asked (from the
        // start when asked for an earlier one). Counting from byte 0 for every entry took a
        // catalog of 100,000 products 354 s (13 s for 20,000), all of it here.
        var counted = (offset: 0, line: 1, col: 1)
        func lineCol(_ offset: Int) -> (Int, Int) {
            let end = min(offset, raw.count)
            if end < counted.offset { counted = (0, 1, 1) }
            var line = counted.line, col = counted.col
            for k in counted.offset ..< end {
                if raw[k] == 10 { line += 1; col = 1 } else { col += 1 }
            }
            counted = (end, line, col)
            return (line, col)
        }
        func syntax(_ e: JSONError) -> ProductCatalogError {
            let (l, c) = lineCol(e.offset)
            return .syntax(path: path, line: l, column: c, problem: e.problem)
        }
        do {
            // Skip a UTF-8 byte order mark, which some editors add.
            if raw.count >= 3 && raw[0] == 0xEF && raw[1] == 0xBB && raw[2] == 0xBF { s.i = 3 }
            if let encoding = Self.wideEncoding(raw) { throw ProductCatalogError.notUTF8(path: path, encoding: encoding) }
            let c = try s.peek(expecting: "'['")
            guard c == UInt8(ascii: "[") else {
                // A byte no JSON value starts with: the file is not JSON ("holds a JSON number" was said of any).
                guard JSONScanner.startsValue(c) else {
                    throw JSONError(problem: .unexpectedByte(c, expecting: "'[' (a JSON array of product objects)"), offset: s.i)
                }
                throw ProductCatalogError.notAnArray(path: path, found: JSONScanner.typeName(c))
            }
            s.i += 1
            var first = true
            var index = 0
            while try s.arrayHasElement(first: first) {
                first = false
                let e = try s.peek(expecting: "a product object")
                let entryLine = lineCol(s.i).0
                // Not a value at all (a trailing comma's ']', a stray '}' or ','): a syntax error
                // at that byte, not "found a JSON number".
                guard JSONScanner.startsValue(e) else {
                    throw JSONError(problem: .unexpectedByte(e, expecting: "a product object"), offset: s.i)
                }
                guard e == UInt8(ascii: "{") else { throw ProductCatalogError.entryNotAnObject(path: path, index: index, line: entryLine, found: JSONScanner.typeName(e)) }
                s.i += 1
                var fields: [String: (kind: UInt8, text: String, offset: Int)] = [:]
                // A key written twice: which value is meant is a guess (the last one was kept
                // silently), so the entry is refused as an order line with one is. Keys are told
                // apart by their bytes, as JSON does: String's == is canonical equivalence, and two
                // unknown keys differing only in Unicode normalization were "written twice".
                var keys: Set<ExactID> = []
                var repeated: String?
                var firstMember = true
                while try s.objectHasMember(first: firstMember) {
                    firstMember = false
                    scratch.removeAll(keepingCapacity: true)
                    let name: String
                    if let span = try s.key(scratch: &scratch) {
                        name = String(decoding: UnsafeRawBufferPointer(start: s.base + span.start, count: span.count), as: UTF8.self)
                    } else {
                        name = String(decoding: scratch, as: UTF8.self)
                    }
                    if !keys.insert(ExactID(name)).inserted && repeated == nil { repeated = name }
                    let v = try s.peek(expecting: "a value")
                    let at = s.i
                    switch v {
                    case 34:
                        scratch.removeAll(keepingCapacity: true)
                        _ = try s.string(into: &scratch)
                        fields[name] = (34, String(decoding: scratch, as: UTF8.self), at)
                    case UInt8(ascii: "-"), 48 ... 57:
                        let n = try s.number()
                        fields[name] = (48, String(decoding: UnsafeRawBufferPointer(start: s.base + n.start, count: n.count), as: UTF8.self), at)
                    default:
                        scratch.removeAll(keepingCapacity: true)
                        try s.skipValue(scratch: &scratch)
                        fields[name] = (v, "", at)
                    }
                }
                let problem = repeated.map { (RejectReason.duplicateField, "field \($0) appears twice in the entry") }
                    ?? validate(fields, catalog: &catalog)
                if let problem {
                    let id = fields["product_id"].flatMap { $0.kind == 34 ? $0.text : nil }
                    rejects.append(CatalogReject(index: index, line: entryLine, productID: id, reason: problem.0, detail: "product \(index): \(problem.1)"))
                }
                index += 1
            }
            s.skipWhitespace()
            if s.i != s.end { throw s.fail(.trailingData) }
        } catch let e as JSONError {
            throw syntax(e)
        } catch let e as ProductCatalogError {
            throw e
        } catch {
            preconditionFailure("catalog parsing throws only JSONError and ProductCatalogError")
        }
        return (catalog, rejects)
    }

    /// Checks one product's fields and adds it; returns the problem instead when invalid.
    private static func validate(_ f: [String: (kind: UInt8, text: String, offset: Int)], catalog: inout ProductCatalog) -> (RejectReason, String)? {
        func requiredString(_ name: String) -> Result<String, Problem> {
            guard let v = f[name], v.kind != UInt8(ascii: "n") else { return .failure(Problem(.missingField, "\(name) is missing")) }
            guard v.kind == 34 else { return .failure(Problem(.invalidType, "\(name) must be a string")) }
            guard !v.text.isEmpty else { return .failure(Problem(.missingField, "\(name) is empty")) }
            return .success(v.text)
        }
        struct Problem: Error {
            var reason: RejectReason, text: String
            init(_ r: RejectReason, _ t: String) { reason = r; text = t }
        }
        do throws(Problem) {
            let id = try requiredString("product_id").get()
            let category = try requiredString("category").get()
            let brand = try requiredString("brand").get()
            guard let p = f["price"], p.kind != UInt8(ascii: "n") else { return (.missingField, "price is missing") }
            // A JSON number, as an order's unit_price must be (a string "10.00" is refused the same
            // way), parsed exactly by the rule every source's amounts follow.
            guard p.kind == 48 else {
                return (.invalidPrice, "price " + NumberProblem.notANumber.describe("(a \(JSONScanner.typeName(p.kind)))", scale: 2))
            }
            let exact = ExactDecimal.parse(p.text, scale: 2)
            guard case .value(let cents) = exact else { return (.invalidPrice, "price " + NumberProblem(exact)!.describe(p.text, scale: 2)) }
            guard cents >= 0 else { return (.invalidPrice, "price \(p.text) is negative") }
            // products.price and order_items.list_price are decimal(18,2): a larger price was
            // written as a value no reader of the column (DuckDB, pyarrow, lake) could read.
            guard cents <= OrderRules.maxDecimal18 else {
                return (.invalidPrice, "price \(p.text) exceeds decimal(18,2) (at most \(DecimalText.format(OrderRules.maxDecimal18, scale: 2)))")
            }
            var launch: Int64?
            if let l = f["launch_date"], l.kind != UInt8(ascii: "n") {
                guard l.kind == 34 else { return (.invalidTimestamp, "launch_date must be an ISO-8601 string, found a \(JSONScanner.typeName(l.kind))") }
                guard let t = Timestamps.parseISO(l.text) else {
                    return (.invalidTimestamp, "launch_date \(l.text) \(Timestamps.refusal(l.text))")
                }
                guard CivilDate.storableMicros.contains(t) else {
                    return (.invalidTimestamp, "launch_date \(l.text) is outside the storable range \(CivilDate.storableRangeText)")
                }
                launch = t
            }
            var description: String?
            if let d = f["description"], d.kind != UInt8(ascii: "n") {
                guard d.kind == 34 else { return (.invalidType, "description must be a string") }
                description = d.text
            }
            guard catalog.add(id: id, category: category, brand: brand, priceCents: cents, launchMicros: launch, description: description) else {
                return (.duplicateProduct, "product_id \(id) appears again; the first entry is kept")
            }
            return nil
        } catch {
            return (error.reason, error.text)
        }
    }
}

/// Orders named columns as `schema` lists them, checking every schema column is provided.
func assemble(_ schema: Schema, _ columns: [String: Column], table: String) throws(OrderRulesError) -> RecordBatch {
    var out: [Column] = []
    for f in schema.fields {
        guard let c = columns[f.name] else {
            throw .columnMismatch(table: table, problem: "column '\(f.name)' is registered but the pipeline does not produce it")
        }
        out.append(c)
    }
    return RecordBatch(schema: schema, columns: out)
}
