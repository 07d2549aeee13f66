"""Shared fixtures: a fresh SQLite file per test, and the command line run in-process."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main
from retrieval.knowledge import KnowledgeBase


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "citebot.db"


@pytest.fixture
async def kb(db_path: Path) -> AsyncIterator[KnowledgeBase]:
    async with await KnowledgeBase.open(db_path) as knowledge:
        yield knowledge


@pytest.fixture
def cli(db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run `citebot ARGS...` through its real entry function against this test's database."""
    monkeypatch.setenv("CITEBOT_DB", str(db_path))
    monkeypatch.delenv("CITEBOT_DEBUG", raising=False)

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def row_counts(path: Path) -> dict[str, int]:
    """Rows per table, read with plain sqlite3: what a refusal must leave unchanged."""
    with sqlite3.connect(path) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def table_dump(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table: stronger than counts for 'the database is exactly as it was'."""
    with sqlite3.connect(path) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}
