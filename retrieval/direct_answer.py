"""The direct answer: the one sentence of the top passages that best answers the question.

A passage of a hundred words answers a question somewhere in the middle; people want that
sentence first, with the answer itself (the date, the amount, the name) marked. Sentences are
scored by how much of the question they cover (each term weighted, e.g. by idf, so "stargate"
counts more than "project"), whether they hold an answer of the question's kind (a date for
"when"), and the rank of their passage (the best passage is the likeliest source). It is
extractive on purpose: the sentence is the article's own words, cited like its passage.

Work is bounded: a few passages, a bounded stretch of each, and spans looked for only in the
sentences that can still win.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, KeysView, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from retrieval.analyzer import analyze, analyze_spans
from retrieval.answer_types import DATE, NUMBER, answer_spans, counted_words, question_kind
from retrieval.models import DirectAnswer, Hit
from retrieval.patterns import lazy
from retrieval.rerank import HasSentences
from retrieval.sentences import sentence_offsets

MAX_PASSAGES = 5  # sentences come from the best few passages only
MAX_SCAN_CHARS = 4000  # of each passage: real passages are shorter; pasted walls of text are not
MAX_SENTENCE_CHARS = 600  # longer "sentences" are lists or run-ons, no direct answer
MIN_WORDS = 4  # fewer: a heading or a fragment

# Score = coverage (0..1, weighted share of the question's terms in the sentence)
#       + TITLE_SHARE of the coverage its passage's title adds (the subject, often unrepeated)
#       + TYPE_BONUS when an answer of the question's kind is in the sentence (times how
#         specific it is: less for "the 18th century" or "two")
#       + RANK_BONUS / rank of its passage.
# Chosen on the dev half of bench/qa (in the middle of the best settings there; a penalty on
# long sentences gained nothing): with the answer in the top 3 passages, the sentence holds it
# for 32 of 40 dev questions and 30 of 41 test questions.
TITLE_SHARE = 0.5
TYPE_BONUS = 0.5
RANK_BONUS = 0.1
# A sentence that shares no word with the question but follows one that does gets this share
# of that one's coverage (when an answer of a kind is asked for: it must then give one).
FOLLOW_SHARE = 0.6

_MONEY = lazy(r"[$€£¥₹]|\b(?:dollars|euros|pounds|yen|yuan|million|billion|trillion)\b")
_MONEY_QUESTION = lazy(
    r"\b(?:cost|costs|price|pay|paid|spend|spent|worth|invest|invested|earn|earned|budget|"
    r"revenue|raise|raised|sell|sold|fund|funding)\b"
)
_TIME_UNITS = lazy(r"\b(?:years?|months?|weeks?|days?|hours?|minutes?|seconds?)\b")
_HOW_LONG = lazy(r"\bhow long\b")
_CENTURY = lazy(r"centur", re.IGNORECASE)
_DECADE = lazy(r"\d0s\b")
_DIGIT = lazy(r"\d")
COUNTED_REACH = 30  # characters from a number to the thing a "how many" question counts
_TERMINAL = ".!?…\"'”’)"


class _Unknown:
    """The answer kind not yet worked out (None is a kind: "no particular kind")."""


_UNKNOWN = _Unknown()


@dataclass(frozen=True, slots=True)
class _Candidate:
    hit: Hit
    start: int  # in hit.text
    end: int
    text: str
    score: float


def direct_answer(
    question: str,
    terms: Sequence[str],
    hits: Sequence[Hit],
    weights: Mapping[str, float] | None = None,
    sentences: Mapping[int, HasSentences] | None = None,
    kind: str | _Unknown | None = _UNKNOWN,
) -> DirectAnswer | None:
    """The sentence of `hits` (best first) that best answers `question`, or None when no
    sentence shares a term with it.

    `terms` are the question's analysed terms (`retrieval.analyzer.analyze`); `weights` maps a
    term to its importance (an idf); a term missing from it weighs 1.0. `sentences` may give,
    by passage id, what holds a hit's sentences with their terms as they were stored
    (`retrieval.term_offsets.Layout`): those are not read from the text again. `kind` is
    `question_kind(question)` when the caller has it already (the rerank worked it out).
    """
    wanted = dict.fromkeys(terms)
    if not hits:
        return None
    weight = {t: max(0.0, (weights or {}).get(t, 1.0)) for t in wanted}
    total = sum(weight.values())
    if isinstance(kind, _Unknown):
        kind = question_kind(question)
    candidates: list[_Candidate] = []
    for hit in hits[:MAX_PASSAGES]:
        title_terms = set(analyze(hit.title)) & weight.keys()
        before = 0.0  # the coverage of the sentence before, which this one may go on with
        for start, end, found in _sentences(hit, sentences, weight.keys()):
            # "Ann Wren organised the first regatta. Boats met on June 3, 1921": a sentence
            # may give the answer to the one before it without repeating its words.
            carried = FOLLOW_SHARE * before if kind else 0.0
            if not (found or carried):  # a sentence unrelated to the question answers nothing
                before = 0.0
                continue
            text = hit.text[start:end]
            covered = sum(weight[t] for t in found)
            from_title = sum(weight[t] for t in title_terms - found)
            coverage = (covered + TITLE_SHARE * from_title) / total if total else 0.0
            before = coverage if found else 0.0
            if _unfit(text):
                continue
            score = max(coverage, carried) + RANK_BONUS / hit.rank
            candidates.append(_Candidate(hit, start, end, text, score))
    if not candidates:
        return None
    candidates.sort(key=lambda c: c.score, reverse=True)
    if kind is None:
        return _answer(candidates[0], None, None)
    # The type bonus can lift a sentence by TYPE_BONUS at most: only those within reach of the
    # leader are searched for spans.
    best_score, best, chosen = float("-inf"), None, None
    for candidate in candidates:
        if candidate.score + TYPE_BONUS < best_score:
            break
        found = best_span(candidate.text, kind, question, wanted)
        score = candidate.score + (TYPE_BONUS * found[1] if found else 0.0)
        if score > best_score:
            best_score, best, chosen = score, candidate, found[0] if found else None
    assert best is not None  # the first candidate always sets it
    return _answer(best, chosen, kind)


def _sentences(
    hit: Hit, stored: Mapping[int, HasSentences] | None, wanted: KeysView[str]
) -> Iterable[tuple[int, int, AbstractSet[str]]]:
    """The sentences of a hit's first MAX_SCAN_CHARS characters, each with the terms of
    `wanted` it holds: as stored when the whole passage is that short, else read from the
    text."""
    known = stored.get(hit.passage_id) if stored and len(hit.text) <= MAX_SCAN_CHARS else None
    if known is not None:
        starts, ends = known.sentence_bounds()
        holding = known.sentences_holding(wanted)
        none: frozenset[str] = frozenset()
        return (
            (a, b, holding.get(i, none)) for i, (a, b) in enumerate(zip(starts, ends, strict=True))
        )
    text = hit.text[:MAX_SCAN_CHARS]
    return ((a, b, wanted & set(analyze(text[a:b]))) for a, b in sentence_offsets(text))


def _answer(c: _Candidate, span: tuple[int, int] | None, kind: str | None) -> DirectAnswer:
    return DirectAnswer(
        text=c.text,
        rank=c.hit.rank,
        passage_id=c.hit.passage_id,
        start=c.start,
        end=c.end,
        span=span,
        kind=kind,
    )


def _unfit(sentence: str) -> bool:
    """Headings, fragments, questions (an FAQ's question is not its answer) and walls of text."""
    if len(sentence) > MAX_SENTENCE_CHARS or sentence.endswith("?"):
        return True
    words = sentence.count(" ") + 1
    if words < MIN_WORDS:
        return True
    # A line without closing punctuation is a heading ("The Financial Fallout: A Sell-Off").
    return sentence[-1] not in _TERMINAL and words <= 12


def best_span(
    sentence: str, kind: str, question: str, terms: Mapping[str, object] | Sequence[str]
) -> tuple[tuple[int, int], float] | None:
    """The answer span of `kind` in `sentence` and how specific it is (0..1), or None.

    Spans that are themselves question words go ("R1" does not answer "when was R1
    released"). Of the rest: for "how many X", a number just before X ("23,000 currently
    accepted species"); then the most specific (a year over "the 18th century", digits over
    "two"); then the one nearest the question's words in the sentence.
    """
    spans = answer_spans(sentence, kind, question)
    if not spans:
        return None
    q = question.casefold()
    wanted = set(terms)
    found = analyze_spans(sentence)
    marks = [(s.start, s.end) for s in found if s.term in wanted]
    counted = _counted_term(q) if kind == NUMBER else None
    counted_at = [s.start for s in found if s.term == counted]
    if kind == NUMBER:
        spans = _prefer_unit(sentence, spans, q)
    scored = []
    for start, end in spans:
        text = sentence[start:end]
        if any(start <= a and b <= end for a, b in marks) and set(analyze(text)) <= wanted:
            continue
        counts_it = any(0 <= at - end <= COUNTED_REACH for at in counted_at)
        strength = _specificity(text, kind)
        distance = min((_gap(start, end, a, b) for a, b in marks), default=0)
        scored.append((not counts_it, -strength, distance, start, end))
    if not scored:
        return None
    _, strength, _, start, end = min(scored)
    return (start, end), -strength


def _counted_term(q: str) -> str | None:
    """The term a "how many" question counts: "how many species ..." -> "speci"."""
    terms = analyze(counted_words(q))
    return terms[0] if terms else None


def _specificity(text: str, kind: str) -> float:
    """How precisely a span answers: 1 for a date or a figure, less for a century, a decade
    or a number written in words (often "the two families", not a count)."""
    if kind == DATE:
        if _CENTURY.search(text):
            return 0.5
        return 0.6 if _DECADE.search(text) else 1.0
    if kind == NUMBER:
        return 1.0 if _DIGIT.search(text) else 0.5
    return 1.0


def _prefer_unit(sentence: str, spans: list[tuple[int, int]], q: str) -> list[tuple[int, int]]:
    """ "how much did it cost" wants money, "how long" a duration: keep those spans if any."""
    if _MONEY_QUESTION.search(q):
        money = [s for s in spans if _MONEY.search(sentence[s[0] : s[1]])]
        return money or spans
    if _HOW_LONG.search(q):
        durations = [s for s in spans if _TIME_UNITS.search(sentence[s[0] : s[1]])]
        return durations or spans
    return spans


def _gap(start: int, end: int, a: int, b: int) -> int:
    """Characters between two spans; 0 when they touch or overlap."""
    return max(0, a - end, start - b)
