"""The query log as CSV or JSON, the same from the command line and from Discord's /logs export.

Questions are typed by anyone in a server and the CSV is opened by a moderator in a spreadsheet,
so every text cell that a spreadsheet would read as a formula is neutralised (OWASP's advice on
CSV injection): `=HYPERLINK(...)` is written as `'=HYPERLINK(...)` and shows as text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from retrieval.models import FeedbackRow, QueryRecord, TopQuery

Row = QueryRecord | TopQuery | FeedbackRow
_COLUMNS: dict[type, list[str]] = {
    cls: [f.name for f in fields(cls)] for cls in (QueryRecord, TopQuery, FeedbackRow)
}


# A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice and
# Google Sheets; tab and carriage return are stripped by some of them before that check.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> Any:
    """`value` with a leading `'` when it is text a spreadsheet would run as a formula.

    Only text is touched: numbers and booleans written by the log itself are never formulas.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def flat(row: Row) -> dict[str, Any]:
    """A log row as CSV cells: its hit list as JSON text, its reasons one after another (a
    JSON listing keeps both as arrays: `row.to_json()`)."""
    data = row.to_json()
    if isinstance(row, QueryRecord):
        data["hits"] = json.dumps(row.hits)
    if isinstance(row, QueryRecord | FeedbackRow):
        data["reasons"] = " | ".join(row.reasons)
    return data


def _cells(row: Row) -> dict[str, Any]:
    return {key: inert(value) for key, value in flat(row).items()}


def _writer(out: io.StringIO, columns: list[str]) -> csv.DictWriter[str]:
    # RFC 4180 line ends: the writer then quotes any cell holding "\r" or "\n". With "\n"
    # alone a bare carriage return in a question was written unquoted, so a spreadsheet began a
    # new row there and what followed it became a fresh, unneutralised cell.
    return csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")


def log_csv(rows: Sequence[Row], kind: type = QueryRecord) -> str:
    """CSV with a header row; an empty log still gets its header."""
    out = io.StringIO()
    writer = _writer(out, _COLUMNS[type(rows[0]) if rows else kind])
    writer.writeheader()
    writer.writerows(_cells(r) for r in rows)
    return out.getvalue()


def log_csv_within(rows: Sequence[Row], limit: int) -> tuple[bytes, int]:
    """CSV of the newest rows that fit in `limit` bytes, and how many rows that is.

    Rows are written one at a time and the first that does not fit ends the file, so the work
    stops at `limit` bytes and a row is never cut (a quoted cell may hold line breaks, so
    cutting the finished text at a line end could split one). Rows come newest first, so what
    is dropped is the oldest. No row fits: no file; an empty log: just the header.
    """
    out = io.StringIO()
    writer = _writer(out, _COLUMNS[type(rows[0]) if rows else QueryRecord])
    writer.writeheader()
    parts = [out.getvalue().encode()]
    used = len(parts[0])
    for row in rows:
        out.seek(0)
        out.truncate()
        writer.writerow(_cells(row))
        line = out.getvalue().encode()
        if used + len(line) > limit:
            break
        parts.append(line)
        used += len(line)
    kept = len(parts) - 1
    return (b"".join(parts), kept) if kept or not rows else (b"", 0)


def log_json_within(rows: Sequence[Row], limit: int) -> tuple[bytes, int]:
    """A JSON array of the newest rows that fit in `limit` bytes (hits and reasons as arrays,
    times with their zone), and how many rows that is; as `log_csv_within`, rows are added
    whole, newest first, and the work stops at `limit`."""
    parts: list[bytes] = []
    used = 2  # "[" and "]"
    for row in rows:
        item = json.dumps(row.to_json(), ensure_ascii=False).encode()
        if used + len(item) + (1 if parts else 0) > limit:
            break
        parts.append(item)
        used += len(item) + (1 if len(parts) > 1 else 0)
    if rows and not parts:
        return b"", 0
    return b"[" + b",".join(parts) + b"]", len(parts)
