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
}
