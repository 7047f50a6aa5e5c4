import Foundation
import LakeTestSupport
import Testing
@testable import LakeFormat

/// Page CRCs (Parquet's PageHeader.crc), the footer checksum and the size check, against the
/// spec's CRC-32 and against pyarrow, which writes and verifies the same field.
@Suite struct IntegrityFormatTests {
    /// The textbook bit-at-a-time CRC-32 (reflected 0xEDB88320): the reference the table-driven
    /// one must equal.
    static func referenceCRC(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0 ..< 8 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    @Test("CRC-32 is the gzip/zlib one: check value, empty input, every length 0-40, chained updates")
    func crcMatchesReference() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([]) == 0)
        var rng = SplitMix64(seed: 11)
        for n in 0 ... 40 {
            let bytes = (0 ..< n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            #expect(CRC32.checksum(bytes) == Self.referenceCRC(bytes), "length \(n)")
        }
        let big = (0 ..< 100_003).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let chained = big.withUnsafeBytes { raw in
            CRC32.update(CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[0 ..< 777])), UnsafeRawBufferPointer(rebasing: raw[777...]))
        }
        #expect(chained == Self.referenceCRC(big))
    }

    @Test("the folded CRC (carry-less multiply) equals the tables and the bitwise reference: every length 0-1,000 at four alignments, chained at every 61st split")
    func foldedCRCMatchesTables() {
        var rng = SplitMix64(seed: 17)
        let buffer = (0 ..< 1_003).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        buffer.withUnsafeBytes { raw in
            for n in 0 ... 1_000 {
                for offset in 0 ..< 4 where offset + n <= raw.count {
                    let bytes = UnsafeRawBufferPointer(rebasing: raw[offset ..< offset + n])
                    let seed = UInt32(truncatingIfNeeded: rng.next())
                    #expect(CRC32.update(seed, bytes) == CRC32.updateWithTables(seed, bytes), "length \(n) at offset \(offset)")
                    if n % 97 == 0 { #expect(CRC32.checksum(bytes) == Self.referenceCRC(Array(bytes)), "length \(n)") }
                }
            }
            let whole = CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[0 ..< 1_000]))
            for split in stride(from: 0, through: 1_000, by: 61) {
                let first = CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[0 ..< split]))
                #expect(CRC32.update(first, UnsafeRawBufferPointer(rebasing: raw[split ..< 1_000])) == whole, "split at \(split)")
            }
        }
        #expect(CRC32.checksum(Array(repeating: 0xA5, count: 4_096)) == Self.referenceCRC(Array(repeating: 0xA5, count: 4_096)))
    }

    /// Offset of the first page's body in a file we wrote (the first chunk starts at byte 4),
    /// and the CRC its header carries.
    static func firstPage(_ path: String) throws -> (body: Int, size: Int, crc: Int32?) {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        return try bytes.withUnsafeBytes { raw in
            var r = ThriftReader(raw, at: 4)
            let h = try r.readPageHeader()
            return (r.position, Int(h.compressedPageSize), h.crc)
        }
    }

    /// Whether the zstd frame of the page body at `body` carries a content checksum (bit 2 of the
    /// frame header descriptor, after the 4-byte magic; RFC 8878 3.1.1.1.1).
    static func zstdFrameChecksummed(_ path: String, body: Int) throws -> Bool {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(Array(bytes[body ..< body + 4]) == [0x28, 0xB5, 0x2F, 0xFD], "a zstd frame")
        return bytes[body + 4] & 0x04 != 0
    }

    static func flip(_ path: String, byte: Int, mask: UInt8 = 0x10) throws {
        var data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        data[byte] ^= mask
        try Data(data).write(to: URL(fileURLWithPath: path))
    }

    @Test("every page we write carries the spec's CRC; one flipped bit in a page is a page checksum error naming file and column")
    func pageFlipIsCaught() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("ours.parquet")
        var options = ParquetWriteOptions()
        options.rowGroupRows = 1_000
        try ParquetFileWriter.write(sampleBatch(rows: 2_500), to: path, options: options)
        let counts = try ParquetFileReader(path: path).verifyPages()
        #expect(counts.pages > 0 && counts.checksummed == counts.pages)

        let page = try Self.firstPage(path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(page.crc.map { UInt32(bitPattern: $0) } == CRC32.checksum(Array(bytes[page.body ..< page.body + page.size])))
        // The CRC covers the page: no second (zstd frame) checksum of the same bytes.
        #expect(try !Self.zstdFrameChecksummed(path, body: page.body))
        try Self.flip(path, byte: page.body + page.size / 2)
        let reader = try ParquetFileReader(path: path)  // the footer is intact
        #expect {
            _ = try reader.readAll()
        } throws: { e in
            guard case .pageChecksumMismatch(let p, let column, let rowGroup, _, _, _)? = e as? ParquetError else { return false }
            return p == path && column == reader.schema.fields[0].name && rowGroup == 0
        }
        #expect(throws: ParquetError.self) { _ = try reader.verifyPages() }
    }

    @Test("without page CRCs the option writes none (the zstd frames carry their checksum instead), and the reader still reads")
    func pageChecksumsCanBeOff() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("nocrc.parquet")
        var options = ParquetWriteOptions()
        options.pageChecksums = false
        let batch = sampleBatch(rows: 300)
        try ParquetFileWriter.write(batch, to: path, options: options)
        let page = try Self.firstPage(path)
        #expect(page.crc == nil)
        // Without the CRC the zstd frame keeps its own checksum: a flipped page is still caught.
        #expect(try Self.zstdFrameChecksummed(path, body: page.body))
        let counts = try ParquetFileReader(path: path).verifyPages()
        #expect(counts.pages > 0 && counts.checksummed == 0)
        #expect(canonicalRows(try ParquetFileReader(path: path).readAll()) == canonicalRows(batch))
        try Self.flip(path, byte: page.body + page.size / 2)
        #expect(throws: ParquetError.self) { _ = try ParquetFileReader(path: path).readAll() }
    }

    @Test("a file of another size than recorded, or whose footer is not the recorded one, is refused before parsing")
    func sizeAndFooterExpectations() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("f.parquet")
        let summary = try ParquetFileWriter.write(sampleBatch(rows: 500), to: path)
        let good = ParquetFileReader.Expectation(fileSize: summary.fileSize, footerChecksum: summary.footerChecksum)
        let reader = try ParquetFileReader(path: path, expect: good)
        #expect(reader.footerChecksum == summary.footerChecksum)

        #expect(throws: ParquetError.sizeMismatch(path: path, expected: summary.fileSize + 1, actual: summary.fileSize)) {
            _ = try ParquetFileReader(path: path, expect: .init(fileSize: summary.fileSize + 1, footerChecksum: nil))
        }
        #expect(throws: ParquetError.footerChecksumMismatch(path: path, expected: summary.footerChecksum ^ 1, actual: summary.footerChecksum)) {
            _ = try ParquetFileReader(path: path, expect: .init(fileSize: nil, footerChecksum: summary.footerChecksum ^ 1))
        }
        // Grown by a byte (the trailer moves, so the recorded size is what catches it) ...
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        try Data(bytes + [0]).write(to: URL(fileURLWithPath: path))
        #expect(throws: ParquetError.sizeMismatch(path: path, expected: summary.fileSize, actual: summary.fileSize + 1)) {
            _ = try ParquetFileReader(path: path, expect: good)
        }
        // ... and truncated.
        bytes.removeLast(100)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: ParquetError.sizeMismatch(path: path, expected: summary.fileSize, actual: summary.fileSize - 100)) {
            _ = try ParquetFileReader(path: path, expect: good)
        }
    }

    @Test("pyarrow verifies our page CRCs (and rejects a flipped page); DuckDB (1.5.5 and the newest) reads our files",
          arguments: Python.parquetPeers)
    func pyarrowVerifiesOurCRCs(python: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("ours.parquet"), bad = dir.file("bad.parquet")
        var options = ParquetWriteOptions()
        options.rowGroupRows = 1_000
        let batch = sampleBatch(rows: 2_500)
        try ParquetFileWriter.write(batch, to: path, options: options)
        try FileManager.default.copyItem(atPath: path, toPath: bad)
        let page = try Self.firstPage(bad)
        try Self.flip(bad, byte: page.body + page.size / 2)
        let script = pythonCanonical + Python.duckdbPrelude + """
        import pyarrow.parquet as pq
        good, bad = sys.argv[1], sys.argv[2]
        t = pq.read_table(good, page_checksum_verification=True)
        try:
            pq.read_table(bad, page_checksum_verification=True)
            bad_error = ""
        except Exception as e:
            bad_error = str(e)
        rows = duckdb.connect().execute("SELECT * FROM read_parquet(?)", [good]).fetchall()
        print(json.dumps({"arrow_rows": [[canon(v) for v in r.values()] for r in t.to_pylist()],
                          "duck_rows": [[canon(v) for v in r] for r in rows], "bad_error": bad_error}))
        """
        let out = try #require(try Python.json(script, [path, bad], python: python) as? [String: Any])
        #expect(decodeRows(out["arrow_rows"] as Any) == canonicalRows(batch))
        #expect(decodeRows(out["duck_rows"] as Any) == canonicalRows(batch))
        let error = out["bad_error"] as? String ?? ""
        #expect(error.lowercased().contains("crc"), "pyarrow must reject the flipped page by its CRC, said: \(error)")
    }

    @Test("we verify pyarrow's page CRCs (write_page_checksum=True): intact reads, a flipped page is a checksum error")
    func weVerifyPyarrowCRCs() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("arrow.parquet")
        try Python.run("""
        import sys, pyarrow as pa, pyarrow.parquet as pq
        t = pa.table({"id": pa.array(range(5000), pa.int64()), "name": pa.array([f"n{i % 97}" for i in range(5000)])})
        pq.write_table(t, sys.argv[1], compression="zstd", write_page_checksum=True, use_dictionary=False)
        """, [path])
        let reader = try ParquetFileReader(path: path)
        let counts = try reader.verifyPages()
        #expect(counts.pages > 0 && counts.checksummed == counts.pages)
        let all = try reader.readAll()
        #expect(all.count == 5000)

        let page = try Self.firstPage(path)
        #expect(page.crc != nil)
        try Self.flip(path, byte: page.body + page.size / 2)
        #expect {
            _ = try ParquetFileReader(path: path).readAll()
        } throws: { e in
            if case .pageChecksumMismatch(_, "id", 0, _, _, _)? = e as? ParquetError { return true }
            return false
        }
    }
}
