import Foundation
import LakeTestSupport
import Testing
@testable import LakeFormat

@Suite struct ParquetRobustnessTests {
    private func write(_ dir: TemporaryDirectory, rows: Int = 2_000) throws -> (String, RecordBatch) {
        let batch = sampleBatch(rows: rows, seed: 11)
        var options = ParquetWriteOptions()
        options.rowGroupRows = 700
        let path = dir.file("good.parquet")
        try ParquetFileWriter.write(batch, to: path, options: options)
        return (path, batch)
    }

    @Test func namedErrorsForMalformedFiles() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (path, _) = try write(dir)
        let good = try Data(contentsOf: URL(fileURLWithPath: path))

        func expectError(_ bytes: Data, _ check: (ParquetError) -> Bool) throws {
            let p = dir.file("bad-\(UUID().uuidString).parquet")
            try bytes.write(to: URL(fileURLWithPath: p))
            do {
                _ = try ParquetFileReader(path: p).readAll()
                Issue.record("expected an error")
            } catch let e as ParquetError {
                #expect(check(e), "unexpected error: \(e)")
                #expect(e.description.contains(p), "the message must name the file: \(e)")
            }
        }
        try expectError(Data("not parquet at all, just text".utf8)) { if case .notParquet = $0 { return true }; return false }
        try expectError(Data(good.prefix(good.count - 3))) { if case .notParquet = $0 { return true }; return false }
        var badMagic = good
        badMagic[0] = 0x51
        try expectError(badMagic) { if case .notParquet = $0 { return true }; return false }
        // Footer length pointing before the start of the file.
        var longFooter = good
        longFooter[good.count - 5] = 0x7F
        try expectError(longFooter) { if case .truncated = $0 { return true }; return false }
        // Footer bytes replaced by garbage.
        var garbage = good
        let footerLength = Int(good[good.count - 8]) | Int(good[good.count - 7]) << 8 | Int(good[good.count - 6]) << 16
        for i in (good.count - 8 - footerLength) ..< (good.count - 8) { garbage[i] = 0xFF }
        try expectError(garbage) { if case .corruptMetadata = $0 { return true }; return false }
        // Data bytes cut out of the middle: offsets now point past the data.
        var cut = good.prefix(1_000)
        cut.append(good.suffix(footerLength + 8))
        try expectError(Data(cut)) {
            switch $0 {
            case .truncated, .corruptPage, .decompressionFailed, .corruptMetadata: return true
            default: return false
            }
        }
        #expect(throws: ParquetError.self) { try ParquetFileReader(path: dir.file("missing.parquet")) }
    }

    /// Truncated and bit-flipped copies of a real file: the reader must throw a ParquetError or
    /// return the right shape, never crash; and a flip inside the (zstd, checksummed) pages must
    /// either fail or leave every value intact.
    @Test func fuzzTruncatedAndBitFlippedFiles() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (path, batch) = try write(dir, rows: 1_500)
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let expected = canonicalRows(batch)
        let footerLength = Int(good[good.count - 8]) | Int(good[good.count - 7]) << 8 | Int(good[good.count - 6]) << 16
        let dataEnd = good.count - 8 - footerLength
        var rng = SplitMix64(seed: 2024)
        var failures = 0, intact = 0
        let target = dir.file("fuzz.parquet")
        for round in 0 ..< 600 {
            var bytes = good
            var inPages = false
            if round % 3 == 0 {
                bytes = Array(good.prefix(rng.int(0 ..< good.count)))
            } else {
                let flips = 1 + rng.int(0 ..< 3)
                for _ in 0 ..< flips {
                    let at = rng.int(0 ..< good.count)
                    bytes[at] ^= UInt8(1) << UInt8(rng.int(0 ..< 8))
                    inPages = at >= 4 && at < dataEnd
                    if flips > 1 { inPages = false }
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: target))
            do {
                let reader = try ParquetFileReader(path: target)
                let back = try reader.readAll()
                #expect(back.count == batch.count)
                #expect(back.columns.count == batch.columns.count)
                if inPages {
                    let rows = canonicalRows(back)
                    #expect(rows == expected, "a flipped page byte decoded to different values without an error")
                }
                intact += 1
            } catch is ParquetError {
                failures += 1
            }
        }
        #expect(failures > 300, "most corruptions must be detected (\(failures) of 600)")
        #expect(failures + intact == 600)
    }
}
