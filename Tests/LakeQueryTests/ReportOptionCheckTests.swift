import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
@testable import LakeQuery
import LakeTestSupport
import Testing

/// Session 17 probe: report options the report did not read were dropped without a word
/// (`lake report customers --country DE` printed every country's customers, exit 0), a channel
/// outside the enum or a window ending before it starts printed an empty report as if nothing
/// had sold, and a negative --limit trapped (SIGILL) in reports and `lake query`.
@Suite struct ReportOptionCheckTests {
    /// A value of each setting that changes the answer of a report that reads it, on a lake of
    /// the generator's 1,000 orders over January 2024.
    static func set(_ s: ReportSetting, on o: inout ReportOptions) {
        switch s {
        case .from: o.from = Int32(CivilDate.days(year: 2024, month: 1, day: 20))
        case .to: o.to = Int32(CivilDate.days(year: 2024, month: 1, day: 10))
        case .channel: o.channel = "web"
        case .limit: o.limit = 2
        case .country: o.country = "DE"
        case .category: o.category = "Books"
        case .ranking: o.ranking = .orders
        case .lowStock: o.lowStock = 1_000_000
        case .minDaysOfCover: o.minDaysOfCover = 1e9
        }
    }

    /// `ReportName.settings` is what each report's computation reads, both ways: a setting in
    /// it changes the report, one outside it changes nothing (so refusing it loses nothing, and
    /// a report that starts reading a setting fails here until the table says so).
    @Test func settingsAreExactlyWhatEachReportReads() throws {
        let lake = try GeneratedLake(try GeneratedLake.config(orders: 1000))
        defer { lake.dir.remove() }
        for name in ReportName.allCases {
            let plain = try Reports.run(name, catalog: lake.catalog, options: ReportOptions()).render(.json)
            for setting in ReportSetting.allCases {
                var o = ReportOptions()
                Self.set(setting, on: &o)
                let answer = try Reports.run(name, catalog: lake.catalog, options: o).render(.json)
                if name.settings.contains(setting) {
                    #expect(answer != plain, "\(name) lists --\(setting.rawValue) but its answer does not change with it")
                } else {
                    #expect(answer == plain, "\(name) reads --\(setting.rawValue) but does not list it")
                }
            }
        }
    }

    @Test func checkRefusesWhatWouldPrintOtherFigures() throws {
        var o = ReportOptions()
        o.country = "DE"
        #expect(throws: QueryError.self) { try o.check(for: .customers, given: [.country], channels: []) }
        try o.check(for: .topCustomers, given: [.country], channels: [])
        o = ReportOptions()
        o.from = 10
        o.to = 9
        #expect(throws: QueryError.self) { try o.check(for: .dailyRevenue, given: [.from, .to], channels: []) }
        o.to = 10
        try o.check(for: .dailyRevenue, given: [.from, .to], channels: [])
        o = ReportOptions()
        o.limit = 0
        #expect(throws: QueryError.self) { try o.check(for: .topProducts, given: [.limit], channels: []) }
        o.limit = nil
        o.channel = "Web"
        #expect(throws: QueryError.self) { try o.check(for: .dailyRevenue, given: [.channel], channels: ["api", "mobile", "web"]) }
        o.channel = "web"
        try o.check(for: .dailyRevenue, given: [.channel], channels: ["api", "mobile", "web"])
        // The library refuses a negative limit itself rather than trapping.
        o = ReportOptions()
        o.limit = -3
        let lake = try GeneratedLake(try GeneratedLake.config(orders: 200))
        defer { lake.dir.remove() }
        #expect(throws: QueryError.self) { try Reports.run(.topProducts, catalog: lake.catalog, options: o) }
        var spec = QuerySpec(table: "orders")
        spec.limit = -1
        #expect(throws: QueryError.self) { try Query.run(spec, catalog: lake.catalog) }
    }

    /// Through the binary: each refusal is a usage error (64) naming the option, with nothing on
    /// standard output; the options a report reads still work.
    @Test func theCLIRefusesInsteadOfIgnoring() throws {
        let lake = try GeneratedLake(try GeneratedLake.config(orders: 300))
        defer { lake.dir.remove() }
        let refused: [([String], String)] = [
            (["report", "customers", "--country", "DE"], "--country: the customers report does not read it"),
            (["report", "top-products", "--category", "Books"], "--category: the top-products report does not read it"),
            (["report", "operations", "--limit", "3"], "--limit: the operations report does not read it"),
            (["report", "snapshots", "--from", "2024-01-01"], "--from: the snapshots report does not read it"),
            (["report", "show", "customers", "--by", "orders"], "--by: the customers report does not read it"),
            (["report", "diff", "daily-revenue", "--from-snapshot", "1", "--low-stock", "5"], "--low-stock: the daily-revenue report does not read it"),
            (["report", "daily-revenue", "--channel", "Web"], "--channel Web is not a channel; channels: api, mobile, web"),
            (["report", "daily-revenue", "--from", "2024-01-20", "--to", "2024-01-10"], "--from 2024-01-20 is after --to 2024-01-10"),
            (["report", "top-products", "--limit=-3"], "--limit -3: expected at least 1"),
            (["report", "inventory", "--limit", "0"], "--limit 0: expected at least 1"),
            (["query", "orders", "--limit=-1"], "--limit -1: expected 0 or more rows"),
            (["report", "product-metrics", "--low-stock", "5"], "Unknown option '--low-stock'"),
            (["serve", "--port", "70000"], "--port 70000: expected 0 to 65535"),
            (["serve", "--burst=-5"], "--burst -5: expected at least 1"),
        ]
        for (args, message) in refused {
            let r = try runLake(args + ["--lake", lake.root])
            #expect(r.status == 64, "\(args): exit \(r.status) \(r.err)")
            #expect(r.err.contains(message), "\(args): \(r.err)")
            #expect(r.out.isEmpty, "\(args) printed: \(r.out.prefix(200))")
        }
        let accepted: [[String]] = [
            ["report", "top-customers", "--country", "DE", "--by", "orders", "--limit", "3"],
            ["report", "inventory", "--low-stock", "30", "--min-days-of-cover", "3", "--channel", "web", "--from", "2024-01-01", "--to", "2024-01-31"],
            ["report", "product-metrics", "--category", "Books", "--channel", "mobile"],
            ["report", "daily-revenue", "--from", "2024-01-10", "--to", "2024-01-10"],
            ["query", "orders", "--limit", "0"],
        ]
        for args in accepted {
            let r = try runLake(args + ["--lake", lake.root, "--format", "json"])
            #expect(r.status == 0, "\(args): exit \(r.status) \(r.err)")
        }
    }

    /// Session 17 probe: `report diff` with its snapshots reversed printed the change backwards
    /// (what was added listed as removed), and --min-days-of-cover nan (or inf, or a negative
    /// one) and a negative --low-stock printed an inventory report whose "low" column meant
    /// nothing, exit 0. Each is now a usage error saying what is expected.
    @Test func reversedDiffsAndMeaninglessThresholdsAreRefused() throws {
        let lake = try GeneratedLake(try GeneratedLake.config(orders: 300))
        defer { lake.dir.remove() }
        let latest = try lake.catalog.latestSnapshot().id
        try #require(latest >= 3)
        let refused: [([String], String)] = [
            (["report", "diff", "daily-revenue", "--from-snapshot", "\(latest)", "--to-snapshot", "2"],
             "--from-snapshot \(latest) is after --to-snapshot 2: --from-snapshot is the earlier snapshot (the old values), --to-snapshot the later one"),
            (["report", "diff", "daily-revenue", "--from-snapshot", "\(latest + 5)"],
             "--from-snapshot \(latest + 5) is after the latest snapshot, \(latest)"),
            (["report", "inventory", "--min-days-of-cover", "nan"], "--min-days-of-cover nan: expected a finite number of days, 0 or more"),
            (["report", "inventory", "--min-days-of-cover", "inf"], "--min-days-of-cover inf: expected a finite number of days"),
            (["report", "inventory", "--min-days-of-cover=-2"], "--min-days-of-cover -2.0: expected a finite number of days"),
            (["report", "diff", "inventory", "--from-snapshot", "2", "--min-days-of-cover", "nan"], "--min-days-of-cover nan"),
            (["report", "inventory", "--low-stock=-1"], "--low-stock -1: expected 0 or more units"),
            // Session 32: a negative number after a space was read as an option ("Missing value
            // for '--low-stock <low-stock>'"), though README writes options that way.
            (["report", "inventory", "--low-stock", "-5"], "--low-stock -5: expected 0 or more units"),
            (["report", "inventory", "--min-days-of-cover", "-2"], "--min-days-of-cover -2.0: expected a finite number of days"),
            (["report", "top-products", "--limit", "-3"], "--limit -3: expected at least 1"),
            (["query", "orders", "--limit", "-1"], "--limit -1: expected 0 or more rows"),
            (["query", "orders", "--as-of", "-1"], "cannot read --as-of '-1'"),
            // The same class elsewhere: refused before, but as a failure (exit 1), not a usage error.
            (["compact", "--target-file-size", "0"], "--target-file-size 0: expected a positive number of bytes"),
            (["compact", "--min-files", "1"], "--min-files 1: expected at least 2"),
            // Session 32: a misspelt table or sort column exited 1, where `lake query` says 64.
            (["compact", "curated.nope"], "no table curated.nope in the lake"),
            (["compact", "curated.orders", "--sort-by", "nope"], "curated.orders has no column nope to sort by"),
            // Session 28: `lake delete` with no --where, or one `lake query` refuses, exited 1.
            (["delete", "curated.orders"], "lake delete needs at least one --where condition"),
            (["delete", "curated.orders", "--where", "bogus"], "cannot read the condition \"bogus\""),
            (["delete", "curated.nothing", "--where", "channel = web"], "curated.nothing"),
        ]
        for (args, message) in refused {
            let r = try runLake(args + ["--lake", lake.root])
            #expect(r.status == 64, "\(args): exit \(r.status) \(r.err)")
            #expect(r.err.contains(message), "\(args): \(r.err)")
            #expect(r.out.isEmpty, "\(args) printed: \(r.out.prefix(200))")
        }
        let out = lake.dir.file("generated")
        for (args, message) in [(["--orders=-5"], "--orders must be 0...100000000"), (["--orders", "-5"], "--orders must be 0...100000000"), (["--days", "0"], "--days must be 1...3660"),
                                (["--schema-version", "9"], "--schema-version 9: versions 1 and 2"), (["--spike", "2024-01-02:web:0x"], "factor must be a number from 1 to 1000")] {
            let r = try runLake(["generate", "--out", out] + args)
            #expect(r.status == 64 && r.err.contains(message), "generate \(args): exit \(r.status) \(r.err)")
            #expect(!FileManager.default.fileExists(atPath: out + "/orders_stream.jsonl"), "generate \(args) wrote")
        }
        // The library refuses them too (lake serve and other callers).
        var o = ReportOptions()
        o.minDaysOfCover = .nan
        #expect(throws: QueryError.self) { try o.check(for: .inventory, given: [.minDaysOfCover], channels: []) }
        #expect(throws: QueryError.self) { try ReportDiff.run(.dailyRevenue, catalog: lake.catalog, from: latest, to: 2, options: ReportOptions()) }
        // The boundaries still answer: the same snapshot twice (no change), thresholds of 0.
        for args in [["report", "diff", "daily-revenue", "--from-snapshot", "2", "--to-snapshot", "2"],
                     ["report", "diff", "daily-revenue", "--from-snapshot", "2", "--to-snapshot", "\(latest)"],
                     ["report", "inventory", "--min-days-of-cover", "0", "--low-stock", "0"]] {
            let r = try runLake(args + ["--lake", lake.root, "--format", "json"])
            #expect(r.status == 0, "\(args): exit \(r.status) \(r.err)")
        }
    }
}
