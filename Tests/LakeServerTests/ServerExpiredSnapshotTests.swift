import Foundation
import LakeCatalog
import LakeQuery
import LakeTestSupport
import Testing
@testable import LakeServer

/// A request pins the latest snapshot when it comes in; a commit and a vacuum with a short
/// retention before its answer is computed expire that snapshot. The session 13 probe saw
/// quality, /metrics and the dashboard answer 500 "snapshot N does not exist" that way (15 of
/// 38,500 requests while ingest, compaction, delete and `vacuum --retain 0s --force` ran).
@Suite("lake serve: a request whose snapshot vacuum expired", .serialized)
struct ServerExpiredSnapshotTests {
    @Test("a request for the latest snapshot is answered at the new latest when vacuum expired its own; one naming as_of keeps its error")
    func expiredSnapshotIsReplanned() async throws {
        let fixture = try LakeFixture.shared.get()
        let dir = try TemporaryDirectory("serve-expired")
        defer { dir.remove() }
        let root = try fixture.copy(into: dir)
        let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false, readOnly: true)
        let api = LakeAPI(catalog: catalog, quality: QualityConfig(), channels: ["web", "mobile", "api"])
        let latest = try QueryParameters([(key: Substring, value: Substring)](), allowed: DataEndpoint.quality.parameters)
        let sales = try QueryParameters([(key: Substring, value: Substring)](), allowed: DataEndpoint.dailySales.parameters)
        let plans: [(name: String, plan: LakeAPI.Plan, replan: () throws -> LakeAPI.Plan)] = [
            ("/metrics", try api.lakeMetrics(), { try api.lakeMetrics() }),
            ("/", try api.dashboard(), { try api.dashboard() }),
            ("quality", try api.data(.quality, latest), { try api.data(.quality, latest) }),
            ("daily_sales", try api.data(.dailySales, sales), { try api.data(.dailySales, sales) }),
        ]
        let pinned = fixture.latest
        let asOfPinned = try QueryParameters([(key: Substring("as_of"), value: Substring(String(pinned)))], allowed: DataEndpoint.dailySales.parameters)
        let named = try api.data(.dailySales, asOfPinned)
        #expect(plans.allSatisfy { $0.plan.snapshot == pinned })

        // Another process commits and vacuums with no retention: the pinned snapshot expires.
        for args in [["delete", "--lake", root, "orders", "--where", "event_date = 2024-01-12", "--where", "channel = web"],
                     ["vacuum", "--lake", root, "--retain", "0s", "--force"]] {
            let r = try lake(args)
            #expect(r.status == 0, "lake \(args.joined(separator: " ")): \(r.err)")
        }
        let now = try catalog.latestSnapshot().id
        #expect(now > pinned && api.isExpired(pinned) && !api.isExpired(now))

        for (name, plan, replan) in plans {
            // The race is real: the plan as made fails (quality, metrics and the dashboard
            // resolve their snapshot again while computing).
            if name != "daily_sales" {
                await #expect(throws: CatalogError.self, "\(name) at the expired snapshot") { _ = try await api.answer(plan) }
            }
            let (answered, answer) = try await api.answer(plan, replan: replan)
            #expect(answered.snapshot == now, "\(name) is answered at the new latest snapshot")
            #expect(!answer.body.isEmpty)
            // The same answer as a request that came in after the vacuum.
            let fresh = try await api.answer(try replan())
            #expect(answer.body == fresh.body, "\(name)")
        }

        // A client that named the snapshot gets a 400 for its as_of, whether the vacuum came
        // before its request was planned or while it was computed (was: 500 internal error).
        #expect(throws: APIError.self) { _ = try api.data(.dailySales, asOfPinned) }
        do {
            _ = try await api.answer(named, replan: nil)
            Issue.record("a named snapshot that expired is not answered")
        } catch let e as APIError {
            guard case .badParameter(let name, _) = e else { Issue.record("\(e)"); return }
            #expect(name == "as_of")
        }
    }
}
