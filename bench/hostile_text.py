"""Hostile text timings: `python bench/hostile_text.py [--sizes 500000,2000000] [--only NAME]`.

Every Markdown and text pre-processing step must cost time linear in its input, so a hostile
upload at the size limit is processed (or refused) in about as long as a normal article of that
size. This times, for each hostile shape at each size, in a child process (so a runaway case is
cut off at --timeout instead of stalling the table):

- `extract`: `retrieval.extract.extract(bytes, name="x.md")` (decoding, Markdown flattening);
- `prepare`: `retrieval.documents.prepare(text)` on the raw text (cleaning, passages, terms,
  summary), what pasted text goes through;
- `both`: `prepare(extract(...).text)`, what an uploaded Markdown file goes through.

Cells are CPU seconds of the child (the machine may be shared: wall time is added when it is
more than twice that); "r" marks a refusal (BadSource), which counts as done. Compare the two
sizes for linearity: four times the text should cost about four times as much. Not part of
bench/run.py: it measures robustness, not retrieval.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

_PROSE = (
    "The company said on Tuesday that its new model, trained on 2,048 H800 chips for about "
    "$5.6 million, matches the results of larger systems. Analysts in the U.S. were not sure. "
    "Mr. Smith, who leads the lab, told reporters that the work took two months.\n\n"
)


def _repeat(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


def _headings(n: int) -> str:
    out: list[str] = []
    size = i = 0
    while size < n:
        line = f"# Heading number {i}\n"
        out.append(line)
        size += len(line)
        i += 1
    return "".join(out)[:n]


CASES: dict[str, Callable[[int], str]] = {
    "prose (a normal article)": lambda n: _repeat(_PROSE, n),
    "`*a ` (the report)": lambda n: _repeat("*a ", n),
    "`**a `": lambda n: _repeat("**a ", n),
    "`*a*` (all emphasis)": lambda n: _repeat("*a*", n),
    '`*"`': lambda n: _repeat('*"', n),
    "`*a*_b_`": lambda n: _repeat("*a*_b_", n),
    "`*a` / `b*` lines": lambda n: _repeat("*a\nb*\n", n),
    "`_` run": lambda n: _repeat("_", n),
    "`_a `": lambda n: _repeat("_a ", n),
    "`[` run": lambda n: _repeat("[", n),
    "`[a](`": lambda n: _repeat("[a](", n),
    "`[a](b)` (all links)": lambda n: _repeat("[a](b)", n),
    "`![](` run": lambda n: _repeat("![](", n),
    "`<a ` run": lambda n: _repeat("<a ", n),
    "`<b>x` (all tags)": lambda n: _repeat("<b>x", n),
    "`` `a `` (all code)": lambda n: _repeat("`a`", n),
    "unclosed code fence": lambda n: "```\n" + _repeat("code line here\n", n - 4),
    "alternating fences": lambda n: _repeat("```\nx\n~~~\ny\n", n),
    "one line, no spaces": lambda n: _repeat("a", n),
    "`a.` one line": lambda n: _repeat("a.", n),
    "`. ` (sentence bomb)": lambda n: _repeat(". ", n),
    "`Ab. ` (short sentences)": lambda n: _repeat("Ab. ", n),
    "`A. ` (initials)": lambda n: _repeat("A. ", n),
    "`Mr. ` (abbreviations)": lambda n: _repeat("Mr. ", n),
    "dot run": lambda n: "a" + "." * (n - 2) + "x",
    "`.)` run": lambda n: _repeat(".)", n),
    "tiny lines (10 chars)": lambda n: _repeat("a b c d e\n", n),
    "wrapped lines": lambda n: _repeat("and so on\n", n),
    "`- a` bullets": lambda n: _repeat("- a\n", n),
    "`>` run": lambda n: _repeat(">", n),
    "`>>>>>>>>>>` quotes": lambda n: _repeat(">>>>>>>>>> quoted text\n", n),
    "headings": _headings,
    "table rows": lambda n: _repeat("|a|b|\n|---|---|\n", n),
    "spaces, then x": lambda n: " " * (n - 1) + "x",
    "`- ` rule, then x": lambda n: _repeat("- ", n - 1) + "x",
    "FAQ: one question, one answer": lambda n: "Why?\n" + _repeat("word ", n - 5),
    "unicode junk": lambda n: _repeat("a\u0301\u0302\u0303 \u202e\u200b\u200d\ufeff x\u0308 ", n),
    "`*` + combining accent": lambda n: _repeat("*\u0301", n),
    "`_` + combining accent": lambda n: _repeat("_\u0301", n),
    "ligature U+FDFA": lambda n: _repeat("\ufdfa", n),
    "`1,000,` digits": lambda n: _repeat("1,000,", n),
    "`a-` hyphens": lambda n: _repeat("a-", n),
}


def _time(step: str, text: str, queue: mp.Queue) -> None:
    from retrieval.documents import prepare
    from retrieval.errors import BadSource
    from retrieval.extract import extract

    data = text.encode("utf-8")
    wall, cpu = time.perf_counter(), time.process_time()
    refused = False
    try:
        if step == "extract":
            extract(data, name="x.md")
        elif step == "prepare":
            prepare(text)
        else:
            prepare(extract(data, name="x.md").text)
    except BadSource:
        refused = True
    queue.put((time.process_time() - cpu, time.perf_counter() - wall, refused))


def run_one(step: str, text: str, timeout: float) -> str:
    """One table cell: CPU seconds of the work (its own process), "r" if it was refused."""
    queue: mp.Queue = mp.Queue()
    proc = mp.Process(target=_time, args=(step, text, queue))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return f"> {timeout:.0f}"
    if queue.empty():
        return f"crashed (exit {proc.exitcode})"
    cpu, wall, refused = queue.get()
    return f"{cpu:.2f}{' r' if refused else ''}" + (f" ({wall:.1f} wall)" if wall > 2 * cpu else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="500000,2000000")
    parser.add_argument("--steps", default="extract,prepare,both")
    parser.add_argument("--only", default="", help="cases whose name contains this")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds, per cell")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    steps = args.steps.split(",")
    header = ["case"] + [f"{step} {size // 1000}k" for step in steps for size in sizes]
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for name, make in CASES.items():
        if args.only not in name:
            continue
        cells = [name]
        cells += [run_one(step, make(size), args.timeout) for step in steps for size in sizes]
        print(" | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
