"""Where the bundled corpus lives: `seeds/` in a source checkout, `retrieval/seeds/` when installed.

A bundled article's `source` is always its project path (`seeds/<file>`), wherever it was read
from, so citations look the same for every user.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
SEED_SUFFIXES = (".txt", ".md")
# The meta key holding the fingerprint of the bundled corpus the database was last seeded with.
SEED_FINGERPRINT = "seed_fingerprint"


def seeds_dir() -> Path | None:
    for candidate in (_PACKAGE / "seeds", _PACKAGE.parent / "seeds"):
        if candidate.is_dir():
            return candidate
    return None


def seed_files() -> list[tuple[str, Path]]:
    """(project path, file) for every bundled article, in name order."""
    folder = seeds_dir()
    if folder is None:
        return []
    return [
        (f"seeds/{p.name}", p)
        for p in sorted(folder.iterdir())
        if p.suffix in SEED_SUFFIXES and p.is_file()
    ]


def seed_contents() -> list[tuple[str, bytes]]:
    """(project path, raw bytes) for every bundled article, in name order."""
    return [(source, path.read_bytes()) for source, path in seed_files()]


def fingerprint(contents: list[tuple[str, bytes]]) -> str:
    """One hash of the bundled articles' names and bytes: equal to the stored one, the
    database holds the bundled corpus as it is, and opening it needs no seeding work."""
    return hashlib.sha256(b"\0".join(s.encode() + b"\0" + data for s, data in contents)).hexdigest()


def seeds_fingerprint() -> str:
    """The fingerprint of the bundled corpus as it is on disk now."""
    return fingerprint(seed_contents())
