import Foundation
import LakeFormat
import Testing
import LakeTestSupport
@testable import LakePipeline

let goodLine = #"{"order_id": "ORD-1", "customer_id": "CUST-9", "timestamp": "2024-01-15T10:30:00Z", "channel": "web", "items": [{"product_id": "PROD-001", "quantity": 2, "unit_price": 29.99}], "shipping_address": {"country": "US", "state": "CA", "city": "San Francisco"}, "status": "confirmed"}"#

func order(_ line: String) throws -> ParsedOrder {
    switch try TestSupport.parse(line) {
    case .success(let o): return o
    case .failure(let e): throw TestFailure("unexpected parse error: \(e.message)")
    }
}

func parseError(_ line: String) throws -> OrderLineError {
    switch try TestSupport.parse(line) {
    case .success: throw TestFailure("expected a parse error for \(line)")
    case .failure(let e): return e
    }
}

@Suite struct OrderLineParserTests {
    @Test func readsEveryFieldOfTheDocumentedShape() throws {
        let o = try order(goodLine)
        #expect(o.string(o.orderID) == "ORD-1")
        #expect(o.string(o.customerID) == "CUST-9")
        #expect(o.eventTimeMicros == 1_705_314_600_000_000)  // date -d 2024-01-15T10:30:00Z +%s
        #expect(o.string(o.channel) == "web")
        #expect(o.string(o.status) == "confirmed")
        #expect(o.string(o.country) == "US")
        #expect(o.string(o.city) == "San Francisco")
        #expect(o.items == [ParsedItem(productID: o.items[0].productID, quantity: 2, unitPriceCents: 2999)])
        #expect(o.string(o.items[0].productID) == "PROD-001")
        #expect(o.unknownFields.isEmpty)
    }

    @Test func decodesEscapesAndUnicode() throws {
        let line = goodLine.replacingOccurrences(of: #""San Francisco""#,
                                                 with: #""Mont\u00e9al \"Q\" \\ \/ \t\n \ud83d\ude00 Zürich""#)
        let o = try order(line)
        #expect(o.string(o.city) == "Montéal \"Q\" \\ / \t\n 😀 Zürich")
    }

    @Test func rejectsBadEscapesSurrogatesControlCharactersAndInvalidUTF8() throws {
        for (bad, expected) in [
            (#""bad \x""#, JSONProblem.invalidEscape(UInt8(ascii: "x"))),
            (#""\u12G4""#, .invalidUnicodeEscape),
            (#""\ud83d alone""#, .unpairedSurrogate),
            (#""\ude00""#, .unpairedSurrogate),
            ("\"tab\there\"", .controlCharacterInString(9)),
        ] {
            let e = try parseError(goodLine.replacingOccurrences(of: #""San Francisco""#, with: bad))
            guard case .syntax(let p, _) = e else { throw TestFailure("\(bad): \(e)") }
            #expect(p == expected, "\(bad)")
            #expect(e.reason == .malformedJSON)
        }
        var bytes = Array(goodLine.utf8)
        let at = bytes.firstIndex(of: UInt8(ascii: "S"))!
        bytes[at] = 0xC3  // lead byte followed by 'a': not UTF-8
        var parser = OrderLineParser(map: try TestSupport.rules().fieldMap)
        let result = bytes.withUnsafeBytes { raw -> OrderLineError? in
            do throws(OrderLineError) { try parser.parse(raw); return nil } catch { return error }
        }
        #expect(result == .syntax(.invalidUTF8, offset: at))
    }

    @Test func truncatedLinesNameTheProblemAndByte() throws {
        let cut = String(goodLine.prefix(70))  // ...inside the timestamp string, which opens at byte 61
        let e = try parseError(cut)
        #expect(e == .syntax(.unterminatedString, offset: 60))
        #expect(e.message == "unterminated string at byte 61")
        #expect(try parseError(String(goodLine.prefix(60))) == .syntax(.unexpectedEnd(expecting: "a value"), offset: 60))
        let e2 = try parseError(String(goodLine.dropLast()))
        #expect(e2.message == "line ends where ',' or '}' was expected (truncated?) at byte \(goodLine.utf8.count)")
        #expect(try parseError("") == .emptyLine)
        #expect(try parseError("   ") == .emptyLine)
        #expect(try parseError("[1,2]") == .notAnObject(offset: 0))
        #expect(try parseError(goodLine + " x") == .syntax(.trailingData, offset: goodLine.utf8.count + 1))
        #expect(try parseError(goodLine.replacingOccurrences(of: #""channel": "#, with: #""channel" "#)).reason == .malformedJSON)
    }

    /// Decision (probe finding 13): a number is read for its exact decimal value, however it is
    /// written. A quantity is any JSON number whose value is whole (2.0 is what pandas writes for
    /// an integer column that held a null; 1e2 is 100), a price any number with at most 2
    /// decimal places in its value (2.999e1 is 29.99); DuckDB's casts agree. Neither is ever
    /// rounded: 2.5, 29.999 and 1e-400 are refused with messages that say why; strings refused.
    @Test func numberRules() throws {
        func quantity(_ q: String) throws -> Result<Int64?, OrderLineError> {
            try TestSupport.parse(goodLine.replacingOccurrences(of: #""quantity": 2"#, with: #""quantity": \#(q)"#)).map { $0.items[0].quantity }
        }
        func price(_ p: String) throws -> Result<Int64?, OrderLineError> {
            try TestSupport.parse(goodLine.replacingOccurrences(of: "29.99", with: p)).map { $0.items[0].unitPriceCents }
        }
        // Every example of the probe, and more spellings of the same values.
        for (q, v) in [("1.0", 1), ("1E0", 1), ("1e2", 100), ("100e-2", 1), ("0.1e1", 1), ("2.0", 2), ("2.000", 2), ("1e3", 1000),
                       ("1E+3", 1000), ("-3.0", -3), ("0.0", 0), ("-0", 0), ("2147483647.0", 2_147_483_647),
                       ("20000000000000000000e-1", 2_000_000_000_000_000_000)] as [(String, Int64)] {
            #expect(try quantity(q) == .success(v), "quantity \(q)")
        }
        for (p, cents) in [("1e2", 10000), ("2.999e1", 2999), ("29.990", 2999), ("2999e-2", 2999), ("0.2999E2", 2999), ("-0.00", 0),
                           ("1E1", 1000), ("0e999999999999", 0), ("12345678901234567.8e-1", 123_456_789_012_345_678)] as [(String, Int64)] {
            #expect(try price(p) == .success(cents), "price \(p)")
        }
        // Refused, each with a true message.
        for (q, message) in [("2.5", "items[0].quantity 2.5 is not a whole number at byte 152"),
                             ("25e-1", "items[0].quantity 25e-1 is not a whole number at byte 152"),
                             ("99999999999999999999", "items[0].quantity 99999999999999999999 is too large (beyond 64-bit integers) at byte 152"),
                             ("1e19", "items[0].quantity 1e19 is too large (beyond 64-bit integers) at byte 152"),
                             ("\"2\"", "items[0].quantity (a string) is not a number at byte 152"),
                             ("true", "items[0].quantity (a boolean) is not a number at byte 152")] {
            let e = try parseError(goodLine.replacingOccurrences(of: #""quantity": 2"#, with: #""quantity": \#(q)"#))
            #expect(e.reason == .invalidQuantity, "quantity \(q)")
            #expect(e.message == message)
        }
        for (p, message) in [("29.999", "items[0].unit_price 29.999 is not a decimal with at most 2 decimal places at byte 169"),
                             ("2.9999e1", "items[0].unit_price 2.9999e1 is not a decimal with at most 2 decimal places at byte 169"),
                             ("1e-400", "items[0].unit_price 1e-400 is not a decimal with at most 2 decimal places at byte 169"),
                             ("1e300", "items[0].unit_price 1e300 is too large for decimal(18,2) at byte 169"),
                             ("\"29.99\"", "items[0].unit_price (a string) is not a number at byte 169")] {
            let e = try parseError(goodLine.replacingOccurrences(of: "29.99", with: p))
            #expect(e.reason == .invalidPrice, "price \(p)")
            #expect(e.message == message)
        }
        for p in ["-", "01.5", "1e", "1.e2", ".5"] {
            #expect(try parseError(goodLine.replacingOccurrences(of: "29.99", with: p)).reason == .malformedJSON, "price \(p)")
        }
        let o = try order(goodLine.replacingOccurrences(of: "29.99", with: "29.990").replacingOccurrences(of: #""quantity": 2"#, with: #""quantity": -3"#))
        #expect(o.items[0].unitPriceCents == 2999)
        #expect(o.items[0].quantity == -3)  // parsed; the validator rejects it
        #expect(try order(goodLine.replacingOccurrences(of: "29.99", with: "0")).items[0].unitPriceCents == 0)
        #expect(try parseError(goodLine.replacingOccurrences(of: #""quantity": 2"#, with: #""quantity": 2x"#)).reason == .malformedJSON)
    }

    /// Plain numbers are read in one pass (`JSONScanner.plainDecimal`), everything else by the
    /// JSON grammar and `ExactDecimal`: random spellings around the fast path's edges (signs,
    /// leading zeros, 15 to 19 digits, 0 to 3 places, exponents, a byte after the number, the
    /// line's end) read as the grammar and `ExactDecimal` say, as quantity, price and discount.
    @Test func plainNumbersReadAsTheGrammarAndExactDecimalSay() throws {
        var rng = SplitMix64(seed: 20261129)
        func digit() -> String { String(Int.random(in: 0 ... 9, using: &rng)) }
        let grammar = #/-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/#
        var fast = 0
        let map = try TestSupport.rules().fieldMap
        func failure<T>(_ r: Result<T, OrderLineError>) -> RejectReason? { if case .failure(let e) = r { e.reason } else { nil } }
        for _ in 0 ..< 3000 {
            var t = Int.random(in: 0 ..< 3, using: &rng) == 0 ? "-" : ""
            let intDigits = [0, 1, 1, 2, 3, 15, 16, 17, 19].randomElement(using: &rng)!
            for k in 0 ..< intDigits { t += k == 0 && Int.random(in: 0 ..< 4, using: &rng) == 0 ? "0" : digit() }
            if Int.random(in: 0 ..< 3, using: &rng) > 0 {
                t += "."
                for _ in 0 ..< Int.random(in: 0 ... 3, using: &rng) { t += digit() }
            }
            if Int.random(in: 0 ..< 8, using: &rng) == 0 { t += ["e2", "E-1", "e+0", "e"].randomElement(using: &rng)! }
            let junk = Int.random(in: 0 ..< 8, using: &rng) == 0 ? ["x", ".", "-", "0"].randomElement(using: &rng)! : ""
            let valid = (t + junk).wholeMatch(of: grammar) != nil
            for scale in [0, 2] {
                let field = scale == 0 ? "quantity" : "unit_price"
                let line = scale == 0 ? goodLine.replacingOccurrences(of: #""quantity": 2"#, with: #""quantity": \#(t + junk)"#)
                    : goodLine.replacingOccurrences(of: "29.99", with: t + junk)
                let got = try TestSupport.parse(line, map: map).map { scale == 0 ? $0.items[0].quantity : $0.items[0].unitPriceCents }
                guard valid else {
                    #expect(failure(got) == .malformedJSON, "\(field) \(t + junk): \(got)")
                    continue
                }
                switch ExactDecimal.parse(t + junk, scale: scale) {
                case .value(let v):
                    #expect(got == .success(v), "\(field) \(t + junk)")
                    if !(t + junk).contains(where: { $0 == "e" || $0 == "E" }) { fast += 1 }
                default:
                    #expect(failure(got) == (scale == 0 ? .invalidQuantity : .invalidPrice), "\(field) \(t + junk): \(got)")
                }
            }
            // The discount (orders v2), last in its line: the number ends the object, not a delimiter byte.
            let line = String(goodLine.dropLast()) + #", "discount_amount": \#(t + junk)}"#
            let got = try TestSupport.parse(line, map: map).map(\.discountCents)
            if !valid {
                #expect(failure(got) == .malformedJSON, "discount \(t + junk): \(got)")
            } else if case .value(let v) = ExactDecimal.parse(t + junk, scale: 2) {
                #expect(got == .success(v), "discount \(t + junk)")
            } else {
                #expect(failure(got) == .invalidDiscount, "discount \(t + junk): \(got)")
            }
        }
        #expect(fast > 1000, "the spellings reach the fast path: \(fast)")
    }

    /// The mobile alias `ts` (epoch milliseconds) takes whole milliseconds however written; a
    /// fraction or a time outside the storable range is refused with what the alias accepts,
    /// not "not an ISO-8601 timestamp" (probe finding 13).
    @Test func epochMillisAliasMessages() throws {
        let mobile = #"{"order_id": "ORD-1", "customerId": "CUST-9", "ts": TS, "channel": "mobile", "items": [{"product_id": "PROD-001", "quantity": 2, "unit_price": 29.99}], "shipping_address": {"country": "US"}, "status": "confirmed"}"#
        for ts in ["1705314600000", "1705314600000.0", "1.7053146e12", "17053146e5"] {
            #expect(try order(mobile.replacingOccurrences(of: "TS", with: ts)).eventTimeMicros == 1_705_314_600_000_000, "ts \(ts)")
        }
        let fraction = try parseError(mobile.replacingOccurrences(of: "TS", with: "1705314600000.7"))
        #expect(fraction.reason == .invalidTimestamp)
        #expect(fraction.message == "ts 1705314600000.7 is not a whole number of epoch milliseconds (ts takes an integer, e.g. 1705314600000) at byte 53")
        for big in ["99999999999999999999", "1e300", "-9223372036854775808"] {
            let e = try parseError(mobile.replacingOccurrences(of: "TS", with: big))
            #expect(e.reason == .invalidTimestamp)
            #expect(e.message == "ts \(big) is outside the storable range \(CivilDate.storableRangeText) at byte 53", "\(big)")
        }
    }

    /// Epoch seconds given where milliseconds are due were read as milliseconds: a mobile order of
    /// 2024-01-15 committed on 1970-01-20, with no reject (session 36's fuzzing). A value of
    /// seconds' size (below 10^11 in magnitude, before 1973-03-03 as milliseconds) is refused,
    /// naming the date it would have been; a line cut inside its ts stays malformed JSON.
    @Test func epochSecondsAreRefusedNotReadAsMilliseconds() throws {
        let mobile = #"{"order_id": "ORD-1", "customerId": "CUST-9", "ts": TS, "channel": "mobile", "items": [{"product_id": "PROD-001", "quantity": 2, "unit_price": 29.99}], "shipping_address": {"country": "US"}, "status": "confirmed"}"#
        let seconds = try parseError(mobile.replacingOccurrences(of: "TS", with: "1705314600"))
        #expect(seconds.reason == .invalidTimestamp)
        #expect(seconds.message == "ts 1705314600 is too small for epoch milliseconds (it would be 1970-01-20T17:41:54.6Z): epoch seconds? ts takes milliseconds, e.g. 1705314600000 at byte 53")
        for small in ["0", "-1", "99999999999", "-99999999999", "1.7053146e9"] {
            #expect(try parseError(mobile.replacingOccurrences(of: "TS", with: small)).reason == .invalidTimestamp, "ts \(small)")
        }
        // From 10^11 on (1973-03-03T09:46:40Z), and as far before 1970, a time.
        #expect(try order(mobile.replacingOccurrences(of: "TS", with: "100000000000")).eventTimeMicros == 100_000_000_000_000)
        #expect(try order(mobile.replacingOccurrences(of: "TS", with: "-100000000000")).eventTimeMicros == -100_000_000_000_000)
        // Cut after its seconds-sized ts: the line is malformed, as any line that is not JSON.
        let cut = try parseError(#"{"order_id": "ORD-2", "customerId": "CUST-2", "ts": 1705"#)
        #expect(cut.reason == .malformedJSON)
    }

    /// A leap second is a valid ISO-8601 time the lake cannot store (DuckDB refuses it too):
    /// refused, saying so, in every source that reads timestamps.
    @Test func leapSecondsAreRefusedAsLeapSeconds() throws {
        let e = try parseError(goodLine.replacingOccurrences(of: "2024-01-15T10:30:00Z", with: "2016-12-31T23:59:60Z"))
        #expect(e.reason == .invalidTimestamp)
        #expect(e.message == "timestamp \"2016-12-31T23:59:60Z\" is a leap second; leap seconds are not accepted (a timestamp has no 61st second, in DuckDB either) at byte 61")
        #expect(Timestamps.refusal("2024-01-15T10:30:61Z").hasPrefix("is not an ISO-8601 timestamp"))
        #expect(Timestamps.refusal("2024-02-30T10:30:60Z").hasPrefix("is not an ISO-8601 timestamp"))
        #expect(Timestamps.refusal("2016-12-31 23:59:60.5+01:00").hasPrefix("is a leap second"))
    }

    @Test func timestamps() throws {
        let base: Int64 = 1_705_314_600_000_000
        for (text, expected) in [
            ("2024-01-15T10:30:00Z", base), ("2024-01-15T10:30:00.5Z", base + 500_000),
            ("2024-01-15T10:30:00.123456789Z", base + 123_456), ("2024-01-15T12:30:00+02:00", base),
            ("2024-01-15T05:30:00-0500", base), ("2024-01-15 10:30:00z", base), ("2024-01-15T11:30:00+01", base),
        ] {
            #expect(Timestamps.parseISO(text) == expected, "\(text)")
        }
        for bad in ["2024-01-15T10:30:00", "2024-02-30T00:00:00Z", "2024-01-15T24:00:00Z", "2024-01-15T10:30:60Z",
                    "2024-1-15T10:30:00Z", "2024-01-15T10:30:00.Z", "2024-01-15T10:30:00Z junk", "2023-02-29T00:00:00Z"] {
            #expect(Timestamps.parseISO(bad) == nil, "\(bad)")
        }
        #expect(Timestamps.parseISO("2024-02-29T00:00:00Z") == CivilDate.days(year: 2024, month: 2, day: 29) * 86_400_000_000)
        #expect(Timestamps.parseISO("1969-12-31T23:59:59Z") == -1_000_000)
        #expect(Timestamps.day(ofMicros: -1) == -1)  // floor, not truncation, before the epoch
        let e = try parseError(goodLine.replacingOccurrences(of: "2024-01-15T10:30:00Z", with: "2024-01-15T10:30:00"))
        #expect(e.reason == .invalidTimestamp)
    }

    @Test func mobileVariantIsNormalisedThroughRegistryAliases() throws {
        let line = goodLine.replacingOccurrences(of: #""customer_id""#, with: #""customerId""#)
            .replacingOccurrences(of: #""timestamp": "2024-01-15T10:30:00Z""#, with: #""ts": 1705314600123"#)
        let o = try order(line)
        #expect(o.string(o.customerID) == "CUST-9")
        #expect(o.eventTimeMicros == 1_705_314_600_123_000)
        #expect(o.eventTimeFromAlias)
        // Both the canonical name and its alias: ambiguous, refused.
        let both = goodLine.replacingOccurrences(of: #""channel""#, with: #""ts": 1705314600123, "channel""#)
        #expect(try parseError(both).reason == .duplicateField)
        #expect(try parseError(line.replacingOccurrences(of: "1705314600123", with: "\"1705314600123\"")).reason == .invalidType)
        #expect(try parseError(line.replacingOccurrences(of: "1705314600123", with: "1705314600.5")).reason == .invalidTimestamp)
    }

    @Test func unknownFieldsAreSkippedAndReported() throws {
        let line = goodLine.replacingOccurrences(of: #""status""#, with: #""gift": {"note": "hi \"x\"", "wrap": [1, true, null, {"a": []}]}, "status""#)
            .replacingOccurrences(of: #""unit_price": 29.99"#, with: #""unit_price": 29.99, "sku": "A-1""#)
            .replacingOccurrences(of: #""city": "San Francisco""#, with: #""city": "San Francisco", "zip": 94105"#)
        let o = try order(line)
        #expect(o.unknownFields.map { o.string($0)! } == ["items[].sku", "shipping_address.zip", "gift"])
        #expect(o.string(o.status) == "confirmed")
    }

    /// The parser tries first the key each member position had on the previous line, and
    /// compares keys as two words: a line with other keys, another order, keys longer than 16
    /// bytes sharing a known key's first 16, or a key near the line's end must read the same.
    @Test func keyGuessesAndWordComparesNeverMisreadAKey() throws {
        var parser = OrderLineParser(map: try TestSupport.rules().fieldMap)
        func parse(_ line: String) throws -> ParsedOrder {
            var bytes = Array(line.utf8)
            return try bytes.withUnsafeMutableBytes { raw in
                do throws(OrderLineError) {
                    try parser.parse(UnsafeRawBufferPointer(raw))
                    return parser.order
                } catch {
                    throw TestFailure("\(line): \(error.message)")
                }
            }
        }
        let permuted = #"{"status": "confirmed", "shipping_address": {"city": "Oslo", "country": "NO"}, "items": [{"unit_price": 1.50, "quantity": 3, "product_id": "PROD-002"}], "channel": "api", "ts": 1705314600123, "customerId": "C-2", "order_id": "ORD-2"}"#
        let nearMisses = goodLine.replacingOccurrences(of: #""status""#, with: #""shipping_address_2": 1, "order_idx": 2, "statu": 3, "status""#)
        for (i, line) in [goodLine, goodLine, permuted, goodLine, nearMisses, permuted, nearMisses].enumerated() {
            let o = try parse(line)
            let isPermuted = line == permuted
            #expect(o.string(o.orderID) == (isPermuted ? "ORD-2" : "ORD-1"), "line \(i)")
            #expect(o.string(o.customerID) == (isPermuted ? "C-2" : "CUST-9"), "line \(i)")
            #expect(o.eventTimeFromAlias == isPermuted, "line \(i)")
            #expect(o.string(o.channel) == (isPermuted ? "api" : "web"), "line \(i)")
            #expect(o.string(o.status) == "confirmed", "line \(i)")
            #expect(o.string(o.country) == (isPermuted ? "NO" : "US"), "line \(i)")
            #expect(o.string(o.city) == (isPermuted ? "Oslo" : "San Francisco"), "line \(i)")
            #expect(o.items.map(\.quantity) == [isPermuted ? 3 : 2], "line \(i)")
            #expect(o.items.map(\.unitPriceCents) == [isPermuted ? 150 : 2999], "line \(i)")
            #expect(o.items.map { o.string($0.productID) } == [isPermuted ? "PROD-002" : "PROD-001"], "line \(i)")
            #expect(o.unknownFields.map { o.string($0)! } == (line == nearMisses ? ["shipping_address_2", "order_idx", "statu"] : []), "line \(i)")
        }
        // Fewer than 16 bytes from a key to the line's end: matched byte by byte.
        let short = try parse(#"{"channel":"web"}"#)
        #expect(short.string(short.channel) == "web")
        let shortUnknown = try parse(#"{"status":"x","chan":1}"#)
        #expect(shortUnknown.unknownFields.map { shortUnknown.string($0)! } == ["chan"])
        #expect(shortUnknown.string(shortUnknown.status) == "x")
    }

    @Test func whitespaceNullsAndWrongTypes() throws {
        let spaced = " \t{ \"order_id\" :\"ORD-1\" ,\"customer_id\":\"C\",\"timestamp\":\"2024-01-15T10:30:00Z\",\"channel\":\"web\",\"items\":[ ],\"shipping_address\":{},\"status\":null } \r"
        let o = try order(spaced)
        #expect(o.string(o.orderID) == "ORD-1")
        #expect(o.hasItems && o.items.isEmpty)
        #expect(!o.status.isPresent)
        let e = try parseError(goodLine.replacingOccurrences(of: #""ORD-1""#, with: "12"))
        #expect(e == .wrongType(field: "order_id", expected: "a string", found: "number", offset: 13))
        #expect(try parseError(goodLine.replacingOccurrences(of: #""channel": "web""#, with: #""channel": "web", "channel": "api""#)).reason == .duplicateField)
    }
}

@Suite struct LineReaderTests {
    func lines(_ text: String, chunk: Int) throws -> [(String, Int, Int64)] {
        let dir = try TestSupport.tempDir("reader\(chunk)")
        let path = dir + "/f.jsonl"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
        var out: [(String, Int, Int64)] = []
        try LineReader(path: path, chunkSize: chunk).forEachLine { l in
            out.append((String(decoding: l.bytes, as: UTF8.self), l.number, l.offset))
        }
        return out
    }

    @Test(arguments: [16, 17, 64, 4 << 20])
    func linesNumbersAndOffsetsSurviveChunkBoundaries(chunk: Int) throws {
        // Lines longer than the chunk force the buffer to grow; CRLF and a last line without a
        // newline must come out intact.
        let long = String(repeating: "x", count: 100)
        let text = "a\r\n\nbc\n\(long)\n€uro\nlast"
        let got = try lines(text, chunk: chunk)
        #expect(got.map(\.0) == ["a", "", "bc", long, "€uro", "last"])
        #expect(got.map(\.1) == [1, 2, 3, 4, 5, 6])
        var expectedOffsets: [Int64] = []
        var off = 0
        for part in text.utf8.split(separator: 10, omittingEmptySubsequences: false) {
            expectedOffsets.append(Int64(off))
            off += part.count + 1
        }
        #expect(got.map(\.2) == expectedOffsets)
        #expect(try lines("", chunk: chunk).isEmpty)
        #expect(try lines("one\n", chunk: chunk).map(\.0) == ["one"])
    }

    @Test func tooLongLineIsATypedError() throws {
        let dir = try TestSupport.tempDir()
        let path = dir + "/f"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(String(repeating: "y", count: 1000).utf8)))
        #expect(throws: FileIOError.lineTooLong(path: path, line: 1, limit: 256)) {
            try LineReader(path: path, chunkSize: 64, maxLineBytes: 256).forEachLine { _ in }
        }
        // The limit is on the line, exactly, whatever the chunk: the readers refused at the first
        // buffer size not below it, so with 100-byte chunks a 399-byte line passed a 256 limit.
        let line = { (n: Int) in String(repeating: "z", count: n) }
        for chunk in [64, 100, 200] {
            let exact = dir + "/exact", over = dir + "/over"
            try (line(10) + "\n" + line(256) + "\r\n" + line(3) + "\n").write(toFile: exact, atomically: true, encoding: .utf8)
            try (line(10) + "\n" + line(257) + "\n").write(toFile: over, atomically: true, encoding: .utf8)
            var lengths: [Int] = []
            try LineReader(path: exact, chunkSize: chunk, maxLineBytes: 257).forEachLine { lengths.append($0.bytes.count) }
            #expect(lengths == [10, 256, 3], "chunk \(chunk)")
            #expect(throws: FileIOError.lineTooLong(path: over, line: 2, limit: 256), "chunk \(chunk)") {
                try LineReader(path: over, chunkSize: chunk, maxLineBytes: 256).forEachLine { _ in }
            }
            let input = try SourceInput.open(exact)
            let chunker = LineChunker(input, chunkBytes: chunk, maxLineBytes: 257)
            var chunked: [Int] = []
            while let c = try chunker.next() { c.forEachLine { chunked.append($0.bytes.count) } }
            #expect(chunked == [10, 256, 3], "chunk \(chunk)")
            let overInput = try SourceInput.open(over)
            let refusing = LineChunker(overInput, chunkBytes: chunk, maxLineBytes: 256)
            #expect(throws: FileIOError.lineTooLong(path: over, line: 2, limit: 256), "chunk \(chunk)") {
                while try refusing.next() != nil {}
            }
        }
        #expect(throws: FileIOError.self) { _ = try LineReader(path: dir + "/missing") }
    }

    /// A byte-order mark before a first line longer than a chunk: the chunker grew its buffer
    /// and, before session 33, forgot the mark there, so line 1 began with it and the whole
    /// file was refused as not JSON Lines (found by an exploratory test, with a 9 MiB line).
    @Test func byteOrderMarkBeforeALongFirstLine() throws {
        let dir = try TestSupport.tempDir()
        let path = dir + "/bom"
        let first = "{" + String(repeating: "a", count: 300) + "}"
        #expect(FileManager.default.createFile(atPath: path, contents: Data([0xEF, 0xBB, 0xBF]) + Data((first + "\nx\n").utf8)))
        for chunk in [16, 64, 200, 4096] {
            let chunker = LineChunker(try SourceInput.open(path), chunkBytes: chunk)
            var lines: [String] = []
            while let c = try chunker.next() { c.forEachLine { lines.append(String(decoding: $0.bytes, as: UTF8.self)) } }
            #expect(lines == [first, "x"], "chunk \(chunk)")
        }
    }
}

@Suite struct InventoryAndCatalogParserTests {
    func write(_ text: String, _ name: String) throws -> String {
        let path = try TestSupport.tempDir(name) + "/" + name
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
        return path
    }

    /// RFC 4180: a line break inside a quoted field is part of the field as written. A CRLF
    /// file's quoted break read as "\n" until session 35 (the reader drops the '\r' of each line).
    @Test func aQuotedLineBreakKeepsItsCarriageReturnAsPythonsCSVReaderDoes() throws {
        var catalog = ProductCatalog()
        for id in ["PROD-001", "PROD-002", "PROD-003"] { catalog.add(id: id, category: "c", brand: "b", priceCents: 100) }
        let csv = "product_id,available_quantity,warehouse_location,last_updated\r\n"
            + "PROD-001,1,\"WH-\r\nEast\",2024-01-15T09:00:00Z\r\n"
            + "PROD-002,2,\"WH-\nWest\r\n\r\nDock\",2024-01-15T09:00:00Z\r\n"
            + "PROD-003,3,\"WH-\r\",2024-01-15T09:00:00Z\n"
        let path = try write(csv, "crlf.csv")
        let r = try InventoryParser.parse(path: path, batchID: "b1", catalog: catalog, registry: TestSupport.registry())
        let ours = TestSupport.strings(r.accepted, "warehouse_location")
        #expect(ours == ["WH-\r\nEast", "WH-\nWest\r\n\r\nDock", "WH-\r"])
        let python = try Python.json("""
            import csv, json, sys
            with open(sys.argv[1], newline="") as f:
                print(json.dumps([row["warehouse_location"] for row in csv.DictReader(f)]))
            """, [path]) as? [String]
        #expect(python == ours)
    }

    @Test func inventoryCSVQuotesHeaderAndRejects() throws {
        var catalog = ProductCatalog()
        for id in ["PROD-001", "PROD-002", "PROD-003"] { catalog.add(id: id, category: "c", brand: "b", priceCents: 100) }
        let csv = [
            "warehouse_location,product_id,last_updated,available_quantity\r",
            #""WH-SF, Dock ""A""",PROD-001,2024-01-15T09:00:00Z,150\#r"#,
            "WH-NY,PROD-002,2024-01-15T08:45:00Z,N/A",
            "\"WH-",
            "multi\",PROD-003,2024-01-15T08:45:00Z,7",
            "WH-NY,PROD-999,2024-01-15T08:45:00Z,1",
            "WH-NY,PROD-001,2024-01-15T08:45:00Z,-4",
            "WH-NY,PROD-001,yesterday,4",
            "WH-NY,PROD-001",
            "",
        ].joined(separator: "\n")
        let r = try InventoryParser.parse(path: try write(csv, "inv.csv"), batchID: "b1", catalog: catalog, registry: TestSupport.registry())
        #expect(TestSupport.strings(r.accepted, "warehouse_location") == ["WH-SF, Dock \"A\"", "WH-\nmulti"])
        #expect(TestSupport.int64s(r.accepted, "available_quantity") == [150, 7])
        #expect(TestSupport.int64s(r.accepted, "last_updated")[0] == Timestamps.parseISO("2024-01-15T09:00:00Z"))
        #expect(r.rejects == [.invalidQuantity: 2, .unknownProduct: 1, .invalidTimestamp: 1, .wrongFieldCount: 1])
        #expect(TestSupport.int64s(r.rejected, "line_number") == [3, 6, 7, 8, 9])
        #expect(TestSupport.strings(r.rejected, "reject_detail")[0] == "inv.csv line 3: available_quantity \"N/A\" is not a number")

        #expect(throws: InventoryError.self) {
            try InventoryParser.parse(path: try write("product,qty\nA,1\n", "bad.csv"), batchID: "b", catalog: nil, registry: TestSupport.registry())
        }
        #expect(throws: InventoryError.self) {
            try InventoryParser.parse(path: try write("", "empty.csv"), batchID: "b", catalog: nil, registry: TestSupport.registry())
        }
        // Quantities follow the orders' number rule (5.0 and 1e1 are whole, 5.5 is not); a column
        // the registry does not know is counted as schema drift, as unknown order fields are.
        let notations = """
        product_id,available_quantity,warehouse_location,last_updated,note
        PROD-001,5.0,WH-1,2024-02-01T00:00:00Z,a
        PROD-002,1e1,WH-1,2024-02-01T00:00:00Z,b
        PROD-003,5.5,WH-1,2024-02-01T00:00:00Z,c
        PROD-001,99999999999999999999,WH-1,2024-02-01T00:00:00Z,d
        PROD-001,4,WH-1,2016-12-31T23:59:60Z,e
        PROD-001,4,WH-1

        """
        let n = try InventoryParser.parse(path: try write(notations, "notations.csv"), batchID: "b", catalog: catalog, registry: TestSupport.registry())
        #expect(TestSupport.int64s(n.accepted, "available_quantity") == [5, 10])
        #expect(n.unknownFields == ["note": 5])
        #expect(TestSupport.strings(n.rejected, "reject_detail") == [
            "notations.csv line 4: available_quantity \"5.5\" is not a whole number",
            "notations.csv line 5: available_quantity \"99999999999999999999\" is too large (beyond 64-bit integers)",
            "notations.csv line 6: last_updated \"2016-12-31T23:59:60Z\" is a leap second; leap seconds are not accepted (a timestamp has no 61st second, in DuckDB either)",
            "notations.csv line 7: 3 fields, the header has 5",
        ])
        #expect(r.unknownFields.isEmpty)

        // A column named twice: which one holds the values is a guess (the first was taken silently).
        let twice = "product_id,available_quantity,warehouse_location,last_updated,available_quantity\nPROD-001,5,WH-1,2024-02-01T00:00:00Z,7\n"
        #expect(throws: InventoryError.duplicateColumn(path: "twice.csv", column: "available_quantity")) {
            try InventoryParser.parse(path: try write(twice, "twice.csv"), batchID: "b", catalog: nil, registry: TestSupport.registry())
        }
    }

    @Test func evaluationInventoryLoadsWithItsOneBadRow() throws {
        let catalog = try ProductCatalogParser.parse(path: TestSupport.evaluationFiles + "/product_catalog.json").catalog
        let r = try InventoryParser.parse(path: TestSupport.evaluationFiles + "/inventory_updates.csv", batchID: "b", catalog: catalog,
                                          registry: TestSupport.registry())
        #expect(r.accepted.count == 49)
        #expect(r.rejects == [.invalidQuantity: 1])
    }

    @Test func productCatalog() throws {
        let (catalog, rejects) = try ProductCatalogParser.parse(path: TestSupport.evaluationFiles + "/product_catalog.json")
        #expect(catalog.count == 50)
        #expect(rejects.isEmpty)
        let row = try #require(catalog.row(of: "PROD-001"))
        #expect(catalog.ids[row] == "PROD-001")
        let batch = try catalog.batch(schema: TestSupport.registry().schema("products").lakeSchema)
        #expect(batch.count == 50)
        #expect(batch.schema.fields.map(\.name) == ["product_id", "category", "brand", "price", "launch_date", "description"])
        #expect(TestSupport.int64s(batch, "price") == catalog.prices)
        #expect(batch.column("description")?.validity == nil)

        let text = """
        [{"product_id": "P1", "category": "A", "brand": "B", "price": 1.5, "launch_date": "2023-06-15T00:00:00.000Z"},
         {"product_id": "P2", "category": "A", "brand": "B"},
         {"product_id": "P3", "category": "A", "brand": "B", "price": 1.555},
         {"product_id": "P1", "category": "A", "brand": "B", "price": 2},
         {"product_id": "", "category": "A", "brand": "B", "price": 2},
         {"product_id": "P4", "category": "A", "brand": "B", "price": "3.10", "description": "x"},
         {"product_id": "P5", "category": "A", "brand": "B", "price": 10.00, "price": 12.00},
         {"product_id": "P6", "category": "A", "brand": "B", "price": 3.1e0, "description": "x"},
         {"product_id": "P7", "category": "A", "brand": "B", "price": 2.999e1, "launch_date": "2016-12-31T23:59:60Z"},
         {"product_id": "P8", "category": "A", "brand": "B", "price": 2.999e1},
         {"product_id": "P9", "category": "A", "brand": "B", "price": 10000000000000000},
         {"product_id": "P10", "category": "A", "brand": "B", "price": 9999999999999999.99},
         {"product_id": "P11", "category": "A", "brand": "B", "price": 1, "caf\u{E9}": 1, "cafe\u{301}": 2}]
        """
        let (c2, r2) = try ProductCatalogParser.parse(path: try write(text, "cat.json"))
        // Probe finding 11: a string price and a key written twice are refused as in an order
        // line (they were accepted: "3.10" as 3.10, and the last of two prices kept silently);
        // numbers in exponent notation are read for their exact value, as order prices are.
        // A price beyond decimal(18,2) was accepted and written as a value no reader could read.
        // Two unknown keys differing only in Unicode normalization are two keys (P11), not one written twice.
        #expect((0 ..< c2.count).map { c2.ids[$0] } == ["P1", "P6", "P8", "P10", "P11"])
        #expect(c2.prices == [150, 310, 2999, 999_999_999_999_999_999, 100])
        #expect(c2.launchTimes[0] == Timestamps.parseISO("2023-06-15T00:00:00Z"))
        #expect(r2.map(\.reason) == [.missingField, .invalidPrice, .duplicateProduct, .missingField, .invalidPrice, .duplicateField, .invalidTimestamp, .invalidPrice])
        #expect(r2.map(\.line) == [2, 3, 4, 5, 6, 7, 9, 11])
        #expect(r2.map(\.productID) == ["P2", "P3", "P1", "", "P4", "P5", "P7", "P9"])
        #expect(r2[1].detail.hasSuffix("product 2: price 1.555 is not a decimal with at most 2 decimal places"), "\(r2[1].detail)")
        #expect(r2[4].detail.hasSuffix("product 5: price (a string) is not a number"), "\(r2[4].detail)")
        #expect(r2[5].detail.hasSuffix("product 6: field price appears twice in the entry"), "\(r2[5].detail)")
        #expect(r2[6].detail.contains("launch_date 2016-12-31T23:59:60Z is a leap second"), "\(r2[6].detail)")
        #expect(r2[7].detail.hasSuffix("product 10: price 10000000000000000 exceeds decimal(18,2) (at most 9999999999999999.99)"), "\(r2[7].detail)")
        // The file and line are the reject's own fields (raw.products prefixes them once), not part of its detail.
        #expect(r2.allSatisfy { $0.detail.hasPrefix("product \($0.index): ") && !$0.detail.contains("cat.json") }, "\(r2.map(\.detail))")

        #expect(throws: ProductCatalogError.notAnArray(path: "obj.json", found: "object")) {
            try Array(#"{"product_id": "P1"}"#.utf8).withUnsafeBytes { try ProductCatalogParser.parse($0, path: "obj.json") }
        }
        let broken = try write("[\n  {\"product_id\": \"P1\",\n  \"price\" 2}]", "broken.json")
        #expect(throws: ProductCatalogError.syntax(path: broken, line: 3, column: 11, problem: .unexpectedByte(UInt8(ascii: "2"), expecting: "':' after a key"))) {
            try ProductCatalogParser.parse(path: broken)
        }
        #expect(throws: ProductCatalogError.entryNotAnObject(path: "n.json", index: 0, line: 1, found: "number")) {
            try Array("[1]".utf8).withUnsafeBytes { try ProductCatalogParser.parse($0, path: "n.json") }
        }
    }
}

@Suite struct ParserRobustnessTests {
    /// Every proper prefix of a valid line is rejected as malformed (never accepted, never a
    /// crash), and the error points inside the prefix.
    @Test func everyTruncationIsMalformed() throws {
        let map = try TestSupport.rules().fieldMap
        let bytes = Array(goodLine.utf8)
        for n in 1 ..< bytes.count {
            let r = try TestSupport.parse(String(decoding: bytes[0 ..< n], as: UTF8.self), map: map)
            guard case .failure(let e) = r else { Issue.record("prefix of \(n) bytes was accepted"); continue }
            #expect(e.reason == .malformedJSON || (n <= 1 && e == .emptyLine), "prefix \(n): \(e)")
            if case .syntax(_, let offset) = e { #expect(offset <= n) }
        }
    }

    /// Random byte flips never crash the parser; whatever it accepts is still a well-formed
    /// order whose text references stay inside the buffer.
    @Test func randomMutationsNeverCrash() throws {
        let map = try TestSupport.rules().fieldMap
        var parser = OrderLineParser(map: map)
        var rng = SplitMix64(seed: 99)
        let base = Array(goodLine.utf8)
        let alphabet = Array(#"{}[]:,"\u0123456789-.eE tfnrl"#.utf8) + [0x00, 0x7f, 0xc3, 0xa9, 0xff, 0xed, 0xa0]
        for _ in 0 ..< 20_000 {
            var line = base
            for _ in 0 ... rng.below(4) {
                let at = rng.below(line.count)
                switch rng.below(3) {
                case 0: line[at] = alphabet[rng.below(alphabet.count)]
                case 1: line.remove(at: at)
                default: line.insert(alphabet[rng.below(alphabet.count)], at: at)
                }
            }
            let ok = line.withUnsafeBytes { raw -> Bool in
                do throws(OrderLineError) { try parser.parse(raw); return true } catch { return false }
            }
            if ok {
                let o = parser.order
                for r in [o.orderID, o.customerID, o.channel, o.status, o.country, o.state, o.city] where r.isPresent {
                    #expect(Int(r.start) + Int(r.count) <= o.text.count)
                    #expect(String(validating: o.text[Int(r.start) ..< Int(r.start + r.count)], as: UTF8.self) != nil)
                }
            }
        }
    }

    /// The validator parses in place (`parseInPlace`: no copy of the line unless a decoded
    /// string or an unknown key must follow it) with a long-lived parser whose key guesses
    /// compare the previous line's keys in place (`KeySet.plainLength`). On random mutations
    /// of lines with permuted, escaped, aliased, unknown and v2 keys, it must read exactly what
    /// a fresh parser (no guesses) reads with a copied line: the same error, or the same fields.
    @Test func inPlaceParsingWithKeyGuessesReadsWhatAFreshParserReads() throws {
        let map = try TestSupport.rules().fieldMap
        var warm = OrderLineParser(map: map)
        var rng = SplitMix64(seed: 1711)
        let bases = [
            goodLine,
            #"{"status": "confirmed", "shipping_address": {"city": "Oslo", "country": "NO"}, "items": [{"unit_price": 1.50, "quantity": 3, "product_id": "PROD-002"}], "channel": "api", "ts": 1705314600123, "customerId": "C-2", "order_id": "ORD-2"}"#,
            goodLine.replacingOccurrences(of: #""order_id": "ORD-1""#, with: #""order\u005fid": "ORD-\u00e9\"1""#),
            goodLine.replacingOccurrences(of: #""status": "confirmed"}"#, with: #""status": "confirmed", "gift_note": "hi", "currency": "EUR", "discount_amount": 1.00, "payment_method": "card"}"#),
            goodLine.replacingOccurrences(of: #""city": "San Francisco"}"#, with: #""city": "San\tFrancisco", "zip": 94105}"#),
            #"{"order_id":"ORD-3","customer_id":"C","timestamp":"2024-01-15T10:30:00+02:00","channel":"web","items":[],"shipping_address":{"country":"US"},"status":"x"}"#,
        ].map { Array($0.utf8) }
        let alphabet = Array(#"{}[]:,"\u0123456789-.eE tfnrl_adiostu"#.utf8) + [0x00, 0x7f, 0xc3, 0xa9, 0xff]
        struct Reading: Equatable {
            var error: OrderLineError?
            var strings: [String?]
            var items: [String?]
            var numbers: [Int64?]
            var flags: [Bool]
            var versionedKeys: UInt8
        }
        func read(_ p: OrderLineParser, _ error: OrderLineError?, line: UnsafeRawBufferPointer) -> Reading {
            let o = p.order
            return o.withText(line: line) { t in
                func s(_ r: TextRef) -> String? { r.isPresent ? String(decoding: slice(t, r), as: UTF8.self) : nil }
                return Reading(error: error,
                               strings: [o.orderID, o.customerID, o.channel, o.status, o.country, o.state, o.city, o.currency, o.paymentMethod].map(s)
                                   + o.unknownFields.map(s),
                               items: o.items.map { s($0.productID) },
                               numbers: [o.eventTimeMicros, o.discountCents] + o.items.flatMap { [$0.quantity, $0.unitPriceCents] },
                               flags: [o.eventTimeFromAlias, o.hasItems, o.hasAddress],
                               versionedKeys: o.versionedKeys)
            }
        }
        var compared = 0, accepted = 0
        for _ in 0 ..< 12_000 {
            var line = bases[rng.below(bases.count)]
            for _ in 0 ..< rng.below(4) {
                let at = rng.below(line.count)
                switch rng.below(3) {
                case 0: line[at] = alphabet[rng.below(alphabet.count)]
                case 1: line.remove(at: at)
                default: line.insert(alphabet[rng.below(alphabet.count)], at: at)
                }
            }
            line.withUnsafeBytes { raw in
                var warmError: OrderLineError?
                do throws(OrderLineError) { try warm.parseInPlace(raw) } catch { warmError = error }
                var fresh = OrderLineParser(map: map)
                var freshError: OrderLineError?
                do throws(OrderLineError) { try fresh.parse(raw) } catch { freshError = error }
                let a = read(warm, warmError, line: raw), b = read(fresh, freshError, line: raw)
                #expect(a == b, "\(String(decoding: raw, as: UTF8.self))")
                // A fresh parser's copied text holds the line itself first.
                #expect(fresh.order.text.starts(with: raw))
                compared += 1
                if warmError == nil { accepted += 1 }
            }
        }
        #expect(compared == 12_000)
        #expect(accepted > 1_200, "the mutations must leave many lines valid (\(accepted))")
    }
}

/// Where a rejected line lands in raw.orders (its order id, event time, date and channel) is
/// the line's, whatever the order of its keys: the parse stopped at the refused value, so keys
/// after it went unread and the same order written with `items` first went to channel=unknown
/// on the ingest date, its reject counted there (until session 35).
@Suite struct RejectedLinePlacementTests {
    @Test func aRejectedLineLandsInItsOwnPartitionWhateverItsKeyOrder() throws {
        let catalog = try ProductCatalogParser.parse(path: TestSupport.evaluationFiles + "/product_catalog.json").catalog
        let product = "PROD-001"
        #expect(catalog.row(of: product) != nil)
        let faults: [(items: String, extra: String, reason: RejectReason)] = [
            (#"[{"product_id": "\#(product)", "quantity": 0, "unit_price": 9.99}]"#, "", .invalidQuantity),
            (#"[{"product_id": "\#(product)", "quantity": 2, "unit_price": 9.999}]"#, "", .invalidPrice),
            (#"[{"product_id": "\#(product)", "quantity": 2.5, "unit_price": 9.99}]"#, "", .invalidQuantity),
            (#"[{"product_id": "\#(product)", "quantity": 1, "unit_price": 9.99}]"#, #", "customer_id": 42"#, .invalidType),
        ]
        var lines: [String] = []
        for (n, f) in faults.enumerated() {
            let id = "\"order_id\": \"ORD-R\(n)\"", ts = #""timestamp": "2024-01-15T10:00:00Z""#, channel = #""channel": "mobile""#
            let rest = #""status": "confirmed", "shipping_address": {"country": "DE", "state": "BE", "city": "Berlin"}"#
            let customer = f.extra.isEmpty ? #", "customer_id": "CUST-1""# : ""
            // The refused value first, then last: the same order either way.
            lines.append("{\"items\": \(f.items)\(f.extra), \(rest), \(id), \(ts), \(channel)\(customer)}")
            lines.append("{\(id), \(ts), \(channel)\(customer), \(rest), \"items\": \(f.items)\(f.extra)}")
        }
        // A line cut short after the refused value is malformed, dated by nothing it holds: the cut
        // may be what made the value refused (`"ts": 1705`), so the value does not name the reason.
        lines.append(#"{"items": [{"product_id": "\#(product)", "quantity": 2.5, "unit_price": 9.99}], "order_id": "ORD-CUT", "timestamp": "2024-01-15T10:00:00Z", "channel": "web", "sta"#)
        var v = OrderValidator(rules: try TestSupport.rules(), catalog: catalog, batchID: "t", sourceFile: "r.jsonl", ingestTimeMicros: 1_706_745_600_000_000)
        for (i, l) in lines.enumerated() {
            let bytes = Array(l.utf8)
            bytes.withUnsafeBytes { v.add($0, lineNumber: i + 1, byteOffset: 0) }
        }
        let raw = v.drain().raw
        let reasons = TestSupport.strings(raw, "reject_reason"), ids = TestSupport.strings(raw, "order_id")
        let channels = TestSupport.strings(raw, "channel"), dates = TestSupport.int32s(raw, "event_date")
        let day = Timestamps.day(ofMicros: 1_705_312_800_000_000)  // 2024-01-15T10:00:00Z
        for (n, f) in faults.enumerated() {
            for row in [2 * n, 2 * n + 1] {
                #expect(reasons[row] == f.reason.rawValue, "line \(row + 1)")
                #expect(ids[row] == "ORD-R\(n)" && channels[row] == "mobile" && dates[row] == day, "line \(row + 1): \(ids[row] ?? "-") \(channels[row] ?? "-") \(dates[row])")
            }
        }
        let cut = lines.count - 1
        #expect(reasons[cut] == RejectReason.malformedJSON.rawValue)
        #expect(dates[cut] == Timestamps.day(ofMicros: 1_706_745_600_000_000), "the ingest date")
    }
}
