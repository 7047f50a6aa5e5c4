import LakeCatalog
import LakeFormat
/// Writes the three sample sources (orders JSONL, product catalog JSON, inventory CSV) with a
/// realistic shape (skewed customers and products, diurnal traffic, fixed home addresses) and a
/// documented sprinkling of the faults real streams carry. See `FaultRates` for the rates.
public enum OrderGenerator {
    public static let channels = ["web", "mobile", "api"]
    static let channelWeights = [0.5, 0.35, 0.15]
    static let statuses = [OrderStatus.confirmed, .pending, .cancelled].map(\.rawValue)
    static let statusWeights = [0.8, 0.12, 0.08]
    static let mobileIndex = 1

    struct Location {
        let country: String, state: String, city: String
        let weight: Double
    }

    // A few countries/states/cities; non-ASCII names exercise UTF-8 and \u escapes end to end.
    static let locations: [Location] = [
        .init(country: "US", state: "CA", city: "San Francisco", weight: 8),
        .init(country: "US", state: "CA", city: "Los Angeles", weight: 8),
        .init(country: "US", state: "NY", city: "New York", weight: 10),
        .init(country: "US", state: "TX", city: "Austin", weight: 5),
        .init(country: "US", state: "TX", city: "Dallas", weight: 4),
        .init(country: "US", state: "WA", city: "Seattle", weight: 5),
        .init(country: "US", state: "IL", city: "Chicago", weight: 5),
        .init(country: "CA", state: "ON", city: "Toronto", weight: 4),
        .init(country: "CA", state: "QC", city: "Montréal", weight: 2),
        .init(country: "CA", state: "BC", city: "Vancouver", weight: 2),
        .init(country: "GB", state: "ENG", city: "London", weight: 5),
        .init(country: "GB", state: "ENG", city: "Manchester", weight: 2),
        .init(country: "DE", state: "BY", city: "München", weight: 2),
        .init(country: "DE", state: "BE", city: "Berlin", weight: 3),
    ]

    struct CategorySpec {
        let name: String
        let brands: [String]
        let nouns: [String]
        let priceCents: ClosedRange<Int>
    }

    static let categories: [CategorySpec] = [
        .init(name: "Electronics", brands: ["TechCorp", "SoundWave", "PixelPro"],
              nouns: ["wireless headphones", "bluetooth speaker", "27\" 4K monitor", "USB-C hub", "mechanical keyboard", "smart watch"],
              priceCents: 1999 ... 59999),
        .init(name: "Home & Kitchen", brands: ["HomeEase", "ChefMate"],
              nouns: ["café-grade espresso grinder", "cast iron skillet", "air purifier", "knife set", "stand mixer"],
              priceCents: 1499 ... 34999),
        .init(name: "Sports", brands: ["ActiveGear", "PeakForm"],
              nouns: ["yoga mat", "running shoes", "dumbbell set", "cycling helmet", "water bottle"],
              priceCents: 999 ... 19999),
        .init(name: "Books", brands: ["PageTurner", "Inkwell"],
              nouns: ["data engineering handbook", "cookbook", "mystery novel", "travel guide"],
              priceCents: 799 ... 5999),
        .init(name: "Clothing", brands: ["UrbanThread", "NordWear"],
              nouns: ["rain jacket", "wool sweater", "denim jeans", "cotton t-shirt"],
              priceCents: 1299 ... 17999),
        .init(name: "Beauty", brands: ["GlowLab"],
              nouns: ["face serum", "hair dryer", "sunscreen SPF 50"],
              priceCents: 599 ... 8999),
        .init(name: "Toys", brands: ["PlayBright", "BrickWorks"],
              nouns: ["building blocks set", "puzzle (1000 pieces)", "remote control car"],
              priceCents: 999 ... 14999),
    ]
    static let adjectives = ["High-performance", "Compact", "Premium", "Everyday", "Eco-friendly", "Professional", "Lightweight", "Classic"]
    static let warehouses = ["WH-SF", "WH-NY", "WH-DAL", "WH-CHI", "WH-SEA"]

    struct Product {
        let id: [UInt8]
        let category: Int
        let brand: String
        let priceCents: Int64
        let launchDay: Int64
        let description: String
    }

    static let microsPerDay: Int64 = 86_400_000_000

    /// Writes orders_stream.jsonl, product_catalog.json and inventory_updates.csv into `directory`
    /// (which must exist). `progress` counts the order lines written against all of them (spikes
    /// included); the catalog and inventory, written first, take no noticeable time.
    public static func generate(_ config: GeneratorConfig, into directory: String,
                                progress: WorkProgress? = nil) throws(GeneratorError) -> GenerationSummary {
        guard config.schemaVersion == 1 || config.schemaVersion == 2 else { throw .unsupportedSchemaVersion(config.schemaVersion) }
        guard config.orders >= 0, config.orders <= 100_000_000 else { throw .badConfig("--orders must be 0...100000000") }
        guard config.days >= 1, config.days <= 3660 else { throw .badConfig("--days must be 1...3660") }
        guard config.products >= 5, config.products <= 999 else { throw .badConfig("product count must be 5...999") }
        for s in config.spikes where !channels.contains(s.channel) {
            throw .badConfig("spike channel \(s.channel) is not one of \(channels.joined(separator: ", "))")
        }
        for s in config.spikes where s.factor < 1 || !s.factor.isFinite {
            throw .badConfig("spike factor must be at least 1")
        }
        for s in config.spikes where s.day < config.startDay || s.day >= config.startDay + Int64(config.days) {
            throw .badConfig("spike day \(CivilDate.format(days: s.day)) is outside the generated days")
        }
        // Separate streams per file, so adding orders never changes the catalog or inventory.
        var master = SplitMix64(seed: config.seed)
        var productRNG = SplitMix64(seed: master.next())
        var inventoryRNG = SplitMix64(seed: master.next())
        var orderRNG = SplitMix64(seed: master.next())

        var summary = GenerationSummary()
        let products = makeProducts(count: config.products, startDay: config.startDay, rng: &productRNG)
        summary.products = products.count
        do {
            try writeCatalog(products, path: directory + "/product_catalog.json")
            (summary.inventoryRows, summary.inventoryBadRows) = try writeInventory(
                products, rows: config.inventoryRows, config: config, path: directory + "/inventory_updates.csv", rng: &inventoryRNG)
            try writeOrders(config, products: products, path: directory + "/orders_stream.jsonl", rng: &orderRNG, summary: &summary, progress: progress)
        } catch {
            throw .io(error)
        }
        return summary
    }

    // MARK: products and inventory

    static func productID(_ i: Int) -> [UInt8] {
        var out = Array("PROD-".utf8)
        ByteFormat.appendPadded(i, width: 3, to: &out)
        return out
    }

    static func makeProducts(count: Int, startDay: Int64, rng: inout SplitMix64) -> [Product] {
        (0 ..< count).map { i in
            let c = i % categories.count  // every category represented
            let spec = categories[c]
            let brand = spec.brands[rng.below(spec.brands.count)]
            // Prices end in .99/.49/.00 like real price lists.
            let whole = rng.int(spec.priceCents.lowerBound / 100 ... spec.priceCents.upperBound / 100)
            let cents = [99, 49, 0, 95][rng.below(4)]
            let noun = spec.nouns[rng.below(spec.nouns.count)]
            let adj = adjectives[rng.below(adjectives.count)]
            return Product(id: productID(i + 1), category: c, brand: brand, priceCents: Int64(whole * 100 + cents),
                           launchDay: startDay - Int64(rng.int(30 ... 720)), description: "\(adj) \(noun)")
        }
    }

    static func writeCatalog(_ products: [Product], path: String) throws(FileIOError) {
        var w = try ByteWriter(path: path, bufferSize: 1 << 16)
        var out: [UInt8] = Array("[\n".utf8)
        for (i, p) in products.enumerated() {
            out += Array("  {\n    \"product_id\": ".utf8)
            JSONOut.string(p.id, asciiOnly: false, to: &out)
            out += Array(",\n    \"category\": ".utf8)
            JSONOut.string(Array(categories[p.category].name.utf8), asciiOnly: false, to: &out)
            out += Array(",\n    \"brand\": ".utf8)
            JSONOut.string(Array(p.brand.utf8), asciiOnly: false, to: &out)
            out += Array(",\n    \"price\": ".utf8)
            ByteFormat.appendCents(p.priceCents, to: &out)
            out += Array(",\n    \"launch_date\": \"".utf8)
            ByteFormat.appendISO(micros: p.launchDay * microsPerDay, millis: true, to: &out)
            out += Array("\",\n    \"description\": ".utf8)
            JSONOut.string(Array(p.description.utf8), asciiOnly: false, to: &out)
            out += Array(i + 1 < products.count ? "\n  },\n".utf8 : "\n  }\n".utf8)
        }
        out += Array("]\n".utf8)
        try w.write(out)
        try w.close()
    }

    /// One row per product (cycling if more rows than products), each in one warehouse, stamped
    /// on the last generated day. Every 50th row carries "N/A" as quantity, as spreadsheets
    /// exported by hand do; the ingest must reject just that row.
    static func writeInventory(_ products: [Product], rows: Int, config: GeneratorConfig, path: String,
                               rng: inout SplitMix64) throws(FileIOError) -> (Int, Int) {
        var w = try ByteWriter(path: path, bufferSize: 1 << 16)
        var out = Array("product_id,available_quantity,warehouse_location,last_updated\n".utf8)
        var bad = 0
        let lastDay = config.startDay + Int64(config.days - 1)
        for r in 0 ..< rows {
            let p = products[r % products.count]
            out += p.id
            out.append(UInt8(ascii: ","))
            if config.faults != .none && r % 50 == 37 {
                out += Array("N/A".utf8)
                bad += 1
            } else {
                // ~10% of products are low on stock (< 10), the rest 10-500.
                let qty = rng.chance(0.1) ? rng.int(0 ... 9) : rng.int(10 ... 500)
                ByteFormat.appendInt(Int64(qty), to: &out)
            }
            out.append(UInt8(ascii: ","))
            out += Array(warehouses[rng.below(warehouses.count)].utf8)
            out.append(UInt8(ascii: ","))
            let minute = Int64(rng.int(6 * 60 ... 10 * 60)) / 5 * 5
            ByteFormat.appendISO(micros: lastDay * microsPerDay + minute * 60_000_000, millis: false, to: &out)
            out.append(UInt8(ascii: "\n"))
        }
        try w.write(out)
        try w.close()
        return (rows, bad)
    }

    // MARK: orders

    /// Relative order volume per hour of day (UTC): quiet nights, lunch and evening peaks.
    static let hourWeights: [Double] = [2, 1.5, 1, 1, 1, 1.5, 2.5, 4, 5, 6, 6.5, 7, 8, 7.5, 7, 6.5, 6.5, 7, 8, 9, 9, 7.5, 5, 3]

    static func writeOrders(_ config: GeneratorConfig, products: [Product], path: String,
                            rng: inout SplitMix64, summary: inout GenerationSummary, progress: WorkProgress? = nil) throws(FileIOError) {
        // 1. When and where each order happens: (time micros << 2 | channel), sorted by time.
        var hourCDF: [Double] = []
        var acc = 0.0
        for h in hourWeights { acc += h; hourCDF.append(acc) }
        func randomTime(day: Int64, _ rng: inout SplitMix64) -> Int64 {
            let x = rng.unit() * acc
            var hour = 0
            while hour < 23 && hourCDF[hour] <= x { hour += 1 }
            let second = Int64(hour * 3600 + rng.below(3600))
            return day * microsPerDay + second * 1_000_000
        }
        var slots: [Int64] = []
        slots.reserveCapacity(config.orders)
        for _ in 0 ..< config.orders {
            let day = config.startDay + Int64(rng.below(config.days))
            slots.append(randomTime(day: day, &rng) << 2 | Int64(rng.weighted(channelWeights)))
        }
        for spike in config.spikes {
            guard let index = channels.firstIndex(of: spike.channel) else { continue }  // generate() checked it
            let ch = Int64(index)
            let base = slots.reduce(0) { n, s in
                (s & 3) == ch && floorDiv(s >> 2, microsPerDay) == spike.day ? n + 1 : n
            }
            let extra = Int((Double(base) * (spike.factor - 1)).rounded())
            for _ in 0 ..< extra { slots.append(randomTime(day: spike.day, &rng) << 2 | ch) }
        }
        slots.sort()

        // 2. Customers: a population ~30% the size of the order count, drawn with a skew
        // (u^2) so a core of repeat buyers places many orders; each has one home address.
        let population = max(10, slots.count * 3 / 10)
        let locationWeights: [Double] = locations.map(\.weight)
        var customerLocation = [UInt8](repeating: 0, count: population)
        for i in 0 ..< population { customerLocation[i] = UInt8(rng.weighted(locationWeights)) }
        let customerWidth = max(5, String(population).count)

        // Order ids: an affine bijection over the id range scatters them (ORD-100000 upwards)
        // while guaranteeing uniqueness.
        var idWidth = 6
        var rangeSize = 900_000
        while rangeSize < slots.count * 2 { idWidth += 1; rangeSize *= 10 }
        let idLow = rangeSize / 9
        let multiplier = 7_919 * 104_729 % rangeSize  // product of primes > 5: coprime to 2^a 3^2 5^b
        // Where in the id sequence this seed starts: the sample's seed keeps the original ids, any
        // other seed starts elsewhere, so files from different seeds rarely share an order id
        // (they would be counted as duplicates when ingested into one lake).
        var idRNG = SplitMix64(seed: config.seed)
        let idShift = config.seed == GeneratorConfig.sampleSeed ? 0 : idRNG.below(rangeSize)

        // 3. Lines.
        var w = try ByteWriter(path: path)
        var line: [UInt8] = []
        line.reserveCapacity(1024)
        var recent: [[UInt8]] = []  // ring of recently accepted lines, for replays
        var recentNext = 0
        let f = config.faults
        let kinds: [(GeneratedLineKind, Double)] = [
            (.truncated, f.truncated), (.syntax, f.syntax), (.missingField, f.missingField), (.badQuantity, f.badQuantity),
            (.negativePrice, f.negativePrice), (.unknownProduct, f.unknownProduct), (.badEnum, f.badEnum),
            (.replay, f.replay), (.late, f.late),
        ]
        var counts = [Int](repeating: 0, count: GeneratedLineKind.allCases.count)
        let kindIndex = Dictionary(uniqueKeysWithValues: GeneratedLineKind.allCases.enumerated().map { ($1, $0) })
        var items: [(product: Int, quantity: Int64, cents: Int64)] = []

        // v2 fields come from their own stream, so a v2 file holds the same orders as v1 with the seed.
        var v2RNG = SplitMix64(seed: config.seed ^ 0x5EED_0002)
        let total = Int64(slots.count)
        progress?(0, total)
        for (slotIndex, slot) in slots.enumerated() {
            // Every 16 Ki lines: a call per line would cost more than the bar is worth.
            if slotIndex & 0x3FFF == 0x3FFF { progress?(Int64(slotIndex), total) }
            // One draw decides the fault, so rates stay independent of everything else.
            var kind = GeneratedLineKind.clean
            var x = rng.unit()
            for (k, p) in kinds {
                if x < p { kind = k; break }
                x -= p
            }
            if kind == .replay {
                if recent.isEmpty {
                    kind = .clean
                } else {
                    try w.write(recent[rng.below(recent.count)])
                    counts[kindIndex[.replay]!] += 1
                    summary.lines += 1
                    continue
                }
            }
            let channel = Int(slot & 3)
            var eventTime = slot >> 2
            if kind == .late { eventTime -= Int64(rng.int(1 ... 3)) * microsPerDay + Int64(rng.below(86_400)) * 1_000_000 }
            let variant = channel == mobileIndex && rng.chance(f.mobileVariant)
            if variant && kind == .clean { kind = .mobileVariant }

            let u = rng.unit()
            let customer = Int(u * u * Double(population))
            let location = locations[Int(customerLocation[customer])]
            let status = rng.weighted(statusWeights)

            // Items: 1-4 distinct products, popular products more likely, quantity mostly 1-2,
            // and now and then a discount off the list price.
            let itemCount = [1, 2, 3, 4][rng.weighted([0.35, 0.3, 0.2, 0.15])]
            items.removeAll(keepingCapacity: true)
            while items.count < itemCount {
                let v = rng.unit()
                let p = Int(v * v * Double(products.count))
                if items.contains(where: { $0.product == p }) { continue }
                let quantity = Int64([1, 2, 3, 4, 5][rng.weighted([0.6, 0.22, 0.1, 0.05, 0.03])])
                var cents = products[p].priceCents
                if rng.chance(0.1) { cents = cents * Int64(80 + rng.below(16)) / 100 }
                items.append((p, quantity, cents))
            }

            // Which field a fault touches.
            var omit = -1, emptyField = -1
            var badItem = -1
            var badValue: Int64 = 0
            var badChannel: [UInt8]? = nil, badStatus: [UInt8]? = nil
            switch kind {
            case .missingField:
                let fieldIdx = [0, 1, 2, 3, 4, 6][rng.below(6)]
                if fieldIdx != 2 && fieldIdx != 4 && rng.chance(0.25) { emptyField = fieldIdx } else { omit = fieldIdx }
            case .badQuantity:
                badItem = rng.below(items.count)
                badValue = -Int64(rng.below(3))
            case .negativePrice, .unknownProduct:
                badItem = rng.below(items.count)
            case .badEnum:
                let v = rng.below(4)
                if v < 2 { badChannel = Array(["WEB", "store"][v].utf8) } else { badStatus = Array(["shipped", "Confirmed"][v - 2].utf8) }
            default: break
            }

            line.removeAll(keepingCapacity: true)
            line.append(UInt8(ascii: "{"))
            var first = true
            func key(_ k: [UInt8], _ line: inout [UInt8]) {
                if !first { line += Lit.comma }
                first = false
                line += k
            }
            let idValue = idLow + ((slotIndex + idShift) % rangeSize * multiplier + 12_345) % rangeSize
            if omit != 0 {
                key(Lit.key_order_id, &line)
                if emptyField == 0 { line += [34, 34] } else {
                    line += Lit.ordPrefix
                    ByteFormat.appendPadded(idValue, width: idWidth, to: &line)
                    line.append(34)
                }
            }
            if omit != 1 {
                key(variant ? Lit.key_customerId : Lit.key_customer_id, &line)
                if emptyField == 1 { line += [34, 34] } else {
                    line += Lit.custPrefix
                    ByteFormat.appendPadded(customer + 1, width: customerWidth, to: &line)
                    line.append(34)
                }
            }
            if omit != 2 {
                if variant {
                    key(Lit.key_ts, &line)
                    ByteFormat.appendInt(floorDiv(eventTime, 1000), to: &line)
                } else {
                    key(Lit.key_timestamp, &line)
                    line.append(34)
                    ByteFormat.appendISO(micros: eventTime, millis: false, to: &line)
                    line.append(34)
                }
            }
            if omit != 3 {
                key(Lit.key_channel, &line)
                if emptyField == 3 { line += [34, 34] } else if let bad = badChannel {
                    JSONOut.string(bad, asciiOnly: true, to: &line)
                } else {
                    JSONOut.string(Array(channels[channel].utf8), asciiOnly: true, to: &line)
                }
            }
            var total: Int64 = 0
            if omit != 4 {
                key(Lit.key_items, &line)
                line.append(UInt8(ascii: "["))
                for (i, item) in items.enumerated() {
                    if i > 0 { line += [44, 32] }
                    line += Lit.itemOpen
                    if i == badItem && kind == .unknownProduct {
                        line += Lit.unknownProductPrefix
                        ByteFormat.appendPadded(rng.below(100), width: 2, to: &line)
                    } else {
                        line += products[item.product].id
                    }
                    line += Lit.quantityKey
                    ByteFormat.appendInt(i == badItem && kind == .badQuantity ? badValue : item.quantity, to: &line)
                    line += Lit.unitPriceKey
                    ByteFormat.appendCents(i == badItem && kind == .negativePrice ? -item.cents : item.cents, to: &line)
                    line.append(UInt8(ascii: "}"))
                    total += item.quantity * item.cents
                }
                line.append(UInt8(ascii: "]"))
            }
            key(Lit.key_shipping_address, &line)
            line += Lit.countryKey
            JSONOut.string(Array(location.country.utf8), asciiOnly: variant, to: &line)
            line += Lit.stateKey
            JSONOut.string(Array(location.state.utf8), asciiOnly: variant, to: &line)
            line += Lit.cityKey
            JSONOut.string(Array(location.city.utf8), asciiOnly: variant, to: &line)
            line.append(UInt8(ascii: "}"))
            if omit != 6 {
                key(Lit.key_status, &line)
                if emptyField == 6 { line += [34, 34] } else if let bad = badStatus {
                    JSONOut.string(bad, asciiOnly: true, to: &line)
                } else {
                    JSONOut.string(Array(statuses[status].utf8), asciiOnly: true, to: &line)
                }
            }
            if config.schemaVersion == 2 {
                // schemas/orders v2: currency, an order-level discount (never above the total), and a
                // payment method that older clients leave out (it reads as null).
                line += Lit.currencyKey
                JSONOut.string(Array(Lit.currencies[v2RNG.below(10) < 7 ? 0 : 1 + v2RNG.below(Lit.currencies.count - 1)].utf8), asciiOnly: true, to: &line)
                line += Lit.discountKey
                ByteFormat.appendCents(v2RNG.below(5) == 0 ? max(0, total) / 10 : 0, to: &line)
                if v2RNG.below(10) != 0 {
                    line += Lit.paymentKey
                    JSONOut.string(Array(Lit.paymentMethods[v2RNG.below(Lit.paymentMethods.count)].utf8), asciiOnly: true, to: &line)
                }
            }
            line.append(UInt8(ascii: "}"))

            switch kind {
            case .truncated:
                line.removeSubrange(rng.int(1 ... line.count - 1)...)
            case .syntax:
                // Drop the colon after one key: `"channel" "web"`.
                var colons: [Int] = []
                for i in 1 ..< line.count where line[i] == UInt8(ascii: ":") && line[i - 1] == 34 { colons.append(i) }
                line.remove(at: colons[rng.below(colons.count)])
            default: break
            }
            line.append(UInt8(ascii: "\n"))
            try w.write(line)
            counts[kindIndex[kind]!] += 1
            summary.lines += 1
            if !kind.rejected {
                summary.acceptedTotalCents += total
                summary.acceptedItems += items.count
                if recent.count < 64 { recent.append(line) } else { recent[recentNext] = line; recentNext = (recentNext + 1) % 64 }
            }
        }
        summary.orderBytes = try w.close()
        progress?(total, total)
        for (i, k) in GeneratedLineKind.allCases.enumerated() where counts[i] > 0 { summary.counts[k] = counts[i] }
    }
}

/// JSON string output for the generator.
enum JSONOut {
    static let hex = Array("0123456789abcdef".utf8)

    /// Quotes and escapes `s`. With `asciiOnly`, non-ASCII is written as \uXXXX (surrogate pairs
    /// above U+FFFF), as the mobile app's serializer and Python's json.dumps do.
    static func string(_ s: [UInt8], asciiOnly: Bool, to out: inout [UInt8]) {
        out.append(34)
        if !asciiOnly && !s.contains(where: { $0 < 0x20 || $0 == 34 || $0 == 92 }) {
            out += s
            out.append(34)
            return
        }
        for scalar in String(decoding: s, as: UTF8.self).unicodeScalars {
            let v = scalar.value
            switch v {
            case 34: out += [92, 34]
            case 92: out += [92, 92]
            case 10: out += [92, UInt8(ascii: "n")]
            case 9: out += [92, UInt8(ascii: "t")]
            case 0 ..< 0x20: unicodeEscape(v, to: &out)
            case 0x20 ..< 0x80: out.append(UInt8(v))
            default:
                if !asciiOnly {
                    out += Array(String(scalar).utf8)
                } else if v > 0xFFFF {
                    let u = v - 0x10000
                    unicodeEscape(0xD800 + (u >> 10), to: &out)
                    unicodeEscape(0xDC00 + (u & 0x3FF), to: &out)
                } else {
                    unicodeEscape(v, to: &out)
                }
            }
        }
        out.append(34)
    }

    static func unicodeEscape(_ v: UInt32, to out: inout [UInt8]) {
        out += [92, UInt8(ascii: "u"), hex[Int(v >> 12 & 15)], hex[Int(v >> 8 & 15)], hex[Int(v >> 4 & 15)], hex[Int(v & 15)]]
    }
}

/// Byte literals used once per generated line (built once, not per line).
enum Lit {
    static let comma = Array(", ".utf8)
    static let key_order_id = Array("\"order_id\": ".utf8)
    static let key_customer_id = Array("\"customer_id\": ".utf8)
    static let key_customerId = Array("\"customerId\": ".utf8)
    static let key_ts = Array("\"ts\": ".utf8)
    static let key_timestamp = Array("\"timestamp\": ".utf8)
    static let key_channel = Array("\"channel\": ".utf8)
    static let key_items = Array("\"items\": ".utf8)
    static let key_shipping_address = Array("\"shipping_address\": ".utf8)
    static let key_status = Array("\"status\": ".utf8)
    static let cityKey = Array(", \"city\": ".utf8)
    static let countryKey = Array("{\"country\": ".utf8)
    static let custPrefix = Array("\"CUST-".utf8)
    static let itemOpen = Array("{\"product_id\": \"".utf8)
    static let ordPrefix = Array("\"ORD-".utf8)
    static let quantityKey = Array("\", \"quantity\": ".utf8)
    static let stateKey = Array(", \"state\": ".utf8)
    static let unitPriceKey = Array(", \"unit_price\": ".utf8)
    static let unknownProductPrefix = Array("PROD-9".utf8)
    static let currencyKey = Array(", \"currency\": ".utf8)
    static let discountKey = Array(", \"discount_amount\": ".utf8)
    static let paymentKey = Array(", \"payment_method\": ".utf8)
    static let currencies = ["USD", "EUR", "GBP", "CAD"]
    static let paymentMethods = ["card", "paypal", "bank_transfer", "gift_card"]
}
