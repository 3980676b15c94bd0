"""Hostile input: garbage in the staging files must never crash a load or a run, never
take a good record down with it, and never inject markup into the report.

Every string of the big list of naughty strings (tests/data/blns.json) goes into every
text column of every entity (and into an order line's ``name`` and ``sku``), through
``dotsync load`` (CSV for customers and certificates, JSON Lines for orders), then a
sync against the emulator. Each such record must end ``synced`` (and then arrive in
Dotdigital unchanged, or, for an optional field, be left out with a warning naming the
column) or ``rejected`` with a reason whose field is the column; the
known-good records of the same files must be loaded and synced; the Markdown report
must render every value as text.

Then: oversized values, wrong JSON types, control characters, formula injection in
names, malformed JSON in ``lines`` and ``data_fields``, and files that are truncated or
in the wrong encoding.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dotsync.emulator import EmulatorServer
from dotsync.store import ENTITY_COLUMNS, ENTITY_KEYS, Ledger, Store
from dotsync.store import warnings as field_warnings
from dotsync.store.schema import ENTITIES
from dotsync.sync.report import RunReport
from tests.e2e.helpers import cart, certificate, customer, order, stage
from tests.reliability.harness import REPO, converge, settings_for, sync_once
from tests.reliability.invariants import check_invariants

BLNS: list[str] = json.loads((REPO / "tests" / "data" / "blns.json").read_text("utf-8"))
#: Strings that read as timestamps of year -1 or 0 (once accepted, and a crash).
YEAR_ZERO = ("-1", "-0", "-1/2")
GOOD = 6
#: The entities the sync sends (products are staged, not synced yet).
SYNCED_COLUMNS = {e: ENTITY_COLUMNS[e] for e in ENTITIES}


@dataclass(frozen=True)
class Case:
    """One naughty value in one column of one staged record."""

    entity: str
    key: str
    column: str
    value: str


def _good_rows() -> dict[str, list[dict[str, Any]]]:
    return {
        "customers": [customer(i, customer_id=f"good-C{i}", email=f"good{i}@example.com")
                      for i in range(GOOD)],
        "orders": [order(i, f"good{i}@example.com", order_id=f"good-O{i}")
                   for i in range(GOOD)],
        "certificates": [certificate(i, f"good{i}@example.com", certificate_id=f"good-G{i}",
                                     code=f"GOODCODE{i}") for i in range(GOOD)],
        "carts": [cart(i, f"good{i}@example.com", cart_id=f"good-K{i}") for i in range(GOOD)],
    }


def _naughty_rows() -> tuple[dict[str, list[dict[str, Any]]], list[Case]]:
    """One row per (column, naughty string); dependants point at good contacts."""
    rows: dict[str, list[dict[str, Any]]] = {e: [] for e in SYNCED_COLUMNS}
    cases: list[Case] = []
    makers: dict[str, Callable[[int], dict[str, Any]]] = {
        "customers": lambda n: customer(n, customer_id=f"row-C{n:05d}",
                                        email=f"n{n}@example.com", mobile_number=None),
        "orders": lambda n: order(n, f"good{n % GOOD}@example.com", order_id=f"row-O{n:05d}"),
        "certificates": lambda n: certificate(n, f"good{n % GOOD}@example.com",
                                              certificate_id=f"row-G{n:05d}",
                                              code=f"ROWCODE{n}"),
        "carts": lambda n: cart(n, f"good{n % GOOD}@example.com", cart_id=f"row-K{n:05d}"),
    }
    n = 0
    for entity, columns in SYNCED_COLUMNS.items():
        extra = ("line_name", "line_sku") if entity in ("orders", "carts") else ()
        for column in (*columns, *extra):
            for value in BLNS:
                n += 1
                row = makers[entity](n)
                if column == "line_name":
                    row["lines"][0]["name"] = value
                elif column == "line_sku":
                    row["lines"][0]["sku"] = value
                else:
                    row[column] = value
                rows[entity].append(row)
                key = row[ENTITY_KEYS[entity]]
                cases.append(Case(entity, key, column, value))
    return rows, cases


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value


def write_csv(path: Path, entity: str, rows: list[dict[str, Any]]) -> Path:
    columns = [c for c in ENTITY_COLUMNS[entity] if any(c in r for r in rows)]
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _cell(row.get(c)) for c in columns})
    return path


def write_jsonl(path: Path, entity: str, rows: list[dict[str, Any]], *,
                ensure_ascii: bool = False) -> Path:
    """JSON Lines as most writers make them: non-ASCII (U+2028 and the like included)
    unescaped, which is valid JSON."""
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps({c: v for c, v in row.items() if c in ENTITY_COLUMNS[entity]},
                               ensure_ascii=ensure_ascii) + "\n")
    return path


def load(url: str, entity: str, path: Path) -> dict[str, Any]:
    """``dotsync load ENTITY FILE --json`` as the user runs it; must not crash."""
    from dotsync.cli import main

    result = CliRunner().invoke(main, ["load", entity, str(path), "--json"],
                                env={"DOTSYNC_DATABASE_URL": url})
    assert result.exit_code == 0, (result.output, result.exception)
    return dict(json.loads(result.output))


def cli_json(url: str, *args: str) -> Any:
    from dotsync.cli import main

    result = CliRunner().invoke(main, [*args, "--json"], env={"DOTSYNC_DATABASE_URL": url})
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.output)


# -- the report renders source values as text --------------------------------------------

def assert_renders_as_text(report: RunReport) -> None:
    """The Markdown artifact: no HTML, no link or image, every table row intact; the
    table artifact: one printable line per cell."""
    markdown_it = pytest.importorskip("markdown_it")
    text = report.to_markdown()
    md = markdown_it.MarkdownIt("commonmark").enable("table")
    tokens = md.parse(text)
    kinds: set[str] = set()

    def walk(items: list[Any]) -> Iterator[Any]:
        for t in items:
            yield t
            yield from walk(t.children or [])

    for token in walk(tokens):
        kinds.add(token.type)
    injected = kinds & {"html_block", "html_inline", "link_open", "image", "autolink"}
    assert not injected, f"source data became markup: {injected}"
    html = md.render(text)
    allowed = {"h1", "h2", "p", "strong", "em", "code", "ul", "li", "br", "table", "thead",
               "tbody", "tr", "th", "td"}
    for tag in re.findall(r"<[^>]*>", html):
        name = re.match(r"</?\s*([A-Za-z0-9]+)", tag)
        assert name and name.group(1).lower() in allowed, f"unexpected HTML {tag[:120]!r}"
        attributes = re.sub(r'style="text-align:(left|right|center)"', "", tag[1:-1])
        assert "=" not in attributes, f"an attribute came from the data: {tag[:120]!r}"
    for token in tokens:  # each row as many cells as its table's header
        if token.type == "table_open":
            expected = None
        elif token.type == "tr_open":
            cells = 0
        elif token.type in ("th_open", "td_open"):
            cells += 1
        elif token.type == "tr_close":
            expected = cells if expected is None else expected
            assert cells == expected, f"a table row with {cells} cells, not {expected}"
    widths = {line.count("|") for line in text.splitlines() if line.startswith("|---")}
    for line in text.splitlines():
        if line.startswith("| "):  # extra cells would be dropped silently: count pipes
            assert _unescaped_pipes(line) in widths, f"a value broke its cell: {line[:200]!r}"
    for row in report.table_rows() + report.warning_rows():
        for value in row.values():
            assert value.isprintable() and "\n" not in value, repr(value)


def _unescaped_pipes(line: str) -> int:
    count, escaped = 0, False
    for ch in line:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "|":
            count += 1
    return count


# -- the big list of naughty strings ---------------------------------------------------------

def test_every_naughty_string_in_every_text_column(emulator: EmulatorServer, store: Store,
                                                   store_url: str, tmp_path: Path) -> None:
    naughty, cases = _naughty_rows()
    good = _good_rows()
    files = {
        "customers": write_csv(tmp_path / "customers.csv", "customers",
                               good["customers"] + naughty["customers"]),
        "orders": write_jsonl(tmp_path / "orders.jsonl", "orders",
                              good["orders"] + naughty["orders"]),
        "certificates": write_csv(tmp_path / "certificates.csv", "certificates",
                                  good["certificates"] + naughty["certificates"]),
        "carts": write_jsonl(tmp_path / "carts.jsonl", "carts", good["carts"] + naughty["carts"]),
    }
    for entity, path in files.items():
        loaded = load(store_url, entity, path)
        key = ENTITY_KEYS[entity]
        for problem in loaded["problems"]:  # only the blank keys may be refused at load
            assert problem["field"] == key and key in problem["reason"], problem

    for name in ("STORE", "LOCALE"):  # the shop's account has the fields it sends
        emulator.state.add_data_field(name)
    settings = settings_for(emulator, store_url)
    report = sync_once(store, settings)
    again = sync_once(store, settings)
    assert again.write_calls == 0  # settled: nothing left to do

    found = check_invariants(store, emulator)
    assert found.states["customers"]["synced"] > GOOD  # plenty of odd but valid values
    ledger = {e: Ledger(store).frame(e).set_index("key") for e in SYNCED_COLUMNS}
    for entity, rows in good.items():
        for row in rows:
            key = row[ENTITY_KEYS[entity]]
            assert ledger[entity].loc[key, "state"] == "synced", (entity, key)

    warned: dict[tuple[str, str], set[str]] = {}
    for w in field_warnings.frame(store).itertuples():
        warned.setdefault((w.entity, w.key), set()).add(str(w.field))
    contacts = {c["identifiers"].get("email"): c for c in emulator.state.contacts()}
    records = {r["key"]: r["json"] for r in emulator.state.insight_records("Purchases")}
    records.update({r["key"]: r["json"] for r in emulator.state.insight_records("CartInsight")})
    sends = {s["personalizationValues"].get("CERTIFICATE_CODE"): s
             for s in emulator.state.sends()}
    wrong: list[str] = []
    for case in cases:
        frame = ledger[case.entity]
        if case.key not in frame.index:
            assert not case.key.strip() or case.column == ENTITY_KEYS[case.entity], case
            continue  # a blank or repeated key, refused or merged at load
        row = frame.loc[case.key]
        if row["state"] == "rejected":
            fields = str(row["error_field"] or "")
            column = "lines" if case.column.startswith("line_") else case.column
            if not _names(column, fields, str(row["error_message"])):
                wrong.append(f"{case}: rejected naming {fields!r}: {row['error_message']}")
            continue
        if row["state"] != "synced":
            wrong.append(f"{case}: ended {row['state']}")
            continue
        left_out = warned.get((case.entity, case.key), set())
        column = {"line_sku": "lines.sku"}.get(case.column, case.column)
        if column in left_out:  # an optional field SPEC §1 leaves out, with a warning
            arrived = _arrived(case, contacts, records, sends)
            if arrived not in (None, _SKIP):
                wrong.append(f"{case}: left out with a warning, yet Dotdigital holds "
                             f"{arrived!r}")
            continue
        if left_out:
            wrong.append(f"{case}: a warning on {sorted(left_out)}, not on the column")
            continue
        arrived = _arrived(case, contacts, records, sends)
        if arrived is not _SKIP and arrived not in (case.value, case.value.strip()) \
                and not (arrived is None and not case.value.strip()):
            wrong.append(f"{case}: Dotdigital holds {arrived!r}")
    assert not wrong, f"{len(wrong)} records went wrong:\n" + "\n".join(wrong[:40])

    assert_renders_as_text(report)
    rejects = cli_json(store_url, "rejects")
    assert rejects["count"] == sum(found.states[e]["rejected"] for e in SYNCED_COLUMNS)
    counted = cli_json(store_url, "status")["entities"]
    assert {e: counted[e]["staged"] for e in SYNCED_COLUMNS} == {
        e: store.count_staged(e) for e in SYNCED_COLUMNS}


_SKIP = object()


def _names(column: str, fields: str, reason: str) -> bool:
    """Whether a rejection names ``column``: as its field, or (for Dotdigital's own
    refusals, e.g. a campaign id it does not know) in the reason's words."""
    return column in fields.split(", ") or (
        not fields and column.split("_")[0] in reason.lower())


def _arrived(case: Case, contacts: dict[Any, Any], records: dict[str, Any],
             sends: dict[Any, Any]) -> Any:
    """What Dotdigital holds for the naughty value of a synced record (or _SKIP when the
    column is not sent verbatim: keys, dates, amounts, enums)."""
    if case.entity == "customers":
        field = {"first_name": "FIRSTNAME", "last_name": "LASTNAME", "store": "STORE",
                 "locale": "LOCALE"}.get(case.column)
        if field is None:
            return _SKIP
        n = int(case.key.removeprefix("row-C"))
        contact = contacts.get(f"n{n}@example.com")
        return None if contact is None else contact["dataFields"].get(field)
    if case.entity == "orders":
        record = records.get(case.key)
        if record is None:
            return None
        if case.column == "line_name":
            return record["products"][0]["name"]
        if case.column == "line_sku":
            return record["products"][0].get("sku")
        if case.column in ("store", "coupon_code"):
            return record.get(case.column)
        if case.column == "status":
            return record.get("order_status")
        return _SKIP
    if case.entity == "carts":
        record = records.get(case.key)
        if record is None:
            return None
        if case.column == "line_name":
            return record["lineItems"][0]["name"]
        if case.column == "line_sku":
            return record["lineItems"][0].get("sku")
        if case.column == "url":
            return record.get("cartUrl")
        return _SKIP
    if case.column == "code":
        return case.value if case.value.strip() in sends else None
    return _SKIP


# -- sizes, types, control characters, formulas ---------------------------------------------

def _sync_and_check(store: Store, emulator: EmulatorServer, url: str, **options: Any
                    ) -> RunReport:
    report = sync_once(store, settings_for(emulator, url), **options)
    check_invariants(store, emulator)
    assert_renders_as_text(report)
    return report


def _state(store: Store, entity: str, key: str) -> tuple[str, str, str]:
    row = Ledger(store).frame(entity, [key]).iloc[0]
    return str(row["state"]), str(row["error_field"] or ""), str(row["error_message"] or "")


def test_oversized_values(emulator: EmulatorServer, sqlite_store: Store,
                          sqlite_url: str) -> None:
    """A megabyte name is rejected naming its field; long but allowed values (a 100 kB
    store name, a 2,000-line order, a 100 kB data field) go through whole."""
    many_lines = [{"sku": f"SKU{i}", "name": f"Item {i}", "quantity": 1, "unit_price": 1.0}
                  for i in range(2000)]
    stage(sqlite_store, "customers", [
        customer(1, first_name="N" * 1_000_000),
        customer(2, last_name="L" * 51),
        customer(3, store="S" * 100_000, data_fields={"NOTES": "D" * 100_000}),
        customer(4),
    ])
    stage(sqlite_store, "orders", [
        order(1, "customer4@example.com", lines=many_lines, total="2000", subtotal="2000"),
        order(2, "customer4@example.com", total="1" + "0" * 400),
        order(3, "customer4@example.com", coupon_code="C" * 50_000),
    ])
    for name in ("STORE", "NOTES"):  # the shop's account has the fields it sends
        emulator.state.add_data_field(name)
    _sync_and_check(sqlite_store, emulator, sqlite_url)
    # Optional fields (SPEC §1): left out with a warning, the contact sent without them.
    assert _state(sqlite_store, "customers", "C1")[0] == "synced"
    assert _state(sqlite_store, "customers", "C2")[0] == "synced"
    assert "FIRSTNAME" not in emulator.state.contact("customer1@example.com")["dataFields"]
    assert "LASTNAME" not in emulator.state.contact("customer2@example.com")["dataFields"]
    left_out = field_warnings.frame(sqlite_store, "customers")
    assert sorted(zip(left_out["key"], left_out["field"], strict=True)) == [
        ("C1", "first_name"), ("C2", "last_name")]
    assert all(len(v) < 100 for v in left_out["value"])  # clipped and masked
    assert _state(sqlite_store, "customers", "C3")[0] == "synced"
    stored = emulator.state.contact("customer3@example.com")
    assert stored is not None and stored["dataFields"]["STORE"] == "S" * 100_000
    records = {r["key"]: r["json"] for r in emulator.state.insight_records("Purchases")}
    records.update({r["key"]: r["json"] for r in emulator.state.insight_records("CartInsight")})
    assert len(records["O1"]["products"]) == 2000
    assert records["O3"]["coupon_code"] == "C" * 50_000
    assert _state(sqlite_store, "orders", "O2")[0] in ("synced", "rejected")


def test_wrong_json_types_in_text_columns(emulator: EmulatorServer, sqlite_store: Store,
                                          sqlite_url: str, tmp_path: Path) -> None:
    """JSON Lines where numbers, booleans, lists and objects stand in for text: stored as
    text, then accepted or rejected naming the field; good lines load and sync."""
    odd = [
        {"customer_id": 7, "email": "seven@example.com", "first_name": 123,
         "last_name": True, "updated_at": "2026-10-01T10:00:00Z"},
        {"customer_id": "C8", "email": ["eight@example.com"], "updated_at": "2026-10-01"},
        {"customer_id": "C9", "email": "nine@example.com", "first_name": {"a": 1},
         "updated_at": "2026-10-01T10:00:00Z"},
        {"customer_id": "C10", "email": "ten@example.com", "data_fields": [1, 2],
         "updated_at": "2026-10-01T10:00:00Z"},
        {"customer_id": "C11", "email": "eleven@example.com", "opt_in_type": False,
         "updated_at": 1_790_000_000},
        {"customer_id": "C12", "email": "twelve@example.com", "mobile_number": 7911123456,
         "country": "GB", "updated_at": "2026-10-01T10:00:00Z"},
        {"customer_id": None, "email": "nobody@example.com"},
        customer(13),
    ]
    path = write_jsonl(tmp_path / "odd.jsonl", "customers",
                       [{k: v for k, v in r.items()} for r in odd])
    loaded = load(sqlite_url, "customers", path)
    assert [p["field"] for p in loaded["problems"]] == ["customer_id"]
    orders = [order(1, "customer13@example.com", total=24, subtotal=24.0, tax=None),
              order(2, "customer13@example.com", total=[1], lines={"sku": "X"}),
              order(3, "customer13@example.com", lines=[{"sku": 1, "name": 2, "quantity": "3",
                                                         "unit_price": "x"}])]
    load(sqlite_url, "orders", write_jsonl(tmp_path / "o.jsonl", "orders", orders))
    _sync_and_check(sqlite_store, emulator, sqlite_url)
    assert _state(sqlite_store, "customers", "C13")[0] == "synced"
    assert _state(sqlite_store, "customers", "C8")[:2] == ("rejected", "email")
    assert _state(sqlite_store, "customers", "C9")[0] == "synced"  # '{"a":1}' is text
    assert _state(sqlite_store, "customers", "C10")[0] == "synced"  # data fields left out
    assert field_warnings.frame(sqlite_store, keys=["C10"])["field"].tolist() == [
        "data_fields"]
    state, fields, _ = _state(sqlite_store, "customers", "C11")
    assert state == "rejected" and {"opt_in_type", "updated_at"} & set(fields.split(", "))
    assert _state(sqlite_store, "orders", "O1")[0] == "synced"
    assert _state(sqlite_store, "orders", "O2")[0] == "rejected"
    assert _state(sqlite_store, "orders", "O3")[:2] == ("rejected", "lines")


CONTROL = {
    "escape": "Ann\x1b[31mRED\x1b[0m",
    "newlines": "Line\r\nbreak\nhere",
    "tabs": "Tab\tbed",
    "bell-and-backspace": "B\x07e\x08ll",
    "line-separator": "Para\u2028graph\u2029",
    "bom": "\ufeffBom",
    "rtl-override": "\u202eevil\u202c",
    "zero-width": "Ze\u200bro\u200dWidth",
    "delete": "Del\x7f",
    "c1": "C1\x85\x9b",
}


@pytest.mark.parametrize("kind", list(CONTROL))
def test_control_characters_in_names_codes_and_lines(kind: str, emulator: EmulatorServer,
                                                     store: Store, store_url: str) -> None:
    """A control character is either carried verbatim or rejected naming its field, on
    SQLite and PostgreSQL; a good record beside it always goes through."""
    value = CONTROL[kind]
    stage(store, "customers", [customer(1, first_name=value), customer(2)])
    stage(store, "orders", [order(1, "customer2@example.com", coupon_code=value),
                            order(2, "customer2@example.com",
                                  lines=[{"sku": "S", "name": value, "quantity": 1,
                                          "unit_price": 2.0}]),
                            order(3, "customer2@example.com")])
    stage(store, "certificates", [certificate(1, "customer2@example.com", code=value),
                                  certificate(2, "customer2@example.com")])
    _sync_and_check(store, emulator, store_url)
    for entity, key, column in (("customers", "C1", "first_name"),
                                ("orders", "O1", "coupon_code"), ("orders", "O2", "lines"),
                                ("certificates", "G1", "code")):
        state, fields, reason = _state(store, entity, key)
        assert state == "synced" or column in fields.split(", "), (key, state, fields, reason)
    assert {_state(store, "customers", "C2")[0], _state(store, "orders", "O3")[0],
            _state(store, "certificates", "G2")[0]} == {"synced"}


FORMULAS = ['=HYPERLINK("https://evil.example/x","Click me")', "+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", '=1+1"',
            "[click](https://evil.example)", "<img src=x onerror=alert(1)>",
            "**bold** _it_ `code` | pipe"]


def test_formula_and_markup_injection_in_names(emulator: EmulatorServer, sqlite_store: Store,
                                               sqlite_url: str) -> None:
    """Names that are spreadsheet formulas or Markdown/HTML: Dotdigital gets them as the
    text they are, and the report (where these rows appear, with a bad phone number
    left out, as warnings keyed by them) shows them as text, never as a link, image or
    markup."""
    rows = []
    for i, name in enumerate(FORMULAS):
        rows.append(customer(i, first_name=name[:50], last_name=name[-50:]))
        rows.append(customer(100 + i, customer_id=name, first_name=name[:50],
                             mobile_number="0161 496 000"))
    stage(sqlite_store, "customers", rows)
    stage(sqlite_store, "orders", [order(i, f"customer{i}@example.com", coupon_code=name)
                                   for i, name in enumerate(FORMULAS)])
    report = _sync_and_check(sqlite_store, emulator, sqlite_url)
    records = {r["key"]: r["json"] for r in emulator.state.insight_records("Purchases")}
    records.update({r["key"]: r["json"] for r in emulator.state.insight_records("CartInsight")})
    for i, name in enumerate(FORMULAS):
        stored = emulator.state.contact(f"customer{i}@example.com")
        assert stored is not None and stored["dataFields"]["FIRSTNAME"] == name[:50]
        assert records[f"O{i}"]["coupon_code"] == name
        assert _state(sqlite_store, "customers", name)[0] == "synced"
    assert sum(w.key in FORMULAS and w.field == "mobile_number"
               for w in report.warnings) == len(FORMULAS)


MALFORMED_LINES = ['[{"sku": "A", ', '{"sku":"A","name":"n","quantity":1,"unit_price":1}', "[]",
                   "[[1]]", "NaN", "null", '"[]"', "[" * 100_000 + "]" * 100_000,
                   '[{"sku":"A","name":"n","quantity":1e400,"unit_price":1}]',
                   '[{"sku":"A","name":"n","quantity":1,"unit_price":Infinity}]',
                   '[{"sku":"A","name":"n","quantity":true,"unit_price":1}]',
                   '[{"sku":"A","name":"n","quantity":1,"unit_price":1,"categories":[["x"]]}]',
                   '[{"sku":null,"name":"n","quantity":1,"unit_price":1}]', "\ufeff[]",
                   '[{"sku":"A","name":"n","quantity":-1,"unit_price":1}]']
MALFORMED_FIELDS = ['{"A": {"nested": 1}}', '{"bad name!": 1}', "[1]", "{", '{"A": [1,2]}',
                    '{"ABCDEFGHIJKLMNOPQRSTU": 1}', '{"a":' * 50_000 + "1" + "}" * 50_000,
                    '{"A": NaN}', "true", '"text"']


def test_malformed_json_in_lines_and_data_fields(emulator: EmulatorServer, sqlite_store: Store,
                                                 sqlite_url: str) -> None:
    """Truncated, mistyped and absurdly nested JSON: each order rejected naming the field,
    each customer sent without its data fields and a warning naming them (never a crash,
    never a RecursionError), the good ones beside them synced."""
    stage(sqlite_store, "customers", [customer(0)] + [
        customer(i + 1, data_fields=text) for i, text in enumerate(MALFORMED_FIELDS)])
    stage(sqlite_store, "orders", [order(0, "customer0@example.com")] + [
        order(i + 1, "customer0@example.com", lines=text)
        for i, text in enumerate(MALFORMED_LINES)])
    _sync_and_check(sqlite_store, emulator, sqlite_url)
    assert _state(sqlite_store, "customers", "C0")[0] == "synced"
    assert _state(sqlite_store, "orders", "O0")[0] == "synced"
    left_out = field_warnings.frame(sqlite_store, "customers")
    for i in range(len(MALFORMED_FIELDS)):
        assert _state(sqlite_store, "customers", f"C{i + 1}")[0] == "synced"
        assert set(left_out.loc[left_out["key"] == f"C{i + 1}", "field"]) == {"data_fields"}
    for i, text in enumerate(MALFORMED_LINES):
        if '"sku":null' in text:  # a line needs no sku (SPEC §1)
            assert _state(sqlite_store, "orders", f"O{i + 1}")[0] == "synced"
        elif '"categories":[["x"]]' in text:  # optional: left out of the line, a warning
            assert _state(sqlite_store, "orders", f"O{i + 1}")[0] == "synced"
            assert field_warnings.frame(sqlite_store, "orders", [f"O{i + 1}"])[
                "field"].tolist() == ["lines.categories"]
        else:
            assert _state(sqlite_store, "orders", f"O{i + 1}")[:2] == ("rejected", "lines")


# -- files that are damaged -------------------------------------------------------------------

HEADER = "customer_id,email,first_name,updated_at\n"
ROW = "C{n},c{n}@example.com,Name{n},2026-10-01T10:00:00Z\n"


def _damaged_files() -> dict[str, bytes]:
    good = "".join(ROW.format(n=n) for n in range(1, 4))
    jsonl = "".join(json.dumps({"customer_id": f"C{n}", "email": f"c{n}@example.com",
                                "updated_at": "2026-10-01T10:00:00Z"}) + "\n"
                    for n in range(1, 4))
    return {
        "truncated-mid-quote.csv": (HEADER + good + 'C9,c9@example.com,"Trun').encode(),
        "truncated-mid-row.csv": (HEADER + good + "C9,c9@exa").encode(),
        "latin-1.csv": (HEADER + good + "C9,c9@example.com,Chloé,2026-10-01\n").encode("latin-1"),
        "cp1252-quotes.csv": (HEADER + good).encode() + b"C9,c9@example.com,\x93Q\x94,2026\n",
        "too-many-values.csv": (HEADER + good + "C9,a,b,c,d,e\n").encode(),
        "crlf-and-blank-lines.csv": (HEADER + good + "\r\n\r\n").replace("\n", "\r\n").encode(),
        "truncated.jsonl": (jsonl + '{"customer_id": "C9", "email": "c9@exa').encode(),
        "latin-1.jsonl": jsonl.encode() + '{"customer_id": "C9", "first_name": "Zoë"}\n'
        .encode("latin-1"),
        "not-objects.jsonl": (jsonl + "[1, 2]\n42\nnull\n").encode(),
    }


@pytest.mark.parametrize("name", list(_damaged_files()))
def test_damaged_files_load_their_good_rows(name: str, emulator: EmulatorServer,
                                            sqlite_store: Store, sqlite_url: str,
                                            tmp_path: Path) -> None:
    """A damaged row is refused with its line number (or loaded as what it says and then
    rejected by the contract); the three good rows always load and sync."""
    path = tmp_path / name
    path.write_bytes(_damaged_files()[name])
    loaded = load(sqlite_url, "customers", path)
    for problem in loaded["problems"]:
        assert problem["line"] >= 2 and problem["reason"], problem
    _sync_and_check(sqlite_store, emulator, sqlite_url)
    for n in range(1, 4):
        assert _state(sqlite_store, "customers", f"C{n}")[0] == "synced"
    if "C9" in set(sqlite_store.read_staged("customers")["customer_id"]):
        assert _state(sqlite_store, "customers", "C9")[0] in ("rejected", "synced")


@pytest.mark.parametrize("name,content", [
    ("utf-16.csv", (HEADER + ROW.format(n=1)).encode("utf-16")),
    ("empty.csv", b""),
    ("binary.csv", bytes(range(256)) * 8),
    ("gzip.csv", b"\x1f\x8b\x08\x00" + bytes(200)),
    ("object.json", b'{\n  "customer_id": "C1"\n}\n'),
    ("truncated.parquet", b"PAR1" + bytes(100)),
    ("unknown-column.csv", b"customer_id,password\nC1,x\n"),
])
def test_unreadable_files_are_refused_with_a_message(name: str, content: bytes,
                                                     sqlite_url: str, tmp_path: Path) -> None:
    """A file that cannot be read at all: exit status 2 and one line naming the problem
    (or 1 when rows were read and none could be loaded); no traceback, nothing loaded."""
    from dotsync.cli import main

    path = tmp_path / name
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["load", "customers", str(path)],
                                env={"DOTSYNC_DATABASE_URL": sqlite_url})
    assert result.exit_code in (0, 1, 2), (result.output, result.exception)
    assert "Traceback" not in result.output
    if result.exit_code in (1, 2):
        assert name in result.output
    assert Store(sqlite_url).count_staged("customers") == 0 or name == "binary.csv"


# -- known bugs: each test states the behaviour the guarantees ask for ----------------------

def _good_beside(store: Store) -> None:
    """Stage the good customer, order and certificate that a bad record sits beside."""
    stage(store, "customers", [customer(1)])
    stage(store, "orders", [order(1, "customer1@example.com")])
    stage(store, "certificates", [certificate(1, "customer1@example.com")])


def _expect_good_synced_and(store: Store, entity: str, key: str, field: str) -> None:
    for good_entity, good_key in (("customers", "C1"), ("orders", "O1"),
                                  ("certificates", "G1")):
        assert _state(store, good_entity, good_key)[0] == "synced", good_key
    state, fields, reason = _state(store, entity, key)
    assert state == "rejected" and field in fields.split(", "), (state, fields, reason)


@pytest.mark.parametrize(("entity", "row"), [
    ("orders", order(9, "customer1@example.com", placed_at="-1")),
    ("orders", order(9, "customer1@example.com", updated_at="-1/2")),
    ("certificates", certificate(9, "customer1@example.com", expires_at="-0")),
], ids=["order-placed_at", "order-updated_at", "certificate-expires_at"])
def test_a_timestamp_of_year_minus_one_is_refused_not_a_crash(
    entity: str, row: dict[str, Any], emulator: EmulatorServer, sqlite_store: Store,
    sqlite_url: str,
) -> None:
    _good_beside(sqlite_store)
    stage(sqlite_store, entity, [row])
    sync_once(sqlite_store, settings_for(emulator, sqlite_url))
    column = next(c for c in ("placed_at", "updated_at", "expires_at")
                  if row.get(c) in YEAR_ZERO)
    if column == "expires_at":  # optional (SPEC §1): sent without it, with a warning
        key = row[ENTITY_KEYS[entity]]
        assert _state(sqlite_store, entity, key)[0] == "synced"
        assert field_warnings.frame(sqlite_store, entity, [key])["field"].tolist() == [column]
        return
    _expect_good_synced_and(sqlite_store, entity, row[ENTITY_KEYS[entity]], column)


@pytest.mark.parametrize("job", ["sync-bulk", "backfill"])
def test_a_record_too_large_for_an_import_is_rejected_not_a_crash(
    job: str, emulator: EmulatorServer, sqlite_store: Store, sqlite_url: str,
) -> None:
    from tests.reliability.harness import backfill_once

    _good_beside(sqlite_store)
    stage(sqlite_store, "customers", [customer(9, store="S" * 11_000_000)])
    settings = settings_for(emulator, sqlite_url)
    if job == "backfill":
        backfill_once(sqlite_store, settings, import_max_bytes=10_000_000)
    else:
        sync_once(sqlite_store, settings, bulk_threshold=0, import_max_bytes=10_000_000)
    state, fields, reason = _state(sqlite_store, "customers", "C9")
    assert state == "rejected" and reason, (state, fields, reason)
    assert _state(sqlite_store, "customers", "C1")[0] == "synced"


@pytest.mark.postgres
def test_a_nul_character_is_rejected_at_load_not_the_whole_file(pg_url: str,
                                                                tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "nul.jsonl", "customers",
                       [customer(1), customer(2, first_name="A\x00B"), customer(3)])
    loaded = load(pg_url, "customers", path)
    assert loaded["inserted"] == 2
    assert [p["field"] for p in loaded["problems"]] == ["first_name"]


def test_a_lone_surrogate_in_json_lines_is_rejected_at_load(sqlite_url: str,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "surrogate.jsonl"
    good = json.dumps({c: v for c, v in customer(1).items() if c in ENTITY_COLUMNS["customers"]})
    path.write_text(good + "\n" + '{"customer_id": "C2", "email": "c2@example.com", '
                    '"first_name": "A\\ud800B", "updated_at": "2026-10-01T10:00:00Z"}\n',
                    encoding="utf-8")
    loaded = load(sqlite_url, "customers", path)
    assert loaded["inserted"] == 1
    assert [p["field"] for p in loaded["problems"]] == ["first_name"]


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_a_json_line_with_an_unescaped_line_separator_is_loaded(
    separator: str, sqlite_url: str, tmp_path: Path,
) -> None:
    path = write_jsonl(tmp_path / "sep.jsonl", "customers",
                       [customer(1, first_name=f"Para{separator}graph"), customer(2)],
                       ensure_ascii=False)
    loaded = load(sqlite_url, "customers", path)
    assert loaded["problems"] == [] and loaded["inserted"] == 2


def test_a_json_line_with_bytes_that_are_not_utf8_names_the_field(sqlite_url: str,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    good = json.dumps({c: v for c, v in customer(1).items() if c in ENTITY_COLUMNS["customers"]})
    bad = '{"customer_id": "C2", "email": "c2@example.com", "first_name": "Zoë", ' \
          '"updated_at": "2026-10-01T10:00:00Z"}'
    path.write_bytes(good.encode() + b"\n" + bad.encode("latin-1") + b"\n")
    loaded = load(sqlite_url, "customers", path)
    assert [(p["line"], p["field"]) for p in loaded["problems"]] == [(2, "first_name")]


@pytest.mark.parametrize("value", ["NULL", "false", "0", "<script>alert(1)</script>"])
def test_a_garbage_deleted_at_is_rejected_not_an_erasure(
    value: str, emulator: EmulatorServer, sqlite_store: Store, sqlite_url: str,
) -> None:
    settings = settings_for(emulator, sqlite_url, propagate_deletes=True)
    stage(sqlite_store, "customers", [customer(1), customer(2)])
    sync_once(sqlite_store, settings)
    stage(sqlite_store, "customers", [customer(2, deleted_at=value,
                                               updated_at="2026-10-02T10:00:00Z")])
    sync_once(sqlite_store, settings)
    assert emulator.state.contact("customer2@example.com") is not None, "contact erased"
    assert _state(sqlite_store, "customers", "C2")[:2] == ("rejected", "deleted_at")


@pytest.mark.postgres
def test_a_key_longer_than_the_ledger_allows_is_rejected_not_a_crash(
    emulator: EmulatorServer, pg_url: str,
) -> None:
    store = Store(pg_url)
    try:
        _good_beside(store)
        stage(store, "orders", [order(9, "customer1@example.com", order_id="O" * 600)])
        sync_once(store, settings_for(emulator, pg_url))
        _expect_good_synced_and(store, "orders", "O" * 600, "order_id")
    finally:
        store.dispose()


@pytest.mark.parametrize("order_id", ["2026/10/0042", "../../etc/passwd", "O-1/"])
def test_an_order_id_that_is_not_path_safe_is_synced_by_a_single_call(
    order_id: str, emulator: EmulatorServer, sqlite_store: Store, sqlite_url: str,
) -> None:
    _good_beside(sqlite_store)
    stage(sqlite_store, "orders", [order(9, "customer1@example.com", order_id=order_id)])
    settings = settings_for(emulator, sqlite_url)
    sync_once(sqlite_store, settings)
    converge(sqlite_store, settings)
    check_invariants(sqlite_store, emulator)
    assert _state(sqlite_store, "orders", order_id)[0] == "synced"
