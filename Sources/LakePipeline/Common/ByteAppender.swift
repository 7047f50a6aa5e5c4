#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of a column's values, appended a value at a time by a builder and handed over
/// as one exact `[UInt8]`. `Array.append(contentsOf:)` of a dozen bytes cost about 120
/// instructions (the generic sequence path's bookkeeping, a uniqueness check, then the
/// copy); the validator makes about nine such appends per line. Here the array is kept
/// longer than the bytes in it (zeros ahead), so an append is one bounds check and a
/// `memcpy`, and `take` trims the array once instead of copying it.
struct ByteAppender {
    private var storage: [UInt8]
    /// Bytes appended so far (`storage` holds zeros past them).
    private(set) var count = 0

    init(capacity: Int) {
        storage = [UInt8](repeating: 0, count: Swift.max(capacity, 64))
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0 else { return }
        if n > storage.count - count { grow(toHold: n) }
        let at = count
        storage.withUnsafeMutableBytes { _ = memcpy($0.baseAddress! + at, bytes.baseAddress!, n) }
        count = at + n
    }

    @inline(__always)
    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    // Doubling keeps appends amortised constant; rare once a builder is sized from the
    // previous drain.
    @inline(never)
    private mutating func grow(toHold n: Int) {
        storage.append(contentsOf: repeatElement(0, count: Swift.max(storage.count, n)))
    }

    /// The appended bytes as an array of exactly `count` elements (the storage itself,
    /// trimmed, not a copy); the appender is empty afterwards.
    mutating func take() -> [UInt8] {
        var out: [UInt8] = []
        swap(&out, &storage)
        out.removeLast(out.count - count)
        count = 0
        return out
    }
}
