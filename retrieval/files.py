"""Reading source files and flattening Markdown: the checks that come before extraction.

Size and existence are checked before reading, so a bad file is refused before anything is
written; retrieval.extract decides what the bytes are. Every pattern here is bounded to one
line and a few hundred characters, so hostile Markdown costs linear time.
"""

from __future__ import annotations

import re
from pathlib import Path

from retrieval.errors import BadSource

MAX_FILE_BYTES = 5 * 1024 * 1024


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) text, or a BadSource saying why not."""
    if not data.strip():
        raise BadSource(f"{name} is empty")
    if b"\x00" in data[:65536]:
        raise BadSource(f"{name} is a binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadSource(
            f"{name} is not UTF-8 text (undecodable byte at offset {exc.start}); "
            "save it as UTF-8 and try again"
        ) from None
    controls = sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > 0.01 * min(len(text), 65536):
        raise BadSource(f"{name} looks like a binary file, not text")
    return text


def check_size(name: str, size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise BadSource(
            f"{name} is {size / 1_048_576:.1f} MB; the limit is {MAX_FILE_BYTES // 1_048_576} MB"
        )


def read_file_bytes(path: Path) -> bytes:
    """The bytes of a file to ingest, after the checks that need no reading."""
    if not path.exists():
        raise BadSource(f"no such file: {path}")
    if not path.is_file():
        raise BadSource(f"{path} is not a file")
    check_size(path.name, path.stat().st_size)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadSource(f"cannot read {path}: {exc.strerror}") from None


_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_FENCE_MARK = re.compile(r"^[ \t]{0,3}(```|~~~)")
_IMAGE = re.compile(r"!\[([^\]\n]{0,300})\]\([^)\n]{0,500}\)")
_LINK = re.compile(r"\[([^\]\n]{1,300})\]\([^)\n]{0,500}\)")
_REF_LINK = re.compile(r"^[ \t]*\[[^\]\n]{1,300}\]:[ \t]+\S+.*$", re.M)
# Emphasis within one line and at most 300 characters: a bounded search, so hostile input
# ("*a " repeated) cannot make it quadratic.
_EMPHASIS = re.compile(r"(?<!\w)(\*\*|__|\*|_|~~)(?=\S)([^\n]{1,300}?)(?<=\S)\1(?!\w)")
_CODE = re.compile(r"`([^`\n]{0,300})`")
_TAG = re.compile(r"</?[A-Za-z][^>\n]{0,500}>")
_QUOTE = re.compile(r"^[ \t]{0,3}>[ \t]?", re.M)
_RULE = re.compile(r"^[ \t]*([-*_])([ \t]*\1){2,}[ \t]*$", re.M)
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}.*$", re.M)


def _drop_code_blocks(text: str) -> str:
    """Fenced code blocks removed, by walking the lines once (an unclosed fence runs to the end,
    as Markdown renders it)."""
    kept: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        mark = _FENCE_MARK.match(line)
        if fence is None and mark:
            fence = mark.group(1)
        elif fence is not None and mark and mark.group(1) == fence and not line.strip()[3:]:
            fence = None
        elif fence is None:
            kept.append(line)
    return "\n".join(kept)


def markdown_to_text(text: str) -> str:
    """Markdown to the plain lines the cleaner reads; '#' headings are kept for it to see."""
    text = text.replace("\r\n", "\n")
    text = _FRONT_MATTER.sub("", text)
    text = _drop_code_blocks(text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub("", text)
    text = _CODE.sub(r"\1", text)
    text = _TAG.sub("", text)
    text = _QUOTE.sub("", text)
    text = _RULE.sub("", text)
    text = _TABLE_RULE.sub("", text)
    text = text.replace("|", " ")
    for _ in range(2):
        text = _EMPHASIS.sub(r"\2", text)
    return text
