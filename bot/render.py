"""Engine values to Discord embeds, always within Discord's limits.

Discord refuses a whole message when one limit is exceeded (2,000 content, 256 title, 4,096
description, 25 fields, 256 field name, 1,024 field value, 2,048 footer, 6,000 across a
message's embeds), so every text here goes through `fit` with a budget, and passages share the
6,000 characters of one embed. Passage text is user-supplied: Markdown in it is escaped before
query terms are bolded, so an article cannot break the formatting or ping anyone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from urllib.parse import quote

import discord

from retrieval.models import (
    AddResult,
    Answer,
    FeedbackRow,
    Hit,
    QueryRecord,
    RefreshResult,
    Source,
    Summary,
    TopQuery,
)

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
MAX_FIELDS = 25
CHOICE_NAME_LIMIT = 100
MAX_CHOICES = 25
CITATION_LIMIT = 300
SOURCES_PER_PAGE = 10

COLOUR_ANSWER = discord.Colour.blurple()
COLOUR_NONE = discord.Colour.light_grey()
COLOUR_OK = discord.Colour.green()
COLOUR_ERROR = discord.Colour.red()

ELLIPSIS = "…"


def fit(text: str, limit: int, *, strip: bool = True) -> str:
    """`text` cut to at most `limit` characters, at a word boundary when one is near."""
    if strip:
        text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    # Never leave a dangling escape backslash at the end.
    while cut.endswith("\\"):
        cut = cut[:-1]
    return cut.rstrip() + ELLIPSIS


_MARKDOWN = re.compile(r"([\\*_~`|\[\]<])")
_LINE_START = re.compile(r"^(\s*)([#>-])", re.MULTILINE)
_BIDI_AND_ZERO_WIDTH = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def escape(text: str) -> str:
    """Markdown, mentions and direction overrides made inert: text shows as typed.

    Every character Discord's Markdown reacts to gets a backslash (discord.py's escape_markdown
    leaves some constructs alone); stray bidi controls from pasted text are dropped.
    """
    text = _BIDI_AND_ZERO_WIDTH.sub("", text)
    text = _MARKDOWN.sub(r"\\\1", text)
    text = _LINE_START.sub(r"\1\\\2", text)
    return text.replace("@", "@\u200b")


def highlighted(hit: Hit, limit: int) -> str:
    """The passage with query terms in bold, escaped, cut to `limit` without a broken marker."""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for start, end in sorted(hit.highlights):
        if start < pos:
            continue
        pieces += [(hit.text[pos:start], False), (hit.text[start:end], True)]
        pos = end
    pieces.append((hit.text[pos:], False))
    out: list[str] = []
    used = 0
    for raw, bold in pieces:
        text = escape(raw)
        if not text:
            continue
        marks = 4 if bold else 0
        if used + len(text) + marks <= limit:
            out.append(f"**{text}**" if bold else text)
            used += len(text) + marks
            continue
        room = limit - used - marks
        if room >= 2:
            cut = fit(text, room, strip=False)
            out.append(f"**{cut}**" if bold else cut)
        elif used < limit:
            out.append(ELLIPSIS)
        break
    return "".join(out).strip()


def join_lines(lines: Sequence[str], limit: int) -> str:
    """Lines joined by newlines within `limit`: each line gets an equal share."""
    if not lines:
        return ""
    share = max(1, (limit - (len(lines) - 1)) // len(lines))
    return fit("\n".join(fit(line, share) for line in lines), limit)


def _link(url: str) -> str:
    return quote(url, safe=":/?#[]@!$&'*+,;=%~-._")


def citation(hit: Hit) -> str:
    """One citation: article title (linked when the source is a URL) and paragraph."""
    title = escape(fit(hit.title, 120))
    if hit.is_url:
        text = f"[{title}]({_link(hit.source)}) · paragraph {hit.paragraph}"
    else:
        text = f"*{title}* · `{fit(hit.source, 120).replace('`', '')}` · paragraph {hit.paragraph}"
    return (
        text
        if len(text) <= CITATION_LIMIT
        else fit(f"{title} · paragraph {hit.paragraph}", CITATION_LIMIT)
    )


def answer_embed(answer: Answer, page: int = 0) -> discord.Embed:
    """The /ask answer: one field per passage (text with terms in bold, then its citation)."""
    title = fit(answer.query, TITLE_LIMIT)
    footer = fit(
        f"Searched {answer.articles_searched} article{'s' * (answer.articles_searched != 1)} "
        f"in {answer.latency_ms:.0f} ms" + (f" · page {page + 1}" if page else ""),
        FOOTER_LIMIT,
    )
    if not answer.hits:
        embed = discord.Embed(
            title=title,
            colour=COLOUR_NONE,
            description=(
                "Nothing in the articles I can search answers this."
                if page == 0
                else "There are no more passages for this question."
            )
            + "\nTry other words, or see `/sources` for what I know; a moderator can add a "
            "source with `/source add`.",
        )
        embed.set_footer(text=footer)
        return embed
    embed = discord.Embed(title=title, colour=COLOUR_ANSWER)
    hits = answer.hits[:MAX_FIELDS]
    # Names get at most a quarter of the 6,000 characters, values share the rest.
    name_limit = min(FIELD_NAME_LIMIT, max(12, 1500 // len(hits)))
    names = [fit(f"[{h.rank}] {h.title}", name_limit) for h in hits]
    cites = [citation(h) for h in hits]
    spare = EMBED_TOTAL_LIMIT - len(title) - len(footer) - sum(map(len, names)) - 10
    per_field = max(1, min(FIELD_VALUE_LIMIT, spare // len(hits)))
    for hit, name, cite in zip(hits, names, cites, strict=True):
        room = per_field - len(cite) - 1
        value = f"{highlighted(hit, room)}\n{cite}" if room >= 40 else fit(cite, per_field)
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=footer)
    return embed


def summary_embed(summary: Summary) -> discord.Embed:
    embed = discord.Embed(
        title=fit(summary.title, TITLE_LIMIT),
        description=fit(escape(summary.summary), DESCRIPTION_LIMIT) or "(no summary)",
        colour=COLOUR_ANSWER,
    )
    if summary.source.startswith(("http://", "https://")):
        embed.url = _link(summary.source)
    embed.add_field(name="Source", value=fit(escape(summary.source), FIELD_VALUE_LIMIT))
    embed.set_footer(text=f"Article {summary.doc_id} · extractive summary")
    return embed


def sources_page_count(total: int) -> int:
    return max(1, math.ceil(total / SOURCES_PER_PAGE))


def sources_embed(sources: Sequence[Source], page: int) -> discord.Embed:
    """One page of the sources this server sees."""
    pages = sources_page_count(len(sources))
    page = min(max(page, 0), pages - 1)
    chunk = sources[page * SOURCES_PER_PAGE : (page + 1) * SOURCES_PER_PAGE]
    lines = []
    for s in chunk:
        scope = "bundled" if s.bundled else ("this server" if s.guild_id else "all servers")
        where = _link(s.source) if s.source.startswith(("http://", "https://")) else s.source
        line = (
            f"**{s.doc_id}.** {escape(fit(s.title, 150))}\n{escape(fit(where, 150))} · "
            f"{s.passages} passages · {scope}"
        )
        lines.append(line)
    embed = discord.Embed(
        title="Sources",
        description=join_lines(lines, DESCRIPTION_LIMIT) or "No sources yet.",
        colour=COLOUR_ANSWER,
    )
    embed.set_footer(text=f"{len(sources)} sources · page {page + 1} of {pages}")
    return embed


def added_embed(result: AddResult) -> discord.Embed:
    s = result.source
    embed = discord.Embed(
        title=fit(f"Added: {s.title}", TITLE_LIMIT),
        description=fit(escape(result.summary), DESCRIPTION_LIMIT - 200) or "(no summary)",
        colour=COLOUR_OK,
    )
    embed.add_field(name="Source", value=fit(escape(s.source), FIELD_VALUE_LIMIT))
    embed.add_field(name="Passages", value=str(result.passages))
    embed.add_field(name="Id", value=str(s.doc_id))
    return embed


def removed_embed(source: Source) -> discord.Embed:
    return discord.Embed(
        description=fit(
            f"Removed source {source.doc_id}: {escape(source.title)}", DESCRIPTION_LIMIT
        ),
        colour=COLOUR_OK,
    )


def refresh_embed(results: Sequence[RefreshResult]) -> discord.Embed:
    """What /source refresh did to each source, with totals."""
    marks = {"changed": "🔄", "unchanged": "✅", "skipped": "➖", "failed": "⚠️"}
    lines = [
        f"{marks.get(r.status, '')} **{r.status}** {escape(fit(r.source.title, 120))}"
        + (f": {escape(r.detail)}" if r.detail else "")
        for r in results
    ]
    counts = {k: sum(r.status == k for r in results) for k in marks}
    embed = discord.Embed(
        title="Refresh",
        description=join_lines(lines, DESCRIPTION_LIMIT)
        or "This server has no sources to refresh.",
        colour=COLOUR_ERROR if counts["failed"] else COLOUR_OK,
    )
    embed.set_footer(text=", ".join(f"{n} {k}" for k, n in counts.items()))
    return embed


def log_embed(
    view: str, rows: Sequence[QueryRecord] | Sequence[TopQuery] | Sequence[FeedbackRow]
) -> discord.Embed:
    """A moderator's view of this server's query log."""
    titles = {
        "recent": "Recent questions",
        "top": "Most asked",
        "unanswered": "Unanswered questions",
        "feedback": "Feedback on answers",
    }
    lines: list[str] = []
    for row in rows:
        if isinstance(row, TopQuery):
            line = f"**{row.count}×** {escape(row.query)} · answered {row.answered}/{row.count}"
        elif isinstance(row, FeedbackRow):
            line = (
                f"👍 {row.helpful} 👎 {row.not_helpful} · {escape(row.query)} "
                f"(#{row.query_id}, {row.asked_at[:10]})"
            )
        else:
            who = f"<@{row.user_id}>" if row.user_id else row.surface
            mark = "" if row.answered else " · **unanswered**"
            line = (
                f"`#{row.id}` {row.asked_at[:16].replace('T', ' ')} {who}: "
                f"{escape(row.query)}{mark}"
            )
        lines.append(line)
    return discord.Embed(
        title=titles.get(view, "Query log"),
        description=join_lines(lines, DESCRIPTION_LIMIT) or "No questions logged here yet.",
        colour=COLOUR_ANSWER,
    )


def error_embed(message: str) -> discord.Embed:
    return discord.Embed(description=fit(message, DESCRIPTION_LIMIT), colour=COLOUR_ERROR)


def choice_name(text: str) -> str:
    return fit(" ".join(text.split()), CHOICE_NAME_LIMIT) or "untitled"
