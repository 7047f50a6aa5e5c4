import LakeFormat

extension ColumnPredicate {
    /// Whether one non-null value satisfies the predicate.
    func matches(_ v: StatValue) -> Bool {
        switch op {
        case .eq: return values.first == v
        case .ne: return values.first != v
        case .lt: return values.first.map { v < $0 } ?? false
        case .le: return values.first.map { !($0 < v) } ?? false
        case .gt: return values.first.map { $0 < v } ?? false
        case .ge: return values.first.map { !(v < $0) } ?? false
        case .between: return values.count == 2 && !(v < values[0]) && !(values[1] < v)
        case .in: return values.contains(v)
        }
    }

    /// The same test on plain integers (ints, dates, timestamps, decimals), without boxing.
    func intMatcher() -> ((Int64) -> Bool)? {
        var ints: [Int64] = []
        for v in values {
            guard case .int(let i) = v else { return nil }
            ints.append(i)
        }
        switch op {
        case .eq: guard let x = ints.first else { return nil }; return { $0 == x }
        case .ne: guard let x = ints.first else { return nil }; return { $0 != x }
        case .lt: guard let x = ints.first else { return nil }; return { $0 < x }
        case .le: guard let x = ints.first else { return nil }; return { $0 <= x }
        case .gt: guard let x = ints.first else { return nil }; return { $0 > x }
        case .ge: guard let x = ints.first else { return nil }; return { $0 >= x }
        case .between: guard ints.count == 2 else { return nil }; let (a, b) = (ints[0], ints[1]); return { $0 >= a && $0 <= b }
        case .in: let set = Set(ints); return { set.contains($0) }
        }
    }
}

/// Row filtering over typed columns: nulls never match; dictionary-encoded strings are tested
/// once per distinct value.
enum Filter {
    static func select(_ batch: RecordBatch, _ predicates: [ColumnPredicate]) throws -> [Int32]? {
        if predicates.isEmpty { return nil }
        var mask = [Bool](repeating: true, count: batch.count)
        for p in predicates {
            guard let c = batch.column(p.column) else { continue }
            apply(p, c, &mask)
        }
        // Written in place: an append per matching row paid the array's capacity checks.
        let selection = [Int32](unsafeUninitializedCapacity: batch.count) { out, initialized in
            var k = 0
            mask.withUnsafeBufferPointer { mask in
                for i in mask.indices where mask[i] {
                    out[k] = Int32(i)
                    k += 1
                }
            }
            initialized = k
        }
        return selection.count == batch.count ? nil : selection
    }

    private static func apply(_ p: ColumnPredicate, _ c: Column, _ mask: inout [Bool]) {
        if let v = c.validity { for i in mask.indices where !v[i] { mask[i] = false } }
        switch c.data {
        case .int32(let a):
            if let m = p.intMatcher() { for i in mask.indices where mask[i] { mask[i] = m(Int64(a[i])) } }
            else { for i in mask.indices where mask[i] { mask[i] = p.matches(.int(Int64(a[i]))) } }
        case .int64(let a):
            if let m = p.intMatcher() { for i in mask.indices where mask[i] { mask[i] = m(a[i]) } }
            else { for i in mask.indices where mask[i] { mask[i] = p.matches(.int(a[i])) } }
        case .double(let a):
            for i in mask.indices where mask[i] { mask[i] = p.matches(.double(a[i])) }
        case .bool(let a):
            for i in mask.indices where mask[i] { mask[i] = p.matches(.bool(a[i])) }
        case .string(let s):
            for i in mask.indices where mask[i] { mask[i] = p.matches(.bytes(Array(s.bytes[s.byteRange(i)]))) }
        case .dictionary(let idx, let values):
            let hits = (0 ..< values.count).map { p.matches(.bytes(Array(values.bytes[values.byteRange($0)]))) }
            // Through pointers (a status filter tests every row of every file it reads); an index
            // outside the dictionary still traps, as the checked subscript did.
            hits.withUnsafeBufferPointer { hits in
                idx.withUnsafeBufferPointer { idx in
                    mask.withUnsafeMutableBufferPointer { mask in
                        for i in mask.indices where mask[i] {
                            let k = Int(idx[i])
                            precondition(k >= 0 && k < hits.count, "dictionary index out of range")
                            mask[i] = hits[k]
                        }
                    }
                }
            }
        }
    }
}
