import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The text of an OS error for a message. Running out of descriptors names the limit and the
/// fix: "Too many open files" alone (session 15 probe, an ingest under `ulimit -n 256`) did not
/// say that the limit is the process's and can be raised.
public func errnoText(_ e: Int32) -> String {
    let text = String(cString: strerror(e))
    switch e {
    case EMFILE:
        var r = rlimit()
        let limit = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) == 0 ? " (\(r.rlim_cur))" : ""
        return text + ": this process reached its open-file limit\(limit); raise it (e.g. `ulimit -n 4096`) and run again"
    case ENFILE:
        return text + ": the system's open-file table is full (fs.file-max); close files elsewhere or raise it, and run again"
    default:
        return text
    }
}

/// A Foundation file error in the system's words ("No such file or directory"), not Foundation's
/// "The operation could not be completed" nor the NSError dump `lake generate --out` printed.
public func fileErrorText(_ error: any Error) -> String {
    func posix(_ error: any Error) -> Int32? {
        if let p = error as? POSIXError { return p.code.rawValue }
        let ns = error as NSError
        return ns.domain == NSPOSIXErrorDomain ? Int32(ns.code) : nil
    }
    if let code = posix(error) { return errnoText(code) }
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? any Error, let code = posix(underlying) { return errnoText(code) }
    return ns.localizedDescription
}
