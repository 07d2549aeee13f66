""" "Find sources": right-click any message, Apps, and get the cited passages for its text,
posted as a reply to it (or to the one who asked alone, where the server prefers private
answers, and always when nothing answers it).

A message context-menu command needs no privileged intent: the interaction carries the message
whole. The reply is a channel message, so the channel sees which message it answers; the
interaction's own "thinking" message (private) is removed once the reply is posted.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import render, replies
from bot.checks import spend_search
from bot.errors import report
from bot.views import answer_view, in_thread
from retrieval.errors import InvalidQuery
from retrieval.knowledge import MAX_QUERY_CHARS
from retrieval.models import Caller

if TYPE_CHECKING:
    from bot.client import Citebot

Interaction = discord.Interaction["Citebot"]
COUNT = 3  # passages, as /ask gives by default


def message_question(message: discord.Message, bot_id: int | None) -> str:
    """The text of a message to search: its content without mentions of the bot, cut at a
    word within the question limit (a long post is searched by its beginning)."""
    text = message.content or ""
    if bot_id is not None:
        text = text.replace(f"<@{bot_id}>", " ").replace(f"<@!{bot_id}>", " ")
    text = " ".join(text.split())
    if len(text) > MAX_QUERY_CHARS:
        text = text[: MAX_QUERY_CHARS + 1].rsplit(" ", 1)[0]
    return text


class FindSources(commands.Cog):
    def __init__(self, bot: Citebot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name="Find sources", callback=self.find_sources)
        self.menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def find_sources(self, interaction: Interaction, message: discord.Message) -> None:
        try:
            await spend_search(interaction)
            question = message_question(message, self.bot.user.id if self.bot.user else None)
            if not question:
                raise InvalidQuery("that message has no text to search (only images or embeds?)")
            assert interaction.guild_id is not None  # guild_only
            private = (await self.bot.kb.server_settings(interaction.guild_id)).private_answers
            caller = Caller.member(
                interaction.guild_id,
                interaction.user.id,
                channel_id=interaction.channel_id,
                command="find-sources",
            )
            answer = await replies.in_time(
                interaction, self.bot.kb.ask(question, COUNT, caller), ephemeral=True
            )
            embed = render.answer_embed(answer)
            if private or not answer.answered:
                view = answer_view(answer, 0, COUNT, interaction.user.id, private=True)
                await replies.send(interaction, embed=embed, view=view, ephemeral=True)
                return
            if not interaction.response.is_done():
                await interaction.response.defer(ephemeral=True, thinking=True)
            threaded = in_thread(message.channel)
            view = answer_view(answer, 0, COUNT, interaction.user.id, threaded=threaded)
            try:
                sent = await message.reply(embed=embed, view=view, mention_author=False)
            except discord.HTTPException:  # no right to post there: the asker sees it alone
                private_view = answer_view(answer, 0, COUNT, interaction.user.id, private=True)
                await interaction.followup.send(embed=embed, view=private_view, ephemeral=True)
                return
            replies.note_posted(self.bot, answer, interaction.guild_id, sent)
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
        except Exception as exc:
            await report(interaction, exc)


async def setup(bot: Citebot) -> None:
    await bot.add_cog(FindSources(bot))
