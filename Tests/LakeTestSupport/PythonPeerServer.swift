import Foundation

/// Runs the tests' Python scripts in long-lived interpreters instead of one process a script.
///
/// Why: a script is usually a few lines of DuckDB or pyarrow, but `import duckdb` costs about
/// 0.2 CPU-seconds and `import pyarrow.parquet` 0.3, paid again by each of the suite's ~560
/// scripts: process accounting of a CI run put the Python peers at ~400 CPU-seconds, most of it
/// imports, in a test phase that keeps both cores busy. A server imports them once and runs
/// script after script.
///
/// Why not fork a pre-imported interpreter: after those imports the interpreter already runs
/// native threads (DuckDB's, Arrow's), and a fork after threads can deadlock a child now and then.
///
/// What a script still gets of its own: its own `__main__` module, its `sys.argv`, stdout and
/// stderr at the file-descriptor level (C libraries' output too), an empty stdin, and the
/// working directory, environment, `sys.path` and decimal context put back after it. A garbage
/// collection runs before the next script, so a DuckDB connection it left open closes, and its
/// locks on a lake's catalog go with it. `sys.exit(n)` is exit status n; an uncaught exception is
/// status 1 with its traceback on stderr, as the interpreter does. A script that leaves a thread
/// running or closes a standard stream retires its server. A script that kills its interpreter
/// (a crash in C) fails with what it wrote and the server's log; the next script gets a new
/// server. Not put back: imported modules and their globals (DuckDB's default connection,
/// warnings already shown). Scripts that need a process of their own (exec, signal handlers,
/// atexit) run Python themselves (`Process`), not through this.
public enum PythonPeerServer {
    /// At most this many scripts per server, then a new one: what a library caches or leaks
    /// across scripts stays bounded, at one import every 50 scripts.
    static let scriptsPerServer = 50
    /// Idle servers kept per interpreter; a busier moment starts more and closes them after.
    static let idleServersKept = 3

    /// Runs the Python program `source` with `arguments` under the interpreter `python`, as the
    /// file script.py of a directory of its own; returns its exit status and output (status -1
    /// when its server died under it).
    public static func run(source: String, arguments: [String], python: String) throws -> (status: Int32, stdout: Data, stderr: Data) {
        let dir = try TemporaryDirectory("py-run")
        defer { dir.remove() }
        let script = dir.file("script.py"), out = dir.file("stdout"), err = dir.file("stderr")
        try source.write(toFile: script, atomically: true, encoding: .utf8)
        var attempt = 0
        while true {
            attempt += 1
            let server = try pool.take(python)
            do {
                let answer = try server.run(script: script, arguments: arguments, stdout: out, stderr: err)
                if answer.retire { server.close() } else { pool.give(server) }
                return (answer.status, FileManager.default.contents(atPath: out) ?? Data(), FileManager.default.contents(atPath: err) ?? Data())
            } catch let died as ServerDied {
                server.close()
                // A request that never reached its server (it had died idle) goes to a new one.
                if !died.delivered && attempt == 1 { continue }
                var stderr = FileManager.default.contents(atPath: err) ?? Data()
                stderr.append(Data("\n(the Python peer server running this script died: \(server.exitDescription))\n".utf8))
                return (-1, FileManager.default.contents(atPath: out) ?? Data(), stderr)
            } catch {
                server.close()
                throw error
            }
        }
    }

    /// The server's side, a Python file beside this one.
    static let serverScript = packageRoot.appendingPathComponent("Tests/LakeTestSupport/python-peer-server.py").path

    /// The server exited (or closed its socket) before answering; `delivered` false when the
    /// request could not even be sent.
    struct ServerDied: Error {
        var delivered = true
    }

    private static let pool = Pool()

    private final class Pool: @unchecked Sendable {
        private let lock = NSLock()
        private var idle: [String: [Server]] = [:]

        func take(_ python: String) throws -> Server {
            lock.lock()
            while let server = idle[python]?.popLast() {
                guard server.isRunning else {
                    server.close()
                    continue
                }
                lock.unlock()
                return server
            }
            lock.unlock()
            return try Server(python: python)
        }

        func give(_ server: Server) {
            guard server.scriptsRun < PythonPeerServer.scriptsPerServer else { return server.close() }
            lock.lock()
            if idle[server.python, default: []].count < PythonPeerServer.idleServersKept {
                idle[server.python, default: []].append(server)
                lock.unlock()
            } else {
                lock.unlock()
                server.close()
            }
        }
    }

    final class Server: @unchecked Sendable {
        let python: String
        private let process = Process()
        /// This side of the control socket; the server's end is its stdin. A socket rather than
        /// a pipe: `send` with MSG_NOSIGNAL to a dead server is an error, where writing to a
        /// pipe would raise SIGPIPE in the test process (and ignoring SIGPIPE there would pass
        /// SIG_IGN on to every process the tests start).
        private let socket: Int32
        private(set) var scriptsRun = 0
        private var buffer: [UInt8] = []
        /// The server's own stderr (why it died, when it does), read through this handle: the file
        /// has no name once the server holds it open, so a run leaves nothing in the temp directory.
        private let log: FileHandle

        init(python: String) throws {
            guard FileManager.default.isExecutableFile(atPath: python) else {
                throw PeerError(description: "no Python peer at \(python): run scripts/setup.sh --python or set LAKE_PYTHON / LAKE_PYTHON_DUCKDB14 / LAKE_PYTHON_DUCKDB2")
            }
            self.python = python
            var pair: [Int32] = [0, 0]
            // Close-on-exec: no other child of the test process inherits either end, so a server
            // sees end-of-file, and exits, when the test process does.
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
                throw PeerError(description: "socketpair: \(String(cString: strerror(errno)))")
            }
            socket = pair[0]
            let theirs = FileHandle(fileDescriptor: pair[1], closeOnDealloc: true)
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [PythonPeerServer.serverScript]
            process.standardInput = theirs
            process.standardOutput = FileHandle.nullDevice
            let logPath = NSTemporaryDirectory() + "lake-python-peer-\(UUID().uuidString).log"
            defer { try? FileManager.default.removeItem(atPath: logPath) }
            guard FileManager.default.createFile(atPath: logPath, contents: nil), let logWriter = FileHandle(forWritingAtPath: logPath),
                  let logReader = FileHandle(forReadingAtPath: logPath) else {
                Foundation.close(socket)
                throw PeerError(description: "cannot create \(logPath)")
            }
            log = logReader
            process.standardError = logWriter
            do {
                try process.run()
            } catch {
                Foundation.close(socket)
                throw error
            }
            try? theirs.close()
            try? logWriter.close()
        }

        var isRunning: Bool { process.isRunning }

        /// Runs one script; throws `ServerDied` when the server goes away before answering.
        /// `retire`: the script left something the server cannot put back; close it.
        func run(script: String, arguments: [String], stdout: String, stderr: String) throws -> (status: Int32, retire: Bool) {
            scriptsRun += 1
            let request = try JSONSerialization.data(withJSONObject: ["script": script, "args": arguments, "stdout": stdout, "stderr": stderr])
            var line = [UInt8](request)
            line.append(UInt8(ascii: "\n"))
            var sent = 0
            while sent < line.count {
                let n = line.withUnsafeBytes { send(socket, $0.baseAddress! + sent, line.count - sent, Int32(MSG_NOSIGNAL)) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ServerDied(delivered: sent > 0)
                }
                sent += n
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            while !buffer.contains(UInt8(ascii: "\n")) {
                let n = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress!, $0.count, 0) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw ServerDied() }
                buffer.append(contentsOf: chunk[0 ..< n])
            }
            let end = buffer.firstIndex(of: UInt8(ascii: "\n"))!
            let answer = Data(buffer[..<end])
            buffer.removeSubrange(...end)
            guard let object = try? JSONSerialization.jsonObject(with: answer) as? [String: Any], let status = object["status"] as? Int else {
                throw ServerDied()
            }
            return (Int32(status), object["retire"] as? Bool ?? false)
        }

        /// How the server ended, and the end of its log, for a script that killed it.
        var exitDescription: String {
            process.waitUntilExit()
            let how = process.terminationReason == .uncaughtSignal
                ? "signal \(process.terminationStatus)" : "exit status \(process.terminationStatus)"
            let tail = String(decoding: ((try? log.readToEnd()) ?? Data()).suffix(2000), as: UTF8.self)
            return tail.isEmpty ? how : how + "; its log:\n" + tail
        }

        private var closed = false

        /// Ends the server: it reads end-of-file and exits. Once only: the descriptor number may
        /// be another file's afterwards.
        func close() {
            guard !closed else { return }
            closed = true
            Foundation.close(socket)
        }

        deinit {
            close()
            try? log.close()
        }
    }
}
