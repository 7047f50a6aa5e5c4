import Foundation
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakeCatalog

/// Writer processes committing at once into one catalog on PostgreSQL (issue 18): the writers
/// take turns on the catalog's advisory lock, so every commit lands exactly once, nothing is
/// lost, and no lock error reaches a writer.
@Suite("Commit protocol on PostgreSQL", .serialized)
struct PostgresConcurrencyTests {
    @Test("four processes append 100 commits each to one PostgreSQL catalog: all succeed, nothing lost or duplicated")
    func fourAppendersOnPostgres() throws {
        try #require(FileManager.default.isExecutableFile(atPath: writerBinary.path), "run `swift build --build-tests` first: \(writerBinary.path)")
        let pg = try PostgresCluster.shared()
        let url = pg.url(database: try pg.createDatabase())
        let dir = try TempDir("pg-commit-race"); defer { dir.cleanup() }
        let lake = dir.url.appendingPathComponent("lake")
        let env = ["LAKE_CATALOG": url]
        let started = Date()
        let setup = try WriterProcess(lake: lake, arguments: ["--writer", "0", "--setup"], dir: dir.url, label: "setup", environment: env)
        setup.wait(timeout: 300)
        try #require(setup.exitedCleanly, "setup: \(setup.stderr)")
        // The writers begin together once all have opened the catalog (LakeCatalogWriter --start-when).
        let go = dir.url.appendingPathComponent("go").path
        let procs = try (1 ... 4).map { w in
            try WriterProcess(lake: lake, arguments: ["--writer", "\(w)", "--seed", "\(w)", "--mix", "append", "--ops", "100", "--start-when", go],
                              dir: dir.url, label: "w\(w)", environment: env)
        }
        WriterProcess.startTogether(procs, ids: [1, 2, 3, 4], go: go)
        for p in procs {
            #expect(p.wait(timeout: 300), "a writer ran for over 300 s")
            #expect(p.exitedCleanly, "writer exited \(p.process.terminationStatus): \(p.stderr)")
        }
        let seconds = Date().timeIntervalSince(started)

        let catalog = try Catalog.open(root: lake, catalog: .postgres(url), create: false)
        let snaps = try catalog.snapshots()
        let messages = Dictionary(uniqueKeysWithValues: snaps.map { ($0.id, $0.message ?? "") })
        var reported = Set<Int64>(), snapshots: [Int64] = []
        for p in procs {
            let commits = p.events.filter { $0.event == "commit" }
            #expect(commits.map(\.seq) == Array(0 ..< 100), "writer committed seqs \(commits.map(\.seq))")
            for c in commits {
                guard let s = c.snapshot else { continue }
                snapshots.append(s)
                let m = parseMessage(messages[s] ?? "")
                #expect(m["writer"] == String(c.writer) && m["seq"] == String(c.seq), "snapshot \(s) is '\(messages[s] ?? "")'")
                #expect(reported.isDisjoint(with: c.ids), "an id was reported twice")
                reported.formUnion(c.ids)
            }
        }
        // Snapshot ids are contiguous and each is exactly one reported commit.
        let setupSnapshot = snaps.first { $0.message == "setup" }?.id ?? -1
        let last = snaps.last?.id ?? 0
        #expect(setupSnapshot >= 0 && last > setupSnapshot, "no commits after setup (snapshots \(snaps.map(\.id)))")
        if setupSnapshot >= 0 && last > setupSnapshot {
            #expect(snapshots.sorted() == Array((setupSnapshot + 1) ... last))
            #expect(snaps.map(\.id) == Array((snaps.first?.id ?? 0) ... last))
        }
        let table = try catalog.table(schema: "curated", name: "events")
        let ids = try CommitInvariants.readIDs(catalog, table: table, label: "4 appenders on PostgreSQL")
        #expect(Set(ids) == reported && ids.count == reported.count, "\(ids.count) rows read, \(reported.count) reported")
        let order = snaps.compactMap { parseMessage($0.message ?? "")["writer"] }
        let switches = zip(order, order.dropFirst()).filter { $0 != $1 }.count
        print("4 appenders on PostgreSQL: 400 commits, \(switches) writer switches, \(ids.count) rows, \(String(format: "%.1f", seconds)) s")
        #expect(switches >= 10, "writers barely interleaved (\(switches) switches)")
    }

    /// What a PostgreSQL catalog holds after a kill: contiguous snapshots, and the ids read from
    /// the files (readIDs checks each file's row count and that no id repeats).
    private func state(_ lake: URL, _ url: String, label: String) throws -> (latest: Int64, messages: [Int64: String], ids: Set<Int64>) {
        let catalog = try Catalog.open(root: lake, catalog: .postgres(url), create: false)
        let snaps = try catalog.snapshots()
        let ids = snaps.map(\.id)
        #expect(ids == Array((ids.first ?? 0) ... (ids.last ?? 0)), "\(label): snapshot ids \(ids)")
        let table = try catalog.table(schema: "curated", name: "events")
        let live = try CommitInvariants.readIDs(catalog, table: table, label: label)
        return (snaps.last?.id ?? -1, Dictionary(uniqueKeysWithValues: snaps.map { ($0.id, $0.message ?? "") }), Set(live))
    }

    @Test("54 SIGKILLs at the commit points on PostgreSQL: the old or the new snapshot, never part of one")
    func killWritersAtCommitPoints() throws {
        try #require(FileManager.default.isExecutableFile(atPath: writerBinary.path), "run `swift build --build-tests` first: \(writerBinary.path)")
        let pg = try PostgresCluster.shared()
        let url = pg.url(database: try pg.createDatabase())
        let dir = try TempDir("pg-commit-crash"); defer { dir.cleanup() }
        let lake = dir.url.appendingPathComponent("lake")
        let env = ["LAKE_CATALOG": url]
        let setup = try WriterProcess(lake: lake, arguments: ["--writer", "0", "--setup"], dir: dir.url, label: "setup", environment: env)
        setup.wait(timeout: 300)
        try #require(setup.exitedCleanly, "setup: \(setup.stderr)")
        var rng = SplitMix64(seed: 2026_11_28)
        var plan: [(point: String, nth: Int)] = []
        for p in CommitCrashTests.points { for _ in 0 ..< 9 { plan.append((p, rng.int(1 ... 3))) } }
        for i in plan.indices.reversed() { plan.swapAt(i, rng.int(0 ... i)) }
        var before = try state(lake, url, label: "after setup")
        var kills = 0
        for (i, step) in plan.enumerated() {
            let writer = Int64(i + 1)
            let label = "kill \(i + 1) at \(step.point):\(step.nth)"
            let w = try WriterProcess(lake: lake, arguments: ["--writer", "\(writer)", "--ops", "100000", "--mix", "append", "--seed", "\(i)",
                                                             "--kill-at", "\(step.point):\(step.nth)"], dir: dir.url, label: "w\(writer)", environment: env)
            #expect(w.wait(timeout: 300), "\(label): writer did not reach its kill point")
            guard w.killedBySIGKILL else {
                Issue.record("\(label): writer was not killed: \(w.stderr)")
                continue
            }
            kills += 1
            let commits = w.events.filter { $0.event == "commit" }
            let lastReported = commits.last?.snapshot ?? before.latest
            let after = try state(lake, url, label: label)
            var expected = before.ids
            for c in commits { expected.formUnion(c.ids) }
            #expect(expected.isSubset(of: after.ids), "\(label): \(expected.subtracting(after.ids).count) committed ids lost")
            let extra = after.ids.subtracting(expected)
            if CommitCrashTests.beforeCommit.contains(step.point) {
                // Killed before COMMIT: the server rolled the open transaction back.
                #expect(after.latest == lastReported, "\(label): latest \(after.latest), last committed \(lastReported)")
                #expect(extra.isEmpty, "\(label): \(extra.count) ids no commit wrote")
            } else {
                // Killed after COMMIT returned: the in-flight append is there, whole.
                #expect(after.latest == lastReported + 1, "\(label): latest \(after.latest), expected \(lastReported + 1)")
                let m = parseMessage(after.messages[after.latest] ?? "")
                #expect(m["writer"] == String(writer) && Int64(m["rows"] ?? "") == Int64(extra.count),
                        "\(label): latest is '\(after.messages[after.latest] ?? "")' with \(extra.count) new ids")
            }
            before = after
        }
        #expect(kills == 54)
        print("PostgreSQL crash test: \(kills) SIGKILLs, latest snapshot \(before.latest), \(before.ids.count) rows")
    }
}
