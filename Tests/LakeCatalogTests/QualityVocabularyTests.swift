import Foundation
import GRDB
@testable import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing

/// Check ids and alert kinds are stored as text (`lake_quality_result.check_name`,
/// `lake_alert.kind`): the text of each is the one released, and reads back as the same value.
@Suite("Quality vocabulary")
struct QualityVocabularyTests {
    static let checks: [(QualityCheckID, String)] = [
        (.completeness, "completeness"), (.fieldCompleteness("customer_id"), "completeness.field.customer_id"),
        (.fieldCompleteness("items.quantity"), "completeness.field.items.quantity"), (.validity, "validity"),
        (.referentialIntegrity, "referential_integrity"), (.rawUniqueness, "uniqueness.raw"), (.curatedUniqueness, "uniqueness.curated"),
        (.orderTotalConsistency, "consistency.order_total"), (.itemCountConsistency, "consistency.item_count"),
        (.orphanItems, "consistency.orphan_items"), (.itemFieldsConsistency, "consistency.item_fields"),
        (.curatedRows, "completeness.curated_rows"), (.curatedStateNulls, "completeness.curated.state"),
        (.curatedCityNulls, "completeness.curated.city"), (.freshnessP95, "freshness.p95_seconds"),
    ]

    @Test("a missing_field detail names its field after the leftmost \"line N: \" (no Regex, same answers)")
    func missingFieldNames() {
        #expect(QualityFigures.field("orders.jsonl line 9: items[2].quantity is missing") == "items.quantity")
        #expect(QualityFigures.field("customer_id is missing") == "customer_id")
        #expect(QualityFigures.field(nil) == "unknown")
        #expect(QualityFigures.field("") == "unknown")
        // The leftmost location wins; a source name that looks like one is skipped past.
        #expect(QualityFigures.field("line 3: x line 4: y") == "x")
        #expect(QualityFigures.field("my line 12.jsonl line 7: shipping_address.city is missing") == "shipping_address.city")
        // Not a location: no digits, no colon, no space after the colon.
        #expect(QualityFigures.field("line : a b") == "line")
        #expect(QualityFigures.field("line 5 a") == "line")
        #expect(QualityFigures.field("line 5:a b") == "line")
        #expect(QualityFigures.field("f line 12: ") == "unknown")
        #expect(QualityFigures.field("a line 12: b[0][1].c d") == "b.c")
    }

    /// An ASCII detail is read as bytes (`asciiField`), any other by Characters: on 20,000
    /// random details built from the pieces that matter (the location's letters, digits, colons,
    /// spaces, brackets, "\r\n"), both give the same field.
    @Test("the byte reading of an ASCII detail names the same field as the Character reading")
    func asciiFieldEqualsCharacterField() {
        var rng = SplitMix64(seed: 18)
        let pieces = ["line ", "line", "l", "ine ", "1", "27", ":", ": ", " ", "  ", "[", "]", "[0]", "items", ".", "x", "\r\n", "\r", "\n", "\t", "é"]
        var compared = 0
        for _ in 0 ..< 20_000 {
            let detail = (0 ..< rng.int(0 ..< 12)).map { _ in pieces[rng.int(0 ..< pieces.count)] }.joined()
            guard let fast = QualityFigures.asciiField(detail) else {
                #expect(detail.utf8.contains { $0 >= 0x80 }, "\(detail.debugDescription) is ASCII but was not read as bytes")
                continue
            }
            compared += 1
            #expect(fast == QualityFigures.characterField(detail), "\(detail.debugDescription)")
        }
        #expect(compared > 10_000)
    }

    @Test("each check id has its released text and parses back to itself")
    func checkIDsRoundTrip() {
        for (id, text) in Self.checks {
            #expect(id.description == text)
            #expect(QualityCheckID(parsing: text) == id, "\(text)")
        }
        // A newer build's check is kept with its text, not refused or mistaken for a known one.
        #expect(QualityCheckID(parsing: "timeliness.p99") == .other("timeliness.p99"))
        #expect(QualityCheckID(parsing: "completeness.field.") == .other("completeness.field."))
        #expect(QualityCheckID(parsing: "timeliness.p99").description == "timeliness.p99")
        // Informational figures do not gate the score.
        #expect(Self.checks.filter { !$0.0.isGated }.map(\.1) == [
            "completeness.field.customer_id", "completeness.field.items.quantity", "completeness.curated.state", "completeness.curated.city",
        ])
    }

    @Test("each alert kind has its released text and parses back to itself")
    func alertKindsRoundTrip() {
        var kinds: [(AlertKind, String)] = [
            (.lowQualityScore, "quality.score"), (.smallFiles, "health.small_files"),
            (.failedCheck(.fieldCompleteness("channel")), "quality.completeness.field.channel"),
            (.failedCheck(.other("timeliness.p99")), "quality.timeliness.p99"), (.other("disk.full"), "disk.full"),
        ]
        kinds += Self.checks.map { (.failedCheck($0.0), "quality." + $0.1) }
        kinds += AnomalyKind.allCases.map { (.anomaly($0), "anomaly." + $0.rawValue) }
        for (kind, text) in kinds {
            #expect(kind.description == text)
            #expect(AlertKind(parsing: text) == kind, "\(text)")
        }
    }

    @Test("each stored figure metric has its released text and parses back to itself")
    func figureMetricsRoundTrip() {
        let metrics: [(QualityFigureMetric, String)] = [
            (.records, "records"), (.orders, "orders"), (.items, "items"), (.confirmedCents, "confirmed_cents"),
            (.confirmedSquares, "confirmed_squares"), (.stateNulls, "state_nulls"), (.cityNulls, "city_nulls"),
            (.totalMismatch, "total_mismatch"), (.itemCountMismatch, "item_count_mismatch"), (.totalMismatchExample, "total_mismatch_example"),
            (.rejects(reason: "invalid_currency"), "reject:invalid_currency"), (.missing(field: "items.quantity"), "missing:items.quantity"),
            (.other("p99_lag"), "p99_lag"),
        ]
        for (metric, text) in metrics {
            #expect(metric.description == text)
            #expect(QualityFigureMetric(parsing: text) == metric, "\(text)")
        }
    }

    @Test("JSON carries a check id and an alert kind as their text")
    func jsonIsText() throws {
        let record = AlertRecord(firedAt: Date(timeIntervalSince1970: 0), kind: .failedCheck(.fieldCompleteness("channel")), severity: .error,
                                 subject: "s", value: 1, baseline: nil, score: nil, threshold: 0, message: "m")
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(record)) as? [String: Any])
        #expect(json["kind"] as? String == "quality.completeness.field.channel")
        #expect(json["severity"] as? String == "error")
        #expect(try JSONDecoder().decode(AlertRecord.self, from: JSONEncoder().encode(record)) == record)
        let result = QualityResult(batchSnapshotID: 1, batchID: "b", check: .other("timeliness.p99"), value: 0, threshold: 0, passed: true, detail: "")
        let r = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(result)) as? [String: Any])
        #expect(r["check"] as? String == "timeliness.p99")
    }

    @Test("results and alerts stored in the catalog read back typed; an unknown severity is refused by name")
    func storedVocabulary() throws {
        let dir = try TemporaryDirectory("quality-vocabulary")
        defer { dir.remove() }
        let catalog = try Catalog.open(root: dir.url, create: true)
        let snapshot = try catalog.latestSnapshot().id
        let results = Self.checks.map {
            QualityResult(batchSnapshotID: snapshot, batchID: "b", check: $0.0, value: 1, threshold: 0, passed: false, detail: $0.1)
        } + [QualityResult(batchSnapshotID: snapshot, batchID: "b", check: .other("timeliness.p99"), value: 0, threshold: 0, passed: true, detail: "")]
        let alerts = [AlertKind.lowQualityScore, .anomaly(.schemaDrift), .failedCheck(.fieldCompleteness("channel"))].map {
            AlertRecord(firedAt: Date(timeIntervalSince1970: 1_700_000_000), kind: $0, severity: .warning, subject: "s", value: 1,
                        baseline: nil, score: nil, threshold: 0, message: "m")
        }
        try catalog.recordQualityCheck(snapshot: snapshot, results: results, alerts: alerts)
        #expect(try catalog.qualityResults().map(\.check) == results.map(\.check))
        #expect(try catalog.alerts().map(\.kind) == alerts.map(\.kind))

        let bad = AlertRecord(firedAt: Date(), kind: .smallFiles, severity: .error, subject: "s", value: 1, baseline: nil, score: nil,
                              threshold: 0, message: "m")
        try catalog.recordQualityCheck(snapshot: snapshot, results: [], alerts: [bad])
        // As a newer build might record it.
        try DatabaseQueue(path: dir.url.appendingPathComponent("manifest.sqlite").path).write {
            try $0.execute(sql: "UPDATE lake_alert SET severity = 'critical' WHERE severity = 'error'")
        }
        #expect { try catalog.alerts() } throws: { "\($0)".contains("severity \"critical\"") }
    }
}
