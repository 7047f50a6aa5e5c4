import Testing
@testable import LakePipeline

@Test func modulePipelineLinks() { #expect(String(describing: LakePipelineModule.self) == "LakePipelineModule") }
