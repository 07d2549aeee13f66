"""Extractive summaries: 2-4 of an article's own sentences, in document order, that stand on
their own.

A person summarising an article uses its words, roughly in proportion: the subject's name, the
words it repeats, the amounts it reports. So the summary is chosen to share as many words as it
can with that expected summary (ROUGE-1 F1 against a pseudo-reference made of the article's own
word counts, as KL-Sum does with distributions), greedily, one sentence at a time. A word's
overlap is clipped at its expected count, so a second sentence about the same thing gains
little; title words count more and stop words less.

A summary is read without the article, so a sentence that points back ("This shift...", "He
was born...", "...impacted this movement") is only taken together with the sentence just
before it; when that one is no candidate (a heading, a list, a fragment), the pointing
sentence is left out. A sentence that says what the subject is ("DeepSeek, a Chinese AI
company, is...") or reports an amount counts more; one that lists dates and figures, less.

Measured against TextRank, LexRank and lead-3 on Wikipedia articles in `bench/summaries.py`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, islice

from retrieval.analyzer import analyze, stem
from retrieval.cleaning import Article, is_faq_heading
from retrieval.sentences import iter_sentences, sentences_of
from retrieval.stopwords import STOP_WORDS

MIN_SENTENCE_WORDS = 8
MAX_SENTENCE_WORDS = 45
# The summary is chosen for the words a reader's own summary would use: the article's words in
# proportion, this many of them (about what a person writes for 2-4 sentences).
REFERENCE_WORDS = 130
TITLE_WEIGHT = 2.0  # a title word counts as this many of its occurrences
STOP_WORD_WEIGHT = 0.5  # "the", "of": in every summary, they tell little
DEFINITION_BONUS = 0.5  # a sentence saying what the subject is counts (1 + this)x
AMOUNT_BONUS = 1.0  # a sentence with an amount ($5.6 million, 40%) counts (1 + this)x ...
MAX_FIGURES = 3  # ... unless it lists more figures than this: a list reads as a table,
FIGURE_LIST_FACTOR = 0.5  # and counts this much
# A summary shorter than this takes one sentence more than its length allows, up to the most
# (not a short note's: two sentences of it are most of it).
MIN_SUMMARY_WORDS = 100
MAX_SUMMARY_SENTENCES = 4
# A sentence that points back comes with the ones before it, at most this many in all.
MAX_CHAIN = 2
# Candidates read from the start of the article: a long feature has a few hundred, and a
# 2-million-character upload must not cost analysing every one of its sentences.
MAX_CANDIDATES = 1000
MAX_SENTENCES_READ = 20_000  # ... among the first sentences: a long book has 100,000
# Without one acceptable sentence, the first two sentences are the summary, up to this much.
MAX_FALLBACK_WORDS = 200
MAX_FALLBACK_CHARS = 1500
_CALLOUTS = ("key takeaway:", "note:", "reminder:", "tip:", "update:", "editor's note:")

# Words that open a sentence by pointing at something said before it.
_POINTING = frozenset(
    """
    this these that those it its they their theirs them he she his her hers him such
    also however moreover furthermore additionally therefore thus hence consequently
    meanwhile nevertheless nonetheless instead similarly likewise besides another both then
    later but and yet so still again otherwise accordingly subsequently afterwards indeed
    here
    """.split()
)
_POINTING_PHRASES = (
    "the latter",
    "the former",
    "the same",
    "in addition",
    "as a result",
    "for example",
    "for instance",
    "in contrast",
    "by contrast",
    "in fact",
    "on the other hand",
    "other ",
)
_FIRST_WORD = re.compile(r"\w+")  # "He's" opens with "he"
_WORD = re.compile(r"[^\W_]+")
_AMOUNT = re.compile(
    r"[$€£¥]\s?\d|\d\s?(?:%|percent\b|million\b|billion\b|trillion\b)", re.IGNORECASE
)
# In a plain sentence (see `_plain`) an amount has one of these.
_AMOUNT_WORDS = ("$", "%", "percent", "illion")
_FIGURE = re.compile(r"\d[\d,.]*")
# "... impacted this movement": a demonstrative noun phrase anywhere ("to this day" is none).
# The word starts the pattern ("th" where no letter goes before it: a word boundary there), so
# the search looks for "th" rather than trying every position of the sentence.
_DEMONSTRATIVE = re.compile(r"th(?<!\wth)(?:is|ese)\s+(?!day\b)[^\W\d_]", re.IGNORECASE)
# "In 1990, he moved ...": a pronoun right after a short opening phrase.
_PRONOUN_AFTER_PHRASE = re.compile(
    r"^[^,]{1,60},\s+(?:he|she|it|they|his|her|its|their)\b", re.IGNORECASE
)
# "X is a ...", "X, a Chinese AI company, ...", "X refers to ...": what the subject is.
_DEFINING = re.compile(
    r"^(?P<subject>[^,]{1,80}?)(?:\s(?:is|was|are|were)\s(?:a|an|the|one)\s"
    r"|\s(?:refers to|is known as|was known as)\s"
    r"|,\s(?:a|an)\s[^,]{3,80},)",
    re.IGNORECASE,
)
# _DEFINING's parts, as they read in a plain sentence (see `_plain_subject_end`).
_MAX_SUBJECT_CHARS = 80
_MAX_APPOSITIVE_CHARS = 80
_PLAIN_DEFINING = re.compile(
    r" (?:(?:is|was|are|were) (?:a|an|the|one)|refers to|(?:i|wa)s known as) "
)
_LONGEST_DEFINING = len(" was known as ")
_APPOSITIVES = (", a ", ", an ")


def _plain(sentence: str) -> str | None:
    """The sentence in lower case when it is printable ASCII (most are), else None.

    In such a sentence a case-insensitive pattern's letters match only their two ASCII cases
    and its whitespace only the space, so a word the pattern needs ("this ", "million") can be
    looked for in the lower-cased text first, much quicker than the pattern is tried at every
    position; the pattern runs only where the word is."""
    return sentence.lower() if sentence.isascii() and sentence.isprintable() else None


def points_back(sentence: str, plain: str | None = None) -> bool:
    """Does the sentence open by pointing at something said before it (This, He, However,
    "In 1990, she"), or name "this X" anywhere? (`plain`: `_plain(sentence)`, when known.)"""
    head = sentence[:80].casefold()
    first = _FIRST_WORD.search(head)
    if first is None:
        return False
    if first.group() in _POINTING or head[first.start() :].startswith(_POINTING_PHRASES):
        return True
    if plain is None:
        plain = _plain(sentence)
    if (plain is None or "this " in plain or "these " in plain) and _DEMONSTRATIVE.search(sentence):
        return True
    return _PRONOUN_AFTER_PHRASE.match(sentence) is not None


def defines_subject(sentence: str, title_terms: set[str], plain: str | None = None) -> bool:
    """Does the sentence say what the title's subject is ("DeepSeek, a Chinese AI company,
    is...", "The Acropolis is an ancient citadel")? (`plain`: `_plain(sentence)`, when known.)"""
    if plain is None:
        plain = _plain(sentence)
    if plain is not None:
        end = _plain_subject_end(plain)
        return end > 0 and not title_terms.isdisjoint(analyze(sentence[:end]))
    m = _DEFINING.match(sentence)
    return m is not None and not title_terms.isdisjoint(analyze(m.group("subject")))


def _plain_subject_end(plain: str) -> int:
    """Where `_DEFINING`'s subject ends in a plain sentence (`_plain`), 0 without a match: the
    first place, after 1-80 characters without a comma, where one of its phrases follows (the
    pattern's lazy subject stops at the first). A search for the phrases, which starts only
    at spaces, instead of the pattern's tries of its three branches at each of those places."""
    comma = plain.find(",")
    last = _MAX_SUBJECT_CHARS if comma < 0 else min(comma, _MAX_SUBJECT_CHARS)
    m = _PLAIN_DEFINING.search(plain, 1, last + _LONGEST_DEFINING)
    if m is not None and m.start() <= last:
        return m.start()
    if 0 < comma <= _MAX_SUBJECT_CHARS and plain.startswith(_APPOSITIVES, comma):
        rest = plain.find(" ", comma + 2) + 1  # after ", a " or ", an "
        if 3 <= plain.find(",", rest) - rest <= _MAX_APPOSITIVE_CHARS:
            return comma
    return 0


def summary_length(word_count: int) -> int:
    """How many sentences: 2 for a short note, up to 4 for a long feature."""
    if word_count < 250:
        return 2
    if word_count < 1200:
        return 3
    return 4


def _candidates(article: Article) -> tuple[list[str], list[bool]]:
    """Body sentences a reader would accept in a summary (no headings, FAQ, callouts), the
    first MAX_CANDIDATES of them; and for each, whether the sentence just before it in the
    article is the candidate before it. Two plain lists: a candidate is read a dozen times."""
    texts: list[str] = []
    follows: list[bool] = []
    read = 0
    after = False  # was the sentence read last a candidate?
    for block in article.blocks:
        if block.kind == "heading" and is_faq_heading(block.text):
            break
        # (the start of the text folded: folding goes character by character)
        if block.kind != "paragraph" or block.text[:32].casefold().startswith(_CALLOUTS):
            after = False
            continue
        split = article.split.get(block.text)  # split already, by the passage splitter
        for sentence in sentences_of(block.text) if split is None else split:
            read += 1
            if read > MAX_SENTENCES_READ:
                return texts, follows
            n = sentence.count(" ") + 1  # its words: a sentence comes with single spaces
            if MIN_SENTENCE_WORDS <= n <= MAX_SENTENCE_WORDS and not sentence.endswith("?"):
                texts.append(sentence)
                follows.append(after)
                if len(texts) == MAX_CANDIDATES:
                    return texts, follows
                after = True
            else:
                after = False
    return texts, follows


def _units(
    texts: list[str], follows: list[bool], plains: list[str | None]
) -> list[tuple[int, ...]]:
    """For each candidate, the sentences it needs to be read: itself, and the ones before it
    while it points back (at most MAX_CHAIN in all). Empty when it points back at a sentence
    that cannot be taken."""
    units: list[tuple[int, ...]] = []
    for i, text in enumerate(texts):
        if not points_back(text, plains[i]):
            units.append((i,))
        elif follows[i] and units[i - 1] and len(units[i - 1]) < MAX_CHAIN:
            units.append((*units[i - 1], i))
        else:
            units.append(())
    return units


def _sentences(article: Article, *, headings: bool = True) -> Iterator[str]:
    """The article's sentences in order, split only as far as the caller reads."""
    for block in article.blocks:
        if headings or block.kind != "heading":
            yield from iter_sentences(block.text)


def _fallback(article: Article) -> str:
    """The first two sentences, clipped. Only the start of each block is split: what lies
    past MAX_FALLBACK_CHARS (and a margin for the boundary) is clipped away in any case."""
    head = MAX_FALLBACK_CHARS + 100
    sentences = (s for b in article.blocks for s in iter_sentences(b.text[:head]))
    return _clip(" ".join(islice(sentences, 2)))


def _clip(text: str) -> str:
    """At most MAX_FALLBACK_WORDS words and MAX_FALLBACK_CHARS characters, cut with an
    ellipsis: the fallback takes whole sentences, and text without punctuation is one."""
    head = text[: MAX_FALLBACK_CHARS + 1]  # the rest is never split into words
    words = head.split()
    if len(text) <= MAX_FALLBACK_CHARS and len(words) <= MAX_FALLBACK_WORDS:
        return text
    if len(head) > MAX_FALLBACK_CHARS and not head[-1].isspace():
        words.pop()  # it goes past the limit
    if not words:  # one word longer than the limit
        return head[:MAX_FALLBACK_CHARS] + "…"
    return " ".join(words[:MAX_FALLBACK_WORDS]) + "…"


def _words(text: str) -> list[str]:
    """A reader's words: lower case, stemmed, stop words kept (they are most of any text).

    An ASCII sentence (most of them) is cut by bytes.translate and str.split, several times
    quicker than the pattern and with the same words: its word characters are the letters and
    digits, which the table keeps (lower-cased), and everything else becomes a space. (The
    table of str.translate is a dict looked up a character at a time; a bytes table is an
    array.)"""
    if text.isascii():
        plain = text.encode("ascii").translate(_ASCII_WORDS).decode("ascii")
        return list(map(_STEMS.__getitem__, plain.split()))
    return list(map(_STEMS.__getitem__, _WORD.findall(text.casefold())))


# ASCII letters and digits as `_WORD` finds them in folded text; anything else separates.
_ASCII_WORDS = bytes(
    ord(chr(c).lower()) if chr(c).isalnum() else ord(" ") for c in range(128)
) + bytes(range(128, 256))
MAX_STEMS = 50_000


class _Stems(dict[str, str]):
    """Each word met so far with its stem (`_stem`): a dict whose misses stem, so a known word
    costs map() one C-level lookup. Emptied when full: a text of random words keeps no more
    than MAX_STEMS of them."""

    def __missing__(self, word: str) -> str:
        if len(self) >= MAX_STEMS:
            self.clear()
        stemmed = self[word] = _stem(word)
        return stemmed


def _stem(word: str) -> str:
    return word if len(word) <= 3 or len(word) > 40 else stem(word)


_STEMS = _Stems()
# The stop words as a set: `set & dict.keys()` looks up the article's words among them, where a
# frozenset's intersection with the keys looks up every stop word in the article.
_STOP_WORDS = set(STOP_WORDS)


def _expected(words: list[list[str]], title: set[str]) -> dict[str, float]:
    """How often each word would occur in a reader's summary of REFERENCE_WORDS words: its
    share of the article (`words`: each sentence's words), title words up and stop words
    down."""
    weights: dict[str, float] = Counter(chain.from_iterable(words))
    for word in title & weights.keys():
        weights[word] *= TITLE_WEIGHT
    for word in (_STOP_WORDS & weights.keys()) - title:
        weights[word] *= STOP_WORD_WEIGHT
    total = sum(weights.values())
    return {w: REFERENCE_WORDS * v / total for w, v in weights.items()}


def _prior(sentence: str, title_terms: set[str], plain: str | None) -> float:
    """What the words alone miss: a sentence that says what the subject is, or that gives an
    amount, is what a reader wants; a run of figures is not. (`plain`: `_plain(sentence)`.)"""
    factor = 1.0
    if title_terms and defines_subject(sentence, title_terms, plain):
        factor *= 1.0 + DEFINITION_BONUS
    figures = len(_FIGURE.findall(sentence))
    if not figures:  # no amount either (each has a digit)
        return factor
    if figures > MAX_FIGURES:
        factor *= FIGURE_LIST_FACTOR
    elif (plain is None or any(word in plain for word in _AMOUNT_WORDS)) and _AMOUNT.search(
        sentence
    ):
        factor *= 1.0 + AMOUNT_BONUS
    return factor


def _alone(n: int, e: float) -> float:
    """min(0 + n, e) - min(0, e): a word's overlap when the summary lacks it (e > 0)."""
    return e if e < n else n


@dataclass(slots=True)
class _Option:
    """A unit the summary could take next: its words with their counts and expected counts
    (in the order the words first occur), the words it adds, and its prior.

    Built once per unit and kept while none of its sentences is chosen; the greedy loop then
    only asks it for its clipped overlap with what the summary has (`overlap`)."""

    words: list[tuple[str, int, float, float]]  # word, count, expected, overlap alone
    alone: float  # the overlap with an empty summary
    size: int
    weight: float

    @classmethod
    def of(
        cls,
        new: tuple[int, ...],
        words: list[list[tuple[str, int, float, float]]],
        lengths: list[int],
        prior: list[float],
    ) -> _Option:
        """The option of taking sentences `new` together; `words` holds each sentence's
        (word, count, expected, overlap alone)."""
        if len(new) == 1:
            (i,) = new
            merged = words[i]
            return cls(merged, sum([alone for _, _, _, alone in merged]), lengths[i], prior[i])
        added: dict[str, tuple[int, float]] = {}
        for i in new:
            for w, n, e, _ in words[i]:
                had = added.get(w)
                added[w] = (n if had is None else had[0] + n, e)
        merged = [(w, n, e, _alone(n, e)) for w, (n, e) in added.items()]
        return cls(
            merged,
            sum([alone for _, _, _, alone in merged]),
            sum(lengths[i] for i in new),
            max(prior[i] for i in new),
        )

    def overlap(self, have: dict[str, int]) -> float:
        """How much the unit adds to the summary's overlap with the expected one: each word's
        min(have + n, expected) - min(have, expected), summed in the words' order."""
        if not have:
            return self.alone
        get = have.get
        return sum(
            [
                alone
                if (h := get(w)) is None
                else (e if e < (t := h + n) else t) - (e if e < h else h)
                for w, n, e, alone in self.words
            ]
        )


def summarize(article: Article) -> str:
    """The summary of a cleaned article; empty only when the article has no usable sentence.

    Greedy, one unit (a sentence, or a pointing sentence with the ones it needs) at a time:
    the unit that most raises the summary's word overlap F1 with the expected reader's
    summary (`_expected`), per sentence it adds, weighed by `_prior`. Overlap is clipped at
    each word's expected count, so a second sentence saying the same thing gains little.
    """
    sentences, follows = _candidates(article)
    plains = list(map(_plain, sentences))
    units = _units(sentences, follows, plains)
    usable = sum(1 for u in units if u)
    if not usable:
        return _fallback(article)
    want = min(summary_length(len(article.words())), usable)
    most = min(want + 1, MAX_SUMMARY_SENTENCES, usable) if want > 2 else want
    said = [_words(s) for s in sentences]
    counts = [Counter(w) for w in said]
    lengths = list(map(len, said))
    title = set() if article.title_derived else set(_words(article.title))
    title_terms = set() if article.title_derived else set(analyze(article.title))
    expected = _expected(said, title)
    # A sentence whose own unit is empty is in no unit (a chain grows from a usable one):
    # its words count in the expected summary, but it is never weighed.
    prior = [
        _prior(s, title_terms, p) if u else 1.0
        for s, p, u in zip(sentences, plains, units, strict=True)
    ]
    get = expected.__getitem__
    words = [
        [(w, n, e, e if e < n else n) for w, n, e in zip(c, c.values(), map(get, c), strict=True)]
        if u
        else []
        for c, u in zip(counts, units, strict=True)
    ]
    options: dict[tuple[int, ...], _Option] = {}
    chosen: set[int] = set()
    have: dict[str, int] = {}
    overlap, length = 0.0, 0
    while len(chosen) < want or (length < MIN_SUMMARY_WORDS and len(chosen) < most):
        best: tuple[int, ...] = ()
        best_gain, best_overlap = -math.inf, 0.0
        before = 2 * overlap / (length + REFERENCE_WORDS)
        room = (want if len(chosen) < want else most) - len(chosen)
        for unit in units:
            new = unit if chosen.isdisjoint(unit) else tuple(i for i in unit if i not in chosen)
            if not new or len(new) > room:
                continue
            option = options.get(new)
            if option is None:
                option = options[new] = _Option.of(new, words, lengths, prior)
            size = length + option.size
            weight = option.weight
            more = option.alone
            if have:
                # The unit's overlap alone bounds what it adds now (each word's clipped
                # overlap only shrinks as the summary has more of it, and every step below
                # rounds monotonically): a unit whose bound cannot beat the best is passed over
                # before its words are read. The same gains, computed the same way.
                bound = (2 * (overlap + more) / (size + REFERENCE_WORDS) - before) / len(new)
                if (bound * weight if bound > 0 else bound / weight) <= best_gain:
                    continue
                more = option.overlap(have)
            gain = (2 * (overlap + more) / (size + REFERENCE_WORDS) - before) / len(new)
            gain = gain * weight if gain > 0 else gain / weight
            if gain > best_gain:
                best, best_gain, best_overlap = new, gain, overlap + more
        if not best:
            break
        chosen.update(best)
        overlap = best_overlap
        for i in best:
            for w, n in counts[i].items():
                have[w] = have.get(w, 0) + n
            length += lengths[i]
    return " ".join(sentences[i] for i in sorted(chosen))


def lead_sentences(article: Article, n: int = 3) -> str:
    """The lead-n baseline: the first n sentences of the body."""
    return " ".join(islice(_sentences(article, headings=False), n))
