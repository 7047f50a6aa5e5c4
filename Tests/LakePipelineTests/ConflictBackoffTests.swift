import Foundation
import LakeTestSupport
import Testing
@testable import LakeCatalog
@testable import LakePipeline

/// Session 20: an ingest that loses the commit race on every attempt gives up once its retries
/// are spent, naming how many attempts it made and the newest commit (the writer it kept losing
/// to), and commits nothing; it waited a growing pause between attempts.
@Suite struct ConflictBackoffTests {
    @Test("an ingest conflicting on every attempt: IngestError.conflictPersisted with the attempts and the newest commit, nothing committed")
    func anIngestThatKeepsConflictingNamesTheAttemptsAndTheNewestCommit() throws {
        let dir = try TemporaryDirectory("conflict-backoff")
        defer { dir.remove() }
        let gen = dir.file("gen")
        let g = try runLake(["generate", "--orders", "20", "--clean", "--seed", "37", "--out", gen])
        try #require(g.status == 0, "\(g.err)")
        let store = try OrphanSweepRaceTests.openLake(dir, hooks: CommitHooks())
        _ = try CatalogIngest.run(store, path: gen + "/product_catalog.json")
        let lines = try String(contentsOfFile: gen + "/orders_stream.jsonl", encoding: .utf8).split(separator: "\n")
        try #require(lines.count == 20)
        // Another writer (its own catalog connection) commits the batch's next order each time
        // the batch has read its source, between its base and its commit: every attempt conflicts.
        let other = try OrphanSweepRaceTests.openLake(dir, hooks: CommitHooks())
        var next = 0
        let progress: IngestProgress = { _, _ in
            do {
                let name = dir.file("other-\(next).jsonl")
                try (String(lines[next]) + "\n").write(toFile: name, atomically: true, encoding: .utf8)
                next += 1
                let run = try OrderIngest.run(other, path: name)
                #expect(run.accepted == 1)
            } catch {
                Issue.record("the other writer failed: \(error)")
            }
        }
        var options = IngestOptions()
        options.conflictRetries = 2
        options.parallelism = 1
        let started = Date()
        do {
            let run = try OrderIngest.run(store, path: gen + "/orders_stream.jsonl", options: options, progress: progress)
            Issue.record("the batch committed: snapshot \(run.snapshotID ?? -1)")
        } catch let e as IngestError {
            guard case .conflictPersisted(let table, let attempts, _, let latest) = e else {
                Issue.record("not a persisting conflict: \(e)")
                return
            }
            #expect(table == .curatedOrders && attempts == 3)
            #expect(latest.contains("ingest orders other-\(next - 1).jsonl"), "\(latest)")
            #expect(e.description.contains("3 attempts") && e.description.contains("nothing was committed"), "\(e)")
        }
        // Two pauses of 0.05-0.15 s and 0.1-0.3 s between the three attempts.
        #expect(Date().timeIntervalSince(started) >= 0.15)
        let messages = try store.catalog.snapshots().compactMap(\.message)
        #expect(!messages.contains { $0.contains("orders_stream") }, "\(messages)")
        #expect(messages.filter { $0.hasPrefix("ingest orders other-") }.count == next)
    }

    @Test("retries stop at conflictRetries, and past the time budget once three were made")
    func retriesAreBoundedInCountAndTime() {
        var options = IngestOptions()
        options.conflictRetries = 2
        var counted = ConflictBackoff(options)
        #expect([counted.retry(), counted.retry(), counted.retry()] == [true, true, false])
        options.conflictRetries = 12
        options.conflictRetryBudget = 0
        var timed = ConflictBackoff(options)
        #expect([timed.retry(), timed.retry(), timed.retry(), timed.retry()] == [true, true, true, false])
        #expect(timed.conflicts == 4)
        for n in 1 ... 20 {
            let p = ConflictBackoff.pause(n)
            #expect(p >= 0.05 && p <= 3.0, "pause \(n): \(p)")
        }
    }

    /// A SIGINT/SIGTERM (or a follower's stop) during a pause ends it: the command stops at the
    /// next attempt's first check instead of sitting out up to 3 s first.
    @Test("a stop request ends the pause at once; without one the pause is waited out")
    func aStopEndsThePause() {
        var backoff = ConflictBackoff(IngestOptions())
        var started = Date()
        // Five pauses of up to 0.1–1.6 s (times 0.5 to 1.5), each ended by the stop at once.
        for _ in 1 ... 5 {
            let retried = backoff.retry(stopping: { true })
            #expect(retried)
        }
        // Under 1.2 s: waited out, the five pauses take at least 1.55 s; a loaded machine may
        // deschedule this thread for a while.
        #expect(Date().timeIntervalSince(started) < 1.2, "\(Date().timeIntervalSince(started)) s")
        // The sixth pause (2 s times 0.5 to 1.5), not stopped, is waited out.
        started = Date()
        let retried = backoff.retry(stopping: { false })
        #expect(retried && Date().timeIntervalSince(started) >= 0.95)
    }
}
