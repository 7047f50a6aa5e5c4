import Testing
@testable import LakeFormat

/// The version-2 decoders read untrusted pages: any bytes either decode to exactly the values
/// asked for or throw a PageError, never trap (a trap would take `lake serve` down with it).
/// Their correctness against real writers is in ParquetInteropTests (DuckDB and pyarrow files).
@Suite struct DeltaEncodingTests {
    /// A hand-encoded DELTA_BINARY_PACKED run, per the format spec: block of 128 values in
    /// 4 miniblocks of 32, total 5, first value 7, then deltas -2, +3, +3, 0 (min delta -2,
    /// packed 0, 5, 5, 2 at bit width 3), followed by one more byte that is not part of it.
    @Test func decodesAHandEncodedRun() throws {
        var bytes: [UInt8] = [0x80, 0x01, 0x04, 0x05, 0x0E]  // 128, 4, 5, zigzag(7) = 14
        bytes.append(0x03)                                   // min delta zigzag(-2) = 3
        bytes += [3, 0, 0, 0]                                // bit widths of the 4 miniblocks
        // 0, 5, 5, 2 packed LSB first at 3 bits, the rest of the 32-value miniblock zero.
        var packed = [UInt8](repeating: 0, count: 32 * 3 / 8)
        var bit = 0
        for v in [0, 5, 5, 2] as [UInt8] {
            for k in 0 ..< 3 where v >> k & 1 == 1 { packed[(bit + k) / 8] |= 1 << UInt8((bit + k) % 8) }
            bit += 3
        }
        bytes += packed
        bytes.append(0xAB)
        let (values, end) = try bytes.withUnsafeBytes { try DeltaBinaryPacked.decode($0, at: 0, count: 5) }
        #expect(values == [7, 5, 8, 11, 11])
        #expect(end == bytes.count - 1, "the run ends before the byte after it")
    }

    @Test func randomBytesThrowOrDecodeNeverTrap() {
        var rng = SplitMix64(seed: 17)
        var decoded = 0, refused = 0
        for _ in 0 ..< 30_000 {
            let size = Int(rng.next() % 160)
            var bytes = (0 ..< size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Half the inputs start with a plausible header, so the decoders get past it.
            if size > 4 && rng.next() % 2 == 0 { bytes[0] = 0x80; bytes[1] = 0x01; bytes[2] = UInt8(1 << (rng.next() % 3)) }
            let count = Int(rng.next() % 40)
            bytes.withUnsafeBytes { raw in
                do {
                    let (values, end) = try DeltaBinaryPacked.decode(raw, at: 0, count: count)
                    #expect(values.count == count && end <= raw.count)
                    decoded += 1
                } catch is PageError { refused += 1 } catch { Issue.record("\(error)") }
                var strings = StringColumn()
                do {
                    try DeltaByteArray.decodeLengths(raw, at: 0, count: count, into: &strings)
                    #expect(strings.count == count)
                } catch is PageError {} catch { Issue.record("\(error)") }
                strings = StringColumn()
                do {
                    try DeltaByteArray.decodeIncremental(raw, at: 0, count: count, into: &strings)
                    #expect(strings.count == count)
                } catch is PageError {} catch { Issue.record("\(error)") }
                do {
                    let out = try ByteStreamSplit.decode(raw, at: 0, count: count, width: 1 + Int(rng.next() % 8))
                    #expect(out.count % max(count, 1) == 0)
                } catch is PageError {} catch { Issue.record("\(error)") }
            }
        }
        #expect(decoded > 100 && refused > 100, "both outcomes exercised: \(decoded) decoded, \(refused) refused")
    }
}
