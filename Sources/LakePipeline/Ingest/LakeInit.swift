import Foundation
import LakeCatalog
import LakeFormat

/// Why `lake init --schema-version` refused; nothing was committed.
public enum LakeInitError: Error, CustomStringConvertible, Equatable {
    case badPin(String)
    case alreadyAtVersion(table: String, lakeVersion: Int, requested: Int)

    public var description: String {
        switch self {
        case .badPin(let text):
            return "--schema-version \(VisibleText.escape(text)): expected TABLE=VERSION with a registry table and a version number, e.g. orders=1"
        case .alreadyAtVersion(let table, let lake, let requested):
            return "the lake's \(table) table already exists at v\(lake), so it cannot be created at v\(requested); "
                + (requested > lake ? "run `lake schema migrate \(table) --to \(requested)` instead" : "a table's version only moves forward")
        }
    }
}

extension LakeStore {
    /// The outcome of `initialize`: the snapshot it committed (nil when the lake was ready) and
    /// the catalog tables it created.
    public struct Initialized: Sendable {
        public var snapshot: Int64?
        public var createdLayers: [String]
        public var createdTables: [String]
    }

    /// Parses `TABLE=VERSION` (the form of `lake init --schema-version`).
    public static func parsePin(_ text: String) throws(LakeInitError) -> (table: String, version: Int) {
        let parts = text.split(separator: "=", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, let v = Int(parts[1]), v >= 1 else { throw .badPin(text) }
        return (String(parts[0]), v)
    }

    /// Creates the raw and curated layers and, for each pinned registry table, the table at that
    /// registry version, in one snapshot. Without pins a table is created at the latest version
    /// by its first ingest; a pin is how a lake starts at an older version (e.g. orders v1, to
    /// walk through a migration to v2). A table that already exists at its pinned version is
    /// left alone; at another version the call refuses and commits nothing.
    public func initialize(pins: [(table: String, version: Int)] = []) throws -> Initialized {
        let targets = try pins.map { pin -> WriteTarget in
            let def = try registry.schema(pin.table, version: pin.version)
            let loc = Self.location(ofRegistryTable: pin.table, layer: def.layer)
            let directory = root.appendingPathComponent(loc.schema, isDirectory: true).appendingPathComponent(loc.table, isDirectory: true)
            return WriteTarget(registryTable: pin.table, definition: def, schemaName: loc.schema, tableName: loc.table,
                               directory: directory, schema: def.lakeSchema, layout: .identity(def.lakeSchema), existingTableID: nil)
        }
        var toCreate: [WriteTarget] = []
        for t in targets {
            if let info = try catalog.tableIfPresent(schema: t.schemaName, name: t.tableName) {
                let lakeVersion = try catalog.tableSchemaVersion(tableID: info.tableID)?.version
                guard lakeVersion == t.definition.version else {
                    throw LakeInitError.alreadyAtVersion(table: t.registryTable, lakeVersion: lakeVersion ?? 0, requested: t.definition.version)
                }
            } else {
                toCreate.append(t)
            }
        }
        let existing = Set(try catalog.schemas())
        let layers = ["raw", "curated"].filter { !existing.contains($0) }
        if layers.isEmpty && toCreate.isEmpty { return Initialized(snapshot: nil, createdLayers: [], createdTables: []) }
        let (snap, _) = try catalog.commit(message: "lake init") { tx in
            for s in layers { try tx.ensureSchema(s) }
            for t in toCreate { _ = try t.ensure(&tx) }
        }
        return Initialized(snapshot: snap.id, createdLayers: layers, createdTables: toCreate.map { "\($0.schemaName).\($0.tableName)" })
    }
}
