import Foundation
import LakeCatalog
import LakeTestSupport
import Testing
@testable import LakePipeline

/// The ledger's content identity (`ContentHasher`): the four-lane hash does not depend on how
/// the bytes arrive, and a lake whose ledger an older build wrote (the one-lane "h64:" hash)
/// still recognises the sources it committed, through a file and through a pipe.
@Suite(.serialized) struct ContentHashTests {
    /// Feeds `bytes` in pieces of the given sizes (cycled), as reads of any size would.
    static func hash(_ bytes: [UInt8], pieces: [Int], legacy: Bool = false) -> ContentHasher {
        var hasher = ContentHasher(legacy: legacy)
        var i = 0, k = 0
        bytes.withUnsafeBytes { raw in
            while i < raw.count {
                let n = min(pieces[k % pieces.count], raw.count - i)
                hasher.update(UnsafeRawBufferPointer(rebasing: raw[i ..< i + n]))
                i += n
                k += 1
            }
        }
        return hasher
    }

    @Test func theHashDoesNotDependOnHowTheBytesArrive() {
        var rng = SystemRandomNumberGenerator()
        for length in [0, 1, 7, 8, 31, 32, 33, 63, 64, 65, 200, 4099] {
            let bytes = (0 ..< length).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
            let whole = Self.hash(bytes, pieces: [max(length, 1)]).finish()
            #expect(whole.hasPrefix("h64x4:\(length):"))
            for pieces in [[1], [3, 29], [31], [33, 1, 64], [5, 8, 13]] {
                #expect(Self.hash(bytes, pieces: pieces).finish() == whole, "length \(length), pieces \(pieces)")
                #expect(Self.hash(bytes, pieces: pieces, legacy: true).finishLegacy() == Self.hash(bytes, pieces: [max(length, 1)], legacy: true).finishLegacy())
            }
            // Any one byte changed, in a full stripe or in the tail, changes the hash.
            for at in Set([0, length / 2, length - 1]) where length > 0 {
                var changed = bytes
                changed[at] ^= 0x01
                #expect(Self.hash(changed, pieces: [7]).finish() != whole, "length \(length), byte \(at)")
            }
        }
        // Words swapped between lanes (a stripe's first and second 8 bytes) hash differently.
        let a = Array("0123456789abcdef0123456789ABCDEF".utf8), b = Array("89abcdef01234567".utf8) + Array("0123456789ABCDEF".utf8)
        #expect(Self.hash(a, pieces: [32]).finish() != Self.hash(b, pieces: [32]).finish())
    }

    /// The one-lane hash, checked against what session 20's build recorded in its ledger for
    /// the evaluation files (`lake ingest catalog|orders` of them, `SELECT source_hash FROM
    /// lake_source_ledger`): the test vectors of the older ledgers.
    @Test func theLegacyHashIsWhatOlderBuildsRecorded() throws {
        let recorded = [(evaluationCatalog, "h64:10320:a0b6a1843d218415"), (evaluationOrders, "h64:360432:cb627a93b398952a")]
        for (path, hash) in recorded {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            for pieces in [[bytes.count], [1], [4095, 7], [1 << 16]] {
                #expect(Self.hash(bytes, pieces: pieces, legacy: true).finishLegacy() == hash, "\(path) in pieces of \(pieces)")
            }
            #expect(Self.hash(bytes, pieces: [1 << 16]).finishLegacy() == nil)
            #expect(try ContentHash.file(path, legacy: true).legacyHash == hash)
        }
    }

    @Test func aLedgerAnOlderBuildWroteStillRecognisesItsSources() throws {
        let dir = try TemporaryDirectory("lake-legacy-ledger")
        defer { dir.remove() }
        let lake = dir.file("lake")
        func lakeRun(_ script: String) throws -> (status: Int32, out: String, err: String) {
            try runProcess("/bin/bash", ["-c", script], environment: ["LAKE": lakeBinary.path])
        }
        #expect(try lakeRun("$LAKE ingest catalog \(evaluationCatalog) --lake \(lake)").status == 0)
        #expect(try lakeRun("$LAKE ingest orders \(evaluationOrders) --lake \(lake) --quiet").status == 0)
        let manifest = dir.file("lake/manifest.sqlite")
        func ledger() throws -> [String] {
            try Python.run("import sqlite3, sys\nfor k, h in sqlite3.connect(sys.argv[1]).execute('SELECT kind, source_hash FROM lake_source_ledger ORDER BY kind'): print(k, h)",
                           [manifest]).split(separator: "\n").map(String.init)
        }
        #expect(try ledger() == ["catalog \(try ContentHash.file(evaluationCatalog).hash)", "orders \(try ContentHash.file(evaluationOrders).hash)"])
        #expect(try ledger().allSatisfy { $0.contains(" h64x4:") })
        // The ledger as session 20's build left it: the one-lane hashes it recorded.
        _ = try Python.run("""
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            c.execute("UPDATE lake_source_ledger SET source_hash = 'h64:10320:a0b6a1843d218415' WHERE kind = 'catalog'")
            c.execute("UPDATE lake_source_ledger SET source_hash = 'h64:360432:cb627a93b398952a' WHERE kind = 'orders'")
            c.commit()
            """, [manifest])
        // A file (hashed up front) and a pipe (hashed as it is read) of the same bytes: both already ingested.
        for script in ["$LAKE ingest orders \(evaluationOrders) --lake \(lake) --quiet", "cat \(evaluationOrders) | $LAKE ingest orders - --lake \(lake) --quiet",
                       "$LAKE ingest catalog \(evaluationCatalog) --lake \(lake)", "$LAKE ingest catalog - --lake \(lake) < \(evaluationCatalog)"] {
            let r = try lakeRun(script)
            #expect(r.status == 0 && r.out.contains("already ingested"), "\(script): \(r.out) \(r.err)")
        }
        // New content in that lake is recorded with the four-lane hash beside the old entries.
        let more = dir.file("more.jsonl")
        try (String(contentsOfFile: evaluationOrders, encoding: .utf8) + "\n").write(toFile: more, atomically: true, encoding: .utf8)
        #expect(try lakeRun("$LAKE ingest orders \(more) --lake \(lake) --quiet").status == 0)
        #expect(try ledger().contains("orders \(try ContentHash.file(more).hash)"))
        #expect(try ledger().count == 3)
    }
}
