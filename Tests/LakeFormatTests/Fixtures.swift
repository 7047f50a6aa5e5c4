import Foundation
@testable import LakeFormat

/// An order-items-like batch covering every type, with nulls in the nullable columns.
func sampleBatch(rows: Int, seed: UInt64 = 7) -> RecordBatch {
    var rng = SplitMix64(seed: seed)
    let schema = Schema([
        Field("order_id", .string, fieldID: 1),
        Field("channel", .string, fieldID: 2),
        Field("line", .int32, fieldID: 3),
        Field("quantity", .int64, fieldID: 4),
        Field("unit_price", .decimal(precision: 18, scale: 2), fieldID: 5),
        Field("event_time", .timestamp, fieldID: 6),
        Field("event_date", .date, fieldID: 7),
        Field("weight", .double, nullable: true, fieldID: 8),
        Field("gift", .bool, nullable: true, fieldID: 9),
        Field("coupon", .string, nullable: true, fieldID: 10),
        Field("score", .int32, nullable: true, fieldID: 11),
        Field("discount", .decimal(precision: 18, scale: 2), nullable: true, fieldID: 12),
    ])
    var orderIDs = StringColumn(), channels = StringColumn(), coupons = StringColumn()
    var lines: [Int32] = [], qty: [Int64] = [], price: [Int64] = [], time: [Int64] = [], date: [Int32] = []
    var weight: [Double] = [], gift: [Bool] = [], score: [Int32] = [], discount: [Int64] = []
    var wValid: [Bool] = [], gValid: [Bool] = [], cValid: [Bool] = [], sValid: [Bool] = [], dValid: [Bool] = []
    let channelNames = ["web", "mobile", "api"]
    let base: Int64 = 1_704_067_200_000_000  // 2024-01-01T00:00:00Z
    for i in 0 ..< rows {
        orderIDs.append("ORD-\(100_000 + i / 2)")
        channels.append(channelNames[rng.int(0 ..< 3)])
        lines.append(Int32(i % 4))
        qty.append(Int64(rng.int(-2 ..< 10)))
        price.append(Int64(rng.int(0 ..< 50)) * 1999 - 25_000)
        let t = base + Int64(i) * 1_234_567_891
        time.append(t)
        date.append(Int32(t / 86_400_000_000))
        let w = !rng.chance(0.2); wValid.append(w); weight.append(w ? Double(rng.int(0 ..< 400)) * 0.25 : 0)
        let g = !rng.chance(0.3); gValid.append(g); gift.append(g ? rng.chance(0.5) : false)
        let c = rng.chance(0.1); cValid.append(c)
        if c { coupons.append(["SAVE10", "WELCOME", "ünïcødé ✓"][rng.int(0 ..< 3)]) } else { coupons.appendEmpty() }
        let s = !rng.chance(0.5); sValid.append(s); score.append(s ? Int32(rng.int(-1000 ..< 1000)) : 0)
        let d = rng.chance(0.4); dValid.append(d); discount.append(d ? Int64(rng.int(0 ..< 500)) : 0)
    }
    return RecordBatch(schema: schema, columns: [
        Column(.string(orderIDs)), Column(.string(channels)), Column(.int32(lines)), Column(.int64(qty)),
        Column(.int64(price)), Column(.int64(time)), Column(.int32(date)),
        Column(.double(weight), validity: wValid), Column(.bool(gift), validity: gValid),
        Column(.string(coupons), validity: cValid), Column(.int32(score), validity: sValid),
        Column(.int64(discount), validity: dValid),
    ])
}
