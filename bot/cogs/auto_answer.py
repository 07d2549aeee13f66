"""Auto-answers: new posts in the channels and forums a server named (`/settings auto-answer`)
get an answer in a thread, unasked; plain messages in the bot's threads are follow-ups.

Rules (issue 11): once per post; nothing posted when the corpus does not answer (a forum post
gets the forum's "Unanswered" tag instead, when the forum has one); later messages are answered
as follow-ups only in the bot's own threads (in a forum post, members talk among themselves);
silent in a thread once a moderator has written there (people are helping; the bot steps back:
remembered while the bot runs); at most `DAILY_CAP` auto-answers a member a day in a server.
System messages ("started a thread") are no questions. Reading message text needs the privileged
Message Content intent (`Settings.message_content`; `citebot run` asks for it and does without
when the application lacks it): without it the bot receives no messages, and `/settings show`
says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot import render, replies
from bot.checks import member_moderates
from bot.cogs.find_sources import message_question
from bot.views import answer_view
from retrieval.errors import CitebotError
from retrieval.models import Answer, Caller

if TYPE_CHECKING:
    from bot.client import Citebot

log = logging.getLogger(__name__)

COUNT = 3  # passages, as /ask gives by default
DAILY_CAP = 20  # auto-answers a member gets a day in one server
UNANSWERED_TAG = "unanswered"  # a forum tag of this name (any case) marks a post nothing answers
REMEMBERED = 10_000  # message and thread ids kept for "once per post" and "a moderator replied"
THREAD_NAME_LIMIT = 100


class _Recent(OrderedDict[int, None]):
    """A bounded set of ids, oldest forgotten first."""

    def add(self, key: int) -> bool:
        """Whether `key` is new (and now remembered)."""
        if key in self:
            return False
        self[key] = None
        if len(self) > REMEMBERED:
            self.popitem(last=False)
        return True


class AutoAnswer(commands.Cog):
    def __init__(self, bot: Citebot) -> None:
        self.bot = bot
        self.answered = _Recent()  # messages already answered (or judged unanswerable)
        self.moderated = _Recent()  # threads where a moderator has written
        self._daily: dict[tuple[int, int], tuple[datetime.date, int]] = {}
        # Messages being considered now: `idle()` waits until there are none (a clean stop,
        # and a test that checks nothing was posted).
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def idle(self) -> None:
        """Until no message is being considered."""
        await self._idle.wait()

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.guild is None or not message.content:
            return  # a bot's, a DM, or no text (no Message Content intent)
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return  # a system message ("started a thread", a pin): nobody asked anything
        self._in_flight += 1
        self._idle.clear()
        try:
            await self._consider(message)
        except CitebotError:
            return  # a question the engine refuses (empty once cleaned): nothing to post
        except Exception:
            log.exception("auto-answer for message %s failed", message.id)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def _consider(self, message: discord.Message) -> None:
        guild = message.guild
        assert guild is not None
        channel = message.channel
        settings = await self.bot.kb.server_settings(guild.id)
        watched = settings.auto_answer_channels
        if isinstance(channel, discord.Thread):
            parent = channel.parent
            if message.id == channel.id:  # a forum post itself (its first message)
                if isinstance(parent, discord.ForumChannel) and parent.id in watched:
                    await self._answer_post(message, channel, parent)
                return
            if await self._is_moderator(message):
                self.moderated.add(channel.id)
                return
            if channel.id in self.moderated:
                return  # a moderator is helping here
            # Later messages are follow-ups only in the bot's own threads (Follow up, an
            # auto-answered channel message): in a forum post, members talk among themselves.
            if self.bot.user is not None and channel.owner_id == self.bot.user.id:
                await self._answer_in(message, channel, context=channel.name)
        elif isinstance(channel, discord.TextChannel) and channel.id in watched:
            await self._answer_message(message, channel)

    async def _is_moderator(self, message: discord.Message) -> bool:
        author = message.author
        return isinstance(author, discord.Member) and await member_moderates(self.bot, author)

    def _within_cap(self, message: discord.Message) -> bool:
        assert message.guild is not None
        key = (message.guild.id, message.author.id)
        today = datetime.datetime.now(datetime.UTC).date()
        day, count = self._daily.get(key, (today, 0))
        if day != today:
            count = 0
        if count >= DAILY_CAP:
            return False
        self._daily[key] = (today, count + 1)
        if len(self._daily) > REMEMBERED:
            self._daily = {k: v for k, v in self._daily.items() if v[0] == today}
        return True

    async def _ask(
        self, message: discord.Message, question: str, context: str | None = None
    ) -> Answer | None:
        """The answer to `question` for this member, logged; None when the post was answered
        already or the member is over today's cap."""
        if not self.answered.add(message.id) or not self._within_cap(message):
            return None
        assert message.guild is not None
        caller = Caller.member(
            message.guild.id,
            message.author.id,
            channel_id=message.channel.id,
            command="auto-answer",
        )
        return await self.bot.kb.ask(question, COUNT, caller, context)

    async def _post(
        self, where: discord.abc.Messageable, answer: Answer, asker: int, **kwargs: object
    ) -> None:
        view = answer_view(answer, 0, COUNT, asker, threaded=True)
        sent = await where.send(embed=render.answer_embed(answer), view=view, **kwargs)  # type: ignore[arg-type]
        replies.note_posted(self.bot, answer, sent.guild.id if sent.guild else None, sent)

    def _unanswered(self, message: discord.Message, answer: Answer | None) -> None:
        """Nothing was posted: the log links the member's own (public) message instead, where
        a source added later is announced."""
        if answer is not None and answer.query_id is not None and message.guild is not None:
            self.bot.kb.answer_posted(
                answer.query_id, message.guild.id, message.channel.id, message.id
            )

    async def _answer_message(self, message: discord.Message, channel: discord.TextChannel) -> None:
        """A new message in an auto-answer text channel: answered in a thread on it."""
        question = message_question(message, self.bot.user.id if self.bot.user else None)
        answer = await self._ask(message, question) if question else None
        if answer is None or not answer.answered:
            self._unanswered(message, answer)
            return
        name = " ".join(question.split())[:THREAD_NAME_LIMIT]
        thread = await message.create_thread(name=name)
        await self._post(thread, answer, message.author.id)

    async def _answer_post(
        self, message: discord.Message, thread: discord.Thread, forum: discord.ForumChannel
    ) -> None:
        """A new forum post: answered in its thread, or tagged when nothing answers it."""
        body = message_question(message, self.bot.user.id if self.bot.user else None)
        question = " ".join(f"{thread.name} {body}".split())[:1000].strip()
        answer = await self._ask(message, question)
        if answer is None:
            return
        if answer.answered:
            await self._post(thread, answer, message.author.id)
            return
        self._unanswered(message, answer)
        tag = next((t for t in forum.available_tags if t.name.casefold() == UNANSWERED_TAG), None)
        if tag is not None:
            with contextlib.suppress(discord.HTTPException):  # Manage Threads is needed
                await thread.add_tags(tag)

    async def _answer_in(
        self, message: discord.Message, thread: discord.Thread, *, context: str
    ) -> None:
        """A plain message in a thread the bot answers in: a follow-up, answered as a reply."""
        question = message_question(message, self.bot.user.id if self.bot.user else None)
        answer = await self._ask(message, question, context) if question else None
        if answer is None or not answer.answered:
            self._unanswered(message, answer)
            return
        await self._post(thread, answer, message.author.id, reference=message, mention_author=False)


async def setup(bot: Citebot) -> None:
    await bot.add_cog(AutoAnswer(bot))
