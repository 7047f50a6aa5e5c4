import Foundation
import LakeCatalog
import LakeFormat

/// The order ids one commit adds, gathered as the validator accepts them, and their stored
/// form: a zstd frame of `count: UInt32`, `count` lengths (`UInt32`), then the id bytes, all
/// little-endian. Stored as a catalog key run (`lake_key_run`) in the commit's transaction.
struct OrderIDRun {
    private(set) var lengths: [UInt32] = []
    private(set) var bytes: [UInt8] = []

    var count: Int { lengths.count }

    mutating func append(_ id: UnsafeRawBufferPointer) {
        lengths.append(UInt32(id.count))
        bytes.append(contentsOf: id)
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

    func payload() -> [UInt8] {
        var raw: [UInt8] = []
        raw.reserveCapacity(4 + 4 * lengths.count + bytes.count)
        func put(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { raw.append(contentsOf: $0) } }
        put(UInt32(lengths.count))
        for n in lengths { put(n) }
        raw.append(contentsOf: bytes)
        return raw.withUnsafeBytes { ZstdFrame.compress($0) }
    }

    /// Inserts a stored run's ids into `ids`; throws when the payload does not decode.
    static func decode(_ payload: [UInt8], expected: Int64, into ids: inout CommittedOrderIDs) throws {
        let raw = try payload.withUnsafeBytes { try ZstdFrame.decompress($0) }
        try raw.withUnsafeBytes { b in
            func u32(_ at: Int) -> Int { Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
            guard b.count >= 4 else { throw IngestError.failed("order id run: truncated") }
            let n = u32(0)
            guard Int64(n) == expected, b.count >= 4 + 4 * n else { throw IngestError.failed("order id run: bad header") }
            var at = 4 + 4 * n
            for i in 0 ..< n {
                let len = u32(4 + 4 * i)
                guard at + len <= b.count else { throw IngestError.failed("order id run: truncated") }
                ids.insert(UnsafeRawBufferPointer(rebasing: b[at ..< at + len]))
                at += len
            }
        }
    }
}

/// The cross-batch dedupe set: every order id in curated.orders at a snapshot. Read from the
/// catalog's key runs when they cover the table (one small blob per commit instead of the
/// order_id column of every data file); otherwise from the files, and the next commit then
/// writes a baseline run so later batches take the fast path.
enum OrderIDIndex {
    static let column = "order_id"

    struct Loaded {
        var ids: CommittedOrderIDs
        /// The runs did not cover the table: the next commit stores all ids as a baseline.
        var needsBaseline: Bool
    }

    static func load(_ store: LakeStore, at snapshot: Int64) throws -> Loaded {
        guard let table = try? store.catalog.table(schema: "curated", name: "orders", at: .snapshot(snapshot)) else {
            return Loaded(ids: CommittedOrderIDs(), needsBaseline: false)
        }
        let stored = try store.catalog.keyRuns(tableID: table.tableID, column: column, at: snapshot)
        if stored.coverTable {
            var ids = CommittedOrderIDs(capacity: Int(stored.tableRows) + 16)
            do {
                for run in stored.runs { try OrderIDRun.decode(run.payload, expected: run.keyCount, into: &ids) }
                // Unique ids, one per row: a smaller set means the runs are not what they claim.
                if Int64(ids.count) == stored.tableRows {
                    try addInlined(store, table: table, at: snapshot, to: &ids)
                    return Loaded(ids: ids, needsBaseline: false)
                }
            } catch {
                // A damaged run is not fatal: the data files are the truth; rebuild from them.
            }
        }
        var ids = try fromFiles(store, table: table, at: snapshot)
        try addInlined(store, table: table, at: snapshot, to: &ids)
        return Loaded(ids: ids, needsBaseline: true)
    }

    /// Order ids DuckDB inserted inlined in the catalog (no file, no key run) are committed too.
    /// They then also go into a baseline run, whose key count no longer matches the files' rows:
    /// later loads take the file path again, slower but never missing an id.
    static func addInlined(_ store: LakeStore, table: TableInfo, at snapshot: Int64, to ids: inout CommittedOrderIDs) throws {
        guard let c = table.column(named: column),
              let batch = try store.catalog.inlinedRows(tableID: table.tableID, at: .snapshot(snapshot), columns: [c]) else { return }
        var run = OrderIDRun()
        run.append(column: batch.columns[0])
        run.forEach { ids.insert($0) }
    }

    static func fromFiles(_ store: LakeStore, table: TableInfo, at snapshot: Int64) throws -> CommittedOrderIDs {
        let files = try store.catalog.dataFiles(tableID: table.tableID, at: .snapshot(snapshot), columnStats: false, inlined: .readSeparately)
        var ids = CommittedOrderIDs(capacity: Int(files.reduce(0) { $0 + $1.liveRecordCount }) + 16)
        guard let c = table.column(named: column) else { return ids }
        for file in files {
            // Through DataFileReader, so rows a delete file removed are not committed ids any more.
            for batch in try DataFileReader(file, columns: [c]).read() {
                var run = OrderIDRun()
                run.append(column: batch.columns[0])
                run.forEach { ids.insert($0) }
            }
        }
        return ids
    }
}
