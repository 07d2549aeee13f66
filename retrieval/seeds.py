"""Where the bundled corpus lives: `seeds/` in a source checkout, `retrieval/seeds/` when installed.

A bundled article's `source` is always its project path (`seeds/<file>`), wherever it was read
from, so citations look the same for every user.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
SEED_SUFFIXES = (".txt", ".md")


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
