"""One immutable piece of the index: the passages of one scope, as arrays a search reads.

A segment holds some passages of one scope (the global corpus, or one server's sources) and
never changes once built: a new source becomes a new small segment, a removed one is marked
deleted by the index that holds the segment, and a scope's segments are merged by building one
segment from the database again. On disk a segment is a folder of plain `.npy` arrays, opened
memory-mapped: opening one reads no postings and builds no dictionary (the vocabulary is a
sorted blob searched by bisection), so a large corpus opens in milliseconds and the operating
system pages in only what questions touch.

Postings keep each passage's BM25F term frequency (its own occurrences plus the title weight
for each occurrence in its article's title) and each passage's length, so scores are computed
at query time with the statistics of whichever scopes a search combines.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

import numpy as np

from retrieval.analyzer import analyze

FORMAT = "citebot-segment 5"
MAX_REMEMBERED = 50_000  # term look-ups a vocabulary keeps
STRIDE = 64  # a vocabulary look-up bisects every STRIDE-th term, then one block of them
# Occurrences a build sorts at once: a block's postings are found by one sort, then the blocks'
# postings are merged per term; memory grows with the postings, not with a corpus-wide sort.
BLOCK_OCCURRENCES = 1 << 20
BLOCK_PASSAGES = 1 << 16  # at most, so that a block's passages fit 16 bits
CHUNK_OCCURRENCES = 1 << 16  # term numbers converted to an array at once (each holds the GIL)
_WHOLE = (np.uint8, np.uint16)
# Each array a segment keeps on disk, with the dtypes it may have (the narrowest that holds its
# values exactly): checked on open, so a damaged or foreign file is rejected rather than
# searched. Each term's largest frequency and where its text starts in the vocabulary blob
# are not stored: opening computes them in the pass that checks the arrays anyway.
ARRAYS = (
    ("ids", (np.int32, np.int64)),  # passage ids, ascending
    ("documents", (np.int32, np.int64)),  # each passage's document id
    ("lengths", (np.uint16, np.uint32)),  # each passage's own term count
    ("starts", (np.int32, np.int64)),  # per term: where its postings start (one more entry)
    ("docs", (np.uint16,)),  # per posting: its passage's position, low 16 bits
    ("run_starts", (np.int32, np.int64)),  # where each run of postings in one window starts
    ("run_windows", (np.uint16, np.int32)),  # each run's window (the positions' high bits)
    ("tf", (*_WHOLE, np.float32)),  # per posting: the BM25F term frequency
)


WINDOW_BITS = 16  # a posting keeps its position's low bits; runs of postings keep the rest


class Postings:
    """Each posting's passage position, stored in 2 bytes: the low `WINDOW_BITS` bits per
    posting, and the high bits (the position's window of 65,536 passages) once per run of
    consecutive postings in the same window. A term's postings ascend, so a term has one run
    per window it touches: at 100k passages most terms have one, at 1M a common word 16.
    Slicing decodes (`postings[span]` is the positions as int32), so a search reads the same
    values as from a plain array while the segment holds half the bytes on disk and in memory.
    """

    __slots__ = ("low", "run_starts", "run_windows")

    def __init__(self, low: np.ndarray, run_starts: np.ndarray, run_windows: np.ndarray) -> None:
        self.low = low
        self.run_starts = run_starts
        self.run_windows = run_windows

    @classmethod
    def of(cls, positions: np.ndarray) -> Postings:
        """Postings of these positions (non-negative, below 2**31)."""
        positions = np.asarray(positions, dtype=np.int64)
        high = positions >> WINDOW_BITS
        if positions.size:
            run_starts = np.concatenate(([0], np.flatnonzero(np.diff(high)) + 1))
        else:
            run_starts = np.zeros(0, dtype=np.int64)
        return cls.of_runs(positions & ((1 << WINDOW_BITS) - 1), run_starts, high[run_starts])

    @classmethod
    def of_runs(cls, low: np.ndarray, run_starts: np.ndarray, windows: np.ndarray) -> Postings:
        """Postings of these low bits, run starts and windows (found by `of`, or by the
        compiled build), each kept in the type `of` gives it."""
        return cls(
            low.astype(np.uint16, copy=False),
            run_starts.astype(np.int32 if low.size < 2**31 else np.int64, copy=False),
            windows.astype(
                np.uint16 if not windows.size or windows.max() < 2**16 else np.int32, copy=False
            ),
        )

    @property
    def size(self) -> int:
        return int(self.low.size)

    def __getitem__(self, key: slice) -> np.ndarray:
        start, stop, step = key.indices(self.low.size)
        if step != 1:
            raise ValueError("postings are sliced in order")
        out = self.low[start:stop].astype(np.int32)
        if stop <= start or not self.run_windows.size:
            return out
        starts = self.run_starts
        # Bounds of the array's own type: searching for a Python int would cast every run
        # start first (30 us a slice at 100k passages).
        kind = starts.dtype.type
        first = int(starts.searchsorted(kind(start), "right")) - 1
        last = int(starts.searchsorted(kind(stop), "left"))
        if last - first == 1:  # one window (most terms below 1M passages)
            window = int(self.run_windows[first])
            if window:
                out += window << WINDOW_BITS
            return out
        # Each run's part of the slice gets its window (a term has one run per window it
        # touches: one at 100k passages, at most 16 at 1M), each posting touched once.
        bounds = starts[first:last].tolist()
        windows = self.run_windows[first:last].tolist()
        bounds[0] = start
        bounds.append(stop)
        for at, window in enumerate(windows):
            if window:
                out[bounds[at] - start : bounds[at + 1] - start] += window << WINDOW_BITS
        return out

    def decoded(self) -> np.ndarray:
        """Every position (for the checks on open): one vectorised pass, however many runs."""
        out = self.low.astype(np.int32)
        if self.run_windows.size:
            lengths = np.diff(np.append(np.asarray(self.run_starts, dtype=np.int64), out.size))
            high = np.repeat(np.asarray(self.run_windows, dtype=np.int32), lengths)
            out += high << WINDOW_BITS
        return out

    def well_formed(self) -> bool:
        """Runs that start at 0, strictly ascend, stay within the postings and change window
        at each start (the decoding relies on it)."""
        starts, windows = np.asarray(self.run_starts), np.asarray(self.run_windows)
        if starts.size != windows.size or (self.low.size == 0) != (starts.size == 0):
            return False
        if not starts.size:
            return True
        if int(starts[0]) != 0 or int(starts[-1]) >= self.low.size:
            return False
        if (np.diff(starts) <= 0).any() or (np.diff(windows.astype(np.int64)) == 0).any():
            return False
        return bool((windows >= 0).all())


class Vocabulary:
    """Sorted terms in one UTF-8 blob, each followed by a newline, with each term's offset;
    a term's id is its rank. Found by bisection over the blob (UTF-8 byte order is code-point
    order), so opening one builds nothing."""

    def __init__(self, blob: bytes | np.ndarray, offsets: np.ndarray | None = None) -> None:
        """`offsets` of the terms in `blob`; found from its newlines when not given."""
        self._blob = blob if isinstance(blob, bytes) else memoryview(blob).cast("B")
        if offsets is None:
            ends = np.flatnonzero(np.frombuffer(self._blob, dtype=np.uint8) == 10)
            offsets = np.concatenate(([0], ends + 1)).astype(np.int64)
        self._offsets = offsets
        self.size = max(int(offsets.size) - 1, 0)
        self._words: list[str] | None = None
        self._found: dict[str, int] = {}
        self._samples: list[bytes] | None = None  # every STRIDE-th term (see _bisect)

    @classmethod
    def of(cls, words: Sequence[str]) -> Vocabulary:
        """The vocabulary of these terms (no whitespace in them: they come from `str.split`),
        already sorted by their UTF-8 bytes; the offsets are found from the newlines."""
        return cls(("\n".join(words) + "\n").encode() if words else b"")

    def __len__(self) -> int:
        return self.size

    def _key(self, term_id: int) -> bytes:
        return bytes(self._blob[int(self._offsets[term_id]) : int(self._offsets[term_id + 1]) - 1])

    def lookup(self, term: str) -> int:
        """The term's id, or -1 (remembered: questions repeat their words)."""
        found = self._found.get(term)
        if found is None:
            found = self._bisect(term)
            if len(self._found) >= MAX_REMEMBERED:
                self._found.clear()
            self._found[term] = found
        return found

    def _bisect(self, term: str) -> int:
        """Bisection in two steps, both in C: over every STRIDE-th term (sampled on the first
        look-up), then within that block of terms, split out of the blob at once. A bisection
        over the whole blob cut one key out of it per step in Python (17 steps at 100k terms:
        about a tenth of a short question's search)."""
        key = term.encode()
        if self._samples is None:  # one slice of the blob per sample, no per-key indexing
            starts = self._offsets[0 : self.size : STRIDE]
            ends = self._offsets[1 : self.size + 1 : STRIDE] - 1
            blob = self._blob
            self._samples = [
                bytes(blob[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
            ]
        block = bisect.bisect_right(self._samples, key) - 1
        if block < 0:
            return -1
        first = block * STRIDE
        last = min(first + STRIDE, self.size)
        start, end = int(self._offsets[first]), int(self._offsets[last]) - 1
        words = bytes(self._blob[start:end]).split(b"\n")
        at = bisect.bisect_left(words, key)
        return first + at if at < len(words) and words[at] == key else -1

    def words(self) -> list[str]:
        """Every term, decoded once on first use (only typo corrections need them all)."""
        if self._words is None:
            self._words = bytes(self._blob).decode().split("\n")[:-1] if self.size else []
        return self._words

    def well_formed(self) -> bool:
        """Offsets that cut the blob into terms, each ended by a newline, strictly sorted."""
        offsets = np.asarray(self._offsets)
        if offsets.size != self.size + 1 or int(offsets[0]) != 0:
            return False
        if int(offsets[-1]) != len(self._blob) or (np.diff(offsets) < 2).any():
            return False
        blob = np.frombuffer(self._blob, dtype=np.uint8)
        ends = offsets[1:] - 1
        if (blob[ends] != 10).any() or np.count_nonzero(blob == 10) != self.size:
            return False
        return _strictly_sorted(blob, offsets)

    def offsets(self) -> np.ndarray:
        return np.asarray(self._offsets)

    def blob(self) -> bytes:
        return bytes(self._blob)


def _strictly_sorted(blob: np.ndarray, offsets: np.ndarray) -> bool:
    """Whether the newline-ended terms of `blob` are in strictly increasing byte order, in a
    few array operations: each term's first 8 bytes (zero-padded: a prefix sorts first) as one
    big-endian number, each against the next's; only pairs equal in those bytes are compared
    whole, one by one."""
    count = offsets.size - 1
    if count < 2:
        return True
    sizes = np.diff(offsets) - 1
    columns = np.arange(8)
    inside = columns[None, :] < np.minimum(sizes, 8)[:, None]
    at = np.minimum(offsets[:-1, None] + columns, blob.size - 1)
    head = np.where(inside, blob[at], 0).astype(np.uint8)
    keys = np.ascontiguousarray(head).view(">u8").ravel()
    if (keys[1:] < keys[:-1]).any():
        return False
    for i in np.flatnonzero(keys[1:] == keys[:-1]).tolist():
        first = bytes(blob[offsets[i] : offsets[i + 1] - 1])
        second = bytes(blob[offsets[i + 1] : offsets[i + 2] - 1])
        if not first < second:
            return False
    return True


class _Numbering(dict[str, int]):
    """Term -> number, numbering new terms as they are first seen."""

    def __missing__(self, term: str) -> int:
        self[term] = number = len(self)
        return number


def _block_postings(
    terms: np.ndarray,
    counts: np.ndarray,
    title_counts: np.ndarray,
    title_weight: float,
    first_passage: int,
) -> _Block:
    """One block's postings, grouped by term, each term's passages ascending. `terms` holds
    each passage's own terms, then its title's, passage after passage (`counts`,
    `title_counts` of each); the first is `first_passage`."""
    n = counts.size
    width = max(n, 1)
    per_passage = counts + title_counts
    key = terms.astype(np.int64)
    key *= width
    key += np.repeat(np.arange(n, dtype=np.int32), per_passage)
    titled = bool(title_counts.any())
    if titled:  # one more bit: whether the occurrence is in the title
        ends = np.cumsum(per_passage)
        flag = np.zeros(key.size + 1, dtype=np.int8)
        np.add.at(flag, ends - title_counts, 1)
        np.add.at(flag, ends, -1)
        key *= 2
        key += np.cumsum(flag[:-1], dtype=np.int8)
        del flag
    key.sort()
    in_title = None
    if titled:
        in_title = (key & 1).astype(np.int32)
        key >>= 1
    at = _run_starts(key)  # each run of equal keys is one posting
    occurrences = np.diff(at, append=key.size)
    if in_title is not None and at.size:
        in_titles = np.add.reduceat(in_title, at)
        tf = _narrow_frequencies((occurrences - in_titles) + title_weight * in_titles)
    else:
        tf = _narrow_frequencies(occurrences)
    key = key[at]
    docs = (key % width).astype(np.uint16)  # counted from the block's first passage
    key //= width  # each posting's term
    runs = _run_starts(key)
    lengths = np.diff(runs, append=key.size)
    return _Block(key[runs].astype(np.int32), lengths.astype(np.int32), first_passage, docs, tf)


def _run_starts(values: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts, in a sorted (or grouped) array."""
    first = np.empty(values.size, dtype=bool)
    first[:1] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    return np.flatnonzero(first)


@dataclass
class _Block:
    """The postings of some consecutive passages: each term's run (its number as first seen,
    how many postings), then every posting's passage (counted from `first`) and frequency,
    run after run: 3 bytes a posting while the build holds it."""

    terms: np.ndarray
    lengths: np.ndarray
    first: int
    docs: np.ndarray
    tf: np.ndarray


def _merge(blocks: list[_Block], rank: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(docs, tf, starts) of every block's postings, each term's in one span, ordered by the
    term's rank: each block's runs are copied after what earlier blocks put in the same span
    (blocks come in passage order, so each term's passages stay ascending). Blocks are freed
    as they are copied."""
    df = np.zeros(rank.size, dtype=np.int64)
    for block in blocks:
        df[rank[block.terms]] += block.lengths  # a term has one run per block
    starts = np.concatenate(([0], np.cumsum(df)))
    kind = np.result_type(*[b.tf.dtype for b in blocks]) if blocks else np.dtype(np.uint8)
    docs = np.empty(int(starts[-1]), dtype=np.int32)
    tf = np.empty(docs.size, dtype=kind)
    cursor = starts[:-1].copy()
    while blocks:
        block = blocks.pop(0)
        runs = rank[block.terms]
        at = np.cumsum(block.lengths, dtype=np.int64) - block.lengths  # each run's start
        # Each posting's place: its term's cursor, plus how far into its run it is.
        place = np.arange(block.docs.size, dtype=np.int64)
        place += np.repeat(cursor[runs] - at, block.lengths)
        docs[place] = block.docs.astype(np.int32) + block.first
        tf[place] = block.tf
        cursor[runs] += block.lengths
    return docs, tf, _narrow(starts, signed=True)


def _narrow(values: np.ndarray, signed: bool = False) -> np.ndarray:
    """Whole numbers in the narrowest of uint8/uint16/uint32 (int32/int64 when `signed`)
    that holds them all: a segment's disk and memory are mostly such arrays."""
    low, top = (int(values.min()), int(values.max())) if values.size else (0, 0)
    kinds = (np.int32, np.int64) if signed else (np.uint8, np.uint16, np.uint32, np.uint64)
    for kind in kinds:
        if np.iinfo(kind).min <= low and top <= np.iinfo(kind).max:
            return values.astype(kind)
    return values.astype(np.int64)


def _narrow_lengths(counts: np.ndarray) -> np.ndarray:
    """Passage lengths (term counts) as uint16 (uint32 past 65,535 terms): a search reads one
    at each posting, and a search looks up its normalisation in a table by this whole number
    (so one dtype nearly always: the compiled search is compiled once for it)."""
    fits = not counts.size or int(counts.max()) <= np.iinfo(np.uint16).max
    return counts.astype(np.uint16 if fits else np.uint32)


def _narrow_frequencies(tf: np.ndarray) -> np.ndarray:
    """Frequencies as whole numbers (uint8/uint16) when they all are (the title weight is a
    whole number), else float32: the values a search reads are the same either way."""
    whole = tf.dtype.kind in "iu" or bool((np.mod(tf, 1) == 0).all())
    if whole and (not tf.size or int(tf.max()) <= np.iinfo(np.uint16).max):
        return _narrow(tf.astype(np.int64))
    return tf.astype(np.float32)


def _maxima(tf: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each term's largest frequency (a bound on its score), in tf's dtype."""
    if not tf.size:
        return np.zeros(0, dtype=tf.dtype)
    return np.maximum.reduceat(tf, starts[:-1].astype(np.int64))


@dataclass
class Built:
    """What a build finds for a segment's postings: each passage's own term count, the sorted
    vocabulary, the postings of each term in its rank's span, and where each span starts."""

    counts: np.ndarray
    vocabulary: Vocabulary
    docs: Postings
    tf: np.ndarray
    starts: np.ndarray


def _postings(rows: Sequence[Sequence], title_weight: float) -> Built:
    """The numpy build. Terms are numbered as first seen (C-level dict look-ups; only a new
    term runs Python code) into 32-bit arrays; in blocks of passages, one (term, passage) key
    per occurrence is sorted in place, and each run of equal keys is one posting whose length
    is the frequency; the blocks are then merged into each term's span."""
    n = len(rows)
    counts = np.zeros(n, dtype=np.int64)  # each passage's own terms
    title_counts = np.zeros(n, dtype=np.int64)  # its title's terms, counted after its own
    numbers = _Numbering()
    lookup = numbers.__getitem__
    titles: dict[int, list[str]] = {}
    blocks: list[_Block] = []
    chunks: list[np.ndarray] = []
    pending: list[int] = []
    held = block_start = 0  # occurrences in `chunks`; the block's first passage

    def flush(end: int) -> None:
        nonlocal chunks, held, block_start
        chunks.append(np.array(pending, dtype=np.int32))
        pending.clear()
        terms = np.concatenate(chunks)
        chunks, held = [], 0
        part = slice(block_start, end)
        blocks.append(
            _block_postings(terms, counts[part], title_counts[part], title_weight, block_start)
        )
        block_start = end

    for i, row in enumerate(rows):
        own = row[3].split()
        counts[i] = len(own)
        pending += map(lookup, own)
        if title_weight and len(row) > 4 and row[4]:
            title = titles.get(row[1])
            if title is None:
                title = titles[row[1]] = analyze(row[4])
            pending += map(lookup, title)
            title_counts[i] = len(title)
        if len(pending) >= CHUNK_OCCURRENCES:
            chunks.append(np.array(pending, dtype=np.int32))
            held += len(pending)
            pending.clear()
        if held >= BLOCK_OCCURRENCES or i + 1 - block_start >= BLOCK_PASSAGES:
            flush(i + 1)
    flush(n)
    # Renumber terms in sorted order, so a term's id is its rank in the vocabulary blob.
    # (Python orders strings by code point, as UTF-8 bytes sort: no encoding needed.)
    words = sorted(numbers)
    rank = np.empty(len(numbers), dtype=np.int32)
    rank[np.fromiter(map(numbers.__getitem__, words), dtype=np.int64, count=len(words))] = (
        np.arange(len(words), dtype=np.int32)
    )
    del numbers
    positions, tf, starts = _merge(blocks, rank)
    return Built(counts, Vocabulary.of(words), Postings.of(positions), tf, starts)


@dataclass
class Segment:
    """The passages of one scope (0: the global corpus) as postings arrays."""

    name: str
    scope: int
    ids: np.ndarray
    documents: np.ndarray
    lengths: np.ndarray
    starts: np.ndarray
    docs: Postings
    tf: np.ndarray
    maxtf: np.ndarray
    vocabulary: Vocabulary

    def __post_init__(self) -> None:
        # Immutable: what a search reads is read-only, built in memory or mapped from disk
        # alike (so the compiled search sees one kind of array, and nothing writes by mistake).
        for array in (
            self.docs.low,
            self.docs.run_starts,
            self.docs.run_windows,
            self.tf,
            self.lengths,
        ):
            if isinstance(array, np.ndarray):
                array.flags.writeable = False

    @property
    def size(self) -> int:
        return int(self.ids.size)

    @property
    def total_length(self) -> float:
        return float(self.lengths.sum(dtype=np.float64))

    def df(self, term_id: int) -> int:
        return int(self.starts[term_id + 1] - self.starts[term_id])

    def postings(self, term_id: int) -> slice:
        return slice(int(self.starts[term_id]), int(self.starts[term_id + 1]))

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        name: str,
        scope: int,
        rows: Sequence[Sequence],
        title_weight: float,
        compiled: Callable[[Sequence[Sequence], float], Built | None] | None = None,
    ) -> Segment:
        """A segment of these passage rows ((id, document id, guild id, terms, title), ids
        ascending); each passage's title terms count `title_weight` times. `compiled`: the
        compiled build (retrieval.building.postings), used when given and it can build these
        rows; the numpy build (`_postings`) gives the same arrays. The arrays kept are the
        narrowest that hold their values exactly (see `_narrow`)."""
        n = len(rows)
        ids = np.fromiter(map(itemgetter(0), rows), dtype=np.int64, count=n)
        documents = np.fromiter(map(itemgetter(1), rows), dtype=np.int64, count=n)
        built = compiled(rows, title_weight) if compiled is not None else None
        if built is None:
            built = _postings(rows, title_weight)
        return cls(
            name,
            scope,
            _narrow(ids, signed=True),
            _narrow(documents, signed=True),
            _narrow_lengths(built.counts),
            built.starts,
            built.docs,
            built.tf,
            _maxima(built.tf, built.starts),
            built.vocabulary,
        )

    # -- on disk -------------------------------------------------------------------------------

    def write(self, folder: Path) -> None:
        """Write the segment as `folder/<name>/` (a temporary folder, then renamed)."""
        target = folder / self.name
        import shutil  # only a write needs these: not imported by every ask
        import tempfile

        staging = Path(tempfile.mkdtemp(prefix=f".{self.name}.", dir=folder))
        try:
            stored = {
                "docs": self.docs.low,
                "run_starts": self.docs.run_starts,
                "run_windows": self.docs.run_windows,
            }
            for name, dtypes in ARRAYS:
                array = np.asarray(stored[name] if name in stored else getattr(self, name))
                if array.dtype not in dtypes:
                    array = array.astype(dtypes[-1])
                np.save(staging / f"{name}.npy", np.ascontiguousarray(array))
            (staging / "vocabulary.bin").write_bytes(self.vocabulary.blob())
            info = {"format": FORMAT, "scope": self.scope, "passages": self.size}
            (staging / "segment.json").write_text(json.dumps(info))
            # Built consistent: on disk before it is stamped so (see _stamp), then renamed.
            _stamp(staging)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    @classmethod
    def open(cls, folder: Path, name: str) -> Segment | None:
        """The segment `folder/<name>/`, memory-mapped; None when it is missing, damaged or of
        another format (derived data: the caller rebuilds it)."""
        path = folder / name
        try:
            info = json.loads((path / "segment.json").read_text())
            if info.get("format") != FORMAT:
                return None
            # Plain ndarray views of the maps: the same pages, without np.memmap's per-access
            # Python overhead (a third of a search's time otherwise).
            arrays = {n: np.asarray(np.load(path / f"{n}.npy", mmap_mode="r")) for n, _ in ARRAYS}
            blob = np.asarray(np.memmap(path / "vocabulary.bin", dtype=np.uint8, mode="r"))
        except Exception:  # missing, truncated, foreign: derived data, rebuilt by the caller
            return None
        if any(arrays[n].dtype not in t or arrays[n].ndim != 1 for n, t in ARRAYS):
            return None
        starts, tf = arrays["starts"], arrays["tf"]
        if starts.size < 1 or int(starts[0]) != 0 or int(starts[-1]) != tf.size:
            return None
        if (np.diff(starts) <= 0).any():
            return None  # checked here too: the maxima below read within these bounds
        segment = cls(
            name,
            int(info.get("scope", 0)),
            arrays["ids"],
            arrays["documents"],
            arrays["lengths"],
            arrays["starts"],
            Postings(arrays["docs"], arrays["run_starts"], arrays["run_windows"]),
            tf,
            _maxima(tf, starts),
            Vocabulary(blob),
        )
        if _stamped(path):  # checked whole before, and no file changed since
            return segment if segment.shaped() else None
        if not segment.consistent():
            return None
        with contextlib.suppress(OSError):  # a read-only folder: checked again next time
            _stamp(path)
        return segment

    def shaped(self) -> bool:
        """Whether the arrays' sizes agree (no pass over them)."""
        n, terms = self.ids.size, self.starts.size - 1
        if terms < 0 or self.documents.size != n or self.lengths.size != n:
            return False
        if self.vocabulary.size != terms or self.docs.size != self.tf.size:
            return False
        return self.maxtf.size == terms  # computed from tf (by the build, or on open)

    def consistent(self) -> bool:
        """Whether the arrays are what a build gives, so that no search indexes out of bounds,
        scores NaN or misses a term: shapes, postings in order within each term, passages in
        range, finite positive frequencies, and a vocabulary of distinct sorted terms. Every
        check is one vectorised pass (tens of milliseconds at 100k passages)."""
        if not self.shaped() or not self.docs.well_formed():
            return False
        n = self.ids.size
        # Checked on the stored form (2-byte low bits and the runs' windows), not on decoded
        # positions: half the memory traffic of a pass that opening pays every time.
        starts, tf = np.asarray(self.starts), np.asarray(self.tf)
        low = np.asarray(self.docs.low)
        runs = np.asarray(self.docs.run_starts, dtype=np.int64)
        windows = np.asarray(self.docs.run_windows, dtype=np.int64)
        if int(starts[0]) != 0 or int(starts[-1]) != low.size or (np.diff(starts) <= 0).any():
            return False
        if low.size:
            # The largest position: each run's window plus its largest low bits.
            tops = (windows << WINDOW_BITS) + np.maximum.reduceat(low, runs)
            if int(tops.max()) >= n:
                return False
        # Within a term, passages strictly increase (one posting per passage): within a run
        # the low bits do, and where a run starts its window does; every other step must be
        # where a term starts.
        if low.size > 1:
            rising = low[1:] > low[:-1]
            rising[runs[1:] - 1] = np.diff(windows) > 0
            first = np.zeros(low.size, dtype=bool)
            first[starts[:-1]] = True
            if not (rising | first[1:]).all():
                return False
        if not (np.isfinite(tf).all() and (tf > 0).all()):
            return False
        if self.lengths.dtype.kind != "u":  # whole and never negative (open checks dtypes)
            return False
        if n > 1 and (np.diff(np.asarray(self.ids)) <= 0).any():
            return False
        return self.vocabulary.well_formed()


# A segment folder's record that its files passed every check (see Segment.consistent) as
# they are: each file's size, modification time, inode, and a hash of its first and last
# SAMPLED bytes. Opening a folder whose files all
# match skips the checks' passes over the postings (a fifth of a cold `citebot ask` at 100k
# passages); any file rewritten, truncated, copied or restored no longer matches, and is
# checked whole again.
STAMP = "checked.json"
_STAMPED_FILES = (*(f"{name}.npy" for name, _ in ARRAYS), "vocabulary.bin", "segment.json")


# Bytes of each file's start and end in its fingerprint: a file rewritten within the
# resolution of its modification time, at the same size, differs there all the same.
SAMPLED = 1 << 16


def _fingerprint(path: Path) -> list[list[int | str]]:
    import hashlib

    out: list[list[int | str]] = []
    for name in _STAMPED_FILES:
        with open(path / name, "rb") as f:
            st = os.fstat(f.fileno())
            sample = hashlib.blake2b(f.read(SAMPLED), digest_size=16)
            if st.st_size > SAMPLED:
                f.seek(max(SAMPLED, st.st_size - SAMPLED))
                sample.update(f.read(SAMPLED))
        out.append([name, st.st_size, st.st_mtime_ns, st.st_ino, sample.hexdigest()])
    return out


def _stamp(path: Path) -> None:
    """Record that the files in `path` passed the checks: written to disk first (fsync), so a
    crash cannot leave a stamp over files whose data never reached it."""
    for name in _STAMPED_FILES:
        fd = os.open(path / name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    (path / STAMP).write_text(json.dumps({"format": FORMAT, "files": _fingerprint(path)}))


def _stamped(path: Path) -> bool:
    try:
        stamp = json.loads((path / STAMP).read_text())
        return stamp.get("format") == FORMAT and stamp.get("files") == _fingerprint(path)
    except (OSError, ValueError, AttributeError):
        return False


def remove_folder(path: Path) -> None:
    import shutil

    with contextlib.suppress(OSError):
        shutil.rmtree(path)
