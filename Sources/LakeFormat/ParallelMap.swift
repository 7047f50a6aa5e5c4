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
            let threads = PlainThreads(workers - 1, loop)
            loop()
            threads.join()
        }
    }.map { try $0.get() }
}

/// Runs `body` on every index on up to `threads` plain threads (as `parallelMapBlocking`),
/// starting the indices in `startOrder` (default: index order), and hands each index's result
/// or error to `deliver` on the calling thread, in index order, as soon as that index and every
/// one before it are done: a caller prints the first result while later ones still run. Every
/// index runs even when some fail. Returns once every index is delivered and every thread joined.
public func parallelStreamBlocking<T>(count: Int, threads: Int, startOrder: [Int]? = nil, _ body: (Int) throws -> T,
                                      deliver: (Int, Result<T, Error>) -> Void) {
    if count == 0 { return }
    let order = startOrder ?? Array(0 ..< count)
    precondition(order.sorted() == Array(0 ..< count), "startOrder must name each index once")
    nonisolated(unsafe) let slots = UnsafeMutableBufferPointer<Result<T, Error>?>.allocate(capacity: count)
    slots.initialize(repeating: nil)
    defer {
        slots.deinitialize()
        slots.deallocate()
    }
    let done = NSCondition()
    let next = WorkCounter()
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let body = body
        let loop = {
            while true {
                let k = next.take()
                if k >= count { return }
                let i = order[k]
                let result = Result { try body(i) }
                done.lock()
                slots[i] = result
                done.broadcast()
                done.unlock()
            }
        }
        // Every worker is a thread of its own: the calling thread only waits and delivers, so a
        // slow `deliver` (printing a large table) never holds back a job. With no thread started
        // the caller runs the jobs itself and delivers them afterwards.
        let threads = PlainThreads(parallelWorkers(count: count, parallelism: threads), loop)
        if threads.isEmpty { loop() }
        for i in 0 ..< count {
            done.lock()
            while slots[i] == nil { done.wait() }
            let result = slots[i]!
            done.unlock()
            deliver(i, result)
        }
        threads.join()
    }
}

/// Up to `count` plain threads each running `run` until `join`; a thread that cannot be
/// started is left out (the caller's own loop or the others do its share).
private struct PlainThreads {
    private let job: Unmanaged<BlockingJob>
    private var started: [pthread_t] = []
    var isEmpty: Bool { started.isEmpty }

    init(_ count: Int, _ run: @escaping () -> Void) {
        job = Unmanaged.passRetained(BlockingJob(run))
        for _ in 0 ..< max(0, count) {
            var t = pthread_t()
            let rc = pthread_create(&t, nil, { context in
                Unmanaged<BlockingJob>.fromOpaque(context!).takeUnretainedValue().run()
                return nil
            }, job.toOpaque())
            if rc == 0 { started.append(t) }
        }
    }

    func join() {
        for t in started { pthread_join(t, nil) }
        job.release()
    }
}

private final class BlockingJob: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
