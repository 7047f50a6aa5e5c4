import Foundation
import LakeFormat
import Testing
@testable import LakePipeline

@Suite struct GeneratorTests {
    func generate(_ config: GeneratorConfig, _ name: String = #function) throws -> (String, GenerationSummary) {
        let dir = try TestSupport.tempDir(name)
        return (dir, try OrderGenerator.generate(config, into: dir))
    }

    func bytes(_ path: String) -> Data { FileManager.default.contents(atPath: path) ?? Data() }

    @Test func sameSeedSameBytesDifferentSeedDifferentBytes() throws {
        var c = GeneratorConfig()
        c.orders = 2000
        let (a, _) = try generate(c, "a")
        let (b, _) = try generate(c, "b")
        c.seed = 7
        let (d, _) = try generate(c, "d")
        for f in ["orders_stream.jsonl", "product_catalog.json", "inventory_updates.csv"] {
            #expect(bytes("\(a)/\(f)") == bytes("\(b)/\(f)"), "\(f) differs for the same seed")
        }
        #expect(bytes("\(a)/orders_stream.jsonl") != bytes("\(d)/orders_stream.jsonl"))
    }

    /// The committed sample data is exactly what `lake generate` writes by default, so anyone
    /// can regenerate it and the tests below pin real content.
    @Test func committedEvaluationFilesMatchDefaultGeneratorOutput() throws {
        let (dir, summary) = try generate(GeneratorConfig())
        for f in ["orders_stream.jsonl", "product_catalog.json", "inventory_updates.csv"] {
            #expect(bytes("\(dir)/\(f)") == bytes("\(TestSupport.evaluationFiles)/\(f)"), "regenerate Evaluation-Files: \(f) is stale")
        }
        #expect(summary.lines == 1000)
        #expect(summary.products == 50)
        #expect(summary.inventoryRows == 50)
        // ~370 KB like the original sample.
        #expect((300_000 ... 420_000).contains(summary.orderBytes))
    }

    @Test func faultRatesAreNearTheDocumentedRates() throws {
        var c = GeneratorConfig()
        c.orders = 40_000
        let (_, s) = try generate(c)
        #expect(s.lines == 40_000)
        let expected: [(GeneratedLineKind, Double)] = [
            (.truncated, c.faults.truncated), (.syntax, c.faults.syntax), (.missingField, c.faults.missingField),
            (.badQuantity, c.faults.badQuantity), (.negativePrice, c.faults.negativePrice), (.unknownProduct, c.faults.unknownProduct),
            (.badEnum, c.faults.badEnum), (.replay, c.faults.replay), (.late, c.faults.late),
        ]
        for (kind, rate) in expected {
            let n = Double(s.counts[kind] ?? 0)
            let mean = rate * 40_000
            // 5 standard deviations of a binomial count.
            #expect(abs(n - mean) < 5 * (mean * (1 - rate)).squareRoot(), "\(kind.rawValue): \(n) vs expected \(mean)")
        }
        // Mobile is ~35% of orders and 30% of those use the variant (minus the few with faults).
        let variant = Double(s.counts[.mobileVariant] ?? 0) / 40_000
        #expect(abs(variant - 0.35 * 0.3 * 0.94) < 0.01)
    }

    @Test func cleanModeWritesNoFaults() throws {
        var c = GeneratorConfig()
        c.orders = 3000
        c.faults = .none
        let (dir, s) = try generate(c)
        #expect(s.counts.keys.sorted { $0.rawValue < $1.rawValue } == [.clean])
        #expect(s.inventoryBadRows == 0)
        let v = try TestSupport.validate("\(dir)/orders_stream.jsonl",
                                         catalog: ProductCatalogParser.parse(path: "\(dir)/product_catalog.json").catalog)
        #expect(v.orders.count == 3000)
        #expect(v.rejectedCount == 0)
    }

    @Test func spikeMultipliesOneDayAndChannel() throws {
        var c = GeneratorConfig()
        c.orders = 6000
        c.faults = .none
        let (_, base) = try generate(c, "base")
        let day = CivilDate.days(year: 2024, month: 1, day: 10)
        c.spikes = [try Spike(parsing: "2024-01-10:api:5x")]
        let (dir, spiked) = try generate(c, "spiked")
        let v = try TestSupport.validate("\(dir)/orders_stream.jsonl",
                                         catalog: ProductCatalogParser.parse(path: "\(dir)/product_catalog.json").catalog)
        let dates = TestSupport.int32s(v.orders, "event_date")
        let channels = TestSupport.strings(v.orders, "channel")
        var perDay: [String: Int] = [:]
        for i in 0 ..< dates.count where Int64(dates[i]) == day { perDay[channels[i]!, default: 0] += 1 }
        let extra = spiked.lines - base.lines
        // The spike day/channel carries 5x its base count: base + 4x base extra.
        #expect(extra > 0 && extra % 4 == 0)
        #expect(perDay["api"] == extra / 4 * 5)
        #expect(throws: GeneratorError.self) { try Spike(parsing: "2024-01-10:store:5x") }
        #expect(throws: GeneratorError.self) { try Spike(parsing: "2024-13-10:web:5x") }
    }

    @Test func everyInjectedFaultIsRejectedAndEveryValidLineAccepted() throws {
        var c = GeneratorConfig()
        c.orders = 20_000
        c.seed = 2024
        let (dir, s) = try generate(c)
        let v = try TestSupport.validate("\(dir)/orders_stream.jsonl",
                                         catalog: ProductCatalogParser.parse(path: "\(dir)/product_catalog.json").catalog)
        #expect(v.orders.count == s.expectedAccepted)
        #expect(v.rejectedCount == s.expectedRejected)
        #expect(v.raw.count == s.lines)
        #expect(v.rejects[.duplicateOrder] == s.counts[.replay])
        #expect(v.rejects[.malformedJSON] == (s.counts[.truncated] ?? 0) + (s.counts[.syntax] ?? 0))
        #expect(v.rejects[.invalidQuantity] == s.counts[.badQuantity])
        #expect(v.rejects[.invalidPrice] == s.counts[.negativePrice])
        #expect(v.rejects[.unknownProduct] == s.counts[.unknownProduct])
        #expect((v.rejects[.invalidChannel] ?? 0) + (v.rejects[.invalidStatus] ?? 0) == s.counts[.badEnum])
        #expect(v.rejects[.missingField] == s.counts[.missingField])
        #expect(TestSupport.int64s(v.orders, "order_total").reduce(0, +) == s.acceptedTotalCents)
        #expect(v.items.count == s.acceptedItems)
        // Late orders can be mobile-variant too; every clean variant line went through the alias.
        #expect((s.counts[.mobileVariant]! ... s.counts[.mobileVariant]! + s.counts[.late]!).contains(v.aliasNormalized))
    }
}
