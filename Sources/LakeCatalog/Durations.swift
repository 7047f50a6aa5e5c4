import Foundation

/// Retention and interval text from the command line: "7d", "36h", "90m", "2w", "0s", "1.5h".
public enum Durations {
    /// The longest duration accepted (1000 years): anything longer is a typo, and a value that
    /// large would overflow the microsecond arithmetic of cut-off times.
    public static let maxSeconds: TimeInterval = 1000 * 365.25 * 86_400

    /// Seconds for "<number><unit>" with unit s, m, h, d or w; the number is plain decimal
    /// digits with an optional fraction. nil for anything else, or beyond `maxSeconds`.
    public static func parse(_ text: String) -> TimeInterval? {
        let b = Array(text.utf8)
        guard let unit = b.last, b.count >= 2 else { return nil }
        let number = b.dropLast()
        var dots = 0
        for c in number {
            if c == UInt8(ascii: ".") { dots += 1; continue }
            guard c >= 48 && c <= 57 else { return nil }
        }
        guard dots <= 1, number.contains(where: { $0 != UInt8(ascii: ".") }),
              let n = Double(String(decoding: number, as: UTF8.self)), n.isFinite, n >= 0 else { return nil }
        let scale: Double
        switch unit {
        case UInt8(ascii: "s"): scale = 1
        case UInt8(ascii: "m"): scale = 60
        case UInt8(ascii: "h"): scale = 3600
        case UInt8(ascii: "d"): scale = 86_400
        case UInt8(ascii: "w"): scale = 7 * 86_400
        default: return nil
        }
        let seconds = n * scale
        return seconds <= maxSeconds ? seconds : nil
    }
}
