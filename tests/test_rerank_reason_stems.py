"""The rerank's reason check ("why" questions) skips the pattern for a sentence that holds none
of `_REASON_STEMS`: that must never change what it finds."""

from __future__ import annotations

import pytest

from retrieval.rerank import _REASON, _gives_reason

# Every phrase the pattern names, each form of it.
PHRASES = """because; due to; owing to; since; as a result; so that; in order to; thanks to;
allow; allows; allowing; enable; enables; enabling; lets; help; helps; means; lead to;
leads to; caused; causes; reason; result in; results in; resulted in; result from;
results from; resulted from""".replace("\n", " ").split("; ")


@pytest.mark.parametrize("phrase", [p.strip() for p in PHRASES])
def test_every_reason_the_pattern_knows_is_still_found(phrase: str) -> None:
    for spelled in (phrase, phrase.upper(), phrase.title()):
        sentence = f"The dam was built {spelled} the floods of spring."
        assert _REASON.search(sentence)
        assert _gives_reason(sentence, 0, len(sentence))


@pytest.mark.parametrize(
    "sentence",
    [
        "The dam was built in 1931 by the river authority.",
        "Sincere thanks went to nobody; the dam was built.",  # "since" only inside a word
        "The ſince of it is not English.",  # not ASCII: the pattern decides
        "It was done, becauſe the floods came.",
    ],
)
def test_a_sentence_gives_a_reason_exactly_when_the_pattern_finds_one(sentence: str) -> None:
    for start, end in ((0, len(sentence)), (4, len(sentence) - 3)):
        assert _gives_reason(sentence, start, end) == bool(_REASON.search(sentence, start, end))
