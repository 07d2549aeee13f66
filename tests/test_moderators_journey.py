"""Issue 12's acceptance as one moderator's weeks, through the emulator and the real bot: a
server's questions over several days (some unanswered, some voted down with reasons); the stats
card counts them and its chart decodes; `top` groups the wordings; a gap closed with Add a source
answers a question that had none; the digest goes out once a week across a restart; the export
carries votes, reasons, titles, links and zoned times with no live formula; forget-me removes one
member's rows in both servers and nothing else; retention deletes only old rows.

The days are made by moving rows' times back in the database (the bot's clock is not ours to
set); everything else goes through Discord as a member and a moderator would use it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
from datetime import UTC, datetime, timedelta

from PIL import Image

from discord_emulator.model import Member
from tests.test_bot import SPEND, World, _ask
from tests.test_bot import world as world  # the bot-and-emulator fixture

BREAD = "How long must a sourdough starter ferment?"
STARTER = (
    "A sourdough starter must ferment for five to seven days before its first bake. Feed the "
    "starter flour and water daily while it ferments, and keep it somewhere warm."
)


def _vote_id(message) -> int:
    [vote] = [c for c in message.custom_ids() if c.startswith("citebot:vote:")][:1]
    return int(vote.split(":")[2])


async def _sql(world: World, statement: str, *args: object) -> list[tuple]:
    """A statement on the bot's database, off the loop (the bot writes to it meanwhile)."""

    def run() -> list[tuple]:
        with sqlite3.connect(world.db, timeout=30) as con:
            return con.execute(statement, args).fetchall()

    return await asyncio.to_thread(run)


async def _days_ago(world: World, query_id: int, days: float) -> None:
    moment = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="milliseconds")
    await _sql(world, "UPDATE queries SET asked_at = ? WHERE id = ?", moment, query_id)


async def test_a_moderators_weeks(world: World) -> None:
    from bot.client import Citebot
    from bot.cogs.digest import send_due_digests
    from bot.cogs.retention import purge_by_retention
    from tests.test_bot import _start

    emu = world.emu
    world.bot.get_cog("Digest").hourly.cancel()  # the test says when it is "now"
    general = emu.guild.channels[0]
    ann = emu.add_member("ann")
    alice = world.other_member  # a member of both servers
    emu.guild.members[alice.id] = Member(alice, [])

    # -- a week of questions, and one from before it ------------------------------------
    spend = await _ask(world, SPEND)  # answered; voted down with a hostile reason
    down = await emu.click(spend, f"citebot:vote:{_vote_id(spend)}:0", ann)
    why = await emu.click(await down.wait_message(), f"citebot:why:{_vote_id(spend)}", ann)
    await why.wait_callback()
    await (await emu.submit_modal(why, {"reason": "=HYPERLINK(1) wrong figure"})).wait_message()
    up = await emu.click(spend, f"citebot:vote:{_vote_id(spend)}:1", alice)
    await up.wait_message()
    await _days_ago(world, _vote_id(spend), 1)
    asked = [
        ("What is DeepSeek?", emu.member, 2),
        ("what's deepseek", ann, 3),
        ("What is  DeepSeek ?", alice, 5),
        (BREAD, ann, 2),  # unanswered (privately: no message)
        ("how long should sourdough starter ferment", emu.member, 3),  # unanswered
        ("Which GPUs did DeepSeek rely on?", ann, 10),  # the week before
        ("Who founded DeepSeek?", ann, 40),  # old: retention's
    ]
    for question, who, days in asked:
        await _ask(world, question, user=who)
        [(query_id,)] = await _sql(world, "SELECT max(id) FROM queries")
        await _days_ago(world, query_id, days)
    await _ask(world, SPEND, user=alice, guild=world.other)  # the other server's

    # -- stats: this server's last 7 days against the 7 before --------------------------
    stats = await (await emu.run_command(emu.moderator, "logs stats", {})).wait_message()
    fields = {f["name"]: f["value"] for f in stats.embeds[0]["fields"]}
    assert fields["Questions"] == "6 (+5)"  # SPEND, 3 DeepSeek wordings, 2 bread; 1 before
    assert fields["People asking"] == "3 (+2)"  # member, ann, alice
    assert fields["Answered"].startswith("67%")  # 4 of 6
    assert fields["Helpful"].startswith("50% of 2 votes")
    [chart] = stats.attachments
    with Image.open(io.BytesIO(chart.data)) as image:
        image.load()
        assert image.format == "PNG" and image.width > 0

    # -- top: the wordings of one question are one row ---------------------------------
    top = await (await emu.run_command(emu.moderator, "logs top")).wait_message()
    first = top.embeds[0]["description"].splitlines()[0]
    assert first.startswith("**3×** ") and "DeepSeek" in first

    # -- gaps: the bread questions; a source added for them answers them ----------------
    gaps = await (await emu.run_command(emu.moderator, "logs gaps")).wait_message()
    bread = next(f for f in gaps.embeds[0]["fields"] if "ferment" in f["name"])
    n = gaps.embeds[0]["fields"].index(bread) + 1
    [add] = [c for c in gaps.custom_ids() if c.startswith("citebot:gap-add:") and c[-2:] == f":{n}"]
    form = await emu.click(gaps, add, emu.moderator)
    assert await form.wait_callback() == 9
    closed = await (await emu.submit_modal(form, {"text": STARTER})).wait_message()
    assert closed.embeds[0]["description"].startswith("2 of 2 of the cluster's questions")
    again = await _ask(world, BREAD, user=emu.add_member("ben"))  # (ann is at her cooldown)
    assert not again.ephemeral and "five to seven days" in again.embeds[0]["description"]

    # -- the digest: once a week, across a restart --------------------------------------
    chosen = await emu.run_command(emu.moderator, "settings digest", {"channel": general})
    await chosen.wait_message()
    now = datetime.now(UTC)
    assert await send_due_digests(world.bot, now) == 1
    restarted = Citebot(world.kb, world.bot.settings)
    runner = await _start(restarted, emu)
    restarted.get_cog("Digest").hourly.cancel()
    try:
        assert await send_due_digests(restarted, now + timedelta(days=6, hours=23)) == 0
        assert await send_due_digests(restarted, now + timedelta(days=7)) == 1
    finally:
        await restarted.close()
        await runner
    digests = [
        m
        for m in emu.messages_in(general)
        if not m.webhook and m.embeds and m.embeds[0]["title"].startswith("Weekly digest")
    ]
    assert len(digests) == 2

    # -- the export: votes, reasons, titles, links, zoned times, no live formula --------
    exported = await (await emu.run_command(emu.moderator, "logs export")).wait_message()
    [sheet] = exported.attachments
    rows = {int(r["id"]): r for r in csv.DictReader(io.StringIO(sheet.data.decode()))}
    voted = rows[_vote_id(spend)]
    assert (voted["helpful"], voted["not_helpful"]) == ("1", "1")
    assert voted["reasons"] == "'=HYPERLINK(1) wrong figure"
    assert voted["top_title"] == "China's AI Leap: DeepSeek Challenges US Dominance"
    assert voted["message_url"].endswith(f"/{general.id}/{spend.id}")
    assert all(r["asked_at"].endswith("+00:00") for r in rows.values())
    cells = [value for row in rows.values() for value in row.values()]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@"))]
    assert len(rows) == 9  # this server's only: 1 + 7 + the question asked again

    # -- forget-me: alice's rows in both servers, and nothing else ----------------------
    before = await _sql(world, "SELECT id, guild_id, user_id FROM queries ORDER BY id")
    asked_me = await emu.run_command(alice, "privacy forget-me", {})
    confirm = await asked_me.wait_message()
    done = await emu.click(confirm, f"citebot:forget-me:{alice.id}", alice)
    await done.wait_callback()
    await emu.wait_until(lambda: "Deleted" in (confirm.embeds[0].get("description") or ""))
    after = await _sql(world, "SELECT id, guild_id, user_id FROM queries ORDER BY id")
    assert after == [r for r in before if r[2] != alice.id]
    assert {r[1] for r in before if r[2] == alice.id} == {emu.guild.id, world.other.id}
    assert await _sql(world, "SELECT count(*) FROM feedback WHERE user_id = ?", alice.id) == [(0,)]
    assert await _sql(world, "SELECT count(*) FROM feedback") == [(1,)]  # ann's vote stays

    # -- retention: only rows older than the server's 30 days --------------------------
    kept = await emu.run_command(emu.moderator, "settings retention", {"days": 30})
    await kept.wait_message()
    assert await purge_by_retention(world.kb) == 1
    remaining = await _sql(world, "SELECT query FROM queries WHERE guild_id = ?", emu.guild.id)
    assert "Who founded DeepSeek?" not in {q for (q,) in remaining}
    assert len(remaining) == len([r for r in after if r[1] == emu.guild.id]) - 1
