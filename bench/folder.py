"""A folder of Wikipedia articles, end to end as an operator runs citebot, against peers.

Issue 10's acceptance in one run, every citebot figure from the installed command in its own
process on one fresh database:

1. `citebot sources add DIR` on the folder (`bench.ingest` writes it), against bm25s tokenizing
   and indexing the same texts in this process;
2. the first `citebot ask` afterwards (it builds and saves the segments), then a warm
   `citebot ask --batch` of generated questions (one process, the first answers unmeasured):
   each answer's `search_ms` (the index alone) and `latency_ms` (the whole ask), against tantivy
   searching the same passages for the same terms, top 10 and top 30 (citebot's search asks for
   the 30 passages reranking reorders);
3. a cold `citebot ask` against `python -c "import numpy"` (medians, interleaved);
4. `citebot sources add one.md` and the ask right after it, against a cold ask.

The questions are made from the articles themselves (a seeded sample: the title's words and a
few words of one of its sentences, "what ... ?"), so most have an answer and their terms are
the corpus's own; they are for timing, not for judging answers.

    python -m bench.folder --articles 2000      # a slice, for iteration
    python -m bench.folder                      # the 22,067 articles issue 10 names
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from bench.common import ROOT
from bench.ingest import ARTICLES, DEFAULT_DATA, SOURCES, time_bm25s, write_folder
from bench.startup import _env, _timed, citebot_command

QUESTIONS = 300
WARM_UP = 20  # answers of the batch not measured (caches, first page-ins)
RUNS = 7  # cold asks (and numpy imports), interleaved
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")


def questions(texts: list[str], count: int, seed: int = 20261126) -> list[str]:
    """`count` questions, each from one article: its title and 3 words of one sentence."""
    rng = random.Random(seed)
    out: list[str] = []
    for text in rng.sample(texts, min(count, len(texts))):
        title, _, body = text.partition("\n\n")
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", body) if len(_WORD.findall(s)) >= 4]
        if not sentences:
            continue
        words = _WORD.findall(rng.choice(sentences))
        picked = rng.sample(words, 3)
        out.append(f"what {title.lstrip('# ').strip()} {' '.join(picked)}?")
    return out


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def ask_batch(db: Path, asked: list[str]) -> list[dict]:
    """`citebot ask --batch --json` on these questions: its JSON lines."""
    done = subprocess.run(
        [*citebot_command(), "ask", "--batch"],
        input="\n".join(asked) + "\n",
        env=_env(db),
        cwd=db.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def tantivy_times(db: Path, asked: list[str], ks: tuple[int, ...]) -> dict[str, object]:
    """tantivy over the database's passages (their analysed terms as whitespace tokens, as in
    the scale bench), searched for each question's analysed terms: build seconds and, per k,
    the median and p95 milliseconds of the warm searches."""
    import tantivy

    from retrieval.analyzer import analyze

    with sqlite3.connect(db) as con:
        texts = [row[0] for row in con.execute("SELECT text FROM passages ORDER BY id")]
    started = time.perf_counter()
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("terms", stored=False, tokenizer_name="whitespace")
    schema = builder.build()
    index = tantivy.Index(schema)
    writer = index.writer()
    for text in texts:
        writer.add_document(tantivy.Document(terms=" ".join(analyze(text))))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()
    build_s = time.perf_counter() - started
    queries = []
    for question in asked:
        terms = list(dict.fromkeys(analyze(question)))
        should = tantivy.Occur.Should
        clauses = [(should, tantivy.Query.term_query(schema, "terms", t)) for t in terms]
        queries.append(tantivy.Query.boolean_query(clauses))
    out: dict[str, object] = {"passages": len(texts), "build_s": build_s}
    for k in ks:
        for query in queries[:WARM_UP]:
            searcher.search(query, k)
        times = []
        for query in queries[WARM_UP:]:
            t0 = time.perf_counter()
            _ = searcher.search(query, k).hits
            times.append((time.perf_counter() - t0) * 1000)
        out[f"top{k}"] = {"p50_ms": median(times), "p95_ms": percentile(times, 0.95)}
    return out


def run_citebot(args: list[str], db: Path) -> float:
    return _timed([*citebot_command(), *args], _env(db), db.parent)[0]


def measure(data: Path, articles: int, count: int, keep: bool = False) -> dict[str, object]:
    """Every figure of the module's docstring, from one fresh database."""
    work = Path(tempfile.mkdtemp(prefix="citebot-folder-"))
    folder = work / "articles"
    texts = write_folder(data, folder, articles)
    db = work / "citebot.db"
    result: dict[str, object] = {"articles": len(texts)}

    # Some articles are refused (empty or too short): the add then exits 1, like any partial add.
    started = time.perf_counter()
    subprocess.run(
        [*citebot_command(), "sources", "add", str(folder)],
        env=_env(db),
        cwd=db.parent,
        capture_output=True,
        check=False,
    )
    add_s = time.perf_counter() - started
    bm25s_s, _ = time_bm25s(texts, stem=False)
    result["ingest"] = {"citebot_s": add_s, "bm25s_s": bm25s_s, "ratio": add_s / bm25s_s}

    asked = questions(texts, count)
    first_s = run_citebot(["ask", asked[0]], db)
    answers = ask_batch(db, asked)[WARM_UP:]
    search = [a["search_ms"] for a in answers if "search_ms" in a]
    whole = [a["latency_ms"] for a in answers if "latency_ms" in a]
    peer = tantivy_times(db, asked, (10, 30))
    result["first_ask_s"] = first_s
    result["query"] = {
        "citebot_search_p50_ms": median(search),
        "citebot_search_p95_ms": percentile(search, 0.95),
        "citebot_ask_p50_ms": median(whole),
        "citebot_ask_p95_ms": percentile(whole, 0.95),
        "tantivy": peer,
        "ratio_p95_top10": percentile(search, 0.95) / peer["top10"]["p95_ms"],
        "ratio_p95_top30": percentile(search, 0.95) / peer["top30"]["p95_ms"],
    }

    numpy = [sys.executable, "-c", "import numpy"]
    ask = [*citebot_command(), "ask", asked[1]]
    env = _env(db)
    cold, imports = [], []  # (wall, CPU) seconds: CPU time moves less when the machine is busy
    for _ in range(RUNS):
        imports.append(_timed(numpy, env, db.parent))
        cold.append(_timed(ask, env, db.parent))
    result["cold"] = {
        "ask_s": median(w for w, _ in cold),
        "numpy_s": median(w for w, _ in imports),
        "ratio": median(w for w, _ in cold) / median(w for w, _ in imports),
        "cpu_ratio": median(c for _, c in cold) / median(c for _, c in imports),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }

    after = []
    for n in range(RUNS):
        one = work / f"one-{n}.md"
        one.write_text(f"# Benchmark note {n}\n\nThe kestrel count on ridge {n} was 4{n}.\n")
        run_citebot(["sources", "add", str(one)], db)
        after.append(run_citebot(["ask", f"kestrel count on ridge {n}"], db))
    cold_wall = median(w for w, _ in cold)
    result["after_add"] = {
        "ask_s": median(after),
        "cold_ask_s": cold_wall,
        "ratio": median(after) / cold_wall,
    }
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    if keep:
        result["kept"] = str(work)
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return result


def run(data_dir: Path | None, quick: bool) -> dict[str, object]:
    """For `bench/run.py --only folder`: the whole folder, or a 2,000-article slice with
    `--quick`."""
    if data_dir is None or not (data_dir / SOURCES["2021"]).is_file():
        return {"skipped": f"no {SOURCES['2021']} under {data_dir}"}
    return measure(data_dir, 2000 if quick else ARTICLES, 120 if quick else QUESTIONS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--articles", type=int, default=ARTICLES)
    parser.add_argument("--questions", type=int, default=QUESTIONS)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the database and folder")
    args = parser.parse_args(argv)
    if not (args.data / SOURCES["2021"]).is_file():
        print(f"no {SOURCES['2021']} under {args.data}", file=sys.stderr)
        return 1
    result = measure(args.data, args.articles, args.questions, args.keep)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def render(r: dict) -> str:
    if "skipped" in r:
        return f"folder: skipped ({r['skipped']})"
    q, t = r["query"], r["query"]["tantivy"]
    t10, t30, cold = t["top10"], t["top30"], r["cold"]
    lines = [
        f"{r['articles']:,} articles, {t['passages']:,} passages; load average {r['load_average']}",
        f"ingest  citebot sources add DIR {r['ingest']['citebot_s']:.1f} s, bm25s tokenize+index "
        f"{r['ingest']['bm25s_s']:.1f} s: {r['ingest']['ratio']:.2f}x (target <= 5x)",
        f"first ask after the add (builds the segments) {r['first_ask_s']:.2f} s; "
        f"tantivy build {t['build_s']:.2f} s",
        f"query   citebot search p50 {q['citebot_search_p50_ms']:.3f} ms, p95 "
        f"{q['citebot_search_p95_ms']:.3f} ms (whole ask p50 {q['citebot_ask_p50_ms']:.1f}, p95 "
        f"{q['citebot_ask_p95_ms']:.1f} ms)",
        f"        tantivy top 10 p50 {t10['p50_ms']:.3f}, p95 {t10['p95_ms']:.3f} ms; "
        f"top 30 p50 {t30['p50_ms']:.3f}, p95 {t30['p95_ms']:.3f} ms",
        f"        p95 ratio {q['ratio_p95_top10']:.2f}x (top 10), {q['ratio_p95_top30']:.2f}x "
        "(top 30) (target <= 1.5x)",
        f"cold    citebot ask {cold['ask_s']:.3f} s, import numpy {cold['numpy_s']:.3f} s: "
        f"{cold['ratio']:.2f}x (target <= 2.5x); CPU time {cold.get('cpu_ratio', 0):.2f}x; "
        f"load average {cold.get('load_average')}",
        f"add     ask right after `sources add one.md` {r['after_add']['ask_s']:.3f} s against a "
        f"cold ask: {r['after_add']['ratio']:.2f}x (target <= 1.5x)",
    ]
    if "kept" in r:
        lines.append(f"kept: {r['kept']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
