"""Splitting a cleaned article into passages, the unit BM25 ranks and citations point at.

A passage is one paragraph where paragraphs are a readable size (about 40-150 words); short
neighbours in the same section are merged (a lead-in with its bullet list, a one-line note with
the paragraph it qualifies), long paragraphs are cut at sentence boundaries, and an FAQ question
always travels with its answer. Each passage keeps the number of the paragraph it starts at, so a
citation can say "paragraph 7" and a reader can find it.
"""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.cleaning import Article, Block

MIN_WORDS = 40
MAX_WORDS = 150
TARGET_WORDS = 100


@dataclass(frozen=True, slots=True)
class PassageDraft:
    """A passage before it is stored: text as shown, heading for context, paragraph number."""

    paragraph: int
    text: str
    heading: str | None


def _words(text: str) -> int:
    return len(text.split())


def _render(block: Block) -> str:
    return f"• {block.text}" if block.kind == "bullet" else block.text


def _split_long(sentences: list[str]) -> list[str]:
    """Cut an over-long paragraph into sentence-aligned pieces of about TARGET_WORDS."""
    pieces: list[str] = []
    current: list[str] = []
    count = 0
    for sentence in sentences:
        n = sentence.count(" ") + 1  # its words: a sentence comes with single spaces
        if current and count + n > TARGET_WORDS and count >= MIN_WORDS:
            pieces.append(" ".join(current))
            current, count = [], 0
        current.append(sentence)
        count += n
    if current:
        if pieces and count < MIN_WORDS // 2 and _words(pieces[-1]) + count <= MAX_WORDS:
            pieces[-1] = f"{pieces[-1]} {' '.join(current)}"
        else:
            pieces.append(" ".join(current))
    return pieces


def split_passages(article: Article) -> list[PassageDraft]:
    """Passages of an article in reading order."""
    drafts: list[PassageDraft] = []
    sections: list[int] = []  # section number of each draft, to merge short tails
    section = 0
    heading: str | None = None
    group: list[Block] = []
    group_words = 0  # words in the group's blocks, kept as they join (not recounted per block)
    group_start = 0
    awaiting_answer = False
    paragraph = 0

    def flush() -> None:
        nonlocal group, group_words
        if not group:
            return
        text = "\n".join(_render(b) for b in group)
        words = _words(text)
        if words > MAX_WORDS and len(group) == 1:
            sentences = article.sentences(text)
            pieces = [PassageDraft(group_start, p, heading) for p in _split_long(sentences)]
        elif (
            words < MIN_WORDS
            and group[0].kind != "question"
            and drafts
            and sections[-1] == section
            and _words(drafts[-1].text) + words <= MAX_WORDS
        ):
            # A short closing note belongs with the paragraph it follows.
            last = drafts.pop()
            sections.pop()
            pieces = [PassageDraft(last.paragraph, f"{last.text}\n{text}", heading)]
        else:
            pieces = [PassageDraft(group_start, text, heading)]
        drafts.extend(pieces)
        sections.extend([section] * len(pieces))
        group, group_words = [], 0

    for block in article.blocks:
        if block.kind == "heading":
            flush()
            section += 1
            heading = block.text
            awaiting_answer = False
            continue
        paragraph += 1
        words_now = group_words
        words = _words(block.text)
        if block.kind == "question":
            flush()
            group, group_words, group_start, awaiting_answer = [block], words, paragraph, True
            continue
        joins = awaiting_answer or (
            group
            and (
                words_now < MIN_WORDS
                or (block.kind == "bullet" and group[-1].text.endswith(":"))
                or (block.kind == "bullet" and group[-1].kind == "bullet")
            )
            and words_now + words <= MAX_WORDS
        )
        if not joins:
            flush()
            group_start = paragraph
        group.append(block)
        group_words += words
        awaiting_answer = False
    flush()
    return drafts
