/// An identifier (product, order, customer id, warehouse) compared by its UTF-8 bytes, as DuckDB compares
/// VARCHARs and as the lake stores them. Swift's `String` equality is canonical equivalence: a
/// product id with a precomposed "é" and the same id with "e" + U+0301 are equal Strings but two
/// products in the catalog, the items and DuckDB. Keyed by String, the product reports merged
/// them: top-products, inventory, product-metrics, `lake run`, the dashboard and their API
/// trapped ("Duplicate values for key", taking `lake serve` down), and one product's stock and
/// sales would have been credited to the other; `lake delete` of one order deleted the items of
/// the other, and an erasure matched both customers. Ordered by bytes (the order of Parquet's
/// min/max statistics for text; for NFC text, code point order).
public struct ExactID: Hashable, Comparable, Sendable {
    public let text: String

    public init(_ text: String) { self.text = text }

    public static func == (a: Self, b: Self) -> Bool { a.text.utf8.elementsEqual(b.text.utf8) }

    public func hash(into hasher: inout Hasher) {
        var t = text
        t.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    public static func < (a: Self, b: Self) -> Bool { a.text.utf8.lexicographicallyPrecedes(b.text.utf8) }
}
