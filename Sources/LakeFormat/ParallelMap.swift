import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// The one worker pool of the package: column chunks of a file (reader), files of a scan, and
// partitions of a compaction all run through `forEachInParallel`.

/// How indices are handed to workers.
public enum WorkSplit: Sendable {
    /// Worker w takes w, w + n, w + 2n, …: no shared counter; for items of similar cost (the
    /// column chunks of one file).
    case strided
    /// Each worker takes the next index from a shared counter: big and small items (files,
    /// partitions) balance across workers.
    case dynamic
}

/// How many workers `forEachInParallel` starts for `count` items.
public func parallelWorkers(count: Int, parallelism: Int) -> Int { max(1, min(parallelism, count)) }

/// Calls `body(worker, index)` once for every index of `0 ..< count`, on
/// `parallelWorkers(count:parallelism:)` threads; `worker` is the calling thread's slot, so a
/// caller can keep per-worker state without locks. Returns when every call has returned.
public func forEachInParallel(count: Int, parallelism: Int, split: WorkSplit = .strided,
                              _ body: (_ worker: Int, _ index: Int) -> Void) {
    if count == 0 { return }
    let workers = parallelWorkers(count: count, parallelism: parallelism)
    let next = WorkCounter()
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            switch split {
            case .strided:
                var i = worker
                while i < count {
                    body(worker, i)
                    i += workers
                }
            case .dynamic:
                while true {
                    let i = next.take()
                    if i >= count { break }
                    body(worker, i)
                }
            }
        }
    }
}

/// `body` on every index in parallel; each index's result or error, in index order. Every
/// index runs even when some fail (a caller may need to clean up what the others wrote).
public func parallelResults<T>(count: Int, parallelism: Int, split: WorkSplit = .strided,
                               _ body: (Int) throws -> T) -> [Result<T, Error>] {
    withResultSlots(count: count, body) { work in
        forEachInParallel(count: count, parallelism: parallelism, split: split) { _, i in work(i) }
    }
}

/// Runs `body` on every index through `schedule` (which must call the `work` it is given once
/// per index, on any threads) and returns each index's result, in index order.
private func withResultSlots<T>(count: Int, _ body: (Int) throws -> T,
                                schedule: (_ work: (Int) -> Void) -> Void) -> [Result<T, Error>] {
    if count == 0 { return [] }
    nonisolated(unsafe) let results = UnsafeMutableBufferPointer<Result<T, Error>?>.allocate(capacity: count)
    results.initialize(repeating: nil)
    defer {
        results.deinitialize()
        results.deallocate()
    }
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let body = body
        schedule { i in results[i] = Result { try body(i) } }
    }
    return results.map { $0! }
}

/// `body` on every index in parallel, results in index order. The first error, by index, is
/// rethrown after every task has finished.
public func parallelMap<T>(count: Int, parallelism: Int, split: WorkSplit = .strided, _ body: (Int) throws -> T) throws -> [T] {
    try parallelResults(count: count, parallelism: parallelism, split: split, body).map { try $0.get() }
}

/// `parallelMap` for work that mostly waits on the storage device (closing files with fsync):
/// up to `threads` plain threads, more than the cores (the pool above runs one thread per core), each taking the next index, so many
/// flushes are in flight at once and the file system can commit them together. Results in index
/// order; the first error, by index, is rethrown after every task has finished.
public func parallelMapBlocking<T>(count: Int, threads: Int, _ body: (Int) throws -> T) throws -> [T] {
    try withResultSlots(count: count, body) { work in
        let workers = parallelWorkers(count: count, parallelism: threads)
        let next = WorkCounter()
        withoutActuallyEscaping(work) { work in
            nonisolated(unsafe) let work = work
            let loop = {
                while true {
                    let i = next.take()
                    if i >= count { return }
                    work(i)
                }
            }
            // Joined before returning, so nothing holds `work` past this call (checked by
            // withoutActuallyEscaping); a thread that cannot be started leaves its share to the others.
            let job = Unmanaged.passRetained(BlockingJob(loop))
            var started: [pthread_t] = []
            for _ in 1 ..< workers {
                var t = pthread_t()
                let rc = pthread_create(&t, nil, { context in
                    Unmanaged<BlockingJob>.fromOpaque(context!).takeUnretainedValue().run()
                    return nil
                }, job.toOpaque())
                if rc == 0 { started.append(t) }
            }
            loop()
            for t in started { pthread_join(t, nil) }
            job.release()
        }
    }.map { try $0.get() }
}

private final class BlockingJob: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
