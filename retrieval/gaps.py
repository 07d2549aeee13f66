"""Gaps to close: the questions the corpus did not answer, or answered unhelpfully, gathered into
clusters of what they ask about, so a moderator sees "12 questions about bread baking" rather
than a list to read.

Each question is its index terms (`retrieval.question_groups.question_key`: case, punctuation,
stop words and word forms set aside); two questions fall in one cluster when they share enough of
their terms (Jaccard similarity at least `SIMILAR`), and clusters join through any such pair
(single linkage, with a union-find). A cluster is named by the terms most of its questions use,
and shown with its most asked wordings; clusters are ranked by how many questions they hold.

Pairs are found without comparing every question with every other one sharing a term (a term in
most questions, "deepseek" in a DeepSeek server, made that quadratic): questions with the same
terms are joined once, and the rest by prefix filtering (Bayardo, Ma and Srikant, "Scaling up all
pairs similarity search", WWW 2007): with each question's terms ordered rarest first, two whose
Jaccard similarity is at least t share a term among the first |x| - ceil(t|x|) + 1 of each, so
only those prefixes are indexed, and a very common term sits at the end, outside most prefixes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from retrieval.question_groups import question_key

# The share of two questions' terms in common (Jaccard) that makes them one cluster: 34%, in
# whole numbers, so the check and the prefix length agree exactly (0.34 * 150 in floating
# point is 51.00000000000001, and its ceiling one term too many).
SIMILAR_PERCENT = 34
SIMILAR = SIMILAR_PERCENT / 100
NAME_TERMS = 3
SHOWN_WORDINGS = 5


@dataclass(frozen=True, slots=True)
class Gap:
    """A cluster of questions the corpus did not answer well."""

    terms: tuple[str, ...]  # what they are about: the terms most of them use
    count: int  # questions asked
    unanswered: int
    not_helpful: int  # answered, but voted not helpful
    wordings: tuple[str, ...]  # the most asked wordings, most asked first
    query_ids: tuple[int, ...]  # every logged question of the cluster, newest first

    def to_json(self) -> dict[str, object]:
        return {
            "terms": list(self.terms),
            "count": self.count,
            "unanswered": self.unanswered,
            "not_helpful": self.not_helpful,
            "wordings": list(self.wordings),
            "query_ids": list(self.query_ids),
        }


def find_gaps(rows: Iterable[tuple[int, str, bool, int]]) -> list[Gap]:
    """Clusters of (query id, question, answered, not-helpful votes) rows: the unanswered
    questions and the answered ones voted not helpful (others are left out), largest first."""
    asked = [(i, q, a, n) for i, q, a, n in rows if not a or n > 0]
    keys = [question_key(q) for _, q, _, _ in asked]
    terms = [frozenset(k.split()) if not k.startswith("= ") else frozenset() for k in keys]
    parent = list(range(len(asked)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in _similar_pairs(terms):
        parent[root(j)] = root(i)
    for i, key in enumerate(keys):  # questions of stop words alone: only identical ones join
        if not terms[i]:
            first = keys.index(key)
            parent[root(i)] = root(first)
    members: dict[int, list[int]] = {}
    for i in range(len(asked)):
        members.setdefault(root(i), []).append(i)
    gaps = [
        _gap([asked[i] for i in group], [terms[i] for i in group]) for group in members.values()
    ]
    gaps.sort(key=lambda g: (g.count, g.query_ids[0] if g.query_ids else 0), reverse=True)
    return gaps


def _similar_pairs(terms: Sequence[frozenset[str]]) -> Iterable[tuple[int, int]]:
    """Pairs (i, j) of questions whose term sets are at least `SIMILAR` alike (Jaccard), enough
    of them to join every cluster: each set of terms once with the first question holding it,
    and those first ones by prefix filtering (see the module's docstring)."""
    first: dict[frozenset[str], int] = {}
    for i, own in enumerate(terms):
        if own:
            if own in first:
                yield first[own], i
            else:
                first[own] = i
    distinct = list(first.items())
    frequency = Counter(t for own, _ in distinct for t in own)
    by_term: dict[str, list[int]] = {}  # prefix term -> positions in `distinct`
    for n, (own, _) in enumerate(distinct):
        ordered = sorted(own, key=lambda t: (frequency[t], t))
        need = -(-SIMILAR_PERCENT * len(own) // 100)  # the least overlap with itself: ceil
        prefix = ordered[: len(own) - need + 1]
        seen: set[int] = set()
        for term in prefix:
            for m in by_term.get(term, ()):
                if m in seen:
                    continue
                seen.add(m)
                other, j = distinct[m]
                if _alike(own, other):
                    yield j, first[own]
            by_term.setdefault(term, []).append(n)


def _alike(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two questions' terms are at least SIMILAR_PERCENT alike (Jaccard), exactly."""
    return 100 * len(a & b) >= SIMILAR_PERCENT * len(a | b)


def _gap(rows: Sequence[tuple[int, str, bool, int]], terms: Sequence[frozenset[str]]) -> Gap:
    counted = Counter(t for own in terms for t in own)
    # Ties in alphabetical order: the same cluster has the same name in every run (a set's
    # order, and so Counter's among equals, changes with the interpreter's hash seed).
    name = tuple(sorted(counted, key=lambda t: (-counted[t], t))[:NAME_TERMS])
    wordings = Counter(" ".join(q.split()) for _, q, _, _ in rows)
    ids = sorted((i for i, _, _, _ in rows), reverse=True)
    return Gap(
        terms=name,
        count=len(rows),
        unanswered=sum(1 for _, _, a, _ in rows if not a),
        not_helpful=sum(1 for _, _, a, n in rows if a and n > 0),
        wordings=tuple(w for w, _ in wordings.most_common(SHOWN_WORDINGS)),
        query_ids=tuple(ids),
    )
