"""Query-log rows written together: one statement and one commit for every ask that arrived
while the previous write was under way, or since it started if that was less than `interval`
ago.

Every question leaves a row in the query log. Written one by one, each row costs a trip to the
database thread and a commit of its own. Here an ask hands its row to the writer and waits for
the write that carries it: a write starts as soon as the loop is free, unless the last one
started less than `interval` ago (then at `interval` after it), or at once when `max_rows` have
gathered; the rows arriving meanwhile go together in the next one, so the busier the bot, the
more rows share a write (measured: 0.14 ms of CPU to write one row, 0.02 ms a row in a write
of eight). A bot that is not busy writes each row at once; a busy one writes at most once per
`interval`, which also spares the engine processes some reading: SQLite empties a connection's
page cache when another has committed since its last read.

The ask still returns only once its row is committed, so the row's id is the real one (it goes
into the answer's buttons) and the log shown by /logs right after the ask holds it; no read has
to flush anything first. Closing writes whatever is still waiting, so no row is lost when the bot
is stopped. Other work that needs no answer (a passage's layout stored the first time it is
shown) is queued with `defer` and written with the next batch, or on close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Row = TypeVar("Row")
Deferred = TypeVar("Deferred")

# The least time from the start of one write to the start of the next. At 50 users (about 300
# asks a second, so most writes carried one row without it), 5 ms took the bot's CPU an ask
# from 4.5-5.1 to 4.0-4.7 ms and its asks a second from 286-324 to 301-368 (3 runs each,
# bench/README.md, "Issue 10, eighth session"); an ask waits for it only when another's row
# was written less than 5 ms before. None: each write starts as soon as the loop is free.
INTERVAL_S: float | None = 0.005
MAX_ROWS = 64


class BatchWriter(Generic[Row, Deferred]):
    """Writes rows in batches through `write(rows) -> ids of the rows, in order`, and deferred
    items through `write_deferred(items)` once the rows' askers have their ids.

    One write runs at a time; it takes up to `max_rows` rows and every deferred item queued so
    far. Cheap per row when nothing is to be shared: a timer and a future, no task per row.
    """

    def __init__(
        self,
        write: Callable[[Sequence[Row]], Awaitable[Sequence[int]]],
        write_deferred: Callable[[Sequence[Deferred]], Awaitable[None]],
        *,
        interval: float | None = INTERVAL_S,
        max_rows: int = MAX_ROWS,
    ) -> None:
        self._write = write
        self._write_deferred = write_deferred
        self.interval = interval
        self.max_rows = max_rows
        self._rows: list[tuple[Row, asyncio.Future[int]]] = []
        self._deferred: list[Deferred] = []
        self._timer: asyncio.Handle | None = None
        self._writing: asyncio.Task[None] | None = None
        self._last_start = float("-inf")  # the loop's time when the last write started
        self._closed = False
        self.batches = 0  # writes of rows made, for tests and benchmarks: rows per write

    async def add(self, row: Row) -> int:
        """Write `row` with the next batch; its id once that batch is committed. An asker
        cancelled meanwhile leaves its row to be written all the same."""
        if self._closed:
            raise RuntimeError("the log writer is closed")
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._rows.append((row, done))
        self._wake(now=len(self._rows) >= self.max_rows)
        return await done

    def defer(self, item: Deferred) -> None:
        """Write `item` with the next batch; nobody waits for it."""
        if not self._closed:
            self._deferred.append(item)
            self._wake()

    @property
    def pending(self) -> int:
        return len(self._rows) + len(self._deferred)

    def _wake(self, now: bool = False) -> None:
        """Start a write as soon as the loop is free, or `interval` after the last one
        started (at once when a batch is full); a write under way takes what gathered
        meanwhile when it is done."""
        if self._writing is not None and not self._writing.done():
            return
        if now:
            if self._timer is not None:
                self._timer.cancel()
            self._start()
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            wait = 0.0 if self.interval is None else self._last_start + self.interval - loop.time()
            self._timer = (
                loop.call_soon(self._start) if wait <= 0 else loop.call_later(wait, self._start)
            )

    def _start(self) -> None:
        self._timer = None
        if self._writing is None or self._writing.done():
            loop = asyncio.get_running_loop()
            if self._rows:  # a write of deferred items alone holds up no asker's next row
                self._last_start = loop.time()
            self._writing = loop.create_task(self._write_some())
            self._writing.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        """After a write: the next, for what gathered meanwhile (close writes it if closed;
        a write cancelled, at the loop's shutdown, starts none: its rows are back in the
        queue for close)."""
        if task.cancelled():
            return
        if not self._closed and (self._rows or self._deferred):
            self._wake(now=len(self._rows) >= self.max_rows)

    async def _write_some(self) -> None:
        batch, self._rows = self._rows[: self.max_rows], self._rows[self.max_rows :]
        deferred, self._deferred = self._deferred, []
        try:
            if batch:
                ids = await self._write([row for row, _ in batch])
                self.batches += 1
                for (_, done), row_id in zip(batch, ids, strict=True):
                    if not done.done():
                        done.set_result(row_id)
                batch = []
            if deferred:
                await self._write_deferred(deferred)
        except Exception as exc:
            if deferred:
                log.warning("%d deferred writes were dropped: %s", len(deferred), exc)
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
        except BaseException:
            self._rows[:0] = batch  # cancelled: close() writes them
            self._deferred[:0] = deferred
            raise

    async def close(self) -> None:
        """Write everything still waiting, then refuse new rows."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._writing
        while self._rows or self._deferred:
            await self._write_some()


# How long links from questions to their answers' messages gather before they are written. They
# matter only to a moderator's later read (which writes them first), so they are written in few
# statements: at 50 users a write per answer was one more trip to the database thread per ask.
LINK_INTERVAL_S = 0.25


class Trickle(Generic[Deferred]):
    """Items nobody waits for, written together through `write(items)` at most every
    `interval` seconds; `flush()` writes what is waiting now (a read that must see them first,
    and close)."""

    def __init__(
        self,
        write: Callable[[Sequence[Deferred]], Awaitable[None]],
        *,
        interval: float = LINK_INTERVAL_S,
    ) -> None:
        self._write = write
        self.interval = interval
        self._pending: list[Deferred] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Task[None] | None = None
        self._closed = False

    def add(self, item: Deferred) -> None:
        if self._closed:
            return
        self._pending.append(item)
        if self._timer is None and self._writing is None:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self._start)

    def _start(self) -> None:
        self._timer = None
        if self._writing is None:
            self._writing = asyncio.get_running_loop().create_task(self._write_all())

    async def _write_all(self) -> None:
        try:
            while self._pending:
                items, self._pending = self._pending, []
                try:
                    await self._write(items)
                except Exception as exc:
                    log.warning("%d deferred writes were dropped: %s", len(items), exc)
        finally:
            self._writing = None

    async def flush(self) -> None:
        """Write everything waiting now, and wait for it."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing is None and self._pending:
            self._start()
        if self._writing is not None:
            await asyncio.shield(self._writing)

    async def close(self) -> None:
        await self.flush()
        self._closed = True
