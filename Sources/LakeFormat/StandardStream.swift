#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Progress lines, a follower's commit lines, the server's request log and error messages go
/// to standard output or error through here, not `FileHandle.write(_:)`: that traps on any
/// error, and a pipe whose reader is gone gives EPIPE once SIGPIPE is ignored (systemd starts
/// services so, and a journald restart breaks their stream; NIO ignores it in `lake serve`).
/// `lake serve` with its log piped to a reader that ended crashed at its next request, and a
/// follower at its next commit line, with a Swift fatal error (session 16 probe). A line that
/// cannot be written is dropped: what it reports happened either way.
public enum StandardStream {
    public static let output: Int32 = 1
    public static let error: Int32 = 2

    /// Writes all of `text` to `fd` (through short writes and EINTR); false when it could not.
    @discardableResult
    public static func write(_ text: String, to fd: Int32) -> Bool {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { buffer in
            var written = 0
            while written < buffer.count {
                #if canImport(Glibc)
                let n = Glibc.write(fd, buffer.baseAddress! + written, buffer.count - written)
                #else
                let n = Darwin.write(fd, buffer.baseAddress! + written, buffer.count - written)
                #endif
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                written += n
            }
            return true
        }
    }
}
