"""A segment's postings are the passages' term counts, kept in the narrowest exact arrays, and a
segment saved in another format is rebuilt, never read."""

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from retrieval import segments
from retrieval.analyzer import analyze
from retrieval.index import Bm25Index
from retrieval.segments import FORMAT, Segment, Vocabulary

WORDS = ["zebra", "apple", "éclair", "app", "naïve", "b", "beta", "ab", "ärger", "z", "ölbaum"]


def _rows(seed: int, n: int, titled: bool = True) -> list[tuple]:
    """Passage rows (id, document, guild, terms, title); documents of 1-3 passages share a
    title, as an article's passages do."""
    rng = random.Random(seed)
    rows, document = [], 0
    for i in range(n):
        if i == 0 or rng.random() < 0.4:
            document += 1
        terms = " ".join(rng.choices(WORDS, k=rng.randint(0, 12)))
        title = f"{WORDS[document % len(WORDS)]} Beta" if titled else ""
        rows.append((10 + 3 * i, document, None, terms, title))
    return rows


def _expected(rows: list[tuple], title_weight: float) -> dict[str, dict[int, float]]:
    """term -> {passage position: BM25F frequency}, counted the plain way."""
    out: dict[str, dict[int, float]] = {}
    for position, row in enumerate(rows):
        counts = Counter({t: float(c) for t, c in Counter(row[3].split()).items()})
        if title_weight and row[4]:
            for term in analyze(row[4]):
                counts[term] += title_weight
        for term, count in counts.items():
            out.setdefault(term, {})[position] = count
    return out


def _postings(segment: Segment) -> dict[str, dict[int, float]]:
    out = {}
    for term_id, term in enumerate(segment.vocabulary.words()):
        span = segment.postings(term_id)
        docs, tf = segment.docs[span].tolist(), segment.tf[span].tolist()
        assert docs == sorted(docs)
        out[term] = dict(zip(docs, map(float, tf), strict=True))
    return out


@pytest.mark.parametrize(("seed", "title_weight"), [(1, 2.0), (2, 1.5), (3, 0.0), (4, 1.0)])
def test_postings_are_each_passages_term_counts(seed: int, title_weight: float) -> None:
    rows = _rows(seed, 60)
    segment = Segment.build("s", 0, rows, title_weight)
    expected = _expected(rows, title_weight)
    assert _postings(segment) == expected
    words = segment.vocabulary.words()
    assert words == sorted(expected, key=str.encode)  # a term's id is its rank in UTF-8 order
    assert [segment.vocabulary.lookup(w) for w in words] == list(range(len(words)))
    assert segment.vocabulary.lookup("absent") == -1
    assert segment.lengths.tolist() == [len(r[3].split()) for r in rows]
    for term_id, term in enumerate(words):
        assert segment.df(term_id) == len(expected[term])
        assert float(segment.maxtf[term_id]) == max(expected[term].values())
    assert segment.ids.tolist() == [r[0] for r in rows]
    assert segment.documents.tolist() == [r[1] for r in rows]


@pytest.mark.parametrize(
    ("chunk", "block", "passages"), [(1, 1, 100), (5, 12, 100), (7, 40, 100), (100, 1000, 3)]
)
def test_postings_built_in_blocks_are_the_same(
    monkeypatch, chunk: int, block: int, passages: int
) -> None:
    # A large corpus is sorted block by block, then merged per term: the same postings, each
    # term's passages ascending across the blocks.
    rows = _rows(8, 80)
    whole = Segment.build("s", 0, rows, 2.0)
    monkeypatch.setattr(segments, "CHUNK_OCCURRENCES", chunk)
    monkeypatch.setattr(segments, "BLOCK_OCCURRENCES", block)
    monkeypatch.setattr(segments, "BLOCK_PASSAGES", passages)
    blocked = Segment.build("s", 0, rows, 2.0)
    assert _postings(blocked) == _postings(whole) == _expected(rows, 2.0)
    assert np.array_equal(blocked.starts, whole.starts)
    assert np.array_equal(blocked.maxtf, whole.maxtf)


def test_ids_beyond_32_bits_are_kept_whole(tmp_path: Path) -> None:
    rows = [(2**40 + i, -(2**33) + i, None, "alpha beta", "") for i in range(3)]
    Segment.build("seg-wide", 0, rows, 2.0).write(tmp_path)
    opened = Segment.open(tmp_path, "seg-wide")
    assert opened is not None
    assert opened.ids.tolist() == [r[0] for r in rows]
    assert opened.documents.tolist() == [r[1] for r in rows]


LONG_WORDS = [
    "internationalisation",
    "internationalised",
    "internationalism",
    "internationalist",
    "internationalization",
    "intern",
    "internat",
    "internationa",
    "ab\x00",
    "ab",
    "ab\x00\x00\x00\x00\x00\x00\x00\x00x",
    "straßenbahnhaltestelle",
    "straßenbahn",
    "ölbaumzweig",
]


@pytest.mark.parametrize("order", ["sorted", "swapped", "repeated", "prefix after"])
def test_a_vocabulary_is_checked_to_be_strictly_sorted(order: str) -> None:
    words = sorted(LONG_WORDS, key=str.encode)
    if order == "swapped":  # two words sharing their first 16 bytes, out of order
        i = words.index("internationalisation")
        words[i], words[i + 1] = words[i + 1], words[i]
    elif order == "repeated":
        words.insert(words.index("internationalism"), "internationalism")
    elif order == "prefix after":  # a word before its own prefix
        i = words.index("ab")
        words[i], words[i + 1] = words[i + 1], words[i]
    assert Vocabulary.of(words).well_formed() == (order == "sorted")


def test_an_empty_segment_has_no_terms() -> None:
    segment = Segment.build("s", 0, [(1, 1, None, "", "")], 2.0)
    assert segment.size == 1 and segment.vocabulary.size == 0 and segment.docs.size == 0


@pytest.mark.parametrize(
    ("title_weight", "repeats", "dtype"),
    [(2.0, 1, np.uint8), (2.0, 300, np.uint16), (1.5, 1, np.float32)],
)
def test_frequencies_are_kept_in_the_narrowest_exact_type(
    tmp_path: Path, title_weight: float, repeats: int, dtype: type
) -> None:
    rows = [*_rows(5, 30), (1000, 99, None, " ".join(["often"] * repeats), "Often")]
    built = Segment.build("seg-narrow", 0, rows, title_weight)
    assert built.tf.dtype == dtype and built.maxtf.dtype == dtype
    assert _postings(built) == _expected(rows, title_weight)
    built.write(tmp_path)
    opened = Segment.open(tmp_path, "seg-narrow")
    assert opened is not None
    assert opened.tf.dtype == dtype and _postings(opened) == _postings(built)
    assert np.array_equal(opened.maxtf, built.maxtf)
    # On disk: 2 bytes of passage (and a run per window) and 1 of frequency per posting when
    # the counts fit a byte; the maxima and the vocabulary's offsets are computed on open.
    files = {p.name for p in (tmp_path / "seg-narrow").iterdir()}
    stored = ("ids", "documents", "lengths", "starts", "docs", "run_starts", "run_windows", "tf")
    assert files == {f"{n}.npy" for n in stored} | {
        "vocabulary.bin",
        "segment.json",
        "checked.json",  # the record that these files passed the checks
    }
    postings = built.docs.size
    assert np.load(tmp_path / "seg-narrow" / "docs.npy", mmap_mode="r").nbytes == 2 * postings
    size = np.dtype(dtype).itemsize
    assert np.load(tmp_path / "seg-narrow" / "tf.npy", mmap_mode="r").nbytes == size * postings


@pytest.mark.parametrize("bad", [np.nan, np.inf, 0.0, -1.0])
def test_a_saved_segment_with_bad_float_frequencies_is_not_opened(
    tmp_path: Path, bad: float
) -> None:
    Segment.build("seg-f", 0, _rows(6, 30), 1.5).write(tmp_path)
    tf = np.load(tmp_path / "seg-f" / "tf.npy")
    assert tf.dtype == np.float32
    tf[len(tf) // 2] = bad
    np.save(tmp_path / "seg-f" / "tf.npy", tf)
    assert Segment.open(tmp_path, "seg-f") is None


def test_a_saved_segment_with_a_zero_frequency_is_not_opened(tmp_path: Path) -> None:
    Segment.build("seg-z", 0, _rows(7, 30), 2.0).write(tmp_path)
    tf = np.load(tmp_path / "seg-z" / "tf.npy")
    tf[0] = 0
    np.save(tmp_path / "seg-z" / "tf.npy", tf)
    assert Segment.open(tmp_path, "seg-z") is None


def _as_format_2(segment: Path) -> None:
    """Rewrite a saved segment the way the previous format stored it: 64-bit term starts,
    float32 frequencies, each term's largest frequency and the vocabulary offsets as arrays."""
    tf = np.load(segment / "tf.npy").astype(np.float32)
    starts = np.load(segment / "starts.npy").astype(np.int64)
    np.save(segment / "tf.npy", tf)
    np.save(segment / "starts.npy", starts)
    np.save(segment / "maxtf.npy", np.maximum.reduceat(tf, starts[:-1]))
    blob = np.frombuffer((segment / "vocabulary.bin").read_bytes(), dtype=np.uint8)
    offsets = np.concatenate(([0], np.flatnonzero(blob == 10) + 1)).astype(np.int64)
    np.save(segment / "offsets.npy", offsets)
    info = json.loads((segment / "segment.json").read_text())
    (segment / "segment.json").write_text(json.dumps({**info, "format": "citebot-segment 2"}))


async def test_a_segment_saved_in_the_previous_format_is_rebuilt(tmp_path: Path) -> None:
    from retrieval.knowledge import KnowledgeBase

    db, saved = tmp_path / "kb.db", tmp_path / "kb.db.segments"
    async with await KnowledgeBase.open(db) as kb:
        first = await kb.ask("H800 export restrictions")
    (old,) = json.loads((saved / "manifest.json").read_text())["segments"]
    _as_format_2(saved / old["name"])
    assert Bm25Index.open_saved(saved) is None
    async with await KnowledgeBase.open(db) as kb:
        again = await kb.ask("H800 export restrictions")
    assert again.answered and again.hits == first.hits
    (new,) = json.loads((saved / "manifest.json").read_text())["segments"]
    assert new["name"] != old["name"]
    assert json.loads((saved / new["name"] / "segment.json").read_text())["format"] == FORMAT
    assert Bm25Index.open_saved(saved) is not None


@pytest.mark.parametrize("bits", [16, 2])
def test_postings_decode_to_their_positions_from_any_slice(
    bits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Positions are kept as 16 low bits per posting and one window per run; every slice a
    # search takes (a term's span, part of it, empty) decodes to the positions themselves,
    # including runs that start and end inside it.
    import random

    import retrieval.segments as segments_module
    from retrieval.segments import Postings

    monkeypatch.setattr(segments_module, "WINDOW_BITS", bits)
    rng = random.Random(bits)
    terms = [sorted(rng.sample(range(200_000), rng.randint(1, 60))) for _ in range(40)]
    positions = np.array([p for term in terms for p in term], dtype=np.int64)
    postings = Postings.of(positions)
    assert postings.well_formed() and postings.size == positions.size
    assert postings.low.dtype == np.uint16 and postings.low.nbytes == 2 * positions.size
    for _ in range(300):
        a = rng.randint(0, positions.size)
        b = rng.randint(a, positions.size)
        got = postings[slice(a, b)]
        assert got.dtype == np.int32 and got.tolist() == positions[a:b].tolist()
    assert postings.decoded().tolist() == positions.tolist()


def test_every_word_of_a_vocabulary_is_found_at_its_rank_and_no_other():
    # Look-ups bisect every 64th word, then one block: each word, the first and last of
    # every block, and words between, before and after them all.
    from retrieval.segments import Vocabulary

    words = sorted({f"w{i:05d}" for i in range(0, 2000, 3)} | {"ä", "zz", "a"})
    vocabulary = Vocabulary.of(words)
    for rank, word in enumerate(words):
        assert vocabulary.lookup(word) == rank
    for absent in ("", "0", "w00001", "w01999x", "w2", "zzz", "b", "é"):
        assert vocabulary.lookup(absent) == -1


def test_postings_over_many_windows_open_and_a_wrong_window_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The checks on open read the stored form: with 4-passage windows, a built segment's
    # postings cross many windows and open as built; windows out of order (a term's passages
    # no longer ascending) or past the last passage are caught, not searched.
    import retrieval.segments as segments_module

    monkeypatch.setattr(segments_module, "WINDOW_BITS", 2)
    rows = _rows(40, 30)
    built = Segment.build("seg-win", 0, rows, 2.0)
    assert built.docs.run_windows.size > 10
    built.write(tmp_path)
    opened = Segment.open(tmp_path, "seg-win")
    assert opened is not None and _postings(opened) == _postings(built)
    windows = np.load(tmp_path / "seg-win" / "run_windows.npy")
    for damaged in (windows[::-1].copy(), windows + windows.max()):
        np.save(tmp_path / "seg-win" / "run_windows.npy", damaged)
        assert Segment.open(tmp_path, "seg-win") is None


def test_a_segment_is_checked_whole_until_a_stamp_says_its_files_passed(tmp_path: Path) -> None:
    # A segment written by a build is stamped (its files as checked); one without a stamp
    # (written before stamps, or its stamp lost) is checked whole on open and then stamped; a
    # damaged one is refused and never stamped, and a file changed after its stamp is checked
    # whole again.
    Segment.build("seg-s", 0, _rows(8, 40), 2.0).write(tmp_path)
    folder = tmp_path / "seg-s"
    stamp = folder / segments.STAMP
    assert stamp.exists()
    stamp.unlink()
    assert Segment.open(tmp_path, "seg-s") is not None
    assert stamp.exists()
    tf = np.load(folder / "tf.npy")
    tf[0] = 0
    np.save(folder / "tf.npy", tf)  # after the stamp: no longer matches it
    assert Segment.open(tmp_path, "seg-s") is None
    stamp.unlink()
    assert Segment.open(tmp_path, "seg-s") is None
    assert not stamp.exists()
