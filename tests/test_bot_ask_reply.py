"""/ask answers in one response when the answer is quick, and defers first when it is not."""

from __future__ import annotations

import pytest

from bot import replies
from tests.test_bot import SPEND, World, _fields
from tests.test_bot import world as world  # the bot against the emulator, two servers


async def test_a_quick_answer_is_the_response_itself(world: World) -> None:
    interaction = await world.emu.run_command(world.emu.member, "ask", {"question": SPEND})
    assert await interaction.wait_callback() == 4  # the answer, with no "thinking" first
    message = await interaction.wait_message()
    assert not message.ephemeral
    assert _fields(message)[0]["name"] == "[1] China's AI Leap: DeepSeek Challenges US Dominance"
    assert interaction.original is message


async def test_a_slow_answer_is_deferred_then_shown_in_its_place(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replies, "QUICK_ANSWER", 0.0)  # as if the answer took long
    interaction = await world.emu.run_command(world.emu.member, "ask", {"question": SPEND})
    assert await interaction.wait_callback() == 5  # deferred: "citebot is thinking..."
    message = await interaction.wait_message()
    assert not message.ephemeral
    assert _fields(message)[0]["name"] == "[1] China's AI Leap: DeepSeek Challenges US Dominance"
    assert interaction.original is message
