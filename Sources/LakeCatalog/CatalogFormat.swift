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

    public var isNewer: Bool { if case .newer = self { return true } else { return false } }
    public var isWritable: Bool { self == .v10 }
    public var description: String { "DuckLake " + version }
}
