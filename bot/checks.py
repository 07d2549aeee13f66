"""Who may run moderator commands: tiny named predicates, as checks for app commands.

Discord hides moderator commands from people without Manage Server (the commands'
`default_member_permissions`), but a server admin can override that in Integrations settings,
so the bot checks again at run time: Manage Server, Administrator, or a role in MOD_ROLE_IDS.
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


def is_moderator(interaction: discord.Interaction[Citebot]) -> bool:
    perms = interaction.permissions
    if perms.manage_guild or perms.administrator:
        return True
    roles = getattr(interaction.user, "roles", ())
    allowed = interaction.client.settings.mod_role_ids
    return any(role.id in allowed for role in roles)


def _moderator_predicate(interaction: discord.Interaction[Citebot]) -> bool:
    if not is_moderator(interaction):
        raise NotModerator()
    return True


moderator_only = app_commands.check(_moderator_predicate)
