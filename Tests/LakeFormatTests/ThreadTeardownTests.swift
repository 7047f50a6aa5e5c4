import Foundation
import LakeTestSupport
import Testing

/// A thread that ends must not release, while it is torn down, anything whose deinit uses
/// Dispatch: libdispatch has freed its continuation cache by then without forgetting it, and the
/// next continuation is written into free heap memory (`detachThread` says how; it was the test
/// process's intermittent heap-corruption abort). Foundation's `Thread` releases its closure only
/// then, so no code starts one that ends: tests go through `detachThread`, and `Sources` keeps
/// only threads that run for the life of the process (the directory-sync workers).
@Suite struct ThreadTeardownTests {
    /// `root`-relative paths of the Swift files under `directory`.
    static func swiftFiles(under directory: String) -> [String] {
        let base = packageRoot.appendingPathComponent(directory)
        guard let e = FileManager.default.enumerator(atPath: base.path) else { return [] }
        return e.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }.map { directory + "/" + $0 }
    }

    /// Lines that start a Foundation `Thread`, as "path:line: text".
    static func threadStarts(in paths: [String]) throws -> [String] {
        // `Thread` as a word (not `detachThread`), then what starts one.
        let start = try Regex(#"(^|[^A-Za-z0-9_])Thread(\.detachNewThread|\s*\{|\(block:|\(target:)"#)
        var found: [String] = []
        for path in paths {
            let text = try String(contentsOfFile: packageRoot.appendingPathComponent(path).path, encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                if code.contains(start) { found.append("\(path):\(n + 1): \(line.trimmingCharacters(in: .whitespaces))") }
            }
        }
        return found
    }

    @Test("tests start threads through detachThread only; Sources only the directory-sync workers, which never end")
    func noThreadReleasesItsClosureAtTeardown() throws {
        let tests = Self.swiftFiles(under: "Tests").filter { !$0.hasSuffix("LakeTestSupport/DetachedThread.swift") && !$0.hasSuffix("ThreadTeardownTests.swift") }
        #expect(tests.count > 50, "the walk found \(tests.count) test files")
        let inTests = try Self.threadStarts(in: tests)
        #expect(inTests.isEmpty, "use detachThread (LakeTestSupport):\n\(inTests.joined(separator: "\n"))")
        let inSources = try Self.threadStarts(in: Self.swiftFiles(under: "Sources"))
        #expect(inSources.count == 1 && inSources.allSatisfy { $0.hasPrefix("Sources/LakeFormat/Durability.swift:") },
                "a Foundation Thread in Sources that may end: \(inSources)")
    }

    @Test("detachThread releases its closure's captures inside the thread's run, not at its teardown")
    func detachThreadReleasesItsCapturesBeforeTeardown() throws {
        /// Records, when released, whether the thread releasing it still has the mark its body
        /// set: Foundation's `Thread` object is still current while the body runs; at teardown it
        /// is being deallocated, and `Thread.current` is a new object without the mark.
        final class Captured: @unchecked Sendable {
            let released: DispatchSemaphore
            nonisolated(unsafe) var releasedInRun = false
            let result: Box
            init(_ released: DispatchSemaphore, _ result: Box) { self.released = released; self.result = result }
            deinit {
                result.releasedInRun = Thread.current.threadDictionary["lake.test.mark"] as? Bool ?? false
                released.signal()
            }
        }
        final class Box: @unchecked Sendable { var releasedInRun = false; var onCaller = true }
        let ran = DispatchSemaphore(value: 0), released = DispatchSemaphore(value: 0), result = Box()
        let caller = pthread_self()
        do {
            let captured = Captured(released, result)
            detachThread {
                Thread.current.threadDictionary["lake.test.mark"] = true
                captured.result.onCaller = pthread_equal(pthread_self(), caller) != 0
                ran.signal()
            }
        }
        #expect(ran.wait(timeout: .now() + 30) == .success)
        #expect(released.wait(timeout: .now() + 30) == .success, "the capture was not released")
        #expect(!result.onCaller)
        #expect(result.releasedInRun, "the capture was released after the closure's run, at the thread's teardown")
        #expect(ran.wait(timeout: .now() + 0.2) == .timedOut, "the closure ran twice")
    }
}
