import CLakeSupport
#if canImport(Glibc)
import Glibc
#endif

/// What the process sets up before any command runs.
enum ProcessSetup {
    /// glibc gives threads up to eight malloc arenas per core. An ingest's threads each
    /// allocate and free large column buffers, and a thread arena hands a heap that emptied
    /// back to the kernel (unconditionally, unlike the main heap), so the next buffer is
    /// faulted in and zeroed again: on 1 M orders `lake run` took 137 K page faults and 0.50 s
    /// of system CPU. One arena per core keeps freed memory in use: 101 K faults, 0.46 s,
    /// peak RSS 341 → 288 MB (7 alternated runs each; DESIGN "Kernel time"). Set before any
    /// thread allocates, so it holds for every arena made.
    static func limitMallocArenas() {
        #if canImport(Glibc)
        let cores = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        _ = lake_limit_malloc_arenas(Int32(max(2, min(cores, 64))))
        #endif
    }
}
