import Foundation

/// The OpenAPI 3.1 description of the API, built from the endpoint table so parameters cannot
/// drift from what the server accepts. `lake serve --openapi` prints it; docs/openapi.json is
/// that output, checked in (a test compares the two).
public enum OpenAPI {
    public static let document: String = {
        // Dictionaries of strings, numbers, booleans and arrays: serialisation cannot fail.
        let data = try! JSONSerialization.data(withJSONObject: spec(), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }()

    static var money: [String: Any] { ["type": "string", "pattern": "^-?[0-9]+\\.[0-9]{2}$", "description": "exact decimal, two places"] }
    static var moneyOrNull: [String: Any] { ["type": ["string", "null"], "pattern": "^-?[0-9]+\\.[0-9]{2}$"] }
    static var int: [String: Any] { ["type": "integer"] }
    static var number: [String: Any] { ["type": "number"] }
    static var numberOrNull: [String: Any] { ["type": ["number", "null"]] }
    static var string: [String: Any] { ["type": "string"] }
    static var stringOrNull: [String: Any] { ["type": ["string", "null"]] }
    static var date: [String: Any] { ["type": "string", "format": "date"] }
    static var time: [String: Any] { ["type": "string", "format": "date-time"] }
    static var bool: [String: Any] { ["type": "boolean"] }

    static func rows(_ properties: [(String, [String: Any])]) -> [String: Any] {
        ["type": "array", "items": [
            "type": "object", "additionalProperties": false,
            "required": properties.map(\.0), "properties": Dictionary(uniqueKeysWithValues: properties),
        ] as [String: Any]]
    }

    static func schema(_ e: DataEndpoint) -> [String: Any] {
        switch e {
        case .dailySales:
            return rows([("date", date), ("channel", string), ("country", string), ("orders", int), ("units", int), ("revenue", money),
                         ("avg_order_value", moneyOrNull), ("customers", int), ("pending", int), ("cancelled", int)])
        case .topCustomers:
            return rows([("customer_id", string), ("rank", int), ("orders", int), ("lifetime_value", money), ("avg_order_value", money),
                         ("first_order", time), ("last_order", time), ("avg_days_between_orders", numberOrNull)])
        case .productMetrics:
            return rows([("product_id", string), ("category", string), ("brand", string), ("revenue_rank", int), ("revenue", money),
                         ("units_rank", int), ("units", int), ("orders", int), ("on_hand", int), ("list_price", moneyOrNull),
                         ("inventory_value", moneyOrNull), ("days_of_cover", numberOrNull)])
        case .inventory:
            return rows([("product_id", string), ("warehouse", string), ("on_hand", int), ("units_sold", int), ("turnover", numberOrNull),
                         ("days_of_cover", numberOrNull), ("low_stock", bool)])
        case .snapshots:
            return rows([("snapshot_id", int), ("time", time), ("schema_version", int), ("changes", string), ("author", stringOrNull),
                         ("message", stringOrNull)])
        case .tables:
            return rows([("table", string), ("table_id", int), ("files", int), ("rows", int), ("columns", string), ("partitioned_by", string)])
        case .quality:
            return ["type": "object", "description": "one array of row objects per section (summary, batches, checks, days, anomalies)",
                    "additionalProperties": ["type": "array", "items": ["type": "object"]]]
        }
    }

    static let summaries: [DataEndpoint: String] = [
        .dailySales: "Daily revenue by date, channel and country (confirmed orders); `lake report daily-revenue`.",
        .topCustomers: "Customer lifetime value: top customers by spend or orders; `lake report top-customers`.",
        .productMetrics: "Revenue, units, orders, ranks, stock on hand, inventory value and days of cover per product; `lake report product-metrics`.",
        .inventory: "On hand per product and warehouse, sales, turnover, low stock; `lake report inventory`.",
        .snapshots: "The lake's snapshots up to the one read; `lake report snapshots`.",
        .tables: "Tables with files, rows, columns and partitioning; `lake report tables`.",
        .quality: "Quality checks per batch and day, and anomalies; `lake quality report`.",
    ]

    static func parameter(_ name: String) -> [String: Any] {
        let (schema, description): ([String: Any], String)
        switch name {
        case "as_of": (schema, description) = (["type": "string", "pattern": "^[0-9]+$|^[0-9]{4}-[0-9]{2}-[0-9]{2}"], "snapshot id, or an ISO-8601 UTC time or date: the last snapshot at or before it")
        case "from": (schema, description) = (date, "first event date (inclusive)")
        case "to": (schema, description) = (date, "last event date (inclusive), not before from")
        // Not an enum: besides the registry's channels (web, mobile, api as shipped), a channel
        // the lake's orders hold at the snapshot (rows another engine wrote) is accepted.
        case "channel": (schema, description) = (["type": "string", "minLength": 1, "maxLength": 100],
                                                 "only this channel: one of the orders schema's (web, mobile, api as shipped) or one the lake's orders hold at the snapshot; another is a 400 listing both")
        case "country": (schema, description) = (["type": "string", "minLength": 1, "maxLength": 100], "only orders shipped to this country")
        case "limit": (schema, description) = (["type": "integer", "minimum": 1, "maximum": DataEndpoint.maxLimit, "default": 10], "at most this many rows")
        case "by": (schema, description) = (["type": "string", "enum": ["spend", "orders"], "default": "spend"], "rank customers by")
        case "category": (schema, description) = (["type": "string", "minLength": 1, "maxLength": 100], "only products of this category")
        case "low_stock": (schema, description) = (["type": "integer", "minimum": 0, "maximum": 1_000_000_000, "default": 20], "units on hand below which stock is low")
        default: (schema, description) = (string, "")
        }
        return ["name": name, "in": "query", "required": false, "schema": schema, "description": description]
    }

    static func problem(_ description: String, headers: [String: Any] = [:]) -> [String: Any] {
        var r: [String: Any] = ["description": description, "content": ["application/problem+json": ["schema": ["$ref": "#/components/schemas/Problem"]]]]
        if !headers.isEmpty { r["headers"] = headers }
        return r
    }

    static var common: [String: Any] { [
        "401": problem("missing or invalid bearer token", headers: ["WWW-Authenticate": ["schema": string]]),
        "429": problem("rate limit exceeded", headers: ["Retry-After": ["schema": int, "description": "seconds"]]),
        "400": problem("a bad parameter, named in `parameter`"),
        "503": problem("the lake's catalog cannot be read"),
    ] }

    static func operation(_ summary: String, id: String, parameters: [String], ok: [String: Any], cached: Bool) -> [String: Any] {
        var responses = common
        var okHeaders: [String: Any] = [:]
        if cached {
            okHeaders = ["X-Lake-Snapshot": ["schema": int, "description": "the snapshot the answer was computed from"],
                         "ETag": ["schema": string, "description": "changes exactly when a commit could change the answer"]]
            responses["304"] = ["description": "not modified (If-None-Match matched)", "headers": okHeaders]
        }
        var okResponse = ok
        if !okHeaders.isEmpty { okResponse["headers"] = okHeaders }
        responses["200"] = okResponse
        return ["get": [
            "summary": summary, "operationId": id,
            "parameters": parameters.sorted().map(parameter) + (cached ? [["name": "If-None-Match", "in": "header", "required": false, "schema": string]] : []),
            "responses": responses,
        ] as [String: Any]]
    }

    static func spec() -> [String: Any] {
        var paths: [String: Any] = [:]
        for e in DataEndpoint.allCases {
            paths[e.path] = operation(summaries[e]!, id: e.rawValue, parameters: Array(e.parameters),
                                      ok: ["description": "the report's rows", "content": ["application/json": ["schema": schema(e)]]], cached: true)
        }
        paths["/healthz"] = operation("The catalog is reachable; the latest snapshot.", id: "healthz", parameters: [], ok: [
            "description": "healthy", "content": ["application/json": ["schema": [
                "type": "object", "required": ["status", "snapshot"], "properties": ["status": ["const": "ok"], "snapshot": int],
            ] as [String: Any]]],
        ], cached: false)
        paths["/metrics"] = operation("`lake metrics` figures plus request counts and latency histograms, Prometheus text format.", id: "metrics",
                                      parameters: [], ok: ["description": "Prometheus text exposition", "content": ["text/plain": ["schema": string]]], cached: false)
        paths["/openapi.json"] = operation("This document.", id: "openapi", parameters: [],
                                           ok: ["description": "OpenAPI 3.1", "content": ["application/json": ["schema": ["type": "object"]]]], cached: false)
        paths["/"] = operation("The dashboard of the latest snapshot (HTML with inline SVG charts; reloads every 30 s).", id: "dashboard",
                               parameters: [], ok: ["description": "HTML page", "content": ["text/html": ["schema": string]]], cached: true)
        return [
            "openapi": "3.1.0",
            "info": ["title": "lake API", "version": "1.0.0",
                     "description": "Read-only analytics over the lake. Every answer is computed from one snapshot (X-Lake-Snapshot); money is a string with two decimals, dates YYYY-MM-DD. Bodies equal `lake report … --format json`."],
            "servers": [["url": "http://127.0.0.1:8080"]],
            "security": [["bearer": [String]()]],
            "paths": paths,
            "components": [
                "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer", "description": "a token whose SHA-256 is in the server's --tokens file"]],
                "schemas": ["Problem": [
                    "type": "object", "required": ["type", "title", "status", "detail"],
                    "properties": ["type": string, "title": string, "status": int, "detail": string, "instance": string,
                                   "parameter": ["type": "string", "description": "the bad query parameter"]],
                ] as [String: Any]],
            ] as [String: Any],
        ]
    }
}
