"""The in-memory BM25 index over every passage, with per-server visibility.

BM25 with the article's title as a second field of every passage (BM25F with one shared length
normalisation, title weight `TITLE_WEIGHT`), Lucene's idf, k1 1.2 and b 0.6 (chosen on SciFact's
train queries: bench/README.md). With `idf_kind="robertson"`, k1 1.5, b 0.75 and no title the
scores are exactly rank-bm25's BM25Okapi (a test compares them on a sample). rank-bm25 itself
scores every passage in a Python loop for each query term, about 140 ms for a 4-term question at
100k passages; here the index is an inverted file in numpy arrays (for each term, the passages
that hold it and each one's precomputed tf-saturation weight), so a question touches only the
passages that contain one of its terms.

Statistics are per scope (the global corpus is scope 0, each server's own sources a scope of
their own): a server's search scores with N, the average length and document frequencies of
exactly the global scope plus its own, so another server's sources never change its scores or
its answered/unanswered decision. A server without sources of its own uses the global
statistics, precomputed; one with sources gets its tf weights re-normalised at query time.

The index is derived data: built from the terms stored in SQLite, never written back, replaced
whole when the corpus changes. Building and searching are plain synchronous functions; the facade
runs them in a worker thread. Whether the best passages answer a question at all is not the
index's call: `retrieval.verdict` decides from what `retrieval.rerank` reads of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from retrieval.analyzer import ANALYZER_VERSION, analyze
from retrieval.spelling import dropped_letters
from retrieval.store import PassageRow

K1 = 1.2
B = 0.6
EPSILON = 0.25
# Typo tolerance: at most this many corrections are searched for one word.
MAX_CORRECTIONS = 1
TYPO_WEIGHT = 0.8  # a correction's weight, against 1 for the word as typed
IDF = "lucene"  # Lucene's idf, log(1 + (N - df + 0.5) / (df + 0.5)); chosen in bench/README.md
# How much a title term counts in each passage of its article, against 1 for the passage's own.
TITLE_WEIGHT = 2.0

# The saved copy: its format (changed with its layout), and each array with the dtype it must have.
SAVED_FORMAT = "citebot-index 4"
_SAVED = (
    ("ids", np.int64),
    ("scopes", np.int64),
    ("lengths", np.float64),
    ("docs", np.int32),
    ("starts", np.int64),
    ("df", np.int64),
    ("idf", np.float64),
    ("weights", np.float64),
)


@dataclass(frozen=True, slots=True)
class Scored:
    passage_id: int
    score: float


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: list[Scored]


@dataclass(frozen=True, slots=True)
class ScopeStats:
    """The BM25 statistics of one scope: its passages, their total length, and the document
    frequency of each term it holds (sorted term ids and their counts)."""

    passages: int
    length: float
    terms: np.ndarray
    counts: np.ndarray

    def df(self, term_id: int) -> int:
        at = int(np.searchsorted(self.terms, term_id))
        return int(self.counts[at]) if at < self.terms.size and self.terms[at] == term_id else 0


class _Vocabulary(dict[str, int]):
    """Term -> id, numbering new terms as they are first seen."""

    def __missing__(self, term: str) -> int:
        self[term] = number = len(self)
        return number


class Bm25Index:
    """Passages of all scopes in one BM25 model; a search only returns what a server may see."""

    def __init__(
        self,
        rows: Sequence[PassageRow],
        version: int,
        *,
        k1: float | None = None,
        b: float | None = None,
        title_weight: float | None = None,
        idf_kind: str | None = None,
    ) -> None:
        # Defaults read when called, so the module's constants are the one place they live.
        k1 = K1 if k1 is None else k1
        b = B if b is None else b
        title_weight = TITLE_WEIGHT if title_weight is None else title_weight
        idf_kind = IDF if idf_kind is None else idf_kind
        self.parameters = _parameters(k1, b, title_weight, idf_kind)
        self.version = version
        # The version of each scope (0: global) this index holds; set by whoever built it.
        self.scope_versions: dict[int, int] = {}
        self.size = n = len(rows)
        # Rows are PassageRow objects or plain (id, document_id, guild_id, terms) tuples.
        self._ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
        # Scope 0 is the global corpus; Discord ids are never 0.
        self._scopes = np.fromiter((r[2] or 0 for r in rows), dtype=np.int64, count=n)
        self._global_only = not self._scopes.any()

        vocabulary = _Vocabulary()
        lengths = np.empty(n, dtype=np.float64)
        title_counts = np.zeros(n, dtype=np.int64)  # title terms added to each passage
        lookup = vocabulary.__getitem__  # C-level lookups; only new terms run Python code
        titles: dict[int, list[str]] = {}  # document id -> its title's terms, analysed once
        chunks: list[np.ndarray] = []
        pending: list[int] = []
        for i, row in enumerate(rows):
            tokens = row[3].split()
            lengths[i] = len(tokens)
            pending += map(lookup, tokens)
            if title_weight and len(row) > 4 and row[4]:
                title = titles.get(row[1])
                if title is None:
                    title = titles[row[1]] = analyze(row[4])
                pending += map(lookup, title)
                title_counts[i] = len(title)
            # Converted in small chunks: each conversion holds the GIL, and a long one would
            # stall the event loop of a bot that rebuilds while answering.
            if len(pending) >= 1 << 16:
                chunks.append(np.array(pending, dtype=np.int32))
                pending = []
        chunks.append(np.array(pending, dtype=np.int32))
        self._vocabulary: dict[str, int] = vocabulary
        terms = np.concatenate(chunks).astype(np.int64)
        del chunks, pending
        per_passage = lengths.astype(np.int64) + title_counts
        docs = np.repeat(np.arange(n, dtype=np.int64), per_passage)
        # Each passage's own terms count 1, its title's `title_weight` (BM25F with one shared
        # length normalisation: the title is a field every passage of the article carries).
        starts_of = np.concatenate(([0], np.cumsum(per_passage)))[:-1]
        in_title = np.arange(terms.size) - np.repeat(starts_of, per_passage) >= np.repeat(
            lengths.astype(np.int64), per_passage
        )
        token_weight = np.where(in_title, title_weight, 1.0)
        # One posting per (term, passage): sorted by term, then by passage.
        keys, inverse = np.unique(terms * max(n, 1) + docs, return_inverse=True)
        tf = np.bincount(inverse, weights=token_weight, minlength=keys.size)
        del inverse, token_weight, in_title
        posting_terms = keys // max(n, 1)
        self._docs = (keys % max(n, 1)).astype(np.int32)
        df = np.bincount(posting_terms, minlength=len(vocabulary))
        self._starts = np.concatenate(([0], np.cumsum(df))).astype(np.int64)
        self._df = df

        self._lengths = lengths
        self._k1, self._b, self._idf_kind = k1, b, idf_kind
        self._scope_statistics()
        # The global scope's idf and tf weights, precomputed: every search that sees no
        # sources of its own server (the CLI, and servers without sources) uses them as they
        # are. rank-bm25's idf: log((N - df + 0.5) / (df + 0.5)); negative values (terms in
        # more than half the passages) are replaced by epsilon times the average idf.
        n0 = self._global.passages
        self._idf = self._idf_of(n0, self._global_df)
        if idf_kind != "lucene" and self._idf.size:
            self._idf[self._idf < 0] = EPSILON * self._idf.mean()
        avgdl = self._global.length / n0 if n0 else 1.0
        norm = k1 * (1 - b + b * lengths / avgdl)
        self._weights = tf * (k1 + 1) / (tf + norm[self._docs])
        self._mark_global_terms()

    def __len__(self) -> int:
        return self.size

    # -- statistics per scope ------------------------------------------------------------------

    def _scope_statistics(self) -> None:
        """Passages, total length and document frequencies of each scope, from the postings
        (at build and at load: one pass, in the worker thread that builds or loads)."""
        vocabulary = len(self._vocabulary)
        terms = np.repeat(np.arange(vocabulary, dtype=np.int64), self._df)  # term of each posting
        scope_of = self._scopes[self._docs] if self._docs.size else np.zeros(0, dtype=np.int64)
        in_global = scope_of == 0
        self._global_df = np.bincount(terms[in_global], minlength=vocabulary).astype(np.int64)
        own = self._scopes == 0
        self._global = ScopeStats(
            int(own.sum()), float(self._lengths[own].sum()), np.zeros(0, np.int64), np.zeros(0)
        )
        self._scope_stats: dict[int, ScopeStats] = {}
        if self._global_only:
            return
        scopes, passages = np.unique(self._scopes, return_counts=True)
        number_of = {int(g): i for i, g in enumerate(scopes)}
        lengths = np.bincount(
            np.searchsorted(scopes, self._scopes), weights=self._lengths, minlength=scopes.size
        )
        others = ~in_global
        keys, counts = np.unique(
            np.searchsorted(scopes, scope_of[others]) * max(vocabulary, 1) + terms[others],
            return_counts=True,
        )
        which, term_ids = keys // max(vocabulary, 1), keys % max(vocabulary, 1)
        bounds = np.searchsorted(which, np.arange(scopes.size + 1))
        for guild, i in number_of.items():
            if guild == 0:
                continue
            part = slice(int(bounds[i]), int(bounds[i + 1]))
            self._scope_stats[guild] = ScopeStats(
                int(passages[i]), float(lengths[i]), term_ids[part], counts[part]
            )

    def _idf_of(self, n: int, df: np.ndarray | int) -> np.ndarray:
        df = np.asarray(df, dtype=np.float64)
        if not n:
            return np.zeros(df.shape)
        if self._idf_kind == "lucene":  # log(1 + (N - df + 0.5) / (df + 0.5)): never negative
            return np.log1p((n - df + 0.5) / (df + 0.5))
        return np.log(n - df + 0.5) - np.log(df + 0.5)

    def _own(self, guild_id: int | None) -> ScopeStats | None:
        """The server's own scope when it has sources (else its statistics are the global
        scope's, which the precomputed weights use)."""
        return self._scope_stats.get(guild_id) if guild_id is not None else None

    def _visible_df(self, term_id: int, own: ScopeStats | None) -> int:
        df = int(self._global_df[term_id])
        return df + own.df(term_id) if own is not None else df

    def _term_idf(self, term_id: int, own: ScopeStats | None) -> float:
        if own is None:
            return float(self._idf[term_id])
        n = self._global.passages + own.passages
        idf = float(self._idf_of(n, self._visible_df(term_id, own)))
        if self._idf_kind != "lucene" and idf < 0:
            idf = EPSILON * float(self._idf.mean())
        return idf

    def _weights_for(self, span: slice, own: ScopeStats) -> np.ndarray:
        """The tf weights of a term's postings with the average length of the global scope
        plus this server's own. The precomputed weight w = tf (k1 + 1) / (tf + norm) is
        inverted for tf (tf = w norm / (k1 + 1 - w)), so no second copy of the postings is
        kept."""
        k1, b = self._k1, self._b
        docs = self._docs[span]
        lengths = self._lengths[docs]
        n0 = self._global.passages
        global_avgdl = self._global.length / n0 if n0 else 1.0
        n = n0 + own.passages
        avgdl = (self._global.length + own.length) / n if n else 1.0
        w = self._weights[span]
        tf = w * (k1 * (1 - b + b * lengths / global_avgdl)) / (k1 + 1 - w)
        return tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths / avgdl))

    # -- a saved copy, so that a large corpus starts in a fraction of its build time ----------

    def save(self, path: Path, database_id: str) -> None:
        """Write the index next to its database (atomically: a temporary file, then rename).
        `database_id` names what it was built from (the database and its corpus state); a
        load must name the same."""
        arrays = {name: getattr(self, f"_{name}") for name, _ in _SAVED}
        arrays["vocabulary"] = np.frombuffer("\n".join(self._vocabulary).encode(), dtype=np.uint8)
        header = _header(database_id, self.version, self.parameters)
        # A temporary file of our own (two processes may save at once), flushed to disk, then
        # renamed over the old copy: readers see the old index or the new one, never half.
        handle, temporary = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(
                    out,
                    header=np.frombuffer(header, dtype=np.uint8),
                    checksum=np.frombuffer(checksum_of(arrays), dtype=np.uint8),
                    **arrays,
                )
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    @classmethod
    def load(cls, path: Path, database_id: str, version: int) -> Bm25Index | None:
        """The saved index if it belongs to this database at this corpus version and checks out
        (checksum, then `_consistent`), else None: derived data, so the caller rebuilds it."""
        names = [name for name, _ in _SAVED] + ["vocabulary"]
        try:
            with np.load(path, allow_pickle=False) as data:
                if data["header"].tobytes() != _header(database_id, version, _parameters()):
                    return None
                arrays = {name: data[name] for name in names}
                if data["checksum"].tobytes() != checksum_of(arrays):
                    return None
            words = arrays.pop("vocabulary").tobytes().decode().split("\n")
        except Exception:  # damaged, truncated, foreign: derived data, so rebuild instead
            return None
        index = cls.__new__(cls)
        for name, _ in _SAVED:
            setattr(index, f"_{name}", arrays[name])
        words = words if words != [""] else []
        index._vocabulary = {word: i for i, word in enumerate(words)}
        if len(index._vocabulary) != len(words) or not index._consistent():
            return None
        index.version = version
        index.parameters = _parameters()
        index._k1, index._b, index._idf_kind = K1, B, IDF
        index.scope_versions = {}
        index.size = len(index._ids)
        index._global_only = not index._scopes.any()
        index._scope_statistics()
        index._mark_global_terms()
        return index

    def _consistent(self) -> bool:
        """Whether loaded arrays have the dtypes, shapes and values a build gives, so that no
        search indexes out of bounds or scores NaN (a checksum alone only catches accidents)."""
        if any(getattr(self, f"_{name}").dtype != t for name, t in _SAVED):
            return False
        n, terms, postings = self._ids.size, len(self._vocabulary), self._docs.size
        lengths = {"ids": n, "scopes": n, "lengths": n, "starts": terms + 1, "df": terms}
        lengths["idf"] = terms
        lengths |= {"docs": postings, "weights": postings}
        if any(getattr(self, f"_{name}").shape != (size,) for name, size in lengths.items()):
            return False
        starts, docs = self._starts, self._docs
        if starts[0] != 0 or starts[-1] != postings:
            return False
        if not np.array_equal(np.diff(starts), self._df) or (self._df < 0).any():
            return False
        if postings and (docs.min() < 0 or docs.max() >= n):
            return False
        # Within a term, passages strictly increase (one posting per passage).
        if not np.isin(np.flatnonzero(np.diff(docs) <= 0) + 1, starts).all():
            return False
        if not np.isfinite(self._lengths).all() or (self._lengths < 0).any():
            return False
        return bool(np.isfinite(self._idf).all() and np.isfinite(self._weights).all())

    def _postings(self, term_id: int) -> slice:
        return slice(int(self._starts[term_id]), int(self._starts[term_id + 1]))

    def _visible_passages(self, own: ScopeStats | None) -> int:
        return self._global.passages + (own.passages if own is not None else 0)

    def weight(self, term: str, guild_id: int | None = None) -> float:
        """Rarity of a term among the passages this server sees (a smoothed idf that is never
        negative); unknown terms are rarest."""
        own = self._own(guild_id)
        term_id = self._vocabulary.get(term)
        df = self._visible_df(term_id, own) if term_id is not None else 0
        n = self._visible_passages(own)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def idf(self, term: str, guild_id: int | None = None) -> float:
        """A term's BM25 idf as this server's scores use it; an unknown term's is what a term
        in no passage would have (the most any term can have)."""
        own = self._own(guild_id)
        term_id = self._vocabulary.get(term)
        if term_id is not None:
            return self._term_idf(term_id, own)
        n = self._visible_passages(own)
        return math.log((n + 0.5) / 0.5) if n else 0.0

    def knows(self, term: str, guild_id: int | None = None) -> bool:
        """Whether a passage this server may see holds the term (another server's words are
        not this server's vocabulary: they must not be shown to it, nor stop a correction)."""
        term_id = self._vocabulary.get(term)
        if term_id is None:
            return False
        if self._global_terms[term_id]:
            return True  # the common case, without reading the term's postings
        scopes = self._scopes[self._docs[self._postings(term_id)]]
        visible = scopes == 0
        if guild_id is not None:
            visible |= scopes == guild_id
        return bool(visible.any())

    def _mark_global_terms(self) -> None:
        """For each term, whether a passage of the global corpus holds it: one pass over the
        postings when the index is built or loaded (in a worker thread), so that asking
        whether a server may see a common term never reads its postings during a question."""
        if self._global_only or not self._docs.size:
            self._global_terms = np.ones(len(self._vocabulary), dtype=bool)
            return
        is_global = (self._scopes[self._docs] == 0).astype(np.int32)
        # Every vocabulary term has at least one posting, so each start is a valid index.
        self._global_terms = np.add.reduceat(is_global, self._starts[:-1]) > 0

    def corrections(
        self, terms: Sequence[str], guild_id: int | None = None
    ) -> dict[str, tuple[str, ...]]:
        """For each query term the corpus does not know, the known terms one typo away (two for
        words of 8 letters or more); of the closest, first those the typed word misses letters
        of (the commonest typo: "lear" is "learn" rather than "leap"), then the most frequent:
        "comiss" (commision) finds "commiss". rapidfuzz computes the distances (C, and only
        against terms of about the same length); terms with digits stay as typed. The caller
        decides which terms may be typos (`retrieval.spelling`). Only terms this server can see
        are offered."""
        out: dict[str, tuple[str, ...]] = {}
        for term in dict.fromkeys(terms):
            if self.knows(term, guild_id) or not term.isalpha():
                continue
            allowed = 1 if len(term) < 8 else 2
            found: list[tuple[int, bool, int, str]] = []
            for size in range(len(term) - allowed, len(term) + allowed + 1):
                for word, distance, _ in process.extract(
                    term,
                    self._by_length().get(size, ()),
                    scorer=Levenshtein.distance,
                    score_cutoff=allowed,
                    limit=MAX_CORRECTIONS * 20,
                ):
                    if self.knows(word, guild_id):
                        df = self._visible_df(self._vocabulary[word], self._own(guild_id))
                        found.append((distance, not dropped_letters(term, word), -df, word))
            if found and MAX_CORRECTIONS:
                closest = min(f[0] for f in found)
                ranked = sorted(f for f in found if f[0] == closest)
                out[term] = tuple(f[-1] for f in ranked[:MAX_CORRECTIONS])
        return out

    def _by_length(self) -> dict[int, list[str]]:
        """Alphabetic vocabulary terms by length, made on the first correction and kept."""
        cached = getattr(self, "_lengths_cache", None)
        if cached is None:
            cached = {}
            for word in self._vocabulary:
                if word.isalpha():
                    cached.setdefault(len(word), []).append(word)
            self._lengths_cache = cached
        return cached

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25Okapi scores of every passage for these query terms (mostly for tests)."""
        out = np.zeros(self.size, dtype=np.float64)
        for term in terms:
            term_id = self._vocabulary.get(term)
            if term_id is None:
                continue
            span = self._postings(term_id)
            out[self._docs[span]] += self._idf[term_id] * self._weights[span]
        return out

    def search(
        self,
        terms: Sequence[str],
        k: int,
        guild_id: int | None,
        boosts: Mapping[str, float] | None = None,
    ) -> SearchResult:
        """The k best passages this server may see; `boosts` multiplies some terms' weight
        (a typo's correction counts less than a word as typed)."""
        unique = list(dict.fromkeys(terms))
        boosts = boosts or {}
        known = [(t, self._vocabulary[t]) for t in unique if t in self._vocabulary]
        if not known or self.size == 0:
            return SearchResult([])
        # Per search (searches run in several threads at once); calloc'd, so only the pages of
        # touched passages cost anything.
        buffer = np.zeros(self.size, dtype=np.float64)
        own = self._own(guild_id)
        for term, term_id in known:
            span = self._postings(term_id)
            idf = self._term_idf(term_id, own) * boosts.get(term, 1.0)
            weights = self._weights[span] if own is None else self._weights_for(span, own)
            buffer[self._docs[span]] += idf * weights
        # Only positive scores can be hits; a linear scan beats sorting the touched postings.
        candidates = np.flatnonzero(buffer > 0)
        scores = buffer[candidates]
        if not self._global_only or guild_id is not None:
            scopes = self._scopes[candidates]
            visible = scopes == 0
            if guild_id is not None:
                visible |= scopes == guild_id
            candidates, scores = candidates[visible], scores[visible]
        if candidates.size == 0:
            return SearchResult([])
        if candidates.size > k:
            # Keep everything tied with the k-th score, so ties resolve as below, not at random.
            kth = np.partition(scores, candidates.size - k)[candidates.size - k]
            keep = scores >= kth
            candidates, scores = candidates[keep], scores[keep]
        # Highest score first; ties in passage order, as a stable sort of all scores would give.
        order = np.lexsort((candidates, -scores))[:k]
        candidates, scores = candidates[order], scores[order]
        hits = [
            Scored(int(self._ids[i]), float(s)) for i, s in zip(candidates, scores, strict=True)
        ]
        return SearchResult(hits)


def _parameters(
    k1: float | None = None,
    b: float | None = None,
    title_weight: float | None = None,
    idf_kind: str | None = None,
) -> str:
    """What the saved arrays depend on besides the database: a copy saved by a citebot with
    other BM25 parameters or another analyzer is rebuilt, not used."""
    return (
        f"k1={K1 if k1 is None else k1} b={B if b is None else b} "
        f"title={TITLE_WEIGHT if title_weight is None else title_weight} "
        f"idf={IDF if idf_kind is None else idf_kind} analyzer={ANALYZER_VERSION}"
    )


def _header(database_id: str, version: int, parameters: str) -> bytes:
    return f"{SAVED_FORMAT}\n{database_id}\n{version}\n{parameters}".encode()


def checksum_of(arrays: dict[str, np.ndarray]) -> bytes:
    """A digest of named arrays: names, dtypes, shapes and bytes, in a fixed order."""
    digest = hashlib.sha256()  # hardware-accelerated on most machines: 55 MB in about 40 ms
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.data)  # no copy
    return digest.digest()
