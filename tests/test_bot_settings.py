"""/settings and what it changes, end to end: the real bot against the emulator, in two servers.

Each server's moderators choose for their own server only: the roles that moderate, private or
public answers, the cooldown, auto-answer channels, the digest channel and log retention. The
choices are stored in the database and outlive the bot.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.errors import NOT_MODERATOR
from discord_emulator.model import Member, Message
from retrieval.errors import InvalidSetting
from retrieval.knowledge import KnowledgeBase
from retrieval.server_settings import ServerSettings
from tests.conftest import table_dump
from tests.test_bot import SPEND, World, _ask
from tests.test_bot import world as world  # the bot-and-emulator fixture


def _field(message: Message, name: str) -> str:
    return next(f["value"] for f in message.embeds[0]["fields"] if f["name"] == name)


async def _settings(world: World, command: str, options: dict | None = None, **kw) -> Message:
    interaction = await world.emu.run_command(
        kw.pop("user", world.emu.moderator), f"settings {command}", options or {}, **kw
    )
    message = await interaction.wait_message()
    assert message.ephemeral  # settings are the moderators' business
    return message


async def test_show_lists_the_defaults_and_says_the_message_content_intent_is_off(
    world: World,
) -> None:
    shown = await _settings(world, "show")
    assert shown.embeds[0]["title"] == "citebot settings for this server"
    assert _field(shown, "Answers") == "public"
    assert _field(shown, "Cooldown") == "5 questions per 30 s (the bot's default)"
    assert _field(shown, "Moderator roles") == "none (the bot's default)"
    assert "Message Content intent" in _field(shown, "Auto-answer in")
    assert _field(shown, "Weekly digest") == "not sent"
    assert _field(shown, "Questions kept") == "until deleted"


async def test_members_cannot_change_settings(world: World) -> None:
    before = table_dump(world.db)
    with pytest.raises(AssertionError, match="cannot see"):
        await world.emu.run_command(world.emu.member, "settings answers", {"visibility": "private"})
    interaction = await world.emu.run_command(
        world.emu.member, "settings answers", {"visibility": "private"}, bypass_permissions=True
    )
    message = await interaction.wait_message()
    assert message.ephemeral and message.embeds[0]["description"] == NOT_MODERATOR
    assert table_dump(world.db) == before


async def test_a_moderator_role_counts_in_its_own_server_only(world: World) -> None:
    emu = world.emu
    trusted = emu.add_member("trusted", roles=["Helpers"])
    refused = await emu.run_command(trusted, "logs recent", {}, bypass_permissions=True)
    assert (await refused.wait_message()).embeds[0]["description"] == NOT_MODERATOR

    added = await _settings(world, "moderators add", {"role": world.helpers})
    assert added.embeds[0]["description"] == f"<@&{world.helpers.id}> moderates citebot here."
    assert _field(added, "Moderator roles") == f"<@&{world.helpers.id}>"
    allowed = await emu.run_command(trusted, "logs recent", {}, bypass_permissions=True)
    assert (await allowed.wait_message()).embeds[0]["title"] == "Recent questions"

    # The same person in the other server is no moderator there: the first server's choice
    # of role means nothing to the second.
    world.other.members[trusted.id] = Member(trusted, [])
    elsewhere = await emu.run_command(
        trusted, "logs recent", {}, guild=world.other, bypass_permissions=True
    )
    assert (await elsewhere.wait_message()).embeds[0]["description"] == NOT_MODERATOR
    theirs = await _settings(world, "show", user=world.other_moderator, guild=world.other)
    assert _field(theirs, "Moderator roles") == "none (the bot's default)"

    removed = await _settings(world, "moderators remove", {"role": world.helpers})
    assert _field(removed, "Moderator roles") == "none"
    unknown = await _settings(world, "moderators remove", {"role": world.helpers})
    assert unknown.embeds[0]["description"].endswith(
        "was not a moderator role here; nothing changed."
    )
    again = await emu.run_command(trusted, "logs recent", {}, bypass_permissions=True)
    assert (await again.wait_message()).embeds[0]["description"] == NOT_MODERATOR


async def test_private_answers_are_one_servers_choice(world: World) -> None:
    changed = await _settings(world, "answers", {"visibility": "private"})
    assert changed.embeds[0]["description"] == "Answers are now private by default."
    mine = await _ask(world, SPEND)
    assert mine.ephemeral and "$5.6 million" in mine.embeds[0]["description"]
    theirs = await _ask(world, SPEND, user=world.other_member, guild=world.other)
    assert not theirs.ephemeral
    # A member may still ask in public where answers are private, and privately anywhere.
    public = await world.emu.run_command(
        world.emu.member, "ask", {"question": SPEND, "private": False}
    )
    assert not (await public.wait_message()).ephemeral
    private = await world.emu.run_command(
        world.other_member, "ask", {"question": SPEND, "private": True}, guild=world.other
    )
    assert (await private.wait_message()).ephemeral


async def test_nothing_answers_this_is_private_with_a_hint(world: World) -> None:
    message = await _ask(world, "How do I bake sourdough bread?")
    assert message.ephemeral
    assert "Try other words" in message.embeds[0]["description"]


async def test_a_servers_cooldown_limits_its_members_only(world: World) -> None:
    changed = await _settings(world, "cooldown", {"questions": 1, "seconds": 600})
    assert changed.embeds[0]["description"] == "Each member may now ask 1 question per 600 s."
    assert _field(changed, "Cooldown") == "1 question per 600 s"
    first = await _ask(world, SPEND)
    assert "$5.6 million" in first.embeds[0]["description"]
    second = await _ask(world, SPEND)
    assert second.ephemeral and "asking too fast" in second.embeds[0]["description"]
    for _ in range(2):  # the other server keeps the bot's default (5 per 30 s)
        theirs = await _ask(world, SPEND, user=world.other_member, guild=world.other)
        assert "$5.6 million" in theirs.embeds[0]["description"]


async def test_auto_answer_digest_and_retention_are_stored_and_shown(world: World) -> None:
    channel = world.emu.guild.channels[0]
    on = await _settings(world, "auto-answer", {"channel": channel, "enabled": True})
    assert on.embeds[0]["description"] == f"<#{channel.id}> now gets answers unasked."
    auto = _field(on, "Auto-answer in")
    assert auto.startswith(f"<#{channel.id}>") and "Message Content intent is off" in auto
    digest = await _settings(world, "digest", {"channel": channel})
    assert _field(digest, "Weekly digest") == f"<#{channel.id}> (weekly)"
    kept = await _settings(world, "retention", {"days": 90})
    assert _field(kept, "Questions kept") == "90 days (older ones deleted daily)"
    off = await _settings(world, "auto-answer", {"channel": channel, "enabled": False})
    assert _field(off, "Auto-answer in").startswith("none")
    stored = await world.kb.server_settings(world.emu.guild.id)
    assert stored == ServerSettings(
        world.emu.guild.id, digest_channel=channel.id, retention_days=90
    )
    # Another server's settings are untouched.
    assert await world.kb.server_settings(world.other.id) == ServerSettings(world.other.id)


async def test_settings_outlive_the_process(world: World) -> None:
    await _settings(world, "answers", {"visibility": "private"})
    await _settings(world, "moderators add", {"role": world.helpers})
    async with await KnowledgeBase.open(world.db) as reopened:
        settings = await reopened.server_settings(world.emu.guild.id)
    assert settings.private_answers and settings.moderator_roles == {world.helpers.id}


async def test_a_setting_out_of_bounds_is_refused_and_nothing_is_stored(tmp_path) -> None:
    async with await KnowledgeBase.open(tmp_path / "s.db", seed=False) as kb:
        await kb.change_server_settings(7, retention_days=30)
        with pytest.raises(InvalidSetting, match="kept 1-3,650 days"):
            await kb.change_server_settings(7, retention_days=5000, private_answers=True)
        with pytest.raises(InvalidSetting, match="1-100 questions per 1-3,600 seconds"):
            await kb.change_server_settings(7, cooldown=(0, 30))
        with pytest.raises(InvalidSetting, match="at most 25 moderator roles"):
            await kb.change_server_settings(7, moderator_roles=frozenset(range(1, 27)))
        assert await kb.server_settings(7) == ServerSettings(7, retention_days=30)
    async with await KnowledgeBase.open(tmp_path / "s.db", seed=False) as kb:
        assert await kb.server_settings(7) == ServerSettings(7, retention_days=30)


def test_a_damaged_row_reads_as_the_defaults_value_by_value() -> None:
    read = ServerSettings.from_json(
        5,
        {
            "private_answers": "yes",  # not a boolean: the default
            "cooldown": [3, 60],
            "moderator_roles": [1, "2"],  # one bad id: the whole list is the default
            "retention_days": -4,
            "digest_channel": 99,
            "auto_answer_channels": "everywhere",
        },
    )
    assert read == ServerSettings(5, cooldown=(3, 60), digest_channel=99)
    assert ServerSettings.from_json(5, ["not", "an", "object"]) == ServerSettings(5)


async def test_help_lists_what_this_member_can_use_and_a_question_from_here(world: World) -> None:
    emu = world.emu
    mine = await (await emu.run_command(emu.member, "help")).wait_message()
    assert mine.ephemeral
    fields = {f["name"]: f["value"] for f in mine.embeds[0]["fields"]}
    assert "`/ask`" in fields["Commands"] and "`/summary`" in fields["Commands"]
    assert "For moderators" not in fields and "/settings" not in fields["Commands"]
    # No question asked here yet and no source of its own: a bundled article's title.
    assert fields["Try"].startswith("`/ask question:` What does “")
    added = await emu.run_command(
        emu.moderator, "source add", {"text": ROBOTS_TEXT, "title": "Ferncliff parcel robots"}
    )
    await added.wait_message()
    theirs = await (await emu.run_command(emu.moderator, "help")).wait_message()
    fields = {f["name"]: f["value"] for f in theirs.embeds[0]["fields"]}
    assert "`/settings show`" in fields["For moderators"]
    assert "`/source add`" in fields["For moderators"]
    assert fields["Try"] == "`/ask question:` What does “Ferncliff parcel robots” say?"
    # Never a member's own question (it may have been asked privately).
    private = await emu.run_command(emu.member, "ask", {"question": SPEND, "private": True})
    await private.wait_message()
    again = await (await emu.run_command(emu.member, "help")).wait_message()
    tried = {f["name"]: f["value"] for f in again.embeds[0]["fields"]}["Try"]
    assert tried == "`/ask question:` What does “Ferncliff parcel robots” say?"
    # The other server's help knows nothing of this one's sources or questions.
    other = await (
        await emu.run_command(world.other_member, "help", guild=world.other)
    ).wait_message()
    try_there = {f["name"]: f["value"] for f in other.embeds[0]["fields"]}["Try"]
    assert "Ferncliff" not in try_there and SPEND not in try_there


ROBOTS_TEXT = (
    "Warehouse robots at Ferncliff Logistics now pick 4,000 parcels an hour. The Ferncliff "
    "robots use suction grippers and a shared map of the shelves, and the company says the "
    "fleet paid for itself within eleven months."
)


async def test_an_ambiguous_summary_offers_a_menu_of_the_matches(world: World) -> None:
    emu = world.emu
    for title in ("Harbour report spring", "Harbour report autumn"):
        added = await emu.run_command(
            emu.moderator, "source add", {"text": ROBOTS_TEXT + " " + title, "title": title}
        )
        await added.wait_message()
    asked = await emu.run_command(emu.member, "summary", {"article": "Harbour report"})
    menu = await asked.wait_message()
    assert menu.ephemeral and menu.content == "2 articles match; which one?"
    [select] = [c for c in menu.components[0]["components"]]
    labels = {o["label"]: o["value"] for o in select["options"]}
    assert set(labels) == {"Harbour report spring", "Harbour report autumn"}
    picked = await emu.click(
        menu, "citebot:pick:summary", emu.member, values=[labels["Harbour report autumn"]]
    )
    await picked.wait_callback()
    await emu.wait_until(lambda: bool(menu.embeds), what="the summary in place of the menu")
    assert menu.embeds[0]["title"] == "Harbour report autumn" and not menu.components


async def test_adding_a_role_to_the_default_keeps_the_defaults_roles(world: World) -> None:
    default = world.emu.guild.role("Admin")
    world.bot.settings = replace(world.bot.settings, mod_role_ids=frozenset({default.id}))
    added = await _settings(world, "moderators add", {"role": world.helpers})
    assert _field(added, "Moderator roles") == ", ".join(
        f"<@&{i}>" for i in sorted({default.id, world.helpers.id})
    )


async def test_an_ambiguous_removal_offers_a_menu_and_removes_the_one_picked(world: World) -> None:
    emu = world.emu
    for title in ("Harbour report spring", "Harbour report autumn"):
        added = await emu.run_command(
            emu.moderator, "source add", {"text": ROBOTS_TEXT + " " + title, "title": title}
        )
        await added.wait_message()
    asked = await emu.run_command(emu.moderator, "source remove", {"source": "Harbour report"})
    menu = await asked.wait_message()
    assert menu.ephemeral and menu.content == "2 sources match; which one should go?"
    [select] = menu.components[0]["components"]
    labels = {o["label"]: o["value"] for o in select["options"]}
    picked = await emu.click(
        menu, "citebot:pick:remove", emu.moderator, values=[labels["Harbour report spring"]]
    )
    await picked.wait_callback()
    await emu.wait_until(lambda: bool(menu.embeds), what="the removal in place of the menu")
    assert menu.embeds[0]["description"].endswith(": Harbour report spring")
    assert not menu.components
    titles = {s.title for s in await world.kb.list_sources(emu.guild.id)}
    assert "Harbour report autumn" in titles and "Harbour report spring" not in titles
