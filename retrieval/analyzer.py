"""The text analyzer shared by passages and queries.

BM25 only works when a passage and a question are turned into terms the same way, so every path
into the index (ingest, query, highlighting, summaries) goes through `analyze` / `analyze_spans`.

Design choices, each driven by what people ask about in AI news:
- NFKC normalisation and case folding, curly quotes mapped to straight ones ("DeepSeek’s").
- Tokens that carry a digit are kept whole (`gpt-4o`, `h800`, `$5.6`, `r1`, `3.5`) and *also*
  contribute their parts, so "GPT 4o" still meets "GPT-4o". Plain hyphenated words
  ("open-source") are split, so "open source" and "open-source" index alike.
- A trailing plural "s" on a model name is dropped (`H800s` -> `h800`).
- English stop words removed, Snowball (PyStemmer) stemming on alphabetic tokens only.
- Both sides are folded the same way before stemming, so spelling differences a stemmer leaves
  apart still meet: accents dropped ("Sèvres" and "sevres"), HTML entities decoded ("AT&amp;T"),
  British spellings mapped to American ones ("harbour" to "harbor", "organised" to "organized")
  with breame's list of 1,730 pairs (a curated list beats rules such as -our to -or, which would
  turn "four" into "for"); a demonym is its country ("French" is "France"), "America" is
  "US", and a few clipped words are the word they clip ("math", "stats", "tech").

`ANALYZER_VERSION` names this behaviour: the database stores each passage's terms, and a
database analysed by another version is re-analysed when it is opened.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterator
from functools import lru_cache
from itertools import accumulate, chain
from typing import NamedTuple, TypeVar

import Stemmer
from breame.data.spelling_constants import BRITISH_ENGLISH_SPELLINGS

from retrieval.stopwords import STOP_WORDS

# Bumped whenever a text gives other terms than before (stored terms are then re-analysed).
ANALYZER_VERSION = 6

_QUOTES = {"’": "'", "‘": "'", "‛": "'", "′": "'", "“": '"', "”": '"'}

# One raw token: money or a number ($5.6, 1,000, 60%), or a word that may carry inner hyphens,
# dots, apostrophes or ampersands between alphanumerics (GPT-4o, U.S., DeepSeek's, 3.5, AT&T).
# Every quantifier is possessive (*+, ++, ?+, {1,3}+): giving characters back never leads to
# another match here (what follows each run cannot be what it gave back: a digit before ",",
# a word character before a mark or the end), so the tokens are those of the plain pattern,
# `\$?\d{1,3}(?:,\d{3})+(?:\.\d+)?|\$\d+(?:\.\d+)*|\w+(?:[-.'/&]\w+)*`, found without the
# bookkeeping for giving back (a tenth of the cost of splitting a passage).
_TOKEN = re.compile(
    r"\$?+\d{1,3}+(?:,\d{3})++(?:\.\d++)?+"
    r"|\$\d++(?:\.\d++)*+"
    r"|\w++(?:[-.'/&]\w++)*+",
)
_TOKEN_SPLIT = re.compile(f"({_TOKEN.pattern})")  # the same tokens, kept by re.split
_COUNTRY_US = frozenset({"US", "U.S", "USA", "U.S.A"})
# A demonym is searched as its country ("French startup" meets "France's Mistral"), and the
# United States under one term however it is written ("America", "American", "U.S.").
_DEMONYMS = {
    "america": "us",
    "american": "us",
    "americans": "us",
    **{
        word: country
        for country, words in {
            "australia": "australian australians",
            "britain": "british briton britons",
            "canada": "canadian canadians",
            "china": "chinese",
            "egypt": "egyptian egyptians",
            "europe": "european europeans",
            "france": "french",
            "germany": "german germans",
            "greece": "greek greeks",
            "india": "indian indians",
            "iran": "iranian iranians",
            "israel": "israeli israelis",
            "italy": "italian italians",
            "japan": "japanese",
            "korea": "korean koreans",
            "mexico": "mexican mexicans",
            "netherlands": "dutch",
            "russia": "russian russians",
            "spain": "spanish",
            "sweden": "swedish swede swedes",
            "switzerland": "swiss",
            "taiwan": "taiwanese",
            "turkey": "turkish turk turks",
        }.items()
        for word in words.split()
    },
}
_HAS_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
_MODEL_PLURAL = re.compile(r"^([a-z]+\d+)s$")  # h800s -> h800, a100s -> a100
_PARTS = re.compile(r"[-./]")
_DOT_OR_SLASH = re.compile(r"[./]")
_VERSION = re.compile(r"^v\d+(?:\.\d+)*$")

# No cache of its own (PyStemmer keeps 10,000 words by default, whatever their length):
# `stem` caches the short words, and a giant "word" is stemmed and forgotten.
_stemmer = Stemmer.Stemmer("english", 0)

# Snowball leaves irregular verb forms alone ("spent" never meets "spend"); questions and articles
# often differ in tense, so the common irregular forms are mapped to their base form first.
_IRREGULAR = {
    form: base
    for base, forms in {
        "begin": "began begun",
        "bring": "brought",
        "build": "built",
        "buy": "bought",
        "catch": "caught",
        "choose": "chose chosen",
        "come": "came",
        "cut": "cut",
        "deal": "dealt",
        "drive": "drove driven",
        "fall": "fell fallen",
        "feel": "felt",
        "fight": "fought",
        "find": "found",
        "fly": "flew flown",
        "forget": "forgot forgotten",
        "give": "gave given",
        "go": "went gone",
        "grow": "grew grown",
        "hold": "held",
        "keep": "kept",
        "lead": "led",
        "leave": "left",
        "lend": "lent",
        "lose": "lost",
        "mean": "meant",
        "meet": "met",
        "pay": "paid",
        "rise": "rose risen",
        "run": "ran",
        "see": "saw seen",
        "seek": "sought",
        "sell": "sold",
        "send": "sent",
        "set": "set",
        "shake": "shook shaken",
        "show": "shown",
        "shut": "shut",
        "sink": "sank sunk",
        "speak": "spoke spoken",
        "spend": "spent",
        "stand": "stood",
        "steal": "stole stolen",
        "strike": "struck",
        "take": "took taken",
        "teach": "taught",
        "think": "thought",
        "throw": "threw thrown",
        "understand": "understood",
        "win": "won",
        "write": "wrote written",
    }.items()
    for form in forms.split()
}


# Clipped words people type for the word articles print.
_CLIPPED = {
    "math": "mathematics",
    "maths": "mathematics",
    "stats": "statistics",
    "info": "information",
    "govt": "government",
    "tech": "technology",
    "dev": "developer",
    "devs": "developers",
    "gov": "government",
    "ppl": "people",
    "bc": "because",
    "b/c": "because",
    "govts": "governments",
    "pic": "picture",
    "pics": "pictures",
}


def normalize(text: str) -> str:
    """Unicode-normalise text the way the index sees it (without case folding).

    The quotes are replaced one by one, and only those present: str.translate looks every
    character up in a table once the text is not pure ASCII (a third of a second per
    million characters), where a search for a character that is absent costs almost nothing.
    """
    if "&" in text and ";" in text:
        text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text)
    for curly, straight in _QUOTES.items():
        if curly in text:
            text = text.replace(curly, straight)
    return text


# Tokens and words longer than this are analysed without caching: real words are shorter, and
# a cache of 65,536 entries must not keep someone's two-million-character "word" alive.
MAX_CACHED_CHARS = 64


MAX_CACHED = 65_536  # entries of each cache below
_T = TypeVar("_T")


class _Memo(dict[str, _T]):
    """A function's results by argument: a dict whose misses compute, so a hit is one C-level
    lookup (`map(memo.__getitem__, ...)` runs without a Python frame; an lru_cache hit also
    reorders its list). Emptied when full, rather than least-recently-used: text repeats its
    words within an article, and refilling costs a miss each."""

    __slots__ = ("_compute",)

    def __init__(self, compute: Callable[[str], _T]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, key: str) -> _T:
        if len(self) >= MAX_CACHED:
            self.clear()
        value = self[key] = self._compute(key)
        return value


def stem(word: str) -> str:
    """Snowball's English stem of a word, cached for words of real length. The summarizer
    stems with it too: one cache for both, so a word the passages have stemmed already costs
    the summary a lookup."""
    return _STEMMED[word] if len(word) <= MAX_CACHED_CHARS else _stemmer.stemWord(word)


_STEMMED: _Memo[str] = _Memo(_stemmer.stemWord)


class Span(NamedTuple):
    """A term and where its raw token sits in the analysed text (for highlighting and for the
    rerank's sentence proximity). A named tuple: a passage makes a hundred of them, and a tuple
    is made several times faster than a frozen dataclass."""

    term: str
    start: int
    end: int


def _terms_of(token: str) -> tuple[str, ...]:
    """The index terms for one raw token; may be empty (stop word). Cached: text repeats its
    words, and looking one up costs a fraction of analysing it again."""
    return _TERMS[token] if len(token) <= MAX_CACHED_CHARS else _token_terms(token)


def _token_terms(token: str) -> tuple[str, ...]:
    """The index terms for one raw token.

    Case is looked at once, before folding: "US" is the country, "us" a stop word.
    """
    if token in _COUNTRY_US:
        return ("us",)
    raw = token.casefold()
    if not raw.isascii():
        raw = fold_accents(raw)
    if raw.endswith("'s"):
        raw = raw[:-2]
    raw = raw.strip("'")
    if not raw:
        return ()
    if raw.isalpha():  # most tokens: one word of letters, without digits or parts to split
        term = _letter_terms(raw)
        return (term,) if term else ()
    if _HAS_DIGIT.search(raw):
        whole = raw.rstrip(".").replace(",", "")
        m = _MODEL_PLURAL.match(whole)
        if m:
            whole = m.group(1)
        terms = [whole]
        if whole.startswith("$"):
            terms.append(whole[1:])
        elif _VERSION.match(whole):  # "V3" is also "version 3"
            terms += ["version", whole[1:]]
        elif _PARTS.search(whole) and _LETTER.search(whole):
            terms.extend(_word_terms(p) for p in _PARTS.split(whole) if p)
            if "-" in whole and not _DOT_OR_SLASH.search(whole):
                terms.append(whole.replace("-", ""))  # "GPT-4" is also "gpt4", as typed
            terms = [t for t in terms if t]
        return tuple(terms)
    terms = []
    for part in _PARTS.split(raw) if _PARTS.search(raw) else (raw,):
        t = _word_terms(part)
        if t:
            terms.append(t)
    return tuple(terms)


_TERMS: _Memo[tuple[str, ...]] = _Memo(_token_terms)  # token -> its terms (`_terms_of`)


def _word_terms(word: str) -> str:
    """Stem an alphabetic word, or return "" for stop words and one-letter words."""
    word = word.strip("'_")
    if _HAS_DIGIT.search(word):
        return word
    return _letter_terms(word)


def _letter_terms(word: str) -> str:
    """`_word_terms` of a word without digits."""
    if len(word) < 2 or word in STOP_WORDS:
        return ""
    word = _CLIPPED.get(word) or _AMERICAN.get(word, word)
    country = _DEMONYMS.get(word)
    if country is not None:
        return country if country == "us" else stem(country)
    return stem(_IRREGULAR.get(word, word))


def is_rewritten(word: str) -> bool:
    """Whether the analyzer reads `word` as another word on purpose (a clipped word, a
    British spelling, a demonym, an irregular form): a word it knows, never a typo."""
    word = word.casefold()
    return any(word in table for table in (_CLIPPED, _AMERICAN, _DEMONYMS, _IRREGULAR))


# British spelling -> American (only single words of letters: the list has a few phrases).
_AMERICAN = {
    british: american
    for british, american in BRITISH_ENGLISH_SPELLINGS.items()
    if british.isalpha() and american.isalpha()
}


def fold_accents(text: str) -> str:
    """Text without combining marks ("Sèvres" -> "Sevres", "Topkapı" keeps its dotless i):
    people type names without their accents, and articles keep them."""
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize(
        "NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    )


def _raw_tokens(text: str) -> Iterator[re.Match[str]]:
    return _TOKEN.finditer(text)


def analyze(text: str) -> list[str]:
    """Terms of `text`, in order, as the index and the query both see them.

    The tokens are looked up by C-level iteration (map, chain): a text of a million
    one-letter tokens costs a million cache hits, not a million turns of a Python loop.
    """
    tokens = _TOKEN.findall(normalize(text))
    if tokens and max(map(len, tokens)) > MAX_CACHED_CHARS:
        return list(chain.from_iterable(map(_terms_of, tokens)))
    return list(chain.from_iterable(map(_TERMS.__getitem__, tokens)))


def token_terms(text: str) -> tuple[list[tuple[str, ...]], list[int], list[int]]:
    """For each raw token of `text` (normalised already: offsets index it as given), its terms
    (`analyze` gives them all in order) and where it starts and ends. What `analyze_spans`
    finds, as three lists made by C-level iteration, for ingest to store every passage's
    layout (`retrieval.term_offsets`) at a fraction of a Python loop's cost."""
    # Split around the tokens (the gaps and tokens alternate: gap, token, gap, ..., gap), so
    # the tokens' bounds are the running sums of the parts' lengths: no match object a token.
    parts = _TOKEN_SPLIT.split(text)
    tokens = parts[1::2]
    bounds = list(accumulate(map(len, parts)))
    if tokens and max(map(len, tokens)) > MAX_CACHED_CHARS:
        terms = list(map(_terms_of, tokens))
    else:
        terms = list(map(_TERMS.__getitem__, tokens))
    return terms, bounds[0:-1:2], bounds[1::2]


def analyze_spans(text: str) -> tuple[Span, ...]:
    """Terms with the offsets of their raw tokens, so a surface can bold the words that matched.

    Offsets index the normalised text; stored passages are normalised at ingest, so for them the
    offsets index the passage text itself. Cached: popular passages are shown again and again,
    and analysing one costs more than searching the whole index.
    """
    return _spans(text)


@lru_cache(maxsize=8192)
def _spans(text: str) -> tuple[Span, ...]:
    spans: list[Span] = []
    add = spans.append
    for m in _raw_tokens(normalize(text)):
        terms = _terms_of(m.group())
        if terms:
            start, end = m.span()
            for term in terms:
                add(Span(term, start, end))
    return tuple(spans)
