import Testing
@testable import LakeCatalog

@Test func moduleCatalogLinks() { #expect(String(describing: LakeCatalogModule.self) == "LakeCatalogModule") }
