import Foundation
import GRDB
import LakeFormat
import Testing
@testable import LakeCatalog

@Suite("Commit protocol: writer processes committing at once", .serialized)
struct CommitConcurrencyTests {
    /// Starts the writers, lets them begin together once all have opened the catalog, waits for
    /// all, and checks each exited 0.
    private func race(_ lake: URL, _ dir: URL, _ writers: [(id: Int64, args: [String])]) throws -> [WriterProcess] {
        let setup = try WriterProcess(lake: lake, arguments: ["--writer", "0", "--setup"], dir: dir, label: "setup")
        setup.wait(timeout: 300)
        try #require(setup.exitedCleanly, "setup: \(setup.stderr)")
        let go = dir.appendingPathComponent("go").path
        let procs = try writers.map { w in
            try WriterProcess(lake: lake, arguments: ["--writer", String(w.id), "--seed", String(w.id), "--start-when", go] + w.args,
                              dir: dir, label: "w\(w.id)")
        }
        WriterProcess.startTogether(procs, ids: writers.map(\.id), go: go)
        for p in procs {
            #expect(p.wait(timeout: 300), "a writer ran for over 300 s")
            #expect(p.exitedCleanly, "writer exited \(p.process.terminationStatus): \(p.stderr)")
        }
        return procs
    }

    /// Checks what the writers reported against the lake: each reported commit is there exactly
    /// once under its own snapshot, every snapshot after setup is one reported commit, the rows
    /// are exactly the reported appends (through our reader and through DuckDB).
    private func verify(_ lake: URL, _ dir: URL, _ procs: [WriterProcess], ops: [Int64: Int], label: String) throws -> LakeState {
        let state = try CommitInvariants.check(lake, label: label, gapFreeRowIDs: true)
        #expect(state.orphans.isEmpty, "\(label): unreferenced files \(state.orphans.map(\.lastPathComponent))")
        var ids = Set<Int64>()
        var snapshots: [Int64] = []
        for p in procs {
            let commits = p.events.filter { $0.event == "commit" }
            guard let writer = commits.first?.writer else { Issue.record("\(label): a writer reported nothing"); continue }
            // Every operation committed exactly once, retries included.
            #expect(commits.map(\.seq) == Array(0 ..< Int64(ops[writer] ?? -1)), "\(label): writer \(writer) committed seqs \(commits.map(\.seq))")
            for c in commits {
                guard let snap = c.snapshot else { continue }
                snapshots.append(snap)
                let m = parseMessage(state.messages[snap] ?? "")
                #expect(m["writer"] == String(writer) && m["seq"] == String(c.seq), "\(label): snapshot \(snap) is '\(state.messages[snap] ?? "")', writer \(writer) reported seq \(c.seq)")
                #expect(ids.isDisjoint(with: c.ids), "\(label): an id was reported twice")
                ids.formUnion(c.ids)
            }
        }
        let setupSnapshot = state.snapshots.first { state.messages[$0] == "setup" } ?? -1
        #expect(snapshots.sorted() == Array((setupSnapshot + 1) ... state.latest), "\(label): snapshots are not exactly the reported commits")
        #expect(Set(state.liveIDs) == ids && state.liveIDs.count == ids.count, "\(label): \(state.liveIDs.count) rows read, \(ids.count) reported")
        let duck = try CommitInvariants.duckdbCounts(lake, in: dir)
        #expect(duck.rows == ids.count && duck.distinct == ids.count && duck.sum == String(ids.reduce(0, +)), "\(label): DuckDB \(duck), reported \(ids.count)")
        return state
    }

    @Test("three processes append 100 commits each to one table: all succeed, nothing lost or duplicated")
    func threeAppenders() throws {
        try #require(FileManager.default.isExecutableFile(atPath: writerBinary.path), "run `swift build --build-tests` first: \(writerBinary.path)")
        let dir = try TempDir("commit-race"); defer { dir.cleanup() }
        let lake = dir.url.appendingPathComponent("lake")
        let started = Date()
        let procs = try race(lake, dir.url, (1 ... 3).map { (Int64($0), ["--mix", "append", "--ops", "100"]) })
        for p in procs {
            #expect(p.events.filter { $0.event == "conflict" }.isEmpty, "appends never conflict: \(p.events.filter { $0.event == "conflict" }.map { $0.error ?? "" })")
        }
        let state = try verify(lake, dir.url, procs, ops: [1: 100, 2: 100, 3: 100], label: "3 appenders")
        // The writers really interleaved rather than running one after another.
        let order = state.snapshots.compactMap { parseMessage(state.messages[$0] ?? "")["writer"] }
        let switches = zip(order, order.dropFirst()).filter { $0 != $1 }.count
        print("3 appenders: 300 commits, \(switches) writer switches, \(state.liveIDs.count) rows, \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        #expect(switches >= 10, "writers barely interleaved (\(switches) switches)")
    }

    @Test("appends race schema changes and compactions: conflicts are typed, retried, and nothing is lost")
    func appendsSchemaChangesAndCompactions() throws {
        try #require(FileManager.default.isExecutableFile(atPath: writerBinary.path), "run `swift build --build-tests` first: \(writerBinary.path)")
        let dir = try TempDir("commit-race-mixed"); defer { dir.cleanup() }
        let lake = dir.url.appendingPathComponent("lake")
        let started = Date()
        // --think-ms widens each writer's window between reading its base and committing, so
        // the others commit inside it.
        let procs = try race(lake, dir.url, [(1, ["--mix", "append", "--ops", "80", "--think-ms", "4"]),
                                             (2, ["--mix", "schema", "--ops", "60", "--think-ms", "4"]),
                                             (3, ["--mix", "compact", "--ops", "50", "--think-ms", "4"])])
        let conflicts = procs.flatMap { $0.events.filter { $0.event == "conflict" } }
        for c in conflicts {
            #expect(c.error?.contains("conflict on curated.events: another writer committed snapshot") == true, "unclear conflict: \(c.error ?? "")")
        }
        let state = try verify(lake, dir.url, procs, ops: [1: 80, 2: 60, 3: 50], label: "mixed writers")
        let altered = state.messages.values.filter { $0.contains("op=addColumn") }.count
        let compacted = state.messages.values.filter { $0.contains("op=compact") }.count
        print("mixed writers: \(conflicts.count) conflicts retried (\(Dictionary(grouping: conflicts, by: \.writer).mapValues(\.count))), \(altered) schema changes, \(compacted) compactions, \(state.liveIDs.count) rows in \(state.liveFiles) files, \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        #expect(altered == 20 && compacted > 0)
        #expect(!conflicts.isEmpty, "no writer ever hit a conflict: the race did not happen")
    }

    /// DuckDB's ALTER TABLE … RENAME ends the table's row and adds one under the same id. The
    /// check read the first row it found, the ended one, and called the table dropped: a
    /// renamed curated.orders (renamed back, as DuckDB users do) could never be compacted,
    /// purged or migrated again, since vacuum keeps the old row as DuckDB does. A drop is still one.
    @Test func aRenamedTableIsNotTakenForADroppedOne() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let catalog = try Catalog.open(root: dir.url)
        let tid = try makeOrders(catalog)
        func rename(to name: String?) throws {
            try catalog.commit { tx in
                try tx.database.execute(sql: "UPDATE ducklake_table SET end_snapshot = ? WHERE table_id = ? AND end_snapshot IS NULL",
                                        arguments: [tx.snapshotID, tid])
                guard let name else { return }
                try tx.database.execute(sql: """
                    INSERT INTO ducklake_table SELECT table_id, table_uuid, ?, NULL, schema_id, ?, path, path_is_relative
                    FROM ducklake_table WHERE table_id = ? AND end_snapshot = ?
                    """, arguments: [tx.snapshotID, name, tid, tx.snapshotID])
            }
        }
        try rename(to: "orders_renamed")
        try rename(to: "orders")
        let base = try catalog.latestSnapshot()
        _ = try catalog.expireSnapshots(olderThan: Date().addingTimeInterval(60))
        try catalog.commit { tx in try tx.requireSchemaUnchanged(tableID: tid, since: base.id) }
        try rename(to: nil)
        #expect(throws: CatalogError.self) {
            try catalog.commit { tx in try tx.requireSchemaUnchanged(tableID: tid, since: base.id) }
        }
    }

    /// The two conflict kinds, made deterministic in one process with two catalogs.
    @Test func conflictsAreTypedAndNothingIsCommitted() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let a = try Catalog.open(root: dir.url), b = try Catalog.open(root: dir.url)
        let tid = try makeOrders(a)
        for name in ["x", "y"] {
            try a.commit { tx in try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), name, date: "2024-01-15", channel: "web", rows: 2)) }
        }
        let base = try a.latestSnapshot()
        let live = try a.dataFiles(tableID: tid).map(\.dataFileID)

        // A schema change after the base: a file written under the base schema is refused.
        try b.commit { tx in try tx.addColumn(tableID: tid, Field("coupon", .string, nullable: true)) }
        do {
            try a.commit { tx in
                try tx.requireSchemaUnchanged(tableID: tid, since: base.id)
                try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "z", date: "2024-01-15", channel: "web", rows: 1))
            }
            Issue.record("a file written under an older schema was committed")
        } catch let e as CatalogError {
            #expect(e == .conflict(table: "curated.orders", snapshot: base.id + 1, reason: "its columns changed after snapshot \(base.id)"))
            #expect(e.description.contains("re-read the table and retry"))
        }
        // Our own schema change in the same transaction is not a conflict.
        let rebased = try a.latestSnapshot()
        try a.commit { tx in
            try tx.addColumn(tableID: tid, Field("note", .string, nullable: true))
            try tx.requireSchemaUnchanged(tableID: tid, since: rebased.id)
        }

        // Two compactions of the same files: the second finds its inputs gone.
        try b.commit { tx in
            try tx.removeDataFiles(live)
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "bc", date: "2024-01-15", channel: "web", rows: 4))
        }
        let removedAt = try b.latestSnapshot().id
        let before = try a.latestSnapshot()
        do {
            try a.commit { tx in
                try tx.removeDataFiles(live)
                try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "ac", date: "2024-01-15", channel: "web", rows: 4))
            }
            Issue.record("a compaction of already removed files was committed")
        } catch let e as CatalogError {
            #expect(e == .conflict(table: "curated.orders", snapshot: removedAt, reason: "data file \(live[0]) was already removed"))
        }
        #expect(try a.latestSnapshot() == before)
        #expect(try a.dataFiles(tableID: tid).map(\.recordCount) == [4])
        // A file id that never existed, or one listed twice in the same commit, is "not
        // found", not a conflict: no other writer was involved.
        #expect(throws: CatalogError.dataFileNotFound(id: 999, snapshot: before.id + 1)) {
            try a.commit { tx in try tx.removeDataFiles([999]) }
        }
        let current = try a.dataFiles(tableID: tid).map(\.dataFileID)
        #expect(throws: CatalogError.dataFileNotFound(id: current[0], snapshot: before.id + 1)) {
            try a.commit { tx in try tx.removeDataFiles(current + current) }
        }
    }
}
