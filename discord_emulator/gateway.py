"""One gateway connection as Discord serves it: JSON frames, optionally zlib-stream compressed.

discord.py asks for `compress=zlib-stream`: a single zlib stream spans the whole connection and
each frame ends with a Z_SYNC_FLUSH (`00 00 ff ff`), which is how the client knows a message is
complete. So the compressor must live as long as the socket, and frames must leave in the order
they were compressed (hence the lock).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from typing import Any

from aiohttp import web

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

CLOSE_UNKNOWN_OPCODE = 4001
CLOSE_DECODE_ERROR = 4002
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005
CLOSE_INVALID_API_VERSION = 4012
CLOSE_DISALLOWED_INTENTS = 4014

HEARTBEAT_INTERVAL_MS = 41_250


class GatewaySession:
    """Sends frames to one connected client and tracks its sequence number and identity."""

    def __init__(self, ws: web.WebSocketResponse, *, compress: bool) -> None:
        self.ws = ws
        self.session_id = secrets.token_hex(16)
        self.sequence = 0
        self.identified = False
        self.intents: int | None = None
        self.shard: list[int] | None = None
        self._compressor = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()

    def owns(self, guild_id: int | str | None) -> bool:
        """Whether this connection's shard receives the events of guild `guild_id`: Discord's
        rule, `(guild_id >> 22) % shard_count == shard_id`; an unsharded connection (and an
        event of no guild) gets them all."""
        if self.shard is None or guild_id is None:
            return True
        shard_id, count = self.shard
        return (int(guild_id) >> 22) % count == shard_id

    @property
    def compressed(self) -> bool:
        return self._compressor is not None

    async def send(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, separators=(",", ":"))
        async with self._lock:
            if self.ws.closed:
                return
            if self._compressor is None:
                await self.ws.send_str(data)
            else:
                chunk = self._compressor.compress(data.encode())
                chunk += self._compressor.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(chunk)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        self.sequence += 1
        await self.send({"op": OP_DISPATCH, "t": event, "s": self.sequence, "d": data})

    async def hello(self) -> None:
        hello = {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}
        await self.send({"op": OP_HELLO, "t": None, "s": None, "d": hello})

    async def heartbeat_ack(self) -> None:
        await self.send({"op": OP_HEARTBEAT_ACK, "t": None, "s": None, "d": None})

    async def invalid_session(self, *, resumable: bool) -> None:
        await self.send({"op": OP_INVALID_SESSION, "t": None, "s": None, "d": resumable})

    async def close(self, code: int = 1000, message: str = "") -> None:
        await self.ws.close(code=code, message=message.encode())
