"""Reranking BM25's best passages by what makes a passage *answer* a question.

BM25 finds the right article well and the right passage of it less well: it counts matched
terms wherever they fall, so a passage that mentions the question's words in three different
sentences beats the one sentence that says them together, and it cannot see that "when" wants a
date. This module rescores a short candidate list from BM25 (it never searches on its own):

- **proximity**: the best sentence's share of the question's *content* weight (terms that are
  not the article's subject, which every passage of it carries in its title), since an answer
  usually sits in one sentence with the question's words;
- **answer type**: a bonus when that sentence holds something of the kind the question asks
  for (a date for "when", an amount for "how many", a name for "who", a place for "where"),
  other than the question's own words;
- **coverage**: the passage's own share of the content weight, which also decides whether the
  corpus answers the question at all (`retrieval.verdict`).

The final score is BM25 (divided by the best candidate's, so it is comparable across questions)
plus weighted features; weights were set on the development half of `bench/qa` only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from typing import NamedTuple, Protocol

from retrieval.analyzer import analyze
from retrieval.answer_types import (
    DATE,
    NUMBER,
    answer_spans,
    has_measure,
    measure_kinds,
    question_kind,
    unchat,
)
from retrieval.sentences import sentence_offsets
from retrieval.term_offsets import Layout

BM25_WEIGHT = 1.0
PROXIMITY_WEIGHT = 0.5
TYPE_WEIGHT = 0.4
COVERAGE_WEIGHT = 0.5
MAX_TYPED_CHARS = 1000  # of the best sentence, searched for an answer of the asked kind
TYPED_SHARE = 0.5  # of the best sentence's share, for a sentence to count as giving the answer
NEXT_SENTENCES = 1  # sentences after a matching one that may give its answer
SENTENCE_DEPTH = 10  # candidates whose sentences are read (the rest are scored on terms alone)

# "how long", "how tall", "how old": the adjective names the kind of answer (a length), which
# the passage gives as a number ("62 kilometres"), seldom with the adjective itself.
_HOW = re.compile(
    r"\bhow\s+(long|tall|old|big|large|far|high|wide|deep|heavy|often|fast|many|much)\b", re.I
)
# "how tall is it in meters": the unit the answer is wanted in, which it may abbreviate ("50 m").
_IN_UNIT = re.compile(
    r"\b(?:in|into)\s+(meters|metres|feet|ft|foot|km|kilometers|kilometres|miles|inches|cm|"
    r"centimeters|centimetres|kg|kilograms|pounds|lbs|tons|tonnes|years|months|days|hours|"
    r"minutes|seconds|dollars|euros|celsius|fahrenheit|degrees|percent|mph)\s*\??\s*$",
    re.I,
)
_WHY = re.compile(r"\s*(?:why|how\s+come|for\s+what\s+reason)\b", re.I)
_REASON = re.compile(
    r"\b(?:because|due\s+to|owing\s+to|since|as\s+a\s+result|so\s+that|in\s+order\s+to|"
    r"thanks\s+to|allows?|allowing|enables?|enabling|lets|helps?|means|leads?\s+to|"
    r"caused|causes|reason|result(?:s|ed)?\s+(?:in|from))\b",
    re.I,
)
# Words every match of _REASON holds one of (lower-cased, and none spans a space: "as a result"
# holds "result", "so that" "that"): an ASCII sentence without any gives no reason, which a few
# substring scans tell far faster than the pattern tried at every word.
_REASON_STEMS = (
    "because",
    "due",
    "owing",
    "since",
    "result",
    "that",
    "order",
    "thanks",
    "allow",
    "enabl",
    "lets",
    "help",
    "means",
    "lead",
    "caus",
    "reason",
)


class HasSentences(Protocol):
    """What reranking and the direct answer read of a passage's layout
    (`retrieval.term_offsets.Layout`)."""

    @property
    def sentences(self) -> tuple[tuple[int, int, frozenset[str]], ...]: ...

    def sentence_bounds(self) -> tuple[list[int], list[int]]: ...

    def sentences_holding(self, wanted: Iterable[str]) -> dict[int, set[str]]: ...


class Candidate(NamedTuple):
    """A passage BM25 found, with what reranking reads of it. (A named tuple: thirty are
    made for every question, and a frozen dataclass's fields cost a call each to set.)"""

    passage_id: int
    bm25: float
    text: str
    title: str
    terms: str = ""  # its stored terms (heading and text), space-separated
    # Where its terms and sentences are (`retrieval.term_offsets.Layout`), when stored; None:
    # its sentences are read from the text.
    layout: HasSentences | None = None


class Ranked(NamedTuple):
    """A candidate's place after reranking, and what decided it (a named tuple, as
    `Candidate`)."""

    passage_id: int
    score: float
    bm25: float
    coverage: float  # share of the content weight the passage (with its heading) holds
    proximity: float  # ... that its best sentence holds
    typed: bool  # a sentence nearly as good as its best holds an answer of the asked kind
    subject: float  # share of the whole question's weight its article's title holds
    strength: float  # BM25 score over the question's total weight (comparable across questions)
    counts: bool = True  # holds a word of what a "how many" question counts (or none is asked)


@dataclass(frozen=True, slots=True)
class Question:
    """A question as reranking sees it: its terms, their weights, the kind of answer."""

    text: str
    terms: tuple[str, ...]
    weights: Mapping[str, float]
    kind: str | None
    scale: float = 0.0  # the BM25 score of a passage holding each term once (0: unknown)
    cues: frozenset[str] = frozenset()  # "long" in "how long": the kind of answer, not content
    measures: tuple[str, ...] = ()  # "length" for "how tall": the unit the answer comes in
    # Words an answer uses that the question does not ("born" for "where is X from"): they
    # count for proximity and coverage at their lower weight (in `weights`).
    hints: frozenset[str] = frozenset()
    # The terms of what "how many" counts ("moon" in "how many moons"): an answer names one.
    counted: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        text: str,
        terms: Sequence[str],
        weights: Mapping[str, float],
        scale: float = 0.0,
        hints: frozenset[str] = frozenset(),
        counted: frozenset[str] = frozenset(),
    ) -> Question:
        text = unchat(text)  # "hw many" asks what "how many" asks
        cues = frozenset(
            t for m in (*_HOW.finditer(text), *_IN_UNIT.finditer(text)) for t in analyze(m.group(1))
        )
        return cls(
            text,
            tuple(dict.fromkeys(terms)),
            weights,
            question_kind(text),
            scale,
            cues,
            measure_kinds(text),
            hints,
            counted,
        )


def sentence_bounds(text: str) -> tuple[tuple[int, int], ...]:
    """(start, end) of each sentence of a passage, in order (`retrieval.sentences`, the
    splitter the summaries and the direct answer use); `sentence_terms` caches them."""
    return tuple(sentence_offsets(text))


@lru_cache(maxsize=8192)
def _terms_of_line(text: str) -> frozenset[str]:
    """The terms of a title (short, repeated across an article's passages)."""
    return frozenset(analyze(text))


def _split_subject(
    question: Question, title: str, total: float
) -> tuple[tuple[str, ...], float, bool]:
    """The question's terms that are not its subject (the article's title) nor a "how long"
    cue; the share of the question's weight the title holds; and whether the title holds all
    the question names ("what is a capybara": then every term counts as content). `total` is
    the question's whole weight (`_total_weight`), the same for every candidate."""
    subject = _terms_of_line(title)
    terms, cues, weights = question.terms, question.cues, question.weights
    # Lists, not generators (a tenth as much overhead); summed in the same order.
    content = tuple([t for t in terms if t not in subject and t not in cues])
    held = sum([weights.get(t, 0.0) for t in terms if t in subject])
    return content or question.terms, held / total, not content


def _total_weight(question: Question) -> float:
    return sum(question.weights.get(t, 0.0) for t in question.terms) or 1.0


def rerank(question: Question, candidates: Sequence[Candidate]) -> list[Ranked]:
    """Candidates in their new order, best first; passages that do not hold the name of an
    article the question names by its whole title come after those that do.

    Two passes, because reading sentences costs far more than reading stored terms: every
    candidate is scored by BM25 and coverage (from its stored terms), then the best
    SENTENCE_DEPTH of those have their sentences read for proximity and answer type.
    """
    if not candidates:
        return []
    top = max(c.bm25 for c in candidates) or 1.0
    weight = question.scale or sum(question.weights.get(t, 0.0) for t in question.terms) or 1.0
    hints = question.hints
    # Articles the question names by their whole title ("who is the mayor of Gosford"): the
    # answer is in a passage that holds their names, whatever else matches elsewhere.
    asked = set(question.terms)
    named = {t for c in candidates if (t := _terms_of_line(c.title)) and t <= asked}
    # Every term whose presence in a passage counts below: only these are looked for in its
    # stored terms (a handful of searches, not a set of its hundred terms).
    looked_for = asked | hints | question.counted
    # The candidates of an article share its title: its split is worked out once.
    spaced = [(t, f" {t} ") for t in looked_for]  # in its order, for `_held`
    whole = _total_weight(question)
    splits: dict[str, tuple[float, bool, float, set[str], set[str]]] = {}
    first = []
    for c in candidates:
        split = splits.get(c.title)
        if split is None:
            content, subject, only_subject = _split_subject(question, c.title, whole)
            total = sum(map(question.weights.get, content, repeat(0.0))) or 1.0
            wanted = set(content)
            split = splits[c.title] = (subject, only_subject, total, wanted, wanted | hints)
        # `wanted` and `sought` (with the hints) are only read.
        subject, only_subject, total, wanted, sought = split
        # The stored terms are the heading's and the text's: what the passage holds.
        held = _held(c.terms, looked_for, spaced)
        found = sought & held
        # An answer's own word ("born" for "from") stands in for a question word, at its
        # lower weight.
        coverage = min(1.0, sum(map(question.weights.get, found, repeat(0.0))) / total)
        if only_subject:
            # Its title holds all the question names ("where is Marta Quell from"): every
            # passage of the article covers it; which one answers is for the other features.
            coverage = 1.0
        score = BM25_WEIGHT * c.bm25 / top + COVERAGE_WEIGHT * coverage
        counts = not question.counted or not question.counted.isdisjoint(held)
        names = not named or all(t <= held or t <= _terms_of_line(c.title) for t in named)
        first.append((score, c, subject, total, sought, coverage, counts, names, held))
    first.sort(key=lambda item: (not item[7], -item[0]))
    gives = _kind_check(question)
    out = []
    for i, (score, c, subject, total, sought, coverage, counts, names, held) in enumerate(first):
        proximity, typed_share = 0.0, 0.0
        if i < SENTENCE_DEPTH:
            proximity, typed_share = _best_sentence(
                question, c.text, *_sentences_holding(c, sought, held), total, gives
            )
        typed = typed_share > 0.0
        # The bonus goes to the passage whose best sentence itself gives the answer.
        score += PROXIMITY_WEIGHT * proximity + (
            TYPE_WEIGHT if typed_share >= proximity > 0 else 0.0
        )
        strength = c.bm25 / weight
        out.append(
            (
                not names,
                Ranked(
                    c.passage_id,
                    score,
                    c.bm25,
                    coverage,
                    proximity,
                    typed,
                    subject,
                    strength,
                    counts,
                ),
            )
        )
    # A count or a measure must be given ("how tall"): a passage that gives none cannot
    # answer, however well it matches, so those that give one come first ...
    out.sort(key=lambda item: (item[0], -item[1].score))
    if (question.measures or question.kind in (NUMBER, DATE)) and out and not out[0][1].typed:
        # ... among those that hold as much of the question as the best.
        held = out[0][1].coverage
        out.sort(key=lambda item: (item[0], not (item[1].typed and item[1].coverage >= held)))
    return [ranked for _, ranked in out]


def _held(
    terms: str, looked_for: set[str], spaced: list[tuple[str, str]] | None = None
) -> set[str]:
    """Which of `looked_for` are among stored terms (space-separated, as the analyzer's terms
    are joined at ingest; any other spacing is split as it comes). `spaced` is each of
    `looked_for` (in its order) with a space either side, when the caller made them once for
    all its candidates."""
    if not _spaced_as_stored(terms):  # a newline or tab, say
        return looked_for & set(terms.split())
    stored = f" {terms} "
    if spaced is None:
        return {t for t in looked_for if f" {t} " in stored}
    return {t for t, padded in spaced if padded in stored}


# What str.split() splits on besides one space: two spaces, the ASCII controls it takes for
# whitespace (\t \n \r \x0b \x0c \x1c-\x1f, looked for one by one in `_spaced_as_stored`), and
# (in text that is not ASCII) any other whitespace.
_ODD_SPACE = re.compile(r"[^\S ]| {2}")


def _spaced_as_stored(terms: str) -> bool:
    """Whether `terms` holds no whitespace but single spaces. (For ASCII, which is most stored
    terms, a few scans for one character each: checking every character's class, as
    str.isprintable does, was a twentieth of an ask's work.)"""
    if terms.isascii():
        # Written out: a generator over them cost more than the scans themselves.
        return not (
            "  " in terms
            or "\t" in terms
            or "\n" in terms
            or "\r" in terms
            or "\x0b" in terms
            or "\x0c" in terms
            or "\x1c" in terms
            or "\x1d" in terms
            or "\x1e" in terms
            or "\x1f" in terms
        )
    return _ODD_SPACE.search(terms) is None


@lru_cache(maxsize=8192)
def sentence_terms(text: str) -> tuple[tuple[int, int, frozenset[str]], ...]:
    """Each sentence of a passage with its terms. Analysing sentence by sentence runs at the
    analyzer's C-level speed (about twice as fast as locating every term); cached, as popular
    passages are candidates again and again."""
    return tuple((a, b, frozenset(analyze(text[a:b]))) for a, b in sentence_bounds(text))


def _sentences_holding(
    c: Candidate, wanted: set[str], held: set[str]
) -> tuple[Callable[[], tuple[Sequence[int], Sequence[int]]], Mapping[int, set[str]]]:
    """How to get the starts and ends of a candidate's sentences (only read when a sentence
    holds a term), and which of `wanted` each holds (by its place; only those holding some):
    from its stored layout, else from its text. `held` is which of `wanted` (and more) its
    stored terms hold: a layout decoded from those terms looks for no other (nor decodes
    anything when there is none)."""
    layout = c.layout
    if layout is not None:
        if isinstance(layout, Layout) and layout.decoded_from(c.terms):
            # In `wanted`'s order, so that each sentence's set is built as before.
            present = [t for t in wanted if t in held]
            if not present:
                return _no_bounds, {}
            return layout.sentence_bounds, layout.sentences_holding(present)
        return layout.sentence_bounds, layout.sentences_holding(wanted)
    every = sentence_terms(c.text)
    inside = {i: set(terms & wanted) for i, (_, _, terms) in enumerate(every)}
    bounds = ([a for a, _, _ in every], [b for _, b, _ in every])
    return (lambda: bounds), {i: terms for i, terms in inside.items() if terms}


def _no_bounds() -> tuple[Sequence[int], Sequence[int]]:
    return [], []


def _best_sentence(
    question: Question,
    text: str,
    bounds: Callable[[], tuple[Sequence[int], Sequence[int]]],
    holding: Mapping[int, set[str]],
    total: float,
    gives: Callable[[str, int, int], bool] | None,
) -> tuple[float, float]:
    """The best sentence's share of the content weight, and the share of the best sentence
    among those holding at least TYPED_SHARE of it that gives an answer of the asked kind (0.0
    when none does; for "how tall", "how old", "how much ... cost": a number with its unit).
    Not only the best sentence: an answer often follows the sentence that names what it is
    about ("The daisy family ... . It has 23,000 species"). `gives` is `_kind_check(question)`
    (None: no sentence can give an answer of the asked kind)."""
    weights = question.weights
    shares = []
    for i in sorted(holding):
        share = sum(map(weights.get, holding[i], repeat(0.0))) / total
        shares.append((min(1.0, share), i))  # hint words never pass all of it
    if not shares:
        return 0.0, 0.0
    best = max(share for share, _ in shares)
    if gives is None:
        return best, 0.0
    shares.sort(key=lambda item: -item[0])
    starts, ends = bounds()
    last = len(starts)
    gave_none: set[int] = set()  # sentences read already (a sentence and the one after it)
    for share, i in shares:
        if share < TYPED_SHARE * best:
            break
        # The sentence itself, or the one after it: "The 430 km line would run ..." follows
        # the sentence naming the railway, "on October 22, 1936" the one naming the event.
        for j in range(i, min(i + 1 + NEXT_SENTENCES, last)):
            if j in gave_none:
                continue
            start = starts[j]
            if gives(text, start, min(ends[j], start + MAX_TYPED_CHARS)):
                return best, share
            gave_none.add(j)
    return best, 0.0


def _gives_reason(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] gives a reason (`_REASON`), looked for only when it holds one
    of `_REASON_STEMS`. (Only in ASCII: case-insensitive matching of other text has its own
    rules, so it is left to the pattern.)"""
    region = text[start:end]
    if region.isascii():
        lowered = region.lower()
        for stem in _REASON_STEMS:
            if stem in lowered:
                break
        else:
            return False
    return _REASON.search(text, start, end) is not None


def _kind_check(question: Question) -> Callable[[str, int, int], bool] | None:
    """Whether text[start:end] (a sentence) holds an answer of the kind the question asks, as a
    function of (text, start, end) worked out once per question; None when no sentence can
    (a question of no particular kind that does not ask "why")."""
    if question.kind is None:
        if not _WHY.match(question.text):
            return None
        # "why" wants a reason: a sentence that gives one says "because", "due to", "allows"...
        return _gives_reason
    measures = question.measures
    if measures:  # "how tall" wants a length, not any number
        return lambda text, start, end: has_measure(text[start:end], measures)
    kind, asked = question.kind, question.text.casefold()
    return lambda text, start, end: any(
        text[a + start : b + start].casefold() not in asked
        for a, b in answer_spans(text[start:end], kind)
    )
