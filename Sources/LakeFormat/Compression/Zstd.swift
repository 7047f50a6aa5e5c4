import CZstd
import Foundation

/// How zstd looks for matches in a page, beside its level.
public enum ZstdProfile: Sendable {
    /// The parameters the level implies.
    case standard
    /// For long lines of repetitive text, such as verbatim JSON source lines: the fast strategy
    /// with a 1,024-entry hash table (4 KiB, it stays in L1) and matches of at least 7 bytes.
    /// On the raw lines of 1 M generated orders (1 MiB pages, one core) this compresses 10 %
    /// faster than level 1's own parameters (0.39 against 0.43 s for 360 MB) and 4.7 % smaller
    /// (34.4 against 36.1 MB): a JSON line repeats its keys and the line before it, so long
    /// matches close by are nearly all there is to find, and shorter ones cost more sequences
    /// than they save. Only meant for levels up to 1; above, the level's strategy is replaced.
    case repetitiveText
}

/// A libzstd compression and decompression context, reused across pages so each page does not
/// pay for allocating zstd's internal tables. Not shared between threads.
final class ZstdCodec {
    // Each context is created on first use: a writer never decompresses, a reader never
    // compresses, and creating one costs more than decoding a small page.
    private lazy var cctx: OpaquePointer = {
        // ZSTD_createCCtx only fails when malloc does; there is no sensible recovery from that.
        guard let c = ZSTD_createCCtx() else { fatalError("libzstd: out of memory") }
        hasCctx = true
        // A frame checksum (xxhash64) makes the reader detect a corrupted frame instead of
        // decoding wrong values; it costs a few bytes per frame and a hash of every input byte.
        ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)
        cctxLevel = level
        return c
    }()
    private var cctxLevel: Int32 = 0
    private var cctxChecksum = true
    private var cctxProfile = ZstdProfile.standard
    private lazy var dctx: OpaquePointer = {
        guard let d = ZSTD_createDCtx() else { fatalError("libzstd: out of memory") }
        hasDctx = true
        return d
    }()
    private var hasCctx = false, hasDctx = false
    let level: Int32

    init(level: Int32) {
        self.level = level
    }

    deinit {
        if hasCctx { ZSTD_freeCCtx(cctx) }
        if hasDctx { ZSTD_freeDCtx(dctx) }
    }

    /// Appends the compressed form of `input` to `output`; returns the compressed size.
    func compress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) -> Int {
        let bound = ZSTD_compressBound(input.count)
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: bound))
        // Compression into a buffer of ZSTD_compressBound bytes cannot fail for lack of room.
        let written = output.withUnsafeMutableBytes { compress(input, into: UnsafeMutableRawBufferPointer(rebasing: $0[start...]), level: level) }
        output.removeLast(bound - written)
        return written
    }

    /// Compresses `input` at `level` into `output`, which must hold `ZSTD_compressBound(input.count)`
    /// bytes; returns the compressed size. The level and the profile are per-call parameters so
    /// one context serves writers of any level (ingest at 1, compaction at 3) and any column.
    /// `frameChecksum` false leaves out the frame's xxhash64: for a Parquet page whose header
    /// carries the spec's CRC-32 of the compressed bytes, which every reader that verifies
    /// checks first, so a second hash of the same page only cost time (about 4 % of zstd's).
    func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, level: Int32,
                  profile: ZstdProfile = .standard, frameChecksum: Bool = true) -> Int {
        if level != cctxLevel {
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
            cctxLevel = level
        }
        if frameChecksum != cctxChecksum {
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, frameChecksum ? 1 : 0)
            cctxChecksum = frameChecksum
        }
        if profile != cctxProfile {
            // 0 puts a parameter back to the value the level implies.
            let (strategy, hashLog, minMatch): (Int32, Int32, Int32) = profile == .repetitiveText ? (1, 10, 7) : (0, 0, 0)
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_strategy, strategy)
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_hashLog, hashLog)
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_minMatch, minMatch)
            cctxProfile = profile
        }
        let written = ZSTD_compress2(cctx, output.baseAddress, output.count, input.baseAddress, input.count)
        precondition(ZSTD_isError(written) == 0, "zstd: \(String(cString: ZSTD_getErrorName(written)))")
        return written
    }

    /// Decompresses one frame into `output`, which must be exactly the uncompressed size.
    func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        let n = ZSTD_decompressDCtx(dctx, output.baseAddress, output.count, input.baseAddress, input.count)
        if ZSTD_isError(n) != 0 { throw PageError(String(cString: ZSTD_getErrorName(n))) }
        if n != output.count { throw PageError("decompressed to \(n) bytes, the page header says \(output.count)") }
    }
}

/// Decompression contexts kept for reuse: a scan or compaction over thousands of small files
/// decodes tens of thousands of column chunks, and a fresh context per chunk (allocated and
/// initialised by libzstd) cost more than the decoding. Holds no data between uses, so sharing
/// it process-wide changes no result; at most `limit` idle contexts are kept.
final class ZstdDecoderPool: @unchecked Sendable {
    static let shared = ZstdDecoderPool()
    private let lock = NSLock()
    private var idle: [ZstdCodec] = []
    private let limit = 8

    func withDecoder<T>(_ body: (ZstdCodec) throws -> T) rethrows -> T {
        let codec = lock.withLock { idle.popLast() } ?? ZstdCodec(level: 3)
        defer { lock.withLock { if idle.count < limit { idle.append(codec) } } }
        return try body(codec)
    }
}

/// One self-describing zstd frame (content size and checksum in its header), for blobs kept
/// outside Parquet pages, such as the catalog's key runs.
public enum ZstdFrame {
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = 1) -> [UInt8] {
        var out: [UInt8] = []
        _ = ZstdCodec(level: level).compress(input, into: &out)
        return out
    }

    /// Throws on a corrupt frame or one that does not state its size.
    public static func decompress(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        let size = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        // ZSTD_CONTENTSIZE_UNKNOWN and _ERROR are the two largest UInt64 values.
        guard size < UInt64.max - 1, size < UInt64(Int32.max) else { throw PageError("zstd frame without a usable content size") }
        var out = [UInt8](repeating: 0, count: Int(size))
        if size > 0 {
            try out.withUnsafeMutableBytes { try ZstdCodec(level: 1).decompress(input, into: $0) }
        }
        return out
    }
}
