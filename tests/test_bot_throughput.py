"""What keeps the bot's CPU per ask down (bench/bot_load.py measures it; nothing here is timed)."""

from __future__ import annotations

import discord.utils


def test_discord_json_goes_through_orjson() -> None:
    """discord.py parses every gateway event and writes every HTTP body with orjson when it is
    installed (a dependency): the standard library's json was about 5% of the bot's CPU at 50
    users."""
    assert discord.utils.HAS_ORJSON
    payload = {"content": "é ✓ \u2028", "embeds": [{"fields": [{"name": "[1] a", "value": "b"}]}]}
    assert discord.utils._from_json(discord.utils._to_json(payload)) == payload
