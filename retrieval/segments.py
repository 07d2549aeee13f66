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

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.analyzer import analyze

FORMAT = "citebot-segment 2"
MAX_REMEMBERED = 50_000  # term look-ups a vocabulary keeps
# Each array a segment keeps, with its dtype: checked on open, so a damaged or foreign file is
# rejected rather than searched.
ARRAYS = (
    ("ids", np.int64),  # passage ids, ascending
    ("documents", np.int64),  # each passage's document id
    ("lengths", np.float32),  # each passage's own term count
    ("starts", np.int64),  # per term: where its postings start (one more entry than terms)
    ("docs", np.int32),  # per posting: the passage (an index into ids)
    ("tf", np.float32),  # per posting: the BM25F term frequency
    ("maxtf", np.float32),  # per term: its largest frequency (a bound on its score)
    ("offsets", np.int64),  # per term: where its text starts in the vocabulary blob
)


class Vocabulary:
    """Sorted terms in one UTF-8 blob, each followed by a newline, with each term's offset;
    a term's id is its rank. Found by bisection over the blob (UTF-8 byte order is code-point
    order), so opening one builds nothing."""

    def __init__(self, blob: bytes | np.ndarray, offsets: np.ndarray) -> None:
        self._blob = blob if isinstance(blob, bytes) else memoryview(blob).cast("B")
        self._offsets = offsets
        self.size = max(int(offsets.size) - 1, 0)
        self._words: list[str] | None = None
        self._found: dict[str, int] = {}

    @classmethod
    def of(cls, words: Sequence[str]) -> Vocabulary:
        """The vocabulary of these terms, already sorted by their UTF-8 bytes."""
        encoded = [w.encode() for w in words]
        sizes = np.fromiter((len(e) + 1 for e in encoded), dtype=np.int64, count=len(encoded))
        offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        return cls(b"".join(e + b"\n" for e in encoded), offsets)

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
        key = term.encode()
        low, high = 0, self.size
        while low < high:
            mid = (low + high) // 2
            if self._key(mid) < key:
                low = mid + 1
            else:
                high = mid
        return low if low < self.size and self._key(low) == key else -1

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


@dataclass
class Segment:
    """The passages of one scope (0: the global corpus) as postings arrays."""

    name: str
    scope: int
    ids: np.ndarray
    documents: np.ndarray
    lengths: np.ndarray
    starts: np.ndarray
    docs: np.ndarray
    tf: np.ndarray
    maxtf: np.ndarray
    vocabulary: Vocabulary

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
    def build(cls, name: str, scope: int, rows: Sequence[Sequence], title_weight: float) -> Segment:
        """A segment of these passage rows ((id, document id, guild id, terms, title), ids
        ascending); each passage's title terms count `title_weight` times."""
        n = len(rows)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
        documents = np.fromiter((r[1] for r in rows), dtype=np.int64, count=n)
        lengths = np.empty(n, dtype=np.float32)
        numbers = _Numbering()
        lookup = numbers.__getitem__  # C-level lookups; only new terms run Python code
        titles: dict[int, list[str]] = {}
        tokens_of: list[np.ndarray] = []
        pending: list[int] = []
        counts = np.zeros(n, dtype=np.int64)
        title_counts = np.zeros(n, dtype=np.int64)
        for i, row in enumerate(rows):
            own = row[3].split()
            lengths[i] = len(own)
            pending += map(lookup, own)
            counts[i] = len(own)
            if title_weight and len(row) > 4 and row[4]:
                title = titles.get(row[1])
                if title is None:
                    title = titles[row[1]] = analyze(row[4])
                pending += map(lookup, title)
                title_counts[i] = len(title)
            if len(pending) >= 1 << 16:  # small chunks: each conversion holds the GIL
                tokens_of.append(np.array(pending, dtype=np.int64))
                pending = []
        tokens_of.append(np.array(pending, dtype=np.int64))
        terms = np.concatenate(tokens_of)
        per_passage = counts + title_counts
        passage = np.repeat(np.arange(n, dtype=np.int64), per_passage)
        starts_of = np.concatenate(([0], np.cumsum(per_passage)))[:-1]
        in_title = np.arange(terms.size) - np.repeat(starts_of, per_passage) >= np.repeat(
            counts, per_passage
        )
        weight = np.where(in_title, title_weight, 1.0)
        # Renumber terms in sorted order, so a term's id is its rank in the vocabulary blob.
        words = sorted(numbers, key=lambda w: w.encode())
        rank = np.empty(len(numbers), dtype=np.int64)
        rank[[numbers[w] for w in words]] = np.arange(len(words))
        terms = rank[terms] if terms.size else terms
        width = max(n, 1)
        keys, inverse = np.unique(terms * width + passage, return_inverse=True)
        tf = np.bincount(inverse, weights=weight, minlength=keys.size).astype(np.float32)
        posting_terms = keys // width
        docs = (keys % width).astype(np.int32)
        df = np.bincount(posting_terms, minlength=len(words))
        starts = np.concatenate(([0], np.cumsum(df))).astype(np.int64)
        maxtf = np.maximum.reduceat(tf, starts[:-1]) if tf.size else np.zeros(0, dtype=np.float32)
        return cls(
            name, scope, ids, documents, lengths, starts, docs, tf, maxtf, Vocabulary.of(words)
        )

    # -- on disk -------------------------------------------------------------------------------

    def write(self, folder: Path) -> None:
        """Write the segment as `folder/<name>/` (a temporary folder, then renamed)."""
        target = folder / self.name
        staging = Path(tempfile.mkdtemp(prefix=f".{self.name}.", dir=folder))
        try:
            for name, dtype in ARRAYS:
                array = self.vocabulary.offsets() if name == "offsets" else getattr(self, name)
                np.save(staging / f"{name}.npy", np.ascontiguousarray(array, dtype=dtype))
            (staging / "vocabulary.bin").write_bytes(self.vocabulary.blob())
            info = {"format": FORMAT, "scope": self.scope, "passages": self.size}
            (staging / "segment.json").write_text(json.dumps(info))
            # No fsync: a segment is derived data, and one cut short by a crash fails the
            # checks on open and is rebuilt.
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
        if any(arrays[n].dtype != t or arrays[n].ndim != 1 for n, t in ARRAYS):
            return None
        segment = cls(
            name,
            int(info.get("scope", 0)),
            arrays["ids"],
            arrays["documents"],
            arrays["lengths"],
            arrays["starts"],
            arrays["docs"],
            arrays["tf"],
            arrays["maxtf"],
            Vocabulary(blob, arrays["offsets"]),
        )
        return segment if segment.consistent() else None

    def consistent(self) -> bool:
        """Whether the arrays are what a build gives, so that no search indexes out of bounds,
        scores NaN or misses a term: shapes, postings in order within each term, passages in
        range, finite positive frequencies, and a vocabulary of distinct sorted terms. Every
        check is one vectorised pass (tens of milliseconds at 100k passages)."""
        n, terms = self.ids.size, self.starts.size - 1
        if terms < 0 or self.documents.size != n or self.lengths.size != n:
            return False
        if self.vocabulary.size != terms or self.docs.size != self.tf.size:
            return False
        if self.maxtf.size != terms:
            return False
        starts, docs, tf = np.asarray(self.starts), np.asarray(self.docs), np.asarray(self.tf)
        if int(starts[0]) != 0 or int(starts[-1]) != docs.size or (np.diff(starts) <= 0).any():
            return False
        if docs.size and (int(docs.min()) < 0 or int(docs.max()) >= n):
            return False
        # Within a term, passages strictly increase (one posting per passage): every step
        # down or flat must be where a term starts.
        if docs.size > 1:
            first = np.zeros(docs.size, dtype=bool)
            first[starts[:-1]] = True
            if not ((docs[1:] > docs[:-1]) | first[1:]).all():
                return False
        if not (np.isfinite(tf).all() and (tf > 0).all()):
            return False
        if terms and not np.array_equal(np.maximum.reduceat(tf, starts[:-1]), self.maxtf):
            return False
        lengths = np.asarray(self.lengths)
        if not (np.isfinite(lengths).all() and (lengths >= 0).all()):
            return False
        if n > 1 and (np.diff(np.asarray(self.ids)) <= 0).any():
            return False
        return self.vocabulary.well_formed()


def remove_folder(path: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(path)
