"""Each server's own settings: who moderates it, whether its answers are private, how fast its
members may ask, where answers come unasked, where its digest goes, how long its log is kept.

Why in the database and not the environment: one bot serves many servers, and each server's
moderators decide for their own (`/settings`); what one server sets never changes another's.
The environment's values (MOD_ROLE_IDS, CITEBOT_ASK_COOLDOWN) remain the defaults of a server
that has set nothing, which is what `None` means in `ServerSettings`.

One job: read and change these values, each checked against its limits. They are read on every
ask (the cooldown, private or public) and every moderator command (the roles), so they are kept
in memory once read; they change only through `ServerSettingsRoom.change`, which updates the
memory once the database has committed. (A second process serving the same servers would need
to hear of changes: the sharding issue's notifications.)
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from retrieval.errors import InvalidSetting
from retrieval.store import Store

MAX_MODERATOR_ROLES = 25
MAX_AUTO_ANSWER_CHANNELS = 25
COOLDOWN_ASKS = (1, 100)  # asks per period, lowest and highest a server may set
COOLDOWN_SECONDS = (1, 3600)
RETENTION_DAYS = (1, 3650)
CACHED_SERVERS = 10_000  # servers whose settings are kept in memory (emptied when full)


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """One server's settings; `None` where the server keeps the bot's default."""

    guild_id: int
    moderator_roles: frozenset[int] | None = None  # None: MOD_ROLE_IDS
    private_answers: bool = False  # /ask answers only the asker unless they ask publicly
    cooldown: tuple[int, int] | None = None  # (asks, seconds); None: CITEBOT_ASK_COOLDOWN
    auto_answer_channels: frozenset[int] = field(default_factory=frozenset)
    digest_channel: int | None = None
    retention_days: int | None = None  # None: questions are kept until deleted

    def to_json(self) -> dict[str, Any]:
        return {
            "moderator_roles": None
            if self.moderator_roles is None
            else sorted(self.moderator_roles),
            "private_answers": self.private_answers,
            "cooldown": None if self.cooldown is None else list(self.cooldown),
            "auto_answer_channels": sorted(self.auto_answer_channels),
            "digest_channel": self.digest_channel,
            "retention_days": self.retention_days,
        }

    @classmethod
    def from_json(cls, guild_id: int, data: object) -> ServerSettings:
        """The settings as stored; a value that is missing or not what it should be (a row
        written by a later version, or damaged) reads as the default, never as an error: a
        server must not lose /ask over one bad setting."""
        if not isinstance(data, dict):
            return cls(guild_id)
        out = cls(guild_id)
        roles = _ids(data.get("moderator_roles"), MAX_MODERATOR_ROLES)
        if roles is not None:
            out = replace(out, moderator_roles=roles)
        if isinstance(data.get("private_answers"), bool):
            out = replace(out, private_answers=data["private_answers"])
        cooldown = data.get("cooldown")
        if (
            isinstance(cooldown, list)
            and len(cooldown) == 2
            and _within(cooldown[0], COOLDOWN_ASKS)
            and _within(cooldown[1], COOLDOWN_SECONDS)
        ):
            out = replace(out, cooldown=(cooldown[0], cooldown[1]))
        channels = _ids(data.get("auto_answer_channels"), MAX_AUTO_ANSWER_CHANNELS)
        if channels:
            out = replace(out, auto_answer_channels=channels)
        if _is_id(data.get("digest_channel")):
            out = replace(out, digest_channel=data["digest_channel"])
        if _within(data.get("retention_days"), RETENTION_DAYS):
            out = replace(out, retention_days=data["retention_days"])
        return out


def _is_id(value: object) -> bool:
    return type(value) is int and 0 < value < 2**63


def _within(value: object, bounds: tuple[int, int]) -> bool:
    return type(value) is int and bounds[0] <= value <= bounds[1]


def _ids(value: object, most: int) -> frozenset[int] | None:
    if not isinstance(value, list) or len(value) > most or not all(map(_is_id, value)):
        return None
    return frozenset(value)


def check(settings: ServerSettings) -> ServerSettings:
    """`settings` if every value is within its limits; else InvalidSetting saying which and
    why, in words a moderator can act on."""
    roles = settings.moderator_roles
    if roles is not None and len(roles) > MAX_MODERATOR_ROLES:
        raise InvalidSetting(f"a server can have at most {MAX_MODERATOR_ROLES} moderator roles")
    if settings.cooldown is not None:
        asks, seconds = settings.cooldown
        if not _within(asks, COOLDOWN_ASKS) or not _within(seconds, COOLDOWN_SECONDS):
            raise InvalidSetting(
                f"the cooldown takes {COOLDOWN_ASKS[0]}-{COOLDOWN_ASKS[1]} questions per "
                f"{COOLDOWN_SECONDS[0]}-{COOLDOWN_SECONDS[1]:,} seconds"
            )
    if len(settings.auto_answer_channels) > MAX_AUTO_ANSWER_CHANNELS:
        raise InvalidSetting(
            f"a server can have at most {MAX_AUTO_ANSWER_CHANNELS} auto-answer channels"
        )
    days = settings.retention_days
    if days is not None and not _within(days, RETENTION_DAYS):
        raise InvalidSetting(
            f"questions are kept {RETENTION_DAYS[0]}-{RETENTION_DAYS[1]:,} days (or until deleted)"
        )
    return settings


class ServerSettingsRoom:
    """The settings of every server of one store (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._known: dict[int, ServerSettings] = {}
        self._lock = asyncio.Lock()  # one change at a time: each reads what the last wrote

    async def of(self, guild_id: int) -> ServerSettings:
        """This server's settings (the defaults for a server that set nothing)."""
        known = self._known.get(guild_id)
        if known is not None:
            return known
        text = await self.store.server_settings(guild_id)
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = None
        # A change that committed while this read was under way is newer: it stays.
        known = self._known.get(guild_id)
        if known is not None:
            return known
        settings = ServerSettings.from_json(guild_id, data)
        self._remember(settings)
        return settings

    async def change(self, guild_id: int, **changes: Any) -> ServerSettings:
        """This server's settings with `changes` (fields of ServerSettings), checked, stored
        and returned; InvalidSetting (nothing stored) when a value is outside its limits."""
        async with self._lock:
            current = await self.of(guild_id)
            updated = check(replace(current, **changes))
            async with self.store.transaction() as db:
                await self.store.set_server_settings(
                    db, guild_id, json.dumps(updated.to_json(), sort_keys=True)
                )
            self._remember(updated)
            return updated

    async def every_server(self) -> list[ServerSettings]:
        """The settings of every server that set something, read from the database (for the
        daily and weekly tasks, which look at all servers at once)."""
        out = []
        for guild_id, text in await self.store.all_server_settings():
            try:
                data = json.loads(text)
            except ValueError:
                data = None
            out.append(ServerSettings.from_json(guild_id, data))
        return out

    async def digests(self) -> list[tuple[int, int]]:
        """(server, channel) for every server that chose a digest channel."""
        return [
            (s.guild_id, s.digest_channel)
            for s in await self.every_server()
            if s.digest_channel is not None
        ]

    async def digest_sent(self, guild_id: int) -> datetime | None:
        """When this server's last digest went out (None: never)."""
        text = await self.store.meta(f"digest_sent:{guild_id}")
        try:
            return datetime.fromisoformat(text) if text else None
        except ValueError:
            return None

    async def mark_digest_sent(self, guild_id: int, when: datetime) -> None:
        """Record that this server's digest went out at `when` (stored, so a restart neither
        sends it again nor skips the next)."""
        async with self.store.transaction() as db:
            await self.store.set_meta(db, f"digest_sent:{guild_id}", when.isoformat())

    async def digest_refused(self, guild_id: int) -> tuple[int, datetime] | None:
        """The channel that last refused this server's digest (the bot may not post there),
        and when; None when none did."""
        text = await self.store.meta(f"digest_refused:{guild_id}")
        try:
            channel, when = (text or "").split(" ", 1)
            return int(channel), datetime.fromisoformat(when)
        except ValueError:
            return None

    async def mark_digest_refused(self, guild_id: int, channel_id: int, when: datetime) -> None:
        """Channel `channel_id` refused this server's digest at `when`: it is tried again a
        week later, or as soon as the moderators choose another channel."""
        async with self.store.transaction() as db:
            await self.store.set_meta(
                db, f"digest_refused:{guild_id}", f"{channel_id} {when.isoformat()}"
            )

    async def retention(self) -> list[tuple[int, int]]:
        """(server, days) for every server that keeps its questions a limited time."""
        return [
            (s.guild_id, s.retention_days)
            for s in await self.every_server()
            if s.retention_days is not None
        ]

    def _remember(self, settings: ServerSettings) -> None:
        if len(self._known) >= CACHED_SERVERS:
            self._known.clear()
        self._known[settings.guild_id] = settings
