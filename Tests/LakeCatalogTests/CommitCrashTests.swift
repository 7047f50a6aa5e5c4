import Foundation
import GRDB
import LakeFormat
import Testing
@testable import LakeCatalog

@Suite("Commit protocol: SIGKILL of a catalog writer at every point", .serialized)
struct CommitCrashTests {
    /// Every named point of a write: bytes written before fsync, synced before BEGIN, and the
    /// commit's own points (lock taken, after a data-file insert, before COMMIT, after COMMIT).
    static let points = ["file.written", "file.synced", "commit.locked", "commit.dataFileAdded", "commit.beforeCommit", "commit.committed"]
    /// The points at which the operation in flight has not committed yet.
    static let beforeCommit: Set<String> = ["file.written", "file.synced", "commit.locked", "commit.dataFileAdded", "commit.beforeCommit"]

    /// What a kill cannot show, power loss, rests on these: SQLite syncs its log at every
    /// COMMIT (GRDB's WAL setup would leave NORMAL), and new directories are synced into
    /// their parents.
    @Test func commitsAndNewDirectoriesAreSynced() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let catalog = try Catalog.open(root: dir.url)
        #expect(try catalog.pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") } == 2)
        let reopened = try Catalog.open(root: dir.url, create: false)
        #expect(try reopened.pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") } == 2)

        let nested = dir.url.appendingPathComponent("curated/t/bucket=1/sub").path
        try Durability.createDirectories(nested)
        try Durability.createDirectories(nested + "/")  // present: no error
        var isDir: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: nested, isDirectory: &isDir) && isDir.boolValue)
        try Data("x".utf8).write(to: URL(fileURLWithPath: nested + "/file"))
        #expect(throws: ParquetError.self) { try Durability.createDirectories(nested + "/file/below") }
        #expect(throws: ParquetError.self) { try Durability.syncDirectory(nested + "/missing") }
    }

    @Test("54 kills at named points + 18 at random moments: old or new snapshot, never part; only vacuumable debris")
    func killWriterRepeatedly() throws {
        try #require(FileManager.default.isExecutableFile(atPath: writerBinary.path), "run `swift build --build-tests` first: \(writerBinary.path)")
        let dir = try TempDir("commit-crash"); defer { dir.cleanup() }
        let lake = dir.url.appendingPathComponent("lake")
        let setup = try WriterProcess(lake: lake, arguments: ["--writer", "0", "--setup"], dir: dir.url, label: "setup")
        setup.wait(timeout: 300)
        try #require(setup.exitedCleanly, "setup: \(setup.stderr)")

        // The schedule: each named point 9 times (kill at its 1st…6th arrival in the run, so
        // kills land in appends, schema changes and compactions alike) and 18 parent kills at
        // random delays, shuffled.
        var rng = SplitMix64(seed: 2026_11_22)
        var plan: [(point: String?, nth: Int, delay: Double)] = []
        for p in Self.points { for _ in 0 ..< 9 { plan.append((p, rng.int(1 ... 6), 0)) } }
        for _ in 0 ..< 18 { plan.append((nil, 0, 0.02 + rng.unit() * 0.3)) }
        for i in plan.indices.reversed() { plan.swapAt(i, rng.int(0 ... i)) }

        var state = try CommitInvariants.check(lake, label: "after setup", gapFreeRowIDs: true)
        var expired = false
        var kills: [String: Int] = [:]
        var opsAtKill: [String: Int] = [:]
        var reportedCommits = 0
        let started = Date()
        for (i, step) in plan.enumerated() {
            let writer = Int64(i + 1)
            let label = "kill \(i + 1) at \(step.point.map { "\($0):\(step.nth)" } ?? String(format: "random %.3f s", step.delay))"
            var args = ["--writer", String(writer), "--ops", "100000", "--mix", "all", "--seed", String(i)]
            if let p = step.point { args += ["--kill-at", "\(p):\(step.nth)"] }
            let w = try WriterProcess(lake: lake, arguments: args, dir: dir.url, label: "w\(writer)")
            if step.point == nil {
                Thread.sleep(forTimeInterval: step.delay)
                w.killNow()
            }
            let finished = w.wait(timeout: 300)
            #expect(finished, "\(label): writer did not reach its kill point in 300 s")
            guard w.killedBySIGKILL else {
                Issue.record("\(label): writer was not killed (\(w.process.terminationReason) \(w.process.terminationStatus)): \(w.stderr)")
                continue
            }
            kills[step.point ?? "random", default: 0] += 1

            // What the writer reported: its commits follow the previous latest snapshot with no
            // gap (it is the only writer), and the operation it was in when it died.
            let events = w.events
            let commits = events.filter { $0.event == "commit" }
            reportedCommits += commits.count
            #expect(commits.compactMap(\.snapshot) == Array((state.latest + 1) ..< (state.latest + 1 + Int64(commits.count))),
                    "\(label): reported snapshots \(commits.compactMap(\.snapshot)) after \(state.latest)")
            let lastReported = commits.last?.snapshot ?? state.latest
            let inFlight = events.last { $0.event == "start" }
            let inFlightDone = inFlight.map { s in commits.contains { $0.seq == s.seq } } ?? true
            if let inFlight, !inFlightDone { opsAtKill[inFlight.op, default: 0] += 1 }

            let after = try CommitInvariants.check(lake, label: label, gapFreeRowIDs: !expired)
            // Old or new snapshot: at a point before COMMIT the operation in flight is absent,
            // after COMMIT it is there whole; a random kill may land either side.
            let committedInFlight: Bool
            if let p = step.point, Self.beforeCommit.contains(p) {
                #expect(after.latest == lastReported, "\(label): latest \(after.latest), the writer last committed \(lastReported)")
                committedInFlight = false
            } else if step.point == "commit.committed" {
                #expect(after.latest == lastReported + 1, "\(label): latest \(after.latest), expected the in-flight commit \(lastReported + 1)")
                committedInFlight = true
            } else {
                #expect(after.latest == lastReported || after.latest == lastReported + 1, "\(label): latest \(after.latest) after \(lastReported)")
                committedInFlight = after.latest == lastReported + 1
            }
            // A compaction with no bucket to compact appends instead.
            let latestMessage = parseMessage(after.messages[after.latest] ?? "")
            if committedInFlight, let inFlight, !inFlightDone {
                let m = latestMessage
                #expect(m["writer"] == String(writer) && m["seq"] == String(inFlight.seq)
                        && (m["op"] == inFlight.op || (inFlight.op == "compact" && m["op"] == "append")),
                        "\(label): latest snapshot is '\(after.messages[after.latest] ?? "")', expected writer \(writer) seq \(inFlight.seq)")
            }

            // No lost or duplicated rows: the ids are the previous ones plus every reported
            // append, plus, when the in-flight operation committed unreported, exactly its rows.
            var expected = Set(state.liveIDs)
            for c in commits { expected.formUnion(c.ids) }
            let got = Set(after.liveIDs)
            #expect(expected.isSubset(of: got), "\(label): \(expected.subtracting(got).count) committed ids lost")
            let extra = got.subtracting(expected)
            if committedInFlight, let inFlight, !inFlightDone {
                #expect(extra.allSatisfy { $0 / 1_000_000_000 == writer && $0 % 1_000_000_000 / 10_000 == inFlight.seq },
                        "\(label): ids appeared that the in-flight operation did not write")
                #expect(Int64(extra.count) == (latestMessage["op"] == "append" ? Int64(latestMessage["rows"] ?? "") ?? -1 : 0),
                        "\(label): \(extra.count) new ids from the in-flight commit")
            } else {
                #expect(extra.isEmpty, "\(label): \(extra.count) ids no reported commit wrote")
            }
            // The snapshot that was latest before the kill still reads exactly as it did.
            if after.snapshots.contains(state.latest) {
                let catalog = try Catalog.open(root: lake, create: false)
                let table = try catalog.table(schema: "curated", name: "events", at: .snapshot(state.latest))
                #expect(try CommitInvariants.readIDs(catalog, table: table, at: .snapshot(state.latest), label: label) == state.liveIDs,
                        "\(label): snapshot \(state.latest) reads differently after the kill")
            }

            // Debris: only files of the operation in flight, present whenever it wrote one and
            // did not commit, absent when it committed. Vacuum (orphans at retention 0) removes
            // exactly them and leaves everything readable.
            let prefix = "w\(writer)-s\(inFlight?.seq ?? -1)-"
            // (A write killed before it published leaves its LocalStorage temp file, named after the file.)
            #expect(after.orphans.allSatisfy { LocalStorage.intendedName(ofFile: $0.lastPathComponent).hasPrefix(prefix) },
                    "\(label): unreferenced files not from the operation in flight: \(after.orphans.map(\.lastPathComponent))")
            if committedInFlight || inFlightDone {
                #expect(after.orphans.isEmpty, "\(label): committed, yet unreferenced files remain: \(after.orphans.map(\.lastPathComponent))")
            } else if let p = step.point, Self.beforeCommit.contains(p), inFlight?.op != "addColumn" {
                #expect(!after.orphans.isEmpty, "\(label): the in-flight \(inFlight?.op ?? "?") wrote files, but none are left as debris")
            }
            let catalog = try Catalog.open(root: lake, create: false)
            let removed = try catalog.removeOrphanFiles(olderThan: Date().addingTimeInterval(1))
            #expect(Set(removed.files.map(\.url.standardizedFileURL.path)) == Set(after.orphans.map(\.standardizedFileURL.path)), "\(label): vacuum removed \(removed.files.map(\.url.lastPathComponent))")
            #expect(removed.failedDeletes.isEmpty)
            var clean = try CommitInvariants.check(lake, label: label + " after vacuum", gapFreeRowIDs: !expired, readRows: false)
            #expect(clean.orphans.isEmpty, "\(label): unreferenced files after vacuum: \(clean.orphans.map(\.lastPathComponent))")
            let holds = FileManager.default.enumerator(atPath: lake.appendingPathComponent("curated").path)?
                .compactMap { $0 as? String }.filter { LocalStorage.heldName(ofFile: ($0 as NSString).lastPathComponent) != nil } ?? []
            #expect(holds.isEmpty, "\(label): hold names left after vacuum: \(holds)")
            clean.liveIDs = after.liveIDs

            // Every 12 kills, a full vacuum at retention 0 (expire every snapshot but the
            // latest, delete what only they could read): the lake still reads the same.
            if (i + 1) % 12 == 0 {
                let report = try catalog.vacuum(retain: 0, now: Date().addingTimeInterval(1))
                #expect(report.failedDeletes.isEmpty)
                expired = true
                clean = try CommitInvariants.check(lake, label: label + " after full vacuum", gapFreeRowIDs: false)
                #expect(clean.snapshots == [after.latest] && clean.liveIDs == after.liveIDs && clean.orphans.isEmpty,
                        "\(label): full vacuum changed what the lake reads")
            }
            state = clean
        }
        let total = kills.values.reduce(0, +)
        print("commit crash: \(total) kills \(kills.sorted { $0.key < $1.key }), in-flight ops \(opsAtKill), \(reportedCommits) commits reported, \(state.latest) snapshots, \(state.liveIDs.count) rows in \(state.liveFiles) files, \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        #expect(total >= 50, "only \(total) kills")
        for p in Self.points { #expect(kills[p, default: 0] >= 5, "only \(kills[p, default: 0]) kills at \(p)") }
        #expect(opsAtKill["addColumn", default: 0] + opsAtKill["compact", default: 0] > 0, "no kill landed in a schema change or compaction: \(opsAtKill)")

        // DuckDB reads the same rows through its own DuckLake implementation.
        let duck = try CommitInvariants.duckdbCounts(lake, in: dir.url)
        #expect(duck.rows == state.liveIDs.count && duck.distinct == duck.rows, "DuckDB: \(duck), ours: \(state.liveIDs.count)")
        #expect(duck.sum == String(state.liveIDs.reduce(0, +)), "DuckDB id sum \(duck.sum)")
    }
}
