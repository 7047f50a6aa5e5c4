"""Tests for Evaluation-Files/fixed_pipeline_code.py.

Expected numbers are worked out by hand from the fixture files (see the comments next to each
one), not produced by running the code under test.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

from conftest import EVALUATION_DIR

D = Decimal


def run(fixed: ModuleType, path: Path) -> tuple[object, object]:
    processor = fixed.OrderProcessor(path)
    summary = processor.process_orders()
    return processor, summary


def rows_as_tuples(report) -> list[tuple]:
    return [
        (r.order_date, r.channel, r.revenue, r.orders, r.avg_order_value, r.unique_customers) for r in report.rows
    ]


def write_lines(path: Path, records: list[dict | str]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def order(order_id: str, customer: str, total: str, status: str = "confirmed", **extra) -> dict:
    record = {
        "order_id": order_id,
        "customer_id": customer,
        "timestamp": "2024-05-01T12:00:00Z",
        "channel": "web",
        "items": [{"product_id": "PROD-1", "quantity": 1, "unit_price": total}],
        "shipping_address": {"country": "US", "state": "CA", "city": "Davis"},
        "status": status,
    }
    record.update(extra)
    return record


# ---------------------------------------------------------------------------------------------
# Order totals: exact decimal
# ---------------------------------------------------------------------------------------------


class TestOrderTotals:
    def test_total_is_exact_decimal(self, fixed):
        processor = fixed.OrderProcessor("unused.jsonl")
        # 3 x 14.95 is 44.849999999999994 in binary floating point; exactly 44.85 in decimal.
        total = processor.calculate_order_total([{"product_id": "P", "quantity": 3, "unit_price": D("14.95")}])
        assert total == D("44.85") and isinstance(total, Decimal)
        assert str(total) == "44.85"

    def test_float_prices_from_callers_are_read_as_written(self, fixed):
        processor = fixed.OrderProcessor("unused.jsonl")
        items = [
            {"product_id": "P1", "quantity": 3, "unit_price": 0.1},
            {"product_id": "P2", "quantity": 3, "unit_price": 0.2},
        ]
        # float arithmetic: 0.30000000000000004 + 0.6000000000000001 = 0.9000000000000001
        assert processor.calculate_order_total(items) == D("0.90")

    def test_order_is_rounded_once_half_up(self, fixed):
        processor = fixed.OrderProcessor("unused.jsonl")
        half_cent = {"product_id": "P", "quantity": 1, "unit_price": D("0.005")}
        # Two half-cent lines sum exactly to 0.01; rounding each line first would give 0.02.
        assert processor.calculate_order_total([half_cent, half_cent]) == D("0.01")
        # ROUND_HALF_UP: 0.125 -> 0.13 (banker's rounding, Python's default, would give 0.12).
        assert processor.calculate_order_total([{"product_id": "P", "quantity": 1, "unit_price": "0.125"}]) == D("0.13")

    def test_line_items_accepted_directly(self, fixed):
        items = [fixed.LineItem("P", 2, D("19.99")), fixed.LineItem("Q", 1, D("5.00"))]
        assert fixed.OrderProcessor("unused.jsonl").calculate_order_total(items) == D("44.98")

    @pytest.mark.parametrize(
        ("item", "reason"),
        [
            ({"product_id": "P", "quantity": 2}, "missing field: items[0].unit_price"),
            ({"product_id": "P", "unit_price": 1}, "missing field: items[0].quantity"),
            ({"quantity": 1, "unit_price": 1}, "missing field: items[0].product_id"),
            ({"product_id": "P", "quantity": 0, "unit_price": 1}, "quantity must be > 0, got 0"),
            ({"product_id": "P", "quantity": -1, "unit_price": 1}, "quantity must be > 0, got -1"),
            ({"product_id": "P", "quantity": True, "unit_price": 1}, "quantity must be a whole number"),
            ({"product_id": "P", "quantity": D("2.5"), "unit_price": 1}, "quantity must be a whole number"),
            ({"product_id": "P", "quantity": 1, "unit_price": "abc"}, "unit_price is not a decimal number"),
            ({"product_id": "P", "quantity": 1, "unit_price": "NaN"}, "unit_price is not finite"),
            ({"product_id": "P", "quantity": 1, "unit_price": D("-1.00")}, "unit_price is negative"),
            ({"product_id": "P", "quantity": 1, "unit_price": False}, "unit_price must be a number"),
            ({"product_id": "P", "quantity": 1, "unit_price": "1e999999"}, "unit_price is out of range"),
            ({"product_id": "P", "quantity": 10**30, "unit_price": 1}, "order total .* is out of range"),
            ("not an object", "items[0] must be an object"),
        ],
    )
    def test_bad_items_are_rejected_with_reason(self, fixed, item, reason):
        with pytest.raises(fixed.InvalidOrder, match=reason.replace("[", r"\[").replace("]", r"\]")):
            fixed.OrderProcessor("unused.jsonl").calculate_order_total([item])


# ---------------------------------------------------------------------------------------------
# Loading: blank and malformed lines are skipped, counted and logged
# ---------------------------------------------------------------------------------------------


class TestLoading:
    def test_blank_and_malformed_lines_are_skipped_with_line_numbers(self, fixed, fixtures_dir):
        loaded = fixed.OrderProcessor(fixtures_dir / "orders_messy.jsonl").load_orders()
        assert loaded.lines_read == 21
        assert loaded.blank_lines == (2, 13)  # line 13 holds only spaces
        assert [(m.line, m.reason) for m in loaded.malformed] == [
            # The line stops after 81 characters, inside the timestamp string opened at column 66.
            (4, "invalid JSON: Unterminated string starting at column 66"),
            (17, "expected a JSON object, got list"),  # [1, 2]
        ]
        assert len(loaded.records) == 21 - 2 - 2
        assert [line for line, _ in loaded.records][:3] == [1, 3, 5]

    def test_malformed_lines_are_logged_with_file_and_line(self, fixed, fixtures_dir, caplog):
        with caplog.at_level("WARNING", logger="fastcommerce.orders"):
            fixed.OrderProcessor(fixtures_dir / "orders_messy.jsonl").process_orders()
        text = caplog.text
        assert "orders_messy.jsonl:4: skipped malformed line" in text
        assert "orders_messy.jsonl:17: skipped malformed line" in text
        assert "orders_messy.jsonl:10: rejected order ORD-9008: missing field: items" in text

    def test_prices_are_parsed_as_decimal_never_float(self, fixed, fixtures_dir):
        loaded = fixed.OrderProcessor(fixtures_dir / "orders_clean.jsonl").load_orders()
        _, first = loaded.records[0]
        assert first["items"][0]["unit_price"] == D("14.95")
        assert isinstance(first["items"][0]["unit_price"], Decimal)

    def test_nan_constant_and_bad_bytes_are_malformed_not_fatal(self, fixed, tmp_path):
        path = tmp_path / "orders.jsonl"
        good = json.dumps(order("ORD-1", "CUST-1", "1.00")).encode()
        path.write_bytes(
            b'{"order_id": "ORD-X", "unit_price": NaN}\n' + b"\xff\xfe not utf-8\n" + good + b"\n"
        )
        processor, summary = run(fixed, path)
        reasons = [m.reason for m in processor.load_result.malformed]
        assert reasons[0] == "invalid JSON: non-standard JSON constant NaN"
        assert reasons[1].startswith("not UTF-8")
        assert summary.accepted == 1 and summary.malformed_lines == 2

    def test_deeply_nested_line_is_malformed(self, fixed, tmp_path):
        path = tmp_path / "orders.jsonl"
        path.write_text("[" * 100_000 + "\n" + json.dumps(order("ORD-1", "CUST-1", "1.00")) + "\n")
        processor, summary = run(fixed, path)
        assert [m.reason for m in processor.load_result.malformed] == ["invalid JSON: nested too deeply"]
        assert summary.accepted == 1

    def test_malformed_line_column_is_the_position_in_the_line(self, fixed, tmp_path):
        # Each line ends in a newline; left in the parsed text, a record cut short fails *at* the
        # newline and json reports "line 2 column 1" of the string.
        with pytest.raises(json.JSONDecodeError) as cut:
            json.loads('{"order_id": "ORD-1"\n')
        assert (cut.value.lineno, cut.value.colno) == (2, 1)
        path = tmp_path / "orders.jsonl"
        path.write_bytes(
            b'{"order_id": "ORD-1"\n'  # 20 characters, then the line ends: column 21
            b'{"order_id": "ORD-2"\r\n'  # the same with CRLF
            b'{"order_id" "ORD-3"}\n'  # the ":" is missing at column 13
            b'{"order_id": "ORD-4\n'  # the string opened at column 14 never closes
        )
        loaded = fixed.OrderProcessor(path).load_orders()
        assert [(m.line, m.reason) for m in loaded.malformed] == [
            (1, "invalid JSON at column 21 (end of line): Expecting ',' delimiter"),
            (2, "invalid JSON at column 21 (end of line): Expecting ',' delimiter"),
            (3, "invalid JSON at column 13: Expecting ':' delimiter"),
            (4, "invalid JSON: Unterminated string starting at column 14"),
        ]

    @pytest.mark.skipif(not (EVALUATION_DIR / "orders_stream.jsonl").exists(), reason="no orders_stream.jsonl")
    def test_malformed_columns_on_the_stream(self, fixed):
        loaded = fixed.OrderProcessor(EVALUATION_DIR / "orders_stream.jsonl").load_orders()
        reasons = {m.line: m.reason for m in loaded.malformed}
        # Line 5 is 186 characters, cut after "unit_price": 155.95 (it used to say "column 1").
        assert reasons[5] == "invalid JSON at column 187 (end of line): Expecting ',' delimiter"
        # Line 69 reads '"channel" "mobile"': the ':' is missing before the quote at column 104.
        assert reasons[69] == "invalid JSON at column 104: Expecting ':' delimiter"
        line_69 = (EVALUATION_DIR / "orders_stream.jsonl").read_text(encoding="utf-8").splitlines()[68]
        assert line_69[:103].endswith('"channel" ') and line_69[103:].startswith('"mobile"')
        assert len(loaded.malformed) == 9
        assert not any("column 1:" in r or "column 1 " in r for r in reasons.values())

    def test_byte_order_mark_and_crlf_are_tolerated(self, fixed, tmp_path):
        path = tmp_path / "orders.jsonl"
        path.write_bytes(b"\xef\xbb\xbf" + json.dumps(order("ORD-1", "CUST-1", "2.50")).encode() + b"\r\n")
        processor, summary = run(fixed, path)
        assert summary.accepted == 1 and summary.malformed_lines == 0

    def test_missing_file_raises_oserror_naming_it(self, fixed, tmp_path):
        missing = tmp_path / "nope.jsonl"
        with pytest.raises(FileNotFoundError, match="nope.jsonl"):
            fixed.OrderProcessor(missing).process_orders()

    def test_invalid_records_are_rejected_with_reasons(self, fixed, fixtures_dir):
        processor, summary = run(fixed, fixtures_dir / "orders_messy.jsonl")
        assert [(r.line, r.order_id, r.reason) for r in processor.rejected] == [
            (10, "ORD-9008", "missing field: items"),
            (11, "ORD-9009", "items[0].quantity must be > 0, got 0"),
            (12, "ORD-9010", "missing field: customer_id or customerId"),
            (14, "ORD-9011", "timestamp has no UTC offset: '2024-03-01T15:00:00'"),
            (18, "ORD-9013", "unknown status 'shipped' (expected one of confirmed, pending, cancelled)"),
            (21, "ORD-9016", "items[0].quantity must be > 0, got -1"),
        ]
        # Every line is accounted for exactly once.
        assert summary.lines_read == (
            summary.accepted + summary.duplicates + summary.rejected + summary.malformed_lines + summary.blank_lines
        )

    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            ({"channel": "fax"}, "unknown channel 'fax'"),
            ({"items": []}, "items must be a non-empty list"),
            ({"shipping_address": "Davis"}, "shipping_address must be an object"),
            ({"timestamp": "yesterday"}, "timestamp is not ISO-8601"),
            ({"timestamp": 1714564800}, "timestamp must be an ISO-8601 string"),
            ({"timestamp": "0001-01-01T00:00:00+01:00"}, "timestamp is out of range"),
            ({"order_id": ""}, "order_id must be a non-empty string"),
            ({"customer_id": 42}, "customer_id must be a non-empty string"),
        ],
    )
    def test_record_level_rejections(self, fixed, change, reason):
        record = order("ORD-1", "CUST-1", "1.00") | change
        with pytest.raises(fixed.InvalidOrder, match=reason):
            fixed.parse_order(record, 1)

    def test_missing_required_fields(self, fixed):
        for field in ("order_id", "channel", "status", "items", "shipping_address"):
            record = order("ORD-1", "CUST-1", "1.00")
            del record[field]
            with pytest.raises(fixed.InvalidOrder, match=f"missing field: {field}"):
                fixed.parse_order(record, 1)
        record = order("ORD-1", "CUST-1", "1.00")
        del record["timestamp"]
        with pytest.raises(fixed.InvalidOrder, match="missing field: timestamp or ts"):
            fixed.parse_order(record, 1)


class TestProductCatalog:
    def test_catalog_ids_are_loaded(self, fixed, tmp_path):
        path = tmp_path / "catalog.json"
        path.write_text(json.dumps([{"product_id": "PROD-1", "price": 9.99}, {"product_id": "PROD-2"}]))
        assert fixed.load_product_catalog(path) == frozenset({"PROD-1", "PROD-2"})

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ('{"product_id": "PROD-1"}', "expected a JSON array of products, got dict"),
            ('[{"product_id": "PROD-1"}, {"sku": "X"}]', "entry 1 has no product_id string"),
            ('[{"product_id": "PROD-1"},', "invalid JSON at line 1"),
        ],
    )
    def test_bad_catalog_is_an_error_naming_the_file(self, fixed, tmp_path, text, message):
        path = tmp_path / "catalog.json"
        path.write_text(text)
        with pytest.raises(ValueError, match=message) as caught:
            fixed.load_product_catalog(path)
        assert str(path) in str(caught.value)

    def test_unknown_product_is_rejected_only_with_a_catalog(self, fixed, tmp_path):
        path = write_lines(tmp_path / "orders.jsonl", [order("ORD-1", "CUST-1", "5.00"), order("ORD-2", "CUST-2", "7.00")])
        lines = path.read_text().splitlines()
        lines[1] = lines[1].replace("PROD-1", "PROD-404")
        path.write_text("\n".join(lines) + "\n")

        anything = fixed.OrderProcessor(path)
        assert anything.process_orders().accepted == 2

        checked = fixed.OrderProcessor(path, frozenset({"PROD-1"}))
        summary = checked.process_orders()
        assert (summary.accepted, summary.rejected) == (1, 1)
        assert [(r.line, r.order_id, r.reason) for r in checked.rejected] == [
            (2, "ORD-2", "items[0].product_id 'PROD-404' is not in the product catalog")
        ]
        assert [r.revenue for r in checked.generate_daily_report().rows] == [D("5.00")]

    def test_cli_catalog_option(self, fixed, tmp_path, capsys):
        orders = write_lines(tmp_path / "orders.jsonl", [order("ORD-1", "CUST-1", "5.00")])
        catalog = tmp_path / "catalog.json"
        catalog.write_text('[{"product_id": "PROD-9"}]')
        assert fixed.main([str(orders), "--catalog", str(catalog), "--out", str(tmp_path / "o.json")]) == 0
        assert "accepted 0, duplicates 0, rejected 1" in capsys.readouterr().out
        assert fixed.main([str(orders), "--catalog", str(tmp_path / "none.json"), "--out", str(tmp_path / "o.json")]) == 2


class TestItemsChannelsProductsStatus:
    """The defects of the broken script's items, channel and product handling, on their fixtures."""

    def test_empty_items_are_rejected_not_a_zero_order(self, fixed, fixtures_dir):
        processor, summary = run(fixed, fixtures_dir / "orders_empty_items.jsonl")
        assert [(r.line, r.order_id, r.reason) for r in processor.rejected] == [
            (2, "ORD-6002", "items must be a non-empty list")
        ]
        # Only ORD-6001, 2 x 40.00: one order, average 80.00 (the broken script: 2 orders, 40.0).
        assert rows_as_tuples(processor.generate_daily_report()) == [
            (date(2024, 1, 1), "web", D("80.00"), 1, D("80.00"), 1)
        ]
        assert [c.customer_id for c in processor.get_top_customers()] == ["CUST-601"]

    def test_items_that_are_not_a_list_are_rejected_not_fatal(self, fixed, fixtures_dir):
        processor, summary = run(fixed, fixtures_dir / "orders_items_not_list.jsonl")
        assert [(r.line, r.reason) for r in processor.rejected] == [
            (1, "items must be a non-empty list"),  # an object
            (2, "items must be a non-empty list"),  # a string
            (3, "missing field: items"),  # null
        ]
        assert (summary.accepted, summary.rejected) == (0, 3)

    def test_channels_outside_the_vocabulary_are_rejected(self, fixed, fixtures_dir):
        processor, summary = run(fixed, fixtures_dir / "orders_bad_channel.jsonl")
        assert [(r.line, r.order_id, r.reason) for r in processor.rejected] == [
            (2, "ORD-221420", "unknown channel 'WEB' (expected one of api, mobile, web)"),
            (3, "ORD-429122", "unknown channel 'store' (expected one of api, mobile, web)"),
            (4, "ORD-106051", "channel must be a non-empty string, got ''"),
            (5, "ORD-664077", "missing field: channel"),
        ]
        # Line 1 only: ORD-678763, 2 x 260.99. Both reports see the same single order.
        assert rows_as_tuples(processor.generate_daily_report()) == [
            (date(2024, 1, 10), "web", D("521.98"), 1, D("521.98"), 1)
        ]
        assert [(c.customer_id, c.revenue) for c in processor.get_top_customers()] == [("CUST-00038", D("521.98"))]

    def test_items_without_a_product_id_are_rejected(self, fixed, fixtures_dir):
        processor, summary = run(fixed, fixtures_dir / "orders_bad_product.jsonl")
        assert [(r.line, r.reason) for r in processor.rejected] == [
            (3, "missing field: items[0].product_id"),
            (4, "missing field: items[0].product_id"),  # null counts as missing
        ]
        # Without a catalog any product id is accepted: 60.95 + 3 x 37.95 = 174.80.
        assert [r.revenue for r in processor.generate_daily_report().rows] == [D("174.80")]

    def test_products_outside_the_catalog_are_rejected_with_it(self, fixed, fixtures_dir):
        catalog = fixed.load_product_catalog(EVALUATION_DIR / "product_catalog.json")
        assert "PROD-006" in catalog and "PROD-905" not in catalog
        processor = fixed.OrderProcessor(fixtures_dir / "orders_bad_product.jsonl", catalog)
        summary = processor.process_orders()
        assert [(r.line, r.order_id, r.reason) for r in processor.rejected][0] == (
            2, "ORD-112345", "items[0].product_id 'PROD-905' is not in the product catalog"
        )
        assert (summary.accepted, summary.rejected) == (1, 3)
        assert [r.revenue for r in processor.generate_daily_report().rows] == [D("60.95")]

    def test_a_bad_cancelled_order_does_not_cost_the_confirmed_revenue(self, fixed, fixtures_dir):
        processor, summary = run(fixed, fixtures_dir / "orders_cancelled_bad_price.jsonl")
        # The cancelled ORD-7002 (unit_price null) is rejected on its own line, with a reason.
        assert [(r.line, r.order_id, r.reason) for r in processor.rejected] == [
            (2, "ORD-7002", "missing field: items[0].unit_price")
        ]
        assert rows_as_tuples(processor.generate_daily_report()) == [
            (date(2024, 1, 1), "web", D("80.00"), 1, D("80.00"), 1)
        ]


# ---------------------------------------------------------------------------------------------
# Duplicates, idempotency, no mutation
# ---------------------------------------------------------------------------------------------


class TestDedupeAndIdempotency:
    def test_first_occurrence_wins(self, fixed, fixtures_dir):
        processor, summary = run(fixed, fixtures_dir / "orders_messy.jsonl")
        assert summary.duplicates == 2
        assert [(d.line, d.order_id, d.reason) for d in processor.duplicates] == [
            (5, "ORD-9001", "duplicate of line 1"),
            (16, "ORD-9002", "duplicate of line 3 with different content"),
        ]
        by_id = {o.order_id: o for o in processor.processed_orders}
        # Line 16 says ORD-9002 was cancelled; line 3 (confirmed) came first and is kept.
        assert by_id["ORD-9002"].status == "confirmed" and by_id["ORD-9002"].source_line == 3
        assert len(by_id) == len(processor.processed_orders) == 9

    def test_conflicting_duplicate_is_a_warning(self, fixed, fixtures_dir, caplog):
        with caplog.at_level("WARNING", logger="fastcommerce.orders"):
            run(fixed, fixtures_dir / "orders_messy.jsonl")
        assert "ORD-9002 repeats line 3 with different content; first occurrence kept" in caplog.text

    def test_duplicate_line_counted_once(self, fixed, fixtures_dir):
        processor, _ = run(fixed, fixtures_dir / "orders_clean.jsonl")
        web_15 = [r for r in processor.generate_daily_report().rows if r.channel == "web"][0]
        # ORD-1001 44.85 + ORD-1002 99.95; the repeated ORD-1002 line is not added again.
        assert (web_15.revenue, web_15.orders) == (D("144.80"), 2)

    def test_second_process_call_does_not_double_count(self, fixed, fixtures_dir):
        processor = fixed.OrderProcessor(fixtures_dir / "orders_messy.jsonl")
        first_summary = processor.process_orders()
        first_orders = list(processor.processed_orders)
        first_report = processor.generate_daily_report()
        second_summary = processor.process_orders()
        assert second_summary == first_summary
        assert processor.processed_orders == first_orders
        assert processor.generate_daily_report() == first_report

    def test_parse_order_does_not_mutate_the_record(self, fixed, fixtures_dir):
        loaded = fixed.OrderProcessor(fixtures_dir / "orders_messy.jsonl").load_orders()
        line, record = loaded.records[0]
        before = copy.deepcopy(record)
        parsed = fixed.parse_order(record, line)
        assert record == before
        assert "order_total" not in record and "processed_at" not in record
        assert parsed.shipping_address is not record["shipping_address"]  # a copy, not an alias

    def test_orders_are_immutable(self, fixed, fixtures_dir):
        processor, _ = run(fixed, fixtures_dir / "orders_clean.jsonl")
        with pytest.raises(AttributeError):
            processor.processed_orders[0].order_total = D("0")  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Empty input
# ---------------------------------------------------------------------------------------------


class TestEmptyInput:
    def test_empty_file_gives_empty_report_with_columns(self, fixed, fixtures_dir, tmp_path):
        processor, summary = run(fixed, fixtures_dir / "orders_empty.jsonl")
        report = processor.generate_daily_report()
        assert report.columns == ("order_date", "channel", "revenue", "orders", "avg_order_value", "unique_customers")
        assert report.rows == ()
        assert dict(report.status_counts) == {"confirmed": 0, "pending": 0, "cancelled": 0}
        assert report.format_table().split() == list(report.columns)
        assert processor.get_top_customers() == []
        assert summary.lines_read == 0 and summary.accepted == 0
        saved = json.loads(processor.save_results(tmp_path / "out.json").read_text())
        assert saved["daily_report"] == [] and saved["orders"] == []

    def test_no_confirmed_orders_gives_empty_report_and_status_counts(self, fixed, fixtures_dir):
        processor, _ = run(fixed, fixtures_dir / "orders_pending_only.jsonl")
        report = processor.generate_daily_report()
        assert report.rows == ()
        assert dict(report.status_counts) == {"confirmed": 0, "pending": 1, "cancelled": 1}
        assert processor.get_top_customers() == []

    def test_reports_before_processing_raise_clearly(self, fixed, fixtures_dir):
        processor = fixed.OrderProcessor(fixtures_dir / "orders_clean.jsonl")
        with pytest.raises(RuntimeError, match=r"process_orders\(\) has not run yet"):
            processor.generate_daily_report()
        with pytest.raises(RuntimeError):
            processor.get_top_customers()


# ---------------------------------------------------------------------------------------------
# Daily report values (hand-computed)
# ---------------------------------------------------------------------------------------------


class TestDailyReport:
    def test_messy_fixture_report(self, fixed, fixtures_dir):
        processor, _ = run(fixed, fixtures_dir / "orders_messy.jsonl")
        assert rows_as_tuples(processor.generate_daily_report()) == [
            # ORD-9012 4 x 1.15 = 4.60; written 2024-03-02T01:00+02:00 = 2024-03-01T23:00Z.
            (date(2024, 3, 1), "api", D("4.60"), 1, D("4.60"), 1),
            # ORD-9004, mobile variant: ts 1709290800000 = 2024-03-01T11:00Z, 1 x 19.99.
            (date(2024, 3, 1), "mobile", D("19.99"), 1, D("19.99"), 1),
            # ORD-9001 2 x 19.99 + 5.00 = 44.98; ORD-9002 3 x 14.95 = 44.85. 89.83 / 2 = 44.915 -> 44.92.
            (date(2024, 3, 1), "web", D("89.83"), 2, D("44.92"), 2),
            # ORD-9014 3 x 0.10 + 3 x 0.20 = 0.90; ORD-9015 "12.30" (string price) at
            # 2024-03-02T10:00Z; one customer (CUST-108) with two orders.
            (date(2024, 3, 2), "mobile", D("13.20"), 2, D("6.60"), 1),
            # ORD-9005 written 2024-03-01T23:30-05:00 = 2024-03-02T04:30Z.
            (date(2024, 3, 2), "web", D("100.00"), 1, D("100.00"), 1),
        ]

    def test_pending_and_cancelled_are_counted_not_summed(self, fixed, fixtures_dir):
        processor, summary = run(fixed, fixtures_dir / "orders_messy.jsonl")
        report = processor.generate_daily_report()
        # ORD-9006 pending (line 8) and ORD-9007 cancelled (line 9).
        assert dict(report.status_counts) == {"confirmed": 7, "pending": 1, "cancelled": 1}
        assert dict(summary.status_counts) == dict(report.status_counts)
        assert sum(r.orders for r in report.rows) == 7

    def test_clean_fixture_report(self, fixed, fixtures_dir):
        processor, _ = run(fixed, fixtures_dir / "orders_clean.jsonl")
        assert rows_as_tuples(processor.generate_daily_report()) == [
            (date(2024, 1, 15), "mobile", D("0.90"), 1, D("0.90"), 1),
            (date(2024, 1, 15), "web", D("144.80"), 2, D("72.40"), 2),
            # 10.00 + 10.01 = 20.01; 20.01 / 2 = 10.005 -> 10.01 (float mean 10.004999... -> 10.0).
            (date(2024, 1, 16), "mobile", D("20.01"), 2, D("10.01"), 2),
        ]

    def test_report_revenue_equals_sum_of_confirmed_totals(self, fixed, fixtures_dir):
        processor, _ = run(fixed, fixtures_dir / "orders_clean.jsonl")
        report_total = sum((r.revenue for r in processor.generate_daily_report().rows), D(0))
        assert report_total == D("165.71")  # 44.85 + 99.95 + 0.90 + 10.00 + 10.01

    def test_report_json_is_flat(self, fixed, fixtures_dir):
        processor, _ = run(fixed, fixtures_dir / "orders_clean.jsonl")
        first = processor.generate_daily_report().to_json()[0]
        assert first == {
            "order_date": "2024-01-15",
            "channel": "mobile",
            "revenue": "0.90",
            "orders": 1,
            "avg_order_value": "0.90",
            "unique_customers": 1,
        }


# ---------------------------------------------------------------------------------------------
# Time zones
# ---------------------------------------------------------------------------------------------


class TestUtcDates:
    def test_offset_timestamps_are_grouped_by_utc_date(self, fixed, fixtures_dir):
        processor, _ = run(fixed, fixtures_dir / "orders_offset.jsonl")
        # 2024-01-15T23:30-05:00 is 2024-01-16T04:30Z; 2024-01-16T08:00-05:00 is 13:00Z.
        assert rows_as_tuples(processor.generate_daily_report()) == [
            (date(2024, 1, 16), "web", D("35.00"), 2, D("17.50"), 2),
        ]
        first = processor.processed_orders[0]
        assert first.timestamp == datetime(2024, 1, 16, 4, 30, tzinfo=UTC)
        assert first.to_json()["timestamp"] == "2024-01-16T04:30:00Z"

    def test_mixed_offsets_in_one_file(self, fixed, fixtures_dir):
        processor, _ = run(fixed, fixtures_dir / "orders_mixed_offsets.jsonl")
        assert rows_as_tuples(processor.generate_daily_report()) == [
            (date(2024, 1, 15), "web", D("25.00"), 1, D("25.00"), 1),  # 18:00Z
            (date(2024, 1, 16), "web", D("10.00"), 1, D("10.00"), 1),  # 23:30-05:00 = 04:30Z next day
        ]

    def test_processed_at_is_aware_utc(self, fixed, fixtures_dir):
        processor, _ = run(fixed, fixtures_dir / "orders_clean.jsonl")
        assert processor.processed_at.utcoffset().total_seconds() == 0
        assert abs((datetime.now(UTC) - processor.processed_at).total_seconds()) < 60

    def test_naive_datetimes_are_never_formatted(self, fixed):
        with pytest.raises(ValueError, match="naive"):
            fixed.iso_utc(datetime(2024, 1, 1, 12, 0))


# ---------------------------------------------------------------------------------------------
# Mobile variant: customerId + ts (epoch ms)
# ---------------------------------------------------------------------------------------------


class TestMobileVariant:
    def test_variant_is_normalised(self, fixed, fixtures_dir):
        processor, summary = run(fixed, fixtures_dir / "orders_mobile_variant.jsonl")
        assert summary.accepted == 2 and summary.rejected == 0
        mobile = [o for o in processor.processed_orders if o.order_id == "ORD-3002"][0]
        assert mobile.customer_id == "CUST-021"
        assert mobile.timestamp == datetime(2024, 1, 15, 12, 0, tzinfo=UTC)  # 1705320000000 ms
        assert mobile.order_total == D("30.00")
        assert rows_as_tuples(processor.generate_daily_report()) == [
            (date(2024, 1, 15), "mobile", D("30.00"), 1, D("30.00"), 1),
            (date(2024, 1, 15), "web", D("20.00"), 1, D("20.00"), 1),
        ]
        assert [c.customer_id for c in processor.get_top_customers()] == ["CUST-021", "CUST-020"]

    def test_both_spellings_must_agree(self, fixed):
        agreeing = order("ORD-1", "CUST-1", "1.00", customerId="CUST-1", ts=1714564800000)  # 12:00Z both
        assert fixed.parse_order(agreeing, 1).customer_id == "CUST-1"
        with pytest.raises(fixed.InvalidOrder, match="conflicts with customerId"):
            fixed.parse_order(order("ORD-1", "CUST-1", "1.00", customerId="CUST-2"), 1)
        with pytest.raises(fixed.InvalidOrder, match="conflicts with ts"):
            fixed.parse_order(order("ORD-1", "CUST-1", "1.00", ts=0), 1)

    @pytest.mark.parametrize("ts", [True, 1714564800000.5, "1714564800000"])
    def test_ts_must_be_integer_milliseconds(self, fixed, ts):
        record = order("ORD-1", "CUST-1", "1.00")
        del record["timestamp"]
        record["ts"] = D(str(ts)) if isinstance(ts, float) else ts
        with pytest.raises(fixed.InvalidOrder, match="ts must be whole epoch milliseconds"):
            fixed.parse_order(record, 1)


# ---------------------------------------------------------------------------------------------
# Top customers
# ---------------------------------------------------------------------------------------------


class TestTopCustomers:
    def test_messy_fixture_ranking(self, fixed, fixtures_dir):
        processor, _ = run(fixed, fixtures_dir / "orders_messy.jsonl")
        top = [(c.customer_id, c.revenue, c.orders) for c in processor.get_top_customers()]
        assert top == [
            ("CUST-103", D("100.00"), 1),
            ("CUST-100", D("69.57"), 3),  # 44.98 + 19.99 + 4.60
            ("CUST-101", D("44.85"), 1),  # the cancelled ORD-9007 does not count
            ("CUST-108", D("13.20"), 2),
        ]

    def test_limit(self, fixed, fixtures_dir):
        processor, _ = run(fixed, fixtures_dir / "orders_messy.jsonl")
        assert [c.customer_id for c in processor.get_top_customers(2)] == ["CUST-103", "CUST-100"]
        assert processor.get_top_customers(0) == []
        for bad in (-1, 2.5, True):
            with pytest.raises(ValueError):
                processor.get_top_customers(bad)

    def test_ties_are_broken_by_customer_id(self, fixed, tmp_path):
        path = write_lines(
            tmp_path / "ties.jsonl",
            [order("ORD-1", "CUST-B", "10.00"), order("ORD-2", "CUST-A", "10.00"), order("ORD-3", "CUST-C", "10.01")],
        )
        processor, _ = run(fixed, path)
        assert [c.customer_id for c in processor.get_top_customers()] == ["CUST-C", "CUST-A", "CUST-B"]


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------


class TestSaving:
    def test_output_is_valid_json_with_strings_for_money_and_time(self, fixed, fixtures_dir, tmp_path):
        processor, _ = run(fixed, fixtures_dir / "orders_messy.jsonl")
        out = processor.save_results(tmp_path / "processed.json")
        doc = json.loads(out.read_text(encoding="utf-8"))
        assert doc["processed_at"].endswith("Z")
        assert datetime.fromisoformat(doc["processed_at"]).utcoffset().total_seconds() == 0
        first = doc["orders"][0]
        assert first["order_id"] == "ORD-9001"
        assert first["order_total"] == "44.98"
        assert first["timestamp"] == "2024-03-01T09:00:00Z"
        assert first["items"][1]["unit_price"] == "5.00"
        assert doc["summary"]["status_counts"] == {"confirmed": 7, "pending": 1, "cancelled": 1}
        assert doc["daily_report"][2] == {
            "order_date": "2024-03-01",
            "channel": "web",
            "revenue": "89.83",
            "orders": 2,
            "avg_order_value": "44.92",
            "unique_customers": 2,
        }
        assert [r["line"] for r in doc["rejected"]] == [10, 11, 12, 14, 18, 21]
        assert [m["line"] for m in doc["malformed_lines"]] == [4, 17]
        assert doc["blank_lines"] == [2, 13]

        def no_floats_or_datetimes(value: object) -> None:
            assert not isinstance(value, float), value
            if isinstance(value, dict):
                for v in value.values():
                    no_floats_or_datetimes(v)
            elif isinstance(value, list):
                for v in value:
                    no_floats_or_datetimes(v)

        no_floats_or_datetimes(json.loads(out.read_text(), parse_float=float))

    def test_save_replaces_atomically_and_cleans_up_on_failure(self, fixed, fixtures_dir, tmp_path, monkeypatch):
        target = tmp_path / "processed.json"
        target.write_text('{"previous": "results"}\n')
        processor, _ = run(fixed, fixtures_dir / "orders_clean.jsonl")

        def crash(src, dst):
            raise OSError("simulated crash before the rename")

        monkeypatch.setattr(fixed.os, "replace", crash)
        with pytest.raises(OSError, match="simulated crash"):
            processor.save_results(target)
        # The old file is intact and no temporary file is left behind.
        assert target.read_text() == '{"previous": "results"}\n'
        assert sorted(p.name for p in tmp_path.iterdir()) == ["processed.json"]

    def test_unserializable_value_fails_before_touching_the_file(self, fixed, fixtures_dir, tmp_path, monkeypatch):
        target = tmp_path / "processed.json"
        target.write_text("old\n")
        processor, _ = run(fixed, fixtures_dir / "orders_clean.jsonl")
        monkeypatch.setattr(processor, "results_document", lambda *_: {"when": datetime.now(UTC)})
        with pytest.raises(TypeError):
            processor.save_results(target)
        assert target.read_text() == "old\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["processed.json"]

    def test_save_fsyncs_then_renames(self, fixed, fixtures_dir, tmp_path, monkeypatch):
        events: list[str] = []
        real_fsync, real_replace = os.fsync, os.replace
        monkeypatch.setattr(fixed.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
        monkeypatch.setattr(fixed.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
        processor, _ = run(fixed, fixtures_dir / "orders_clean.jsonl")
        processor.save_results(tmp_path / "processed.json")
        assert events[:2] == ["fsync", "replace"]  # data is durable before it becomes visible
        assert json.loads((tmp_path / "processed.json").read_text())["summary"]["accepted"] == 7


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


class TestCli:
    def test_cli_prints_reports_and_saves(self, fixed, fixtures_dir, tmp_path, capsys):
        out = tmp_path / "processed.json"
        assert fixed.main([str(fixtures_dir / "orders_messy.jsonl"), "--out", str(out)]) == 0
        printed = capsys.readouterr().out
        assert "2024-03-01  web        89.83       2            44.92                 2" in printed
        assert "confirmed 7, pending 1, cancelled 1" in printed
        assert "CUST-100       69.57       3" in printed
        assert "accepted 9, duplicates 2, rejected 6, malformed 2, blank 2" in printed
        assert json.loads(out.read_text())["summary"]["lines_read"] == 21

    @pytest.mark.parametrize(("top", "expected"), [("2", ["CUST-103", "CUST-100"]), ("0", [])])
    def test_cli_top_applies_to_the_saved_file_too(self, fixed, fixtures_dir, tmp_path, capsys, top, expected):
        out = tmp_path / "processed.json"
        assert fixed.main([str(fixtures_dir / "orders_messy.jsonl"), "--out", str(out), "--top", top]) == 0
        printed = capsys.readouterr().out
        assert f"Top {top} customers by confirmed revenue" in printed
        assert [c["customer_id"] for c in json.loads(out.read_text())["top_customers"]] == expected
        assert ("CUST-101" in printed) is False  # third of four: neither printed nor saved

    def test_save_results_default_keeps_ten(self, fixed, fixtures_dir, tmp_path):
        path = write_lines(tmp_path / "many.jsonl", [order(f"ORD-{i}", f"CUST-{i:02}", f"{i}.00") for i in range(1, 13)])
        processor, _ = run(fixed, path)
        saved = json.loads(processor.save_results(tmp_path / "p.json").read_text())
        assert [c["customer_id"] for c in saved["top_customers"]] == [f"CUST-{i:02}" for i in range(12, 2, -1)]
        saved = json.loads(processor.save_results(tmp_path / "p.json", top_customers=3).read_text())
        assert [c["customer_id"] for c in saved["top_customers"]] == ["CUST-12", "CUST-11", "CUST-10"]

    def test_cli_missing_input_exits_2(self, fixed, tmp_path):
        assert fixed.main([str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o.json")]) == 2
        assert not (tmp_path / "o.json").exists()

    def test_script_runs_without_pandas(self, fixtures_dir, tmp_path):
        # Run the file as a script, the way the CLI is documented, in a fresh interpreter.
        script = EVALUATION_DIR / "fixed_pipeline_code.py"
        probe = (
            "import runpy, sys\n"
            f"sys.argv = ['fixed_pipeline_code.py', {str(fixtures_dir / 'orders_clean.jsonl')!r},"
            f" '--out', {str(tmp_path / 'p.json')!r}, '--log-level', 'ERROR']\n"
            "try:\n"
            f"    runpy.run_path({str(script)!r}, run_name='__main__')\n"
            "except SystemExit as exit:\n"
            "    print('exit', exit.code)\n"
            "print('pandas loaded:', 'pandas' in sys.modules)\n"
        )
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        assert "exit 0" in result.stdout
        assert "pandas loaded: False" in result.stdout
        assert "2024-01-15  web       144.80       2            72.40                 2" in result.stdout


# ---------------------------------------------------------------------------------------------
# The generated stream, once it is in the repository
# ---------------------------------------------------------------------------------------------

STREAM = EVALUATION_DIR / "orders_stream.jsonl"


@pytest.mark.skipif(not STREAM.exists(), reason="Evaluation-Files/orders_stream.jsonl not generated yet")
def test_orders_stream_is_processed_consistently(fixed, tmp_path):
    processor, summary = run(fixed, STREAM)
    assert summary.lines_read == (
        summary.accepted + summary.duplicates + summary.rejected + summary.malformed_lines + summary.blank_lines
    )
    report = processor.generate_daily_report()
    confirmed = [o for o in processor.processed_orders if o.status == "confirmed"]
    assert sum((r.revenue for r in report.rows), D(0)) == sum((o.order_total for o in confirmed), D(0))
    assert sum(r.orders for r in report.rows) == len(confirmed)
    assert len({o.order_id for o in processor.processed_orders}) == len(processor.processed_orders)
    json.loads(processor.save_results(tmp_path / "stream.json").read_text())


@pytest.mark.skipif(not STREAM.exists(), reason="Evaluation-Files/orders_stream.jsonl not generated yet")
def test_orders_stream_figures_with_the_catalog(fixed):
    """The figures DEBUGGING.md quotes for the real file (the lake cross-check compares them too)."""
    processor = fixed.OrderProcessor(STREAM, fixed.load_product_catalog(EVALUATION_DIR / "product_catalog.json"))
    summary = processor.process_orders()
    assert (summary.lines_read, summary.accepted, summary.duplicates, summary.rejected, summary.malformed_lines,
            summary.blank_lines) == (1000, 939, 9, 43, 9, 0)
    assert dict(summary.status_counts) == {"confirmed": 754, "pending": 116, "cancelled": 69}
    report = processor.generate_daily_report()
    assert (len(report.rows), sum(r.orders for r in report.rows)) == (90, 754)
    assert sum((r.revenue for r in report.rows), D(0)) == D("495536.28")
    assert [(c.customer_id, c.revenue, c.orders) for c in processor.get_top_customers(1)] == [
        ("CUST-00001", D("30126.36"), 51)
    ]

    def kind(reason: str) -> str:
        for text, name in [
            ("is not in the product catalog", "unknown product"),
            ("quantity must be > 0", "quantity <= 0"),
            ("unit_price is negative", "negative price"),
            ("channel", "bad or missing channel"),
            ("unknown status", "unknown status"),
        ]:
            if text in reason:
                return name
        return "missing or empty id, status or time"

    kinds: dict[str, list[int]] = {}
    for issue in processor.rejected:
        kinds.setdefault(kind(issue.reason), []).append(issue.line)
    assert {k: len(v) for k, v in kinds.items()} == {
        "unknown product": 11,
        "quantity <= 0": 10,
        "bad or missing channel": 10,  # WEB x5, store x2, "" x2, none x1
        "missing or empty id, status or time": 6,
        "negative price": 5,
        "unknown status": 1,  # 'Confirmed'
    }
    assert kinds["unknown status"] == [373]
    assert kinds["missing or empty id, status or time"] == [151, 266, 553, 676, 853, 955]
