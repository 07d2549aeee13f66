"""/settings: a server's moderators choose how citebot behaves there (stored per server).

Every reply is private: settings are the moderators' business. Each change answers with the
server's settings as they now are, so a moderator sees at once what took effect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import render, replies
from bot.checks import MODERATOR_PERMISSIONS, moderator_only, roles_that_moderate
from retrieval.server_settings import (
    COOLDOWN_ASKS,
    COOLDOWN_SECONDS,
    RETENTION_DAYS,
    ServerSettings,
)

if TYPE_CHECKING:
    from bot.client import Citebot

Interaction = discord.Interaction["Citebot"]


class ServerSettingsCog(commands.Cog, name="Settings"):
    """This server's settings, for its moderators."""

    settings = app_commands.Group(
        name="settings",
        description="How citebot behaves in this server (moderators)",
        guild_only=True,
        default_permissions=MODERATOR_PERMISSIONS,
    )
    moderators = app_commands.Group(
        name="moderators", description="Roles whose members moderate citebot", parent=settings
    )

    def __init__(self, bot: Citebot) -> None:
        self.bot = bot

    async def _reply(self, interaction: Interaction, settings: ServerSettings, done: str) -> None:
        embed = render.settings_embed(
            settings,
            default_roles=self.bot.settings.mod_role_ids,
            default_cooldown=(self.bot.settings.ask_rate, self.bot.settings.ask_per),
            message_content=self.bot.intents.message_content,
            done=done,
        )
        await replies.send(interaction, embed=embed, ephemeral=True, deferred_ephemeral=True)

    async def _change(self, interaction: Interaction, done: str, **changes: object) -> None:
        assert interaction.guild_id is not None  # guild_only
        # A write may wait for another process's lock (a folder being added): defer first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        updated = await self.bot.kb.change_server_settings(interaction.guild_id, **changes)
        await self._reply(interaction, updated, done)

    async def _current(self, interaction: Interaction) -> ServerSettings:
        assert interaction.guild_id is not None  # guild_only
        return await self.bot.kb.server_settings(interaction.guild_id)

    @settings.command(name="show")
    @moderator_only
    async def show(self, interaction: Interaction) -> None:
        """This server's settings."""
        await self._reply(interaction, await self._current(interaction), "")

    @moderators.command(name="add")
    @moderator_only
    @app_commands.describe(role="Members with this role can add sources and read the log")
    async def add_moderator(self, interaction: Interaction, role: discord.Role) -> None:
        """Make a role's members moderators of citebot here."""
        # From the roles in force: adding to the default keeps the default's roles.
        roles = await roles_that_moderate(self.bot, interaction.guild_id)
        await self._change(
            interaction,
            f"{role.mention} moderates citebot here.",
            moderator_roles=roles | {role.id},
        )

    @moderators.command(name="remove")
    @moderator_only
    @app_commands.describe(role="The role to take off the list")
    async def remove_moderator(self, interaction: Interaction, role: discord.Role) -> None:
        """Take a role off this server's moderator roles."""
        current = await roles_that_moderate(self.bot, interaction.guild_id)
        if role.id not in current:
            await self._reply(
                interaction,
                await self._current(interaction),
                f"{role.mention} was not a moderator role here; nothing changed.",
            )
            return
        await self._change(
            interaction,
            f"{role.mention} no longer moderates citebot here.",
            moderator_roles=current - {role.id},
        )

    @moderators.command(name="default")
    @moderator_only
    async def default_moderators(self, interaction: Interaction) -> None:
        """Back to the bot's default moderator roles (its operator's MOD_ROLE_IDS)."""
        await self._change(
            interaction, "Moderator roles are back to the default.", moderator_roles=None
        )

    @settings.command(name="answers")
    @moderator_only
    @app_commands.describe(visibility="Public: the channel sees answers; private: only the asker")
    async def answers(
        self, interaction: Interaction, visibility: Literal["public", "private"]
    ) -> None:
        """Whether /ask answers in the channel or only to the asker."""
        private = visibility == "private"
        await self._change(
            interaction, f"Answers are now {visibility} by default.", private_answers=private
        )

    @settings.command(name="cooldown")
    @moderator_only
    @app_commands.describe(
        questions="How many questions a member may ask ...",
        seconds="... in this many seconds",
    )
    async def cooldown(
        self,
        interaction: Interaction,
        questions: app_commands.Range[int, COOLDOWN_ASKS[0], COOLDOWN_ASKS[1]],
        seconds: app_commands.Range[int, COOLDOWN_SECONDS[0], COOLDOWN_SECONDS[1]],
    ) -> None:
        """How fast each member may ask (page and vote buttons count too)."""
        await self._change(
            interaction,
            f"Each member may now ask {questions} question{'s' * (questions != 1)} "
            f"per {seconds} s.",
            cooldown=(questions, seconds),
        )

    @settings.command(name="auto-answer")
    @moderator_only
    @app_commands.describe(
        channel="A text channel or a forum",
        enabled="Answer new posts there (true) or stop (false)",
    )
    async def auto_answer(
        self,
        interaction: Interaction,
        channel: discord.TextChannel | discord.ForumChannel,
        enabled: bool,
    ) -> None:
        """Answer each new post in a channel or forum, in a thread, unasked."""
        current = (await self._current(interaction)).auto_answer_channels
        channels = current | {channel.id} if enabled else current - {channel.id}
        verb = "now gets" if enabled else "no longer gets"
        await self._change(
            interaction, f"{channel.mention} {verb} answers unasked.", auto_answer_channels=channels
        )

    @settings.command(name="digest")
    @moderator_only
    @app_commands.describe(channel="Where the weekly digest goes (leave out to stop it)")
    async def digest(
        self, interaction: Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        """The channel for the weekly digest of questions (moderators' summary)."""
        done = (
            f"The weekly digest goes to {channel.mention}: the week's figures and the largest "
            "gaps, quoting members' unanswered questions (choose a moderators' channel)."
            if channel
            else "No weekly digest is sent."
        )
        await self._change(interaction, done, digest_channel=channel.id if channel else None)

    @settings.command(name="retention")
    @moderator_only
    @app_commands.describe(days="Days questions are kept (0: until deleted)")
    async def retention(
        self,
        interaction: Interaction,
        days: app_commands.Range[int, 0, RETENTION_DAYS[1]],
    ) -> None:
        """How long this server's questions stay in the log."""
        done = (
            f"Questions are kept {days} day{'s' * (days != 1)}."
            if days
            else "Questions are kept until deleted."
        )
        await self._change(interaction, done, retention_days=days or None)


async def setup(bot: Citebot) -> None:
    await bot.add_cog(ServerSettingsCog(bot))
