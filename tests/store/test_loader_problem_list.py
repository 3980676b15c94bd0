"""Plain ``dotsync load`` keeps a bounded problem list, like ``load --format``: the
first problems in memory, every one counted per reason and written to the problems
file (JSON Lines), so a file of millions of bad rows loads in flat memory."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dotsync.cli import main
from dotsync.store import loader
from dotsync.store.loader import LoadReport, RowProblem, load_file


def _customers_csv(path, good: int, no_key: int, too_long: int):
    lines = ["customer_id,email"]
    lines += [f"c{i},c{i}@example.com" for i in range(good)]
    lines += [f",x{i}@example.com" for i in range(no_key)]
    lines += [f"{'k' * 600},y{i}@example.com" for i in range(too_long)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_one_problem_is_kept_counted_and_written(sqlite_store, tmp_path):
    path = _customers_csv(tmp_path / "c.csv", good=2, no_key=1, too_long=0)
    out = tmp_path / "problems.jsonl"
    report = load_file(sqlite_store, "customers", path, problems_file=out)
    assert report.counts.inserted == 2
    assert [(p.line, p.field, p.reason) for p in report.problems] == [
        (4, "customer_id", "customer_id is required")]
    assert (report.rejected, report.problems_left_out) == (1, 0)
    assert report.reasons == {"customer_id is required": 1}
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"line": 4, "unit": "line", "key": None, "field": "customer_id",
         "reason": "customer_id is required"}]
    assert "problems_left_out" not in report.as_dict()


def test_many_problems_keep_the_first_and_count_the_rest_by_reason(sqlite_store, tmp_path):
    path = _customers_csv(tmp_path / "c.csv", good=3, no_key=30, too_long=12)
    out = tmp_path / "problems.jsonl"
    report = load_file(sqlite_store, "customers", path, chunk_rows=7, keep_problems=10,
                       problems_file=out)
    assert (report.rows, report.counts.inserted) == (45, 3)
    assert len(report.problems) == 10 and report.problems_left_out == 32
    assert [p.line for p in report.problems] == list(range(5, 15))  # the first ones
    assert report.rejected == 42 == sum(report.reasons.values())
    assert report.reasons == {"customer_id is required": 30,
                              "customer_id is longer than 512 characters": 12}
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [p["line"] for p in written] == list(range(5, 47))
    shown = report.as_dict()
    assert shown["rejected"] == 42 and len(shown["problems"]) == 10
    assert shown["problems_left_out"] == 32 and shown["reasons"] == report.reasons


def test_the_default_bound_holds_without_a_problems_file(sqlite_store, tmp_path,
                                                         monkeypatch):
    path = _customers_csv(tmp_path / "c.csv", good=1, no_key=25, too_long=0)
    report = load_file(sqlite_store, "customers", path)
    assert len(report.problems) == 25  # under the default 1,000: all kept
    bounded = load_file(sqlite_store, "customers", path, keep_problems=4)
    assert (len(bounded.problems), bounded.problems_left_out) == (4, 21)


def test_reports_absorbed_into_one_stay_bounded_and_count_per_reason():
    whole = LoadReport(entity="orders", path="eu:orders", keep_problems=3)
    for page in range(4):
        part = LoadReport(entity="orders", path="eu:orders", keep_problems=2)
        part.rows = 5
        for n in range(3):
            part.add_problem(RowProblem(page * 5 + n, str(n), None,
                                        "bad total" if n else "no id", "element"))
        whole.absorb(part)
    assert whole.rows == 20
    assert len(whole.problems) == 3
    assert whole.rejected == 12 == sum(whole.reasons.values())
    assert whole.reasons == {"no id": 4, "bad total": 8}


def test_the_command_writes_every_problem_of_a_plain_load(tmp_path, monkeypatch):
    monkeypatch.setenv("DOTSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setattr(loader, "KEEP_PROBLEMS", 3)
    path = _customers_csv(tmp_path / "c.csv", good=2, no_key=6, too_long=4)
    out = tmp_path / "problems.jsonl"
    result = CliRunner().invoke(main, ["load", "customers", str(path), "--problems",
                                       str(out)])
    assert result.exit_code == 0, result.output
    assert "2 inserted" in result.output and "10 rejected" in result.output
    assert len(out.read_text().splitlines()) == 10
    assert f"... and 7 more (all 10 are in {out})" in result.output
    assert "6  customer_id is required" in result.output
    assert "4  customer_id is longer than 512 characters" in result.output
