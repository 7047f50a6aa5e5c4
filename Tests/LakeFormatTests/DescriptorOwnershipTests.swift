import Foundation
import Glibc
import LakeTestSupport
import Synchronization
import Testing
@testable import LakeFormat

/// A descriptor closed twice is a descriptor stolen: between the two closes another thread may
/// open a file and be handed the same number, and the second close then closes *its* file (CI saw
/// "read failed: Bad file descriptor" on a good file while another test opened corrupt ones).
@Suite struct DescriptorOwnershipTests {
    @Test func closesExactlyOnce() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("f")
        try Data("x".utf8).write(to: URL(fileURLWithPath: path))
        var raw: Int32 = -1
        do {
            let d = try FileDescriptor(opening: path, flags: O_RDONLY)
            raw = d.raw
            #expect(fcntl(raw, F_GETFD) & FD_CLOEXEC != 0, "children must not inherit it")
        }
        // Released at the end of its scope: closed.
        #expect(fcntl(raw, F_GETFD) == -1 && errno == EBADF)
        #expect(throws: FileDescriptor.OpenError.self) { try FileDescriptor(opening: dir.file("missing"), flags: O_RDONLY) }
    }

    /// One thread opens files whose footer parses but whose layout is wrong (the reader fails
    /// after it is fully built); the other reads a good file over and over. Every read of the good
    /// file must succeed.
    @Test func failedReaderOpenNeverClosesAnotherThreadsFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let batch = sampleBatch(rows: 2_000, seed: 3)
        var options = ParquetWriteOptions()
        options.rowGroupRows = 700
        let goodPath = dir.file("good.parquet")
        try ParquetFileWriter.write(batch, to: goodPath, options: options)
        let good = try Data(contentsOf: URL(fileURLWithPath: goodPath))
        let footerLength = Int(good[good.count - 8]) | Int(good[good.count - 7]) << 8 | Int(good[good.count - 6]) << 16
        var cut = good.prefix(1_000)
        cut.append(good.suffix(footerLength + 8))
        let badPath = dir.file("bad.parquet")
        try Data(cut).write(to: URL(fileURLWithPath: badPath))
        // The bad file fails in layout validation, after the reader is fully initialised.
        #expect { try ParquetFileReader(path: badPath) } throws: { e in
            if case ParquetError.truncated = e { return true }
            return false
        }

        let rounds = 3_000
        let failures = Mutex<[String]>([])
        _ = try parallelMapBlocking(count: 2, threads: 2) { worker in
            for _ in 0 ..< rounds {
                if worker == 0 {
                    _ = try? ParquetFileReader(path: badPath)
                } else {
                    do { _ = try ParquetFileReader(path: goodPath).read(rowGroup: 0) } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
            }
        }
        let seen = failures.withLock { $0 }
        #expect(seen.isEmpty, "\(seen.count) reads of a good file failed, first: \(seen.first ?? "")")
    }
}
