"""Who may run moderator commands, and each member's search budget: small named predicates,
as checks for app commands and for the buttons under answers.

Discord hides moderator commands from people without Manage Server (the commands'
`default_member_permissions`), but a server admin can override that in Integrations settings,
so the bot checks again at run time: Manage Server, Administrator, or one of this server's
moderator roles (`/settings moderators`; a server that named none has MOD_ROLE_IDS). A role of
another server never counts: roles are looked up in the settings of the server asked in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

if TYPE_CHECKING:
    from bot.client import Citebot

MODERATOR_PERMISSIONS = discord.Permissions(manage_guild=True)


class NotModerator(app_commands.CheckFailure):
    """Raised for a member who is not a moderator; the error handler explains."""


async def roles_that_moderate(client: Citebot, guild_id: int | None) -> frozenset[int]:
    """The roles that make a member a moderator in this server: its own choice, else the
    bot's default (MOD_ROLE_IDS)."""
    if guild_id is None:
        return frozenset()
    chosen = (await client.kb.server_settings(guild_id)).moderator_roles
    return client.settings.mod_role_ids if chosen is None else chosen


async def moderator_roles(interaction: discord.Interaction[Citebot]) -> frozenset[int]:
    """The roles that make a member a moderator in the server of `interaction`."""
    return await roles_that_moderate(interaction.client, interaction.guild_id)


async def member_moderates(client: Citebot, member: discord.Member) -> bool:
    """Whether a member (the author of a message) moderates citebot in their server."""
    perms = member.guild_permissions
    if perms.manage_guild or perms.administrator:
        return True
    roles = await roles_that_moderate(client, member.guild.id)
    return any(role.id in roles for role in member.roles)


async def is_moderator(interaction: discord.Interaction[Citebot]) -> bool:
    perms = interaction.permissions
    if perms.manage_guild or perms.administrator:
        return True
    roles = getattr(interaction.user, "roles", ())
    allowed = await moderator_roles(interaction)
    return any(role.id in allowed for role in roles)


async def _moderator_predicate(interaction: discord.Interaction[Citebot]) -> bool:
    if not await is_moderator(interaction):
        raise NotModerator()
    return True


moderator_only = app_commands.check(_moderator_predicate)


async def spend_search(interaction: discord.Interaction[Citebot]) -> bool:
    """One search of the member's budget in this server (its cooldown: `/settings cooldown`,
    else CITEBOT_ASK_COOLDOWN); CommandOnCooldown when it is spent. Shared by /ask and the
    buttons that search again or write to the log."""
    client = interaction.client
    rate, per = client.settings.ask_rate, client.settings.ask_per
    if interaction.guild_id is not None:
        cooldown = (await client.kb.server_settings(interaction.guild_id)).cooldown
        if cooldown is not None:
            rate, per = cooldown
    client.limiter.hit(interaction.guild_id, interaction.user.id, rate, per)
    return True
