"""The weekly digest: each server that chose a channel (`/settings digest`) gets, once a week,
the stats card of the last 7 days, its chart and the largest gaps to close.

When the last one went out is stored in the database, and the check runs hourly and at start:
a bot that was down sends the digest that fell due meanwhile (none is skipped) and one that
restarts sends nothing twice. `/logs digest` sends one now to the channel (or shows it to the
moderator when the server chose none), without moving the weekly schedule. A digest covers the
last 7 days when it goes out: after a bot was down for weeks, one digest goes out, not one for
each week missed (`/logs stats days:` covers any period). A channel the bot may not post in (or
that is gone) is tried again the next week, not every hour (a warning in the log says so), or
as soon as the moderators choose another channel.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import discord
from discord.ext import commands, tasks

from bot import render
from retrieval.models import Caller

if TYPE_CHECKING:
    from bot.client import Citebot

log = logging.getLogger(__name__)

PERIOD = timedelta(days=7)
DAYS = 7
GAPS_IN_DIGEST = 3


async def digest_message(bot: Citebot, guild_id: int) -> dict[str, object]:
    """The digest of one server, as `send` keyword arguments: the stats card with its chart
    and the largest gaps."""
    import asyncio

    from retrieval.log_stats import chart_png  # matplotlib: only when a chart is drawn

    caller = Caller.member(guild_id, None)
    stats = await bot.kb.log_stats(DAYS, caller)
    gaps = (await bot.kb.log_gaps(caller))[:GAPS_IN_DIGEST]
    png = await asyncio.to_thread(chart_png, stats)
    card = render.stats_embed(stats)
    card.title = f"Weekly digest: {card.title}"
    card.set_image(url="attachment://questions.png")
    return {
        "embeds": [card, render.gaps_embed(gaps)],
        "file": discord.File(io.BytesIO(png), filename="questions.png"),
    }


async def send_due_digests(bot: Citebot, now: datetime | None = None) -> int:
    """Send every digest that is due (never sent, or a week since the last); how many."""
    now = now or datetime.now(UTC)
    sent = 0
    for guild_id, channel_id in await bot.kb.digests():
        last = await bot.kb.digest_sent(guild_id)
        if last is not None and now - last < PERIOD:
            continue
        refused = await bot.kb.digest_refused(guild_id)
        if refused is not None and refused[0] == channel_id and now - refused[1] < PERIOD:
            continue  # that channel refused it lately: next week, or another channel
        channel = bot.get_channel(channel_id)
        if not isinstance(channel, discord.TextChannel) or channel.guild.id != guild_id:
            continue  # gone, or not this server's: the next check tries again
        try:
            await channel.send(**await digest_message(bot, guild_id))  # type: ignore[arg-type]
        except (discord.Forbidden, discord.NotFound) as exc:
            # Not for want of trying again soon: the moderators must give the bot the right
            # (or choose another channel). Next week's check tries again.
            log.warning(
                "the digest of server %s could not be posted in channel %s (%s); "
                "trying again in a week (or once another channel is chosen)",
                guild_id,
                channel_id,
                exc.text or exc.status,
            )
            await bot.kb.mark_digest_refused(guild_id, channel_id, now)
            continue
        except discord.HTTPException:  # Discord's trouble: the next hourly check tries again
            log.warning("could not post the digest of server %s", guild_id, exc_info=True)
            continue
        await bot.kb.mark_digest_sent(guild_id, now)
        sent += 1
    return sent


class Digest(commands.Cog):
    def __init__(self, bot: Citebot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.hourly.start()

    async def cog_unload(self) -> None:
        self.hourly.cancel()

    @tasks.loop(hours=1)
    async def hourly(self) -> None:
        try:
            await send_due_digests(self.bot)
        except Exception:
            log.exception("sending digests failed")

    @hourly.before_loop
    async def _ready(self) -> None:
        await self.bot.wait_until_ready()  # the channels must be known


async def setup(bot: Citebot) -> None:
    await bot.add_cog(Digest(bot))
