"""A Discord REST v10 + gateway v10 emulator that the unmodified discord.py client accepts.

Why: the bot's behaviour in Discord (slash commands, defers, follow-ups, buttons, autocomplete)
is what people see, and mocks of discord.py cannot tell whether a payload would be refused. This
server speaks the protocol on 127.0.0.1, enforces Discord's rules, answers violations the way
Discord does (so the bot's own error handling runs), and records each violation so a fixture
can fail the test at teardown.

Only the URLs are redirected (`patch_discord`): the product needs no test-only setting.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import mimetypes
import secrets
import socket
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import WSMsgType, web

from . import gateway as gw
from .limits import (
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    FieldError,
    check_choices,
    check_commands,
    nest_errors,
)
from .limits import check_message as check_message_body
from .messaging import INTENT_MESSAGE_CONTENT, Messaging
from .model import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    BOT_PERMISSIONS,
    CALLBACK_AUTOCOMPLETE,
    CALLBACK_DEFERRED_MESSAGE,
    CALLBACK_DEFERRED_UPDATE,
    CALLBACK_MESSAGE,
    CALLBACK_MODAL,
    CALLBACK_UPDATE_MESSAGE,
    EVERYONE_PERMISSIONS,
    INTERACTION_AUTOCOMPLETE,
    INTERACTION_COMMAND,
    INTERACTION_COMPONENT,
    INTERACTION_MODAL_SUBMIT,
    MANAGE_GUILD,
    Attachment,
    Channel,
    Guild,
    Interaction,
    Member,
    Message,
    Role,
    User,
    iso_now,
    snowflake,
)
from .refusal import _json, _Refusal

if TYPE_CHECKING:
    import pytest

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
GATEWAY_PATH = "/gateway"
DEFAULT_ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

# Which first callbacks Discord accepts for each interaction type.
_ALLOWED_CALLBACKS: dict[int, set[int]] = {
    INTERACTION_COMMAND: {CALLBACK_MESSAGE, CALLBACK_DEFERRED_MESSAGE, CALLBACK_MODAL},
    INTERACTION_COMPONENT: {
        CALLBACK_MESSAGE,
        CALLBACK_DEFERRED_MESSAGE,
        CALLBACK_DEFERRED_UPDATE,
        CALLBACK_UPDATE_MESSAGE,
        CALLBACK_MODAL,
    },
    INTERACTION_AUTOCOMPLETE: {CALLBACK_AUTOCOMPLETE},
    INTERACTION_MODAL_SUBMIT: {
        CALLBACK_MESSAGE,
        CALLBACK_DEFERRED_MESSAGE,
        CALLBACK_DEFERRED_UPDATE,
        CALLBACK_UPDATE_MESSAGE,
    },
}
_OPTION_SUBCOMMAND = 1
_OPTION_GROUP = 2
_MESSAGE_TYPE_CHAT_INPUT = 20
_KEPT_MESSAGE_FLAGS = FLAG_EPHEMERAL | (1 << 2) | (1 << 12) | (1 << 15)  # suppress, silent, v2
_OPTION_ATTACHMENT = 11
# `upload(content_type=GUESS_CONTENT_TYPE)`: the type Discord would detect from the file name.
GUESS_CONTENT_TYPE = "guess"


def point_discord_at(
    base_url: str, set_attribute: Callable[[Any, str, Any], None] = setattr
) -> None:
    """Point discord.py's REST, gateway and CDN URLs at an emulator serving `base_url`.

    `base_url` is `http://127.0.0.1:PORT`. In-process tests pass `monkeypatch.setattr` (undone
    after the test); the subprocess launcher passes the default `setattr`.
    """
    import discord
    import yarl

    root = base_url.rstrip("/")
    url = yarl.URL(root)
    gateway = url.with_scheme("wss" if url.scheme == "https" else "ws").with_path(GATEWAY_PATH)
    set_attribute(discord.http.Route, "BASE", root + API_PREFIX)
    set_attribute(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", gateway)
    set_attribute(discord.asset.Asset, "BASE", root)


@dataclass(frozen=True)
class Violation:
    """A request Discord would have refused (or an interaction left unanswered)."""

    rule: str
    status: int
    code: int
    message: str
    method: str = ""
    path: str = ""
    errors: tuple[FieldError, ...] = ()
    interaction_id: int | None = None

    def __str__(self) -> str:
        where = f"{self.method} {self.path}".strip()
        details = "; ".join(str(e) for e in self.errors)
        text = f"[{self.rule}] {self.status} code {self.code} {self.message}"
        return f"{text} at {where}" + (f": {details}" if details else "")


@dataclass
class _Sync:
    guild_id: int | None
    ok: bool


@dataclass
class _Upload:
    index: int
    filename: str
    content_type: str | None
    data: bytes


def _form_body(errors: list[FieldError], interaction: Interaction | None = None) -> _Refusal:
    return _Refusal(400, 50035, "Invalid Form Body", "invalid_form_body", errors, interaction)


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in {"1", "true"}


class DiscordEmulator(Messaging):
    """Discord for one test: a guild, its people, the bot's account, and the wire protocol.

    Use as `async with DiscordEmulator() as emu:`, then `emu.patch_discord(monkeypatch)` before
    the bot logs in. Default world: guild `emu.guild` with text channel `#general`, a
    `emu.moderator` (Manage Server) and a plain `emu.member`.
    """

    def __init__(
        self,
        *,
        token: str = "emulator-bot-token",
        ack_deadline: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        attachment_size_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT,
        wait_timeout: float = 30.0,
    ) -> None:
        self.token = token
        self.ack_deadline = ack_deadline
        self.token_lifetime = token_lifetime
        self.attachment_size_limit = attachment_size_limit
        # Upper bound for every wait_* helper, so a bot that never answers fails, not hangs.
        # Only a hang guard (every wait ends on an event): generous, since a bot process that
        # starts on a loaded machine took over 5 s to exit.
        self.wait_timeout = wait_timeout
        self.application_id = snowflake()
        # A bot user's id is its application's id, as on Discord.
        self.bot_user = User(self.application_id, "citebot", bot=True)
        self.owner = User(snowflake(), "owner")
        self.guilds: dict[int, Guild] = {}
        self.violations: list[Violation] = []
        self.requests: list[tuple[str, str]] = []
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.syncs: list[_Sync] = []
        self.interactions: dict[int, Interaction] = {}
        self.messages: dict[int, Message] = {}
        self.uploads: dict[int, Attachment] = {}
        self._by_token: dict[str, Interaction] = {}
        self._sessions: set[gw.GatewaySession] = set()
        # Every gateway connection ever opened, for assertions about the handshake.
        self.gateway_sessions: list[gw.GatewaySession] = []
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0

        self.guild = self.add_guild("Test Guild")
        self.moderator = self.add_member("moderator", roles=["Moderator"])
        self.member = self.add_member("member")

    # ----------------------------------------------------------------- world set-up

    def add_guild(
        self,
        name: str,
        *,
        channels: Sequence[str] = ("general",),
        shard: tuple[int, int] | None = None,
    ) -> Guild:
        """A guild with @everyone, a Moderator role (Manage Server), the bot, and channels;
        `shard` (id, count): an id that shard owns."""
        guild_id = snowflake()
        while shard is not None and (guild_id >> 22) % shard[1] != shard[0]:
            guild_id = snowflake()  # (a later millisecond: ids grow with time)
        guild = Guild(guild_id, name, self.owner.id)
        guild.roles.append(Role(guild_id, "@everyone", EVERYONE_PERMISSIONS))
        guild.roles.append(Role(snowflake(), "Moderator", MANAGE_GUILD, position=2))
        guild.roles.append(Role(snowflake(), "Admin", ADMINISTRATOR, position=3))
        bot_role = Role(snowflake(), self.bot_user.username, BOT_PERMISSIONS, 1, managed=True)
        guild.roles.append(bot_role)
        for position, channel_name in enumerate(channels):
            guild.channels.append(Channel(snowflake(), guild_id, channel_name, position=position))
        guild.members[self.owner.id] = Member(self.owner, [])
        guild.members[self.bot_user.id] = Member(self.bot_user, [bot_role])
        self.guilds[guild_id] = guild
        return guild

    def add_member(
        self, username: str, *, roles: Iterable[str] = (), guild: Guild | None = None
    ) -> User:
        """A person in the guild; `roles` by name (e.g. "Moderator", "Admin")."""
        guild = guild or self.guild
        user = User(snowflake(), username)
        member = Member(user, [guild.role(name) for name in roles])
        guild.members[user.id] = member
        if self._identified_sessions():
            payload = member.to_payload(guild) | {"guild_id": str(guild.id)}
            task = asyncio.ensure_future(self.dispatch("GUILD_MEMBER_ADD", payload))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return user

    # ----------------------------------------------------------------- life cycle

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}{GATEWAY_PATH}"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get(GATEWAY_PATH, self._gateway)
        api = API_PREFIX
        app.router.add_get(f"{api}/gateway", self._get_gateway)
        app.router.add_get(f"{api}/gateway/bot", self._get_gateway_bot)
        app.router.add_get(f"{api}/users/@me", self._get_me)
        app.router.add_get(f"{api}/oauth2/applications/@me", self._get_application)
        app.router.add_get(f"{api}/applications/@me", self._get_application)
        commands = f"{api}/applications/{{application_id}}/commands"
        guild_commands = f"{api}/applications/{{application_id}}/guilds/{{guild_id}}/commands"
        app.router.add_put(commands, self._put_commands)
        app.router.add_get(commands, self._get_commands)
        app.router.add_put(guild_commands, self._put_commands)
        app.router.add_get(guild_commands, self._get_commands)
        app.router.add_post(
            f"{api}/interactions/{{interaction_id}}/{{token}}/callback", self._callback
        )
        webhook = f"{api}/webhooks/{{application_id}}/{{token}}"
        app.router.add_post(webhook, self._post_followup)
        app.router.add_get(f"{webhook}/messages/{{message_id}}", self._get_webhook_message)
        app.router.add_patch(f"{webhook}/messages/{{message_id}}", self._patch_webhook_message)
        app.router.add_delete(f"{webhook}/messages/{{message_id}}", self._delete_webhook_message)
        app.router.add_get("/attachments/{attachment_id}/{filename}", self._get_attachment)
        self._messaging_routes(app, api)
        app.router.add_route("*", "/{tail:.*}", self._unsupported)

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        log.debug("Discord emulator listening on %s", self.base_url)

    async def close(self) -> None:
        for interaction in self.interactions.values():
            if interaction._timer is not None:
                interaction._timer.cancel()
        for session in list(self._sessions):
            await session.close(1001, "emulator shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def patch_discord(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point discord.py's REST, gateway and CDN URLs here, for this test only."""
        point_discord_at(self.base_url, monkeypatch.setattr)

    # ----------------------------------------------------------------- violations

    def _record(self, violation: Violation) -> None:
        log.warning("Discord emulator: %s", violation)
        self.violations.append(violation)
        self._notify()

    def _sweep_unanswered(self) -> None:
        """Interactions whose deadline passed with no callback: "did not respond" to the user."""
        for interaction in self.interactions.values():
            if (
                interaction.deadline_passed.is_set()
                and not interaction.acknowledged
                and not interaction.late_callback
            ):
                interaction.late_callback = True  # report once
                self._record(
                    Violation(
                        "no_response",
                        0,
                        0,
                        "The application did not respond (no callback within the deadline)",
                        interaction_id=interaction.id,
                    )
                )

    def take_violations(self) -> list[Violation]:
        """Return and forget the violations so far: for tests that provoke one on purpose."""
        self._sweep_unanswered()
        taken, self.violations = self.violations, []
        return taken

    def assert_no_violations(self) -> None:
        self._sweep_unanswered()
        if self.violations:
            listing = "\n".join(f"  - {v}" for v in self.violations)
            raise AssertionError(f"Discord would have refused or flagged:\n{listing}")

    # ----------------------------------------------------------------- waiting

    def _notify(self) -> None:
        # Swap in a fresh event and wake everyone waiting on the old one.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_until(self, predicate: Callable[[], bool], *, what: str = "condition") -> None:
        """Block until `predicate()` holds; re-checked on every change, never on a timer."""
        timeout = self.wait_timeout
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._changed.wait()
        except TimeoutError:
            seen = "\n".join(f"  - {v}" for v in self.violations) or "  (none)"
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; violations so far:\n{seen}"
            ) from None

    async def wait_for_sync(self, guild: Guild | None = None) -> list[dict[str, Any]]:
        """Wait for a successful command sync (to `guild`, or any scope when None).

        Fails at once, with Discord's reasons, when the sync was refused.
        """
        guild_id = guild.id if guild is not None else None

        def matches(sync: _Sync) -> bool:
            return guild_id is None or sync.guild_id == guild_id

        await self.wait_until(lambda: any(matches(s) for s in self.syncs), what="command sync")
        last = [s for s in self.syncs if matches(s)][-1]
        if not last.ok:
            raise AssertionError(
                "command sync refused:\n" + "\n".join(f"  - {v}" for v in self.violations)
            )
        if last.guild_id is None:
            return self.global_commands
        return self.guild_commands[last.guild_id]

    async def wait_for_identify(self, count: int = 1) -> gw.GatewaySession:
        """The `count`-th gateway connection (ever) that identified with the right token.

        1 is the bot's first login; 2 its login after a restart, and so on. For a bot in
        another process, race this against its exit: `await process.until(emu.wait_for_identify())`.
        """

        def identified() -> list[gw.GatewaySession]:
            return [s for s in self.gateway_sessions if s.identified]

        await self.wait_until(lambda: len(identified()) >= count, what=f"gateway IDENTIFY #{count}")
        return identified()[count - 1]

    # ----------------------------------------------------------------- middleware

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        path = request.path
        needs_auth = path.startswith(API_PREFIX) and not path.startswith(
            (f"{API_PREFIX}/interactions/", f"{API_PREFIX}/webhooks/")
        )
        try:
            if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
                raise _Refusal(401, 0, "401: Unauthorized", "unauthorized")
            return await handler(request)
        except _Refusal as refusal:
            self._record(
                Violation(
                    refusal.rule,
                    refusal.status,
                    refusal.code,
                    refusal.message,
                    request.method,
                    path,
                    tuple(refusal.errors),
                    refusal.interaction.id if refusal.interaction else None,
                )
            )
            body: dict[str, Any] = {"code": refusal.code, "message": refusal.message}
            if refusal.errors:
                body["errors"] = nest_errors(refusal.errors)
            return _json(body, refusal.status)
        except web.HTTPException:
            raise
        except Exception as exc:
            # A 5xx would make discord.py retry with back-off for seconds; answer 400 at once.
            self._record(
                Violation(
                    "emulator_error",
                    400,
                    0,
                    f"emulator crashed: {exc!r}\n{traceback.format_exc()}",
                    request.method,
                    path,
                )
            )
            return _json({"code": 0, "message": f"emulator error: {exc!r}"}, 400)

    async def _unsupported(self, request: web.Request) -> web.Response:
        raise _Refusal(404, 0, "404: Not Found (not emulated)", "unsupported_route")

    # ----------------------------------------------------------------- gateway

    def _identified_sessions(self) -> list[gw.GatewaySession]:
        return [s for s in self._sessions if s.identified and not s.ws.closed]

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        query = request.query
        compress = query.get("compress")
        if query.get("v") != "10" or query.get("encoding", "json") != "json":
            await ws.close(code=gw.CLOSE_INVALID_API_VERSION, message=b"Invalid API version")
            return ws
        if compress not in (None, "zlib-stream"):
            await ws.close(code=gw.CLOSE_DECODE_ERROR, message=b"Unsupported compression")
            return ws
        session = gw.GatewaySession(ws, compress=compress == "zlib-stream")
        self._sessions.add(session)
        self.gateway_sessions.append(session)
        try:
            await session.hello()
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    await session.close(gw.CLOSE_DECODE_ERROR, "Expected JSON text frames")
                    break
                try:
                    payload = json.loads(frame.data)
                except ValueError:
                    await session.close(gw.CLOSE_DECODE_ERROR, "Decode error")
                    break
                await self._on_gateway_op(session, payload)
        finally:
            self._sessions.discard(session)
            self._notify()
        return ws

    async def _on_gateway_op(self, session: gw.GatewaySession, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        data = payload.get("d")
        if op == gw.OP_HEARTBEAT:
            await session.heartbeat_ack()
        elif op == gw.OP_IDENTIFY:
            await self._identify(session, data or {})
        elif op == gw.OP_RESUME:
            # Sessions are not kept across connections: ask for a fresh IDENTIFY.
            await session.invalid_session(resumable=False)
        elif op == gw.OP_REQUEST_GUILD_MEMBERS:
            if not session.identified:
                await session.close(gw.CLOSE_NOT_AUTHENTICATED, "Not authenticated")
                return
            guild = self.guilds.get(int(data["guild_id"]))
            if guild is not None:
                await session.dispatch(
                    "GUILD_MEMBERS_CHUNK",
                    {
                        "guild_id": str(guild.id),
                        "members": [m.to_payload(guild) for m in guild.members.values()],
                        "chunk_index": 0,
                        "chunk_count": 1,
                        "nonce": data.get("nonce"),
                    },
                )
        elif op in (gw.OP_PRESENCE_UPDATE, gw.OP_VOICE_STATE_UPDATE):
            return
        else:
            await session.close(gw.CLOSE_UNKNOWN_OPCODE, "Unknown opcode")

    async def _identify(self, session: gw.GatewaySession, data: dict[str, Any]) -> None:
        if session.identified:
            await session.close(gw.CLOSE_ALREADY_AUTHENTICATED, "Already authenticated")
            return
        if data.get("token") != self.token:
            await session.close(gw.CLOSE_AUTHENTICATION_FAILED, "Authentication failed")
            return
        intents = data.get("intents") or 0
        if intents & INTENT_MESSAGE_CONTENT and not self.message_content_enabled:
            await session.close(gw.CLOSE_DISALLOWED_INTENTS, "Disallowed intent(s)")
            return
        session.identified = True
        session.intents = data.get("intents")
        session.shard = data.get("shard")
        ready: dict[str, Any] = {
            "v": 10,
            "user": self.bot_user.to_payload() | {"verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds if session.owns(g)],
            "session_id": session.session_id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "session_type": "normal",
            "auth": {},
            "geo_ordered_rtc_regions": [],
            "_trace": ["citebot-discord-emulator"],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        await session.dispatch("READY", ready)
        for guild in self.guilds.values():
            if session.owns(guild.id):  # each shard gets its own servers only
                await session.dispatch("GUILD_CREATE", guild.to_create_payload())
        self._notify()

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event to every identified connection whose shard owns its guild
        (waiting for one if needed)."""
        guild_id = data.get("guild_id")

        def owners() -> list[gw.GatewaySession]:
            return [s for s in self._identified_sessions() if s.owns(guild_id)]

        await self.wait_until(lambda: bool(owners()), what="the bot to connect to the gateway")
        for session in owners():
            await session.dispatch(event, data)

    # ----------------------------------------------------------------- REST: account

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return _json({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        return _json(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def _get_me(self, request: web.Request) -> web.Response:
        return _json(self.bot_user.to_payload() | {"verified": True, "mfa_enabled": False})

    async def _get_application(self, request: web.Request) -> web.Response:
        return _json(
            {
                "id": str(self.application_id),
                "name": self.bot_user.username,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "verify_key": secrets.token_hex(32),
                "owner": self.owner.to_payload(),
                "team": None,
                "flags": 0,
                "bot": self.bot_user.to_payload(),
                "rpc_origins": [],
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "approximate_guild_count": len(self.guilds),
            }
        )

    # ----------------------------------------------------------------- REST: commands

    def _check_application(self, request: web.Request) -> Guild | None:
        if int(request.match_info["application_id"]) != self.application_id:
            raise _Refusal(403, 50001, "Missing Access", "wrong_application")
        guild_id = request.match_info.get("guild_id")
        if guild_id is None:
            return None
        guild = self.guilds.get(int(guild_id))
        if guild is None:
            raise _Refusal(403, 50001, "Missing Access", "unknown_guild")
        return guild

    async def _put_commands(self, request: web.Request) -> web.Response:
        guild = self._check_application(request)
        guild_id = guild.id if guild else None
        body = await request.json()
        errors = check_commands(body)
        if errors:
            self.syncs.append(_Sync(guild_id, ok=False))
            raise _form_body(errors)
        previous = self.guild_commands.get(guild_id, []) if guild_id else self.global_commands
        known = {(c["type"], c["name"]): c["id"] for c in previous}
        stored = [self._store_command(c, known, guild_id) for c in body]
        if guild_id is None:
            self.global_commands = stored
        else:
            self.guild_commands[guild_id] = stored
        self.syncs.append(_Sync(guild_id, ok=True))
        self._notify()
        return _json(stored)

    def _store_command(
        self, command: Mapping[str, Any], known: Mapping[tuple[int, str], str], guild_id: int | None
    ) -> dict[str, Any]:
        """What Discord echoes back: the definition plus ids, version and normalised fields."""
        kind = command.get("type", 1)
        permissions = command.get("default_member_permissions")
        stored = copy.deepcopy(dict(command)) | {
            "id": known.get((kind, command["name"]), str(snowflake())),
            "application_id": str(self.application_id),
            "version": str(snowflake()),
            "type": kind,
            "default_member_permissions": None if permissions is None else str(permissions),
            "nsfw": command.get("nsfw", False),
            "description": command.get("description", ""),
        }
        if guild_id is not None:
            stored["guild_id"] = str(guild_id)
        return stored

    async def _get_commands(self, request: web.Request) -> web.Response:
        guild = self._check_application(request)
        if guild is None:
            return _json(self.global_commands)
        return _json(self.guild_commands.get(guild.id, []))

    # ----------------------------------------------------------------- REST: bodies and files

    async def _read_body(self, request: web.Request) -> tuple[dict[str, Any], list[_Upload]]:
        """JSON or multipart (`payload_json` + `files[n]`), as discord.py sends them."""
        if request.content_type != "multipart/form-data":
            if not request.can_read_body:
                return {}, []
            return await request.json(), []
        payload: dict[str, Any] = {}
        uploads: list[_Upload] = []
        reader = await request.multipart()
        async for part in reader:
            name = part.name or ""
            if name == "payload_json":
                payload = json.loads(await part.text())
            elif name.startswith("files[") and name.endswith("]"):
                data = await part.read(decode=False)
                uploads.append(
                    _Upload(
                        int(name[6:-1]),
                        part.filename or "unknown",
                        part.headers.get("Content-Type"),
                        bytes(data),
                    )
                )
            else:
                raise _form_body([FieldError((name,), "UNKNOWN_FIELD", "Unknown multipart field")])
        total = sum(len(u.data) for u in uploads)
        if total > self.attachment_size_limit:
            raise _Refusal(413, 40005, "Request entity too large", "file_too_large")
        return payload, uploads

    def _attachments(
        self,
        payload: Mapping[str, Any],
        uploads: list[_Upload],
        existing: list[Attachment],
    ) -> list[Attachment]:
        """Resolve `attachments`: kept ones by their id, new ones by their files[n] index."""
        by_index = {u.index: u for u in uploads}
        specs = payload.get("attachments")
        if specs is None:
            return existing + [self._new_attachment(u, {}) for u in uploads]
        result: list[Attachment] = []
        errors: list[FieldError] = []
        for i, spec in enumerate(specs):
            spec_id = int(spec["id"])
            kept = next((a for a in existing if a.id == spec_id), None)
            if kept is not None:
                result.append(kept)
            elif spec_id in by_index:
                result.append(self._new_attachment(by_index[spec_id], spec))
            else:
                errors.append(
                    FieldError(("attachments", i, "id"), "ATTACHMENT_NOT_FOUND", "Unknown file")
                )
        if errors:
            raise _form_body(errors)
        return result

    def _attachment_url(self, attachment_id: int, filename: str) -> str:
        return f"{self.base_url}/attachments/{attachment_id}/{quote(filename)}"

    def _new_attachment(self, upload: _Upload, spec: Mapping[str, Any]) -> Attachment:
        attachment_id = snowflake()
        filename = spec.get("filename") or upload.filename
        attachment = Attachment(
            attachment_id,
            filename,
            upload.data,
            upload.content_type,
            spec.get("description"),
            url=self._attachment_url(attachment_id, filename),
        )
        self.uploads[attachment_id] = attachment
        return attachment

    async def _get_attachment(self, request: web.Request) -> web.Response:
        attachment = self.uploads.get(int(request.match_info["attachment_id"]))
        if attachment is None:
            raise web.HTTPNotFound()
        # Served as Discord's CDN does: the stored content type, charset and all.
        return web.Response(
            body=attachment.data,
            headers={"Content-Type": attachment.content_type or "application/octet-stream"},
        )

    def _check_message(
        self,
        payload: Mapping[str, Any],
        uploads: list[_Upload],
        *,
        path: tuple[str, ...] = (),
        creating: bool,
        interaction: Interaction | None,
    ) -> None:
        errors = check_message_body(payload, path, new_files=len(uploads), creating=creating)
        if errors:
            raise _form_body(errors, interaction)

    def _new_message(
        self,
        interaction: Interaction,
        payload: Mapping[str, Any],
        uploads: list[_Upload],
        *,
        message_type: int = 0,
    ) -> Message:
        message = Message(
            id=snowflake(),
            channel_id=interaction.channel.id,
            guild_id=interaction.guild.id,
            author=self.bot_user,
            application_id=self.application_id,
            type=message_type,
            interaction_id=interaction.id,
        )
        self._apply_edit(message, payload, uploads, replace_flags=True)
        self.messages[message.id] = message
        return message

    def _apply_edit(
        self,
        message: Message,
        payload: Mapping[str, Any],
        uploads: list[_Upload],
        *,
        replace_flags: bool = False,
    ) -> None:
        if "content" in payload:
            message.content = payload["content"] or ""
        if "embeds" in payload:
            message.embeds = copy.deepcopy(payload["embeds"] or [])
        if "components" in payload:
            message.components = copy.deepcopy(payload["components"] or [])
        if "attachments" in payload or uploads:
            message.attachments = self._attachments(payload, uploads, message.attachments)
        if replace_flags:
            message.flags = int(payload.get("flags") or 0) & _KEPT_MESSAGE_FLAGS

    # ----------------------------------------------------------------- REST: interactions

    def _expired(self, interaction: Interaction) -> bool:
        elapsed = asyncio.get_running_loop().time() - interaction.dispatched_at
        return interaction.deadline_passed.is_set() or elapsed > self.ack_deadline

    async def _callback(self, request: web.Request) -> web.Response:
        interaction = self.interactions.get(int(request.match_info["interaction_id"]))
        if interaction is None or interaction.token != request.match_info["token"]:
            raise _Refusal(404, 10062, "Unknown interaction", "unknown_interaction")
        body, uploads = await self._read_body(request)
        if interaction.acknowledged:
            raise _Refusal(
                400,
                40060,
                "Interaction has already been acknowledged.",
                "already_acknowledged",
                interaction=interaction,
            )
        if self._expired(interaction):
            interaction.late_callback = True
            raise _Refusal(
                404,
                10062,
                "Unknown interaction",
                "late_first_response",
                interaction=interaction,
            )
        kind = body.get("type")
        data = body.get("data") or {}
        if kind not in _ALLOWED_CALLBACKS.get(interaction.type, set()):
            raise _form_body(
                [FieldError(("type",), "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid type")],
                interaction,
            )
        if kind in (CALLBACK_MESSAGE, CALLBACK_UPDATE_MESSAGE):
            self._check_message(
                data,
                uploads,
                path=("data",),
                creating=kind == CALLBACK_MESSAGE,
                interaction=interaction,
            )
        elif kind == CALLBACK_AUTOCOMPLETE:
            errors = check_choices(data.get("choices"))
            if errors:
                raise _form_body(errors, interaction)
        elif kind == CALLBACK_MODAL:
            self._check_modal(data, interaction)

        self._apply_callback(interaction, kind, data, uploads)
        if interaction._timer is not None:
            interaction._timer.cancel()
        self._notify()
        if not _truthy(request.query.get("with_response")):
            return web.Response(status=204)
        return _json(self._callback_response(interaction, kind))

    def _check_modal(self, data: Mapping[str, Any], interaction: Interaction) -> None:
        errors: list[FieldError] = []
        title = data.get("title") or ""
        if not 1 <= len(title) <= 45:
            errors.append(
                FieldError(("data", "title"), "BASE_TYPE_BAD_LENGTH", "Must be 1-45 in length.")
            )
        custom_id = data.get("custom_id") or ""
        if not 1 <= len(custom_id) <= 100:
            errors.append(
                FieldError(
                    ("data", "custom_id"), "BASE_TYPE_BAD_LENGTH", "Must be 1-100 in length."
                )
            )
        if not 1 <= len(data.get("components") or []) <= 5:
            errors.append(
                FieldError(("data", "components"), "BASE_TYPE_BAD_LENGTH", "Must be 1-5 in length.")
            )
        if errors:
            raise _form_body(errors, interaction)

    def _apply_callback(
        self,
        interaction: Interaction,
        kind: int,
        data: dict[str, Any],
        uploads: list[_Upload],
    ) -> None:
        interaction.callback_type = kind
        interaction.callback_data = data
        if kind == CALLBACK_MESSAGE:
            is_command = interaction.type == INTERACTION_COMMAND
            message_type = _MESSAGE_TYPE_CHAT_INPUT if is_command else 0
            interaction.original = self._new_message(
                interaction, data, uploads, message_type=message_type
            )
        elif kind == CALLBACK_DEFERRED_MESSAGE:
            flags = FLAG_LOADING | (int(data.get("flags") or 0) & FLAG_EPHEMERAL)
            interaction.original = self._new_message(interaction, {"flags": flags}, [])
            interaction.original.flags = flags
        elif kind == CALLBACK_DEFERRED_UPDATE:
            interaction.original = interaction.source_message
        elif kind == CALLBACK_UPDATE_MESSAGE:
            assert interaction.source_message is not None
            self._apply_edit(interaction.source_message, data, uploads)
            interaction.source_message.edited_at = iso_now()
            interaction.original = interaction.source_message
        elif kind == CALLBACK_AUTOCOMPLETE:
            interaction.choices = copy.deepcopy(data.get("choices") or [])
        elif kind == CALLBACK_MODAL:
            interaction.modal = copy.deepcopy(data)

    def _callback_response(self, interaction: Interaction, kind: int) -> dict[str, Any]:
        original = interaction.original
        body: dict[str, Any] = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "activity_instance_id": None,
                "response_message_id": str(original.id) if original else None,
                "response_message_loading": bool(original and original.loading),
                "response_message_ephemeral": bool(original and original.ephemeral),
            }
        }
        if original is not None:
            body["resource"] = {"type": kind, "message": original.to_payload()}
        elif kind != CALLBACK_AUTOCOMPLETE:
            body["resource"] = {"type": kind}
        return body

    # ----------------------------------------------------------------- REST: webhooks

    def _webhook_interaction(self, request: web.Request) -> Interaction:
        if int(request.match_info["application_id"]) != self.application_id:
            raise _Refusal(404, 10015, "Unknown Webhook", "unknown_webhook")
        interaction = self._by_token.get(request.match_info["token"])
        if interaction is None:
            raise _Refusal(401, 50027, "Invalid Webhook Token", "invalid_webhook_token")
        age = asyncio.get_running_loop().time() - interaction.dispatched_at
        if age > self.token_lifetime:
            raise _Refusal(
                401, 50027, "Invalid Webhook Token", "token_expired", interaction=interaction
            )
        if not interaction.acknowledged or interaction.type == INTERACTION_AUTOCOMPLETE:
            raise _Refusal(
                404,
                10015,
                "Unknown Webhook",
                "webhook_before_response",
                interaction=interaction,
            )
        return interaction

    def _webhook_message(self, request: web.Request, interaction: Interaction) -> Message:
        message_id = request.match_info["message_id"]
        if message_id == "@original":
            message = interaction.original
        else:
            candidates = [interaction.original, *interaction.followups]
            message = next((m for m in candidates if m and str(m.id) == message_id), None)
        if message is None or message.deleted:
            raise _Refusal(
                404, 10008, "Unknown Message", "unknown_message", interaction=interaction
            )
        return message

    async def _post_followup(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        body, uploads = await self._read_body(request)
        self._check_message(body, uploads, creating=True, interaction=interaction)
        original = interaction.original
        if (
            interaction.callback_type == CALLBACK_DEFERRED_MESSAGE
            and original is not None
            and original.loading
            and not original.deleted
        ):
            # Discord turns the first follow-up after a defer into the deferred message itself;
            # its ephemerality was fixed by the defer. Once the deferred message is deleted, a
            # follow-up is a message of its own (discord/discord-api-docs#2739, fixed 2021).
            kept = original.flags & FLAG_EPHEMERAL
            self._apply_edit(original, body, uploads, replace_flags=True)
            original.flags = (original.flags & ~FLAG_EPHEMERAL) | kept
            message = original
        else:
            message = self._new_message(interaction, body, uploads)
        interaction.followups.append(message)
        self._notify()
        if not _truthy(request.query.get("wait")):
            return web.Response(status=204)
        return _json(message.to_payload())

    async def _get_webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        return _json(self._webhook_message(request, interaction).to_payload())

    async def _patch_webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        message = self._webhook_message(request, interaction)
        body, uploads = await self._read_body(request)
        self._check_message(body, uploads, creating=False, interaction=interaction)
        self._apply_edit(message, body, uploads)
        message.flags &= ~FLAG_LOADING
        message.edited_at = iso_now()
        if not (message.content or message.embeds or message.components or message.attachments):
            raise _Refusal(
                400, 50006, "Cannot send an empty message", "empty_message", interaction=interaction
            )
        self._notify()
        return _json(message.to_payload())

    async def _delete_webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        message = self._webhook_message(request, interaction)
        message.deleted = True
        self._notify()
        return web.Response(status=204)

    # ----------------------------------------------------------------- test-side actions

    def _member_of(self, guild: Guild, user: User | Member) -> Member:
        user_id = user.user.id if isinstance(user, Member) else user.id
        member = guild.members.get(user_id)
        if member is None:
            raise AssertionError(f"{user} is not a member of guild {guild.name!r}")
        return member

    def _find_command(self, guild: Guild, name: str, kind: int = 1) -> dict[str, Any]:
        for command in [*self.guild_commands.get(guild.id, []), *self.global_commands]:
            if command["name"] == name and command["type"] == kind:
                return command
        synced = sorted(c["name"] for c in [*self.guild_commands.get(guild.id, [])])
        raise AssertionError(
            f"/{name} is not registered for {guild.name!r} (guild commands: {synced}, "
            f"global: {sorted(c['name'] for c in self.global_commands)}); was it synced?"
        )

    def _check_can_use(
        self, guild: Guild, member: Member, command: Mapping[str, Any], *, bypass: bool
    ) -> None:
        """Discord hides a command from people lacking its default_member_permissions.

        `bypass`: a server admin's override (Server Settings > Integrations) shows it to them.
        """
        required = command.get("default_member_permissions")
        if required is None or bypass:
            return
        has = guild.permissions_of(member)
        if has & ADMINISTRATOR:
            return
        needed = int(required)
        if needed == 0 or has & needed != needed:
            raise AssertionError(
                f"{member.user.username} cannot see /{command['name']} "
                f"(needs permissions {needed}, has {has})"
            )

    def _build_options(
        self,
        definitions: Sequence[Mapping[str, Any]],
        values: Mapping[str, Any],
        resolved: dict[str, dict[str, Any]],
        guild: Guild,
        *,
        focused: str | None,
    ) -> list[dict[str, Any]]:
        """Typed option payloads as the Discord client builds them from what the user typed."""
        known = {d["name"] for d in definitions}
        unknown = set(values) - known
        if unknown:
            raise AssertionError(f"unknown options {sorted(unknown)}; command has {sorted(known)}")
        options: list[dict[str, Any]] = []
        for definition in definitions:
            name = definition["name"]
            if name not in values:
                if definition.get("required") and focused is None:
                    raise AssertionError(f"required option {name!r} missing")
                continue
            kind = definition["type"]
            value = values[name]
            if name == focused:
                # While typing, Discord sends the partial text whatever the option's type.
                options.append({"name": name, "type": kind, "value": str(value), "focused": True})
                continue
            value = self._option_value(definition, value, resolved, guild)
            options.append({"name": name, "type": kind, "value": value})
        return options

    def _option_value(
        self,
        definition: Mapping[str, Any],
        value: Any,
        resolved: dict[str, dict[str, Any]],
        guild: Guild,
    ) -> Any:
        name, kind = definition["name"], definition["type"]
        if kind == 3:
            if not isinstance(value, str):
                raise AssertionError(f"option {name!r} takes text, got {value!r}")
            low, high = definition.get("min_length", 0), definition.get("max_length", 6000)
            if not low <= len(value) <= high:
                raise AssertionError(f"option {name!r} must be {low}-{high} characters")
        elif kind in (4, 10):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise AssertionError(f"option {name!r} takes a number, got {value!r}")
            if kind == 4 and not isinstance(value, int):
                raise AssertionError(f"option {name!r} takes an integer, got {value!r}")
            low, high = definition.get("min_value"), definition.get("max_value")
            if (low is not None and value < low) or (high is not None and value > high):
                raise AssertionError(f"option {name!r} must be within {low}..{high}")
        elif kind == 5:
            if not isinstance(value, bool):
                raise AssertionError(f"option {name!r} takes true/false, got {value!r}")
        elif kind in (6, 9) and isinstance(value, User | Member):
            member = self._member_of(guild, value)
            resolved.setdefault("users", {})[str(member.user.id)] = member.user.to_payload()
            member_payload = member.to_payload(guild, with_permissions=True)
            member_payload.pop("user")
            resolved.setdefault("members", {})[str(member.user.id)] = member_payload
            value = str(member.user.id)
        elif kind in (7, 9) and isinstance(value, Channel):
            channel_payload = value.to_payload() | {"permissions": str(ALL_PERMISSIONS)}
            resolved.setdefault("channels", {})[str(value.id)] = channel_payload
            value = str(value.id)
        elif kind in (8, 9) and isinstance(value, Role):
            resolved.setdefault("roles", {})[str(value.id)] = value.to_payload()
            value = str(value.id)
        elif kind == _OPTION_ATTACHMENT and isinstance(value, Attachment):
            if self.uploads.get(value.id) is not value:
                raise AssertionError(f"option {name!r}: attach a file made by emu.upload()")
            resolved.setdefault("attachments", {})[str(value.id)] = value.to_payload()
            value = str(value.id)
        else:
            raise AssertionError(f"option {name!r} of type {kind} cannot take {value!r}")
        choices = definition.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise AssertionError(f"option {name!r} must be one of its choices, got {value!r}")
        return value

    def _command_data(
        self,
        guild: Guild,
        member: Member,
        name: str,
        options: Mapping[str, Any] | None,
        *,
        focused: str | None = None,
        bypass_permissions: bool = False,
    ) -> dict[str, Any]:
        """`data` of a chat-input interaction; `name` may hold subcommands: "kb add"."""
        root, *subcommands = name.split()
        command = self._find_command(guild, root)
        self._check_can_use(guild, member, command, bypass=bypass_permissions)
        data: dict[str, Any] = {"id": command["id"], "name": root, "type": 1}
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        resolved: dict[str, dict[str, Any]] = {}
        definitions: list[dict[str, Any]] = command.get("options") or []
        container = data
        for sub in subcommands:
            definition = next(
                (
                    d
                    for d in definitions
                    if d["name"] == sub and d["type"] in (_OPTION_SUBCOMMAND, _OPTION_GROUP)
                ),
                None,
            )
            if definition is None:
                raise AssertionError(f"/{root} has no subcommand {sub!r}")
            inner: dict[str, Any] = {"name": sub, "type": definition["type"]}
            container["options"] = [inner]
            container = inner
            definitions = definition.get("options") or []
        if focused is not None:
            target = next((d for d in definitions if d["name"] == focused), None)
            if target is None or not target.get("autocomplete"):
                raise AssertionError(f"option {focused!r} of /{name} has no autocomplete")
        container["options"] = self._build_options(
            definitions, options or {}, resolved, guild, focused=focused
        )
        if resolved:
            data["resolved"] = resolved
        return data

    def _interaction_payload(self, interaction: Interaction) -> dict[str, Any]:
        guild = interaction.guild
        bot_member = guild.members[self.bot_user.id]
        payload: dict[str, Any] = {
            "id": str(interaction.id),
            "application_id": str(self.application_id),
            "type": interaction.type,
            "data": interaction.data,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.locale, "features": []},
            "channel_id": str(interaction.channel.id),
            "channel": interaction.channel.to_payload(),
            "member": interaction.member.to_payload(guild, with_permissions=True),
            "token": interaction.token,
            "version": 1,
            "app_permissions": str(guild.permissions_of(bot_member)),
            "locale": "en-US",
            "guild_locale": guild.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": self.attachment_size_limit,
        }
        if interaction.source_message is not None:
            payload["message"] = interaction.source_message.to_payload()
        return payload

    async def _send_interaction(
        self,
        kind: int,
        guild: Guild,
        channel: Channel | None,
        member: Member,
        data: dict[str, Any],
        *,
        source_message: Message | None = None,
    ) -> Interaction:
        loop = asyncio.get_running_loop()
        # Wait for the connection first: the 3 s clock starts when Discord sends the event.
        await self.wait_until(
            lambda: bool(self._identified_sessions()),
            what="the bot to connect to the gateway",
        )
        interaction = Interaction(
            id=snowflake(),
            token=secrets.token_urlsafe(48),
            type=kind,
            guild=guild,
            channel=channel or guild.channels[0],
            member=member,
            data=data,
            emulator=self,
            dispatched_at=loop.time(),
            source_message=source_message,
        )
        self.interactions[interaction.id] = interaction
        self._by_token[interaction.token] = interaction
        interaction._timer = loop.call_later(self.ack_deadline, self._deadline, interaction)
        await self.dispatch("INTERACTION_CREATE", self._interaction_payload(interaction))
        return interaction

    def _deadline(self, interaction: Interaction) -> None:
        interaction.deadline_passed.set()
        self._notify()

    def upload(
        self,
        filename: str,
        data: bytes,
        *,
        content_type: str | None = GUESS_CONTENT_TYPE,
        allow_oversize: bool = False,
    ) -> Attachment:
        """A file a person attaches to an attachment option (type 11), for `run_command`.

        It is served at its `url` (what `discord.Attachment.read()` fetches). `content_type`
        defaults to the type guessed from the file name (text ones with `; charset=utf-8`, as
        Discord reports them); None means Discord could not tell, so the field is left out.
        A file over `attachment_size_limit` fails here, as Discord's client refuses to send it,
        unless `allow_oversize` (to see what the bot does with one).
        """
        if len(data) > self.attachment_size_limit and not allow_oversize:
            raise AssertionError(
                f"{filename} is {len(data)} bytes; Discord refuses uploads over "
                f"attachment_size_limit ({self.attachment_size_limit} bytes)"
            )
        if content_type == GUESS_CONTENT_TYPE:
            content_type, _ = mimetypes.guess_type(filename, strict=False)
            if content_type is not None and content_type.startswith("text/"):
                content_type += "; charset=utf-8"
        attachment_id = snowflake()
        attachment = Attachment(
            attachment_id,
            filename,
            bytes(data),
            content_type,
            url=self._attachment_url(attachment_id, filename),
            ephemeral=True,
        )
        self.uploads[attachment_id] = attachment
        return attachment

    async def run_command(
        self,
        user: User | Member,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        guild: Guild | None = None,
        channel: Channel | None = None,
        bypass_permissions: bool = False,
    ) -> Interaction:
        """`user` runs `/name` with `options` (by option name); returns at once after dispatch.

        Option values: str/int/float/bool, a User or Member, a Channel, a Role, or an Attachment
        from `upload()`. `bypass_permissions`: a server admin's override lets `user` see a
        command its default_member_permissions would hide (the bot's own check still runs).
        Await the returned interaction's `wait_message()`, `wait_followups()` etc. for the answer.
        """
        guild = guild or self.guild
        member = self._member_of(guild, user)
        data = self._command_data(
            guild, member, name, options, bypass_permissions=bypass_permissions
        )
        return await self._send_interaction(INTERACTION_COMMAND, guild, channel, member, data)

    async def autocomplete(
        self,
        user: User | Member,
        name: str,
        options: Mapping[str, Any],
        *,
        focused: str | None = None,
        guild: Guild | None = None,
        channel: Channel | None = None,
        bypass_permissions: bool = False,
    ) -> list[dict[str, Any]]:
        """`user` types into an autocomplete option; returns the choices the bot offered.

        `focused` defaults to the last option given (the one being typed);
        `bypass_permissions` as for `run_command`.
        """
        guild = guild or self.guild
        member = self._member_of(guild, user)
        focused = focused or list(options)[-1]
        data = self._command_data(
            guild, member, name, options, focused=focused, bypass_permissions=bypass_permissions
        )
        interaction = await self._send_interaction(
            INTERACTION_AUTOCOMPLETE, guild, channel, member, data
        )
        return await interaction.wait_choices()

    async def click(
        self,
        message: Message | int,
        custom_id: str,
        user: User | Member,
        *,
        values: Sequence[str] | None = None,
    ) -> Interaction:
        """`user` clicks the button (or picks `values` in the select) `custom_id` on `message`."""
        if isinstance(message, int):
            message = self.messages[message]
        if message.deleted:
            raise AssertionError("cannot click on a deleted message")
        component = message.find_component(custom_id)
        if component is None:
            raise AssertionError(
                f"no component {custom_id!r} on message; it has {message.custom_ids()}"
            )
        if component.get("disabled"):
            raise AssertionError(f"component {custom_id!r} is disabled")
        guild = self.guilds[message.guild_id] if message.guild_id else self.guild
        member = self._member_of(guild, user)
        if message.ephemeral:
            invoker = self.interactions.get(message.interaction_id or 0)
            if invoker is not None and invoker.member.user.id != member.user.id:
                raise AssertionError("only the invoker can see (and click) an ephemeral message")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] != 2:
            data["values"] = list(values or [])
        channel = guild.find_channel(message.channel_id)
        return await self._send_interaction(
            INTERACTION_COMPONENT, guild, channel, member, data, source_message=message
        )

    def interaction_for(self, message: Message) -> Interaction | None:
        """The interaction whose response or follow-up produced `message`."""
        return self.interactions.get(message.interaction_id or 0)


@contextlib.asynccontextmanager
async def running_emulator(
    monkeypatch: pytest.MonkeyPatch, **kwargs: Any
) -> AsyncIterator[DiscordEmulator]:
    """Start an emulator, point discord.py at it, and fail on violations at the end."""
    async with DiscordEmulator(**kwargs) as emulator:
        emulator.patch_discord(monkeypatch)
        yield emulator
        emulator.assert_no_violations()
