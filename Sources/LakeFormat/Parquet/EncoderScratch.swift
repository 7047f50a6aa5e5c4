import CZstd
import Foundation

/// The working memory of encoding column chunks: the page being built, its definition levels,
/// the compressed page, the row group's output bytes and a zstd context. One is taken from
/// `EncoderScratch.pool` per row group and given back after it, so memory that used to be
/// allocated (and faulted in) afresh for every column chunk of every row group is reused, and
/// an ingest holding hundreds of open partition writers holds no context or buffer per writer:
/// only as many as row groups are being encoded at once.
final class EncoderScratch {
    var page: [UInt8] = []
    var levels: [UInt32] = []
    /// The output of one row group, written to the file when it ends (or past 4 MiB).
    var out: [UInt8] = []
    private let codec = ZstdCodec(level: 3)
    private var compressed = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    deinit { compressed.deallocate() }

    /// `input` compressed at `level` with `profile` (with a frame checksum or not, see
    /// `ZstdCodec.compress`): valid until the next call.
    func compress(_ input: UnsafeRawBufferPointer, level: Int32, profile: ZstdProfile, frameChecksum: Bool) -> UnsafeRawBufferPointer {
        let bound = ZSTD_compressBound(input.count)
        if compressed.count < bound {
            compressed.deallocate()
            compressed = .allocate(byteCount: max(bound, compressed.count * 2), alignment: 16)
        }
        let n = codec.compress(input, into: compressed, level: level, profile: profile, frameChecksum: frameChecksum)
        return UnsafeRawBufferPointer(rebasing: compressed[0 ..< n])
    }

    /// Scratches kept for reuse between row groups; past `limit` idle ones (more threads encoded
    /// at once than usual, e.g. 16 files closing together) the extra are freed.
    static let pool = Pool()

    final class Pool: @unchecked Sendable {
        private let lock = NSLock()
        private var idle: [EncoderScratch] = []
        private let limit = 4
        /// Buffers larger than this are not kept idle (a compaction's row group can be tens of MB).
        private let keepBytes = 16 << 20

        func take() -> EncoderScratch { lock.withLock { idle.popLast() } ?? EncoderScratch() }

        func give(_ s: EncoderScratch) {
            s.page.removeAll(keepingCapacity: s.page.capacity <= keepBytes)
            s.levels.removeAll(keepingCapacity: s.levels.capacity <= keepBytes / 4)
            s.out.removeAll(keepingCapacity: s.out.capacity <= keepBytes)
            if s.compressed.count > keepBytes {
                s.compressed.deallocate()
                s.compressed = UnsafeMutableRawBufferPointer(start: nil, count: 0)
            }
            lock.withLock { if idle.count < limit { idle.append(s) } }
        }
    }
}
