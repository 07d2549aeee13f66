"""`python -m retrieval.precompile`: the compiled search (retrieval.compiled) compiled into
numba's cache, or found there, in a process of its own at the lowest priority; then it exits.

Why a process of its own: the first time after an install, compiling the search costs 12-25 s
of one core. A bot's engine processes that compiled it themselves, each in a thread, did so
under their own interpreter lock while answering: at 50 users the bot answered 162 questions
a second instead of 389 until both were done (bench/README.md). Here it runs at nice 19, so
the questions take the cores first, and the engine processes search with numpy meanwhile (the
same answers); `retrieval.engine_processes` then has them load it from the cache, one at a
time.
"""

from __future__ import annotations

import contextlib
import os
import sys


def main() -> int:
    with contextlib.suppress(OSError):
        os.nice(19)
    from retrieval import compiled

    compiled.warm()
    return 0


if __name__ == "__main__":
    sys.exit(main())
