import Foundation
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakeCatalog

/// A batch's confirmed revenue is summed in 128 bits; a (day, channel) cell past Int64 cents is
/// stored as several `confirmed_cents` rows of the BIGINT column that add up to it exactly.
@Suite("Quality figures past Int64: stored as parts, read back exactly", .serialized)
struct WideFigureTests {
    @Test("int64Parts: each part fits Int64, the parts add up to the value, one part (none for 0) when it fits")
    func partsAddUp() {
        var rng = SplitMix64(seed: 64)
        var values: [Int128] = [0, 1, -1, Int128(Int64.max), Int128(Int64.min), Int128(Int64.max) + 1, Int128(Int64.min) - 1,
                                12 * 900_000_000_000_000_000, -(Int128(1) << 66) - 5]
        for _ in 0 ..< 2_000 {
            // Up to 2^68 in magnitude: at most 33 parts each.
            let v = Int128(Int64(bitPattern: rng.next())) << Int(rng.next() % 5)
            values.append(v)
        }
        for v in values {
            let parts = QualityFigures.int64Parts(v)
            #expect(parts.reduce(Int128(0)) { $0 + Int128($1) } == v, "\(v)")
            if let fits = Int64(exactly: v) { #expect(parts == (fits == 0 ? [] : [fits]), "\(v)") }
            #expect(parts.count <= Int(v.magnitude / UInt128(Int64.max)) + 1, "\(v): \(parts.count) parts")
        }
    }

    /// Cells written through `recordQualityFigures` read back from `qualityFigures` and added up
    /// per cell in 128 bits (what `StoredQuality` does): SQLite, then a real PostgreSQL cluster.
    @Test("figures of cells past Int64 round-trip through the SQLite and the PostgreSQL catalog")
    func roundTripBothCatalogs() throws {
        let cells: [(day: Int32, channel: String, cents: Int128)] = [
            (19737, "web", 12 * 900_000_000_000_000_000),  // the probe's twelve orders: 108000000000000000.00
            (19737, "mobile", 3 * Int128(Int64.max) + 7),
            (19738, "web", 42),
            (19738, "api", -(Int128(1) << 65)),
        ]
        let figures = cells.flatMap { c in
            QualityFigures.int64Parts(c.cents).map { QualityFigure(batchID: "b1", eventDate: c.day, channel: c.channel, metric: .confirmedCents, n: $0) }
        }
        #expect(figures.count > cells.count, "some cells take several rows")
        func check(_ catalog: Catalog, _ label: String) throws {
            let snapshot = try catalog.commit(message: "figures") { tx in try tx.recordQualityFigures(figures) }.0.id
            let stored = try catalog.qualityFigures(at: snapshot)
            var read: [String: Int128] = [:]
            for f in stored.figures where f.metric == .confirmedCents { read["\(f.eventDate) \(f.channel)", default: 0] += Int128(f.n) }
            #expect(read == Dictionary(uniqueKeysWithValues: cells.map { ("\($0.day) \($0.channel)", $0.cents) }), "\(label)")
            #expect(DecimalText.format(read["19737 web"] ?? 0, scale: 2) == "108000000000000000.00", "\(label)")
        }
        let dir = try TempDir("wide-figures"); defer { dir.cleanup() }
        try check(try Catalog.open(root: dir.url.appendingPathComponent("sqlite")), "SQLite")
        let pg = try PostgresCluster.shared()
        let url = pg.url(database: try pg.createDatabase())
        try check(try Catalog.open(root: dir.url.appendingPathComponent("pg"), catalog: .postgres(url)), "PostgreSQL")
    }
}
