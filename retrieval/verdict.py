"""Does the corpus answer a question at all, and which of the reranked passages are worth
showing.

A score says which passage is best, not whether the best is any good: BM25 scores are not
comparable across questions, and a question about bread still matches a passage that says "AI".
The verdict reads what `retrieval.rerank` measured of the best passage: how much of what the
question asks beyond its subject it holds, how strongly it matches when no title does, and
whether it gives the kind of answer asked for. Thresholds were set on the development halves of
`bench/qa` (see bench/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.rerank import Ranked

# The best passage must hold this share of the question's content weight, and, when its title
# holds none of the question, score at least this share of the question's total weight (a
# question about something the corpus lacks matches a few of its words in passing). Set on
# bench/qa's dev half so that nearly every answerable question is answered: a wrong refusal
# costs more than a weak answer.
ANSWER_COVERAGE = 0.2
MIN_STRENGTH = 0.55
# A question asking for a name or a place whose best passage gives none in its best sentences
# is answered only when that passage holds this much of its content (a date, a number or a
# measure is always required).
UNTYPED_COVERAGE = 0.8
# The kinds an answer must give, whatever else matches ("how many", "when").
REQUIRED_KINDS: tuple[str, ...] = ("number", "date")
# Passages below this share of the best score, or holding less of the question than this,
# are not shown.
FLOOR_RATIO = 0.5
FLOOR_COVERAGE = 0.2


@dataclass(frozen=True, slots=True)
class Verdict:
    """Does the corpus answer the question, how sure, why; and the passages worth showing."""

    answered: bool
    confidence: float
    reason: str
    kept: list[Ranked]


_KIND_NAMES = {"date": "a date", "number": "a number", "person": "a name", "place": "a place"}


def judge(
    ranked: Sequence[Ranked], kind: str | None = None, measures: tuple[str, ...] = ()
) -> Verdict:
    """Answered when the best passage holds enough of the question's content (the terms that
    are not the article's subject): a passage about the right town that never gives its
    population does not answer "what is the population of X". When the question asks for a
    kind of answer (`kind`: a date, a number...) and the best passage's best sentence has none,
    it must hold nearly all of the question. Passages far below the best, or holding little of
    the question, are left out: fewer than asked is a fine answer."""
    if not ranked:
        return Verdict(False, 0.0, "no passage shares a word with the question", [])
    best = ranked[0]
    confidence = min(1.0, (best.coverage + min(best.strength, 1.0)) / 2)
    # "How many parameters": when nothing in the corpus names what is counted, no number in
    # it is the answer (the most specific reason, so it comes first).
    if not best.counts:
        return Verdict(
            False,
            confidence,
            "nothing in the corpus mentions what the question counts",
            [],
        )
    if best.coverage < ANSWER_COVERAGE:
        return Verdict(
            False,
            confidence,
            f"the best passage holds {best.coverage:.0%} of what the question asks "
            f"beyond its subject (at least {ANSWER_COVERAGE:.0%} is needed)",
            [],
        )
    # A measure asked for and given ("how long": "over four years") is evidence enough.
    if best.strength < MIN_STRENGTH and not best.subject and not (measures and best.typed):
        return Verdict(
            False,
            confidence,
            "the best passage matches too little of the question: its rarer words "
            "are not in the corpus, or only in passing",
            [],
        )
    # A measure asked for ("how tall"), a count ("how many") or a date must be given whatever
    # else matches: naming the subject fully is easy, its height is the answer.
    if (
        kind is not None
        and not best.typed
        and (measures or kind in REQUIRED_KINDS or best.coverage < UNTYPED_COVERAGE)
    ):
        return Verdict(
            False,
            confidence,
            f"the question asks for {_KIND_NAMES.get(kind, kind)}, and the passage that "
            "matches it best gives none",
            [],
        )
    kept = [
        r for r in ranked if r.score >= FLOOR_RATIO * best.score and r.coverage >= FLOOR_COVERAGE
    ]
    return Verdict(
        True,
        confidence,
        f"the best passage holds {best.coverage:.0%} of what the question asks",
        kept,
    )
