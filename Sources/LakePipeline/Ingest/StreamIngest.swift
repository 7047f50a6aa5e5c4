import Dispatch
import Foundation
import LakeCatalog
import LakeFormat
#if canImport(Glibc)
import Glibc
#endif

/// Set by the process's SIGINT/SIGTERM handler, read through every `StopFlag`. A plain handler
/// storing one word is async-signal-safe and runs on whichever thread the signal reaches. A
/// Dispatch signal source instead blocks the signal and needs a free dispatch thread to see it:
/// a follower under load was seen to miss a SIGTERM that way and run on (the test then hung).
nonisolated(unsafe) private var stopSignalled: sig_atomic_t = 0

/// A stop request shared between signal handlers and the follow loop. The only mutable state
/// the signal handling needs; read between polls and after each commit.
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false

    public init() {}

    public var isSet: Bool { stopSignalled != 0 || lock.withLock { stopped } }
    public func set() { lock.withLock { stopped = true } }

    /// Routes SIGINT and SIGTERM to the stop flag instead of killing the process, so the batch
    /// in flight is committed (or abandoned before its commit) and the process exits normally.
    /// The signals are unblocked on this thread in case the parent left them blocked.
    public func installSignalHandlers(_ signals: [Int32] = [SIGINT, SIGTERM]) {
        _ = stopSignalled  // initialized before any handler can run
        var set = sigset_t()
        sigemptyset(&set)
        for sig in signals {
            sigaddset(&set, sig)
            signal(sig) { _ in stopSignalled = 1 }
        }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}

public struct StreamOptions: Sendable {
    /// Commit once this many lines are pending.
    public var commitEvery = 10_000
    /// Commit pending lines at least this often (seconds), so a slow stream is not held back.
    public var commitInterval: Double = 1.0
    /// How long to wait for the file to grow before looking again.
    public var pollInterval: Double = 0.1
    /// Stop when the end of the file is reached and everything is committed (for tests and
    /// catch-up runs) instead of waiting for more.
    public var stopAtEnd = false
    /// Read the file from its first line, not from its committed checkpoint: for a file that
    /// replaced the one the checkpoint counted (rotated by rename, a new file under the name),
    /// which a restart refuses. Orders already committed are duplicates (kept only in raw).
    public var fromStart = false
    /// How long (seconds) to keep waiting for a catalog server the follower lost (a PostgreSQL
    /// restart or failover) before giving up; 0 gives up at once. Counted from the failure: a
    /// commit that lands starts the count again for the next outage.
    public var reconnectFor: Double = 300
    public var ingest = IngestOptions()
    /// Called each time the follower has read to the end of the file and is about to wait
    /// `pollInterval`: a test acts there while the follower is surely idle (a fixed sleep
    /// guessed wrong on a loaded machine). It may block, which holds the follower idle.
    var onIdle: (@Sendable () -> Void)?

    public init() {}
}

/// Follows a growing orders JSONL file and commits micro-batches. Each commit carries the byte
/// offset just past its last line (`lake_stream_checkpoint`) in the same transaction as its
/// data, so a restart resumes exactly there: nothing committed twice, nothing skipped. A
/// partial last line (no newline yet) is never consumed; it is read again once complete.
public enum StreamIngest {
    /// Runs until `stop` is set (or the end of the file with `stopAtEnd`); `onCommit` sees each
    /// micro-batch's summary. Returns the totals.
    ///
    /// A catalog server that cannot be reached (`Reconnect.isOutage`) is waited for, up to
    /// `options.reconnectFor` seconds per outage, with `onReconnect` told before each wait; then
    /// the follower starts again as a restarted one would, from the checkpoint the lake holds.
    /// That is exactly once even when the outage took a COMMIT's answer: the checkpoint is in
    /// the commit's transaction, so a commit that landed is resumed after and one that did not
    /// is read again (its kept files are vacuum's, as after any unconfirmed commit).
    public static func follow(_ store: LakeStore, path: String, options: StreamOptions = StreamOptions(), stop: StopFlag,
                              onCommit: (IngestRun, StreamPosition) -> Void = { _, _ in },
                              onReconnect: (Reconnect) -> Void = { _ in }) throws -> IngestRun {
        let started = Date()
        var totals = IngestRun(kind: .orders, source: URL(fileURLWithPath: path).lastPathComponent, startedAt: started, finishedAt: started)
        let key = SourceKey(path)
        // What the lake held when we started: a checkpoint of this file newer than it was made
        // by this follower or another one since, and ends `--from-start` (below).
        let startedAt = try store.catalog.latestSnapshot().id
        var outage = OutageWait(window: options.reconnectFor)
        var attemptOptions = options
        // The batch whose COMMIT the outage answered with silence: it may have landed.
        var unconfirmed: String?
        /// Counts the unconfirmed batch if it landed: its lines are in the lake and the lake's
        /// checkpoint is past them, so they are never read again; without this the summary
        /// left them out. Looked up once: a COMMIT still in flight then (a synchronous standby's
        /// wait) is read again and conflicts, and stays out of the totals.
        func settleUnconfirmed() throws {
            guard let batchID = unconfirmed else { return }
            let run = try store.catalog.ingestRun(batchID: batchID)
            // Forgotten before it is counted: an outage in the read below must not count it
            // again on the next attempt.
            unconfirmed = nil
            guard let run else { return }
            add(run, to: &totals)
            // Said as a commit when the lake's checkpoint is still that batch's own.
            if let cp = try store.catalog.streamCheckpoint(source: key.resolved), cp.snapshotID == run.snapshotID {
                onCommit(run, StreamPosition(source: key.resolved, byteOffset: cp.byteOffset, lineNumber: cp.lineNumber,
                                             witness: cp.witness, alias: key.alias))
            }
        }
        while true {
            do {
                try settleUnconfirmed()
                if outage.attempt > 0 {
                    // The lake decides, not what this process saw: a COMMIT whose answer the
                    // outage took may have landed. Once a checkpoint of this file is newer than
                    // our start, reading from line 1 again would put committed lines into raw twice.
                    if attemptOptions.fromStart, let at = try checkpointSnapshot(store, key), at > startedAt { attemptOptions.fromStart = false }
                    // The batch in flight when the server went away may have kept its lease row
                    // (its release failed, or its unconfirmed commit ended it only in memory);
                    // the row names this live process, so vacuum would keep every orphan newer
                    // than it for as long as we run. No batch of this follower is in flight now.
                    try store.catalog.releaseLeasesOfThisProcess(operation: OrderBatch.leaseOperation(sourceName: totals.source))
                }
                try followUntilStopped(store, path: path, options: attemptOptions, stop: stop, onReady: {
                    // The lake answered: an outage later is a new one, with its own window.
                    outage.answered()
                }, onCommit: { summary, position in
                    add(summary, to: &totals)
                    onCommit(summary, position)
                }, onUnconfirmed: { unconfirmed = $0 })
                return finish(totals, started)
            } catch where Reconnect.isOutage(error) {
                try outage.wait(after: error, stop: stop, onReconnect: onReconnect)
                if stop.isSet {
                    // Stopped during the wait: count a batch that landed if the lake answers now.
                    do { try settleUnconfirmed() } catch where Reconnect.isOutage(error) {
                        // Still out of reach: the totals cannot include it; the lake does.
                    }
                    return finish(totals, started)
                }
            }
        }
    }

    /// Opens the follower's lake through `open`, waiting for a catalog server that does not
    /// answer yet (started with it, or restarting) as `follow` waits for one it lost: up to
    /// `reconnectFor` seconds, `onReconnect` told before each wait. Nil when `stop` was set
    /// during a wait.
    public static func opening(_ open: () throws -> LakeStore, reconnectFor: Double, stop: StopFlag,
                               onReconnect: (Reconnect) -> Void = { _ in }) throws -> LakeStore? {
        var outage = OutageWait(window: reconnectFor)
        while true {
            do {
                return try open()
            } catch where Reconnect.isOutage(error) {
                try outage.wait(after: error, stop: stop, onReconnect: onReconnect)
                if stop.isSet { return nil }
            }
        }
    }

    /// The snapshot of the newest checkpoint of the followed file (by its resolved path or the
    /// name it was given), nil when none.
    static func checkpointSnapshot(_ store: LakeStore, _ key: SourceKey) throws -> Int64? {
        let byPath = try store.catalog.streamCheckpoint(source: key.resolved)?.snapshotID
        let byName = try key.alias.flatMap { try store.catalog.streamCheckpoint(source: $0)?.snapshotID }
        return [byPath, byName].compactMap { $0 }.max()
    }

    /// One run of the follower: from the lake's checkpoint until `stop` (or the end of the file
    /// with `stopAtEnd`), or the first error.
    private static func followUntilStopped(_ store: LakeStore, path: String, options: StreamOptions, stop: StopFlag,
                                           onReady: () -> Void, onCommit: (IngestRun, StreamPosition) -> Void,
                                           onUnconfirmed: (_ batchID: String) -> Void) throws {
        let key = SourceKey(path)
        let source = key.resolved
        let name = URL(fileURLWithPath: path).lastPathComponent
        guard FileManager.default.fileExists(atPath: path) else { throw IngestError.failed("\(path): no such file") }
        // Checkpoints are byte offsets into a file read again after a restart: a pipe or FIFO has
        // neither. Asked of the path before it is opened: opening a FIFO no one writes to waits
        // for a writer, and the follower hung there, deaf to SIGTERM and SIGINT.
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG, try SourceInput.open(path).isRegularFile else {
            throw IngestError.failed("\(VisibleText.escape(path)): --follow needs a regular file (it resumes at a byte offset); ingest a pipe or FIFO without --follow")
        }
        // State re-read from the lake on start and after a conflict: the checkpoint, the
        // product catalog and the committed order ids. Between commits the dedupe set is kept
        // up to date from what we committed ourselves.
        var base = try store.catalog.latestSnapshot()
        var products = try ProductSource.current(store, at: .snapshot(base.id), for: .orders)
        // The snapshot `products` was read at: a catalog ingested since is read before the next
        // micro-batch. Before session 21 a follower kept its starting catalog until it
        // restarted: orders of a product the new catalog added were unknown_product, the
        // others enriched with the old prices and categories.
        var productsAt = base.id
        var committed = try OrderIDIndex.load(store, at: base.id)
        let start = StreamPosition(source: source, byteOffset: 0, lineNumber: 0, alias: key.alias)
        var position = options.fromStart ? start : try resume(store, source: key)
        // Whether the lake's checkpoint of this source describes the file followed now: not
        // with --from-start until a commit (ours, or another follower's since we started).
        var checkpointIsCurrent = !options.fromStart
        var tail = try Tail(path: path, offset: position.byteOffset, lineNumber: position.lineNumber, witness: position.witness)
        var checkedHead = position.byteOffset > 0
        // The file's first bytes can already tell a compressed file or a JSON array, even
        // before its first line ends (a one-line `[{…}]` with no newline was waited on as an
        // unfinished line for as long as the follower ran).
        if !checkedHead { try OrderIngest.checkLooksLikeJSONLines(path) }
        var backoff = ConflictBackoff(options.ingest)
        onReady()
        /// Moves the state to `latest`: the committed ids as they are now (ours, others', any
        /// merge our commit did; runs already held are reused, so this reads only the runs
        /// written since the last load), and the product catalog when it changed.
        /// `ours`: the snapshot this follower just committed; when it is the only one since the
        /// catalog was read (ids are consecutive), the catalog is not looked at (no statement
        /// more per micro-batch on PostgreSQL, where each is a round trip).
        func refresh(to latest: SnapshotInfo, ours: Int64? = nil) throws {
            committed = try OrderIDIndex.load(store, at: latest.id, reusing: committed)
            if latest.id != ours || ours != productsAt + 1, let table = try store.catalog.tableIfPresent(.curatedProducts, at: .snapshot(latest.id)),
               try store.catalog.tableChanged(tableID: table.tableID, after: productsAt) {
                products = try ProductSource.current(store, at: .snapshot(latest.id), for: .orders)
            }
            productsAt = latest.id
            base = latest
        }

        while true {
            // Per micro-batch: a `lake schema migrate` between batches changes what is emitted.
            let rules = try store.orderRules()
            var batch = try OrderBatch(store: store, base: base, products: products, rules: rules, committed: committed,
                                       sourceName: name, options: options.ingest)
            var pending = 0
            let batchStart = Date()
            var end = position
            var atEnd = false
            // Set when the lake moved on while this batch had no line yet: it starts again from there.
            var movedOn: SnapshotInfo?
            // The state was just read (start, a commit, a redo): no need to look again before the first read.
            var fresh = true
            while true {
                // Before this batch's first line: a commit since its base (a new product catalog,
                // another writer's orders) is read first, so the batch validates against the lake
                // as it is when its lines arrive, not as it was when the last batch committed.
                if pending == 0, !fresh, case let latest = try store.catalog.latestSnapshot(), latest.id != base.id {
                    movedOn = latest
                    break
                }
                let room = options.commitEvery - pending
                let got = try tail.read(maxLines: room) { line in
                    try batch.add(line)
                }
                fresh = false
                if !checkedHead && got > 0 {
                    // A CSV or JSON array is refused before anything is committed, as in `ingest orders`.
                    try OrderIngest.checkLooksLikeJSONLines(path)
                    checkedHead = true
                }
                pending += got
                end = StreamPosition(source: source, byteOffset: tail.offset, lineNumber: tail.lineNumber, witness: tail.consumedWitness, alias: key.alias)
                atEnd = got < room
                if pending >= options.commitEvery { break }
                if pending > 0 && (Date().timeIntervalSince(batchStart) >= options.commitInterval || stop.isSet) { break }
                if stop.isSet || (atEnd && options.stopAtEnd && pending == 0) { return }
                if atEnd && options.stopAtEnd { break }
                if atEnd {
                    options.onIdle?()
                    Thread.sleep(forTimeInterval: options.pollInterval)
                }
            }
            if let movedOn {
                batch.discardWritten()
                let previous = base.id
                try refresh(to: movedOn)
                // Another follower of this file may be among those commits: then our offset is
                // behind its checkpoint, and reading on from it would validate its lines again
                // (duplicates in raw, the checkpoint moved back). Resume where it committed, as
                // after a conflict; the commit's own check only sees checkpoints past our base.
                if let cp = try store.catalog.streamCheckpoint(source: source), cp.snapshotID > previous {
                    position = StreamPosition(source: source, byteOffset: cp.byteOffset, lineNumber: cp.lineNumber, witness: cp.witness, alias: key.alias)
                    tail = try Tail(path: path, offset: position.byteOffset, lineNumber: position.lineNumber, witness: position.witness)
                    checkpointIsCurrent = true
                }
                continue
            }
            let summary: IngestRun
            do {
                summary = try batch.commit(ledger: nil, checkpoint: end, sourceBytes: end.byteOffset - position.byteOffset)
            } catch IngestError.conflict(let table) {
                // Someone else committed orders (or followed this file) meanwhile: reload what
                // the lake now holds and redo this micro-batch from the last committed offset.
                batch.discardWritten()
                if !backoff.retry(stopping: { stop.isSet }) { throw try backoff.exhausted(table, catalog: store.catalog) }
                // Stopped during the pause: end as at any stop, with what is committed.
                if stop.isSet { return }
                base = try store.catalog.latestSnapshot()
                products = try ProductSource.current(store, at: .snapshot(base.id), for: .orders)
                productsAt = base.id
                committed = try OrderIDIndex.load(store, at: base.id, reusing: committed)
                position = checkpointIsCurrent ? try resume(store, source: key) : start
                tail = try Tail(path: path, offset: position.byteOffset, lineNumber: position.lineNumber, witness: position.witness)
                continue
            } catch {
                // Not committed (see `OrderIngest`): the micro-batch's files go with it.
                if Catalog.commitMayHaveLanded(error) { onUnconfirmed(batch.batchID) } else { batch.discardWritten() }
                throw error
            }
            // Committed: from here on nothing may discard the batch's files. The reads below
            // can fail (the server gone right after COMMIT answered); the commit stands.
            position = end
            checkpointIsCurrent = true
            backoff = ConflictBackoff(options.ingest)
            onCommit(summary, end)
            try refresh(to: try store.catalog.latestSnapshot(), ours: summary.snapshotID)
            if stop.isSet || (atEnd && options.stopAtEnd) { return }
        }
    }

    /// Where a followed file's checkpoint is kept: under the file's path with symlinks
    /// resolved, so following it through a symlink, or by a path through a symlinked
    /// directory, resumes where the other name left off. Until session 22 the key was the path
    /// as given (made absolute, `..` removed): a symlink started again at line 1 (every line
    /// again, as duplicates). A commit by a symlink saves the checkpoint under both paths and a
    /// restart takes the newer of the two: a checkpoint an older build keyed by the symlink is
    /// still found, and a link pointed at another file since is compared with what was
    /// committed through it (refused, as a rotation is). A hard link is another name of the
    /// same inode and keeps its own checkpoint (the follower follows names).
    struct SourceKey {
        let resolved: String
        let given: String
        var alias: String? { given == resolved ? nil : given }

        init(_ path: String) {
            given = URL(fileURLWithPath: path).standardizedFileURL.path
            if let r = realpath(path, nil) {
                resolved = String(cString: r)
                free(r)
            } else {
                resolved = given  // the open that follows says why the file cannot be read
            }
        }
    }

    static func resume(_ store: LakeStore, source: SourceKey) throws -> StreamPosition {
        var cp = try store.catalog.streamCheckpoint(source: source.resolved)
        if let alias = source.alias, let byName = try store.catalog.streamCheckpoint(source: alias), byName.snapshotID >= cp?.snapshotID ?? 0 {
            cp = byName
        }
        return StreamPosition(source: source.resolved, byteOffset: cp?.byteOffset ?? 0, lineNumber: cp?.lineNumber ?? 0, witness: cp?.witness,
                              alias: source.alias)
    }

    /// What the followed file holds past its committed checkpoint, for the follower to say
    /// when it stops: a last line whose newline never came (the writer finished without one)
    /// waits there for ever, and exit 0 alone would read as "all ingested". nil when nothing.
    public static func unconsumed(_ store: LakeStore, path: String) throws -> UnconsumedTail? {
        let position = try resume(store, source: SourceKey(path))
        var st = stat()
        guard stat(path, &st) == 0, Int64(st.st_size) > position.byteOffset else { return nil }
        let file: FileDescriptor
        do { file = try FileDescriptor(opening: path, flags: O_RDONLY) } catch { throw IngestError.failed(error.description) }
        // Whether a line end follows: only the first bytes are looked at (a line is at most `Tail.maxLine`).
        let count = Int(min(Int64(st.st_size) - position.byteOffset, Int64(Tail.chunk)))
        var head = [UInt8](repeating: 0, count: count)
        let n = head.withUnsafeMutableBytes { Glibc.pread(file.raw, $0.baseAddress, count, off_t(position.byteOffset)) }
        if n < 0 { throw IngestError.failed("\(path): read failed (\(errnoText(errno)))") }
        return UnconsumedTail(position: position, bytes: Int64(st.st_size) - position.byteOffset,
                              hasLineEnd: head[0 ..< n].contains(UInt8(ascii: "\n")))
    }

    static func add(_ s: IngestRun, to t: inout IngestRun) {
        t.records += s.records
        t.accepted += s.accepted
        t.quarantined += s.quarantined
        t.duplicates += s.duplicates
        for (k, v) in s.rejects { t.rejects[k, default: 0] += v }
        for (k, v) in s.unknownFields { t.unknownFields[k, default: 0] += v }
        t.filesWritten += s.filesWritten
        t.bytesWritten += s.bytesWritten
        t.sourceBytes += s.sourceBytes
        t.partitions = max(t.partitions, s.partitions)
        t.snapshotID = s.snapshotID
    }

    static func finish(_ t: IngestRun, _ started: Date) -> IngestRun {
        var t = t
        t.finishedAt = Date()
        t.seconds = t.finishedAt.timeIntervalSince(started)
        return t
    }
}

/// A follower's wait for a catalog server it lost, told before each wait.
public struct Reconnect: Sendable {
    /// What failed, as the catalog said it.
    public var error: String
    /// 1 for the first wait of this outage.
    public var attempt: Int
    /// Seconds until the next try.
    public var wait: Double
    /// When the follower gives up if the server still does not answer.
    public var giveUpAt: Date

    /// Whether `error` is a catalog server out of reach (a refused or lost connection, a COMMIT
    /// whose answer the lost connection took), which waiting can cure. Everything else (a
    /// conflict past its retries, bad input, a full disk, a SQLite I/O error) ends the follower.
    public static func isOutage(_ error: any Error) -> Bool {
        if case CatalogError.unreachable? = error as? CatalogError { return true }
        if let e = error as? CommitOutcomeUnknown { return e.connectionLost }
        if let e = error as? SQLError { return e.kind == .connection }
        return false
    }

    /// Whether `error` is the catalog's server refusing the login (`CatalogError.loginRefused`).
    public static func isLoginRefusal(_ error: any Error) -> Bool {
        if case CatalogError.loginRefused? = error as? CatalogError { return true }
        if let e = error as? SQLError { return e.kind == .loginRefused }
        return false
    }
}

/// One outage of a follower's catalog server and the waits it has cost: 0.5 s doubling to 30 s
/// apart (a restart is caught within a second, a long failover costs the server a connection
/// attempt every half minute), for at most `window` seconds from its first failure.
struct OutageWait {
    let window: Double
    private var since: Date?
    private(set) var attempt = 0

    init(window: Double) { self.window = window }

    /// The server answered: a later failure starts a new outage, with its own window.
    mutating func answered() {
        since = nil
        attempt = 0
    }

    /// Waits before the next try after `error`, an outage, until then or until `stop` is set;
    /// throws when the window is over (`error` itself for a window of 0).
    mutating func wait(after error: any Error, stop: StopFlag, onReconnect: (Reconnect) -> Void) throws {
        guard window > 0 else { throw error }
        let now = Date()
        let since = self.since ?? now
        self.since = since
        let giveUpAt = since.addingTimeInterval(window)
        let text = String(describing: error)
        guard now < giveUpAt else { throw IngestError.catalogUnreachable(text, waited: now.timeIntervalSince(since)) }
        attempt += 1
        let wait = min(30, 0.5 * Double(1 << min(attempt - 1, 6)), giveUpAt.timeIntervalSince(now))
        onReconnect(Reconnect(error: text, attempt: attempt, wait: wait, giveUpAt: giveUpAt))
        let until = Date().addingTimeInterval(wait)
        while Date() < until && !stop.isSet { Thread.sleep(forTimeInterval: min(0.1, until.timeIntervalSinceNow)) }
    }
}

/// Bytes of a followed file past its committed checkpoint when the follower stopped.
public struct UnconsumedTail: Sendable, Equatable {
    public var position: StreamPosition
    public var bytes: Int64
    /// False: only the start of a line is there, no newline yet.
    public var hasLineEnd: Bool
}

/// Reads complete lines of a file from a byte offset on, as the file grows. Only lines ending
/// in a newline are handed out; the bytes of a partial last line stay unconsumed (and are read
/// again, whole, once its newline arrives).
struct Tail: ~Copyable {
    let path: String
    private let file: FileDescriptor
    private var fd: Int32 { file.raw }
    private var buffer: [UInt8] = []
    /// Offset in the file of buffer[0], i.e. just past the last consumed newline.
    private(set) var offset: Int64
    private(set) var lineNumber: Int64
    /// The last bytes read (up to `witnessBytes`, ending where the next read starts), compared
    /// with what the file holds there before every read: a file truncated and rewritten in place
    /// (`copytruncate` rotation) differs there, where a size check alone is fooled once it regrew.
    private var witness: [UInt8] = []
    /// The last bytes consumed (up to `witnessBytes`, ending at `offset`): what a checkpoint
    /// at `offset` records a digest of.
    private var consumed: [UInt8] = []
    static let witnessBytes = 64
    /// The file's first bytes (up to `headBytes`), as read. The line end's last bytes alone let a
    /// new file pass for the old one when it has a line end at the same offset after the same 64
    /// bytes, which order lines' long shared endings made happen about once in 6,700 rotations
    /// (its lines before the offset then never read, exit 0); the start of the file tells them apart.
    private var head: [UInt8] = []
    static let headBytes = 4096
    /// Where each read lands before joining `buffer`: allocated once, not a zeroed 1 MiB per
    /// read (a follower reads at least every poll interval, 0.1 s by default).
    private var scratch = [UInt8](repeating: 0, count: Tail.chunk)
    static let chunk = 1 << 20
    static let maxLine = LineReader.maxLineBytes

    /// `witness`: the digest the checkpoint at `offset` recorded, when it recorded one.
    init(path: String, offset: Int64, lineNumber: Int64, witness expected: StreamWitness? = nil) throws {
        self.path = path
        let file: FileDescriptor
        do { file = try FileDescriptor(opening: path, flags: O_RDONLY) } catch { throw IngestError.failed(error.description) }
        var st = stat()
        if fstat(file.raw, &st) == 0, Int64(st.st_size) < offset {
            throw IngestError.failed("\(path) is shorter (\(st.st_size) bytes) than the committed checkpoint (\(offset)): the file was truncated or replaced; nothing was committed. \(Self.replacedHint)")
        }
        if lseek(file.raw, off_t(offset), SEEK_SET) < 0 { throw IngestError.failed("\(path): cannot seek to \(offset)") }
        // A checkpoint lies just past a newline: anything else there means the file under this
        // name is not the one the checkpoint counted (replaced or rewritten), and reading on
        // would start inside a line of different content.
        let before = offset > 0 ? try Self.pread(file.raw, path: path, count: Int(min(offset, Int64(Self.witnessBytes))), endingAt: offset) : []
        if let last = before.last, last != UInt8(ascii: "\n") {
            throw IngestError.failed("\(path): the committed checkpoint (byte \(offset), line \(lineNumber)) does not follow a line end in this "
                + "file: it was replaced or rewritten since; nothing was committed. \(Self.replacedHint)")
        }
        // A line end there is not enough: a new file (rotated while no follower ran) can have
        // one at the same offset by chance, or always when its lines have one length.
        let head = offset > 0 ? try Self.pread(file.raw, path: path, count: Int(min(offset, Int64(Self.headBytes))), endingAt: min(offset, Int64(Self.headBytes))) : []
        if let expected {
            // A checkpoint committed before session 29 digests the bytes before it only.
            let legacy = expected.byteCount == Int64(before.count)
            if (legacy ? Self.witness(of: before) : Self.witness(of: head + before)) != expected {
                throw IngestError.failed("\(path): the file's first bytes or the ones before the committed checkpoint (byte \(offset), line \(lineNumber)) "
                    + "are not the ones committed there: the file was replaced or rewritten since (rotated?); nothing was committed. \(Self.replacedHint)")
            }
        }
        self.file = file
        self.offset = offset
        self.lineNumber = lineNumber
        self.head = head
        witness = before
        consumed = before
    }

    /// What to do about a file that is not the one its checkpoint counted.
    static let replacedHint = "If it is a new file (rotated), ingest what the old one held past the checkpoint "
        + "(`lake ingest orders OLD-FILE`: its committed orders count as duplicates), then follow this one with --from-start"

    /// The digest a checkpoint at `offset` records (nil at the start of the file).
    var consumedWitness: StreamWitness? {
        consumed.isEmpty ? nil : Self.witness(of: Array(head.prefix(Int(min(offset, Int64(Self.headBytes))))) + consumed)
    }

    static func witness(of bytes: [UInt8]) -> StreamWitness {
        var hash = SHA256()
        hash.update(bytes)
        return StreamWitness(byteCount: Int64(bytes.count), sha256: SHA256.hex(hash.finalize()))
    }

    /// Hands out up to `maxLines` complete lines available now; returns how many.
    mutating func read(maxLines: Int, _ body: (Line) throws -> Void) throws -> Int {
        var count = 0
        while count < maxLines {
            // Complete lines already buffered.
            var start = 0
            let consumed: Int = try buffer.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                while count < maxLines, start < raw.count,
                      let nl = memchr(base + start, 10, raw.count - start) {
                    let end = base.distance(to: UnsafeRawPointer(nl))
                    var stop = end
                    if stop > start && raw[stop - 1] == 13 { stop -= 1 }
                    lineNumber += 1
                    // A byte-order mark opening the file is not part of line 1 (as in LineReader).
                    var first = start
                    if offset == 0 && start == 0 && stop >= 3 && raw[0] == 0xEF && raw[1] == 0xBB && raw[2] == 0xBF { first = 3 }
                    try body(Line(bytes: UnsafeRawBufferPointer(start: base + first, count: stop - first),
                                  number: Int(lineNumber), offset: offset + Int64(first)))
                    start = end + 1
                    count += 1
                }
                return start
            }
            if consumed > 0 {
                self.consumed = Self.lastBytes(self.consumed, then: buffer[0 ..< consumed])
                buffer.removeFirst(consumed)
                offset += Int64(consumed)
            }
            if count >= maxLines { break }
            if buffer.count > Self.maxLine {
                throw IngestError.wrongFormat(path: path, line: Int(lineNumber + 1), detail: "a line longer than \(Self.maxLine) bytes: not JSON Lines")
            }
            // Need more bytes: read what the file has now; none means wait for the writer.
            try requireUnchanged()
            let fd = self.fd
            let n = scratch.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, Self.chunk) }
            if n < 0 {
                if errno == EINTR { continue }
                throw IngestError.failed("\(path): read failed (errno \(errno))")
            }
            if n == 0 {
                try requireStillNamed()
                break
            }
            // `head` holds the file's bytes up to the read position until it is full.
            let position = offset + Int64(buffer.count)
            if position < Self.headBytes && Int64(head.count) == position {
                head.append(contentsOf: scratch[0 ..< min(n, Self.headBytes - Int(position))])
            }
            buffer.append(contentsOf: scratch[0 ..< n])
            witness = Self.lastBytes(witness, then: scratch[0 ..< n])
        }
        return count
    }

    /// The last `witnessBytes` of `previous` followed by `new`.
    private static func lastBytes(_ previous: [UInt8], then new: ArraySlice<UInt8>) -> [UInt8] {
        new.count >= witnessBytes ? Array(new.suffix(witnessBytes)) : Array((previous + new).suffix(witnessBytes))
    }

    /// The bytes before the read position are still the ones we read. Truncated in place, our
    /// descriptor would read on at its old position once the file regrew, starting inside a line
    /// and skipping every line before that position: the follower stops instead, uncommitted.
    /// The file's first bytes are checked too: rewritten with the same 64 bytes before the read
    /// position, the file passed.
    private func requireUnchanged() throws {
        guard !witness.isEmpty else { return }
        let position = offset + Int64(buffer.count)
        let now = try Self.pread(fd, path: path, count: witness.count, endingAt: position)
        let start = try Self.pread(fd, path: path, count: head.count, endingAt: Int64(head.count))
        if now != witness || start != head {
            throw IngestError.failed("\(path) was truncated or rewritten while followed (rotated with copytruncate?): the "
                + "\(now != witness ? "\(witness.count) bytes before byte \(position)" : "file's first \(head.count) bytes") changed; "
                + "the micro-batch in flight was not committed. \(Self.replacedHint)")
        }
    }

    /// At the end of what the file holds: the name must still lead to the file we read. Replaced
    /// (renamed away, a new file created under the name), the new lines would never be seen.
    private func requireStillNamed() throws {
        var ours = stat(), named = stat()
        guard fstat(fd, &ours) == 0 else { throw IngestError.failed("\(path): cannot stat the followed file (errno \(errno))") }
        if stat(path, &named) != 0 || named.st_ino != ours.st_ino || named.st_dev != ours.st_dev {
            throw IngestError.failed("\(path) was replaced or removed while followed (rotated?): the lines written to the new file "
                + "would never be read; the micro-batch in flight was not committed. \(Self.replacedHint)")
        }
    }

    /// The `count` bytes of the file before `end` (fewer when the file is shorter now).
    private static func pread(_ fd: Int32, path: String, count: Int, endingAt end: Int64) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress! + done, count - done, off_t(end - Int64(count) + Int64(done))) }
            if n < 0 {
                if errno == EINTR { continue }
                throw IngestError.failed("\(path): read failed (errno \(errno))")
            }
            if n == 0 { break }
            done += n
        }
        return Array(out[0 ..< done])
    }
}
