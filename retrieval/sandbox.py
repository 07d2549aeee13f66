"""Parsing strangers' documents in a child process with CPU, memory and time limits.

A PDF of a few kilobytes can hold one compressed stream of 200,000 text operators that every
page points at; pypdf parses it again for each page, and a 60-page file keeps a core busy for
minutes. Limits inside the parser cannot catch every such shape, so the whole of turning bytes
into a stored document (extract, clean, split, analyse, summarise) runs in a forked child with:

- `RLIMIT_CPU`: past its CPU seconds the kernel stops it (SIGXCPU, then SIGKILL);
- `RLIMIT_AS`: its address space may grow by at most `memory_bytes` above what it started with,
  so a bomb ends in a MemoryError (reported as such) instead of in the host's swap;
- a wall-clock limit the parent enforces with SIGKILL (a child starved of CPU, or stuck);
- the lowest CPU priority (nice 19), so the process that answers questions always comes first.

A child process, rather than a thread with checks, because Python cannot interrupt C code
(lxml, zlib, regular expressions) from outside, and only the kernel can bound CPU and memory
reliably. Children are forked by a parser host (retrieval.parser_host) that has imported the
parsers once, so a job starts in milliseconds, without inheriting the bot's threads, event loop
or database handles.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import pickle
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from retrieval.errors import BadSource, CitebotError
from retrieval.parser_host import read_frame, write_frame

log = logging.getLogger(__name__)

T = TypeVar("T")


DEFAULT_CPU_SECONDS = 20
DEFAULT_MEMORY_BYTES = 1024 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Budget:
    """What one document may cost to read.

    The defaults are generous for real articles (a 300-page text PDF takes a few seconds of
    CPU; a long web page well under one) and small next to what an attack costs without them.
    """

    cpu_seconds: int = DEFAULT_CPU_SECONDS
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    wall_seconds: float = 90.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Budget:
        """CITEBOT_INGEST_CPU_SECONDS and CITEBOT_INGEST_MEMORY_MB, when set."""
        cpu = _positive_int(env, "CITEBOT_INGEST_CPU_SECONDS", DEFAULT_CPU_SECONDS)
        memory = _positive_int(env, "CITEBOT_INGEST_MEMORY_MB", DEFAULT_MEMORY_BYTES >> 20) << 20
        return cls(cpu_seconds=cpu, memory_bytes=memory, wall_seconds=max(90.0, 4.0 * cpu))


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise CitebotError(f"{name} must be a positive whole number, not {raw!r}")
    return int(raw)


class OverBudget(BadSource):
    """The document needed more CPU time or memory than one document may have."""


def supported() -> bool:
    """Whether this platform can run limited children (Linux and other Unixes)."""
    try:
        import resource  # noqa: F401
    except ImportError:
        return False
    return hasattr(os, "fork")


_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|DSN|DATABASE_URL", re.I
)


class _Host:
    """One parser host process (retrieval.parser_host) and its pipes; one job at a time."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        # The host reads strangers' files: it gets no secrets (were a parser ever exploited,
        # the bot token would not be there to take) and starts away from the bot's .env.
        env = {k: v for k, v in os.environ.items() if not _SECRET_NAME.search(k)}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "retrieval.parser_host"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd="/",
            stderr=subprocess.DEVNULL,  # a hostile document must not flood the bot's log
            close_fds=True,
            # A process group of its own (a Ctrl-C in the terminal is for citebot; an abort
            # kills host and child together), but the same session: with autogroup
            # scheduling a new session is a new group whose nice value would not count
            # against the bot's, and nice 19 must.
            process_group=0,
        )

    def call(self, job: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        write_frame(self.process.stdin, pickle.dumps(job))
        frame = read_frame(self.process.stdout)
        if frame is None:
            raise OSError("the parser host stopped")
        return json.loads(frame)

    def kill(self) -> None:
        """Stop the host and the child it is waiting for (they share a process group)."""
        with contextlib.suppress(OSError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class HostPool:
    """Parser hosts, one per job running at once, started on first use and reused (how many
    jobs run at once is the IngestQueue's decision)."""

    def __init__(self) -> None:
        self._idle: list[_Host] = []
        self._lock = threading.Lock()
        self._all: list[_Host] = []
        self._active: dict[object, _Host | None] = {}
        self._aborted: set[object] = set()

    def _take(self) -> _Host:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        host = _Host()
        with self._lock:
            self._all.append(host)
        return host

    def _give_back(self, host: _Host) -> None:
        with self._lock:
            self._idle.append(host)

    def _drop(self, host: _Host) -> None:
        with self._lock:
            if host in self._all:
                self._all.remove(host)
        host.close()

    def run(self, job: dict[str, Any], token: object = None) -> dict[str, Any]:
        key = token if token is not None else object()
        with self._lock:
            if key in self._aborted:
                self._aborted.discard(key)
                raise OSError("the job was abandoned before it started")
            self._active[key] = None  # started: an abort from now on stops the host
        host: _Host | None = None
        try:
            host = self._take()
            with self._lock:
                aborted = key in self._aborted
                self._active[key] = host
            if aborted:
                raise OSError("the job was abandoned before it started")
            reply = host.call(job)
        except BaseException:
            if host is not None:
                self._drop(host)
            raise
        finally:
            with self._lock:
                self._active.pop(key, None)
                self._aborted.discard(key)
        self._give_back(host)
        return reply

    def abort(self, token: object) -> None:
        """Stop the job started with `token` if it is running, or keep it from starting."""
        with self._lock:
            if token not in self._active:
                self._aborted.add(token)  # not started yet (or over: then run() clears it)
                return
            host = self._active[token]
            if host is None:
                self._aborted.add(token)  # starting: run() checks before calling the host
                return
        host.kill()

    def close(self) -> None:
        with self._lock:
            hosts, self._all, self._idle = self._all, [], []
        for host in hosts:
            host.close()


_shared: HostPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> HostPool:
    """The process's parser hosts, shared by every KnowledgeBase it opens (a host costs a
    Python start and the parsers' imports, so it is kept), stopped when the process exits.
    Hosts also stop by themselves when this process dies: their stdin closes."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = HostPool()
            atexit.register(_shared.close)
        return _shared


def run_limited(
    func: Callable[..., T],
    args: tuple,
    *,
    name: str,
    budget: Budget,
    pool: HostPool | None,
    token: object = None,
) -> T:
    """`func(*args)` in a limited child process; blocking (call it from a worker thread).

    `func` is a module-level function (named, not pickled) whose result is a JSON value.
    Refusals (CitebotError) raised in the child are raised here with their message; running
    out of the budget is an OverBudget naming the document.
    """
    if pool is None or not supported():  # no kernel limits here: run in-process, as before
        return func(*args)
    job = {
        "func": f"{func.__module__}.{func.__qualname__}",
        "args": args,
        "cpu_seconds": budget.cpu_seconds,
        "memory_bytes": budget.memory_bytes,
        "wall_seconds": budget.wall_seconds,
    }
    try:
        reply = pool.run(job, token)
    except OSError:
        raise BadSource(f"{name} could not be read just now; try again") from None
    status = reply.get("status")
    if status == "ok":
        return reply["value"]
    if status == "refused":
        raise _refusal(str(reply.get("kind")), str(reply.get("message")))
    if status == "memory" or reply.get("exitcode") == 3:
        raise OverBudget(
            f"{name} needs more than {budget.memory_bytes >> 20} MB of memory to read; "
            "it is refused as too complex (a decompression bomb?)"
        )
    if reply.get("timeout"):
        raise OverBudget(
            f"{name} took longer than {budget.wall_seconds:g} s to read; it is refused as too "
            "complex"
        )
    if reply.get("signal") in (signal.SIGXCPU, signal.SIGKILL):
        raise OverBudget(
            f"{name} needs more than {budget.cpu_seconds} s of processing to read; it is "
            "refused as too complex (a document built to exhaust the parser?)"
        )
    if status == "crash":
        log.error("reading %s failed in the parser process:\n%s", name, reply.get("message"))
        raise BadSource(f"{name} could not be read (the parser failed on it)")
    log.warning("the parser process for %s ended unexpectedly: %r", name, reply)
    raise OverBudget(f"{name} could not be read within the limits for one document")


def _refusal(kind: str, message: str) -> CitebotError:
    from retrieval import errors

    cls = getattr(errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, CitebotError):
        try:
            return cls(message)
        except TypeError:  # a refusal with extra constructor arguments
            pass
    return BadSource(message)
