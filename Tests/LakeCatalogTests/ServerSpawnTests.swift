import Foundation
import Glibc
import LakeTestSupport
import Testing

/// The PostgreSQL server and its watchdog outlive the spawn and run while other tests read their
/// own children's output through pipes. Had they inherited a pipe's write end, that reader would
/// see no end of file until the cluster stops at process exit: a hung test run.
@Suite struct ServerSpawnTests {
    @Test func aSpawnedServerHoldsNoDescriptorOfOurs() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)  // no O_CLOEXEC: what a careless library would leave open
        defer { close(fds[0]); close(fds[1]) }
        var info = stat()
        #expect(fstat(fds[1], &info) == 0)
        let ourPipe = "pipe:[\(info.st_ino)]"
        let pid = try PostgresCluster.spawn(["/bin/sleep", "30"])
        defer { kill(pid, SIGKILL); var st: Int32 = 0; waitpid(pid, &st, 0) }
        // posix_spawn returns once the child has exec'd, so its inherited descriptors are final:
        // they are read from /proc rather than by waiting for the pipe's end of file, which another
        // test's concurrent Process.run (whose child may briefly or lastingly hold a copy of a
        // descriptor opened while it was spawning) could delay past any fixed wait. The child's
        // dynamic loader still opens ld.so.cache and its libraries right after exec, each as fd 3
        // for a moment (strace shows it; the fresh-clone suite once caught a fd 3), so the table is
        // read until it holds the standard streams alone; an inherited descriptor never goes away,
        // and the test then fails.
        let dir = "/proc/\(pid)/fd"
        let deadline = Date().addingTimeInterval(120)
        var entries: [String] = []
        var targets: [String] = []
        repeat {
            entries = try FileManager.default.contentsOfDirectory(atPath: dir)
            // A descriptor closed between the listing and this read is gone: list again.
            targets = entries.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\($0)") }
            if targets.contains(ourPipe) || (Set(entries) == ["0", "1", "2"] && targets.count == 3) { break }
            usleep(10_000)
        } while Date() < deadline
        #expect(!targets.contains(ourPipe), "the spawned process kept our pipe open: \(targets)")
        #expect(Set(entries) == ["0", "1", "2"], "the spawned process holds descriptors beyond its standard streams: \(entries.sorted()) \(targets)")
        #expect(targets.allSatisfy { $0 == "/dev/null" }, "standard streams not on /dev/null: \(targets)")
    }
}
