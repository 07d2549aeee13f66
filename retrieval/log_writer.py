"""Query-log rows written together: one statement and one commit for every ask that arrived
while the previous write was under way (or within a few milliseconds of each other).

Every question leaves a row in the query log. Written one by one, each row costs a trip to the
database thread and a commit of its own, which at fifty people asking at once was a tenth of the
bot's time. Here an ask hands its row to the writer and waits for the write that carries it:
the first row waits at most `interval` for company (or until `max_rows` have gathered), rows
arriving while a write is under way go together in the next one.

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
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Row = TypeVar("Row")
Deferred = TypeVar("Deferred")

INTERVAL_S = 0.002
MAX_ROWS = 64


@dataclass(slots=True)
class _Waiting(Generic[Row]):
    row: Row
    done: asyncio.Future[int] = field(repr=False)


class BatchWriter(Generic[Row, Deferred]):
    """Writes rows in batches through `write(rows) -> ids of the rows, in order`, and deferred
    items through `write_deferred(items)` once the rows' askers have their ids.

    One write runs at a time; it gets up to `max_rows` rows and all deferred items queued so far.
    """

    def __init__(
        self,
        write: Callable[[Sequence[Row]], Awaitable[Sequence[int]]],
        write_deferred: Callable[[Sequence[Deferred]], Awaitable[None]],
        *,
        interval: float = INTERVAL_S,
        max_rows: int = MAX_ROWS,
    ) -> None:
        self._write = write
        self._write_deferred = write_deferred
        self.interval = interval
        self.max_rows = max_rows
        self._rows: list[_Waiting[Row]] = []
        self._deferred: list[Deferred] = []
        self._task: asyncio.Task[None] | None = None
        self._full = asyncio.Event()
        self._closed = False
        self.batches = 0  # writes made, for tests and benchmarks: rows per write

    async def add(self, row: Row) -> int:
        """Write `row` with the next batch; its id once that batch is committed."""
        if self._closed:
            raise RuntimeError("the log writer is closed")
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._rows.append(_Waiting(row, done))
        if len(self._rows) >= self.max_rows:
            self._full.set()
        self._start()
        # The write goes on when the asker is cancelled (its row is still logged).
        return await asyncio.shield(done)

    def defer(self, item: Deferred) -> None:
        """Write `item` with the next batch; nobody waits for it."""
        if self._closed:
            return
        self._deferred.append(item)
        self._start()

    @property
    def pending(self) -> int:
        return len(self._rows) + len(self._deferred)

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._rows or self._deferred:
            if len(self._rows) < self.max_rows and not self._closed:
                self._full.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.interval)
            await self._write_some()

    async def _write_some(self) -> None:
        batch, self._rows = self._rows[: self.max_rows], self._rows[self.max_rows :]
        deferred, self._deferred = self._deferred, []
        try:
            if batch:
                ids = await self._write([w.row for w in batch])
                self.batches += 1
                for waiting, row_id in zip(batch, ids, strict=True):
                    if not waiting.done.done():
                        waiting.done.set_result(row_id)
                batch = []
            if deferred:
                await self._write_deferred(deferred)
        except Exception as exc:
            if deferred:
                log.warning("%d deferred writes were dropped: %s", len(deferred), exc)
            for waiting in batch:
                if not waiting.done.done():
                    waiting.done.set_exception(exc)
        except BaseException:
            self._rows[:0] = batch  # cancelled: close() writes them
            self._deferred[:0] = deferred
            raise

    async def close(self) -> None:
        """Write everything still waiting, then refuse new rows."""
        self._closed = True
        self._full.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._rows or self._deferred:
            await self._write_some()
