"""The store's contract on both backends (issue 13, point 4): the same engine on a SQLite file
and on a PostgreSQL database (started by the tests, `tests.postgres`) keeps each server's
sources and logs its own, writes all or nothing, migrates once when two processes start at
once, and sees what another process changed."""

from __future__ import annotations

import asyncio

import pytest

from retrieval.errors import DuplicateSource
from retrieval.knowledge import KnowledgeBase
from retrieval.models import Caller
from retrieval.store import NewPassage
from tests.conftest import query_rows

A, B = 101, 202
KESTRELS = (
    "Kestrels nest on the north ridge above the quarry. They hunt voles at dawn and hover "
    "over the meadow before they stoop."
)
SPEND = "How much money did DeepSeek spend developing its model?"


async def test_a_servers_source_is_found_there_and_nowhere_else(any_kb) -> None:
    added = await any_kb.add_text(KESTRELS, title="Kestrels", guild_id=A, added_by="7")
    mine = await any_kb.ask("Where do kestrels nest?", 3, Caller.member(A, 7))
    assert mine.answered and mine.hits[0].title == "Kestrels"
    theirs = await any_kb.ask("Where do kestrels nest?", 3, Caller.member(B, 8))
    assert not theirs.answered or all(h.title != "Kestrels" for h in theirs.hits)
    with pytest.raises(DuplicateSource):
        await any_kb.add_text(KESTRELS, title="Kestrels again", guild_id=A)
    assert "Kestrels" not in [s.title for s in await any_kb.list_sources(B)]
    removed = await any_kb.remove_source(added.source.doc_id, Caller.member(A, 7))
    assert removed.title == "Kestrels"
    gone = await any_kb.ask("Where do kestrels nest?", 3, Caller.member(A, 7))
    assert all(h.title != "Kestrels" for h in gone.hits)


async def test_a_failed_write_leaves_nothing(any_kb, address) -> None:
    store = any_kb.store
    before = await query_rows(
        address,
        "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM passages), "
        "(SELECT value FROM meta WHERE key = 'corpus_state')",
    )
    with pytest.raises(RuntimeError, match="the disk is full"):
        async with store.transaction() as db:
            await store.insert_document(
                db,
                guild_id=A,
                title="Half written",
                source="pasted text",
                kind="text",
                content_hash="f" * 64,
                summary="",
                word_count=3,
                added_by=None,
                passages=[NewPassage(0, 1, None, "Half a passage.", "half passag")],
            )
            raise RuntimeError("the disk is full")
    after = await query_rows(
        address,
        "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM passages), "
        "(SELECT value FROM meta WHERE key = 'corpus_state')",
    )
    assert after == before


async def test_what_one_process_adds_another_finds(address) -> None:
    """Two knowledge bases on one database, as two processes: a source one adds is found by
    the other's next question, a source it removes is no longer found; both logs are one."""
    async with (
        await KnowledgeBase.open(address) as first,
        await KnowledgeBase.open(address) as second,
    ):
        assert (await second.ask(SPEND, 3, Caller.member(A, 1))).answered  # its index built
        added = await first.add_text(KESTRELS, title="Kestrels", guild_id=A)
        found = await second.ask("Where do kestrels nest?", 3, Caller.member(A, 2))
        assert found.answered and found.hits[0].title == "Kestrels"
        await first.remove_source(added.source.doc_id, Caller.member(A, 1))
        again = await second.ask("Where do kestrels nest?", 3, Caller.member(A, 2))
        assert all(h.title != "Kestrels" for h in again.hits)
        logged = await first.query_log("recent", 10, Caller.member(A, None))
        assert [r.user_id for r in logged] == [2, 2, 1]


async def test_settings_votes_and_stats_are_kept_per_server(any_kb, address) -> None:
    await any_kb.change_server_settings(A, retention_days=30)
    asked = await any_kb.ask(SPEND, 3, Caller.member(A, 1))
    await any_kb.ask("How do I bake sourdough bread?", 3, Caller.member(A, 2))
    await any_kb.ask(SPEND, 3, Caller.member(B, 3))
    await any_kb.record_feedback(asked.query_id, 9, False, A)
    await any_kb.record_reason(asked.query_id, 9, "=old figures", A)
    stats = await any_kb.log_stats(7, Caller.member(A, None))
    assert (stats.current.questions, stats.current.askers, stats.current.answered) == (2, 2, 1)
    assert (stats.current.votes, stats.current.helpful) == (1, 0)
    [feedback] = await any_kb.query_log("feedback", 5, Caller.member(A, None))
    assert feedback.reasons == ("=old figures",)
    gaps = await any_kb.log_gaps(Caller.member(A, None))
    assert sorted(g.count for g in gaps) == [1, 1]
    assert await any_kb.query_log("feedback", 5, Caller.member(B, None)) == []
    async with await KnowledgeBase.open(address) as reopened:
        assert (await reopened.server_settings(A)).retention_days == 30
        assert (await reopened.server_settings(B)).retention_days is None


async def test_two_processes_starting_at_once_migrate_once(pg_cluster) -> None:
    from retrieval.pg_store import SCHEMA_VERSION, PgStore
    from tests.postgres import fresh_database

    address = await fresh_database(pg_cluster)
    stores = await asyncio.gather(*(PgStore.open(address) for _ in range(4)))
    try:
        versions = await query_rows(address, "SELECT version FROM citebot_schema ORDER BY 1")
        assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]
        assert await query_rows(address, "SELECT count(*) FROM meta WHERE key = 'database_id'") == [
            (1,)
        ]
    finally:
        await asyncio.gather(*(s.close() for s in stores))


def test_a_postgresql_password_is_never_shown(cli, monkeypatch) -> None:
    """An address with a password (in CITEBOT_DB, as the README says) is shown without it
    when the database cannot be used."""
    from bot.settings import Settings
    from retrieval.backends import shown_address

    secret = "postgresql://citebot:s3cr3t-pw@127.0.0.1:1/citebot"
    assert shown_address(secret) == "postgresql://citebot@127.0.0.1:1/citebot"
    assert "pw" not in shown_address(secret + "?password=pw2&sslmode=require")
    assert "s3cr3t" not in repr(Settings(token="t", db_path=secret))
    monkeypatch.setenv("CITEBOT_DB", secret)
    failed = cli("sources", "list")  # nothing listens on port 1
    assert failed.code == 1 and "s3cr3t" not in failed.err + failed.out
    assert failed.err.startswith("citebot: error:")


def test_a_servers_refusal_is_one_line_without_the_password(cli, monkeypatch, pg_cluster) -> None:
    wrong = f"postgresql://postgres:s3cr3t@127.0.0.1:{pg_cluster.port}/no_such_database"
    monkeypatch.setenv("CITEBOT_DB", wrong)
    failed = cli("sources", "list")
    assert failed.code == 1 and "s3cr3t" not in failed.err + failed.out
    assert failed.err == (
        f"citebot: error: cannot use the database postgresql://postgres@127.0.0.1:"
        f'{pg_cluster.port}/no_such_database: database "no_such_database" does not exist\n'
    )


async def test_nul_characters_never_reach_the_database(any_kb) -> None:
    """PostgreSQL's text cannot hold U+0000 (SQLite can): a source or a reason carrying one is
    stored without it, on both backends alike."""
    added = await any_kb.add_text(KESTRELS.replace("north", "no\x00rth"), title="Kes\x00trels")
    assert added.source.title == "Kestrels"
    found = await any_kb.ask("Where do kestrels nest?", 3, Caller.member(A, 7))
    assert found.answered and "north ridge" in found.hits[0].text
    await any_kb.record_feedback(found.query_id, 9, False, A)
    await any_kb.record_reason(found.query_id, 9, "wrong\x00 ridge", A)
    [row] = await any_kb.query_log("feedback", 5, Caller.member(A, None))
    assert row.reasons == ("wrong ridge",)


async def test_an_open_postgresql_store_keeps_no_password_in_view(pg_cluster) -> None:
    from retrieval.pg_store import PgStore
    from tests.postgres import fresh_database

    address = (await fresh_database(pg_cluster)).replace("postgres@", "postgres:s3cr3t@")
    store = await PgStore.open(address)  # trust authentication: any password is accepted
    try:
        assert "s3cr3t" not in f"{store!r} {store.path} {vars(store)}"
    finally:
        await store.close()
