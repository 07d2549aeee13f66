"""The in-memory BM25 index over every passage, with per-server visibility.

rank-bm25's BM25Okapi does the scoring. The index is derived data: built from the terms stored in
SQLite, never written back, and replaced whole when the corpus changes. Building and searching
are plain synchronous functions; the facade runs them in a worker thread.

"Does the corpus answer this at all?" is not "is the best score above zero": BM25 scores are not
comparable across queries, and a question about bread still scores a passage that says "AI".
`coverage` is the share of the query's weight (each distinct term weighted by its rarity, unknown
terms weighted as the rarest) found in the best passage. A question is answered when the best
passage covers at least `ANSWER_COVERAGE` of it, or a little less when it matches several of the
question's terms (paraphrases keep the topic words but change the verbs). The thresholds were set
on paraphrased and out-of-corpus questions about the bundled corpus: in-corpus paraphrases scored
0.27-1.0, off-topic questions (bread, weather, football, a share price) at most 0.27 with at most
two matched terms.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rank_bm25 import BM25Okapi

from retrieval.store import PassageRow

ANSWER_COVERAGE = 0.35
WEAK_COVERAGE = 0.25
WEAK_MIN_TERMS = 3


@dataclass(frozen=True, slots=True)
class Scored:
    passage_id: int
    score: float


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: list[Scored]
    coverage: float
    matched_terms: frozenset[str]

    @property
    def answered(self) -> bool:
        """Whether the corpus answers the question at all (see the module docstring)."""
        if not self.hits:
            return False
        if self.coverage >= ANSWER_COVERAGE:
            return True
        return self.coverage >= WEAK_COVERAGE and len(self.matched_terms) >= WEAK_MIN_TERMS


class Bm25Index:
    """Passages of all scopes in one BM25 model; a search only returns what a server may see."""

    def __init__(self, rows: Sequence[PassageRow], version: int) -> None:
        self.version = version
        self.size = len(rows)
        self._ids = np.fromiter((r.id for r in rows), dtype=np.int64, count=len(rows))
        # Scope 0 is the global corpus; Discord ids are never 0.
        self._scopes = np.fromiter((r.guild_id or 0 for r in rows), dtype=np.int64, count=len(rows))
        corpus = [r.terms.split() for r in rows]
        self._bm25 = BM25Okapi(corpus) if rows else None
        self._terms = [frozenset(doc) for doc in corpus]
        df: Counter[str] = Counter()
        for terms in self._terms:
            df.update(terms)
        self._df = df

    def weight(self, term: str) -> float:
        """Rarity of a term (a smoothed idf that is never negative); unknown terms are rarest."""
        n = self._df.get(term, 0)
        return math.log(1.0 + (self.size - n + 0.5) / (n + 0.5))

    def search(self, terms: Sequence[str], k: int, guild_id: int | None) -> SearchResult:
        unique = list(dict.fromkeys(terms))
        if not unique or self._bm25 is None:
            return SearchResult([], 0.0, frozenset())
        scores = np.asarray(self._bm25.get_scores(unique), dtype=np.float64)
        visible = self._scopes == 0
        if guild_id is not None:
            visible |= self._scopes == guild_id
        scores = np.where(visible, scores, -np.inf)
        positive = np.flatnonzero(scores > 0)
        if positive.size == 0:
            return SearchResult([], 0.0, frozenset())
        top = positive[np.argsort(-scores[positive], kind="stable")[:k]]
        best_terms = self._terms[int(top[0])]
        matched = frozenset(t for t in unique if t in best_terms)
        total = sum(self.weight(t) for t in unique)
        coverage = sum(self.weight(t) for t in matched) / total if total else 0.0
        hits = [Scored(int(self._ids[i]), float(scores[i])) for i in top]
        return SearchResult(hits, coverage, matched)
