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
}
