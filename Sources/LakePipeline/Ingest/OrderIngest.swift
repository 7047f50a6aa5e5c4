import Foundation
import LakeCatalog
import LakeFormat

/// What one ingest did, for the summary line, `--format json`, and the operations report.
public struct IngestSummary: Codable, Sendable {
    public var kind: String
    public var source: String
    public var records: Int
    public var accepted: Int
    public var quarantined: Int
    public var duplicates: Int
    /// Reject reason → count (duplicates included, under their own reasons).
    public var rejects: [String: Int]
    public var filesWritten: Int
    public var bytesWritten: Int64
    public var partitions: Int
    /// The snapshot that committed the data; nil when nothing was committed.
    public var snapshotID: Int64?
    public var seconds: Double
    public var recordsPerSecond: Double
    /// Set when the same source content was committed before: nothing was added.
    public var alreadyIngestedAt: Int64?
    public var unknownFields: [String: Int]
    /// The batch the committed rows carry (raw.orders.batch_id), for the quality checks.
    public var batchID: String? = nil

    enum CodingKeys: String, CodingKey {
        case kind, source, records, accepted, quarantined, duplicates, rejects, partitions, seconds
        case filesWritten = "files_written", bytesWritten = "bytes_written", snapshotID = "snapshot_id"
        case recordsPerSecond = "records_per_second", alreadyIngestedAt = "already_ingested_at"
        case unknownFields = "unknown_fields", batchID = "batch_id"
    }
}

/// How an ingest reports progress: bytes of the source read so far, and its size.
public typealias IngestProgress = (_ done: Int64, _ total: Int64) -> Void

public struct IngestOptions: Sendable {
    /// Parquet settings for the segments (zstd level, row-group size).
    public var parquet = ParquetWriteOptions()
    /// Lines validated between hand-offs to the writers (bounds memory).
    public var drainEvery = 100_000
    /// Whole-ingest retries when another writer commits to the same tables meanwhile.
    public var conflictRetries = 3

    public init() {
        // Segments stay open per partition while the source streams by: end row groups at a few
        // MB so memory stays flat however the rows spread over partitions.
        parquet.rowGroupBytes = 1 << 20
    }
}

public enum OrderIngest {

    /// Ingests an orders JSONL file (or standard input for "-") as one atomic snapshot.
    public static func run(_ store: LakeStore, path: String, options: IngestOptions = IngestOptions(),
                           progress: IngestProgress? = nil) throws -> IngestSummary {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try attemptIngest(store, path: path, options: options, progress: progress)
            } catch IngestError.conflict(let table) {
                if attempt > options.conflictRetries { throw IngestError.conflict(table: table) }
            }
        }
    }

    private static func attemptIngest(_ store: LakeStore, path: String, options: IngestOptions,
                                      progress: IngestProgress?) throws -> IngestSummary {
        let started = Date()
        let fromStdin = path == "-"
        let name = fromStdin ? "stdin" : URL(fileURLWithPath: path).lastPathComponent
        var size: Int64 = 0
        var hash: String?
        if !fromStdin {
            size = try fileSize(path)
            if size == 0 { throw IngestError.emptyInput(path: path) }
            try checkLooksLikeJSONLines(path)
            hash = try ContentHash.file(path)
            if let entry = try store.catalog.ledgerEntry(kind: "orders", sourceHash: hash!) {
                return IngestSummary(kind: "orders", source: name, records: 0, accepted: 0, quarantined: 0, duplicates: 0, rejects: [:],
                                     filesWritten: 0, bytesWritten: 0, partitions: 0, snapshotID: nil,
                                     seconds: Date().timeIntervalSince(started), recordsPerSecond: 0,
                                     alreadyIngestedAt: entry.snapshotID, unknownFields: [:])
            }
        }
        let base = try store.catalog.latestSnapshot()
        let products = try ProductSource.current(store, at: .snapshot(base.id))
        let committed = try OrderIDIndex.load(store, at: base.id)
        let rules = try store.orderRules()
        var batch = try OrderBatch(store: store, base: base, products: products, rules: rules, committed: committed,
                                   sourceName: name, options: options, started: started)
        let reader = fromStdin ? LineReader(stdinChunkSize: 4 << 20) : try LineReader(path: path)
        var lastReport: Int64 = 0
        try reader.forEachLine { line in
            try batch.add(line)
            if let progress, line.offset - lastReport >= 1 << 20 {
                lastReport = line.offset
                progress(line.offset, size)
            }
        }
        progress?(size, size)
        if fromStdin && batch.records == 0 && batch.pendingIsEmpty { throw IngestError.emptyInput(path: "stdin") }
        return try batch.commit(ledger: hash.map { ($0, size) }, checkpoint: nil, sourceBytes: size)
    }

    /// A CSV or JSON array handed to `ingest orders` fails here, before any work: the first
    /// non-blank line of JSON Lines starts with "{".
    static func checkLooksLikeJSONLines(_ path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw IngestError.failed("\(path): cannot open") }
        defer { try? handle.close() }
        let head = handle.readData(ofLength: 4096)
        var line = 1
        for b in head {
            if b == UInt8(ascii: "\n") { line += 1; continue }
            if b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\r") { continue }
            if b == UInt8(ascii: "{") { return }
            let text = String(decoding: head.prefix(60).prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
            throw IngestError.wrongFormat(path: path, line: line,
                                          detail: "not JSON Lines (one order object per line): the file starts with \"\(text)\"")
        }
    }
}

func fileSize(_ path: String) throws -> Int64 {
    do {
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        if (attrs[.type] as? FileAttributeType) == .typeDirectory { throw IngestError.failed("\(path) is a directory, not a file") }
        return (attrs[.size] as? NSNumber)?.int64Value ?? 0
    } catch let e as IngestError {
        throw e
    } catch {
        throw IngestError.failed("\(path): cannot read (\(error.localizedDescription))")
    }
}

/// Seconds from event time to commit: p50, p95, max over the accepted records.
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

/// A fast 64-bit content hash (not cryptographic) plus the size: the identity of a source file
/// in the ingest ledger. Reads the file in 4 MiB chunks.
enum ContentHash {
    static func file(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw IngestError.failed("\(path): cannot open") }
        defer { try? handle.close() }
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        var total: UInt64 = 0
        while true {
            let chunk = handle.readData(ofLength: 4 << 20)
            if chunk.isEmpty { break }
            total += UInt64(chunk.count)
            chunk.withUnsafeBytes { raw in
                var i = 0
                let n = raw.count
                while i + 8 <= n {
                    let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    h = (h ^ w) &* 0x0000_0100_0000_01B3 &+ 0x9E37_79B9_7F4A_7C15
                    h ^= h >> 29
                    i += 8
                }
                while i < n {
                    h = (h ^ UInt64(raw[i])) &* 0x0000_0100_0000_01B3
                    i += 1
                }
            }
        }
        return "h64:\(total):" + String(h, radix: 16)
    }
}
