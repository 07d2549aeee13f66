"""How a route handler answers as Discord does: JSON as discord.py reads it, and a refusal
(`_Refusal`) that the server turns into Discord's error reply and a recorded violation."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .limits import FieldError
from .model import Interaction


@dataclass
class _Refusal(Exception):
    """Raised inside a handler to answer like Discord and record the violation."""

    status: int
    code: int
    message: str
    rule: str
    errors: list[FieldError] = field(default_factory=list)
    interaction: Interaction | None = None


def _json(body: Any, status: int = 200) -> web.Response:
    # discord.py parses JSON only when Content-Type is exactly "application/json".
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
