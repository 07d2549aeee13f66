"""Ingest speed: `citebot sources add DIR` on a folder of Wikipedia articles, against bm25s.

The folder holds one Markdown file per article (`# Title`, a blank line, the article's text),
written from `<data>/scale/enwiki2021_sample.jsonl.gz` in the sample's order: the first
`--articles` of them (22,067 by default, as many as the folder issue 10 measured).
`--source 2015` writes the long articles of enwiki2015_AA_AB instead. The command runs in a
subprocess on a fresh database, as an operator would run it, and is timed from start to exit.

bm25s is timed on the same article texts (the files' contents), tokenizing and indexing them in
this process: once with its defaults (lower-case, `\\w\\w+` tokens, no stop words, no stemmer),
and once with English stop words and the Snowball stemmer (PyStemmer, what citebot's analyzer
stems with). The ratio is citebot's time over each.

    python -m bench.ingest --articles 2000            # a slice, for iteration
    python -m bench.ingest                            # the full folder
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT

SOURCES = {
    "2021": Path("scale") / "enwiki2021_sample.jsonl.gz",  # short articles (~250 words)
    "2015": Path("scale") / "enwiki2015_AA_AB.jsonl.gz",  # long ones (~2,500 words)
}
DEFAULT_DATA = Path("/work/shared/bench-data")
ARTICLES = 22_067
_UNSAFE = re.compile(r"[^A-Za-z0-9]+")


def write_folder(data_dir: Path, folder: Path, count: int, source: str = "2021") -> list[str]:
    """The first `count` articles of the sample as `folder/NNNNN-title.md`; their texts."""
    folder.mkdir(parents=True, exist_ok=True)
    texts: list[str] = []
    with gzip.open(data_dir / SOURCES[source], "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if number >= count:
                break
            row = json.loads(line)
            slug = _UNSAFE.sub("-", row["title"]).strip("-")[:60] or "article"
            text = f"# {row['title']}\n\n{row['text']}\n"
            (folder / f"{number:05d}-{slug}.md").write_text(text, encoding="utf-8")
            texts.append(text)
    return texts


def time_citebot(folder: Path, db: Path) -> tuple[float, float, int, str]:
    """Seconds for `citebot --db DB sources add FOLDER`, the CPU seconds it and its parser
    processes used, its exit status and its last line."""
    env = {**os.environ, "CITEBOT_DB": str(db)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--db", str(db), "sources", "add", str(folder)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    last = (proc.stdout.strip().splitlines() or [proc.stderr.strip()])[-1]
    return elapsed, cpu, proc.returncode, last


def time_bm25s(texts: list[str], *, stem: bool) -> tuple[float, float]:
    """Seconds (and CPU seconds) for bm25s to tokenize and index `texts`."""
    import bm25s

    stemmer = None
    if stem:
        import Stemmer

        stemmer = Stemmer.Stemmer("english")
    started, cpu = time.perf_counter(), time.process_time()
    tokens = bm25s.tokenize(
        texts, stopwords="en" if stem else None, stemmer=stemmer, show_progress=False
    )
    model = bm25s.BM25()
    model.index(tokens, show_progress=False)
    return time.perf_counter() - started, time.process_time() - cpu


def counts(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as con:
        docs = con.execute("SELECT count(*) FROM documents WHERE kind = 'file'").fetchone()[0]
        passages = con.execute(
            "SELECT count(*) FROM passages p JOIN documents d ON d.id = p.document_id "
            "WHERE d.kind = 'file'"
        ).fetchone()[0]
    return docs, passages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--articles", type=int, default=ARTICLES)
    parser.add_argument(
        "--source", choices=sorted(SOURCES), default="2021", help="which sample (default 2021)"
    )
    parser.add_argument("--folder", type=Path, help="write the articles here (default: a temp)")
    parser.add_argument("--keep", action="store_true", help="keep the database and folder")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not (args.data / SOURCES[args.source]).is_file():
        print(f"no {SOURCES[args.source]} under {args.data}", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="citebot-ingest-"))
    folder = args.folder or work / "articles"
    texts = write_folder(args.data, folder, args.articles, args.source)
    db = work / "ingest.db"
    seconds, cpu, status, last = time_citebot(folder, db)
    docs, passages = counts(db)
    plain, plain_cpu = time_bm25s(texts, stem=False)
    stemmed, stemmed_cpu = time_bm25s(texts, stem=True)
    result = {
        "articles": len(texts),
        "documents": docs,
        "passages": passages,
        "citebot_s": round(seconds, 2),
        "citebot_cpu_s": round(cpu, 2),
        "exit": status,
        "last_line": last,
        "bm25s_s": round(plain, 2),
        "bm25s_cpu_s": round(plain_cpu, 2),
        "bm25s_stemmed_s": round(stemmed, 2),
        "bm25s_stemmed_cpu_s": round(stemmed_cpu, 2),
        "ratio": round(seconds / plain, 2),
        "ratio_stemmed": round(seconds / stemmed, 2),
        "articles_per_s": round(len(texts) / seconds, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "folder": str(folder) if args.keep else None,
        "db": str(db) if args.keep else None,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
