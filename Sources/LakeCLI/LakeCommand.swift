import ArgumentParser
import Foundation
import LakeCatalog
import LakeFormat

@main
struct Lake: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lake",
        abstract: "A lakehouse for FastCommerce order data: Parquet segments, a DuckLake catalog, reports.",
        discussion: """
        Sources (orders JSONL, inventory CSV, product catalog JSON) are validated against the schema registry (built into lake from schemas/; a lake also stores the versions it uses) and written as zstd Parquet under the lake root, partitioned by event date and channel. Every write is one atomic snapshot in <lake>/manifest.sqlite, so any read can look back in time with --as-of.

        The lake root is --lake DIR (given after the subcommand: lake query --lake /data/lake orders), else $LAKE_DIR, else ./lake.

        Start with:
          lake run --input Evaluation-Files
          lake report daily-revenue
        """,
        version: Lake.versionText,
        subcommands: [
            Run.self, IngestCommand.self, QueryCommand.self, ReportCommand.self, Generate.self, SchemaCommand.self,
            InitCommand.self, SnapshotsCommand.self, TablesCommand.self, FilesCommand.self, CompactCommand.self, VacuumCommand.self, VerifyCommand.self, DeleteCommand.self, EraseCommand.self,
            QualityCommand.self, MetricsCommand.self, DashboardCommand.self, UpgradeCommand.self, ServeCommand.self, CatalogCommand.self,
        ]
    )

    static func main() {
        ProcessSetup.limitMallocArenas()
        if let bad = ProcessSetup.argumentNotUTF8() {
            printError("Error: argument \(bad.index) (\(bad.shown)) is not valid UTF-8: lake reads file names and values as UTF-8; "
                       + "rename the file, or link it under a UTF-8 name (ln -s)")
            exit(withError: ExitCode.validationFailure)
        }
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(nil)
        } catch {
            exit(withError: error)
        }
        do {
            try command.run()
        } catch {
            // A usage error found while running is reported with the subcommand's usage, as one
            // found while parsing is (the parser's own handling printed the root's "Usage: lake
            // <subcommand>"), and a snapshot the command line named that the lake does not have
            // is one too.
            guard let usage = (error as? ValidationError) ?? usageError(error) else { exit(withError: error) }
            let text = usageString(for: type(of: command))
            let path = text.split(separator: " ").prefix { !$0.hasPrefix("[") && !$0.hasPrefix("<") && !$0.hasPrefix("-") }
            printError("Error: \(usage.message)\nUsage: \(text)\n  See '\(path.joined(separator: " ")) --help' for more information.")
            exit(withError: ExitCode.validationFailure)
        }
    }

    /// The error as a usage error when it is about a snapshot the arguments named (--as-of,
    /// --from-snapshot, --to-snapshot); without them the same error is the lake's, not the user's.
    static func usageError(_ error: any Error) -> ValidationError? {
        let arguments = CommandLine.arguments
        guard let e = error as? CatalogError,
              arguments.contains(where: { $0.hasPrefix("--as-of") || $0.hasPrefix("--from-snapshot") || $0.hasPrefix("--to-snapshot") })
        else { return nil }
        switch e {
        case .snapshotNotFound: return ValidationError(e.description)
        case .noSnapshotAtTime: return ValidationError(e.description + "; see `lake snapshots`")
        default: return nil
        }
    }
}

extension Lake {
    /// The release number, raised with each release; `lake --version` also names the catalog
    /// format, which decides which DuckDB versions can attach a lake this build writes.
    static let release = "0.13.0"
    static let versionText = "lake \(release): writes \(CatalogFormat.v10) catalogs (DuckDB 1.5 or later attaches them), "
        + "upgrades \(CatalogFormat.v03) ones (lake upgrade)"
}

/// The lake root, shared by every subcommand that touches a lake.
struct LakeOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Lake root directory (default: $LAKE_DIR, else ./lake).", valueName: "DIR"))
    var lake: String?

    @Option(name: .long, help: ArgumentHelp(
        "Where the lake's catalog lives: a PostgreSQL URL (postgresql://user@host:port/db) or libpq keyword string (host=… dbname=…), password from PGPASSWORD or ~/.pgpass (default: $LAKE_CATALOG, else the SQLite catalog <lake>/manifest.sqlite; a SQLite catalog is always its lake's manifest.sqlite, so a SQLite path names that file). Data files stay under --lake.",
        valueName: "URL"))
    var catalog: String?

    /// A relative lake path needs the working directory: deleted under the shell, every command
    /// answered "no lake at lake", and `lake run` "cannot create lake directory lake: The
    /// operation could not be completed. The specified URL type isn't supported" (session 16).
    func validate() throws {
        let path = lake ?? ProcessInfo.processInfo.environment["LAKE_DIR"] ?? "lake"
        // A file is no lake root: creating one there failed with Foundation's "A file with the
        // same name already exists", and a read said "no lake" without saying why.
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            let source = lake != nil ? "--lake" : "$LAKE_DIR"
            throw ValidationError("\(source) \(path) is a file, not a lake directory: point \(source) at the lake's directory (the one holding manifest.sqlite), or at a new path for a new lake")
        }
        guard !path.hasPrefix("/") else { return }
        if let cwd = getcwd(nil, 0) {
            free(cwd)
            return
        }
        let e = errno
        throw ValidationError("the lake path \(path) is relative, but the working directory cannot be found (\(errnoText(e)); was it deleted?): cd to an existing directory, or give --lake an absolute path")
    }

    var root: URL {
        let path = lake ?? ProcessInfo.processInfo.environment["LAKE_DIR"] ?? "lake"
        return URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL
    }

    /// The catalog `--catalog` or LAKE_CATALOG names; nil means the SQLite manifest in the lake root.
    var catalogLocation: CatalogLocation? {
        guard let text = catalog ?? ProcessInfo.processInfo.environment["LAKE_CATALOG"], !text.isEmpty else { return nil }
        return CatalogLocation.parse(text)
    }
}
