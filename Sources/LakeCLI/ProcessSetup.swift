import CLakeSupport
#if canImport(Glibc)
import Glibc
#endif

/// What the process sets up before any command runs.
enum ProcessSetup {
    /// glibc gives threads up to eight malloc arenas per core. An ingest's threads each
    /// allocate and free large column buffers, and a thread arena hands a heap that emptied
    /// back to the kernel (unconditionally, unlike the main heap), so the next buffer is
    /// faulted in and zeroed again. One arena per core keeps freed memory in use: on 1 M
    /// orders (`lake run`, 10 alternated pairs on a loaded machine) page faults 139 K → 107 K,
    /// system CPU −0.085 s, user CPU +0.036 s (malloc's locks), peak RSS 341 → 294 MB
    /// (DESIGN "Kernel time"). Set before any thread allocates, so it holds for every arena.
    static func limitMallocArenas() {
        #if canImport(Glibc)
        let cores = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        _ = lake_limit_malloc_arenas(Int32(max(2, min(cores, 64))))
        #endif
    }

    /// The first argument that is not valid UTF-8, its invalid bytes shown as \xNN. Swift hands
    /// such an argument over with U+FFFD in their place, so a file name in another encoding was
    /// "No such file or directory" for a file that exists.
    static func argumentNotUTF8() -> (index: Int, shown: String)? {
        for i in 1 ..< Int(CommandLine.argc) {
            guard let p = CommandLine.unsafeArgv[i] else { continue }
            let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: strlen(p))
            if String(validating: bytes, as: UTF8.self) != nil { continue }
            var shown = ""
            var rest = bytes[...]
            while !rest.isEmpty {
                // The longest valid prefix as text, then one invalid byte escaped.
                var end = rest.endIndex
                while end > rest.startIndex, String(validating: rest[rest.startIndex ..< end], as: UTF8.self) == nil { end -= 1 }
                shown += String(decoding: rest[rest.startIndex ..< end], as: UTF8.self)
                if end < rest.endIndex {
                    shown += "\\x" + String(rest[end], radix: 16, uppercase: true).leftPadded(2)
                    rest = rest[(end + 1)...]
                } else {
                    rest = rest[end...]
                }
            }
            return (i, shown)
        }
        return nil
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: Swift.max(0, width - count)) + self }
}
