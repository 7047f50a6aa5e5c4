/// The named points of `Catalog.commit`, in the order one commit passes them.
public enum CommitPoint: String, Sendable, CaseIterable {
    /// `BEGIN IMMEDIATE` holds the write lock; nothing is written yet.
    case locked
    /// One `addDataFile` has inserted its rows (data file, column and partition values, table
    /// stats); a commit adding several files passes here once per file.
    case dataFileAdded
    /// The snapshot and its change summary are inserted; `COMMIT` is next.
    case beforeCommit
    /// `COMMIT` returned: the snapshot is durable and visible; `commit` has not returned yet.
    case committed
    /// Not a commit's: `Catalog.copy` has committed its target and still holds the source's
    /// write lock, its retirement marker not yet committed.
    case copyWritten
}

/// Test instrumentation of the commit protocol, carried by value in `Catalog`
/// (`Catalog.open(root:hooks:)`), never read from the environment. The crash-injection tests
/// make a writer process kill itself at a point to prove that a crash there leaves the catalog
/// at the old or the new snapshot (`Tests/LakeCatalogWriter`). Production code passes `.none`.
public struct CommitHooks: Sendable {
    public var at: (@Sendable (CommitPoint) -> Void)?

    public init(at: (@Sendable (CommitPoint) -> Void)? = nil) {
        self.at = at
    }

    public static let none = CommitHooks()

    func callAsFunction(_ point: CommitPoint) { at?(point) }
}
