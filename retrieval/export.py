"""The query log as CSV, the same from the command line and from Discord's /logs export."""

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


def flat(row: Row) -> dict[str, Any]:
    """A log row with its hit list as JSON text, ready for CSV or a JSON listing."""
    data = row.to_json()
    if isinstance(row, QueryRecord):
        data["hits"] = json.dumps(row.hits)
    return data


def log_csv(rows: Sequence[Row], kind: type = QueryRecord) -> str:
    """CSV with a header row; an empty log still gets its header."""
    columns = _COLUMNS[type(rows[0]) if rows else kind]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat(r) for r in rows)
    return out.getvalue()


def log_csv_within(rows: Sequence[Row], limit: int) -> tuple[bytes, int]:
    """CSV of the newest rows that fit in `limit` bytes, and how many rows that is.

    Built once; rows are cut at a line boundary rather than re-rendering smaller tables.
    Rows come newest first, so what is dropped is the oldest.
    """
    data = log_csv(rows).encode()
    if len(data) <= limit:
        return data, len(rows)
    cut = data.rfind(b"\n", 0, limit)
    kept_data = data[: cut + 1] if cut >= 0 else b""
    # A quoted field may hold newlines: count the rows by parsing what was kept.
    kept = sum(1 for _ in csv.reader(io.StringIO(kept_data.decode()))) - 1
    return (kept_data, kept) if kept > 0 else (b"", 0)
