import Foundation
@testable import LakeTestSupport
import Testing

/// The long-lived interpreters the peers' scripts run in (`PythonPeerServer`) must give each
/// script what a process of its own gave it: the checks below are what the suite relies on.
@Suite struct PythonPeerServerTests {
    /// Runs `source` on `server` (one server, so the scripts really share an interpreter).
    func run(_ server: PythonPeerServer.Server, _ source: String, _ arguments: [String] = [], besides: [String: String] = [:])
        throws -> (status: Int32, out: String, err: String) {
        let dir = try TemporaryDirectory("py-server")
        defer { dir.remove() }
        try source.write(toFile: dir.file("s.py"), atomically: true, encoding: .utf8)
        for (name, text) in besides { try text.write(toFile: dir.file(name), atomically: true, encoding: .utf8) }
        let status = try server.run(script: dir.file("s.py"), arguments: arguments, stdout: dir.file("out"), stderr: dir.file("err")).status
        let out = (try? String(contentsOfFile: dir.file("out"), encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: dir.file("err"), encoding: .utf8)) ?? ""
        return (status, out, err)
    }

    @Test func exitStatusesAndOutputAreThoseOfAProcess() throws {
        let server = try PythonPeerServer.Server(python: Python.executable)
        defer { server.close() }
        let plain = try run(server, "import sys\nprint('hello', sys.argv[1:], __name__)", ["a", "b"])
        #expect(plain.status == 0 && plain.out == "hello ['a', 'b'] __main__\n")
        #expect(try run(server, "import sys\nsys.exit(3)").status == 3)
        #expect(try run(server, "import sys\nprint('partial')\nsys.exit(0)\nprint('not reached')").out == "partial\n")
        let message = try run(server, "import sys\nsys.exit('no lake here')")
        #expect(message.status == 1 && message.err == "no lake here\n")
        let raised = try run(server, "def f():\n    raise ValueError('bad figure')\nf()")
        #expect(raised.status == 1 && raised.err.contains("Traceback") && raised.err.contains("ValueError: bad figure"))
        // Output written below Python's streams (a C library's) lands in the script's files too.
        let low = try run(server, "import os, sys\nprint('a', flush=True)\nos.write(1, b'b\\n')\nos.write(2, b'c\\n')")
        #expect(low.out == "a\nb\n" && low.err == "c\n")
        #expect(try run(server, "import sys\nprint(repr(sys.stdin.read()))").out == "''\n")
        // The script is the __main__ module while it runs: dataclasses finds KW_ONLY there.
        let dataclass = """
            from __future__ import annotations
            from dataclasses import dataclass, KW_ONLY
            @dataclass
            class Figure:
                name: str = "revenue"
                _: KW_ONLY
                cents: int
            print(Figure(cents=5).cents)
            """
        #expect(try run(server, dataclass).out == "5\n")
        // DuckDB, imported once by the server, takes the session as a script's, not an
        // interactive one's: no progress bar in the output (with one, a check's JSON output
        // began with a bar whenever a statement ran past 2 s).
        let setting = "import duckdb\nprint(duckdb.connect().execute(\"SELECT current_setting('enable_progress_bar')\").fetchone()[0])"
        #expect(try run(server, setting).out == "False\n")
        // The script's own directory comes first on the module path, as with `python s.py`.
        #expect(try run(server, "import neighbour\nprint(neighbour.VALUE)", besides: ["neighbour.py": "VALUE = 'next door'"]).out == "next door\n")
    }

    @Test func aScriptLeavesNothingBehindForTheNext() throws {
        let server = try PythonPeerServer.Server(python: Python.executable)
        defer { server.close() }
        let dir = try TemporaryDirectory("py-server-cwd")
        defer { dir.remove() }
        let before = try run(server, "import os, sys\nprint(os.getcwd(), len(sys.path), os.environ.get('LAKE_PEER_LEAK'))")
        let leaker = """
            import os, sys
            os.environ["LAKE_PEER_LEAK"] = "1"
            os.chdir(sys.argv[1])
            sys.path.append("/nowhere")
            leaked_global = 1
            sys.stdout = open(os.devnull, "w")
            """
        #expect(try run(server, leaker, [dir.path]).status == 0)
        let after = try run(server, "import os, sys\nprint(os.getcwd(), len(sys.path), os.environ.get('LAKE_PEER_LEAK'))\nprint('leaked_global' in globals())")
        #expect(after.out == before.out + "False\n")
        // The decimal context is the thread's: a script's precision is not the next one's.
        #expect(try run(server, "import decimal\ndecimal.getcontext().prec = 1000").status == 0)
        #expect(try run(server, "import decimal\nprint(decimal.getcontext().prec)").out == "28\n")
    }

    /// A DuckDB database file takes a lock another process cannot pass: a second process opens
    /// it only once the first script's connection, never closed by the script, was released.
    @Test func aConnectionAScriptLeftOpenIsClosed() throws {
        let server = try PythonPeerServer.Server(python: Python.executable)
        defer { server.close() }
        let dir = try TemporaryDirectory("py-server-duckdb")
        defer { dir.remove() }
        let db = dir.file("held.duckdb")
        // A function defined by the script and the script's globals refer to each other: only
        // a garbage collection frees that cycle and the connection in it (every script with the
        // DuckDB prelude defines functions).
        let script = "import duckdb, sys\ncon = duckdb.connect(sys.argv[1])\ncon.execute('CREATE TABLE t AS SELECT 42 AS x')\ndef keep():\n    return con"
        #expect(try run(server, script, [db]).status == 0)
        let other = try runProcess(Python.executable, ["-c", "import duckdb, sys\nprint(duckdb.connect(sys.argv[1]).execute('SELECT x FROM t').fetchone()[0])", db])
        #expect(other.status == 0 && other.out == "42\n", "\(other.err)")
    }

    /// A script that kills its interpreter fails with what it wrote and a note; the pool starts
    /// a new server for the next script.
    @Test func aCrashFailsOneScriptOnly() throws {
        let dir = try TemporaryDirectory("py-server-crash")
        defer { dir.remove() }
        let crash = try PythonPeerServer.run(source: "import os, signal\nprint('before', flush=True)\nos.kill(os.getpid(), signal.SIGKILL)",
                                             arguments: [], python: Python.executable)
        #expect(crash.status == -1)
        #expect(String(decoding: crash.stdout, as: UTF8.self) == "before\n")
        #expect(String(decoding: crash.stderr, as: UTF8.self).contains("died: signal \(SIGKILL)"))
        for _ in 0 ..< 4 { #expect(try Python.run("print(6 * 7)") == "42\n") }
        // A failure of the server itself (here: a request whose output file cannot be opened)
        // ends it, and its own traceback is what the pool reports.
        let server = try PythonPeerServer.Server(python: Python.executable)
        defer { server.close() }
        #expect(throws: PythonPeerServer.ServerDied.self) {
            try server.run(script: dir.file("never-read.py"), arguments: [], stdout: dir.file("missing/out"), stderr: dir.file("err"))
        }
        #expect(server.exitDescription.contains("FileNotFoundError"), "\(server.exitDescription)")
    }

    /// A script that leaves a thread running retires its server: the thread would write into
    /// later scripts' output. Its answer says so, and the pool closes it.
    @Test func aScriptThatLeavesAThreadRetiresItsServer() throws {
        let server = try PythonPeerServer.Server(python: Python.executable)
        defer { server.close() }
        let dir = try TemporaryDirectory("py-server-thread")
        defer { dir.remove() }
        try "print('plain')".write(toFile: dir.file("plain.py"), atomically: true, encoding: .utf8)
        try "import threading, time\nthreading.Thread(target=time.sleep, args=(60,), daemon=True).start()".write(toFile: dir.file("thread.py"), atomically: true, encoding: .utf8)
        #expect(try server.run(script: dir.file("plain.py"), arguments: [], stdout: dir.file("o1"), stderr: dir.file("e1")) == (0, false))
        #expect(try server.run(script: dir.file("thread.py"), arguments: [], stdout: dir.file("o2"), stderr: dir.file("e2")) == (0, true))
    }
}
