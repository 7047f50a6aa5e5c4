import ArgumentParser
import Foundation
import LakeCatalog

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every live data file against the catalog; exit 1 if any fails.",
        discussion: """
        For each file a read at the snapshot would scan: it exists, has the size recorded at \
        commit, its footer has the recorded checksum (files lake wrote) and parses, it holds \
        every column the catalog says it does, every page passes its CRC (when the writer stored \
        one) and decodes, and it holds the recorded row count. Nothing is changed. One line per \
        file with the snapshot that committed it; a failed file names what failed, and standard \
        error names each such snapshot's commit and the sources it ingested (path, content hash, \
        batch): what to restore from a backup. Files DuckDB wrote are checked by size and decode.

        Examples:
          lake verify
          lake verify --table curated.orders --format json
          lake verify --table orders --as-of 12 --format csv > verify.csv
        """)

    @OptionGroup var lake: LakeOptions
    @Option(help: ArgumentHelp("Only this table: layer.name, or a curated table's name.", valueName: "TABLE")) var table: String?
    @OptionGroup var when: AsOfOption
    @Option(help: "table, json or csv.") var format: OutputFormat = .table
    @Flag(help: "No progress bar (drawn on standard error only when that is a terminal and --format is table).") var quiet = false

    func run() throws {
        // Read-only: verify writes nothing, and a read-only open still works on a full disk (no -shm to grow; see SQLiteStore.openReadOnly).
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false, readOnly: true)
        let snap = try catalog.resolve(when.asOf)
        let results = try withProgressBar("verify", unit: .bytes, quiet: quiet || format != .table) { progress in
            try catalog.verifyFiles(table: table, at: .snapshot(snap.id), progress: progress)
        }
        let rootPath = lake.root.path.hasSuffix("/") ? lake.root.path : lake.root.path + "/"
        func shown(_ path: String) -> String { path.hasPrefix(rootPath) ? String(path.dropFirst(rootPath.count)) : path }
        let failed = results.filter { !$0.ok }
        switch format {
        case .json:
            try printJSON(results.map { v -> [String: Any] in
                ["table": v.table, "data_file_id": v.dataFileID, "snapshot_id": v.snapshotID, "path": shown(v.path), "file_size_bytes": v.recordedBytes,
                 "record_count": v.recordCount, "footer_checksum_recorded": v.footerChecksumRecorded, "pages": v.pages,
                 "pages_with_crc": v.pagesWithCRC, "status": v.status.rawValue, "detail": v.detail ?? NSNull()]
            })
        case .table, .csv:
            let rows = results.map { v in
                [v.table, String(v.dataFileID), String(v.snapshotID), shown(v.path), String(v.recordedBytes), v.footerChecksumRecorded ? "yes" : "no",
                 String(v.pages), String(v.pagesWithCRC), v.status.rawValue, v.detail ?? ""]
            }
            if format == .table {
                print("\(results.count) files at snapshot \(snap.id): \(results.count - failed.count) ok, \(failed.count) failed")
            }
            printListing(["table", "id", "snapshot", "path", "bytes", "footer_crc", "pages", "pages_crc", "status", "detail"], rows, format: format)
        }
        let unsupported = failed.filter { $0.status == .unsupported }
        if !unsupported.isEmpty {
            printError("note: \(unsupported.count) files use Parquet features lake cannot read (status unsupported: written by another tool, not damaged); DuckDB reads them")
        }
        let damaged = failed.filter { $0.status != .unsupported }
        if !damaged.isEmpty {
            // Which commits wrote the damaged files, and from which sources: what to restore
            // from a backup, or which source files hold the rows.
            for origin in try catalog.origins(ofSnapshots: Set(damaged.map(\.snapshotID))) {
                let count = damaged.filter { $0.snapshotID == origin.snapshotID }.count
                var what: String
                if let commit = origin.commit {
                    what = "committed at \(Timestamps.iso(commit.time)) by " + (commit.message.map { "\"\($0)\"" } ?? "another engine (no lake commit message)")
                } else {
                    what = "expired by vacuum: its commit is no longer recorded"
                }
                printError("snapshot \(origin.snapshotID): \(count) failed file\(count == 1 ? "" : "s"), \(what)")
                for run in origin.ingestRuns {
                    printError("  source: \(run.source) (\(run.kind.rawValue)\(run.sourceHash.map { ", content hash " + $0 } ?? ""), batch \(run.batchID ?? "?"), \(run.accepted) accepted)")
                }
            }
            printError("error: \(damaged.count) of \(results.count) files fail verification; restore them from a backup before compacting or vacuuming")
        }
        if !failed.isEmpty { throw ExitCode(1) }
    }
}
