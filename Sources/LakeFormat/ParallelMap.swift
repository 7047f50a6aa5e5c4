import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` on every index of `0 ..< count` on up to `parallelism` threads, each thread taking
/// every `workers`-th index (column chunks of one file are of similar size, so a strided split
/// balances without a shared counter), and returns the results in index order. The first error,
/// by index, is rethrown after every task has finished.
public func parallelMap<T>(count: Int, parallelism: Int, _ body: (Int) throws -> T) throws -> [T] {
    if count == 0 { return [] }
    nonisolated(unsafe) let results = UnsafeMutableBufferPointer<Result<T, Error>?>.allocate(capacity: count)
    results.initialize(repeating: nil)
    defer {
        results.deinitialize()
        results.deallocate()
    }
    let workers = max(1, min(parallelism, count))
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var i = worker
            while i < count {
                results[i] = Result { try body(i) }
                i += workers
            }
        }
    }
    return try results.map { try $0!.get() }
}

/// `parallelMap` for work that mostly waits on the storage device (closing files with fsync):
/// up to `threads` plain threads, more than the cores, each taking the next index, so many
/// flushes are in flight at once and the file system can commit them together. Results in index
/// order; the first error, by index, is rethrown after every task has finished.
public func parallelMapBlocking<T>(count: Int, threads: Int, _ body: (Int) throws -> T) throws -> [T] {
    if count == 0 { return [] }
    nonisolated(unsafe) let results = UnsafeMutableBufferPointer<Result<T, Error>?>.allocate(capacity: count)
    results.initialize(repeating: nil)
    defer {
        results.deinitialize()
        results.deallocate()
    }
    let workers = max(1, min(threads, count))
    let lock = NSLock()
    nonisolated(unsafe) var next = 0
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let body = body
        nonisolated(unsafe) let work = {
            while true {
                let i: Int = lock.withLock { defer { next += 1 }; return next }
                if i >= count { return }
                results[i] = Result { try body(i) }
            }
        }
        // Joined before returning, so nothing holds `body` past this call (checked by
        // withoutActuallyEscaping); a thread that cannot be started leaves its share to the others.
        let job = Unmanaged.passRetained(BlockingJob(work))
        var started: [pthread_t] = []
        for _ in 1 ..< workers {
            var t = pthread_t()
            let rc = pthread_create(&t, nil, { context in
                Unmanaged<BlockingJob>.fromOpaque(context!).takeUnretainedValue().run()
                return nil
            }, job.toOpaque())
            if rc == 0 { started.append(t) }
        }
        work()
        for t in started { pthread_join(t, nil) }
        job.release()
    }
    return try results.map { try $0!.get() }
}

private final class BlockingJob: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
