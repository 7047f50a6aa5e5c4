// CRC-32 as Parquet's page `crc` field defines it: the standard CRC-32 of gzip and zlib
// (polynomial 0x04C11DB7, bit-reflected as 0xEDB88320, initial value and final xor 0xFFFFFFFF),
// so CRC32.checksum("123456789") == 0xCBF43926.
//
// On x86-64 with PCLMULQDQ, runs of 64 bytes or more are folded with carry-less
// multiplication (`lake_crc32_fold`, CLakeSupport): 16 bytes per multiply pair, about 5x the
// tables' speed, which mattered because every page of every ingest is checksummed (1.1 % of
// `lake run`'s CPU with the tables alone). The tail, short inputs and other CPUs use
// slice-by-8: eight 256-entry tables fold eight input bytes per iteration with eight table
// lookups instead of eight dependent byte steps.

import CLakeSupport

public enum CRC32 {
    /// Whether `lake_crc32_fold` may run here, asked once.
    static let folds = lake_crc32_fold_available() != 0

    /// tables[k][b]: the CRC contribution of byte b followed by k zero bytes.
    static let tables: [[UInt32]] = {
        var t = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for b in 0 ..< 256 {
            var c = UInt32(b)
            for _ in 0 ..< 8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[0][b] = c
        }
        for b in 0 ..< 256 {
            for k in 1 ..< 8 { t[k][b] = (t[k - 1][b] >> 8) ^ t[0][Int(t[k - 1][b] & 0xFF)] }
        }
        return t
    }()

    /// One flat copy of the tables, so the hot loop indexes a single buffer without bounds checks.
    nonisolated(unsafe) static let flat: UnsafeMutablePointer<UInt32> = {
        let p = UnsafeMutablePointer<UInt32>.allocate(capacity: 8 * 256)
        for k in 0 ..< 8 { for b in 0 ..< 256 { p[k * 256 + b] = tables[k][b] } }
        return p
    }()

    /// The CRC-32 of `bytes`, continuing from `crc` (the value returned for the bytes before).
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard var p = bytes.baseAddress, !bytes.isEmpty else { return crc }
        var c = ~crc
        var n = bytes.count
        if n >= 64 && folds {
            let folded = n & ~15
            c = lake_crc32_fold(c, p, folded)
            p += folded
            n -= folded
        }
        return ~tables(c, p, n)
    }

    /// The same CRC computed with the tables only (the reference the folded path is tested
    /// against).
    static func updateWithTables(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let p = bytes.baseAddress, !bytes.isEmpty else { return crc }
        return ~tables(~crc, p, bytes.count)
    }

    /// The CRC register after `count` bytes at `start`, from register `register`.
    @inline(__always)
    private static func tables(_ register: UInt32, _ start: UnsafeRawPointer, _ count: Int) -> UInt32 {
        let t = flat
        var c = register
        var p = start
        var n = count
        while n >= 8 {
            let lo = p.loadUnaligned(as: UInt32.self).littleEndian ^ c
            let hi = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian
            c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
            p += 8
            n -= 8
        }
        while n > 0 {
            c = t[Int((c ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (c >> 8)
            p += 1
            n -= 1
        }
        return c
    }

    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 { update(0, bytes) }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { update(0, $0) } }
}
