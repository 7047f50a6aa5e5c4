import Testing
@testable import LakePipeline
