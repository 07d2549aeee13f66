"""The compiled build (retrieval.building) writes the numpy build's segment byte for byte: the
same terms split where `str.split` splits, the same vocabulary, postings and array types."""

import random
from pathlib import Path

import numpy as np
import pytest

from retrieval import building, segments
from retrieval.segments import ARRAYS, Segment

# Terms alike in their first 8 bytes (the compiled build compares those first), of exactly
# 8 bytes, non-ASCII, and characters whose UTF-8 starts as a whitespace character's does but
# is none (U+2030, U+3001, U+1681, U+0086, U+200B): each is part of a term.
WORDS = [
    "internationalisation",
    "internationally",
    "internatio",
    "international",
    "abcdefgh",
    "abcdefg",
    "abcdefghi",
    "éclair",
    "naïve",
    "ölbaum",
    "日本語",
    "a",
    "b",
    "42",
    "x\u2030y",
    "\u3001",
    "z\u1681",
    "q\u0086",
    "w\u200bw",
]
# Whatever `str.split` splits on, ASCII and not.
SPACES = [" ", " ", " ", "\t", "\n", "\r\n", "\x0b", "\x1c", "\x1f", "\x85", "\xa0", "\u1680"]
SPACES += ["\u2000", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]


def _rows(seed: int, n: int) -> list[tuple]:
    """Passage rows (id, document, guild, terms, title): some empty, some starting or ending
    with whitespace, documents that come back after others, titled or not, and rows of a
    titled document that have no title of their own (they get none)."""
    rng = random.Random(seed)
    rows, document = [], 1
    for i in range(n):
        if rng.random() < 0.3:
            document = rng.randint(1, max(2, i // 3))
        terms = [rng.choice(WORDS) for _ in range(rng.choice([0, 1, 3, 8, 20]))]
        text = "".join(rng.choice(SPACES) + t for t in terms)
        if rng.random() < 0.5:
            text = text.strip()
        title = rng.choice(["", f"{WORDS[document % len(WORDS)]} Beta", "The Café"])
        rows.append((10 + 2 * i, document, None, text, title))
    return rows


def _arrays(segment: Segment, folder: Path) -> dict[str, bytes]:
    """Every file the segment writes, as bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    segment.write(folder)
    # Every file but the stamp, which records when and where each file was written.
    files = sorted((folder / segment.name).iterdir())
    return {p.name: p.read_bytes() for p in files if p.name != segments.STAMP}


def _compiled(workers: int = 2):
    def build(rows, title_weight):
        return building._postings(rows, title_weight, workers)

    return build


@pytest.mark.parametrize(("seed", "title_weight"), [(1, 2.0), (2, 1.5), (3, 0.0), (4, 1.0)])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_the_compiled_build_writes_the_numpy_builds_files(
    seed: int, title_weight: float, workers: int, tmp_path: Path, monkeypatch
) -> None:
    # Small blocks and a table of 2 slots at first: many blocks, shared between the workers,
    # and every array of the numbering grown many times over.
    monkeypatch.setattr(building, "BLOCK_CHARS", 300)
    monkeypatch.setattr(building, "BLOCK_PASSAGES", 7)
    monkeypatch.setattr(building, "FIRST_SLOTS", 2)
    rows = _rows(seed, 400)
    expected = _arrays(Segment.build("seg-a", 0, rows, title_weight), tmp_path / "numpy")
    built = Segment.build("seg-a", 0, rows, title_weight, _compiled(workers))
    assert _arrays(built, tmp_path / "compiled") == expected
    assert set(expected) == {f"{name}.npy" for name, _ in ARRAYS} | {
        "vocabulary.bin",
        "segment.json",
    }


def test_frequencies_of_two_bytes_and_float_ones_are_the_numpy_builds(tmp_path: Path) -> None:
    # A term 300 times in one passage: frequencies in uint16; a title weight of 1.5: float32.
    rows = [(i, i, None, "a b " + "a " * (300 * (i == 2)), "A title") for i in range(5)]
    for weight, kind in ((2.0, np.uint16), (1.5, np.float32)):
        built = Segment.build("seg-f", 0, rows, weight, _compiled())
        assert built.tf.dtype == kind
        expected = _arrays(Segment.build("seg-f", 0, rows, weight), tmp_path / f"n{weight}")
        assert _arrays(built, tmp_path / f"c{weight}") == expected


@pytest.mark.parametrize(
    "text",
    [
        "alpha \x00beta",  # a zero character: what ends a passage in the compiled build
        "alpha \ud800 beta",  # a lone surrogate: UTF-8 cannot encode it
    ],
)
def test_passages_only_numpy_reads_exactly_are_left_to_it(text: str, tmp_path: Path) -> None:
    rows = [(1, 1, None, "alpha gamma", ""), *[(i, 1, None, "beta", "") for i in range(2, 9)]]
    rows.append((9, 2, None, text, ""))
    assert building._postings(rows, 2.0) is None
    if "\x00" in text:  # built by numpy instead: a term holds the zero character
        built = Segment.build("seg-z", 0, rows, 2.0, _compiled())
        assert "\x00beta" in built.vocabulary.words()
        expected = _arrays(Segment.build("seg-z", 0, rows, 2.0), tmp_path / "n")
        assert _arrays(built, tmp_path / "c") == expected


def test_a_big_build_in_a_process_with_the_compiled_search_is_the_numpy_build(
    tmp_path: Path, monkeypatch
) -> None:
    # A process that loaded the compiled search builds big segments compiled, once the
    # compiled build has loaded; the segments are the numpy build's.
    import retrieval.compiled
    import retrieval.index as index_module

    monkeypatch.setattr(building, "SMALLEST", 10)
    rows = [(i + 1, i // 3 + 1, (None if i % 4 else 7), t, ti) for i, (_, _, _, t, ti) in
            enumerate(_rows(9, 60))]  # fmt: skip
    numpy = index_module.segments_of(rows)
    monkeypatch.setattr(index_module, "_compiled", retrieval.compiled)
    assert building.ready(600)  # a hang guard only
    compiled = index_module.segments_of(rows)
    assert [s.scope for s in compiled] == [s.scope for s in numpy] == [0, 7]
    for a, b in zip(numpy, compiled, strict=True):
        b.name = a.name
        assert _arrays(a, tmp_path / "n") == _arrays(b, tmp_path / "c")
