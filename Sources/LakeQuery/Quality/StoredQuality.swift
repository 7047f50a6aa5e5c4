import Foundation
import LakeCatalog
import LakeFormat

/// The quality figures the ingests stored with their batches (`lake_quality_figure`), added up
/// into what the checks, the anomaly detector and the dashboard read, instead of scanning
/// raw.orders, curated.orders and curated.order_items. Used only when the figures cover the
/// tables exactly: their line, order and item counts equal the tables' live row counts at the
/// snapshot. Anything else (a lake older than the figures, rows added by another tool, a
/// delete) falls back to the rescan, so a stored answer is never a stale one.
struct StoredQuality {
    var perBatch: [String: LineCounts] = [:]
    var perDay: [Int32: LineCounts] = [:]
    var curated: [String: CuratedCounts] = [:]
    /// Curated orders, confirmed cents (128 bits) and squared confirmed totals per channel and day (only cells with orders).
    var byDay: [ExactID: [Int32: (Int64, Int128, Double)]] = [:]
    /// Curated orders and orders without a state per day.
    var curatedPerDay: [Int32: (Int64, Int64, Int64)] = [:]
    /// Raw lines and rejected lines per day.
    var rawPerDay: [Int32: (Int64, Int64)] = [:]

    /// `batchIDs` limits the figures read to those batches' (the ingest hook checking the batch
    /// it just committed): per-day figures then cover only them. Coverage is always checked
    /// against every batch's totals.
    static func load(catalog: Catalog, snapshot: Int64, batchIDs: Set<String>? = nil) throws -> StoredQuality? {
        let stored = try catalog.qualityFigures(at: snapshot, batchIDs: batchIDs)
        guard stored.coversTables else { return nil }
        var s = StoredQuality()
        var cells: [ExactID: [Int32: (Int64, Int128, Double)]] = [:]
        for f in stored.figures {
            switch f.metric {
            case .records:
                s.perBatch[f.batchID, default: LineCounts()].records += f.n
                s.perDay[f.eventDate, default: LineCounts()].records += f.n
                s.rawPerDay[f.eventDate, default: (0, 0)].0 += f.n
            case .orders:
                s.curated[f.batchID, default: CuratedCounts()].orders += f.n
                s.curatedPerDay[f.eventDate, default: (0, 0, 0)].0 += f.n
                cells[ExactID(f.channel), default: [:]][f.eventDate, default: (0, 0, 0)].0 += f.n
            case .items: break  // counted only for coverage, by the catalog
            case .confirmedCents:
                // A cell past Int64 is stored as several rows (`QualityFigures.int64Parts`): all added.
                try cells[ExactID(f.channel), default: [:]][f.eventDate, default: (0, 0, 0)].1.add(
                    Int128(f.n), orThrow: "stored quality figures: confirmed revenue of \(Timestamps.dateText(days: Int64(f.eventDate))) \(VisibleText.escape(f.channel))")
            case .confirmedSquares: cells[ExactID(f.channel), default: [:]][f.eventDate, default: (0, 0, 0)].2 += f.x
            case .stateNulls:
                s.curated[f.batchID, default: CuratedCounts()].stateNulls += f.n
                s.curatedPerDay[f.eventDate, default: (0, 0, 0)].1 += f.n
            case .cityNulls:
                s.curated[f.batchID, default: CuratedCounts()].cityNulls += f.n
                s.curatedPerDay[f.eventDate, default: (0, 0, 0)].2 += f.n
            case .totalMismatch: s.curated[f.batchID, default: CuratedCounts()].mismatched += f.n
            case .itemCountMismatch: s.curated[f.batchID, default: CuratedCounts()].itemCountMismatch += f.n
            case .totalMismatchExample:
                if let d = f.detail, s.curated[f.batchID, default: CuratedCounts()].examples.count < 3 { s.curated[f.batchID]!.examples.append(d) }
            case .rejects(let reason):
                s.perBatch[f.batchID, default: LineCounts()].rejects[reason, default: 0] += f.n
                s.perDay[f.eventDate, default: LineCounts()].rejects[reason, default: 0] += f.n
                s.rawPerDay[f.eventDate, default: (0, 0)].1 += f.n
            case .missing(let field):
                s.perBatch[f.batchID, default: LineCounts()].missingByField[field, default: 0] += f.n
                s.perDay[f.eventDate, default: LineCounts()].missingByField[field, default: 0] += f.n
            case .other:
                break  // a newer build's figure, not needed by these checks
            }
        }
        // The detector's series has a channel only where it had orders, as the rescan finds them.
        for (ch, days) in cells {
            for (d, v) in days where v.0 > 0 { s.byDay[ch, default: [:]][d] = v }
        }
        return s
    }
}
