#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Accumulates a chunk's pages: compresses each, writes its header, tracks sizes and offsets.
struct PageSink {
    let scratch: EncoderScratch
    /// zstd level, nil for uncompressed pages.
    let level: Int32?
    let profile: ZstdProfile
    let checksums: Bool
    private(set) var position: Int64
    private(set) var uncompressed: Int64 = 0

    init(scratch: EncoderScratch, level: Int32?, profile: ZstdProfile = .standard, start: Int64, checksums: Bool) {
        self.scratch = scratch
        self.level = level
        self.profile = profile
        self.checksums = checksums
        position = start
    }

    mutating func add(type: PageType, payload: [UInt8], numValues: Int, encoding: Encoding, into out: inout [UInt8]) {
        payload.withUnsafeBytes { raw in
            // A page with the spec's CRC needs no zstd frame checksum as well (both cover the
            // same page; the CRC is checked before decompressing): one only without the other.
            let body = level.map { scratch.compress(raw, level: $0, profile: profile, frameChecksum: !checksums) } ?? raw
            var header = PageHeader(type: type.rawValue, uncompressedPageSize: Int32(payload.count),
                                    compressedPageSize: Int32(body.count))
            // The spec's CRC covers the page as stored: the compressed bytes, not the header.
            if checksums { header.crc = Int32(bitPattern: CRC32.checksum(body)) }
            if type == .dictionaryPage {
                header.dictionaryPage = DictionaryPageHeader(numValues: Int32(numValues), encoding: encoding.rawValue)
            } else {
                header.dataPage = DataPageHeader(numValues: Int32(numValues), encoding: encoding.rawValue,
                                                 definitionLevelEncoding: Encoding.rle.rawValue,
                                                 repetitionLevelEncoding: Encoding.rle.rawValue)
            }
            let h = header.encoded()
            out.append(contentsOf: h)
            out.append(contentsOf: body)
            position += Int64(h.count + body.count)
            uncompressed += Int64(h.count + payload.count)
        }
    }
}
