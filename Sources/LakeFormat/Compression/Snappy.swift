/// Snappy's raw block format, decompression only: it is the default codec of DuckDB, DuckLake
/// and pyarrow, so reading their default files needs it. Every length and offset is checked
/// against both buffers, so a corrupt block is an error, never an out-of-bounds access.
enum Snappy {
    static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        var ip = 0
        // Preamble: the uncompressed length as a varint.
        var length: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard ip < input.count else { throw PageError("snappy: block ends inside its length") }
            let b = input[ip]; ip += 1
            length |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { break }
            shift += 7
            if shift > 35 { throw PageError("snappy: length varint too long") }
        }
        guard length == UInt64(output.count) else {
            throw PageError("snappy: block holds \(length) bytes, the page header says \(output.count)")
        }
        var op = 0
        let out = output.baseAddress!
        while ip < input.count {
            let tag = input[ip]; ip += 1
            switch tag & 3 {
            case 0:  // literal
                var len = Int(tag >> 2) + 1
                if len > 60 {
                    let extra = len - 60
                    guard ip + extra <= input.count else { throw PageError("snappy: literal length cut short") }
                    var l = 0
                    for i in 0 ..< extra { l |= Int(input[ip + i]) << (8 * i) }
                    ip += extra
                    len = l + 1
                }
                guard ip + len <= input.count, op + len <= output.count else { throw PageError("snappy: literal overruns") }
                (out + op).copyMemory(from: input.baseAddress! + ip, byteCount: len)
                ip += len
                op += len
            default:
                let len: Int, offset: Int
                switch tag & 3 {
                case 1:
                    guard ip < input.count else { throw PageError("snappy: copy cut short") }
                    len = Int((tag >> 2) & 7) + 4
                    offset = Int(tag >> 5) << 8 | Int(input[ip])
                    ip += 1
                case 2:
                    guard ip + 2 <= input.count else { throw PageError("snappy: copy cut short") }
                    len = Int(tag >> 2) + 1
                    offset = Int(input[ip]) | Int(input[ip + 1]) << 8
                    ip += 2
                default:
                    guard ip + 4 <= input.count else { throw PageError("snappy: copy cut short") }
                    len = Int(tag >> 2) + 1
                    offset = Int(input[ip]) | Int(input[ip + 1]) << 8 | Int(input[ip + 2]) << 16 | Int(input[ip + 3]) << 24
                    ip += 4
                }
                guard offset > 0, offset <= op, op + len <= output.count else {
                    throw PageError("snappy: copy of \(len) bytes from offset \(offset) is out of range")
                }
                copyMatch(out, at: op, offset: offset, count: len)
                op += len
            }
        }
        guard op == output.count else { throw PageError("snappy: produced \(op) of \(output.count) bytes") }
    }
}
