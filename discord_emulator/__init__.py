"""A Discord protocol emulator: the real discord.py client talks to it on 127.0.0.1.

A package of the repository of its own (not of the installed citebot): the tests and the
benchmarks (bench/bot_load.py, bench/hostile_load.py) both drive the bot through it. Start it
with `running_emulator(monkeypatch)` (or `DiscordEmulator` as an async context manager plus
`patch_discord`), run the bot unmodified, then drive it as a person would: `run_command`,
`click`, `autocomplete`, and read what the channel shows. A bot that must run as its own
process (the real entry point) is started with `launch.launched` (not imported here, so that
`python -m discord_emulator.launch` runs it fresh).
"""

from .limits import FieldError
from .model import Attachment, Channel, Guild, Interaction, Member, Message, Role, User
from .server import DiscordEmulator, Violation, point_discord_at, running_emulator

__all__ = [
    "Attachment",
    "Channel",
    "DiscordEmulator",
    "FieldError",
    "Guild",
    "Interaction",
    "Member",
    "Message",
    "Role",
    "User",
    "Violation",
    "point_discord_at",
    "running_emulator",
]
