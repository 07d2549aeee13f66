"""/logs: moderators review what this server asked (ephemeral, this server's rows only)."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.checks import MODERATOR_PERMISSIONS, moderator_only
from bot.gap_views import gaps_view
from retrieval.export import log_csv_within, log_json_within
from retrieval.knowledge import MAX_LOG_ROWS, LogView
from retrieval.models import Caller

if TYPE_CHECKING:
    from bot.client import Citebot

Limit = app_commands.Range[int, 1, 50]


class Logs(commands.Cog):
    """The query log, for moderators."""

    logs = app_commands.Group(
        name="logs",
        description="Review this server's questions (moderators)",
        guild_only=True,
        default_permissions=MODERATOR_PERMISSIONS,
    )

    def __init__(self, bot: Citebot) -> None:
        self.bot = bot

    async def _show(
        self, interaction: discord.Interaction[Citebot], view: LogView, limit: int
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        rows = await self.bot.kb.query_log(
            view, limit, Caller.member(interaction.guild_id, interaction.user.id)
        )
        await interaction.followup.send(embed=render.log_embed(view, rows), ephemeral=True)

    @logs.command(name="recent")
    @moderator_only
    @app_commands.describe(limit="How many rows (1-50, default 10)")
    async def recent(self, interaction: discord.Interaction[Citebot], limit: Limit = 10) -> None:
        """The latest questions asked here."""
        await self._show(interaction, "recent", limit)

    @logs.command(name="top")
    @moderator_only
    @app_commands.describe(limit="How many rows (1-50, default 10)")
    async def top(self, interaction: discord.Interaction[Citebot], limit: Limit = 10) -> None:
        """The questions asked most often here."""
        await self._show(interaction, "top", limit)

    @logs.command(name="unanswered")
    @moderator_only
    @app_commands.describe(limit="How many rows (1-50, default 10)")
    async def unanswered(
        self, interaction: discord.Interaction[Citebot], limit: Limit = 10
    ) -> None:
        """Questions the corpus could not answer: what to add next."""
        await self._show(interaction, "unanswered", limit)

    @logs.command(name="feedback")
    @moderator_only
    @app_commands.describe(limit="How many rows (1-50, default 10)")
    async def feedback(self, interaction: discord.Interaction[Citebot], limit: Limit = 10) -> None:
        """Answers people voted on, latest first."""
        await self._show(interaction, "feedback", limit)

    @logs.command(name="export")
    @moderator_only
    @app_commands.describe(format="CSV for a spreadsheet (default), JSON for a program")
    @app_commands.choices(
        format=[
            app_commands.Choice(name="CSV", value="csv"),
            app_commands.Choice(name="JSON", value="json"),
        ]
    )
    async def export(self, interaction: discord.Interaction[Citebot], format: str = "csv") -> None:
        """This server's whole query log as a file: votes, reasons, titles, links, zoned times."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        rows = await self.bot.kb.query_log(
            "recent", MAX_LOG_ROWS, Caller.member(interaction.guild_id, interaction.user.id)
        )
        rows = _named(interaction.guild, rows)
        within = log_json_within if format == "json" else log_csv_within
        data, kept = await asyncio.to_thread(within, rows, interaction.filesize_limit)
        note = f"{kept} question{'s' * (kept != 1)} from this server's log."
        if kept < len(rows):
            note += f" The oldest {len(rows) - kept} did not fit Discord's file size limit."
        name = f"citebot-log-{interaction.guild_id}.{'json' if format == 'json' else 'csv'}"
        await interaction.followup.send(
            note, file=discord.File(io.BytesIO(data), filename=name), ephemeral=True
        )

    @logs.command(name="stats")
    @moderator_only
    @app_commands.describe(days="The period in days (1-366, default 7)")
    async def stats(
        self, interaction: discord.Interaction[Citebot], days: app_commands.Range[int, 1, 366] = 7
    ) -> None:
        """This server's questions: how many, answered, helpful, how fast, with a chart."""
        from retrieval.log_stats import chart_png  # matplotlib: only when a chart is drawn

        await interaction.response.defer(ephemeral=True, thinking=True)
        stats = await self.bot.kb.log_stats(
            days, Caller.member(interaction.guild_id, interaction.user.id)
        )
        png = await asyncio.to_thread(chart_png, stats)
        embed = render.stats_embed(stats)
        embed.set_image(url="attachment://questions.png")
        await interaction.followup.send(
            embed=embed,
            file=discord.File(io.BytesIO(png), filename="questions.png"),
            ephemeral=True,
        )

    @logs.command(name="gaps")
    @moderator_only
    async def gaps(self, interaction: discord.Interaction[Citebot]) -> None:
        """Unanswered and not-helpful questions, in clusters of what they ask: what to add."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await self.bot.kb.log_gaps(Caller.member(interaction.guild_id, interaction.user.id))
        await interaction.followup.send(
            embed=render.gaps_embed(found),
            view=gaps_view(found, render.GAPS_SHOWN),
            ephemeral=True,
        )

    @logs.command(name="digest")
    @moderator_only
    async def digest(self, interaction: discord.Interaction[Citebot]) -> None:
        """Send the weekly digest now, to see what the digest channel gets."""
        from bot.cogs.digest import digest_message

        assert interaction.guild_id is not None and interaction.guild is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        settings = await self.bot.kb.server_settings(interaction.guild_id)
        message = await digest_message(self.bot, interaction.guild_id)
        channel = (
            interaction.guild.get_channel(settings.digest_channel)
            if settings.digest_channel
            else None
        )
        if isinstance(channel, discord.TextChannel):
            await channel.send(**message)  # type: ignore[arg-type]
            await interaction.followup.send(f"Sent to {channel.mention}.", ephemeral=True)
        else:  # no digest channel: what it would get, for this moderator
            await interaction.followup.send(**message, ephemeral=True)  # type: ignore[arg-type]

    @logs.command(name="forget")
    @moderator_only
    @app_commands.describe(user="The member whose questions and votes here are deleted")
    async def forget(self, interaction: discord.Interaction[Citebot], user: discord.User) -> None:
        """Delete a member's questions and votes in this server's log."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        questions, votes = await self.bot.kb.forget_member(
            user.id, Caller.member(interaction.guild_id, interaction.user.id)
        )
        await interaction.followup.send(
            embed=render.forgotten_embed(questions, votes, f"{user.mention}'s", "in this server"),
            ephemeral=True,
        )


def _named(guild: discord.Guild | None, rows: list) -> list:
    """The rows with their asker's and channel's names where the bot knows them (members it
    has seen, the server's channels): the export is read by people, ids beside names."""
    if guild is None:
        return rows
    names: dict[int | None, str | None] = {}

    def member(user_id: int | None) -> str | None:
        if user_id not in names:
            found = guild.get_member(user_id) if user_id else None
            names[user_id] = found.display_name if found else None
        return names[user_id]

    out = []
    for row in rows:
        channel = guild.get_channel_or_thread(row.channel_id) if row.channel_id else None
        out.append(
            replace(
                row,
                user_name=member(row.user_id),
                channel_name=channel.name if channel is not None else None,
            )
        )
    return out


async def setup(bot: Citebot) -> None:
    await bot.add_cog(Logs(bot))
