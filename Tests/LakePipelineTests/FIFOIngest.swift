import Foundation
import LakeTestSupport
import Testing

/// `lake ingest orders` started on a new FIFO, which this process then holds open for writing:
/// the ingest's standard output discarded, its standard error kept in `errFile`.
struct FIFOIngest {
    let process: Process
    let writer: Int32
    let errFile: String

    init(root: String, fifo: String, errFile: String, arguments extra: [String] = []) throws {
        #expect(mkfifo(fifo, 0o600) == 0)
        let p = Process()
        p.executableURL = lakeBinary
        p.currentDirectoryURL = packageRoot
        p.arguments = ["ingest", "orders", "--lake", root, "--quiet", fifo] + extra
        #expect(FileManager.default.createFile(atPath: errFile, contents: nil))
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle(forWritingAtPath: errFile)
        try p.run()
        // The lake may exit first (interrupted, or failing): a write to its closed FIFO must not end this process.
        signal(SIGPIPE, SIG_IGN)
        // Non-blocking until the ingest opens its end (ENXIO before): a blocking open would wait
        // forever for an ingest that exits first. Then writes block again.
        var writer: Int32 = -1
        while writer < 0 && p.isRunning {
            writer = open(fifo, O_WRONLY | O_NONBLOCK)
            if writer < 0 { usleep(10_000) }
        }
        try #require(writer >= 0, "the ingest exited before it opened the FIFO")
        _ = fcntl(writer, F_SETFL, fcntl(writer, F_GETFL) & ~O_NONBLOCK)
        process = p
        self.writer = writer
        self.errFile = errFile
    }

    /// What the ingest wrote to standard error so far.
    var err: String { (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? "" }
}
