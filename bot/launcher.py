"""`citebot run`: start the Discord bot. Imported only for that command, so that
`citebot ask` never loads discord.py.

Start-up problems (no token, a token Discord rejects, a database that cannot be opened) become
one line on stderr and a non-zero exit status, never a traceback. The token is read from the
environment or `.env` in the working directory and is never logged; what members ask stays out
of the logs unless CITEBOT_LOG_CONTENT opts in (see bot.logsetup).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import sys
from dataclasses import replace

import discord
from dotenv import load_dotenv

from bot import logsetup
from bot.client import bot_for
from bot.settings import Settings, SettingsError
from retrieval.errors import CitebotError
from retrieval.ingest import IngestQueue
from retrieval.knowledge import KnowledgeBase
from retrieval.sandbox import Budget
from retrieval.urls import FetchPolicy

log = logging.getLogger("citebot")

DOTENV = ".env"  # relative: the working directory's, and nowhere else


NO_MESSAGE_CONTENT = (
    "the Message Content intent is not enabled for this application (Developer Portal > Bot > "
    "Privileged Gateway Intents): running without it, so auto-answers and follow-up messages "
    "in threads are off; slash commands, buttons and Find sources work (README, Auto-answers)"
)


async def _serve(settings: Settings) -> None:
    policy = FetchPolicy.from_env(os.environ)
    async with await KnowledgeBase.open(
        settings.db_path,
        fetch_policy=policy,
        ingest=IngestQueue(Budget.from_env(os.environ)),
        shards=settings.shards,
    ) as kb:
        # The compiled search, loaded in the background: by the engine processes that answer
        # the questions, else by this process.
        if not await kb.answer_in_processes(settings.engine_processes, compiled=True):
            await kb.expect_many_questions()
        while True:
            try:
                await _run_bot(kb, settings)
            except discord.PrivilegedIntentsRequired:
                if settings.message_content is not None:  # required, or never asked for
                    raise
                # Asked for by default, refused: log in again without it.
                log.warning(NO_MESSAGE_CONTENT)
                settings = replace(settings, message_content=False)
                continue
            break
        log.info("stopped")


async def _run_bot(kb: KnowledgeBase, settings: Settings) -> None:
    async with bot_for(kb, settings) as bot:
        bot.settles_heap = True  # this process is the bot's own (see retrieval.heap)
        # A service manager stops us with SIGTERM: log out and close the database cleanly.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
        await bot.start(settings.token)


def run() -> int:
    """Run until interrupted; the exit status says how it ended."""
    # .env from the working directory only (where the README says to put it): never from a
    # parent folder, where someone else's .env could set the token or widen the fetch policy.
    load_dotenv(DOTENV)
    logsetup.configure(os.environ, default="INFO", discord_format=True)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"citebot: error: {exc}", file=sys.stderr)
        return 1
    try:
        asyncio.run(_serve(settings))
    except discord.LoginFailure:
        print(
            "citebot: error: Discord rejected DISCORD_TOKEN; copy the bot token again from the "
            "Developer Portal (Bot > Reset Token)",
            file=sys.stderr,
        )
        return 1
    except discord.PrivilegedIntentsRequired:
        print(
            "citebot: error: CITEBOT_MESSAGE_CONTENT=1 asks for the Message Content intent, "
            "which is not enabled for this application; enable it in the Developer Portal "
            "(Bot > Privileged Gateway Intents) or unset CITEBOT_MESSAGE_CONTENT",
            file=sys.stderr,
        )
        return 1
    except CitebotError as exc:  # a malformed CITEBOT_ALLOWED_PRIVATE_NETWORKS, for example
        print(f"citebot: error: {exc}", file=sys.stderr)
        return 1
    except (sqlite3.Error, OSError) as exc:
        print(f"citebot: error: cannot start: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from retrieval.backends import database_errors

        if not isinstance(exc, database_errors()):
            raise
        # A PostgreSQL server's refusal (a wrong password, no such database): one line; its
        # message names neither the address nor the password.
        print(f"citebot: error: cannot start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        log.info("stopped")
    return 0
