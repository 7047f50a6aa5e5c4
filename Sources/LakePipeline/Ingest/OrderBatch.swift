import Foundation
import LakeCatalog
import LakeFormat

/// Where a followed source was read up to: the byte just after the last consumed newline and
/// the number of lines consumed. Committed in the same transaction as the data it covers.
public struct StreamPosition: Sendable, Equatable {
    public var source: String
    public var byteOffset: Int64
    public var lineNumber: Int64
    /// A digest of the bytes before `byteOffset`, checked when a restart resumes here.
    public var witness: StreamWitness?
    /// The path as given when it is a symlink (`source` is resolved): the checkpoint is saved
    /// under it too, so a restart by that name after the link was pointed at another file
    /// compares that file with what was committed and refuses, rather than reading the new
    /// target from line 1 with the old one's rest never read.
    public var alias: String?

    public init(source: String, byteOffset: Int64, lineNumber: Int64, witness: StreamWitness? = nil, alias: String? = nil) {
        self.source = source
        self.byteOffset = byteOffset
        self.lineNumber = lineNumber
        self.witness = witness
        self.alias = alias
    }

    /// The keys the checkpoint is saved and checked under: the resolved path, and the link's.
    var keys: [String] { [source, alias].compactMap { $0 } }
}

/// The one path from order lines to a snapshot, shared by whole-file ingest (`OrderIngest`)
/// and micro-batches (`StreamIngest`): validate lines → write segments → commit the files with
/// the ledger entry and/or stream checkpoint and the run record, all in one catalog
/// transaction. Nothing here is visible to a reader until `commit` returns; a crash before that
/// leaves only unreferenced segment files (vacuum removes them).
struct OrderBatch {
    let store: LakeStore
    /// The snapshot the dedupe set and catalog were read at: a commit to curated.orders after
    /// it by someone else is a conflict (our dedupe did not see those ids).
    let base: SnapshotInfo
    let name: String
    let started: Date
    let batchID: String
    private let options: IngestOptions
    fileprivate let rawTarget: WriteTarget, ordersTarget: WriteTarget, itemsTarget: WriteTarget
    fileprivate let segments: SegmentPipeline
    private var validator: OrderValidator
    /// The dictionary columns this batch's validators share (`OrderValidator.BatchColumns`).
    private let columns: OrderValidator.BatchColumns
    private(set) var records = 0
    private var accepted = 0
    private var rejects: [RejectReason: Int] = [:]
    /// The ids of lines rejected as duplicates of orders committed before the base (the commit
    /// checks that no foreign delete since removed one of them); empty in the common case.
    private var committedDuplicates = OrderIDRun()
    private var unknown: [String: Int] = [:]
    /// Event-to-commit lag percentiles in fixed memory (not one entry per order).
    private var latency: LatencySketch
    /// The batch's quality figures, added up drain by drain and committed with the data.
    private var figures = QualityFigureBuilder()
    /// Set when the catalog's key runs did not cover curated.orders at `base`: the commit then
    /// stores these ids plus the batch's as a baseline run.
    private let baselineIDs: CommittedOrderIDs?
    /// The committed runs the validator probes: a block that fails to decode during a probe
    /// stops the commit (the answer may have missed a committed id).
    private let committedRuns: OrderIDRunSet
    /// The batch's claimed ids when chunks are validated in parallel (`add(validated:)`).
    private var firsts: FirstOccurrences
    private let products: ProductCatalog, rules: OrderRules, committed: OrderIDIndex.Loaded
    /// Registered before any segment file exists, ended by the commit: vacuum keeps our files
    /// while we run. Released when the batch is dropped without committing.
    private let lease: WriteLease
    /// Where the ingest's threads spend their time (`LAKE_PHASE_TIMES`).
    let tally = ThreadTally("orders")

    /// raw.orders' column holding each line's bytes as received.
    static let rawLineColumn = "line"
    static let orderIDColumn = OrderIDIndex.column

    init(store: LakeStore, base: SnapshotInfo, products: ProductCatalog, rules: OrderRules, committed: OrderIDIndex.Loaded,
         sourceName: String, options: IngestOptions, started: Date = Date()) throws {
        self.store = store
        self.base = base
        self.name = sourceName
        self.started = started
        self.options = options
        latency = LatencySketch(reference: LakeCatalog.Timestamps.micros(started))
        baselineIDs = committed.fromFiles
        committedRuns = committed.runs
        let resolved = try store.targets([RegistryTable.rawOrders, RegistryTable.orders, RegistryTable.orderItems])
        (rawTarget, ordersTarget, itemsTarget) = (resolved[0], resolved[1], resolved[2])
        // The three order tables hold one history together. One missing while another holds
        // rows was renamed or dropped by another engine (DuckDB's ALTER TABLE … RENAME TO, DROP
        // TABLE), and creating it anew would split that history: a new curated.orders accepts
        // every order again (ids are checked against it), a new order_items holds only the new
        // batch's items (every product report undercounts), a new raw.orders loses the lines
        // the checks compare with.
        let targets = [rawTarget, ordersTarget, itemsTarget]
        let missing = targets.filter { $0.existingTableID == nil }
        if !missing.isEmpty && missing.count < targets.count {
            var holding: [String] = []
            for t in targets {
                guard let id = t.existingTableID else { continue }
                if try !store.catalog.dataFiles(tableID: id, at: .snapshot(base.id), columnStats: false, inlined: .readSeparately).isEmpty
                    || store.catalog.inlinedRowCount(tableID: id, at: .snapshot(base.id)) > 0 {
                    holding.append("\(t.schemaName).\(t.tableName)")
                }
            }
            if !holding.isEmpty {
                throw IngestError.orderTablesIncomplete(missing: missing.map { "\($0.schemaName).\($0.tableName)" }, present: holding)
            }
        }
        // The validator's rows must have the columns of the tables as the lake has them.
        for t in [rawTarget, ordersTarget, itemsTarget] where rules.versions[t.registryTable] != t.definition.version {
            throw IngestError.conflict(table: TableName(schema: t.schemaName, name: t.tableName))
        }
        lease = try store.catalog.beginWrite(operation: Self.leaseOperation(sourceName: sourceName))
        // The raw line is the source line verbatim, and a raw order id repeats only on a resent
        // line: neither kept a dictionary in any row group of 1 M orders, yet one was built and
        // dropped for each chunk. A line's number and byte offset are distinct in a batch by
        // construction: their trials (256 values hashed per chunk, then dropped) were a fifth of
        // the numbers' dictionary work.
        var rawOptions = options.parquet
        rawOptions.plainColumns = [Self.rawLineColumn, Self.orderIDColumn, RawColumn.lineNumber.rawValue, RawColumn.byteOffset.rawValue]
        // The verbatim lines are three quarters of the bytes zstd compresses in an ingest, and
        // no query filters on a line by range: its min/max (a comparison of every line, about
        // 1.5 % of an ingest's CPU) are left out, which the catalog reads as unknown bounds.
        rawOptions.repetitiveTextColumns = [Self.rawLineColumn]
        rawOptions.unboundedColumns = [Self.rawLineColumn]
        // curated.orders holds each order id once (the batch's dedupe and the committed runs
        // see to it): a dictionary of it can never be smaller than PLAIN.
        var ordersOptions = options.parquet
        ordersOptions.plainColumns = [Self.orderIDColumn]
        let files = store.catalog.files
        var writers = [rawTarget.writer(rawOptions, files: files), ordersTarget.writer(ordersOptions, files: files),
                       itemsTarget.writer(options.parquet, files: files)]
        for i in writers.indices {
            writers[i].parallelism = options.parallelism
            writers[i].tally = tally
        }
        segments = SegmentPipeline(raw: writers[0], orders: writers[1], items: writers[2], tally: tally)
        batchID = UUID().uuidString.lowercased()
        columns = OrderValidator.BatchColumns(rules: rules, batchID: batchID, sourceFile: sourceName)
        validator = OrderValidator(rules: rules, catalog: products, columns: columns, ingestTimeMicros: LakeCatalog.Timestamps.micros(started),
                                   committed: committed, expectedLines: 4096, deferDuplicates: false)
        firsts = FirstOccurrences(capacity: 4096, forcedFingerprint: options.forcedIDFingerprint)
        (self.products, self.rules, self.committed) = (products, rules, committed)
    }

    /// A validator for one chunk of this batch validated on another thread: same rules, catalog,
    /// committed ids and batch columns as the batch's own, with the first-occurrence check left
    /// to `add(validated:)`.
    func deferredValidator(expectedLines: Int) -> OrderValidator {
        OrderValidator(rules: rules, catalog: products, columns: columns, ingestTimeMicros: LakeCatalog.Timestamps.micros(started),
                       committed: committed, expectedLines: max(expectedLines, 4096), deferDuplicates: true)
    }

    /// Sizes the batch's id set for a source of `bytes` bytes read in parallel chunks. Lines
    /// are counted as 512 bytes each (a generated order line averages 357), so the estimate
    /// errs low: at worst the set grows a step as it used to, it never reserves much more than
    /// the orders need.
    mutating func reserveClaims(sourceBytes bytes: Int64) {
        firsts.reserve(orders: Int(min(bytes / 512, 1 << 26)))
    }

    /// Adds a chunk validated by a `deferredValidator`; chunks must come in line order.
    mutating func add(validated v: ValidatedOrders) throws {
        var v = v
        tally.measure("consumer: settle claims") { v.settleClaims(&firsts, sourceFile: name) }
        try drain(v)
    }

    /// True when no line was added since the last drain (with `records`, whether anything was added at all).
    var pendingIsEmpty: Bool { validator.pendingRows == 0 }

    /// Throws `IngestError.schemaBehind` on the first line with a field the lake's orders
    /// table has no column for (a v2 line before `lake schema migrate orders --to 2`).
    mutating func add(_ line: Line) throws {
        validator.add(line)
        if let behind = validator.schemaBehind { throw IngestError.behind(behind, source: name) }
        if validator.pendingRows >= options.drainEvery || validator.pendingBytes >= options.drainBytes { try drain() }
    }

    /// Hands the validated rows to the segment writers, which bounds memory to one drain.
    private mutating func drain() throws { try drain(validator.drain()) }

    private mutating func drain(_ v: ValidatedOrders) throws {
        records += v.raw.count
        accepted += v.orders.count
        for (r, n) in v.rejects { rejects[r, default: 0] += n }
        if v.committedDuplicates.count > 0 { v.committedDuplicates.forEach { committedDuplicates.append($0) } }
        for (f, n) in v.unknownFields { unknown[f, default: 0] += n }
        if case .int64(let t)? = v.orders.column("event_time")?.data { latency.add(t) }
        do {
            try tally.measure("consumer: figures") { try figures.add(v) }
        } catch let overflow as SumOverflow {
            // Unreachable (money is summed in 128 bits, see `QualityFigureBuilder.add`); kept so
            // that if it ever happened the batch is refused rather than stored with a wrapped sum.
            throw IngestError.failed("\(VisibleText.escape(name)): the batch's quality figures: \(overflow); nothing was committed")
        }
        try segments.submit(v)
    }

    /// Closes the segments and commits them as one snapshot. `ledger` marks a whole source file
    /// as done (re-ingest becomes a no-op); `checkpoint` records how far a followed file was
    /// consumed. Throws `IngestError.conflict` when another writer committed one of our order ids
    /// since `base` (see `requireDisjoint`), or the same source / a newer checkpoint.
    mutating func commit(kind: SourceKind = .orders, ledger: (identity: SourceIdentity, bytes: Int64)?, checkpoint: StreamPosition?,
                         sourceBytes: Int64) throws -> IngestRun {
        var clock = PhaseClock("orders commit")
        try drain()
        if let damaged = committedRuns.failure { throw IngestError.failed("\(damaged); nothing committed") }
        // The ids this batch accepted are the ones it claimed (held once, in the batch's id
        // set); their bytes move to the run and the set's table is released before sorting.
        var claimed = OrderIDRun()
        validator.takeClaimedIDs(into: &claimed)
        firsts.takeIDs(into: &claimed)
        var keys = claimed
        if let baselineIDs {
            keys = OrderIDRun()
            baselineIDs.forEach { keys.append($0) }
            claimed.forEach { keys.append($0) }
        }
        // The key run is sorted, encoded and compressed while the segments take their last
        // rows and close (much of it waiting on fsync), and before the catalog's write lock is
        // taken: the sort no longer runs alone on one core after the files are closed.
        let segments = self.segments, sortedKeys = keys
        var closed: (raw: [NewDataFile], orders: [NewDataFile], items: [NewDataFile])?
        var encoded: (payload: [UInt8], count: Int)?
        _ = try parallelMapBlocking(count: 2, threads: 2) { task in
            if task == 0 {
                closed = try segments.finish()
            } else {
                encoded = tally.measure("commit: sort and encode the key run") {
                    sortedKeys.count > 0 ? SortedIDRun.encode(sortedKeys, fingerprint: .standard) : (payload: [], count: 0)
                }
            }
        }
        guard let files = closed, let sorted = encoded else { preconditionFailure("parallelMapBlocking ran both tasks") }
        clock.lap("write queued rows, close segments | sort and encode the key run")
        let written = files.raw + files.orders + files.items
        let partitions = Set(files.raw.map(\.partitionValues)).count
        let finished = Date()
        let latency = self.latency.stats(commitMicros: LakeCatalog.Timestamps.micros(finished))
        let counts = RejectReason.runCounts(rejects.map { ($0.key, $0.value) })
        var run = IngestRun(kind: kind, source: name, batchID: batchID, sourceHash: ledger?.identity.hash, sourceBytes: sourceBytes,
                            startedAt: started, finishedAt: finished, records: Int64(records), accepted: Int64(accepted),
                            quarantined: counts.quarantined, duplicates: counts.duplicates,
                            rejects: Dictionary(uniqueKeysWithValues: rejects.map { ($0.key.rawValue, Int64($0.value)) }), filesWritten: Int64(written.count),
                            bytesWritten: written.reduce(0) { $0 + $1.fileSizeBytes }, partitions: Int64(partitions),
                            latencyP50: latency.p50, latencyP95: latency.p95, latencyMax: latency.max,
                            unknownFields: unknown.mapValues(Int64.init))
        let keyCount = Int64(sorted.count), keyPayload = sorted.payload, isBaseline = baselineIDs != nil
        let (rawTarget, ordersTarget, itemsTarget, base, name, batchID, lease) = (rawTarget, ordersTarget, itemsTarget, base, name, batchID, lease)
        let newIDs = claimed, committedDuplicates = self.committedDuplicates
        let figureRows = figures.figures(batchID: batchID)
        let present: [(path: String, bytes: Int64)] = files.raw.map { (rawTarget.directory.appendingPathComponent($0.relativePath).path, $0.fileSizeBytes) }
            + files.orders.map { (ordersTarget.directory.appendingPathComponent($0.relativePath).path, $0.fileSizeBytes) }
            + files.items.map { (itemsTarget.directory.appendingPathComponent($0.relativePath).path, $0.fileSizeBytes) }
        let message = checkpoint.map { "ingest orders \(name) lines ..\($0.lineNumber)" } ?? "ingest orders \(name)"
        let (snapshot, _) = try store.catalog.commit(message: message) { tx in
            if let ledger, try tx.ledgerEntry(kind: kind, identity: ledger.identity) != nil {
                throw IngestError.conflict(table: .curatedOrders)
            }
            if let checkpoint {
                // Another follower of the same file committed meanwhile: our offsets are stale.
                // Through the link's name too: a build before session 22 following the link saves
                // its checkpoint under that name only.
                for key in checkpoint.keys {
                    if let current = try tx.streamCheckpoint(source: key), current.snapshotID > base.id {
                        throw IngestError.conflict(table: .curatedOrders)
                    }
                }
            }
            let ordersID = try ordersTarget.ensure(&tx)
            // Our dedupe read the committed order ids at `base`; ids committed since must not
            // overlap ours (the rebase). A compaction since the base adds files, no ids.
            if try tx.dataFilesAdded(tableID: ordersID, after: base.id) > 0 {
                try Self.requireDisjoint(newIDs, from: try tx.keyRunsAdded(tableID: ordersID, column: OrderIDIndex.column, after: base.id),
                                         baseline: isBaseline)
            }
            // A delete since the base may have deleted committed orders this batch rejected as
            // duplicates (a day deleted while its corrected file is ingested again: the lines
            // rejected and their orders deleted, neither in the lake): re-validate. A `lake delete`
            // records the ids it deleted (DeletedOrderIDs): its snapshot is a conflict. DuckDB's
            // DELETE records none: the rows it deleted since the base are read from the changed
            // delete vectors and are a conflict only when one of the rejected ids has fewer live
            // rows than at the base (a retry on each of its deletes starved an ingest racing
            // DuckDB's writes; its UPDATE deletes and inserts: the order is still there).
            if committedDuplicates.count > 0 {
                let deleting = try tx.snapshotsDeletingRows(tableID: ordersID, after: base.id)
                if !deleting.isEmpty {
                    let ours = Set(try tx.keyRunsAdded(tableID: ordersID, column: DeletedOrderIDs.column, after: base.id).runs.map(\.snapshotID))
                    if !deleting.isDisjoint(with: ours) { throw IngestError.conflict(table: .curatedOrders) }
                    var rejected = Set<[UInt8]>()
                    committedDuplicates.forEach { rejected.insert(Array($0)) }
                    if try !tx.valuesDeleted(tableID: ordersID, column: OrderIDIndex.column, after: base.id, deleting: deleting,
                                             wanted: rejected.contains).isEmpty {
                        throw IngestError.conflict(table: .curatedOrders)
                    }
                }
            }
            // Ids DuckDB inserted inlined since the base are in no key run and no data file.
            let inlined = try tx.inlinedValuesAdded(tableID: ordersID, column: OrderIDIndex.column, after: base.id)
            if !inlined.isEmpty {
                let theirs = Set(inlined.map { Array($0.utf8) })
                var overlap = false
                newIDs.forEach { if !overlap && theirs.contains(Array($0)) { overlap = true } }
                if overlap { throw IngestError.conflict(table: .curatedOrders) }
            }
            // Never reference a file that is not there (vacuum of an older build, a hand delete).
            try tx.requireFilesPresent(present)
            try tx.endWrite(lease)
            let rawID = try rawTarget.ensure(&tx)
            let itemsID = try itemsTarget.ensure(&tx)
            try tx.addDataFiles([(rawID, files.raw), (ordersID, files.orders), (itemsID, files.items)])
            if keyCount > 0 {
                try tx.addKeyRun(tableID: ordersID, column: OrderIDIndex.column, keyCount: keyCount, payload: keyPayload, baseline: isBaseline)
                try OrderIDIndex.mergeTiers(&tx, tableID: ordersID)
            }
            if let ledger { try tx.recordSource(kind: kind, sourceHash: ledger.identity.hash, source: name, bytes: ledger.bytes, batchID: batchID) }
            if let checkpoint {
                for key in checkpoint.keys {
                    try tx.saveStreamCheckpoint(source: key, byteOffset: checkpoint.byteOffset, lineNumber: checkpoint.lineNumber,
                                                witness: checkpoint.witness)
                }
            }
            try tx.recordIngestRun(run)
            // Quality figures in the data's own transaction: no second pass, no second snapshot.
            try tx.recordQualityFigures(figureRows)
        }
        clock.lap("catalog transaction")
        tally.report()
        run.snapshotID = snapshot.id
        return run
    }
}

extension OrderBatch {
    /// Rebase check for an append: throws `IngestError.conflict` (the caller retries from a new
    /// base, re-validating against the committed ids) when an id this batch adds was committed
    /// after its base, or when that cannot be told: the key runs no longer cover the table (rows
    /// added without runs, by another tool or an older build), or this batch writes a baseline
    /// run, which replaces every run before it and so must be computed at the latest snapshot.
    static func requireDisjoint(_ ours: OrderIDRun, from since: (runs: [KeyRun], coverTable: Bool), baseline: Bool) throws {
        guard since.coverTable, !baseline else { throw IngestError.conflict(table: .curatedOrders) }
        guard !since.runs.isEmpty, ours.count > 0 else { return }
        // Probed, not loaded: a merge since the base may have folded older runs into a newer
        // one, which is large but holds only ids our dedupe already rejected besides the new ones.
        let theirs: OrderIDRunSet
        do {
            theirs = OrderIDRunSet(try since.runs.map { try SortedIDRun.open($0.payload, expected: $0.keyCount, fingerprint: .standard) })
        } catch {
            // Cannot tell whether they overlap: redo the batch from a new base, which rebuilds the set.
            throw IngestError.conflict(table: .curatedOrders)
        }
        var overlap = false
        ours.forEach { id in if !overlap && theirs.containsOrderID(id) { overlap = true } }
        if let damaged = theirs.failure { throw IngestError.failed("\(damaged); nothing committed") }
        if overlap { throw IngestError.conflict(table: .curatedOrders) }
    }

    /// What a batch's write lease names: the same for every batch of one source.
    static func leaseOperation(sourceName: String) -> String { "ingest orders \(sourceName)" }

    /// Deletes every file the batch wrote, committing nothing: for an attempt that failed
    /// before its commit, or whose commit failed without landing (`Catalog.commitMayHaveLanded`
    /// false). Before, a failed ingest left them all, published, until a vacuum past the 1 h
    /// window: on a full disk (ENOSPC while closing the segments or at COMMIT) the failed run kept
    /// the disk full, and vacuum could not run either (its catalog write failed too).
    func discardWritten() {
        segments.discardAll()
    }

    /// Closes the segments and deletes them, committing nothing: for a stream whose content
    /// turns out to be in the ledger already once read to its end.
    mutating func abandon() throws {
        let files = try segments.finish()
        // A file that cannot be deleted is an unreferenced orphan, which vacuum removes; it does
        // not change the answer (already ingested), so it is not an error here.
        store.catalog.files.discard([(rawTarget, files.raw), (ordersTarget, files.orders), (itemsTarget, files.items)].flatMap { target, list in
            list.map { target.directory.appendingPathComponent($0.relativePath).path }
        })
    }
}

/// Writes validated batches to the three tables' segments on a thread of its own, so parsing
/// and validation (this thread) overlap with partitioning, encoding and compression (that
/// one). At most two drains are in flight, which bounds memory.
final class SegmentPipeline: @unchecked Sendable {
    // The writers are touched only on `queue`; `submit` and `finish` hand work over and wait
    // on it. `failure` is set on the queue and read by `submit` under `failureLock`: reading it
    // through `queue.sync` waited for every queued write to end, so the consumer handed over one
    // drain at a time and the writer sat idle while the next chunk was settled (on 1 M orders
    // "wait for a writer slot" was never reached, and the validators waited for the window).
    private let queue = DispatchQueue(label: "lake.ingest.segments")
    private let slots = DispatchSemaphore(value: 2)
    /// raw.orders, curated.orders, curated.order_items.
    private var writers: [SegmentWriter]
    /// The writers as created, and which files exist: touched only by the thread that submits
    /// (`SegmentWriter.prepare` reads their tables' layout and storage, nothing that changes).
    private let preparers: [SegmentWriter]
    private var created: SegmentWriter.FilesCreated
    /// Every file the writers were given, by path: touched only by the thread that submits.
    private var createdPaths: [String] = []
    private let failureLock = NSLock()
    private var failure: Error?
    private let tally: ThreadTally

    init(raw: SegmentWriter, orders: SegmentWriter, items: SegmentWriter, tally: ThreadTally) {
        writers = [raw, orders, items]
        preparers = writers
        created = SegmentWriter.FilesCreated(writers)
        self.tally = tally
    }

    private var firstFailure: Error? {
        failureLock.lock()
        defer { failureLock.unlock() }
        return failure
    }

    /// Queues `v` for the writers, waiting while two drains are queued; throws the first
    /// failure of an earlier write (a write after it is skipped).
    func submit(_ v: ValidatedOrders) throws {
        if let failure = firstFailure { throw failure }
        // Split and new files on this thread, while the writers encode the drains before.
        let prepared = try tally.measure("consumer: split, create new partitions' files") {
            try SegmentWriter.prepare(preparers, [v.raw, v.orders, v.items], created: &created)
        }
        createdPaths += SegmentWriter.createdPaths(preparers, prepared)
        tally.measure("consumer: wait for a writer slot") { slots.wait() }
        if let failure = firstFailure {
            slots.signal()
            throw failure
        }
        queue.async {
            defer { self.slots.signal() }
            guard self.firstFailure == nil else { return }
            do {
                try SegmentWriter.write(&self.writers, prepared)
            } catch {
                self.failureLock.lock()
                self.failure = error
                self.failureLock.unlock()
            }
        }
    }

    /// Deletes every file this pipeline created, closed or not, once the queued writes ended:
    /// for an attempt whose commit failed or never came. A file still open is dropped with its
    /// writer (its temp name is removed then); a closed one, published under its own and its
    /// hold name, is deleted by both. Best effort: what is left is an orphan for vacuum.
    func discardAll() {
        queue.sync { writers = preparers }
        guard let files = preparers.first?.files else { return }
        files.discard(createdPaths)
        createdPaths = []
    }

    /// Waits for the queued batches, closes every segment and describes them for the catalog.
    func finish() throws -> (raw: [NewDataFile], orders: [NewDataFile], items: [NewDataFile]) {
        tally.measure("commit: wait for the queued writes") { queue.sync {} }
        return try queue.sync {
            if let failure = firstFailure { throw failure }
            // The three tables close side by side: one table's last fsyncs no longer hold back
            // the next table's last row groups.
            let open = writers
            let done = try parallelMapBlocking(count: 3, threads: 3) { i -> (SegmentWriter, [NewDataFile]) in
                var writer = open[i]
                let files = try self.tally.measure("commit: close \(["raw", "orders", "items"][i])") { try writer.finish() }
                return (writer, files)
            }
            writers = done.map(\.0)
            return (done[0].1, done[1].1, done[2].1)
        }
    }
}
