"""Cleaning, passages and summaries of the bundled articles, and of awkward inputs."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import Stemmer

from retrieval.analyzer import analyze
from retrieval.cleaning import clean_article
from retrieval.passages import MAX_WORDS, split_passages
from retrieval.sentences import split_sentences
from retrieval.summarize import lead_sentences, summarize

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
REFERENCES = Path(__file__).resolve().parent / "data" / "reference_summaries.json"

TITLES = {
    "000_ae8a852fcb8e2880.txt": (
        "Will DeepSeek rise strenghten open-source AI in the United States?"
    ),
    "001_d58e4a4a3f12deff.txt": "DeepSeek's Impact on the Open-Source AI Movement",
    "002_2d5ac121eab98ad0.txt": "China's AI Leap: DeepSeek Challenges US Dominance",
    "003_7edf549026a98687.txt": "Silicon Valley is reeling from the rapid emergence of DeepSeek",
    "004_ab7033b5b594e830.txt": "China's DeepSeek R1: A Catalyst for Global AI Competition",
}
BOILERPLATE = (
    "arrow-right",
    "chevron",
    "Panier",
    "Il y a 5 jour",
    "Table of Contents",
    "Similar Posts",
    "automatically generated",
    "YouTube",
)


def _article(name: str):
    return clean_article((SEEDS / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(TITLES))
def test_seed_titles(name):
    article = _article(name)
    assert article.title == TITLES[name]
    assert article.title_derived == (name.startswith("003"))


@pytest.mark.parametrize("name", sorted(TITLES))
def test_boilerplate_is_gone_and_the_title_not_repeated(name):
    article = _article(name)
    body = article.text
    for junk in BOILERPLATE:
        assert junk not in body
    passages = split_passages(article)
    assert passages
    assert not any(p.text.strip() == article.title for p in passages)


def test_table_of_contents_entries_are_not_passages():
    passages = split_passages(_article("004_ab7033b5b594e830.txt"))
    assert not any(p.text.startswith("Key Highlights:") for p in passages)
    assert sum("The Financial Fallout" in (p.heading or "") for p in passages) == 2


@pytest.mark.parametrize("name", sorted(TITLES))
def test_passages_are_readable_sizes_with_paragraph_numbers(name):
    passages = split_passages(_article(name))
    numbers = [p.paragraph for p in passages]
    assert numbers == sorted(numbers) and numbers[0] == 1
    assert all(len(p.text.split()) <= MAX_WORDS for p in passages)


def test_faq_questions_stay_with_their_answers():
    passages = split_passages(_article("004_ab7033b5b594e830.txt"))
    faq = [p for p in passages if p.text.startswith("Why did the US tech market react")]
    assert len(faq) == 1
    assert "$1 trillion sell-off" in faq[0].text


def test_bullets_stay_with_their_lead_in():
    passages = split_passages(_article("001_d58e4a4a3f12deff.txt"))
    strategies = next(p for p in passages if "several key strategies" in p.text)
    assert "Mixture-of-Experts" in strategies.text and "Automated Training" in strategies.text


def test_long_paragraph_is_cut_at_sentence_boundaries():
    sentence = "DeepSeek released a model that many teams now study closely. "
    article = clean_article("A title\n" + sentence * 60)
    passages = split_passages(article)
    assert len(passages) > 1
    assert all(p.text.endswith(".") for p in passages)
    assert all(len(p.text.split()) <= MAX_WORDS for p in passages)
    assert {p.paragraph for p in passages} == {1}


def test_hard_wrapped_text_is_rejoined_and_markdown_headings_are_titles():
    raw = "# Notes on chips\n\nThe H800 is a cut-down part that\nNvidia sold in China.\n"
    article = clean_article(raw)
    assert article.title == "Notes on chips"
    assert article.text == "The H800 is a cut-down part that Nvidia sold in China."


def test_text_without_a_title_gets_a_derived_one():
    article = clean_article("Export controls shaped the market, analysts said. More followed.")
    assert article.title == "Export controls shaped the market"
    assert article.title_derived


def test_sentence_splitter_keeps_abbreviations_and_figures():
    text = "The U.S. spent $5.6 million. Dr. Lee agreed! Did it work? Yes."
    assert split_sentences(text) == [
        "The U.S. spent $5.6 million.",
        "Dr. Lee agreed!",
        "Did it work?",
        "Yes.",
    ]


@pytest.mark.parametrize("name", sorted(TITLES))
def test_summaries_are_two_to_four_sentences_in_document_order(name):
    article = _article(name)
    summary = summarize(article)
    sentences = split_sentences(summary)
    assert 2 <= len(sentences) <= 4
    positions = [article.text.find(s) for s in sentences]
    assert all(p >= 0 for p in positions), "every summary sentence comes from the article"
    assert positions == sorted(positions)
    for junk in (*BOILERPLATE, "Key takeaway", "?"):
        assert junk not in summary


def _f1(candidate: Counter, reference: Counter) -> float:
    overlap = sum((candidate & reference).values())
    if not overlap:
        return 0.0
    p, rec = overlap / sum(candidate.values()), overlap / sum(reference.values())
    return 2 * p * rec / (p + rec)


def _rouge_f(candidate: str, reference: str, n: int) -> float:
    def grams(text):
        terms = analyze(text)
        return Counter(tuple(terms[i : i + n]) for i in range(len(terms) - n + 1))

    return _f1(grams(candidate), grams(reference))


_porter = Stemmer.Stemmer("porter")


def _rouge1(candidate: str, reference: str) -> float:
    """ROUGE-1 F1 as the rouge-score package computes it with stemming: lower-cased runs of
    letters and digits, Porter-stemmed when longer than three characters, stop words kept."""

    def grams(text: str) -> Counter:
        words = re.findall(r"[a-z0-9]+", text.lower())
        return Counter(_porter.stemWord(w) if len(w) > 3 else w for w in words)

    return _f1(grams(candidate), grams(reference))


def test_bundled_summaries_match_hand_written_references():
    """ROUGE-1 F1 (stemmed, stop words kept) against abstractive references written for this
    project, averaged over the five bundled articles: 0.38 is issue 9's bar."""
    references = json.loads(REFERENCES.read_text(encoding="utf-8"))["summaries"]
    scores = {
        source: _rouge1(
            summarize(clean_article((SEEDS.parent / source).read_text(encoding="utf-8"))), ref
        )
        for source, ref in references.items()
    }
    assert sum(scores.values()) / len(scores) >= 0.38, scores


def test_summaries_beat_lead_3_against_hand_written_references():
    """ROUGE-1 and ROUGE-2 F1 against abstractive references written for this project."""
    references = json.loads(REFERENCES.read_text(encoding="utf-8"))["summaries"]
    ours = {1: 0.0, 2: 0.0}
    lead = {1: 0.0, 2: 0.0}
    for source, reference in references.items():
        article = clean_article((SEEDS.parent / source).read_text(encoding="utf-8"))
        for n in (1, 2):
            ours[n] += _rouge_f(summarize(article), reference, n) / len(references)
            lead[n] += _rouge_f(lead_sentences(article, 3), reference, n) / len(references)
    assert ours[1] > lead[1] and ours[2] > lead[2], (ours, lead)
