import Testing
@testable import LakeFormat

@Suite struct DecimalTextTests {
    @Test func parsesExactCents() {
        #expect(DecimalText.parse("29.99", scale: 2) == 2999)
        #expect(DecimalText.parse("29.9", scale: 2) == 2990)
        #expect(DecimalText.parse("-0.05", scale: 2) == -5)
        #expect(DecimalText.parse("100", scale: 2) == 10000)
        #expect(DecimalText.parse("29.990", scale: 2) == 2999)
    }

    @Test func refusesWhatIsNotExact() {
        #expect(DecimalText.parse("29.999", scale: 2) == nil)
        #expect(DecimalText.parse("1e2", scale: 2) == nil)
        #expect(DecimalText.parse("", scale: 2) == nil)
        #expect(DecimalText.parse(".", scale: 2) == nil)
        #expect(DecimalText.parse("1.2.3", scale: 2) == nil)
        #expect(DecimalText.parse("99999999999999999999", scale: 2) == nil)
    }

    @Test func formatsBack() {
        #expect(DecimalText.format(2999, scale: 2) == "29.99")
        #expect(DecimalText.format(-5, scale: 2) == "-0.05")
        #expect(DecimalText.format(0, scale: 2) == "0.00")
        #expect(DecimalText.format(123, scale: 0) == "123")
    }
}
