"""Shared fixtures: a fresh SQLite file per test, the command line run in-process, and (for the
tests that run on both backends) a fresh PostgreSQL database in a cluster the session starts."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
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


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    """A throwaway PostgreSQL cluster for the session (`tests.postgres`). Without PostgreSQL
    on the machine the tests that need it are skipped, except in CI, where they must run."""
    from tests.postgres import NoPostgres, running_cluster

    try:
        with running_cluster() as cluster:
            yield cluster
    except NoPostgres as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))


@pytest.fixture(params=["sqlite", "postgres"])
async def address(request: pytest.FixtureRequest, db_path: Path) -> str:
    """A new, empty database of each backend: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        return str(db_path)
    from tests.postgres import fresh_database

    return await fresh_database(request.getfixturevalue("pg_cluster"))


@pytest.fixture
async def any_kb(address: str) -> AsyncIterator[KnowledgeBase]:
    """A knowledge base on each backend in turn (`address`)."""
    async with await KnowledgeBase.open(address) as knowledge:
        yield knowledge


async def query_rows(address: str, sql: str, *args: object) -> list[tuple]:
    """Rows of `sql` (written with `?` marks) read straight from either backend: what a test
    checks the store left, without going through the store."""
    import asyncio

    from retrieval.backends import is_postgres
    from retrieval.pg_store import _q

    if is_postgres(address):
        import asyncpg

        con = await asyncpg.connect(address)
        try:
            return [tuple(r) for r in await con.fetch(_q(sql), *args)]
        finally:
            await con.close()

    def read() -> list[tuple]:
        with sqlite3.connect(address, timeout=30) as con:
            return con.execute(sql, args).fetchall()

    return await asyncio.to_thread(read)


TABLES = ("documents", "passages", "queries", "feedback", "meta", "server_settings")


async def dump_tables(address: str) -> dict[str, list[tuple]]:
    """Every row of every table of either backend, in id (or key) order: "the database is
    exactly as it was"."""
    return {t: await query_rows(address, f"SELECT * FROM {t} ORDER BY 1, 2") for t in TABLES}


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
