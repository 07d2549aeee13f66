"""The parser host: a small process that forks one limited child per document.

Started by retrieval.sandbox as `python -m retrieval.parser_host`. It imports the parsers once,
then reads jobs from stdin; for each it forks a child that lowers its own priority, sets its CPU
and address-space limits, runs the job and writes the result (JSON, never pickle: the child has
read a stranger's bytes) to a pipe. The host waits for the child within the wall-clock limit,
kills it past that, and answers the parent with one frame: how the child ended and what it said.

Forking here, rather than in the bot, because the host is single-threaded (a fork of a process
with threads may inherit a lock held by another thread) and because it never runs the caller's
`__main__` again, as multiprocessing's spawn and forkserver methods do.

Frames in both directions: 4-byte big-endian length, then the body. Job bodies are pickles
written by the parent, which started this process; result bodies are JSON.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import pickle
import re
import select
import signal
import struct
import sys
import time
import traceback
from typing import Any, BinaryIO

_HEADER = struct.Struct(">I")
PRELOAD = ("retrieval.ingest_jobs", "retrieval.extract")
# The HTML and PDF parsers: a second of CPU to import, which a folder of Markdown never needs.
# A child imports one when its document needs it and says so in its reply; the host then
# imports it too, so the children forked after it start with it.
ON_DEMAND = ("trafilatura", "pypdf")
# U+D800-U+DFFF as "surrogatepass" writes them in UTF-8.
_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")


def read_frame(stream: BinaryIO) -> bytes | None:
    """The next frame's body, or None at the end of the stream (or within a frame)."""
    head = _read_exactly(stream, _HEADER.size)
    if head is None:
        return None
    (size,) = _HEADER.unpack(head)
    return _read_exactly(stream, size)


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    """`size` bytes, or None if the stream ends first (a blocking stream: a non-blocking one's
    "nothing yet" would read as the end). A buffered stream reads them in one call; an
    unbuffered pipe (an engine process's requests) may return them in parts."""
    data = stream.read(size)
    if data is None or len(data) == size:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        part = stream.read(size - got)
        if not part:
            return None
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def write_frame(stream: BinaryIO, body: bytes) -> None:
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


def _address_space() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _limit_self(cpu_seconds: int, memory_bytes: int) -> None:
    import resource

    with contextlib.suppress(OSError):
        os.nice(19)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 2))
    base = _address_space()
    if base:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = base + memory_bytes
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    with contextlib.suppress(OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _run_child(job: dict[str, Any], out: int) -> None:
    """In the forked child: never returns."""
    code = 0
    try:
        _limit_self(job["cpu_seconds"], job["memory_bytes"])
        module, _, name = job["func"].rpartition(".")
        func = getattr(importlib.import_module(module), name)
        had = [m for m in ON_DEMAND if m in sys.modules]
        try:
            reply: dict[str, Any] = {"status": "ok", "value": func(*job["args"])}
        except MemoryError:
            reply = {"status": "memory"}
        except Exception as exc:
            from retrieval.errors import CitebotError

            if isinstance(exc, CitebotError):
                reply = {"status": "refused", "kind": type(exc).__name__, "message": str(exc)}
            else:
                reply = {"status": "crash", "message": traceback.format_exc(limit=20)}
        reply["imported"] = [m for m in ON_DEMAND if m in sys.modules and m not in had]
        body = json.dumps(reply, ensure_ascii=False).encode("utf-8", "surrogatepass")
        view = memoryview(body)
        while view:
            view = view[os.write(out, view) :]
    except MemoryError:
        code = 3
    except BaseException:
        code = 4
    finally:
        os._exit(code)


def _collect(pid: int, pipe: int, wall_seconds: float) -> tuple[bytes, object]:
    """The frame for the parent, read from the child within the wall-clock limit, with how
    the child ended; and the parsers the child said it imported."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + wall_seconds
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            break
        ready, _, _ = select.select([pipe], [], [], left)
        if not ready:
            continue
        chunk = os.read(pipe, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(pipe)
    _, status = os.waitpid(pid, 0)
    signalled = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    exitcode = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    ended: dict[str, Any] = {"signal": signalled, "exitcode": exitcode, "timeout": timed_out}
    if timed_out or signalled or exitcode != 0 or not chunks:
        return _encoded(ended), None
    return _passed_on(b"".join(chunks), ended)


def _encoded(reply: dict[str, Any]) -> bytes:
    return json.dumps(reply, ensure_ascii=False).encode()


def _passed_on(body: bytes, ended: dict[str, Any]) -> tuple[bytes, object]:
    """The child's reply as the parent's frame: checked (a JSON object in UTF-8) and passed
    on as the child wrote it, with how it ended added at the end (where its keys win), rather
    than decoded and encoded again (a folder's batch replies with megabytes: that was a third
    of the host's work). A reply whose text holds a lone surrogate (UTF-8 cannot encode one;
    the child writes it with "surrogatepass") is encoded again as before, which fails."""
    try:
        reply = json.loads(body.decode("utf-8", "surrogatepass"))
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        return _encoded({**ended, "status": "garbled"}), None
    imported = reply.pop("imported", None)
    if b"\xed" in body and _SURROGATE.search(body):
        return _encoded({**reply, **ended}), imported
    body = body.strip(b" \t\n\r")  # what JSON allows around the object
    tail = _encoded(ended)[1:]  # '"signal": ...}'
    return body[:-1] + (b", " + tail if reply else tail), imported


def serve(jobs: BinaryIO, replies: BinaryIO) -> None:
    while (frame := read_frame(jobs)) is not None:
        job = pickle.loads(frame)  # written by the parent that started us
        read_end, write_end = os.pipe()
        # The host's objects (the parsers' modules) are never garbage: the child's collections
        # skip them instead of walking (and copying) them again and again.
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            _run_child(job, write_end)
        os.close(write_end)
        frame, imported = _collect(pid, read_end, job["wall_seconds"])
        write_frame(replies, frame)
        _import_needed(imported)


def _import_needed(names: object) -> None:
    """Import the parsers a child said it needed (only those of ON_DEMAND: the child read a
    stranger's bytes, and its reply names nothing else the host would act on)."""
    if not isinstance(names, list):
        return
    for module in ON_DEMAND:
        if module in names and module not in sys.modules:
            with contextlib.suppress(ImportError):
                importlib.import_module(module)


def main() -> None:
    # Our protocol owns the real stdout; anything a library prints goes to stderr instead.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    for module in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
