"""Messages people post, the channel API the bot posts and deletes with, threads and forums,
message context-menu commands, and the Message Content intent rule.

A part of `DiscordEmulator` (it inherits `Messaging`): the REST routes the bot calls
(`POST /channels/{id}/messages`, `DELETE .../messages/{id}`, `POST .../messages/{id}/threads`,
`PATCH /channels/{id}`, `GET .../messages/{id}`) and what a test does as a person (`post`,
`start_forum_post`, `run_message_command`, `add_channel`).

Discord's rules kept here: a bot receives message events only with the GUILD_MESSAGES intent,
and their text (content, embeds, attachments, components) only with the privileged
MESSAGE_CONTENT intent, or when the message mentions it; asking for that intent without it
being enabled for the application closes the connection (4014, "Disallowed intent(s)"). A
thread started from a message takes the message's id; a forum post is a thread whose first
message has the thread's id.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .model import (
    ADMINISTRATOR,
    CHANNEL_FORUM,
    CHANNEL_PUBLIC_THREAD,
    CHANNEL_TEXT,
    CREATE_PUBLIC_THREADS,
    INTERACTION_COMMAND,
    INTERACTION_MODAL_SUBMIT,
    MANAGE_THREADS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    VIEW_CHANNEL,
    Channel,
    Guild,
    Interaction,
    Member,
    Message,
    User,
    snowflake,
)
from .refusal import _json, _Refusal

if TYPE_CHECKING:
    from .server import DiscordEmulator

INTENT_GUILD_MESSAGES = 1 << 9
INTENT_MESSAGE_CONTENT = 1 << 15
COMMAND_MESSAGE = 3  # a message context-menu command's type
THREAD_NAME_LIMIT = 100
# What a message without its content shows a bot lacking the Message Content intent.
_CONTENT_FIELDS = {"content": "", "embeds": [], "attachments": [], "components": []}


class Messaging:
    """The messaging part of DiscordEmulator (see the module docstring)."""

    # Whether the application may use the privileged Message Content intent (the toggle in
    # the Developer Portal); a bot that asks for it without it cannot connect.
    message_content_enabled: bool = False

    def _messaging_routes(self: DiscordEmulator, app: web.Application, api: str) -> None:
        channel = f"{api}/channels/{{channel_id}}"
        app.router.add_post(f"{channel}/messages", self._post_channel_message)
        app.router.add_get(f"{channel}/messages/{{message_id}}", self._get_channel_message)
        app.router.add_delete(f"{channel}/messages/{{message_id}}", self._delete_channel_message)
        app.router.add_post(f"{channel}/messages/{{message_id}}/threads", self._thread_from)
        app.router.add_patch(channel, self._patch_channel)

    # -- the world ------------------------------------------------------------------------

    async def add_channel(
        self: DiscordEmulator,
        name: str,
        *,
        guild: Guild | None = None,
        forum: bool = False,
        tags: Sequence[str] = (),
    ) -> Channel:
        """A text channel, or a forum with these tags, in `guild`; told to a connected bot."""
        guild = guild or self.guild
        channel = Channel(
            snowflake(),
            guild.id,
            name,
            type=CHANNEL_FORUM if forum else CHANNEL_TEXT,
            position=len(guild.channels),
            available_tags=[{"id": snowflake(), "name": t} for t in tags],
        )
        guild.channels.append(channel)
        await self._dispatch_to_all("CHANNEL_CREATE", channel.to_payload())
        self._notify()
        return channel

    def messages_in(self: DiscordEmulator, channel: Channel) -> list[Message]:
        """The visible messages of a channel or thread, oldest first (ephemeral ones too)."""
        found = [m for m in self.messages.values() if m.channel_id == channel.id and m.visible]
        return sorted(found, key=lambda m: m.id)

    def threads_of(self: DiscordEmulator, channel: Channel) -> list[Channel]:
        guild = self.guilds[channel.guild_id]
        return [t for t in guild.threads if t.parent_id == channel.id]

    # -- a person acts ------------------------------------------------------------------

    async def post(
        self: DiscordEmulator,
        user: User | Member,
        channel: Channel,
        content: str,
        *,
        mention_bot: bool = False,
    ) -> Message:
        """`user` posts `content` in a channel or thread; the bot hears of it as Discord would
        tell it (see the module docstring)."""
        guild = self.guilds[channel.guild_id]
        member = self._member_of(guild, user)
        if channel.type == CHANNEL_FORUM:
            raise AssertionError("a forum takes posts (start_forum_post), not messages")
        text = f"<@{self.bot_user.id}> {content}" if mention_bot else content
        message = Message(
            id=snowflake(),
            channel_id=channel.id,
            guild_id=guild.id,
            author=member.user,
            application_id=self.application_id,
            content=text,
            webhook=False,
            mentions=[self.bot_user] if mention_bot else [],
        )
        self.messages[message.id] = message
        await self._message_created(guild, member, message)
        return message

    async def start_forum_post(
        self: DiscordEmulator,
        user: User | Member,
        forum: Channel,
        title: str,
        content: str,
        *,
        tags: Sequence[str] = (),
    ) -> tuple[Channel, Message]:
        """`user` opens a post in a forum: a thread named `title` whose first message (with the
        thread's id) holds `content`."""
        if forum.type != CHANNEL_FORUM:
            raise AssertionError(f"#{forum.name} is not a forum")
        guild = self.guilds[forum.guild_id]
        member = self._member_of(guild, user)
        thread = Channel(
            snowflake(),
            guild.id,
            title[:THREAD_NAME_LIMIT],
            type=CHANNEL_PUBLIC_THREAD,
            parent_id=forum.id,
            owner_id=member.user.id,
            applied_tags=[forum.tag(t) for t in tags],
        )
        guild.threads.append(thread)
        self._notify()
        await self._dispatch_to_all("THREAD_CREATE", thread.to_payload() | {"newly_created": True})
        message = Message(
            id=thread.id,
            channel_id=thread.id,
            guild_id=guild.id,
            author=member.user,
            application_id=self.application_id,
            content=content,
            webhook=False,
        )
        self.messages[message.id] = message
        await self._message_created(guild, member, message)
        return thread, message

    async def submit_modal(
        self: DiscordEmulator, shown: Interaction, values: Mapping[str, str]
    ) -> Interaction:
        """The person who got the modal of `shown` (its callback) fills it in and submits it:
        `values` by each text input's custom_id (the rest left empty)."""
        if shown.modal is None:
            raise AssertionError("that interaction showed no modal")
        data = {
            "custom_id": shown.modal["custom_id"],
            "components": _submitted(shown.modal.get("components") or [], values),
        }
        return await self._send_interaction(
            INTERACTION_MODAL_SUBMIT,
            shown.guild,
            shown.channel,
            shown.member,
            data,
            source_message=shown.source_message,
        )

    async def replay(self: DiscordEmulator, message: Message) -> None:
        """Deliver a person's message again, as a gateway resume may replay an event the bot
        had already received."""
        guild = self.guilds[message.guild_id or self.guild.id]
        await self._message_created(guild, self._member_of(guild, message.author), message)

    async def run_message_command(
        self: DiscordEmulator,
        user: User | Member,
        name: str,
        message: Message,
    ) -> Interaction:
        """`user` right-clicks `message`, Apps, `name`: the interaction carries the message
        whole (content included: no intent needed)."""
        guild = self.guilds[message.guild_id or self.guild.id]
        member = self._member_of(guild, user)
        command = self._find_command(guild, name, COMMAND_MESSAGE)
        self._check_can_use(guild, member, command, bypass=False)
        data: dict[str, Any] = {
            "id": command["id"],
            "name": name,
            "type": COMMAND_MESSAGE,
            "target_id": str(message.id),
            "resolved": {"messages": {str(message.id): message.to_payload()}},
        }
        channel = guild.find_channel(message.channel_id)
        return await self._send_interaction(INTERACTION_COMMAND, guild, channel, member, data)

    # -- what the bot hears -------------------------------------------------------------

    async def _message_created(
        self: DiscordEmulator, guild: Guild, member: Member, message: Message
    ) -> None:
        payload = message.to_payload() | {
            "member": {k: v for k, v in member.to_payload(guild).items() if k != "user"}
        }
        # The bot always reads its own messages, and one that mentions it.
        mentioned = message.author.id == self.bot_user.id or any(
            u.id == self.bot_user.id for u in message.mentions
        )
        for session in self._identified_sessions():
            intents = session.intents or 0
            if not intents & INTENT_GUILD_MESSAGES or not session.owns(guild.id):
                continue
            seen = payload
            if not intents & INTENT_MESSAGE_CONTENT and not mentioned:
                seen = payload | _CONTENT_FIELDS
            await session.dispatch("MESSAGE_CREATE", copy.deepcopy(seen))
        self._notify()

    async def _dispatch_to_all(self: DiscordEmulator, event: str, data: dict[str, Any]) -> None:
        """To every connection whose shard owns the event's guild."""
        for session in self._identified_sessions():
            if session.owns(data.get("guild_id")):
                await session.dispatch(event, data)

    # -- the bot's REST calls -----------------------------------------------------------

    def _channel_of(self: DiscordEmulator, request: web.Request) -> tuple[Guild, Channel]:
        channel_id = int(request.match_info["channel_id"])
        for guild in self.guilds.values():
            channel = guild.find_channel(channel_id)
            if channel is not None:
                return guild, channel
        raise _Refusal(404, 10003, "Unknown Channel", "unknown_channel")

    def _message_of(self: DiscordEmulator, request: web.Request, channel: Channel) -> Message:
        """A message of the channel, as the channel API sees it (never an ephemeral one)."""
        message = self.messages.get(int(request.match_info["message_id"]))
        if (
            message is None
            or message.channel_id != channel.id
            or message.deleted
            or message.ephemeral
        ):
            raise _Refusal(404, 10008, "Unknown Message", "unknown_message")
        return message

    def _bot_may(self: DiscordEmulator, guild: Guild, channel: Channel, needed: int) -> None:
        """Refuse (403, 50013) unless the bot has `needed` in `channel` (a thread: its
        parent's permissions, less what either denies the bot)."""
        bits = guild.permissions_of(guild.members[self.bot_user.id])
        if not bits & ADMINISTRATOR:
            bits &= ~channel.denied_to_bot
            parent = guild.find_channel(channel.parent_id or 0) if channel.is_thread else None
            if parent is not None:
                bits &= ~parent.denied_to_bot
        if bits & (needed | VIEW_CHANNEL) != needed | VIEW_CHANNEL:
            raise _Refusal(403, 50013, "Missing Permissions", "missing_permissions")

    async def _post_channel_message(self: DiscordEmulator, request: web.Request) -> web.Response:
        guild, channel = self._channel_of(request)
        if channel.type == CHANNEL_FORUM:
            raise _Refusal(400, 50008, "Cannot send messages in a non-text channel", "forum_post")
        body, uploads = await self._read_body(request)
        self._check_message(body, uploads, creating=True, interaction=None)
        sending = SEND_MESSAGES_IN_THREADS if channel.is_thread else SEND_MESSAGES
        self._bot_may(guild, channel, sending)
        reference = body.get("message_reference")
        if reference is not None:
            self._bot_may(guild, channel, READ_MESSAGE_HISTORY)
            target = self.messages.get(int(reference.get("message_id", 0)))
            if target is None or target.channel_id != channel.id or target.deleted:
                if reference.get("fail_if_not_exists", True):
                    raise _Refusal(400, 50035, "Unknown message to reply to", "bad_reference")
                reference = None
            else:
                reference = {
                    "message_id": str(target.id),
                    "channel_id": str(channel.id),
                    "guild_id": str(guild.id),
                }
        message = Message(
            id=snowflake(),
            channel_id=channel.id,
            guild_id=guild.id,
            author=self.bot_user,
            application_id=self.application_id,
            webhook=False,
            message_reference=reference,
            type=19 if reference is not None else 0,  # REPLY
        )
        self._apply_edit(message, body, uploads, replace_flags=True)
        if not (message.content or message.embeds or message.components or message.attachments):
            raise _Refusal(400, 50006, "Cannot send an empty message", "empty_message")
        self.messages[message.id] = message
        await self._message_created(guild, guild.members[self.bot_user.id], message)
        return _json(message.to_payload())

    async def _get_channel_message(self: DiscordEmulator, request: web.Request) -> web.Response:
        _, channel = self._channel_of(request)
        return _json(self._message_of(request, channel).to_payload())

    async def _delete_channel_message(self: DiscordEmulator, request: web.Request) -> web.Response:
        guild, channel = self._channel_of(request)
        message = self._message_of(request, channel)
        if message.author.id != self.bot_user.id:
            raise _Refusal(403, 50013, "Missing Permissions", "delete_others_message")
        message.deleted = True
        await self._dispatch_to_all(
            "MESSAGE_DELETE",
            {"id": str(message.id), "channel_id": str(channel.id), "guild_id": str(guild.id)},
        )
        self._notify()
        return web.Response(status=204)

    async def _thread_from(self: DiscordEmulator, request: web.Request) -> web.Response:
        guild, channel = self._channel_of(request)
        message = self._message_of(request, channel)
        if channel.type != CHANNEL_TEXT:
            raise _Refusal(400, 50024, "Cannot execute action on this channel type", "thread")
        if message.ephemeral:
            raise _Refusal(400, 50083, "Cannot start a thread on an ephemeral message", "thread")
        self._bot_may(guild, channel, CREATE_PUBLIC_THREADS)
        if guild.find_channel(message.id) is not None:
            raise _Refusal(400, 160004, "A thread has already been created", "thread_exists")
        body, _ = await self._read_body(request)
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= THREAD_NAME_LIMIT:
            raise _Refusal(400, 50035, "Invalid Form Body (name)", "invalid_form_body")
        thread = Channel(
            message.id,
            guild.id,
            name,
            type=CHANNEL_PUBLIC_THREAD,
            parent_id=channel.id,
            owner_id=self.bot_user.id,
        )
        guild.threads.append(thread)
        await self._dispatch_to_all("THREAD_CREATE", thread.to_payload() | {"newly_created": True})
        self._notify()
        return _json(thread.to_payload(), status=201)

    async def _patch_channel(self: DiscordEmulator, request: web.Request) -> web.Response:
        guild, channel = self._channel_of(request)
        if not channel.is_thread:
            raise _Refusal(403, 50013, "Missing Permissions", "edit_channel")
        body: Mapping[str, Any] = (await self._read_body(request))[0]
        if "applied_tags" in body:
            if channel.owner_id != self.bot_user.id:  # someone else's post: a moderator's act
                self._bot_may(guild, channel, MANAGE_THREADS)
            parent = guild.find_channel(channel.parent_id or 0)
            known = {int(t["id"]) for t in (parent.available_tags if parent else [])}
            tags = [int(t) for t in body["applied_tags"]]
            if not set(tags) <= known or len(tags) > 5:
                raise _Refusal(400, 50035, "Invalid Form Body (applied_tags)", "bad_tags")
            channel.applied_tags = tags
        if "name" in body:
            name = str(body["name"] or "")
            if not 1 <= len(name) <= THREAD_NAME_LIMIT:
                raise _Refusal(400, 50035, "Invalid Form Body (name)", "invalid_form_body")
            channel.name = name
        if "archived" in body:
            channel.archived = bool(body["archived"])
        await self._dispatch_to_all("THREAD_UPDATE", channel.to_payload())
        self._notify()
        return _json(channel.to_payload())


def _submitted(components: Sequence[Mapping[str, Any]], values: Mapping[str, str]) -> list:
    """A modal's components as its submission carries them: each text input (type 4) with
    its value, in the rows (or labels) it was shown in."""
    out: list[dict[str, Any]] = []
    for component in components:
        kind = component.get("type")
        if kind == 4:
            custom_id = component["custom_id"]
            out.append({"type": 4, "custom_id": custom_id, "value": values.get(custom_id, "")})
        elif "components" in component:
            out.append({"type": kind, "components": _submitted(component["components"], values)})
        elif "component" in component:
            inner = _submitted([component["component"]], values)
            out.append({"type": kind, "component": inner[0] if inner else {}})
    return out
