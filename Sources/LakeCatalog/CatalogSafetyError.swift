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
                + "(\(paths.prefix(3).joined(separator: ", "))); was a vacuum run with --force, or were files deleted by hand? Rerun the operation"
        case .readOnlyOpenFailed(let path, let detail):
            return "cannot open \(path) read-only: \(detail)"
        }
    }
}
