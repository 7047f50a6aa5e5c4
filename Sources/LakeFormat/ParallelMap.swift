import Dispatch

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
