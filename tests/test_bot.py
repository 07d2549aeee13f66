"""citebot in Discord, end to end: the real bot and discord.py client against the emulator.

Each test starts the product's Citebot with a KnowledgeBase on a fresh SQLite file, logs it in
to the emulator, waits for its command sync, then acts as people in two servers would. The
emulator fails the test on any Discord rule the bot breaks (limits, 3-second deadline).
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.client import Citebot
from bot.errors import NOT_MODERATOR, UNEXPECTED
from bot.settings import Settings
from discord_emulator import DiscordEmulator, running_emulator
from discord_emulator.model import (
    EVERYONE_PERMISSIONS,
    Guild,
    Message,
    Role,
    User,
    snowflake,
)
from retrieval.knowledge import KnowledgeBase
from tests.conftest import table_dump
from tests.test_web_sources import LOCAL, Site, article_page
from tests.test_web_sources import site as site  # the test web server fixture

SPEND = "How much money did DeepSeek spend developing its model?"
ROBOTS = (
    "Warehouse robots at Ferncliff Logistics now pick 4,000 parcels an hour. The Ferncliff "
    "robots use suction grippers and a shared map of the shelves, and the company says the "
    "fleet paid for itself within eleven months."
)


@dataclass
class World:
    emu: DiscordEmulator
    bot: Citebot
    kb: KnowledgeBase
    db: Path
    other: Guild  # a second server
    other_member: User
    other_moderator: User
    helpers: Role  # a role with no moderator permission, known to the bot from the start


async def _start(bot: Citebot, emu: DiscordEmulator) -> asyncio.Task[None]:
    runner = asyncio.create_task(bot.start(emu.token))
    synced = asyncio.create_task(emu.wait_until(lambda: bot.synced is not None, what="sync"))
    done, _ = await asyncio.wait({runner, synced}, return_when=asyncio.FIRST_COMPLETED)
    if runner in done:
        synced.cancel()
        runner.result()
        pytest.fail("the bot stopped before syncing its commands")
    await synced  # interactions may come now: the guilds arrive right after READY
    return runner


@pytest.fixture
async def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    db = tmp_path / "bot.db"
    async with running_emulator(monkeypatch) as emu:
        other = emu.add_guild("Other Guild")
        other_member = emu.add_member("bob", guild=other)
        other_moderator = emu.add_member("carol", roles=["Moderator"], guild=other)
        helpers = Role(snowflake(), "Helpers", EVERYONE_PERMISSIONS)
        emu.guild.roles.append(helpers)
        async with await KnowledgeBase.open(db, fetch_policy=LOCAL) as kb:
            settings = Settings(token=emu.token, db_path=str(db), ask_rate=5, ask_per=30.0)
            bot = Citebot(kb, settings)
            runner = await _start(bot, emu)
            try:
                yield World(emu, bot, kb, db, other, other_member, other_moderator, helpers)
            finally:
                await bot.close()
                await runner


async def _ask(
    world: World,
    question: str,
    *,
    user: User | None = None,
    guild: Guild | None = None,
    count: int | None = None,
) -> Message:
    options: dict[str, object] = {"question": question}
    if count is not None:
        options["count"] = count
    interaction = await world.emu.run_command(user or world.emu.member, "ask", options, guild=guild)
    return await interaction.wait_message()


def _fields(message: Message) -> list[dict]:
    return message.embeds[0].get("fields", [])


# -- start-up and command sync -------------------------------------------------------------


async def test_commands_are_synced_globally_and_valid(world: World) -> None:
    names = {c["name"] for c in world.emu.global_commands}
    assert names == {
        "ask",
        "summary",
        "sources",
        "source",
        "logs",
        "settings",
        "help",
        "privacy",
    } | {"Find sources"}
    source = next(c for c in world.emu.global_commands if c["name"] == "source")
    assert {o["name"] for o in source["options"]} == {"add", "remove", "refresh"}
    assert int(source["default_member_permissions"]) == 1 << 5  # Manage Server
    logs = next(c for c in world.emu.global_commands if c["name"] == "logs")
    assert {o["name"] for o in logs["options"]} == {
        "recent",
        "top",
        "unanswered",
        "feedback",
        "export",
        "forget",
        "stats",
        "gaps",
        "digest",
    }


async def test_restart_does_not_sync_an_unchanged_tree(world: World) -> None:
    syncs = len(world.emu.syncs)
    second = Citebot(world.kb, world.bot.settings)
    runner = await _start(second, world.emu)
    try:
        assert second.synced is False
        assert len(world.emu.syncs) == syncs
    finally:
        await second.close()
        await runner


# -- /ask ----------------------------------------------------------------------------------


async def test_ask_shows_numbered_cited_passages_and_logs_the_row(world: World) -> None:
    message = await _ask(world, SPEND)
    embed = message.embeds[0]
    assert embed["title"] == SPEND
    fields = _fields(message)
    # Passages far below the best are left out: fewer than three is a fine answer.
    assert [f["name"][:3] for f in fields] == ["[1]", "[2]"]
    assert fields[0]["name"] == "[1] China's AI Leap: DeepSeek Challenges US Dominance"
    assert "**spent**" in fields[0]["value"] and "$5.6 million" in fields[0]["value"]
    # Followable: no file name, who added it; the title is the field's name only.
    assert fields[0]["value"].endswith("\nbundled with citebot · paragraph 2")
    assert "China's AI Leap" not in fields[0]["value"]
    assert embed["footer"]["text"].startswith("Searched 5 articles in ")
    assert not message.ephemeral
    assert {"citebot:vote:1:1", "citebot:vote:1:0"} <= set(message.custom_ids())
    with sqlite3.connect(world.db) as con:
        row = con.execute(
            "SELECT surface, guild_id, channel_id, user_id, command, answered FROM queries"
        ).fetchone()
    assert row == (
        "discord",
        world.emu.guild.id,
        world.emu.guild.channel("general").id,
        world.emu.member.id,
        "ask",
        1,
    )


async def test_the_direct_answer_is_the_first_line_and_the_passages_follow(world: World) -> None:
    message = await _ask(world, SPEND)
    embed = message.embeds[0]
    assert embed["description"].splitlines() == [
        "DeepSeek reportedly spent only **$5.6 million** to develop its version 3 model.",
        "from [1] China's AI Leap: DeepSeek Challenges US Dominance",
    ]
    assert [f["name"][:3] for f in _fields(message)] == ["[1]", "[2]"]
    assert world.emu.take_violations() == []


async def test_a_typo_is_searched_as_the_corpus_spells_it_and_the_answer_says_so(
    world: World,
) -> None:
    message = await _ask(world, "How much money did DeepSeek spnd developing its model?")
    lines = message.embeds[0]["description"].splitlines()
    assert lines[0] == "Searched for *spent* (you typed *spnd*)"
    assert "**$5.6 million**" in lines[1]
    assert world.emu.take_violations() == []


async def test_a_when_question_marks_the_date(world: World) -> None:
    message = await _ask(world, "what day did deepseek release the r1 model")
    first = message.embeds[0]["description"].splitlines()[0]
    assert first.startswith("By releasing its R1 model on **January 20, 2025**—the same day")
    assert "from [1] " in message.embeds[0]["description"]


async def test_a_blank_question_is_refused_before_anything_is_logged(world: World) -> None:
    before = table_dump(world.db)
    interaction = await world.emu.run_command(world.emu.member, "ask", {"question": "   "})
    assert await interaction.wait_callback() == 4  # answered at once, not deferred
    message = await interaction.wait_message()
    assert message.ephemeral
    assert message.embeds[0]["description"].startswith("The question is empty")
    assert table_dump(world.db) == before


async def test_nothing_relevant_says_so_and_points_to_sources(world: World) -> None:
    message = await _ask(world, "How do I bake sourdough bread?")
    embed = message.embeds[0]
    assert "Nothing in the articles I can search answers this" in embed["description"]
    assert "/sources" in embed["description"]
    assert "fields" not in embed or not embed["fields"]


async def test_next_page_shows_the_following_passages(world: World) -> None:
    message = await _ask(world, "open-source AI models from China", count=2)
    assert [f["name"][:3] for f in _fields(message)] == ["[1]", "[2]"]
    [next_id] = [
        c
        for c in message.custom_ids()
        if c.startswith("citebot:page:") and c.endswith(f":1:2:{world.emu.member.id}")
    ]
    click = await world.emu.click(message, next_id, world.emu.member)
    await click.wait_callback()
    await world.emu.wait_until(lambda: _fields(message)[0]["name"].startswith("[3]"))
    assert [f["name"][:3] for f in _fields(message)] == ["[3]", "[4]"]
    assert "page 2" in message.embeds[0]["footer"]["text"]
    # The direct answer was page 1's; page 2 is more evidence, with no other "answer".
    assert not message.embeds[0].get("description")
    with sqlite3.connect(world.db) as con:
        assert con.execute("SELECT count(*) FROM queries").fetchone()[0] == 1


async def test_feedback_is_one_vote_per_user(world: World) -> None:
    message = await _ask(world, SPEND)
    first = await world.emu.click(message, "citebot:vote:1:1", world.emu.member)
    reply = await first.wait_message()
    assert reply.ephemeral and reply.content == "Thanks! Recorded as helpful."
    again = await world.emu.click(message, "citebot:vote:1:0", world.emu.member)
    assert (await again.wait_message()).content == "Your vote is now: not helpful."
    other = await world.emu.click(message, "citebot:vote:1:1", world.emu.moderator)
    await other.wait_message()
    with sqlite3.connect(world.db) as con:
        votes = con.execute("SELECT user_id, helpful FROM feedback ORDER BY user_id").fetchall()
    assert sorted(votes) == sorted([(world.emu.member.id, 0), (world.emu.moderator.id, 1)])


async def test_long_passages_and_many_of_them_still_fit(world: World) -> None:
    # One "sentence" of 3,000 characters cannot be split; ten of them must share one embed.
    words = " ".join(f"ferncliff{i % 7} robots*_~`|> gripper" for i in range(400))
    for n in range(10):
        await world.kb.add_text(f"Report {n}\n\n{words} batch{n}", guild_id=world.emu.guild.id)
    message = await _ask(world, "ferncliff robots gripper", count=10)
    fields = _fields(message)
    assert len(fields) == 10
    assert all(len(f["value"]) <= 1024 for f in fields)
    total = (
        len(message.embeds[0]["title"])
        + len(message.embeds[0].get("description", ""))
        + len(message.embeds[0]["footer"]["text"])
        + sum(len(f["name"]) + len(f["value"]) for f in fields)
    )
    assert total <= 6000
    assert "\\*\\_" in fields[0]["value"]  # markdown in the article is shown, not applied


async def test_a_flood_of_asks_hits_the_cooldown(world: World) -> None:
    for _ in range(5):
        await _ask(world, SPEND)
    refused = await world.emu.run_command(world.emu.member, "ask", {"question": SPEND})
    message = await refused.wait_message()
    assert message.ephemeral
    assert "You're asking too fast" in message.embeds[0]["description"]
    other = await _ask(world, SPEND, user=world.emu.moderator)  # per user, not per server
    assert _fields(other)


async def test_twenty_concurrent_asks_are_all_answered_in_time(world: World) -> None:
    users = [world.emu.add_member(f"user{i}") for i in range(20)]
    interactions = await asyncio.gather(
        *(
            world.emu.run_command(u, "ask", {"question": f"DeepSeek H800 chips {i}"})
            for i, u in enumerate(users)
        )
    )
    messages = await asyncio.gather(*(i.wait_message() for i in interactions))
    assert all(_fields(m) for m in messages)
    assert all(not i.late_callback for i in interactions)


# -- /summary ------------------------------------------------------------------------------


async def test_summary_with_autocomplete(world: World) -> None:
    choices = await world.emu.autocomplete(world.emu.member, "summary", {"article": "china"})
    assert [c["name"] for c in choices] == [
        "China's AI Leap: DeepSeek Challenges US Dominance",
        "China's DeepSeek R1: A Catalyst for Global AI Competition",
    ]
    everything = await world.emu.autocomplete(world.emu.member, "summary", {"article": ""})
    assert len(everything) == 5
    interaction = await world.emu.run_command(
        world.emu.member, "summary", {"article": choices[0]["value"]}
    )
    embed = (await interaction.wait_message()).embeds[0]
    assert embed["title"] == "China's AI Leap: DeepSeek Challenges US Dominance"
    assert "$5.6 million" in embed["description"]


async def test_summary_of_an_unknown_article_is_a_clear_ephemeral_error(world: World) -> None:
    interaction = await world.emu.run_command(
        world.emu.member, "summary", {"article": "bread recipes"}
    )
    message = await interaction.wait_message()
    assert message.ephemeral
    assert message.embeds[0]["description"].startswith("No article title contains")


# -- sources and server isolation ----------------------------------------------------------


async def test_moderator_adds_pasted_text_visible_only_in_that_server(world: World) -> None:
    emu = world.emu
    add = await emu.run_command(
        emu.moderator, "source add", {"text": ROBOTS, "title": "Ferncliff robots"}
    )
    assert await add.wait_callback() == 5  # deferred: the work runs off the event loop
    reply = await add.wait_message()
    assert reply.ephemeral
    embed = reply.embeds[0]
    assert embed["title"] == "Added: Ferncliff robots"
    assert {f["name"]: f["value"] for f in embed["fields"]}["Passages"] == "1"
    assert "4,000 parcels" in embed["description"]

    here = await _ask(world, "Ferncliff robots suction grippers")
    assert _fields(here)[0]["name"] == "[1] Ferncliff robots"
    assert "Searched 6 articles" in here.embeds[0]["footer"]["text"]
    there = await _ask(
        world, "Ferncliff robots suction grippers", user=world.other_member, guild=world.other
    )
    assert "Nothing in the articles" in there.embeds[0]["description"]
    choices = await emu.autocomplete(
        world.other_member, "summary", {"article": "ferncliff"}, guild=world.other
    )
    assert choices == []
    listing = await emu.run_command(world.other_member, "sources", guild=world.other)
    assert "Ferncliff" not in (await listing.wait_message()).embeds[0]["description"]
    own = await emu.run_command(emu.member, "sources")
    assert "Ferncliff robots" in (await own.wait_message()).embeds[0]["description"]


async def test_sources_list_is_paginated(world: World) -> None:
    for n in range(8):
        await world.kb.add_text(
            f"Note {n} about parcel sorting, number {n}, in detail " * 3,
            title=f"Note {n}",
            guild_id=world.emu.guild.id,
        )
    interaction = await world.emu.run_command(world.emu.member, "sources")
    message = await interaction.wait_message()
    assert message.embeds[0]["footer"]["text"] == "13 sources · page 1 of 2"
    click = await world.emu.click(message, "citebot:sources:1", world.emu.member)
    await click.wait_callback()
    assert message.embeds[0]["footer"]["text"] == "13 sources · page 2 of 2"
    assert "Note 7" in message.embeds[0]["description"]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({}, "Give exactly one of url, file or text"),
        ({"text": ROBOTS, "url": "https://example.org/a"}, "Give exactly one of url, file or text"),
        ({"text": "!!! ??? the of and"}, "has no text that can be searched"),
    ],
)
async def test_bad_source_add_is_refused_and_changes_nothing(
    world: World, options: dict[str, str], error: str
) -> None:
    before = table_dump(world.db)
    interaction = await world.emu.run_command(world.emu.moderator, "source add", options)
    message = await interaction.wait_message()
    assert message.ephemeral and error in message.embeds[0]["description"]
    assert table_dump(world.db) == before


async def test_duplicate_source_names_the_existing_one(world: World) -> None:
    first = await world.emu.run_command(world.emu.moderator, "source add", {"text": ROBOTS})
    await first.wait_message()
    again = await world.emu.run_command(world.emu.moderator, "source add", {"text": ROBOTS})
    message = await again.wait_message()
    # Escaped as Markdown ("\\[6\\]"); Discord shows it as typed.
    shown = re.sub(r"\\(.)", r"\1", message.embeds[0]["description"])
    assert "This content is already source [6]" in shown


async def test_moderator_removes_a_source_with_autocomplete(world: World) -> None:
    await world.kb.add_text(ROBOTS, title="Ferncliff robots", guild_id=world.emu.guild.id)
    choices = await world.emu.autocomplete(world.emu.moderator, "source remove", {"source": "fern"})
    assert choices == [{"name": "Ferncliff robots", "value": "6"}]
    bundled = await world.emu.autocomplete(
        world.emu.moderator, "source remove", {"source": "china"}
    )
    assert bundled == []  # bundled articles cannot be removed, so they are not offered
    interaction = await world.emu.run_command(world.emu.moderator, "source remove", {"source": "6"})
    message = await interaction.wait_message()
    assert message.embeds[0]["description"] == "Removed source 6: Ferncliff robots"
    gone = await _ask(world, "Ferncliff robots suction grippers")
    assert "Nothing in the articles" in gone.embeds[0]["description"]


async def test_a_source_added_from_the_command_line_is_found_without_restart(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.cli import main

    note = tmp_path / "ferncliff.txt"
    note.write_text(ROBOTS, encoding="utf-8")
    monkeypatch.setenv("CITEBOT_DB", str(world.db))
    assert await asyncio.to_thread(main, ["sources", "add", str(note)]) == 0
    message = await _ask(world, "Ferncliff robots suction grippers")
    assert _fields(message)[0]["name"].startswith("[1] Warehouse robots at Ferncliff")


# -- moderators only -----------------------------------------------------------------------

MODERATOR_COMMANDS = [
    ("source add", {"text": ROBOTS}),
    ("source remove", {"source": "1"}),
    ("logs recent", {}),
    ("logs top", {}),
    ("logs unanswered", {}),
    ("logs feedback", {}),
    ("logs export", {}),
]


@pytest.mark.parametrize(("command", "options"), MODERATOR_COMMANDS)
async def test_members_cannot_run_moderator_commands(
    world: World, command: str, options: dict[str, str]
) -> None:
    with pytest.raises(AssertionError, match="cannot see"):
        await world.emu.run_command(world.emu.member, command, options)
    # Even where a server admin made the command visible to everyone, the bot refuses.
    before = table_dump(world.db)
    interaction = await world.emu.run_command(
        world.emu.member, command, options, bypass_permissions=True
    )
    message = await interaction.wait_message()
    assert message.ephemeral and message.embeds[0]["description"] == NOT_MODERATOR
    assert table_dump(world.db) == before


async def test_a_moderator_role_from_settings_is_enough(world: World) -> None:
    helpers = world.helpers
    trusted = world.emu.add_member("trusted", roles=["Helpers"])
    refused = await world.emu.run_command(trusted, "logs recent", {}, bypass_permissions=True)
    assert (await refused.wait_message()).embeds[0]["description"] == NOT_MODERATOR
    world.bot.settings = Settings(token=world.emu.token, mod_role_ids=frozenset({helpers.id}))
    allowed = await world.emu.run_command(trusted, "logs recent", {}, bypass_permissions=True)
    assert (await allowed.wait_message()).embeds[0]["title"] == "Recent questions"


# -- /logs ---------------------------------------------------------------------------------


async def test_logs_show_only_this_servers_rows(world: World) -> None:
    await _ask(world, SPEND)
    await _ask(world, SPEND)
    await _ask(world, "How do I bake sourdough bread?")
    await _ask(world, "Stargate Project funding", user=world.other_member, guild=world.other)
    emu = world.emu
    recent = await (await emu.run_command(emu.moderator, "logs recent")).wait_message()
    assert recent.ephemeral
    text = recent.embeds[0]["description"]
    assert "bake sourdough" in text and "Stargate" not in text
    top = await (await emu.run_command(emu.moderator, "logs top")).wait_message()
    assert top.embeds[0]["description"].startswith(f"**2×** {SPEND}")
    unanswered = await (await emu.run_command(emu.moderator, "logs unanswered")).wait_message()
    assert "bake sourdough" in unanswered.embeds[0]["description"]
    assert "DeepSeek" not in unanswered.embeds[0]["description"]
    theirs = await (
        await emu.run_command(world.other_moderator, "logs recent", guild=world.other)
    ).wait_message()
    assert "Stargate" in theirs.embeds[0]["description"]
    assert "sourdough" not in theirs.embeds[0]["description"]


async def test_logs_feedback_and_export(world: World) -> None:
    emu = world.emu
    answer = await _ask(world, SPEND)
    vote = await emu.click(answer, "citebot:vote:1:0", emu.member)
    await vote.wait_message()
    await _ask(world, "Stargate Project funding", user=world.other_member, guild=world.other)
    feedback = await (await emu.run_command(emu.moderator, "logs feedback")).wait_message()
    assert feedback.embeds[0]["description"].startswith(f"👍 0 👎 1 · {SPEND}")
    export = await emu.run_command(emu.moderator, "logs export")
    message = await export.wait_message()
    assert message.ephemeral
    [attachment] = message.attachments
    assert attachment.filename == f"citebot-log-{emu.guild.id}.csv"
    rows = list(csv.DictReader(io.StringIO(attachment.data.decode())))
    assert [r["query"] for r in rows] == [SPEND]
    assert rows[0]["guild_id"] == str(emu.guild.id) and rows[0]["command"] == "ask"


# -- failures ------------------------------------------------------------------------------


async def test_an_unexpected_error_gets_an_apology_and_the_bot_carries_on(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with sqlite3.connect(world.db) as con:  # a real fault: the log table is gone
        con.execute("ALTER TABLE queries RENAME TO queries_moved")
    message = await _ask(world, SPEND)
    assert message.embeds[0]["description"] == UNEXPECTED
    assert any(
        "Traceback" in (r.exc_text or "") or r.exc_info
        for r in caplog.records
        if r.name == "bot.errors"
    )
    with sqlite3.connect(world.db) as con:
        con.execute("ALTER TABLE queries_moved RENAME TO queries")
    summary = await world.emu.run_command(world.emu.member, "summary", {"article": "3"})
    assert (await summary.wait_message()).embeds[0]["title"].startswith("China's AI Leap")


# -- attachments -----------------------------------------------------------------------------


async def test_moderator_adds_an_uploaded_markdown_file(world: World) -> None:
    emu = world.emu
    note = b"# Parcel robots\n\nThe **Ferncliff** robots use suction grippers on every shelf.\n"
    add = await emu.run_command(
        emu.moderator, "source add", {"file": emu.upload("robots.md", note)}
    )
    embed = (await add.wait_message()).embeds[0]
    assert embed["title"] == "Added: Parcel robots"
    assert {f["name"]: f["value"] for f in embed["fields"]}["Source"] == "robots.md"
    message = await _ask(world, "Ferncliff suction grippers")
    assert _fields(message)[0]["name"] == "[1] Parcel robots"
    value = _fields(message)[0]["value"]
    assert re.search(rf"\na file added by <@{emu.moderator.id}> on <t:\d+:D> · paragraph 1$", value)


@pytest.mark.parametrize(
    ("filename", "data", "error"),
    [
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "an image (PNG)"),
        ("report.pdf", b"%PDF-1.4 ...", "report.pdf is not a readable PDF"),
        ("slides.pptx", b"PK\x03\x04" + b"\0" * 64, "slides.pptx is a ZIP archive"),
        ("noise.txt", bytes(range(128, 256)) * 8, "is not text in a known encoding"),
        ("big.txt", b"word " * (1_200_000), "the limit is 5 MB"),
    ],
)
async def test_bad_uploads_are_refused_and_change_nothing(
    world: World, filename: str, data: bytes, error: str
) -> None:
    before = table_dump(world.db)
    add = await world.emu.run_command(
        world.emu.moderator, "source add", {"file": world.emu.upload(filename, data)}
    )
    message = await add.wait_message()
    assert message.ephemeral and error in message.embeds[0]["description"]
    assert table_dump(world.db) == before


# -- `citebot run` as its own process --------------------------------------------------------


async def test_citebot_run_serves_questions_and_stops_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from discord_emulator.launch import REPO_ROOT, launched

    async with running_emulator(monkeypatch) as emu:
        env = {
            "DISCORD_TOKEN": emu.token,
            "DISCORD_GUILD_ID": str(emu.guild.id),
            "CITEBOT_DB": str(tmp_path / "run.db"),
            "PYTHONPATH": str(REPO_ROOT),
        }
        async with launched(emu, "run", env=env, cwd=tmp_path) as process:
            await process.until(emu.wait_for_sync(emu.guild))
            assert {c["name"] for c in emu.guild_commands[emu.guild.id]} >= {"ask", "summary"}
            interaction = await emu.run_command(emu.member, "ask", {"question": SPEND})
            message = await process.until(interaction.wait_message())
            assert "$5.6 million" in _fields(message)[0]["value"]
            assert await process.terminate() == 0
        assert emu.token not in process.stderr
        # It asked for the Message Content intent, which this application lacks: it logged in
        # again without it, and said so.
        assert "the Message Content intent is not enabled" in process.stderr


async def test_citebot_run_with_the_intent_enabled_auto_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from discord_emulator.launch import REPO_ROOT, launched

    async with running_emulator(monkeypatch) as emu:
        emu.message_content_enabled = True
        env = {
            "DISCORD_TOKEN": emu.token,
            "DISCORD_GUILD_ID": str(emu.guild.id),
            "CITEBOT_DB": str(tmp_path / "run.db"),
            "PYTHONPATH": str(REPO_ROOT),
        }
        general = emu.guild.channels[0]
        async with launched(emu, "run", env=env, cwd=tmp_path) as process:
            await process.until(emu.wait_for_sync(emu.guild))
            watch = await emu.run_command(
                emu.moderator, "settings auto-answer", {"channel": general, "enabled": True}
            )
            shown = await process.until(watch.wait_message())
            assert "intent is off" not in shown.embeds[0]["fields"][3]["value"]
            await emu.post(emu.member, general, SPEND)
            await process.until(emu.wait_until(lambda: bool(emu.threads_of(general))))
            assert await process.terminate() == 0
        assert "the Message Content intent is not enabled" not in process.stderr


async def test_citebot_run_with_a_rejected_token_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from discord_emulator.launch import REPO_ROOT, launched

    async with running_emulator(monkeypatch) as emu:
        env = {
            "DISCORD_TOKEN": "not-the-token",
            "CITEBOT_DB": str(tmp_path / "run.db"),
            "PYTHONPATH": str(REPO_ROOT),
            "CITEBOT_LOG_LEVEL": "CRITICAL",
        }
        async with launched(emu, "run", env=env, cwd=tmp_path) as process:
            assert await process.wait() == 1
        assert process.stderr.strip().splitlines() == [
            "citebot: error: Discord rejected DISCORD_TOKEN; copy the bot token again from the "
            "Developer Portal (Bot > Reset Token)"
        ]
        assert [v.rule for v in emu.take_violations()] == ["unauthorized"]


# -- web pages -------------------------------------------------------------------------------


async def test_moderator_adds_a_web_page_and_citations_link_to_it(world: World, site: Site) -> None:
    emu = world.emu
    url = site.url("/news/h20")
    add = await emu.run_command(emu.moderator, "source add", {"url": url})
    assert await add.wait_callback() == 5
    embed = (await add.wait_message()).embeds[0]
    assert embed["title"] == "Added: Nvidia's China chip"
    message = await _ask(world, "H20 memory bandwidth inference")
    value = _fields(message)[0]["value"]
    link = re.search(r"\[[^\]]+ ↗\]\(([^)]+)\) · paragraph \d+$", value)
    assert link and link[1].startswith(f"{url}#:~:text=Nvidia%20designed%20the%20H20")
    refresh = await emu.run_command(emu.moderator, "source refresh", {})
    report = (await refresh.wait_message()).embeds[0]
    assert "**unchanged** Nvidia's China chip" in report["description"]
    assert report["footer"]["text"] == "0 changed, 1 unchanged, 0 skipped, 0 failed"
    site.put(
        "/news/h20",
        article_page(("A new first paragraph about H20 racks. " * 8,), title="Nvidia's China chip"),
    )
    again = await emu.run_command(emu.moderator, "source refresh", {"source": "6"})
    assert "**changed**" in (await again.wait_message()).embeds[0]["description"]


async def test_private_and_malformed_urls_are_refused_before_deferring(world: World) -> None:
    before = table_dump(world.db)
    for url, error in (
        ("http://10.0.0.7/wiki", "10.0.0.7 is a private address"),
        ("ftp://example.org/file", "Only http and https URLs"),
    ):
        add = await world.emu.run_command(world.emu.moderator, "source add", {"url": url})
        assert await add.wait_callback() == 4
        message = await add.wait_message()
        assert message.ephemeral and error in message.embeds[0]["description"]
    assert table_dump(world.db) == before
