"""The BM25 index: immutable segments per scope, with per-server statistics.

BM25 with the article's title as a second field of every passage (BM25F with one shared length
normalisation, title weight `TITLE_WEIGHT`), Lucene's idf, k1 1.2 and b 0.6 (chosen on SciFact's
train queries: bench/README.md). With `idf_kind="robertson"`, k1 1.5, b 0.75 and no title the
scores are exactly rank-bm25's BM25Okapi (a test compares them on a sample).

The passages live in segments (`retrieval.segments`), each holding some passages of one scope:
scope 0 is the global corpus, every other scope one server's own sources. A server's search
reads the global segments and its own, with N, the average length and document frequencies
summed over exactly those: another server's sources never change its scores or its
answered/unanswered decision, and the CLI (no server) sees the global scope alone. A new source
becomes a new segment; a removed one is a deletion mark (its passages are skipped and leave N
and the average length at once; its document frequencies leave when its scope is merged, as in
Lucene); `merge_plan` says which segments of a fragmented scope to merge.

Saved next to the database as a folder of segment folders and a manifest naming the database,
the corpus state it holds, the format, analyzer version and BM25 parameters: opened
memory-mapped, so a large corpus starts without reading its postings into memory.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import numpy as np

from retrieval import segments as segments_module
from retrieval.analyzer import ANALYZER_VERSION
from retrieval.segments import Segment, remove_folder
from retrieval.spelling import dropped_letters

log = logging.getLogger(__name__)

K1 = 1.2
B = 0.6
EPSILON = 0.25
# Typo tolerance: at most this many corrections are searched for one word.
MAX_CORRECTIONS = 1
TYPO_WEIGHT = 0.8  # a correction's weight, against 1 for the word as typed
IDF = "lucene"  # Lucene's idf, log(1 + (N - df + 0.5) / (df + 0.5)); chosen in bench/README.md
# How much a title term counts in each passage of its article, against 1 for the passage's own.
TITLE_WEIGHT = 2.0
# A scope with more segments than this, or with this share of its passages deleted, is worth
# merging (rebuilding as one segment).
MAX_SEGMENTS = 6
MAX_DELETED_SHARE = 0.2
# A merge of a fragmented scope takes the segments this many times smaller than its largest
# (or all of them, when fewer than two are): see `Bm25Index.merge_plan`.
SMALL_SHARE = 10

# How a search scores one segment, by how many postings its terms have there (enwiki, 100k
# passages, 300 short and 300 long questions, bench/README.md):
# - at least 1/DENSE_SHARE of the segment's passages: every posting read and summed into one
#   slot per passage (a large share of them: the slots cost no more than DENSE_SHARE times the
#   postings, and per posting it is the cheapest way);
# - else at most FEW_POSTINGS: every posting read, and merged by passage (a sort that finds
#   each term's run): a few numpy calls, fewer than the bookkeeping that would skip some;
# - between them: MaxScore (`_segment_scores`), reading only the postings that can matter.
FEW_POSTINGS = 16_384
DENSE_SHARE = 8
# A term's postings are looked up among the passages found (rather than each passage in its
# postings) once there are more than 1/LOOKUP_SHARE of them per posting.
LOOKUP_SHARE = 4

SAVED_FORMAT = "citebot-index 5"
MANIFEST = "manifest.json"


class Scored(NamedTuple):
    """A passage and its score. A named tuple rather than a frozen dataclass: a search makes
    dozens, and a frozen dataclass's constructor costs several times a tuple's."""

    passage_id: int
    score: float


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: list[Scored]


@dataclass(frozen=True, slots=True)
class _View:
    """What one server's search reads: its segments and their combined statistics."""

    segments: tuple[Segment, ...]
    passages: int
    avgdl: float
    # Each term looked up so far: its document frequency over the view, and its postings and
    # largest frequency in each segment holding it (questions repeat their words).
    terms: dict[str, _Term] = field(default_factory=dict, compare=False)
    # For a view of one segment: each term's (bound, idf, postings, largest frequency) in it,
    # or None when it holds none (see Bm25Index._one_segment).
    weighted: dict[str, _Weighted | None] = field(default_factory=dict, compare=False)


# A term in a view: (document frequency, ((segment, postings, largest frequency), ...)).
_Term = tuple[int, tuple[tuple[Segment, slice, float], ...]]
# A term in a view of one segment: (bound, idf, postings, largest frequency), see _items.
_Weighted = tuple[float, float, slice, float]
# Terms a view remembers (about 200 bytes each).
MAX_REMEMBERED_TERMS = 50_000


class Bm25Index:
    """Segments of every scope in one BM25 model; a search returns what a server may see,
    scored with that server's statistics."""

    def __init__(
        self,
        rows: Sequence[Sequence],
        version: int,
        *,
        k1: float | None = None,
        b: float | None = None,
        title_weight: float | None = None,
        idf_kind: str | None = None,
    ) -> None:
        """Build from passage rows ((id, document id, guild id, terms[, title]), ids
        ascending): one segment per scope."""
        title_weight = TITLE_WEIGHT if title_weight is None else title_weight
        segments = segments_of(rows, title_weight)
        self._setup(segments, {}, version, k1, b, title_weight, idf_kind)

    @classmethod
    def of(
        cls,
        segments: Iterable[Segment],
        deleted: Mapping[str, np.ndarray],
        version: int,
    ) -> Bm25Index:
        """An index of existing segments (with these deletion masks: False = deleted)."""
        index = cls.__new__(cls)
        index._setup(list(segments), dict(deleted), version, None, None, None, None)
        return index

    def _setup(
        self,
        segments: list[Segment],
        alive: dict[str, np.ndarray],
        version: int,
        k1: float | None,
        b: float | None,
        title_weight: float | None,
        idf_kind: str | None,
    ) -> None:
        # Defaults read when called, so the module's constants are the one place they live.
        self._k1 = K1 if k1 is None else k1
        self._b = B if b is None else b
        self._title_weight = TITLE_WEIGHT if title_weight is None else title_weight
        self._idf_kind = IDF if idf_kind is None else idf_kind
        self.parameters = _parameters(self._k1, self._b, self._title_weight, self._idf_kind)
        self.version = version
        # The identity of the saved copy this index is (`save`, `open_saved`): an engine
        # process opens that copy to answer for it (`retrieval.engine_processes`); None when
        # it was not saved.
        self.saved_as: str | None = None
        # The version of each scope (0: global) this index holds; set by whoever built it.
        self.scope_versions: dict[int, int] = {}
        self.segments = segments
        self._alive = {s.name: alive[s.name] for s in segments if s.name in alive}
        self._by_scope: dict[int, list[Segment]] = {}
        for segment in segments:
            self._by_scope.setdefault(segment.scope, []).append(segment)
        self._live: dict[str, tuple[int, float]] = {}
        for segment in segments:
            mask = self._alive.get(segment.name)
            if mask is None:
                self._live[segment.name] = (segment.size, segment.total_length)
            else:
                lengths = np.asarray(segment.lengths, dtype=np.float64)
                self._live[segment.name] = (int(mask.sum()), float(lengths[mask].sum()))
        self.size = sum(n for n, _ in self._live.values())
        # Each document it holds, with its content hash: what a later change is diffed against
        # (read from disk only when a change needs it: see `hashes`).
        self._hashes: dict[int, str] | None = {}
        self._hashes_file: Path | None = None
        self._views: dict[int, _View] = {}
        self._lengths_cache: dict[int, dict[int, list[str]]] = {}
        self._norm_cache: dict[tuple[str, float], np.ndarray] = {}  # numpy search only
        self._table_cache: dict[tuple[str, float], tuple[np.ndarray, float]] = {}
        self._sums: dict[str, _Sums] = {}  # the compiled search's slots, per segment

    def __len__(self) -> int:
        return self.size

    @property
    def hashes(self) -> dict[int, str]:
        """Each document the index holds: id -> content hash."""
        if self._hashes is None:
            data = json.loads(self._hashes_file.read_text()) if self._hashes_file else {}
            self._hashes = {int(d): str(h) for d, h in data.items()}
        return self._hashes

    @hashes.setter
    def hashes(self, hashes: dict[int, str]) -> None:
        self._hashes = hashes

    # -- what a server sees ----------------------------------------------------------------------

    def _view(self, guild_id: int | None) -> _View:
        scope = guild_id or 0
        view = self._views.get(scope)
        if view is None:
            segments = tuple(self._by_scope.get(0, [])) + (
                tuple(self._by_scope.get(scope, [])) if scope else ()
            )
            # Largest first: a search's k best from it are a floor the smaller ones must beat.
            segments = tuple(sorted(segments, key=lambda s: -s.size))
            n = sum(self._live[s.name][0] for s in segments)
            length = sum(self._live[s.name][1] for s in segments)
            view = _View(segments, n, length / n if n else 1.0)
            self._views[scope] = view
        return view

    def _df(self, term: str, view: _View) -> _Term:
        """The term's document frequency over a view, and its postings and largest frequency
        in each segment holding it."""
        known = view.terms.get(term)
        if known is None:
            found = []
            df = 0
            for segment in view.segments:
                term_id = segment.vocabulary.lookup(term)
                if term_id >= 0:
                    span = segment.postings(term_id)
                    found.append((segment, span, float(segment.maxtf[term_id])))
                    df += span.stop - span.start
            if len(view.terms) >= MAX_REMEMBERED_TERMS:
                view.terms.clear()
            known = view.terms[term] = (df, tuple(found))
        return known

    def _idf(self, n: int, df: int, view: _View) -> float:
        if not n:
            return 0.0
        if self._idf_kind == "lucene":  # log(1 + (N - df + 0.5) / (df + 0.5)): never negative
            return math.log1p((n - df + 0.5) / (df + 0.5))
        # rank-bm25's idf: log((N - df + 0.5) / (df + 0.5)); negative values (terms in more
        # than half the passages) are replaced by epsilon times the average idf.
        idf = math.log(n - df + 0.5) - math.log(df + 0.5)
        return idf if idf >= 0 else EPSILON * self._mean_idf(n, view)

    def _mean_idf(self, n: int, view: _View) -> float:
        dfs = np.concatenate([np.diff(np.asarray(s.starts)) for s in view.segments] or [[]])
        if not dfs.size:
            return 0.0
        return float((np.log(n - dfs + 0.5) - np.log(dfs + 0.5)).mean())

    def weight(self, term: str, guild_id: int | None = None) -> float:
        """Rarity of a term among the passages this server sees (a smoothed idf that is never
        negative); unknown terms are rarest."""
        view = self._view(guild_id)
        df, _ = self._df(term, view)
        return math.log(1.0 + (view.passages - df + 0.5) / (df + 0.5))

    def idf(self, term: str, guild_id: int | None = None) -> float:
        """A term's BM25 idf as this server's scores use it; an unknown term's is what a term
        in no passage would have (the most any term can have)."""
        view = self._view(guild_id)
        df, found = self._df(term, view)
        if found:
            return self._idf(view.passages, df, view)
        n = view.passages
        return math.log((n + 0.5) / 0.5) if n else 0.0

    def knows(self, term: str, guild_id: int | None = None) -> bool:
        """Whether a passage this server may see holds the term (another server's words are
        not this server's vocabulary: they must not be shown to it, nor stop a correction)."""
        return any(s.vocabulary.lookup(term) >= 0 for s in self._view(guild_id).segments)

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
        # Only a word the corpus lacks needs edit distances: not imported by every ask.
        from rapidfuzz import process
        from rapidfuzz.distance import Levenshtein

        view = self._view(guild_id)
        out: dict[str, tuple[str, ...]] = {}
        for term in dict.fromkeys(terms):
            if self.knows(term, guild_id) or not term.isalpha():
                continue
            allowed = 1 if len(term) < 8 else 2
            found: list[tuple[int, bool, int, str]] = []
            by_length = self._by_length(guild_id)
            for size in range(len(term) - allowed, len(term) + allowed + 1):
                for word, distance, _ in process.extract(
                    term,
                    by_length.get(size, ()),
                    scorer=Levenshtein.distance,
                    score_cutoff=allowed,
                    limit=MAX_CORRECTIONS * 20,
                ):
                    df, _ = self._df(word, view)
                    found.append((distance, not dropped_letters(term, word), -df, word))
            if found and MAX_CORRECTIONS:
                closest = min(f[0] for f in found)
                ranked = sorted(f for f in found if f[0] == closest)
                out[term] = tuple(f[-1] for f in ranked[:MAX_CORRECTIONS])
        return out

    def _by_length(self, guild_id: int | None) -> dict[int, list[str]]:
        """The alphabetic terms this server sees, by length (made on the first correction)."""
        scope = guild_id or 0
        cached = self._lengths_cache.get(scope)
        if cached is None:
            words = set()
            for segment in self._view(guild_id).segments:
                words.update(segment.vocabulary.words())
            cached = {}
            for word in sorted(words):
                if word.isalpha():
                    cached.setdefault(len(word), []).append(word)
            self._lengths_cache[scope] = cached
        return cached

    # -- scoring -------------------------------------------------------------------------------

    def _segment_scores(
        self,
        segment: Segment,
        terms: Sequence[tuple[float, slice, float]],
        avgdl: float,
        k: int,
        floor: float = 0.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(positions, scores) of the segment's live passages that can be among the k best for
        these terms ((idf times boost, postings, largest frequency) in this segment), the
        scores exact and the same floats whichever way they were computed; `floor` is a score
        k passages of the view's other segments already reach.

        Few postings are all read and merged by passage; a large share of the segment's
        passages (DENSE_SHARE) is summed into a slot per passage; in between, MaxScore,
        vectorised: each term has a bound on what it can add to a passage (its idf and largest
        frequency, at length 0), and the terms go highest bound (rarest) first. The rarest
        term's best passages, scored with every term, give a threshold that the k-th best
        score reaches. The terms after which the remaining bounds could still lift a passage
        to it are read whole; each other term only adds to the passages found (whichever of
        them and its postings is the smaller is looked up in the other), and brings in a
        passage of its own only where what it adds could, with the remaining bounds, reach
        the threshold (found from its frequencies first: most postings are never scored).
        After each term, the passages that even the remaining bounds cannot bring to the
        threshold are dropped. Work follows the postings read and the passages kept.
        """
        k1 = self._k1
        table, least_norm = self._normalisation(segment, avgdl)
        mask = self._alive.get(segment.name)
        items = self._items(terms)
        if _compiled is not None:
            if _below(sum(bound for bound, _, _ in items), floor):
                return segment.docs[:0], np.zeros(0)  # none here can reach the others' k best
            return self._compiled_scores(segment, items, table, mask, k, floor)
        # rest[i]: the most that terms i, i+1, ... can add to one passage together.
        rest = [0.0, *itertools.accumulate(bound for bound, _, _ in reversed(items))][::-1]
        if _below(rest[0], floor):
            return segment.docs[:0], np.zeros(0)  # none here can reach the others' k best
        norms = self._norms(segment, avgdl)
        # low[i]: the least they can add (below 0 only for a term of negative idf, see _items):
        # a passage's score so far, plus this, is a score it reaches.
        low = [0.0, *itertools.accumulate(min(i, 0.0) * (k1 + 1) for _, i, _ in reversed(items))]
        low.reverse()
        postings = sum(span.stop - span.start for _, _, span in items)
        positive = all(idf > 0 for _, idf, _ in items)  # then every posting adds above 0
        if len(items) == 1:
            return _best(*self._read(segment, items, norms, mask), k)
        if postings <= FEW_POSTINGS or postings * DENSE_SHARE >= segment.size:
            # Reading every posting costs less than the bookkeeping that would skip some.
            read_all = self._read(segment, items, norms, mask)
            return _best(*_merged(*read_all, segment.size, positive), k)
        docs_of, tf_of = segment.docs, segment.tf

        def probe(idf: float, span: slice, positions: np.ndarray, held: np.ndarray) -> np.ndarray:
            """What the term adds to each of these (sorted) positions, whose length
            normalisations are `held`; 0 where it is absent."""
            docs = docs_of[span]
            at = docs.searchsorted(positions)
            np.minimum(at, docs.size - 1, out=at)
            tf = tf_of[span][at].astype(np.float64)
            add = idf * tf * (k1 + 1) / (tf + held)
            add[docs[at] != positions] = 0.0
            return add

        # The rarest term read whole; its k best passages, scored with every term, give a
        # threshold the k-th best score reaches.
        found, totals = self._read(segment, items[:1], norms, mask)
        theta = floor
        if found.size >= k:
            best = np.sort(np.argpartition(totals, found.size - k)[found.size - k :])
            exact = totals[best]
            for _, idf, span in items[1:]:
                exact += probe(idf, span, found[best], norms[found[best]])
            theta = max(theta, float(exact.min()))
        # Read whole too: the terms after which the remaining bounds could still lift a
        # passage holding none of the terms read to the threshold (every posting may count).
        read = 1
        while read < len(items) and not _below(rest[read + 1], theta):
            read += 1
        if read > 1:
            more = self._read(segment, items[1:read], norms, mask)
            docs = np.concatenate((found, more[0]))
            add = np.concatenate((totals, more[1]))
            found, totals = _merged(docs, add, segment.size, positive)
        # Each other term adds to the passages found; a passage it alone holds so far joins
        # only if what the term adds there could, with the remaining bounds, reach the k-th
        # best. After each term, the passages that even the remaining bounds cannot bring to
        # it are dropped.
        for i in range(read, len(items) + 1):
            if found.size > k:
                kth = float(np.partition(totals, found.size - k)[found.size - k])
                theta = max(theta, kth + low[i])
            keep = ~_below_each(totals + rest[i], theta)
            if not keep.all():
                found, totals = found[keep], totals[keep]
            if i == len(items):
                break
            _, idf, span = items[i]
            docs = docs_of[span]
            held: np.ndarray | None = None  # for each posting, whether its passage is found
            if found.size and found.size * LOOKUP_SHARE < docs.size:
                # Few passages: each is looked up in the term's postings.
                totals = totals + probe(idf, span, found, norms[found])
            elif found.size:
                # Many: the term's postings are looked up among them.
                at = found.searchsorted(docs)
                np.minimum(at, found.size - 1, out=at)
                held = found[at] == docs
                hit = np.flatnonzero(held)
                tf = tf_of[span][hit].astype(np.float64)
                totals = totals.copy()
                totals[at[hit]] += idf * tf * (k1 + 1) / (tf + norms[docs[hit]])
            if _below(rest[i], theta):
                continue  # no passage outside those found can reach the k best any more
            if idf <= 0:
                continue  # the term adds nothing to a passage: it brings in none
            needed = theta / (1 + SLACK) - rest[i + 1]
            # The least frequency that can add `needed` (at the shortest length here).
            share = needed / (idf * (k1 + 1))
            if share >= 1:
                continue
            least = share * least_norm / (1 - share) / (1 + SLACK)
            at = np.flatnonzero(tf_of[span] >= least)
            if held is not None:
                at = at[~held[at]]
            elif found.size and at.size:
                where = np.minimum(found.searchsorted(docs[at]), found.size - 1)
                at = at[found[where] != docs[at]]
            if not at.size:
                continue
            new = docs[at]
            tf = tf_of[span][at].astype(np.float64)
            add = idf * tf * (k1 + 1) / (tf + norms[new])
            join = add >= needed
            if mask is not None:
                join &= mask[new]
            if join.any():
                found = np.concatenate((found, new[join]))
                totals = np.concatenate((totals, add[join]))
                order = np.argsort(found, kind="stable")
                found, totals = found[order], totals[order]
        return found, totals

    def _compiled_scores(
        self,
        segment: Segment,
        items: Sequence[tuple[float, float, slice]],
        table: np.ndarray,
        mask: np.ndarray | None,
        k: int,
        floor: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`_segment_scores` by retrieval.compiled (the same passages and floats), summing
        into a set of a window's slots that no other search is using."""
        sums = self._sums.get(segment.name)
        if sums is None:
            slots = min(segment.size, 1 << _compiled.WINDOW_LOG)  # a window's passages
            sums = self._sums.setdefault(segment.name, _Sums(slots))
        acc, seen = sums.take()
        postings = segment.docs
        bounds, idfs, spans = zip(*items, strict=True)
        starts = [span.start for span in spans]
        stops = [span.stop for span in spans]
        try:
            found = _compiled.top_k_sums(
                # Window bits read now: tests narrow the windows.
                (
                    postings.low,
                    postings.run_starts,
                    postings.run_windows,
                    segments_module.WINDOW_BITS,
                ),
                segment.tf,
                np.array(starts, np.int64),
                np.array(stops, np.int64),
                np.array(idfs, np.float64),
                np.array(bounds, np.float64),
                np.asarray(segment.lengths),
                table,
                _ALL_LIVE if mask is None else mask,
                k,
                floor,
                self._k1,
                SLACK,
                acc,
                seen,
            )
        except BaseException:
            acc.fill(0.0)  # left half done: every slot back to 0
            seen.fill(False)
            raise
        finally:
            sums.give_back(acc, seen)
        return found

    def _read(
        self,
        segment: Segment,
        items: Sequence[tuple[float, float, slice]],
        norms: np.ndarray,
        mask: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every posting of these terms (live passages only), one term after another (each
        term's positions ascending), with what it adds to its passage's score. The terms'
        postings are joined first, so the arithmetic is a few passes whatever their number."""
        spans = [span for _, _, span in items]
        if len(spans) == 1:
            docs, tf = segment.docs[spans[0]], segment.tf[spans[0]].astype(np.float64)
            add = items[0][1] * tf
        else:
            docs = np.concatenate([segment.docs[span] for span in spans])
            tf = np.concatenate([segment.tf[span] for span in spans]).astype(np.float64)
            sizes = [span.stop - span.start for span in spans]
            add = np.repeat([idf for _, idf, _ in items], sizes) * tf
        # idf * tf * (k1 + 1) / (tf + norm), in that order: the floats of the reference.
        add *= self._k1 + 1
        held = norms[docs]
        held += tf
        add /= held
        if mask is not None:
            live = mask[docs]
            docs, add = docs[live], add[live]
        return docs, add

    def _items(
        self, terms: Sequence[tuple[float, slice, float]]
    ) -> list[tuple[float, float, slice]]:
        """(bound, idf, postings) per term ((idf, postings, largest frequency) in one segment),
        highest bound first: the order every score sums its terms in, so a passage's score is
        the same float whichever path computed it. The bound is the most the term can add to
        a passage: its largest frequency at length 0."""
        # Never below 0: with deleted passages still counted in the document frequency, a
        # term in nearly every passage has a (slightly) negative idf, and adds at most 0.
        items = [(self._bound(idf, top), idf, span) for idf, span, top in terms]
        items.sort(key=_first_negated)
        return items

    def _every_score(
        self, segment: Segment, terms: Sequence[tuple[float, slice, float]], avgdl: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """(positions, scores) of every live passage holding a term (the reference `scores`
        gives tests; a search never reads every posting)."""
        norms = self._norms(segment, avgdl)
        items = self._items(terms)
        return _summed(*self._read(segment, items, norms, self._alive.get(segment.name)))

    def _norms(self, segment: Segment, avgdl: float) -> np.ndarray:
        """Each passage's BM25 length normalisation for one view's average length (the numpy
        search reads them per posting): its length's entry of the table."""
        key = (segment.name, avgdl)
        norms = self._norm_cache.get(key)
        if norms is None:
            norms = self._normalisation(segment, avgdl)[0][np.asarray(segment.lengths)]
            if len(self._norm_cache) >= 64:
                self._norm_cache.clear()
            self._norm_cache[key] = norms
        return norms

    def _normalisation(self, segment: Segment, avgdl: float) -> tuple[np.ndarray, float]:
        """The length normalisation k1 (1 - b + b len / avgdl) of every whole length from 0 to
        the segment's longest passage, for one view's average length, and the least of a
        passage's (at the shortest: where one occurrence of a term adds the most). A table
        of a few hundred floats stays in the nearest cache, where one float per passage
        (8 MB at a million) was a cache miss per posting read."""
        key = (segment.name, avgdl)
        cached = self._table_cache.get(key)
        if cached is None:
            lengths = np.asarray(segment.lengths)
            longest, shortest = (int(lengths.max()), int(lengths.min())) if lengths.size else (0, 0)
            whole = np.arange(longest + 1, dtype=np.float64)
            table = self._k1 * (1 - self._b + self._b * whole / avgdl)
            least = float(table[shortest]) if lengths.size else self._k1
            if len(self._table_cache) >= 64:
                self._table_cache.clear()
            cached = self._table_cache[key] = (table, least)
        return cached

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """Scores of every global passage for these query terms, in passage id order (for
        tests: a reference BM25 computes the same array)."""
        view = self._view(None)
        ids, scores, _ = self._scored(terms, view, {})
        order = np.argsort(ids, kind="stable")
        every = np.concatenate([np.asarray(s.ids) for s in view.segments] or [np.zeros(0)])
        out = np.zeros(every.size, dtype=np.float64)
        out[np.searchsorted(np.sort(every), ids[order])] = scores[order]
        return out

    def _scored(
        self,
        terms: Sequence[str],
        view: _View,
        boosts: Mapping[str, float],
        k: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """(ids, scores) of the view's passages that can be among its k best (every passage
        holding a term when k is None), the scores exact; and whether they are already the k
        best in the order a search returns them (one segment searched by the compiled search,
        which sorts them)."""
        # Read once, first: the compiled search may finish loading during this search (it is
        # never unloaded), and only a search that began with it can count on its order.
        compiled = _compiled is not None
        per_segment: dict[str, list[tuple[float, slice, float]]] = {}
        for term in dict.fromkeys(terms):
            df, found = self._df(term, view)
            if not found:
                continue
            idf = self._idf(view.passages, df, view) * boosts.get(term, 1.0)
            for segment, span, top in found:
                per_segment.setdefault(segment.name, []).append((idf, span, top))
        ids: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        floor = 0.0
        # Largest segment first (see _view): the k best so far are a floor for the others.
        for segment in view.segments:
            mine = per_segment.get(segment.name)
            if not mine:
                continue
            if k is None:
                positions, values = self._every_score(segment, mine, view.avgdl)
            else:
                positions, values = self._segment_scores(segment, mine, view.avgdl, k, floor)
            ids.append(np.asarray(segment.ids)[positions])
            scores.append(values)
            if k is not None and len(per_segment) > len(ids):
                pooled = np.concatenate(scores)
                if pooled.size >= k:
                    floor = float(np.partition(pooled, pooled.size - k)[pooled.size - k])
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0), True
        if len(ids) == 1:
            return ids[0], scores[0], k is not None and compiled
        return np.concatenate(ids), np.concatenate(scores), False

    def search(
        self,
        terms: Sequence[str],
        k: int,
        guild_id: int | None,
        boosts: Mapping[str, float] | None = None,
    ) -> SearchResult:
        """The k best passages this server may see; `boosts` multiplies some terms' weight
        (a typo's correction counts less than a word as typed)."""
        view = self._view(guild_id)
        if not view.passages:
            return SearchResult([])
        if _compiled is not None and len(view.segments) == 1:
            ids, scores, ordered = self._one_segment(terms, view, boosts or {}, k)
        else:
            ids, scores, ordered = self._scored(terms, view, boosts or {}, k)
        if ordered:  # the common case, without the numpy passes below
            kept = scores.tolist()
            if kept and kept[-1] <= 0:  # see below
                kept = [s for s in kept if s > 0]
            return SearchResult(_scored_list(ids[: len(kept)].tolist(), kept))
        if ids.size and scores.min() <= 0:
            # Only with rank-bm25's idf, which is negative for common terms: a passage
            # scoring nothing is no hit.
            positive = scores > 0
            ids, scores = ids[positive], scores[positive]
        if ids.size == 0:
            return SearchResult([])
        if ids.size > k:
            # Keep everything tied with the k-th score, so ties resolve as below, not at random.
            kth = np.partition(scores, ids.size - k)[ids.size - k]
            keep = scores >= kth
            ids, scores = ids[keep], scores[keep]
        # Highest score first; ties in passage order.
        order = np.lexsort((ids, -scores))[:k]
        # Python ints and floats in one call each, not a numpy scalar per hit.
        return SearchResult(_scored_list(ids[order].tolist(), scores[order].tolist()))

    def _one_segment(
        self, terms: Sequence[str], view: _View, boosts: Mapping[str, float], k: int
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """`_scored` for a view of one segment searched by the compiled search (a corpus
        merged into one segment: the usual case), the same call with the same floats. Each
        term's idf and bound are worked out once per view, not per search: the Python around
        the compiled loop was a third of a search's time (py-spy, 382 questions on 85k
        passages)."""
        segment = view.segments[0]
        items: list[tuple[float, float, slice]] = []
        weighted = view.weighted
        for term in dict.fromkeys(terms):
            entry = weighted.get(term, _UNSEEN)
            if entry is _UNSEEN:
                entry = self._weigh(term, view)
                if len(weighted) >= MAX_REMEMBERED_TERMS:
                    weighted.clear()
                weighted[term] = entry
            if entry is None:
                continue
            bound, idf, span, top = entry
            boost = boosts.get(term)
            if boost is not None:  # as _scored and _items compute them
                idf *= boost
                bound = self._bound(idf, top)
            items.append((bound, idf, span))
        if not items:
            return np.zeros(0, dtype=np.int64), np.zeros(0), True
        items.sort(key=_first_negated)
        table = self._normalisation(segment, view.avgdl)[0]
        mask = self._alive.get(segment.name)
        positions, scores = self._compiled_scores(segment, items, table, mask, k, 0.0)
        return np.asarray(segment.ids)[positions], scores, True

    def _weigh(self, term: str, view: _View) -> _Weighted | None:
        """(bound, idf, postings, largest frequency) of a term in a view of one segment, as
        _scored and _items compute them without a boost; None when the segment lacks it."""
        df, found = self._df(term, view)
        if not found:
            return None
        ((_, span, top),) = found
        idf = self._idf(view.passages, df, view) * 1.0
        return self._bound(idf, top), idf, span, top

    def _bound(self, idf: float, top: float) -> float:
        """The most a term adds to one passage (see _items): the same float."""
        k1, b = self._k1, self._b
        return max(idf * top * (k1 + 1) / (top + k1 * (1 - b)), 0.0)

    # -- changes -------------------------------------------------------------------------------

    def changed(
        self, added: Sequence[Segment], removed_documents: Iterable[int], version: int
    ) -> Bm25Index:
        """A new index: these segments added, these documents' passages marked deleted."""
        removed = np.fromiter(removed_documents, dtype=np.int64)
        alive = dict(self._alive)
        if removed.size:
            for segment in self.segments:
                hit = np.isin(np.asarray(segment.documents), removed)
                if hit.any():
                    mask = alive.get(segment.name)
                    mask = np.ones(segment.size, dtype=bool) if mask is None else mask.copy()
                    mask[hit] = False
                    alive[segment.name] = mask
        kept = [s for s in self.segments if s.name not in alive or alive[s.name].any()]
        return self._with(kept + list(added), alive, version)

    def merged(self, names: Iterable[str], segment: Segment, version: int) -> Bm25Index:
        """A new index with these segments replaced by one (built from their live passages)."""
        gone = set(names)
        kept = [s for s in self.segments if s.name not in gone]
        return self._with([*kept, segment] if segment.size else kept, self._alive, version)

    def _with(
        self, segments: list[Segment], alive: Mapping[str, np.ndarray], version: int
    ) -> Bm25Index:
        """A new index of these segments (with the deletion masks of those it keeps) and this
        one's parameters."""
        names = {s.name for s in segments}
        index = Bm25Index.__new__(Bm25Index)
        index._setup(
            segments,
            {name: mask for name, mask in alive.items() if name in names},
            version,
            self._k1,
            self._b,
            self._title_weight,
            self._idf_kind,
        )
        # The segments it keeps keep their slots (all 0 between searches).
        index._sums = {name: sums for name, sums in self._sums.items() if name in names}
        return index

    def merge_plan(self) -> list[tuple[int, tuple[str, ...]]]:
        """Segments worth merging, as (scope, segment names), one entry per scope.

        A scope with too many deleted passages is merged whole (the merge drops them). One with
        too many segments merges its small ones (a tenth of its largest or less) when there are
        at least two, leaving the large ones as they are: one added source must not rebuild a
        scope of a million passages. When its segments are of a size, all are merged."""
        out = []
        for scope, segments in self._by_scope.items():
            total = sum(s.size for s in segments)
            live = {s.name: self._live[s.name][0] for s in segments}
            every = tuple(s.name for s in segments)
            if total and 1 - sum(live.values()) / total > MAX_DELETED_SHARE:
                out.append((scope, every))
            elif len(segments) > MAX_SEGMENTS:
                largest = max(live.values())
                small = tuple(n for n in every if live[n] * SMALL_SHARE <= largest)
                out.append((scope, small if len(small) >= 2 else every))
        return out

    def live_documents(self, names: Iterable[str]) -> list[int]:
        """The documents with a passage not marked deleted in these segments."""
        wanted = set(names)
        found: set[int] = set()
        for segment in self.segments:
            if segment.name in wanted:
                documents = np.asarray(segment.documents)
                mask = self._alive.get(segment.name)
                found.update(np.unique(documents if mask is None else documents[mask]).tolist())
        return sorted(found)

    # -- a saved copy ----------------------------------------------------------------------------

    def save(self, folder: Path, identity: str) -> None:
        """Write the segments not yet in `folder` and a manifest naming them, `identity`
        (the database and its corpus state), the version and the parameters. The manifest is
        replaced atomically: readers see the old set or the new one, never half."""
        folder.mkdir(parents=True, exist_ok=True)
        for segment in self.segments:
            if not (folder / segment.name / "segment.json").exists():
                segment.write(folder)
        deleted = {}
        for name, mask in self._alive.items():
            segment = next(s for s in self.segments if s.name == name)
            deleted[name] = np.asarray(segment.ids)[~mask].tolist()
        manifest = {
            "format": SAVED_FORMAT,
            "identity": identity,
            "version": self.version,
            "parameters": self.parameters,
            "segments": [{"name": s.name, "scope": s.scope} for s in self.segments],
            "deleted": deleted,
            "documents": f"documents-{os.urandom(8).hex()}.json",
        }
        # The documents' hashes in a file of their own (a start that finds the corpus unchanged
        # never reads them), named by this manifest alone: two processes saving at once each
        # name their own.
        hashes = {str(d): h for d, h in self.hashes.items()}
        _write_atomically(folder / manifest["documents"], json.dumps(hashes))
        _write_atomically(folder / MANIFEST, json.dumps(manifest))
        self.saved_as = identity
        _remove_unlisted(folder, {s.name for s in self.segments} | {manifest["documents"]})

    @classmethod
    def load(cls, folder: Path, identity: str, version: int) -> Bm25Index | None:
        """The saved index if it was saved for this identity and version with these
        parameters and every segment checks out, else None (derived data: rebuilt)."""
        opened = cls.open_saved(folder)
        if opened is None:
            return None
        index, saved_identity = opened
        if saved_identity != identity or index.version != version:
            return None
        return index

    @classmethod
    def open_saved(cls, folder: Path) -> tuple[Bm25Index, str] | None:
        """The saved index (whatever corpus state it holds) and its identity, or None when it
        is missing, damaged, or of another format or parameters."""
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            if manifest.get("format") != SAVED_FORMAT or manifest.get("parameters") != (
                _parameters()
            ):
                return None
            segments, alive = [], {}
            for entry in manifest["segments"]:
                segment = Segment.open(folder, str(entry["name"]))
                if segment is None or segment.scope != int(entry["scope"]):
                    return None
                segments.append(segment)
                gone = manifest.get("deleted", {}).get(segment.name)
                if gone:
                    alive[segment.name] = ~np.isin(np.asarray(segment.ids), gone)
            index = cls.of(segments, alive, int(manifest["version"]))
            index._hashes, index._hashes_file = None, folder / str(manifest["documents"])
            index.saved_as = str(manifest["identity"])
            return index, index.saved_as
        except Exception:  # unreadable or foreign: derived data, so rebuild instead
            return None


class _Sums:
    """Sets of one float per passage of a window (retrieval.compiled) and whether the search
    has touched it: all 0 and untouched between searches (a search clears the ones it
    touched). Each search takes a set no other search is using (a new one only when all are
    taken: as many sets as searches ever ran at once on this segment) and gives it back."""

    __slots__ = ("_free", "_lock", "_size")

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._free: list[tuple[np.ndarray, np.ndarray]] = []

    def take(self) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            if self._free:
                return self._free.pop()
        return np.zeros(self._size, dtype=np.float64), np.zeros(self._size, dtype=np.bool_)

    def give_back(self, acc: np.ndarray, seen: np.ndarray) -> None:
        with self._lock:
            self._free.append((acc, seen))


# "Every passage is live", for the compiled search (it takes an array either way).
_ALL_LIVE = np.zeros(0, dtype=np.bool_)

# retrieval.compiled once a long-lived process has asked for it and it has loaded (see
# `use_compiled`); until then, and in a one-question process, searches run on numpy.
_compiled: ModuleType | None = None
_loading: threading.Thread | None = None
_loading_lock = threading.Lock()


def use_compiled(wait: float = 0.0, *, build: bool = True) -> bool:
    """Load the compiled search (retrieval.compiled) in a background thread, so searches
    switch to it once it is ready: importing numba and loading (or, the first time after an
    install, compiling) the search takes from about a second to tens of seconds, which a
    one-question `citebot ask` would only lose, and a bot must not spend blocking its loop.
    `wait`: seconds to wait for it to load (or fail: then searches stay on numpy, with the
    same results). `build`: load the compiled build too (not for a process that only
    searches: `retrieval.engine_worker`). Returns whether searches now use it."""
    global _loading
    with _loading_lock:
        if _loading is None:
            _loading = threading.Thread(
                target=_load_compiled, args=(build,), name="citebot-compile", daemon=True
            )
            _loading.start()
    if wait > 0:
        _loading.join(wait)
    return _compiled is not None


def searches_compiled() -> bool:
    """Whether this process's searches use the compiled search now."""
    return _compiled is not None


def compiled_requested() -> bool:
    """Whether this process asked for the compiled search (`use_compiled`): an engine process
    started for it loads it too (`retrieval.engine_processes`)."""
    return _loading is not None


def _load_compiled(build: bool = True) -> None:
    global _compiled
    try:
        from retrieval import compiled

        compiled.warm()
    except Exception:  # an unsupported platform, a broken cache: numpy gives the same results
        log.warning("the compiled search is unavailable; searching with numpy", exc_info=True)
        return
    _compiled = compiled
    log.info("searching with the compiled search")
    if not build:
        return
    try:  # and the compiled build, loaded now rather than by the first big build
        from retrieval import building

        building.ready(0)
    except Exception:  # numpy builds the same segments
        log.warning("the compiled build is unavailable; building with numpy", exc_info=True)


def _write_atomically(path: Path, text: str) -> None:
    """A temporary file, then renamed over `path`: readers see the old text or the new, never
    half. Derived data: no fsync (see `Segment.write`)."""
    import tempfile  # only a save writes: not imported by every ask

    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def new_segment_name() -> str:
    return f"seg-{os.urandom(8).hex()}"


def segments_of(rows: Sequence[Sequence], title_weight: float | None = None) -> list[Segment]:
    """One new segment per scope of these passage rows (ids ascending)."""
    weight = TITLE_WEIGHT if title_weight is None else title_weight
    from operator import itemgetter

    scopes = {scope or 0 for scope in set(map(itemgetter(2), rows))}
    by_scope: dict[int, Sequence[Sequence]] = {}
    if len(scopes) == 1:  # the rows as they are (a corpus-wide build: a million at 1M)
        by_scope[scopes.pop()] = rows
    else:
        grouped: dict[int, list[Sequence]] = {}
        for row in rows:
            grouped.setdefault(row[2] or 0, []).append(row)
        by_scope.update(grouped)
    # A process that loaded the compiled search (numba imported) builds big segments compiled,
    # on two cores (retrieval.building: the same arrays); any other builds with numpy.
    compiled = None
    if _compiled is not None:
        try:
            from retrieval import building

            if len(rows) >= building.SMALLEST:  # a smaller build stays on numpy: no need
                building.ready(0)  # starts loading it, for this build or a later one
            compiled = building.postings
        except Exception:
            log.warning("the compiled build is unavailable; building with numpy", exc_info=True)
    return [
        Segment.build(new_segment_name(), scope, part, weight, compiled)
        for scope, part in sorted(by_scope.items())
    ]


# Segment folders that no manifest names are removed once this old: another process may have
# written one a moment ago for a manifest it is about to save.
ORPHAN_AGE_S = 600.0


def _remove_unlisted(folder: Path, listed: set[str]) -> None:
    """Segment folders and document lists no manifest names any more (merged away,
    replaced, or left by a crash)."""
    now = time.time()
    for path in folder.iterdir():
        if path.name.startswith(("seg-", ".seg-", "documents-")) and path.name not in listed:
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > ORPHAN_AGE_S:
                    if path.is_dir():
                        remove_folder(path)
                    else:
                        path.unlink()


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


# Relative slack on every pruning comparison: a bound sums its floats in another order than the
# score it bounds, so it may round a few ulps below it; a passage is dropped only when clearly
# below (ties with the k-th score stay, and resolve in passage order).
SLACK = 1e-9


_UNSEEN = object()  # a term a view has not weighed yet


def _first_negated(item: tuple[float, float, slice]) -> float:
    """Sort key: highest bound first (a stable sort keeps the question's order on ties)."""
    return -item[0]


def _scored_list(ids: list[int], scores: list[float]) -> list[Scored]:
    """Hits as Scored tuples, made by tuple's own constructor: a named tuple's __new__ is
    a Python function, and a search makes dozens."""
    return list(map(tuple.__new__, itertools.repeat(Scored), zip(ids, scores, strict=True)))


def _below(bound: float, theta: float) -> bool:
    return bound * (1 + SLACK) < theta


def _below_each(bounds: np.ndarray, theta: float) -> np.ndarray:
    return bounds * (1 + SLACK) < theta


def _best(found: np.ndarray, totals: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best of these passages, with every one tied with the k-th (ties resolve in
    passage order, later)."""
    if found.size <= k:
        return found, totals
    keep = totals >= np.partition(totals, found.size - k)[found.size - k]
    return found[keep], totals[keep]


def _merged(
    docs: np.ndarray, values: np.ndarray, passages: int, positive: bool
) -> tuple[np.ndarray, np.ndarray]:
    """`_summed` of postings in a segment of this many passages: when they are a large share
    of them (DENSE_SHARE), summed into one slot per passage instead of sorted (as cheap per
    posting as it gets); the same floats either way. `positive`: every value is above 0, so
    a slot above 0 is a passage a posting names."""
    if docs.size * DENSE_SHARE < passages:
        return _summed(docs, values)
    sums = np.bincount(docs, weights=values, minlength=passages)
    if positive:
        held = sums > 0
    else:  # a passage's values may sum to 0 (a negative idf cancelling a positive one)
        held = np.zeros(passages, dtype=bool)
        held[docs] = True
    found = np.flatnonzero(held).astype(docs.dtype)  # bools: far quicker to scan than floats
    return found, sums[found]


def _summed(docs: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each position once, ascending, with its values summed in the order given: positions
    that are sorted runs (one per term, one after another) give the same floats as adding the
    terms one by one. A stable sort merges the runs (timsort finds them) rather than sorting
    from scratch, and bincount sums in that order."""
    if not docs.size:
        return docs, values
    order = np.argsort(docs, kind="stable")
    merged = docs[order]
    new = np.empty(merged.size, dtype=bool)
    new[0] = True
    np.not_equal(merged[1:], merged[:-1], out=new[1:])
    return merged[new], np.bincount(np.cumsum(new) - 1, weights=values[order])
