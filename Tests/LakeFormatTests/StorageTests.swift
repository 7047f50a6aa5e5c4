import Foundation
import LakeFormat
import LakeTestSupport
import Testing

/// The `Storage` contract, run against both implementations: `LocalStorage` (every lake's) and
/// the tests' `InMemoryStorage` (which the whole-lake test drives a lake through).
@Suite struct StorageTests {
    static func key(_ s: String) throws -> StorageKey { try StorageKey(s) }

    /// Runs `body` on a fresh LocalStorage in a temp directory and on a fresh InMemoryStorage.
    static func both(_ body: (any Storage) throws -> Void) throws {
        let dir = try TemporaryDirectory("storage")
        defer { dir.remove() }
        try body(LocalStorage(root: dir.url))
        try body(InMemoryStorage())
    }

    @Test("keys are relative paths without empty, '.' or '..' components; absolute paths map under the root only")
    func keys() throws {
        for bad in ["", "/a", "a//b", "a/./b", "../a", "a/..", "a/", ".", "..", "/", "a/.", "./a", "a/\u{0}b"] {
            #expect(throws: StorageError.invalidKey(bad)) { try StorageKey(bad) }
        }
        // Dots are only refused as a whole component.
        for good in ["a", "a/.b/c", "a/..b", "a/.../b", "b..", "date=2024-01-15/x.parquet"] {
            #expect(try StorageKey(good).path == good)
        }
        #expect(try StorageKey(absolutePath: "/lake/curated/x.parquet", root: "/lake").path == "curated/x.parquet")
        #expect(try StorageKey(absolutePath: "/lake/curated/x.parquet", root: "/lake/").path == "curated/x.parquet")
        #expect(throws: StorageError.outsideRoot(path: "/lakes/x.parquet", root: "/lake")) {
            try StorageKey(absolutePath: "/lakes/x.parquet", root: "/lake")
        }
        #expect(throws: StorageError.invalidKey("../etc/passwd")) { try StorageKey(absolutePath: "/lake/../etc/passwd", root: "/lake") }
    }

    @Test("create is create-once: a second create of a key fails with alreadyExists and leaves the first object intact")
    func createOnce() throws {
        try Self.both { s in
            let k = try Self.key("curated/orders/date=2024-01-15/a.parquet")
            try s.put(k, Array("first".utf8))
            #expect(throws: StorageError.alreadyExists(s.location(of: k))) { try s.put(k, Array("second, longer".utf8)) }
            #expect(try s.get(k) == Array("first".utf8))
            // Two writers racing for one key: exactly one publishes.
            let k2 = try Self.key("curated/b.parquet")
            let w1 = try s.create(k2), w2 = try s.create(k2)
            try Array("one".utf8).withUnsafeBytes { try w1.write($0) }
            try Array("two".utf8).withUnsafeBytes { try w2.write($0) }
            try w1.publish()
            #expect(throws: StorageError.alreadyExists(s.location(of: k2))) { try w2.publish() }
            #expect(try s.get(k2) == Array("one".utf8))
        }
    }

    @Test("an object appears only when published; a writer dropped before publish leaves no object")
    func atomicPublish() throws {
        try Self.both { s in
            let k = try Self.key("raw/orders/x.parquet")
            do {
                let w = try s.create(k)
                try Array(repeating: UInt8(7), count: 1000).withUnsafeBytes { try w.write($0) }
                #expect(try s.info(k) == nil, "not visible before publish")
                #expect(try s.list(prefix: Self.key("raw")).filter { $0.key == k }.isEmpty)
            }
            #expect(try s.info(k) == nil, "an abandoned writer publishes nothing")
            #expect(try s.list(prefix: nil).isEmpty, "and leaves no temp file behind")
            #expect(throws: StorageError.notFound(s.location(of: k))) { try s.open(k) }
        }
    }

    @Test("ranged reads return exactly the bytes asked for; past the end is shortRead")
    func rangedReads() throws {
        try Self.both { s in
            let k = try Self.key("curated/r.parquet")
            let bytes = (0 ..< 10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            try s.put(k, bytes)
            let r = try s.open(k)
            #expect(r.size == 10_000)
            #expect(try r.read(at: 0, count: 4) == Array(bytes[0 ..< 4]))
            #expect(try r.read(at: 9_992, count: 8) == Array(bytes[9_992...]))
            #expect(try r.read(at: 1234, count: 5000) == Array(bytes[1234 ..< 6234]))
            #expect(try r.read(at: 10_000, count: 0) == [])
            #expect(throws: StorageError.shortRead(location: s.location(of: k), offset: 9_999, count: 2, size: 10_000)) {
                try r.read(at: 9_999, count: 2)
            }
        }
    }

    @Test("list under a prefix: every object below it with size and modification time, in key order, nothing beside it")
    func listPrefix() throws {
        try Self.both { s in
            let before = Int64(Date().timeIntervalSince1970 * 1_000_000) - 2_000_000
            for (k, n) in [("curated/orders/date=1/b.parquet", 3), ("curated/orders/date=1/a.parquet", 5),
                           ("curated/orders/date=2/c.parquet", 7), ("curated/ordersX/d.parquet", 1), ("raw/orders/e.parquet", 2)] {
                try s.put(try Self.key(k), Array(repeating: 1, count: n))
            }
            let listed = try s.list(prefix: Self.key("curated/orders"))
            #expect(listed.map(\.key.path) == ["curated/orders/date=1/a.parquet", "curated/orders/date=1/b.parquet", "curated/orders/date=2/c.parquet"])
            #expect(listed.map(\.size) == [5, 3, 7])
            let after = Int64(Date().timeIntervalSince1970 * 1_000_000) + 2_000_000
            #expect(listed.allSatisfy { $0.modifiedMicros > before && $0.modifiedMicros < after })
            #expect(try s.list(prefix: nil).count == 5)
            #expect(try s.list(prefix: Self.key("nothing/here")).isEmpty)
            #expect(try s.info(Self.key("curated/orders/date=2/c.parquet"))?.size == 7)
        }
    }

    @Test("delete removes the object; deleting a missing key is a no-op (as on object stores)")
    func deleteIsIdempotent() throws {
        try Self.both { s in
            let k = try Self.key("curated/gone.parquet")
            try s.put(k, [1, 2, 3])
            #expect(try s.exists(k))
            try s.delete(k)
            #expect(try !s.exists(k))
            try s.delete(k)
            try s.delete(Self.key("never/was.parquet"))
            // The key is free again: create-once is about live objects.
            try s.put(k, [4])
            #expect(try s.get(k) == [4])
        }
    }

    @Test("LocalStorage: a published file is at root/key, fsynced before its name appears, held under a second name until released, dirs created on the way")
    func localLayout() throws {
        let dir = try TemporaryDirectory("storage-local")
        defer { dir.remove() }
        let s = LocalStorage(root: dir.path + "/")
        let k = try Self.key("curated/orders/date=2024-01-15/channel=web/f.parquet")
        let k2 = try Self.key("curated/orders/date=2024-01-15/channel=web/h.parquet")
        #expect(s.location(of: k) == dir.path + "/curated/orders/date=2024-01-15/channel=web/f.parquet")
        try s.put(k, [1, 2, 3])
        #expect(FileManager.default.contents(atPath: s.location(of: k)) == Data([1, 2, 3]))
        let webDir = dir.path + "/curated/orders/date=2024-01-15/channel=web"
        #expect(try FileManager.default.contentsOfDirectory(atPath: webDir) == ["f.parquet"], "put releases at once")
        // A published file keeps a second, hold name until its commit releases it.
        let h = try s.create(k2)
        try [UInt8(1), 2, 3].withUnsafeBytes { try h.write($0) }
        try h.publish()
        #expect(try FileManager.default.contentsOfDirectory(atPath: webDir).sorted() == [".h.parquet.pending", "f.parquet", "h.parquet"])
        // A name deleted by another process (DuckDB's orphan sweep) comes back from the hold...
        try FileManager.default.removeItem(atPath: s.location(of: k2))
        #expect(try s.restore(k2) == true)
        #expect(FileManager.default.contents(atPath: s.location(of: k2)) == Data([1, 2, 3]))
        #expect(try s.restore(k2) == false, "present: nothing to restore")
        // ...until it is released; then nothing is held and only the file remains.
        try s.release(k2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: webDir).sorted() == ["f.parquet", "h.parquet"])
        try FileManager.default.removeItem(atPath: s.location(of: k2))
        #expect(try s.restore(k2) == false && !FileManager.default.fileExists(atPath: s.location(of: k2)))
        // Deleting a file still held removes the hold too: an abandoned write leaves nothing.
        let again = try s.create(k2)
        try [UInt8(4)].withUnsafeBytes { try again.write($0) }
        try again.publish()
        try s.delete(k2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: webDir) == ["f.parquet"])
        // A crash between create and publish leaves the temp name, which ends in `.pending`, not
        // `.parquet`: DuckDB's orphan sweep never takes it; vacuum's sweep knows the name.
        let w = try s.create(try Self.key("curated/orders/g.parquet"))
        try [UInt8(1)].withUnsafeBytes { try w.write($0) }
        let pending = try s.list(prefix: Self.key("curated/orders")).map(\.key.name).filter { !$0.hasSuffix(".parquet") }
        #expect(pending.count == 1 && pending[0].hasPrefix(".tmp-") && pending[0].hasSuffix(".pending"))
        #expect(LocalStorage.intendedName(ofFile: String(pending[0])) == "g.parquet" && LocalStorage.heldName(ofFile: String(pending[0])) == "g.parquet")
        #expect(LocalStorage.heldName(ofFile: ".g.parquet.pending") == "g.parquet")
        #expect(LocalStorage.intendedName(ofFile: "g.parquet") == "g.parquet" && LocalStorage.heldName(ofFile: "g.parquet") == nil)
        #expect(LocalStorage.intendedName(ofFile: ".tmp-" + UUID().uuidString.lowercased() + "-h.parquet") == "h.parquet", "an older build's temp name")
        // The storage names the write its debris belongs to, so vacuum needs no naming rule of its own.
        let tempKey = try Self.key("curated/orders/" + pending[0])
        #expect(s.pendingWrite(of: tempKey) == (try Self.key("curated/orders/g.parquet")))
        #expect(s.pendingWrite(of: try Self.key("curated/orders/.g.parquet.pending")) == (try Self.key("curated/orders/g.parquet")))
        #expect(s.pendingWrite(of: try Self.key(".top.parquet.pending")) == (try Self.key("top.parquet")))
        #expect(s.pendingWrite(of: try Self.key("curated/orders/g.parquet")) == nil)
        #expect(s.pendingWrite(of: try Self.key("curated/orders/...pending")) == nil, "names no file")
        #expect(InMemoryStorage().pendingWrite(of: tempKey) == nil, "a storage without private names has no debris")
        try w.publish()
        try s.release(try Self.key("curated/orders/g.parquet"))
        #expect(try s.list(prefix: Self.key("curated/orders")).map(\.key.name).sorted() == ["f.parquet", "g.parquet"])
        // Only regular files are objects; a symlink is not followed.
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/curated/link.parquet", withDestinationPath: s.location(of: k))
        #expect(try s.list(prefix: Self.key("curated")).contains { $0.key.path == "curated/link.parquet" } == false)
    }

    @Test("the Parquet writer and reader work through a storage: a file written to InMemoryStorage reads back equal")
    func parquetThroughStorage() throws {
        let s = InMemoryStorage()
        let schema = Schema([Field("id", .int64, nullable: false, fieldID: 1), Field("name", .string, nullable: true, fieldID: 2)])
        var names = StringColumn()
        for i in 0 ..< 1000 { names.append("n\(i % 17)") }
        let batch = RecordBatch(schema: schema, columns: [Column(.int64((0 ..< 1000).map(Int64.init))), Column(.string(names))])
        let k = try Self.key("curated/t/x.parquet")
        let summary = try ParquetFileWriter.write(batch, storage: s, key: k)
        #expect(try s.info(k)?.size == summary.fileSize)
        let r = try ParquetFileReader(storage: s, key: k, expect: .init(fileSize: summary.fileSize, footerChecksum: summary.footerChecksum))
        #expect(r.rowCount == 1000)
        let back = try r.readAll()
        #expect(back.columns[0].data == batch.columns[0].data)
        #expect((0 ..< 1000).allSatisfy { back.columns[1].string(at: $0) == "n\($0 % 17)" })
        // A second file under the same key is refused before anything is overwritten.
        #expect(throws: ParquetError.storage(.alreadyExists(s.location(of: k)))) { try ParquetFileWriter.write(batch, storage: s, key: k) }
        #expect(try s.info(k)?.size == summary.fileSize)
        // A missing object is the same error a missing local file was.
        #expect(throws: ParquetError.io(path: s.location(of: try Self.key("curated/t/none.parquet")), operation: "open", errno: ENOENT)) {
            try ParquetFileReader(storage: s, key: try Self.key("curated/t/none.parquet"))
        }
    }
}
