import Foundation
import LakeTestSupport
import Testing

/// The help a new user follows, run as written. Every example line in every command's --help is
/// run by /bin/sh (so redirections, pipes and `LAKE_DIR=… lake init` work as typed) against a
/// fresh copy of a small lake, and must exit 0, or 1 for a `quality check` whose alerts fired
/// (its documented status), with no "Error:" or "Unknown option" on standard error. Each line
/// is adapted only where a machine differs: its lake path (`--lake X`, `LAKE_DIR=X`, else
/// $LAKE_DIR) is the copy, absolute paths (/data, /tmp, /etc, …) live under a scratch root, and
/// the webhook's port is a local receiver's, a PostgreSQL URL is a new database of the test
/// cluster (`PostgresCluster`). An example that runs until stopped (`lake serve`, `--follow`)
/// is started, made to do its work once (the help's own curl request answered; a commit of
/// live.jsonl printed), then sent SIGTERM, and must exit 0. Lines that cannot run are skipped
/// by name below, and each skip must still match an example.
@Suite(.serialized) struct HelpExampleTests {
    static let binDirectory = packageRoot.appendingPathComponent(".build/debug")

    /// Examples that cannot run here, with why. A skip that matches no example fails the test.
    static let skipped: [(pattern: String, why: String)] = [
        ("--to 3 --schemas", "names an orders v3 the registry does not ship yet"),
    ]

    /// Examples that run until SIGINT/SIGTERM: each must match an example.
    static let untilStopped = ["lake serve --tokens", "--follow"]

    struct Help {
        var command: [String]
        var text: String
    }

    /// Every command's and subcommand's --help, walked once for both tests.
    static let helpTexts: Result<[Help], any Error> = Result { try walkHelp() }
    static func allHelp() throws -> [Help] { try helpTexts.get() }

    /// Examples that only read the lake: the next example may run on the same copy.
    static let readOnly = ["lake report", "lake query", "lake snapshots", "lake tables", "lake files", "lake verify", "lake metrics",
                           "lake dashboard", "lake quality report", "lake schema list", "lake schema show", "lake generate",
                           "--dry-run", "--hash-token"]

    /// Every command's and subcommand's --help, found by walking SUBCOMMANDS from `lake`.
    static func walkHelp() throws -> [Help] {
        let exe = binDirectory.appendingPathComponent("lake").path
        var pending: [[String]] = [[]], found: [Help] = []
        while let command = pending.popLast() {
            let r = try runProcess(exe, command + ["--help"], environment: ["COLUMNS": "80"])
            #expect(r.status == 0, "lake \(command.joined(separator: " ")) --help: \(r.err)")
            found.append(Help(command: command, text: r.out))
            var inSubcommands = false
            for line in r.out.components(separatedBy: "\n") {
                if line == "SUBCOMMANDS:" { inSubcommands = true; continue }
                guard inSubcommands else { continue }
                if line.isEmpty { break }
                if line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first, name != "help" {
                    pending.append(command + [String(name)])
                }
            }
        }
        return found.sorted { $0.command.lexicographicallyPrecedes($1.command) }
    }

    /// The example lines of one help text: indented lines before USAGE that run `lake` (also
    /// after `VAR=value`, in a pipe or in `$(…)`), joined with their `\` continuation lines.
    /// A line the parser wrapped (the next line is prose, not indented) is returned apart.
    static func examples(in text: String) -> (examples: [String], wrapped: [String]) {
        let lines = text.components(separatedBy: "\n")
        var examples: [String] = [], wrapped: [String] = []
        var i = 0
        while i < lines.count, !lines[i].hasPrefix("USAGE:") {
            let line = lines[i]
            let stripped = line.trimmingCharacters(in: .whitespaces)
            let runsLake = stripped.firstMatch(of: #/^([A-Z_]+=\S+\s+)*lake\s/#) != nil
                || stripped.contains("| lake ") || stripped.contains("$(lake ")
            i += 1
            guard line.hasPrefix("  "), runsLake else { continue }
            var example = stripped
            while example.hasSuffix("\\"), i < lines.count, lines[i].hasPrefix("  ") {
                example = String(example.dropLast()) + lines[i].trimmingCharacters(in: .whitespaces)
                i += 1
            }
            if i < lines.count, !lines[i].isEmpty, !lines[i].hasPrefix(" "), !lines[i].hasPrefix("USAGE:") {
                wrapped.append("\(example) / \(lines[i])")
            }
            examples.append(example)
        }
        return (examples, wrapped)
    }

    /// Every `--option` a help text names in its prose or examples is an option some command
    /// declares (prose may name another command's option: delete's help cites `lake query --where`).
    @Test func optionsNamedInHelpExist() throws {
        let helps = try Self.allHelp()
        var declared: Set<String> = []
        for h in helps {
            guard let usage = h.text.range(of: "\nUSAGE:") else { continue }
            for m in h.text[usage.lowerBound...].matches(of: #/--[a-z][a-z0-9-]*/#) { declared.insert(String(m.output)) }
        }
        var unknown: [String] = []
        for h in helps {
            let prose = h.text.components(separatedBy: "\nUSAGE:")[0]
            for m in prose.matches(of: #/(^|[^\w-])(--[a-z][a-z0-9-]*)/#) where !declared.contains(String(m.output.2)) {
                unknown.append("lake \(h.command.joined(separator: " ")): \(m.output.2)")
            }
        }
        #expect(declared.contains("--as-of") && declared.contains("--from-snapshot"), "\(declared.sorted())")
        #expect(unknown.isEmpty, "options named in --help that no command has:\n\(unknown.joined(separator: "\n"))")
    }

    @Test func everyHelpExampleRunsAsWritten() throws {
        let exe = Self.binDirectory.appendingPathComponent("lake").path
        let dir = try TemporaryDirectory("help-examples")
        defer { dir.remove() }
        let fm = FileManager.default
        func fixture(_ args: [String]) throws {
            let r = try runProcess(exe, args, in: dir.url)
            guard r.status == 0 else { throw TestFailure("fixture: lake \(args.joined(separator: " ")): \(r.err)") }
        }
        func shell(_ script: String, environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
            try runProcess("/bin/sh", ["-c", script], in: dir.url, environment: environment.merging([
                "PATH": Self.binDirectory.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            ]) { a, _ in a })
        }

        // A small lake with 13 snapshots (examples name snapshots 1 to 12), and the files the
        // examples read, in the working directory or under the scratch root for absolute paths.
        let made = Date()
        let lake = dir.file("fixture-lake")
        let root = dir.file("root")
        // Three days around the examples' 2024-01-15 keep the lake to a few dozen files a copy.
        let days = ["--days", "3", "--start", "2024-01-14"]
        try fixture(["generate", "--out", "Evaluation-Files", "--orders", "300"] + days)
        try fixture(["ingest", "catalog", "Evaluation-Files/product_catalog.json", "--lake", lake, "--quiet"])
        try fixture(["ingest", "inventory", "Evaluation-Files/inventory_updates.csv", "--lake", lake, "--quiet"])
        for seed in 1 ... 11 {
            try fixture(["generate", "--out", "gen/\(seed)", "--orders", "60", "--seed", "\(seed)"] + days)
            try fixture(["ingest", "orders", "gen/\(seed)/orders_stream.jsonl", "--lake", lake, "--quiet"])
        }
        try fixture(["generate", "--out", "\(root)/data/2024-03-10", "--orders", "100", "--seed", "77"] + days)
        // The growing file the --follow examples name (FILE, live.jsonl): orders the lake has not seen.
        try fixture(["generate", "--out", "gen/live", "--orders", "60", "--seed", "99"] + days)
        for d in ["hourly", "\(root)/data/lake", "\(root)/etc/lake", "\(root)/var/lib/node_exporter/textfile"] {
            try fm.createDirectory(atPath: d.hasPrefix("/") ? d : dir.file(d), withIntermediateDirectories: true)
        }
        try fm.copyItem(atPath: dir.file("Evaluation-Files/inventory_updates.csv"), toPath: dir.file("hourly/2024-01-15T10.csv"))
        try fm.copyItem(atPath: dir.file("Evaluation-Files/product_catalog.json"), toPath: dir.file("catalog-2024-02.json"))
        try fm.copyItem(atPath: packageRoot.appendingPathComponent("config/alerts.json").path, toPath: "\(root)/etc/lake/alerts.json")
        try fm.copyItem(atPath: dir.file("gen/live/orders_stream.jsonl"), toPath: dir.file("live.jsonl"))
        #expect(try shell("gzip -c gen/1/orders_stream.jsonl > orders.jsonl.gz").status == 0)

        /// Runs `line` until `ready` holds for its standard output (30 s at most), calls `during`
        /// with that output, then sends SIGTERM: the exit status and both outputs.
        func untilStopped(_ line: String, environment: [String: String], ready: (String) -> Bool,
                          during: (String) throws -> Void) throws -> (status: Int32, out: String, err: String, ready: Bool) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            // exec: the signal must reach lake, not a shell waiting for it.
            process.arguments = ["-c", "exec " + line]
            process.currentDirectoryURL = dir.url
            process.environment = ProcessInfo.processInfo.environment.merging(environment.merging([
                "PATH": Self.binDirectory.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            ]) { a, _ in a }) { _, b in b }
            let (outPath, errPath) = (dir.file("stopped.out"), dir.file("stopped.err"))
            for p in [outPath, errPath] { _ = fm.createFile(atPath: p, contents: nil) }
            process.standardOutput = FileHandle(forWritingAtPath: outPath)
            process.standardError = FileHandle(forWritingAtPath: errPath)
            process.standardInput = FileHandle.nullDevice
            try process.run()
            func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
            let deadline = Date().addingTimeInterval(30)
            while process.isRunning, !ready(read(outPath)), Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            let wasReady = ready(read(outPath))
            if wasReady { try during(read(outPath)) }
            if process.isRunning { kill(process.processIdentifier, SIGTERM) }
            let stopBy = Date().addingTimeInterval(30)
            while process.isRunning, Date() < stopBy { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            return (process.terminationStatus, read(outPath), read(errPath), wasReady)
        }
        let postgresURL = try NSRegularExpression(pattern: #"postgresql://\S+"#)

        let absolute = try NSRegularExpression(pattern: #"(?<![\w./-])/(data|srv|tmp|etc|var)/"#)
        let lakeFlag = try NSRegularExpression(pattern: #"--lake \S+"#)
        let lakeVariable = try NSRegularExpression(pattern: #"LAKE_DIR=\S+"#)
        func replace(_ re: NSRegularExpression, in text: String, with template: String) -> String {
            re.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
        }

        var ran = 0, failures: [String] = [], wrapped: [String] = [], skipsUsed: Set<String> = [], stoppedUsed: Set<String> = []
        var stoppedRan = 0, postgresRan = 0
        var shared: String?, dirty = false
        print("help examples: fixture made in \(String(format: "%.1f", Date().timeIntervalSince(made))) s")
        let started = Date()
        for help in try Self.allHelp() {
            let found = Self.examples(in: help.text)
            wrapped += found.wrapped.map { "lake \(help.command.joined(separator: " ")): \($0)" }
            for example in found.examples {
                if let skip = Self.skipped.first(where: { example.contains($0.pattern) }) {
                    skipsUsed.insert(skip.pattern)
                    continue
                }
                // init makes a new lake; everything else runs on a copy of the fixture, made
                // afresh after an example that may have written to it.
                // (cp, not FileManager.copyItem: its copy of a lake's few hundred files took ~1 s.)
                let isInit = example.contains("lake init")
                if isInit || dirty || shared == nil {
                    if let shared { _ = try? runProcess("/bin/rm", ["-rf", shared]) }
                    shared = dir.file("lake-\(ran)")
                    if !isInit { #expect(try runProcess("/bin/cp", ["-R", lake, shared!]).status == 0) }
                }
                let copy = shared!
                dirty = isInit || !Self.readOnly.contains { example.contains($0) }
                var line = replace(absolute, in: example, with: NSRegularExpression.escapedTemplate(for: root) + "/$1/")
                line = replace(lakeFlag, in: line, with: "--lake " + NSRegularExpression.escapedTemplate(for: copy))
                line = replace(lakeVariable, in: line, with: "LAKE_DIR=" + NSRegularExpression.escapedTemplate(for: copy))
                if line.contains("postgresql://") {
                    // A new empty database each time: catalog copy refuses a target with tables.
                    let cluster = try PostgresCluster.shared()
                    let url = cluster.url(database: try cluster.createDatabase("help"))
                    line = replace(postgresURL, in: line, with: NSRegularExpression.escapedTemplate(for: url))
                    postgresRan += 1
                }
                if let kind = Self.untilStopped.first(where: { example.contains($0) }) {
                    stoppedUsed.insert(kind)
                    let serving = kind == "lake serve --tokens"
                    // A free port (the chosen one is the first line); the follower's FILE is live.jsonl.
                    line = serving ? line.replacingOccurrences(of: #"--port \d+"#, with: "--port 0", options: .regularExpression)
                                   : line.replacingOccurrences(of: " FILE", with: " live.jsonl")
                    var answered = ""
                    let r = try untilStopped(line, environment: ["LAKE_DIR": copy, "TOKEN": "help-example-token"], ready: { out in
                        serving ? out.contains("listening on http://127.0.0.1:") : out.contains("snapshot ")
                    }, during: { out in
                        guard serving else { return }
                        // The help's curl request (with its continuation line), sent to the chosen port.
                        let port = out.firstMatch(of: #/listening on http://127\.0\.0\.1:(\d+)/#).map { String($0.output.1) } ?? "?"
                        let lines = help.text.components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                        guard let at = lines.firstIndex(where: { $0.hasPrefix("curl ") }) else { answered = "no curl example"; return }
                        var curl = lines[at]
                        var next = at + 1
                        while curl.hasSuffix("\\"), next < lines.count { curl = String(curl.dropLast()) + lines[next]; next += 1 }
                        let request = try shell("curl -sS -f " + curl.dropFirst(5).replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(port)"),
                                                environment: ["TOKEN": "help-example-token"])
                        let rows = try? JSONSerialization.jsonObject(with: Data(request.out.utf8)) as? [Any]
                        if request.status != 0 || rows?.isEmpty != false { answered = "curl exit \(request.status): \(request.out.prefix(200)) \(request.err)" }
                    })
                    ran += 1
                    stoppedRan += 1
                    if !r.ready || r.status != 0 || !answered.isEmpty || r.err.contains("Error:") {
                        failures.append("lake \(help.command.joined(separator: " ")): \(example)\n    ran until SIGTERM: \(line)\n    "
                            + "\(r.ready ? "" : "never ready; ")exit \(r.status) \(answered): \(r.out.prefix(300)) \(r.err.prefix(400))")
                    }
                    continue
                }
                let receiver = line.contains("http://127.0.0.1:9000") ? try LocalReceiver() : nil
                if let receiver { line = line.replacingOccurrences(of: "http://127.0.0.1:9000", with: "http://127.0.0.1:\(receiver.port)") }
                let r = try shell(line, environment: ["LAKE_DIR": copy, "TOKEN": "help-example-token"])
                let request = receiver?.finish()
                ran += 1
                let alertsFired = help.command.starts(with: ["quality", "check"]) || help.command == ["quality"]
                let allowed: Set<Int32> = alertsFired && r.out.contains("ALERT") ? [0, 1] : [0]
                if !allowed.contains(r.status) || r.err.contains("Error:") || r.err.contains("Unknown option") {
                    failures.append("lake \(help.command.joined(separator: " ")): \(example)\n    ran: \(line)\n    exit \(r.status): \(r.err.prefix(400))")
                }
                if receiver != nil, r.out.contains("ALERT") {
                    #expect(request?.hasPrefix("POST ") == true, "\(example): the webhook got no POST")
                }
            }
        }
        let seconds = Date().timeIntervalSince(started)
        #expect(ran >= 70, "ran only \(ran) examples")
        #expect(wrapped.isEmpty, "example lines the 80-column help wraps (shorten them or continue with \\):\n\(wrapped.joined(separator: "\n"))")
        #expect(failures.isEmpty, "help examples that fail as written:\n\(failures.joined(separator: "\n"))")
        let stale = Self.skipped.map(\.pattern).filter { !skipsUsed.contains($0) }
        #expect(stale.isEmpty, "skips that match no example any more: \(stale)")
        #expect(Set(Self.untilStopped) == stoppedUsed, "examples run until stopped that match no example any more: \(Set(Self.untilStopped).subtracting(stoppedUsed))")
        // serve, the ingest group's follower, ingest orders' two; catalog and catalog copy's PostgreSQL targets.
        #expect(stoppedRan >= 4 && postgresRan >= 2, "ran \(stoppedRan) examples until stopped, \(postgresRan) on PostgreSQL")
        print("help examples: \(stoppedRan) of them run until SIGTERM, \(postgresRan) on PostgreSQL")
        print("help examples: \(ran) run in \(String(format: "%.1f", seconds)) s, \(Self.skipped.count) kinds skipped")
    }
}

/// The errors a new user meets first name the problem and what to do, exit non-zero (64 for a
/// usage error) and print no Swift type names or Foundation error texts.
@Suite(.serialized) struct FirstErrorTests {
    @Test func firstMistakesAreNamed() throws {
        let exe = HelpExampleTests.binDirectory.appendingPathComponent("lake").path
        let dir = try TemporaryDirectory("first-errors")
        defer { dir.remove() }
        func lake(_ args: [String]) throws -> (status: Int32, out: String, err: String) { try runProcess(exe, args, in: dir.url) }
        #expect(try lake(["generate", "--out", "src", "--orders", "200", "--days", "3"]).status == 0)
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir.file("partial"), withIntermediateDirectories: true)
        try fm.copyItem(atPath: dir.file("src/product_catalog.json"), toPath: dir.file("partial/product_catalog.json"))
        try fm.copyItem(atPath: dir.file("src/orders_stream.jsonl"), toPath: dir.file("partial/orders_stream.jsonl"))
        // Session 38: the orders gzipped beside the other two, under their own name or as .gz.
        for folder in ["gzipped", "gzname"] {
            try fm.createDirectory(atPath: dir.file(folder), withIntermediateDirectories: true)
            for name in ["product_catalog.json", "inventory_updates.csv"] { try fm.copyItem(atPath: dir.file("src/\(name)"), toPath: dir.file("\(folder)/\(name)")) }
        }
        let gz = try runProcess("/bin/sh", ["-c", "gzip -c src/orders_stream.jsonl > gzipped/orders_stream.jsonl.gz && cp gzipped/orders_stream.jsonl.gz gzname/orders_stream.jsonl"], in: dir.url)
        #expect(gz.status == 0, "\(gz.err)")
        try "not a lake\n".write(toFile: dir.file("afile"), atomically: true, encoding: .utf8)
        try fm.createDirectory(atPath: dir.file("notes"), withIntermediateDirectories: true)
        try "hello\n".write(toFile: dir.file("notes/todo.txt"), atomically: true, encoding: .utf8)
        #expect(try lake(["init", "--lake", "empty"]).status == 0)
        #expect(try lake(["run", "--input", "src", "--lake", "lake", "--quiet"]).status == 0)

        let sources = "product_catalog.json, inventory_updates.csv, orders_stream.jsonl"
        let cases: [(args: [String], status: Int32, says: [String])] = [
            (["run", "--input", "nowhere", "--lake", "new1"], 64, ["--input nowhere: no such folder", sources, "lake generate --out DIR"]),
            (["run", "--input", "partial", "--lake", "new2"], 64, ["--input partial has no inventory_updates.csv", sources]),
            (["run", "--input", "afile", "--lake", "new3"], 64, ["--input afile is a file, not a folder"]),
            (["run", "--input", "gzipped", "--lake", "new4"], 64, ["--input gzipped has no orders_stream.jsonl (orders_stream.jsonl.gz is there: decompress"]),
            (["run", "--input", "gzname", "--lake", "new5"], 64, ["--input gzname: orders_stream.jsonl is gzip-compressed", "nothing was ingested"]),
            (["run", "--input", "src", "--lake", "afile"], 64, ["--lake afile is a file, not a lake directory", "point --lake at"]),
            (["report", "daily-revenue", "--lake", "afile"], 64, ["--lake afile is a file, not a lake directory"]),
            (["report", "daily-revenue", "--lake", "notes"], 1, ["no lake at \(dir.file("notes"))", "lake init --lake"]),
            (["query", "orders", "--lake", "lake", "--columns", "nosuch"], 64, ["curated.orders has no column nosuch; columns: order_id"]),
            (["query", "orders", "--lake", "lake", "--where", "nosuch = 1"], 64, ["has no column nosuch"]),
            (["query", "orders", "--lake", "lake", "--group-by", "nosuch", "--agg", "count(*)"], 64, ["has no column nosuch"]),
            (["query", "ordres", "--lake", "lake"], 64, ["no table curated.ordres", "tables: curated.inventory"]),
            (["query", "orders", "--lake", "lake", "--where", "channel web"], 64, ["cannot read the condition \"channel web\"", "COLUMN OP VALUE"]),
            (["query", "orders", "--lake", "lake", "--agg", "median(order_total)"], 64, ["cannot read the aggregate"]),
            (["query", "orders", "--lake", "lake", "--as-of", "2020-01-01"], 64, ["no snapshot at or before 2020-01-01", "the oldest retained snapshot, 0, was committed at", "see `lake snapshots`"]),
            (["query", "orders", "--lake", "lake", "--as-of", "99"], 64, ["snapshot 99 does not exist", "lake snapshots", "Usage: lake query"]),
            (["report", "top-products", "--lake", "lake", "--as-of", "2020-01-01"], 64, ["no snapshot at or before 2020-01-01", "Usage: lake report top-products", "See 'lake report top-products --help'"]),
            (["report", "diff", "daily-revenue", "--lake", "lake", "--from-snapshot", "3", "--to-snapshot", "2"], 64, ["swap them", "Usage: lake report diff"]),
            (["query", "orders", "--lake", "lake", "--as-of", "yesterday"], 64, ["cannot read --as-of 'yesterday'", "snapshot id"]),
            (["report", "daily-revenue", "--lake", "lake", "--format", "xml"], 64, ["'xml' is invalid for '--format", "'table', 'csv' or 'json'"]),
            (["run", "--input", "src", "--lake", "lake", "--format", "yaml"], 64, ["'yaml' is invalid for '--format"]),
            (["generate", "--out", "afile"], 64, ["cannot create --out afile: File exists"]),
            (["serve", "--lake", "lake", "--tokens", "missing-tokens", "--port", "0"], 64, ["--tokens missing-tokens: No such file or directory", "--hash-token"]),
            (["dashboard", "--lake", "lake", "--out", "nowhere/d.html"], 64, ["cannot write --out nowhere/d.html: No such file or directory"]),
            (["init", "--lake", "afile/sub"], 1, ["cannot create lake directory \(dir.file("afile/sub")): Not a directory"]),
        ]
        for c in cases {
            let r = try lake(c.args)
            let shown = "lake \(c.args.joined(separator: " ")): exit \(r.status)\n\(r.err)"
            #expect(r.status == c.status, "\(shown)")
            for text in c.says { #expect(r.err.contains(text), "expected \"\(text)\" in \(shown)") }
            for leak in ["Error Domain", "NSCocoaErrorDomain", "The operation could not be completed", "Fatal error", "LakeCatalog.", "LakeQuery.", "CatalogError(", "QueryError("] {
                #expect(!r.err.contains(leak), "\(shown)")
            }
        }
        // A refused run creates no lake; an empty lake answers a report with no rows, not an error.
        for created in ["new1", "new2", "new3", "new4", "new5"] { #expect(!fm.fileExists(atPath: dir.file(created)), "\(created) was created") }
        // A new lake among unrelated files is made, as DuckDB's ATTACH would, but the notice names them.
        let among = try lake(["run", "--input", "src", "--lake", "notes", "--quiet"])
        #expect(among.status == 0 && among.err.contains("created a new lake at \(dir.file("notes")), in a directory that already held other files (todo.txt)"), "\(among.err)")
        let empty = try lake(["report", "daily-revenue", "--lake", "empty"])
        #expect(empty.status == 0 && empty.out.contains("(no rows)") && empty.err.isEmpty, "\(empty.out)\(empty.err)")
    }
}
