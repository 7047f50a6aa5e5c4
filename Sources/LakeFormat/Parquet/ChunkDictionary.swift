#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The dictionary half of a column chunk: whether a dictionary pays, its page, and each row's index.

/// A dictionary kept for a column chunk: its page (PLAIN, uncompressed), its entry count and
/// the index of every non-null row.
struct BuiltDictionary {
    var page: [UInt8]
    var count: Int
    var indices: [UInt32]
    /// A string dictionary's entries: the chunk's distinct values, whose min and max are the chunk's.
    var strings: StringColumn? = nil
}

/// One piece of a column chunk: a range of a column's rows, or rows picked from it by index
/// (checked to be in range), in that order.
enum ChunkPart {
    case range(Column, Range<Int>)
    case picked(Column, [Int])

    var column: Column {
        switch self {
        case .range(let c, _), .picked(let c, _): return c
        }
    }
}

/// Rows of a string column: one piece of a column chunk, read where it is. With `indices`,
/// row r's value is `values[indices[r]]` (a dictionary column read as the strings it stands
/// for, no copy of them made).
struct StringRun {
    let values: StringColumn
    var indices: [Int32]? = nil
    let rows: Range<Int>

    /// Where row `r`'s bytes are in `values.bytes`.
    @inline(__always)
    func byteRange(_ r: Int) -> Range<Int> {
        let i = indices.map { Int($0[r]) } ?? r
        return Int(values.offsets[i]) ..< Int(values.offsets[i + 1])
    }

    /// Bytes of all the rows' values.
    var valueBytes: Int {
        guard let indices else { return Int(values.offsets[rows.upperBound] - values.offsets[rows.lowerBound]) }
        var n = 0
        for r in rows { n += values.byteRange(Int(indices[r])).count }
        return n
    }
}

extension ChunkEncoder {
    /// A dictionary whose first `trialRows` values are nearly all distinct (ids, line numbers,
    /// byte offsets, timestamps) will not come out smaller than PLAIN: the trial stops there
    /// instead of hashing the whole chunk to find that out. The choice depends only on the
    /// chunk's values, so a parallel and a serial ingest still write the same file.
    static let trialRows = 1024

    static func mostlyDistinct(_ distinct: Int) -> Bool { distinct * 10 > trialRows * 9 }

    /// With a compressing codec a repeat of the previous value costs PLAIN next to nothing (a
    /// short match), so a chunk whose values are distinct but for such repeats (an order's
    /// items share its id and time) comes out larger as a dictionary: each distinct value
    /// still stored once, plus an index per row that hardly compresses. Then the trial counts
    /// run heads, values unlike the one before, and stops once `trialRows` of them are nearly
    /// all distinct. Uncompressed, a repeat costs PLAIN its full width: every value counts.
    var repeatsAreFree: Bool { options.compression != .uncompressed }

    /// A first look: `firstLook` counted values all distinct. Values drawn from fewer than
    /// about 33,000 (256²/2) choices would repeat within 256 draws; from more, the chunk's
    /// first `trialRows` would be over 90 % distinct and the trial give up anyway. Ids, line
    /// numbers, offsets and timestamps stop here, after a quarter of the hashing: on generated
    /// orders most column chunks hold a few thousand rows, so the trial was a third of them.
    static let firstLook = 256

    /// Whether the trial should stop: `seen` values counted (all of them, or only run heads
    /// when repeats are free), `distinct` of them distinct.
    @inline(__always)
    static func trialFails(seen: Int, distinct: Int) -> Bool {
        (seen == firstLook && distinct == firstLook) || (seen == trialRows && mostlyDistinct(distinct))
    }

    /// The chunk's dictionary, nil when it does not pay.
    func buildFixedDictionary<T>(_ a: UnsafeBufferPointer<T>, range: Range<Int>, validity: [Bool]?,
                                 width: Int) -> BuiltDictionary? {
        let raw = UnsafeRawBufferPointer(a)
        guard let base = raw.baseAddress, !range.isEmpty else { return nil }
        // Specialised per width and per presence of nulls, so the row loop (every row of every
        // dictionary-encoded number) tests neither.
        if width == 4 { return fixedDictionary(base, UInt32.self, range: range, validity: validity) }
        return fixedDictionary(base, UInt64.self, range: range, validity: validity)
    }

    /// The values' bit patterns read as `W` (a raw load: the column may hold signed numbers or doubles).
    private func fixedDictionary<W: FixedWidthInteger & UnsignedInteger>(_ base: UnsafeRawPointer, _: W.Type, range: Range<Int>,
                                                                        validity: [Bool]?) -> BuiltDictionary? {
        let width = MemoryLayout<W>.size
        var trial = FixedTrial(builder: WordDictionaryBuilder(limit: options.pageBytes / width, expected: 256), countRepeats: !repeatsAreFree)
        var paid = true
        // Written through a pointer: every row of every dictionary-encoded number goes through
        // here, and Array.append paid a uniqueness and a capacity check per row.
        let indices = [UInt32](unsafeUninitializedCapacity: range.count) { out, written in
            let to = out.baseAddress!
            if let validity {
                validity.withUnsafeBufferPointer { present in
                    for r in range where present[r - range.lowerBound] {
                        guard trial.add(UInt64(base.loadUnaligned(fromByteOffset: r &* width, as: W.self)), to) else { paid = false; return }
                    }
                }
            } else {
                for r in range {
                    guard trial.add(UInt64(base.loadUnaligned(fromByteOffset: r &* width, as: W.self)), to) else { paid = false; break }
                }
            }
            written = trial.written
        }
        guard paid else { return nil }
        let builder = trial.builder
        let bw = RLEHybrid.bitWidth(forMax: UInt32(max(builder.count - 1, 0)))
        let dictBytes = builder.count * width
        let indexBytes = (indices.count * bw + 7) / 8 + 16
        guard dictBytes + indexBytes < indices.count * width * 3 / 4 else { return nil }
        var page: [UInt8] = []
        page.reserveCapacity(dictBytes)
        for w in builder.values {
            if width == 4 { appendLE(UInt32(truncatingIfNeeded: w), to: &page) } else { appendLE(w, to: &page) }
        }
        return BuiltDictionary(page: page, count: builder.count, indices: indices)
    }

    /// The state of a fixed-width trial, advanced a row at a time (a struct, not variables a
    /// closure captures: those cost a dynamic exclusivity check per access).
    private struct FixedTrial {
        var builder: WordDictionaryBuilder
        let countRepeats: Bool
        var written = 0
        /// Runs are common (a partition's date, a batch's ingest time, an order's items): a
        /// value equal to the one before takes its index without hashing.
        var previous: (word: UInt64, index: UInt32) = (0, UInt32.max)
        /// Values counted for the trial: every value, or only run heads (`repeatsAreFree`).
        var seen = 0

        init(builder: WordDictionaryBuilder, countRepeats: Bool) {
            self.builder = builder
            self.countRepeats = countRepeats
        }

        /// Writes the row's index at `out[written]`; false once the trial has failed.
        @inline(__always)
        mutating func add(_ word: UInt64, _ out: UnsafeMutablePointer<UInt32>) -> Bool {
            if previous.index != UInt32.max, previous.word == word {
                out[written] = previous.index
                written += 1
                if countRepeats {
                    seen += 1
                    if ChunkEncoder.trialFails(seen: seen, distinct: builder.count) { return false }
                }
                return true
            }
            guard let i = builder.index(of: word) else { return false }
            out[written] = UInt32(i)
            written += 1
            seen += 1
            previous = (word, UInt32(i))
            return !ChunkEncoder.trialFails(seen: seen, distinct: builder.count)
        }
    }

    /// `runs` end to end; `validity` is the chunk's.
    func buildStringDictionary(_ runs: [StringRun], validity: [Bool]?) -> BuiltDictionary? {
        var builder = StringDictionaryBuilder(byteLimit: options.pageBytes, expected: 256)
        var plainBytes = 0
        var paid = true
        var seen = 0
        let countRepeats = !repeatsAreFree
        // The previous value's index, across runs: a run's first value equal to the last of
        // the run before is a repeat too, so the count, and with it the choice, does not
        // depend on where queued pieces split the chunk.
        var lastIndex = UInt32.max
        // Indices written through a pointer, as for fixed-width values.
        let indices = [UInt32](unsafeUninitializedCapacity: runs.reduce(0) { $0 + $1.rows.count }) { out, written in
            var k = 0
            var chunkRow = 0
            for run in runs where paid {
                run.values.bytes.withUnsafeBytes { raw in
                    let base = raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
                    // As for fixed-width values: a run of one value (a partition's channel, a
                    // batch's id, an order's items) hashes once.
                    var previous: (start: Int, count: Int, index: UInt32) = (0, -1, 0)
                    for r in run.rows {
                        if let validity, !validity[chunkRow + r - run.rows.lowerBound] { continue }
                        let value = run.byteRange(r)
                        let start = value.lowerBound, n = value.count
                        plainBytes += 4 + n
                        if n == previous.count && equalBytes(base + start, base + previous.start, n) {
                            out[k] = previous.index
                            k += 1
                            if countRepeats {
                                seen += 1
                                if Self.trialFails(seen: seen, distinct: builder.count) { paid = false; return }
                            }
                            continue
                        }
                        guard let i = builder.index(of: base + start, n) else { paid = false; return }
                        out[k] = UInt32(i)
                        k += 1
                        previous = (start, n, UInt32(i))
                        if countRepeats || UInt32(i) != lastIndex {
                            seen += 1
                            if Self.trialFails(seen: seen, distinct: builder.count) { paid = false; return }
                        }
                        lastIndex = UInt32(i)
                    }
                }
                chunkRow += run.rows.count
            }
            written = k
        }
        guard paid else { return nil }
        return finishStringDictionary(builder, indices: indices, plainBytes: plainBytes)
    }

    func remapDictionary(_ idx: [Int32], _ values: StringColumn, range: Range<Int>, validity: [Bool]?) -> BuiltDictionary? {
        var builder = StringDictionaryBuilder(byteLimit: options.pageBytes, expected: min(values.count, 1 << 16))
        var map = [Int32](repeating: -1, count: values.count)
        var plainBytes = 0
        var ok = true
        // Through pointers, as the trials above: every row of every catalog or enum column
        // (an item's product, category and brand; channels, statuses) passes here.
        let indices = [UInt32](unsafeUninitializedCapacity: range.count) { out, written in
            var k = 0
            values.bytes.withUnsafeBytes { raw in
                values.offsets.withUnsafeBufferPointer { offsets in
                    idx.withUnsafeBufferPointer { idx in
                        map.withUnsafeMutableBufferPointer { map in
                            let base = raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
                            for r in range {
                                if let validity, !validity[r - range.lowerBound] { continue }
                                let v = Int(idx[r])
                                // What the array subscripts checked (a reader range-checks a page's indices).
                                precondition(UInt(bitPattern: v) < UInt(map.count), "dictionary index out of range")
                                let start = Int(offsets[v]), n = Int(offsets[v + 1]) - start
                                plainBytes += 4 + n
                                var m = map[v]
                                if m < 0 {
                                    guard let i = builder.index(of: base + start, n) else { ok = false; return }
                                    m = i
                                    map[v] = i
                                }
                                out[k] = UInt32(m)
                                k += 1
                            }
                        }
                    }
                }
            }
            written = k
        }
        guard ok else { return nil }
        return finishStringDictionary(builder, indices: indices, plainBytes: plainBytes)
    }

    func finishStringDictionary(_ builder: StringDictionaryBuilder, indices: [UInt32], plainBytes: Int) -> BuiltDictionary? {
        let bw = RLEHybrid.bitWidth(forMax: UInt32(max(builder.count - 1, 0)))
        let indexBytes = (indices.count * bw + 7) / 8 + 16
        guard builder.plainBytes + indexBytes < plainBytes * 3 / 4 else { return nil }
        var page: [UInt8] = []
        page.reserveCapacity(builder.plainBytes)
        let values = builder.values
        values.bytes.withUnsafeBytes { raw in
            for i in 0 ..< values.count {
                let r = values.byteRange(i)
                appendLE(UInt32(r.count), to: &page)
                page.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[r]))
            }
        }
        return BuiltDictionary(page: page, count: builder.count, indices: indices, strings: values)
    }
}
