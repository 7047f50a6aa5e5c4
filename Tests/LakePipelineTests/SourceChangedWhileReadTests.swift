import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

/// A source file changed while a batch ingest reads it (session 15 probe). Truncated and
/// written again mid-read (what copytruncate rotation or a producer rewriting its file does),
/// it was read as the old version's head and the new version's tail and committed, exit 0: a
/// batch of 44,377 orders of one version and 12,001 of the other, the rest of each never read.
/// A file changed under the read is now refused at its end, before anything is committed; one
/// replaced by rename is read as the version the ingest opened. The change is made from the
/// ingest's progress callback, which runs while the reader is still short of the end.
@Suite(.serialized) struct SourceChangedWhileReadTests {
    static func lake(_ dir: TemporaryDirectory) throws -> LakeStore {
        let store = try OrphanSweepRaceTests.openLake(dir, hooks: CommitHooks())
        _ = try CatalogIngest.run(store, path: evaluationCatalog)
        return store
    }

    /// Small chunks, so the first progress report comes long before the reader's end.
    static var options: IngestOptions {
        var o = IngestOptions()
        o.parallelism = 2
        o.chunkBytes = 16 << 10
        return o
    }

    static func lines() throws -> [Substring] {
        try String(contentsOfFile: evaluationOrders, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: true)
    }

    /// Ingests `source` (a copy of the sample orders) and runs `change` once, at the first
    /// progress report; expects the refusal, with nothing committed and no file left.
    func expectRefused(_ name: String, change: @escaping (String) throws -> Void) throws {
        let dir = try TemporaryDirectory(name)
        defer { dir.remove() }
        let store = try Self.lake(dir)
        let source = dir.file("orders.jsonl")
        try FileManager.default.copyItem(atPath: evaluationOrders, toPath: source)
        let before = try store.catalog.latestSnapshot().id
        let files = FailedWriteCleanupTests.dataFiles(under: store.root)
        var changed = false
        var failure: (any Error)?
        do {
            _ = try OrderIngest.run(store, path: source, options: Self.options) { _, _ in
                if changed { return }
                changed = true
                do { try change(source) } catch { Issue.record("changing the source: \(error)") }
            }
        } catch { failure = error }
        #expect(changed, "no progress report: the source was never changed")
        let error = try #require(failure, "the ingest of a file changed while it was read succeeded")
        #expect("\(error)".contains("the file changed while it was read"), "\(error)")
        #expect("\(error)".contains("nothing was committed"), "\(error)")
        #expect(try store.catalog.latestSnapshot().id == before, "a snapshot was committed")
        let left = FailedWriteCleanupTests.dataFiles(under: store.root).subtracting(files)
        #expect(left.isEmpty, "the refused ingest left \(left.count) files, e.g. \(left.sorted().prefix(3))")

        // Once nothing writes to it, the file as it now is goes in whole.
        let rerun = try OrderIngest.run(store, path: source, options: Self.options)
        try OrphanSweepRaceTests.expectLakeWhole(store, accepted: Int(rerun.accepted), records: Int(rerun.records))
    }

    @Test("truncated and written again mid-read (same size, other order): refused, nothing committed; the rerun takes the new version")
    func truncatedAndRewritten() throws {
        try expectRefused("source-rewritten") { path in
            let lines = try Self.lines()
            let rotated = lines[(lines.count / 2)...] + lines[..<(lines.count / 2)]
            let handle = try #require(FileHandle(forWritingAtPath: path))
            try handle.truncate(atOffset: 0)
            try handle.write(contentsOf: Data((rotated.joined(separator: "\n") + "\n").utf8))
            try handle.close()
        }
    }

    @Test("appended to mid-read (half a line): refused, nothing committed")
    func appended() throws {
        try expectRefused("source-appended") { path in
            let handle = try #require(FileHandle(forWritingAtPath: path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(#"{"order_id": "ORD-APPENDED", "customer_id": "CUST-"#.utf8))
            try handle.close()
        }
    }

    @Test("replaced by rename mid-read: the ingest reads the version it opened, whole")
    func replacedByRename() throws {
        let dir = try TemporaryDirectory("source-renamed")
        defer { dir.remove() }
        let store = try Self.lake(dir)
        let source = dir.file("orders.jsonl")
        try FileManager.default.copyItem(atPath: evaluationOrders, toPath: source)
        let original = try ContentHash.file(source).hash
        var changed = false
        let run = try OrderIngest.run(store, path: source, options: Self.options) { _, _ in
            if changed { return }
            changed = true
            let lines = (try? Self.lines()) ?? []
            let other = dir.file("other.jsonl")
            try? (lines.prefix(100).joined(separator: "\n") + "\n").write(toFile: other, atomically: false, encoding: .utf8)
            #expect(rename(other, source) == 0)
        }
        #expect(changed)
        #expect(run.sourceHash == original, "the ledger records the version read: \(run.sourceHash ?? "nil") against \(original)")
        // A control ingest of the original content gives the counts.
        let control = try TemporaryDirectory("source-renamed-control")
        defer { control.remove() }
        let reference = try OrderIngest.run(try Self.lake(control), path: evaluationOrders, options: Self.options)
        #expect(run.records == reference.records && run.accepted == reference.accepted, "\(run.records)/\(run.accepted) against \(reference.records)/\(reference.accepted)")
        try OrphanSweepRaceTests.expectLakeWhole(store, accepted: Int(run.accepted), records: Int(run.records))
    }
}
