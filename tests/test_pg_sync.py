"""Processes sharing a PostgreSQL database stay in step (issue 13, point 3): a source another
process adds (here, the command line in a process of its own) is indexed by this one without a
question asking for it, through the notification; and a change it could not hear (its listening
connection cut, or a write that sent no notification) is found by the catch-up after the
reconnect and by the periodic check."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import asyncpg
import pytest

from retrieval.knowledge import KnowledgeBase
from retrieval.models import Caller
from tests.postgres import fresh_database

A = 101
SPEND = "How much money did DeepSeek spend developing its model?"
KESTRELS = "Kestrels nest on the north ridge above the quarry. They hunt voles at dawn."


@pytest.fixture
async def address(pg_cluster) -> str:  # PostgreSQL only: this is about its notifications
    return await fresh_database(pg_cluster)


async def _changed(kb: KnowledgeBase) -> asyncio.Event:
    """An event set once this knowledge base's own background rebuild (started when it heard
    of a change) has moved its index to a new corpus version: nothing here asks it to."""
    moved = asyncio.Event()
    waiting: set[asyncio.Future[None]] = set()
    start = kb.answering.live.current
    first = start.version if start is not None else None

    def check() -> None:
        rebuilding = kb.answering._catching_up  # started by the answering part's own listener

        async def wait() -> None:
            if rebuilding is not None:
                await asyncio.shield(rebuilding)
            current = kb.answering.live.current
            if current is not None and current.version != first:
                moved.set()

        task = asyncio.ensure_future(wait())
        waiting.add(task)
        task.add_done_callback(waiting.discard)

    kb.store.on_corpus_change(check)
    return moved


def _cli(address: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**os.environ, "CITEBOT_DB": address},
        capture_output=True,
        text=True,
        check=True,
    )


async def test_a_source_added_by_another_process_is_indexed_without_a_question(address) -> None:
    async with await KnowledgeBase.open(address) as kb:
        kb.store.watch.check_every_seconds(3600)  # only the notification can tell it now
        assert (await kb.ask(SPEND, 3, Caller.member(A, 1))).answered  # its index built
        moved = await _changed(kb)
        done = await asyncio.to_thread(_cli_add_text, address, KESTRELS)
        assert "Kestrels" in done.stdout
        async with asyncio.timeout(30):
            await moved.wait()  # the index moved on before anyone asked
        found = await kb.ask("Where do kestrels nest?", 3, Caller.member(A, 1))
        assert found.answered and found.hits[0].title == "Kestrels"


def _cli_add_text(address: str, text: str) -> subprocess.CompletedProcess[str]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kestrels.md"
        path.write_text(f"# Kestrels\n\n{text}")
        return _cli(address, "sources", "add", str(path))


async def test_a_change_missed_while_not_listening_is_caught_up(address) -> None:
    """The watch's connection is cut; a source is added before it listens again (its
    reconnect waits for the test); the catch-up after the reconnect finds it. No periodic
    check runs meanwhile, and the notification went to nobody."""
    from retrieval.pg_store import NOTIFY_CHANNEL
    from retrieval.pg_sync import CorpusWatch

    async with (
        await KnowledgeBase.open(address) as kb,
        await KnowledgeBase.open(address) as other,
    ):
        may_listen_again = asyncio.Event()
        connections = 0

        async def connect() -> asyncpg.Connection:
            nonlocal connections
            connections += 1
            if connections > 1:
                await may_listen_again.wait()
            return await asyncpg.connect(address)

        watch = CorpusWatch(connect, kb.store.version_map, NOTIFY_CHANNEL, check_every=3600)
        await watch.start()
        try:
            before = watch.version.number
            heard = asyncio.Event()
            watch.on_change(heard.set)
            admin = await asyncpg.connect(address)
            try:
                await admin.execute("SELECT pg_terminate_backend($1)", watch._con.get_server_pid())
            finally:
                await admin.close()
            await other.add_text(KESTRELS, title="Kestrels", guild_id=A)  # told to nobody
            assert watch.version.number == before
            may_listen_again.set()
            async with asyncio.timeout(30):
                await heard.wait()
            assert watch.reconnects == 1 and watch.version.number > before
        finally:
            await watch.close()


async def test_a_change_without_a_notification_is_found_by_the_periodic_check(address) -> None:
    async with await KnowledgeBase.open(address) as kb:
        seen = kb.store.watch.version.number
        heard = asyncio.Event()
        kb.store.on_corpus_change(heard.set)
        admin = await asyncpg.connect(address)
        try:  # as a write that sent no NOTIFY would
            await admin.execute(
                "UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'corpus_version'"
            )
        finally:
            await admin.close()
        async with asyncio.timeout(30):
            await heard.wait()
        assert kb.store.watch.version.number == seen + 1


async def test_a_question_right_after_another_process_adds_finds_it(address) -> None:
    """Even before this process hears of the change (its watch here hears nothing at all), its
    next question reads the corpus version and waits for the index that holds the source."""
    async with (
        await KnowledgeBase.open(address) as kb,
        await KnowledgeBase.open(address) as other,
    ):
        assert (await kb.ask(SPEND, 3, Caller.member(A, 1))).answered  # its index built
        await kb.store.watch.close()  # deaf: no notification, no check
        await other.add_text(KESTRELS, title="Kestrels")
        found = await kb.ask("Where do kestrels nest?", 3, Caller.member(A, 1))
        assert found.answered and found.hits[0].title == "Kestrels"
