"""What people type never turns into a live formula in a moderator's spreadsheet.

The questions are asked through the real command line against a real SQLite file, then the log
is exported with `citebot logs --csv` and read back with the csv module, as a spreadsheet would.
"""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest

from retrieval.export import log_csv, log_csv_within
from retrieval.knowledge import KnowledgeBase
from retrieval.models import FeedbackRow, QueryRecord, TopQuery

FORMULA = '=HYPERLINK("http://x.example","click")'
# One question per character a spreadsheet treats as the start of a formula. Questions are
# logged stripped, so a leading tab or carriage return is tested on rows made directly below.
HOSTILE = [FORMULA, "+SUM(DeepSeek H800)", "-2+3 DeepSeek", "@SUM(1+1) DeepSeek"]
HARMLESS = "How much money did DeepSeek spend developing its model?"


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _ask_all(cli) -> None:
    for question in [*HOSTILE, HARMLESS]:
        # "--" so that a question starting with "-" is a question, not an option.
        assert cli("ask", "--", question).code == 0


def test_recent_csv_neutralises_every_formula_question(cli) -> None:
    _ask_all(cli)
    result = cli("logs", "--csv", "--limit", "50")
    assert result.code == 0
    queries = [r["query"] for r in _rows(result.out)]
    assert sorted(queries) == sorted(["'" + q for q in HOSTILE] + [HARMLESS])
    assert f"'{FORMULA}" in queries
    # The JSON listing is data, not a spreadsheet: it keeps the question as asked.
    listing = cli("logs", "--json", "--limit", "50")
    assert FORMULA in listing.out.replace('\\"', '"')


def test_top_csv_neutralises_formula_questions(cli) -> None:
    _ask_all(cli)
    cli("ask", FORMULA)
    rows = _rows(cli("logs", "top", "--csv", "--limit", "50").out)
    top = rows[0]
    assert top["query"] == f"'{FORMULA}" and top["count"] == "2"
    assert all(not r["query"].startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows)


def test_feedback_csv_neutralises_formula_questions(cli, db_path: Path) -> None:
    assert cli("ask", FORMULA).code == 0

    async def vote() -> None:
        async with await KnowledgeBase.open(db_path) as kb:
            await kb.record_feedback(1, 42, False)

    asyncio.run(vote())
    [row] = _rows(cli("logs", "feedback", "--csv").out)
    assert row["query"] == f"'{FORMULA}" and row["not_helpful"] == "1"


@pytest.mark.parametrize(
    "row",
    [
        QueryRecord(1, "2026-01-01T00:00:00", "cli", None, None, None, "ask", FORMULA, False, 0.0,
                    1.0, [[1, -0.5]]),
        QueryRecord(2, "2026-01-01T00:00:00", "cli", None, None, None, "\t=1+1", "\r=2+2",
                    False, 0.0, 1.0, []),
        TopQuery("-1+1", 2, 0, "@2026"),
        FeedbackRow(3, "+1", "2026-01-01", True, 1, 0, "=NOW()"),
    ],
    ids=["record", "tab-and-return", "top", "feedback"],
)  # fmt: skip
def test_every_text_cell_of_every_row_kind_is_inert(row) -> None:
    [cells] = _rows(log_csv([row]))
    for value in cells.values():
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), cells
    text = [v for v in row.to_json().values() if isinstance(v, str) and v[:1] in "=+-@\t\r"]
    assert text and all("'" + v in cells.values() for v in text)
    # Numbers stay numbers: only text cells get the quote.
    assert "'" not in cells.get("count", "") + cells.get("helpful", "")


def test_the_size_limited_export_is_neutralised_too() -> None:
    rows = [
        QueryRecord(i, "2026-01-01T00:00:00", "discord", 1, 2, 3, "ask", FORMULA, True, 0.5, 1.0,
                    [])
        for i in range(100)
    ]  # fmt: skip
    data, kept = log_csv_within(rows, 2_000)
    parsed = _rows(data.decode())
    assert 0 < kept == len(parsed) < 100
    assert {r["query"] for r in parsed} == {f"'{FORMULA}"}


@pytest.mark.parametrize("brk", ["\r", "\n", "\r\n"])
def test_a_line_break_inside_a_question_stays_inside_its_cell(brk: str) -> None:
    # A bare "\r" was written unquoted: a spreadsheet started a new row there, and the formula
    # after it became a cell of its own, unneutralised.
    row = QueryRecord(1, "2026-01-01T00:00:00", "cli", None, None, None, "ask",
                      f"harmless{brk}=HYPERLINK(1)", True, 0.5, 1.0, [])  # fmt: skip
    [cells] = _rows(log_csv([row]))
    assert cells["query"] == f"harmless{brk}=HYPERLINK(1)" and cells["hits"] == "[]"


@pytest.mark.parametrize("brk", ["\r", "\n"])
def test_the_size_limited_export_never_cuts_a_row_in_two(brk: str) -> None:
    # The old cut fell on the last line end before the limit, inside a quoted cell if need be.
    rows = [
        QueryRecord(i, "2026-01-01T00:00:00", "discord", 1, 2, 3, "ask",
                    f"line one{brk}" + f"line {i} {brk}" * 5, True, 0.5, 1.0, [])
        for i in range(100)
    ]  # fmt: skip
    for limit in range(1_000, 1_400, 7):
        data, kept = log_csv_within(rows, limit)
        parsed = _rows(data.decode())
        assert len(data) <= limit
        assert 0 < kept == len(parsed) < 100
        assert [r["query"] for r in parsed] == [r.query for r in rows[:kept]]
        assert all(r["hits"] == "[]" for r in parsed)


def test_an_empty_log_exports_its_header() -> None:
    data, kept = log_csv_within([], 1_000)
    assert kept == 0 and data.decode().startswith("id,asked_at,")
