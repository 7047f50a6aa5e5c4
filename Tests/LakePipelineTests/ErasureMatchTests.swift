import Foundation
import Testing
@testable import LakePipeline

/// Which raw lines `lake erase customer` takes as the customer's: by the decoded customer field,
/// however JSON escapes spell it; a line that does not parse by the id as a whole JSON string
/// once its escapes are decoded (or cut off right after it), never by a fragment of the id.
@Suite struct ErasureMatchTests {
    static func names(_ line: String, _ id: String = "CUST-28") -> Bool {
        Erasure.lineNames(line, customerID: id, quoted: Array("\"\(id)\"".utf8))
    }

    @Test func escapedSpellingsOfTheIdMatch() {
        for line in [
            #"{"order_id":"ORD-1","customer_id":"CUST-28","channel":"web"}"#,
            #"{"order_id":"ORD-1","customer_id":"CUST\u002D28","channel":"web"}"#,
            #"{"order_id":"ORD-1","customer_id":"CUST\u002d28","channel":"web"}"#,
            #"{"order_id":"ORD-1","customer_id":"\u0043\u0055\u0053\u0054\u002D\u0032\u0038"}"#,
            #"{"order_id":"ORD-1","customer\u005fid":"CUST-28"}"#,
            #"{"order_id":"ORD-1","customerId":"CUST\u002D28","ts":1704067200000}"#,
            // Malformed (quarantined as malformed_json): decoded, the id stands as a JSON string.
            #"{"order_id":"ORD-1","customer_id":"CUST\u002D28","items":[{"product_id":"#,
            #"{"order_id":"ORD-1",,"customer_id":"CUST-28"}"#,
            #"{"order_id": "ORD-1", "customer_id": "CUST\u002D28"#,
            #"{"order_id": "ORD-1", "customer_id": "CUST-28"#,
        ] {
            #expect(Self.names(line), "\(line)")
        }
        // `\/` decodes to `/`, and a surrogate pair to one character.
        #expect(Self.names(#"{"customer_id":"CUST\/7"}"#, "CUST/7"))
        #expect(Self.names(#"{"customer_id":"CUST-\ud83d\ude00", "x": "#, "CUST-😀"))
    }

    @Test func otherCustomersAndFragmentsDoNotMatch() {
        for line in [
            #"{"order_id":"ORD-1","customer_id":"CUST-280"}"#,
            #"{"order_id":"ORD-1","customer_id":"CUST\u002D280"}"#,
            // The customer field names someone else: a mention elsewhere is not theirs.
            #"{"order_id":"ORD-1","customer_id":"CUST-99","referrer":"CUST-28"}"#,
            // Inside a longer string, or cut off inside the id: it does not identify the customer.
            #"{"order_id":"ORD-1","note":"call CUST-28 back","customer_id":"#,
            #"{"order_id": "ORD-1", "customer_id": "CUST-2"#,
            #"{"order_id": "ORD-1", "customer_id": "CUST\u002"#,
            "not json at all, CUST-28",
        ] {
            #expect(!Self.names(line), "\(line)")
        }
    }

    @Test func unescapeKeepsInvalidEscapesAsWritten() {
        func u(_ s: String) -> String { String(decoding: Erasure.unescapeJSON(Array(s.utf8)), as: UTF8.self) }
        #expect(u(#"a\u002Db\/c\"d\\e\n"#) == "a-b/c\"d\\e\n")
        #expect(u(#"\u00ZZ\q\"#) == #"\u00ZZ\q\"#)
        #expect(u(#"\ud83d"#) == #"\ud83d"#, "a lone surrogate is no character: kept as written")
    }
}
