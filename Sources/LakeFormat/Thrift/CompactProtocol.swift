// The Thrift compact protocol, the serialization of every Parquet footer and page header.
// Only what Parquet's metadata uses: structs, lists, i16/i32/i64 as zigzag varints, binary,
// bool and double. Reading is bounds-checked and depth-limited: a footer is untrusted input.

/// Compact-protocol type ids as they appear in field headers and list headers.
enum CompactType: UInt8 {
    case stop = 0
    case boolTrue = 1
    case boolFalse = 2
    case byte = 3
    case i16 = 4
    case i32 = 5
    case i64 = 6
    case double = 7
    case binary = 8
    case list = 9
    case set = 10
    case map = 11
    case `struct` = 12
}

/// Why a Thrift structure could not be read; the Parquet layer adds the file name.
struct ThriftError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct ThriftWriter {
    private(set) var bytes: [UInt8] = []
    private var lastFieldID: Int16 = 0
    private var fieldIDStack: [Int16] = []

    init(reservingCapacity n: Int = 256) { bytes.reserveCapacity(n) }

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func zigzag(_ value: Int64) { varint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }

    mutating func fieldHeader(_ id: Int16, _ type: CompactType) {
        let delta = Int(id) - Int(lastFieldID)
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            zigzag(Int64(id))
        }
        lastFieldID = id
    }

    mutating func field(_ id: Int16, i32 value: Int32) { fieldHeader(id, .i32); zigzag(Int64(value)) }
    mutating func field(_ id: Int16, i64 value: Int64) { fieldHeader(id, .i64); zigzag(value) }
    mutating func field(_ id: Int16, bool value: Bool) { fieldHeader(id, value ? .boolTrue : .boolFalse) }
    mutating func field(_ id: Int16, i16 value: Int16) { fieldHeader(id, .i16); zigzag(Int64(value)) }
    // i8 ("byte") is written raw, not as a varint.
    mutating func field(_ id: Int16, i8 value: Int8) { fieldHeader(id, .byte); bytes.append(UInt8(bitPattern: value)) }

    mutating func field(_ id: Int16, binary value: [UInt8]) {
        fieldHeader(id, .binary)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func field(_ id: Int16, string value: String) { field(id, binary: Array(value.utf8)) }

    /// Starts a nested struct field; end it with `endStruct()`.
    mutating func beginStruct(_ id: Int16) {
        fieldHeader(id, .struct)
        fieldIDStack.append(lastFieldID)
        lastFieldID = 0
    }

    /// Starts a struct that is a list element (no field header).
    mutating func beginListElementStruct() {
        fieldIDStack.append(lastFieldID)
        lastFieldID = 0
    }

    mutating func endStruct() {
        bytes.append(CompactType.stop.rawValue)
        lastFieldID = fieldIDStack.popLast() ?? 0
    }

    mutating func beginList(_ id: Int16, of type: CompactType, count: Int) {
        fieldHeader(id, .list)
        if count < 15 {
            bytes.append(UInt8(count) << 4 | type.rawValue)
        } else {
            bytes.append(0xF0 | type.rawValue)
            varint(UInt64(count))
        }
    }

    // List elements.
    mutating func element(i32 value: Int32) { zigzag(Int64(value)) }
    mutating func element(i64 value: Int64) { zigzag(value) }
    // Apache Thrift's C++ and Java implementations write booleans inside lists as 1 (true) / 2 (false).
    mutating func element(bool value: Bool) { bytes.append(value ? 1 : 2) }
    mutating func element(binary value: [UInt8]) {
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }
    mutating func element(string value: String) { element(binary: Array(value.utf8)) }
}

/// Reads compact-protocol values from a byte buffer that the caller keeps alive.
struct ThriftReader {
    let buffer: UnsafeRawBufferPointer
    private(set) var position: Int
    private var depth = 0
    private static let maxDepth = 32

    init(_ buffer: UnsafeRawBufferPointer, at position: Int = 0) {
        self.buffer = buffer
        self.position = position
    }

    mutating func byte() throws -> UInt8 {
        guard position < buffer.count else { throw ThriftError("metadata ends inside a value (offset \(position))") }
        defer { position += 1 }
        return buffer[position]
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw ThriftError("varint longer than 10 bytes at offset \(position)") }
        }
    }

    mutating func zigzag() throws -> Int64 {
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    mutating func i32() throws -> Int32 {
        let v = try zigzag()
        guard let r = Int32(exactly: v) else { throw ThriftError("i32 value \(v) out of range") }
        return r
    }

    mutating func i64() throws -> Int64 { try zigzag() }

    mutating func binary() throws -> [UInt8] {
        let n = try varint()
        guard n <= UInt64(buffer.count - position) else {
            throw ThriftError("binary of \(n) bytes runs past the end of the metadata")
        }
        let start = position
        position += Int(n)
        return Array(buffer[start ..< position])
    }

    mutating func string() throws -> String { String(decoding: try binary(), as: UTF8.self) }

    mutating func double() throws -> Double {
        guard buffer.count - position >= 8 else { throw ThriftError("metadata ends inside a double") }
        var bits: UInt64 = 0
        for i in 0 ..< 8 { bits |= UInt64(buffer[position + i]) << (8 * UInt64(i)) }
        position += 8
        return Double(bitPattern: bits)
    }

    /// Next field of the current struct, or nil at its stop byte.
    mutating func fieldHeader(lastID: inout Int16) throws -> (id: Int16, type: CompactType)? {
        let b = try byte()
        if b == 0 { return nil }
        guard let type = CompactType(rawValue: b & 0x0F) else { throw ThriftError("unknown field type \(b & 0x0F)") }
        let delta = b >> 4
        let id: Int16
        if delta != 0 {
            id = lastID &+ Int16(delta)
        } else {
            let v = try zigzag()
            guard let i = Int16(exactly: v) else { throw ThriftError("field id \(v) out of range") }
            id = i
        }
        lastID = id
        return (id, type)
    }

    mutating func listHeader() throws -> (type: CompactType, count: Int) {
        let b = try byte()
        guard let type = CompactType(rawValue: b & 0x0F) else { throw ThriftError("unknown list element type \(b & 0x0F)") }
        var count = Int(b >> 4)
        if count == 15 {
            let n = try varint()
            // Each element takes at least one byte, which bounds any honest count.
            guard n <= UInt64(buffer.count - position) else { throw ThriftError("list of \(n) elements cannot fit the metadata") }
            count = Int(n)
        }
        return (type, count)
    }

    /// A bool field's value lives in its type nibble.
    func bool(_ type: CompactType) throws -> Bool {
        switch type {
        case .boolTrue: return true
        case .boolFalse: return false
        default: throw ThriftError("expected a bool, found type \(type)")
        }
    }

    /// A bool element inside a list is one byte: 1 is true.
    mutating func boolElement() throws -> Bool { try byte() == 1 }

    mutating func enterStruct() throws {
        depth += 1
        if depth > Self.maxDepth { throw ThriftError("structs nested deeper than \(Self.maxDepth)") }
    }

    mutating func leaveStruct() { depth -= 1 }

    /// Reads a struct field by field; `body` handles known ids and returns false to skip the rest.
    mutating func readStruct(_ body: (inout ThriftReader, Int16, CompactType) throws -> Bool) throws {
        try enterStruct()
        defer { leaveStruct() }
        var last: Int16 = 0
        while let (id, type) = try fieldHeader(lastID: &last) {
            if try !body(&self, id, type) { try skip(type) }
        }
    }

    mutating func readList<T>(_ element: (inout ThriftReader) throws -> T) throws -> [T] {
        let (_, count) = try listHeader()
        var out: [T] = []
        out.reserveCapacity(count)
        for _ in 0 ..< count { out.append(try element(&self)) }
        return out
    }

    mutating func skip(_ type: CompactType) throws {
        switch type {
        case .stop: throw ThriftError("unexpected stop")
        case .boolTrue, .boolFalse: return
        case .byte: _ = try byte()
        case .i16, .i32, .i64: _ = try varint()
        case .double:
            guard buffer.count - position >= 8 else { throw ThriftError("metadata ends inside a double") }
            position += 8
        case .binary: _ = try binary()
        case .list, .set:
            let (elem, count) = try listHeader()
            for _ in 0 ..< count {
                if elem == .boolTrue || elem == .boolFalse { _ = try byte() } else { try skip(elem) }
            }
        case .map:
            let n = try varint()
            if n == 0 { return }
            guard n <= UInt64(buffer.count - position) else { throw ThriftError("map too large") }
            let kv = try byte()
            guard let kt = CompactType(rawValue: kv >> 4), let vt = CompactType(rawValue: kv & 0x0F) else {
                throw ThriftError("unknown map types")
            }
            for _ in 0 ..< n {
                try skip(kt)
                try skip(vt)
            }
        case .struct:
            try readStruct { _, _, _ in false }
        }
    }
}

extension ThriftReader {
    /// Checks a field's wire type before reading it, so a corrupt footer fails loudly.
    func expect(_ type: CompactType, _ wanted: CompactType, _ name: String) throws {
        let ok = type == wanted || (wanted == .boolTrue && type == .boolFalse)
        guard ok else { throw ThriftError("field \(name) has type \(type), expected \(wanted)") }
    }
}
