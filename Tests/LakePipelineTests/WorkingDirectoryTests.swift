import Foundation
import LakeTestSupport
import Testing

/// The environment a command runs in (session 16 probe). A relative lake path in a working
/// directory deleted under the shell gave "no lake at lake" for reads and, for `lake run`,
/// "cannot create lake directory lake: The operation could not be completed. The specified URL
/// type isn't supported".
@Suite(.serialized) struct WorkingDirectoryTests {
    /// `lake arguments` run by bash from a directory it deleted first.
    static func runInDeletedDirectory(_ arguments: [String], in dir: TemporaryDirectory) throws -> (status: Int32, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", "mkdir gone && cd gone && rmdir ../gone && exec \"$@\"", "bash", lakeBinary.path] + arguments
        p.currentDirectoryURL = dir.url
        let errFile = dir.file("err")
        #expect(FileManager.default.createFile(atPath: errFile, contents: nil))
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle(forWritingAtPath: errFile)
        try p.run()
        p.waitUntilExit()
        return (p.terminationStatus, (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? "")
    }

    @Test("a relative lake path in a deleted working directory: a usage error saying so, for reads and writes alike; an absolute one works")
    func deletedWorkingDirectory() throws {
        let dir = try TemporaryDirectory("deleted-cwd")
        defer { dir.remove() }
        for command in [["snapshots"], ["run", "--input", evaluationFiles.path], ["verify", "--lake", "rel/lake"]] {
            let r = try Self.runInDeletedDirectory(command, in: dir)
            #expect(r.status == 64 && r.err.contains("the working directory cannot be found") && r.err.contains("absolute path"),
                    "\(command): status \(r.status): \(r.err)")
        }
        let r = try Self.runInDeletedDirectory(["run", "--input", evaluationFiles.path, "--lake", dir.file("lake")], in: dir)
        #expect(r.status == 0, "\(r.err)")
    }
}
