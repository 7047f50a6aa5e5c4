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
        let pid = try PostgresCluster.spawn(["/bin/sleep", "3"])
        defer { kill(pid, SIGKILL); var st: Int32 = 0; waitpid(pid, &st, 0) }
        close(fds[1])
        // With our write end closed, the read end is at end of file at once, unless the child
        // still holds a copy of the write end.
        var p = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        let ready = poll(&p, 1, 1_000)
        var byte: UInt8 = 0
        let n = ready == 1 ? read(fds[0], &byte, 1) : -1
        close(fds[0])
        #expect(ready == 1 && n == 0, "the spawned process kept the pipe open (poll \(ready), read \(n))")
    }
}
