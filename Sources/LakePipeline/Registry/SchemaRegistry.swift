import Foundation
import LakeFormat

public enum RegistryError: Error, CustomStringConvertible, Equatable {
    case missingDirectory(String)
    case unreadable(path: String, reason: String)
    case invalid(path: String, problem: String)
    case unknownTable(String, known: [String])
    case unknownVersion(table: String, version: Int, known: [Int])

    public var description: String {
        switch self {
        case .missingDirectory(let d): return "schema registry \(d) does not exist (--schemas and $LAKE_SCHEMAS name a directory of <table>/v<N>.json files; without them the registry built into lake is used)"
        case .unreadable(let p, let r): return "\(p): cannot read schema (\(r))"
        case .invalid(let p, let problem): return "\(p): \(problem)"
        case .unknownTable(let t, let known): return "no schema registered for table '\(t)'; registered: \(known.joined(separator: ", "))"
        case .unknownVersion(let t, let v, let known):
            return "table '\(t)' has no version \(v); registered: \(known.map(String.init).joined(separator: ", "))"
        }
    }
}

/// The versioned table schemas under `schemas/<table>/v<N>.json`. Loading checks each file
/// thoroughly (names, types, unique column ids, partition columns, bounds) so a bad edit fails
/// at startup with the file named, not mid-ingest.
public struct SchemaRegistry: Sendable {
    public private(set) var tables: [String: [TableSchema]]  // versions ascending

    public init(schemas: [TableSchema]) {
        var t: [String: [TableSchema]] = [:]
        for s in schemas { t[s.table, default: []].append(s) }
        tables = t.mapValues { $0.sorted { $0.version < $1.version } }
    }

    public var tableNames: [String] { tables.keys.sorted() }

    public static func load(directory: String) throws(RegistryError) -> SchemaRegistry {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else { throw .missingDirectory(directory) }
        let tableDirs: [String]
        do { tableDirs = try fm.contentsOfDirectory(atPath: directory).sorted() } catch {
            throw .unreadable(path: directory, reason: "\(error)")
        }
        var schemas: [TableSchema] = []
        for table in tableDirs where !table.hasPrefix(".") {
            let dir = directory + "/" + table
            guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { continue }
            let files: [String]
            do { files = try fm.contentsOfDirectory(atPath: dir).sorted() } catch { throw .unreadable(path: dir, reason: "\(error)") }
            for file in files where file.hasSuffix(".json") {
                let path = dir + "/" + file
                guard file.hasPrefix("v"), let version = Int(file.dropFirst().dropLast(5)), version >= 1 else {
                    throw .invalid(path: path, problem: "schema files must be named v<N>.json (N >= 1)")
                }
                guard let data = fm.contents(atPath: path) else { throw .unreadable(path: path, reason: "no such file") }
                schemas.append(try parse(data, path: path, table: table, version: version))
            }
        }
        let registry = SchemaRegistry(schemas: schemas)
        try registry.requireDroppedIDsUnused { table, version in directory + "/" + table + "/v\(version).json" }
        return registry
    }

    /// A column id a version dropped never comes back in a later version, under any name: files
    /// written before the drop still hold it, and the new column would read their values as its
    /// own (the catalog numbers an added column past every id it ever gave, so such a migration
    /// would be refused anyway, but only when run, not when the file is written).
    func requireDroppedIDsUnused(path: (_ table: String, _ version: Int) -> String) throws(RegistryError) {
        for table in tableNames {
            let versions = tables[table] ?? []
            let highest = versions.flatMap { $0.columns.map(\.id) }.max() ?? 0
            var dropped: [Int32: (name: String, version: Int)] = [:]
            var previous: [Int32: String] = [:]
            for schema in versions {
                var current: [Int32: String] = [:]
                for c in schema.columns { current[c.id] = c.name }
                for (id, name) in previous where current[id] == nil { dropped[id] = (name, schema.version) }
                for c in schema.columns {
                    guard let gone = dropped[c.id] else { continue }
                    throw .invalid(path: path(table, schema.version), problem: """
                        column '\(c.name)' has id \(c.id), the id of '\(gone.name)', which v\(gone.version) dropped; a dropped column's id \
                        is never used again (files written before the drop still hold it): give '\(c.name)' a new id, e.g. \(highest + 1)
                        """)
                }
                previous = current
            }
        }
    }

    /// The versions built into this binary (scripts/bundle-schemas.sh embeds schemas/ at build
    /// time), so `lake` works from any directory and after being copied anywhere.
    /// `skipping` names versions the caller has already (a lake's stored ones, which win over
    /// the built-in ones anyway): those files are not parsed, which is most of the registry's
    /// cost at startup (Foundation's JSON, about 4 M instructions a file).
    public static func bundled(skipping: (_ table: String, _ version: Int) -> Bool = { _, _ in false }) throws(RegistryError) -> SchemaRegistry {
        var schemas: [TableSchema] = []
        for (path, text) in BundledSchemas.files {
            let parts = path.split(separator: "/")
            guard parts.count == 2, parts[1].hasPrefix("v"), let version = Int(parts[1].dropFirst().dropLast(5)) else {
                throw .invalid(path: "built-in schemas/\(path)", problem: "schema files must be named <table>/v<N>.json")
            }
            if skipping(String(parts[0]), version) { continue }
            schemas.append(try parse(Data(text.utf8), path: "schemas/\(path) (built in)", table: String(parts[0]), version: version))
        }
        return SchemaRegistry(schemas: schemas)
    }

    /// Parses a version's canonical JSON as a lake stored it (lake_schema_definition).
    /// The text is the canonical form the lake stored (and hashed into the fingerprint it
    /// stored beside it) when the version was first committed: it is kept as the canonical form
    /// instead of being serialised again, which was most of opening a lake's registry (Foundation's
    /// JSON writer, about 4 M instructions a version) and could only reproduce it.
    public static func parseStored(table: String, version: Int, canonicalJSON: String) throws(RegistryError) -> TableSchema {
        let data = Data(canonicalJSON.utf8)
        return try parse(data, path: "\(table) v\(version) (stored in the lake)", table: table, version: version, canonical: data)
    }

    /// This registry plus the versions of `other` it lacks; where both have a version, this one's wins.
    public func adding(_ other: SchemaRegistry) -> SchemaRegistry {
        var all = tables.values.flatMap { $0 }
        for (table, versions) in other.tables {
            let have = Set(self.versions(table))
            all += versions.filter { !have.contains($0.version) }
        }
        return SchemaRegistry(schemas: all)
    }

    public var allSchemas: [TableSchema] { tableNames.flatMap { tables[$0] ?? [] } }

    public func versions(_ table: String) -> [Int] { tables[table]?.map(\.version) ?? [] }

    /// The given version of `table`, or its latest.
    public func schema(_ table: String, version: Int? = nil) throws(RegistryError) -> TableSchema {
        guard let all = tables[table], let latest = all.last else { throw .unknownTable(table, known: tableNames) }
        guard let v = version else { return latest }
        guard let s = all.first(where: { $0.version == v }) else { throw .unknownVersion(table: table, version: v, known: all.map(\.version)) }
        return s
    }

    /// The channels an order may carry: the `channel` enum of every version of orders this
    /// registry holds, sorted. What `lake report --channel` and `lake serve`'s `channel`
    /// parameter are checked against; ingest checks each line against its own version's.
    public func orderChannels() -> [String] {
        var channels: Set<String> = []
        for s in tables["orders"] ?? [] { channels.formUnion(s.column("channel")?.constraints.enumValues ?? []) }
        return channels.sorted()
    }

    // MARK: parsing (Foundation JSON is fine: a few small files at startup)

    /// Parses one version file, which must define `table` at `version` (its place in the registry).
    static func parse(_ data: Data, path: String, table expectedTable: String, version expectedVersion: Int,
                      canonical: Data? = nil) throws(RegistryError) -> TableSchema {
        let schema = try parse(data, path: path, canonical: canonical)
        guard schema.table == expectedTable else {
            throw .invalid(path: path, problem: "\"table\" is '\(schema.table)' but the directory is '\(expectedTable)'")
        }
        guard schema.version == expectedVersion else {
            throw .invalid(path: path, problem: "\"version\" is \(schema.version) but the file is v\(expectedVersion).json")
        }
        return schema
    }

    /// `canonical`: the file's canonical form when the caller has it (a version the lake stored).
    public static func parse(_ data: Data, path: String, canonical known: Data? = nil) throws(RegistryError) -> TableSchema {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw .invalid(path: path, problem: "not valid JSON (\(error.localizedDescription))")
        }
        guard let root = object as? [String: Any] else { throw .invalid(path: path, problem: "top level must be an object") }
        func bad(_ p: String) -> RegistryError { .invalid(path: path, problem: p) }
        guard let table = root["table"] as? String, !table.isEmpty else { throw bad("\"table\" (string) is required") }
        guard let version = root["version"] as? Int else { throw bad("\"version\" (integer) is required") }
        guard let layer = root["layer"] as? String, ["raw", "curated", "reference"].contains(layer) else {
            throw bad("\"layer\" must be raw, curated or reference")
        }
        guard let cols = root["columns"] as? [[String: Any]], !cols.isEmpty else { throw bad("\"columns\" must be a non-empty array of objects") }
        var columns: [ColumnSpec] = []
        for (i, c) in cols.enumerated() {
            let at = "columns[\(i)]"
            guard let name = c["name"] as? String, !name.isEmpty else { throw bad("\(at).name is required") }
            guard let id = c["id"] as? Int, id >= 1, id <= Int(Int32.max) else { throw bad("\(at) '\(name)': \"id\" must be a positive integer (the stable field id)") }
            guard let tn = c["type"] as? String, let type = TypeName.parse(tn) else {
                throw bad("\(at) '\(name)': unknown type \(c["type"].map { "\($0)" } ?? "(missing)")")
            }
            guard let nullable = c["nullable"] as? Bool else { throw bad("\(at) '\(name)': \"nullable\" (true/false) is required") }
            if columns.contains(where: { $0.name == name }) { throw bad("column '\(name)' is defined twice") }
            if columns.contains(where: { $0.id == Int32(id) }) { throw bad("column id \(id) is used twice; ids must be unique and never reused") }
            var defaultValue: String?
            if let d = c["default"] {
                guard let text = d as? String else {
                    throw bad("\(at) '\(name)': \"default\" must be a string in the column's text form, e.g. \"0.00\" or \"USD\"")
                }
                defaultValue = text
            }
            columns.append(ColumnSpec(id: Int32(id), name: name, type: type, nullable: nullable,
                                      description: c["description"] as? String, constraints: try constraints(c, at: "\(at) '\(name)'", path: path),
                                      defaultValue: defaultValue))
        }
        let partitionBy = root["partition_by"] as? [String] ?? []
        for p in partitionBy where !columns.contains(where: { $0.name == p }) { throw bad("partition column '\(p)' is not a column") }
        let primaryKey = root["primary_key"] as? [String] ?? []
        for p in primaryKey where !columns.contains(where: { $0.name == p }) { throw bad("primary key column '\(p)' is not a column") }
        var source: SourceSpec?
        if let s = root["source"] {
            guard let s = s as? [String: Any], let format = s["format"] as? String, ["jsonl", "csv", "json_array"].contains(format),
                  let fields = s["fields"] as? [[String: Any]] else {
                throw bad("\"source\" must have \"format\" (jsonl, csv or json_array) and \"fields\"")
            }
            source = SourceSpec(format: format, fields: try sourceFields(fields, at: "source", path: path))
        }
        // Canonical form for the fingerprint: sorted keys, no whitespace, so only meaning counts.
        let canonical: Data
        if let known {
            canonical = known
        } else {
            do { canonical = try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .withoutEscapingSlashes]) } catch {
                throw bad("cannot canonicalise (\(error))")
            }
        }
        return TableSchema(table: table, version: version, layer: layer, description: root["description"] as? String ?? "",
                           partitionBy: partitionBy, primaryKey: primaryKey, columns: columns, source: source,
                           fingerprint: SHA256.hex(canonical), canonicalJSON: String(decoding: canonical, as: UTF8.self), path: path)
    }

    private static func constraints(_ o: [String: Any], at: String, path: String) throws(RegistryError) -> Constraints {
        var c = Constraints()
        if let e = o["enum"] {
            guard let e = e as? [String], !e.isEmpty else { throw .invalid(path: path, problem: "\(at): \"enum\" must be a non-empty array of strings") }
            c.enumValues = e
        }
        for key in ["min", "max"] {
            guard let v = o[key] else { continue }
            guard let text = v as? String, DecimalText.parse(text, scale: 6) != nil else {
                throw .invalid(path: path, problem: "\(at): \"\(key)\" must be decimal text such as \"0\" or \"1.50\" (a string, to stay exact)")
            }
            if key == "min" { c.min = text } else { c.max = text }
        }
        if let r = o["references"] {
            guard let r = r as? String, r.split(separator: ".").count == 2 else {
                throw .invalid(path: path, problem: "\(at): \"references\" must be \"table.column\"")
            }
            c.references = r
        }
        if let m = o["min_items"] {
            guard let m = m as? Int, m >= 0 else { throw .invalid(path: path, problem: "\(at): \"min_items\" must be a non-negative integer") }
            c.minItems = m
        }
        return c
    }

    private static func sourceFields(_ list: [[String: Any]], at: String, path: String) throws(RegistryError) -> [SourceField] {
        var out: [SourceField] = []
        for (i, f) in list.enumerated() {
            let here = "\(at).fields[\(i)]"
            guard let name = f["name"] as? String, !name.isEmpty else { throw .invalid(path: path, problem: "\(here).name is required") }
            guard let type = f["type"] as? String, type == "array" || type == "object" || TypeName.parse(type) != nil else {
                throw .invalid(path: path, problem: "\(here) '\(name)': unknown type")
            }
            var aliases: [Alias] = []
            for a in f["aliases"] as? [[String: Any]] ?? [] {
                guard let an = a["name"] as? String, !an.isEmpty else { throw .invalid(path: path, problem: "\(here) '\(name)': alias without a name") }
                var conv: Conversion?
                if let cn = a["conversion"] {
                    guard let cn = cn as? String, let c = Conversion(rawValue: cn) else {
                        throw .invalid(path: path, problem: "\(here) '\(name)': unknown conversion \(a["conversion"]!) (known: epoch_millis)")
                    }
                    conv = c
                }
                aliases.append(Alias(name: an, conversion: conv, note: a["note"] as? String))
            }
            var nested: [SourceField] = []
            if let sub = f["fields"] as? [[String: Any]] { nested = try sourceFields(sub, at: here, path: path) }
            out.append(SourceField(name: name, type: type, required: f["required"] as? Bool ?? false, aliases: aliases,
                                   constraints: try constraints(f, at: "\(here) '\(name)'", path: path), fields: nested))
        }
        return out
    }
}
