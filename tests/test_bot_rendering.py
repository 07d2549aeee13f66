"""What a server's members see when someone plants hostile text, through the real bot.

A moderator of one server titles a source like a link or a mass mention; a member asks a
question that is a spreadsheet formula. The real Citebot runs against the Discord emulator
(the `world` fixture of tests/test_bot.py) and the tests read the messages as Discord would
show them: escaped, within limits, with buttons Discord accepts.
"""

from __future__ import annotations

import csv
import io
import re

from bot.views import SourcesPageButton
from retrieval.models import Caller
from tests.test_bot import ROBOTS, World, _ask, _fields
from tests.test_bot import world as world  # the running bot and emulator fixture

PHISH = "[Official notice](http://evil.example/phish)"
PHISH_SHOWN = "\\[Official notice\\](http://evil.example/phish)"
LOUD = "Official notice @everyone <@123> \u202egnp.exe `rm -rf` **now**"
FORMULA = '=HYPERLINK("http://x.example","click") Ferncliff robots'


def live_links(text: str) -> list[str]:
    """Targets of masked links Discord would render: "](" where the "]" is not escaped."""
    return [
        m.group(2)
        for m in re.finditer(r"(\\*)\]\(([^)\s]*)", text)
        if len(m.group(1)) % 2 == 0  # an even run of backslashes escapes only itself
    ]


def everything_shown(message) -> str:
    """All text of a message's embeds, the places a title can surface."""
    parts = [message.content or ""]
    for embed in message.embeds:
        parts += [embed.get("title", ""), embed.get("description", "")]
        parts += [embed.get("footer", {}).get("text", "")]
        for field in embed.get("fields", []):
            parts += [field["name"], field["value"]]
    return "\n".join(parts)


async def test_a_masked_link_title_is_listed_as_text_in_the_ambiguous_error(world: World) -> None:
    emu = world.emu
    add = await emu.run_command(emu.moderator, "source add", {"text": ROBOTS, "title": PHISH})
    added = await add.wait_message()
    assert added.embeds[0]["title"] == f"Added: {PHISH_SHOWN}"
    await world.kb.add_text(
        ROBOTS.replace("Ferncliff", "Fernhill"), title=LOUD, guild_id=emu.guild.id
    )

    # Two titles match: a menu of them, each title as plain text (a select shows no Markdown,
    # and the labels carry no link, mention or direction override).
    summary = await emu.run_command(emu.member, "summary", {"article": "official notice"})
    menu = await summary.wait_message()
    assert menu.ephemeral and menu.content == "2 articles match; which one?"
    [select] = menu.components[0]["components"]
    labels = [o["label"] for o in select["options"]]
    assert "[Official notice] (http://evil.example/phish)" in labels
    assert all("](" not in n and "\u202e" not in n and len(n) <= 100 for n in labels)
    assert live_links(menu.content) == []

    choices = await emu.autocomplete(emu.member, "summary", {"article": "official"})
    names = [c["name"] for c in choices]
    assert names[0] == "[Official notice] (http://evil.example/phish)"
    assert all("](" not in n and "\u202e" not in n and len(n) <= 100 for n in names)

    picked = await emu.run_command(emu.member, "summary", {"article": choices[0]["value"]})
    embed = (await picked.wait_message()).embeds[0]
    assert embed["title"] == PHISH_SHOWN


async def test_answers_and_the_sources_list_show_hostile_titles_escaped(world: World) -> None:
    emu = world.emu
    add = await emu.run_command(emu.moderator, "source add", {"text": ROBOTS, "title": PHISH})
    await add.wait_message()
    await world.kb.add_text(
        ROBOTS.replace("Ferncliff", "Fernhill"), title=LOUD, guild_id=emu.guild.id
    )
    question = f"{PHISH} suction grippers robots"
    answer = await _ask(world, question)
    names = [f["name"] for f in _fields(answer)]
    assert f"[1] {PHISH_SHOWN}" in names or f"[2] {PHISH_SHOWN}" in names
    assert answer.embeds[0]["title"] == f"{PHISH_SHOWN} suction grippers robots"
    shown = everything_shown(answer)
    assert live_links(shown) == []
    assert "@everyone" not in shown and "\u202e" not in shown

    listing = await (await emu.run_command(emu.member, "sources")).wait_message()
    shown = everything_shown(listing)
    assert PHISH_SHOWN in shown and live_links(shown) == [] and "@everyone" not in shown


async def test_a_hostile_sentence_is_the_answer_line_escaped(world: World) -> None:
    emu = world.emu
    planted = (
        "Ferncliff note.\n\nThe Ferncliff robots were approved by @everyone and "
        "[ops](http://evil.example/ops) on March 3, 2021 \u202eafter a **vote**."
    )
    add = await emu.run_command(emu.moderator, "source add", {"text": planted, "title": PHISH})
    await add.wait_message()
    answer = await _ask(world, "when were the ferncliff robots approved")
    description = answer.embeds[0]["description"]
    assert description.splitlines() == [
        "The Ferncliff robots were approved by @\u200beveryone and "
        "\\[ops\\](http://evil.example/ops) on **March 3, 2021** after a \\*\\*vote\\*\\*.",
        f"from [1] {PHISH_SHOWN}",
    ]
    assert live_links(description) == [] and "\u202e" not in description
    assert emu.take_violations() == []


async def test_a_formula_question_is_inert_in_the_log_export(world: World) -> None:
    emu = world.emu
    await _ask(world, FORMULA)
    export = await emu.run_command(emu.moderator, "logs export")
    [attachment] = (await export.wait_message()).attachments
    rows = list(csv.DictReader(io.StringIO(attachment.data.decode(), newline="")))
    assert [r["query"] for r in rows] == [f"'{FORMULA}"]


def _button(message, label: str) -> dict:
    """The button a person sees with `label` ("Previous" or "Next")."""
    [button] = [b for row in message.components for b in row["components"] if label in b["label"]]
    return button


async def test_sources_buttons_stay_valid_after_the_list_shrinks(world: World) -> None:
    emu = world.emu
    added = [
        await world.kb.add_text(
            f"Note {n} about parcel sorting, number {n}, in detail " * 3,
            title=f"Note {n}",
            guild_id=emu.guild.id,
        )
        for n in range(16)
    ]
    message = await (await emu.run_command(emu.member, "sources", {"page": 2})).wait_message()
    assert message.embeds[0]["footer"]["text"] == "21 sources · page 2 of 3"

    # Two sources go: page 3 no longer exists when someone clicks Next on the old message.
    for result in added[:2]:
        await world.kb.remove_source(result.source.doc_id, Caller.member(emu.guild.id, 42))
    click = await emu.click(message, _button(message, "Next")["custom_id"], emu.member)
    await click.wait_callback()
    assert emu.take_violations() == []  # Discord refuses a message with two equal custom ids
    assert message.embeds[0]["footer"]["text"] == "19 sources · page 2 of 2"
    ids = message.custom_ids()
    assert len(ids) == len(set(ids)) == 2
    assert _button(message, "Next")["disabled"] and not _button(message, "Previous")["disabled"]

    back = await emu.click(message, _button(message, "Previous")["custom_id"], emu.member)
    await back.wait_callback()
    assert message.embeds[0]["footer"]["text"] == "19 sources · page 1 of 2"
    assert _button(message, "Previous")["disabled"] and not _button(message, "Next")["disabled"]
    assert emu.take_violations() == []


def test_sources_button_ids_old_and_new_both_parse() -> None:
    # Buttons on messages sent before ":prev" existed must still turn the page.
    template = SourcesPageButton(0, label="Next ▶").template
    assert template.fullmatch("citebot:sources:3")["page"] == "3"
    assert template.fullmatch("citebot:sources:0:prev")["page"] == "0"
    assert template.fullmatch("citebot:sources:0:next") is None
