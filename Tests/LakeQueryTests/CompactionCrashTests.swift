import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
import LakeQuery
import LakeTestSupport
import Testing

/// SIGKILL of `lake compact` while it rewrites partitions whose files carry delete files (ours
/// and DuckDB's): every kill leaves the previous snapshot answering as before with every file
/// it references on disk, and a rerun then compacts to the same answers, equal to DuckDB's.
@Suite(.serialized) struct CompactionCrashTests {
    /// Every data and delete file the catalog references at `snapshot` that is not on disk.
    static func missingFiles(_ catalog: Catalog, at snapshot: Int64) throws -> [String] {
        var missing: [String] = []
        for t in try catalog.tables(at: .snapshot(snapshot)) {
            for f in try catalog.dataFiles(tableID: t.tableID, at: .snapshot(snapshot)) {
                for url in [f.url] + (f.deleteFile.map { [$0.url] } ?? []) where !FileManager.default.fileExists(atPath: url.path) {
                    missing.append("\(t.qualifiedName): \(url.lastPathComponent)")
                }
            }
        }
        return missing
    }

    /// Rows per table plus the customers report and orders by status at `snapshot`.
    static func answers(_ catalog: Catalog, at snapshot: Int64) throws -> [String: [[String]]] {
        var a: [String: [[String]]] = [:]
        for t in ["curated.orders", "curated.order_items", "raw.orders", "curated.inventory"] {
            var spec = QuerySpec(table: t)
            spec.asOf = .snapshot(snapshot)
            spec.aggregates = [try AggregateSpec.parse("count(*)")]
            a[t] = try Query.run(spec, catalog: catalog).table.rows.map { $0.map(\.text) }
        }
        var o = ReportOptions()
        o.asOf = .snapshot(snapshot)
        a["customers"] = try Reports.run(.customers, catalog: catalog, options: o).sections[0].rows.map { $0.map(\.text) }
        var spec = QuerySpec(table: "orders")
        spec.asOf = .snapshot(snapshot)
        spec.groupBy = ["status"]
        spec.aggregates = try ["count(*)", "sum(order_total)"].map(AggregateSpec.parse)
        spec.orderBy = ["status"]
        a["by_status"] = try Query.run(spec, catalog: catalog).table.rows.map { $0.map(\.text) }
        return a
    }

    @Test func sigkillDuringCompactionWithDeletesLeavesThePreviousSnapshotIntact() throws {
        // Four ingests: every busy partition has several small files.
        let lake = try EvaluationLake(orderChunks: 4)
        defer { lake.dir.remove() }
        let catalog = lake.catalog
        let ordersID = try catalog.table(schema: "curated", name: "orders").tableID
        let perPartition = Dictionary(grouping: try catalog.dataFiles(tableID: ordersID), by: \.partitionValues).values.map(\.count)
        #expect(perPartition.contains { $0 >= 3 }, "several files per partition: \(perPartition.sorted().suffix(5))")

        // Deletes of both kinds: DuckDB's (DELETE and UPDATE through the attach, files only)
        // and ours (`lake delete` of a customer with their items, and of rejected raw lines).
        _ = try Python.run(Python.duckdbPrelude + """
            con = duck()
            con.execute("ATTACH 'ducklake:sqlite:\(lake.root)/manifest.sqlite' AS l (DATA_PATH '\(lake.root)/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 0)")
            con.execute("DELETE FROM l.curated.orders WHERE customer_id = 'CUST-00002'")
            con.execute("UPDATE l.curated.orders SET status = 'cancelled' WHERE customer_id = 'CUST-00003'")
            con.execute("DELETE FROM l.curated.order_items WHERE product_id = (SELECT min(product_id) FROM l.curated.order_items)")
            """)
        let ours = try Deletes.run(catalog, table: "orders", conditions: ["customer_id = CUST-00005"])
        #expect(ours.snapshotID != nil && ours.tables.count == 2, "our delete cascades to the items")
        _ = try Deletes.run(catalog, table: "raw.orders", conditions: ["reject_reason = invalid_channel"])
        let deleteFiles = try catalog.read { db in
            try String.fetchAll(db, sql: "SELECT path FROM ducklake_delete_file WHERE end_snapshot IS NULL")
        }
        #expect(deleteFiles.count >= 4, "delete files of both writers: \(deleteFiles.count)")

        let s0 = try catalog.latestSnapshot().id
        let before = try Self.answers(catalog, at: s0)
        let full = try DeleteFileTests.ours(catalog, s0)
        let exe = packageRoot.appendingPathComponent(".build/debug/lake")
        let copies = try TemporaryDirectory("compact-kill")
        defer { copies.remove() }

        // A run without a kill measures the compaction; the others are killed at fractions of
        // that, spread over start-up, planning, reading with deletes applied, writing the new
        // files and the commit. Every attempt starts from a fresh copy of the lake.
        var duration = 0.0, killed = 0, committedBeforeKill = 0
        var killedAt: [String] = []
        // Until 6 runs were killed (at most 14 attempts): a run that ends before its kill does not count.
        let fractions = [0.0, 0.15, 0.3, 0.45, 0.6, 0.7, 0.8, 0.9, 0.97, 0.2, 0.4, 0.55, 0.75, 0.85]
        for (attempt, fraction) in fractions.enumerated() {
            if attempt >= 9 && killed >= 6 { break }
            let root = copies.url.appendingPathComponent("k\(attempt)")
            try FileManager.default.copyItem(at: lake.dir.url, to: root)
            let p = Process()
            p.executableURL = exe
            p.arguments = ["compact", "--lake", root.path]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            let started = Date()
            try p.run()
            if attempt > 0 {
                Thread.sleep(forTimeInterval: duration * fraction)
                if p.isRunning {
                    kill(p.processIdentifier, SIGKILL)
                    killed += 1
                    killedAt.append(String(format: "%.2f s", duration * fraction))
                } else {
                    // Finished before the kill: the machine got faster; aim the next kills by this run.
                    duration = min(duration, Date().timeIntervalSince(started))
                }
            }
            p.waitUntilExit()
            let label = "attempt \(attempt) (kill at \(Int(fraction * 100)) % of \(String(format: "%.2f", duration)) s)"
            if attempt == 0 {
                duration = Date().timeIntervalSince(started)
                #expect(p.terminationStatus == 0, "the compaction without a kill succeeds")
            }
            let c = try Catalog.open(root: root, create: false)
            let latest = try c.latestSnapshot().id
            #expect(latest == s0 || latest == s0 + 1, "\(label): one compaction snapshot at most")
            if attempt > 0 && latest == s0 + 1 { committedBeforeKill += 1 }
            // The previous snapshot reads as before, and so does the latest (a compaction changes no answer).
            #expect(try Self.answers(c, at: s0) == before, "\(label): snapshot \(s0) reads differently after the kill")
            #expect(try Self.answers(c, at: latest) == before, "\(label): snapshot \(latest) reads differently")
            #expect(try Self.missingFiles(c, at: s0) == [], "\(label): files of snapshot \(s0) missing")
            #expect(try Self.missingFiles(c, at: latest) == [], "\(label): files of snapshot \(latest) missing")
            let integrity = try c.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
            #expect(integrity == ["ok"], "\(label): integrity_check \(integrity)")

            // Rerun: it finishes the job (or finds it done), the answers stay, and vacuum leaves
            // no delete file live and no debris the catalog does not know.
            let again = try runProcess(exe.path, ["compact", "--lake", root.path])
            #expect(again.status == 0, "\(label): compaction after the kill: \(again.err)")
            let final = try c.latestSnapshot().id
            #expect(try Self.answers(c, at: final) == before, "\(label): answers after the rerun")
            let live = try c.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ducklake_delete_file WHERE end_snapshot IS NULL") }
            #expect(live == 0, "\(label): \(live ?? -1) delete files still live after the rerun")
            if attempt == 0 || attempt == 8 {
                DeleteFileTests.expectSame(try DeleteFileTests.ours(c, final), full, "\(label): every report after the rerun")
                let duck = try Python.json(Python.duckdbPrelude + """
                    con = duck()
                    con.execute("ATTACH 'ducklake:sqlite:\(root.path)/manifest.sqlite' AS l (DATA_PATH '\(root.path)/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")

                    """ + DeleteFileTests.answersSQL + "print(json.dumps(answers(\(final))))") as? [String: [[String]]]
                DeleteFileTests.expectSame(full, duck, "\(label): DuckDB after the rerun")
            }
            let vacuum = try runProcess(exe.path, ["vacuum", "--retain", "0s", "--force", "--lake", root.path])
            #expect(vacuum.status == 0, "\(label): vacuum: \(vacuum.err)")
            #expect(try Self.answers(c, at: try c.latestSnapshot().id) == before, "\(label): answers after vacuum")
            let onDisk = Set(try FileManager.default.subpathsOfDirectory(atPath: root.path).filter { $0.hasSuffix(".parquet") }
                .map { root.appendingPathComponent($0).standardizedFileURL.path })
            var referenced = Set<String>()
            for t in try c.tables() {
                for f in try c.dataFiles(tableID: t.tableID) {
                    referenced.insert(f.url.standardizedFileURL.path)
                    if let d = f.deleteFile { referenced.insert(d.url.standardizedFileURL.path) }
                }
            }
            let extra = onDisk.subtracting(referenced), missing = referenced.subtracting(onDisk)
            #expect(extra.isEmpty && missing.isEmpty,
                    "\(label): after vacuum, files on disk = files the catalog references (\(extra.count) extra, e.g. \(extra.first ?? ""); \(missing.count) missing): \(vacuum.out)")
            try? FileManager.default.removeItem(at: root)
        }
        print("compaction crash: compaction of \(String(format: "%.2f", duration)) s killed \(killed) times at \(killedAt), \(committedBeforeKill) killed after the commit")
        #expect(killed >= 5, "only \(killed) runs were killed (a compaction takes \(duration) s)")
    }
}
