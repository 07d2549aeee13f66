"""Hostile inputs for tests: documents built to exhaust a parser, and jobs that misbehave.

The jobs are module-level functions so that the parser host (retrieval.parser_host) can import
them by name, exactly as it imports the real jobs.
"""

from __future__ import annotations

import io
import os
import time
import zlib


def shared_stream_pdf(pages: int = 60, operators: int = 200_000) -> bytes:
    """A small PDF whose every page draws the same compressed stream of `operators` text
    operators: a few KB to send, minutes of pypdf's time to read without a budget."""
    content = b"BT /F1 1 Tf " + b"(a) Tj " * operators + b"ET"
    stream = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + " ".join(f"{5 + i} 0 R" for i in range(pages)).encode()
        + b"] /Count "
        + str(pages).encode()
        + b" >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length "
        + str(len(stream)).encode()
        + b" /Filter /FlateDecode >>\nstream\n"
        + stream
        + b"\nendstream",
    ]
    objects += [
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    ] * pages
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


# -- jobs for the parser host ------------------------------------------------------------------


def spin() -> int:
    """Burns CPU until the kernel stops it."""
    n = 0
    while True:
        n += 1


def hog_memory(step: int = 64 * 1024 * 1024) -> int:
    """Allocates until the address-space limit says no."""
    kept = []
    while True:
        kept.append(bytearray(step))


def hang() -> None:
    """Sleeps without using CPU: only the wall-clock limit ends it."""
    while True:
        time.sleep(60)


def die() -> None:
    os._exit(9)


def echo(value: object) -> object:
    return value


def environment() -> dict[str, str]:
    return dict(os.environ)


def working_directory() -> str:
    return os.getcwd()


def parsers_loaded() -> list[str]:
    """Which of the HTML and PDF parsers the child started with (forked with them imported)."""
    import sys

    from retrieval.parser_host import ON_DEMAND

    return [m for m in ON_DEMAND if m in sys.modules]
