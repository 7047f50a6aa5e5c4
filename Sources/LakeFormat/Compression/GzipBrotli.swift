import CBrotli
import CZlib

/// GZIP (RFC 1952 members; zlib and raw deflate are taken too, as parquet-mr once wrote them)
/// and BROTLI pages, decompression only, through the system's zlib and libbrotli: DuckDB writes
/// them into a DuckLake whose `parquet_compression` option names them. The page header gives
/// the exact uncompressed size; a stream that decodes to more or fewer bytes, or does not end,
/// is an error.
enum Gzip {
    static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        // zlib keeps the stream's address and checks it on every call: one fixed allocation,
        // where `&stream` of a local promises an address for one call only.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        // 15 + 32: the largest window, and a gzip or zlib header recognised automatically.
        guard inflateInit2_(stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw PageError("gzip: zlib could not start a stream")
        }
        defer { inflateEnd(stream) }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(output.count)
        var rc = inflate(stream, Z_FINISH)
        // A page may hold several gzip members (concatenated streams), as some writers split them.
        while rc == Z_STREAM_END && stream.pointee.avail_in > 0 && stream.pointee.avail_out > 0 {
            guard inflateReset(stream) == Z_OK else { throw PageError("gzip: cannot start the next member") }
            rc = inflate(stream, Z_FINISH)
        }
        guard rc == Z_STREAM_END else {
            let reason = stream.pointee.msg.map { String(cString: $0) } ?? (rc == Z_BUF_ERROR ? "more bytes than the page header says" : "error \(rc)")
            throw PageError("gzip: \(reason)")
        }
        guard stream.pointee.avail_out == 0 else {
            throw PageError("gzip: decoded \(output.count - Int(stream.pointee.avail_out)) bytes, the page header says \(output.count)")
        }
    }
}

enum Brotli {
    static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        var size = output.count
        let rc = BrotliDecoderDecompress(input.count, input.baseAddress?.assumingMemoryBound(to: UInt8.self), &size,
                                         output.baseAddress?.assumingMemoryBound(to: UInt8.self))
        guard rc == BROTLI_DECODER_RESULT_SUCCESS else { throw PageError("brotli: the stream does not decode (or holds more bytes than the page header says)") }
        guard size == output.count else { throw PageError("brotli: decoded \(size) bytes, the page header says \(output.count)") }
    }
}
