"""The Discord bot: a commands.Bot that is handed its engine and settings.

Dependencies come in through the constructor (discord.py's advanced_startup example), so tests
run the real bot against the emulator with a KnowledgeBase on a temporary database. Cogs are
loaded first in `setup_hook`, then commands are synced, but only when the command tree changed
since the last sync (its hash is kept in the database), so restarts do not spend Discord's
rate-limited sync calls.
"""

from __future__ import annotations

import hashlib
import json
import logging

import discord
from discord.ext import commands

from bot.errors import CitebotTree
from bot.gap_views import GAP_ITEMS
from bot.ratelimit import SearchLimiter
from bot.settings import Settings
from bot.views import DYNAMIC_ITEMS
from retrieval.heap import settle_heap
from retrieval.knowledge import KnowledgeBase

log = logging.getLogger(__name__)

EXTENSIONS = (
    "bot.cogs.ask",
    "bot.cogs.summary",
    "bot.cogs.sources",
    "bot.cogs.logs",
    "bot.cogs.server_settings",
    "bot.cogs.help",
    "bot.cogs.find_sources",
    "bot.cogs.auto_answer",
    "bot.cogs.privacy",
    "bot.cogs.retention",
    "bot.cogs.digest",
)


class Citebot(commands.Bot):
    """citebot in Discord. Slash and message commands need no privileged intent; auto-answers
    and plain follow-ups need Message Content (`Settings.message_content`)."""

    def __init__(self, kb: KnowledgeBase, settings: Settings) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        # Messages only where a server asked for auto-answers: the privileged intent, opted in.
        intents.guild_messages = intents.message_content = settings.message_content is not False
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=CitebotTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **self._shard_options(settings),
        )
        self.kb = kb
        self.settings = settings
        self.limiter = SearchLimiter(settings.ask_rate, settings.ask_per)
        # Set by the launcher, the process's owner: whether on_ready sets the process's heap
        # aside (`retrieval.heap.settle_heap`); not for a bot inside another program (tests).
        self.settles_heap = False
        self.synced: bool | None = None  # None: not tried; False: tree unchanged, skipped

    @staticmethod
    def _shard_options(settings: Settings) -> dict[str, object]:
        """None: one connection for every server (`ShardedCitebot` runs several)."""
        return {}

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.add_dynamic_items(*DYNAMIC_ITEMS, *GAP_ITEMS)
        passages = await self.kb.warm_up()
        log.info("index ready: %d passages", passages)
        self.synced = await self.sync_commands()

    def _command_target(self) -> discord.Object | None:
        return discord.Object(self.settings.guild_id) if self.settings.guild_id else None

    async def sync_commands(self) -> bool:
        """Sync the command tree if it changed since the last sync to the same place."""
        guild = self._command_target()
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        payload = [command.to_dict(self.tree) for command in self.tree.get_commands(guild=guild)]
        digest = hashlib.sha256(
            json.dumps(payload, sort_keys=True, default=str).encode()
        ).hexdigest()
        target = f"guild:{guild.id}" if guild else "global"
        key = f"command_hash:{self.application_id}:{target}"
        if await self.kb.setting(key) == digest:
            log.info("command tree unchanged since the last sync (%s); not syncing", target)
            return False
        await self.tree.sync(guild=guild)
        await self.kb.set_setting(key, digest)
        log.info("synced %d commands (%s)", len(payload), target)
        return True

    async def on_ready(self) -> None:
        log.info(
            "logged in as %s (%s) in %d servers", self.user, self.application_id, len(self.guilds)
        )
        if self.settles_heap:
            settle_heap()


class ShardedCitebot(Citebot, commands.AutoShardedBot):
    """citebot running some of the bot's shards in this process (issue 13: `citebot run
    --shard-count N --shard-ids 0,1`): discord.py's auto-sharded client connects each of them.
    Only when sharding is asked for: unsharded, that client would first ask Discord for its
    recommended shard count and gateway (`GET /gateway/bot`), which a plain bot never does."""

    @staticmethod
    def _shard_options(settings: Settings) -> dict[str, object]:
        shards = settings.shards
        assert shards is not None, "ShardedCitebot needs a shard count"
        count, ids = shards
        return {"shard_count": count, "shard_ids": list(ids)}


def bot_for(kb: KnowledgeBase, settings: Settings) -> Citebot:
    """The bot these settings ask for: sharded, or one connection for every server."""
    return (ShardedCitebot if settings.shards is not None else Citebot)(kb, settings)
