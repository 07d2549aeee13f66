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
import json
import math
import os
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from retrieval.analyzer import ANALYZER_VERSION
from retrieval.segments import Segment, remove_folder
from retrieval.spelling import dropped_letters

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
# A search walks the postings (MaxScore) when one term's list is at least SKIPPABLE times all
# the others together: a common word beside rare ones, whose list the walk can skip. Otherwise
# one dense pass over a slot per passage is cheaper. Measured on 300k synthetic passages: a
# common word with rare ones, p50 0.64 ms against 1.56 dense (p95 1.32 against 4.73); others
# within 10% of dense.
SKIPPABLE = 4
MAX_DELETED_SHARE = 0.2
# A merge of a fragmented scope takes the segments this many times smaller than its largest
# (or all of them, when fewer than two are): see `Bm25Index.merge_plan`.
SMALL_SHARE = 10

SAVED_FORMAT = "citebot-index 5"
MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class Scored:
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
        self._norm_cache: dict[tuple[str, float], np.ndarray] = {}

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
            n = sum(self._live[s.name][0] for s in segments)
            length = sum(self._live[s.name][1] for s in segments)
            view = _View(segments, n, length / n if n else 1.0)
            self._views[scope] = view
        return view

    def _df(self, term: str, view: _View) -> tuple[int, list[tuple[Segment, int]]]:
        """The term's document frequency over a view, and its id in each segment holding it."""
        found = []
        df = 0
        for segment in view.segments:
            term_id = segment.vocabulary.lookup(term)
            if term_id >= 0:
                found.append((segment, term_id))
                df += segment.df(term_id)
        return df, found

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
        self, segment: Segment, terms: Sequence[tuple[float, int]], avgdl: float, k: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(positions, scores) of the segment's live passages that can be among its k best for
        these terms ((idf times boost, term id in this segment)); every passage holding a term
        when k is None.

        Rare terms first, MaxScore-style: each term has an upper bound on what it can add (its
        idf, its largest frequency, the shortest length); once the k-th best score so far beats
        the bounds of the terms not yet walked, no passage holding only those can enter the k
        best, and their postings are only probed (binary search) for the passages already
        found: a common word beside rare ones is probed, not read. When no list dominates,
        one dense pass is cheaper (SKIPPABLE).
        """
        k1, b = self._k1, self._b
        norms = self._norms(segment, avgdl)
        items = []
        for idf, term_id in terms:
            top = float(segment.maxtf[term_id])
            bound = idf * top * (k1 + 1) / (top + k1 * (1 - b))
            items.append((bound, idf, segment.postings(term_id)))
        items.sort(key=lambda item: -item[0])
        mask = self._alive.get(segment.name)

        def score(idf: float, span: slice, positions: np.ndarray) -> np.ndarray:
            """The term's contribution to each of these (sorted) positions; 0 where absent."""
            docs = segment.docs[span]
            at = np.searchsorted(docs, positions)
            inside = at < docs.size
            found = np.zeros(positions.size, dtype=bool)
            found[inside] = docs[at[inside]] == positions[inside]
            out = np.zeros(positions.size, dtype=np.float64)
            if found.any():
                tf = segment.tf[span][at[found]].astype(np.float64)
                held = positions[found]
                norm = norms[held]
                out[found] = idf * tf * (k1 + 1) / (tf + norm)
            return out

        sizes = [span.stop - span.start for _, _, span in items]
        largest = max(sizes, default=0)
        if k is None or largest < SKIPPABLE * (sum(sizes) - largest) or largest < k:
            # Dense: one buffer slot per passage (calloc'd, so untouched pages cost nothing).
            buffer = np.zeros(segment.size, dtype=np.float64)
            for _, idf, span in items:
                docs = segment.docs[span]
                tf = segment.tf[span].astype(np.float64)
                norm = norms[docs]
                buffer[docs] += idf * tf * (k1 + 1) / (tf + norm)
            positions = np.flatnonzero(buffer > 0)
            if mask is not None:
                positions = positions[mask[positions]]
            return positions, buffer[positions]
        found = np.zeros(0, dtype=np.int64)
        totals = np.zeros(0, dtype=np.float64)
        bounds = [bound for bound, _, _ in items]
        for walked, (_, _, span) in enumerate(items):
            if found.size >= k:
                kth = float(np.partition(totals, found.size - k)[found.size - k])
                if sum(bounds[walked:]) < kth:
                    break  # no passage outside `found` can reach the k-th score
            new = np.setdiff1d(
                np.asarray(segment.docs[span], dtype=np.int64), found, assume_unique=True
            )
            if mask is not None:
                new = new[mask[new]]
            if not new.size:
                continue
            full = np.zeros(new.size, dtype=np.float64)
            for _, idf, other in items:
                full += score(idf, other, new)
            order = np.argsort(np.concatenate((found, new)), kind="stable")
            found = np.concatenate((found, new))[order]
            totals = np.concatenate((totals, full))[order]
        return found, totals

    def _norms(self, segment: Segment, avgdl: float) -> np.ndarray:
        """Each passage's BM25 length normalisation, k1 (1 - b + b len / avgdl), for one
        view's average length: computed once per segment and view, not per posting read."""
        key = (segment.name, avgdl)
        norms = self._norm_cache.get(key)
        if norms is None:
            lengths = np.asarray(segment.lengths, dtype=np.float64)
            norms = self._k1 * (1 - self._b + self._b * lengths / avgdl)
            if len(self._norm_cache) >= 64:
                self._norm_cache.clear()
            self._norm_cache[key] = norms
        return norms

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """Scores of every global passage for these query terms, in passage id order (for
        tests: a reference BM25 computes the same array)."""
        view = self._view(None)
        ids, scores = self._scored(terms, view, {})
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
    ) -> tuple[np.ndarray, np.ndarray]:
        per_segment: dict[str, list[tuple[float, int]]] = {}
        for term in dict.fromkeys(terms):
            df, found = self._df(term, view)
            if not found:
                continue
            idf = self._idf(view.passages, df, view) * boosts.get(term, 1.0)
            for segment, term_id in found:
                per_segment.setdefault(segment.name, []).append((idf, term_id))
        ids, scores = [], []
        for segment in view.segments:
            mine = per_segment.get(segment.name)
            if mine:
                positions, values = self._segment_scores(segment, mine, view.avgdl, k)
                ids.append(np.asarray(segment.ids)[positions])
                scores.append(values)
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(ids), np.concatenate(scores)

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
        ids, scores = self._scored(terms, view, boosts or {}, k)
        if ids.size == 0:
            return SearchResult([])
        if ids.size > k:
            # Keep everything tied with the k-th score, so ties resolve as below, not at random.
            kth = np.partition(scores, ids.size - k)[ids.size - k]
            keep = scores >= kth
            ids, scores = ids[keep], scores[keep]
        # Highest score first; ties in passage order.
        order = np.lexsort((ids, -scores))[:k]
        return SearchResult(
            [Scored(int(i), float(s)) for i, s in zip(ids[order], scores[order], strict=True)]
        )

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
            "documents": f"documents-{uuid.uuid4().hex[:16]}.json",
        }
        # The documents' hashes in a file of their own (a start that finds the corpus unchanged
        # never reads them), named by this manifest alone: two processes saving at once each
        # name their own.
        hashes = {str(d): h for d, h in self.hashes.items()}
        _write_atomically(folder / manifest["documents"], json.dumps(hashes))
        _write_atomically(folder / MANIFEST, json.dumps(manifest))
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
            return index, str(manifest["identity"])
        except Exception:  # unreadable or foreign: derived data, so rebuild instead
            return None


def _write_atomically(path: Path, text: str) -> None:
    """A temporary file, then renamed over `path`: readers see the old text or the new, never
    half. Derived data: no fsync (see `Segment.write`)."""
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
    return f"seg-{uuid.uuid4().hex[:16]}"


def segments_of(rows: Sequence[Sequence], title_weight: float | None = None) -> list[Segment]:
    """One new segment per scope of these passage rows (ids ascending)."""
    weight = TITLE_WEIGHT if title_weight is None else title_weight
    by_scope: dict[int, list[Sequence]] = {}
    for row in rows:
        by_scope.setdefault(row[2] or 0, []).append(row)
    return [
        Segment.build(new_segment_name(), scope, part, weight)
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
