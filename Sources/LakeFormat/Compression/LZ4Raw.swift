/// LZ4's block format (Parquet's LZ4_RAW, what DuckDB writes for `parquet_compression 'lz4'`),
/// decompression only. A block is a run of sequences: a token (literal length in the high
/// nibble, match length − 4 in the low one, 15 meaning "more bytes follow, each added until
/// one is below 255"), the literals, then a 2-byte little-endian offset back into the output
/// and the match; the last sequence has literals only. Every length and offset is checked
/// against both buffers, so a corrupt block is an error, never an out-of-bounds access.
enum LZ4Raw {
    static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        guard let src = input.baseAddress, !input.isEmpty else {
            guard output.isEmpty else { throw PageError("lz4: empty block for \(output.count) bytes") }
            return
        }
        let out = output.baseAddress!
        var ip = 0, op = 0
        func length(_ nibble: Int) throws -> Int {
            var n = nibble
            guard nibble == 15 else { return n }
            while true {
                guard ip < input.count else { throw PageError("lz4: block ends inside a length") }
                let b = Int(src.load(fromByteOffset: ip, as: UInt8.self))
                ip += 1
                n += b
                // A length past the output is corrupt; stop before the sum can grow without bound.
                guard n <= output.count else { throw PageError("lz4: length \(n) exceeds the page's \(output.count) bytes") }
                if b != 255 { return n }
            }
        }
        while true {
            guard ip < input.count else { throw PageError("lz4: block ends before its last literals") }
            let token = Int(src.load(fromByteOffset: ip, as: UInt8.self))
            ip += 1
            let literals = try length(token >> 4)
            guard literals <= input.count - ip else { throw PageError("lz4: literals run past the block") }
            guard literals <= output.count - op else { throw PageError("lz4: literals run past the page's \(output.count) bytes") }
            (out + op).copyMemory(from: src + ip, byteCount: literals)
            ip += literals
            op += literals
            // The last sequence ends the block with its literals.
            if ip == input.count { break }
            guard input.count - ip >= 2 else { throw PageError("lz4: block ends inside a match offset") }
            let offset = Int(src.load(fromByteOffset: ip, as: UInt8.self)) | Int(src.load(fromByteOffset: ip + 1, as: UInt8.self)) << 8
            ip += 2
            guard offset > 0, offset <= op else { throw PageError("lz4: match offset \(offset) points before the page's start") }
            let match = try length(token & 15) + 4
            guard match <= output.count - op else { throw PageError("lz4: match runs past the page's \(output.count) bytes") }
            copyMatch(out, at: op, offset: offset, count: match)
            op += match
        }
        guard op == output.count else { throw PageError("lz4: decoded \(op) bytes, the page header says \(output.count)") }
    }
}

/// Copies `count` bytes that start `offset` bytes back in `out` to `at`: an LZ77 match, as
/// Snappy and LZ4 blocks encode them. Bounds are the caller's (checked against both buffers).
/// A match may overlap what it writes (offset < count repeats a pattern): then byte by byte,
/// forward, so each byte copied can be the source of a later one.
@inline(__always)
func copyMatch(_ out: UnsafeMutableRawPointer, at: Int, offset: Int, count: Int) {
    if offset >= count {
        (out + at).copyMemory(from: out + at - offset, byteCount: count)
    } else {
        for k in 0 ..< count { out.storeBytes(of: out.load(fromByteOffset: at - offset + k, as: UInt8.self), toByteOffset: at + k, as: UInt8.self) }
    }
}
