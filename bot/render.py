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
from typing import TYPE_CHECKING
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
from retrieval.reports import PassageContext

if TYPE_CHECKING:
    from retrieval.gaps import Gap
    from retrieval.log_stats import LogStats
from retrieval.server_settings import ServerSettings

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
DIRECT_LIMIT = 1000  # the direct answer's share of an answer's 6,000 characters
QUERY_LIMIT = 1000  # a logged question as shown in /logs, before the lines share the embed
SOURCES_PER_PAGE = 10

COLOUR_ANSWER = discord.Colour.blurple()
COLOUR_NONE = discord.Colour.light_grey()
COLOUR_OK = discord.Colour.green()
COLOUR_ERROR = discord.Colour.red()

ELLIPSIS = "…"
_MASKED_LINK = re.compile(r"\](?=\()")


def fit(text: str, limit: int, *, strip: bool = True) -> str:
    """`text` cut to at most `limit` characters, at a word boundary when one is near.

    Safe on escaped text: a cut never ends in an odd run of backslashes (half an escape, which
    would escape the ellipsis and leave the text after it live).
    """
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
    cut = cut.rstrip()
    # Escapes are "\x": dropping every trailing backslash keeps the pairs before them whole.
    while cut.endswith("\\"):
        cut = cut[:-1].rstrip()
    return cut + ELLIPSIS


_MARKDOWN_CHARS = r"\\*_~`|\[\]<"
_MARKDOWN = re.compile(f"([{_MARKDOWN_CHARS}])")
# Block syntax (headings, quotes, lists, "-#" subtext) only counts at the start of a line; the
# indent is bounded to the line so the pattern stays linear on text with many blank lines.
_BLOCK_CHARS = r"#>+\-"
_LINE_START = re.compile(f"^([ \\t]*)([{_BLOCK_CHARS}])", re.MULTILINE)
# Controls (but tab and newline), bidi overrides and isolates, zero-width and invisible joiners:
# pasted or planted, they reorder or hide what the reader sees.
_INVISIBLE_CHARS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2069\u115f\u1160\u3164\uffa0\ufeff"
)
_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARS}]")
# Discord's parser (JavaScript) starts a line after these too; Python's "^" does not.
_LINE_SEPARATORS = str.maketrans({"\u2028": "\n", "\u2029": "\n", "\u0085": "\n"})
# Any character `escape` changes or reacts to: text without one is shown as it is (most of a
# passage's pieces between highlights), found with one search instead of five passes.
_TOUCHED = re.compile(f"[{_MARKDOWN_CHARS}{_BLOCK_CHARS}{_INVISIBLE_CHARS}@\u2028\u2029\u0085]")


def visible(text: str) -> str:
    """`text` without control, direction-override, zero-width and blank-looking characters."""
    return _INVISIBLE.sub("", text.translate(_LINE_SEPARATORS))


def escape(text: str) -> str:
    """Markdown, masked links, mentions and direction overrides made inert: text shows as typed.

    Every character Discord's Markdown reacts to gets a backslash (discord.py's escape_markdown
    leaves some constructs alone), so "[text](url)" cannot become a masked link; "@" gets a
    zero-width space so no mention forms; invisible and bidi characters are dropped.
    """
    if _TOUCHED.search(text) is None:
        return text
    text = _MARKDOWN.sub(r"\\\1", visible(text))
    text = _LINE_START.sub(r"\1\\\2", text)
    return text.replace("@", "@\u200b")


def safe(text: str, limit: int, *, one_line: bool = False) -> str:
    """User-supplied `text` escaped and cut to `limit`, the limit holding after escaping.

    Cut before escaping so the work is bounded by `limit`, not by the text; cut again after,
    since escaping can double the length (`fit` never splits an escape). `one_line` folds
    whitespace, for titles and names where a line break has no place.
    """
    text = fit(text, limit)
    if one_line:
        text = " ".join(text.split())
    return fit(escape(text), limit)


def highlighted(hit: Hit, limit: int) -> str:
    """The passage with query terms in bold, escaped, cut to `limit` without a broken marker."""
    return bolded(hit.text, hit.highlights, limit)


def bolded(raw_text: str, spans: Sequence[tuple[int, int]], limit: int) -> str:
    """`raw_text` escaped with `spans` of it in bold, cut to `limit` without a broken marker."""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for start, end in sorted(spans):
        if start < pos:
            continue
        pieces += [(raw_text[pos:start], False), (raw_text[start:end], True)]
        pos = end
    pieces.append((raw_text[pos:], False))
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


# Line breaks Discord honours, each replaced by one space (offsets into the text stay valid).
_ONE_LINE = str.maketrans(dict.fromkeys("\n\r\x0b\x0c\x85\u2028\u2029", " "))


def direct_answer_lines(answer: Answer, limit: int = DIRECT_LIMIT) -> str:
    """The direct answer as two lines: the sentence, escaped, with its answer span in bold,
    then "from [rank] <title>"; "" when the answer has none."""
    direct = answer.direct
    if direct is None:
        return ""
    title = next((h.title for h in answer.hits if h.rank == direct.rank), "")
    source = fit(f"from [{direct.rank}] {safe(title, 200, one_line=True)}", 250)
    spans = (direct.span,) if direct.span else ()
    sentence = bolded(direct.text.translate(_ONE_LINE), spans, limit - len(source) - 1)
    return f"{sentence}\n{source}" if sentence else source


def searched_for_line(answer: Answer) -> str:
    """ "Searched for *harbor* (you typed *harbour*)" for words the corpus did not know."""
    if not answer.searched_for:
        return ""
    pairs = ", ".join(
        f"*{safe(used, 60, one_line=True)}* (you typed *{safe(typed, 60, one_line=True)}*)"
        for typed, used in answer.searched_for[:5]
    )
    return fit(f"Searched for {pairs}", 400)


def followed_up_line(answer: Answer) -> str:
    """For a follow-up (a question asked in a thread on an answer): what it follows up."""
    if not answer.context:
        return ""
    earlier = safe(answer.context, 200, one_line=True)
    return f"↪ Following up on *{earlier}* (its words count less than yours)."


def join_lines(lines: Sequence[str], limit: int) -> str:
    """Lines joined by newlines within `limit`: each line gets an equal share."""
    if not lines:
        return ""
    share = max(1, (limit - (len(lines) - 1)) // len(lines))
    return fit("\n".join(fit(line, share) for line in lines), limit)


def _link(url: str) -> str:
    return quote(url, safe=":/?#[]@!$&'*+,;=%~-._")


# A word of a text fragment's start or end: letters and digits, with inner punctuation that
# pages write the same way (1,024, U.S., 5.6, state-of-the-art, it's); quotes and dashes that
# a page may write otherwise than the cleaned passage does end the phrase.
_PLAIN_WORD = re.compile(r"[^\W_]+(?:[.,'\-%][^\W_]+)*[.,;:!?]?")
FRAGMENT_WORDS = 5  # words of the passage's start (and of its end) in a text fragment


def _phrase(words: Sequence[str]) -> str:
    """The longest run of plain words from the start of `words`, without its last word's
    trailing punctuation."""
    taken = []
    for word in words[:FRAGMENT_WORDS]:
        if not _PLAIN_WORD.fullmatch(word):
            break
        taken.append(word)
    return " ".join(taken).rstrip(".,;:!?")


def _directive(term: str) -> str:
    """A text fragment's term: percent-encoded, with "-", "," and "&" too (they have a
    meaning in the directive)."""
    return quote(term, safe="").replace("-", "%2D")


def deep_link(url: str, passage: str) -> str:
    """`url` with a text fragment (`#:~:text=start,end`) that opens the page at the passage and
    highlights it, in browsers that support it; others open the page, as without one. The
    start is the passage's first few plain words, the end its last few; no fragment when the
    passage starts with none."""
    words = passage.split()
    start = _phrase(words)
    if not start:
        return _link(url)
    # The end: the passage's last few plain words, after the start's (the two never overlap).
    tail: list[str] = []
    for word in reversed(words[FRAGMENT_WORDS:][-FRAGMENT_WORDS:]):
        if not _PLAIN_WORD.fullmatch(word):
            break
        tail.append(word)
    end = " ".join(reversed(tail)).rstrip(".,;:!?")
    directive = _directive(start) + (f",{_directive(end)}" if end else "")
    joiner = ":~:text=" if "#" in url else "#:~:text="
    return f"{_link(url)}{joiner}{directive}"


def _when(iso: str | None) -> str:
    """A stored time as a Discord timestamp (each reader sees it in their own time zone)."""
    if not iso:
        return ""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return ""
    return f"<t:{int(moment.timestamp())}:D>"


def _when_full(iso: str | None) -> str:
    """A stored time as a Discord timestamp with date and time (`<t:unix:f>`)."""
    short = _when(iso)
    return short.replace(":D>", ":f>") if short else ""


def provenance(kind: str, source: str, added_by: str | None, added_at: str | None) -> str:
    """Where an article came from, for a reader: who added it and when (a web page is a link
    of its own)."""
    if kind == "seed" or added_by == "citebot":
        return "bundled with citebot"
    who = f"<@{added_by}>" if added_by and added_by.isdigit() else "the bot's operator"
    when = _when(added_at)
    what = {"text": "pasted text", "file": "a file", "url": "a web page"}.get(kind, "a source")
    return f"{what} added by {who}" + (f" on {when}" if when else "")


def _site(url: str) -> str:
    """A URL as link text: its host and path, escaped, short."""
    shown = url.split("://", 1)[-1].split("#", 1)[0].rstrip("/")
    return safe(shown, 80, one_line=True)


def citation(hit: Hit) -> str:
    """One citation a member can follow (the title is the field's name, not repeated): a web
    page's link opens it at the passage; any other source says who added it and when.
    "Show in context" (a button) shows any passage with the ones around it."""
    if hit.is_url:
        text = (
            f"[{_site(hit.source)} ↗]({deep_link(hit.source, hit.text)}) · "
            f"paragraph {hit.paragraph}"
        )
        if len(text) > CITATION_LIMIT:  # a very long address: the page without the fragment
            text = f"[{_site(hit.source)} ↗]({_link(hit.source)}) · paragraph {hit.paragraph}"
    else:
        text = (
            f"{provenance(hit.kind, hit.source, hit.added_by, hit.added_at)} · "
            f"paragraph {hit.paragraph}"
        )
    return text if len(text) <= CITATION_LIMIT else f"paragraph {hit.paragraph}"


CONTEXT_PASSAGE_LIMIT = 2000  # of the description's 4,096: the cited passage ...
CONTEXT_AROUND_LIMIT = 900  # ... and each side around it


def context_embed(context: PassageContext) -> discord.Embed:
    """Show in context: the cited passage (in bold) between the passages around it in its
    article, with where the article came from."""
    before = fit("\n\n".join(context.before)[-CONTEXT_AROUND_LIMIT:], CONTEXT_AROUND_LIMIT)
    after = fit("\n\n".join(context.after), CONTEXT_AROUND_LIMIT)
    parts = []
    if before:
        cut = len(before) >= CONTEXT_AROUND_LIMIT
        parts.append(("…" if cut else "") + escape(before.lstrip()))
    parts.append(f"**{safe(context.text, CONTEXT_PASSAGE_LIMIT)}**")
    if after:
        parts.append(escape(after))
    embed = discord.Embed(
        title=safe(context.title, TITLE_LIMIT, one_line=True) or "(untitled)",
        description=fit("\n\n".join(parts), DESCRIPTION_LIMIT),
        colour=COLOUR_ANSWER,
    )
    if context.source.startswith(("http://", "https://")):
        embed.url = deep_link(context.source, context.text)
        where = _site(context.source)
    else:
        where = provenance(context.kind, context.source, context.added_by, context.added_at)
    embed.add_field(name="Source", value=fit(f"{where} · paragraph {context.paragraph}", 1024))
    return embed


def answer_embed(answer: Answer, page: int = 0) -> discord.Embed:
    """The /ask answer: the direct answer first (the description), then one field per
    passage (text with terms in bold, then its citation)."""
    title = safe(answer.query, TITLE_LIMIT, one_line=True)
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
    # The direct answer leads; the passages below are its evidence.
    description = "\n".join(
        line
        for line in (
            followed_up_line(answer),
            searched_for_line(answer),
            direct_answer_lines(answer),
        )
        if line
    )
    description = description or None
    embed = discord.Embed(title=title, colour=COLOUR_ANSWER, description=description)
    hits = answer.hits[:MAX_FIELDS]
    # Names get at most a quarter of the 6,000 characters, values share the rest.
    name_limit = min(FIELD_NAME_LIMIT, max(12, 1500 // len(hits)))
    names = [
        fit(f"[{h.rank}] {safe(h.title, name_limit, one_line=True)}", name_limit) for h in hits
    ]
    cites = [citation(h) for h in hits]
    spare = (
        EMBED_TOTAL_LIMIT
        - len(title)
        - len(footer)
        - len(description or "")
        - sum(map(len, names))
        - 10
    )
    per_field = max(1, min(FIELD_VALUE_LIMIT, spare // len(hits)))
    for hit, name, cite in zip(hits, names, cites, strict=True):
        room = per_field - len(cite) - 1
        value = f"{highlighted(hit, room)}\n{cite}" if room >= 40 else fit(cite, per_field)
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=footer)
    return embed


def summary_embed(summary: Summary) -> discord.Embed:
    embed = discord.Embed(
        title=safe(summary.title, TITLE_LIMIT, one_line=True) or "(untitled)",
        description=safe(summary.summary, DESCRIPTION_LIMIT) or "(no summary)",
        colour=COLOUR_ANSWER,
    )
    if summary.source.startswith(("http://", "https://")):
        embed.url = _link(summary.source)
    embed.add_field(name="Source", value=safe(summary.source, FIELD_VALUE_LIMIT))
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
            f"**{s.doc_id}.** {safe(s.title, 150, one_line=True)}\n{safe(where, 150)} · "
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
        title=fit(f"Added: {safe(s.title, TITLE_LIMIT, one_line=True)}", TITLE_LIMIT),
        description=safe(result.summary, DESCRIPTION_LIMIT - 200) or "(no summary)",
        colour=COLOUR_OK,
    )
    embed.add_field(name="Source", value=safe(s.source, FIELD_VALUE_LIMIT))
    embed.add_field(name="Passages", value=str(result.passages))
    embed.add_field(name="Id", value=str(s.doc_id))
    return embed


def removed_embed(source: Source) -> discord.Embed:
    return discord.Embed(
        description=fit(
            f"Removed source {source.doc_id}: {safe(source.title, 1000, one_line=True)}",
            DESCRIPTION_LIMIT,
        ),
        colour=COLOUR_OK,
    )


def refresh_embed(results: Sequence[RefreshResult]) -> discord.Embed:
    """What /source refresh did to each source, with totals."""
    marks = {"changed": "🔄", "unchanged": "✅", "skipped": "➖", "failed": "⚠️"}
    lines = [
        f"{marks.get(r.status, '')} **{r.status}** {safe(r.source.title, 120, one_line=True)}"
        + (f": {safe(r.detail, 300)}" if r.detail else "")
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
            query = safe(row.query, QUERY_LIMIT)
            line = f"**{row.count}×** {query} · answered {row.answered}/{row.count}"
        elif isinstance(row, FeedbackRow):
            line = (
                f"👍 {row.helpful} 👎 {row.not_helpful} · {safe(row.query, QUERY_LIMIT)} "
                f"(#{row.query_id}, {row.asked_at[:10]})"
            )
            if row.reasons:
                why = "; ".join(safe(r, 200, one_line=True) for r in row.reasons[:3])
                line += f"\n  ↳ why not: {why}"
        else:
            who = f"<@{row.user_id}>" if row.user_id else row.surface
            mark = "" if row.answered else " · **unanswered**"
            # A Discord timestamp: each reader sees it in their own time zone.
            when = _when_full(row.asked_at) or row.asked_at[:16].replace("T", " ")
            line = f"`#{row.id}` {when} {who}: {safe(row.query, QUERY_LIMIT)}{mark}"
            if row.message_url:  # the answer as posted (or the member's message it answered)
                line += f" · [message]({row.message_url})"
        lines.append(line)
    return discord.Embed(
        title=titles.get(view, "Query log"),
        description=join_lines(lines, DESCRIPTION_LIMIT) or "No questions logged here yet.",
        colour=COLOUR_ANSWER,
    )


def settings_embed(
    settings: ServerSettings,
    *,
    default_roles: frozenset[int],
    default_cooldown: tuple[int, float],
    message_content: bool,
    done: str = "",
) -> discord.Embed:
    """A server's settings as `/settings show` lists them; `done`: what the moderator just
    changed, said first. Roles and channels are mentions (Discord shows their names, and a
    mention in an embed notifies nobody)."""

    def roles(ids: frozenset[int]) -> str:
        return ", ".join(f"<@&{i}>" for i in sorted(ids)) or "none"

    if settings.moderator_roles is None:
        moderators = f"{roles(default_roles)} (the bot's default)"
    else:
        moderators = roles(settings.moderator_roles)
    asks, seconds = settings.cooldown or default_cooldown
    cooldown = f"{asks} question{'s' * (asks != 1)} per {seconds:g} s" + (
        " (the bot's default)" if settings.cooldown is None else ""
    )
    channels = ", ".join(f"<#{i}>" for i in sorted(settings.auto_answer_channels)) or "none"
    if settings.auto_answer_channels and not message_content:
        channels += (
            "\n⚠️ The bot cannot read messages: its Message Content intent is off, so these "
            "channels get no answers (see the README, *Auto-answers*)."
        )
    elif not message_content:
        channels += " (needs the Message Content intent, which is off for this bot)"
    embed = discord.Embed(
        title="citebot settings for this server",
        description=fit(done, DESCRIPTION_LIMIT) or None,
        colour=COLOUR_OK if done else COLOUR_ANSWER,
    )
    embed.add_field(name="Moderator roles", value=fit(moderators, FIELD_VALUE_LIMIT), inline=False)
    embed.add_field(
        name="Answers", value="private (only the asker)" if settings.private_answers else "public"
    )
    embed.add_field(name="Cooldown", value=cooldown)
    embed.add_field(name="Auto-answer in", value=fit(channels, FIELD_VALUE_LIMIT), inline=False)
    digest = f"<#{settings.digest_channel}> (weekly)" if settings.digest_channel else "not sent"
    embed.add_field(name="Weekly digest", value=digest)
    days = settings.retention_days
    kept = f"{days} day{'s' * (days != 1)} (older ones deleted daily)" if days else "until deleted"
    embed.add_field(name="Questions kept", value=kept)
    return embed


def help_embed(
    everyone: Sequence[str], moderators: Sequence[str], example: str | None
) -> discord.Embed:
    """/help: what citebot does, the commands (moderators' too, for a moderator), a question to
    try (`example`, from this server's corpus)."""
    embed = discord.Embed(
        title="citebot: answers with their sources",
        description=(
            "Ask a question and I answer from the articles this server has added (and a few "
            "bundled ones): the sentence that answers first, then the passages that say so, "
            "each with a citation you can follow."
        ),
        colour=COLOUR_ANSWER,
    )
    embed.add_field(name="Commands", value=join_lines(everyone, FIELD_VALUE_LIMIT), inline=False)
    if moderators:
        embed.add_field(
            name="For moderators", value=join_lines(moderators, FIELD_VALUE_LIMIT), inline=False
        )
    if example:
        embed.add_field(
            name="Try",
            value=fit(f"`/ask question:` {safe(example, 300, one_line=True)}", FIELD_VALUE_LIMIT),
            inline=False,
        )
    return embed


def stats_embed(stats: LogStats) -> discord.Embed:
    """/logs stats: the period's figures, each with its change against the period before."""
    now, then = stats.current, stats.previous

    def change(a: float | None, b: float | None, unit: str = "") -> str:
        return "" if a is None or b is None else f" ({a - b:+.0f}{unit})"

    def share(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.0f}%"

    def points(value: float | None) -> float | None:
        return None if value is None else 100 * value

    embed = discord.Embed(
        title=f"Questions in the last {stats.days} days",
        description=f"Since <t:{int(stats.since.timestamp())}:f>; changes against the "
        f"{stats.days} days before.",
        colour=COLOUR_ANSWER,
    )
    embed.add_field(
        name="Questions", value=f"{now.questions}{change(now.questions, then.questions)}"
    )
    embed.add_field(name="People asking", value=f"{now.askers}{change(now.askers, then.askers)}")
    embed.add_field(
        name="Answered",
        value=share(now.answered_share)
        + change(points(now.answered_share), points(then.answered_share), " pts"),
    )
    embed.add_field(
        name="Helpful",
        value=f"{share(now.helpful_share)} of {now.votes} vote{'s' * (now.votes != 1)}"
        + change(points(now.helpful_share), points(then.helpful_share), " pts"),
    )
    median = "-" if now.median_ms is None else f"{now.median_ms:.0f} ms"
    embed.add_field(name="Median answer", value=median)
    return embed


GAPS_SHOWN = 5  # with their "Add a source" buttons (one row), within an embed's 6,000
GAP_FIELD_LIMIT = 900  # 5 x (200 + 900) + title and footer stay under 6,000


def gaps_embed(gaps: Sequence[Gap]) -> discord.Embed:
    """/logs gaps: the largest clusters of unanswered and not-helpful questions."""
    embed = discord.Embed(
        title="Gaps to close",
        description=None if gaps else "No unanswered or not-helpful questions here yet.",
        colour=COLOUR_ANSWER,
    )
    for n, gap in enumerate(gaps[:GAPS_SHOWN], 1):
        about = ", ".join(gap.terms) or "(no searchable words)"
        asked = "\n".join(f"• {safe(w, 200, one_line=True)}" for w in gap.wordings)
        counts = f"{gap.unanswered} unanswered, {gap.not_helpful} not helpful"
        embed.add_field(
            name=fit(f"{n}. {about} ({gap.count})", 200),
            value=fit(f"{counts}\n{asked}", GAP_FIELD_LIMIT),
            inline=False,
        )
    if len(gaps) > GAPS_SHOWN:
        embed.set_footer(text=f"{len(gaps) - GAPS_SHOWN} smaller clusters not shown")
    return embed


def gap_closed_embed(title: str, asked: Sequence[str], answered: Sequence[bool]) -> discord.Embed:
    """What adding a source for a gap did: which of its questions the corpus answers now."""
    done = sum(answered)
    lines = [
        f"{'✅' if ok else '❌'} {safe(q, 200, one_line=True)}"
        for q, ok in zip(asked, answered, strict=True)
    ]
    return discord.Embed(
        title=fit(f"Added: {safe(title, 200, one_line=True)}", TITLE_LIMIT),
        description=fit(
            f"{done} of {len(asked)} of the cluster's questions get an answer now.\n"
            + "\n".join(lines),
            DESCRIPTION_LIMIT,
        ),
        colour=COLOUR_OK if done else COLOUR_NONE,
    )


def gap_announcement(asker: int | None, question: str, answer: Answer) -> str:
    """The note under an earlier answer (or question) once a source added for its gap answers
    it: who asked, the answering sentence, where it comes from; within a message's 2,000."""
    top = answer.hits[0] if answer.hits else None
    sentence = answer.direct.text if answer.direct else (top.text if top else "")
    lines = [
        (f"<@{asker}> " if asker else "")
        + f"a source added since answers “{safe(question, 300, one_line=True)}”:",
        f"> {safe(sentence, 900, one_line=True)}",
    ]
    if top is not None:
        lines.append(f"— **{safe(top.title, 200, one_line=True)}**, {citation(top)}")
    lines.append("Ask again with `/ask` for the passages.")
    return fit("\n".join(lines), CONTENT_LIMIT)


def gap_told_embed(told: int, private: int, failed: int) -> discord.Embed:
    """What telling a closed gap's askers did."""
    parts = [f"Told {told} asker{'s' * (told != 1)} under their answers."]
    if private:
        parts.append(
            f"{private} question{'s' * (private != 1)} got a private answer or none posted: "
            "there is nothing to reply under."
        )
    if failed:
        parts.append(
            f"{failed} could not be reached (the message or channel is gone, or beyond the "
            "newest 25)."
        )
    return discord.Embed(description=" ".join(parts), colour=COLOUR_OK if told else COLOUR_NONE)


def forgotten_embed(questions: int, votes: int, whose: str, where: str) -> discord.Embed:
    """What a deletion from the query log deleted (`whose`: "your", "<@id>'s")."""
    said = f"{questions} question{'s' * (questions != 1)}"
    voted = f"{votes} vote{'s' * (votes != 1)}"
    return discord.Embed(
        description=f"Deleted {whose} {said} and {voted} {where}.", colour=COLOUR_OK
    )


def error_embed(message: str) -> discord.Embed:
    return discord.Embed(description=fit(message, DESCRIPTION_LIMIT), colour=COLOUR_ERROR)


def choice_name(text: str) -> str:
    """A title as an autocomplete choice, readable as typed but with nothing hidden.

    Discord shows choice names as plain text, so a backslash would show; instead invisible and
    bidi characters go, whitespace folds, and "](" gets a space so no masked link can form
    wherever the name is ever rendered.
    """
    text = " ".join(visible(fit(text, 4 * CHOICE_NAME_LIMIT)).split())
    return fit(_MASKED_LINK.sub("] ", text), CHOICE_NAME_LIMIT) or "untitled"
