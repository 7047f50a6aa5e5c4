import LakeFormat

/// The DuckLake version a catalog declares in `ducklake_metadata`, as far as this build is
/// concerned: the one it writes (1.0), the one it reads and upgrades (0.3), newer ones it reads
/// without touching, and older ones it refuses.
public enum CatalogFormat: Equatable, Sendable, CustomStringConvertible {
    case v10
    case v03
    case newer(String)
    case older(String)

    public init(version: String) {
        switch version {
        case DuckLakeSchema.version: self = .v10
        case DuckLakeSchema.legacyVersion: self = .v03
        default:
            // "1.1", "1.1-dev1", "2.0": compare major.minor with 1.0; anything unparsable is not
            // something we know how to read.
            let numbers = version.split(whereSeparator: { $0 == "." || $0 == "-" }).prefix(2).map { Int($0) }
            if numbers.count == 2, let major = numbers[0], let minor = numbers[1], (major, minor) > (1, 0) {
                self = .newer(version)
            } else {
                self = .older(version)
            }
        }
    }

    public var version: String {
        switch self {
        case .v10: return DuckLakeSchema.version
        case .v03: return DuckLakeSchema.legacyVersion
        case .newer(let v), .older(let v): return v
        }
    }

    /// Why this build cannot use an `.older` catalog: a version before 0.3 can be migrated by
    /// DuckDB; a value that is no version at all ("", "garbage") means a damaged catalog or a
    /// table that is not DuckLake's, which no migration fixes.
    public static func olderReason(_ version: String) -> String {
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count >= 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) {
            return "catalog version \(version) predates DuckLake 0.3; attach it once with DuckDB 1.5 (AUTOMATIC_MIGRATION TRUE) to migrate it to 1.0"
        }
        return "ducklake_metadata's version is \"\(VisibleText.escape(version))\", which is no DuckLake version (this build writes \(DuckLakeSchema.version) and upgrades \(DuckLakeSchema.legacyVersion)): the catalog is damaged or not a DuckLake catalog; restore it from a backup"
    }

    public var isNewer: Bool { if case .newer = self { return true } else { return false } }
    public var isWritable: Bool { self == .v10 }
    public var description: String { "DuckLake " + version }
}
