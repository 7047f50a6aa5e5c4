import Foundation
import LakeTestSupport
import Testing
@testable import LakeFormat

/// A failed batch used to leave the partition directories it had created, empty (session 15
/// probe: thousands of `date=…/channel=…` directories after one refused ingest), and vacuum
/// left those of the files it deleted. `LocalStorage` now removes a directory with its last
/// file, as an object store's prefix goes with its last object; a writer that finds its new
/// directory removed under it (another writer's file went in between) makes it again.
@Suite struct EmptyDirectoryTests {
    static func directories(under dir: TemporaryDirectory) -> Set<String> {
        var out = Set<String>()
        let e = FileManager.default.enumerator(atPath: dir.path)
        while let rel = e?.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir.path + "/" + rel, isDirectory: &isDir), isDir.boolValue { out.insert(rel) }
        }
        return out
    }

    @Test("an abandoned write and a deleted file take their emptied directories with them, never the root or a directory still holding a file")
    func emptiedDirectoriesGo() throws {
        let dir = try TemporaryDirectory("empty-dirs")
        defer { dir.remove() }
        let storage = LocalStorage(root: dir.url)
        let kept = try StorageKey("curated/orders/date=2024-01-01/channel=web/kept.parquet")
        try storage.put(kept, Array("kept".utf8))

        // Abandoned before publish (a failed batch): its three new directories go.
        do {
            let w = try storage.create(try StorageKey("curated/orders/date=2024-01-02/channel=app/a.parquet"))
            try Array("a".utf8).withUnsafeBytes { try w.write($0) }
        }
        #expect(Self.directories(under: dir) == ["curated", "curated/orders", "curated/orders/date=2024-01-01",
                                                 "curated/orders/date=2024-01-01/channel=web"])

        // Published, then deleted (a discarded batch file, or vacuum's): its directories go too.
        let b = try StorageKey("raw/orders/date=2024-01-03/b.parquet")
        try storage.put(b, Array("b".utf8))
        #expect(Self.directories(under: dir).contains("raw/orders/date=2024-01-03"))
        try storage.delete(b)
        #expect(!Self.directories(under: dir).contains("raw"))

        // A directory still holding a file stays, and so do its parents.
        let sibling = try StorageKey("curated/orders/date=2024-01-01/channel=app/s.parquet")
        try storage.put(sibling, Array("s".utf8))
        try storage.delete(sibling)
        #expect(Self.directories(under: dir) == ["curated", "curated/orders", "curated/orders/date=2024-01-01",
                                                 "curated/orders/date=2024-01-01/channel=web"])
        #expect(try storage.get(kept) == Array("kept".utf8))
        // The last file: everything under the root goes, the root stays.
        try storage.delete(kept)
        #expect(Self.directories(under: dir).isEmpty)
        #expect(FileManager.default.fileExists(atPath: dir.path))
    }

    @Test("two threads writing into one partition, each dropping its files: a directory emptied by one is made again by the other, no create fails")
    func concurrentCreateAndRemove() throws {
        let dir = try TemporaryDirectory("empty-dirs-race")
        defer { dir.remove() }
        let storage = LocalStorage(root: dir.url)
        _ = try parallelMapBlocking(count: 2, threads: 2) { t in
            for i in 0 ..< 1500 {
                let w = try storage.create(try StorageKey("curated/orders/date=2024-01-01/channel=web/t\(t)-\(i).parquet"))
                try Array("x".utf8).withUnsafeBytes { try w.write($0) }
                if i % 3 == 0 {
                    try w.publish()
                    try storage.delete(try StorageKey("curated/orders/date=2024-01-01/channel=web/t\(t)-\(i).parquet"))
                }
            }
        }
        #expect(Self.directories(under: dir).isEmpty)
    }
}
