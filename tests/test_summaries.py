"""Summaries that stand on their own (issue 9): no sentence of a bundled article's summary points
at one it leaves out, and small articles made to show one rule each. (ROUGE against the
hand-written references: tests/test_articles.py.)"""

import re
from pathlib import Path

import pytest

from retrieval.cleaning import Article, clean_article
from retrieval.sentences import split_sentences
from retrieval.summarize import summarize

SEEDS = sorted((Path(__file__).resolve().parent.parent / "seeds").glob("*.txt"))

# Openers that point at an earlier sentence, as a reader of the summary alone meets them.
POINTING = re.compile(
    r"^[\"'“(]*(?:this|these|that|those|it|its|it's|they|their|them|he|she|his|her|such|also|"
    r"however|moreover|furthermore|therefore|thus|the latter|the former|in addition|"
    r"as a result|for example|for instance|instead|both|another|but|and)\b"
    r"|\b(?:this|these) (?!day\b)[a-z]",
    re.IGNORECASE,
)


def _sentences(article: Article) -> list[str]:
    return [s for block in article.blocks for s in split_sentences(block.text)]


def _dangling(article: Article, summary: str) -> list[str]:
    """Summary sentences that point back at a sentence the summary leaves out."""
    sentences = _sentences(article)
    out = []
    for sentence in split_sentences(summary):
        i = sentences.index(sentence)
        if POINTING.search(sentence) and (i == 0 or sentences[i - 1] not in summary):
            out.append(sentence)
    return out


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name[:3])
def test_no_bundled_summary_points_at_a_sentence_it_leaves_out(path: Path) -> None:
    article = clean_article(path.read_text(encoding="utf-8"))
    assert _dangling(article, summarize(article)) == []


# A short article (two sentences of summary): one sentence says what the subject is, and one
# is dense with dates and figures that appear nowhere else.
VELMORA = """Velmora

Velmora is a fishing town on the northern coast of Portugal.

The harbour of the town landed 4,200 tonnes of fish in 1911, 9,800 tonnes in 1952, 12,450 \
tonnes in 1987 and 3,100 tonnes in 2014.

Fishing boats leave the harbour of the town before dawn and come back with sardines.

Every summer a sardine festival fills the town, and visitors eat grilled fish at the harbour.
"""


def test_the_sentence_naming_the_subject_is_preferred_to_a_list_of_figures() -> None:
    summary = summarize(clean_article(VELMORA))
    assert "Velmora is a fishing town on the northern coast of Portugal" in summary
    assert "4,200 tonnes" not in summary


# The sentence with most of the article's words opens with "This" (or "Its", "He's"): it is
# only read right after the sentence it points at. A heading stands before it in one version, a
# sentence the summary would not otherwise take in the other.
POINTED = """Harbour cranes

{before}

{opener} lifts containers from ships in the harbour faster than older harbour \
cranes, and harbour workers say the crane design saves hours for every ship.

Cranes in a harbour are tall machines that lift heavy loads from ships onto the quay.

Harbour cranes are moved along rails on the quay to reach every hold of a ship.

Older cranes needed two workers, while new cranes need one worker in a cabin.
"""


@pytest.mark.parametrize(
    "opener", ["This crane design", "Its crane design", "He's sure the design"]
)
def test_a_sentence_opening_with_this_needs_the_one_before_it(opener: str) -> None:
    after_heading = clean_article(POINTED.format(before="New designs", opener=opener))
    summary = summarize(after_heading)
    assert opener not in summary
    assert _dangling(after_heading, summary) == []

    after_sentence = clean_article(
        POINTED.format(
            before="A Danish firm built a new kind of crane for container ports.", opener=opener
        )
    )
    summary = summarize(after_sentence)
    assert opener in summary
    assert "A Danish firm built a new kind of crane for container ports." in summary
