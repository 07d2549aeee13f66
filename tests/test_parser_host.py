"""The parser host's replies: what a child wrote reaches the parent as the child wrote it, with
how the child ended; a reply the parent could not read is never passed on."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.parser_host import read_frame, write_frame
from retrieval.sandbox import run_limited, shared_pool
from tests import hostile
from tests.test_sandbox import SMALL

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def host() -> Iterator[subprocess.Popen[bytes]]:
    """A parser host, started as retrieval.sandbox starts one."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "retrieval.parser_host"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        cwd="/",
    )
    yield process
    assert process.stdin is not None
    process.stdin.close()
    process.wait(60)


def _ask(host: subprocess.Popen[bytes], func: str, *args: object) -> bytes:
    assert host.stdin is not None and host.stdout is not None
    job = {"func": func, "args": args, "cpu_seconds": 5, "memory_bytes": 256 << 20}
    write_frame(host.stdin, pickle.dumps({**job, "wall_seconds": 30.0}))
    frame = read_frame(host.stdout)
    assert frame is not None
    return frame


def test_a_childs_reply_is_passed_on_as_it_wrote_it(host: subprocess.Popen[bytes]) -> None:
    """A batch's reply is megabytes: the host checks it and adds how the child ended, without
    decoding and encoding it again (the child's bytes, its key order, come through)."""
    value = {"text": "Sèvres “quoted” " * 1000, "n": [1, 2.5, None]}
    frame = _ask(host, "tests.hostile.echo", value)
    child = json.dumps({"status": "ok", "value": value}, ensure_ascii=False).encode()
    assert frame.startswith(child[:-1] + b", ")
    reply = json.loads(frame)
    assert reply["value"] == value
    assert (reply["status"], reply["signal"], reply["exitcode"], reply["timeout"]) == (
        "ok",
        0,
        0,
        False,
    )


def test_a_child_that_dies_is_said_to_have_died(host: subprocess.Popen[bytes]) -> None:
    reply = json.loads(_ask(host, "tests.hostile.die"))
    assert reply["exitcode"] not in (0, None) or reply["signal"]
    assert "status" not in reply


def test_a_reply_with_a_lone_surrogate_still_ends_as_before() -> None:
    """UTF-8 cannot carry U+D800: such a reply is not passed on (the host encodes it again,
    which fails, as it always has); the job is refused and the next one works."""
    from retrieval.errors import BadSource

    with pytest.raises(BadSource, match="could not be read just now; try again"):
        run_limited(hostile.echo, ("a\ud800b",), name="x", budget=SMALL, pool=shared_pool())
    assert run_limited(hostile.echo, ("é",), name="x", budget=SMALL, pool=shared_pool()) == "é"
