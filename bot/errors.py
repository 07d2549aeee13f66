"""The one place where failures of slash commands and buttons become messages.

Order matters (python-discord's error handler is the model): what a user can fix gets a short
ephemeral reply; anything unexpected gets an apology and a logged traceback, and the bot
carries on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.checks import NotModerator
from bot.render import error_embed, safe
from retrieval.errors import HINT_LIST_SOURCES, Ambiguous, CitebotError

if TYPE_CHECKING:
    from bot.client import Citebot

log = logging.getLogger(__name__)

NOT_MODERATOR = (
    "This command is for moderators: it needs the Manage Server permission or a moderator role."
)
# The Discord form of the engine's hints (the command line has its own).
HINTS = {HINT_LIST_SOURCES: "`/sources` lists them"}
UNEXPECTED = "Sorry, something went wrong on my side. It has been logged; please try again."


def message_for(error: Exception) -> str | None:
    """The user-facing text for an error a user can act on, or None for a bug."""
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        original = getattr(error, "original", None) or error.__cause__
        if isinstance(original, Exception) and not isinstance(original, type(error)):
            inner = message_for(original)
            if inner is not None:
                return inner
        if isinstance(error, app_commands.TransformerError):
            return f"That value is not valid: {error.value!r}."
        return None
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"You're asking too fast. Try again in {error.retry_after:.0f} s."
    if isinstance(error, NotModerator | app_commands.MissingPermissions):
        return NOT_MODERATOR
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works in a server, not in direct messages."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here."
    if isinstance(error, Ambiguous):
        # Titles (and the fragment typed) are anyone's text: a title such as
        # "[Official notice](http://evil.example)" must list as text, not as a link.
        names = "\n".join(
            f"• {doc_id}: {safe(title, 150, one_line=True)}"
            for doc_id, title in error.candidates[:10]
        )
        return f"{safe(str(error), 500, one_line=True)}:\n{names}"
    if isinstance(error, CitebotError):
        # Engine messages quote titles, file names and URLs that anyone may have chosen: they
        # are shown as text. Only the surface's own hint carries formatting.
        text = safe(str(error), 3000)
        hint = HINTS.get(error.hint or "")
        if hint:
            text = f"{text}; {hint}"
        first = text.split(" ", 1)[0]
        # Sentence case, but never change a file name, URL or id the message starts with.
        return text[:1].upper() + text[1:] if first.isalpha() else text
    return None


async def report(interaction: discord.Interaction[Citebot], error: Exception) -> None:
    """Tell the user (ephemerally) what went wrong; log the traceback of anything unexpected."""
    text = message_for(error)
    if text is None:
        command = interaction.command.qualified_name if interaction.command else "component"
        log.error("error in %s (interaction %s)", command, interaction.id, exc_info=error)
        text = UNEXPECTED
    embed = error_embed(text)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(embed=embed, ephemeral=True)
        else:
            await interaction.response.send_message(embed=embed, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not report an error to interaction %s", interaction.id, exc_info=True)


class CitebotTree(app_commands.CommandTree["Citebot"]):
    """A command tree whose on_error is the handler above."""

    async def on_error(
        self, interaction: discord.Interaction[Citebot], error: app_commands.AppCommandError
    ) -> None:
        await report(interaction, error)
