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
        let pg = try PostgresCluster()
        defer { pg.stop() }
        let url = pg.url(database: try pg.createDatabase())
        let dir = try TempDir("pg-commit-race"); defer { dir.cleanup() }
        let lake = dir.url.appendingPathComponent("lake")
        let env = ["LAKE_CATALOG": url]
        let started = Date()
        let setup = try WriterProcess(lake: lake, arguments: ["--writer", "0", "--setup"], dir: dir.url, label: "setup", environment: env)
        setup.wait(timeout: 60)
        try #require(setup.exitedCleanly, "setup: \(setup.stderr)")
        let procs = try (1 ... 4).map { w in
            try WriterProcess(lake: lake, arguments: ["--writer", "\(w)", "--seed", "\(w)", "--mix", "append", "--ops", "100"],
                              dir: dir.url, label: "w\(w)", environment: env)
        }
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
}
