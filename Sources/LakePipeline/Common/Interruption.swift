#if canImport(Glibc)
import Glibc
#endif
import LakeFormat

/// The signal number the first SIGINT/SIGTERM of a batch command stored (0: none). Written by
/// the handler only; one word, so async-signal-safe.
nonisolated(unsafe) private var interruptSignal: sig_atomic_t = 0
/// What the handler writes to stderr (write(2) is async-signal-safe), allocated by `install`:
/// the work may go on for seconds (a commit waiting for another writer's lock finishes first).
nonisolated(unsafe) private var interruptNotice: UnsafeMutablePointer<UInt8>?
nonisolated(unsafe) private var interruptNoticeLength = 0

/// Ctrl-C (SIGINT) or SIGTERM during a batch command (`lake run`'s ingests, `lake ingest` without
/// --follow, `lake compact`, `lake delete`, `lake erase`, `lake schema migrate`). The default
/// action killed the process wherever it was: nothing partial was committed, but every file the
/// batch had written stayed under its temp name (session 16 probe: up to 998 `.tmp-….pending` files
/// after one interrupted `lake run` of 40,000 orders) until a vacuum an hour later. With `install`,
/// the first signal is only recorded; the work stops at its next check (`check`: every read of a
/// source, each compacted partition, each file a delete, a migration or a purge writes) and fails
/// like any error before its commit: its files deleted, nothing committed. A commit under way
/// finishes. A second signal kills the process at once (the handler is reset after the first), for
/// a command blocked where no check comes (a pipe that sends nothing).
public enum Interruption {
    /// The signals handled, with the action each had before.
    nonisolated(unsafe) private static var previous: [(Int32, sigaction)] = []

    /// Installs the handlers (SA_RESTART: system calls of other threads are not cut short). A
    /// signal the process was started ignoring stays ignored: a shell starts a background job
    /// (`lake ingest … &` in a script) ignoring SIGINT so that Ctrl-C reaches the script only.
    public static func install(_ signals: [Int32] = [SIGINT, SIGTERM]) {
        if interruptNotice == nil {
            let text = Array("lake: stopping at the next safe point (a commit under way, or waiting for another writer's lock, finishes first); signal again to end at once, leaving this step's files to lake vacuum\n".utf8)
            let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: text.count)
            buffer.initialize(from: text, count: text.count)
            interruptNoticeLength = text.count
            interruptNotice = buffer
        }
        var set = sigset_t()
        sigemptyset(&set)
        for sig in signals {
            var old = sigaction()
            sigaction(sig, nil, &old)
            // SIG_IGN is the handler address 1.
            if let handler = old.__sigaction_handler.sa_handler, unsafeBitCast(handler, to: Int.self) == 1 { continue }
            sigaddset(&set, sig)
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in
                interruptSignal = sig
                if let notice = interruptNotice { _ = write(2, notice, interruptNoticeLength) }
            }
            action.sa_flags = Int32(SA_RESTART) | Int32(bitPattern: UInt32(truncatingIfNeeded: SA_RESETHAND))
            sigemptyset(&action.sa_mask)
            sigaction(sig, &action, nil)
            previous.append((sig, old))
        }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Restores the actions `install` replaced; a signal recorded meanwhile (it came after the
    /// last check, so the work it interrupted completed) is raised again, ending the process as
    /// it asked.
    public static func uninstall() {
        for (sig, old) in previous {
            var action = old
            sigaction(sig, &action, nil)
        }
        previous = []
        if let pending = received {
            StandardStream.write("lake: the work under way completed (what it committed stays) before \(name(pending)) took effect; ending now\n", to: StandardStream.error)
            raise(pending)
        }
    }

    /// The signal received since `install`, if any.
    public static var received: Int32? { interruptSignal == 0 ? nil : interruptSignal }

    /// Throws when a signal was received.
    public static func check() throws(Interrupted) {
        if let received { throw Interrupted(signal: received) }
    }

    /// "SIGINT", "SIGTERM", or the number.
    public static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        default: return "signal \(signal)"
        }
    }
}

/// The work stopped at a check after a SIGINT/SIGTERM (`Interruption`).
public struct Interrupted: Error, CustomStringConvertible, Equatable {
    public let signal: Int32
    public var description: String {
        "stopped by \(Interruption.name(signal)) before the work in progress was committed: nothing of it was committed and the files it wrote were deleted (commits before it stay); run the same command again"
    }
}
