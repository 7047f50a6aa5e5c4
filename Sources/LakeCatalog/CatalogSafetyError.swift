import Foundation

/// Refusals that protect data from being lost: a catalog that would be created over existing
/// data, a vacuum that would delete files its catalog never knew, a commit of missing files.
public enum CatalogSafetyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The lake directory holds data files but no catalog (manifest.sqlite missing or empty).
    case catalogMissing(root: String, dataFiles: Int, example: String)
    /// Vacuum found unreferenced files it cannot attribute to this catalog's writers.
    case foreignFiles(count: Int, example: String, reason: String)
    /// The files of a commit are gone or changed before the commit (a concurrent delete).
    case filesMissingAtCommit(paths: [String])
    /// A read-only open of the catalog failed.
    case readOnlyOpenFailed(path: String, detail: String)
    /// The commit happened, but settling its files afterwards failed: files another process
    /// deleted that could not be brought back, or hold names that could not be removed.
    case committedFilesUnsettled(snapshot: Int64, lost: [String], problems: [String])

    public var description: String {
        switch self {
        case .catalogMissing(let root, let n, let example):
            return "\(root) holds \(n) data files (e.g. \(example)) but no catalog (manifest.sqlite is missing or empty); "
                + "refusing to create a new empty catalog over them, which would make vacuum treat them all as orphans. "
                + "Restore manifest.sqlite from a backup (docs/OPERATIONS.md); to start over on purpose, move the data "
                + "directories away or run `lake init --force`"
        case .foreignFiles(let n, let example, let reason):
            return "vacuum refused, nothing was deleted: \(n) unreferenced files (e.g. \(example)) that this catalog never "
                + "wrote: \(reason). If manifest.sqlite was lost or replaced, restore it from a backup; if these files "
                + "really are debris, move them out of the lake by hand"
        case .filesMissingAtCommit(let paths):
            return "commit refused, nothing was committed: \(paths.count) of its data files are missing or changed on disk "
                + "(\(paths.prefix(3).joined(separator: ", "))); was a vacuum run with --force, DuckDB's ducklake_delete_orphaned_files "
                + "with cleanup_all or a recent older_than, or were files deleted by hand? Rerun the operation"
        case .readOnlyOpenFailed(let path, let detail):
            return "cannot open \(path) read-only: \(detail)"
        case .committedFilesUnsettled(let snapshot, let lost, let problems):
            var parts: [String] = []
            if !lost.isEmpty {
                parts.append("\(lost.count) of its data files were deleted by another process right after the commit and could "
                    + "not be restored (\(lost.prefix(3).joined(separator: ", "))): was DuckDB's ducklake_delete_orphaned_files run "
                    + "with cleanup_all or a recent older_than while lake was writing? `lake verify` lists what snapshot \(snapshot) lost")
            }
            if !problems.isEmpty {
                parts.append("the hold names of its files could not all be removed (\(problems.prefix(3).joined(separator: "; "))); "
                    + "they take no space of their own and `lake vacuum` removes them")
            }
            return "snapshot \(snapshot) was committed, but " + parts.joined(separator: "; and ")
        }
    }
}
