"""Extractive summaries of Wikipedia articles against their own lead (issue 9, point 10).

A Wikipedia article opens with a lead that summarises it, written by its editors. Take the lead
away and it is a reference summary of what is left: each engine summarises the body (the text
from the first section heading on) and is scored against the lead with ROUGE (the
`rouge-score` package: ROUGE-1, ROUGE-2 and ROUGE-L F1, Porter stemming).

- **citebot**: `retrieval.summarize.summarize` on `clean_article(body, title=title)`, what a
  team gets when it adds the body as pasted text.
- **TextRank**, **LexRank** (sumy, English Snowball stemmer and sumy's English stop words) on
  the very same sentences (citebot's sentence splitter over the cleaned article's blocks;
  section headings marked as headings), asked for as many sentences as citebot chose for that
  article, so that length does not decide the comparison.
- **lead-3**: the first three sentences of the body (headings skipped).

A summary sentence has a **dangling opener** when it points at something the summary does not
hold: it opens with a word that refers back (This, It, He, Their, Such, However, ...), or names
"this X" / "these X" anywhere, or has a pronoun right after a short opening phrase ("In 1990,
he ..."), and the sentence just before it in the article (a section heading included) is not
in the summary. The first sentence of the body refers to the lead, which is gone: it dangles
whenever it opens that way. The checker is the bench's own: it does not call the summariser's
rule, so a change to that rule cannot hide a dangling sentence from it.

The articles (`bench/summaries/articles.tsv`) are chosen by `python bench/summaries.py
--select` with a fixed seed (see `bench/summaries/README.md`); their text is read from the
shared data file. Tune on `dev`, quote `test`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

if __name__ == "__main__":  # `python bench/summaries.py`: measure this checkout's retrieval/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_DATA, ROOT, table
from retrieval.cleaning import Article, clean_article
from retrieval.sentences import iter_sentences, split_sentences
from retrieval.summarize import summarize

SOURCE = Path("scale") / "enwiki2015_AA_AB.jsonl.gz"
SUMMARIES_DIR = ROOT / "bench" / "summaries"
ARTICLES = SUMMARIES_DIR / "articles.tsv"
QA_IDS = ROOT / "bench" / "qa" / "corpus_ids.txt"
SEED = 20261127
PER_SPLIT = 150
MIN_LEAD_WORDS = 40
BODY_WORDS = (300, 3000)
QUICK_PER_SPLIT = 40

# A section heading of this dump: a short line ending in "." that reads as a title, not a
# sentence ("History.", "Early life and career."; not "Schweitzer was a vegetarian.").
_HEADING_VERBS = frozenset("is was are were has had have be been".split())
_INNER_PUNCTUATION = re.compile(r"""[.!?;:,"()]""")


def is_heading(line: str) -> bool:
    words = line.split()
    return (
        line.endswith(".")
        and 1 <= len(words) <= 6
        and (line[0].isupper() or line[0].isdigit())
        and not _INNER_PUNCTUATION.search(line[:-1])
        and not any(w.casefold().strip(".") in _HEADING_VERBS for w in words)
    )


def split_lead(text: str) -> tuple[str, str]:
    """The lead (paragraphs before the first section heading) and the body (from it on)."""
    lines = [line.strip() for line in text.split("\n")]
    for i, line in enumerate(lines):
        if is_heading(line):
            lead = "\n".join(x for x in lines[:i] if x)
            return lead, "\n".join(x for x in lines[i:] if x)
    return "\n".join(x for x in lines if x), ""


# -- choosing the articles ------------------------------------------------------------------


def select(data_dir: Path) -> list[tuple[str, str, str]]:
    """(id, split, title) of PER_SPLIT * 2 articles: a lead of MIN_LEAD_WORDS or more, a body
    within BODY_WORDS, not a list, not one of bench/qa's corpus; sampled and split by SEED."""
    excluded = set(QA_IDS.read_text(encoding="utf-8").split())
    eligible: list[tuple[str, str]] = []
    with gzip.open(data_dir / SOURCE, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["_id"] in excluded or row["title"].startswith("List of"):
                continue
            lead, body = split_lead(row["text"])
            if len(lead.split()) < MIN_LEAD_WORDS:
                continue
            if not BODY_WORDS[0] <= len(body.split()) <= BODY_WORDS[1]:
                continue
            eligible.append((row["_id"], row["title"]))
    rng = random.Random(SEED)
    chosen = rng.sample(eligible, 2 * PER_SPLIT)
    return [(i, "dev" if n < PER_SPLIT else "test", t) for n, (i, t) in enumerate(chosen)]


@dataclass(frozen=True)
class Case:
    id: str
    split: str
    title: str
    lead: str
    body: str


def load(data_dir: Path) -> list[Case]:
    rows = [
        line.split("\t")
        for line in ARTICLES.read_text(encoding="utf-8").splitlines()[1:]
        if line.strip()
    ]
    wanted = {r[0]: r[1] for r in rows}
    found: dict[str, Case] = {}
    with gzip.open(data_dir / SOURCE, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["_id"] in wanted:
                lead, body = split_lead(row["text"])
                found[row["_id"]] = Case(row["_id"], wanted[row["_id"]], row["title"], lead, body)
    return [found[r[0]] for r in rows if r[0] in found]


# -- the article as a list of sentences -----------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    text: str
    heading: bool


def sentences_of(article: Article) -> list[Sentence]:
    """Every sentence of the cleaned article in order, headings included (as sentences)."""
    return [
        Sentence(s, block.kind == "heading" or is_heading(block.text))
        for block in article.blocks
        for s in iter_sentences(block.text)
    ]


def locate(summary: str, sentences: Sequence[Sentence]) -> list[int]:
    """Positions of the summary's sentences in the article: the summary is read from the
    start, each time taking the next article sentence it begins with (a summary is sentences
    in document order, joined by spaces; splitting it again could join two of them). -1 and
    the rest of the summary when nothing matches."""
    out: list[int] = []
    rest, start = summary.strip(), 0
    while rest:
        pos = next(
            (
                i
                for i in range(start, len(sentences))
                if rest.startswith(sentences[i].text)
                and (len(rest) == len(sentences[i].text) or rest[len(sentences[i].text)] == " ")
            ),
            -1,
        )
        if pos < 0:
            out.append(-1)
            break
        out.append(pos)
        rest, start = rest[len(sentences[pos].text) :].lstrip(), pos + 1
    return out


# -- dangling openers -----------------------------------------------------------------------

# The openers the issue names (This, It, He, Their, Such, However, The latter, ...) and their
# kin, after any opening quote or bracket.
_POINTING_OPENER = re.compile(
    r"""^["'“‘(\[]*(?:this|these|that|those|it|its|it's|they|their|them|he|she|his|her|him"""
    r"|hers|such|also|however|moreover|furthermore|additionally|therefore|thus|hence"
    r"|consequently|meanwhile|nevertheless|nonetheless|instead|similarly|likewise|besides"
    r"|another|both|then|later|but|and|yet|so|still|again|otherwise|accordingly|subsequently"
    r"|afterwards|indeed|here|other|the (?:latter|former|same)|in (?:addition|contrast|fact)"
    r"|as a result|for (?:example|instance)|by contrast|on the other hand)\b",
    re.IGNORECASE,
)
# "... impacted this movement": "this X" / "these X" anywhere ("to this day" points nowhere).
_DEMONSTRATIVE = re.compile(r"\b(?:this|these)\s+(?!day\b)[a-z]", re.IGNORECASE)
# "In 1990, he moved ...": a pronoun right after a short opening phrase.
_LEADING_PRONOUN = re.compile(r"^[^,]{1,60},\s+(?:he|she|it|they|his|her|its|their)\b", re.I)


def refers_back(sentence: str) -> bool:
    """Does the sentence point at something said before it?"""
    return bool(
        _POINTING_OPENER.search(sentence)
        or _DEMONSTRATIVE.search(sentence)
        or _LEADING_PRONOUN.match(sentence)
    )


def dangling(positions: Sequence[int], sentences: Sequence[Sentence]) -> list[str]:
    """The summary sentences that refer back to a sentence the summary does not hold."""
    kept = set(positions)
    return [
        sentences[p].text
        for p in positions
        if p >= 0 and refers_back(sentences[p].text) and p - 1 not in kept
    ]


# -- engines --------------------------------------------------------------------------------


class _SumyTokenizer:
    """sumy's tokenizer interface over citebot's sentences: NLTK's Treebank-style word
    tokenizer (no downloaded models), sumy's own filter of what counts as a word."""

    language = "english"

    def __init__(self) -> None:
        from nltk.tokenize import NLTKWordTokenizer
        from sumy.nlp.tokenizers import Tokenizer

        self._words = NLTKWordTokenizer()
        self._is_word = Tokenizer._is_word

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return tuple(split_sentences(paragraph))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(w for w in self._words.tokenize(sentence) if self._is_word(w))


def _sumy_engines() -> dict[str, Callable[[Sequence[Sentence], int], list[int]]]:
    from sumy.models.dom import ObjectDocumentModel, Paragraph
    from sumy.models.dom import Sentence as SumySentence
    from sumy.nlp.stemmers import Stemmer
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.summarizers.text_rank import TextRankSummarizer
    from sumy.utils import get_stop_words

    tokenizer = _SumyTokenizer()
    stop_words = get_stop_words("english")

    def engine(cls: type) -> Callable[[Sequence[Sentence], int], list[int]]:
        summarizer = cls(Stemmer("english"))
        summarizer.stop_words = stop_words

        def run(sentences: Sequence[Sentence], count: int) -> list[int]:
            objects = [SumySentence(s.text, tokenizer, s.heading) for s in sentences]
            chosen = summarizer(ObjectDocumentModel([Paragraph(objects)]), count)
            where = {id(o): i for i, o in enumerate(objects)}
            return sorted(where[id(o)] for o in chosen)

        return run

    return {"TextRank": engine(TextRankSummarizer), "LexRank": engine(LexRankSummarizer)}


def lead_n(sentences: Sequence[Sentence], n: int) -> list[int]:
    return [i for i, s in enumerate(sentences) if not s.heading][:n]


# -- measuring ------------------------------------------------------------------------------

ENGINES = ("citebot", "TextRank", "LexRank", "lead-3")


def measure(cases: Sequence[Case]) -> dict[str, object]:
    from rouge_score.rouge_scorer import RougeScorer

    scorer = RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    sumy = _sumy_engines()
    rows: dict[str, dict[str, list]] = {e: {} for e in ENGINES}
    examples: list[dict[str, object]] = []
    for case in cases:
        article = clean_article(case.body, title=case.title)
        sentences = sentences_of(article)
        summary = summarize(article)
        ours = locate(summary, sentences)
        picks = {"citebot": ours, "lead-3": lead_n(sentences, 3)}
        for name, run in sumy.items():
            picks[name] = run(sentences, len(ours))
        for name, positions in picks.items():
            text = summary if name == "citebot" else " ".join(sentences[p].text for p in positions)
            score = scorer.score(case.lead, text)
            bad = dangling(positions, sentences)
            rows[name].setdefault(case.split, []).append(
                (
                    score["rouge1"].fmeasure,
                    score["rouge2"].fmeasure,
                    score["rougeL"].fmeasure,
                    bool(bad),
                    len(text.split()),
                )
            )
            if name == "citebot" and bad:
                examples.append({"id": case.id, "split": case.split, "sentences": bad})
    result: dict[str, object] = {"engines": {}, "dangling_citebot": examples}
    for name, splits in rows.items():
        result["engines"][name] = {  # type: ignore[index]
            split: _mean(values) for split, values in sorted(splits.items())
        }
    return result


def _mean(values: list[tuple[float, float, float, bool, int]]) -> dict[str, float | int]:
    n = len(values)
    return {
        "n": n,
        "rouge1": sum(v[0] for v in values) / n,
        "rouge2": sum(v[1] for v in values) / n,
        "rougeL": sum(v[2] for v in values) / n,
        "dangling": sum(v[3] for v in values),
        "words": sum(v[4] for v in values) / n,
    }


def run(data_dir: Path | None, quick: bool = False) -> dict[str, object]:
    if data_dir is None or not (data_dir / SOURCE).is_file():
        return {"skipped": f"no {SOURCE} under the data folder"}
    cases = load(data_dir)
    if quick:
        by_split: dict[str, list[Case]] = {}
        for c in cases:
            by_split.setdefault(c.split, []).append(c)
        cases = [c for split in by_split.values() for c in split[:QUICK_PER_SPLIT]]
    result = measure(cases)
    result["articles"] = len(cases)
    return result


def render(result: dict) -> str:
    if "skipped" in result:
        return f"Summaries: skipped ({result['skipped']})"
    rows = []
    for split in ("dev", "test"):
        for engine, splits in result["engines"].items():
            if split not in splits:
                continue
            r = splits[split]
            rows.append(
                [
                    engine,
                    split,
                    r["n"],
                    round(r["rouge1"], 4),
                    round(r["rouge2"], 4),
                    round(r["rougeL"], 4),
                    f"{r['dangling']} / {r['n']}",
                    round(r["words"], 1),
                ]
            )
    title = (
        f"Summaries of {result['articles']} Wikipedia articles (bench/summaries), the lead as "
        "reference: ROUGE F1 (stemmed); TextRank and LexRank pick as many sentences as citebot"
    )
    out = table(
        ["engine", "split", "n", "ROUGE-1", "ROUGE-2", "ROUGE-L", "dangling", "avg words"],
        rows,
        title,
    )
    return (
        out + "\n  targets (issue 9, held-out): ROUGE-1 >= best of TextRank, LexRank, lead-3; "
        "dangling <= 3 in 150"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--select", action="store_true", help=f"choose the articles, write {ARTICLES}")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_PER_SPLIT} articles per split")
    p.add_argument("--show", action="store_true", help="print citebot's dangling sentences")
    args = p.parse_args(argv)
    if args.select:
        chosen = select(args.data)
        SUMMARIES_DIR.mkdir(exist_ok=True)
        lines = ["id\tsplit\ttitle", *("\t".join(row) for row in chosen)]
        ARTICLES.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{len(chosen)} articles written to {ARTICLES.relative_to(ROOT)}")
        return 0
    result = run(args.data, args.quick)
    print(render(result))
    if args.show:
        for example in result.get("dangling_citebot", []):
            print(f"  {example['split']} {example['id']}: {example['sentences']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
