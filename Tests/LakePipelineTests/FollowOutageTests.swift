import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
import LakeTestSupport
import Testing

/// A follower's catalog server going away at the two points of a commit where the follower's
/// own state is at stake (session 24 review). Right after COMMIT answered: the reads that
/// follow the commit failed, and the follower took the commit for failed and deleted the
/// files of the snapshot that had just landed. Inside the commit's transaction: the batch's
/// lease row outlived it (its release could not reach the server), naming the live follower,
/// so vacuum kept every orphan newer than it while the follower ran. In-process, with a
/// private server stopped from a commit hook and started again from another thread.
@Suite(.serialized)
struct FollowOutageTests {
    @Test("the server stopped at a commit point: the follower waits, every line once, every committed file there, no lease left",
          arguments: [CommitPoint.committed, .locked])
    func outageAtACommitPoint(_ point: CommitPoint) throws {
        let pg = try PostgresCluster()
        defer { pg.stop() }
        let dir = try TemporaryDirectory("follow-outage")
        defer { dir.remove() }
        let root = dir.url.appendingPathComponent("lake", isDirectory: true)
        let url = pg.url(database: try pg.createDatabase())
        let armed = LockedFlag(), restarted = LockedFlag()
        let catalog = try Catalog.open(root: root, catalog: .postgres(url), hooks: CommitHooks { p in
            // The first commit point of the kind after arming: the server goes; it comes back 1.5 s later.
            guard p == point, armed.get(), !restarted.getAndSet() else { return }
            do { try pg.stopServer() } catch { Issue.record("pg_ctl stop: \(error)") }
            Thread.detachNewThread {
                Thread.sleep(forTimeInterval: 1.5)
                do { try pg.startServer() } catch { Issue.record("pg_ctl start: \(error)") }
            }
        })
        let store = LakeStore(catalog: catalog, registry: try LakeStore.registry(.directory(schemasDirectory), catalog: catalog))
        _ = try CatalogIngest.run(store, path: evaluationCatalog)
        let lines = try String(contentsOfFile: evaluationOrders, encoding: .utf8).split(separator: "\n").count
        let live = dir.file("live.jsonl")
        try FileManager.default.copyItem(atPath: evaluationOrders, toPath: live)

        var options = StreamOptions()
        options.commitEvery = 100
        options.stopAtEnd = true
        options.reconnectFor = 120
        var waits: [Reconnect] = []
        _ = armed.getAndSet()
        let totals = try StreamIngest.follow(store, path: live, options: options, stop: StopFlag(), onReconnect: { waits.append($0) })
        #expect(restarted.get(), "the hook never ran")
        #expect(!waits.isEmpty, "the follower never waited for the server")
        #expect(totals.records > 0)

        // Every line once in raw; every file the catalog names is there; DuckDB reads them.
        let verify = try runLake(["verify", "--lake", root.path, "--catalog", url])
        #expect(verify.status == 0, "lake verify: \(verify.out.suffix(800))\(verify.err)")
        let raw = try runLake(["query", "raw.orders", "--agg", "count(*)", "--agg", "count_distinct(line_number)", "--format", "csv",
                               "--lake", root.path, "--catalog", url])
        #expect(raw.out.split(separator: "\n").dropFirst().first == "\(lines),\(lines)", "raw.orders: \(raw.out)\(raw.err)")
        let ours = try catalog.writeLeases().filter { $0.lease.pid == Int64(getpid()) }
        #expect(ours.isEmpty, "leases of this process left: \(ours.map(\.lease.operation))")
    }
}
