"""/ask answers in one response when the answer is quick, and defers first when it is not."""

from __future__ import annotations

import pytest

from bot import replies
from tests.test_bot import SPEND, World, _fields
from tests.test_bot import world as world  # the bot against the emulator, two servers

FIRST = "[1] China's AI Leap: DeepSeek Challenges US Dominance"


async def _first_callback_and_answer(world: World) -> int:
    """Ask SPEND; the type of the bot's first callback (4: the answer itself, 5: a deferral),
    once the answer is shown in the interaction's own message, publicly."""
    interaction = await world.emu.run_command(world.emu.member, "ask", {"question": SPEND})
    first = await interaction.wait_callback()
    message = await interaction.wait_message()
    assert not message.ephemeral and interaction.original is message
    assert _fields(message)[0]["name"] == FIRST
    return first


async def test_a_quick_answer_is_the_response_itself(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replies, "QUICK_ANSWER", 60.0)  # a busy test machine is no slow bot
    assert await _first_callback_and_answer(world) == 4  # no "thinking" first


async def test_a_slow_answer_is_deferred_then_shown_in_its_place(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replies, "QUICK_ANSWER", 0.0)  # as if the answer took long
    assert await _first_callback_and_answer(world) == 5  # "citebot is thinking..."


async def test_when_answers_have_been_slow_the_deferral_goes_out_at_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replies, "QUICK_ANSWER", 60.0)
    cog = world.bot.get_cog("Ask")
    assert cog is not None
    cog.recent_ms = 300_000.0  # as after answers that took five minutes each
    assert await _first_callback_and_answer(world) == 5  # without waiting for the answer
    assert cog.recent_ms < 300_000.0  # this quick answer counts too


async def test_a_busy_bot_still_answers_in_one_response(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers lately a little slower than QUICK_ANSWER (a busy bot) do not make every ask a
    deferral and a follow-up: twice the HTTP work, which kept a busy bot busy."""
    monkeypatch.setattr(replies, "QUICK_ANSWER", 60.0)
    cog = world.bot.get_cog("Ask")
    assert cog is not None
    cog.recent_ms = 120_000.0  # twice QUICK_ANSWER
    assert await _first_callback_and_answer(world) == 4
