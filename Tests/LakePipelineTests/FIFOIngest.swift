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
        let writer = open(fifo, O_WRONLY)
        try #require(writer >= 0)
        process = p
        self.writer = writer
        self.errFile = errFile
    }

    /// What the ingest wrote to standard error so far.
    var err: String { (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? "" }
}
