#!/usr/bin/env python3
"""Corrected FastCommerce order pipeline: the fix for ``broken_pipeline_code.py``.

Reads an orders JSONL file, validates and normalises every record, drops repeated order ids
(the first occurrence wins), and builds a daily revenue report per UTC date and channel plus a
top-customers list. DEBUGGING.md lists each defect of the original and how this file fixes it.

Decisions worth knowing before reading the code:

* Money is ``decimal.Decimal`` from the moment a line is parsed (``json.loads`` with
  ``parse_float=Decimal``), so ``29.99`` is never a binary float. Line amounts
  (quantity x unit price) are exact; each order total is quantized once to cents with
  ``ROUND_HALF_UP`` (half a cent rounds away from zero, the commercial rule customers and
  finance expect, unlike Python's default banker's rounding). Averages use the same rule.
* Event time is UTC. ``timestamp`` must be ISO-8601 with ``Z`` or an explicit offset (a naive
  time is ambiguous and is rejected); the mobile variant's ``ts`` is epoch milliseconds. An
  order's report date is its UTC calendar date, whatever offset it was written with.
* Only ``confirmed`` orders count as revenue. ``pending`` and ``cancelled`` orders are kept,
  counted and reported separately instead of disappearing silently.
* Nothing crashes on bad data: blank lines, malformed lines and invalid records are skipped,
  counted, logged with their line number and kept in the results with a reason.
* No pandas: grouping a few thousand orders needs a dict, not a 0.7 s import, and pandas'
  float coercion and NaN-dropping group-bys caused several of the original bugs.

Run as a script::

    python fixed_pipeline_code.py ORDERS.jsonl --out processed.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar

logger = logging.getLogger("fastcommerce.orders")

CENTS = Decimal("0.01")
#: Rounding for every quantization to cents (order totals and averages): 0.005 -> 0.01.
ROUNDING = ROUND_HALF_UP
CHANNELS = ("api", "mobile", "web")
STATUSES = ("confirmed", "pending", "cancelled")
#: The one status that is revenue; the others are counted but never summed.
REVENUE_STATUS = "confirmed"
REPORT_COLUMNS = ("order_date", "channel", "revenue", "orders", "avg_order_value", "unique_customers")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Largest amount a DECIMAL(18,2) column (the lake's money type) can hold.
MAX_AMOUNT = Decimal("9999999999999999.99")
_ZERO = Decimal("0.00")


class InvalidOrder(ValueError):
    """A line that is valid JSON but not a usable order. The message is the rejection reason."""


# --------------------------------------------------------------------------------------------
# Value types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineItem:
    """One validated order line: a positive whole quantity at an exact, non-negative price."""

    product_id: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        """Exact line amount; not rounded here so an order is rounded once, not per line."""
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class Order:
    """A validated, normalised order. Built from a raw record, never written back into it."""

    order_id: str
    customer_id: str
    timestamp: datetime  # timezone-aware, always UTC
    channel: str
    status: str
    items: tuple[LineItem, ...]
    shipping_address: Mapping[str, Any]
    order_total: Decimal  # quantized to cents
    source_line: int  # 1-based line in the input file, for tracing a number back to its line

    @property
    def order_date(self) -> date:
        """The UTC calendar date the report groups this order under."""
        return self.timestamp.date()

    def same_content(self, other: Order) -> bool:
        """True when two records of one order id carry the same data (only the line differs)."""
        return (
            self.customer_id,
            self.timestamp,
            self.channel,
            self.status,
            self.items,
            dict(self.shipping_address),
        ) == (
            other.customer_id,
            other.timestamp,
            other.channel,
            other.status,
            other.items,
            dict(other.shipping_address),
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: ISO-8601 UTC strings for times, decimal strings for money."""
        return {
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "timestamp": iso_utc(self.timestamp),
            "order_date": self.order_date.isoformat(),
            "channel": self.channel,
            "status": self.status,
            "items": [
                {
                    "product_id": item.product_id,
                    "quantity": item.quantity,
                    "unit_price": money_text(item.unit_price),
                }
                for item in self.items
            ],
            "shipping_address": dict(self.shipping_address),
            "order_total": money_text(self.order_total),
            "source_line": self.source_line,
        }


@dataclass(frozen=True, slots=True)
class LineIssue:
    """A skipped line: blank, malformed, rejected or duplicate, with a human-readable reason."""

    line: int
    reason: str
    order_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "order_id": self.order_id, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What ``load_orders`` read: the JSON objects with their line numbers, and what it skipped."""

    records: tuple[tuple[int, dict[str, Any]], ...]
    lines_read: int
    blank_lines: tuple[int, ...]
    malformed: tuple[LineIssue, ...]


@dataclass(frozen=True, slots=True)
class ProcessSummary:
    """Counts from one ``process_orders`` run; every input line lands in exactly one bucket."""

    lines_read: int
    blank_lines: int
    malformed_lines: int
    rejected: int
    duplicates: int
    accepted: int
    status_counts: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "lines_read": self.lines_read,
            "blank_lines": self.blank_lines,
            "malformed_lines": self.malformed_lines,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "accepted": self.accepted,
            "status_counts": dict(self.status_counts),
        }


@dataclass(frozen=True, slots=True)
class DailyRow:
    """One (UTC date, channel) row of the daily report, over confirmed orders only."""

    order_date: date
    channel: str
    revenue: Decimal
    orders: int
    avg_order_value: Decimal
    unique_customers: int

    def to_json(self) -> dict[str, Any]:
        return {
            "order_date": self.order_date.isoformat(),
            "channel": self.channel,
            "revenue": money_text(self.revenue),
            "orders": self.orders,
            "avg_order_value": money_text(self.avg_order_value),
            "unique_customers": self.unique_customers,
        }


@dataclass(frozen=True, slots=True)
class DailyReport:
    """The daily report: flat named columns, plus the non-revenue statuses counted separately.

    ``unique_customers`` is distinct customers within one (date, channel) row; it is not
    additive across rows, because one customer can buy on several channels the same day.
    """

    columns: ClassVar[tuple[str, ...]] = REPORT_COLUMNS
    rows: tuple[DailyRow, ...]
    status_counts: Mapping[str, int]  # accepted (deduplicated) orders per status

    def to_json(self) -> list[dict[str, Any]]:
        return [row.to_json() for row in self.rows]

    def format_table(self) -> str:
        """Plain-text table for the CLI; an empty report still prints its header."""
        cells = [list(self.columns)] + [[str(v) for v in row.to_json().values()] for row in self.rows]
        return _format_table(cells, right_aligned={2, 3, 4, 5})


@dataclass(frozen=True, slots=True)
class CustomerTotal:
    """A customer's confirmed revenue and order count."""

    customer_id: str
    revenue: Decimal
    orders: int

    def to_json(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "revenue": money_text(self.revenue), "orders": self.orders}


# --------------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------------


def iso_utc(moment: datetime) -> str:
    """ISO-8601 in UTC with a ``Z`` suffix, e.g. ``2024-01-15T10:30:00Z``."""
    if moment.tzinfo is None:
        # A naive datetime has no defined instant; refusing it here keeps local time out of output.
        raise ValueError(f"refusing to format a naive datetime: {moment!r}")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def money_text(amount: Decimal) -> str:
    """Money as a decimal string with at least two places ("12.30"), never losing digits."""
    cents = amount.quantize(CENTS, rounding=ROUNDING)
    # Sub-cent unit prices (0.125) are printed in full rather than silently rounded.
    return str(cents) if cents == amount else str(amount)


def _format_table(cells: list[list[str]], right_aligned: set[int]) -> str:
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = []
    for row in cells:
        parts = [
            cell.rjust(widths[i]) if i in right_aligned else cell.ljust(widths[i]) for i, cell in enumerate(row)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Record validation (pure functions: they read the raw record and never modify it)
# --------------------------------------------------------------------------------------------


def _reject_json_constant(name: str) -> Any:
    # json.loads accepts NaN/Infinity by default; they are not JSON and not prices.
    raise ValueError(f"non-standard JSON constant {name}")


def parse_money(value: object, field: str) -> Decimal:
    """An exact, finite, non-negative amount from a JSON number or a decimal string."""
    if isinstance(value, bool):  # bool is an int subclass: True must not become 1.00
        raise InvalidOrder(f"{field} must be a number, got a boolean")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        # Only reached when a caller hands us Python floats directly (load_orders never does).
        # repr() is the shortest text that round-trips, i.e. the literal that was written:
        # Decimal(repr(29.99)) == Decimal("29.99"), whereas Decimal(29.99) is 29.989999...
        amount = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidOrder(f"{field} is not a decimal number: {value!r}") from None
    else:
        raise InvalidOrder(f"{field} must be a number, got {type(value).__name__}")
    if not amount.is_finite():
        raise InvalidOrder(f"{field} is not finite: {value!r}")
    if amount < 0:
        raise InvalidOrder(f"{field} is negative: {amount}")
    if amount > MAX_AMOUNT:
        # Also keeps "1e999999" from reaching quantize(), which would raise InvalidOperation.
        raise InvalidOrder(f"{field} is out of range: {value!r}")
    return amount


def parse_item(raw: object, index: int) -> LineItem:
    """Validate one raw item dict; ``index`` only makes the rejection reason point at it."""
    where = f"items[{index}]"
    if not isinstance(raw, Mapping):
        raise InvalidOrder(f"{where} must be an object, got {type(raw).__name__}")
    for key in ("product_id", "quantity", "unit_price"):
        if key not in raw or raw[key] is None:
            raise InvalidOrder(f"missing field: {where}.{key}")
    product_id = raw["product_id"]
    if not isinstance(product_id, str) or not product_id.strip():
        raise InvalidOrder(f"{where}.product_id must be a non-empty string")
    quantity = raw["quantity"]
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidOrder(f"{where}.quantity must be a whole number, got {quantity!r}")
    if quantity <= 0:
        # A zero or negative quantity would silently shrink revenue; returns are a separate flow.
        raise InvalidOrder(f"{where}.quantity must be > 0, got {quantity}")
    return LineItem(product_id, quantity, parse_money(raw["unit_price"], f"{where}.unit_price"))


def order_total(items: Iterable[LineItem]) -> Decimal:
    """Sum of exact line amounts, quantized once to cents with ROUND_HALF_UP."""
    total = sum((item.amount for item in items), _ZERO)
    if total > MAX_AMOUNT:
        raise InvalidOrder(f"order total {total} is out of range")
    return total.quantize(CENTS, rounding=ROUNDING)


def _required_str(record: Mapping[str, Any], *names: str) -> str:
    """The value of the first of ``names`` present (schema aliases), as a non-empty string.

    When a record carries both spellings (``customer_id`` and ``customerId``) they must agree;
    picking one silently would attribute revenue to a guess.
    """
    present = [(name, record[name]) for name in names if record.get(name) is not None]
    if not present:
        raise InvalidOrder(f"missing field: {' or '.join(names)}")
    name, value = present[0]
    if not isinstance(value, str) or not value.strip():
        raise InvalidOrder(f"{name} must be a non-empty string, got {value!r}")
    for other_name, other in present[1:]:
        if other != value:
            raise InvalidOrder(f"{name}={value!r} conflicts with {other_name}={other!r}")
    return value


def parse_event_time(record: Mapping[str, Any]) -> datetime:
    """The order's event time in UTC from ``timestamp`` (ISO-8601) or ``ts`` (epoch ms)."""
    parsed: list[datetime] = []
    if record.get("timestamp") is not None:
        raw = record["timestamp"]
        if not isinstance(raw, str):
            raise InvalidOrder(f"timestamp must be an ISO-8601 string, got {raw!r}")
        try:
            moment = datetime.fromisoformat(raw)  # Python 3.11 accepts the trailing "Z"
        except ValueError:
            raise InvalidOrder(f"timestamp is not ISO-8601: {raw!r}") from None
        if moment.utcoffset() is None:
            # "2024-01-15T23:30:00" could be any of 26 hours; guessing the zone moves orders
            # across date boundaries, so the record is rejected instead.
            raise InvalidOrder(f"timestamp has no UTC offset: {raw!r}")
        try:
            parsed.append(moment.astimezone(UTC))
        except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before datetime.min in UTC
            raise InvalidOrder(f"timestamp is out of range: {raw!r}") from None
    if record.get("ts") is not None:
        raw = record["ts"]
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise InvalidOrder(f"ts must be whole epoch milliseconds, got {raw!r}")
        try:
            # timedelta arithmetic is exact; ts / 1000 would go through a float.
            parsed.append(_EPOCH + timedelta(milliseconds=raw))
        except OverflowError:
            raise InvalidOrder(f"ts is out of range: {raw}") from None
    if not parsed:
        raise InvalidOrder("missing field: timestamp or ts")
    if len(parsed) == 2 and parsed[0] != parsed[1]:
        raise InvalidOrder(f"timestamp {iso_utc(parsed[0])} conflicts with ts {iso_utc(parsed[1])}")
    return parsed[0]


def load_product_catalog(path: str | os.PathLike[str]) -> frozenset[str]:
    """The product ids of a catalog file: a JSON array of objects, each with a ``product_id``.

    Raises ``ValueError`` naming the file and the entry when the file is not such an array,
    and ``OSError`` when it cannot be read; a catalog is all-or-nothing, since a half-read one
    would reject good orders as unknown.
    """
    path = Path(path)
    with path.open("rb") as handle:
        try:
            entries = json.load(handle, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a JSON array of products, got {type(entries).__name__}")
    ids: set[str] = set()
    for index, entry in enumerate(entries):
        product_id = entry.get("product_id") if isinstance(entry, Mapping) else None
        if not isinstance(product_id, str) or not product_id.strip():
            raise ValueError(f"{path}: entry {index} has no product_id string")
        ids.add(product_id)
    return frozenset(ids)


def parse_order(record: Mapping[str, Any], line: int, known_products: Set[str] | None = None) -> Order:
    """Validate and normalise one raw record (canonical or mobile variant) into an ``Order``.

    With ``known_products`` (see ``load_product_catalog``), an order naming a product outside
    the catalog is rejected, as the lake's ingest does: its revenue could not be attributed to
    a category or brand. Raises ``InvalidOrder`` with the first problem found. The record
    itself is not modified.
    """
    if not isinstance(record, Mapping):
        raise InvalidOrder(f"expected a JSON object, got {type(record).__name__}")
    order_id = _required_str(record, "order_id")
    customer_id = _required_str(record, "customer_id", "customerId")
    timestamp = parse_event_time(record)

    channel = _required_str(record, "channel")
    if channel not in CHANNELS:
        raise InvalidOrder(f"unknown channel {channel!r} (expected one of {', '.join(CHANNELS)})")
    status = _required_str(record, "status")
    if status not in STATUSES:
        raise InvalidOrder(f"unknown status {status!r} (expected one of {', '.join(STATUSES)})")

    raw_items = record.get("items")
    if raw_items is None:
        raise InvalidOrder("missing field: items")
    if not isinstance(raw_items, list) or not raw_items:
        raise InvalidOrder("items must be a non-empty list")
    items = tuple(parse_item(raw, i) for i, raw in enumerate(raw_items))
    if known_products is not None:
        for i, item in enumerate(items):
            if item.product_id not in known_products:
                raise InvalidOrder(f"items[{i}].product_id {item.product_id!r} is not in the product catalog")

    address = record.get("shipping_address")
    if address is None:
        raise InvalidOrder("missing field: shipping_address")
    if not isinstance(address, Mapping):
        raise InvalidOrder("shipping_address must be an object")

    return Order(
        order_id=order_id,
        customer_id=customer_id,
        timestamp=timestamp,
        channel=channel,
        status=status,
        items=items,
        shipping_address=dict(address),  # a copy: the Order must not alias the raw record
        order_total=order_total(items),
        source_line=line,
    )


# --------------------------------------------------------------------------------------------
# Atomic file output
# --------------------------------------------------------------------------------------------


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so readers see the old file or the new one, never a mix.

    The text goes to a temporary file in the same directory (``os.replace`` is only atomic
    within one file system), is fsynced, then renamed over the target; the directory is
    fsynced so the rename itself survives a crash. On any failure the temporary file is
    removed and the previous ``path`` is left untouched.
    """
    path = Path(path)
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        # mkstemp creates 0600; results are meant to be shared like any file we write.
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as tmp:
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. platforms that cannot open directories; the data itself is synced
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# --------------------------------------------------------------------------------------------
# The processor
# --------------------------------------------------------------------------------------------


class OrderProcessor:
    """Loads one orders JSONL file and reports on it.

    ``process_orders`` rebuilds all state from the file each time it runs, so calling it twice
    gives the same result as calling it once.
    """

    def __init__(self, orders_file: str | os.PathLike[str], known_products: Set[str] | None = None) -> None:
        self.orders_file = Path(orders_file)
        #: Product ids an order may name; None accepts any id (the seed's behaviour).
        self.known_products = known_products
        self.processed_orders: list[Order] = []  # accepted, deduplicated, every status
        self.rejected: list[LineIssue] = []
        self.duplicates: list[LineIssue] = []
        self.load_result: LoadResult | None = None
        self.summary: ProcessSummary | None = None
        self.processed_at: datetime | None = None  # UTC; None until process_orders has run

    # -- input ---------------------------------------------------------------------------

    def load_orders(self) -> LoadResult:
        """Read the JSONL file; skip (and record) blank and malformed lines instead of crashing.

        Prices are parsed as ``Decimal``. Lines are decoded one at a time so a single bad byte
        costs one line, not the file. Raises ``OSError`` if the file cannot be opened.
        """
        records: list[tuple[int, dict[str, Any]]] = []
        blank: list[int] = []
        malformed: list[LineIssue] = []
        line_no = 0
        with self.orders_file.open("rb") as handle:
            for line_no, raw in enumerate(handle, start=1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    malformed.append(self._skip(line_no, f"not UTF-8 ({exc.reason} at byte {exc.start})"))
                    continue
                if line_no == 1:
                    text = text.removeprefix("\ufeff")  # tolerate a byte-order mark
                # The line terminator is not part of the record. Left in, it is where the parser
                # stops on a line cut short, and its position reads as "line 2, column 1".
                text = text.removesuffix("\n").removesuffix("\r")
                if not text.strip():
                    blank.append(line_no)
                    continue
                try:
                    value = json.loads(text, parse_float=Decimal, parse_constant=_reject_json_constant)
                except json.JSONDecodeError as exc:
                    malformed.append(self._skip(line_no, json_error_reason(exc, text)))
                    continue
                except ValueError as exc:  # from _reject_json_constant
                    malformed.append(self._skip(line_no, f"invalid JSON: {exc}"))
                    continue
                except RecursionError:  # "[[[[..." deeper than the parser's recursion limit
                    malformed.append(self._skip(line_no, "invalid JSON: nested too deeply"))
                    continue
                if not isinstance(value, dict):
                    malformed.append(self._skip(line_no, f"expected a JSON object, got {type(value).__name__}"))
                    continue
                records.append((line_no, value))
        if blank:
            logger.info("%s: skipped %d blank line(s): %s", self.orders_file, len(blank), _line_list(blank))
        return LoadResult(tuple(records), line_no, tuple(blank), tuple(malformed))

    def _skip(self, line: int, reason: str) -> LineIssue:
        logger.warning("%s:%d: skipped malformed line: %s", self.orders_file, line, reason)
        return LineIssue(line, reason)

    # -- computation ---------------------------------------------------------------------

    def calculate_order_total(self, items: Iterable[Mapping[str, Any] | LineItem]) -> Decimal:
        """Exact total of raw item dicts (or ``LineItem``s), quantized to cents ROUND_HALF_UP.

        Raises ``InvalidOrder`` naming the offending item when one is missing a field or has a
        bad quantity or price.
        """
        parsed = [item if isinstance(item, LineItem) else parse_item(item, i) for i, item in enumerate(items)]
        return order_total(parsed)

    def process_orders(self) -> ProcessSummary:
        """Load, validate and deduplicate the file; replaces any previous results.

        The first valid record of an order id wins; later ones are counted as duplicates
        (with a warning when their content differs, which points at an upstream problem).
        """
        loaded = self.load_orders()
        accepted: dict[str, Order] = {}
        rejected: list[LineIssue] = []
        duplicates: list[LineIssue] = []
        for line, record in loaded.records:
            try:
                order = parse_order(record, line, self.known_products)
            except InvalidOrder as exc:
                raw_id = record.get("order_id")
                order_id = raw_id if isinstance(raw_id, str) else None
                rejected.append(LineIssue(line, str(exc), order_id))
                logger.warning("%s:%d: rejected order %s: %s", self.orders_file, line, order_id or "?", exc)
                continue
            first = accepted.get(order.order_id)
            if first is None:
                accepted[order.order_id] = order
            elif first.same_content(order):
                duplicates.append(LineIssue(line, f"duplicate of line {first.source_line}", order.order_id))
                logger.info("%s:%d: duplicate of %s (line %d) ignored",
                            self.orders_file, line, order.order_id, first.source_line)
            else:
                duplicates.append(
                    LineIssue(line, f"duplicate of line {first.source_line} with different content", order.order_id)
                )
                logger.warning("%s:%d: %s repeats line %d with different content; first occurrence kept",
                               self.orders_file, line, order.order_id, first.source_line)

        statuses = Counter(order.status for order in accepted.values())
        summary = ProcessSummary(
            lines_read=loaded.lines_read,
            blank_lines=len(loaded.blank_lines),
            malformed_lines=len(loaded.malformed),
            rejected=len(rejected),
            duplicates=len(duplicates),
            accepted=len(accepted),
            status_counts={status: statuses.get(status, 0) for status in STATUSES},
        )
        # Assign, never append: a second call must not double count.
        self.processed_orders = list(accepted.values())
        self.rejected = rejected
        self.duplicates = duplicates
        self.load_result = loaded
        self.summary = summary
        self.processed_at = datetime.now(UTC)
        logger.info(
            "%s: %d line(s): %d accepted, %d duplicate, %d rejected, %d malformed, %d blank",
            self.orders_file, summary.lines_read, summary.accepted, summary.duplicates,
            summary.rejected, summary.malformed_lines, summary.blank_lines,
        )
        return summary

    def _require_processed(self) -> list[Order]:
        if self.processed_at is None:
            # An empty report here would look like "no sales" rather than "not computed".
            raise RuntimeError("process_orders() has not run yet; call it before building reports")
        return self.processed_orders

    # -- reports -------------------------------------------------------------------------

    def generate_daily_report(self) -> DailyReport:
        """Revenue per (UTC date, channel) over confirmed orders, sorted by date then channel.

        Empty input gives a report with no rows (and the same columns), not an exception.
        """
        orders = self._require_processed()
        groups: dict[tuple[date, str], list[Order]] = defaultdict(list)
        for order in orders:
            if order.status == REVENUE_STATUS:
                groups[(order.order_date, order.channel)].append(order)
        rows = []
        for (day, channel), group in sorted(groups.items()):
            revenue = sum((order.order_total for order in group), _ZERO)
            count = len(group)
            rows.append(
                DailyRow(
                    order_date=day,
                    channel=channel,
                    revenue=revenue,
                    orders=count,
                    avg_order_value=(revenue / count).quantize(CENTS, rounding=ROUNDING),
                    unique_customers=len({order.customer_id for order in group}),
                )
            )
        statuses = Counter(order.status for order in orders)
        return DailyReport(rows=tuple(rows), status_counts={s: statuses.get(s, 0) for s in STATUSES})

    def get_top_customers(self, limit: int = 10) -> list[CustomerTotal]:
        """Customers by confirmed revenue, highest first; ties go to the smaller customer id."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit must be a non-negative integer, got {limit!r}")
        revenue: dict[str, Decimal] = defaultdict(lambda: _ZERO)
        counts: Counter[str] = Counter()
        for order in self._require_processed():
            if order.status == REVENUE_STATUS:
                revenue[order.customer_id] += order.order_total
                counts[order.customer_id] += 1
        ranked = sorted(revenue.items(), key=lambda pair: (-pair[1], pair[0]))
        return [CustomerTotal(customer, total, counts[customer]) for customer, total in ranked[:limit]]

    # -- output --------------------------------------------------------------------------

    def results_document(self, top_customers: int = 10) -> dict[str, Any]:
        """Everything ``save_results`` writes, as plain JSON types (str, int, list, dict)."""
        orders = self._require_processed()
        # Set together with processed_at by process_orders; asserted for the type checker.
        assert self.load_result is not None and self.summary is not None and self.processed_at is not None
        return {
            "source": str(self.orders_file),
            "processed_at": iso_utc(self.processed_at),
            "summary": self.summary.to_json(),
            "daily_report": self.generate_daily_report().to_json(),
            "top_customers": [c.to_json() for c in self.get_top_customers(top_customers)],
            "orders": [order.to_json() for order in orders],
            "blank_lines": list(self.load_result.blank_lines),
            "malformed_lines": [issue.to_json() for issue in self.load_result.malformed],
            "rejected": [issue.to_json() for issue in self.rejected],
            "duplicates": [issue.to_json() for issue in self.duplicates],
        }

    def save_results(self, output_file: str | os.PathLike[str], top_customers: int = 10) -> Path:
        """Write the results as JSON, atomically: a crash leaves the previous file intact.

        ``top_customers`` is how many customers the saved ``top_customers`` list holds (the
        CLI passes its ``--top``, so the file and the printed list agree). The document is
        serialized completely before the file system is touched, so a value that cannot be
        serialized fails without creating or truncating anything.
        """
        path = Path(output_file)
        text = json.dumps(self.results_document(top_customers), indent=2, ensure_ascii=False) + "\n"
        atomic_write_text(path, text)
        logger.info("wrote %s (%d orders)", path, len(self.processed_orders))
        return path


def json_error_reason(exc: json.JSONDecodeError, line: str) -> str:
    """Why one input line is not JSON, with the 1-based character column in that line.

    ``exc.lineno``/``exc.colno`` count lines inside the parsed string; the file line is known to
    the caller, so only the position within the line is reported. A position past the last
    character means the line ended early (typically a truncated record).
    """
    column = exc.pos + 1
    where = f"column {column}" + (" (end of line)" if exc.pos >= len(line) else "")
    if exc.msg.endswith(" at"):  # "Unterminated string starting at", "Invalid control character at"
        return f"invalid JSON: {exc.msg} {where}"
    return f"invalid JSON at {where}: {exc.msg}"


def _line_list(lines: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(str(n) for n in lines[:limit])
    return shown + (f", ... ({len(lines) - limit} more)" if len(lines) > limit else "")


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _configure_logging(level: str) -> logging.Handler:
    """Attach a stderr handler to our logger for one CLI run; the caller removes it afterwards."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)sZ %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime  # log times in UTC, like every other time we print
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (0 ok, 1 cannot write output, 2 cannot read input)."""
    parser = argparse.ArgumentParser(
        description="Validate a FastCommerce orders JSONL file, print the daily revenue report "
        "and top customers, and save the processed orders as JSON.",
    )
    parser.add_argument("orders", type=Path, help="orders file, one JSON object per line")
    parser.add_argument("--out", type=Path, default=Path("processed_orders.json"),
                        help="where to write the results JSON (default: %(default)s)")
    parser.add_argument("--catalog", type=Path, default=None,
                        help="product catalog JSON; orders naming a product outside it are rejected, "
                        "as `lake ingest` does (default: accept any product id)")
    parser.add_argument("--top", type=_non_negative_int, default=10,
                        help="how many top customers to print and save (default: %(default)s)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log verbosity on stderr (default: %(default)s)")
    args = parser.parse_args(argv)
    handler = _configure_logging(args.log_level)
    try:
        return _run(args)
    finally:
        # main() can be called in-process (tests, notebooks): do not leave handlers behind.
        logger.removeHandler(handler)


def _run(args: argparse.Namespace) -> int:
    known_products = None
    if args.catalog is not None:
        try:
            known_products = load_product_catalog(args.catalog)
        except OSError as exc:
            logger.error("cannot read product catalog %s: %s", args.catalog, exc.strerror or exc)
            return 2
        except ValueError as exc:
            logger.error("%s", exc)
            return 2
    processor = OrderProcessor(args.orders, known_products)
    try:
        summary = processor.process_orders()
    except OSError as exc:
        logger.error("cannot read orders file %s: %s", args.orders, exc.strerror or exc)
        return 2

    report = processor.generate_daily_report()
    print("Daily revenue, confirmed orders, by UTC date and channel")
    print(report.format_table())
    print()
    print("Orders by status (after dedupe): "
          + ", ".join(f"{status} {count}" for status, count in report.status_counts.items()))
    print()
    print(f"Top {args.top} customers by confirmed revenue")
    top = processor.get_top_customers(args.top)
    print(_format_table([["customer_id", "revenue", "orders"]]
                        + [[c.customer_id, money_text(c.revenue), str(c.orders)] for c in top],
                        right_aligned={1, 2}))
    print()
    print(f"Lines read {summary.lines_read}: accepted {summary.accepted}, duplicates {summary.duplicates}, "
          f"rejected {summary.rejected}, malformed {summary.malformed_lines}, blank {summary.blank_lines}")

    try:
        path = processor.save_results(args.out, top_customers=args.top)
    except OSError as exc:
        logger.error("cannot write %s: %s", args.out, exc.strerror or exc)
        return 1
    print(f"Saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
