"""Rendering always fits Discord's limits, whatever the engine returns."""

import random
import re
from dataclasses import replace

import pytest

from bot import render
from bot.errors import message_for
from bot.views import LAST_ANSWER_PAGE, answer_view
from retrieval.errors import Ambiguous, InvalidQuery
from retrieval.models import (
    AddResult,
    Answer,
    DirectAnswer,
    FeedbackRow,
    Hit,
    QueryRecord,
    RefreshResult,
    Source,
    Summary,
    TopQuery,
)

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


def _direct(rng: random.Random, hits: tuple[Hit, ...], text: str | None = None) -> DirectAnswer:
    """A direct answer from one of `hits`: a random stretch of its text (or `text`), with a
    random span or none, as the engine could return for any article."""
    hit = rng.choice(hits)
    if text is None:
        start = rng.randint(0, len(hit.text) - 1)
        end = rng.randint(start + 1, len(hit.text))
        text = hit.text[start:end]
    else:
        start, end = 0, len(text)
    span = None
    if rng.random() < 0.7:
        a = rng.randint(0, len(text) - 1)
        span = (a, rng.randint(a + 1, len(text)))
    return DirectAnswer(text, hit.rank, hit.passage_id, start, end, span, "date")


@pytest.mark.parametrize("seed", range(40))
def test_answer_embeds_fit_every_limit(seed):
    rng = random.Random(seed)
    hits = tuple(_hit(rng, r) for r in range(1, rng.randint(1, 25) + 1))
    direct = _direct(rng, hits) if rng.random() < 0.8 else None
    searched = tuple((_text(rng, 80), _text(rng, 80)) for _ in range(rng.randint(0, 6)))
    answer = Answer(
        _text(rng, 200)[:1000], True, hits, 12.3, 0.9, 99999, 1, True, direct, searched_for=searched
    )
    embed = render.answer_embed(answer, page=rng.randint(0, 3))
    assert len(embed) <= render.EMBED_TOTAL_LIMIT
    assert len(embed.title or "") <= render.TITLE_LIMIT
    assert len(embed.description or "") <= render.DESCRIPTION_LIMIT
    assert _unescaped_bold_markers(embed.description or "") % 2 == 0, embed.description
    # The direct answer leads, and its line says which passage it comes from.
    # A line says what was searched for typed words the corpus does not know.
    assert (embed.description or "").startswith("Searched for *") == bool(searched)
    if direct is None:
        assert embed.description is None or not embed.description.count("\nfrom [")
    else:
        assert embed.description.splitlines()[-1].startswith(f"from [{direct.rank}] ")
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


def test_the_direct_answer_is_the_first_line_with_its_span_in_bold():
    text = "DeepSeek reportedly spent only $5.6 million to develop its *version 3* model."
    hit = Hit(1, 7, 3, "China's AI Leap", "seeds/002.txt", 2, text, 1.0)
    direct = DirectAnswer(text, 1, 7, 0, len(text), (31, 43), "number")
    embed = render.answer_embed(Answer("q", True, (hit,), 1.0, 0.9, 5, 1, False, direct))
    assert embed.description.splitlines() == [
        "DeepSeek reportedly spent only **$5.6 million** to develop its \\*version 3\\* model.",
        "from [1] China's AI Leap",
    ]
    assert embed.fields[0].name == "[1] China's AI Leap"  # the passage below, as evidence
    # A line break inside the sentence cannot start a heading or a quote on a line of its own.
    direct = DirectAnswer("Spent\n# $5.6 million\u2028> now.", 1, 7, 0, 30, (8, 20), "number")
    embed = render.answer_embed(Answer("q", True, (hit,), 1.0, 0.9, 5, 1, False, direct))
    assert embed.description.splitlines()[0] == "Spent # **$5.6 million** \\> now."


def test_a_citation_can_be_followed_and_does_not_repeat_the_title():
    text = "DeepSeek reportedly spent only $5.6 million on it, a fraction of the cost."
    url = Hit(1, 1, 1, "A [bracketed] title", "https://ex.org/a b", 3, text, 1.0, kind="url")
    assert render.citation(url) == (
        "[ex.org/a b ↗](https://ex.org/a%20b#:~:text=DeepSeek%20reportedly%20spent%20only"
        ",a%20fraction%20of%20the%20cost) · paragraph 3"
    )
    seed = Hit(1, 1, 1, "Notes", "seeds/002.txt", 2, "t", 1.0, kind="seed", added_by="citebot")
    assert render.citation(seed) == "bundled with citebot · paragraph 2"
    upload = Hit(
        1,
        1,
        1,
        "Notes",
        "notes.md",
        4,
        "t",
        1.0,
        kind="file",
        added_by="42",
        added_at="2026-11-27T04:00:00.000+00:00",
    )
    assert render.citation(upload) == "a file added by <@42> on <t:1795752000:D> · paragraph 4"
    typed = Hit(1, 1, 1, "Notes", "notes.md", 1, "t", 1.0, kind="file", added_by="cli")
    assert render.citation(typed) == "a file added by the bot's operator · paragraph 1"


def test_a_deep_link_takes_only_plain_words_and_encodes_them():
    link = render.deep_link("https://e.org/p#top", "State-of-the-art: 1,024 GPUs, it's said.")
    assert link == (
        "https://e.org/p#top:~:text=State%2Dof%2Dthe%2Dart%3A%201%2C024%20GPUs%2C%20it%27s%20said"
    )
    assert render.deep_link("https://e.org/p", "\u201cQuoted\u201d first") == "https://e.org/p"
    hostile = render.deep_link("https://e.org/p", "a) [x](http://evil) b c d e f g h")
    assert hostile == "https://e.org/p"  # "a)" is no plain word: no fragment at all


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


# -- hostile titles, questions and sources ---------------------------------------------------

HOSTILE = [
    "[Official notice](http://evil.example/phish)",
    "[a](http://evil.example/1) [b](<http://evil.example/2>) [c]( http://evil.example/3 )",
    "\\[pre-escaped](http://evil.example/esc)",
    "half\\](http://evil.example/half)",
    "@everyone @here <@123> <@&456> <#789> </ask:1> <t:0:R>",
    "\u202eevil\u202c \u2066iso\u2069 zero\u200bwidth\ufeff \u061c\u2060\u3164 nul\x00 cr\r",
    "``` code ``` `tick` ||spoiler|| **bold** __u__ ~~s~~ *i*",
    "# heading\n> quote\n-# subtext\n- list\n+ plus\n\u2028# after a separator",
    "[" * 300 + "](http://evil.example/long)",
    "\\" * 301 + "](http://evil.example/backslashes)",
    "x" * 5000,
]
SAFE_URL = "https://example.org/a"
INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\u3164\ufeff"
    "\u2028\u2029]"
)


def _hostile(rng: random.Random) -> str:
    """One to three hostile pieces, each cut at a random point so escapes land on every cut."""
    pieces = []
    for _ in range(rng.randint(1, 3)):
        piece = rng.choice(HOSTILE)
        pieces.append(piece[: rng.randint(1, len(piece))] if rng.random() < 0.5 else piece)
    return rng.choice([" ", "", "\n"]).join(pieces)


def _live_links(text: str) -> list[str]:
    """Targets of the masked links Discord would render: a "](" whose "]" is not escaped."""
    return [
        m.group(2) for m in re.finditer(r"(\\*)\]\(\s*([^)\s]*)", text) if len(m.group(1)) % 2 == 0
    ]


def _unescaped(text: str, pattern: str) -> list[str]:
    """Occurrences of `pattern` not preceded by an escaping backslash."""
    return [m.group(2) for m in re.finditer(rf"(\\*)({pattern})", text) if len(m.group(1)) % 2 == 0]


def _outside_code(text: str) -> str:
    """`text` without its inline code spans, whose content Discord shows literally."""
    out, code, i = [], False, 0
    while i < len(text):
        if code:
            code = text[i] != "`"
        elif text[i] == "\\":
            out.append(text[i : i + 2])
            i += 1
        elif text[i] == "`":
            code = True
        else:
            out.append(text[i])
        i += 1
    return "".join(out)


def _assert_inert(text: str, *, allowed_links: set[str] = frozenset(), mentions=()) -> None:
    # The only invisible character left is the zero-width space that breaks a mention.
    assert not INVISIBLE.search(text.replace("@\u200b", "@")), text
    text = _outside_code(text)
    assert set(_live_links(text)) <= allowed_links, text
    assert not re.search(r"@(everyone|here)", text), text
    # Timestamps the renderer writes itself (a stranger's "<t:...>" is escaped like the rest).
    ours = {f"<@{m}>" for m in mentions} | set(re.findall(r"<t:\d+:[fFdDtTR]>", text))
    assert set(_unescaped(text, r"<[@#/t][^>\s]*>?")) <= ours, text
    # No cut left half an escape: an odd run of backslashes before the ellipsis or at the end.
    assert not re.search(r"(?<!\\)(\\\\)*\\(…|$)", text), text


def _strings(embed) -> list[str]:
    parts = [embed.title or "", embed.description or "", embed.footer.text or ""]
    for field in embed.fields:
        parts += [field.name or "", field.value or ""]
    return parts


def _assert_limits(embed) -> None:
    assert len(embed) <= render.EMBED_TOTAL_LIMIT
    assert len(embed.title or "") <= render.TITLE_LIMIT
    assert len(embed.description or "") <= render.DESCRIPTION_LIMIT
    assert len(embed.footer.text or "") <= render.FOOTER_LIMIT
    assert len(embed.fields) <= render.MAX_FIELDS
    for field in embed.fields:
        assert 0 < len(field.name or "") <= render.FIELD_NAME_LIMIT
        assert 0 < len(field.value or "") <= render.FIELD_VALUE_LIMIT


@pytest.mark.parametrize("seed", range(60))
def test_hostile_text_is_inert_everywhere_and_limits_hold(seed):
    rng = random.Random(seed)
    hits = tuple(
        Hit(
            r,
            r,
            r,
            _hostile(rng),
            rng.choice([SAFE_URL, "seeds/002.txt", _hostile(rng)]),
            r,
            _hostile(rng) + " DeepSeek model",
            1.0,
        )
        for r in range(1, rng.randint(1, 25) + 1)
    )
    question = _hostile(rng)
    direct = _direct(rng, hits, _hostile(rng) + " DeepSeek " + _hostile(rng))
    embeds = [
        render.answer_embed(Answer(question, True, hits, 1.0, 0.9, 5, 1, True, direct), page=1)
    ]
    record = QueryRecord(
        1, "2026-01-01T00:00", "discord", 1, 2, 3, "ask", question, True, 0.5, 1.0, []
    )
    title, source, text = _hostile(rng), _hostile(rng), _hostile(rng)
    src = Source(7, title, source, "text", 3, 2, "2026-01-01", "9")
    embeds += [
        render.summary_embed(Summary(7, title, source, text)),
        render.sources_embed([src] * rng.randint(1, 12), 0),
        render.added_embed(AddResult(src, 2, text)),
        render.removed_embed(src),
        render.refresh_embed([RefreshResult(src, "failed", _hostile(rng))] * 3),
        render.log_embed("top", [TopQuery(question, 3, 1, "2026")] * 5),
        render.log_embed("feedback", [FeedbackRow(1, question, "2026", True, 1, 2, "x")]),
        render.log_embed("recent", [record] * 5),
    ]
    ambiguous = Ambiguous(f"{question!r} matches 2 articles", [(6, title), (7, _hostile(rng))])
    embeds.append(render.error_embed(message_for(ambiguous)))
    # A web page's citation links to the page at the passage (a text fragment of it).
    allowed = {SAFE_URL} | {render.deep_link(SAFE_URL, h.text) for h in hits}
    for embed in embeds:
        _assert_limits(embed)
        for text in _strings(embed):
            _assert_inert(text, allowed_links=allowed, mentions=(3,))

    name = render.choice_name(_hostile(rng))
    assert 0 < len(name) <= render.CHOICE_NAME_LIMIT
    assert "](" not in name and not INVISIBLE.search(name)


def test_safe_cuts_never_split_an_escape_and_keep_the_text():
    rng = random.Random(8)
    alphabet = "\\[]()*_~`|<>#-+@ a\n\u202e"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        limit = rng.randint(2, 300)
        out = render.safe(text, limit)
        assert len(out) <= limit
        assert not re.search(r"(?<!\\)(\\\\)*\\(…|$)", out), out
        # Read as Discord shows it, what is left is a piece of the text as typed.
        shown = re.sub(r"\\(.)", r"\1", out.replace("@\u200b", "@"), flags=re.DOTALL)
        assert shown.removesuffix("…").strip() in render.visible(text), (text, out)


def test_a_masked_link_title_shows_as_text_in_an_answer_field():
    hit = Hit(1, 1, 1, "[Official notice](http://evil.example/phish)", "notes.txt", 2, "t", 1.0)
    embed = render.answer_embed(Answer("q", True, (hit,), 1.0, 0.9, 5, 1))
    assert embed.fields[0].name == "[1] \\[Official notice\\](http://evil.example/phish)"
    assert embed.title == "q"


def test_the_ambiguous_error_lists_titles_as_text():
    error = Ambiguous("'notice' matches 2 articles", [(6, "[Notice](http://evil.example)")])
    assert (
        message_for(error) == "'notice' matches 2 articles:\n• 6: \\[Notice\\](http://evil.example)"
    )


def test_choice_names_are_plain_readable_and_inert():
    assert render.choice_name("[Official notice](http://evil.example/phish)") == (
        "[Official notice] (http://evil.example/phish)"
    )
    assert render.choice_name("A\u202e title\u200b with\n\nbreaks") == "A title with breaks"
    assert render.choice_name("\u202e\u200b") == "untitled"
    long = render.choice_name("[x](y)" * 100)
    assert len(long) <= render.CHOICE_NAME_LIMIT and "](" not in long


# -- answer paging -------------------------------------------------------------------------


def _next_button(view) -> dict:
    [row] = view.to_components()
    [button] = [b for b in row["components"] if "Next" in b["label"]]
    return button


async def test_next_is_disabled_on_the_last_page_the_engine_serves(kb):
    answer = await kb.ask("open-source AI models from China", k=1)
    assert answer.has_more and answer.query_id is not None
    # The engine serves this page and refuses the one after it.
    last = await kb.page(answer.query_id, LAST_ANSWER_PAGE, 1)
    with pytest.raises(InvalidQuery):
        await kb.page(answer.query_id, LAST_ANSWER_PAGE + 1, 1)
    more = replace(last, has_more=True)  # as if the corpus had passages beyond it
    assert _next_button(answer_view(more, LAST_ANSWER_PAGE, 1, None))["disabled"]
    assert not _next_button(answer_view(more, LAST_ANSWER_PAGE - 1, 1, None))["disabled"]
    assert _next_button(answer_view(replace(more, has_more=False), 3, 1, None))["disabled"]


def test_text_escape_leaves_alone_is_what_escaping_it_in_full_gives():
    """`escape` returns text without any character it reacts to as it is, without running its
    passes; for every character of the Basic Multilingual Plane, alone on a line, that is
    exactly what the passes give (a text that needs them, "@" first, runs them all)."""
    for code in range(0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        ch = chr(code)
        assert render.escape("@\n" + ch) == "@\u200b\n" + render.escape(ch), hex(code)
