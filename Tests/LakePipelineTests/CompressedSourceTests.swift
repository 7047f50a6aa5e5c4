import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

/// Session 38 probe: `lake ingest orders orders.jsonl.gz` failed with "not JSON Lines … the input
/// starts with \u{1F}\x{8B}…", inventory with "header is \u{1F}\u{FFFD}…" and the catalog with
/// "unexpected byte 0x1f": binary garbage, naming neither the cause nor the fix.
@Suite("A compressed source is refused as compressed, by name, nothing committed", .serialized)
struct CompressedSourceTests {
    /// Each format's bytes as its own library writes them (Python's gzip, bz2, lzma and zipfile),
    /// so the magic numbers are checked against the formats, not against our reading of them.
    static let pythonCompress = """
    import bz2, gzip, io, lzma, sys, zipfile
    src, out = sys.argv[1], sys.argv[2]
    data = open(src, 'rb').read()
    open(out + '.gz', 'wb').write(gzip.compress(data))
    open(out + '.bz2', 'wb').write(bz2.compress(data))
    open(out + '.xz', 'wb').write(lzma.compress(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('data', data)
    open(out + '.zip', 'wb').write(buf.getvalue())
    """

    /// `source` compressed in every format: the path of each, by format.
    static func compressedCopies(of source: String, in dir: TemporaryDirectory, name: String) throws -> [CompressionFormat: String] {
        let out = dir.file(name)
        _ = try TestSupport.runPython(pythonCompress, args: [source, out])
        let text = try Data(contentsOf: URL(fileURLWithPath: source))
        // libzstd's own frame (the library the Parquet codec uses).
        try Data(text.withUnsafeBytes { ZstdFrame.compress($0) }).write(to: URL(fileURLWithPath: out + ".zst"))
        // No LZ4 frame writer here: a frame's header as the LZ4 frame format specifies it
        // (magic 0x184D2204 little-endian, FLG version 01, BD 64 KB, header checksum).
        try Data([0x04, 0x22, 0x4D, 0x18, 0x64, 0x40, 0xA7] + Array(text.prefix(64))).write(to: URL(fileURLWithPath: out + ".lz4"))
        return [.gzip: out + ".gz", .bzip2: out + ".bz2", .xz: out + ".xz", .zip: out + ".zip", .zstd: out + ".zst", .lz4: out + ".lz4"]
    }

    @Test("each format is told by its first bytes; JSON Lines, a CSV header, a JSON array and short text are not")
    func detection() throws {
        let dir = try TemporaryDirectory("compressed-detect")
        defer { dir.remove() }
        let copies = try Self.compressedCopies(of: evaluationOrders, in: dir, name: "orders.jsonl")
        #expect(Set(copies.keys) == Set(CompressionFormat.allCases))
        for (format, path) in copies {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(CompressionFormat.detect(bytes) == format, "\(path)")
            // Any first bytes short of the whole magic number are not yet a verdict.
            #expect(CompressionFormat.detect(bytes.prefix(1)) == nil)
        }
        let texts = ["{\"order_id\": \"ORD-1\"}\n", "product_id,available_quantity,warehouse_location,last_updated\n",
                     "[{\"product_id\": \"P-1\"}]", "", "\u{FEFF}{}", "BZh", "BZhx1AY&SY", "PK\u{3}", "\n\n{}\n"]
        for text in texts { #expect(CompressionFormat.detect(Array(text.utf8)) == nil, "\(text.debugDescription)") }
    }

    @Test("orders (serial and parallel), inventory and the catalog, gzip to lz4: refused as compressed, nothing committed")
    func ingestsRefuseCompressedSources() throws {
        let dir = try TemporaryDirectory("compressed-ingest")
        defer { dir.remove() }
        let store = try lakeWithCatalog(dir)
        let before = (try store.catalog.snapshots().count, try store.catalog.ingestRuns().count)
        let sources: [(name: String, text: String, ingest: (String) throws -> IngestRun)] = [
            ("orders.jsonl", evaluationOrders, { path in
                var serial = IngestOptions()
                serial.parallelism = 1
                return try OrderIngest.run(store, path: path, options: serial)
            }),
            ("orders-parallel.jsonl", evaluationOrders, { path in
                var parallel = IngestOptions()
                parallel.parallelism = 2
                return try OrderIngest.run(store, path: path, options: parallel)
            }),
            ("inventory.csv", evaluationInventory, { try InventoryIngest.run(store, path: $0) }),
            ("catalog.json", evaluationCatalog, { try CatalogIngest.run(store, path: $0) }),
        ]
        for source in sources {
            for (format, path) in try Self.compressedCopies(of: source.text, in: dir, name: source.name) {
                #expect {
                    _ = try source.ingest(path)
                } throws: { error in
                    let text = "\(error)"
                    return text.contains("\(path) is \(format.rawValue)-compressed") && text.contains(format.decompressor)
                        && text.contains("nothing was committed")
                }
            }
        }
        #expect((try store.catalog.snapshots().count, try store.catalog.ingestRuns().count) == before)
        // The same bytes decompressed are ingested as ever.
        #expect(try OrderIngest.run(store, path: evaluationOrders).accepted > 0)
    }

    @Test("a pipe that hands the magic number over a byte at a time is refused too")
    func magicSplitAcrossReads() throws {
        let dir = try TemporaryDirectory("compressed-pipe")
        defer { dir.remove() }
        let gz = try #require(try Self.compressedCopies(of: evaluationCatalog, in: dir, name: "catalog.json")[.gzip])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: gz))
        let pipe = Pipe()
        let writer = pipe.fileHandleForWriting
        let written = DispatchSemaphore(value: 0)
        detachThread {
            // The first byte alone, then the rest once the reader has surely taken it.
            writer.write(bytes.prefix(1))
            Thread.sleep(forTimeInterval: 0.2)
            writer.write(bytes.dropFirst())
            try? writer.close()
            written.signal()
        }
        let input = try SourceInput.open("/dev/fd/\(pipe.fileHandleForReading.fileDescriptor)")
        #expect(throws: SourceInputError.compressed(path: "/dev/fd/\(pipe.fileHandleForReading.fileDescriptor)", format: .gzip)) {
            _ = try input.readAll(limit: 1 << 20)
        }
        written.wait()
        let stdin = CompressionFormat.gzip.refusal(path: "-")
        #expect(stdin.hasPrefix("standard input is gzip-compressed") && stdin.contains("| zcat | lake ingest"), "\(stdin)")
    }

    @Test("`lake ingest orders FILE.gz --follow`: exit 1 naming the file and the format before anything is read")
    func followRefusesCompressed() throws {
        let dir = try TemporaryDirectory("compressed-follow")
        defer { dir.remove() }
        _ = try lakeWithCatalog(dir)
        let gz = try #require(try Self.compressedCopies(of: evaluationOrders, in: dir, name: "orders.jsonl")[.gzip])
        let r = try runLake(["ingest", "orders", "--lake", dir.file("lake"), "--follow", gz], timeout: 60)
        #expect(r.status == 1 && r.err.contains("\(gz) is gzip-compressed") && r.err.contains("zcat"), "\(r.status) \(r.err)")
        // A JSON array on one line with no newline yet: refused at once, not waited on as an
        // unfinished line (it was, for as long as the follower ran).
        let array = dir.file("orders.json")
        try #"[{"order_id": "ORD-1"}]"#.write(toFile: array, atomically: true, encoding: .utf8)
        let a = try runLake(["ingest", "orders", "--lake", dir.file("lake"), "--follow", array], timeout: 30)
        #expect(a.status == 1 && a.err.contains("a JSON array") && a.reason == .exit, "\(a.status) \(a.err)")
    }
}
