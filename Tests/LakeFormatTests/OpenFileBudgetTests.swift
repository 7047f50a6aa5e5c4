import Foundation
import LakeTestSupport
import Testing
@testable import LakeFormat

/// A writer per partition used to hold its descriptor until its publish, so an ingest of
/// orders spanning years needed thousands at once and failed with EMFILE under `ulimit -n`
/// 1024 (session 15 probe). Files being written now hold one only within `OpenFileBudget`.
@Suite struct OpenFileBudgetTests {
    /// Descriptors this process has open now on files under `dir` (other suites run beside this one).
    static func openDescriptors(under dir: TemporaryDirectory) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").filter { fd in
            ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd)) ?? "").hasPrefix(dir.path + "/")
        }.count
    }

    static func writers(_ count: Int, in dir: TemporaryDirectory, budget: OpenFileBudget) throws -> [LocalStorageWriter] {
        try (0 ..< count).map { i in
            try LocalStorageWriter(target: dir.file("f\(i)"), temp: dir.file(".tmp-f\(i).pending"), hold: dir.file(".f\(i).pending"), budget: budget)
        }
    }

    static func chunk(_ file: Int, _ round: Int) -> [UInt8] { Array("file \(file) round \(round);".utf8) }

    @Test("40 files written round-robin under a budget of 8: at most 8 descriptors held, every byte in place after publish")
    func boundedWhileWriting() throws {
        let dir = try TemporaryDirectory("budget")
        defer { dir.remove() }
        let budget = OpenFileBudget(limit: 8)
        let files = try Self.writers(40, in: dir, budget: budget)
        var most = 0
        for round in 0 ..< 5 {
            for (i, w) in files.enumerated() {
                try Self.chunk(i, round).withUnsafeBytes { try w.write($0) }
                most = max(most, try Self.openDescriptors(under: dir))
            }
        }
        #expect(budget.peak <= 8, "held \(budget.peak) descriptors at once")
        #expect(most <= 8, "the process had \(most) descriptors open on the 40 files at once")
        #expect(budget.parked >= 40 * 4, "files were parked and reopened as the writes went round: \(budget.parked)")
        for w in files { try w.publish() }
        #expect(budget.holdingCount == 0)
        #expect(try Self.openDescriptors(under: dir) == 0)
        for i in 0 ..< 40 {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file("f\(i)"))))
            #expect(bytes == (0 ..< 5).flatMap { Self.chunk(i, $0) }, "file \(i) differs")
            #expect(FileManager.default.fileExists(atPath: dir.file(".f\(i).pending")), "published under its hold name too")
        }
    }

    @Test("four threads writing 60 files under a budget of 6: no byte lost or misplaced; abandoned files leave no temp file")
    func concurrentWritersAndAbandon() throws {
        let dir = try TemporaryDirectory("budget-threads")
        defer { dir.remove() }
        let budget = OpenFileBudget(limit: 6)
        do {
            let files = try Self.writers(60, in: dir, budget: budget)
            // Each thread owns 15 files (a file is written by one thread at a time, as a partition
            // is), and parks the others' files while making room.
            _ = try parallelMapBlocking(count: 4, threads: 4) { t in
                for round in 0 ..< 20 {
                    for i in stride(from: t, to: 60, by: 4) {
                        try Self.chunk(i, round).withUnsafeBytes { try files[i].write($0) }
                    }
                }
            }
            #expect(budget.parked > 0)
            for (i, w) in files.enumerated() where i % 2 == 0 { try w.publish() }
            for i in stride(from: 0, to: 60, by: 2) {
                let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file("f\(i)"))))
                #expect(bytes == (0 ..< 20).flatMap { Self.chunk(i, $0) }, "file \(i) differs")
            }
        }
        // The odd ones were dropped unpublished (an ingest that failed): nothing of them stays.
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".tmp-") }
        #expect(left.isEmpty, "temp files of abandoned writers: \(left.prefix(3))")
        #expect(budget.holdingCount == 0)
    }

    /// A park's fsync or close failing (EIO from the device) is the only report of bytes the
    /// file may have lost; its descriptor is gone, so the error must outlive it.
    @Test("a park whose fsync or close fails: that file's next write and its publish throw the error, no name is published, no temp file stays; the others are intact",
          arguments: [OpenFileBudget.ParkStep.fsync, .close])
    func failedParkIsThrownLater(step: OpenFileBudget.ParkStep) throws {
        let dir = try TemporaryDirectory("budget-park-fault")
        defer { dir.remove() }
        let victim = dir.file(".tmp-f0.pending")
        let budget = OpenFileBudget(limit: 2) { s, path in s == step && path == victim ? EIO : nil }
        let expected = StorageError.io(location: victim, operation: step == .fsync ? "fsync" : "close", errno: EIO)
        do {
            // f0 has bytes when f2's creation parks it (the budget holds 2): that park fails.
            let files = try Self.writers(2, in: dir, budget: budget)
            try Self.chunk(0, 0).withUnsafeBytes { try files[0].write($0) }
            let more = try (2 ..< 4).map { i in
                try LocalStorageWriter(target: dir.file("f\(i)"), temp: dir.file(".tmp-f\(i).pending"), hold: dir.file(".f\(i).pending"), budget: budget)
            }
            let all = files + more
            #expect(budget.parked > 0)
            for round in 0 ..< 3 {
                for (i, w) in all.enumerated() where i != 0 {
                    try Self.chunk(i, round).withUnsafeBytes { try w.write($0) }
                }
            }
            #expect(throws: expected) { try Self.chunk(0, 1).withUnsafeBytes { try files[0].write($0) } }
            #expect(throws: expected) { try Self.chunk(0, 2).withUnsafeBytes { try files[0].write($0) } }
            #expect(throws: expected) { try files[0].publish() }
            #expect(!FileManager.default.fileExists(atPath: dir.file("f0")), "a file whose park failed was published")
            #expect(!FileManager.default.fileExists(atPath: dir.file(".f0.pending")))
            for (i, w) in all.enumerated() where i != 0 {
                try w.publish()
                let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file("f\(i)"))))
                #expect(bytes == (0 ..< 3).flatMap { Self.chunk(i, $0) }, "file \(i) differs")
            }
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".tmp-") }
        #expect(left.isEmpty, "temp files left: \(left)")
        #expect(budget.holdingCount == 0)
        #expect(try Self.openDescriptors(under: dir) == 0)
    }
}
