import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
@testable import LakeQuery
import LakeTestSupport
import Testing

@Suite struct QualityTests {
    /// Orders removed with `lake delete` or DuckDB's DELETE are accounted for by the
    /// completeness check (their raw lines stay in the archive): before, every batch a delete
    /// touched failed completeness.curated_rows from then on, and a quality gate with it. They
    /// stay accounted for after a compaction drops the deleted rows; rows that leave without
    /// a trace (another engine's rewrite) are still reported missing, so the check can fail.
    @Test func deletedOrdersAreNoMissingRows() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let before = try lake.catalog.latestSnapshot().id
        let first = try #require(try lake.catalog.ingestRuns().first { $0.kind == .orders })
        let accepted = first.accepted
        func curatedRows(_ at: Int64? = nil) throws -> QualityResult? {
            let q = try QualityChecks.run(catalog: lake.catalog, asOf: at.map(AsOf.snapshot), rescan: true)
            return q.batches.first { $0.batchID == first.batchID }?.results.first { $0.check == .curatedRows }
        }
        let deleted = try Deletes.run(lake.catalog, table: "orders", conditions: ["status = cancelled"])
        let cancelled = try #require(deleted.tables.first { $0.table == "curated.orders" }?.rows)
        #expect(cancelled > 0)
        for label in ["after the delete", "after compaction applied it"] {
            let r = try #require(try curatedRows(), "\(label)")
            #expect(r.passed && r.value == Double(Int(accepted) - cancelled) && r.threshold == r.value, "\(label): \(r.detail)")
            #expect(r.detail.contains("\(Int(accepted) - cancelled) curated orders") && r.detail.contains("(and \(cancelled) deleted by lake delete"), "\(r.detail)")
            if label.hasPrefix("after the delete") { _ = try Compaction.run(lake.catalog) }
        }
        // Stored figures stop covering the table after a delete, so the default path rescans too.
        let q = try QualityChecks.run(catalog: lake.catalog)
        #expect(q.batches.first?.results.first { $0.check == .curatedRows }?.passed == true)
        #expect(try curatedRows(before)?.detail.contains("deleted") == false, "time travel: no delete before it happened")

        // A corrected source loaded again after the delete: its orders are accepted anew (their
        // ids are live again) and neither batch reads as incomplete, whichever the scan meets last.
        let source = try String(contentsOf: packageRoot.appendingPathComponent("Evaluation-Files/orders_stream.jsonl"), encoding: .utf8)
        let resend = source.split(separator: "\n").filter { $0.contains("\"cancelled\"") }.map { $0.replacingOccurrences(of: "\"cancelled\"", with: "\"pending\"") }
        try (resend.joined(separator: "\n") + "\n").write(toFile: lake.dir.file("corrected.jsonl"), atomically: true, encoding: .utf8)
        let again = try OrderIngest.run(lake.store, path: lake.dir.file("corrected.jsonl"))
        #expect(again.accepted > 0)
        let both = try QualityChecks.run(catalog: lake.catalog, rescan: true)
        #expect(both.batches.count == 2)
        for b in both.batches {
            let r = try #require(b.results.first { $0.check == .curatedRows })
            #expect(r.passed, "\(b.batchID): \(r.detail)")
        }

        // Three orders DuckDB deletes (confirmed ones: the first batch's) are deletes too, while
        // the delete file masks them and after a compaction dropped their rows.
        let attach = "ATTACH 'ducklake:sqlite:\(lake.root)/manifest.sqlite' AS l (DATA_PATH '\(lake.root)/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 0)"
        func duckDelete(_ n: Int) -> String {
            "con.execute(\"DELETE FROM l.curated.orders WHERE order_id IN (SELECT order_id FROM l.curated.orders WHERE status = 'confirmed' ORDER BY order_id LIMIT \(n))\")"
        }
        _ = try Python.run(Python.duckdbPrelude + "con = duck()\ncon.execute(\"\(attach)\")\n" + duckDelete(3) + "\n")
        for label in ["after DuckDB's DELETE", "after a compaction dropped the rows"] {
            let r = try #require(try curatedRows(), "\(label)")
            #expect(r.passed && r.value == Double(Int(accepted) - cancelled - 3) && r.threshold == r.value, "\(label): \(r.detail)")
            #expect(r.detail.contains("(and \(cancelled + 3) deleted"), "\(label): \(r.detail)")
            if label.hasPrefix("after DuckDB") { #expect(try Compaction.run(lake.catalog).snapshotID != nil) }
        }
        // An UPDATE of every order of one day and channel ends the whole files too (a delete of
        // every row, plus new files): the rows are live again, so nothing reads as deleted.
        _ = try Python.run(Python.duckdbPrelude + "con = duck()\ncon.execute(\"\(attach)\")\n" + """
            d, c = con.execute("SELECT event_date, channel FROM l.curated.orders GROUP BY ALL "
                               "HAVING count(*) FILTER (status = 'pending') = 0 ORDER BY count(*) DESC, 1, 2 LIMIT 1").fetchone()
            con.execute("UPDATE l.curated.orders SET state = upper(state) WHERE event_date = ? AND channel = ?", [d, c])
            """)
        let updated = try #require(try curatedRows())
        #expect(updated.passed && updated.value == Double(Int(accepted) - cancelled - 3) && updated.detail.contains("(and \(cancelled + 3) deleted"),
                "after DuckDB's UPDATE of whole files: \(updated.detail)")
        let ordersTable = try #require(try lake.catalog.tableIfPresent(.curatedOrders)).tableID
        let updateSnapshot = try lake.catalog.latestSnapshot().id
        #expect(try lake.catalog.retiredFiles(tableID: ordersTable, through: updateSnapshot).filter { $0.retiredAt == updateSnapshot }
            .contains(where: \.rowsDeleted), "DuckDB's UPDATE ended the files")

        // Every order of one day and channel deleted in DuckDB: DuckDB ends the whole files
        // (no delete file). Then two more, dropped by DuckDB's own rewrite (no record either).
        // Both read from the retired files while the catalog lists them, and `lake vacuum`
        // records them before it forgets the files.
        let day = try Python.run(Python.duckdbPrelude + "con = duck()\ncon.execute(\"\(attach)\")\n" + """
            d, c, n = con.execute("SELECT event_date, channel, count(*) FROM l.curated.orders GROUP BY ALL "
                                  "HAVING count(*) FILTER (status = 'pending') = 0 ORDER BY 3, 1, 2 LIMIT 1").fetchone()
            con.execute("DELETE FROM l.curated.orders WHERE event_date = ? AND channel = ?", [d, c])
            print(n)
            """).trimmingCharacters(in: .whitespacesAndNewlines)
        // (Its rows are the first batch's: the corrected batch holds only pending orders.)
        let wholeFile = try #require(Int(day))
        let ordersID = try #require(try lake.catalog.tableIfPresent(.curatedOrders)).tableID
        let retiredWhole = try lake.catalog.retiredFiles(tableID: ordersID, through: try lake.catalog.latestSnapshot().id).filter(\.rowsDeleted)
        #expect(!retiredWhole.isEmpty, "DuckDB ended the day's files")
        _ = try Python.run(Python.duckdbPrelude + "con = duck()\ncon.execute(\"\(attach)\")\n" + duckDelete(2) + "\n"
            + "con.execute(\"CALL ducklake_rewrite_data_files('l', 'orders', schema => 'curated', delete_threshold => 0)\")\n")
        let gone = cancelled + 5 + wholeFile
        for label in ["after DuckDB's whole-file delete and rewrite", "after lake vacuum forgot the files"] {
            let r = try #require(try curatedRows(), "\(label)")
            #expect(r.passed && r.value == Double(Int(accepted) - gone) && r.threshold == r.value, "\(label): \(r.detail)")
            #expect(r.detail.contains("(and \(gone) deleted"), "\(label): \(r.detail)")
            if label.hasPrefix("after DuckDB") {
                // The command, so its wiring of the record is tested too.
                let vacuum = try runLake(["vacuum", "--retain", "0s", "--force", "--format", "json", "--lake", lake.root])
                #expect(vacuum.status == 0, "\(vacuum.err)")
                let report = try #require(try JSONSerialization.jsonObject(with: Data(vacuum.out.utf8)) as? [String: Any])
                #expect((report["files"] as? [Any])?.isEmpty == false && report["kept_for_next_vacuum"] as? Int == 0, "\(vacuum.out)")
                #expect(try lake.catalog.retiredFiles(tableID: ordersID, through: .max).isEmpty, "vacuum forgot them")
            }
        }

        // One more deleted and rewritten in DuckDB, then DuckDB's own expiry forgets the retired
        // files without a record: that order reads as missing, so the check can still fail.
        _ = try Python.run(Python.duckdbPrelude + "con = duck()\ncon.execute(\"\(attach)\")\n" + duckDelete(1) + "\n"
            + "con.execute(\"CALL ducklake_rewrite_data_files('l', 'orders', schema => 'curated', delete_threshold => 0)\")\n"
            + "con.execute(\"CALL ducklake_expire_snapshots('l', older_than => now())\")\n")
        let lost = try #require(try curatedRows())
        #expect(!lost.passed && lost.value == Double(Int(accepted) - gone - 1) && lost.threshold == Double(Int(accepted) - gone),
                "\(lost.detail)")
    }

    /// A retired file that fails verification: the rescan's error names it (it no longer
    /// guesses), and `lake vacuum` still forgets it, saying its deleted orders went unrecorded
    /// (keeping it would stop every later vacuum).
    @Test func anUnreadableRetiredFileIsNamedAndVacuumedAway() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let attach = "ATTACH 'ducklake:sqlite:\(lake.root)/manifest.sqlite' AS l (DATA_PATH '\(lake.root)/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 0)"
        _ = try Python.run(Python.duckdbPrelude + "con = duck()\ncon.execute(\"\(attach)\")\n" + """
            d, c = con.execute("SELECT event_date, channel FROM l.curated.orders GROUP BY ALL ORDER BY count(*), 1, 2 LIMIT 1").fetchone()
            con.execute("DELETE FROM l.curated.orders WHERE event_date = ? AND channel = ?", [d, c])
            """)
        let ordersID = try #require(try lake.catalog.tableIfPresent(.curatedOrders)).tableID
        let retired = try #require(try lake.catalog.retiredFiles(tableID: ordersID, through: try lake.catalog.latestSnapshot().id).first)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: retired.file.path))
        try handle.seek(toOffset: 4)
        try handle.write(contentsOf: Data(repeating: 0x5A, count: 64))
        try handle.close()
        #expect {
            _ = try QualityChecks.run(catalog: lake.catalog, rescan: true)
        } throws: { error in
            "\(error)".contains(retired.file.path) && "\(error)".contains("lake verify --table curated.orders")
        }
        let vacuum = try runLake(["vacuum", "--retain", "0s", "--force", "--lake", lake.root])
        #expect(vacuum.status == 0, "\(vacuum.err)")
        #expect(vacuum.out.contains("\(retired.file.path) fails verification, so the ids of the orders deleted in it were not recorded"), "\(vacuum.out)")
        #expect(!FileManager.default.fileExists(atPath: retired.file.path))
        let q = try QualityChecks.run(catalog: lake.catalog, rescan: true)
        #expect(q.batches.first?.results.first { $0.check == .curatedRows }?.passed == false, "its orders now read as missing")
    }

    /// The rescan's order-total examples are the batch's smallest mismatched order ids. They
    /// were the first in a dictionary's order, which Swift seeds per process: the same snapshot
    /// gave another report from one run to the next, and `lake serve` another body under the
    /// same ETag.
    /// The lake's score is the batches' mean to one decimal: it was printed (JSON, metrics) as
    /// 92.60000000000001 for batches of 100, 88.9 and 88.9.
    @Test func theLakeScoreHasOneDecimal() {
        func batch(_ passed: Int, of n: Int) -> BatchQuality {
            let results = (0 ..< n).map { QualityResult(batchSnapshotID: 1, batchID: "b", check: .other("c\($0)"), value: 0, threshold: 0, passed: $0 < passed, detail: "") }
            return BatchQuality(batchID: "b", snapshotID: 1, source: "s", records: 1, results: results)
        }
        let run = QualityRun(snapshotID: 1, batches: [batch(9, of: 9), batch(8, of: 9), batch(8, of: 9)], days: [])
        #expect(run.batches.map(\.score) == [100, 88.9, 88.9])
        #expect(run.score == 92.6 && "\(run.score)" == "92.6")
        #expect(QualityRun(snapshotID: 1, batches: [batch(5, of: 6), batch(6, of: 6), batch(17, of: 18)], days: []).score == 92.6)
    }

    @Test func mismatchExamplesAreTheSmallestIDs() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let attach = "ATTACH 'ducklake:sqlite:\(lake.root)/manifest.sqlite' AS l (DATA_PATH '\(lake.root)/', OVERRIDE_DATA_PATH TRUE)"
        // Twelve orders of the one batch, picked in no particular order, get a total their items do not add up to.
        let out = try Python.run(Python.duckdbPrelude + "con = duck()\ncon.execute(\"\(attach)\")\n" + """
            ids = [r[0] for r in con.execute("SELECT order_id FROM l.curated.orders WHERE order_total > 0 ORDER BY hash(order_id) LIMIT 12").fetchall()]
            con.execute("UPDATE l.curated.orders SET order_total = order_total + 1 WHERE list_contains(?, order_id)", [ids])
            print("\\n".join(sorted(ids, key=lambda s: s.encode())))
            """)
        let changed = out.split(separator: "\n").map(String.init)
        #expect(changed.count == 12)
        let q = try QualityChecks.run(catalog: lake.catalog, rescan: true)
        let batch = try #require(q.batches.first { $0.results.contains { $0.check == .orderTotalConsistency && $0.value > 0 } })
        let check = try #require(batch.results.first { $0.check == .orderTotalConsistency })
        #expect(check.value == 12)
        let named = check.detail.split(separator: ": ", maxSplits: 1).last.map {
            $0.split(separator: "; ").map { String($0.prefix { $0 != ":" }) }
        }
        #expect(named == Array(changed.prefix(3)), "\(check.detail)")
    }

    /// The evaluation lake: the checks' rates match the ingest's own reject counts, curated data
    /// is consistent (order_total = sum of line_revenue) and unique, and results round-trip
    /// through the catalog under a new snapshot.
    @Test func batchChecksOnEvaluationLake() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let q = try QualityChecks.run(catalog: lake.catalog)
        let run = try #require(try lake.catalog.ingestRuns().first { $0.kind == .orders })
        #expect(q.batches.count == 1)
        let b = try #require(q.batches.first)
        #expect(b.batchID == run.batchID)
        #expect(b.records == run.records)
        func result(_ check: QualityCheckID) -> QualityResult? { b.results.first { $0.check == check } }
        let records = Double(run.records)
        #expect(result(.referentialIntegrity)?.value == Double(run.rejects["unknown_product"] ?? 0) / records)
        #expect((run.rejects["unknown_product"] ?? 0) > 0)
        let dupes = (run.rejects["duplicate_order"] ?? 0) + (run.rejects["conflicting_duplicate"] ?? 0)
        #expect(result(.rawUniqueness)?.value == Double(dupes) / records)
        #expect(result(.orderTotalConsistency)?.value == 0)
        #expect(result(.orderTotalConsistency)?.passed == true)
        #expect(result(.curatedUniqueness)?.value == 0)
        #expect(result(.curatedRows)?.passed == true)
        #expect(result(.curatedRows)?.value == Double(run.accepted))
        // Per-field completeness names fields from the validator's detail ("<source> line N:
        // order_id is missing"), not the source the detail starts with.
        let fields = Set(b.results.compactMap { r -> String? in if case .fieldCompleteness(let f) = r.check { f } else { nil } })
        #expect(fields.isSuperset(of: ["order_id", "channel"]), "\(fields.sorted())")
        #expect(!fields.contains { $0.contains(".jsonl") }, "\(fields.sorted())")
        #expect(b.score >= 0 && b.score <= 100)
        // Per-day figures cover every dated raw line.
        #expect(q.days.reduce(0) { $0 + $1.records } <= run.records)
        #expect(q.days.count >= 28)

        // Recorded under the snapshot checked, without a snapshot of its own.
        let before = try lake.catalog.latestSnapshot().id
        let outcome = try Alerting.evaluate(catalog: lake.catalog)
        let snap = try Alerting.record(outcome, catalog: lake.catalog)
        #expect(snap == before)
        #expect(try lake.catalog.latestSnapshot().id == before)
        let stored = try lake.catalog.qualityResults()
        #expect(stored.count == outcome.quality.results.count)
        #expect(stored.allSatisfy { $0.snapshotID == snap && $0.batchSnapshotID == run.snapshotID })
        #expect(stored.map(\.check) == outcome.quality.results.map(\.check))
        // Check ids and alert kinds read back as the values recorded (typed, not just the same text).
        #expect(try lake.catalog.alerts().map(\.kind) == outcome.alerts.map(\.kind))
        #expect(try lake.catalog.alerts().map(\.severity) == outcome.alerts.map(\.severity))
        // Time travel: a read of an earlier snapshot sees no result of a check of a later one.
        #expect(try lake.catalog.qualityResults(at: .snapshot(before - 1)).isEmpty)

        // The ingest hook: one batch, stored under the same snapshot; it replaces that batch's
        // results rather than adding a second copy, and commits nothing.
        let batchID = try #require(run.batchID)
        let hooked = try #require(try QualityChecks.recordBatch(catalog: lake.catalog, batchID: batchID))
        #expect(hooked.results.map(\.check) == b.results.map(\.check))
        #expect(hooked.results.map(\.value) == b.results.map(\.value))
        #expect(try lake.catalog.qualityResults().count == b.results.count)
        #expect(try lake.catalog.latestSnapshot().id == before)
        #expect(try QualityChecks.recordBatch(catalog: lake.catalog, batchID: "no-such-batch") == nil)
    }

    /// The ingest hook reads only its batch's files (and the partitions they touch), yet gives
    /// every batch the same figures as the full scan: checked on two halves of the evaluation
    /// stream, whose days and channels overlap, plus a third batch that repeats orders.
    @Test func hookScopeMatchesFullScan() throws {
        let dir = try TemporaryDirectory("lake-quality-scope")
        defer { dir.remove() }
        let input = packageRoot.appendingPathComponent("Evaluation-Files")
        let lines = try String(contentsOf: input.appendingPathComponent("orders_stream.jsonl"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        let half = lines.count / 2
        try (lines[..<half].joined(separator: "\n") + "\n").write(toFile: dir.file("a.jsonl"), atomically: true, encoding: .utf8)
        try lines[half...].joined(separator: "\n").write(toFile: dir.file("b.jsonl"), atomically: true, encoding: .utf8)
        try (lines[..<50].joined(separator: "\n") + "\n").write(toFile: dir.file("c.jsonl"), atomically: true, encoding: .utf8)
        let store = try LakeStore.open(root: dir.url.appendingPathComponent("lake"), schemas: packageRoot.appendingPathComponent("schemas"))
        _ = try CatalogIngest.run(store, path: input.appendingPathComponent("product_catalog.json").path)
        var batches: [String] = []
        for f in ["a", "b", "c"] {
            batches.append(try #require(try OrderIngest.run(store, path: dir.file("\(f).jsonl")).batchID))
        }
        for id in batches {
            let full = try #require(try QualityChecks.run(catalog: store.catalog, batchIDs: [id]).batches.first)
            let scoped = try #require(try QualityChecks.run(catalog: store.catalog, batchIDs: [id], batchFilesOnly: true).batches.first)
            #expect(scoped.records == full.records && full.records > 0)
            #expect(scoped.results.map(\.check) == full.results.map(\.check))
            #expect(scoped.results.map(\.value) == full.results.map(\.value), "batch \(id)")
            #expect(scoped.results.map(\.passed) == full.results.map(\.passed))
        }
        // The repeat batch really is all duplicates, so the comparison covered that path too.
        let c = try #require(try QualityChecks.run(catalog: store.catalog, batchIDs: [batches[2]], batchFilesOnly: true).batches.first)
        #expect(c.results.first { $0.check == .rawUniqueness }.map { $0.value > 0.5 } == true)
    }

    /// A 5x spike planted on 2024-01-20 web is found there and only there.
    @Test func plantedSpikeIsFound() throws {
        let lake = try GeneratedLake(try GeneratedLake.config(spikes: ["2024-01-20:web:5x"], clean: true))
        defer { lake.dir.remove() }
        let findings = try AnomalyDetector.detect(catalog: lake.catalog)
        let volume = findings.filter { $0.kind.isVolumeMove }
        let spike = try #require(volume.first { $0.kind == .ordersSpike })
        #expect(spike.date == "2024-01-20")
        #expect(spike.channel == "web")
        #expect(spike.score > spike.threshold)
        #expect(spike.value > 3 * spike.baseline)
        #expect(spike.threshold == 3.5)
        #expect(volume.allSatisfy { $0.date == "2024-01-20" && $0.channel == "web" }, "\(volume)")
        #expect(volume.contains { $0.kind == .revenueSpike })
    }

    /// Clean generated data raises nothing: no anomaly, no failed check, no alert.
    @Test func cleanDataRaisesNothing() throws {
        for seed: UInt64 in [42, 7] {
            var c = try GeneratedLake.config(clean: true)
            c.seed = seed
            let lake = try GeneratedLake(c)
            defer { lake.dir.remove() }
            let outcome = try Alerting.evaluate(catalog: lake.catalog)
            #expect(outcome.anomalies.isEmpty, "seed \(seed): \(outcome.anomalies)")
            #expect(outcome.alerts.isEmpty, "seed \(seed): \(outcome.alerts.map(Alerting.text))")
            #expect(outcome.quality.score == 100)
            #expect(outcome.quality.batches.count == 1)
        }
    }

    /// One order dated far away (9999-12-31 as "no date", a year typo) made the daily series
    /// span every day in between and the checks walk it for minutes to hours (`lake metrics`,
    /// `quality check`, the dashboard, `/metrics` of `lake serve`). Empty runs are cut to 31
    /// days; the days up to the gap, and the month of silence after it, are kept.
    @Test func aFarOffDateDoesNotStretchTheSeries() {
        let start: Int32 = 19723  // 2024-01-01
        var byDay: [ExactID: [Int32: (Int64, Int128, Double)]] = [ExactID("web"): [:]]
        for d in start ..< start + 14 where d != start + 9 { byDay[ExactID("web")]![d] = (40 + Int64(d % 3), 200_000, 1_000) }
        let far: Int32 = 2_932_896  // 9999-12-31
        byDay[ExactID("web")]![far] = (1, 1_000, 100)
        let s = AnomalyDetector.series(byDay: byDay, curatedPerDay: [:], rawPerDay: [:])
        #expect(s.days == Array(start ..< start + 14) + Array(start + 14 ... start + 13 + 31) + [far], "\(s.days.count) days")
        #expect(s.orders[ExactID("web")]?[9] == 0, "a day without orders inside the data is still a zero")
        // (Detection over millions of days is the hang itself: not run when the cut failed.)
        guard s.days.count < 1_000 else { return }
        let findings = AnomalyDetector.detect(s, config: QualityConfig())
        #expect(findings.contains { $0.kind == .ordersDrop && $0.date == "2024-01-10" }, "\(findings)")
    }

    /// The detector over planted series: a reject-rate jump and a channel going silent.
    @Test func plantedRejectJumpAndDrop() {
        var s = DailySeries()
        s.days = Array(19723 ..< 19737)  // 14 days from 2024-01-01
        s.channels = [ExactID("web")]
        s.orders[ExactID("web")] = [40, 42, 38, 41, 39, 40, 43, 41, 40, 0, 39, 42, 40, 41]
        s.revenueCents[ExactID("web")] = s.orders[ExactID("web")]!.map { Int128($0) * 5000 }
        s.rawLines = Array(repeating: 100, count: 14)
        s.rejected = [5, 6, 4, 5, 6, 5, 4, 30, 5, 6, 5, 4, 6, 5]
        s.curatedOrders = s.orders[ExactID("web")]!
        s.stateNulls = [2, 1, 2, 2, 1, 2, 2, 2, 1, 0, 2, 30, 2, 1]
        // City is watched too (only state was until session 33).
        s.cityNulls = [1, 1, 2, 1, 1, 1, 2, 1, 1, 0, 1, 1, 1, 35]
        let f = AnomalyDetector.detect(s, config: QualityConfig())
        #expect(f.contains { $0.kind == .nullRateJump && $0.date == "2024-01-14" && $0.detail.contains("without city") }, "\(f)")
        let nulls = f.first { (a: AnomalyFinding) -> Bool in a.kind == .nullRateJump }
        #expect(nulls?.date == "2024-01-12")
        #expect(nulls?.value == 30.0 / 42.0)
        let jump = f.first { (a: AnomalyFinding) -> Bool in a.kind == .rejectRateJump }
        #expect(jump?.date == "2024-01-08")
        #expect(jump?.value == 0.3)
        #expect(jump?.baseline == 0.05)
        let drop = f.first { (a: AnomalyFinding) -> Bool in a.kind == .ordersDrop }
        #expect(drop?.date == "2024-01-10")
        #expect(drop?.value == 0)
        #expect(drop?.baseline == 40)
        #expect(f.contains { $0.kind == .revenueDrop && $0.date == "2024-01-10" })
        #expect(f.count == 5, "\(f)")
        // The robust score itself: (x - median) / (1.4826 * MAD).
        let (med, z) = AnomalyDetector.robustScore(20, history: [10, 11, 9, 10, 12, 8, 10], floor: 0)
        #expect(med == 10)
        #expect(abs(z - 10 / 1.4826) < 1e-9)
    }

    /// Source fields the registry does not know show up as schema drift with their counts.
    @Test func schemaDriftIsFound() throws {
        var n = 0
        let lake = try GeneratedLake(try GeneratedLake.config(clean: true)) { text in
            text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
                guard line.hasPrefix("{\"order_id\""), n < 12 else { return String(line) }
                n += 1
                return "{\"coupon_code\": \"X1\", " + line.dropFirst()
            }.joined(separator: "\n")
        }
        defer { lake.dir.remove() }
        #expect(n == 12)
        let drift = try AnomalyDetector.detect(catalog: lake.catalog).filter { $0.kind == .schemaDrift }
        #expect(drift.count == 1)
        #expect(drift.first?.value == 12)
        #expect(drift.first?.detail.contains("coupon_code") == true)
    }

    /// `lake quality check` exits 1 on an alert, prints the evidence, appends JSON lines,
    /// records lake_alert rows and POSTs the alerts to a local receiver; a clean lake exits 0.
    @Test func checkCommandGatesAndPostsWebhook() throws {
        let lake = try GeneratedLake(try GeneratedLake.config(spikes: ["2024-01-20:web:5x"], clean: true))
        defer { lake.dir.remove() }
        let receiver = try LocalReceiver()
        let alertsFile = lake.dir.file("alerts.jsonl")
        let r = try runLake(["quality", "check", "--lake", lake.root, "--alerts-file", alertsFile,
                             "--webhook", "http://127.0.0.1:\(receiver.port)/hook?token=SECRET"])
        let request = receiver.finish()
        #expect(r.status == 1, "\(r.out)\n\(r.err)")
        #expect(r.out.contains("ALERT warning anomaly.orders_spike [2024-01-20 web]: value"))
        #expect(r.out.contains("baseline") && r.out.contains("score") && r.out.contains("threshold 3.5"))
        #expect(!r.out.contains("SECRET") && !r.err.contains("SECRET"))
        let lines = try String(contentsOfFile: alertsFile, encoding: .utf8).split(separator: "\n")
        let alerts = try lake.catalog.alerts()
        #expect(lines.count == alerts.count)
        #expect(alerts.count >= 2)
        for line in lines {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(o?["kind"] is String && o?["value"] is NSNumber && o?["threshold"] is NSNumber)
        }
        let req = try #require(request)
        #expect(req.hasPrefix("POST /hook?token=SECRET HTTP/1.1"))
        let body = try #require(req.range(of: "\r\n\r\n").map { String(req[$0.upperBound...]) })
        let posted = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        #expect((posted?["alerts"] as? [Any])?.count == alerts.count)

        let clean = try GeneratedLake(try GeneratedLake.config(clean: true))
        defer { clean.dir.remove() }
        let ok = try runLake(["quality", "check", "--lake", clean.root, "--alerts-file", clean.dir.file("a.jsonl")])
        #expect(ok.status == 0, "\(ok.out)\n\(ok.err)")
        #expect(!FileManager.default.fileExists(atPath: clean.dir.file("a.jsonl")))
    }

    /// Every line of `lake metrics` is a comment or `name{labels} value`; the figures match the catalog.
    @Test func metricsParse() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let text = try Metrics.render(catalog: lake.catalog)
        var samples: [String: Double] = [:]
        var typed: Set<String> = []
        let sample = try Regex(#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$"#)
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") { typed.insert(String(line.split(separator: " ")[2])); continue }
            if line.hasPrefix("# HELP ") { continue }
            let m = try #require(try sample.wholeMatch(in: String(line)), "unparseable: \(line)")
            let name = String(m.output[1].substring!)
            #expect(typed.contains(name), "\(name) without # TYPE")
            let v = try #require(Double(String(m.output[3].substring!)))
            samples[name + (m.output[2].substring.map(String.init) ?? "")] = v
        }
        let run = try #require(try lake.catalog.ingestRuns().first { $0.kind == .orders })
        #expect(samples["lake_ingest_records_total{kind=\"orders\"}"] == Double(run.records))
        #expect(samples["lake_ingest_rejected_total{reason=\"unknown_product\"}"] == Double(run.rejects["unknown_product"]!))
        #expect(samples["lake_ingest_latency_seconds{quantile=\"0.95\"}"] != nil)
        let orderFiles = try lake.catalog.dataFiles(tableID: try lake.catalog.table(schema: "curated", name: "orders").tableID).count
        #expect(samples["lake_table_files{table=\"curated.orders\"}"] == Double(orderFiles))
        #expect(samples["lake_partition_files_max"] == 1)
        #expect((samples["lake_catalog_bytes"] ?? 0) > 0)
        #expect(samples["lake_quality_score{batch=\"all\"}"] != nil)
        #expect(samples["lake_alerts_firing"] != nil)
    }

    /// The dashboard shows the daily-revenue report's totals, the low-stock count of the
    /// inventory report, and marks the planted spike.
    @Test func dashboardNumbersMatchReports() throws {
        let lake = try GeneratedLake(try GeneratedLake.config(spikes: ["2024-01-20:web:5x"]))
        defer { lake.dir.remove() }
        let html = try Dashboard.render(catalog: lake.catalog)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"))
        for id in ["revenue", "orders", "quarantine"] { #expect(html.contains("<svg id=\"\(id)\"")) }
        let daily = try Reports.run(.dailyRevenue, catalog: lake.catalog, options: ReportOptions()).sections[0]
        var perChannel: [String: Int128] = [:]
        for row in daily.rows {
            guard case .decimal(let cents, _) = row[5] else { continue }
            perChannel[row[1].text, default: 0] += cents
        }
        func shown(_ attr: String) -> String? {
            guard let r = html.range(of: attr + ">") else { return nil }
            return String(html[r.upperBound...].prefix { $0 != "<" })
        }
        #expect(shown("data-total-revenue=\"all\"") == DecimalText.format(perChannel.values.reduce(0, +), scale: 2))
        for (ch, cents) in perChannel { #expect(shown("data-total-revenue=\"\(ch)\"") == DecimalText.format(cents, scale: 2)) }
        let inventory = try Reports.run(.inventory, catalog: lake.catalog, options: ReportOptions()).sections[0]
        let low = inventory.rows.filter { $0.last == .bool(true) }.count
        #expect(html.contains("data-low-stock=\"\(low)\""))
        #expect(html.components(separatedBy: "class=\"low-stock\"").count - 1 == min(low, 25))
        #expect(html.contains("<title>anomaly 2024-01-20 web</title>"))
    }
}

@Suite struct QualityConfigTests {
    /// More files in a partition than the config allows raises the small-files alert naming `lake compact`.
    @Test func smallFilesAlertNamesCompact() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        var c = QualityConfig()
        #expect(try Alerting.evaluate(catalog: lake.catalog, config: c).alerts.filter { $0.kind == .smallFiles }.isEmpty)
        c.maxFilesPerPartition = 0
        let alerts = try Alerting.evaluate(catalog: lake.catalog, config: c).alerts.filter { $0.kind == .smallFiles }
        #expect(alerts.contains { $0.subject == "curated.orders" && $0.value == 1 && $0.threshold == 0 })
        #expect(alerts.allSatisfy { $0.message.contains("`lake compact`") })
    }

    /// The checked-in config documents the defaults: loading it changes nothing.
    @Test func checkedInConfigEqualsDefaults() throws {
        let loaded = try QualityConfig.load(path: packageRoot.appendingPathComponent("config/alerts.json").path)
        #expect(loaded == QualityConfig())
    }

    @Test func partialAndBadConfigs() throws {
        let dir = try TemporaryDirectory("quality-config")
        defer { dir.remove() }
        try #"{"anomaly_z_threshold": 5}"#.write(toFile: dir.file("a.json"), atomically: true, encoding: .utf8)
        let c = try QualityConfig.load(path: dir.file("a.json"))
        #expect(c.anomalyZThreshold == 5)
        #expect(c.anomalyWindowDays == 7)
        try #"{"anomaly_window_days": 1}"#.write(toFile: dir.file("b.json"), atomically: true, encoding: .utf8)
        #expect(throws: QualityError.self) { try QualityConfig.load(path: dir.file("b.json")) }
        #expect(throws: QualityError.self) { try QualityConfig.load(path: dir.file("missing.json")) }
    }

    /// The quality report's JSON keys its sections by fixed titles.
    @Test func reportSectionsAreStable() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let q = try QualityChecks.run(catalog: lake.catalog)
        let json = QualityReport.report(q, anomalies: []).render(.json)
        let o = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(Set(o?.keys ?? [:].keys) == ["quality_summary", "quality_per_ingest_batch", "quality_per_event_day_raw_lines_of_all_batches", "checks_per_batch", "anomalies"])
        let summary = (o?["quality_summary"] as? [[String: Any]])?.first
        #expect(summary?["batches"] as? Int == 1)
    }
}
