"""Privacy through the emulator (issue 12, point 7): a member deletes their own questions and
votes in every server at once, confirmed privately; a server's moderators delete a member's rows
in their server only; a server's retention deletes its old questions and no other server's."""

from __future__ import annotations

import asyncio
import sqlite3

from discord_emulator.model import Member
from retrieval.models import Caller
from tests.test_bot import SPEND, World, _ask
from tests.test_bot import world as world  # the bot-and-emulator fixture


def _rows(world: World) -> list[tuple]:
    with sqlite3.connect(world.db) as con:
        return con.execute("SELECT guild_id, user_id FROM queries ORDER BY id").fetchall()


async def test_forget_me_deletes_a_members_rows_in_both_servers_after_a_private_confirm(
    world: World,
) -> None:
    emu = world.emu
    alice = world.other_member
    emu.guild.members[alice.id] = Member(alice, [])  # in both servers
    await _ask(world, SPEND, user=alice)
    await _ask(world, SPEND, user=alice, guild=world.other)
    theirs = await _ask(world, SPEND)  # emu.member's
    vote = await emu.click(theirs, f"citebot:vote:{_query_id(theirs)}:1", alice)
    await vote.wait_message()
    asked = await emu.run_command(alice, "privacy forget-me", {}, guild=world.other)
    confirm = await asked.wait_message()
    assert confirm.ephemeral and "cannot be undone" in confirm.embeds[0]["description"]
    assert len(_rows(world)) == 3  # nothing deleted before the confirmation
    done = await emu.click(confirm, f"citebot:forget-me:{alice.id}", alice)
    await done.wait_callback()
    await emu.wait_until(lambda: "Deleted" in (confirm.embeds[0].get("description") or ""))
    assert confirm.embeds[0]["description"] == (
        "Deleted your 2 questions and 1 vote in every server."
    )
    assert _rows(world) == [(emu.guild.id, emu.member.id)]
    with sqlite3.connect(world.db) as con:
        assert con.execute("SELECT count(*) FROM feedback").fetchone() == (0,)


def _query_id(message) -> int:
    [vote] = [c for c in message.custom_ids() if c.startswith("citebot:vote:")][:1]
    return int(vote.split(":")[2])


async def test_a_moderator_forgets_a_member_in_their_server_only(world: World) -> None:
    emu = world.emu
    bob = world.other_member
    emu.guild.members[bob.id] = Member(bob, [])  # in both servers
    await _ask(world, SPEND, user=bob)
    await _ask(world, SPEND, user=bob, guild=world.other)
    forgot = await emu.run_command(emu.moderator, "logs forget", {"user": bob})
    shown = await forgot.wait_message()
    assert shown.ephemeral
    assert shown.embeds[0]["description"] == (
        f"Deleted <@{bob.id}>'s 1 question and 0 votes in this server."
    )
    assert _rows(world) == [(world.other.id, bob.id)]


async def test_retention_deletes_only_old_questions_of_servers_that_set_it(world: World) -> None:
    from bot.cogs.retention import purge_by_retention

    emu = world.emu
    await _ask(world, SPEND)
    await _ask(world, SPEND, user=world.other_member, guild=world.other)
    await _ask(world, "Which GPUs did DeepSeek rely on?")

    def age() -> None:  # the first two, asked long ago (off the loop: the bot writes too)
        with sqlite3.connect(world.db) as con:
            con.execute(
                "UPDATE queries SET asked_at = '2020-01-01T00:00:00.000+00:00' WHERE id IN (1, 2)"
            )

    await asyncio.to_thread(age)
    kept = await emu.run_command(emu.moderator, "settings retention", {"days": 30})
    await kept.wait_message()
    assert world.bot.get_cog("Retention").daily.is_running()  # daily, from the start
    assert await purge_by_retention(world.kb) == 1
    assert _rows(world) == [(world.other.id, world.other_member.id), (emu.guild.id, emu.member.id)]
    assert await world.kb.purge_log(30, Caller.member(world.other.id, None)) == 1


async def test_logs_stats_is_a_card_with_a_chart_of_this_server(world: World) -> None:
    import io

    from PIL import Image

    emu = world.emu
    await _ask(world, SPEND)
    await _ask(world, "How do I bake sourdough bread?")
    await _ask(world, SPEND, user=world.other_member, guild=world.other)
    shown = await (await emu.run_command(emu.moderator, "logs stats", {})).wait_message()
    assert shown.ephemeral
    fields = {f["name"]: f["value"] for f in shown.embeds[0]["fields"]}
    assert fields["Questions"] == "2 (+2)" and fields["People asking"] == "1 (+1)"
    assert fields["Answered"] == "50%" and fields["Helpful"] == "- of 0 votes"
    [chart] = shown.attachments
    assert shown.embeds[0]["image"]["url"] == "attachment://questions.png"
    with Image.open(io.BytesIO(chart.data)) as image:
        image.load()
        assert image.format == "PNG" and image.size == (800, 320)


async def test_a_not_helpful_vote_offers_a_reason_kept_with_it(world: World) -> None:
    import csv
    import io

    emu = world.emu
    answer = await _ask(world, SPEND)
    query_id = _query_id(answer)
    vote = await emu.click(answer, f"citebot:vote:{query_id}:0", emu.moderator)
    voted = await vote.wait_message()
    assert voted.ephemeral and voted.content == "Thanks! Recorded as not helpful."
    why = await emu.click(voted, f"citebot:why:{query_id}", emu.moderator)
    assert await why.wait_callback() == 9  # a modal
    assert why.modal is not None and why.modal["title"] == "Why was it not helpful?"
    sent = await emu.submit_modal(why, {"reason": "It =cites   the wrong year"})
    thanks = await sent.wait_message()
    assert thanks.ephemeral and thanks.content == "Thanks: your reason is kept with your vote."
    shown = await (await emu.run_command(emu.moderator, "logs feedback")).wait_message()
    assert "↳ why not: It =cites the wrong year" in shown.embeds[0]["description"]
    rows = await world.kb.query_log("feedback", 10, Caller.member(emu.guild.id, None))
    assert rows[0].reasons == ("It =cites the wrong year",)
    from retrieval.export import log_csv

    [cell] = [r["reasons"] for r in csv.DictReader(io.StringIO(log_csv(rows)))]
    assert cell == "It =cites the wrong year"
    # A vote changed to helpful keeps no reason.
    again = await emu.click(answer, f"citebot:vote:{query_id}:1", emu.moderator)
    await again.wait_message()
    rows = await world.kb.query_log("feedback", 10, Caller.member(emu.guild.id, None))
    assert rows[0].reasons == ()


async def test_the_export_has_votes_reasons_titles_names_and_zoned_times(world: World) -> None:
    import csv
    import io

    emu = world.emu
    answer = await _ask(world, SPEND)
    query_id = _query_id(answer)
    down = await emu.click(answer, f"citebot:vote:{query_id}:0", emu.moderator)
    why = await emu.click(await down.wait_message(), f"citebot:why:{query_id}", emu.moderator)
    await why.wait_callback()
    await (await emu.submit_modal(why, {"reason": "=1+1 old figures"})).wait_message()
    up = await emu.click(answer, f"citebot:vote:{query_id}:1", emu.member)
    await up.wait_message()
    exported = await (await emu.run_command(emu.moderator, "logs export")).wait_message()
    [attachment] = exported.attachments
    [row] = list(csv.DictReader(io.StringIO(attachment.data.decode())))
    assert (row["helpful"], row["not_helpful"]) == ("1", "1")
    assert row["reasons"] == "'=1+1 old figures"  # no live formula
    assert row["top_title"] == "China's AI Leap: DeepSeek Challenges US Dominance"
    assert row["asked_at"].endswith("+00:00")  # ISO 8601 with its zone
    assert row["channel_name"] == "general" and row["user_id"] == str(emu.member.id)
    recent = await (await emu.run_command(emu.moderator, "logs recent")).wait_message()
    assert "<t:" in recent.embeds[0]["description"]  # each reader's own time zone


async def test_logs_gaps_clusters_this_servers_unanswered_questions(world: World) -> None:
    emu = world.emu
    for question in ("How do I bake sourdough bread?", "sourdough bread recipe"):
        await _ask(world, question)
    await _ask(world, "sourdough bread starter", user=world.other_member, guild=world.other)
    shown = await (await emu.run_command(emu.moderator, "logs gaps")).wait_message()
    assert shown.ephemeral
    [field] = shown.embeds[0]["fields"]
    assert field["name"].endswith("(2)") and "sourdough" in field["name"]
    assert field["value"].startswith("2 unanswered, 0 not helpful\n• ")


async def test_the_weekly_digest_goes_out_once_a_week_across_a_restart(world: World) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.client import Citebot
    from bot.cogs.digest import send_due_digests
    from tests.test_bot import _start

    emu = world.emu
    general = emu.guild.channels[0]
    world.bot.get_cog("Digest").hourly.cancel()  # the test says when it is "now"
    await _ask(world, SPEND)
    await _ask(world, "How do I bake sourdough bread?")
    chosen = await emu.run_command(emu.moderator, "settings digest", {"channel": general})
    await chosen.wait_message()

    def digests() -> list:
        return [
            m
            for m in emu.messages_in(general)
            if not m.webhook and m.embeds and m.embeds[0]["title"].startswith("Weekly digest")
        ]

    now = datetime.now(UTC)
    assert await send_due_digests(world.bot, now) == 1
    [first] = digests()
    assert first.embeds[0]["image"]["url"] == "attachment://questions.png"
    assert first.embeds[1]["title"] == "Gaps to close" and first.attachments
    assert await send_due_digests(world.bot, now + timedelta(days=6)) == 0
    # A restart: the time sent is in the database, so nothing goes out again.
    second = Citebot(world.kb, world.bot.settings)
    runner = await _start(second, emu)
    second.get_cog("Digest").hourly.cancel()
    try:
        assert await send_due_digests(second, now + timedelta(hours=1)) == 0
        assert await send_due_digests(second, now + timedelta(days=7)) == 1
    finally:
        await second.close()
        await runner
    assert len(digests()) == 2
    # A moderator sends one now: to the channel, the schedule unchanged.
    sent = await (await emu.run_command(emu.moderator, "logs digest")).wait_message()
    assert sent.content == f"Sent to <#{general.id}>."
    assert len(digests()) == 3


async def test_adding_a_source_from_a_gap_shows_which_questions_it_answers(world: World) -> None:
    emu = world.emu
    asked = (
        "How long does sourdough starter need to ferment?",
        "how long should a sourdough starter ferment",
    )
    for question in asked:
        await _ask(world, question)
    gaps = await (await emu.run_command(emu.moderator, "logs gaps")).wait_message()
    [button] = [c for c in gaps.custom_ids() if c.startswith("citebot:gap-add:")]
    opened = await emu.click(gaps, button, emu.moderator)
    assert await opened.wait_callback() == 9  # the form
    note = (
        "A sourdough starter needs to ferment for five to seven days before its first bake. "
        "Feed the starter flour and water daily while it ferments, and keep it warm."
    )
    sent = await emu.submit_modal(opened, {"text": note})
    shown = await sent.wait_message()
    assert shown.ephemeral and shown.embeds[0]["title"].startswith("Added: ")
    description = shown.embeds[0]["description"]
    assert description.startswith("2 of 2 of the cluster's questions get an answer now.")
    assert "✅ How long does sourdough starter need to ferment?" in description
    # Checking did not log the questions again.
    with sqlite3.connect(world.db) as con:
        assert con.execute("SELECT count(*) FROM queries").fetchone() == (2,)


async def _linked(world: World, query_id: int) -> str | None:
    """The answer's message as the log links it, once the bot has noted it (it does so right
    after Discord confirms the message, which the test may see first)."""
    async with asyncio.timeout(10):
        while True:
            with sqlite3.connect(world.db) as con:
                row = con.execute(
                    "SELECT message_channel_id, message_id FROM queries WHERE id = ?", (query_id,)
                ).fetchone()
            if row[1] is not None:
                return f"https://discord.com/channels/{world.emu.guild.id}/{row[0]}/{row[1]}"
            await asyncio.sleep(0.01)


async def test_each_logged_question_links_to_its_answer_message(world: World) -> None:
    import csv
    import io
    import json

    emu = world.emu
    general = emu.guild.channels[0]
    answer = await _ask(world, SPEND)
    url = await _linked(world, _query_id(answer))
    assert url == f"https://discord.com/channels/{emu.guild.id}/{general.id}/{answer.id}"
    await _ask(world, "How do I bake sourdough bread?")  # answered privately: nothing to link
    recent = await (await emu.run_command(emu.moderator, "logs recent")).wait_message()
    lines = recent.embeds[0]["description"].splitlines()
    assert "sourdough" in lines[0] and "](https://discord.com" not in lines[0]
    assert lines[1].endswith(f"· [message]({url})")
    exported = await (
        await emu.run_command(emu.moderator, "logs export", {"format": "json"})
    ).wait_message()
    [attachment] = exported.attachments
    assert attachment.filename == f"citebot-log-{emu.guild.id}.json"
    rows = json.loads(attachment.data)
    assert [r["message_url"] for r in rows] == [None, url]
    assert rows[1]["hits"][0][0] > 0 and isinstance(rows[1]["reasons"], list)
    as_csv = await (await emu.run_command(emu.moderator, "logs export")).wait_message()
    [sheet] = as_csv.attachments
    assert [r["message_url"] for r in csv.DictReader(io.StringIO(sheet.data.decode()))] == ["", url]


async def test_a_digest_channel_the_bot_may_not_post_in_is_tried_again_next_week(
    world: World,
) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.cogs.digest import send_due_digests
    from discord_emulator.model import SEND_MESSAGES

    emu = world.emu
    world.bot.get_cog("Digest").hourly.cancel()  # the test says when it is "now"
    closed = await emu.add_channel("announcements")
    chosen = await emu.run_command(emu.moderator, "settings digest", {"channel": closed})
    said = (await chosen.wait_message()).embeds[0]["description"]
    assert "quoting members' unanswered questions" in said
    closed.denied_to_bot = SEND_MESSAGES
    now = datetime.now(UTC)
    assert await send_due_digests(world.bot, now) == 0
    assert await world.kb.digest_sent(emu.guild.id) is None  # none went out
    assert await send_due_digests(world.bot, now + timedelta(hours=1)) == 0  # not every hour
    assert [v.rule for v in emu.take_violations()] == ["missing_permissions"]  # tried once
    closed.denied_to_bot = 0  # ... but once the moderators let it, next week
    assert await send_due_digests(world.bot, now + timedelta(days=7)) == 1
    assert [m.embeds[0]["title"] for m in emu.messages_in(closed)] == [
        "Weekly digest: Questions in the last 7 days"
    ]
    # Another channel refusing: choosing a third one gets the digest at the next check.
    another = await emu.add_channel("mods-only")
    another.denied_to_bot = SEND_MESSAGES
    chosen = await emu.run_command(emu.moderator, "settings digest", {"channel": another})
    await chosen.wait_message()
    later = now + timedelta(days=14)
    assert await send_due_digests(world.bot, later) == 0
    emu.take_violations()
    third = await emu.add_channel("digest")
    chosen = await emu.run_command(emu.moderator, "settings digest", {"channel": third})
    await chosen.wait_message()
    assert await send_due_digests(world.bot, later + timedelta(hours=1)) == 1
    assert len(emu.messages_in(third)) == 1
