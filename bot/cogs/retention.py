"""Each server's retention (`/settings retention`): its questions older than that many days are
deleted from the query log once a day, and at start (a bot that was down catches up)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from discord.ext import commands, tasks

from retrieval.models import Caller

if TYPE_CHECKING:
    from bot.client import Citebot
    from retrieval.knowledge import KnowledgeBase

log = logging.getLogger(__name__)


async def purge_by_retention(kb: KnowledgeBase) -> int:
    """Delete, in every server that set a retention, its questions older than it; how many."""
    purged = 0
    for guild_id, days in await kb.retention():
        try:
            purged += await kb.purge_log(days, Caller.member(guild_id, None))
        except Exception:  # one server's failure leaves the others' purge to run
            log.exception("purging server %s's old questions failed", guild_id)
    if purged:
        log.info("retention: %d old questions deleted from the query log", purged)
    return purged


class Retention(commands.Cog):
    def __init__(self, bot: Citebot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.daily.start()

    async def cog_unload(self) -> None:
        self.daily.cancel()

    @tasks.loop(hours=24)
    async def daily(self) -> None:
        try:
            await purge_by_retention(self.bot.kb)
        except Exception:  # the next day tries again; the bot carries on
            log.exception("purging old questions failed")


async def setup(bot: Citebot) -> None:
    await bot.add_cog(Retention(bot))
