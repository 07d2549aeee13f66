"""Keeping a process's view of a shared PostgreSQL corpus current (issue 13, point 3).

Every change to the corpus moves its version in the database and sends `NOTIFY citebot_corpus`
at commit (`retrieval.pg_store`). `CorpusWatch` listens on a connection of its own and, when told,
reads the versions again and tells this process (the answering part rebuilds its index in the
background, so the next question finds a source another process added). A notification is
never sent again to a listener that missed it (a dropped connection, a restart of the server),
so the watch also reads the versions after every reconnect (the catch-up) and every
`CHECK_S` seconds whatever happens (a check cheap enough to run often: one indexed read of a
few rows). Questions still read the versions themselves (`retrieval.pg_store`): the watch makes
the index ready before they come; they make sure it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval.store import CorpusVersion

log = logging.getLogger(__name__)

CHECK_S = 1.0  # the periodic check: a missed notification costs at most this much delay
RECONNECT_S = (0.1, 5.0)  # first and longest wait between attempts to listen again


class CorpusWatch:
    """The corpus version as this process knows it, kept current (see the module)."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[Any]],
        read: Callable[[Any], Awaitable[CorpusVersion]],
        channel: str,
        *,
        check_every: float = CHECK_S,
    ) -> None:
        self._connect = connect
        self._read = read
        self._channel = channel
        self.check_every = check_every
        self.version: CorpusVersion | None = None
        self._listeners: list[Callable[[], None]] = []
        self._wake = asyncio.Event()
        self._lost = asyncio.Event()
        self._con: Any = None
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0  # how often it listened again after losing its connection
        self._reading = asyncio.Lock()  # one read at a time (and one use of the connection)

    async def start(self) -> None:
        await self._listen()
        try:
            await self.refresh()
        except BaseException:
            await self._drop()
            raise
        self._task = asyncio.create_task(self._run(), name="citebot-corpus-watch")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop()

    def check_every_seconds(self, seconds: float) -> None:
        """Change the periodic check's interval, from the next round (started now)."""
        self.check_every = seconds
        self._wake.set()

    def on_change(self, listener: Callable[[], None]) -> None:
        """`listener()` runs (on the loop) each time the versions read differ from before."""
        self._listeners.append(listener)

    async def refresh(self) -> None:
        """Read the versions now, through the listening connection (so a check also finds a
        connection that died without a word; the loop then listens again); tell the
        listeners when they moved. Reads take turns, and one older than what is known (a
        slow read finishing after a newer one) is dropped."""
        async with self._reading:
            con = self._con
            if con is None or con.is_closed():
                raise ConnectionError("not listening for corpus changes")
            try:
                version = await self._read(con)
            except BaseException:
                self._lost.set()
                self._wake.set()
                raise
            known = self.version
            if known is not None and version.number < known.number:
                return
            if version == known:
                return
            self.version = version
            for listener in self._listeners:
                try:
                    listener()
                except Exception:
                    log.exception("a corpus change listener failed")

    async def _listen(self) -> None:
        con = await self._connect()
        try:
            await con.add_listener(self._channel, self._notified)
            con.add_termination_listener(self._terminated)
        except BaseException:
            await con.close()
            raise
        self._con = con
        self._lost.clear()

    def _notified(self, *_: object) -> None:
        self._wake.set()

    def _terminated(self, *_: object) -> None:
        self._lost.set()
        self._wake.set()

    async def _drop(self) -> None:
        con, self._con = self._con, None
        if con is not None and not con.is_closed():
            with contextlib.suppress(Exception):
                await con.close()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.check_every)
            self._wake.clear()
            if self._lost.is_set() or self._con is None or self._con.is_closed():
                await self._reconnect()
            try:
                await self.refresh()
            except Exception as exc:  # the server away: the next round tries again
                log.warning("could not read the corpus version: %s", exc)

    async def _reconnect(self) -> None:
        await self._drop()
        wait = RECONNECT_S[0]
        while True:
            try:
                await self._listen()
            except Exception as exc:
                log.warning("listening for corpus changes failed (%s); again in %.1f s", exc, wait)
                await asyncio.sleep(wait)
                wait = min(wait * 2, RECONNECT_S[1])
                continue
            self.reconnects += 1
            log.info("listening for corpus changes again; catching up")
            return
