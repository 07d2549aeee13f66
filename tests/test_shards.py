"""Past one process (issue 13): two `citebot run` processes, on shards 0 and 1 of 2, share one
PostgreSQL database; the emulator sends each server's events to the shard Discord's rule gives
it. Each server's sources and questions stay its own, a source added in one server with
/source add is found there, a global source added with the command line is found by both, and a
process killed with SIGKILL and started again answers again with nothing lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from discord_emulator import running_emulator
from discord_emulator.launch import REPO_ROOT, LaunchedProcess, launched
from retrieval.models import Caller
from retrieval.store import shard_condition
from tests.conftest import query_rows
from tests.postgres import fresh_database

SPEND = "How much money did DeepSeek spend developing its model?"
KESTRELS = "Kestrels nest on the north ridge above the quarry. They hunt voles at dawn."
HERONS = "Grey herons wade the river shallows at dusk. They stand still for an hour and strike."


def _answer_text(message) -> str:
    embed = message.embeds[0]
    return embed.get("description", "") + " ".join(f["value"] for f in embed.get("fields", []))


async def _ask(emu, process: LaunchedProcess, who, guild, question: str):
    asked = await emu.run_command(who, "ask", {"question": question}, guild=guild)
    return await process.until(asked.wait_message())


def _cli(address: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**os.environ, "CITEBOT_DB": address, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )


def test_a_shard_process_indexes_only_its_servers_and_the_global_corpus():
    assert shard_condition(None) == "1 = 1"
    assert shard_condition((2, (1,))) == "(d.guild_id IS NULL OR ((d.guild_id >> 22) % 2) IN (1))"


async def test_a_process_indexes_its_shards_servers_only(address) -> None:
    from retrieval.knowledge import KnowledgeBase

    zero, one = 2 << 22, 1 << 22  # server ids on shards 0 and 1 of 2
    async with await KnowledgeBase.open(address) as writer:
        await writer.add_text(KESTRELS, title="Kestrels", guild_id=zero)
        await writer.add_text(HERONS, title="Herons", guild_id=one)
    async with await KnowledgeBase.open(address, shards=(2, (1,))) as shard_one:
        found = await shard_one.ask("Where do herons wade?", 3, Caller.member(one, 1))
        assert found.answered and found.hits[0].title == "Herons"
        index = await shard_one.answering.current_index(one)
        titles = {s.doc_id: s.title for s in await shard_one.list_sources(zero)}
        kestrels = next(d for d, t in titles.items() if t == "Kestrels")
        assert kestrels not in index.hashes  # shard 0's server: not in this process's memory
        assert len(index.hashes) == 6  # the 5 bundled articles and its own server's


async def test_two_shard_processes_on_one_postgresql(
    pg_cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = await fresh_database(pg_cluster)
    async with running_emulator(monkeypatch) as emu:
        zero = emu.add_guild("Shard zero", shard=(0, 2))
        one = emu.add_guild("Shard one", shard=(1, 2))
        ana = emu.add_member("ana", roles=["Moderator"], guild=zero)
        ben = emu.add_member("ben", roles=["Moderator"], guild=one)
        env = {
            "DISCORD_TOKEN": emu.token,
            "CITEBOT_DB": address,
            "PYTHONPATH": str(REPO_ROOT),
            "CITEBOT_MESSAGE_CONTENT": "0",
        }
        folders = [tmp_path / "a", tmp_path / "b"]
        for folder in folders:
            folder.mkdir()

        def start(shard: int):
            return launched(
                emu,
                "run",
                "--shard-count",
                "2",
                "--shard-ids",
                str(shard),
                env=env,
                cwd=folders[shard],
            )

        async with start(0) as first, start(1) as second:
            await first.until(emu.wait_for_sync())  # the commands, synced globally
            # Both started at once on a new database: each answers its own server.
            assert "$5.6 million" in _answer_text(await _ask(emu, first, ana, zero, SPEND))
            assert "$5.6 million" in _answer_text(await _ask(emu, second, ben, one, SPEND))
            # A source added with /source add in server "zero": found there, not in "one".
            added = await emu.run_command(
                ana, "source add", {"text": KESTRELS, "title": "Kestrels"}, guild=zero
            )
            await first.until(added.wait_message())
            mine = await _ask(emu, first, ana, zero, "Where do kestrels nest?")
            assert "north ridge" in _answer_text(mine)
            theirs = await _ask(emu, second, ben, one, "Where do kestrels nest?")
            assert "north ridge" not in _answer_text(theirs)
            # A global source added from the command line: found in both servers.
            note = tmp_path / "herons.md"
            note.write_text(f"# Herons\n\n{HERONS}\n")
            await asyncio.to_thread(_cli, address, "sources", "add", str(note))
            for process, who, guild in ((first, ana, zero), (second, ben, one)):
                shown = await _ask(emu, process, who, guild, "Where do grey herons wade?")
                assert "river shallows" in _answer_text(shown)
            # SIGKILL: no clean stop. Started again, it answers; nothing was lost.
            os.kill(second.pid, signal.SIGKILL)
            assert await second.wait() == -signal.SIGKILL
            async with start(1) as again:
                shown = await _ask(emu, again, ben, one, "Where do grey herons wade?")
                assert "river shallows" in _answer_text(shown)
                assert await again.terminate() == 0
            assert await first.terminate() == 0
    logged = await query_rows(address, "SELECT guild_id, query FROM queries ORDER BY id")
    assert {g for g, _ in logged} == {zero.id, one.id}  # both processes' questions, one log
    assert (one.id, "Where do grey herons wade?") in logged
    sources = await query_rows(address, "SELECT guild_id, title FROM documents ORDER BY id")
    assert (zero.id, "Kestrels") in sources and (None, "Herons") in sources


async def test_only_a_sharded_bot_uses_the_auto_sharded_client(db_path) -> None:
    """Unsharded, the bot is a plain client (it never asks Discord for a recommended shard
    count); with shards, discord.py's auto-sharded client runs exactly those."""
    from discord.ext import commands

    from bot.client import ShardedCitebot, bot_for
    from bot.settings import Settings
    from retrieval.knowledge import KnowledgeBase

    async with await KnowledgeBase.open(db_path, seed=False) as kb:
        plain = bot_for(kb, Settings(token="t"))
        assert not isinstance(plain, commands.AutoShardedBot)
        sharded = bot_for(kb, Settings(token="t", shard_count=4, shard_ids=(1, 3)))
        assert isinstance(sharded, ShardedCitebot) and isinstance(sharded, commands.AutoShardedBot)
        assert (sharded.shard_count, sharded.shard_ids) == (4, [1, 3])
        await plain.close()  # (the sharded one, never started, has nothing to close)
