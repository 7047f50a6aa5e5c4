import LakeCatalog
import LakeFormat

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
        // Rows are matched by their key columns' text as bytes (`ExactID`): Value's String
        // equality is canonical equivalence, so two rows whose keys differ only in Unicode
        // normalization (two countries or products, as DuckDB has them) were one key, and one
        // of them was missing from the diff.
        func exact(_ row: [Value]) -> [ExactID] { row.prefix(k).map { ExactID($0.text) } }
        func index(_ t: ResultTable) -> [[ExactID]: [Value]] {
            Dictionary(t.rows.map { (exact($0), $0) }, uniquingKeysWith: { first, _ in first })
        }
        func differ(_ x: Value, _ y: Value) -> Bool { x != y || !x.text.utf8.elementsEqual(y.text.utf8) }
        let old = index(before), new = index(after)
        var table = ResultTable(title: "\(name): snapshot \(a) -> \(b)", columns: ["change"] + keyNames + ["column", "old", "new"])
        for id in Set(old.keys).union(new.keys).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let key = Array((new[id] ?? old[id] ?? []).prefix(k))
            switch (old[id], new[id]) {
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
                for c in k ..< after.columns.count where differ(o[c], n[c]) {
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
