"""Quicker ingest, same results: the shortcuts taken while reading an article give what the
patterns and loops they stand in for give (issue 10, point 5: a folder of 22k articles read at
a few times bm25s's indexing time, with the stored summaries, passages and terms unchanged)."""

import random

import pytest

from retrieval import summarize as s
from retrieval.analyzer import _TOKEN, analyze_spans, normalize, token_terms
from retrieval.documents import index_terms, terms_and_layout
from retrieval.errors import BadSource
from retrieval.extract import decode_any
from retrieval.term_offsets import stored_form

# Sentences of the kinds the summarizer's shortcuts must read as its patterns do: defining
# ones, appositives, amounts, demonstratives, and the near misses of each.
SENTENCES = [
    "The Acropolis is an ancient citadel above the city of Athens.",
    "DeepSeek, a Chinese AI company, is known for its open models.",
    "DeepSeek, an AI lab, builds models.",
    "DeepSeek, a lab,builds models.",
    "Velmora was one of the first towns on the coast to build a harbour.",
    "The term refers to a group of islands in the north.",
    "The term REFERS TO a group of islands in the north.",
    "The town Is A fishing port.",
    "The town\tis a fishing port.",
    "The town is\u00a0a fishing port.",
    "Café Müller is a restaurant in the old part of Cologne.",
    "In 1990, he moved to Lisbon, where he worked as a teacher.",
    "A very long subject that goes on and on without any comma at all until far past the "
    "eighty characters is a thing.",
    "Exactly eighty characters of subject, then..." + "x" * 40 + " is a test.",
    "It raised $5.6 million in 2021, up 40% from the year before.",
    "Sales grew 12 percent in 1999.",
    "The harbour landed 4,200 tonnes in 1911, 9,800 in 1952 and 12,450 in 1987.",
    "The price was 5\u00a0million euros.",
    "The museum has kept this collection since 1900.",
    "To this day the museum is open on Sundays.",
    "These buildings were restored in 1980.",
    "Athens is the capital, a city of four million people, and a port.",
    "X, a b,c",
    ", a leading comma is a thing.",
]


def _words(rng: random.Random) -> str:
    parts = ["is", "was", "are", "were", "a", "an", "the", "one", "refers to", "is known as"]
    parts += ["was known as", ",", "X", "Is", "A", "foo", "bar,", "x" * 30, "y" * 75, ", a"]
    parts += ["this", "these", "day", "$5", "7%", "3 million", "percent", "1,200.5", "\t"]
    return "".join(rng.choice(parts) + rng.choice(["", " ", " ", ","]) for _ in range(20))


CASES = SENTENCES + [_words(random.Random(seed)) for seed in range(3000)]


def _subject_end_by_pattern(sentence: str) -> int:
    m = s._DEFINING.match(sentence)
    return m.end("subject") if m else 0


@pytest.mark.parametrize("sentence", SENTENCES)
def test_a_plain_sentence_is_its_lower_case_and_others_are_none(sentence: str) -> None:
    plain = s._plain(sentence)
    if sentence.isascii() and "\t" not in sentence:
        assert plain == sentence.lower()
    else:
        assert plain is None


def test_the_subject_of_a_plain_sentence_ends_where_the_pattern_ends_it() -> None:
    plain_cases = [c for c in CASES if s._plain(c) is not None]
    assert len(plain_cases) > 1000
    found = [s._plain_subject_end(s._plain(c) or "") for c in plain_cases]
    assert found == [_subject_end_by_pattern(c) for c in plain_cases]
    assert sum(1 for end in found if end) > 100  # the matches are tested, not only misses


def test_the_shortcuts_judge_sentences_as_the_patterns_do() -> None:
    title = {"acropoli", "deepseek", "velmora", "term", "town", "athen", "x", "cafe"}
    for sentence in CASES:
        plain = s._plain(sentence)
        m = s._DEFINING.match(sentence)
        by_pattern = m is not None and not title.isdisjoint(s.analyze(m.group("subject")))
        assert s.defines_subject(sentence, title, plain) == by_pattern, sentence
        figures = len(s._FIGURE.findall(sentence))
        amount = 1 <= figures <= 3 and s._AMOUNT.search(sentence) is not None
        prior = s._prior(sentence, set(), plain)
        assert (prior == 1.0 + s.AMOUNT_BONUS) == amount, sentence
        demonstrative = s._DEMONSTRATIVE.search(sentence) is not None
        if demonstrative:
            assert s.points_back(sentence, plain), sentence


def test_words_of_ascii_and_other_sentences_are_the_patterns_words() -> None:
    for sentence in [*CASES, "Don't_stop: e-mail 3D-printers (C++)", "Straße ÉCOLE naïve"]:
        by_pattern = [s._stem(w) for w in s._WORD.findall(sentence.casefold())]
        assert s._words(sentence) == by_pattern


def test_control_characters_are_counted_as_before() -> None:
    """1% of control characters (tab, line and form feed, carriage return not counted) is text;
    more is a binary file."""
    for control in ["\x01", "\x08", "\x0b", "\x0e", "\x1b", "\x1f"]:
        text = "a" * 990 + control * 10
        assert decode_any(text.encode(), "notes.txt") == text
        with pytest.raises(BadSource, match=r"^notes\.txt looks like a binary file, not text$"):
            decode_any(("a" * 989 + control * 11).encode(), "notes.txt")
    text = "a" * 900 + "\t\n\r\f" * 25
    assert decode_any(text.encode(), "notes.txt") == text


def _passage_text(rng: random.Random) -> str:
    parts = ["Trains", "run", "late", "GPT-4", "H800s", "U.S.", "$5.6", "1,200", "the", "of"]
    parts += ["&amp;", "&amp", "&copy", "AT&T", "&#10;", ";", "R&amp;D", "caf\u00e9", "e\u0301"]
    parts += ["\ufb01nance", "DeepSeek\u2019s", "\u201cquoted\u201d", "\n", "\n\u0301", "x" * 70]
    seps = ["", " ", " ", " ", ". ", "\n", "-"]
    return "".join(rng.choice(parts) + rng.choice(seps) for _ in range(rng.randrange(1, 25)))


def test_one_analysis_gives_the_terms_and_layout_of_two() -> None:
    """A passage's terms and layout from one analysis of its text are what analysing the
    heading and text together, then the text again for the layout, gives: entities decoded
    (or not) as the whole decides, ligatures, accents, quotes and newlines included."""
    rng = random.Random(7)
    headings = [None, "", "History", "R&D", "R&amp;D", "Q&A; answers", "&#10;x", "caf\u00e9"]
    for _ in range(3000):
        heading = rng.choice([*headings, _passage_text(rng)])
        text = _passage_text(rng)
        terms = index_terms(heading, text)
        assert terms_and_layout(heading, text) == (terms, stored_form(text, terms)), (
            heading,
            text,
        )


def test_token_terms_are_the_spans_analysing_gives() -> None:
    """The tokens' terms and bounds found by splitting the text around them are the spans
    `analyze_spans` finds match by match (a token with several terms has a span for each)."""
    rng = random.Random(11)
    texts = ["", " ", "a", "$5.6 and 1,000,000.5 (GPT-4o)", "x" * 100 + " tail", "... !"]
    texts += [normalize(_passage_text(rng)) for _ in range(2000)]
    for text in texts:
        per_token, starts, ends = token_terms(text)
        flat = [
            (term, a, b)
            for terms, a, b in zip(per_token, starts, ends, strict=True)
            for term in terms
        ]
        assert flat == [tuple(span) for span in analyze_spans(text)], text
        assert [text[a:b] for a, b in zip(starts, ends, strict=True)] == _TOKEN.findall(text)
