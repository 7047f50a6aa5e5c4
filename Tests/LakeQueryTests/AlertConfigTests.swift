import Foundation
import LakeTestSupport
import Testing
@testable import LakeQuery

/// Every command that evaluates alerts resolves its thresholds the same way: --config FILE,
/// else <lake>/alerts.json, else the built-in defaults; never a path relative to the
/// working directory.
@Suite("Alert configuration")
struct AlertConfigTests {
    @Test("--config wins, then <lake>/alerts.json, then the defaults")
    func resolutionOrder() throws {
        let dir = try TemporaryDirectory("alert-config")
        defer { dir.remove() }
        let lake = dir.url.appendingPathComponent("lake")
        try FileManager.default.createDirectory(at: lake, withIntermediateDirectories: true)
        #expect(try QualityConfig.resolve(explicit: nil, lake: lake) == QualityConfig())
        try #"{"validity_max_invalid_rate": 0.5}"#.write(to: lake.appendingPathComponent("alerts.json"), atomically: true, encoding: .utf8)
        #expect(try QualityConfig.resolve(explicit: nil, lake: lake).validityMaxInvalidRate == 0.5)
        let explicit = dir.file("other.json")
        try #"{"validity_max_invalid_rate": 0.25}"#.write(toFile: explicit, atomically: true, encoding: .utf8)
        #expect(try QualityConfig.resolve(explicit: explicit, lake: lake).validityMaxInvalidRate == 0.25)
    }

    @Test("quality check and the post-ingest checks read <lake>/alerts.json, whatever the working directory")
    func lakeFileIsUsedByCheckAndIngest() throws {
        let dir = try TemporaryDirectory("alert-config-cli")
        defer { dir.remove() }
        let lake = dir.file("lake")
        let input = packageRoot.appendingPathComponent("Evaluation-Files")
        #expect(try runLake(["init", "--lake", lake]).status == 0)
        // A validity limit of 0: the sample's malformed lines must fail the check.
        try #"{"validity_max_invalid_rate": 0}"#.write(toFile: lake + "/alerts.json", atomically: true, encoding: .utf8)
        #expect(try runLake(["ingest", "catalog", input.appendingPathComponent("product_catalog.json").path, "--lake", lake]).status == 0)
        #expect(try runLake(["ingest", "orders", input.appendingPathComponent("orders_stream.jsonl").path, "--lake", lake]).status == 0)
        let report = try runLake(["quality", "report", "--lake", lake, "--format", "json"])
        #expect(report.status == 0, "\(report.err)")
        #expect(report.out.contains("\"threshold\" : 0,") || report.out.contains("\"threshold\":0,") || report.out.contains("\"threshold\": 0,"),
                "the lake's threshold of 0 is used: \(report.out.prefix(600))")
        let check = try runLake(["quality", "check", "--lake", lake])
        #expect(check.status == 1, "validity over a limit of 0 alerts: \(check.out)")
        #expect(check.out.contains("validity"), "\(check.out)")
    }
}
