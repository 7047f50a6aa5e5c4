import Foundation
import LakeCatalog
import LakeFormat

/// How an ingest reports progress: bytes of the source read so far, and its size.
public typealias IngestProgress = (_ done: Int64, _ total: Int64) -> Void

public struct IngestOptions: Sendable {
    /// Parquet settings for the segments (zstd level, row-group size).
    public var parquet = ParquetWriteOptions()
    /// Lines validated between hand-offs to the writers (bounds memory).
    public var drainEvery = 100_000
    /// Bytes of line text validated between hand-offs, whatever the line count: the drain's
    /// string columns have Int32 offsets, so a line-by-line read (one thread, a follower) of
    /// long lines must hand off well before 2 GiB (lines are at most 64 MiB each). About what
    /// `drainEvery` ordinary lines hold (100,000 of ~370 bytes), not 1 GiB: a drain is held
    /// several times over (the validated text, the raw column, its pages, their compressed
    /// copies), and at 1 GiB a follower of 50 MB lines in one partition peaked at 4.9 GB RSS
    /// where a whole-file ingest of the same file, drained per chunk, peaked at 1.05 GB.
    public var drainBytes = 64 << 20
    /// Whole-ingest retries when another writer commits to the same tables meanwhile, each
    /// after a jittered, doubling pause (`ConflictBackoff`), within `conflictRetryBudget` seconds.
    public var conflictRetries = 12
    public var conflictRetryBudget: TimeInterval = 120
    /// Threads that parse and validate chunks of a whole-source ingest at once; 1 reads and
    /// validates line by line on the calling thread (the serial reference).
    public var parallelism = ProcessInfo.processInfo.activeProcessorCount
    /// Bytes per line-aligned chunk handed to one validation thread (settable so tests can put
    /// chunk boundaries between duplicates).
    public var chunkBytes = 8 << 20
    /// Tests only: every order id of the batch gets this fingerprint in the batch's id set, to
    /// prove that ids are told apart by their bytes, never by the fingerprint alone.
    var forcedIDFingerprint: UInt64? = nil

    public init() {
        // Segments stay open per partition while the source streams by: end row groups at a few
        // MB so memory stays flat however the rows spread over partitions.
        parquet.rowGroupBytes = 1 << 20
        // zstd level 1, not the writer's default 3: on 1 M orders the lake is 3.0 % larger
        // (87.1 MB against 84.5 MB) and zstd's share of the run's CPU drops from 16.6 % to 13.2 %.
        // Compaction rewrites small files at the default level.
        parquet.compression = .zstd(level: 1)
    }
}

public enum OrderIngest {

    /// Ingests an orders JSONL source as one atomic snapshot: a file, a pipe, a FIFO,
    /// `/dev/stdin` or "-" for standard input, each read once to its end (`SourceInput`).
    public static func run(_ store: LakeStore, path: String, options: IngestOptions = IngestOptions(),
                           progress: IngestProgress? = nil) throws -> IngestRun {
        var backoff = ConflictBackoff(options)
        while true {
            let input = try SourceInput.openForIngest(path)
            do {
                return try attemptIngest(store, input: input, options: options, progress: progress)
            } catch IngestError.conflict(let table) {
                // A regular file is read again from a new base; a pipe's bytes are gone.
                if !input.isRegularFile {
                    throw IngestError.failed("\(VisibleText.escape(path)): another writer committed to \(table) while this ingest read "
                        + "a stream; a stream cannot be read twice, so nothing was committed: send the data again")
                }
                if !backoff.retry() { throw try backoff.exhausted(table, catalog: store.catalog) }
            }
        }
    }

    private static func attemptIngest(_ store: LakeStore, input: SourceInput, options: IngestOptions,
                                      progress: IngestProgress?) throws -> IngestRun {
        let started = Date()
        var clock = PhaseClock("orders")
        let name = input.name
        func alreadyIngested(_ snapshot: Int64) -> IngestRun {
            .alreadyIngested(kind: .orders, source: name, startedAt: started, at: snapshot)
        }
        // A regular file of a size the ledger has is hashed before the work, so content already
        // committed costs one read, not an ingest. Any other file is read once: its hash is
        // computed while it is parsed and checked below, and again in the commit's transaction.
        input.hashesLegacy = try store.catalog.ledgerHasHashes(kind: .orders, prefix: ContentHasher.legacyPrefix)
        if input.isRegularFile, let size = input.sizeHint, try store.catalog.ledgerHasSource(kind: .orders, bytes: size),
           let entry = try store.catalog.ledgerEntry(kind: .orders, identity: try ContentHash.file(input.path, legacy: input.hashesLegacy)) {
            return alreadyIngested(entry.snapshotID)
        }
        clock.lap("content pre-hash")
        let size = input.sizeHint ?? 0
        let base = try store.catalog.latestSnapshot()
        let products = try ProductSource.current(store, at: .snapshot(base.id), for: .orders)
        let committed = try OrderIDIndex.load(store, at: base.id)
        let rules = try store.orderRules()
        var batch = try OrderBatch(store: store, base: base, products: products, rules: rules, committed: committed,
                                   sourceName: name, options: options, started: started)
        clock.lap("setup (catalog, committed ids)")
        let lines: Int
        do {
            lines = options.parallelism > 1
                ? try readInParallel(input, into: &batch, options: options, progress: progress)
                : try readSerially(input, into: &batch, progress: progress)
        } catch {
            // A read that fails late (a line too long, the file changed under the read, EIO)
            // had files open in every partition it met: their temp names stayed behind, since
            // the CLI exits before the writers are released (session 15 probe: 13,729 after a
            // line too long at the end of 60,000 orders).
            batch.discardWritten()
            throw error
        }
        clock.lap("read, validate, settle (last chunk handed to the writers)")
        let bytes = input.bytesRead
        progress?(bytes, max(size, bytes))
        // Bytes but no line: a lone byte-order mark, which the reader skips. Refused as an empty
        // input is, not committed as a snapshot of nothing (a BOM-only CSV is refused too).
        if bytes == 0 || lines == 0 {
            try batch.abandon()
            throw IngestError.emptyInput(path: input.path, bytes: Int64(bytes))
        }
        // The ledger records the hash of exactly the bytes validated above (a regular file
        // changed since the pre-check is recorded as read).
        let identity = input.contentIdentity
        if let entry = try store.catalog.ledgerEntry(kind: .orders, identity: identity) {
            try batch.abandon()
            return alreadyIngested(entry.snapshotID)
        }
        do {
            try Interruption.check()
            return try batch.commit(ledger: (identity, bytes), checkpoint: nil, sourceBytes: bytes)
        } catch {
            // Segments are published only as the commit closes them: a failure from there on
            // (ENOSPC or EIO closing them, a refused or failed transaction, a conflict this run
            // retries) leaves files no snapshot names, removed here unless the commit may stand.
            if !Catalog.commitMayHaveLanded(error) { batch.discardWritten() }
            throw error
        }
    }
}

extension OrderIngest {
    /// The serial reference: one line at a time on this thread.
    /// Returns how many lines it read (blank ones too).
    private static func readSerially(_ input: SourceInput, into batch: inout OrderBatch, progress: IngestProgress?) throws -> Int {
        let size = input.sizeHint ?? 0
        let reader = LineReader(input)
        var lastReport: Int64 = 0
        var format = FormatCheck(path: input.path)
        var lines = 0
        try reader.forEachLine { line in
            lines += 1
            try format.check(line)
            try batch.add(line)
            if let progress, line.offset - lastReport >= 1 << 20 {
                lastReport = line.offset
                progress(line.offset, size)
            }
        }
        return lines
    }

    /// Returns how many lines it read. Both cores: the source is cut into line-aligned chunks (`LineChunker`) on a reading
    /// thread, each chunk is parsed and validated on one of `parallelism` threads by its own
    /// validator that defers the batch's first-occurrence check, and the chunks' claims are
    /// settled on this thread in line order (`settleClaims`) before the rows go to the writers;
    /// the three run at once (`ChunkPipeline`). Everything a line's outcome depends on besides
    /// earlier lines' claims (its own content, the product catalog, the committed ids) is
    /// read-only, so the result is the serial run's, row for row.
    private static func readInParallel(_ input: SourceInput, into batch: inout OrderBatch, options: IngestOptions,
                                       progress: IngestProgress?) throws -> Int {
        var lines = 0
        let size = input.sizeHint ?? 0
        let chunker = LineChunker(input, chunkBytes: options.chunkBytes, keep: options.parallelism + 2)
        if size > 0 { batch.reserveClaims(sourceBytes: size) }
        let workers = (0 ..< options.parallelism).map { _ in ChunkValidator(batch.deferredValidator(expectedLines: options.chunkBytes / 300)) }
        var format = FormatCheck(path: input.path)
        var clock = PhaseClock("orders")
        defer { clock.reportSpans() }
        // One chunk per validator read and not yet consumed, the memory of the former rounds:
        // with one more, a 3 M-order file peaked at 951-1,010 MB RSS against 816 MB (the goal
        // is 1 GiB), and the writers, not the validators, set the pace.
        try ChunkPipeline<(ValidatedOrders, SchemaBehindLine?)>.run(
            window: workers.count, validators: workers.count, tally: batch.tally,
            read: { try chunker.next() },
            validate: { workers[$0].validate($1) }
        ) { chunk, result in
            try clock.span("settle, hand to writers") {
                // The format is judged at the first non-blank line, before anything is written.
                if !format.decided { try chunk.forEachLine { try format.check($0) } }
                // The earliest chunk's first v2 line is the serial run's first.
                if let behind = result.1 { throw IngestError.behind(behind, source: batch.name) }
                try batch.add(validated: result.0)
            }
            lines += chunk.lineCount
            progress?(chunk.offset + Int64(chunk.bytes.count), size)
        }
        return lines
    }

    /// The first non-blank line of JSON Lines starts with "{": a CSV or JSON array handed to
    /// `ingest orders` fails there, before anything is written.
    private struct FormatCheck {
        let path: String
        private(set) var decided = false

        init(path: String) { self.path = path }

        mutating func check(_ line: Line) throws {
            guard !decided, let first = line.bytes.first(where: { $0 != 32 && $0 != 9 }) else { return }
            decided = true
            if first != UInt8(ascii: "{") {
                throw IngestError.wrongFormat(path: path, line: line.number, detail: OrderIngest.notJSONLines(line.bytes, path: path))
            }
        }
    }

    /// One thread's validator, reused chunk after chunk (its column reservations carry over).
    private final class ChunkValidator: @unchecked Sendable {
        // Touched only by the one parallelMap task with this worker's index.
        private var validator: OrderValidator

        init(_ validator: OrderValidator) { self.validator = validator }

        func validate(_ chunk: LineChunk) -> (ValidatedOrders, SchemaBehindLine?) {
            chunk.forEachLine { validator.add($0) }
            return (validator.drain(), validator.schemaBehind)
        }
    }

    /// Why a source whose first non-blank line `line` does not start with "{" is refused: its
    /// start, and what to do when it is a JSON array (an export of `[{…}, {…}]`).
    static func notJSONLines(_ line: some Collection<UInt8>, path: String) -> String {
        let text = VisibleText.escape(bytes: Array(line.prefix(60)))
        var detail = "not JSON Lines (one order object per line): the input starts with \"\(text)\""
        if line.first(where: { $0 != 32 && $0 != 9 }) == UInt8(ascii: "[") {
            detail += "; a JSON array: write its objects one per line first, e.g. `jq -c '.[]' '\(VisibleText.escape(path))' | lake ingest orders -`"
        }
        return detail
    }

    /// For a followed file (`StreamIngest`, a regular file read again by offset): a CSV or
    /// JSON array fails before anything is committed: the first non-blank line of JSON Lines
    /// starts with "{" (after a byte-order mark, if any).
    static func checkLooksLikeJSONLines(_ path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw IngestError.failed("\(VisibleText.escape(path)): cannot open") }
        defer { try? handle.close() }
        var head = [UInt8](handle.readData(ofLength: 4096))
        if let format = CompressionFormat.detect(head) { throw IngestError.failed(format.refusal(path: path)) }
        if head.starts(with: [0xEF, 0xBB, 0xBF]) { head.removeFirst(3) }
        var line = 1
        for (i, b) in head.enumerated() {
            if b == UInt8(ascii: "\n") { line += 1; continue }
            if b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\r") { continue }
            if b == UInt8(ascii: "{") { return }
            throw IngestError.wrongFormat(path: path, line: line, detail: notJSONLines(head[i...].prefix { $0 != UInt8(ascii: "\n") }, path: path))
        }
    }
}

/// Seconds from event time to commit: p50, p95, max over the accepted records, exactly (every
/// event time kept and sorted). The ingest uses `LatencySketch`; this is its reference in tests.
struct LatencyStats {
    var p50: Double?, p95: Double?, max: Double?

    init(eventTimes: inout [Int64], commitMicros: Int64) {
        guard !eventTimes.isEmpty else { return }
        eventTimes.sort()
        func at(_ q: Double) -> Double {
            let i = Swift.min(eventTimes.count - 1, Int((Double(eventTimes.count - 1) * q).rounded()))
            return Double(commitMicros - eventTimes[i]) / 1e6
        }
        // The oldest event has the longest wait: p50 is the median event, p95 the 5th percentile of times.
        p50 = at(0.5)
        p95 = at(0.05)
        max = Double(commitMicros - eventTimes[0]) / 1e6
    }
}

/// The ledger identity of a regular file (`ContentHasher` over all its bytes), computed
/// before an ingest to skip content already committed.
enum ContentHash {
    static func file(_ path: String, legacy: Bool = false) throws -> SourceIdentity {
        let input = try SourceInput.open(path)
        input.hashesLegacy = legacy
        let chunk = UnsafeMutableRawPointer.allocate(byteCount: 4 << 20, alignment: 16)
        defer { chunk.deallocate() }
        while try input.read(into: chunk, count: 4 << 20) > 0 {}
        return input.contentIdentity
    }
}
