"""What one server does stays in that server, and what one coroutine or process does waits its
turn: server checks in paging, votes and passage lookup, reads that never see uncommitted rows,
writes that wait for another process's lock, and the races a review found. The server checks
and the transaction tests run on both backends (SQLite and PostgreSQL: `any_kb`)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from retrieval import store as store_module
from retrieval.errors import DuplicateSource, NotFound
from retrieval.knowledge import KnowledgeBase
from retrieval.models import Caller
from retrieval.store import NewPassage
from tests.conftest import query_rows
from tests.test_extract import article_page
from tests.test_web_sources import CHIPS, CHIPS_V2, LOCAL

MEMO = (
    "The Ferncliff memo says the warehouse robots will move to the night shift in March, "
    "and that the suction grippers need new filters every two weeks."
)
SERVER_A, SERVER_B = 111, 222


async def _ask_in_a(kb: KnowledgeBase) -> int:
    await kb.add_text(MEMO, title="Ferncliff memo", guild_id=SERVER_A)
    answer = await kb.ask("Ferncliff suction grippers filters", 1, Caller(guild_id=SERVER_A))
    assert answer.answered and answer.query_id is not None
    return answer.query_id


async def test_another_server_cannot_page_a_servers_answer(any_kb: KnowledgeBase) -> None:
    kb = any_kb
    query_id = await _ask_in_a(kb)
    assert (await kb.page(query_id, 0, 1, SERVER_A)).hits[0].title == "Ferncliff memo"
    with pytest.raises(NotFound, match="no longer in the log"):
        await kb.page(query_id, 0, 1, SERVER_B)


async def test_another_server_cannot_vote_on_a_servers_answer(
    any_kb: KnowledgeBase, address: str
) -> None:
    kb = any_kb
    query_id = await _ask_in_a(kb)
    with pytest.raises(NotFound, match="no longer in the log"):
        await kb.record_feedback(query_id, 42, False, SERVER_B)
    assert await query_rows(address, "SELECT count(*) FROM feedback") == [(0,)]
    await kb.record_feedback(query_id, 42, True, SERVER_A)
    assert await query_rows(address, "SELECT query_id, helpful FROM feedback") == [(query_id, 1)]


async def test_passage_lookup_shows_a_server_only_its_own_and_the_global_passages(
    any_kb: KnowledgeBase, address: str
) -> None:
    kb = any_kb
    added = await kb.add_text(MEMO, title="Ferncliff memo", guild_id=SERVER_A)
    [(memo_passage,)] = await query_rows(
        address, "SELECT id FROM passages WHERE document_id = ?", added.source.doc_id
    )
    [(seed_passage,)] = await query_rows(address, "SELECT min(id) FROM passages")
    assert set(await kb.store.passages_by_id([memo_passage, seed_passage], SERVER_A)) == {
        memo_passage,
        seed_passage,
    }
    assert set(await kb.store.passages_by_id([memo_passage, seed_passage], SERVER_B)) == {
        seed_passage
    }
    assert set(await kb.store.passages_by_id([memo_passage], None)) == set()


class _Rollback(Exception):
    pass


async def test_reads_never_see_another_coroutines_uncommitted_rows(
    any_kb: KnowledgeBase,
) -> None:
    kb = any_kb
    with pytest.raises(_Rollback):
        async with kb.store.transaction() as db:
            await kb.store.insert_document(
                db,
                guild_id=SERVER_A,
                title="Uncommitted memo",
                source="pasted text",
                kind="text",
                content_hash="0" * 64,
                summary="",
                word_count=3,
                added_by="test",
                passages=[NewPassage(0, 1, None, "uncommitted memo text", "uncommit memo text")],
            )
            # Other coroutines list the sources and look up titles while the write is open.
            sources = await asyncio.create_task(kb.list_sources(SERVER_A))
            titles = await asyncio.create_task(kb.titles(SERVER_A, "memo"))
            assert "Uncommitted memo" not in [s.title for s in sources]
            assert titles == []
            with pytest.raises(NotFound):
                await asyncio.create_task(kb.find_article("Uncommitted", SERVER_A))
            raise _Rollback
    assert "Uncommitted memo" not in [s.title for s in await kb.list_sources(SERVER_A)]


async def _until(predicate, what: str) -> None:
    """Wait (a few seconds at most) for something that another task makes true."""
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.005)
    pytest.fail(f"timed out waiting for {what}")


async def test_an_ask_waits_for_another_processs_write_lock_and_is_logged(
    kb: KnowledgeBase, db_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    # Another process (a command line adding a folder) holds the write lock for longer than
    # SQLite's busy timeout; our connection was opened with a short one to get there quickly.
    await kb.store._db.execute("PRAGMA busy_timeout = 20")
    monkeypatch.setattr(store_module, "WRITE_PATIENCE_S", 300.0)
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    caplog.set_level(logging.WARNING, logger="retrieval.store")
    try:
        asking = asyncio.create_task(kb.ask("How much did DeepSeek spend?", 3, Caller()))
        adding = asyncio.create_task(kb.add_text(MEMO, title="Memo", guild_id=SERVER_A))
        await _until(
            lambda: sum("is busy" in r.getMessage() for r in caplog.records) >= 2,
            "both writes to wait for the lock",
        )
        assert not asking.done() and not adding.done()
    finally:
        other.execute("COMMIT")
        other.close()
    answer = await asking
    added = await adding
    assert answer.answered and answer.query_id is not None
    assert added.source.title == "Memo"
    with sqlite3.connect(db_path) as con:
        assert con.execute("SELECT query FROM queries").fetchall() == [
            ("How much did DeepSeek spend?",)
        ]


async def _dump(address: str) -> dict[str, list[tuple]]:
    """Every row of the tables a refused source could have touched, in a stable order."""
    return {
        table: await query_rows(address, f"SELECT * FROM {table} ORDER BY 1, 2")
        for table in ("documents", "passages", "meta")
    }


async def test_a_global_source_cannot_duplicate_a_servers_source(
    any_kb: KnowledgeBase, address: str
) -> None:
    kb = any_kb
    await kb.add_text(MEMO, title="Ferncliff memo", guild_id=SERVER_A)
    before = await _dump(address)
    with pytest.raises(DuplicateSource, match=rf"in server {SERVER_A}; a copy for every server"):
        await kb.add_text(MEMO, title="Ferncliff memo (global)")
    assert await _dump(address) == before


def test_summary_of_a_superscript_digit_is_a_clean_refusal(cli) -> None:
    # isdigit() accepts these and int() does not: they are searched as title text instead.
    for ref in ("²", "①", "٣", "99²"):
        result = cli("summary", ref)
        assert "unexpected error" not in result.err
        assert result.code == 0 or result.err.startswith("citebot: error: no article")
    result = cli("summary", "٣٣")
    assert result.err == (
        "citebot: error: no article title contains '٣٣'; `citebot sources list` shows them\n"
    )


async def test_an_in_memory_database_leaves_no_index_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with await KnowledgeBase.open(":memory:") as kb:
        answer = await kb.ask("How much did DeepSeek spend?", 3, Caller())
        assert answer.answered
    assert not any(p.name.endswith(".segments") for p in tmp_path.glob("*"))  # noqa: ASYNC240


# -- a refresh racing a remove ------------------------------------------------------------------


@pytest.fixture
async def gated_site() -> AsyncIterator[tuple[str, asyncio.Event, asyncio.Event, dict]]:
    """A page whose next response waits until the test opens the gate."""
    asked, gate = asyncio.Event(), asyncio.Event()
    pages = {"/a": article_page(CHIPS, title="Chips"), "/b": article_page(CHIPS_V2, title="B")}

    async def serve(request: web.Request) -> web.Response:
        if request.path == "/a" and pages.get("gated"):
            asked.set()
            await gate.wait()
        return web.Response(text=pages[request.path], content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", asked, gate, pages
    gate.set()
    await runner.cleanup()


async def test_a_refresh_racing_a_remove_reports_it_and_refreshes_the_rest(
    db_path: Path, gated_site
) -> None:
    base, asked, gate, pages = gated_site
    async with await KnowledgeBase.open(db_path, fetch_policy=LOCAL) as kb:
        first = await kb.add_url(f"{base}/a", guild_id=SERVER_A)
        second = await kb.add_url(f"{base}/b", guild_id=SERVER_A)
        pages["/a"] = article_page(CHIPS_V2[::-1], title="Chips")
        pages["/b"] = article_page((*CHIPS_V2, "A fourth paragraph about H20 prices."), title="B")
        pages["gated"] = "yes"
        moderator = Caller.member(SERVER_A, 42)
        refreshing = asyncio.create_task(kb.refresh(None, moderator))
        await asked.wait()  # the first page is being fetched ...
        await kb.remove_source(first.source.doc_id, moderator)  # ... when it is removed
        gate.set()
        results = await refreshing
    by_id = {r.source.doc_id: r for r in results}
    assert by_id[first.source.doc_id].status == "failed"
    assert by_id[first.source.doc_id].detail == "it was removed while being refreshed"
    assert by_id[second.source.doc_id].status == "changed"
    with sqlite3.connect(db_path) as con:
        assert con.execute(
            "SELECT count(*) FROM passages WHERE document_id = ?", (first.source.doc_id,)
        ).fetchone() == (0,)


async def test_a_refresh_starts_no_source_after_its_deadline(db_path: Path, gated_site) -> None:
    """What /source refresh relies on to reply within the interaction token's 15 minutes."""
    base, _, _, pages = gated_site
    async with await KnowledgeBase.open(db_path, fetch_policy=LOCAL) as kb:
        added = await kb.add_url(f"{base}/b", guild_id=SERVER_A)
        pages["/b"] = article_page((*CHIPS_V2, "A fourth paragraph about H20 prices."), title="B")
        passed = asyncio.get_running_loop().time()
        [result] = await kb.refresh(None, Caller.member(SERVER_A, 42), deadline=passed)
        assert (result.source.doc_id, result.status, result.detail) == (
            added.source.doc_id,
            "skipped",
            "not reached in time; refresh again",
        )
        [result] = await kb.refresh(None, Caller.member(SERVER_A, 42))
        assert result.status == "changed"


async def test_a_server_does_not_wait_for_the_index_of_another_servers_change(
    any_kb: KnowledgeBase,
) -> None:
    kb = any_kb
    await kb.ask("How much did DeepSeek spend?", 3, Caller(guild_id=SERVER_B))
    await kb.add_text(MEMO, title="Ferncliff memo", guild_id=SERVER_A)
    # While the index takes in server A's change (held here as if the build were long) ...
    async with kb._index_lock:
        # ... server B, whose sources did not change, is answered from the index it has,
        answer = await asyncio.wait_for(
            kb.ask("How much did DeepSeek spend?", 3, Caller(guild_id=SERVER_B)), 60
        )
        assert answer.answered and "5.6 million" in answer.hits[0].text
        # ... while server A waits for the index that holds its new source.
        asking_a = asyncio.create_task(kb.ask("Ferncliff filters", 1, Caller(guild_id=SERVER_A)))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not asking_a.done()
    found = await asking_a
    assert found.hits[0].title == "Ferncliff memo"


async def test_another_servers_sources_change_nothing_in_a_servers_scores(
    address: str,
) -> None:
    # Ranking statistics are per server: N, average length and document frequencies of the
    # global corpus plus the server's own sources. Server B adding sixty memos full of the
    # question's words must not move server A's scores, nor its answered decision.
    questions = [
        "when do the ferncliff grippers need new filters",
        "what moves to the night shift",
        "how many robots does the warehouse have",
    ]
    async with await KnowledgeBase.open(address, seed=False) as kb:
        await kb.add_text(
            "The warehouse opened in 1998. Its robots sort parcels for three towns, and the "
            "night shift keeps the conveyors running.",
            title="Ferncliff warehouse",
        )
        await kb.add_text(MEMO, title="Ferncliff memo", guild_id=SERVER_A)

        async def seen_by(guild: int | None) -> list[tuple]:
            out = []
            for question in questions:
                answer = await kb.ask(question, 5, Caller(guild_id=guild))
                hits = [(h.passage_id, round(h.score, 9)) for h in answer.hits]
                out.append((answer.answered, round(answer.confidence, 9), hits))
            return out

        before_a, before_cli = await seen_by(SERVER_A), await seen_by(None)
        before_b = await seen_by(SERVER_B)
        for i in range(60):
            await kb.add_text(
                f"Memo {i}: the warehouse robots and their grippers need filters on the night "
                f"shift; parcel {i} moves to dock {i % 7}.",
                title=f"Dock memo {i}",
                guild_id=SERVER_B,
            )
        assert await seen_by(SERVER_A) == before_a
        assert await seen_by(None) == before_cli
        # ... while server B's own statistics did change (so the comparison above can fail).
        assert await seen_by(SERVER_B) != before_b
