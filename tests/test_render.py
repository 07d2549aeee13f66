"""Rendering always fits Discord's limits, whatever the engine returns."""

import random
import re

import pytest

from bot import render
from retrieval.models import Answer, FeedbackRow, Hit, QueryRecord, Source, Summary, TopQuery

NASTY = "*_~`|>\\@everyone <@123> [x](y) ** __ ||spoiler|| ```code``` é ☃ \u202e "


def _text(rng: random.Random, n: int) -> str:
    words = ["DeepSeek", "H800", "open-source", NASTY, "model", "$5.6", "x" * 300, "\n"]
    return " ".join(rng.choice(words) for _ in range(n))


def _hit(rng: random.Random, rank: int) -> Hit:
    text = _text(rng, rng.randint(1, 600))
    spans = sorted({(m.start(), m.end()) for m in re.finditer(r"DeepSeek|H800|model", text)})
    source = rng.choice(
        ["seeds/002.txt", "https://example.org/a (b)/c?d=e f", "pasted text", "x" * 900]
    )
    return Hit(
        rank, rank, rank, _text(rng, rng.randint(1, 80)), source, rank, text, 1.0, tuple(spans)
    )


def _unescaped_bold_markers(value: str) -> int:
    return len(re.findall(r"(?<!\\)\*\*", value))


@pytest.mark.parametrize("seed", range(40))
def test_answer_embeds_fit_every_limit(seed):
    rng = random.Random(seed)
    hits = tuple(_hit(rng, r) for r in range(1, rng.randint(1, 25) + 1))
    answer = Answer(_text(rng, 200)[:1000], True, hits, 12.3, 0.9, 99999, 1, True)
    embed = render.answer_embed(answer, page=rng.randint(0, 3))
    assert len(embed) <= render.EMBED_TOTAL_LIMIT
    assert len(embed.title or "") <= render.TITLE_LIMIT
    assert len(embed.fields) <= render.MAX_FIELDS
    for field in embed.fields:
        assert 0 < len(field.name or "") <= render.FIELD_NAME_LIMIT
        assert 0 < len(field.value or "") <= render.FIELD_VALUE_LIMIT
        assert _unescaped_bold_markers(field.value or "") % 2 == 0, field.value


def test_highlights_are_bold_and_markdown_is_escaped():
    text = "DeepSeek spent *only* $5.6 million"
    hit = Hit(1, 1, 1, "T", "seeds/x.txt", 2, text, 1.0, ((0, 8), (9, 14)))
    assert render.highlighted(hit, 1000) == "**DeepSeek** **spent** \\*only\\* $5.6 million"
    short = render.highlighted(hit, 20)
    assert len(short) <= 20 and "…" in short and _unescaped_bold_markers(short) % 2 == 0


def test_citation_links_urls_and_names_files():
    url = Hit(1, 1, 1, "A [bracketed] title", "https://ex.org/a b", 3, "t", 1.0)
    assert render.citation(url) == "[A \\[bracketed\\] title](https://ex.org/a%20b) · paragraph 3"
    file = Hit(1, 1, 1, "Notes", "seeds/002.txt", 2, "t", 1.0)
    assert render.citation(file) == "*Notes* · `seeds/002.txt` · paragraph 2"


@pytest.mark.parametrize("seed", range(10))
def test_other_embeds_fit(seed):
    rng = random.Random(seed)
    long = _text(rng, 2000)
    summary = render.summary_embed(Summary(1, long, "https://e.org/" + "p" * 3000, long))
    sources = [
        Source(i, _text(rng, 50), _text(rng, 20), "file", 5, 3, "2026-01-01") for i in range(37)
    ]
    embeds = [summary, render.sources_embed(sources, rng.randint(0, 5))]
    records = [
        QueryRecord(
            i,
            "2026-11-23T10:00:00",
            "discord",
            1,
            2,
            3,
            "ask",
            _text(rng, 300),
            bool(i % 2),
            0.5,
            3.0,
            [],
        )
        for i in range(50)
    ]
    embeds.append(render.log_embed("recent", records))
    embeds.append(render.log_embed("top", [TopQuery(_text(rng, 300), 3, 1, "2026")] * 50))
    embeds.append(
        render.log_embed("feedback", [FeedbackRow(1, _text(rng, 300), "2026", True, 1, 2, "x")])
    )
    for embed in embeds:
        assert len(embed) <= render.EMBED_TOTAL_LIMIT
        assert len(embed.title or "") <= render.TITLE_LIMIT
        assert len(embed.description or "") <= render.DESCRIPTION_LIMIT
        assert all(len(f.value or "") <= render.FIELD_VALUE_LIMIT for f in embed.fields)


def test_choice_names_fit():
    assert len(render.choice_name("t" * 500)) == render.CHOICE_NAME_LIMIT
    assert render.choice_name("   ") == "untitled"
