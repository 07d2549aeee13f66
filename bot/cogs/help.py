"""/help: what citebot does, the commands this member can use, and a question to try.

The commands are read from the bot's own command tree, so the list never lags behind them:
moderator commands (those Discord shows only to Manage Server by default) are listed for
moderators alone. The example question is drawn from this server's corpus: one about its newest
source (a bundled article's when the server has added none), never a member's own question.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.checks import is_moderator
from bot.replies import in_time, send

if TYPE_CHECKING:
    from bot.client import Citebot

Interaction = discord.Interaction["Citebot"]


def command_lines(tree: app_commands.CommandTree, moderator: bool) -> tuple[list[str], list[str]]:
    """("/name: description" for everyone's commands, the same for moderators' commands)."""
    everyone: list[str] = []
    moderators: list[str] = []
    for command in sorted(tree.get_commands(), key=lambda c: c.name):
        if isinstance(command, app_commands.ContextMenu):
            everyone.append(f"*{command.name}* (right-click a message, Apps)")
            continue
        restricted = command.default_permissions is not None
        leaves = (
            [command]
            if isinstance(command, app_commands.Command)
            else [c for c in command.walk_commands() if isinstance(c, app_commands.Command)]
        )
        for leaf in leaves:
            line = f"`/{leaf.qualified_name}`: {leaf.description}"
            (moderators if restricted else everyone).append(line)
    return everyone, moderators if moderator else []


class Help(commands.Cog):
    def __init__(self, bot: Citebot) -> None:
        self.bot = bot

    @app_commands.command(name="help")
    @app_commands.guild_only()
    async def help(self, interaction: Interaction) -> None:
        """What citebot does and how to use it here."""
        assert interaction.guild_id is not None  # guild_only
        moderator = await is_moderator(interaction)
        everyone, moderators = command_lines(self.bot.tree, moderator)
        example = await in_time(
            interaction, self.bot.kb.example_question(interaction.guild_id), ephemeral=True
        )
        embed = render.help_embed(everyone, moderators, example)
        await send(interaction, embed=embed, ephemeral=True, deferred_ephemeral=True)


async def setup(bot: Citebot) -> None:
    await bot.add_cog(Help(bot))
