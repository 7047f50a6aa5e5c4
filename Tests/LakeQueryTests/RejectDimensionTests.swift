import LakePipeline
import Testing
@testable import LakeQuery

/// Every reject reason counts in one quality dimension: the v2 reasons and duplicate_product
/// used to be listed in none (the quality layer kept its own string lists).
@Suite("Reject reasons in quality dimensions")
struct RejectDimensionTests {
    @Test("the orders v2 reasons count as invalid lines, duplicate_product as a duplicate")
    func v2ReasonsCountInQuality() {
        let lc = LineCounts(records: 10, rejects: ["invalid_currency": 1, "invalid_discount": 2, "invalid_payment_method": 3,
                                                   "duplicate_product": 4])
        let results = QualityChecks.rateChecks(lc, config: QualityConfig(), batchID: "b", snapshot: 1)
        let value = Dictionary(uniqueKeysWithValues: results.map { ($0.check, $0.value) })
        #expect(value[.validity] == 0.6)
        #expect(value[.rawUniqueness] == 0.4)
        #expect(value[.completeness] == 0 && value[.referentialIntegrity] == 0)
    }

    @Test("each reason is in exactly one of the sets the checks sum")
    func everyReasonCountsOnce() {
        let sets = [RejectClass.completeness, RejectClass.validity, RejectClass.referential, RejectClass.duplicates]
        for reason in RejectReason.allCases {
            #expect(sets.filter { $0.contains(reason.rawValue) }.count == 1, "\(reason.rawValue)")
        }
    }
}
