"""One budget of searches per member per server, shared by /ask and the buttons under answers.

A page button searches again and a vote writes to the log, so without a shared limit a member
could click through 30 searches in 8 seconds after using up their /ask allowance. The buckets
are discord.py's own token buckets (app_commands.Cooldown), kept per (server, member) and
dropped once they are full again, so the map stays as small as the set of recent users. Each
server sets its own rate (`/settings cooldown`): a bucket made under another rate is made anew.
"""

from __future__ import annotations

import time

from discord import app_commands

Key = tuple[int | None, int]


class SearchLimiter:
    """`hit(guild, user)` spends one search or raises CommandOnCooldown."""

    def __init__(self, rate: int, per: float) -> None:
        self.rate, self.per = rate, per  # the defaults, for a server that set none
        self._buckets: dict[Key, app_commands.Cooldown] = {}
        self._last_sweep = time.monotonic()

    def hit(
        self, guild_id: int | None, user_id: int, rate: int | None = None, per: float | None = None
    ) -> None:
        rate = self.rate if rate is None else rate
        per = self.per if per is None else per
        now = time.monotonic()
        if now - self._last_sweep > max(self.per, per):
            self._sweep(now)
        bucket = self._buckets.get((guild_id, user_id))
        if bucket is None or bucket.rate != rate or bucket.per != per:
            bucket = self._buckets[(guild_id, user_id)] = app_commands.Cooldown(rate, per)
        retry_after = bucket.update_rate_limit(now)
        if retry_after is not None:
            raise app_commands.CommandOnCooldown(bucket, retry_after)

    def _sweep(self, now: float) -> None:
        self._last_sweep = now
        for key, bucket in list(self._buckets.items()):
            if bucket.get_tokens(now) >= bucket.rate:
                del self._buckets[key]
