"""The asker in control of a public answer (issue 11): only the asker or a moderator pages it
in place or deletes it; anyone else who pages gets that page privately, and the answer stays
as the asker left it."""

from __future__ import annotations

import re
import sqlite3

from discord_emulator.model import Message
from tests.test_bot import SPEND, World, _ask, _fields
from tests.test_bot import world as world  # the bot-and-emulator fixture

QUESTION = "open-source AI models from China"


def _button(message: Message, pattern: str) -> str:
    [custom_id] = [c for c in message.custom_ids() if re.fullmatch(pattern, c)]
    return custom_id


def _next(message: Message) -> str:
    return _button(message, r"citebot:page:\d+:1:2:\d+")


async def test_someone_else_paging_gets_the_page_privately(world: World) -> None:
    emu = world.emu
    answer = await _ask(world, QUESTION, count=2)
    before = [f["name"] for f in _fields(answer)]
    bystander = emu.add_member("dave")
    click = await emu.click(answer, _next(answer), bystander)
    private = await click.wait_message()
    assert private.ephemeral and private is not answer
    assert [f["name"][:3] for f in _fields(private)] == ["[3]", "[4]"]
    assert [f["name"] for f in _fields(answer)] == before  # the asker's answer is unchanged
    # Their copy is theirs to page in place, and has no Delete (they can dismiss it).
    assert not [c for c in private.custom_ids() if c.startswith("citebot:delete:")]
    back = _button(private, rf"citebot:page:\d+:0:2:{bystander.id}")
    again = await emu.click(private, back, bystander)
    await again.wait_callback()
    await emu.wait_until(lambda: _fields(private)[0]["name"].startswith("[1]"))
    assert [f["name"] for f in _fields(answer)] == before


async def test_the_asker_and_a_moderator_page_in_place(world: World) -> None:
    emu = world.emu
    answer = await _ask(world, QUESTION, count=2)
    click = await emu.click(answer, _next(answer), emu.member)
    await click.wait_callback()
    await emu.wait_until(lambda: _fields(answer)[0]["name"].startswith("[3]"))
    back = _button(answer, rf"citebot:page:\d+:0:2:{emu.member.id}")
    by_moderator = await emu.click(answer, back, emu.moderator)
    await by_moderator.wait_callback()
    await emu.wait_until(lambda: _fields(answer)[0]["name"].startswith("[1]"))


async def test_only_the_asker_or_a_moderator_deletes_an_answer(world: World) -> None:
    emu = world.emu
    answer = await _ask(world, SPEND)
    delete = _button(answer, rf"citebot:delete:{emu.member.id}")
    refused = await emu.click(answer, delete, emu.add_member("eve"))
    message = await refused.wait_message()
    assert message.ephemeral
    assert message.embeds[0]["description"].startswith("Only the person who asked")
    assert not answer.deleted
    done = await emu.click(answer, delete, emu.member)
    await done.wait_callback()
    await emu.wait_until(lambda: answer.deleted, what="the answer deleted")
    other = await _ask(world, SPEND, user=emu.add_member("frank"))
    by_moderator = await emu.click(other, _button(other, r"citebot:delete:\d+"), emu.moderator)
    await by_moderator.wait_callback()
    await emu.wait_until(lambda: other.deleted, what="deleted by a moderator")


async def test_a_private_answer_has_no_delete_button(world: World) -> None:
    interaction = await world.emu.run_command(
        world.emu.member, "ask", {"question": SPEND, "private": True}
    )
    private = await interaction.wait_message()
    assert private.ephemeral
    assert not [c for c in private.custom_ids() if c.startswith("citebot:delete:")]
    assert [c for c in private.custom_ids() if c.startswith("citebot:vote:")]


PARAGRAPHS = [
    "The Harwick ferry company bought two electric ferries in the spring. Each vessel carries "
    "three hundred passengers and forty cars, and the crossing takes twenty minutes in calm "
    "weather, about the same as the diesel boats they replace on the northern route. The "
    "order was placed after a two-year trial in which a smaller battery boat ran the short "
    "harbour shuttle, and the company says that trial convinced its board that the longer "
    "northern crossing could be served on batteries alone, with no diesel generator kept "
    "aboard as a reserve for winter storms or for the longest days of the summer season.",
    "Charging happens at the Harwick pier during the ten-minute turnaround. The pier's new "
    "substation delivers four megawatts, enough to top up the batteries between crossings "
    "without slowing the timetable the islanders rely on every morning and evening. The "
    "substation was built by the regional grid operator, which also laid a new cable under "
    "the estuary, and the pier's charging arm connects automatically once a ferry is moored, "
    "so the crew does not handle any cables; a second arm stands ready in case the first "
    "one fails, and engineers can switch between them from the control room on the quay.",
    "The council expects fuel savings of a million pounds a year. Maintenance crews were "
    "trained over the winter, and the old diesel ferries will be sold to an operator on the "
    "southern coast once both electric vessels have run a full season without trouble.",
]


async def test_show_in_context_gives_the_passage_between_its_neighbours_privately(
    world: World,
) -> None:
    emu = world.emu
    added = await emu.run_command(
        emu.moderator,
        "source add",
        {"text": "\n\n".join(PARAGRAPHS), "title": "Harwick electric ferries"},
    )
    await added.wait_message()
    answer = await _ask(world, "How is the Harwick ferry charged at the pier substation?")
    assert _fields(answer)[0]["value"].endswith(" · paragraph 2")
    labels = [c.get("label") for row in answer.components for c in row["components"]]
    assert "Show in context [1]" in labels and "Follow up" in labels and "Delete" in labels
    [first] = [c for c in answer.custom_ids() if c.startswith("citebot:context:")][:1]
    shown = await (await emu.click(answer, first, emu.add_member("gina"))).wait_message()
    assert shown.ephemeral
    embed = shown.embeds[0]
    assert embed["title"] == "Harwick electric ferries"
    before, passage, after = embed["description"].split("\n\n")
    assert before.startswith("The Harwick ferry company bought two electric ferries")
    assert passage.startswith("**Charging happens at the Harwick pier") and passage.endswith("**")
    assert after.startswith("The council expects fuel savings")
    source = embed["fields"][0]["value"]
    assert source.startswith(f"pasted text added by <@{emu.moderator.id}> on <t:")
    assert source.endswith(" · paragraph 2")


async def test_find_sources_replies_to_another_members_message(world: World) -> None:
    emu = world.emu
    general = emu.guild.channels[0]
    posted = await emu.post(emu.member, general, SPEND)
    asked = await emu.run_message_command(emu.add_member("hana"), "Find sources", posted)
    await emu.wait_until(
        lambda: any(m.message_reference for m in emu.messages_in(general)), what="the reply"
    )
    [reply] = [m for m in emu.messages_in(general) if m.message_reference]
    assert reply.message_reference["message_id"] == str(posted.id)
    assert not reply.ephemeral and reply.author.id == emu.bot_user.id
    assert "$5.6 million" in reply.embeds[0]["description"]
    await emu.wait_until(
        lambda: asked.original is not None and asked.original.deleted,
        what="the thinking message removed",
    )
    with sqlite3.connect(world.db) as con:
        logged = con.execute("SELECT command, query FROM queries").fetchall()
    assert logged == [("find-sources", SPEND)]


async def test_find_sources_is_private_where_the_server_prefers_and_when_nothing_answers(
    world: World,
) -> None:
    emu = world.emu
    general = emu.guild.channels[0]
    unanswerable = await emu.post(emu.member, general, "How do I bake sourdough bread?")
    asked = await emu.run_message_command(emu.member, "Find sources", unanswerable)
    shown = await asked.wait_message()
    assert shown.ephemeral and "Try other words" in shown.embeds[0]["description"]
    changed = await emu.run_command(emu.moderator, "settings answers", {"visibility": "private"})
    await changed.wait_message()
    posted = await emu.post(emu.member, general, SPEND)
    private = await (
        await emu.run_message_command(emu.member, "Find sources", posted)
    ).wait_message()
    assert private.ephemeral and "$5.6 million" in private.embeds[0]["description"]
    assert not [m for m in emu.messages_in(general) if m.message_reference]
    empty = await emu.post(emu.member, general, "   ")
    refused = await (
        await emu.run_message_command(emu.member, "Find sources", empty)
    ).wait_message()
    assert refused.ephemeral and "no text to search" in refused.embeds[0]["description"]


async def test_follow_up_opens_a_thread_where_ask_reads_the_earlier_question(world: World) -> None:
    emu = world.emu
    pier = (
        "Charging happens at the Harwick pier during the ten-minute turnaround. The regional "
        "grid operator built the pier substation, which delivers four megawatts."
    )
    mill = (
        "The old Dunmore mill was built by the Callan family in 1820. Its wheel still turns on "
        "open days, when the grid operator of the estate demonstrates it."
    )
    for title, text in (("Pier charging", pier), ("Dunmore mill", mill)):
        added = await emu.run_command(emu.moderator, "source add", {"text": text, "title": title})
        await added.wait_message()
    answer = await _ask(world, "How is the Harwick pier charged?")
    click = await emu.click(answer, "citebot:followup", emu.add_member("ivan"))
    pointer = await click.wait_message()
    general = emu.guild.channels[0]
    [thread] = emu.threads_of(general)
    assert thread.id == answer.id and thread.name == "How is the Harwick pier charged?"
    assert pointer.ephemeral and f"<#{thread.id}>" in pointer.content
    assert emu.messages_in(thread)[0].content.startswith("Ask follow-ups here with `/ask`")
    # In the thread, "it" is the pier: the earlier question's words count.
    asked = await emu.run_command(emu.member, "ask", {"question": "who built it?"}, channel=thread)
    followed = await asked.wait_message()
    assert followed.channel_id == thread.id
    description = followed.embeds[0]["description"]
    assert description.startswith("↪ Following up on *How is the Harwick pier charged?*")
    assert _fields(followed)[0]["name"] == "[1] Pier charging"
    assert "citebot:followup" not in followed.custom_ids()
    # A second press points to the thread that exists.
    again = await emu.click(answer, "citebot:followup", emu.member)
    assert f"<#{thread.id}>" in (await again.wait_message()).content
    assert len(emu.threads_of(general)) == 1


async def test_find_sources_where_the_bot_cannot_post_answers_privately(world: World) -> None:
    from discord_emulator.model import SEND_MESSAGES

    emu = world.emu
    closed = await emu.add_channel("announcements")
    closed.denied_to_bot = SEND_MESSAGES
    posted = await emu.post(emu.member, closed, SPEND)
    asked = await emu.run_message_command(emu.member, "Find sources", posted)
    await asked.wait_followups()
    shown = asked.messages[-1]
    assert shown.ephemeral and "$5.6 million" in shown.embeds[0]["description"]
    assert [v.rule for v in emu.take_violations()] == ["missing_permissions"]


async def test_a_follow_up_thread_is_named_after_the_question_as_asked(world: World) -> None:
    emu = world.emu
    question = "How much money did DeepSeek spend developing its model? (cost_total)"
    answer = await _ask(world, question)
    await (await emu.click(answer, "citebot:followup", emu.member)).wait_message()
    [thread] = emu.threads_of(emu.guild.channels[0])
    assert thread.name == question  # not the embed title's escaped form
