import Foundation
import LakeCatalog
import LakeTestSupport
import Testing

/// `lake ingest … --format json` prints the same `IngestRun` the ingest records in
/// `lake_ingest_run`, with the keys scripts (the Airflow DAG among them) have always read.
@Suite("Ingest summary")
struct IngestSummaryTests {
    static let evaluation = packageRoot.appendingPathComponent("Evaluation-Files")
    static let common: Set<String> = [
        "kind", "source", "records", "accepted", "quarantined", "duplicates", "rejects", "files_written", "bytes_written",
        "partitions", "seconds", "records_per_second", "unknown_fields",
    ]

    func ingest(_ kind: String, _ file: String, lake: String) throws -> [String: Any] {
        let r = try runLake(["ingest", kind, Self.evaluation.appendingPathComponent(file).path, "--lake", lake, "--format", "json", "--quiet"])
        #expect(r.status == 0, "\(r.err)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "\(r.out)")
    }

    @Test("the JSON keys of each kind of ingest, committed and already ingested, are the ones printed before")
    func jsonKeys() throws {
        let dir = try TemporaryDirectory("ingest-summary")
        defer { dir.remove() }
        let lake = dir.file("lake")
        let catalog = try ingest("catalog", "product_catalog.json", lake: lake)
        let inventory = try ingest("inventory", "inventory_updates.csv", lake: lake)
        let orders = try ingest("orders", "orders_stream.jsonl", lake: lake)
        let again = try ingest("orders", "orders_stream.jsonl", lake: lake)
        let catalogAgain = try ingest("catalog", "product_catalog.json", lake: lake)
        #expect(Set(catalog.keys) == Self.common.union(["snapshot_id"]))
        #expect(Set(inventory.keys) == Self.common.union(["snapshot_id"]))
        // Only an orders batch names the batch the quality checks group by.
        #expect(Set(orders.keys) == Self.common.union(["snapshot_id", "batch_id"]))
        #expect(Set(again.keys) == Self.common.union(["already_ingested_at"]))
        #expect(Set(catalogAgain.keys) == Self.common.union(["already_ingested_at"]))
        #expect((again["already_ingested_at"] as? NSNumber)?.int64Value == (orders["snapshot_id"] as? NSNumber)?.int64Value)

        // What was printed is what the ledger holds for that snapshot.
        let runs = try Catalog.open(root: URL(fileURLWithPath: lake), create: false).ingestRuns()
        #expect(runs.count == 3)
        for printed in [catalog, inventory, orders] {
            let snapshot = (printed["snapshot_id"] as? NSNumber)?.int64Value
            let run = try #require(runs.first { $0.snapshotID == snapshot }, "\(printed)")
            #expect(printed["kind"] as? String == run.kind.rawValue)
            for (key, value) in [("records", run.records), ("accepted", run.accepted), ("quarantined", run.quarantined),
                                 ("duplicates", run.duplicates), ("files_written", run.filesWritten),
                                 ("bytes_written", run.bytesWritten), ("partitions", run.partitions)] {
                #expect((printed[key] as? NSNumber)?.int64Value == value, "\(run.kind) \(key)")
            }
            let rejects = try #require(printed["rejects"] as? [String: NSNumber])
            #expect(rejects.mapValues(\.int64Value) == run.rejects, "\(run.kind)")
        }
        #expect(orders["batch_id"] as? String == runs.first { $0.kind == .orders }?.batchID)
    }
}
