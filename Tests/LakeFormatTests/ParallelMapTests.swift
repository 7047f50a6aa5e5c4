import Foundation
import LakeFormat
import Testing

/// The one worker pool: every index runs exactly once on its worker slot, results keep index
/// order, and errors come back by index.
@Suite struct ParallelMapTests {
    final class Tally: @unchecked Sendable {
        let lock = NSLock()
        var seen: [Int: Int] = [:]
        var workers = Set<Int>()
        func add(_ worker: Int, _ i: Int) { lock.withLock { seen[i, default: 0] += 1; workers.insert(worker) } }
    }

    @Test("each index once, worker slots within bounds, for both splits and any parallelism", arguments: [WorkSplit.strided, .dynamic])
    func everyIndexOnce(split: WorkSplit) {
        for (count, parallelism) in [(0, 2), (1, 4), (7, 2), (100, 3), (5, 8)] {
            let tally = Tally()
            forEachInParallel(count: count, parallelism: parallelism, split: split) { w, i in tally.add(w, i) }
            #expect(tally.seen.count == count)
            #expect(tally.seen.values.allSatisfy { $0 == 1 })
            #expect(tally.workers.allSatisfy { $0 >= 0 && $0 < parallelWorkers(count: count, parallelism: parallelism) })
        }
    }

    struct Failed: Error, Equatable { let index: Int }

    @Test("results in index order; every index runs when some fail; parallelMap rethrows the lowest failing index")
    func resultsAndErrors() throws {
        #expect(try parallelMap(count: 50, parallelism: 2, split: .dynamic) { $0 * $0 } == (0 ..< 50).map { $0 * $0 })
        let results = parallelResults(count: 20, parallelism: 2, split: .dynamic) { i -> Int in
            if i % 7 == 3 { throw Failed(index: i) }
            return i
        }
        #expect(results.count == 20)
        for (i, r) in results.enumerated() {
            switch r {
            case .success(let v): #expect(v == i && i % 7 != 3)
            case .failure(let e): #expect((e as? Failed)?.index == i)
            }
        }
        #expect(throws: Failed(index: 3)) {
            try parallelMap(count: 20, parallelism: 2) { i -> Int in
                if i % 7 == 3 { throw Failed(index: i) }
                return i
            }
        }
    }

    /// What `parallelStreamBlocking` delivered, and in which order, on which thread.
    final class Deliveries: @unchecked Sendable {
        let lock = NSLock()
        var indices: [Int] = []
        var started: [Int] = []
        func start(_ i: Int) { lock.withLock { started.append(i) } }
    }

    @Test("parallelStreamBlocking: every index delivered once, in index order, on the calling thread; a failure is delivered in its place")
    func streamOrderAndFailures() {
        let caller = pthread_self()
        let log = Deliveries()
        var onCaller = true
        // Index 0 is the slowest, so the others finish first and must wait for it.
        parallelStreamBlocking(count: 6, threads: 2, { i -> Int in
            if i == 0 { usleep(200_000) }
            if i == 4 { throw Failed(index: i) }
            return i * 10
        }, deliver: { i, result in
            log.indices.append(i)
            onCaller = onCaller && pthread_equal(pthread_self(), caller) != 0
            switch result {
            case .success(let v): #expect(v == i * 10 && i != 4)
            case .failure(let e): #expect((e as? Failed)?.index == i && i == 4)
            }
        })
        #expect(log.indices == Array(0 ..< 6))
        #expect(onCaller)
    }

    @Test("parallelStreamBlocking delivers index 0 while a later index is still running")
    func streamDeliversEachPrefixAtOnce() {
        let firstDelivered = DispatchSemaphore(value: 0)
        var lastSawFirst = false
        var deliveredFirstAt: [Int] = []
        parallelStreamBlocking(count: 4, threads: 2, { i -> Int in
            // The last index cannot finish until index 0 is out: a delivery that waited for
            // every index would leave it to time out here.
            if i == 3 { lastSawFirst = firstDelivered.wait(timeout: .now() + 30) == .success }
            return i
        }, deliver: { i, _ in
            deliveredFirstAt.append(i)
            if i == 0 { firstDelivered.signal() }
        })
        #expect(lastSawFirst)
        #expect(deliveredFirstAt == [0, 1, 2, 3])
    }

    @Test("parallelStreamBlocking starts the indices in startOrder and still delivers in index order")
    func streamStartOrder() {
        let log = Deliveries()
        var delivered: [Int] = []
        parallelStreamBlocking(count: 5, threads: 1, startOrder: [4, 2, 0, 1, 3], { i -> Int in
            log.start(i)
            return i
        }, deliver: { i, result in
            delivered.append(i)
            #expect((try? result.get()) == i)
        })
        #expect(log.started == [4, 2, 0, 1, 3])
        #expect(delivered == [0, 1, 2, 3, 4])
        parallelStreamBlocking(count: 0, threads: 2, { $0 }, deliver: { _, _ in Issue.record("nothing to deliver") })
    }
}
