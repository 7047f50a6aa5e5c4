import Foundation
import LakeCatalog
import LakeFormat

/// The product catalog as of a snapshot, read back from curated.products.
enum ProductSource {
    /// `kind`: the source that needs it, for the refusal when there is none.
    static func current(_ store: LakeStore, at asOf: AsOf, for kind: SourceKind = .orders) throws -> ProductCatalog {
        guard let table = try store.catalog.tableIfPresent(.curatedProducts, at: asOf) else {
            throw IngestError.noProductCatalog(kind)
        }
        // Prices are kept as cents (order_items.list_price is DECIMAL(18,2)): a price column
        // another engine rescaled (DECIMAL(38,4)) stored 567.99 as 56799.00.
        if let price = table.column(named: "price"), price.isDecimalNotInCents {
            throw IngestError.failed("\(table.qualifiedName).price is \(price.duckLakeType), not decimal(p,2) (another engine changed its type): "
                                     + "orders take their list price in cents from it, so nothing was ingested")
        }
        var catalog = ProductCatalog()
        var sources = try store.catalog.dataFiles(tableID: table.tableID, at: asOf, inlined: .readSeparately)
            .map { file in { () throws -> (String, [RecordBatch]) in (file.path, try DataFileReader(file, columns: table.columns, files: store.catalog.files).read()) } }
        // Products DuckDB inserted a few at a time live inlined in the catalog.
        sources.append { ("\(table.qualifiedName) (inlined rows)",
                          try store.catalog.inlinedRows(tableID: table.tableID, at: asOf, columns: table.columns).map { [$0] } ?? []) }
        for source in sources {
            // Through DataFileReader: rows a delete file removed are not in the catalog any more.
            let (path, batches) = try source()
            for batch in batches {
                let id = batch.column("product_id"), category = batch.column("category"), brand = batch.column("brand")
                guard let id, let category, let brand, case .int64(let price)? = batch.column("price")?.data else {
                    throw IngestError.failed("\(path): curated.products lacks product_id, category, brand or price")
                }
                let launch = batch.column("launch_date"), description = batch.column("description")
                for row in 0 ..< batch.count {
                    var launchMicros: Int64?
                    if let launch, !launch.isNull(row), case .int64(let t) = launch.data { launchMicros = t[row] }
                    catalog.add(id: id.string(at: row) ?? "", category: category.string(at: row) ?? "", brand: brand.string(at: row) ?? "",
                                priceCents: price[row], launchMicros: launchMicros, description: description?.string(at: row))
                }
            }
        }
        if catalog.count == 0 { throw IngestError.noProductCatalog(kind) }
        return catalog
    }
}

public enum CatalogIngest {
    /// Loads a product catalog JSON file as the new version of curated.products: the snapshot
    /// replaces the previous version's files, which time travel still reads.
    public static func run(_ store: LakeStore, path: String, options: IngestOptions = IngestOptions()) throws -> IngestRun {
        let source = try SourceFile.open(store, path: path, kind: .catalog)
        if let done = source.alreadyIngested { return done }
        let (catalog, rejected) = try ProductCatalogParser.parse(source.input)
        let read = try source.finishReading(store)
        if let done = read.alreadyIngested { return done }
        let (started, name, size, hash) = (source.started, source.name, read.size, read.identity.hash)
        if catalog.count == 0 {
            let why = rejected.first.map(\.detail) ?? "the array is empty"
            throw IngestError.wrongFormat(path: path, line: rejected.first?.line ?? 1, detail: "no valid product in the catalog; first problem: \(why)")
        }
        let batchID = UUID().uuidString.lowercased()
        let target = try store.target(RegistryTable.products)
        let lease = try store.catalog.beginWrite(operation: "ingest catalog \(name)")
        var writer = target.writer(options.parquet, files: store.catalog.files)
        try writer.write(try catalog.batch(schema: target.produced))
        let files = try writer.finish()
        // Rejected entries are kept in raw.products with their reason, like rejected order lines.
        let rawTarget = rejected.isEmpty ? nil : try store.target(RegistryTable.rawProducts)
        var rawFiles: [NewDataFile] = []
        if let rawTarget {
            var rw = rawTarget.writer(options.parquet, files: store.catalog.files)
            try rw.write(rejectBatch(rejected, schema: rawTarget.produced, batchID: batchID, source: name))
            rawFiles = try rw.finish()
        }
        var rejects: [String: Int64] = [:]
        for r in rejected { rejects[r.reason.rawValue, default: 0] += 1 }
        let finished = Date()
        let written = files.map { target.directory.appendingPathComponent($0.relativePath) }
            + rawFiles.map { rawTarget!.directory.appendingPathComponent($0.relativePath) }
        let counts = RejectReason.runCounts(rejected.map { ($0.reason, 1) })
        var run = IngestRun(kind: .catalog, source: name, batchID: batchID, sourceHash: hash, sourceBytes: size, startedAt: started,
                            finishedAt: finished, records: Int64(catalog.count + rejected.count), accepted: Int64(catalog.count),
                            quarantined: counts.quarantined, duplicates: counts.duplicates,
                            rejects: rejects, filesWritten: Int64(files.count + rawFiles.count),
                            bytesWritten: (files + rawFiles).reduce(0) { $0 + $1.fileSizeBytes }, partitions: 1)
        let committed = try source.commitOnce(store, identity: read.identity, lease: lease, written: written, message: "ingest catalog \(name)") { tx in
            // Replaces every product file: never with files that are not there (see requireFilesPresent).
            try tx.requireFilesPresent(files.map { (target.directory.appendingPathComponent($0.relativePath).path, $0.fileSizeBytes) }
                + rawFiles.map { (rawTarget!.directory.appendingPathComponent($0.relativePath).path, $0.fileSizeBytes) })
            let id = try target.ensure(&tx)
            let old = try tx.currentDataFileIDs(tableID: id)
            if !old.isEmpty { try tx.removeDataFiles(old) }
            try tx.addDataFiles(tableID: id, files)
            if let rawTarget {
                let rid = try rawTarget.ensure(&tx)
                try tx.addDataFiles(tableID: rid, rawFiles)
            }
            try tx.endWrite(lease)
            try tx.recordSource(kind: .catalog, sourceHash: hash, source: name, bytes: size, batchID: batchID)
            try tx.recordIngestRun(run)
        }
        guard case .committed(let snapshot) = committed else { return committed.noOp! }
        run.snapshotID = snapshot.id
        return run
    }

    /// Rejected catalog entries as rows of raw.products (by column name, so the registry's
    /// column order is what counts).
    static func rejectBatch(_ rejected: [CatalogReject], schema: Schema, batchID: String, source: String) throws -> RecordBatch {
        let columns: [String: Column] = [
            "batch_id": Column(.string(StringColumn(rejected.map { _ in batchID }))),
            "source_file": Column(.string(StringColumn(rejected.map { _ in source }))),
            "entry_index": Column(.int64(rejected.map { Int64($0.index) })),
            "line_number": Column(.int64(rejected.map { Int64($0.line) })),
            "product_id": Column(.string(StringColumn(rejected.map { $0.productID ?? "" })),
                                 validity: rejected.contains { $0.productID == nil } ? rejected.map { $0.productID != nil } : nil),
            "reject_reason": Column(.string(StringColumn(rejected.map { $0.reason.rawValue }))),
            "reject_detail": Column(.string(StringColumn(rejected.map { "\(source) line \($0.line): \($0.detail)" }))),
        ]
        return RecordBatch(schema: schema, columns: try schema.fields.map { f in
            guard let c = columns[f.name] else {
                throw IngestError.failed("schema registry raw_products: column '\(f.name)' is registered but the pipeline does not produce it")
            }
            return c
        })
    }
}

public enum InventoryIngest {
    /// Appends an inventory CSV snapshot to curated.inventory; rejected rows go to raw.inventory
    /// with their reason.
    public static func run(_ store: LakeStore, path: String, options: IngestOptions = IngestOptions()) throws -> IngestRun {
        let source = try SourceFile.open(store, path: path, kind: .inventory)
        if let done = source.alreadyIngested { return done }
        // The registry says what a row's product_id references (schemas/inventory: products.
        // product_id): then a lake without a catalog refuses the file, as it refuses orders,
        // rather than accepting any id unchecked. A registry without the reference checks none.
        let products: ProductCatalog?
        switch try store.registry.schema(RegistryTable.inventory).source?.field("product_id")?.constraints.references {
        case nil:
            products = nil
        case "products.product_id"?:
            products = try ProductSource.current(store, at: .snapshot(try store.catalog.latestSnapshot().id), for: .inventory)
        case let other?:
            throw IngestError.failed("schema registry inventory: product_id references \(other); the pipeline checks only products.product_id")
        }
        let batchID = UUID().uuidString.lowercased()
        // The committed rows the file's keys are checked against: as of this snapshot, and the
        // commit below refuses if another inventory was committed since.
        let base = try store.catalog.latestSnapshot().id
        let earlier = try CommittedInventory(store.catalog, at: base)
        let parsed = try InventoryParser.parse(source.input, batchID: batchID, catalog: products, registry: store.registry,
                                               committed: earlier.quantity(of:))
        let read = try source.finishReading(store)
        if let done = read.alreadyIngested { return done }
        let (started, name, size, hash) = (source.started, source.name, read.size, read.identity.hash)
        let targets = try store.targets([RegistryTable.inventory, RegistryTable.rawInventory])
        let (curated, raw) = (targets[0], targets[1])
        let lease = try store.catalog.beginWrite(operation: "ingest inventory \(name)")
        var cw = curated.writer(options.parquet, files: store.catalog.files), rw = raw.writer(options.parquet, files: store.catalog.files)
        try cw.write(parsed.accepted)
        try rw.write(parsed.rejected)
        let cfiles = try cw.finish(), rfiles = try rw.finish()
        let finished = Date()
        let rejects = Dictionary(uniqueKeysWithValues: parsed.rejects.map { ($0.key.rawValue, Int64($0.value)) })
        let written = cfiles.map { curated.directory.appendingPathComponent($0.relativePath) }
            + rfiles.map { raw.directory.appendingPathComponent($0.relativePath) }
        let counts = RejectReason.runCounts(parsed.rejects.map { ($0.key, $0.value) })
        var run = IngestRun(kind: .inventory, source: name, batchID: batchID, sourceHash: hash, sourceBytes: size, startedAt: started,
                            finishedAt: finished, records: Int64(parsed.accepted.count + parsed.rejected.count),
                            accepted: Int64(parsed.accepted.count), quarantined: counts.quarantined, duplicates: counts.duplicates, rejects: rejects,
                            filesWritten: Int64(cfiles.count + rfiles.count), bytesWritten: (cfiles + rfiles).reduce(0) { $0 + $1.fileSizeBytes },
                            partitions: 1, unknownFields: parsed.unknownFields.mapValues(Int64.init))
        let committed = try source.commitOnce(store, identity: read.identity, lease: lease, written: written, message: "ingest inventory \(name)") { tx in
            try tx.requireFilesPresent(cfiles.map { (curated.directory.appendingPathComponent($0.relativePath).path, $0.fileSizeBytes) }
                + rfiles.map { (raw.directory.appendingPathComponent($0.relativePath).path, $0.fileSizeBytes) })
            if let tableID = earlier.tableID, try tx.dataFilesAdded(tableID: tableID, after: base) {
                throw IngestError.failed("another inventory was committed to curated.inventory while \(name) was read, and its keys were checked "
                                         + "against the lake before it; nothing was committed: run the ingest again")
            }
            let cid = try curated.ensure(&tx), rid = try raw.ensure(&tx)
            try tx.addDataFiles([(cid, cfiles), (rid, rfiles)])
            try tx.endWrite(lease)
            try tx.recordSource(kind: .inventory, sourceHash: hash, source: name, bytes: size, batchID: batchID)
            try tx.recordIngestRun(run)
        }
        guard case .committed(let snapshot) = committed else { return committed.noOp! }
        run.snapshotID = snapshot.id
        return run
    }
}

/// The rows of curated.inventory at a snapshot, by primary key, read a file at a time as keys
/// need them: a file is read only when its last_updated statistics span the key's time, so an
/// inventory newer than every committed one reads none, and the check does not grow with the
/// lake's history.
final class CommittedInventory {
    private let catalog: Catalog
    private let table: TableInfo?
    /// Files not read yet, with their last_updated range (the whole range without statistics).
    private var unread: [(file: DataFile, min: Int64, max: Int64)] = []
    private var rows: [InventoryKey: Int64] = [:]

    var tableID: Int64? { table?.tableID }

    init(_ catalog: Catalog, at snapshot: Int64) throws {
        self.catalog = catalog
        table = try catalog.tableIfPresent(.curatedInventory, at: .snapshot(snapshot))
        guard let table else { return }
        let updated = table.column(named: "last_updated")?.columnID
        for file in try catalog.dataFiles(tableID: table.tableID, at: .snapshot(snapshot), inlined: .readSeparately) {
            let stats = updated.flatMap { file.columnStats[$0] }
            let min = stats?.min.flatMap(LakeCatalog.Timestamps.parseTimestamp) ?? .min
            let max = stats?.max.flatMap(LakeCatalog.Timestamps.parseTimestamp) ?? .max
            unread.append((file, min, max))
        }
        // Rows DuckDB inserted a few at a time live inlined in the catalog: few, read at once.
        if let inlined = try catalog.inlinedRows(tableID: table.tableID, at: .snapshot(snapshot), columns: table.columns) {
            try add(inlined, from: "\(table.qualifiedName) (inlined rows)")
        }
    }

    /// The available quantity of the committed row holding `key`, nil when none does.
    func quantity(of key: InventoryKey) throws -> Int64? {
        if let q = rows[key] { return q }
        guard let table else { return nil }
        let covers = { (entry: (file: DataFile, min: Int64, max: Int64)) in entry.min <= key.updated && key.updated <= entry.max }
        var read = false
        for entry in unread where covers(entry) {
            // Through DataFileReader: rows a delete file removed are not there.
            for batch in try DataFileReader(entry.file, columns: table.columns, files: catalog.files).read() {
                try add(batch, from: entry.file.path)
            }
            read = true
        }
        if read { unread.removeAll(where: covers) }
        return rows[key]
    }

    private func add(_ batch: RecordBatch, from path: String) throws {
        guard let product = batch.column("product_id"), let warehouse = batch.column("warehouse_location"),
              let times = batch.column("last_updated"), case .int64(let updated) = times.data,
              let quantity = batch.column("available_quantity"), case .int64(let q) = quantity.data else {
            throw IngestError.failed("\(path): curated.inventory lacks product_id, warehouse_location, last_updated or available_quantity as written by lake")
        }
        for row in 0 ..< batch.count where !times.isNull(row) && !quantity.isNull(row) {
            guard let p = product.string(at: row), let w = warehouse.string(at: row) else { continue }
            let key = InventoryKey(product: Array(p.utf8), warehouse: Array(w.utf8), updated: updated[row])
            if rows[key] == nil { rows[key] = q[row] }
        }
    }
}

extension SourceInput {
    /// Opens an ingest's source; a path that cannot be read is the ingest's typed error.
    static func openForIngest(_ path: String) throws(IngestError) -> SourceInput {
        do { return try open(path) } catch { throw .failed(error.description) }
    }
}

/// A whole reference source (catalog, inventory) about to be ingested: opened once, parsed
/// from its stream, identified in the ledger by the hash of the bytes the parser read.
struct SourceFile {
    let started = Date()
    let kind: SourceKind
    let input: SourceInput
    /// Set when a regular file's content was committed before: nothing to read.
    var alreadyIngested: IngestRun?

    var name: String { input.name }

    static func open(_ store: LakeStore, path: String, kind: SourceKind) throws -> SourceFile {
        var file = SourceFile(kind: kind, input: try SourceInput.openForIngest(path))
        file.input.hashesLegacy = try store.catalog.ledgerHasHashes(kind: kind, prefix: ContentHasher.legacyPrefix)
        // A regular file is hashed first so a re-ingest costs one read, not a parse.
        if file.input.isRegularFile,
           let entry = try file.inForce(try ContentHash.file(path, legacy: file.input.hashesLegacy),
                                        { try store.catalog.ledgerEntry(kind: $0, identity: $1) }, { try store.catalog.latestLedgerEntry(kind: $0) }) {
            file.alreadyIngested = file.noOp(entry.snapshotID)
        }
        return file
    }

    /// The ledger entry that makes this content a no-op. Inventory rows are appended, so any
    /// earlier commit of the same bytes counts. A catalog replaces the products table: only the
    /// catalog in force counts. Before session 21 any earlier version did, so a rollback (v1,
    /// v2, then v1's file again) answered "already ingested; nothing added" with v2 still in
    /// force: v2's prices enriched the next orders and products only v1 has rejected them.
    func inForce(_ identity: SourceIdentity, _ exact: (SourceKind, SourceIdentity) throws -> LedgerEntry?,
                 _ latest: (SourceKind) throws -> LedgerEntry?) throws -> LedgerEntry? {
        guard kind == .catalog else { return try exact(kind, identity) }
        guard let current = try latest(kind), current.sourceHash == identity.hash || current.sourceHash == identity.legacyHash else { return nil }
        return current
    }

    /// After the parser read the input to its end: its size and hash, or the no-op summary
    /// when the ledger already has that content (a stream is only known once read). Nothing
    /// has been written yet at this point.
    func finishReading(_ store: LakeStore) throws -> (size: Int64, identity: SourceIdentity, alreadyIngested: IngestRun?) {
        let size = input.bytesRead, identity = input.contentIdentity
        if size == 0 { throw IngestError.emptyInput(path: input.path) }
        let entry = try inForce(identity, { try store.catalog.ledgerEntry(kind: $0, identity: $1) }, { try store.catalog.latestLedgerEntry(kind: $0) })
        return (size, identity, entry.map { noOp($0.snapshotID) })
    }

    /// The outcome of `commitOnce`.
    enum Commit {
        case committed(SnapshotInfo)
        case alreadyCommitted(IngestRun)

        var noOp: IngestRun? {
            if case .alreadyCommitted(let s) = self { return s }
            return nil
        }
    }

    /// Commits `body` unless the ledger, checked again under the write lock, already holds this
    /// content: another process ingesting the same file may have committed it since our first
    /// look. Then this run is the same no-op as a re-ingest (its files are removed, its lease
    /// released), not a primary-key error from the ledger.
    func commitOnce(_ store: LakeStore, identity: SourceIdentity, lease: WriteLease, written: [URL], message: String,
                    _ body: (inout CatalogTransaction) throws -> Void) throws -> Commit {
        struct AlreadyCommitted: Error { let snapshot: Int64 }
        do {
            let (snap, _) = try store.catalog.commit(message: message) { tx in
                if let entry = try inForce(identity, { try tx.ledgerEntry(kind: $0, identity: $1) }, { try tx.latestLedgerEntry(kind: $0) }) {
                    throw AlreadyCommitted(snapshot: entry.snapshotID)
                }
                try body(&tx)
            }
            return .committed(snap)
        } catch let done as AlreadyCommitted {
            for url in written { try store.catalog.files.delete(url.path) }
            try lease.release()
            return .alreadyCommitted(noOp(done.snapshot))
        } catch {
            // Not committed (unless the commit may stand): its files are debris (see `OrderIngest`).
            if !Catalog.commitMayHaveLanded(error) { store.catalog.files.discard(written.map(\.path)) }
            throw error
        }
    }

    private func noOp(_ snapshot: Int64) -> IngestRun {
        .alreadyIngested(kind: kind, source: name, startedAt: started, at: snapshot)
    }
}
