import Foundation

/// Runs `body` on a thread of its own, releasing the closure (and all it captured) on that
/// thread before it ends. Tests start threads through this, never `Thread` directly.
///
/// Why: Foundation's `Thread` keeps its closure until the thread is torn down, and then releases
/// it from a thread-specific-data destructor that runs after libdispatch's. libdispatch's
/// destructor frees the thread's cache of continuations but leaves the cache pointer set
/// (swift-corelibs-libdispatch, `_libdispatch_tsd_cleanup`). A capture whose deinit then uses
/// Dispatch (a GRDB database closing: its queue's disposal posts a barrier block) takes a
/// continuation from the freed cache and writes it into memory malloc holds as free: the test
/// process's intermittent abort "malloc_consolidate(): unaligned fastbin chunk detected" of
/// sessions 34 to 36, seen only later, wherever malloc next walked that bin (DESIGN.md).
public func detachThread(_ body: @escaping @Sendable () -> Void) {
    let work = ThreadWork(body)
    Thread.detachNewThread { work.run() }
}

/// The closure of a `detachThread`, dropped as soon as it has run.
private final class ThreadWork: @unchecked Sendable {
    private var body: (@Sendable () -> Void)?

    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    func run() {
        guard let body else { return }
        self.body = nil
        body()
    }
}
