"""Logging for `citebot` and `citebot run`: the level from CITEBOT_LOG_LEVEL, and what people
wrote kept out of the logs unless CITEBOT_LOG_CONTENT opts in.

At DEBUG some libraries log content: discord.py's gateway logger prints whole gateway events
(an interaction's options are the question), its HTTP and webhook loggers print request bodies
(the answer embed, which repeats the question) and URLs (which carry interaction tokens), and
aiosqlite prints every statement with its parameters (the question, as it is written to the log
table). Those loggers stay at INFO or above, whatever the level, unless CITEBOT_LOG_CONTENT=1:
turning on DEBUG to chase a bug must not quietly start recording what members ask.

discord.py is imported only when the bot asks for its log format, so the CLI never loads it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping

log = logging.getLogger(__name__)

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
CONTENT_LOGGERS = ("discord.gateway", "discord.http", "discord.webhook", "aiosqlite")
CONTENT_OPT_IN = ("1", "true", "yes", "on")
FORMAT = "%(levelname)s %(name)s: %(message)s"


def logs_content(env: Mapping[str, str]) -> bool:
    """Whether CITEBOT_LOG_CONTENT explicitly allows questions and answers in DEBUG logs."""
    return env.get("CITEBOT_LOG_CONTENT", "").strip().lower() in CONTENT_OPT_IN


def configure(env: Mapping[str, str], *, default: str, discord_format: bool = False) -> int:
    """Log to stderr at CITEBOT_LOG_LEVEL (else `default`); returns the level.

    The CLI keeps any handler already installed (basicConfig); the bot replaces them with
    discord.py's own coloured format (so each line is printed once). A level that is not one of
    LEVELS falls back to `default` with a warning naming the setting.
    """
    raw = (env.get("CITEBOT_LOG_LEVEL") or "").strip()
    known = raw.upper() in LEVELS
    level = logging.getLevelNamesMapping()[raw.upper() if known else default]
    if discord_format:
        import discord.utils

        logging.getLogger().handlers.clear()
        discord.utils.setup_logging(level=level, root=True)
    else:
        logging.basicConfig(level=level, format=FORMAT, stream=sys.stderr)
    # Above the root's level when that is higher: a logger's own level lets records through
    # to the root's handlers even when the root itself would drop them.
    content_level = logging.NOTSET if logs_content(env) else max(level, logging.INFO)
    for name in CONTENT_LOGGERS:
        logging.getLogger(name).setLevel(content_level)
    if raw and not known:
        log.warning(
            "CITEBOT_LOG_LEVEL=%r is not one of %s; logging at %s", raw, ", ".join(LEVELS), default
        )
    return level
