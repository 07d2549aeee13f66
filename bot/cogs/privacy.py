"""/privacy forget-me: a member deletes their own questions and votes, in every server at once.

Discord's Developer Terms want a user's data deleted promptly when they ask. The command shows
what will be deleted and a button to confirm, both for the member alone; the button works only
for the member it was shown to. Works in servers and in direct messages with the bot.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.errors import report
from retrieval.models import Caller

if TYPE_CHECKING:
    from bot.client import Citebot

Interaction = discord.Interaction["Citebot"]
WHAT_GOES = (
    "This deletes every question you asked citebot and every vote you gave, in every server "
    "it is in. Moderators will no longer see them. It cannot be undone."
)


class ForgetMeButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"citebot:forget-me:(?P<user>\d+)",
):
    def __init__(self, user_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Delete my questions",
                style=discord.ButtonStyle.danger,
                custom_id=f"citebot:forget-me:{user_id}",
            )
        )
        self.user_id = user_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> ForgetMeButton:
        return cls(int(match["user"]))

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        try:
            if interaction.user.id != self.user_id:
                await interaction.response.send_message(
                    embed=render.error_embed("This button deletes someone else's questions."),
                    ephemeral=True,
                )
                return
            await interaction.response.defer()  # the deletion waits for the write lock
            questions, votes = await interaction.client.kb.forget_member(
                self.user_id, Caller.member(interaction.guild_id, self.user_id), everywhere=True
            )
            embed = render.forgotten_embed(questions, votes, "your", "in every server")
            await interaction.edit_original_response(embed=embed, view=None)
        except Exception as exc:
            await report(interaction, exc)


class Privacy(commands.Cog):
    privacy = app_commands.Group(name="privacy", description="Your data in citebot")

    def __init__(self, bot: Citebot) -> None:
        self.bot = bot

    @privacy.command(name="forget-me")
    async def forget_me(self, interaction: Interaction) -> None:
        """Delete your questions and votes in every server (asks you to confirm)."""
        view = discord.ui.View(timeout=None)
        view.add_item(ForgetMeButton(interaction.user.id))
        embed = discord.Embed(
            title="Delete your questions?", description=WHAT_GOES, colour=render.COLOUR_ERROR
        )
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)


async def setup(bot: Citebot) -> None:
    bot.add_dynamic_items(ForgetMeButton)
    await bot.add_cog(Privacy(bot))
