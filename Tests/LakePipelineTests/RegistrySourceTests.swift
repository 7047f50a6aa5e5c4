import Foundation
import LakeCatalog
import LakeTestSupport
import Testing
@testable import LakePipeline

/// Issue 20, item 1: `lake` carries its registry (built in) and a lake carries the versions
/// it uses, so neither depends on the working directory.
@Suite("Registry built into lake and stored in the lake")
struct RegistrySourceTests {
    /// The generated BundledSchemas.swift is schemas/ byte for byte: run scripts/bundle-schemas.sh
    /// after adding or editing a version file.
    @Test func builtInRegistryIsTheSchemasDirectory() throws {
        let dir = packageRoot.appendingPathComponent("schemas").path
        let fm = FileManager.default
        var files: [String: String] = [:]
        for table in try fm.contentsOfDirectory(atPath: dir) where !table.hasPrefix(".") {
            for file in try fm.contentsOfDirectory(atPath: dir + "/" + table) where file.hasSuffix(".json") {
                files["\(table)/\(file)"] = try String(contentsOfFile: "\(dir)/\(table)/\(file)", encoding: .utf8)
            }
        }
        let bundled = Dictionary(uniqueKeysWithValues: BundledSchemas.files.map { ($0.path, $0.text) })
        #expect(Set(bundled.keys) == Set(files.keys), "run scripts/bundle-schemas.sh")
        for (path, text) in files {
            #expect(bundled[path] == text, "schemas/\(path) differs from the built-in copy: run scripts/bundle-schemas.sh")
        }
        let fromFiles = try SchemaRegistry.load(directory: dir), builtIn = try SchemaRegistry.bundled()
        #expect(builtIn.allSchemas.map(\.fingerprint) == fromFiles.allSchemas.map(\.fingerprint))
        #expect(builtIn.allSchemas.count == files.count)
    }

    /// A version's canonical JSON, parsed again, has the same fingerprint: what the lake stores
    /// is what it checks against. A stored version keeps its text as its canonical form (not
    /// serialised again): the canonical form serialised again is itself.
    @Test func canonicalJSONRoundTrips() throws {
        for s in try SchemaRegistry.bundled().allSchemas {
            let reserialized = try SchemaRegistry.parse(Data(s.canonicalJSON.utf8), path: "\(s.table) v\(s.version)")
            #expect(reserialized.canonicalJSON == s.canonicalJSON && reserialized.fingerprint == s.fingerprint, "\(s.table) v\(s.version)")
            let again = try SchemaRegistry.parseStored(table: s.table, version: s.version, canonicalJSON: s.canonicalJSON)
            #expect(again.fingerprint == s.fingerprint, "\(s.table) v\(s.version)")
            #expect(again.columns == s.columns && again.source == s.source && again.partitionBy == s.partitionBy
                     && again.primaryKey == s.primaryKey && again.layer == s.layer && again.canonicalJSON == s.canonicalJSON)
        }
    }

    /// A lake written with another registry (here orders v1 with a different description, so a
    /// different fingerprint) keeps reading its own version when opened with the built-in
    /// registry: the next ingest is accepted instead of refused as an edited version.
    @Test func lakeReadsItsOwnVersions() throws {
        let dir = try TemporaryDirectory("lake-own-registry")
        defer { dir.remove() }
        let custom = dir.url.appendingPathComponent("schemas")
        try FileManager.default.copyItem(at: packageRoot.appendingPathComponent("schemas"), to: custom)
        // Only v1 of orders and raw_orders, edited: the lake will be at v1 with these definitions.
        for table in ["orders", "raw_orders"] {
            try FileManager.default.removeItem(at: custom.appendingPathComponent("\(table)/v2.json"))
        }
        let v1 = custom.appendingPathComponent("orders/v1.json")
        let text = try String(contentsOf: v1, encoding: .utf8)
        try text.replacingOccurrences(of: "\"description\": \"One row per accepted order", with: "\"description\": \"Per accepted order")
            .write(to: v1, atomically: true, encoding: .utf8)
        let edited = try SchemaRegistry.load(directory: custom.path).schema("orders", version: 1)
        #expect(edited.fingerprint != (try SchemaRegistry.bundled().schema("orders", version: 1)).fingerprint)

        let root = dir.url.appendingPathComponent("lake")
        let input = packageRoot.appendingPathComponent("Evaluation-Files")
        let lines = try String(contentsOf: input.appendingPathComponent("orders_stream.jsonl"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        try (lines[..<500].joined(separator: "\n") + "\n").write(toFile: dir.file("a.jsonl"), atomically: true, encoding: .utf8)
        try lines[500...].joined(separator: "\n").write(toFile: dir.file("b.jsonl"), atomically: true, encoding: .utf8)

        let first = try LakeStore.open(root: root, registry: .directory(custom))
        _ = try CatalogIngest.run(first, path: input.appendingPathComponent("product_catalog.json").path)
        _ = try OrderIngest.run(first, path: dir.file("a.jsonl"))
        let stored = try first.catalog.storedSchemaDefinitions()
        #expect(stored.contains { $0.table == "orders" && $0.version == 1 && $0.canonicalJSON == edited.canonicalJSON })

        let reopened = try LakeStore.open(root: root, registry: .builtIn)
        #expect(try reopened.registry.schema("orders", version: 1).fingerprint == edited.fingerprint)
        #expect(try reopened.registry.schema("orders", version: 1).path.contains("stored in the lake"))
        // Versions the lake does not use come from the binary.
        #expect(try reopened.registry.schema("orders", version: 2).path.contains("built in"))
        let second = try OrderIngest.run(reopened, path: dir.file("b.jsonl"))
        #expect(second.accepted > 0)

        // A directory the user names still wins, so an edit of a used version is refused as before.
        let pristine = dir.url.appendingPathComponent("pristine")
        try FileManager.default.copyItem(at: packageRoot.appendingPathComponent("schemas"), to: pristine)
        try lines[..<10].joined(separator: "\n").write(toFile: dir.file("c.jsonl"), atomically: true, encoding: .utf8)
        let named = try LakeStore.open(root: root, registry: .directory(pristine))
        #expect(throws: IngestError.registryEdited(table: "orders", version: 1)) {
            _ = try OrderIngest.run(named, path: dir.file("c.jsonl"))
        }
    }

    /// The installed binary needs no schemas/ directory: ingest from a directory that has none.
    @Test func cliIngestsFromAnyDirectory() throws {
        let dir = try TemporaryDirectory("lake-anywhere")
        defer { dir.remove() }
        #expect(!FileManager.default.fileExists(atPath: dir.file("schemas")))
        let input = packageRoot.appendingPathComponent("Evaluation-Files").path
        let catalog = try runLake(["ingest", "catalog", input + "/product_catalog.json", "--lake", dir.file("lake")], in: dir.url)
        #expect(catalog.status == 0, "\(catalog.err)")
        let orders = try runLake(["ingest", "orders", input + "/orders_stream.jsonl", "--lake", dir.file("lake"), "--quiet"], in: dir.url)
        #expect(orders.status == 0, "\(orders.err)")
        #expect(orders.out.contains("accepted 939"), "\(orders.out)")
        let list = try runLake(["schema", "list"], in: dir.url)
        #expect(list.status == 0 && list.out.contains("orders"), "\(list.err)")
        // A registry directory that does not exist is named, with what to do.
        let missing = try runLake(["ingest", "orders", input + "/orders_stream.jsonl", "--lake", dir.file("lake"), "--schemas", dir.file("nope")], in: dir.url)
        #expect(missing.status != 0)
        #expect(missing.err.contains(dir.file("nope")) && missing.err.contains("built into lake"), "\(missing.err)")
    }
}

/// Issue 20, item 5: `lake generate` never writes into the sample by default, and its default
/// seed gives order ids the sample does not have.
@Suite("Generator defaults")
struct GeneratorDefaultTests {
    func orderIDs(_ path: String) throws -> Set<String> {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let pattern = try Regex(#""order_id": "(ORD-[0-9]+)""#)
        return Set(text.matches(of: pattern).compactMap { $0.output[1].substring.map(String.init) })
    }

    @Test func defaultSeedSharesNoOrderIDWithTheSample() throws {
        let dir = try TestSupport.tempDir()
        var c = GeneratorConfig()
        c.seed = GeneratorConfig.defaultSeed
        _ = try OrderGenerator.generate(c, into: dir)
        let generated = try orderIDs(dir + "/orders_stream.jsonl")
        let sample = try orderIDs(TestSupport.evaluationFiles + "/orders_stream.jsonl")
        #expect(generated.count > 900 && sample.count > 900)
        #expect(generated.isDisjoint(with: sample), "\(generated.intersection(sample).count) shared order ids")
        // The sample's seed still writes the sample's ids (Evaluation-Files stays reproducible).
        #expect(GeneratorConfig().seed == GeneratorConfig.sampleSeed)
    }

    @Test func cliNeedsOutAndDefaultsToTheFreshSeed() throws {
        let dir = try TemporaryDirectory("lake-generate")
        defer { dir.remove() }
        let bare = try runLake(["generate", "--orders", "10"], in: dir.url)
        #expect(bare.status != 0)
        #expect(bare.err.contains("--out"), "\(bare.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "nothing may be written without --out")

        let out = try runLake(["generate", "--out", dir.file("src")], in: dir.url)
        #expect(out.status == 0, "\(out.err)")
        let generated = try orderIDs(dir.file("src/orders_stream.jsonl"))
        let sample = try orderIDs(TestSupport.evaluationFiles + "/orders_stream.jsonl")
        #expect(generated.count > 900)
        #expect(generated.isDisjoint(with: sample), "\(generated.intersection(sample).count) shared order ids")
    }
}

/// Runs the built `lake` with `directory` as the working directory.
func runLake(_ arguments: [String], in directory: URL) throws -> (status: Int32, out: String, err: String) {
    try runProcess(lakeBinary.path, arguments, in: directory)
}
