import LakeCatalog

/// How a report's main table changed between two snapshots: rows added, rows removed, and
/// values changed (old → new), e.g. a past day's revenue after late events arrived.
public enum ReportDiff {
    public static func run(_ name: String, catalog: Catalog, from a: Int64, to b: Int64, options: ReportOptions) throws -> ResultTable {
        var o = options
        o.asOf = .snapshot(a)
        let before = try Reports.run(name, catalog: catalog, options: o).sections[0]
        o.asOf = .snapshot(b)
        let after = try Reports.run(name, catalog: catalog, options: o).sections[0]
        let k = Reports.keyColumns(name)
        let keyNames = Array(after.columns.prefix(k))
        func index(_ t: ResultTable) -> [[Value]: [Value]] {
            Dictionary(t.rows.map { (Array($0.prefix(k)), $0) }, uniquingKeysWith: { first, _ in first })
        }
        let old = index(before), new = index(after)
        var table = ResultTable(title: "\(name): snapshot \(a) -> \(b)", columns: ["change"] + keyNames + ["column", "old", "new"])
        func sortKey(_ key: [Value]) -> String { key.map(\.text).joined(separator: "\u{1}") }
        for key in Set(old.keys).union(new.keys).sorted(by: { sortKey($0) < sortKey($1) }) {
            switch (old[key], new[key]) {
            case (nil, let n?):
                table.rows.append([.string("added")] + key + [.null, .null, .string(n.dropFirst(k).map(\.text).joined(separator: " | "))])
            case (let o?, nil):
                table.rows.append([.string("removed")] + key + [.null, .string(o.dropFirst(k).map(\.text).joined(separator: " | ")), .null])
            case (let o?, let n?):
                for c in k ..< after.columns.count where o[c] != n[c] {
                    table.rows.append([.string("changed")] + key + [.string(after.columns[c]), o[c], n[c]])
                }
            default: break
            }
        }
        return table
    }
}
