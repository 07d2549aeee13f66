"""The emulator's messages, threads, forums and message commands, against the real discord.py
client: a throwaway bot (not citebot) that listens, replies, starts threads and tags posts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import pytest
from discord import app_commands

from discord_emulator import DiscordEmulator, running_emulator
from discord_emulator.model import Message


class Listener(discord.Client):
    """Records what it hears; its tree has one message command, "Echo"."""

    def __init__(self, *, message_content: bool) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.message_content = message_content
        super().__init__(intents=intents)
        self.tree = app_commands.CommandTree(self)
        self.heard: list[discord.Message] = []
        self.threads: list[discord.Thread] = []
        self.synced = False
        self._changed = asyncio.Event()

        @self.tree.context_menu(name="Echo")
        async def echo(interaction: discord.Interaction, message: discord.Message) -> None:
            await interaction.response.send_message(f"echo: {message.content}", ephemeral=True)

    async def setup_hook(self) -> None:
        await self.tree.sync()
        self.synced = True

    async def on_message(self, message: discord.Message) -> None:
        self.heard.append(message)
        self._wake()

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.threads.append(thread)
        self._wake()

    async def on_guild_channel_create(self, channel: discord.abc.GuildChannel) -> None:
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def until(self, predicate) -> None:
        """Until `predicate()` holds, re-checked whenever this client hears something."""
        async with asyncio.timeout(30):
            while not predicate():
                await self._changed.wait()


async def _run(emu: DiscordEmulator, client: Listener) -> asyncio.Task[None]:
    runner = asyncio.create_task(client.start(emu.token))
    await emu.wait_until(lambda: client.synced, what="the client's commands synced")
    return runner


@pytest.fixture
async def emu(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordEmulator]:
    async with running_emulator(monkeypatch) as emulator:
        yield emulator


async def test_without_the_intent_a_message_arrives_without_its_text(emu) -> None:
    client = Listener(message_content=False)
    runner = await _run(emu, client)
    try:
        general = emu.guild.channels[0]
        await emu.post(emu.member, general, "where is the harbour report?")
        await emu.post(emu.member, general, "and you?", mention_bot=True)
        await client.until(lambda: len(client.heard) == 2)
        assert client.heard[0].content == ""  # no Message Content intent
        assert client.heard[1].content == f"<@{emu.bot_user.id}> and you?"  # it was mentioned
        # A message command carries the message whole, intent or not.
        target = emu.messages_in(general)[0]
        echo = await emu.run_message_command(emu.moderator, "Echo", target)
        assert (await echo.wait_message()).content == "echo: where is the harbour report?"
    finally:
        await client.close()
        await runner


async def test_asking_for_the_intent_without_it_enabled_cannot_connect(emu) -> None:
    client = Listener(message_content=True)
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await client.start(emu.token)
    await client.close()


async def test_replies_threads_and_forum_posts(emu) -> None:
    emu.message_content_enabled = True
    client = Listener(message_content=True)
    runner = await _run(emu, client)
    try:
        general = emu.guild.channels[0]
        question = await emu.post(emu.member, general, "who built the pier?")
        await client.until(lambda: len(client.heard) == 1)
        heard = client.heard[0]
        assert heard.content == "who built the pier?"
        # A reply, then a thread on the question (the thread takes the message's id).
        reply = await heard.reply("The harbour board did.", mention_author=False)
        shown: Message = emu.messages[reply.id]
        assert shown.message_reference == {
            "message_id": str(question.id),
            "channel_id": str(general.id),
            "guild_id": str(emu.guild.id),
        }
        thread = await heard.create_thread(name="who built the pier?")
        assert thread.id == question.id and emu.threads_of(general)[0].name == thread.name
        await thread.send("More in here.")
        assert [m.content for m in emu.messages_in(emu.threads_of(general)[0])] == ["More in here."]
        await emu.post(emu.member, emu.threads_of(general)[0], "thanks")
        await client.until(lambda: client.heard[-1].content == "thanks")
        assert isinstance(client.heard[-1].channel, discord.Thread)
        # A forum post is a thread whose first message has its id; the bot may tag it.
        forum = await emu.add_channel("help", forum=True, tags=["answered", "unanswered"])
        await client.until(lambda: client.get_channel(forum.id) is not None)
        post, first = await emu.start_forum_post(emu.member, forum, "Pier lights", "When?")
        await client.until(lambda: client.heard[-1].id == first.id)
        assert first.id == post.id and client.threads[-1].id == post.id
        channel = client.get_channel(forum.id)
        assert isinstance(channel, discord.ForumChannel)
        tag = next(t for t in channel.available_tags if t.name == "unanswered")
        await client.heard[-1].channel.edit(applied_tags=[tag])
        assert post.applied_tags == [forum.tag("unanswered")]
        # The bot deletes its own message, never someone else's.
        await reply.delete()
        assert emu.messages[reply.id].deleted
        with pytest.raises(discord.Forbidden):
            await heard.delete()
        assert [v.rule for v in emu.take_violations()] == ["delete_others_message"]
    finally:
        await client.close()
        await runner
