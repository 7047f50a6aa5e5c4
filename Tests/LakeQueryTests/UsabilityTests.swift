import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
@testable import LakeQuery
import LakeTestSupport
import Testing

/// Issue 20, item 7: the anomaly baseline is made of full days only.
@Suite struct AnomalyBaselineTests {
    /// Late events dated before the stream starts make a few days of a handful of orders. They
    /// are no baseline: the ordinary days after them raise nothing, a real spike later still does.
    @Test func partialLeadingDaysAreNoBaseline() {
        var s = DailySeries()
        s.days = Array(19719 ..< 19741)  // 2023-12-28 .. 2024-01-18
        s.channels = [ExactID("web")]
        var orders: [Int64] = [2, 4, 3, 5]  // late events only
        orders += [1000, 1010, 990, 1005, 995, 1002, 998, 1003, 997, 1001, 999, 1004, 996, 1000, 3600, 1002, 998, 1001]
        s.orders[ExactID("web")] = orders
        s.revenueCents[ExactID("web")] = orders.map { Int128($0) * 5000 }
        s.rawLines = orders
        s.rejected = orders.map { $0 / 20 }
        s.curatedOrders = orders
        s.stateNulls = orders.map { $0 / 50 }
        let full = AnomalyDetector.fullDays(s, minShare: QualityConfig().anomalyMinDayShare)
        #expect(full == [false, false, false, false] + Array(repeating: true, count: 18))
        let f = AnomalyDetector.detect(s, config: QualityConfig())
        #expect(f.allSatisfy { $0.date == "2024-01-15" }, "\(f.map { "\($0.kind) \($0.date)" })")
        #expect(f.contains { $0.kind == .ordersSpike && $0.date == "2024-01-15" && $0.baseline >= 990 })
        // The rule is what keeps Jan 1-5 quiet: with every day counted as full, they are spikes.
        var all = QualityConfig()
        all.anomalyMinDayShare = 0
        #expect(AnomalyDetector.detect(s, config: all).contains { $0.kind == .ordersSpike && $0.date <= "2024-01-05" })
    }

    /// A young lake: four days of late events, then two real days. The median day was a late-event
    /// day, so every day counted as full and the second real day was a spike on every channel
    /// (`lake quality check` exit 1 on clean data, session 32). Now it has one full day before it,
    /// fewer than the history a day needs to be judged.
    @Test func aYoungLakeOfMostlyLateEventDaysRaisesNothing() {
        var s = DailySeries()
        s.days = Array(19719 ..< 19725)  // 2023-12-28 .. 2024-01-02
        s.channels = [ExactID("web"), ExactID("mobile")]
        let web: [Int64] = [1, 1, 2, 1, 300, 250], mobile: [Int64] = [0, 0, 1, 0, 265, 211]
        s.orders[ExactID("web")] = web
        s.orders[ExactID("mobile")] = mobile
        s.revenueCents[ExactID("web")] = web.map { Int128($0) * 5000 }
        s.revenueCents[ExactID("mobile")] = mobile.map { Int128($0) * 5000 }
        let total = zip(web, mobile).map { $0 + $1 }
        s.rawLines = total
        s.rejected = total.map { $0 / 20 }
        s.curatedOrders = total
        s.stateNulls = total.map { $0 / 50 }
        #expect(AnomalyDetector.fullDays(s, minShare: QualityConfig().anomalyMinDayShare) == [false, false, false, false, true, true])
        let found = AnomalyDetector.detect(s, config: QualityConfig())
        #expect(found.isEmpty, "\(found.map { "\($0.kind) \($0.date) \($0.channel ?? "")" })")
    }

    /// The README's case in small: a generated stream with its late events (1%) raises no
    /// volume anomaly, though its series starts with partial days before 2024-01-01.
    @Test func generatedStreamWithLateEventsRaisesNoSpike() throws {
        let lake = try GeneratedLake(try GeneratedLake.config(orders: 10_000))
        defer { lake.dir.remove() }
        let series = try AnomalyDetector.series(catalog: lake.catalog, asOf: nil)
        let first = try #require(series.days.first)
        #expect(first < Int32(CivilDate.days(year: 2024, month: 1, day: 1)), "the stream has events dated before its start")
        #expect(AnomalyDetector.fullDays(series, minShare: QualityConfig().anomalyMinDayShare).first == false)
        let volume = try AnomalyDetector.detect(catalog: lake.catalog).filter { $0.kind.isVolumeMove }
        #expect(volume.isEmpty, "\(volume.map { "\($0.kind) \($0.date) \($0.channel ?? "")" })")
    }

    @Test func configRejectsAShareOutsideZeroToOne() throws {
        let dir = try TemporaryDirectory("alerts-config")
        defer { dir.remove() }
        try #"{"anomaly_min_day_share": 2}"#.write(toFile: dir.file("a.json"), atomically: true, encoding: .utf8)
        #expect(throws: QualityError.self) { try QualityConfig.load(path: dir.file("a.json")) }
        try #"{"anomaly_min_day_share": 0.5}"#.write(toFile: dir.file("b.json"), atomically: true, encoding: .utf8)
        #expect(try QualityConfig.load(path: dir.file("b.json")).anomalyMinDayShare == 0.5)
    }
}

/// Issue 20, items 7 and 8, through the real `lake` binary.
/// Whether this process may bind-mount in a mount namespace of its own (`unshare -m`).
let canMountPrivately: Bool = {
    guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else { return false }
    return (try? runProcess("/usr/bin/unshare", ["-m", "sh", "-c", "mount --bind /dev/null /dev/null"]))?.status == 0
}()

@Suite(.serialized) struct CLIUsabilityTests {
    /// `lake --version` answers, as `duckdb --version` does, with the catalog format it writes
    /// (which DuckDB versions attach the lake) read off the catalog layer, not typed twice.
    /// A file name that is not UTF-8 reached lake with U+FFFD in place of its bytes: "cannot open
    /// (No such file or directory)" for a file that exists.
    @Test func anArgumentThatIsNotUTF8IsNamed() throws {
        let dir = try TemporaryDirectory("not-utf8")
        defer { dir.remove() }
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        let script = #"f="$1/$(printf 'ord\377ers.jsonl')"; : > "$f"; exec "$2" ingest orders "$f" --lake "$1/lake""#
        let r = try runProcess("/bin/sh", ["-c", script, "sh", dir.path, exe])
        #expect(r.status == 64, "\(r.status) \(r.err)")
        #expect(r.err.contains("argument 3 (\(dir.path)/ord\\xFFers.jsonl) is not valid UTF-8"), "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("lake")), "nothing is made")
    }

    /// Every footer check compared the committed CRC with one computed over a pointer that had
    /// escaped `withUnsafeBytes`: with glibc's checking allocator poisoning freed memory, every
    /// file of a sound lake failed `lake verify` with "footer checksum mismatch" (the same read
    /// of freed memory that the ordinary allocator happened to leave intact).
    @Test func footerChecksStandOnMemoryAnAllocatorPoisons() throws {
        let debugMalloc = "/lib/x86_64-linux-gnu/libc_malloc_debug.so.0"
        try #require(FileManager.default.fileExists(atPath: debugMalloc), "libc6 installs \(debugMalloc)")
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        let r = try runProcess(exe, ["verify", "--lake", lake.root],
                               environment: ["LD_PRELOAD": debugMalloc, "MALLOC_CHECK_": "3", "MALLOC_PERTURB_": "165"])
        #expect(r.status == 0 && r.out.contains(" ok, 0 failed"), "\(r.out.prefix(400)) \(r.err)")
    }

    @Test func versionNamesTheCatalogFormat() throws {
        let r = try runLake(["--version"])
        #expect(r.status == 0 && r.out.hasPrefix("lake 0.") && r.out.contains("writes \(CatalogFormat.v10) catalogs") && r.out.contains("DuckLake 1.0"), "\(r.out) \(r.err)")
    }

    /// Session 38 probe: `lake query orders --columns ""` printed "(no rows)" (and `[]` as JSON)
    /// on a table of 300 orders, its empty list read as zero columns; `--group-by ""` was no
    /// grouping and listed every row.
    @Test func aColumnListThatNamesNoColumnIsRefused() throws {
        let lake = try GeneratedLake(try GeneratedLake.config(orders: 300))
        defer { lake.dir.remove() }
        for args in [["--columns", ""], ["--columns", " , "], ["--columns", "", "--format", "json"], ["--group-by", ""], ["--group-by", ",", "--agg", "count(*)"]] {
            let r = try runLake(["query", "orders", "--lake", lake.root] + args)
            #expect(r.status == 64 && r.err.contains("names no column") && !r.out.contains("no rows") && r.out.isEmpty, "\(args): \(r.status) \(r.out) \(r.err)")
        }
        // The library refuses it too (the CLI is not its only caller).
        var spec = QuerySpec(table: "orders")
        spec.columns = []
        #expect(throws: QueryError.noColumns) { try Query.run(spec, catalog: lake.catalog) }
        // A stray comma or space around names still reads as the names.
        let r = try runLake(["query", "orders", "--lake", lake.root, "--columns", " order_id,,channel, ", "--limit", "2", "--format", "csv"])
        #expect(r.status == 0 && r.out.hasPrefix("order_id,channel\n") && r.out.split(separator: "\n").count == 3, "\(r.out) \(r.err)")
    }

    /// `quality check` stores its results under the snapshot it checked and adds no snapshot;
    /// checking again replaces the results rather than duplicating them.
    @Test func qualityCheckAddsNoSnapshot() throws {
        let lake = try GeneratedLake(try GeneratedLake.config(spikes: ["2024-01-20:web:5x"], clean: true))
        defer { lake.dir.remove() }
        let snapshots = try lake.catalog.snapshots().count
        let latest = try lake.catalog.latestSnapshot().id
        for round in 1 ... 2 {
            let r = try runLake(["quality", "check", "--lake", lake.root, "--alerts-file", lake.dir.file("alerts.jsonl")])
            #expect(r.status == 1, "\(r.out)\n\(r.err)")
            #expect(r.out.contains("recorded under snapshot \(latest)"), "\(r.out)")
            #expect(try lake.catalog.snapshots().count == snapshots, "round \(round)")
            let results = try lake.catalog.qualityResults()
            #expect(!results.isEmpty && results.allSatisfy { $0.snapshotID == latest })
            #expect(results.count == Set(results.map { "\($0.batchID) \($0.check)" }).count, "round \(round): duplicated results")
            #expect(try lake.catalog.alerts().allSatisfy { $0.snapshotID == latest })
        }
    }

    /// libpq and libcurl are loaded when first needed (`CLibPQ`, `CWebhook`), not linked: on a
    /// machine without one, every other command works, and the command that needs it says which
    /// library to install. The library is hidden in a private mount namespace (it needs root and
    /// a kernel that lets it mount there: otherwise the test does not run).
    @Test(.enabled(if: canMountPrivately))
    func aMissingOptionalLibraryIsNamed() throws {
        let lake = try GeneratedLake(try GeneratedLake.config(spikes: ["2024-01-20:web:5x"], clean: true))
        defer { lake.dir.remove() }
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        func hidden(_ library: String, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
            // `ldconfig -p` finds the file dlopen would load; /dev/null mounted over it is "too short".
            let script = #"p=$(ldconfig -p | awk -v l="$1" '$1 == l { print $NF; exit }') && [ -n "$p" ] && mount --bind /dev/null "$p" && shift && exec "$@""#
            return try runProcess("/usr/bin/unshare", ["-m", "sh", "-c", script, "sh", library, exe] + args)
        }
        let reports = try hidden("libpq.so.5", ["report", "daily-revenue", "--lake", lake.root])
        #expect(reports.status == 0, "a SQLite lake needs no libpq: \(reports.err)")
        let pg = try hidden("libpq.so.5", ["snapshots", "--lake", lake.root, "--catalog", "postgresql://nobody@127.0.0.1:1/none"])
        #expect(pg.status != 0 && pg.err.contains("cannot load libpq") && pg.err.contains("install libpq5"), "\(pg.err)")
        let webhook = try hidden("libcurl.so.4", ["quality", "check", "--lake", lake.root, "--alerts-file", lake.dir.file("a.jsonl"),
                                                 "--webhook", "http://127.0.0.1:1/hook"])
        #expect(webhook.status != 0 && webhook.err.contains("cannot load libcurl") && webhook.err.contains("install libcurl4"), "\(webhook.err)")
        #expect(FileManager.default.fileExists(atPath: lake.dir.file("a.jsonl")), "the alerts are still appended before the POST")
    }

    /// A refused webhook names the URL (without its query, which may hold a token) and why.
    @Test func refusedWebhookNamesURLAndReason() throws {
        let lake = try GeneratedLake(try GeneratedLake.config(spikes: ["2024-01-20:web:5x"], clean: true))
        defer { lake.dir.remove() }
        // Port 1 (tcpmux): nothing listens there, and binding it needs root.
        let r = try runLake(["quality", "check", "--lake", lake.root, "--alerts-file", lake.dir.file("a.jsonl"),
                             "--webhook", "http://127.0.0.1:1/hook?token=SECRET"])
        #expect(r.status != 0)
        #expect(r.err.contains("http://127.0.0.1:1/hook"), "\(r.err)")
        #expect(r.err.contains("connection refused"), "\(r.err)")
        #expect(!r.err.contains("SECRET") && !r.out.contains("SECRET"))
        #expect(!r.err.contains("-1004"))
    }

    /// `snapshots` names tables; `report operations` shows lag as a duration (seconds in JSON);
    /// `report inventory --help` is the inventory report's help.
    @Test func outputNamesWhatItShows() throws {
        let lake = try GeneratedLake(try GeneratedLake.config(clean: true))
        defer { lake.dir.remove() }
        let snaps = try runLake(["snapshots", "--lake", lake.root])
        #expect(snaps.status == 0, "\(snaps.err)")
        #expect(snaps.out.contains("inserted_into_table:curated.orders"), "\(snaps.out)")
        #expect(snaps.out.contains("inserted_into_table:raw.orders"))
        #expect(try !Regex(#"_table:[0-9]"#).matchesAny(snaps.out), "\(snaps.out)")

        let ops = try runLake(["report", "operations", "--lake", lake.root])
        #expect(ops.status == 0, "\(ops.err)")
        #expect(ops.out.contains("lag_p50") && !ops.out.contains("lat_p50"))
        // Generated 2024 events committed now: a lag of days, shown as "<days>d <hours>h".
        #expect(try Regex(#"\b[0-9]+d [0-9]{2}h\b"#).matchesAny(ops.out), "\(ops.out)")
        let json = try runLake(["report", "operations", "--lake", lake.root, "--format", "json"])
        let sections = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any], "\(json.out)")
        let rows = try #require(sections["ingest_runs_lag_event_time_to_commit"] as? [[String: Any]], "\(sections.keys)")
        let orders = try #require(rows.first { $0["kind"] as? String == "orders" })
        let lag = try #require(orders["lag_p50"] as? NSNumber, "\(orders)")
        #expect(lag.doubleValue > 86_400)

        let help = try runLake(["report", "inventory", "--help"])
        #expect(help.out.contains("USAGE: lake report inventory"), "\(help.out)")
        #expect(!help.out.contains("report show"))
        #expect(help.out.contains("--low-stock"))
        // The old spelling still works for scripts.
        let show = try runLake(["report", "show", "inventory", "--lake", lake.root, "--format", "json"])
        let direct = try runLake(["report", "inventory", "--lake", lake.root, "--format", "json"])
        #expect(show.status == 0 && show.out == direct.out, "\(show.err)")
    }

    /// Commands the README lists show examples in --help (`lake <command> …` lines).
    @Test func helpHasExamples() throws {
        let commands: [[String]] = [
            ["run"], ["metrics"], ["dashboard"], ["quality"], ["quality", "check"], ["schema"], ["report", "diff"],
            ["ingest", "inventory"], ["ingest", "catalog"], ["ingest", "orders"], ["generate"],
            ["report", "daily-revenue"], ["report", "operations"],
        ]
        for c in commands {
            let r = try runLake(c + ["--help"])
            #expect(r.status == 0)
            let examples = r.out.split(separator: "\n").filter { $0.hasPrefix("  lake " + c.joined(separator: " ")) }
            #expect(!examples.isEmpty, "lake \(c.joined(separator: " ")) --help has no example:\n\(r.out)")
        }
    }

    /// Every command's --help reads as paragraphs in an 80-column terminal: a line break inside
    /// a prose paragraph comes from the wrapping, never from the source. (A discussion written
    /// with hard line breaks at ~90 columns printed every other line as one or two stray words.)
    /// A break is a hard one when the next line's first word would have fit on the line before.
    @Test func helpParagraphsWrapAtEightyColumns() throws {
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        var pending: [[String]] = [[]], seen = 0
        var broken: [String] = []
        while let command = pending.popLast() {
            let r = try runProcess(exe, command + ["--help"], environment: ["COLUMNS": "80"])
            #expect(r.status == 0, "lake \(command.joined(separator: " ")) --help: \(r.err)")
            seen += 1
            let lines = r.out.components(separatedBy: "\n")
            var inSubcommands = false, inProse = true
            for (i, line) in lines.enumerated() {
                if line == "SUBCOMMANDS:" { inSubcommands = true; continue }
                if inSubcommands {
                    // "  name    abstract": a subcommand to visit; "help" only repeats --help.
                    if line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first,
                       name != "help", !name.hasSuffix(",") {
                        pending.append(command + [String(name)])
                    }
                    if line.isEmpty { inSubcommands = false }
                    continue
                }
                // The overview and discussion come first; usage, options and subcommands are laid out by the parser.
                if line.hasPrefix("USAGE:") { inProse = false }
                guard inProse, i + 1 < lines.count, !line.isEmpty, !line.hasPrefix(" ") else { continue }
                let next = lines[i + 1]
                guard !next.isEmpty, !next.hasPrefix(" "), !next.hasPrefix("Example"),
                      let word = next.split(separator: " ").first else { continue }
                if line.count + 1 + word.count < 80 {  // the parser wraps before column 80
                    broken.append("lake \(command.joined(separator: " ")): \"\(line)\" / \"\(next)\"")
                }
            }
        }
        #expect(seen > 40, "walked only \(seen) commands' help")
        #expect(broken.isEmpty, "paragraphs broken mid-sentence at 80 columns:\n\(broken.joined(separator: "\n"))")
    }

    /// Maintenance commands pipe: compact, vacuum, delete, erase and quality check print one JSON
    /// object with --format json and CSV rows with --format csv, naming the same fields, with
    /// the figures the text output and the lake itself give.
    @Test func maintenanceCommandsPrintJSONAndCSV() throws {
        let dir = try TemporaryDirectory("lake-formats")
        defer { dir.remove() }
        let lake = dir.file("lake")
        for seed in ["1", "2"] {
            let g = try runLake(["generate", "--orders", "2000", "--seed", seed, "--out", dir.file("g" + seed)])
            #expect(g.status == 0, "\(g.err)")
        }
        #expect(try runLake(["run", "--lake", lake, "--input", dir.file("g1"), "--quiet"]).status == 0)
        #expect(try runLake(["ingest", "orders", dir.file("g2/orders_stream.jsonl"), "--lake", lake]).status == 0)
        func object(_ args: [String], status: Int32 = 0) throws -> [String: Any] {
            let r = try runLake(args + ["--lake", lake, "--format", "json"])
            #expect(r.status == status, "lake \(args.joined(separator: " ")): \(r.err)")
            let parsed = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
            return try #require(parsed, "not one JSON object: \(r.out)")
        }
        func csvRows(_ args: [String]) throws -> [[String]] {
            let r = try runLake(args + ["--lake", lake, "--format", "csv"])
            #expect(r.status == 0, "\(r.err)")
            return r.out.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        }

        // Two sources: every partition has two files to merge.
        let plan = try object(["compact", "--dry-run"])
        let planned = try #require(plan["partitions"] as? [[String: Any]])
        #expect(!planned.isEmpty && planned.allSatisfy { $0["status"] as? String == "planned" && $0["files_before"] as? Int == 2 })
        let planCSV = try csvRows(["compact", "--dry-run"])
        #expect(planCSV.first == ["table", "partition", "rows", "files_before", "files_after", "bytes_before", "bytes_after", "status"])
        #expect(planCSV.count == planned.count + 1)
        #expect(plan["dry_run"] as? Bool == true && plan["snapshot_id"] is NSNull)
        let done = try object(["compact"])
        #expect(done["snapshot_id"] as? Int != nil && done["files_before"] as? Int == planned.count * 2, "\(done)")

        // The compaction's inputs are what a vacuum with no retention frees.
        let vacuum = try object(["vacuum", "--retain", "0s", "--force", "--dry-run"])
        let files = try #require(vacuum["files"] as? [[String: Any]])
        #expect(files.count == planned.count * 2 && files.allSatisfy { $0["action"] as? String == "would_delete" })
        #expect(vacuum["bytes"] as? Int == files.reduce(0) { $0 + ($1["bytes"] as? Int ?? 0) })
        #expect(try csvRows(["vacuum", "--retain", "0s", "--force", "--dry-run"]).count == files.count + 1)

        // A delete's dry run counts what `lake query` counts.
        let count = try runLake(["query", "orders", "--lake", lake, "--where", "channel = web", "--agg", "count(*)", "--format", "csv"])
        let webOrders = Int(count.out.split(separator: "\n").last.map(String.init) ?? "")
        #expect((webOrders ?? 0) > 0, "\(count.out)")
        let delete = try object(["delete", "orders", "--where", "channel = web", "--dry-run"])
        let tables = try #require(delete["tables"] as? [[String: Any]])
        #expect(tables.first { $0["table"] as? String == "curated.orders" }?["rows"] as? Int == webOrders, "\(delete) vs \(count.out)")
        #expect(delete["rows"] as? Int == tables.reduce(0) { $0 + ($1["rows"] as? Int ?? 0) })
        let erase = try object(["erase", "customer", "CUST-00042", "--dry-run"])
        #expect(erase["purge"] is NSNull && erase["dry_run"] as? Bool == true)

        // The registry listing: the same rows as the table, as objects.
        let schemas = try runLake(["schema", "list", "--format", "json"])
        let registered = try #require(try JSONSerialization.jsonObject(with: Data(schemas.out.utf8)) as? [[String: Any]], "\(schemas.out)")
        #expect(registered.contains { $0["table"] as? String == "orders" && $0["latest"] as? String == "v2" && $0["columns"] as? Int == 15 })

        // The table listing counts what `lake report tables` and `lake query` count; CSV has a row a column.
        func array(_ args: [String]) throws -> [[String: Any]] {
            let r = try runLake(args + ["--lake", lake, "--format", "json"])
            #expect(r.status == 0, "lake \(args.joined(separator: " ")): \(r.err)")
            return try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]], "not a JSON array: \(r.out)")
        }
        let listed = try array(["tables"]), reported = try array(["report", "tables"])
        #expect(listed.count == 6 && listed.map { $0["table"] as? String } == reported.map { $0["table"] as? String })
        for (l, r) in zip(listed, reported) {
            #expect(l["rows"] as? Int == r["rows"] as? Int && l["files"] as? Int == r["files"] as? Int, "\(l) vs \(r)")
        }
        let allOrders = try runLake(["query", "orders", "--lake", lake, "--agg", "count(*)", "--format", "csv"])
        let orders = try #require(listed.first { $0["table"] as? String == "curated.orders" })
        #expect(orders["rows"] as? Int == Int(allOrders.out.split(separator: "\n").last.map(String.init) ?? ""), "\(orders) vs \(allOrders.out)")
        #expect(orders["partitioned_by"] as? [String] == ["event_date", "channel"] && orders["inlined_rows"] as? Int == 0)
        let columns = try #require(orders["columns"] as? [[String: Any]])
        #expect(columns.first?["name"] as? String == "order_id" && columns.first?["type"] as? String == "varchar"
                && columns.first?["nullable"] as? Bool == false && columns.first?["default"] is NSNull)
        let listedCSV = try runLake(["tables", "--lake", lake, "--format", "csv"])
        let csvLines = listedCSV.out.split(separator: "\n")
        #expect(csvLines.first == "table,table_id,snapshot,files,rows,partitioned_by,column_id,column,type,nullable,default")
        #expect(csvLines.count == 1 + listed.reduce(0) { $0 + (($1["columns"] as? [Any])?.count ?? 0) })
        #expect(csvLines.contains { $0.hasPrefix("curated.orders,") && $0.contains(",\"event_date,channel\",1,order_id,varchar,no,") })

        // quality check: exit 1 when an alert fires, in either format; the object counts the alerts it lists.
        let q = try runLake(["quality", "check", "--lake", lake, "--format", "json"])
        let quality = try #require(try JSONSerialization.jsonObject(with: Data(q.out.utf8)) as? [String: Any], "\(q.out)")
        let alerts = try #require(quality["alerts"] as? [[String: Any]])
        #expect(q.status == (alerts.isEmpty ? 0 : 1) && quality["snapshot_id"] as? Int != nil && quality["batches"] as? Int == 2)
    }

    /// `lake run` prints readable headers for the by-channel table, not aggregate expressions.
    @Test func runPrintsReadableHeaders() throws {
        let dir = try TemporaryDirectory("lake-run")
        defer { dir.remove() }
        let r = try runLake(["run", "--input", packageRoot.appendingPathComponent("Evaluation-Files").path,
                             "--lake", dir.file("lake"), "--quiet"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("confirmed_orders") && r.out.contains("avg_order_value"), "\(r.out)")
        #expect(!r.out.contains("sum(order_total)") && !r.out.contains("count_distinct("), "\(r.out)")
    }

    /// A report that fails after the ingest committed hides nothing else: `lake run` prints the
    /// other headline tables in their fixed order, names the failing report and its error on
    /// stderr, says the ingest is committed, and exits 3. The inventory table's only data file
    /// is damaged after its own ingest (after the catalog's: inventory rows reference products);
    /// `lake run` then ingests the orders (catalog and inventory files are already in the
    /// ledger) and only the inventory report reads that file.
    @Test func runPrintsTheOtherReportsWhenOneFails() throws {
        let dir = try TemporaryDirectory("lake-run-fail")
        defer { dir.remove() }
        let input = packageRoot.appendingPathComponent("Evaluation-Files")
        let lake = dir.url.appendingPathComponent("lake")
        let catalog = try runLake(["ingest", "catalog", input.appendingPathComponent("product_catalog.json").path, "--lake", lake.path, "--quiet"])
        try #require(catalog.status == 0, "\(catalog.err)")
        let inventory = try runLake(["ingest", "inventory", input.appendingPathComponent("inventory_updates.csv").path, "--lake", lake.path, "--quiet"])
        try #require(inventory.status == 0, "\(inventory.err)")
        let files = lake.appendingPathComponent("curated/inventory")
        let parquet = try FileManager.default.contentsOfDirectory(atPath: files.path).filter { $0.hasSuffix(".parquet") }
        try #require(parquet.count == 1)
        try Data("not parquet".utf8).write(to: files.appendingPathComponent(parquet[0]))

        let r = try runLake(["run", "--input", input.path, "--lake", lake.path, "--quiet"])
        #expect(r.status == 3, "\(r.err)")
        #expect(r.err.contains("lake run: report inventory failed: ") && r.err.contains(parquet[0]), "\(r.err)")
        #expect(r.err.contains("the ingest is committed") && r.err.contains("1 of 5 reports failed") && r.err.contains("`lake report inventory`"), "\(r.err)")
        #expect(!r.out.contains("Inventory: on hand"), "\(r.out)")
        // The other four, complete and in lake run's order.
        let titles = ["Top products (confirmed orders)", "Top customers by spend", "Customer summary", "Ingest runs", "Daily revenue: `lake report daily-revenue`", "confirmed_orders"]
        let at = titles.map { r.out.range(of: $0)?.lowerBound }
        #expect(at.allSatisfy { $0 != nil }, "\(r.out)")
        #expect(at.compactMap { $0 } == at.compactMap { $0 }.sorted(), "\(r.out)")
        // The orders landed in the snapshot the summary names.
        let committed = try #require(r.out.firstMatch(of: /orders orders_stream\.jsonl -> snapshot (\d+)/), "\(r.out)")
        #expect(r.err.contains("orders committed at snapshot \(committed.1)"), "\(r.err)")
        let snapshots = try runLake(["snapshots", "--lake", lake.path, "--format", "json"])
        let list = try #require(try JSONSerialization.jsonObject(with: Data(snapshots.out.utf8)) as? [[String: Any]])
        let orders = list.first { ($0["snapshot_id"] as? Int) == Int(committed.1) }
        #expect((orders?["changes_by_name"] as? [String])?.contains("inserted_into_table:curated.orders") == true, "\(snapshots.out)")

        // Nothing failing: every table, exit 0, nothing on stderr about reports.
        let clean = try runLake(["run", "--input", input.path, "--lake", dir.file("clean"), "--quiet"])
        #expect(clean.status == 0 && !clean.err.contains("failed"), "\(clean.err)")
        let all = (["Top products (confirmed orders)", "Inventory: on hand"] + titles.dropFirst()).map { clean.out.range(of: $0)?.lowerBound }
        #expect(all.allSatisfy { $0 != nil } && all.compactMap { $0 } == all.compactMap { $0 }.sorted(), "\(clean.out)")
    }

    /// Probe finding 12: a mistyped --lake. A read names the path and how to make a lake there,
    /// exits non-zero and creates nothing; orders or inventory (which need the product catalog)
    /// are refused the same way; `ingest catalog` and `lake run` start a new lake, as DuckDB's
    /// ATTACH of a new DuckLake does, and say so on stderr.
    @Test func aPathWithNoLakeIsNamedNotCreated() throws {
        let dir = try TemporaryDirectory("lake-typo")
        defer { dir.remove() }
        let input = packageRoot.appendingPathComponent("Evaluation-Files")
        let typo = dir.file("typo")
        let expected = "no lake at \(typo) (no manifest.sqlite there; run `lake init --lake \(typo)` or `lake run`, or point --lake at an existing lake)"
        for args in [["query", "orders"], ["report", "daily-revenue"], ["quality", "check"], ["verify"], ["tables"], ["snapshots"], ["metrics"],
                     ["ingest", "orders", input.appendingPathComponent("orders_stream.jsonl").path],
                     ["ingest", "inventory", input.appendingPathComponent("inventory_updates.csv").path]] {
            let r = try runLake(args + ["--lake", typo])
            #expect(r.status != 0, "lake \(args.joined(separator: " ")): \(r.out)")
            #expect(r.err.contains(expected), "lake \(args.joined(separator: " ")): \(r.err)")
            #expect(!FileManager.default.fileExists(atPath: typo), "lake \(args.joined(separator: " ")) created \(typo)")
        }
        let created = try runLake(["ingest", "catalog", input.appendingPathComponent("product_catalog.json").path, "--lake", typo, "--quiet"])
        #expect(created.status == 0 && created.err.contains("created a new lake at \(typo)"), "\(created.err)")
        let again = try runLake(["ingest", "inventory", input.appendingPathComponent("inventory_updates.csv").path, "--lake", typo, "--quiet"])
        #expect(again.status == 0 && !again.err.contains("created a new lake"), "\(again.err)")
        let run = try runLake(["run", "--input", input.path, "--lake", dir.file("fresh"), "--quiet"])
        #expect(run.status == 0 && run.err.contains("created a new lake at \(dir.file("fresh"))"), "\(run.err)")
    }

    /// `lake run --help` says what a failing report does to the output and the exit status.
    @Test func runHelpSaysWhatAFailingReportDoes() throws {
        let help = try runLake(["run", "--help"])
        #expect(help.status == 0)
        let text = help.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(text.contains("When a report fails, the others are still printed") && text.contains("exits with status 3"), "\(help.out)")
    }

    @Test func durationText() {
        #expect(Value.duration(seconds: 90_545_495).text == "1047d 23h")
        #expect(Value.duration(seconds: 3_725).text == "1h 02m")
        #expect(Value.duration(seconds: 189).text == "3m 09s")
        #expect(Value.duration(seconds: 42).text == "42s")
        #expect(ResultTable(columns: ["lag"], rows: [[.duration(seconds: 90)]]).renderCSV() == "lag\n90")
        #expect(ResultTable(columns: ["lag"], rows: [[.duration(seconds: 90)]]).renderJSON() == "[\n  {\"lag\": 90}\n]")
    }
}

extension Regex {
    func matchesAny(_ text: String) -> Bool { text.firstMatch(of: self) != nil }
}
