import Foundation
import LakeFormat

/// Value constraints shared by stored columns and source fields. Bounds are decimal text so
/// money limits stay exact ("0" for unit_price, "1" for quantity).
public struct Constraints: Sendable, Equatable {
    public var enumValues: [String]?
    public var min: String?
    public var max: String?
    /// "table.column" that every value must exist in.
    public var references: String?
    public var minItems: Int?

    public init(enumValues: [String]? = nil, min: String? = nil, max: String? = nil, references: String? = nil, minItems: Int? = nil) {
        self.enumValues = enumValues
        self.min = min
        self.max = max
        self.references = references
        self.minItems = minItems
    }

    public var isEmpty: Bool { enumValues == nil && min == nil && max == nil && references == nil && minItems == nil }
}

public struct ColumnSpec: Sendable, Equatable {
    /// Stable across versions and renames; becomes the Parquet field_id.
    public var id: Int32
    public var name: String
    public var type: ColumnType
    public var nullable: Bool
    public var description: String?
    public var constraints: Constraints
    /// The version file's "default" (text in the column's stat form, e.g. "USD", "0.00"): what
    /// rows written before the column existed read, and what a source line without the field gets.
    public var defaultValue: String? = nil
}

/// How a source value under an alias is converted into the canonical field.
public enum Conversion: String, Sendable, Equatable {
    /// Integer milliseconds since the Unix epoch -> timestamp.
    case epochMillis = "epoch_millis"
}

public struct Alias: Sendable, Equatable {
    public var name: String
    public var conversion: Conversion?
    public var note: String?
}

/// A field as it appears in the source file (before normalisation).
public struct SourceField: Sendable, Equatable {
    public var name: String
    /// A column type name, or "array" / "object" for nested fields.
    public var type: String
    public var required: Bool
    public var aliases: [Alias]
    public var constraints: Constraints
    public var fields: [SourceField]

    public func field(_ name: String) -> SourceField? { fields.first { $0.name == name } }
}

public struct SourceSpec: Sendable, Equatable {
    /// "jsonl", "csv" or "json_array".
    public var format: String
    public var fields: [SourceField]

    public func field(_ name: String) -> SourceField? { fields.first { $0.name == name } }
}

/// One registered version of one table.
public struct TableSchema: Sendable, Equatable {
    public var table: String
    public var version: Int
    /// "raw", "curated" or "reference".
    public var layer: String
    public var description: String
    public var partitionBy: [String]
    public var primaryKey: [String]
    public var columns: [ColumnSpec]
    public var source: SourceSpec?
    /// SHA-256 (hex) of the definition's canonical JSON (keys sorted, no whitespace), so
    /// reformatting a file does not change it but any change of meaning does.
    public var fingerprint: String
    /// The JSON the fingerprint is computed from: what a lake stores so it can read its own
    /// versions without the registry directory (or binary) that created them.
    public var canonicalJSON: String
    /// Where it came from: a file, "schemas/… (built in)", or "… (stored in the lake)".
    public var path: String

    public func column(_ name: String) -> ColumnSpec? { columns.first { $0.name == name } }

    /// The LakeFormat schema, field ids taken from the registry.
    public var lakeSchema: Schema {
        Schema(columns.map { Field($0.name, $0.type, nullable: $0.nullable, fieldID: $0.id) })
    }
}

/// Parses the registry's type names ("string", "decimal(18,2)", ...).
public enum TypeName {
    public static func parse(_ text: String) -> ColumnType? {
        switch text {
        case "boolean", "bool": return .bool
        case "int32": return .int32
        case "int64": return .int64
        case "double": return .double
        case "string": return .string
        case "date": return .date
        case "timestamp": return .timestamp
        default:
            guard text.hasPrefix("decimal("), text.hasSuffix(")") else { return nil }
            let inner = text.dropFirst(8).dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard inner.count == 2, let p = Int(inner[0]), let s = Int(inner[1]), p >= 1, p <= 18, s >= 0, s <= p else { return nil }
            return .decimal(precision: p, scale: s)
        }
    }
}
