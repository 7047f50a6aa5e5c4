import Foundation
import LakeCatalog
import LakeFormat

/// The order ids one commit adds, gathered as the validator accepts them; stored sorted as a
/// catalog key run (`SortedIDRun` in `lake_key_run`) in the commit's transaction.
struct OrderIDRun {
    private(set) var lengths: [UInt32] = []
    private(set) var bytes: [UInt8] = []

    var count: Int { lengths.count }

    mutating func append(_ id: UnsafeRawBufferPointer) {
        lengths.append(UInt32(id.count))
        bytes.append(contentsOf: id)
    }

    /// Appends keys held as one byte buffer and `count + 1` offsets (`ByteKeyTable.takeKeys`);
    /// an empty run adopts the buffer without copying it.
    mutating func append(keys: [UInt8], offsets: [Int]) {
        if bytes.isEmpty { bytes = keys } else { bytes.append(contentsOf: keys) }
        lengths.reserveCapacity(lengths.count + offsets.count - 1)
        for i in 0 ..< offsets.count - 1 { lengths.append(UInt32(offsets[i + 1] - offsets[i])) }
    }

    /// Every non-null value of a string column.
    mutating func append(column: Column) {
        for row in 0 ..< column.count where !column.isNull(row) {
            switch column.data {
            case .string(let s): s.withBytes(row) { append($0) }
            case .dictionary(let indices, let values): values.withBytes(Int(indices[row])) { append($0) }
            default:
                if var text = column.string(at: row) { text.withUTF8 { append(UnsafeRawBufferPointer($0)) } }
            }
        }
    }

    func forEach(_ body: (UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { b in
            var at = 0
            for n in lengths {
                body(UnsafeRawBufferPointer(rebasing: b[at ..< at + Int(n)]))
                at += Int(n)
            }
        }
    }

    /// The ids of a run stored by an older build: a zstd frame of `count: UInt32`, `count`
    /// lengths (`UInt32`), then the id bytes, all little-endian, in commit order.
    static func decodeUnsorted(_ payload: [UInt8]) throws -> OrderIDRun {
        let raw: [UInt8]
        do { raw = try payload.withUnsafeBytes { try ZstdFrame.decompress($0) } } catch { throw IDRunDamaged(detail: "\(error)") }
        return try raw.withUnsafeBytes { b in
            func u32(_ at: Int) -> Int { Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
            guard b.count >= 4 else { throw IDRunDamaged(detail: "truncated") }
            let n = u32(0)
            guard b.count >= 4 + 4 * n else { throw IDRunDamaged(detail: "bad header") }
            var run = OrderIDRun()
            var at = 4 + 4 * n
            for i in 0 ..< n {
                let len = u32(4 + 4 * i)
                guard at + len <= b.count else { throw IDRunDamaged(detail: "truncated") }
                run.append(UnsafeRawBufferPointer(rebasing: b[at ..< at + len]))
                at += len
            }
            return run
        }
    }
}

/// The cross-batch dedupe set: every order id in curated.orders at a snapshot, as the
/// catalog's sorted key runs (`SortedIDRun`) when they cover the table; otherwise read from the
/// files, and the next commit then writes a baseline run so later batches take the fast path.
///
/// The runs form size tiers: every orders commit adds one run of its own ids, then
/// (`mergeTiers`, in the same transaction) merges the newest runs while the run before them is
/// no larger than their sum, like a binary counter: O(log n) runs, each id rewritten
/// O(log n) times. Runs past `mergeCap` ids are left alone so that no commit rewrites the
/// whole lake; they accumulate at one run per `mergeCap` ids.
enum OrderIDIndex {
    static let column = "order_id"
    static let mergeCap: Int64 = 1 << 20

    /// What a batch dedupes against, and what a follower keeps between commits.
    struct Loaded: OrderIDLookup {
        /// The trusted runs (empty when `fromFiles` is set).
        var runs = OrderIDRunSet()
        /// The runs did not cover the table: the exact ids read from the data files, which the
        /// next commit stores (with its own) as a baseline run.
        var fromFiles: CommittedOrderIDs?
        /// Runs by (snapshot id, key count): a stored run never changes, so the next load reuses
        /// them and reads only runs committed since (a follower's reload costs the new runs).
        var cache: [RunKey: SortedIDRun] = [:]
        /// Order ids in rows DuckDB kept inlined in the catalog (no file, so no key run).
        var inlined = CommittedOrderIDs(capacity: 16)

        var needsBaseline: Bool { fromFiles != nil }

        func containsOrderID(_ id: UnsafeRawBufferPointer) -> Bool {
            // Called in place (`if let` would copy the set, a retain and release an order).
            if fromFiles != nil { return fromFiles?.containsOrderID(id) == true }
            return (inlined.count > 0 && inlined.containsOrderID(id)) || runs.containsOrderID(id)
        }
    }

    struct RunKey: Hashable {
        var snapshotID: Int64
        var keyCount: Int64
    }

    static func load(_ store: LakeStore, at snapshot: Int64, reusing previous: Loaded? = nil,
                     fingerprint: IDFingerprint = .standard) throws -> Loaded {
        guard let table = try store.catalog.tableIfPresent(schema: TableName.curatedOrders.schema, name: TableName.curatedOrders.name, at: .snapshot(snapshot)) else {
            return Loaded()
        }
        let cache = previous?.cache ?? [:]
        let stored = try store.catalog.keyRuns(tableID: table.tableID, column: column, at: snapshot,
                                               skippingPayloadOf: Set(cache.keys.map(\.snapshotID)))
        if stored.coverTable {
            do {
                var runs: [SortedIDRun] = [], kept: [RunKey: SortedIDRun] = [:]
                for run in stored.runs {
                    let key = RunKey(snapshotID: run.snapshotID, keyCount: run.keyCount)
                    let sorted: SortedIDRun
                    if let hit = cache[key] {
                        sorted = hit
                    } else if run.payload.isEmpty {
                        // Same snapshot, other key count: not the run we cached (cannot happen
                        // with one run per snapshot); read it properly.
                        return try load(store, at: snapshot, reusing: nil, fingerprint: fingerprint)
                    } else {
                        sorted = try SortedIDRun.open(run.payload, expected: run.keyCount, fingerprint: fingerprint)
                    }
                    runs.append(sorted)
                    kept[key] = sorted
                }
                return Loaded(runs: OrderIDRunSet(runs, fingerprint: fingerprint), fromFiles: nil, cache: kept,
                              inlined: try inlinedIDs(store, table: table, at: snapshot))
            } catch is IDRunDamaged {
                // A damaged run is not fatal: the data files are the truth; rebuild from them.
            }
        }
        var ids = try fromFiles(store, table: table, at: snapshot)
        try inlinedIDs(store, table: table, at: snapshot).forEach { ids.insert($0) }
        return Loaded(fromFiles: ids)
    }

    /// Inside an orders commit, after its run was added: merges the newest runs into one while
    /// the run before them holds no more ids than they do together (and the result stays under
    /// `mergeCap`). The merged run replaces its inputs in this transaction, so a crash leaves
    /// either the old runs or the merged one, never both or neither.
    static func mergeTiers(_ tx: inout CatalogTransaction, tableID: Int64, fingerprint: IDFingerprint = .standard) throws {
        let sizes = try tx.keyRunSizes(tableID: tableID, column: column)
        guard var first = sizes.indices.last else { return }
        var total = sizes[first].keyCount
        while first > 0, sizes[first - 1].keyCount <= total, total + sizes[first - 1].keyCount <= mergeCap {
            first -= 1
            total += sizes[first].keyCount
        }
        guard first < sizes.count - 1 else { return }
        let inputs = Array(sizes[first...])
        let payloads = try tx.keyRunPayloads(tableID: tableID, column: column, snapshots: inputs.map(\.snapshotID))
        let runs = try zip(inputs, payloads).map { try SortedIDRun.open($1, expected: $0.keyCount, fingerprint: fingerprint) }
        let merged = try SortedIDRun.merge(runs, fingerprint: fingerprint)
        try tx.replaceKeyRuns(tableID: tableID, column: column, snapshots: inputs.map(\.snapshotID),
                              keyCount: Int64(merged.count), payload: merged.payload)
    }

    /// Order ids DuckDB inserted inlined in the catalog (no file, no key run) are committed too.
    /// Kept beside the runs (a table has at most a few inlined rows); when the ids are read from
    /// the files they join the baseline run, whose key count then no longer matches the files'
    /// rows: later loads take the file path again, slower but never missing an id.
    static func inlinedIDs(_ store: LakeStore, table: TableInfo, at snapshot: Int64) throws -> CommittedOrderIDs {
        var ids = CommittedOrderIDs(capacity: 16)
        guard let c = table.column(named: column),
              let batch = try store.catalog.inlinedRows(tableID: table.tableID, at: .snapshot(snapshot), columns: [c]) else { return ids }
        var run = OrderIDRun()
        run.append(column: batch.columns[0])
        run.forEach { ids.insert($0) }
        return ids
    }

    static func fromFiles(_ store: LakeStore, table: TableInfo, at snapshot: Int64) throws -> CommittedOrderIDs {
        let files = try store.catalog.dataFiles(tableID: table.tableID, at: .snapshot(snapshot), columnStats: false, inlined: .readSeparately)
        var ids = CommittedOrderIDs(capacity: Int(files.reduce(0) { $0 + $1.liveRecordCount }) + 16)
        guard let c = table.column(named: column) else { return ids }
        for file in files {
            // Through DataFileReader, so rows a delete file removed are not committed ids any more.
            for batch in try DataFileReader(file, columns: [c], files: store.catalog.files).read() {
                var run = OrderIDRun()
                run.append(column: batch.columns[0])
                run.forEach { ids.insert($0) }
            }
        }
        return ids
    }
}
