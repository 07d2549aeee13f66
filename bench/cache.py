"""bench/.cache: analysed text kept between runs, because citebot's analyzer is pure Python
(about 2.5 MB of text per second here) and the same collections are analysed on every run.

A cache file's name carries a fingerprint of the analyzer's source, so editing the analyzer
invalidates it; the input's size and mtime cover a changed data file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from bench.common import CACHE, ROOT


@cache
def analyzer_fingerprint() -> str:
    """Hash of the files that decide what analyze() returns."""
    h = hashlib.sha256()
    for name in ("analyzer.py", "stopwords.py"):
        path = ROOT / "retrieval" / name
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


def cache_path(key: str, source: Path | None = None, suffix: str = ".txt") -> Path:
    """Where the cached form of `key` lives; keyed by the analyzer and the source file."""
    parts = [key, analyzer_fingerprint()]
    if source is not None:
        st = source.stat()
        parts.append(
            hashlib.sha256(f"{source}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:8]
        )
    return CACHE / ("-".join(parts) + suffix)


def write_lines(path: Path, lines: Iterable[str]) -> None:
    """Write atomically, so an interrupted run never leaves a truncated cache behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line)
            f.write("\n")
    tmp.replace(path)


def read_lines(path: Path, limit: int | None = None) -> list[str]:
    """The first `limit` lines (all when None), without their newlines."""
    out: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if limit is not None and len(out) >= limit:
                break
            out.append(line.rstrip("\n"))
    return out


def analyzed(key: str, source: Path, texts: Sequence[str]) -> list[list[str]]:
    """analyze() of each text, read from the cache when the analyzer and source are unchanged."""
    path = cache_path(key, source)
    if path.is_file():
        lines = read_lines(path)
        if len(lines) == len(texts):
            return [line.split() for line in lines]
    from retrieval.analyzer import analyze

    docs = [analyze(t) for t in texts]
    write_lines(path, (" ".join(d) for d in docs))
    return docs
