import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
import LakeQuery
import LakeTestSupport
import Testing

/// Every data-file byte of a lake goes through its `Storage`. Driving a whole lake through a
/// storage that is not the lake directory (`InMemoryStorage`) proves no code reads, writes,
/// lists or deletes a data file around the interface: the lake directory is left holding only
/// the catalog, and every report equals the same run on `LocalStorage`.
@Suite(.serialized) struct StorageLakeTests {
    static let input = packageRoot.appendingPathComponent("Evaluation-Files")
    static let reports: [ReportName] = [.dailyRevenue, .topProducts, .inventory, .customers, .topCustomers, .productMetrics]

    struct Run {
        var outputs: [String] = []
        var compacted = 0
        var vacuumed = 0
        var orphanRemoved = false
    }

    /// Catalog, inventory, orders in three slices (so compaction has work), a delete, compaction,
    /// a schema migration that rewrites files, an erasure, an orphan, vacuum at 0 s, verify:
    /// every report after each step, as text.
    static func run(_ dir: TemporaryDirectory, storage: (any Storage)?, plant orphan: (LakeFiles) throws -> Void) throws -> Run {
        var run = Run()
        // Orders at v1, so the migration to v2 below rewrites every orders file.
        let registry = try TemporaryDirectory("storage-registry")
        defer { registry.remove() }
        let store = try LakeStore.open(root: dir.url, registry: .directory(try registryV1Copy(registry)), storage: storage)
        let catalog = store.catalog
        _ = try CatalogIngest.run(store, path: input.appendingPathComponent("product_catalog.json").path)
        _ = try InventoryIngest.run(store, path: input.appendingPathComponent("inventory_updates.csv").path)
        let lines = try String(contentsOf: input.appendingPathComponent("orders_stream.jsonl"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: true)
        let slices = try TemporaryDirectory("storage-slices")
        defer { slices.remove() }
        for k in 0 ..< 3 {
            let chunk = slices.file("orders-\(k).jsonl")
            try (stride(from: k, to: lines.count, by: 3).map { lines[$0] }.joined(separator: "\n") + "\n").write(toFile: chunk, atomically: true, encoding: .utf8)
            _ = try OrderIngest.run(store, path: chunk)
        }
        func record(_ step: String) throws {
            for name in Self.reports {
                let sections = try Reports.run(name, catalog: catalog, options: ReportOptions()).sections
                run.outputs.append("\(step) \(name): " + sections.map { $0.render(.csv) }.joined(separator: "\n"))
            }
            var rows: [String] = []
            for t in try catalog.tables().sorted(by: { $0.qualifiedName < $1.qualifiedName }) {
                let batches = try TableScan(catalog: catalog, name: t.qualifiedName).run(columns: [t.columns[0].name]).batches
                let n = batches.reduce(0) { $0 + $1.matchedCount }
                rows.append("\(t.qualifiedName)=\(n)")
            }
            run.outputs.append("\(step) rows: " + rows.joined(separator: ","))
        }
        try record("ingested")
        let deleted = try Deletes.run(catalog, table: "orders", conditions: ["customer_id = CUST-00005"])
        run.outputs.append("deleted: \(deleted.tables.map { "\($0.table) \($0.rows)" })")
        try record("deleted")
        let compaction = try Compaction.run(catalog)
        run.compacted = compaction.groups.filter { !$0.skippedConflict }.count
        try record("compacted")
        let v2 = LakeStore(catalog: catalog, registry: try LakeStore.registry(.directory(packageRoot.appendingPathComponent("schemas")), catalog: catalog))
        #expect(try Migration.run(v2, table: "orders", to: 2, rewrite: true).snapshotID != nil)
        try record("migrated")
        let erased = try Erasure.run(catalog, customerID: "CUST-00007", purge: true)
        run.outputs.append("erased: \(erased.delete.tables.map { "\($0.table) \($0.rows)" }), purged \(erased.purgeSnapshotID != nil), removed \(erased.filesRemoved)")
        try record("erased")
        try orphan(catalog.files)
        Thread.sleep(forTimeInterval: 0.05)
        let vacuum = try catalog.vacuum(retain: 0, force: true)
        run.vacuumed = vacuum.files.count
        run.orphanRemoved = vacuum.files.contains { $0.reason == .orphan && $0.url.lastPathComponent == "orphan.parquet" }
        try record("vacuumed")
        let verdicts = try catalog.verifyFiles()
        run.outputs.append("verify: \(verdicts.count) files, \(verdicts.filter(\.ok).count) ok")
        return run
    }

    static func plantOrphan(_ files: LakeFiles) throws {
        try files.storage.put(try StorageKey("curated/orders/orphan.parquet"), Array("not committed".utf8))
    }

    @Test("a whole lake on InMemoryStorage: reports equal LocalStorage's at every step, and the lake directory holds only the catalog")
    func wholeLakeThroughAnotherStorage() throws {
        let localDir = try TemporaryDirectory("storage-local-lake")
        defer { localDir.remove() }
        let local = try Self.run(localDir, storage: nil, plant: Self.plantOrphan)

        let memoryDir = try TemporaryDirectory("storage-memory-lake")
        defer { memoryDir.remove() }
        let memory = InMemoryStorage()
        let inMemory = try Self.run(memoryDir, storage: memory, plant: Self.plantOrphan)

        #expect(inMemory.outputs.count == local.outputs.count)
        for (a, b) in zip(inMemory.outputs, local.outputs) { #expect(a == b) }
        #expect(local.outputs.last?.hasSuffix("ok") == true)
        let verify = try #require(inMemory.outputs.last)
        #expect(verify.contains(" files, ") && verify.split(separator: " ")[1] == verify.split(separator: " ")[3], "every file verifies: \(verify)")
        #expect(inMemory.compacted > 0 && inMemory.compacted == local.compacted)
        #expect(inMemory.outputs.contains { $0.hasPrefix("erased: ") && $0.contains("purged true") })
        #expect(inMemory.vacuumed > 0 && inMemory.vacuumed == local.vacuumed)
        #expect(inMemory.orphanRemoved && local.orphanRemoved, "vacuum lists the storage and removes the orphan")

        // Nothing but the catalog was written to the lake directory.
        let onDisk = try FileManager.default.subpathsOfDirectory(atPath: memoryDir.path).sorted()
        #expect(onDisk.allSatisfy { $0.hasPrefix(Catalog.manifestName) }, "written outside the storage: \(onDisk)")
        // And the storage holds the lake's files: the layout of a local lake, key for key.
        let localKeys = try LocalStorage(root: localDir.url).list(prefix: nil).map(\.key.path).filter { $0.hasSuffix(".parquet") }
        #expect(memory.keys.count == localKeys.count && memory.keys.count > 10)
        #expect(Set(memory.keys.map { $0.path.split(separator: "/").dropLast().joined(separator: "/") })
                == Set(localKeys.map { $0.split(separator: "/").dropLast().joined(separator: "/") }))
        let counts = memory.counts
        #expect(counts.publishes == counts.creates && counts.deletes >= inMemory.vacuumed && counts.lists > 0 && counts.reads > counts.opens)
    }

    @Test("a commit refuses files missing from the storage, and opening a catalog over a storage with data files is refused")
    func storageGuards() throws {
        let dir = try TemporaryDirectory("storage-guards")
        defer { dir.remove() }
        let memory = InMemoryStorage()
        try memory.put(try StorageKey("curated/orders/old.parquet"), [1, 2, 3])
        #expect(throws: CatalogSafetyError.self) {
            _ = try LakeStore.open(root: dir.url, registry: .directory(packageRoot.appendingPathComponent("schemas")), storage: memory)
        }
        try memory.delete(try StorageKey("curated/orders/old.parquet"))
        let store = try LakeStore.open(root: dir.url, registry: .directory(packageRoot.appendingPathComponent("schemas")), storage: memory)
        #expect(throws: CatalogSafetyError.self) {
            try store.catalog.commit { tx in try tx.requireFilesPresent([(dir.path + "/curated/orders/none.parquet", 10)]) }
        }
    }

    /// `lake ingest orders` of the evaluation file into a new lake in `dir` (its catalog
    /// ingested first) under `strace -ff -qq` with `flags`, tracing `calls`: each thread's lines
    /// (-ff: a file per thread, so every call is one whole line in its thread's order), or nil
    /// with an issue recorded where strace is missing.
    static func tracedOrderIngest(_ dir: TemporaryDirectory, flags: [String] = [], calls: String) throws -> [[String]]? {
        let strace = "/usr/bin/strace"
        guard FileManager.default.isExecutableFile(atPath: strace) else {
            Issue.record("strace is not installed (apt-get install strace): this test reads the system calls")
            return nil
        }
        let lake = packageRoot.appendingPathComponent(".build/debug/lake").path
        let setup = try runProcess(lake, ["ingest", "catalog", Self.input.appendingPathComponent("product_catalog.json").path, "--lake", dir.file("lake")])
        #expect(setup.status == 0, "\(setup.err)")
        let r = try runProcess(strace, ["-ff", "-qq"] + flags + ["-o", dir.file("trace"), "-e", "trace=" + calls, lake,
                                        "ingest", "orders", Self.input.appendingPathComponent("orders_stream.jsonl").path,
                                        "--lake", dir.file("lake")])
        #expect(r.status == 0, "\(r.err)")
        return try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("trace.") }.map {
            try String(contentsOfFile: dir.file($0), encoding: .utf8).split(separator: "\n").map(String.init)
        }
    }

    @Test("LocalStorage durability, seen in the system calls of `lake ingest`: fsync file, link, temp to hold name, fsync directory, hold released after the commit")
    func localDurabilitySyscalls() throws {
        let dir = try TemporaryDirectory("storage-strace")
        defer { dir.remove() }
        guard let threads = try Self.tracedOrderIngest(dir, calls: "openat,fsync,link,unlink,rename,renameat,renameat2") else { return }
        let lines = threads.flatMap { $0 }
        func quoted(_ l: String) -> [String] { l.split(separator: "\"", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) } }
        func result(_ l: String) -> String? { l.range(of: " = ", options: .backwards).map { String(l[$0.upperBound...].prefix { $0 != " " }) } }
        var published = 0
        for thread in threads {
            for i in thread.indices where thread[i].hasPrefix("link(\"") && thread[i].contains(".parquet") {
                published += 1
                let l = thread[i], names = quoted(l)
                guard names.count == 2 else { Issue.record("unparsed: \(l)"); continue }
                let (temp, target) = (names[0], names[1])
                // The temp name ends in `.pending`, never `.parquet`: DuckDB's orphan sweep never takes it.
                #expect(URL(fileURLWithPath: temp).lastPathComponent.hasPrefix(".tmp-") && temp.hasSuffix(".parquet.pending") && result(l) == "0", "\(l)")
                // The temp file was opened O_EXCL | O_CLOEXEC (by whichever thread created it) ...
                guard let open = lines.first(where: { $0.hasPrefix("openat(") && $0.contains("\"\(temp)\"") }), let fd = result(open) else {
                    Issue.record("no open of \(temp)"); continue
                }
                #expect(open.contains("O_EXCL") && open.contains("O_CLOEXEC"))
                // ... and this thread fsynced that descriptor since its previous publish, before the link.
                let since = thread[..<i].lastIndex { $0.hasPrefix("link(") }.map { $0 + 1 } ?? 0
                #expect(thread[since ..< i].contains { $0.hasPrefix("fsync(\(fd))") && result($0) == "0" }, "no fsync of \(temp) before its link")
                // After the link: the temp name becomes the hold name, then the directory is
                // opened and fsynced.
                let after = Array(thread[(i + 1)...].prefix(3))
                let dirPath = (target as NSString).deletingLastPathComponent
                let hold = dirPath + "/" + LocalStorage.holdName(of: (target as NSString).lastPathComponent)
                #expect(after.count == 3 && after[0].hasPrefix("rename") && quoted(after[0]) == [temp, hold] && result(after[0]) == "0"
                        && after[1].contains("\"\(dirPath)\"") && after[1].contains("O_DIRECTORY")
                        && result(after[1]).map { after[2].hasPrefix("fsync(\($0))") } == true && result(after[2]) == "0", "after publishing \(target): \(after)")
                // Once the commit is durable, the hold name is released.
                #expect(lines.contains { $0.hasPrefix("unlink(\"\(hold)\")") && result($0) == "0" }, "\(hold) is never released")
            }
        }
        #expect(published > 10, "every data file is published by link(2): \(published)")
        // Nothing writes a data file in place or renames one: every write is a storage publish.
        #expect(!lines.contains { $0.contains(".parquet") && ($0.contains("O_TRUNC") || ($0.contains("rename") && quoted($0).last?.hasSuffix(".parquet") != false)) })
    }

    @Test("LocalStorage durability across threads: every directory `lake ingest` makes has its parent fsynced before the catalog's commit; write-back of every data file starts as it is written")
    func newDirectoriesDurableBeforeTheCommit() throws {
        let dir = try TemporaryDirectory("storage-strace-dirs")
        defer { dir.remove() }
        // -ttt -T: each call's start and duration, on the one clock all threads share, so calls
        // of different threads can be ordered.
        guard let lines = try Self.tracedOrderIngest(dir, flags: ["-ttt", "-T"], calls: "/^mkdir(at)?$,openat,fsync,fdatasync,link,sync_file_range") else { return }
        struct Call { var start: Double; var end: Double; var text: String }
        func parse(_ l: Substring) -> Call? {
            guard let space = l.firstIndex(of: " "), let start = Double(l[..<space]),
                  let open = l.range(of: " <", options: .backwards), let took = Double(l[open.upperBound...].dropLast()) else { return nil }
            return Call(start: start, end: start + took, text: String(l[l.index(after: space) ..< open.lowerBound]))
        }
        let threads = lines.map { $0.compactMap { parse(Substring($0)) } }
        func quoted(_ c: Call) -> String? { c.text.split(separator: "\"", omittingEmptySubsequences: false).dropFirst().first.map(String.init) }
        func result(_ c: Call) -> String? { c.text.range(of: " = ", options: .backwards).map { String(c.text[$0.upperBound...].prefix { $0 != " " }) } }
        let all = threads.flatMap { $0 }
        func fd(_ c: Call) -> String { String(c.text.drop { $0 != "(" }.dropFirst().prefix { $0 != ")" && $0 != "," }) }
        // Descriptors are the process's: one thread opens a file, another writes or syncs it. In
        // time order, an open at its end (when the number is given) and a call using it at its
        // start: a number is given again only after its last holder's calls began. (A traced
        // thread goes on past a call only once strace has logged its end, so the order holds.)
        func at(_ c: Call) -> Double { c.text.hasPrefix("openat(") ? c.end : c.start }
        let ordered = all.sorted { at($0) < at($1) }
        // The commit: the first sync of the catalog's write-ahead log after the last data file
        // was published (its link); a checkpoint's later syncs of the log do not count.
        guard let lastLink = all.filter({ $0.text.hasPrefix("link(") && $0.text.contains(".parquet") }).map(\.start).max() else {
            Issue.record("no data file published"); return
        }
        var commit: Double?
        var hinted: Set<String> = [], written: Set<String> = [], files: [String: String] = [:]
        var syncs: [(path: String, start: Double, end: Double)] = []
        for c in ordered {
            if c.text.hasPrefix("openat("), let fd = result(c), let path = quoted(c), fd != "-1" {
                files[fd] = c.text.contains("O_DIRECTORY") ? path + "/" : path
                if path.hasSuffix(".parquet.pending") { written.insert(path) }
            }
            let synced = c.text.hasPrefix("fsync(") || c.text.hasPrefix("fdatasync(")
            if synced, commit == nil, c.start > lastLink, files[fd(c)]?.hasSuffix("manifest.sqlite-wal") == true { commit = c.start }
            if c.text.hasPrefix("fsync("), result(c) == "0", let path = files[fd(c)], path.hasSuffix("/") {
                syncs.append((String(path.dropLast()), c.start, c.end))
            }
            // Write-back of the data files starts as they are written (a hint; the fsyncs still
            // make them durable): every temp file written is named by such a call's descriptor.
            if c.text.hasPrefix("sync_file_range("), result(c) == "0", let path = files[fd(c)] { hinted.insert(path) }
        }
        #expect(!written.isEmpty && hinted == written, "\(written.subtracting(hinted).count) of \(written.count) data files had no write-back started")
        guard let commit else { Issue.record("no sync of the catalog's log after the last publish"); return }
        // Every directory made (or found made by another thread) below the lake: an fsync of its
        // parent, in whichever thread, started after the mkdir ended (an fsync begun earlier may
        // miss the entry) and ended before the commit.
        // mkdir(2) on x86-64; architectures without it (aarch64) have only mkdirat(2).
        let made = all.filter { ($0.text.hasPrefix("mkdir(") || $0.text.hasPrefix("mkdirat(AT_FDCWD, ")) && (result($0) == "0" || result($0) == "-1") && quoted($0)?.hasPrefix(dir.file("lake") + "/") == true }
        #expect(made.count > 10, "the ingest made partition directories: \(made.count)")
        for m in made {
            guard let path = quoted(m) else { continue }
            let parent = Durability.parent(of: path)
            #expect(syncs.contains { $0.path == parent && $0.start >= m.end && $0.end <= commit },
                    "\(path) was made at \(m.end), its parent never fsynced between then and the commit at \(commit)")
        }
    }

}
