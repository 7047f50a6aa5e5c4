import Foundation
import LakeFormat
import LakePipeline

/// Bearer tokens from a file of `name:sha256hex` lines: only digests are on disk, and a
/// presented token is hashed and compared with every digest in constant time, so neither the
/// file nor the timing tells a token.
public struct TokenStore: Sendable {
    public struct Entry: Sendable { public var name: String; public var digest: [UInt8] }
    public let entries: [Entry]

    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(path: String, reason: String)
        case badLine(path: String, line: Int, reason: String)
        case empty(path: String)

        public var description: String {
            switch self {
            case .unreadable(let p, let r): return "cannot read the tokens file \(p): \(r)"
            case .badLine(let p, let l, let r): return "\(p) line \(l): \(r) (expected name:sha256-hex, e.g. from `printf %s TOKEN | sha256sum`)"
            case .empty(let p): return "\(p) holds no tokens"
            }
        }
    }

    public init(entries: [Entry]) { self.entries = entries }

    /// Blank lines and lines starting with # are skipped.
    public static func load(path: String) throws(LoadError) -> TokenStore {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch { throw .unreadable(path: path, reason: fileErrorText(error)) }
        var entries: [Entry] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.lastIndex(of: ":") else { throw .badLine(path: path, line: i + 1, reason: "no ':'") }
            let name = String(line[..<colon]), hex = line[line.index(after: colon)...].lowercased()
            guard !name.isEmpty else { throw .badLine(path: path, line: i + 1, reason: "empty name") }
            guard hex.count == 64, let digest = bytes(hex: hex) else { throw .badLine(path: path, line: i + 1, reason: "the digest is not 64 hex digits") }
            entries.append(Entry(name: name, digest: digest))
        }
        if entries.isEmpty { throw .empty(path: path) }
        return TokenStore(entries: entries)
    }

    /// The name of the token whose digest matches; every entry is compared, whatever matched.
    public func name(of token: Substring) -> String? {
        let digest = SHA256.digest(token.utf8)
        var found: String?
        for e in entries {
            var diff: UInt8 = 0
            for i in 0 ..< 32 { diff |= e.digest[i] ^ digest[i] }
            if diff == 0 { found = e.name }
        }
        return found
    }

    public static func digestHex(_ token: String) -> String {
        SHA256.hex(token.utf8)
    }

    static func bytes(hex: String) -> [UInt8]? {
        var out: [UInt8] = []
        var it = hex.utf8.makeIterator()
        while let hi = it.next() {
            guard let lo = it.next(), let h = nibble(hi), let l = nibble(lo) else { return nil }
            out.append(h << 4 | l)
        }
        return out
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48 ... 57: return c - 48
        case 97 ... 102: return c - 87
        default: return nil
        }
    }
}
