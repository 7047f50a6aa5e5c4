import Foundation
import LakeCatalog
import LakeFormat

/// Everything an ingest or maintenance job can go wrong on, phrased for the person running it.
public enum IngestError: Error, CustomStringConvertible, Equatable {
    case noProductCatalog
    case emptyInput(path: String)
    case wrongFormat(path: String, line: Int, detail: String)
    case registryEdited(table: String, version: Int)
    case schemaBehind(table: String, lakeVersion: Int, registryVersion: Int)
    case unknownRegistryTable(String)
    case conflict(table: String)
    case failed(String)

    public var description: String {
        switch self {
        case .noProductCatalog:
            return "no product catalog in the lake yet: orders are validated against it, so run `lake ingest catalog FILE` first"
        case .emptyInput(let path):
            return "\(path): the file is empty; nothing was committed"
        case .wrongFormat(let path, let line, let detail):
            return "\(path) line \(line): \(detail); nothing was committed"
        case .registryEdited(let table, let version):
            return "schemas/\(table)/v\(version).json changed after the lake used it; a registered version is immutable: put the change in a new version file"
        case .schemaBehind(let table, let lake, let registry):
            return "\(table) is at schema v\(lake) in the lake but the input uses v\(registry): run `lake schema migrate \(table) --to \(registry)` first"
        case .unknownRegistryTable(let t):
            return "the schema registry has no table \(t)"
        case .conflict(let table):
            return "another writer committed to \(table) while this ingest ran; retried and still conflicting, nothing was committed"
        case .failed(let detail):
            return detail
        }
    }
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
        let registry = try SchemaRegistry.load(directory: schemas.path)
        return LakeStore(catalog: try Catalog.open(root: root, create: true), registry: registry)
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
        let latest = try registry.schema(registryTable)
        var def = latest
        let loc = Self.location(ofRegistryTable: registryTable, layer: latest.layer)
        if let info = try? catalog.table(schema: loc.schema, name: loc.table),
           let recorded = try catalog.tableSchemaVersion(tableID: info.tableID), recorded.version != latest.version {
            def = try registry.schema(registryTable, version: recorded.version)
        }
        return (def, loc.schema, loc.table)
    }

    /// Prepares writing to a table before the commit: its directory and its schema with the
    /// catalog's column ids as Parquet field ids.
    func target(_ registryTable: String) throws -> WriteTarget {
        let (def, schema, table) = try definition(registryTable)
        if let info = try? catalog.table(schema: schema, name: table) {
            return WriteTarget(registryTable: registryTable, definition: def, schemaName: schema, tableName: table,
                               directory: info.directory, schema: try info.schema(), existingTableID: info.tableID)
        }
        let directory = root.appendingPathComponent(schema, isDirectory: true).appendingPathComponent(table, isDirectory: true)
        return WriteTarget(registryTable: registryTable, definition: def, schemaName: schema, tableName: table,
                           directory: directory, schema: def.lakeSchema, existingTableID: nil)
    }
}

/// One table an ingest writes to, resolved before any file is written.
struct WriteTarget {
    var registryTable: String
    var definition: TableSchema
    var schemaName: String
    var tableName: String
    var directory: URL
    var schema: Schema
    var existingTableID: Int64?

    var partitioned: Bool { !definition.partitionBy.isEmpty }

    func writer(_ options: ParquetWriteOptions) -> SegmentWriter {
        var options = options
        options.metadata["lake.table"] = "\(schemaName).\(tableName)"
        options.metadata["lake.schema_version"] = String(definition.version)
        return SegmentWriter(directory: directory, schema: schema, partitioned: partitioned, options: options)
    }

    /// Inside the commit: creates the table on first use, checks the registry version it was
    /// written with is unchanged, and returns its id.
    func ensure(_ tx: inout CatalogTransaction) throws -> Int64 {
        let fingerprint = definition.fingerprint
        if let recorded = try tx.registeredFingerprint(table: registryTable, version: definition.version), recorded != fingerprint {
            throw IngestError.registryEdited(table: registryTable, version: definition.version)
        }
        try tx.registerSchemaVersion(table: registryTable, version: definition.version, fingerprint: fingerprint)
        if let info = try tx.table(schema: schemaName, name: tableName) { return info.tableID }
        try tx.ensureSchema(schemaName)
        let created = try tx.createTable(schema: schemaName, name: tableName, fields: schema.fields, partitionBy: definition.partitionBy)
        try tx.setTableSchemaVersion(tableID: created.tableID, registryTable: registryTable, version: definition.version)
        return created.tableID
    }
}
