import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

/// curated.inventory's primary key (product_id, warehouse_location, last_updated) holds: a
/// second row for a key, in the same file or after a committed one, is a `duplicate_key` reject,
/// the first row standing. Before session 33 both were accepted: the inventory reports took
/// either quantity, and a resent inventory (the same rows in other bytes, CRLF line ends) doubled
/// the table. Found by an exploratory test.
@Suite struct InventoryKeyTests {
    let header = "product_id,available_quantity,warehouse_location,last_updated\n"

    func write(_ dir: TemporaryDirectory, _ name: String, _ text: String) throws -> String {
        let path = dir.file(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// (product, warehouse, quantity) of every curated.inventory row, sorted.
    func rows(_ store: LakeStore) throws -> [String] {
        let table = try store.catalog.table(schema: "curated", name: "inventory")
        var out: [String] = []
        for file in try store.catalog.dataFiles(tableID: table.tableID) {
            for b in try DataFileReader(file, columns: table.columns, files: store.catalog.files).read() {
                guard case .int64(let q)? = b.column("available_quantity")?.data else { continue }
                for r in 0 ..< b.count {
                    out.append("\(b.column("product_id")!.string(at: r)!) \(b.column("warehouse_location")!.string(at: r)!) \(q[r])")
                }
            }
        }
        return out.sorted()
    }

    @Test func aKeyHeldTwiceIsADuplicateWithinAFileAndAcrossFiles() throws {
        let dir = try TemporaryDirectory("inventory-keys")
        defer { dir.remove() }
        let store = try LakeStore.open(root: dir.url.appendingPathComponent("lake"), schemas: schemasDirectory)
        _ = try CatalogIngest.run(store, path: evaluationFiles.appendingPathComponent("product_catalog.json").path)

        let first = try write(dir, "first.csv", header + """
            PROD-002,1,W1,2024-01-15T09:00:00Z
            PROD-002,7,W1,2024-01-15T09:00:00Z
            PROD-002,1,W1,2024-01-15T09:00:00.000Z
            PROD-002,3,W2,2024-01-15T09:00:00Z
            PROD-002,4,W1,2024-01-15T10:00:00Z

            """)
        let a = try InventoryIngest.run(store, path: first)
        // Duplicates count under duplicates only: records = accepted + quarantined + duplicates.
        #expect(a.records == 5 && a.accepted == 3 && a.quarantined == 0 && a.rejects == ["duplicate_key": 2] && a.duplicates == 2, "\(a)")
        let raw = try rawDetails(store)
        #expect(raw.contains { $0.hasSuffix("first.csv line 3: product_id PROD-002, warehouse_location W1, last_updated 2024-01-15T09:00:00Z repeats line 2 with available_quantity 1 (this row says 7); the first stands") }, "\(raw)")
        #expect(raw.contains { $0.hasSuffix("first.csv line 4: product_id PROD-002, warehouse_location W1, last_updated 2024-01-15T09:00:00Z repeats line 2; the first stands") }, "\(raw)")

        // The same rows resent in other bytes, one corrected, one new: only the new one is added.
        let resent = try write(dir, "resent.csv", (header + """
            PROD-002,9,W1,2024-01-15T09:00:00Z
            PROD-002,3,W2,2024-01-15T09:00:00Z
            PROD-003,5,W1,2024-01-15T09:00:00Z

            """).replacingOccurrences(of: "\n", with: "\r\n"))
        let b = try InventoryIngest.run(store, path: resent)
        #expect(b.accepted == 1 && b.rejects == ["duplicate_key": 2], "\(b)")
        #expect(try rawDetails(store).contains { $0.hasSuffix("resent.csv line 2: product_id PROD-002, warehouse_location W1, last_updated 2024-01-15T09:00:00Z was committed by an earlier inventory with available_quantity 1 (this row says 9); the committed row stands") })
        #expect(try rows(store) == ["PROD-002 W1 1", "PROD-002 W1 4", "PROD-002 W2 3", "PROD-003 W1 5"])
    }

    func rawDetails(_ store: LakeStore) throws -> [String] {
        let table = try store.catalog.table(schema: "raw", name: "inventory")
        var out: [String] = []
        for file in try store.catalog.dataFiles(tableID: table.tableID) {
            for b in try DataFileReader(file, columns: table.columns, files: store.catalog.files).read() {
                for r in 0 ..< b.count { out.append(b.column("reject_detail")!.string(at: r) ?? "") }
            }
        }
        return out
    }
}
