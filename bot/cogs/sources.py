"""/sources for everyone; /source add and /source remove for moderators."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.adding import TOKEN_SECONDS, add_source
from bot.checks import MODERATOR_PERMISSIONS, moderator_only
from bot.replies import in_time, send
from bot.views import pick_article_view, sources_view
from retrieval.errors import Ambiguous, BadSource
from retrieval.files import ACCEPTED_SUFFIXES, MAX_FILE_BYTES
from retrieval.ingest import OnQueued
from retrieval.models import Caller
from retrieval.urls import check_url

if TYPE_CHECKING:
    from bot.client import Citebot

MAX_PASTED_CHARS = 6000  # Discord's limit for a text option
# A refresh starts no source after the time that still leaves one fetch, one read and a write
# to finish within the token's 15 minutes (see Sources._refresh_room).
MARGIN_SECONDS = 60


def _member(interaction: discord.Interaction[Citebot]) -> Caller:
    """The moderator acting, in their server's scope (never the operator)."""
    return Caller.member(interaction.guild_id, interaction.user.id)


def _queued_note(interaction: discord.Interaction[Citebot]) -> OnQueued:
    """Tells the moderator that their addition waits behind others in this server."""

    async def note(position: int) -> None:
        if position == 0:
            what = "sources of other servers are being read first"
        elif position == 1:
            what = "another source is being added in this server first"
        else:
            what = f"{position} sources are being added in this server first"
        await interaction.followup.send(
            f"Waiting: {what}. I'll reply here when this one is done.", ephemeral=True
        )

    return note


class Sources(commands.Cog):
    """The corpus this server searches, and how moderators change it."""

    source = app_commands.Group(
        name="source",
        description="Add or remove this server's sources (moderators)",
        guild_only=True,
        default_permissions=MODERATOR_PERMISSIONS,
    )

    def __init__(self, bot: Citebot) -> None:
        self.bot = bot

    @app_commands.command(name="sources")
    @app_commands.guild_only()
    @app_commands.describe(page="Page of the list (10 sources a page)")
    async def sources(
        self, interaction: discord.Interaction[Citebot], page: app_commands.Range[int, 1] = 1
    ) -> None:
        """List the sources this server searches."""
        found = await in_time(
            interaction, self.bot.kb.list_sources(interaction.guild_id), ephemeral=False
        )
        last = render.sources_page_count(len(found)) - 1
        index = min(page - 1, last)
        await send(
            interaction,
            embed=render.sources_embed(found, index),
            view=sources_view(len(found), index),
        )

    @source.command(name="add")
    @moderator_only
    @app_commands.describe(
        url="A web page to add (http or https)",
        file=f"A file to add: {', '.join(ACCEPTED_SUFFIXES[:-1])} or {ACCEPTED_SUFFIXES[-1]}",
        text="Text to add, pasted",
        title="A title to use instead of the detected one",
    )
    async def add(
        self,
        interaction: discord.Interaction[Citebot],
        url: app_commands.Range[str, 1, 2000] | None = None,
        file: discord.Attachment | None = None,
        text: app_commands.Range[str, 1, MAX_PASTED_CHARS] | None = None,
        title: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        """Add a source to this server: exactly one of url, file or text."""
        given = [name for name, value in (("url", url), ("file", file), ("text", text)) if value]
        if len(given) != 1:
            raise BadSource("give exactly one of url, file or text")
        if url:
            check_url(url, self.bot.kb.fetch_policy)  # a clear refusal before deferring
        if file is not None and file.size > MAX_FILE_BYTES:
            raise BadSource(
                f"{file.filename} is {file.size / 1_048_576:.1f} MB; the limit is "
                f"{MAX_FILE_BYTES // 1_048_576} MB"
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        added_by = str(interaction.user.id)
        guild = interaction.guild_id
        queued = _queued_note(interaction)
        upload = (file.filename, await file.read()) if file is not None else None
        result = await add_source(
            self.bot.kb,
            guild_id=guild,
            added_by=added_by,
            title=title,
            url=url,
            upload=upload,
            text=text,
            on_queued=queued,
        )
        await interaction.followup.send(embed=render.added_embed(result), ephemeral=True)

    @source.command(name="remove")
    @moderator_only
    @app_commands.describe(source="The source to remove: start typing its title")
    async def remove(
        self, interaction: discord.Interaction[Citebot], source: app_commands.Range[str, 1, 200]
    ) -> None:
        """Remove one of this server's sources."""
        # Removing waits for the database's write lock, which another process may hold.
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            article = await self.bot.kb.find_article(source, interaction.guild_id)
        except Ambiguous as exc:  # several match: a menu of them, to pick the one to remove
            own = {
                s.doc_id
                for s in await self.bot.kb.list_sources(interaction.guild_id)
                if s.guild_id == interaction.guild_id
            }
            candidates = [(i, t) for i, t in exc.candidates if i in own] or exc.candidates
            await interaction.followup.send(
                content=f"{len(candidates)} sources match; which one should go?",
                view=pick_article_view("remove", candidates),
                ephemeral=True,
            )
            return
        removed = await self.bot.kb.remove_source(article.doc_id, _member(interaction))
        await interaction.followup.send(embed=render.removed_embed(removed), ephemeral=True)

    @source.command(name="refresh")
    @moderator_only
    @app_commands.describe(source="The source to fetch again (leave empty for all of them)")
    async def refresh(
        self,
        interaction: discord.Interaction[Citebot],
        source: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        """Fetch this server's web pages again and update what changed."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        doc_id = None
        if source is not None:
            doc_id = (await self.bot.kb.find_article(source, interaction.guild_id)).doc_id
        # The reply must be sent while the interaction's token is valid (15 minutes): sources
        # not started by then are reported as not reached.
        room = self._refresh_room()
        deadline = asyncio.get_running_loop().time() + room
        results = await self.bot.kb.refresh(
            doc_id,
            _member(interaction),
            deadline=deadline,
            on_queued=_queued_note(interaction),
            wait_limit=room,
        )
        await interaction.followup.send(embed=render.refresh_embed(results), ephemeral=True)

    def _refresh_room(self) -> float:
        """Seconds in which a refresh may still start a source: what is left of the token
        once the slowest fetch, read and write of one source are set aside."""
        kb = self.bot.kb
        slowest = kb.fetch_policy.timeout + kb.ingest.budget.wall_seconds + MARGIN_SECONDS
        return max(30.0, TOKEN_SECONDS - MARGIN_SECONDS - slowest)

    @remove.autocomplete("source")
    @refresh.autocomplete("source")
    async def _own_sources(
        self, interaction: discord.Interaction[Citebot], current: str
    ) -> list[app_commands.Choice[str]]:
        titles = await self.bot.kb.titles(interaction.guild_id, current, 100)
        own = {
            s.doc_id
            for s in await self.bot.kb.list_sources(interaction.guild_id)
            if s.guild_id == interaction.guild_id
        }
        return [
            app_commands.Choice(name=render.choice_name(title), value=str(doc_id))
            for doc_id, title in titles
            if doc_id in own
        ][: render.MAX_CHOICES]


async def setup(bot: Citebot) -> None:
    await bot.add_cog(Sources(bot))
