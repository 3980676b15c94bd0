"""The run report renders counts and problems, escaping whatever came from the source."""

from __future__ import annotations

from dotsync.sync.report import MAX_TABLE_ROWS, RunReport, escape_md


def test_markdown_summary_counts_and_masked_emails():
    report = RunReport(run_id="r1")
    report.counts["contacts"].sent = 3
    report.counts["orders"].skipped = 1
    report.problem("orders", "100005", "waiting", "contact j***@example.com rejected: e164",
                   field="customer_email", email="jo@example.com")
    report.api_calls = {"import_contacts": 1, "get_contact_import": 2}
    md = report.to_markdown()
    assert "| contacts | 3 | 3 |" in md
    assert "j\\*\\*\\*@example.com" in md or "j***@example.com" in md
    assert "jo@example.com" not in md
    assert report.as_dict()["orders"]["considered"] == 1
    assert report.as_dict()["write_calls"] == 1


def test_source_values_cannot_inject_markup():
    report = RunReport(run_id="r1")
    report.problem("customers", "<script>alert(1)</script>", "rejected",
                   "first_name '=HYPERLINK(\"http://evil\")' | [x](http://evil) ![i](x)",
                   field="first_name")
    md = report.to_markdown()
    assert "<script>" not in md
    assert "&lt;script&gt;" in md
    assert "[x](http" not in md  # the link syntax is broken by escaping
    assert "\\[x\\](http" in md
    row = next(line for line in md.splitlines() if "HYPERLINK" in line)
    assert row.count(" | ") == 5  # the injected pipe did not add a column


def test_escape_md_removes_control_characters_and_cuts():
    assert "\n" not in escape_md("a\nb\rc\x1b[31m")
    assert len(escape_md("x" * 1000, limit=50)) <= 60


def test_tables_are_capped():
    report = RunReport(run_id="r1")
    for i in range(MAX_TABLE_ROWS + 5):
        report.problem("orders", str(i), "rejected", "bad")
    assert len(report.table_rows()) == MAX_TABLE_ROWS
    assert "and 5 more" in report.to_markdown()


def test_transient_failures_are_forgotten_on_retry():
    report = RunReport(run_id="r1")
    report.problem("orders", "1", "rejected", "bad")
    report.counts["orders"].rejected = 1
    mark = report.checkpoint()
    report.problem("orders", "2", "failed", "500")
    report.counts["orders"].failed = 1
    report.counts["orders"].sent = 4
    report.forget_failures_since(mark)
    assert [p.key for p in report.problems] == ["1"]
    assert report.counts["orders"].failed == 0 and report.counts["orders"].sent == 4


def test_warnings_are_in_the_json_the_markdown_and_their_own_table() -> None:
    from dotsync.sync.report import MAX_TABLE_ROWS

    report = RunReport(run_id="r1")
    report.warn("contacts", [
        {"key": "C1", "field": "first_name", "check": "control_chars", "value": "<b>***",
         "reason": "first_name '<b>***' holds control characters"},
        {"key": "C1", "field": "data_fields", "check": "json_shape", "value": None,
         "reason": "data field '|x|' holds an array"},
    ])
    report.warn("orders", [{"key": f"O{i}", "field": "tax", "check": "decimal", "value": "£4",
                            "reason": "tax '£4' is not a decimal number"}
                           for i in range(MAX_TABLE_ROWS + 5)])
    out = report.as_dict()
    assert out["contacts"]["warned"] == 1 and out["orders"]["warned"] == MAX_TABLE_ROWS + 5
    assert out["warnings_total"] == MAX_TABLE_ROWS + 7
    assert len(out["warnings"]) == MAX_TABLE_ROWS
    assert out["warnings"][0]["field"] == "first_name"
    assert out["contacts"]["considered"] == 0  # a warning is not an outcome
    md = report.to_markdown()
    assert "Sent with a field left out" in md
    assert "<b>" not in md and "&lt;b&gt;" in md
    assert "\\|x\\|" in md
    assert "dotsync rejects --warnings" in md
    assert len(report.warning_rows()) == MAX_TABLE_ROWS
    assert "fields left out" in report.log_line()
