import Foundation
import LakeFormat
#if canImport(Glibc)
import Glibc
#endif

/// The stages of a parallel whole-source ingest running at once rather than in rounds: one
/// thread reads (and so hashes) line-aligned chunks ahead, each validation thread takes the next
/// chunk read, and the calling thread takes the validated chunks in line order (`consume`). So
/// settling a chunk's duplicates and handing its rows to the writers overlap the validation of
/// the chunks after it and the reading of the source, and a slow chunk no longer holds up a
/// whole round. At most `window` chunks are read and not yet consumed, which bounds memory.
final class ChunkPipeline<Output>: @unchecked Sendable {
    // Every field below is guarded by `lock`.
    private let lock = NSCondition()
    /// Read, not yet taken by a validation thread, in line order.
    private var queued: [(index: Int, chunk: LineChunk)] = []
    /// Validated, waiting for the chunks before them to be consumed.
    private var validated: [Int: (chunk: LineChunk, output: Output)] = [:]
    private var chunksRead = 0
    private var readEnded = false
    /// Why reading stopped early; thrown by `consume` in line order (after every chunk before it).
    private var readFailure: Error?
    /// Chunks read and not yet consumed.
    private var inFlight = 0
    private var stopped = false
    private let window: Int
    private let tally: ThreadTally?

    private init(window: Int, tally: ThreadTally?) {
        self.window = max(window, 1)
        self.tally = tally
    }

    /// Runs `read` on one thread and `validate` on `validators` threads (each with its index, so
    /// it can keep its own state), and `consume` on the calling thread, chunk after chunk in line
    /// order. Returns when the source is consumed; rethrows the first failure of `read` (in line
    /// order) or of `consume`, after every thread has ended.
    static func run(window: Int, validators: Int, tally: ThreadTally? = nil, read: @escaping () throws -> LineChunk?,
                    validate: @escaping (_ validator: Int, LineChunk) -> Output,
                    consume: (LineChunk, Output) throws -> Void) throws {
        let pipeline = ChunkPipeline(window: window, tally: tally)
        var roles: [() -> Void] = [{ pipeline.readLoop(read) }]
        for v in 0 ..< validators { roles.append { pipeline.validateLoop { validate(v, $0) } } }
        let threads = StartedThreads()
        defer {
            pipeline.stop()
            threads.joinAll()
        }
        for role in roles {
            if let failure = threads.start(role) {
                throw IngestError.failed("cannot start an ingest thread (\(errnoText(failure))); nothing was committed")
            }
        }
        try pipeline.consumeLoop(consume)
    }

    private func readLoop(_ read: () throws -> LineChunk?) {
        while true {
            lock.lock()
            tally.measure("reader: wait for the window") { while inFlight >= window && !stopped { lock.wait() } }
            if stopped {
                lock.unlock()
                return
            }
            inFlight += 1
            lock.unlock()
            var chunk: LineChunk?, failure: Error?
            tally.measure("reader: read and hash") { do { chunk = try read() } catch { failure = error } }
            lock.lock()
            if let chunk {
                queued.append((chunksRead, chunk))
                chunksRead += 1
            } else {
                inFlight -= 1
                readEnded = true
                readFailure = failure
            }
            lock.broadcast()
            lock.unlock()
            if chunk == nil { return }
        }
    }

    private func validateLoop(_ validate: (LineChunk) -> Output) {
        while true {
            lock.lock()
            tally.measure("validators: wait for a chunk") { while queued.isEmpty && !readEnded && !stopped { lock.wait() } }
            if queued.isEmpty || stopped {
                lock.unlock()
                return
            }
            let (index, chunk) = queued.removeFirst()
            lock.unlock()
            let output = tally.measure("validators: validate") { validate(chunk) }
            lock.lock()
            validated[index] = (chunk, output)
            lock.broadcast()
            lock.unlock()
        }
    }

    private func consumeLoop(_ consume: (LineChunk, Output) throws -> Void) throws {
        var index = 0
        while true {
            lock.lock()
            tally.measure("consumer: wait for the next chunk in line order") {
                while validated[index] == nil && !(readEnded && index >= chunksRead) { lock.wait() }
            }
            guard let (chunk, output) = validated.removeValue(forKey: index) else {
                let failure = readFailure
                lock.unlock()
                if let failure { throw failure }
                return
            }
            lock.unlock()
            // Ctrl-C: the reader may be far ahead (its window), so the consumer checks too.
            try Interruption.check()
            try consume(chunk, output)
            lock.lock()
            inFlight -= 1
            lock.broadcast()
            lock.unlock()
            index += 1
        }
    }

    /// Ends the reader and validation threads at their next step (after a failure, or at the end).
    private func stop() {
        lock.lock()
        stopped = true
        lock.broadcast()
        lock.unlock()
    }
}

/// Plain threads (not the Dispatch pool, whose threads the segment writers' parallel encoding
/// needs: a pool thread blocked waiting for a chunk could starve it), joined by `joinAll`.
private final class StartedThreads {
    private var threads: [pthread_t] = []

    private final class Job: @unchecked Sendable {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread; the errno when it cannot be started.
    func start(_ body: @escaping () -> Void) -> Int32? {
        let job = Unmanaged.passRetained(Job(body))
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { context in
            let job = Unmanaged<Job>.fromOpaque(context!)
            job.takeUnretainedValue().body()
            job.release()
            return nil
        }, job.toOpaque())
        if rc != 0 {
            job.release()
            return rc
        }
        threads.append(t)
        return nil
    }

    func joinAll() {
        for t in threads { pthread_join(t, nil) }
        threads = []
    }
}
