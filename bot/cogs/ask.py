"""/ask: cited passages for a question."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import render, replies
from bot.checks import spend_search
from bot.views import answer_view, in_thread, thread_context
from retrieval.knowledge import MAX_QUERY_CHARS, validate_query
from retrieval.models import Caller

if TYPE_CHECKING:
    from bot.client import Citebot

MAX_COUNT = 10
RECENT_WEIGHT = 0.2  # of the last answer's time in Ask.recent_ms
# Answers lately this many times slower than replies.QUICK_ANSWER (a rebuild, a bot far behind)
# are deferred at once. Merely busy is not enough: a deferral and its follow-up cost the bot
# twice the HTTP work of one response (a third of its CPU per ask at 50 users), so deferring
# every ask of a busy bot kept it busy.
DEFER_AT_ONCE = 4.0


class Ask(commands.Cog):
    """Questions answered from this server's articles and the bundled corpus."""

    def __init__(self, bot: Citebot) -> None:
        self.bot = bot
        # How long answers have lately taken (ms, smoothed): when they take longer than an
        # answer may wait to go out as the response itself, the deferral goes out at once.
        self.recent_ms = 0.0

    @app_commands.command(name="ask")
    @app_commands.guild_only()
    @app_commands.describe(
        question="What you want to know",
        count=f"How many passages to show (1-{MAX_COUNT}, default 3)",
        private="Only you see the answer (default: as this server's moderators chose)",
    )
    @app_commands.check(spend_search)
    async def ask(
        self,
        interaction: discord.Interaction[Citebot],
        question: app_commands.Range[str, 1, MAX_QUERY_CHARS],
        count: app_commands.Range[int, 1, MAX_COUNT] = 3,
        private: bool | None = None,
    ) -> None:
        """Ask a question; get the best passages with citations."""
        validate_query(question)  # cheap: a blank question is refused before deferring
        assert interaction.guild_id is not None  # guild_only
        if private is None:
            private = (await self.bot.kb.server_settings(interaction.guild_id)).private_answers
        caller = Caller.member(
            interaction.guild_id,
            interaction.user.id,
            channel_id=interaction.channel_id,
            command="ask",
        )
        # Most answers are ready well within Discord's deadline: sent as the response itself,
        # one request instead of a deferral and a follow-up. A slower one (an index being
        # rebuilt) is deferred first; when answers have lately been far slower, at once, so the
        # first response is not held back.
        quick = replies.QUICK_ANSWER
        started = time.perf_counter()
        answer = await replies.in_time(
            interaction,
            self.bot.kb.ask(question, count, caller, thread_context(interaction)),
            ephemeral=private,
            defer_after=quick if self.recent_ms < DEFER_AT_ONCE * quick * 1000 else 0.0,
        )
        took_ms = (time.perf_counter() - started) * 1000  # with the waits of a busy bot
        self.recent_ms += RECENT_WEIGHT * (took_ms - self.recent_ms)
        # "Nothing answers this" is for the asker alone (with a hint to rephrase), like any
        # refusal: a channel need not read every question the articles do not cover.
        ephemeral = private or not answer.answered
        sent = await replies.send(
            interaction,
            embed=render.answer_embed(answer),
            view=answer_view(
                answer,
                0,
                count,
                interaction.user.id,
                private=ephemeral,
                threaded=in_thread(interaction.channel),
            ),
            ephemeral=ephemeral,
            deferred_ephemeral=private,
        )
        if not ephemeral:
            replies.note_posted(self.bot, answer, interaction.guild_id, sent)


async def setup(bot: Citebot) -> None:
    await bot.add_cog(Ask(bot))
