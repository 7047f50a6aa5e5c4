import Foundation
import LakeTestSupport
import Testing

/// A test's own `PostgresCluster()` had no watchdog (only the shared one did): a test process
/// killed (SIGKILL, a crashed run, a CI timeout) left each such server running, with its
/// temporary directory, until the machine's next reboot.
@Suite(.serialized) struct PostgresWatchdogTests {
    /// The postmaster's pid: the first line of `postmaster.pid` in the data directory.
    static func postmasterPID(_ directory: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8),
              let first = text.split(separator: "\n").first else { return nil }
        return pid_t(first.trimmingCharacters(in: .whitespaces))
    }

    static func alive(_ pid: pid_t) -> Bool { kill(pid, 0) == 0 || errno == EPERM }

    @Test("a process that started its own cluster is SIGKILLed: the watchdog stops the server and removes its directory within seconds")
    func killedOwnerLeavesNoServer() throws {
        let dir = try TemporaryDirectory("pg-watchdog")
        defer { dir.remove() }
        let info = dir.file("cluster")
        let child = Process()
        child.executableURL = writerBinary
        child.arguments = ["--pg-cluster", info]
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        var waited = 0.0
        while !FileManager.default.fileExists(atPath: info) && child.isRunning && waited < 180 {
            Thread.sleep(forTimeInterval: 0.1)
            waited += 0.1
        }
        guard FileManager.default.fileExists(atPath: info) else {
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            Issue.record("the child started no cluster in \(Int(waited)) s (status \(child.terminationStatus))")
            return
        }
        let lines = try String(contentsOfFile: info, encoding: .utf8).split(separator: "\n").map(String.init)
        try #require(lines.count == 2)
        let clusterDirectory = lines[1]
        let postmaster = try #require(Self.postmasterPID(clusterDirectory), "no postmaster.pid in \(clusterDirectory)")
        #expect(Self.alive(postmaster), "the server runs while its owner does")

        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        #expect(child.terminationReason == .uncaughtSignal)
        let killed = Date()
        while (Self.alive(postmaster) || FileManager.default.fileExists(atPath: clusterDirectory)) && Date().timeIntervalSince(killed) < 20 {
            Thread.sleep(forTimeInterval: 0.1)
        }
        let serverLeft = Self.alive(postmaster), directoryLeft = FileManager.default.fileExists(atPath: clusterDirectory)
        #expect(!serverLeft, "postmaster \(postmaster) still runs \(Int(Date().timeIntervalSince(killed))) s after its owner's SIGKILL")
        #expect(!directoryLeft, "\(clusterDirectory) left")
        if serverLeft {
            // Do not leak it ourselves: stop it as the watchdog should have.
            let pgctl = try String(contentsOfFile: "/proc/\(postmaster)/cmdline", encoding: .utf8).split(separator: "\0").first.map {
                ($0 as NSString).deletingLastPathComponent + "/pg_ctl"
            } ?? "pg_ctl"
            var argv = [pgctl, "-D", clusterDirectory + "/data", "-m", "immediate", "-w", "stop"]
            if getuid() == 0 { argv = ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv }
            _ = try? runProcess(argv[0], Array(argv.dropFirst()))
        }
        if directoryLeft { try? FileManager.default.removeItem(atPath: clusterDirectory) }
        print("watchdog: server gone \(String(format: "%.1f", Date().timeIntervalSince(killed))) s after the SIGKILL")
    }
}
