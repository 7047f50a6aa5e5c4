import Foundation
import LakeCatalog
import LakeFormat

/// When an ingest that lost a commit race tries again. Three immediate retries lost to a
/// `--follow` committing every 0.2 s ids the batch also holds: each attempt re-read its source
/// and met the follower's next commit, and the batch failed within seconds although the race
/// ends as soon as the follower has passed the shared ids. Retries now wait a jittered,
/// doubling pause (two writers that conflicted do not retry in lockstep) and go on for up to
/// `IngestOptions.conflictRetries` retries within `IngestOptions.conflictRetryBudget` seconds
/// (at least three, however long each attempt takes);
/// past either the ingest fails with `IngestError.conflictPersisted`, naming the attempts and the
/// newest commit, nothing committed.
struct ConflictBackoff {
    private let retries: Int
    private let budget: TimeInterval
    private let started = Date()
    private(set) var conflicts = 0

    init(_ options: IngestOptions) {
        retries = options.conflictRetries
        budget = options.conflictRetryBudget
    }

    /// Retries made whatever the budget.
    static let alwaysRetried = 3

    /// The pause before retry `n` (1-based): 0.1 s doubling up to 2 s, times 0.5 to 1.5.
    static func pause(_ n: Int) -> TimeInterval {
        min(2.0, 0.1 * pow(2, Double(min(n, 16) - 1))) * Double.random(in: 0.5 ... 1.5)
    }

    /// After a conflict: false when the retries or the time budget are spent; else waits the
    /// pause and returns true. The pause ends early once `stopping` says so (a SIGINT/SIGTERM
    /// recorded by `Interruption`, a follower's `StopFlag`): the attempt that follows stops at its
    /// first check, instead of the command sitting out up to 3 s of a pause first.
    mutating func retry(stopping: () -> Bool = { Interruption.received != nil }) -> Bool {
        conflicts += 1
        guard conflicts <= retries else { return false }
        let wait = Self.pause(conflicts)
        // The budget bounds how long a run of conflicts goes on, but never below the three
        // retries an ingest always had: an attempt of a large file alone may take longer.
        guard conflicts <= Self.alwaysRetried || Date().timeIntervalSince(started) + wait <= budget else { return false }
        let end = Date().addingTimeInterval(wait)
        while !stopping() {
            let left = end.timeIntervalSinceNow
            if left <= 0 { break }
            Thread.sleep(forTimeInterval: min(left, 0.05))
        }
        return true
    }

    /// The error once `retry()` said no: the attempts made, the time spent and the newest commit.
    func exhausted(_ table: TableName, catalog: Catalog) throws -> IngestError {
        let latest = try catalog.latestSnapshot()
        let who = latest.message.map { "\"\(VisibleText.escape($0))\"" } ?? "by another engine (\(VisibleText.escape(latest.changesMade)))"
        return .conflictPersisted(table: table, attempts: conflicts, seconds: Int(Date().timeIntervalSince(started).rounded(.up)),
                                  latest: "snapshot \(latest.id) \(who)")
    }
}
