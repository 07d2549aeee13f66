"""Auto-answers, end to end (issue 11, point 5): the bot with the Message Content intent answers
new posts in the channels and forums a server chose, in a thread, once; stays silent where
nothing answers (tagging a forum post instead) and where a moderator has written; caps each
member's auto-answers a day. Without the intent it hears no messages at all."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.client import Citebot
from bot.cogs.auto_answer import DAILY_CAP
from bot.settings import Settings
from discord_emulator import DiscordEmulator, running_emulator
from discord_emulator.model import Channel
from retrieval.knowledge import KnowledgeBase
from retrieval.models import Caller
from tests.test_bot import SPEND, _start

UNANSWERABLE = "How do I bake sourdough bread?"


@dataclass
class Room:
    emu: DiscordEmulator
    bot: Citebot
    db: Path
    general: Channel


@pytest.fixture(params=[True], ids=["intent"])
async def room(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Room]:
    db = tmp_path / "bot.db"
    async with running_emulator(monkeypatch) as emu:
        emu.message_content_enabled = True
        async with await KnowledgeBase.open(db) as kb:
            settings = Settings(token=emu.token, db_path=str(db), message_content=request.param)
            bot = Citebot(kb, settings)
            runner = await _start(bot, emu)
            try:
                yield Room(emu, bot, db, emu.guild.channels[0])
            finally:
                await bot.close()
                await runner


async def _watch(room: Room, channel: Channel) -> None:
    done = await room.emu.run_command(
        room.emu.moderator, "settings auto-answer", {"channel": channel, "enabled": True}
    )
    await done.wait_message()


def _bot_messages(room: Room, channel: Channel) -> list:
    """What the bot posted in a channel or thread itself (not its replies to commands)."""
    return [
        m
        for m in room.emu.messages_in(channel)
        if m.author.id == room.emu.bot_user.id and not m.webhook
    ]


async def _settled(room: Room) -> None:
    """Every event sent so far handled by the bot: a /help round trip comes back after them
    (the gateway delivers in order, and the bot answers messages before that command)."""
    help_ = await room.emu.run_command(room.emu.member, "help")
    await help_.wait_message()
    cog = room.bot.get_cog("AutoAnswer")  # (the extension's own class: loaded from its file)
    assert cog is not None
    async with asyncio.timeout(30):
        await cog.idle()


async def test_a_new_message_in_a_watched_channel_is_answered_in_a_thread(room: Room) -> None:
    emu = room.emu
    await _watch(room, room.general)
    posted = await emu.post(emu.member, room.general, SPEND)
    await emu.wait_until(lambda: bool(emu.threads_of(room.general)), what="a thread")
    [thread] = emu.threads_of(room.general)
    assert thread.id == posted.id and thread.name == SPEND
    await emu.wait_until(lambda: bool(_bot_messages(room, thread)), what="the answer")
    [answer] = _bot_messages(room, thread)
    assert "$5.6 million" in answer.embeds[0]["description"]
    assert "citebot:followup" not in answer.custom_ids()  # no thread in a thread
    # A replay of the same message (a gateway resume) is not answered twice.
    await emu.replay(posted)
    await _settled(room)
    assert len(emu.threads_of(room.general)) == 1 and len(_bot_messages(room, thread)) == 1
    with sqlite3.connect(room.db) as con:
        assert con.execute("SELECT command FROM queries").fetchall() == [("auto-answer",)]


async def test_nothing_is_posted_where_nothing_answers_or_nobody_asked_for_it(room: Room) -> None:
    emu = room.emu
    elsewhere = await emu.add_channel("random")
    await _watch(room, room.general)
    await emu.post(emu.member, room.general, UNANSWERABLE)
    await emu.post(emu.member, elsewhere, SPEND)
    await _settled(room)
    assert not emu.threads_of(room.general) and not emu.threads_of(elsewhere)
    assert not _bot_messages(room, room.general) and not _bot_messages(room, elsewhere)


async def test_a_forum_post_is_answered_in_it_or_tagged(room: Room) -> None:
    emu = room.emu
    forum = await emu.add_channel("help", forum=True, tags=["Unanswered", "Solved"])
    await _watch(room, forum)
    post, _ = await emu.start_forum_post(emu.member, forum, "DeepSeek's budget", SPEND)
    await emu.wait_until(lambda: bool(_bot_messages(room, post)), what="the answer")
    assert "$5.6 million" in _bot_messages(room, post)[0].embeds[0]["description"]
    lost, _ = await emu.start_forum_post(emu.member, forum, "Bread", UNANSWERABLE)
    await emu.wait_until(lambda: lost.applied_tags == [forum.tag("Unanswered")], what="tag")
    assert not _bot_messages(room, lost)


async def test_follow_ups_in_the_thread_until_a_moderator_writes(room: Room) -> None:
    emu = room.emu
    await _watch(room, room.general)
    await emu.post(emu.member, room.general, "How much did DeepSeek spend on its model?")
    await emu.wait_until(lambda: bool(emu.threads_of(room.general)), what="a thread")
    [thread] = emu.threads_of(room.general)
    await emu.wait_until(lambda: len(_bot_messages(room, thread)) == 1, what="the answer")
    follow = await emu.post(emu.member, thread, "which chips did it use?")
    await emu.wait_until(lambda: len(_bot_messages(room, thread)) == 2, what="a follow-up")
    reply = _bot_messages(room, thread)[1]
    assert reply.message_reference["message_id"] == str(follow.id)
    assert reply.embeds[0]["description"].startswith("↪ Following up on *How much did")
    await emu.post(emu.moderator, thread, "I'll take it from here.")
    await emu.post(emu.member, thread, "and what did it cost to train?")
    await _settled(room)
    assert len(_bot_messages(room, thread)) == 2  # silent once a moderator wrote


async def test_a_member_gets_at_most_the_daily_cap(room: Room) -> None:
    emu = room.emu
    await _watch(room, room.general)
    for _ in range(DAILY_CAP + 1):
        await emu.post(emu.member, room.general, SPEND)
    await _settled(room)
    assert len(emu.threads_of(room.general)) == DAILY_CAP
    other = emu.add_member("jo")
    await emu.post(other, room.general, SPEND)
    await emu.wait_until(lambda: len(emu.threads_of(room.general)) == DAILY_CAP + 1)


@pytest.mark.parametrize("room", [False], ids=["no intent"], indirect=True)
async def test_without_the_intent_the_bot_hears_no_messages(room: Room) -> None:
    emu = room.emu
    await _watch(room, room.general)
    await emu.post(emu.member, room.general, SPEND)
    await _settled(room)
    assert not emu.threads_of(room.general)
    shown = await (await emu.run_command(emu.moderator, "settings show")).wait_message()
    auto = next(f["value"] for f in shown.embeds[0]["fields"] if f["name"] == "Auto-answer in")
    assert "Message Content intent is off" in auto


async def test_in_a_forum_post_members_talk_among_themselves(room: Room) -> None:
    emu = room.emu
    forum = await emu.add_channel("help", forum=True, tags=["Unanswered"])
    await _watch(room, forum)
    # A moderator's own post is a question like any other.
    post, _ = await emu.start_forum_post(emu.moderator, forum, "DeepSeek's budget", SPEND)
    await emu.wait_until(lambda: len(_bot_messages(room, post)) == 1, what="the answer")
    await emu.post(emu.member, post, "which chips did DeepSeek use?")
    await _settled(room)
    assert len(_bot_messages(room, post)) == 1  # later messages in a post are not follow-ups


async def test_a_closed_gap_is_announced_under_the_members_own_message(room: Room) -> None:
    """Issue 12, point 3: a question auto-answering found nothing for is a gap; once a source
    added from /logs gaps answers it, "Tell the askers" replies under the member's message."""
    emu = room.emu
    await _watch(room, room.general)
    asked = await emu.post(emu.member, room.general, "How long must sourdough starter ferment?")
    bystander = await emu.post(emu.add_member("ivy"), room.general, "Lovely weather today")
    await _settled(room)
    assert not _bot_messages(room, room.general)
    logged = await room.bot.kb.query_log("recent", 10, Caller.member(emu.guild.id, None))
    linked = {row.query: row.message_url for row in logged}
    assert linked["How long must sourdough starter ferment?"] == (
        f"https://discord.com/channels/{emu.guild.id}/{room.general.id}/{asked.id}"
    )
    gaps = await (await emu.run_command(emu.moderator, "logs gaps")).wait_message()
    fields = gaps.embeds[0]["fields"]
    n = fields.index(next(f for f in fields if "ferment" in f["name"])) + 1
    [add] = [c for c in gaps.custom_ids() if c.startswith("citebot:gap-add:") and c[-2:] == f":{n}"]
    form = await emu.click(gaps, add, emu.moderator)
    assert await form.wait_callback() == 9
    note = (
        "A sourdough starter must ferment for five to seven days before its first bake. Feed "
        "the starter flour and water daily while it ferments."
    )
    closed = await (await emu.submit_modal(form, {"text": note})).wait_message()
    [tell] = [c for c in closed.custom_ids() if c.startswith("citebot:gap-tell:")]
    told = await emu.click(closed, tell, emu.moderator)
    [result] = await told.wait_followups()
    assert result.embeds[0]["description"].startswith("Told 1 asker under their answers.")
    [reply] = [m for m in _bot_messages(room, room.general) if m.message_reference]
    assert reply.message_reference["message_id"] == str(asked.id)
    assert reply.content.startswith(f"<@{emu.member.id}> a source added since answers")
    assert "five to seven days" in reply.content
    assert not [
        m
        for m in _bot_messages(room, room.general)
        if m.message_reference and m.message_reference["message_id"] == str(bystander.id)
    ]
    assert closed.custom_ids() == []  # the button is gone: nobody is told twice
