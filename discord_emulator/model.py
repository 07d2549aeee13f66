"""The emulator's world: guilds, channels, roles, users, messages, and interactions.

Plain dataclasses that render themselves as the JSON discord.py parses. Tests read them to see
what a person in the channel would see (content, embeds, components, attachments, flags).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .limits import FLAG_EPHEMERAL, FLAG_LOADING

if TYPE_CHECKING:
    from .server import DiscordEmulator

DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits used to build roles (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_EXTERNAL_EMOJIS = 1 << 18
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 53) - 1

EVERYONE_PERMISSIONS = (
    ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)
# What the README's invite link grants the bot beyond @everyone: Manage Threads (to tag a forum
# post nothing answers).
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | MANAGE_THREADS

CHANNEL_TEXT = 0
CHANNEL_PUBLIC_THREAD = 11
CHANNEL_FORUM = 15

INTERACTION_PING = 1
INTERACTION_COMMAND = 2
INTERACTION_COMPONENT = 3
INTERACTION_AUTOCOMPLETE = 4
INTERACTION_MODAL_SUBMIT = 5

CALLBACK_MESSAGE = 4
CALLBACK_DEFERRED_MESSAGE = 5
CALLBACK_DEFERRED_UPDATE = 6
CALLBACK_UPDATE_MESSAGE = 7
CALLBACK_AUTOCOMPLETE = 8
CALLBACK_MODAL = 9

_counter = itertools.count()


def snowflake() -> int:
    """A fresh, increasing snowflake, so discord.py's `created_at` looks plausible."""
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return (ms << 22) | (next(_counter) & 0x3FFFFF)


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class User:
    """A Discord account: a person in the guild or the bot itself."""

    id: int
    username: str
    bot: bool = False

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": None if self.bot else self.username.title(),
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
        }


@dataclass
class Channel:
    """A text channel (type 0), a forum (15, its posts are threads) or a public thread (11, in
    a text channel or a forum; `parent_id` and `owner_id` say where and whose)."""

    id: int
    guild_id: int
    name: str
    type: int = CHANNEL_TEXT
    position: int = 0
    parent_id: int | None = None
    owner_id: int | None = None
    # A forum's tags ({"id", "name"}), and the ones applied to a post (a thread in a forum).
    available_tags: list[dict[str, Any]] = field(default_factory=list)
    applied_tags: list[int] = field(default_factory=list)
    archived: bool = False
    created_at: str = field(default_factory=iso_now)
    # Permission bits the bot is denied here (a channel override), for the bot's REST calls.
    denied_to_bot: int = 0

    @property
    def is_thread(self) -> bool:
        return self.type == CHANNEL_PUBLIC_THREAD

    def tag(self, name: str) -> int:
        """A forum tag's id by name."""
        return next(int(t["id"]) for t in self.available_tags if t["name"] == name)

    def to_payload(self) -> dict[str, Any]:
        if self.is_thread:
            return {
                "id": str(self.id),
                "guild_id": str(self.guild_id),
                "parent_id": str(self.parent_id),
                "owner_id": str(self.owner_id),
                "type": self.type,
                "name": self.name,
                "last_message_id": None,
                "message_count": 0,
                "member_count": 1,
                "total_message_sent": 0,
                "rate_limit_per_user": 0,
                "flags": 0,
                "applied_tags": [str(t) for t in self.applied_tags],
                "thread_metadata": {
                    "archived": self.archived,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": self.created_at,
                    "locked": False,
                    "create_timestamp": self.created_at,
                },
            }
        payload: dict[str, Any] = {
            "id": str(self.id),
            "guild_id": str(self.guild_id),
            "type": self.type,
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "nsfw": False,
            "topic": None,
            "parent_id": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        if self.type == CHANNEL_FORUM:
            payload |= {
                "available_tags": [
                    {
                        "id": str(t["id"]),
                        "name": t["name"],
                        "moderated": False,
                        "emoji_id": None,
                        "emoji_name": None,
                    }
                    for t in self.available_tags
                ],
                "default_reaction_emoji": None,
                "default_thread_rate_limit_per_user": 0,
                "default_sort_order": None,
                "default_forum_layout": 0,
            }
        return payload


@dataclass
class Member:
    user: User
    roles: list[Role]
    joined_at: str = field(default_factory=iso_now)

    def to_payload(self, guild: Guild, *, with_permissions: bool = False) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "user": self.user.to_payload(),
            "roles": [str(r.id) for r in self.roles],
            "joined_at": self.joined_at,
            "nick": None,
            "avatar": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_permissions:
            payload["permissions"] = str(guild.permissions_of(self))
        return payload


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: list[Role] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    members: dict[int, Member] = field(default_factory=dict)
    threads: list[Channel] = field(default_factory=list)
    locale: str = "en-US"

    def find_channel(self, channel_id: int) -> Channel | None:
        """A channel or a thread of this guild by id."""
        return next((c for c in [*self.channels, *self.threads] if c.id == channel_id), None)

    @property
    def everyone(self) -> Role:
        return next(r for r in self.roles if r.id == self.id)

    def role(self, name: str) -> Role:
        return next(r for r in self.roles if r.name == name)

    def channel(self, name: str) -> Channel:
        return next(c for c in self.channels if c.name == name)

    def permissions_of(self, member: Member) -> int:
        """Guild-level permissions: @everyone plus the member's roles; owner/admin get all."""
        if member.user.id == self.owner_id:
            return ALL_PERMISSIONS
        bits = self.everyone.permissions
        for role in member.roles:
            bits |= role.permissions
        return ALL_PERMISSIONS if bits & ADMINISTRATOR else bits

    def to_create_payload(self) -> dict[str, Any]:
        """GUILD_CREATE data; `member_count` equals the members sent, so nothing is chunked."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "features": [],
            "roles": [r.to_payload() for r in self.roles],
            "emojis": [],
            "stickers": [],
            "channels": [c.to_payload() for c in self.channels],
            "threads": [t.to_payload() for t in self.threads if not t.archived],
            "members": [m.to_payload(self) for m in self.members.values()],
            "member_count": len(self.members),
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "large": False,
            "unavailable": False,
            "joined_at": iso_now(),
            "max_members": 500_000,
            "application_id": None,
        }


@dataclass
class Attachment:
    """A file on the emulator's CDN: one the bot uploaded, or one a person attached to a command
    option (`DiscordEmulator.upload`, ephemeral). `data` holds its bytes; `url` serves them."""

    id: int
    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None
    url: str = ""
    ephemeral: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
        }
        # Discord omits content_type when it cannot tell the file's type.
        if self.content_type:
            payload["content_type"] = self.content_type
        if self.description:
            payload["description"] = self.description
        if self.ephemeral:
            payload["ephemeral"] = True
        return payload


@dataclass
class Message:
    """A message as a person in the channel sees it; ephemeral ones only the invoker sees."""

    id: int
    channel_id: int
    guild_id: int | None
    author: User
    application_id: int
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    interaction_id: int | None = None
    edited_at: str | None = None
    deleted: bool = False
    created_at: str = field(default_factory=iso_now)
    # A channel message (a person's, or the bot's through the channel API) is no webhook's.
    webhook: bool = True
    message_reference: dict[str, Any] | None = None  # what it replies to
    mentions: list[User] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """A deferred response still "thinking": not yet visible as a message."""
        return bool(self.flags & FLAG_LOADING)

    @property
    def visible(self) -> bool:
        return not self.deleted and not self.loading

    def custom_ids(self) -> list[str]:
        """Every custom_id on the message, in order, for click helpers and assertions."""
        found: list[str] = []

        def walk(items: list[dict[str, Any]]) -> None:
            for item in items:
                if "custom_id" in item:
                    found.append(item["custom_id"])
                walk(item.get("components") or [])

        walk(self.components)
        return found

    def find_component(self, custom_id: str) -> dict[str, Any] | None:
        def walk(items: list[dict[str, Any]]) -> dict[str, Any] | None:
            for item in items:
                if item.get("custom_id") == custom_id:
                    return item
                hit = walk(item.get("components") or [])
                if hit is not None:
                    return hit
            return None

        return walk(self.components)

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "type": self.type,
            "content": self.content,
            "author": self.author.to_payload(),
            "embeds": self.embeds,
            "components": self.components,
            "attachments": [a.to_payload() for a in self.attachments],
            "flags": self.flags,
            "timestamp": self.created_at,
            "edited_timestamp": self.edited_at,
            "tts": False,
            "mention_everyone": False,
            "mentions": [u.to_payload() for u in self.mentions],
            "mention_roles": [],
            "pinned": False,
        }
        if self.webhook:
            payload["webhook_id"] = str(self.application_id)
            payload["application_id"] = str(self.application_id)
        if self.message_reference is not None:
            payload["message_reference"] = self.message_reference
        if self.guild_id is not None:
            payload["guild_id"] = str(self.guild_id)
        return payload


@dataclass
class Interaction:
    """One INTERACTION_CREATE the emulator sent and everything the bot did in answer to it.

    The wait_* methods block on the emulator's change event (never on a timer), bounded by
    `DiscordEmulator.wait_timeout` only so a broken bot fails the test instead of hanging it.
    """

    id: int
    token: str
    type: int
    guild: Guild
    channel: Channel
    member: Member
    data: dict[str, Any]
    emulator: DiscordEmulator
    dispatched_at: float
    deadline_passed: asyncio.Event = field(default_factory=asyncio.Event)
    source_message: Message | None = None
    callback_type: int | None = None
    callback_data: dict[str, Any] | None = None
    late_callback: bool = False
    original: Message | None = None
    followups: list[Message] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None
    modal: dict[str, Any] | None = None
    _timer: asyncio.TimerHandle | None = None

    @property
    def acknowledged(self) -> bool:
        return self.callback_type is not None

    @property
    def messages(self) -> list[Message]:
        """Visible messages this interaction produced: the original response, then follow-ups."""
        found = [self.original] if self.original is not None else []
        seen: set[int] = set()
        visible: list[Message] = []
        for message in [*found, *self.followups]:
            if message.visible and message.id not in seen:
                seen.add(message.id)
                visible.append(message)
        return visible

    @property
    def last_message(self) -> Message | None:
        visible = self.messages
        return visible[-1] if visible else None

    async def wait_for(self, predicate: Callable[[Interaction], bool]) -> None:
        await self.emulator.wait_until(lambda: predicate(self))

    async def wait_callback(self) -> int:
        """The first callback's type (4 message, 5 defer, 6/7 update, 8 autocomplete, 9 modal)."""
        await self.wait_for(lambda i: i.acknowledged)
        assert self.callback_type is not None
        return self.callback_type

    async def wait_message(self) -> Message:
        """The original response once it shows (a deferred one shows when it is filled in)."""
        await self.wait_for(lambda i: i.original is not None and i.original.visible)
        assert self.original is not None
        return self.original

    async def wait_followups(self, count: int = 1) -> list[Message]:
        """The first `count` follow-ups (one that filled a defer is also the original)."""
        await self.wait_for(lambda i: len(i.followups) >= count)
        return self.followups[:count]

    async def wait_messages(self, count: int = 1) -> list[Message]:
        """At least `count` visible messages, original and follow-ups together."""
        await self.wait_for(lambda i: len(i.messages) >= count)
        return self.messages

    async def wait_choices(self) -> list[dict[str, Any]]:
        await self.wait_for(lambda i: i.choices is not None)
        assert self.choices is not None
        return self.choices
