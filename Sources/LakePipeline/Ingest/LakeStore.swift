import Foundation
import LakeCatalog
import LakeFormat

/// Everything an ingest or maintenance job can go wrong on, phrased for the person running it.
public enum IngestError: Error, CustomStringConvertible, Equatable {
    /// The source references products.product_id (schemas/: orders items, inventory rows) and
    /// the lake has no product catalog to check it against; nothing was written.
    case noProductCatalog(SourceKind)
    /// No byte, or (`bytes` > 0) no line: a file holding only a byte-order mark.
    case emptyInput(path: String, bytes: Int64 = 0)
    case wrongFormat(path: String, line: Int, detail: String)
    case registryEdited(table: String, version: Int)
    /// A source line carries a field (e.g. currency) that the lake's version of the table has no
    /// column for; `table` is the registry table to migrate, `sourceVersion` the first version with it.
    case schemaBehind(source: String, line: Int, field: String, table: String, lakeVersion: Int, sourceVersion: Int)
    case unknownRegistryTable(String)
    /// The lake's table is at a schema version the registry in use does not hold. The registry
    /// takes in the lake's stored versions when the command opens the lake, so this is a
    /// `lake schema migrate` that committed a version from another registry while it ran.
    case registryLacksLakeVersion(table: String, lakeVersion: Int, registered: [Int])
    case conflict(table: TableName)
    /// An ingest that redid its work from the newest snapshot after each conflict and still
    /// conflicted when its retries or time ran out (`ConflictBackoff`); `latest` names the
    /// newest commit then (its snapshot and message), the writer it kept losing to.
    case conflictPersisted(table: TableName, attempts: Int, seconds: Int, latest: String)
    /// A follower waited `StreamOptions.reconnectFor` for a catalog server it lost and it
    /// still did not answer; what it committed before stays, and a restart resumes after it.
    case catalogUnreachable(String, waited: Double)
    /// Another engine altered the table outside the registry in a way the pipeline cannot write
    /// to (see `WriteLayout`); nothing was written or committed.
    case tableAltered(table: String, column: String, detail: String)
    /// Another engine re-partitioned a table (DuckDB's SET PARTITIONED BY): our files carry the
    /// registry's identity keys, which the table's spec no longer has.
    case repartitioned(table: String, keys: [String], expected: [String])
    /// Some of the order stream's tables exist and others not: another engine renamed or
    /// dropped one. Order ids are checked against curated.orders, so ingesting would accept
    /// orders already in the others again.
    case orderTablesIncomplete(missing: [String], present: [String])
    case failed(String)

    public var description: String {
        switch self {
        case .noProductCatalog(let kind):
            let what = kind == .inventory ? "inventory rows are validated against it (their product_id references products.product_id)"
                : "\(kind) are validated against it"
            return "no product catalog in the lake yet: \(what), so run `lake ingest catalog FILE` first; nothing was committed"
        case .emptyInput(let path, let bytes):
            if bytes > 0 {
                return "\(VisibleText.escape(path)): the input holds no line (\(bytes) bytes read: a byte-order mark only); nothing was committed"
            }
            return "\(VisibleText.escape(path)): the input is empty (0 bytes read); nothing was committed"
        case .wrongFormat(let path, let line, let detail):
            // The detail quotes the input (a first line, a product id): escaped, never raw.
            return "\(VisibleText.escape(path)) line \(line): \(VisibleText.escape(detail)); nothing was committed"
        case .registryEdited(let table, let version):
            return "schemas/\(table)/v\(version).json changed after the lake used it; a registered version is immutable: put the change in a new version file"
        case .schemaBehind(let source, let line, let field, let table, let lake, let needed):
            return "\(source) line \(line): field \(field) belongs to \(table) schema v\(needed), but the lake's \(table) table is at v\(lake); "
                + "nothing was committed. Run `lake schema migrate \(table) --to \(needed)` (add --dry-run to see the plan), then ingest again"
        case .unknownRegistryTable(let t):
            return "the schema registry has no table \(t)"
        case .registryLacksLakeVersion(let t, let v, let known):
            return "the lake's \(t) table is at schema version \(v), which the schema registry in use did not hold when this command "
                + "opened the lake (it registers \(known.map { "v\($0)" }.joined(separator: ", "))): a `lake schema migrate` committed v\(v) "
                + "meanwhile. Nothing was committed; run the command again: it takes in the lake's stored versions when it opens the lake"
        case .conflict(let table):
            return "another writer committed to \(table) while this ingest ran; retried and still conflicting, nothing was committed"
        case .conflictPersisted(let table, let attempts, let seconds, let latest):
            return "another writer kept committing to \(table) while this ingest ran: \(attempts) attempts over \(seconds) s, "
                + "each redone from the newest snapshot after a growing pause, all conflicting (the newest commit: \(latest)); "
                + "nothing was committed. Run it again when that writer is done or has moved past these orders"
        case .catalogUnreachable(let error, let waited):
            return "\(error); waited \(Int(waited.rounded())) s for the catalog to answer again (--reconnect-for) and gave up. "
                + "Every micro-batch committed before stays; once the catalog answers, start the follower again: it resumes after the last commit"
        case .tableAltered(let table, let column, let detail):
            return "\(table) column \(column): \(detail); nothing was committed"
        case .orderTablesIncomplete(let missing, let present):
            let what = missing.count == 1 ? "it" : "them"
            return "\(missing.joined(separator: " and ")) \(missing.count == 1 ? "is" : "are") missing while \(present.joined(separator: " and ")) "
                + "\(present.count == 1 ? "holds" : "hold") this lake's orders: another engine renamed or dropped \(what). "
                + "An ingest now would create \(what) anew beside that history (a new curated.orders accepts orders already ingested again, "
                + "a new order_items holds only the new batch's items, a new raw.orders loses the lines the checks compare with); "
                + "nothing was written or committed. Rename \(what) back (e.g. in DuckDB: ALTER TABLE l.curated.<its new name> RENAME TO orders), "
                + "restore the lake from a snapshot before the change, or drop all three order tables to start their history over"
        case .repartitioned(let table, let keys, let expected):
            let now = keys.isEmpty ? "is no longer partitioned" : "is now partitioned by \(keys.joined(separator: ", "))"
            let restore = expected.isEmpty ? "RESET PARTITIONED BY" : "SET PARTITIONED BY (\(expected.joined(separator: ", ")))"
            return "\(table) \(now) (another engine changed it), but lake writes it partitioned by "
                + (expected.isEmpty ? "nothing" : expected.joined(separator: ", "))
                + "; nothing was written or committed. Change it back: ALTER TABLE \(table) \(restore)"
        case .failed(let detail):
            return detail
        }
    }
}

extension IngestError {
    /// The refusal for a v2 line validated for an older orders schema.
    static func behind(_ b: SchemaBehindLine, source: String) -> IngestError {
        .schemaBehind(source: source, line: b.lineNumber, field: b.field, table: RegistryTable.orders, lakeVersion: b.outputVersion, sourceVersion: b.neededVersion)
    }
}

/// Where a lake's schema registry comes from, before the lake's own stored versions are added.
public enum RegistrySource: Sendable, Equatable {
    /// The versions built into the binary (schemas/ at build time): the default, so `lake`
    /// works from any directory.
    case builtIn
    /// A registry directory (`--schemas`): how a new version reaches a lake before a release
    /// ships it, e.g. for `lake schema migrate`.
    case directory(URL)
}

/// A lake as the pipeline sees it: the catalog plus the schema registry that defines its tables.
public struct LakeStore: Sendable {
    public let catalog: Catalog
    public let registry: SchemaRegistry

    public var root: URL { catalog.root }

    public init(catalog: Catalog, registry: SchemaRegistry) {
        self.catalog = catalog
        self.registry = registry
    }

    /// Opens (creating when absent) the lake at `root` with the registry in `schemas`.
    public static func open(root: URL, schemas: URL) throws -> LakeStore {
        try open(root: root, registry: .directory(schemas))
    }

    /// Opens the lake at `root` with the registry `source` names, plus the versions the lake
    /// stored itself (lake_schema_definition) that the source lacks.
    ///
    /// Which copy of a version wins when both have it: a directory the user named wins (so an
    /// edited version file is refused at commit by its fingerprint, as before); the built-in
    /// registry yields to the lake's own copy (a lake created with another registry keeps
    /// reading the versions it was written with).
    public static func open(root: URL, catalog location: CatalogLocation? = nil, registry source: RegistrySource,
                            create: Bool = true, storage: (any Storage)? = nil) throws -> LakeStore {
        let catalog = try Catalog.open(root: root, catalog: location, create: create, storage: storage)
        // Ingest writes data files before it commits: refuse a catalog we may not write (0.3
        // before `lake upgrade`, or a newer one) first, so a refused run leaves no files behind.
        try catalog.requireWritable()
        return LakeStore(catalog: catalog, registry: try resolveRegistry(source, catalog: catalog))
    }

    /// Opens the lake an ingest of `kind` writes to. A path with no lake becomes a new lake only
    /// for the product catalog (what `lake run` ingests first, and what every other source is
    /// checked against), as DuckDB's ATTACH of a new DuckLake file creates it; `catalog.created`
    /// tells the caller to say so. Orders and inventory reference products.product_id, so in a
    /// path with no lake they could only be refused after creating one: a mistyped --lake gets
    /// "no lake at <path>" instead, and nothing is created.
    public static func openForIngest(_ kind: SourceKind, root: URL, catalog location: CatalogLocation? = nil,
                                     registry source: RegistrySource) throws -> LakeStore {
        try open(root: root, catalog: location, registry: source, create: kind == .catalog)
    }

    /// The registry `source` names plus the versions the lake at `catalog` stored.
    public static func registry(_ source: RegistrySource, catalog: Catalog) throws -> SchemaRegistry {
        try resolveRegistry(source, catalog: catalog)
    }

    static func resolveRegistry(_ source: RegistrySource, catalog: Catalog) throws -> SchemaRegistry {
        let stored = SchemaRegistry(schemas: try catalog.storedSchemaDefinitions().map {
            try SchemaRegistry.parseStored(table: $0.table, version: $0.version, canonicalJSON: $0.canonicalJSON)
        })
        switch source {
        case .builtIn: return stored.adding(try SchemaRegistry.bundled(skipping: { stored.versions($0).contains($1) }))
        case .directory(let url): return try SchemaRegistry.load(directory: url.path).adding(stored)
        }
    }

    /// Where a registry table lives in the catalog: raw_orders → raw.orders, orders → curated.orders.
    public static func location(ofRegistryTable name: String, layer: String) -> (schema: String, table: String) {
        if layer == "raw" { return ("raw", name.hasPrefix("raw_") ? String(name.dropFirst(4)) : name) }
        return ("curated", name)
    }

    /// The registry table behind a catalog name such as "curated.orders" or "raw.orders".
    public func registryTable(schema: String, table: String) -> String {
        schema == "raw" ? "raw_" + table : table
    }

    /// The table's definition at the registry version the lake uses (or the latest when new).
    func definition(_ registryTable: String) throws -> (TableSchema, schema: String, table: String) {
        let r = try resolve(registryTable)
        return (r.definition, r.schema, r.table)
    }

    /// `definition` plus the catalog's table (nil when the lake has none yet), both read at one
    /// snapshot in one catalog read.
    func resolve(_ registryTable: String) throws -> (definition: TableSchema, schema: String, table: String, info: TableInfo?) {
        try resolve([registryTable])[0]
    }

    /// `resolve` for several registry tables at one snapshot, in one catalog read (a follower
    /// resolves its three tables twice a micro-batch: one read each was 24 statements on
    /// PostgreSQL, now 8).
    func resolve(_ registryTables: [String]) throws -> [(definition: TableSchema, schema: String, table: String, info: TableInfo?)] {
        var latest: [TableSchema] = [], locations: [(schema: String, table: String)] = []
        for name in registryTables {
            let def = try registry.schema(name)
            latest.append(def)
            locations.append(Self.location(ofRegistryTable: name, layer: def.layer))
        }
        let found = try catalog.tablesWithSchemaVersion(locations.map { ($0.schema, $0.table) })
        var out: [(definition: TableSchema, schema: String, table: String, info: TableInfo?)] = []
        for i in registryTables.indices {
            out.append((try definitionInForce(registryTables[i], latest: latest[i], recorded: found[i]?.recorded?.version, at: locations[i]),
                        locations[i].schema, locations[i].table, found[i]?.table))
        }
        return out
    }

    /// The registry version the lake recorded for the table, or `latest` when it recorded none.
    private func definitionInForce(_ registryTable: String, latest: TableSchema, recorded: Int?, at loc: (schema: String, table: String)) throws -> TableSchema {
        guard let recorded, recorded != latest.version else { return latest }
        do {
            return try registry.schema(registryTable, version: recorded)
        } catch .unknownVersion(_, _, let known) {
            throw IngestError.registryLacksLakeVersion(table: "\(loc.schema).\(loc.table)", lakeVersion: recorded, registered: known)
        }
    }

    /// The order stream's rules for this lake: rows are emitted at the registry version each
    /// output table (raw_orders, orders, order_items) has in the lake, or the latest for a
    /// table the lake does not have yet.
    public func orderRules() throws -> OrderRules {
        let tables = [RegistryTable.rawOrders, RegistryTable.orders, RegistryTable.orderItems]
        let resolved = try resolve(tables)
        var versions: [String: Int] = [:]
        for (t, r) in zip(tables, resolved) { versions[t] = r.definition.version }
        return try OrderRules(registry: registry, versions: versions)
    }

    /// Prepares writing to a table before the commit: its directory and its schema with the
    /// catalog's column ids as Parquet field ids.
    func target(_ registryTable: String) throws -> WriteTarget {
        try targets([registryTable])[0]
    }

    /// `target` for several tables, resolved at one snapshot in one catalog read.
    func targets(_ registryTables: [String]) throws -> [WriteTarget] {
        let resolved = try resolve(registryTables)
        var out: [WriteTarget] = []
        for (registryTable, r) in zip(registryTables, resolved) {
            if let info = r.info {
                guard info.partitionKeys == r.definition.partitionBy else {
                    throw IngestError.repartitioned(table: info.qualifiedName, keys: info.partitionKeys, expected: r.definition.partitionBy)
                }
                let layout = try WriteLayout(table: info, produced: r.definition.lakeSchema, version: "\(registryTable) v\(r.definition.version)")
                out.append(WriteTarget(registryTable: registryTable, definition: r.definition, schemaName: r.schema, tableName: r.table,
                                       directory: info.directory, schema: layout.fileSchema(info), layout: layout, existingTableID: info.tableID))
            } else {
                let directory = root.appendingPathComponent(r.schema, isDirectory: true).appendingPathComponent(r.table, isDirectory: true)
                out.append(WriteTarget(registryTable: registryTable, definition: r.definition, schemaName: r.schema, tableName: r.table,
                                       directory: directory, schema: r.definition.lakeSchema, layout: .identity(r.definition.lakeSchema), existingTableID: nil))
            }
        }
        return out
    }
}

/// One table an ingest writes to, resolved before any file is written.
struct WriteTarget {
    var registryTable: String
    var definition: TableSchema
    var schemaName: String
    var tableName: String
    var directory: URL
    /// The table's columns as the catalog has them, less those `layout` omits (files are
    /// written with these).
    var schema: Schema
    /// How the pipeline's rows (the registry version's columns, `produced`) map onto `schema`.
    var layout: WriteLayout
    var existingTableID: Int64?

    /// The columns the pipeline produces for this table: the registry version's.
    var produced: Schema { definition.lakeSchema }

    var partitioned: Bool { !definition.partitionBy.isEmpty }

    func writer(_ options: ParquetWriteOptions, files: LakeFiles) -> SegmentWriter {
        var options = options
        options.metadata["lake.table"] = "\(schemaName).\(tableName)"
        options.metadata["lake.schema_version"] = String(definition.version)
        return SegmentWriter(directory: directory, files: files, schema: schema, layout: layout, partitioned: partitioned, options: options)
    }

    /// Inside the commit: creates the table on first use, checks the registry version it was
    /// written with is unchanged, and returns its id.
    func ensure(_ tx: inout CatalogTransaction) throws -> Int64 {
        let fingerprint = definition.fingerprint
        if try tx.registerSchemaVersion(table: registryTable, version: definition.version, fingerprint: fingerprint,
                                        canonicalJSON: definition.canonicalJSON) != nil {
            throw IngestError.registryEdited(table: registryTable, version: definition.version)
        }
        if let info = try tx.table(schema: schemaName, name: tableName) {
            // A migration committed since this target was resolved: our files have the old
            // columns. Retry from a new base (the rules then follow the new version). The
            // columns the files leave out must still be the ones left out, as they were.
            let omittedIDs = Set(layout.omitted.map(\.columnID))
            let written = info.columns.filter { !omittedIDs.contains($0.columnID) }
            guard written.map(\.name) == schema.fields.map(\.name),
                  written.map(\.columnID) == schema.fields.map({ Int64($0.fieldID ?? -1) }),
                  info.columns.filter({ omittedIDs.contains($0.columnID) }) == layout.omitted else {
                throw IngestError.conflict(table: TableName(schema: schemaName, name: tableName))
            }
            return info.tableID
        }
        try tx.ensureSchema(schemaName)
        let created = try tx.createTable(schema: schemaName, name: tableName, fields: schema.fields, partitionBy: definition.partitionBy)
        // The catalog numbers a new table's columns 1…n by position; the files carry the
        // registry's ids. They must agree, or readers would match the wrong columns.
        guard created.fields.map(\.fieldID) == schema.fields.map(\.fieldID) else {
            throw IngestError.failed("\(definition.path): a new table is created with column ids 1…n in order, but this version's ids are "
                                     + schema.fields.map { String($0.fieldID ?? 0) }.joined(separator: ", ")
                                     + "; create the table at a version numbered 1…n and migrate from there")
        }
        try tx.setTableSchemaVersion(tableID: created.tableID, registryTable: registryTable, version: definition.version)
        return created.tableID
    }
}
