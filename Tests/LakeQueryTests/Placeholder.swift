import Testing
@testable import LakeQuery

@Test func moduleQueryLinks() { #expect(String(describing: LakeQueryModule.self) == "LakeQueryModule") }
