import ArgumentParser
import Foundation
import LakeFormat
import LakePipeline

/// Options shared by commands that read the schema registry.
struct RegistryOptions: ParsableArguments {
    @Option(name: .customLong("schemas"), help: ArgumentHelp(
        "A registry directory of <table>/v<N>.json files, e.g. with a version this lake binary does not ship yet (default: $LAKE_SCHEMAS, else the registry built into lake; a lake always adds the versions it stored).",
        valueName: "DIR"))
    var schemas: String?

    var source: RegistrySource {
        guard let dir = schemas else { return Self.environmentSource }
        return .directory(URL(fileURLWithPath: dir, isDirectory: true))
    }

    /// $LAKE_SCHEMAS, else the built-in registry: for commands without --schemas.
    static var environmentSource: RegistrySource {
        guard let dir = ProcessInfo.processInfo.environment["LAKE_SCHEMAS"] else { return .builtIn }
        return .directory(URL(fileURLWithPath: dir, isDirectory: true))
    }

    /// The registry alone, without a lake's stored versions (for `lake schema list/show`).
    func load() throws -> SchemaRegistry {
        switch source {
        case .builtIn: return try SchemaRegistry.bundled()
        case .directory(let url): return try SchemaRegistry.load(directory: url.path)
        }
    }
}

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Inspect the schema registry (built into lake from schemas/<table>/v<N>.json) and migrate tables.",
        discussion: """
          lake schema list
          lake schema show orders --version 2
          lake schema migrate orders --to 2 --dry-run    # the plan; nothing changes
          lake schema migrate orders --to 3 --schemas ./schemas   # not built in yet
        """,
        subcommands: [SchemaList.self, SchemaShow.self, SchemaMigrate.self]
    )
}

struct SchemaList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List registered tables, versions and fingerprints.",
        discussion: """
        Examples:
          lake schema list
          lake schema list --format json
        """)

    @OptionGroup var registry: RegistryOptions
    @Option(help: "table, json or csv.") var format: OutputFormat = .table

    func run() throws {
        let reg = try registry.load()
        var rows = Records(["table", "layer", "versions", "latest", "columns", "fingerprint"])
        for t in reg.tableNames {
            let s = try reg.schema(t)
            rows.append([t, s.layer, reg.versions(t).map { "v\($0)" }.joined(separator: ","), "v\(s.version)", s.columns.count, s.fingerprint])
        }
        switch format {
        case .json: try printJSON(rows.objects)
        case .csv: rows.printCSV()
        case .table: printListing(rows.columns, rows.rows.map { $0.map { $0.map { "\($0)" } ?? "" } }, format: .table)
        }
    }
}

struct SchemaShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show one table's columns, source mapping and constraints.",
        discussion: """
        Examples:
          lake schema show orders
          lake schema show orders --version 1
          lake schema show orders --format csv
        """)

    @OptionGroup var registry: RegistryOptions

    @Argument(help: "Table name (see `lake schema list`).")
    var table: String

    @Option(help: "Version (default: latest).")
    var version: Int?

    @Option(help: "table, json (one object: the table's fields, its columns and source fields as arrays) or csv (one row per column).")
    var format: OutputFormat = .table

    func run() throws {
        let s = try registry.load().schema(table, version: version)
        var columns = Records(["id", "name", "type", "nullable", "constraints", "description"])
        for c in s.columns { columns.append([c.id, c.name, "\(c.type)", c.nullable, describe(c.constraints), c.description]) }
        switch format {
        case .csv: columns.printCSV()
        case .json:
            func fields(_ list: [SourceField]) -> [[String: Any]] {
                list.map { f in
                    ["name": f.name, "type": f.type, "required": f.required, "constraints": describe(f.constraints),
                     "aliases": f.aliases.map { a in ["name": a.name, "conversion": a.conversion.map { $0.rawValue as Any } ?? NSNull()] },
                     "fields": fields(f.fields)]
                }
            }
            try printJSON([
                "table": s.table, "version": s.version, "layer": s.layer, "description": s.description, "file": s.path,
                "fingerprint": "sha256:\(s.fingerprint)", "partition_by": s.partitionBy, "primary_key": s.primaryKey,
                "columns": columns.objects,
                "source": s.source.map { src -> Any in ["format": "\(src.format)", "fields": fields(src.fields)] } ?? NSNull(),
            ] as [String: Any])
        case .table: printText(s)
        }
    }

    private func printText(_ s: TableSchema) {
        print("\(s.table) v\(s.version) (\(s.layer)) — \(s.description)")
        print("file:        \(s.path)")
        print("fingerprint: sha256:\(s.fingerprint)")
        if !s.partitionBy.isEmpty { print("partitioned by: \(s.partitionBy.joined(separator: ", "))") }
        if !s.primaryKey.isEmpty { print("key: \(s.primaryKey.joined(separator: ", "))") }
        print("\ncolumns:")
        for c in s.columns {
            var line = "  [\(c.id)] \(c.name): \(c.type)\(c.nullable ? "" : " NOT NULL")"
            let k = describe(c.constraints)
            if !k.isEmpty { line += "  " + k }
            if let d = c.description { line += "  -- \(d)" }
            print(line)
        }
        if let src = s.source {
            print("\nsource (\(src.format)):")
            printFields(src.fields, indent: "  ")
        }
    }

    private func printFields(_ fields: [SourceField], indent: String) {
        for f in fields {
            var line = "\(indent)\(f.name): \(f.type)\(f.required ? " required" : " optional")"
            let k = describe(f.constraints)
            if !k.isEmpty { line += "  " + k }
            for a in f.aliases {
                line += "  alias \(a.name)" + (a.conversion.map { " (\($0.rawValue))" } ?? "")
            }
            print(line)
            if !f.fields.isEmpty { printFields(f.fields, indent: indent + "  ") }
        }
    }

    private func describe(_ c: Constraints) -> String {
        var parts: [String] = []
        if let e = c.enumValues { parts.append("in {\(e.joined(separator: ", "))}") }
        if let m = c.min { parts.append(">= \(m)") }
        if let m = c.max { parts.append("<= \(m)") }
        if let r = c.references { parts.append("references \(r)") }
        if let m = c.minItems { parts.append("at least \(m) items") }
        return parts.joined(separator: ", ")
    }
}
