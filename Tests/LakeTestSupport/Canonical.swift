import Foundation
import LakeFormat

/// Shared by the Parquet peer tests of every layer: our rows and the peers' rows (pyarrow,
/// DuckDB) in one canonical text form, so a file is compared value by value across readers.

/// Every value as text in one canonical form, shared with the Python peers' dumps:
/// null, true/false, integers, decimals as "12.34", timestamps as epoch micros, dates as days.
public func canonicalRows(_ batch: RecordBatch) -> [[String]] {
    let columns = batch.columns.map { $0.materialized() }
    return (0 ..< batch.count).map { row in
        zip(batch.schema.fields, columns).map { field, col in
            if col.isNull(row) { return "null" }
            switch col.data {
            case .bool(let a): return a[row] ? "true" : "false"
            case .int32(let a): return String(a[row])
            case .int64(let a):
                if case .decimal(_, let s) = field.type { return DecimalText.format(a[row], scale: s) }
                return String(a[row])
            case .double(let a): return a[row] == a[row].rounded() ? String(Int64(a[row])) + ".0" : String(a[row])
            case .string(let s): return s[row]
            case .dictionary: return col.string(at: row) ?? "null"
            }
        }
    }
}

/// Python that prints a table's rows in the canonical form above (pyarrow or DuckDB values).
public let pythonCanonical = """
import json, datetime, decimal
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
def canon(v):
    if v is None: return "null"
    if isinstance(v, bool): return "true" if v else "false"
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None: v = v.replace(tzinfo=datetime.timezone.utc)
        return str((v - EPOCH) // datetime.timedelta(microseconds=1))
    if isinstance(v, datetime.date): return str((v - datetime.date(1970, 1, 1)).days)
    if isinstance(v, decimal.Decimal): return str(v)
    if isinstance(v, float): return repr(v)
    return str(v)
def dump(rows):
    print(json.dumps([[canon(v) for v in r] for r in rows]))

"""

public func decodeRows(_ json: Any) -> [[String]] { (json as? [[String]]) ?? [] }
