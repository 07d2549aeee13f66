"""From raw article text to a title and a list of typed blocks, boilerplate removed.

Articles arrive as text copied or extracted from web pages, so they carry the page around them:
shop menus, bylines, tables of contents, "Similar Posts", notices that the post was generated.
Cleaning works on lines, classifies each as heading, question, bullet or paragraph, and drops
what a reader would skip. The passage splitter and the summarizer both start from its output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from retrieval.analyzer import normalize
from retrieval.stopwords import STOP_WORDS

BlockKind = Literal["heading", "question", "bullet", "paragraph"]


@dataclass(frozen=True, slots=True)
class Block:
    """One line-level unit of an article."""

    kind: BlockKind
    text: str


@dataclass(frozen=True, slots=True)
class Article:
    """A cleaned article: its title, whether the title was derived, and its body blocks."""

    title: str
    blocks: tuple[Block, ...]
    title_derived: bool = False
    # Sentences of the paragraphs split so far: the passage splitter and the summarizer read
    # the same long paragraphs, and splitting one of two million characters twice is waste.
    split: dict[str, list[str]] = field(default_factory=dict, init=False, repr=False, compare=False)
    # The body's words (`text.split()`), split once: its hash, its word count and the length of
    # its summary all read them.
    split_words: list[list[str]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks)

    def words(self) -> list[str]:
        """The body's words, as `text.split()` gives them."""
        if not self.split_words:
            self.split_words.append(self.text.split())
        return self.split_words[0]

    def sentences(self, text: str) -> list[str]:
        """The sentences of `text` (a block's text), split once per article."""
        from retrieval.sentences import split_sentences

        if text not in self.split:
            self.split[text] = split_sentences(text)
        return self.split[text]


_BULLET = re.compile(r"^(?:[•·▪●◦‣∙*+\-–]|\d{1,3}[.)])\s+")
# A sentence's end: one of these, then only closing quotes and brackets to the end of the line.
_TERMINALS = (".", "!", "?", "…")
_CLOSERS = "\"'”’)]"
_WORD = re.compile(r"\w+")

# Icon names, shop and social-network words that page chrome leaves as a run of words.
_UI_WORDS = frozenset(
    """
    arrow arrow-right arrow-left cart chevron chevron-down chevron-left chevron-right
    chevron-up close menu minus plus play search share user email pinterest facebook
    instagram snapchat tumblr twitter vimeo youtube subscribe linkedin whatsapp reddit
    telegram tiktok rss login logout account wishlist checkout trash home print copy link x
    amazon_payments american_express apple_pay google_pay bitcoin dogecoin litecoin paypal
    stripe visa master maestro discover jcb diners_club dankort dwolla interac cirrus
    forbrugsforeningen fancy shopify_pay klarna
    """.split()
)
# Short lines that are page chrome when they stand alone (any language the shops speak).
_CHROME_LINES = frozenset(
    (
        "panier",
        "cart",
        "menu",
        "search",
        "close",
        "share",
        "by",
        "par",
        "von",
        "advertisement",
        "sponsored",
        "skip to content",
        "skip to main content",
        "sign in",
        "log in",
        "subscribe",
        "share this article",
        "posted by",
        "written by",
        "print",
    )
)
_RELATIVE_DATE = re.compile(
    r"^(?:il y a \d+ (?:jours?|heures?|minutes?|mois|ans?)"
    r"|vor \d+ \w+"
    r"|hace \d+ \w+"
    r"|\d+ (?:minutes?|hours?|days?|weeks?|months?|years?) ago"
    r"|\d+ min(?:ute)?s? read)$",
    re.IGNORECASE,
)
_TOC_HEADINGS = frozenset(
    ("table of contents", "contents", "in this article", "on this page", "jump to")
)
_TRAILERS = frozenset(
    (
        "similar posts",
        "related posts",
        "related articles",
        "related stories",
        "you may also like",
        "you might also like",
        "read more",
        "more from this author",
        "leave a reply",
        "leave a comment",
        "comments",
        "share this:",
        "share this",
        "recommended for you",
    )
)
_GENERATED_NOTICE = re.compile(
    r"automatically generated|auto-generated|machine[- ]translated", re.I
)
# Every match of _GENERATED_NOTICE holds one of these in lower case (its letters have no other
# case forms), so a line without them is not searched.
_NOTICE_WORDS = ("generated", "lated")
_FAQ_HEADINGS = frozenset(("faq", "faqs", "frequently asked questions"))
_SECTION_KEY_WORDS = max(len(k.split()) for k in _TRAILERS | _TOC_HEADINGS)
_LONGEST_TRAILER = max(map(len, _TRAILERS))
_MD_HEADING = re.compile(r"^#{1,6}\s+")
_BLANK_LINES = re.compile(r"\n(?:[^\S\n]*+\n)+")

MAX_TITLE_WORDS = 20
_KEY_HEAD_CHARS = 200  # a line's start, enough for the first words of a key (see _line_key)
TITLE_SCAN_CHARS = 5000
MAX_ICON_RUN_WORDS = 300  # a header's icons and shop links; a longer line is not one
MAX_HEADING_WORDS = 14
# A section title written as a sentence ("History.", "Early life and career.", as Wikipedia's
# plain-text dumps write them) is at most this many words: no digits, no verb or pronoun.
MAX_DOTTED_HEADING_WORDS = 6
_NOT_IN_HEADINGS = frozenset(
    """
    i you he she it we they me him her us them this these that those there here is are was were
    be been being has have had do does did will would can could should may might must shall not
    """.split()
)


def title_key(text: str) -> str:
    """A comparison key: case, quotes and punctuation ignored (for duplicate titles)."""
    return " ".join(_WORD.findall(normalize(text).casefold()))


def _line_key(line: str, max_words: int) -> str | None:
    """title_key of text that is already normalised, as every line `_logical_lines` returns
    is (the same key, without normalising each line again); None past `max_words` words,
    when it can equal none of the keys it is compared with (a line of a million words is
    not made into a key of a million words).

    Only the line's start is case-folded when its first words decide: folding goes character
    by character, so the start's words are the whole line's first words."""
    head = line[:_KEY_HEAD_CHARS]
    key = _head_key(head, max_words)
    if key is None or len(head) == len(line):
        return key
    return _head_key(line, max_words)


def _head_key(text: str, max_words: int) -> str | None:
    words: list[str] = []
    for m in _WORD.finditer(text.casefold()):
        if len(words) == max_words:
            return None
        words.append(m.group())
    return " ".join(words)


def _word_count(text: str) -> int:
    return len(text.split())


def _terminal(line: str) -> bool:
    """Whether the line ends as a sentence does: a full stop, "!", "?" or "…", then nothing but
    closing quotes and brackets (read from the end, not tried at every position of a long
    paragraph as a pattern anchored at "$" would be)."""
    return line.rstrip(_CLOSERS).endswith(_TERMINALS)


def _generated_notice(line: str) -> bool:
    """Whether the line says the article was generated or machine-translated."""
    low = line.lower()
    return any(w in low for w in _NOTICE_WORDS) and _GENERATED_NOTICE.search(line) is not None


def is_faq_heading(text: str) -> bool:
    return title_key(text) in _FAQ_HEADINGS


def _is_icon_run(line: str) -> bool:
    if not 6 <= line.count(" ") + 1 <= MAX_ICON_RUN_WORDS:  # single spaces, as in _classify
        return False
    words = line.split()
    if re.search(r"[.,!?;:]", line) or line != line.casefold():
        return False
    ui = sum(1 for w in words if w in _UI_WORDS or "_" in w or w.startswith(("chevron", "arrow")))
    return ui / len(words) >= 0.4


def _is_chrome(line: str) -> bool:
    key = line.strip().casefold().rstrip(":")
    return key in _CHROME_LINES or bool(_RELATIVE_DATE.match(key)) or _is_icon_run(line)


def _classify(line: str, markdown_heading: bool) -> Block:
    if markdown_heading:
        return Block("heading", line)
    m = _BULLET.match(line)
    if m:
        return Block("bullet", line[m.end() :].strip())
    words = line.count(" ") + 1  # a logical line has single spaces between its words
    if line.endswith("?") and words <= 25:
        return Block("question", line)
    if line.endswith(":") and words <= 4:
        return Block("heading", line.rstrip(":").strip())
    if (
        words <= MAX_HEADING_WORDS
        and len(line) <= 140
        and not line.endswith((":", ",", ";", "-"))
        and not _terminal(line)
    ):
        return Block("heading", line)
    if _is_dotted_heading(line, words):
        return Block("heading", line[:-1].rstrip())
    return Block("paragraph", line)


def _is_dotted_heading(line: str, words: int) -> bool:
    """A short title that ends with a full stop ("Early life.", "Fruits and seeds."): one
    sentence of a few capitalised-first words, without digits, verbs or pronouns. Without this
    it would be a short paragraph glued to the end of the section before the one it names."""
    if words > MAX_DOTTED_HEADING_WORDS or not line.endswith(".") or line.endswith(".."):
        return False
    body = line[:-1]
    if not body or re.search(r"[\d.!?;:]", body) or not (body[0].isupper() or body[0] in "\"'"):
        return False
    return not any(w.casefold() in _NOT_IN_HEADINGS for w in _WORD.findall(body))


def _logical_lines(raw: str) -> list[tuple[str, bool]]:
    """Normalised non-empty lines, hard-wrapped prose re-joined; flag = markdown heading.

    A joined line is kept as its pieces until the end and every test looks at the last piece
    only, so a file of thousands of wrapped lines costs linear time, not quadratic. A run of
    blank lines is one blank line to the loop (it reads them alike), collapsed beforehand by
    the regex engine: two million line breaks are not two million turns of the loop.
    """
    out: list[tuple[list[str], bool]] = []
    prev_blank = True
    text = normalize(raw).replace("\r\n", "\n").replace("\r", "\n")
    for physical in _BLANK_LINES.sub("\n\n", text).split("\n"):
        line = " ".join(physical.split())
        if not line:
            prev_blank = True
            continue
        md = bool(_MD_HEADING.match(line))
        if md:
            line = _MD_HEADING.sub("", line).strip("# ").strip()
            if not line:
                continue
        last = out[-1][0][-1] if out else ""
        wrapped = (
            out
            and not prev_blank
            and not md
            and not out[-1][1]
            and not _BULLET.match(line)
            and (
                line[0].islower()
                or last.endswith((",", "-", "—"))
                or last.rsplit(" ", 1)[-1].casefold() in STOP_WORDS
            )
            and not _terminal(last)
        )
        if wrapped:
            out[-1][0].append(("" if last.endswith("-") else " ") + line)
        else:
            out.append(([line], md))
        prev_blank = False
    return [("".join(pieces), md) for pieces, md in out]


def derive_title(blocks: list[Block] | tuple[Block, ...], max_words: int = 12) -> str:
    """A title for an article that has none: the first sentence's main clause, shortened.

    Only the paragraph's first TITLE_SCAN_CHARS are read: a title is its first dozen words,
    and a paragraph of two million characters without a sentence break is not read twice.
    """
    from retrieval.sentences import iter_sentences

    for block in blocks:
        if block.kind != "paragraph":
            continue
        first = next(iter_sentences(block.text[:TITLE_SCAN_CHARS]), None)
        if first is None:
            continue
        first = first.rstrip(".!?…")
        clause = re.split(r"[,;:]\s| — | – | - |—", first, maxsplit=1)[0].strip()
        if _word_count(clause) >= 4:
            first = clause
        words = first.split()
        if len(words) > max_words:
            return " ".join(words[:max_words]) + "…"
        return first
    return "Untitled"


def clean_article(raw: str, title: str | None = None) -> Article:
    """Clean raw article text. `title` overrides the detected one (it is still de-duplicated)."""
    lines = _logical_lines(raw)
    blocks: list[Block] = []
    skip_next = False
    in_toc = False
    seen_paragraph = False
    dotted: dict[int, str] = {}  # block index -> the line of a heading that ends in "."
    for line, md in lines:
        if skip_next:
            skip_next = False
            continue
        key = _line_key(line, _SECTION_KEY_WORDS)
        # (folding never shortens a line: one longer than every trailer is none of them)
        if key in _TRAILERS or (
            len(line.rstrip(":")) <= _LONGEST_TRAILER and line.casefold().rstrip(":") in _TRAILERS
        ):
            break
        # (a logical line has single spaces: its words are its spaces plus one)
        if line.count(" ") < 60 and _generated_notice(line):
            skip_next = line.endswith(":")
            continue
        if key in _TOC_HEADINGS:
            in_toc = True
            continue
        block = _classify(line, md)
        if block.kind == "heading" and not md and blocks and blocks[-1].kind == "question":
            block = Block("paragraph", block.text)  # a short answer, not a section title
        if in_toc:
            if block.kind == "bullet":
                continue
            in_toc = False
        # Chrome only counts as chrome before the first paragraph (the page header).
        if not seen_paragraph and _is_chrome(line):
            continue
        if block.kind == "heading" and not md and line.endswith("."):
            dotted[len(blocks)] = line
        blocks.append(block)
        seen_paragraph = seen_paragraph or block.kind == "paragraph"
    # A dotted heading introduces text; one followed by another heading, or by nothing, was a
    # short sentence after all ("Robots and arms." on every line).
    for at, line in dotted.items():
        if at + 1 >= len(blocks) or blocks[at + 1].kind == "heading":
            blocks[at] = Block("paragraph", line)

    detected: str | None = None
    if (
        blocks
        and blocks[0].kind in ("heading", "question")
        and (_word_count(blocks[0].text) <= MAX_TITLE_WORDS)
    ):
        detected = blocks.pop(0).text
    chosen = " ".join((title or "").split()) or detected
    derived = False
    if not chosen:
        chosen = derive_title(blocks)
        derived = True
    # The page often repeats its title (a second heading, a translation, curly quotes).
    title_keys = {title_key(chosen)} | ({title_key(detected)} if detected else set())
    longest = max(len(k.split()) for k in title_keys)
    body = tuple(
        b
        for b in blocks
        if not (b.kind != "paragraph" and _line_key(b.text, longest) in title_keys)
    )
    return Article(title=chosen, blocks=body, title_derived=derived)
