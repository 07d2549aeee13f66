"""Discord abuse across two servers: one server's hostile uploads and button floods never
reach another server's answers, and refusals say what happened."""

from __future__ import annotations

import re
import sqlite3

import pytest

from bot import replies
from retrieval.ingest import IngestQueue
from retrieval.sandbox import Budget
from tests import hostile
from tests.test_bot import SPEND, World, _ask, _fields
from tests.test_bot import world as world  # the bot against the emulator, two servers

TOO_FAST = "You're asking too fast"


def _shown(text: str) -> str:
    """Text as Discord shows it: Markdown escapes consumed."""
    return re.sub(r"\\(.)", r"\1", text)


async def test_another_server_is_answered_while_one_uploads_hostile_pdfs(world: World) -> None:
    emu = world.emu
    world.kb.ingest = IngestQueue(Budget(cpu_seconds=2, wall_seconds=60))
    emu.wait_timeout = 60.0  # a parse at the lowest priority on a busy machine: a hang guard
    with sqlite3.connect(world.db) as con:
        documents = con.execute("SELECT * FROM documents ORDER BY id").fetchall()
    uploads = [
        await emu.run_command(
            emu.moderator,
            "source add",
            {"file": emu.upload(f"report{i}.pdf", hostile.shared_stream_pdf())},
        )
        for i in range(2)
    ]
    # Meanwhile, in the other server, members ask and are answered.
    for _ in range(3):
        answer = await _ask(world, SPEND, user=world.other_member, guild=world.other)
        assert "$5.6 million" in _fields(answer)[0]["value"]
    assert not all(len(u.messages) >= 2 for u in uploads), "the parsing was still going on"

    first = await uploads[0].wait_message()
    assert first.ephemeral
    assert _shown(first.embeds[0]["description"]).startswith(
        "report0.pdf needs more than 2 s of processing to read; it is refused as too complex"
    )
    note, refusal = await uploads[1].wait_messages(2)
    assert note.ephemeral and note.content.startswith(
        "Waiting: another source is being added in this server first."
    )
    assert _shown(refusal.embeds[0]["description"]).startswith("report1.pdf needs more than 2 s")
    with sqlite3.connect(world.db) as con:
        assert con.execute("SELECT * FROM documents ORDER BY id").fetchall() == documents


async def test_votes_share_the_ask_budget(world: World) -> None:
    message = await _ask(world, SPEND)  # 1 of 5
    for helpful in (1, 0, 1, 0):  # 2..5
        click = await world.emu.click(message, f"citebot:vote:1:{helpful}", world.emu.member)
        assert (await click.wait_message()).content.startswith(("Thanks!", "Your vote is now"))
    flood = await world.emu.click(message, "citebot:vote:1:1", world.emu.member)
    refused = await flood.wait_message()
    assert refused.ephemeral and TOO_FAST in refused.embeds[0]["description"]
    # Someone else's budget is their own.
    other = await world.emu.click(message, "citebot:vote:1:1", world.emu.moderator)
    assert (await other.wait_message()).content == "Thanks! Recorded as helpful."


async def test_page_buttons_share_the_ask_budget(world: World) -> None:
    message = await _ask(world, "open-source AI models from China", count=1)  # 1 of 5
    for page in range(1, 5):  # 2..5
        [next_id] = [
            c for c in message.custom_ids() if re.fullmatch(rf"citebot:page:\d+:{page}:1:\d+", c)
        ]
        click = await world.emu.click(message, next_id, world.emu.member)
        await click.wait_callback()
        await world.emu.wait_until(
            lambda p=page: _fields(message)[0]["name"].startswith(f"[{p + 1}]")
        )
    [next_id] = [c for c in message.custom_ids() if re.fullmatch(r"citebot:page:\d+:5:1:\d+", c)]
    flood = await world.emu.click(message, next_id, world.emu.member)
    refused = await flood.wait_message()
    assert refused.ephemeral and TOO_FAST in refused.embeds[0]["description"]
    assert _fields(message)[0]["name"].startswith("[5]")  # the answer stayed as it was
    with sqlite3.connect(world.db) as con:
        assert con.execute("SELECT count(*) FROM queries").fetchone()[0] == 1


async def test_discord_refusals_point_to_discord_commands(world: World) -> None:
    for article in ("bread recipes", "999"):
        summary = await world.emu.run_command(world.emu.member, "summary", {"article": article})
        text = (await summary.wait_message()).embeds[0]["description"]
        assert "`/sources` lists them" in text
        assert "citebot sources" not in text


async def test_removing_a_source_defers_before_it_waits_for_the_database(world: World) -> None:
    emu = world.emu
    add = await emu.run_command(emu.moderator, "source add", {"text": "Robots " * 50, "title": "R"})
    doc_id = (await add.wait_message()).embeds[0]["fields"][2]["value"]
    remove = await emu.run_command(emu.moderator, "source remove", {"source": doc_id})
    assert await remove.wait_callback() == 5  # deferred first
    done = await remove.wait_message()
    assert done.ephemeral and _shown(done.embeds[0]["description"]).startswith(
        f"Removed source {doc_id}: R"
    )


async def test_a_slow_lookup_defers_and_its_refusal_stays_private(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replies, "DEFER_AFTER", 0.0)  # as if the lookup were slow
    summary = await world.emu.run_command(world.emu.member, "summary", {"article": "bread"})
    assert await summary.wait_callback() == 5  # deferred, publicly
    [refusal] = await summary.wait_messages(1)
    assert refusal.ephemeral and "No article title contains" in refusal.embeds[0]["description"]
    assert summary.original is None or summary.original.deleted
    found = await world.emu.run_command(world.emu.member, "summary", {"article": "catalyst"})
    assert not (await found.wait_message()).ephemeral
