"""/summary: the stored extractive summary of an article, with title autocomplete."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.replies import in_time, send
from bot.views import pick_article_view
from retrieval.errors import Ambiguous

if TYPE_CHECKING:
    from bot.client import Citebot


class Summaries(commands.Cog):
    """Article summaries."""

    def __init__(self, bot: Citebot) -> None:
        self.bot = bot

    @app_commands.command(name="summary")
    @app_commands.guild_only()
    @app_commands.describe(article="The article: start typing its title")
    async def summary(
        self, interaction: discord.Interaction[Citebot], article: app_commands.Range[str, 1, 200]
    ) -> None:
        """Summarise an article in a few of its own sentences."""
        try:
            found = await in_time(
                interaction, self.bot.kb.summary(article, interaction.guild_id), ephemeral=False
            )
        except Ambiguous as exc:
            # Several articles match: a menu of them, for the asker to pick one.
            await send(
                interaction,
                content=f"{len(exc.candidates)} articles match; which one?",
                view=pick_article_view("summary", exc.candidates),
                ephemeral=True,
                deferred_ephemeral=False,
            )
            return
        await send(interaction, embed=render.summary_embed(found))

    @summary.autocomplete("article")
    async def _articles(
        self, interaction: discord.Interaction[Citebot], current: str
    ) -> list[app_commands.Choice[str]]:
        titles = await self.bot.kb.titles(interaction.guild_id, current, render.MAX_CHOICES)
        return [
            app_commands.Choice(name=render.choice_name(title), value=str(doc_id))
            for doc_id, title in titles
        ]


async def setup(bot: Citebot) -> None:
    await bot.add_cog(Summaries(bot))
