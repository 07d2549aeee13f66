"""The bot's settings, read once from the environment (and `.env`, loaded by the launcher only).

A frozen dataclass built from a mapping, so tests pass a dict and never read a developer's
`.env`. Every problem is reported as one SettingsError naming the variable. The token is left
out of the repr (and so of str() and f-strings), so logging the settings never leaks it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

DEFAULT_ASK_RATE = 5
DEFAULT_ASK_PER = 30.0


def default_engine_processes() -> int:
    """Two engine processes beside the bot when the machine has a second core to run them on
    (at 50 users on two cores, two answered 353-381 questions a second, one 294-301: with one,
    questions queued for it while a core had time to spare); none on one core."""
    return 2 if (os.cpu_count() or 1) > 1 else 0


class SettingsError(Exception):
    """A missing or malformed setting; the message names the variable and how to fix it."""


def _snowflake(name: str, raw: str) -> int:
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 2**63:
        raise SettingsError(f"{name} must be a Discord id (digits only), not {raw!r}")
    return int(raw)


@dataclass(frozen=True, slots=True)
class Settings:
    token: str = field(repr=False)  # a secret: never in a repr, a log line or a traceback
    # A file, or a PostgreSQL address that may hold a password: never in a repr.
    db_path: str = field(default="citebot.db", repr=False)
    guild_id: int | None = None  # sync commands to this server only (development)
    mod_role_ids: frozenset[int] = field(default_factory=frozenset)
    ask_rate: int = DEFAULT_ASK_RATE  # asks per user ...
    ask_per: float = DEFAULT_ASK_PER  # ... per this many seconds
    # Processes that answer questions beside the event loop (`retrieval.engine_processes`);
    # 0 answers in threads of the bot's own process.
    engine_processes: int = field(default_factory=lambda: default_engine_processes())
    # The privileged Message Content intent (and message events): needed to answer posts in
    # auto-answer channels and plain messages in the bot's threads. True: required (the bot
    # cannot log in unless it is enabled for the application in the Developer Portal); False:
    # never asked for; None (`citebot run`'s default): asked for, and when Discord refuses it,
    # the bot logs in again without it and says so (bot.launcher).
    message_content: bool | None = False
    # Sharding (issue 13): this process runs shards `shard_ids` of `shard_count` (Discord's
    # rule puts a server on shard (id >> 22) % count). None: one process for every server.
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None

    @property
    def shards(self) -> tuple[int, tuple[int, ...]] | None:
        """(count, this process's ids), or None when unsharded."""
        if self.shard_count is None:
            return None
        return self.shard_count, self.shard_ids or tuple(range(self.shard_count))

    def __repr__(self) -> str:
        """Every field but the token, and the database as it may be shown (no password)."""
        from retrieval.backends import shown_address

        shown = [f"db_path={shown_address(self.db_path)!r}"] + [
            f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr
        ]
        return f"Settings({', '.join(shown)})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        token = env.get("DISCORD_TOKEN", "").strip()
        if not token:
            raise SettingsError(
                "DISCORD_TOKEN is not set: put the bot token in .env or the environment "
                "(see .env.example)"
            )
        guild = env.get("DISCORD_GUILD_ID", "").strip()
        roles = [r for r in env.get("MOD_ROLE_IDS", "").replace(" ", "").split(",") if r]
        rate, per = DEFAULT_ASK_RATE, DEFAULT_ASK_PER
        cooldown = env.get("CITEBOT_ASK_COOLDOWN", "").strip()
        if cooldown:
            try:
                rate_text, per_text = cooldown.split("/")
                rate, per = int(rate_text), float(per_text)
            except ValueError:
                raise SettingsError(
                    f"CITEBOT_ASK_COOLDOWN must look like 5/30 (asks/seconds), not {cooldown!r}"
                ) from None
            if rate < 1 or per <= 0:
                raise SettingsError("CITEBOT_ASK_COOLDOWN needs at least 1 ask per >0 seconds")
        engines = env.get("CITEBOT_ENGINE_PROCESSES", "").strip()
        if engines and not (engines.isascii() and engines.isdigit() and int(engines) <= 16):
            raise SettingsError(
                f"CITEBOT_ENGINE_PROCESSES must be a number from 0 to 16, not {engines!r}"
            )
        content = env.get("CITEBOT_MESSAGE_CONTENT", "").strip().lower()
        if content not in ("", "0", "1", "true", "false", "yes", "no", "on", "off"):
            raise SettingsError(f"CITEBOT_MESSAGE_CONTENT must be 1 or 0, not {content!r}")
        count, ids = _shards(env)
        return cls(
            shard_count=count,
            shard_ids=ids,
            token=token,
            message_content=None if not content else content in ("1", "true", "yes", "on"),
            engine_processes=int(engines) if engines else default_engine_processes(),
            db_path=env.get("CITEBOT_DB", "").strip() or "citebot.db",
            guild_id=_snowflake("DISCORD_GUILD_ID", guild) if guild else None,
            mod_role_ids=frozenset(_snowflake("MOD_ROLE_IDS", r) for r in roles),
            ask_rate=rate,
            ask_per=per,
        )


MAX_SHARDS = 65_536


def _shards(env: Mapping[str, str]) -> tuple[int | None, tuple[int, ...] | None]:
    """CITEBOT_SHARD_COUNT and CITEBOT_SHARD_IDS (`citebot run --shard-count N --shard-ids
    0,1` sets them), checked: ids are distinct and below the count."""
    count_text = env.get("CITEBOT_SHARD_COUNT", "").strip()
    ids_text = env.get("CITEBOT_SHARD_IDS", "").replace(" ", "").strip(",")
    if not count_text:
        if ids_text:
            raise SettingsError("CITEBOT_SHARD_IDS needs CITEBOT_SHARD_COUNT (--shard-count)")
        return None, None
    if (
        not (count_text.isascii() and count_text.isdigit())
        or not 1 <= int(count_text) <= MAX_SHARDS
    ):
        raise SettingsError(
            f"the shard count must be a number from 1 to {MAX_SHARDS:,}, not {count_text!r}"
        )
    count = int(count_text)
    if not ids_text:
        return count, None
    parts = ids_text.split(",")
    if not all(p.isascii() and p.isdigit() for p in parts):
        raise SettingsError(f"shard ids must be numbers separated by commas, not {ids_text!r}")
    ids = tuple(sorted({int(p) for p in parts}))
    if ids[-1] >= count:
        raise SettingsError(f"shard ids must be below the shard count ({count}); got {ids[-1]}")
    return count, ids
