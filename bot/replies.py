"""Answering within Discord's three seconds without hiding quick refusals.

Discord drops an interaction that is not acknowledged within 3 s of its creation. Deferring at
once is safe but turns every refusal into a follow-up of the deferred message (public when the
deferral was). `in_time` answers directly when the work is quick, as it almost always is, and
defers only when the work is still running after `DEFER_AFTER` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

import discord

from retrieval.errors import CitebotError

if TYPE_CHECKING:
    from bot.client import Citebot
    from retrieval.models import Answer

T = TypeVar("T")
DEFER_AFTER = 1.5  # leaves room for the time the interaction took to reach us
# How long an answer to /ask may take to go out as the response itself; a slower one is deferred
# first ("citebot is thinking..."). A deferral is one more HTTP request for the bot (and
# Discord): on a busy bot it is the work that makes answers later still. bench/bot_load.py at
# 50 users, two alternated runs each (load ~1.5): 0.25 s gave answer p95 550/602 ms (first
# response 292/291), 0.5 s 460/483 ms (first response 460/483: most answers go out as the
# response), 1.0 s 409/552 ms.
QUICK_ANSWER = 0.5


async def in_time(
    interaction: discord.Interaction[Citebot],
    work: Awaitable[T],
    *,
    ephemeral: bool,
    defer_after: float | None = None,
) -> T:
    """The result of `work`; the interaction is deferred if it takes longer than `defer_after`
    (DEFER_AFTER when None)."""
    task = asyncio.ensure_future(work)
    timeout = DEFER_AFTER if defer_after is None else defer_after
    done, _ = await asyncio.wait({task}, timeout=timeout)
    deferred = False
    if not done and not interaction.response.is_done():
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        deferred = True
    try:
        return await task
    except CitebotError:
        # A refusal is for the asker alone: drop the public "thinking" message, so the
        # error handler's follow-up is a private message of its own.
        if deferred and not ephemeral:
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
        raise


async def send(
    interaction: discord.Interaction[Citebot],
    *,
    ephemeral: bool = False,
    deferred_ephemeral: bool | None = None,
    **kwargs: Any,
) -> discord.Message | None:
    """The reply, whether or not the interaction was deferred; `ephemeral`: for the member
    alone. `deferred_ephemeral`: whether a deferral (if there was one) was private; a private
    reply to a public deferral first deletes the public "thinking" message, so the channel is
    left with nothing. The message sent, when Discord said which it is."""
    if not interaction.response.is_done():
        sent = await interaction.response.send_message(ephemeral=ephemeral, **kwargs)
        resource = sent.resource if sent is not None else None
        return resource if isinstance(resource, discord.Message) else None
    if ephemeral and deferred_ephemeral is False:
        with contextlib.suppress(discord.HTTPException):
            await interaction.delete_original_response()
    return await interaction.followup.send(ephemeral=ephemeral, wait=True, **kwargs)


def note_posted(
    bot: Citebot, answer: Answer, guild_id: int | None, message: discord.Message | None
) -> None:
    """Link the logged question to the public message its answer is (the log's link, and
    where a gap closed later is announced)."""
    if message is not None and answer.query_id is not None and guild_id is not None:
        bot.kb.answer_posted(answer.query_id, guild_id, message.channel.id, message.id)
