// Format benchmark: writes and reads an order-items-like table with our Parquet code and
// prints JSON figures; bench/format.sh runs pyarrow on the very same file and prints ratios.
import Foundation
import LakeFormat

func orderItems(rows: Int) -> RecordBatch {
    var rng = SplitMix64(seed: 42)
    let schema = Schema([
        Field("order_id", .string, fieldID: 1), Field("line_number", .int32, fieldID: 2),
        Field("product_id", .string, fieldID: 3), Field("channel", .string, fieldID: 4),
        Field("status", .string, fieldID: 5), Field("country", .string, fieldID: 6),
        Field("quantity", .int32, fieldID: 7), Field("unit_price", .decimal(precision: 18, scale: 2), fieldID: 8),
        Field("line_revenue", .decimal(precision: 18, scale: 2), fieldID: 9), Field("event_time", .timestamp, fieldID: 10),
        Field("event_date", .date, fieldID: 11), Field("discount", .decimal(precision: 18, scale: 2), nullable: true, fieldID: 12),
        Field("coupon", .string, nullable: true, fieldID: 13),
    ])
    let channels = ["web", "mobile", "api"], statuses = ["confirmed", "pending", "cancelled"]
    let countries = ["US", "CA", "GB", "DE", "FR", "AU", "JP", "BR"]
    let prices = (0 ..< 50).map { _ in Int64(500 + rng.below(50_000)) }
    var orderID = StringColumn(), product = StringColumn(), channel = StringColumn(), status = StringColumn()
    var country = StringColumn(), coupon = StringColumn()
    var line: [Int32] = [], qty: [Int32] = [], price: [Int64] = [], revenue: [Int64] = [], time: [Int64] = []
    var date: [Int32] = [], discount: [Int64] = [], discountValid: [Bool] = [], couponValid: [Bool] = []
    orderID.reserve(count: rows, bytes: rows * 10)
    var order = 0, linesLeft = 0
    var t: Int64 = 1_704_067_200_000_000
    var ch = "", st = "", co = ""
    for _ in 0 ..< rows {
        if linesLeft == 0 {
            order += 1
            linesLeft = 1 + rng.below(4)
            t += Int64(rng.below(5_000_000_000))
            ch = channels[rng.below(3)]
            st = statuses[rng.below(10) < 8 ? 0 : 1 + rng.below(2)]
            co = countries[rng.below(countries.count)]
        }
        linesLeft -= 1
        orderID.append("ORD-\(order)")
        line.append(Int32(4 - linesLeft))
        let p = rng.below(50)
        product.append("PROD-\(String(format: "%03d", p + 1))")
        channel.append(ch); status.append(st); country.append(co)
        let q = Int32(1 + rng.below(5))
        qty.append(q)
        price.append(prices[p])
        revenue.append(prices[p] * Int64(q))
        time.append(t)
        date.append(Int32(t / 86_400_000_000))
        let d = rng.below(10) < 3
        discountValid.append(d); discount.append(d ? Int64(rng.below(2_000)) : 0)
        let c = rng.below(10) == 0
        couponValid.append(c)
        if c { coupon.append(["SAVE10", "WELCOME", "VIP"][rng.below(3)]) } else { coupon.appendEmpty() }
    }
    return RecordBatch(schema: schema, columns: [
        Column(.string(orderID)), Column(.int32(line)), Column(.string(product)), Column(.string(channel)),
        Column(.string(status)), Column(.string(country)), Column(.int32(qty)), Column(.int64(price)),
        Column(.int64(revenue)), Column(.int64(time)), Column(.int32(date)),
        Column(.int64(discount), validity: discountValid), Column(.string(coupon), validity: couponValid),
    ])
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

let args = CommandLine.arguments
guard args.count >= 3 else {
    FileHandle.standardError.write(Data("usage: LakeBench ROWS OUT.parquet\n".utf8))
    exit(2)
}
let rows = Int(args[1]) ?? 2_500_000
let path = args[2]
let batch = orderItems(rows: rows)
var options = ParquetWriteOptions()
options.rowGroupRows = 1 << 20  // pyarrow's default row-group size, for a like-for-like file
var summary: ParquetFileSummary?
let write = try seconds { summary = try ParquetFileWriter.write(batch, to: path, options: options) }
var readRows = 0
let read = try seconds { readRows = try ParquetFileReader(path: path).readRowGroups().reduce(0) { $0 + $1.count } }
precondition(readRows == rows, "read back \(readRows) rows")
let out: [String: Any] = ["rows": rows, "write_s": write, "read_s": read, "bytes": summary?.fileSize ?? 0]
print(String(decoding: try JSONSerialization.data(withJSONObject: out), as: UTF8.self))
