import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

/// A follower restarted on a file that is no longer the one its checkpoint counted (rotated
/// while no follower ran): before session 21 only the byte before the checkpoint was checked
/// (a line end), so a new file with a line ending at the same offset was read from there, its
/// first lines silently skipped, exit 0.
@Suite("Follow: a restart checks the committed bytes before its checkpoint", .serialized)
struct FollowedFileRestartTests {
    static func lines(_ path: String) throws -> [Data] {
        let all = try Data(contentsOf: URL(fileURLWithPath: path))
        var out: [Data] = [], start = 0
        for (i, b) in all.enumerated() where b == UInt8(ascii: "\n") {
            out.append(all[start ... i])
            start = i + 1
        }
        return out
    }

    /// A lake with the evaluation catalog, and the evaluation orders as lines (newline kept).
    static func fixture(_ label: String) throws -> (dir: TemporaryDirectory, store: LakeStore, orders: [Data]) {
        let dir = try TemporaryDirectory(label)
        return (dir, try lakeWithCatalog(dir), try lines(evaluationOrders))
    }

    /// Followers that stop at the file's end.
    static var options: StreamOptions {
        var options = StreamOptions()
        options.stopAtEnd = true
        return options
    }

    @Test("a file replaced since the checkpoint with a line end at the same offset: an error, nothing committed")
    func replacedWithALineEndAtTheCheckpoint() throws {
        let (dir, store, orders) = try Self.fixture("follow-witness")
        defer { dir.remove() }
        let file = dir.file("live.jsonl")
        var options = Self.options
        options.commitEvery = 40

        let first = orders[0 ..< 100].reduce(Data(), +)
        try first.write(to: URL(fileURLWithPath: file))
        #expect(try StreamIngest.follow(store, path: file, options: options, stop: StopFlag()).records == 100)
        // The same file grown: the restart checks its witness and reads on.
        let grown = first + orders[100 ..< 150].reduce(Data(), +)
        try grown.write(to: URL(fileURLWithPath: file))
        #expect(try StreamIngest.follow(store, path: file, options: options, stop: StopFlag()).records == 50)

        // Rotated while no follower ran: a new file under the name, longer than the checkpoint,
        // padded (spaces inside the first object) so that one of its lines ends exactly there.
        var next = Array(orders[150 ..< 450])
        var sum = 0, k = 0
        while sum + next[k].count <= grown.count { sum += next[k].count; k += 1 }
        let pad = grown.count - sum
        next[0] = Data("{".utf8) + Data(repeating: UInt8(ascii: " "), count: pad) + next[0].dropFirst()
        let replacement = next.reduce(Data(), +)
        try #require(replacement.count > grown.count && replacement[grown.count - 1] == UInt8(ascii: "\n"))
        try replacement.write(to: URL(fileURLWithPath: dir.file("live.new")))
        #expect(rename(dir.file("live.new"), file) == 0)

        #expect {
            _ = try StreamIngest.follow(store, path: file, options: options, stop: StopFlag())
        } throws: { error in
            "\(error)".contains("are not the ones committed there") && "\(error)".contains("live.jsonl") && "\(error)".contains("--from-start")
        }
        // Nothing of the new file was committed: the runs hold the first file's 150 lines.
        let runs = try store.catalog.ingestRuns().filter { $0.kind == .orders }
        #expect(runs.reduce(0) { $0 + $1.records } == 150)
        let cp = try store.catalog.streamCheckpoint(source: URL(fileURLWithPath: file).standardizedFileURL.path)
        #expect(cp?.byteOffset == Int64(grown.count) && cp?.lineNumber == 150 && cp?.witness?.byteCount == Int64(min(grown.count, Tail.headBytes) + 64))

        // The way on that the error names: follow the new file from its first line.
        options.fromStart = true
        let fromStart = try StreamIngest.follow(store, path: file, options: options, stop: StopFlag())
        #expect(fromStart.records == 300)
        let after = try store.catalog.streamCheckpoint(source: URL(fileURLWithPath: file).standardizedFileURL.path)
        #expect(after?.byteOffset == Int64(replacement.count) && after?.lineNumber == 300)
        // And a plain restart of the new file now resumes at its own checkpoint.
        options.fromStart = false
        #expect(try StreamIngest.follow(store, path: file, options: options, stop: StopFlag()).records == 0)
    }

    /// The replacement whose line at the checkpoint is the old file's last line (the same 64
    /// bytes before the offset, as order lines' long shared endings give by chance about once in
    /// 6,700 rotations): resumed from there, its lines before the offset were never read, exit 0.
    @Test("a file replaced since the checkpoint with the same bytes before it: an error, nothing committed")
    func replacedWithTheSameBytesBeforeTheCheckpoint() throws {
        let (dir, store, orders) = try Self.fixture("follow-head-witness")
        defer { dir.remove() }
        let file = dir.file("live.jsonl")
        let first = orders[0 ..< 100].reduce(Data(), +)
        try first.write(to: URL(fileURLWithPath: file))
        #expect(try StreamIngest.follow(store, path: file, options: Self.options, stop: StopFlag()).records == 100)
        // New lines padded to end where the old file's line 99 ended, then its last line again.
        let last = orders[99]
        var next = Array(orders[200 ..< 300])
        var sum = 0, k = 0
        while sum + next[k].count <= first.count - last.count { sum += next[k].count; k += 1 }
        next = Array(next[0 ..< k])
        next[0] = Data("{".utf8) + Data(repeating: UInt8(ascii: " "), count: first.count - last.count - sum) + next[0].dropFirst()
        let replacement = next.reduce(Data(), +) + last + orders[300 ..< 320].reduce(Data(), +)
        try #require(replacement.count > first.count && replacement.prefix(first.count).suffix(64) == first.suffix(64))
        try replacement.write(to: URL(fileURLWithPath: dir.file("live.new")))
        #expect(rename(dir.file("live.new"), file) == 0)
        #expect {
            _ = try StreamIngest.follow(store, path: file, options: Self.options, stop: StopFlag())
        } throws: { error in
            "\(error)".contains("are not the ones committed there") && "\(error)".contains("--from-start")
        }
        #expect(try store.catalog.ingestRuns().filter { $0.kind == .orders }.reduce(0) { $0 + $1.records } == 100)
    }

    @Test("a checkpoint whose witness an older build computed (the 64 bytes before it only) still resumes")
    func checkpointWithALegacyWitness() throws {
        let (dir, store, orders) = try Self.fixture("follow-legacy-witness")
        defer { dir.remove() }
        let file = dir.file("live.jsonl")
        let first = orders[0 ..< 60].reduce(Data(), +)
        try first.write(to: URL(fileURLWithPath: file))
        #expect(try StreamIngest.follow(store, path: file, options: Self.options, stop: StopFlag()).records == 60)
        let source = URL(fileURLWithPath: file).standardizedFileURL.path
        let saved = try #require(try store.catalog.streamCheckpoint(source: source))
        _ = try store.catalog.commit(message: "older build") { tx in
            try tx.saveStreamCheckpoint(source: source, byteOffset: saved.byteOffset, lineNumber: saved.lineNumber,
                                        witness: Tail.witness(of: Array(first.suffix(64))))
        }
        try (first + orders[60 ..< 90].reduce(Data(), +)).write(to: URL(fileURLWithPath: file))
        #expect(try StreamIngest.follow(store, path: file, options: Self.options, stop: StopFlag()).records == 30)
        // Saved again in this build's form.
        #expect(try store.catalog.streamCheckpoint(source: source)?.witness?.byteCount == 64 + Int64(Tail.headBytes))
    }

    @Test("a checkpoint an older build saved (no witness) still resumes; a save without one drops a stale witness")
    func checkpointWithoutWitness() throws {
        let (dir, store, orders) = try Self.fixture("follow-no-witness")
        defer { dir.remove() }
        let file = dir.file("live.jsonl")
        let options = Self.options
        try orders[0 ..< 60].reduce(Data(), +).write(to: URL(fileURLWithPath: file))
        #expect(try StreamIngest.follow(store, path: file, options: options, stop: StopFlag()).records == 60)
        let source = URL(fileURLWithPath: file).standardizedFileURL.path
        let saved = try #require(try store.catalog.streamCheckpoint(source: source))
        #expect(saved.witness != nil)
        // As an older build moves a checkpoint: no witness row at the new offset.
        _ = try store.catalog.commit(message: "older build") { tx in
            try tx.saveStreamCheckpoint(source: source, byteOffset: saved.byteOffset, lineNumber: saved.lineNumber)
        }
        #expect(try store.catalog.streamCheckpoint(source: source)?.witness == nil)
        try orders[0 ..< 90].reduce(Data(), +).write(to: URL(fileURLWithPath: file))
        #expect(try StreamIngest.follow(store, path: file, options: options, stop: StopFlag()).records == 30)
        #expect(try store.catalog.streamCheckpoint(source: source)?.witness != nil)
    }

    @Test("an idle follower that finds another follower of its file committed resumes at that checkpoint, not its own offset")
    func idleFollowerBesideAnother() throws {
        let (dir, store, orders) = try Self.fixture("follow-idle-beside")
        defer { dir.remove() }
        let file = dir.file("live.jsonl")
        let source = URL(fileURLWithPath: file).standardizedFileURL.path
        try orders[0 ..< 10].reduce(Data(), +).write(to: URL(fileURLWithPath: file))
        // A commits at once; at its first idle wait (lines 1-10 committed, the file's end read)
        // it is held until B has committed, then lets the test know when it is idle again.
        let idle = DispatchSemaphore(value: 0), resume = DispatchSemaphore(value: 0)
        let idleCalls = Counter()
        var options = StreamOptions()
        options.commitInterval = 0
        options.onIdle = {
            switch idleCalls.increment() {
            case 1: idle.signal(); resume.wait()
            case 2: idle.signal()
            default: break
            }
        }
        let followerA = BackgroundFollower(store, path: file, options: options)
        defer { resume.signal() }  // a failed expectation below must not leave A held forever
        try #require(idle.wait(timeout: .now() + 120) == .success, "A never went idle")
        #expect(try store.catalog.streamCheckpoint(source: source)?.lineNumber == 10)
        // B, another follower of the file (its own process in real life), commits lines 11-20.
        let other = try LakeStore.open(root: store.root, schemas: schemasDirectory)
        try (orders[0 ..< 20]).reduce(Data(), +).write(to: URL(fileURLWithPath: file))
        #expect(try StreamIngest.follow(other, path: file, options: Self.options, stop: StopFlag()).records == 10)
        // A wakes, sees the lake moved on, and must find nothing left to read: idle again.
        resume.signal()
        #expect(idle.wait(timeout: .now() + 120) == .success, "A did not go idle again")
        let a = try #require(try followerA.finish(), "A did not stop within a minute")
        #expect(a.records == 10, "A read B's lines again: \(a.records) records")
        let runs = try store.catalog.ingestRuns().filter { $0.kind == .orders }
        #expect(runs.reduce(0) { $0 + $1.records } == 20 && runs.count == 2, "\(runs.map(\.records))")
        #expect(try store.catalog.streamCheckpoint(source: source)?.lineNumber == 20)
    }

    /// Session 22: the checkpoint was keyed by the path as given, so the same file followed
    /// through a symlink (or a symlinked directory) started again at line 1, every line read
    /// again as a duplicate. Now the key is the resolved path.
    @Test("a file followed through a symlink resumes at the checkpoint its real path committed")
    func symlinkSharesTheCheckpoint() throws {
        let (dir, store, orders) = try Self.fixture("follow-symlink")
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.file("data"), withIntermediateDirectories: true)
        let file = dir.file("data/live.jsonl"), link = dir.file("link.jsonl"), linkedDir = dir.file("via")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "data/live.jsonl")
        try FileManager.default.createSymbolicLink(atPath: linkedDir, withDestinationPath: "data")
        try orders[0 ..< 60].reduce(Data(), +).write(to: URL(fileURLWithPath: file))
        #expect(try StreamIngest.follow(store, path: file, options: Self.options, stop: StopFlag()).records == 60)
        try orders[0 ..< 90].reduce(Data(), +).write(to: URL(fileURLWithPath: file))
        #expect(try StreamIngest.follow(store, path: link, options: Self.options, stop: StopFlag()).records == 30)
        try orders[0 ..< 100].reduce(Data(), +).write(to: URL(fileURLWithPath: file))
        #expect(try StreamIngest.follow(store, path: linkedDir + "/live.jsonl", options: Self.options, stop: StopFlag()).records == 10)
        let runs = try store.catalog.ingestRuns().filter { $0.kind == .orders }
        #expect(runs.reduce(0) { $0 + $1.records } == 100, "\(runs.map(\.records))")
    }

    /// A symlink pointed at another file while no follower ran (a "current" link moved to the
    /// next day's file): keyed by the resolved path only, the restart read the new target from
    /// line 1 and the old one's rest was never read, with no word. The checkpoint saved under
    /// the link's path too makes it the refusal a rotation gets.
    @Test("a symlink pointed at another file since the last commit: refused with the way on, nothing committed")
    func symlinkPointedElsewhereIsRefused() throws {
        let (dir, store, orders) = try Self.fixture("follow-symlink-moved")
        defer { dir.remove() }
        let a = dir.file("a.jsonl"), b = dir.file("b.jsonl"), link = dir.file("current.jsonl")
        try orders[0 ..< 60].reduce(Data(), +).write(to: URL(fileURLWithPath: a))
        try orders[100 ..< 300].reduce(Data(), +).write(to: URL(fileURLWithPath: b))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "a.jsonl")
        #expect(try StreamIngest.follow(store, path: link, options: Self.options, stop: StopFlag()).records == 60)
        try FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "b.jsonl")
        #expect {
            _ = try StreamIngest.follow(store, path: link, options: Self.options, stop: StopFlag())
        } throws: { error in
            // The refusal a rotation gets (here the checkpoint falls inside a line of b.jsonl).
            "\(error)".contains("current.jsonl") && "\(error)".contains("nothing was committed") && "\(error)".contains("--from-start")
        }
        let runs = try store.catalog.ingestRuns().filter { $0.kind == .orders }
        #expect(runs.reduce(0) { $0 + $1.records } == 60)
    }

    /// A follower of a link whose lines another follower, of a build before session 22, commits
    /// meanwhile under the link's name only: the commit's conflict check read the resolved key
    /// alone, so both committed the same lines (raw holds them twice). It reads the link's
    /// checkpoint too: the batch conflicts and is redone from there, finding nothing new.
    @Test("lines committed meanwhile under a link's name by an older build: the follower's batch conflicts and is redone from there")
    func olderFollowerThroughTheLinkIsSeen() throws {
        let (dir, store, orders) = try Self.fixture("follow-symlink-race")
        defer { dir.remove() }
        let file = dir.file("live.jsonl"), link = dir.file("link.jsonl")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "live.jsonl")
        let lines = orders[0 ..< 60].reduce(Data(), +)
        try lines.write(to: URL(fileURLWithPath: file))
        // Holds its 60 lines for 3 s before committing them.
        var options = StreamOptions()
        options.commitEvery = 1_000
        options.commitInterval = 3
        options.pollInterval = 0.05
        let follower = BackgroundFollower(store, path: link, options: options)
        Thread.sleep(forTimeInterval: 1)
        // The older build's commit of the same 60 lines, keyed by the link's path (its orders are
        // left out: only whether the follower commits the lines again is looked at).
        _ = try store.catalog.commit(message: "older build") { tx in
            try tx.saveStreamCheckpoint(source: link, byteOffset: Int64(lines.count), lineNumber: 60)
        }
        Thread.sleep(forTimeInterval: 4.5)
        let run = try #require(try follower.finish(), "the follower did not stop within a minute")
        #expect(run.records == 0, "the follower committed \(run.records) lines the older build had committed")
        #expect(try store.catalog.ingestRuns().filter { $0.kind == .orders }.isEmpty)
    }

    /// A lake whose follower ran through a symlink before session 22 holds its checkpoint under
    /// the symlink's path: a restart by that path still finds it (and commits under the
    /// resolved key from then on).
    @Test("a checkpoint an older build keyed by a symlink's path is still found")
    func checkpointUnderTheGivenPathIsFound() throws {
        let (dir, store, orders) = try Self.fixture("follow-symlink-legacy")
        defer { dir.remove() }
        let file = dir.file("live.jsonl"), link = dir.file("link.jsonl")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "live.jsonl")
        let first = orders[0 ..< 60].reduce(Data(), +)
        try first.write(to: URL(fileURLWithPath: file))
        // What an older build committed after following link.jsonl to line 60 (its orders are
        // left out here: only where the follower resumes is looked at).
        _ = try store.catalog.commit(message: "older build") { tx in
            try tx.saveStreamCheckpoint(source: link, byteOffset: Int64(first.count), lineNumber: 60)
        }
        try orders[0 ..< 90].reduce(Data(), +).write(to: URL(fileURLWithPath: file))
        #expect(try StreamIngest.follow(store, path: link, options: Self.options, stop: StopFlag()).records == 30)
        let resolved = try #require(try store.catalog.streamCheckpoint(source: URL(fileURLWithPath: file).resolvingSymlinksInPath().path))
        #expect(resolved.lineNumber == 90)
    }
}

extension IngestStreamTests {
    @Test("stopped with a last line that has no newline: exit 0, and stderr says the line was not ingested")
    func stopWithAnUnterminatedLastLine() throws {
        #expect(FileManager.default.isExecutableFile(atPath: lakeBinary.path), "run `swift build` first: \(lakeBinary.path)")
        let dir = try TemporaryDirectory("follow-unterminated")
        defer { dir.remove() }
        let root = dir.file("lake"), file = dir.file("stream.jsonl"), log = dir.file("follow.log")
        #expect(try runLake(["ingest", "catalog", "--lake", root, evaluationCatalog]).status == 0)
        let orders = try FollowedFileRestartTests.lines(evaluationOrders)
        let head = orders[0 ..< 50].reduce(Data(), +)
        try (head + orders[50].dropLast()).write(to: URL(fileURLWithPath: file))
        var p = try startFollow(root, file, log: log)
        #expect(try waitForCheckpoint(root, file, offset: Int64(head.count))?.lineNumber == 50)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit && p.terminationStatus == 0)
        let said = try String(contentsOfFile: log, encoding: .utf8)
        #expect(said.contains("\(orders[50].count - 1) bytes after line 50 (byte \(head.count)) were not ingested: a last line with no line end yet"), "\(said)")

        // Its newline written, a restart commits it and says nothing more.
        try append(file, Data("\n".utf8))
        p = try startFollow(root, file, log: log)
        #expect(try waitForCheckpoint(root, file, offset: Int64(head.count + orders[50].count))?.lineNumber == 51)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit && p.terminationStatus == 0)
        let second = try String(contentsOfFile: log, encoding: .utf8)  // startFollow starts the log afresh
        #expect(second.contains("lines ..51") && !second.contains("were not ingested"), "\(second)")
    }
}

extension IngestStreamTests {
    @Test("a product catalog ingested while a follower runs validates its next lines (was: the catalog it started with)")
    func catalogIngestedWhileFollowing() throws {
        let dir = try TemporaryDirectory("follow-new-catalog")
        defer { dir.remove() }
        let root = dir.file("lake"), file = dir.file("stream.jsonl"), log = dir.file("follow.log"), gen = dir.file("gen")
        #expect(try runLake(["generate", "--orders", "400", "--clean", "--seed", "5", "--out", gen]).status == 0)
        // The first catalog lacks PROD-050; the second has it and a new price for PROD-001.
        let full = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: gen + "/product_catalog.json"))) as! [[String: Any]]
        let first = full.filter { $0["product_id"] as? String != "PROD-050" }
        let second = full.map { p -> [String: Any] in
            var p = p
            if p["product_id"] as? String == "PROD-001" { p["price"] = 999.0 }
            return p
        }
        try JSONSerialization.data(withJSONObject: first).write(to: URL(fileURLWithPath: dir.file("cat1.json")))
        try JSONSerialization.data(withJSONObject: second).write(to: URL(fileURLWithPath: dir.file("cat2.json")))
        let lines = try FollowedFileRestartTests.lines(gen + "/orders_stream.jsonl")
        let without = lines.filter { !String(decoding: $0, as: UTF8.self).contains("PROD-050") }.prefix(50).reduce(Data(), +)
        let with = lines.filter { String(decoding: $0, as: UTF8.self).contains("PROD-050") }.prefix(5)
        try #require(with.count == 5)

        #expect(try runLake(["ingest", "catalog", "--lake", root, dir.file("cat1.json")]).status == 0)
        try without.write(to: URL(fileURLWithPath: file))
        let p = try startFollow(root, file, log: log)
        #expect(try waitForCheckpoint(root, file, offset: Int64(without.count))?.lineNumber == 50)
        #expect(try runLake(["ingest", "catalog", "--lake", root, dir.file("cat2.json")]).status == 0)
        try append(file, with.reduce(Data(), +))
        #expect(try waitForCheckpoint(root, file, offset: Int64(without.count + with.reduce(0) { $0 + $1.count }))?.lineNumber == 55)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit && p.terminationStatus == 0)

        let seen = try Python.json(Python.duckdbPrelude + """
            root = sys.argv[1]
            con = duck()
            con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
            rejected = con.execute("SELECT count(*) FROM l.raw.orders WHERE reject_reason IS NOT NULL").fetchone()[0]
            items = con.execute("SELECT count(*) FROM l.curated.order_items WHERE product_id = 'PROD-050'").fetchone()[0]
            prices = [str(r[0]) for r in con.execute("SELECT DISTINCT list_price FROM l.curated.order_items o JOIN l.raw.orders r USING (order_id) WHERE o.product_id = 'PROD-001' AND r.line_number > 50").fetchall()]
            print(json.dumps([rejected, items, prices]))
            """, [root]) as! [Any]
        #expect(seen[0] as? Int == 0, "orders of the new catalog's product rejected: \(seen)")
        #expect((seen[1] as? Int ?? 0) >= 5, "\(seen)")
        #expect((seen[2] as? [String] ?? []).allSatisfy { $0 == "999.00" }, "\(seen)")
    }
}

/// A follower on a thread of its own (its own process in real life) until `finish` stops it.
final class BackgroundFollower: @unchecked Sendable {
    private let stop = StopFlag()
    private let done = DispatchSemaphore(value: 0)
    private var outcome: Result<IngestRun, Error>?

    init(_ store: LakeStore, path: String, options: StreamOptions) {
        detachThread { [self] in
            outcome = Result { try StreamIngest.follow(store, path: path, options: options, stop: stop) }
            done.signal()
        }
    }

    /// Stops the follower and returns its run; nil when it did not end within a minute.
    func finish() throws -> IngestRun? {
        stop.set()
        guard done.wait(timeout: .now() + 60) == .success else { return nil }
        return try outcome?.get()
    }
}

/// A count several threads increment.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    /// The count after this increment.
    func increment() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value }
}
