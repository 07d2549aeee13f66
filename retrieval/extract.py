"""From downloaded or uploaded bytes to article text: plain text, Markdown, HTML and PDF.

The bytes come from strangers (a URL someone pasted, a file someone uploaded), so this module
trusts neither the name nor the declared content type: `sniff` looks at the content first, and
every parser runs behind limits (input size, tag depth, page count, decompressed stream size,
extracted text size) so a hostile file is refused with a BadSource instead of crashing or
eating the worker's memory. It is pure and synchronous: callers run it in a worker thread.

The text it returns is what `retrieval.cleaning.clean_article` reads: paragraphs separated by
blank lines, headings on their own lines (HTML and Markdown headings keep their leading '#'
so the cleaner knows for sure they are headings).
"""

from __future__ import annotations

import codecs
import io
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath

from retrieval.errors import BadSource
from retrieval.files import MAX_FILE_BYTES, MAX_TEXT_CHARS, check_length, markdown_to_text

log = logging.getLogger(__name__)

MAX_TEXT_BYTES = MAX_FILE_BYTES  # the limit files added from the command line already have
MAX_HTML_BYTES = 5 * 1024 * 1024
MAX_HTML_DEPTH = 400  # real pages stay well under 100; lxml's C parser recurses on depth
MAX_HTML_ELEMENTS = 30_000  # a long article page has a few thousand; trafilatura slows ~n²
FAST_HTML_ELEMENTS = 8_000  # above this, skip trafilatura's second-opinion extractors
MIN_HTML_WORDS = 40  # fewer than this is a paywall stub, a cookie wall or an empty shell
MAX_PDF_BYTES = 20 * 1024 * 1024
MAX_PDF_PAGES = 300
MAX_PDF_STREAM_BYTES = 16 * 1024 * 1024  # one decompressed stream; text pages need far less
MAX_PDF_TEXT_CHARS = MAX_TEXT_CHARS  # about 300 dense pages; beyond that the rest is dropped
SNIFF_BYTES = 4096

SUPPORTED = ".txt, .md, .html or .pdf"
_SUFFIX_KINDS = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
}
_MEDIA_KINDS = {
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
}
# Magic numbers of the files people most often upload by mistake, with what to call them.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "an image (PNG)"),
    (0, b"\xff\xd8\xff", "an image (JPEG)"),
    (0, b"GIF87a", "an image (GIF)"),
    (0, b"GIF89a", "an image (GIF)"),
    (0, b"II*\x00", "an image (TIFF)"),
    (0, b"MM\x00*", "an image (TIFF)"),
    (0, b"\x00\x00\x01\x00", "an image (ICO)"),
    (4, b"ftypavif", "an image (AVIF)"),
    (4, b"ftypheic", "an image (HEIC)"),
    (0, b"PK\x03\x04", "a ZIP archive"),
    (0, b"PK\x05\x06", "a ZIP archive"),
    (0, b"\x1f\x8b", "a gzip archive"),
    (0, b"BZh", "a bzip2 archive"),
    (0, b"\xfd7zXZ\x00", "an xz archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (0, b"Rar!\x1a\x07", "a RAR archive"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office document (Word/Excel 97-2003)"),
    (0, b"{\\rtf", "an RTF document"),
    (0, b"\x7fELF", "a program (ELF)"),
    (0, b"SQLite format 3\x00", "a database (SQLite)"),
    (0, b"ID3", "an audio file (MP3)"),
    (0, b"OggS", "an audio file (Ogg)"),
    (0, b"fLaC", "an audio file (FLAC)"),
    (4, b"ftyp", "a video file (MP4)"),
    (0, b"\x1aE\xdf\xa3", "a video file (Matroska/WebM)"),
    (0, b"\x00asm", "a program (WebAssembly)"),
)
_RIFF = {b"WEBP": "an image (WebP)", b"WAVE": "an audio file (WAV)", b"AVI ": "a video (AVI)"}
_ZIP_FLAVOURS = (
    (b"word/", "a Word document (DOCX)"),
    (b"xl/", "an Excel workbook (XLSX)"),
    (b"ppt/", "a PowerPoint presentation (PPTX)"),
    (b"application/vnd.oasis.opendocument", "an OpenDocument file"),
    (b"application/epub+zip", "an e-book (EPUB)"),
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_STRONG_HTML = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]")
_WEAK_HTML = re.compile(
    rb"<(?:p|div|meta|title|article|section|main|h[1-6]|table|ul|span|a|br|!--)[\s>/]"
)
_SVG = re.compile(
    rb"\A(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype svg[^>]*>\s*)?<svg[\s>]", re.S
)


@dataclass(frozen=True, slots=True)
class Extracted:
    """An article's text and what its file says about it."""

    text: str  # paragraphs separated by blank lines, headings on their own lines
    title: str | None  # the document's own title, when it has a credible one
    published: str | None  # YYYY-MM-DD when the document says, else None
    kind: str  # "text" | "markdown" | "html" | "pdf": what the bytes really were


# ---------------------------------------------------------------------------------------------
# Sniffing


def _refuse_kind(name: str, what: str) -> BadSource:
    return BadSource(f"{name} is {what}, not an article: add a {SUPPORTED} file")


def _binary_kind(head: bytes) -> str | None:
    """What a binary file is, from its magic number, or None if it is not one we know."""
    if head[:4] == b"RIFF" and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    for offset, magic, what in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            if what == "a ZIP archive":
                for marker, flavour in _ZIP_FLAVOURS:
                    if marker in head:
                        return flavour
            return what
    return None


def _text_head(data: bytes) -> bytes:
    """The first bytes as lower-case ASCII-ish bytes, BOM removed (UTF-16/32 decoded)."""
    head = data[:SNIFF_BYTES]
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            if encoding.startswith("utf-8"):
                head = head[len(bom) :]
            else:
                # Cut to a whole number of code units so the decoder does not fail on the tail.
                unit = 4 if encoding == "utf-32" else 2
                usable = head[: len(head) - len(head) % unit]
                head = usable.decode(encoding, "replace").encode("utf-8", "replace")
            break
    return head.lstrip().lower()


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def sniff(data: bytes, name: str | None = None, content_type: str | None = None) -> str:
    """The real kind of the bytes: "text", "markdown", "html" or "pdf".

    Content wins over labels because labels lie (servers send text/plain for everything, users
    rename files): a PDF signature or a binary magic number decides at once; an HTML document
    (doctype, <html>, <head> or <body> in the first few KB) is HTML whatever it is called; a
    file that merely starts with a tag such as <p> or <div> is HTML unless it is declared as
    Markdown (Markdown may open with inline HTML). Then the declared content type, then the
    name's suffix. Anything else is a BadSource saying what the file looks like.
    """
    label = name or "the file"
    suffix = PurePath(name).suffix.casefold() if name else ""
    if b"%PDF-" in data[:1024]:
        return "pdf"
    binary = _binary_kind(data[:SNIFF_BYTES])
    if binary is not None:
        raise _refuse_kind(label, binary)

    media = _media_type(content_type)
    declared = _MEDIA_KINDS.get(media) or _SUFFIX_KINDS.get(suffix)
    head = _text_head(data)
    if _STRONG_HTML.search(head):
        return "html"
    if head.startswith(b"<") and _WEAK_HTML.match(head) and declared != "markdown":
        return "html"
    if _SVG.match(head) or media == "image/svg+xml":
        raise _refuse_kind(label, "an image (SVG)")

    # A label that says PDF on bytes without the PDF signature, or HTML on bytes without a
    # single tag, is wrong: what is left to try is reading them as text.
    if declared == "pdf" and b"\x00" in data[:SNIFF_BYTES]:
        raise BadSource(f"{label} is not a readable PDF (it has no PDF header)")
    if declared == "pdf" or (declared == "html" and b"<" not in head):
        return "text"
    if media in _MEDIA_KINDS:
        return _MEDIA_KINDS[media]
    if media.startswith(("image/", "audio/", "video/")):
        raise _refuse_kind(label, _media_label(media))
    if suffix in _SUFFIX_KINDS:
        return _SUFFIX_KINDS[suffix]
    shown = suffix or "(none)"
    raise BadSource(
        f"{label}: unsupported file type {shown}"
        f"{f' ({media})' if media else ''}; add a {SUPPORTED} file"
    )


def _media_label(media: str) -> str:
    major, _, minor = media.partition("/")
    article = {"image": "an image", "audio": "an audio file", "video": "a video"}[major]
    return f"{article} ({minor.upper() or major})"


# ---------------------------------------------------------------------------------------------
# Text and Markdown


def _charset(content_type: str | None) -> str | None:
    """The charset a Content-Type declares, as a codec Python knows, else None."""
    m = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type or "", re.I)
    return _codec(m.group(1)) if m else None


def _codec(label: str) -> str | None:
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # Browsers read pages labelled Latin-1 or ASCII as Windows-1252 (curly quotes at 0x93/0x94),
    # and so do the pages' authors.
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name


def _bom_encoding(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return None


def _looks_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM: Latin text has a NUL in every other byte."""
    sample = data[:2048]
    if len(sample) < 16:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _guess_encoding(data: bytes) -> str | None:
    """charset_normalizer's guess when it is a confident one (little mess in the result).

    Western text often scores the same in several code pages (è in Windows-1252 is č in
    Windows-1250); when Windows-1252 is as good as the best guess, it wins, being by far the
    most common of them.
    """
    from charset_normalizer import from_bytes  # lazy: only non-UTF-8 files need it

    matches = list(from_bytes(data[:200_000]))
    if not matches or matches[0].chaos > 0.2:
        return None
    best = matches[0]
    for match in matches:
        if (
            "cp1252" in match.could_be_from_charset
            and match.chaos <= best.chaos + 0.005
            and match.coherence >= best.coherence - 0.1
        ):
            return "cp1252"
    return best.encoding


# Control characters other than tab, line feed, form feed and carriage return: text has few.
# Counted by the regex engine (a Python loop over the characters took a third of reading a
# short Markdown file).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")


def decode_any(data: bytes, name: str, content_type: str | None = None) -> str:
    """Text in whatever encoding it came in, or a BadSource saying why it is not text.

    Order: a BOM; valid UTF-8 (never valid by accident for non-ASCII Latin text); the charset
    the sender declared; charset_normalizer when it is confident. NUL bytes or many control
    characters mean a binary file, whatever its name says.
    """
    if not data.strip():
        raise BadSource(f"{name} is empty")
    encoding = _bom_encoding(data) or _looks_utf16(data)
    candidates: list[str] = [encoding] if encoding else []
    if encoding is None:
        if b"\x00" in data[:65536]:
            raise BadSource(f"{name} is a binary file, not text")
        candidates.append("utf-8")
        declared = _charset(content_type)
        if declared:
            candidates.append(declared)
    text: str | None = None
    for candidate in candidates:
        try:
            text = data.decode(candidate)
            break
        except (UnicodeDecodeError, LookupError):
            continue
    if text is None and encoding is None:
        guess = _guess_encoding(data)
        if guess:
            try:
                text = data.decode(guess)
            except (UnicodeDecodeError, LookupError):
                text = None
    if text is None:
        raise BadSource(f"{name} is not text in a known encoding; save it as UTF-8 and try again")
    text = text.removeprefix("\ufeff")
    sample = text[:65536]
    controls = len(_CONTROLS.findall(sample))
    if controls > 0.01 * len(sample):
        raise BadSource(f"{name} looks like a binary file, not text")
    return text


def _check_size(name: str, size: int, limit: int, what: str) -> None:
    if size > limit:
        raise BadSource(
            f"{name} is {size / 1_048_576:.1f} MB; the limit for {what} is {limit // 1_048_576} MB"
        )


# ---------------------------------------------------------------------------------------------
# HTML

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_XML_DECL = re.compile(r"\A\s*<\?xml[^>]*\?>")
_TOKEN = re.compile(rb"<!--|<(/?)([a-z][a-z0-9:-]*)[^<>]*>")
# Skipped whole when counting: tags inside them are not elements of the page (or, for SVG
# icons, not elements trafilatura spends time on).
_SKIPPED_ELEMENTS = frozenset(
    (b"script", b"style", b"textarea", b"template", b"xmp", b"plaintext", b"svg", b"math")
)
# Elements that never have content, or whose end tag the parser supplies when a sibling opens
# (a page of 500 unclosed <p> is flat, not 500 deep, once parsed).
_FLAT_TAGS = frozenset(
    b"area base br col embed hr img input link meta source track wbr param keygen "
    b"p li dt dd option optgroup tr td th thead tbody tfoot colgroup rt rp".split()
)


@dataclass(frozen=True, slots=True)
class HtmlShape:
    """What a page costs to parse: how deep its elements nest, and how many there are."""

    depth: int
    elements: int


def html_shape(data: bytes, max_depth: int = MAX_HTML_DEPTH) -> HtmlShape:
    """Depth and element count, from the raw tags, before any parser sees the page.

    lxml recurses on depth and trafilatura's work grows faster than linearly with the number
    of elements, so both are measured first and a hostile page (100,000 nested <div>s, or
    half a million empty ones) is refused in milliseconds. The scan is linear on purpose:
    each search starts where the previous one ended and lone "<" are skipped by the regex
    engine (a pattern such as `<!--.*?-->` would rescan to the end for each of a million
    unterminated comments). Counting stops once the depth passes `max_depth`.
    """
    html = data.lower()
    depth = deepest = elements = 0
    pos = 0
    while (m := _TOKEN.search(html, pos)) is not None:
        pos = m.end()
        closing, tag = m.group(1), m.group(2)
        if tag is None:  # a comment
            end = html.find(b"-->", pos)
            if end < 0:
                break
            pos = end + 3
            continue
        if closing:
            if tag not in _FLAT_TAGS and depth:
                depth -= 1
            continue
        elements += 1
        if tag in _SKIPPED_ELEMENTS and html[pos - 2 : pos] != b"/>":
            close = html.find(b"</" + tag, pos)
            if close < 0:
                break
            pos = close
            continue
        if tag in _FLAT_TAGS or html[pos - 2 : pos] == b"/>":
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > max_depth:
                break
    return HtmlShape(depth=deepest, elements=elements)


def decode_html(data: bytes, content_type: str | None = None) -> str:
    """HTML bytes to text: BOM, then valid UTF-8, then the declared charset (header or <meta>).

    Valid UTF-8 wins over a declared Latin charset because servers often declare ISO-8859-1 by
    default for UTF-8 pages, while Latin-1 text that happens to be valid UTF-8 is vanishingly
    rare. UTF-16/32 declarations are honoured first (their bytes can be valid UTF-8).
    """
    bom = _bom_encoding(data)
    if bom:
        return data.decode(bom, "replace").removeprefix("\ufeff")
    meta = _META_CHARSET.search(data[:SNIFF_BYTES])
    declared = [
        c
        for c in (_charset(content_type), _codec(meta.group(1).decode("ascii")) if meta else None)
        if c
    ]
    wide = [c for c in declared if c.startswith(("utf-16", "utf-32"))]
    for encoding in [*wide, "utf-8", *declared]:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    guess = _guess_encoding(data)
    return data.decode(guess or (declared[0] if declared else "cp1252"), "replace")


def _iso_date(value: object) -> str | None:
    """YYYY-MM-DD if `value` starts with a real date, else None."""
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", str(value or ""))
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        return None


def _clean_title(value: object) -> str | None:
    title = " ".join(str(value or "").split())
    return title or None


def _extract_html(data: bytes, name: str, content_type: str | None, url: str | None) -> Extracted:
    _check_size(name, len(data), MAX_HTML_BYTES, "web pages")
    html = _XML_DECL.sub("", decode_html(data, content_type))
    # Measured on the decoded text, so a UTF-16 page cannot hide its tags between NUL bytes.
    shape = html_shape(html.encode("utf-8", "replace"))
    if shape.depth > MAX_HTML_DEPTH:
        raise BadSource(
            f"{name} nests its elements more than {MAX_HTML_DEPTH} levels deep; "
            "it is not a readable web page"
        )
    if shape.elements > MAX_HTML_ELEMENTS:
        raise BadSource(
            f"{name} is too large a web page to read ({shape.elements:,} elements; "
            f"the limit is {MAX_HTML_ELEMENTS:,})"
        )
    no_text = BadSource(
        f"{name} has no article text that can be extracted (script-only page or paywall?)"
    )
    if not html.strip():
        raise no_text
    if not _STRONG_HTML.search(html[:SNIFF_BYTES].lower().encode("utf-8", "replace")):
        # trafilatura expects a whole document and drops a bare fragment such as <p>...</p>.
        html = f"<html><body>{html}</body></html>"

    import trafilatura  # lazy: importing it costs ~0.3 s, and the command line must stay fast

    try:
        doc = trafilatura.bare_extraction(
            html,
            url=url,
            fast=shape.elements > FAST_HTML_ELEMENTS,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_formatting=True,  # Markdown output: '#' headings and blank-line paragraphs
            include_links=False,
            include_images=False,
        )
    except Exception:
        # lxml and trafilatura raise assorted errors on documents they cannot parse; whoever
        # sent the page gets a refusal, the log keeps the traceback in case it is our bug.
        log.warning("trafilatura failed on %s", name, exc_info=True)
        raise BadSource(f"{name} is not a readable web page") from None
    body = getattr(doc, "text", None) or ""
    check_length(name, body)
    # Emphasis, links and table rules arrive as Markdown; the cleaner wants plain lines.
    text = _paragraphs(markdown_to_text(body))
    if len(text.split()) < MIN_HTML_WORDS:
        raise no_text
    return Extracted(
        text=text,
        title=_clean_title(getattr(doc, "title", None)),
        published=_iso_date(getattr(doc, "date", None)),
        kind="html",
    )


def _paragraphs(text: str) -> str:
    """Trimmed lines, runs of blank lines collapsed to one, no trailing whitespace."""
    out: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


# ---------------------------------------------------------------------------------------------
# PDF

_TERMINAL = re.compile(r"""[.!?:…]["'”’)\]]*$""")
_JUNK_TITLE = re.compile(
    r"^(?:untitled|microsoft (?:word|powerpoint) - .*|.*\.(?:docx?|pdf|tex|dvi|indd|pptx?|odt))$",
    re.I,
)


def _pdf_limits() -> dict[str, int]:
    """pypdf's resource limits, far tighter than its defaults (75 MB per stream).

    An article's pages need a few hundred KB of content stream each; a stream that inflates
    past MAX_PDF_STREAM_BYTES is a decompression bomb and raises LimitReachedError.
    """
    return {
        "maximum_declared_stream_length": MAX_PDF_BYTES,
        "array_based_stream_maximum_output_length": MAX_PDF_STREAM_BYTES,
        "zlib_maximum_output_length": MAX_PDF_STREAM_BYTES,
        "zlib_maximum_recovery_input_length": 512 * 1024,  # its byte-at-a-time retry is slow
        "lzw_maximum_output_length": MAX_PDF_STREAM_BYTES,
        "run_length_maximum_output_length": MAX_PDF_STREAM_BYTES,
        "jbig2_maximum_output_length": MAX_PDF_STREAM_BYTES,
        "brotli_maximum_output_length": MAX_PDF_STREAM_BYTES,
        "image_maximum_buffer_size": MAX_PDF_STREAM_BYTES,
        "stream_decoding_work_maximum_length": 4 * MAX_PDF_STREAM_BYTES,
        "page_tree_maximum_entries": 10 * MAX_PDF_PAGES,
        "xform_maximum_invocations_per_extraction": 500,
    }


def _reflow(page: str) -> list[str]:
    """A page's lines grouped into paragraphs.

    PDF text comes out one printed line at a time. A line that reaches (nearly) the right
    margin continues in the next one; a shorter line ends its paragraph or is a heading.
    """
    lines = [" ".join(line.split()) for line in page.splitlines()]
    lengths = sorted(len(line) for line in lines if line)
    if not lengths:
        return []
    # The usual full line length: a high quantile, robust to one overlong line.
    full = lengths[int(0.8 * (len(lengths) - 1))] if len(lengths) >= 3 else max(lengths)
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
                current = ""
            continue
        if current:
            joiner = "" if current.endswith("-") and line[0].islower() else " "
            current = current + joiner + line
        else:
            current = line
        if len(line) < 0.75 * full or (_TERMINAL.search(line) and len(line) < 0.9 * full):
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return paragraphs


def _pdf_date(raw: object) -> str | None:
    """YYYY-MM-DD from a PDF date string such as D:20240115093000+01'00'."""
    m = re.match(r"\s*(?:D:)?(\d{4})(\d{2})(\d{2})", str(raw or ""))
    return _iso_date(f"{m[1]}-{m[2]}-{m[3]}") if m else None


def _pdf_info(metadata: Mapping[str, object] | None, key: str) -> str | None:
    """A document-information entry as text (it may be indirect, or bytes), else None."""
    if metadata is None:
        return None
    value = metadata.get(key)
    resolve = getattr(value, "get_object", None)
    if callable(resolve):
        value = resolve()
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value if isinstance(value, str) else None


def _over_limit(name: str, exc: Exception) -> BadSource:
    """The refusal for a PDF that hit one of pypdf's resource limits."""
    if "decompress" in str(exc).lower():
        return BadSource(
            f"{name} has a compressed part that expands beyond "
            f"{MAX_PDF_STREAM_BYTES // 1_048_576} MB; "
            "it is refused as a possible decompression bomb"
        )
    return BadSource(f"{name} is too large or too complex a PDF to read safely ({exc})")


def _extract_pdf(data: bytes, name: str) -> Extracted:
    _check_size(name, len(data), MAX_PDF_BYTES, "PDF files")
    from pypdf import PdfReader, apply_configuration  # lazy, like trafilatura
    from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError

    unreadable = BadSource(f"{name} is not a readable PDF")
    locked = BadSource(f"{name} is a password-protected PDF; remove the password and try again")
    # pypdf raises all kinds of exceptions on damaged files (KeyError, ValueError, ...): any of
    # them means "not readable", never a traceback for the person who sent the file.
    with apply_configuration(**_pdf_limits()):
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("")
                except DependencyError:
                    raise BadSource(
                        f"{name} is an encrypted PDF that citebot cannot open; "
                        "save an unencrypted copy and try again"
                    ) from None
                if not opened:
                    raise locked
            pages = len(reader.pages)
            metadata = reader.metadata
            raw_title = _pdf_info(metadata, "/Title")
            raw_date = _pdf_info(metadata, "/CreationDate")
        except BadSource:
            raise
        except FileNotDecryptedError:
            raise locked from None
        except LimitReachedError as exc:
            raise _over_limit(name, exc) from None
        except Exception as exc:
            log.debug("pypdf cannot open %s: %r", name, exc)
            raise unreadable from None
        if pages > MAX_PDF_PAGES:
            raise BadSource(f"{name} has {pages} pages; the limit is {MAX_PDF_PAGES}")
        if pages == 0:
            raise BadSource(f"{name} is a PDF without pages")

        paragraphs: list[str] = []
        total = 0
        failed = 0
        for number in range(pages):
            try:
                page_text = reader.pages[number].extract_text() or ""
            except LimitReachedError as exc:
                raise _over_limit(name, exc) from None
            except Exception as exc:  # one damaged page should not lose the others
                log.debug("pypdf cannot read page %d of %s: %r", number + 1, name, exc)
                failed += 1
                continue
            for paragraph in _reflow(page_text):
                paragraphs.append(paragraph)
                total += len(paragraph) + 2
            if total >= MAX_PDF_TEXT_CHARS:
                log.info("%s: text truncated after page %d of %d", name, number + 1, pages)
                break
    if failed == pages:
        raise unreadable
    text = "\n\n".join(paragraphs)[:MAX_PDF_TEXT_CHARS].strip()
    if not text:
        raise BadSource(
            f"{name} has no text layer (a scanned PDF?); citebot cannot read images of text"
        )
    title = _clean_title(raw_title)
    if title and _JUNK_TITLE.match(title):
        title = None
    return Extracted(text=text, title=title, published=_pdf_date(raw_date), kind="pdf")


# ---------------------------------------------------------------------------------------------
# Entry point


def extract(
    data: bytes, *, name: str, content_type: str | None = None, url: str | None = None
) -> Extracted:
    """The article text in `data`, whatever it really is (see `sniff`), or a BadSource.

    `name` is what messages call the source (a file name, or the last part of a URL), and its
    suffix is the last hint `sniff` uses; `url`, when the bytes were fetched, helps trafilatura
    with metadata.
    """
    kind = sniff(data, name, content_type)
    if kind == "pdf":
        return _extract_pdf(data, name)
    if kind == "html":
        return _extract_html(data, name, content_type, url)
    _check_size(name, len(data), MAX_TEXT_BYTES, "text files")
    text = decode_any(data, name, content_type)
    check_length(name, text)  # before any flattening or cleaning is spent on it
    if kind == "markdown":
        text = markdown_to_text(text)
    text = _paragraphs(text)
    if not text and kind == "markdown":  # an unclosed code fence, say, or only images
        raise BadSource(f"{name} has no text outside its code blocks and markup")
    if not text:
        raise BadSource(f"{name} is empty")
    return Extracted(text=text, title=None, published=None, kind=kind)


__all__ = [
    "MAX_HTML_BYTES",
    "MAX_HTML_DEPTH",
    "MAX_HTML_ELEMENTS",
    "MAX_PDF_BYTES",
    "MAX_PDF_PAGES",
    "MAX_PDF_STREAM_BYTES",
    "MAX_PDF_TEXT_CHARS",
    "MAX_TEXT_BYTES",
    "MAX_TEXT_CHARS",
    "MIN_HTML_WORDS",
    "Extracted",
    "HtmlShape",
    "decode_any",
    "decode_html",
    "extract",
    "html_shape",
    "sniff",
]
