import Glibc

/// An open file descriptor with exactly one owner, closed exactly once, when the owner goes.
///
/// Why a type: a descriptor closed twice closes whatever another thread opened in between under
/// the same number (a failed reader once closed its descriptor in a `catch` and again in `deinit`,
/// and a concurrent scan then read the wrong file). Holding the number in one object whose release
/// is the only close removes that class of bug: error paths simply let the object go.
public final class FileDescriptor: @unchecked Sendable {
    public struct OpenError: Error, CustomStringConvertible {
        public let path: String
        public let errno: Int32
        public var description: String { "\(path): cannot open: \(errnoText(errno))" }
    }

    public let raw: Int32

    /// Opens `path`; `O_CLOEXEC` is always added so a child process never inherits it.
    public init(opening path: String, flags: Int32, mode: mode_t = 0o644) throws(OpenError) {
        let fd = open(path, flags | O_CLOEXEC, mode)
        if fd < 0 { throw OpenError(path: path, errno: errno) }
        raw = fd
    }

    deinit { _ = close(raw) }
}
