import LakeFormat

/// A compressed file handed to an ingest in place of the text it holds: `orders.jsonl.gz`,
/// an inventory export zipped by a mail gateway. Every reader saw its first bytes as text and
/// refused it with a message quoting binary garbage ("the input starts with \u{1F}\x{8B}…",
/// "header is \u{1F}\u{FFFD}…", "unexpected byte 0x1f"), which named neither the cause nor the
/// fix. A source is told apart by its format's magic number at its first byte, never by its
/// name: none of them can begin JSON Lines, a CSV header or a JSON array.
public enum CompressionFormat: String, CaseIterable, Sendable {
    case gzip, zstd, bzip2, xz, zip, lz4

    /// The bytes a file of this format starts with; nil stands for any of `bzip2Levels`.
    private var magic: [UInt8?] {
        switch self {
        case .gzip: return [0x1F, 0x8B]
        case .zstd: return [0x28, 0xB5, 0x2F, 0xFD]
        // "BZh" and the block size, "1" to "9".
        case .bzip2: return [0x42, 0x5A, 0x68, nil]
        case .xz: return [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]
        // A local file header: an archive that holds at least one file.
        case .zip: return [0x50, 0x4B, 0x03, 0x04]
        case .lz4: return [0x04, 0x22, 0x4D, 0x18]
        }
    }

    private static let bzip2Levels = UInt8(ascii: "1") ... UInt8(ascii: "9")

    /// How many first bytes `detect` may need.
    static let longestMagic = allCases.map(\.magic.count).max()!

    /// The usual ending of a file name in this format (`orders_stream.jsonl.gz`), for messages
    /// about a file looked for by its name.
    public var fileSuffix: String {
        switch self {
        case .gzip: return "gz"
        case .zstd: return "zst"
        case .bzip2: return "bz2"
        case .xz: return "xz"
        case .zip: return "zip"
        case .lz4: return "lz4"
        }
    }

    /// The command that writes the decompressed bytes to standard output.
    public var decompressor: String {
        switch self {
        case .gzip: return "zcat"
        case .zstd: return "zstdcat"
        case .bzip2: return "bzcat"
        case .xz: return "xzcat"
        case .zip: return "unzip -p"
        case .lz4: return "lz4cat"
        }
    }

    /// The format whose magic number `head` starts with.
    public static func detect(_ head: some Collection<UInt8>) -> CompressionFormat? {
        allCases.first { $0.matches(head, whole: true) }
    }

    /// False once `head` can no longer become the start of any format's magic number: the
    /// reader stops looking.
    static func mayStillMatch(_ head: some Collection<UInt8>) -> Bool {
        allCases.contains { $0.matches(head, whole: false) }
    }

    /// `head` starts with the whole magic number (`whole`), or is a prefix of it.
    private func matches(_ head: some Collection<UInt8>, whole: Bool) -> Bool {
        let magic = self.magic
        if whole && head.count < magic.count { return false }
        for (expected, byte) in Swift.zip(magic, head) {
            if let expected { if byte != expected { return false } } else if !Self.bzip2Levels.contains(byte) { return false }
        }
        return true
    }

    /// What a reader says when `path` ("-": standard input) is in this format.
    func refusal(path: String) -> String {
        let what = "\(rawValue)-compressed (its first bytes are \(rawValue)'s magic number), and lake reads the text itself"
        if path == "-" {
            return "standard input is \(what): decompress it in the pipe, e.g. `… | \(decompressor) | lake ingest … -`; nothing was committed"
        }
        let shown = VisibleText.escape(path)
        return "\(shown) is \(what): decompress it and ingest that, e.g. `\(decompressor) '\(shown)' | lake ingest … -` "
            + "(- reads standard input); nothing was committed"
    }
}
