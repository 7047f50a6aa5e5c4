import Foundation
import LakeCatalog
import LakeFormat

/// Adds up a batch's quality figures from the validated columnar batches as the ingest hands
/// them to the writers, so the checks never read the batch back. Figures are kept per
/// (event date, channel) cell: a handful of cells per batch whatever its size. Rows are not
/// hashed: a row's cell is found by comparing its (date, channel) with the previous row's
/// (sources are mostly in time order) and only on a change through a small table.
struct QualityFigureBuilder {
    private struct Cell {
        var day: Int32
        var channel: Int
        var records: Int64 = 0, orders: Int64 = 0, items: Int64 = 0
        /// 128 bits, as DuckDB sums DECIMAL(18,2): a dozen orders at its maximum pass Int64 cents.
        var confirmedCents: Int128 = 0
        var stateNulls: Int64 = 0, cityNulls: Int64 = 0, totalMismatch: Int64 = 0, itemCountMismatch: Int64 = 0
        var confirmedSquares: Double = 0
        /// Rejected lines are the rare case: strings are made only for them.
        var rejects: [String: Int64] = [:]
        var missing: [String: Int64] = [:]
    }

    private var channels: [[UInt8]] = []
    private var cellOf: [Int64: Int] = [:]
    private var cells: [Cell] = []
    /// The batch's order-total mismatch examples: its smallest order ids (bytewise), the ones a
    /// rescan picks too, whatever order the lines came in. Kept sorted, at most `maxExamples`.
    private var examples: [(id: ExactID, detail: String, day: Int32, channel: Int)] = []
    static let maxExamples = 3

    private mutating func channelCode(_ bytes: UnsafeRawBufferPointer) -> Int {
        for (i, c) in channels.enumerated() where c.count == bytes.count && c.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, c.count) == 0 }) {
            return i
        }
        channels.append([UInt8](bytes))
        return channels.count - 1
    }

    private mutating func cell(_ day: Int32, _ channel: Int) -> Int {
        let key = Int64(day) << 20 | Int64(channel)
        if let i = cellOf[key] { return i }
        cells.append(Cell(day: day, channel: channel))
        cellOf[key] = cells.count - 1
        return cells.count - 1
    }

    /// Walks one table's (event_date, channel) columns, calling `body` with each row's cell.
    private mutating func forEachCell(_ batch: RecordBatch, _ body: (inout Cell, Int) -> Void) {
        guard let dates = batch.column("event_date"), case .int32(let day) = dates.data, let chans = batch.column("channel") else { return }
        if case .dictionary(let idx, let values) = chans.data {
            // The ingest's own batches: channel codes into the schema's enum, one code per entry.
            let entry = values.bytes.withUnsafeBytes { raw in (0 ..< values.count).map { channelCode(UnsafeRawBufferPointer(rebasing: raw[values.byteRange($0)])) } }
            // Channels alternate from row to row while the day changes rarely: each dictionary
            // entry remembers its last day's cell, so the cell table is consulted per change of
            // day, not per row (it was a hashed lookup for most rows).
            // (Int64.min: no day yet, never an Int32 day.)
            var lastDay = [Int64](repeating: .min, count: values.count), lastCell = [Int](repeating: 0, count: values.count)
            for r in 0 ..< batch.count {
                let e = Int(idx[r])
                if Int64(day[r]) != lastDay[e] {
                    lastCell[e] = cell(day[r], entry[e])
                    lastDay[e] = Int64(day[r])
                }
                body(&cells[lastCell[e]], r)
            }
            return
        }
        guard case .string(let ch) = chans.data else { return }
        var lastDay = Int32.min, lastStart = -1, lastEnd = -1, current = 0
        ch.bytes.withUnsafeBytes { raw in
            for r in 0 ..< batch.count {
                let s = Int(ch.offsets[r]), e = Int(ch.offsets[r + 1])
                let same = day[r] == lastDay && e - s == lastEnd - lastStart
                    && (s == lastStart || memcmp(raw.baseAddress! + s, raw.baseAddress! + lastStart, e - s) == 0)
                if !same {
                    current = cell(day[r], channelCode(UnsafeRawBufferPointer(rebasing: raw[s ..< e])))
                    lastDay = day[r]
                    lastStart = s
                    lastEnd = e
                }
                body(&cells[current], r)
            }
        }
    }

    /// Money is summed in 128 bits: an order's items and a cell's confirmed revenue are exact
    /// for any batch (each value fits Int64 and a batch has fewer than 2^64 rows, so the
    /// checked adds never report; `SumOverflow` is thrown rather than trapping if they did).
    mutating func add(_ v: ValidatedOrders) throws(SumOverflow) {
        // Raw lines: records, rejects by reason, missing fields by name.
        let reason = v.raw.column("reject_reason"), detail = v.raw.column("reject_detail")
        forEachCell(v.raw) { c, r in
            c.records += 1
            guard let reason, let why = reason.string(at: r) else { return }
            c.rejects[why, default: 0] += 1
            if why == RejectReason.missingField.rawValue { c.missing[QualityFigures.field(detail?.string(at: r)), default: 0] += 1 }
        }

        // Curated orders: counts, confirmed revenue, optional-field nulls, and each order's
        // total and item count against its item rows, which the validator appends right after
        // their order (same drain, same order), so one forward walk pairs them.
        let o = v.orders, it = v.items
        guard o.count > 0, case .string(let oid)? = o.column("order_id")?.data, case .int64(let total)? = o.column("order_total")?.data,
              case .int32(let itemCount)? = o.column("item_count")?.data, let status = o.column("status"),
              case .string(let iid)? = it.column("order_id")?.data, case .int64(let revenue)? = it.column("line_revenue")?.data
        else { return }
        let state = o.column("state"), city = o.column("city") ?? o.column("shipping_city")
        var sums = [Int128](repeating: 0, count: o.count), counts = [Int64](repeating: 0, count: o.count)
        var j = 0, itemsOverflow: Int?
        oid.bytes.withUnsafeBytes { ob in
            iid.bytes.withUnsafeBytes { ib in
                for r in 0 ..< o.count {
                    let s = Int(oid.offsets[r]), len = Int(oid.offsets[r + 1]) - s
                    while j < it.count {
                        let t = Int(iid.offsets[j])
                        guard Int(iid.offsets[j + 1]) - t == len, memcmp(ob.baseAddress! + s, ib.baseAddress! + t, len) == 0 else { break }
                        let (sum, o) = sums[r].addingReportingOverflow(Int128(revenue[j]))
                        if o { itemsOverflow = itemsOverflow ?? r } else { sums[r] = sum }
                        counts[r] += 1
                        j += 1
                    }
                }
            }
        }
        // Items the walk could not pair (not in their order's place) are matched by id: exact either way.
        if j < it.count {
            var row: [String: Int] = [:]
            for r in 0 ..< o.count { row[oid[r]] = r }
            sums = [Int128](repeating: 0, count: o.count)
            counts = [Int64](repeating: 0, count: o.count)
            for k in 0 ..< it.count { if let r = row[iid[k]] { sums[r] = try sums[r].adding(Int128(revenue[k]), orThrow: "line revenue of order \(oid[r])"); counts[r] += 1 } }
        }
        if let r = itemsOverflow { throw SumOverflow("line revenue of order \(oid[r])") }
        var examples = self.examples, cellOverflow: (day: Int32, channel: Int)?
        let confirmed = Self.rows(of: status, equalTo: OrderStatus.confirmed.rawValue)
        forEachCell(o) { c, r in
            c.orders += 1
            c.items += counts[r]
            if confirmed[r] {
                let (sum, o) = c.confirmedCents.addingReportingOverflow(Int128(total[r]))
                if o { cellOverflow = cellOverflow ?? (c.day, c.channel) } else { c.confirmedCents = sum }
                c.confirmedSquares += (Double(total[r]) / 100) * (Double(total[r]) / 100)
            }
            if let state, Self.isBlank(state, r) { c.stateNulls += 1 }
            if let city, Self.isBlank(city, r) { c.cityNulls += 1 }
            if sums[r] != Int128(total[r]) {
                c.totalMismatch += 1
                let id = ExactID(oid[r])
                if examples.count < Self.maxExamples || id < examples[examples.count - 1].id {
                    let detail = "\(id.text): total \(DecimalText.format(total[r], scale: 2)) vs items \(DecimalText.format(sums[r], scale: 2))"
                    examples.insert((id, detail, c.day, c.channel), at: examples.firstIndex { id < $0.id } ?? examples.count)
                    if examples.count > Self.maxExamples { examples.removeLast() }
                }
            }
            if counts[r] != Int64(itemCount[r]) { c.itemCountMismatch += 1 }
        }
        self.examples = examples
        if let at = cellOverflow {
            throw SumOverflow("confirmed revenue of \(CivilDate.format(days: Int64(at.day))) \(String(decoding: channels[at.channel], as: UTF8.self))")
        }
    }

    /// Whether each row of a string column is `value`, compared as bytes (no String per row);
    /// a dictionary column (the validator's status codes) compares each entry once.
    private static func rows(of c: Column, equalTo value: String) -> [Bool] {
        let target = Array(value.utf8)
        func equal(_ s: StringColumn, _ i: Int) -> Bool { s.bytes[s.byteRange(i)].elementsEqual(target) }
        switch c.data {
        case .dictionary(let idx, let values):
            let match = (0 ..< values.count).map { equal(values, $0) }
            return (0 ..< c.count).map { !c.isNull($0) && match[Int(idx[$0])] }
        case .string(let s):
            return (0 ..< c.count).map { !c.isNull($0) && equal(s, $0) }
        default:
            return [Bool](repeating: false, count: c.count)
        }
    }

    /// Null or empty, as the checks count a missing optional field.
    private static func isBlank(_ c: Column, _ r: Int) -> Bool {
        if c.isNull(r) { return true }
        if case .string(let s) = c.data { return s.offsets[r] == s.offsets[r + 1] }
        return c.string(at: r) == ""
    }

    /// The figures to store, zeros left out.
    func figures(batchID: String) -> [QualityFigure] {
        var out: [QualityFigure] = []
        for c in cells {
            let ch = String(decoding: channels[c.channel], as: UTF8.self)
            func add(_ m: QualityFigureMetric, _ n: Int64, _ x: Double = 0, _ detail: String? = nil) {
                if n != 0 || x != 0 || detail != nil {
                    out.append(QualityFigure(batchID: batchID, eventDate: c.day, channel: ch, metric: m, n: n, x: x, detail: detail))
                }
            }
            add(.records, c.records)
            add(.orders, c.orders)
            add(.items, c.items)
            for part in QualityFigures.int64Parts(c.confirmedCents) { add(.confirmedCents, part) }
            add(.confirmedSquares, 0, c.confirmedSquares)
            add(.stateNulls, c.stateNulls)
            add(.cityNulls, c.cityNulls)
            add(.totalMismatch, c.totalMismatch)
            add(.itemCountMismatch, c.itemCountMismatch)
            for (k, n) in c.rejects.sorted(by: { $0.key < $1.key }) { add(.rejects(reason: k), n) }
            for (k, n) in c.missing.sorted(by: { $0.key < $1.key }) { add(.missing(field: k), n) }
        }
        // In id order, which is the order the stored checks read them back in.
        for e in examples {
            out.append(QualityFigure(batchID: batchID, eventDate: e.day, channel: String(decoding: channels[e.channel], as: UTF8.self),
                                     metric: .totalMismatchExample, n: 0, x: 0, detail: e.detail))
        }
        return out
    }
}
