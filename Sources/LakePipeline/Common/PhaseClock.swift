import Foundation
import LakeFormat
#if canImport(Glibc)
import Glibc
#endif

/// Where a run's time goes, phase by phase: wall seconds and the process's CPU seconds (all
/// threads) per phase, written to standard error when `LAKE_PHASE_TIMES` is set. CPU / wall
/// tells how much of a phase used both cores; a profile without a profiler (bench/ingest.sh
/// passes the variable through). Costs two clock reads per lap when enabled, nothing otherwise.
public struct PhaseClock {
    public static let enabled = ProcessInfo.processInfo.environment["LAKE_PHASE_TIMES"] != nil
    private let label: String
    private var wall: Double
    private var cpu: Double
    /// Time accumulated over many short spans (e.g. every chunk read), reported by `report`.
    private var spans: [(name: String, seconds: Double)] = []

    public init(_ label: String) {
        self.label = label
        wall = Self.now(CLOCK_MONOTONIC)
        cpu = Self.now(CLOCK_PROCESS_CPUTIME_ID)
    }

    /// Ends the current phase as `name` and starts the next.
    public mutating func lap(_ name: String) {
        guard Self.enabled else { return }
        let w = Self.now(CLOCK_MONOTONIC), c = Self.now(CLOCK_PROCESS_CPUTIME_ID)
        Self.write(String(format: "phase %@ %@: %.3f s wall, %.3f s cpu (%.0f%%)", label, name, w - wall, c - cpu,
                          w > wall ? 100 * (c - cpu) / (w - wall) : 0))
        wall = w
        cpu = c
    }

    /// Runs `body`, adding its wall time to the span `name`.
    public mutating func span<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        guard Self.enabled else { return try body() }
        let t = Self.now(CLOCK_MONOTONIC)
        defer {
            let d = Self.now(CLOCK_MONOTONIC) - t
            if let i = spans.firstIndex(where: { $0.name == name }) { spans[i].seconds += d } else { spans.append((name, d)) }
        }
        return try body()
    }

    /// Writes the accumulated spans (wall seconds inside the phases they ran in).
    public func reportSpans() {
        guard Self.enabled else { return }
        for s in spans { Self.write(String(format: "span  %@ %@: %.3f s wall", label, s.name, s.seconds)) }
    }

    private static func now(_ clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private static func write(_ line: String) {
        StandardStream.write((line + "\n"), to: StandardStream.error)
    }
}

/// Wall and thread-CPU seconds spent by the threads of one pipeline (reader, validators,
/// settling, segment writers), summed per role and written to standard error by `report` when
/// `LAKE_PHASE_TIMES` is set: a role's wait shows where a core sits idle (e.g. validators
/// waiting for a chunk while the writers' queue is full). Thread-safe; costs nothing when off.
final class ThreadTally: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [(name: String, wall: Double, cpu: Double, count: Int)] = []
    private let label: String

    init(_ label: String) { self.label = label }

    /// Runs `body` on this thread, adding its wall and this thread's CPU seconds to `name`.
    @inline(__always)
    func measure<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        guard PhaseClock.enabled else { return try body() }
        let w = Self.now(CLOCK_MONOTONIC), c = Self.now(CLOCK_THREAD_CPUTIME_ID)
        defer { add(name, wall: Self.now(CLOCK_MONOTONIC) - w, cpu: Self.now(CLOCK_THREAD_CPUTIME_ID) - c) }
        return try body()
    }

    private func add(_ name: String, wall: Double, cpu: Double) {
        lock.lock()
        defer { lock.unlock() }
        if let i = entries.firstIndex(where: { $0.name == name }) {
            entries[i].wall += wall
            entries[i].cpu += cpu
            entries[i].count += 1
        } else {
            entries.append((name, wall, cpu, 1))
        }
    }

    func report() {
        guard PhaseClock.enabled else { return }
        lock.lock()
        let all = entries
        lock.unlock()
        for e in all {
            StandardStream.write(String(format: "tally %@ %@: %.3f s wall, %.3f s thread cpu, %d times", label, e.name, e.wall, e.cpu, e.count) + "\n", to: StandardStream.error)
        }
    }

    private static func now(_ clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

extension Optional where Wrapped == ThreadTally {
    /// `measure` on the tally when there is one; otherwise only `body`.
    @inline(__always)
    func measure<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        guard let tally = self else { return try body() }
        return try tally.measure(name, body)
    }
}
