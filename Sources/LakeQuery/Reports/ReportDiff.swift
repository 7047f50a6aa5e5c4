import LakeCatalog

/// How a report's main table changed between two snapshots: rows added, rows removed, and
/// values changed (old → new), e.g. a past day's revenue after late events arrived.
public enum ReportDiff {
    /// `a` is the earlier snapshot (the old values), `b` the later one (the new values); a
    /// reversed pair is refused rather than printed with "added" meaning removed.
    public static func run(_ name: ReportName, catalog: Catalog, from a: Int64, to b: Int64, options: ReportOptions) throws -> ResultTable {
        try check(from: a, to: b)
        var o = options
        o.asOf = .snapshot(a)
        let before = try Reports.run(name, catalog: catalog, options: o).sections[0]
        o.asOf = .snapshot(b)
        let after = try Reports.run(name, catalog: catalog, options: o).sections[0]
        let k = name.keyColumns
        let keyNames = Array(after.columns.prefix(k))
        func index(_ t: ResultTable) -> [[Value]: [Value]] {
            Dictionary(t.rows.map { (Array($0.prefix(k)), $0) }, uniquingKeysWith: { first, _ in first })
        }
        let old = index(before), new = index(after)
        var table = ResultTable(title: "\(name): snapshot \(a) -> \(b)", columns: ["change"] + keyNames + ["column", "old", "new"])
        func sortKey(_ key: [Value]) -> String { key.map(\.text).joined(separator: "\u{1}") }
        for key in Set(old.keys).union(new.keys).sorted(by: { sortKey($0) < sortKey($1) }) {
            switch (old[key], new[key]) {
            // An added or removed row is listed one column per line, like a change, so every
            // value is labelled and none is cut to fit a cell.
            case (nil, let n?):
                for c in k ..< min(n.count, after.columns.count) {
                    table.rows.append([.string("added")] + key + [.string(after.columns[c]), .null, n[c]])
                }
            case (let o?, nil):
                for c in k ..< min(o.count, before.columns.count) {
                    table.rows.append([.string("removed")] + key + [.string(before.columns[c]), o[c], .null])
                }
            case (let o?, let n?):
                for c in k ..< after.columns.count where o[c] != n[c] {
                    table.rows.append([.string("changed")] + key + [.string(after.columns[c]), o[c], n[c]])
                }
            default: break
            }
        }
        return table
    }

    /// Refuses a pair whose "from" snapshot comes after its "to": the diff's old and new
    /// values, and so added and removed, would be swapped. The same snapshot twice is allowed
    /// (no change).
    public static func check(from a: Int64, to b: Int64, toIsLatest: Bool = false) throws(QueryError) {
        guard a > b else { return }
        let to = toIsLatest ? "the latest snapshot, \(b)" : "--to-snapshot \(b)"
        throw .badOption("--from-snapshot \(a) is after \(to): --from-snapshot is the earlier snapshot (the old values), "
            + "--to-snapshot the later one (the new values, default: the latest); "
            + (toIsLatest ? "give a --from-snapshot of \(b) or less" : "swap them: --from-snapshot \(b) --to-snapshot \(a)"))
    }
}
