import Foundation
import LakeCatalog
import LakeFormat

/// What `lake erase customer` did (or would do).
public struct ErasureReport: Sendable {
    public var delete: DeleteReport
    /// The purge's snapshot (files rewritten without the deleted rows), when purged.
    public var purgeSnapshotID: Int64?
    public var expiredSnapshots: [Int64] = []
    public var filesRemoved = 0
    /// See `PurgeReport.scrubComplete`.
    public var scrubComplete = true
}

/// The right to erasure: one snapshot deletes a customer's rows from every layer (curated
/// orders and their items, the raw lines that name the customer), and a purge then removes
/// every byte of them from the lake root (`Purge`).
public enum Erasure {
    /// Deletes customer `id`'s rows in one snapshot and records the erasure in `lake_erasure`
    /// without the id (see `ErasureLog`). With `purge`, purges right after. `scanned` counts the
    /// files read to find the rows (`plan`; a re-plan after a conflict starts again at 0),
    /// `progress`, `phase` and `expiry` the purge's (`Purge.run`).
    public static func run(_ catalog: Catalog, customerID id: String, dryRun: Bool = false, purge: Bool = false,
                           scanned: WorkProgress? = nil, progress: WorkProgress? = nil, phase: PurgePhases? = nil, expiry: WorkProgress? = nil) throws -> ErasureReport {
        // Any id but the empty one: rows are matched by the id's bytes and raw lines by their
        // parsed customer field or, when a line does not parse, its decoded text (`lineNames`),
        // never through a quoted condition. Until session 38 an id with a quote was refused,
        // and that customer could not be erased at all.
        guard !id.isEmpty else { throw MaintenanceError.badOption("the customer id is empty: name the customer whose rows to erase") }
        let delete = try RowDelete.run(catalog, message: "erase: one customer's rows", dryRun: dryRun, plan: { base in
            try plan(catalog, customerID: id, at: base, progress: scanned)
        }, record: { tx, deletes in
            try ErasureLog.record(&tx, rows: deletes.map { ($0.table.qualifiedName, $0.rows) })
        })
        var report = ErasureReport(delete: delete)
        if purge && !dryRun {
            let p = try Purge.run(catalog, progress: progress, phase: phase, expiry: expiry)
            report.purgeSnapshotID = p.snapshotID
            report.expiredSnapshots = p.expiredSnapshots
            report.filesRemoved = p.filesRemoved
            report.scrubComplete = p.scrubComplete
        }
        return report
    }

    /// The customer's rows at `base`: curated.orders by customer_id, curated.order_items by the
    /// order ids found there, raw.orders lines by their parsed customer field, or (a line that
    /// does not parse or lacks it) by the id appearing in the text as a JSON string.
    /// `progress`: the files of the three tables read (or skipped by their statistics) against all of them.
    static func plan(_ catalog: Catalog, customerID id: String, at base: SnapshotInfo, progress: WorkProgress? = nil) throws -> [TableDeletes] {
        let tables = Dictionary(try catalog.tables(at: .snapshot(base.id)).map { ($0.tableName, $0) }, uniquingKeysWith: { a, _ in a })
        var out: [TableDeletes] = []
        var orderIDs = Set<ExactID>()
        // Listed first, so the progress has its total before the first read.
        let orders = tables[.curatedOrders].flatMap { t in t.column(named: "customer_id").flatMap { c in t.column(named: "order_id").map { (t, c, $0) } } }
        let ordersFiles = try orders.map { t, cust, _ in try catalog.dataFiles(tableID: t.tableID, at: .snapshot(base.id)).filter { mayHold($0, cust, id) } } ?? []
        let itemsFiles = try tables[.curatedOrderItems].map { try catalog.dataFiles(tableID: $0.tableID, at: .snapshot(base.id)) } ?? []
        let rawFiles = try tables[.rawOrders].map { try catalog.dataFiles(tableID: $0.tableID, at: .snapshot(base.id), columnStats: false) } ?? []
        let total = Int64(ordersFiles.count + itemsFiles.count + rawFiles.count)
        var done: Int64 = 0
        func read(_ files: Int) {
            done += Int64(files)
            progress?(done, total)
        }
        progress?(0, total)
        if let found = orders {
            let (orders, cust, oid) = found
            var d = TableDeletes(table: orders)
            for file in ordersFiles {
                defer { read(1) }
                let positions = try RowDelete.positions(in: file, columns: [cust, oid], files: catalog.files) { batch in
                    // By bytes: String's == is canonical equivalence, and matched a customer whose
                    // id differs only in Unicode normalization (another customer) in the same file.
                    let rows = (0 ..< batch.count).filter { batch.columns[0].string(at: $0)?.utf8.elementsEqual(id.utf8) ?? false }
                    for r in rows { if let o = batch.columns[1].string(at: r) { orderIDs.insert(ExactID(o)) } }
                    return rows
                }
                d.files.append((file, positions))
            }
            out.append(d)
        }
        if let items = tables[.curatedOrderItems], !orderIDs.isEmpty {
            out.append(try itemsOf(orderIDs, items, catalog, base, files: itemsFiles, read: { read(1) }))
        } else {
            read(itemsFiles.count)
        }
        if let raw = tables[.rawOrders], let line = raw.column(named: "line") {
            var d = TableDeletes(table: raw)
            let quoted = Array("\"\(id)\"".utf8)
            for file in rawFiles {
                defer { read(1) }
                let positions = try RowDelete.positions(in: file, columns: [line], files: catalog.files) { batch in
                    let column = batch.columns[0]
                    return (0 ..< batch.count).filter { r in
                        // Most lines fail the byte test in the column's own buffer: no String, no copy.
                        if case .string(let s) = column.data, !column.isNull(r),
                           !s.withBytes(r, { mayName($0, quoted: quoted) }) { return false }
                        guard let text = column.string(at: r) else { return false }
                        return lineNames(text, customerID: id, quoted: quoted)
                    }
                }
                d.files.append((file, positions))
            }
            out.append(d)
        }
        if done < total { read(Int(total - done)) }
        return out
    }

    /// curated.order_items rows of the given orders, matched by bytes (`ExactID`): as Strings,
    /// an order whose id differs only in Unicode normalization lost its items too, and the
    /// String order's min and max skipped files the byte order of the statistics put outside them.
    /// `files`: the table's files at `base`, when the caller listed them; `read` is called once per file.
    public static func itemsOf(_ orderIDs: Set<ExactID>, _ items: TableInfo, _ catalog: Catalog, _ base: SnapshotInfo,
                               files: [DataFile]? = nil, read: (() -> Void)? = nil) throws -> TableDeletes {
        var d = TableDeletes(table: items)
        guard let oid = items.column(named: "order_id") else { return d }
        let lo = orderIDs.min()!.text, hi = orderIDs.max()!.text
        for file in try files ?? catalog.dataFiles(tableID: items.tableID, at: .snapshot(base.id)) {
            defer { read?() }
            // Skip files whose order_id range misses every id (byte order = the stats' order for text).
            if let s = file.columnStats[oid.columnID], let mn = s.min, let mx = s.max,
               Array(hi.utf8).lexicographicallyPrecedes(Array(mn.utf8)) || Array(mx.utf8).lexicographicallyPrecedes(Array(lo.utf8)) { continue }
            let positions = try RowDelete.positions(in: file, columns: [oid], files: catalog.files) { batch in
                (0 ..< batch.count).filter { r in batch.columns[0].string(at: r).map { orderIDs.contains(ExactID($0)) } ?? false }
            }
            d.files.append((file, positions))
        }
        return d
    }

    /// False when the file's min/max stats of `column` exclude `value`.
    static func mayHold(_ file: DataFile, _ column: ColumnInfo, _ value: String) -> Bool {
        guard let s = file.columnStats[column.columnID], let mn = s.min, let mx = s.max else { return true }
        let v = Array(value.utf8)
        return !(v.lexicographicallyPrecedes(Array(mn.utf8)) || Array(mx.utf8).lexicographicallyPrecedes(v))
    }

    /// Whether a raw source line belongs to the customer. A line that is a JSON object with a
    /// customer field as text (customer_id, or the mobile variant's customerId) belongs to the
    /// customer that field names, however the line spells it (`"CUST\u002D28"` is CUST-28: the
    /// JSON parser decodes escapes in keys and values). Any other line (malformed JSON, a
    /// truncated line, no customer field) belongs to the customer when, after decoding its JSON
    /// escapes, it holds the id as a whole JSON string (`"CUST-28"`), or ends in the id after an
    /// opening quote (a line cut off right after the id). An id inside a longer string
    /// (`"note":"call CUST-28"`) or cut off itself (`"CUST-2`) does not identify the customer
    /// and is not matched.
    static func lineNames(_ line: String, customerID id: String, quoted: [UInt8]) -> Bool {
        let bytes = Array(line.utf8)
        guard mayName(bytes, quoted: quoted) else { return false }
        let open = quoted.dropLast()
        if let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
           let field = (object["customer_id"] ?? object["customerId"]) as? String {
            return field.utf8.elementsEqual(id.utf8)  // bytes: String == also matched a look-alike id (another customer)
        }
        let decoded = unescapeJSON(bytes)
        return contains(decoded, quoted) || ends(decoded, with: open)
    }

    /// Whether a line's bytes can name the customer at all: only a line holding the quoted id,
    /// ending in its opening (cut off after the id), or holding an escape can; others are not theirs.
    static func mayName<C: RandomAccessCollection>(_ bytes: C, quoted: [UInt8]) -> Bool where C.Element == UInt8, C.Index == Int {
        contains(bytes, quoted) || ends(bytes, with: quoted.dropLast()) || bytes.contains(UInt8(ascii: "\\"))
    }

    /// JSON's one-character escapes: `\"` `\\` `\/` `\b` `\f` `\n` `\r` `\t`.
    static let simpleEscapes: [UInt8: UInt8] = [0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, UInt8(ascii: "b"): 0x08,
                                                UInt8(ascii: "f"): 0x0C, UInt8(ascii: "n"): 0x0A, UInt8(ascii: "r"): 0x0D, UInt8(ascii: "t"): 0x09]

    /// `text` with every JSON escape decoded (`\uXXXX` incl. surrogate pairs, `\/`, `\"`, …),
    /// wherever it stands: the line need not be valid JSON. An invalid escape is kept as written.
    static func unescapeJSON(_ text: [UInt8]) -> [UInt8] {
        guard text.contains(UInt8(ascii: "\\")) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= text.count else { return nil }
            var v: UInt32 = 0
            for b in text[at ..< at + 4] {
                guard let d = UInt32(String(UnicodeScalar(b)), radix: 16) else { return nil }
                v = v << 4 | d
            }
            return v
        }
        var i = 0
        while i < text.count {
            let b = text[i]
            guard b == UInt8(ascii: "\\"), i + 1 < text.count else {
                out.append(b)
                i += 1
                continue
            }
            if let c = simpleEscapes[text[i + 1]] {
                out.append(c)
                i += 2
            } else if text[i + 1] == UInt8(ascii: "u"), let unit = hex4(i + 2) {
                var scalar = UnicodeScalar(unit)
                var used = 6
                // A high surrogate takes the low one after it: `\uD83D\uDE00` is one character.
                if (0xD800 ..< 0xDC00).contains(unit), i + 7 < text.count, text[i + 6] == UInt8(ascii: "\\"), text[i + 7] == UInt8(ascii: "u"),
                   let low = hex4(i + 8), (0xDC00 ..< 0xE000).contains(low) {
                    scalar = UnicodeScalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                    used = 12
                }
                if let scalar {
                    out += Array(String(Character(scalar)).utf8)
                    i += used
                } else {
                    out += text[i ..< i + 6]
                    i += 6
                }
            } else {
                out.append(b)
                i += 1
            }
        }
        return out
    }

    static func ends<C: RandomAccessCollection>(_ haystack: C, with suffix: ArraySlice<UInt8>) -> Bool where C.Element == UInt8 {
        haystack.count >= suffix.count && haystack.suffix(suffix.count).elementsEqual(suffix)
    }

    static func contains<C: RandomAccessCollection>(_ haystack: C, _ needle: [UInt8]) -> Bool where C.Element == UInt8, C.Index == Int {
        guard !needle.isEmpty, haystack.count >= needle.count else { return needle.isEmpty }
        let first = needle[0]
        var i = 0
        while i <= haystack.count - needle.count {
            if haystack[i] == first && haystack[i ..< i + needle.count].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}

public struct PurgeReport: Sendable {
    /// The snapshot the lake was purged at: a new one when files were rewritten, else the latest.
    public var snapshotID: Int64?
    public var filesRewritten = 0
    public var expiredSnapshots: [Int64] = []
    public var filesRemoved = 0
    /// Attempts that met a concurrent change to the files being rewritten and were re-planned.
    public var retries = 0
    /// False when the catalog's scrub could not wait out another session's older transaction
    /// or its lock on a catalog table (PostgreSQL, `Catalog.scrubStorage`): old row versions,
    /// an erased id among them, may stay in the catalog's files until a purge asked for again.
    public var scrubComplete = true
}

/// A purge's steps after its rewrites, which their count cannot show (on a 1 M-order lake about
/// 2-4 s of a 9 s erase --purge, the rewrite's count at 100 % meanwhile): the expiry of every
/// earlier snapshot (its replacement files read whole, then the old files deleted), then the
/// catalog's rebuild without free pages.
public enum PurgePhase: Sendable, Equatable {
    /// `Purge.run`'s `expiry` then counts the replacement files checked before the originals go.
    case expire
    case scrub
}

public typealias PurgePhases = @Sendable (PurgePhase) -> Void

/// Removes deleted rows' bytes from the lake root: every live data file with deletes is
/// rewritten without them (one snapshot, like compaction), every snapshot before that one is
/// expired (they all read the old files, so time travel to them ends here), the old data and
/// delete files are deleted, the tables' column bounds recomputed from the new files, and the
/// catalog file rebuilt without free pages and its WAL emptied (`Catalog.scrubStorage`).
public enum Purge {
    /// Purges when an erasure not purged yet is older than vacuum's retention (a dry run only
    /// counts them); nil when none is.
    public static func pending(_ catalog: Catalog, retain: TimeInterval, now: Date = Date(), dryRun: Bool,
                               progress: WorkProgress? = nil, phase: PurgePhases? = nil, expiry: WorkProgress? = nil) throws -> (erasures: Int, report: PurgeReport)? {
        let due = try ErasureLog.pending(catalog, before: now.addingTimeInterval(-retain))
        if due.isEmpty { return nil }
        return (due.count, dryRun ? PurgeReport() : try run(catalog, progress: progress, phase: phase, expiry: expiry))
    }

    /// Purges, re-planning when a concurrent commit (a compaction, a delete) changed a file it
    /// was rewriting: up to `RowDelete.attempts` times with a growing pause, then refuses with
    /// `RowDeleteError.purgeConflict`. A refused purge left every committed delete in place.
    /// `afterCommit` runs between the commit and the expiry: tests throw there to leave what a
    /// crash at that point leaves. `progress` counts the files with deletes rewritten against all
    /// of them (each attempt starts at 0); `phase` names the steps after the commit, `expiry`
    /// counts the expiry's replacement files checked.
    public static func run(_ catalog: Catalog, progress: WorkProgress? = nil, phase: PurgePhases? = nil, expiry: WorkProgress? = nil, beforeCommit: (() throws -> Void)? = nil,
                           afterCommit: (() throws -> Void)? = nil) throws -> PurgeReport {
        var lastConflict = ""
        for attempt in 0 ..< RowDelete.attempts {
            if attempt > 0 { Thread.sleep(forTimeInterval: RowDelete.backoff(attempt: attempt)) }
            do {
                var report = try once(catalog, progress: progress, phase: phase, expiry: expiry, beforeCommit: beforeCommit, afterCommit: afterCommit)
                report.retries = attempt
                return report
            } catch CatalogError.conflict(let table, let snapshot, let reason) {
                lastConflict = "\(table) at snapshot \(snapshot): \(reason)"
            }
        }
        throw RowDeleteError.purgeConflict(attempts: RowDelete.attempts, detail: lastConflict)
    }

    static func once(_ catalog: Catalog, progress: WorkProgress?, phase: PurgePhases?, expiry: WorkProgress?, beforeCommit: (() throws -> Void)?, afterCommit: (() throws -> Void)?) throws -> PurgeReport {
        try catalog.requireWritable()
        // The erased lines are gone from raw.orders since the erasure's commit: their ids leave the
        // record of deleted order ids before the scrub below (first, so a rerun after a crash
        // past the commit, which finds nothing else to do, still prunes).
        try DeletedOrderIDs.pruneErased(catalog)
        var report = PurgeReport()
        let base = try catalog.latestSnapshot()
        var plans: [(table: TableInfo, input: DataFile, outputs: [NewDataFile])] = []
        let lease = try catalog.beginWrite(operation: "purge")
        do {
            // Listed first, so the progress has its total before the first rewrite.
            var inputs: [(table: TableInfo, file: DataFile)] = []
            for table in try catalog.tables(at: .snapshot(base.id)) {
                for file in try catalog.dataFiles(tableID: table.tableID, at: .snapshot(base.id)) where file.hasDeletes {
                    inputs.append((table, file))
                }
            }
            for (done, input) in inputs.enumerated() {
                progress?(Int64(done), Int64(inputs.count))
                // A signal stops the rewrite between files: the catch deletes what it wrote.
                try Interruption.check()
                // File order kept (no sort): the rewrite changes nothing but the deleted rows; the
                // others keep their row ids, so DuckDB's change feed deletes no row the erasure kept.
                let outputs = try Compaction.rewrite([input.file], table: input.table, sortColumn: nil, options: CompactionOptions(), files: catalog.files,
                                                     parallelism: 1, lineage: catalog.format == .v10 ? .rowIDs : .none).files
                plans.append((input.table, input.file, outputs))
            }
            if !inputs.isEmpty { progress?(Int64(inputs.count), Int64(inputs.count)) }
            let due = try ErasureLog.pending(catalog, before: .distantFuture)
            // Nothing deleted is left in a live file and no erasure waits: nothing to purge, and
            // no reason to expire anyone's history.
            if plans.isEmpty && due.isEmpty {
                try lease.release()
                // A purge that died after its commit (a crash, a kill) before its expiry ended
                // left the snapshots before its own, or files scheduled for deletion, and with
                // them the erased rows' bytes; the erasure reads as purged, so only this rerun
                // finishes it (the expiry is idempotent: a finished purge expires nothing here).
                if let last = try ErasureLog.entries(catalog).compactMap(\.purgeSnapshotID).max(),
                   let purged = try catalog.snapshots().first(where: { $0.id == last }) {
                    phase?(.expire)
                    let vacuum = try expire(catalog, before: purged, progress: expiry)
                    if !vacuum.expiredSnapshots.isEmpty || !vacuum.files.isEmpty {
                        report.snapshotID = purged.id
                        report.expiredSnapshots = vacuum.expiredSnapshots
                        report.filesRemoved = vacuum.files.count
                    }
                }
                // A purge asked for again after one whose scrub was cut short scrubs anew.
                phase?(.scrub)
                report.scrubComplete = try scrub(catalog, after: report.snapshotID)
                return report
            }
            let snap: SnapshotInfo
            if plans.isEmpty {
                // The deleted rows are already out of the live files (a compaction rewrote them):
                // only history still holds them, and expiring it needs no new snapshot.
                snap = try catalog.latestSnapshot()
                try ErasureLog.markPurged(catalog, snapshot: snap.id)
                try lease.release()
                report.snapshotID = snap.id
            } else {
                // The last safe point before the commit. The expiry that follows runs to its end:
                // stopped, it would leave the erased bytes in the history it has yet to expire (a
                // crash there is finished by the next purge). Only the scrub after it stops
                // early (`scrub`), as its rerun is the next purge's.
                try Interruption.check()
                try beforeCommit?()
                snap = try catalog.commit(message: "purge: rewrite files without deleted rows") { tx in
                    var touched = Set<Int64>()
                    for p in plans {
                        let tid = p.table.tableID
                        // The rewrite holds the columns read at `base` (a DuckDB ALTER TABLE
                        // committed meanwhile is a conflict: the purge re-plans with it).
                        try tx.requireSchemaUnchanged(tableID: tid, since: base.id)
                        let live = Set(try tx.currentDataFileIDs(tableID: tid))
                        guard live.contains(p.input.dataFileID), p.input.deletesUnchanged(in: try tx.currentDeleteMarks(tableID: tid)) else {
                            throw CatalogError.conflict(table: p.table.qualifiedName, snapshot: base.id,
                                                        reason: "data file \(p.input.dataFileID) changed while the purge rewrote it; run the purge again")
                        }
                        try tx.requireFilesPresent(p.outputs.map { (p.table.directory.appendingPathComponent($0.relativePath).path, $0.fileSizeBytes) })
                        try tx.removeDataFiles([p.input.dataFileID])
                        try tx.addDataFiles(tableID: tid, p.outputs)
                        touched.insert(tid)
                    }
                    for tid in touched.sorted() { try tx.recomputeTableColumnStats(tableID: tid) }
                    try ErasureLog.markPurged(&tx)
                    try tx.endWrite(lease)
                }.0
                report.snapshotID = snap.id
            }
            report.filesRewritten = plans.count
            try afterCommit?()
            phase?(.expire)
            let vacuum = try expire(catalog, before: snap, progress: expiry)
            report.expiredSnapshots = vacuum.expiredSnapshots
            report.filesRemoved = vacuum.files.count
            phase?(.scrub)
            report.scrubComplete = try scrub(catalog, after: snap.id)
        } catch {
            if report.snapshotID == nil && !Catalog.commitMayHaveLanded(error) {
                // Not committed (an unanswered COMMIT may have committed: its files stay): the rewritten files are debris, and the next attempt needs no lease of ours.
                catalog.files.discard(plans.flatMap { p in p.outputs.map { p.table.directory.appendingPathComponent($0.relativePath).path } })
                try lease.release()
            }
            throw error
        }
        return report
    }

    /// The catalog's scrub, the purge's last step, or its stop: a signal received by now (it
    /// came during the expiry) skips the scrub, and one during the scrub's wait for older
    /// transactions (PostgreSQL, up to `LAKE_SCRUB_WAIT` seconds) ends it; both throw
    /// `PurgeStopped`. What was committed stays, and the purge asked for again scrubs anew.
    static func scrub(_ catalog: Catalog, after snapshot: Int64?) throws -> Bool {
        if let signal = Interruption.received { throw PurgeStopped(signal: signal, snapshot: snapshot) }
        let complete = try catalog.scrubStorage(stopWaiting: { Interruption.received != nil })
        if !complete, let signal = Interruption.received { throw PurgeStopped(signal: signal, snapshot: snapshot) }
        return complete
    }

    /// Every snapshot before the purge's reads the old files: they go, and with them the files
    /// only they read (the half-millisecond covers the snapshot time's rounding to microseconds).
    static func expire(_ catalog: Catalog, before snap: SnapshotInfo, progress: WorkProgress? = nil) throws -> VacuumReport {
        let vacuum = try catalog.expireSnapshots(olderThan: snap.time.addingTimeInterval(0.000_5), keeping: DeletedOrderIDs.keeper,
                                                 progress: progress)
        guard vacuum.failedDeletes.isEmpty else {
            throw MaintenanceError.badOption("the purge could not delete \(vacuum.failedDeletes.count) file(s), e.g. \(vacuum.failedDeletes[0].path); "
                + "fix their permissions and run `lake vacuum` to finish")
        }
        guard vacuum.keptOutsideRoot.isEmpty else {
            throw MaintenanceError.badOption("the purge left \(vacuum.keptOutsideRoot.count) replaced file(s) outside the lake root, e.g. \(vacuum.keptOutsideRoot[0].path) "
                + "(registered by DuckDB's ducklake_add_data_files), which lake never deletes: delete them, or run DuckDB's ducklake_cleanup_old_files, to finish the purge")
        }
        // Vacuum keeps an original whose replacement does not verify; the erased bytes are then still there.
        guard vacuum.keptUnverified.isEmpty else {
            throw MaintenanceError.badOption("the purge kept \(vacuum.keptUnverified.count) original file(s), e.g. \(vacuum.keptUnverified[0].path), "
                + "because a file replacing them did not verify; run `lake verify`, then `lake erase customer … --purge` again")
        }
        return vacuum
    }
}

/// A SIGINT/SIGTERM stopped a purge after its commit and expiry, before or during the catalog's
/// scrub (a stop before the commit is `Interrupted`).
public struct PurgeStopped: Error, CustomStringConvertible, Equatable {
    public let signal: Int32
    /// The purge's snapshot; nil when the stop came in a purge that had nothing to rewrite.
    public let snapshot: Int64?
    public var description: String {
        "stopped by \(Interruption.name(signal)) before the catalog's scrub"
            + (snapshot.map { ": the purge committed (snapshot \($0)) and expired the earlier snapshots and their files" } ?? "")
            + ", but old row versions (an erased id among them) may stay in the catalog's files until it is scrubbed; run the same command again to scrub"
    }
}
