"""retrieval.extract on real bytes: pages, PDFs and text files built here, hostile ones included."""

from __future__ import annotations

import gzip
import io
import tracemalloc
import zlib

import pytest

from retrieval.cleaning import clean_article
from retrieval.errors import BadSource
from retrieval.extract import (
    MAX_HTML_BYTES,
    MAX_HTML_ELEMENTS,
    MAX_PDF_PAGES,
    Extracted,
    decode_any,
    extract,
    html_shape,
    sniff,
)

# ---------------------------------------------------------------------------------------------
# Builders

ARTICLE_PARAGRAPHS = (
    "DeepSeek trained its model on a cluster of H800 chips, according to the company, which "
    "said the final training run cost about 5.6 million dollars in rented computing time.",
    "Analysts said the figure, if accurate, would be a small fraction of what American "
    "laboratories spend on comparable systems, and investors reacted within hours.",
    "Shares of several chip makers fell sharply on Monday as traders reconsidered how much "
    "hardware future models would need in order to stay competitive.",
)


def article_page(
    paragraphs: tuple[str, ...] = ARTICLE_PARAGRAPHS,
    *,
    title: str = "The Chip Story",
    charset: str = "utf-8",
) -> str:
    """A news page as sites serve it: menu, cookie banner and related links around the article."""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head>
<meta charset="{charset}">
<title>{title} | Example News</title>
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="2025-01-28T10:00:00Z">
</head><body>
<header><nav class="menu"><ul>
<li><a href="/">Home</a></li><li><a href="/world">World affairs desk</a></li>
<li><a href="/markets">Markets and money</a></li></ul></nav></header>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience.
<button>Accept all cookies</button></div>
<main><article>
<h1>{title}</h1>
<p class="byline">By Jane Reporter</p>
{body}
<h2>What comes next</h2>
<p>Regulators in several countries said they would study the model before deciding whether
its release raised any questions about export controls on advanced semiconductors.</p>
</article></main>
<footer><section class="related"><h3>Related links</h3><ul>
<li><a href="/a">Ten gardening tips for a glorious spring</a></li>
<li><a href="/b">Celebrity chef opens a bistro downtown</a></li></ul></section>
<p>Copyright 2025 Example News Corporation</p></footer>
</body></html>"""


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"({escaped})".encode("latin-1")


def make_pdf(
    pages: list[list[str]],
    *,
    title: str | None = None,
    created: str | None = None,
    raw_streams: dict[int, bytes] | None = None,
) -> bytes:
    """A minimal valid PDF: one Helvetica text line per item, correct xref offsets.

    `raw_streams` replaces the content stream of page i with an already-compressed
    FlateDecode stream (for decompression bombs).
    """
    raw_streams = raw_streams or {}
    objects: list[bytes] = []  # objects[i] is object number i + 1

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in once the page tree's number is known
    tree = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids: list[int] = []
    for index, lines in enumerate(pages):
        if index in raw_streams:
            packed = raw_streams[index]
            stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (
                len(packed),
                packed,
            )
        else:
            ops = [b"BT /F1 11 Tf 14 TL 72 740 Td"]
            ops += [_pdf_string(line) + b" Tj T*" for line in lines]
            ops.append(b"ET")
            content = b"\n".join(ops)
            stream = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content)
        content_ref = add(stream)
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                % (tree, font, content_ref)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    info = None
    if title is not None or created is not None:
        entries = b""
        if title is not None:
            entries += b"/Title " + _pdf_string(title)
        if created is not None:
            entries += b" /CreationDate " + _pdf_string(created)
        info = add(b"<< " + entries + b" >>")

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"/Size %d /Root %d 0 R" % (len(objects) + 1, catalog)
    if info:
        trailer += b" /Info %d 0 R" % info
    out += b"trailer\n<< %s >>\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref)
    return bytes(out)


def words(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------------
# HTML


def test_html_article_without_page_chrome() -> None:
    result = extract(article_page().encode(), name="chips.html", url="https://example.com/chips")
    assert isinstance(result, Extracted)
    assert result.kind == "html"
    assert result.title == "The Chip Story"
    assert result.published == "2025-01-28"
    flat = words(result.text)
    for paragraph in ARTICLE_PARAGRAPHS:
        assert paragraph in flat
    assert "What comes next" in result.text
    for chrome in ("World affairs desk", "cookies", "gardening tips", "Celebrity chef"):
        assert chrome not in result.text
    # Paragraphs are separated by blank lines, so the cleaner sees them as paragraphs.
    assert "\n\n" in result.text
    article = clean_article(result.text, title=result.title)
    assert article.title == "The Chip Story"
    assert [b.text for b in article.blocks if b.kind == "paragraph"][:3] == [
        words(p) for p in ARTICLE_PARAGRAPHS
    ]
    assert any(b.kind == "heading" and b.text == "What comes next" for b in article.blocks)


def test_script_only_page_is_refused() -> None:
    page = (
        b"<!doctype html><html><head><title>App</title></head><body><div id='root'></div>"
        b"<script>window.app = {start: function () { render('root'); }};</script></body></html>"
    )
    with pytest.raises(BadSource, match=r"app\.html has no article text .*script-only"):
        extract(page, name="app.html")


def test_paywall_stub_is_refused() -> None:
    page = article_page(("Subscribe to keep reading this story.",)).encode()
    page = page.replace(b"Regulators in several countries", b"Only subscribers").replace(
        b"its release raised any questions about export controls on advanced semiconductors.",
        b"can read.",
    )
    with pytest.raises(BadSource, match="paywall"):
        extract(page, name="stub.html")


def test_deeply_nested_page_is_refused_quickly() -> None:
    depth = 100_000
    page = (
        b"<html><body>" + b"<div>" * depth + b"<p>deep</p>" + b"</div>" * depth + b"</body></html>"
    )
    with pytest.raises(BadSource, match=r"more than 400 levels deep"):
        extract(page, name="deep.html")


def test_depth_counts_elements_not_unclosed_paragraphs_or_scripts() -> None:
    flat = b"<html><body>" + b"<p>one more paragraph" * 1000 + b"</body></html>"
    assert html_shape(flat).depth == 2
    assert html_shape(flat).elements == 1002
    scripted = b"<body><script>var s = '" + b"<div>" * 1000 + b"';</script><!-- <div> --></body>"
    assert html_shape(scripted).depth == 1
    assert html_shape(scripted).elements == 2
    assert html_shape(b"<div><br/><img src=x><span>a</span></div>").depth == 2


def test_utf16_page_cannot_hide_its_nesting() -> None:
    page = "<html><body>" + "<div>" * 5000 + "deep" + "</div>" * 5000 + "</body></html>"
    with pytest.raises(BadSource, match="levels deep"):
        extract(page.encode("utf-16"), name="deep16.html")


def test_html_fragment_is_read() -> None:
    fragment = "".join(f"<p>{p}</p>" for p in ARTICLE_PARAGRAPHS)
    result = extract(fragment.encode(), name="fragment.html")
    assert result.kind == "html"
    assert ARTICLE_PARAGRAPHS[2] in words(result.text)


def test_too_many_elements_are_refused_before_parsing() -> None:
    page = b"<html><body>" + b"<div>x</div>" * (MAX_HTML_ELEMENTS + 1) + b"</body></html>"
    with pytest.raises(BadSource, match=r"^many\.html is too large a web page to read \(30,003"):
        extract(page, name="many.html")


@pytest.mark.parametrize(
    "page",
    [b"<!--" * 1_000_000, b"<script>" * 500_000, b"<a" * 2_000_000, b"<" * 4_000_000],
    ids=["comments", "scripts", "unterminated-tags", "lone-brackets"],
)
def test_tag_scan_stays_linear_on_hostile_markup(page: bytes) -> None:
    # Completes (a quadratic scan of these would run for hours); timed in bench, not here.
    shape = html_shape(page)
    assert shape.depth <= 1


def test_oversized_page_is_refused() -> None:
    page = article_page().encode() + b"<!--" + b"x" * MAX_HTML_BYTES + b"-->"
    with pytest.raises(BadSource, match=r"big\.html is 5\.0 MB; the limit for web pages is 5 MB"):
        extract(page, name="big.html")


def test_windows_1252_page_with_meta_charset() -> None:
    paragraphs = (
        "The café on the corner said “we never expected this” when the results came out, "
        "and its owner, a naïve optimist by her own account, opened another branch.",
        *ARTICLE_PARAGRAPHS,
    )
    page = article_page(paragraphs, title="Café society", charset="windows-1252")
    data = page.encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = extract(data, name="cafe.html", content_type="text/html")
    assert result.title == "Café society"
    assert "The café on the corner said “we never expected this”" in words(result.text)
    assert "naïve" in result.text


def test_latin1_declared_page_is_read_as_windows_1252() -> None:
    # Servers label pages ISO-8859-1 while they contain Windows-1252 curly quotes.
    data = article_page(("“Quoted” words from a café owner. " * 8,)).encode("cp1252")
    result = extract(data, name="x.html", content_type="text/html; charset=ISO-8859-1")
    assert "“Quoted” words from a café owner." in result.text


def test_utf8_page_wins_over_a_wrong_declared_charset() -> None:
    data = article_page(("Zoë met the café owner in Zürich to talk about chips. " * 5,)).encode()
    result = extract(data, name="x.html", content_type="text/html; charset=iso-8859-1")
    assert "Zoë met the café owner in Zürich" in result.text


def test_xhtml_with_xml_declaration() -> None:
    page = '<?xml version="1.0" encoding="utf-8"?>\n' + article_page()
    result = extract(page.encode(), name="page.xhtml")
    assert ARTICLE_PARAGRAPHS[0] in words(result.text)


# ---------------------------------------------------------------------------------------------
# Text and Markdown


def test_utf8_text_passes_through() -> None:
    result = extract(b"Title line\n\nFirst paragraph.\r\nStill it.\n", name="a.txt")
    assert result == Extracted(
        text="Title line\n\nFirst paragraph.\nStill it.", title=None, published=None, kind="text"
    )


def test_latin1_text_is_decoded() -> None:
    text = (
        "Le café était très agréable ce matin-là. Élise, déçue par la pluie, a commandé "
        "une crêpe et un thé à la menthe, puis elle a relu ses notes sur la réunion.\n"
    ) * 3
    result = extract(text.encode("latin-1"), name="notes.txt")
    assert result.kind == "text"
    assert result.text == text.strip()


def test_declared_charset_is_used_for_text() -> None:
    data = "Ça coûte 5 € au total.".encode("cp1252")
    assert decode_any(data, "n.txt", "text/plain; charset=windows-1252") == "Ça coûte 5 € au total."


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_text_with_a_bom_is_decoded(encoding: str) -> None:
    text = "Résumé of the “meeting”: chips, costs and 日本語 notes.\n\nSecond paragraph."
    result = extract(text.encode(encoding), name="notes.txt")
    assert result.text == text


def test_utf16_without_bom_is_decoded() -> None:
    text = "Plain notes written by a Windows tool, without any byte order mark at all."
    assert decode_any(text.encode("utf-16-le"), "w.txt") == text


def test_markdown_is_flattened_for_the_cleaner() -> None:
    md = "---\nlayout: post\n---\n# Heading\n\nSome **bold** and a [link](http://x).\n"
    result = extract(md.encode(), name="post.md")
    assert result.kind == "markdown"
    assert result.text == "# Heading\n\nSome bold and a link."


def test_markdown_opening_with_inline_html_stays_markdown() -> None:
    md = '<p align="center"><img src="logo.png"></p>\n\n# Project\n\nIt does things.\n'
    assert sniff(md.encode(), "README.md") == "markdown"


def test_binary_text_file_is_refused() -> None:
    with pytest.raises(BadSource, match=r"^data\.txt is a binary file, not text$"):
        extract(b"abc\x00\x01\x02def" * 10, name="data.txt")


def test_undecodable_text_is_refused() -> None:
    data = bytes(range(0x80, 0x100)) * 40
    with pytest.raises(BadSource, match=r"^odd\.txt is not text in a known encoding"):
        extract(data, name="odd.txt")


def test_empty_file_is_refused() -> None:
    with pytest.raises(BadSource, match=r"^empty\.md is empty$"):
        extract(b"  \n\n", name="empty.md")


# ---------------------------------------------------------------------------------------------
# Sniffing

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40


def _zip(members: dict[str, bytes]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (PNG, "photo.png", "photo.png is an image (PNG), not an article"),
        (PNG, "photo.txt", "photo.txt is an image (PNG), not an article"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 20, "me.jpg", "is an image (JPEG)"),
        (b"GIF89a" + b"\x00" * 20, "x.gif", "is an image (GIF)"),
        (_zip({"a.txt": b"hello"}), "notes.zip", "notes.zip is a ZIP archive, not an article"),
        (_zip({"word/document.xml": b"<w/>"}), "r.docx", "is a Word document (DOCX)"),
        (gzip.compress(b"hello"), "a.gz", "a.gz is a gzip archive"),
        (b'<?xml version="1.0"?>\n<svg xmlns="x"></svg>', "logo.svg", "is an image (SVG)"),
    ],
)
def test_files_that_are_not_articles_are_refused(data: bytes, name: str, message: str) -> None:
    with pytest.raises(BadSource, match=r"add a \.txt, \.md, \.html or \.pdf file$") as caught:
        extract(data, name=name)
    assert message in str(caught.value)


def test_unknown_type_is_refused() -> None:
    with pytest.raises(BadSource, match=r"^data\.csv: unsupported file type \.csv"):
        sniff(b"a,b\n1,2\n", "data.csv")
    with pytest.raises(BadSource, match=r"\(image/webp\)|image"):
        sniff(b"not really", "x", "image/webp")


def test_content_decides_before_the_name() -> None:
    page = article_page().encode()
    assert sniff(page, "notes.txt") == "html"
    assert extract(page, name="notes.txt").kind == "html"
    assert sniff(b"\xef\xbb\xbf  <!DOCTYPE HTML><p>x", "a.md") == "html"
    pdf = make_pdf([["Quarterly report"]])
    assert sniff(pdf, "report.txt") == "pdf"
    assert extract(pdf, name="report.txt").kind == "pdf"
    assert sniff(b"Just some notes, not a PDF at all.", "report.pdf") == "text"
    assert extract(b"Just some notes.", name="report.pdf").text == "Just some notes."


def test_declared_type_decides_before_the_suffix() -> None:
    assert sniff(b"# Notes\n\nHello.", "download", "text/markdown; charset=utf-8") == "markdown"
    assert sniff(b"Hello.", "page.html", "text/plain") == "text"
    assert sniff(b"Hello.", "notes.md", "application/octet-stream") == "markdown"


# ---------------------------------------------------------------------------------------------
# PDF

WRAPPED = [
    "Chips and costs",
    "DeepSeek trained its model on a cluster of H800 chips, according to the",
    "company, which said the final training run cost about 5.6 million dollars in",
    "rented computing time.",
    "Analysts said the figure would be a small fraction of what laboratories spend.",
]


def test_pdf_text_title_and_date() -> None:
    pdf = make_pdf(
        [WRAPPED, ["Second page (with parentheses) and a backslash \\ here."]],
        title="Chip Report 2025",
        created="D:20250128093000+01'00'",
    )
    result = extract(pdf, name="report.pdf")
    assert result.kind == "pdf"
    assert result.title == "Chip Report 2025"
    assert result.published == "2025-01-28"
    paragraphs = result.text.split("\n\n")
    assert paragraphs[0] == "Chips and costs"
    # Lines that reach the margin are joined into their paragraph.
    assert paragraphs[1] == " ".join(WRAPPED[1:4])
    assert paragraphs[2] == WRAPPED[4]
    assert paragraphs[-1] == "Second page (with parentheses) and a backslash \\ here."
    article = clean_article(result.text)
    assert article.title == "Chips and costs"
    assert [b.kind for b in article.blocks] == ["paragraph", "paragraph", "paragraph"]


def test_pdf_without_or_with_junk_title() -> None:
    assert extract(make_pdf([["Hello there."]]), name="a.pdf").title is None
    junk = make_pdf([["Hello there."]], title="Microsoft Word - draft3.docx")
    assert extract(junk, name="a.pdf").title is None


def test_pdf_over_the_page_limit_is_refused() -> None:
    pdf = make_pdf([[f"Page {n}"] for n in range(MAX_PDF_PAGES + 1)])
    with pytest.raises(BadSource, match=r"^long\.pdf has 301 pages; the limit is 300$"):
        extract(pdf, name="long.pdf")


@pytest.fixture(scope="module")
def zlib_bomb() -> bytes:
    """200 MB of zeros deflated to about 200 KB, compressed in chunks to keep memory low."""
    compressor = zlib.compressobj(1)  # the fastest level: 0.4 s, 0.9 MB
    chunk = bytes(4 * 1024 * 1024)
    parts = [compressor.compress(chunk) for _ in range(50)]
    parts.append(compressor.flush())
    return b"".join(parts)


def test_pdf_decompression_bomb_is_refused_without_inflating_it(zlib_bomb: bytes) -> None:
    assert len(zlib_bomb) < 2_000_000
    pdf = make_pdf([["A harmless first page."], ["unused"]], raw_streams={1: zlib_bomb})
    tracemalloc.start()
    try:
        with pytest.raises(BadSource, match=r"^bomb\.pdf has a compressed part that expands"):
            extract(pdf, name="bomb.pdf")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * 1024 * 1024


def test_password_protected_pdf_is_refused() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["Secret plans."]]))))
    writer.encrypt(user_password="hunter2", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(BadSource, match=r"^locked\.pdf is a password-protected PDF"):
        extract(buffer.getvalue(), name="locked.pdf")


def test_pdf_encrypted_with_an_empty_password_is_read() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["Open to all readers."]]))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert extract(buffer.getvalue(), name="open.pdf").text == "Open to all readers."


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + bytes(range(256)) * 20,
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>",
        b"%PDF-",
    ],
)
def test_malformed_pdf_is_refused(data: bytes) -> None:
    with pytest.raises(
        BadSource, match=r"^broken\.pdf is (not a readable PDF|a PDF without pages)"
    ):
        extract(data, name="broken.pdf")


def test_binary_file_named_pdf_without_signature_is_refused() -> None:
    with pytest.raises(BadSource, match=r"^x\.pdf is not a readable PDF \(it has no PDF header\)"):
        extract(b"\x00\x01garbage" * 50, name="x.pdf")


def test_pdf_without_text_is_refused() -> None:
    with pytest.raises(BadSource, match="no text layer"):
        extract(make_pdf([[]]), name="scan.pdf")


def test_every_suffix_the_surfaces_list_is_one_the_reader_knows():
    from retrieval import extract
    from retrieval.files import ACCEPTED_SUFFIXES

    assert set(ACCEPTED_SUFFIXES) == set(extract._SUFFIX_KINDS)
