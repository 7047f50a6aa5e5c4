import Foundation

/// A throwaway PostgreSQL server for the tests: `initdb` in a temporary directory (as the
/// `postgres` system user when the tests run as root, since initdb refuses root), `pg_ctl start`
/// on a free loopback port with its socket in that directory, password authentication for a
/// superuser `lake` (password `lakepw`, so tests also cover a wrong password), stopped and
/// deleted by `stop()`. It never skips: a machine without PostgreSQL fails the test with how to
/// install it (scripts/setup.sh does).
///
/// Tests use `PostgresCluster.shared()`: one cluster per test process, started by the first
/// test that asks (initdb and startup take seconds), each test in its own `createDatabase()`.
/// It is stopped at process exit by an atexit hook. A test's own `PostgresCluster()` is stopped
/// by `stop()` or when released. Every cluster, shared or not, also has a watchdog process
/// that stops it once the test process is gone without having stopped it (a crash, a SIGKILL):
/// before, a killed test run left its private clusters running, each with its directory.
/// Two test processes get two clusters (own directory, own port), so they never collide.
public final class PostgresCluster: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let port: Int
    public static let user = "lake"
    public static let password = "lakepw"
    let bin: URL
    private var databases = 0
    private let lock = NSLock()

    /// The server binaries of the newest installed major version (Debian's layout).
    static func binDirectory() throws -> URL {
        let base = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base.path)) ?? []).compactMap(Int.init).sorted()
        guard let v = versions.last, FileManager.default.isExecutableFile(atPath: base.appendingPathComponent("\(v)/bin/initdb").path) else {
            throw PeerError(description: "no PostgreSQL server under /usr/lib/postgresql/*/bin: run scripts/setup.sh (installs Debian's postgresql)")
        }
        return base.appendingPathComponent("\(v)/bin")
    }

    static func freePort() -> Int {
        // A port checked unused by binding it; pg_ctl reports a race. Below Linux's ephemeral
        // range (32768-60999), where outgoing connections would take ports meanwhile.
        for _ in 0 ..< 50 {
            let port = Int.random(in: 20000 ..< 32768)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if ok == 0 { return port }
        }
        return 54329
    }

    /// Runs `arguments` as the postgres user when we are root (initdb and the server refuse root).
    func runAsServerUser(_ tool: String, _ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let exe = bin.appendingPathComponent(tool).path
        if getuid() == 0 {
            return try runProcess("/usr/sbin/runuser", ["-u", "postgres", "--", exe] + arguments, in: directory.url)
        }
        return try runProcess(exe, arguments, in: directory.url)
    }

    private static let sharedLock = NSLock()
    nonisolated(unsafe) private static var sharedCluster: PostgresCluster?

    /// The test process's cluster, started on first use. A failed start is not cached: the next
    /// test tries again (and reports its own failure).
    public static func shared() throws -> PostgresCluster {
        sharedLock.lock()
        defer { sharedLock.unlock() }
        if let c = sharedCluster { return c }
        // Another process may take the free port between our check and the server's bind.
        var attempt = 0
        var made: PostgresCluster?
        while made == nil {
            attempt += 1
            do { made = try PostgresCluster() } catch where attempt < 3 { continue }
        }
        let c = made!
        sharedCluster = c
        atexit { PostgresCluster.stopShared() }
        return c
    }

    static func stopShared() {
        sharedLock.lock()
        let c = sharedCluster
        sharedCluster = nil
        sharedLock.unlock()
        c?.stop()
    }

    /// A detached shell that polls this process and, once it is gone without having stopped the
    /// cluster, stops the server and removes its directory. It ends by itself once `stop()` has
    /// removed the data directory, so a test process that starts many clusters keeps no shell
    /// per stopped one.
    func startWatchdog() throws {
        let data = directory.file("data")
        var stopCommand = "'\(bin.appendingPathComponent("pg_ctl").path)' -D '\(data)' -m immediate -w stop"
        if getuid() == 0 { stopCommand = "/usr/sbin/runuser -u postgres -- " + stopCommand }
        let script = "while kill -0 \(getpid()) 2>/dev/null && [ -d '\(data)' ]; do sleep 1; done; [ -d '\(data)' ] && { \(stopCommand); rm -rf '\(directory.path)'; }"
        // setsid: the watchdog is not in the test runner's process group, so a signal to the
        // group (Ctrl-C) does not take it down before it has done its job.
        _ = try Self.spawn(["/usr/bin/setsid", "/bin/sh", "-c", script])
    }

    public init() throws {
        bin = try Self.binDirectory()
        directory = try TemporaryDirectory("pg")
        port = Self.freePort()
        if getuid() == 0 {
            let chown = try runProcess("/bin/chown", ["-R", "postgres", directory.path])
            guard chown.status == 0 else { throw PeerError(description: "chown postgres \(directory.path): \(chown.err)") }
        }
        let pwfile = directory.file("pw")
        try Self.password.write(toFile: pwfile, atomically: true, encoding: .utf8)
        if getuid() == 0 { _ = try runProcess("/bin/chown", ["postgres", pwfile]) }
        let data = directory.file("data")
        let initdb = try runAsServerUser("initdb", ["-D", data, "-U", Self.user, "--pwfile=" + pwfile, "-A", "scram-sha-256",
                                                    "-E", "UTF8", "--lc-messages=C", "--no-sync"])
        guard initdb.status == 0 else { throw PeerError(description: "initdb failed: \(initdb.err)\(initdb.out)") }
        try startServer()
        do { try startWatchdog() } catch {
            stop()
            throw error
        }
    }

    /// Starts the server (again, after `stopServer`) on the cluster's port and data.
    public func startServer() throws {
        // pg_ctl leaves the server running: started without Foundation's Process, whose
        // waitUntilExit was seen never to reap the runuser parent of a daemon (the test hung).
        // -t 300: pg_ctl returns as soon as the server accepts connections; a loaded machine's
        // startup must not pass for a failed one (a retry would start a second server).
        let options = "-c listen_addresses=127.0.0.1 -p \(port) -c unix_socket_directories=\(directory.path) -c fsync=off -c max_connections=200"
        var argv = [bin.appendingPathComponent("pg_ctl").path, "-D", directory.file("data"), "-l", directory.file("server.log"), "-w", "-t", "300",
                    "-o", options, "start"]
        if getuid() == 0 { argv = ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv }
        let status = try Self.spawnAndWait(argv)
        guard status == 0 else {
            let log = (try? String(contentsOfFile: directory.file("server.log"), encoding: .utf8)) ?? ""
            throw PeerError(description: "pg_ctl start exited \(status)\n\(log)")
        }
    }

    /// Stops the server as an administrator's restart or a failover would (fast: clients are
    /// disconnected), keeping its data for `startServer`.
    public func stopServer() throws {
        var argv = [bin.appendingPathComponent("pg_ctl").path, "-D", directory.file("data"), "-m", "fast", "-w", "-t", "300", "stop"]
        if getuid() == 0 { argv = ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv }
        let status = try Self.spawnAndWait(argv)
        guard status == 0 else { throw PeerError(description: "pg_ctl stop exited \(status)") }
    }

    /// A new empty database; returns its libpq URL (with the password, as a user would pass it
    /// through PGPASSWORD; see `url(database:withPassword:)`).
    public func createDatabase(_ prefix: String = "lake") throws -> String {
        lock.lock()
        databases += 1
        let name = "\(prefix)_\(databases)_\(UInt32.random(in: 0 ..< 1_000_000))"
        lock.unlock()
        let r = try runProcess(bin.appendingPathComponent("createdb").path,
                               ["-h", "127.0.0.1", "-p", "\(port)", "-U", Self.user, name], in: directory.url, environment: ["PGPASSWORD": Self.password])
        guard r.status == 0 else { throw PeerError(description: "createdb \(name): \(r.err)") }
        return name
    }

    public func url(database: String, password: String? = PostgresCluster.password) -> String {
        let auth = password.map { "\(Self.user):\($0)" } ?? Self.user
        return "postgresql://\(auth)@127.0.0.1:\(port)/\(database)"
    }

    /// libpq keyword form, without a password (libpq then reads PGPASSWORD).
    public func keywords(database: String) -> String {
        "host=127.0.0.1 port=\(port) dbname=\(database) user=\(Self.user)"
    }

    /// Runs SQL through psql and returns its unaligned output.
    /// The psql client of the cluster's PostgreSQL, for a session a test keeps open.
    public var psqlPath: String { bin.appendingPathComponent("psql").path }

    public func psql(_ database: String, _ sql: String) throws -> String {
        let r = try runProcess(bin.appendingPathComponent("psql").path,
                               ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "\(port)", "-U", Self.user, "-d", database, "-c", sql],
                               in: directory.url, environment: ["PGPASSWORD": Self.password])
        guard r.status == 0 else { throw PeerError(description: "psql: \(r.err)") }
        return r.out
    }

    /// Runs argv with its output discarded and waits for it with waitpid.
    /// Starts `argv` with /dev/null as its standard streams and none of this process's other
    /// descriptors. Why: the server (and the watchdog) outlive the call; had they inherited the
    /// write end of a pipe another test's `runProcess` was reading, that reader would wait for an
    /// end of file that comes only when the cluster stops, at process exit: a hung test run.
    public static func spawn(_ argv: [String]) throws -> pid_t {
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // glibc ≥ 2.34 has it; the Glibc module does not export it, so it is looked up.
        guard let closeFrom = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            throw PeerError(description: "this C library lacks posix_spawn_file_actions_addclosefrom_np (glibc 2.34+ needed)")
        }
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        _ = unsafeBitCast(closeFrom, to: CloseFrom.self)(&actions, 3)
        let cargs = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cargs, environ)
        guard rc == 0 else { throw PeerError(description: "cannot run \(argv[0]): errno \(rc)") }
        return pid
    }

    static func spawnAndWait(_ argv: [String]) throws -> Int32 {
        let pid = try spawn(argv)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    private var stopped = false

    public func stop() {
        lock.lock()
        let already = stopped
        stopped = true
        lock.unlock()
        guard !already else { return }
        var argv = [bin.appendingPathComponent("pg_ctl").path, "-D", directory.file("data"), "-m", "fast", "-w", "stop"]
        if getuid() == 0 { argv = ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv }
        _ = try? Self.spawnAndWait(argv)
        directory.remove()
    }

    deinit { stop() }
}
