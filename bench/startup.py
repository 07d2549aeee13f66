"""citebot's start from an existing database: open it and answer the first question.

That first answer is what a restarted bot (or every `citebot ask`) pays: load the index saved
next to the database, or, the very first time, load every passage from SQLite and build it.
The database is a real citebot file (schema from Store.open), filled with plain sqlite3 because
ingesting a million passages through the facade would measure the cleaner, not the start. One
document holds 20 passages.

`make_db` runs in the orchestrator; `main` runs in a fresh process (`python -m bench.startup`).

`run` (`bench/run.py --only startup`) times the whole `citebot ask` process as a user starts it
against `python -c "import numpy"` on the same machine (issue 10's cold-start target is a ratio
to that, so the machine's speed cancels out), and lists where the ask's import time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sqlite3
import sys
import time
from pathlib import Path

PASSAGES_PER_DOC = 20


def make_db(path: Path, terms: list[str], texts: list[str] | None) -> None:
    """A citebot database holding these passages, all in the global scope."""
    from retrieval.store import Store, now

    async def schema() -> None:
        store = await Store.open(path)
        await store.close()

    asyncio.run(schema())
    stamp = now()
    n_docs = (len(terms) + PASSAGES_PER_DOC - 1) // PASSAGES_PER_DOC
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO documents (id, guild_id, title, source, kind, content_hash, summary, "
            "word_count, added_by, added_at) VALUES (?, NULL, ?, ?, 'text', ?, '', ?, 'bench', ?)",
            (
                (d + 1, f"bench document {d + 1}", "pasted text", f"bench-{d + 1}", 0, stamp)
                for d in range(n_docs)
            ),
        )
        con.executemany(
            "INSERT INTO passages (id, document_id, ordinal, paragraph, heading, text, terms) "
            "VALUES (?, ?, ?, ?, NULL, ?, ?)",
            (
                (
                    i + 1,
                    i // PASSAGES_PER_DOC + 1,
                    i % PASSAGES_PER_DOC,
                    i % PASSAGES_PER_DOC + 1,
                    texts[i] if texts else t,
                    t,
                )
                for i, t in enumerate(terms)
            ),
        )
        con.execute("UPDATE meta SET value = '1' WHERE key = 'corpus_version'")
        con.execute("COMMIT")
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    """Print {"import_s", "open_s", "first_ask_s", "start_s", "peak_mb", "answered", "hits"};
    with --process, the whole `citebot ask` process against `python -c "import numpy"`
    instead (`wall_times`), on a database made before (say a folder's, `bench.folder --keep`),
    with the load average."""
    p = argparse.ArgumentParser()
    p.add_argument("db")
    p.add_argument("question")
    p.add_argument("--process", action="store_true", help="time whole processes, interleaved")
    p.add_argument("--runs", type=int, default=RUNS)
    args = p.parse_args(argv)
    if args.process:
        import os

        times = wall_times(Path(args.db).resolve(), args.question, args.runs)
        print(json.dumps({**times, "load_average": [round(x, 2) for x in os.getloadavg()]}))
        return 0
    t0 = time.perf_counter()
    from retrieval.knowledge import KnowledgeBase

    t_import = time.perf_counter() - t0

    async def run() -> dict[str, object]:
        t1 = time.perf_counter()
        kb = await KnowledgeBase.open(args.db, seed=False)
        t2 = time.perf_counter()
        try:
            answer = await kb.ask(args.question, k=3)
        finally:
            t3 = time.perf_counter()
            await kb.close()
        return {
            "open_s": t2 - t1,
            "first_ask_s": t3 - t2,
            "start_s": t3 - t1,
            "answered": answer.answered,
            "hits": len(answer.hits),
        }

    result = asyncio.run(run())
    from bench.common import peak_rss_mb

    result.update(import_s=t_import, peak_mb=peak_rss_mb())
    print(json.dumps(result))
    return 0


# -- the whole `citebot ask` process (bench/run.py --only startup) -----------------------------

RUNS = 7
QUICK_RUNS = 3
IMPORT_RUNS = 5
SCALE_SIZE = 100_000
BUNDLED_QUESTION = "when was R1 released"
TARGET_RATIO = 2.5  # issue 10: a cold `citebot ask` within 2.5x `python -c "import numpy"`
# Ours, or the interpreter's own start-up: not what `citebot ask` chose to import.
NOT_DEPENDENCIES = frozenset({"retrieval", "bot", "sitecustomize", "usercustomize"})


def citebot_command() -> list[str]:
    """`citebot` as a user runs it: the installed console script, else `python -m bot`."""
    script = Path(sys.executable).with_name("citebot")
    if script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-m", "bot"]


def _env(db: Path) -> dict[str, str]:
    import os

    from bench.common import ROOT

    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "CITEBOT_DB": str(db), "PYTHONPATH": path}
    # An installed citebot has its bytecode cached; without it every run would time the
    # compiler (~0.25 s for retrieval/ alone), not the start. The warm-up run writes it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _timed(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of `args`.

    CPU time is reported beside the wall time because it hardly moves when other work shares
    the machine, while the wall time does; the target itself is on the wall time.
    """
    import resource
    import subprocess

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    c0, t0 = cpu(), time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed, used = time.perf_counter() - t0, cpu() - c0
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{' '.join(args[:3])}... exited {done.returncode}: {tail}")
    return elapsed, used


def wall_times(db: Path, question: str, runs: int) -> dict[str, object]:
    """Median wall time of `citebot ask QUESTION` and of `python -c "import numpy"`.

    One unmeasured run of each first: the OS cache is warm and the saved index exists, as for
    every ask but the first after a change. The two commands alternate, so a busy moment on the
    machine slows both rather than one.
    """
    from statistics import median

    env = _env(db)
    ask = [*citebot_command(), "ask", question]
    numpy = [sys.executable, "-c", "import numpy"]
    _timed(ask, env, db.parent)
    _timed(numpy, env, db.parent)
    asks, numpys = [], []
    for _ in range(runs):
        numpys.append(_timed(numpy, env, db.parent))
        asks.append(_timed(ask, env, db.parent))
    ask_s, numpy_s = median(a[0] for a in asks), median(n[0] for n in numpys)
    ask_cpu_s, numpy_cpu_s = median(a[1] for a in asks), median(n[1] for n in numpys)
    return {
        "runs": runs,
        "ask_s": ask_s,
        "numpy_s": numpy_s,
        "ratio": ask_s / numpy_s,
        "ask_cpu_s": ask_cpu_s,
        "numpy_cpu_s": numpy_cpu_s,
        "cpu_ratio": ask_cpu_s / numpy_cpu_s,
        "ask_all_s": [a[0] for a in asks],
        "numpy_all_s": [n[0] for n in numpys],
    }


def parse_importtime(stderr: str) -> dict[str, float]:
    """Self time per top-level package (ms) from `python -X importtime` output."""
    costs: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        own, _, name = line[len("import time:") :].split("|")
        package = name.strip().split(".")[0]
        costs[package] = costs.get(package, 0.0) + int(own) / 1000
    return costs


def import_costs(db: Path, question: str, runs: int) -> dict[str, float]:
    """Median self import time per top-level package of one `citebot ask`, largest first."""
    import subprocess
    from statistics import median

    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", *citebot_command()[1:], "ask", question],
            env=_env(db),
            cwd=db.parent,
            capture_output=True,
            text=True,
            check=True,
        )
        for package, ms in parse_importtime(done.stderr).items():
            samples.setdefault(package, []).append(ms)
    costs = {p: median(v + [0.0] * (runs - len(v))) for p, v in samples.items()}
    return dict(sorted(costs.items(), key=lambda kv: -kv[1]))


def _measure_process(db: Path, question: str, passages: int, runs: int) -> dict[str, object]:
    result: dict[str, object] = {"passages": passages, "question": question}
    result.update(wall_times(db, question, runs))
    costs = import_costs(db, question, IMPORT_RUNS if runs >= RUNS else 1)
    result["imports_ms"] = round(sum(costs.values()), 1)
    result["top_imports_ms"] = {p: round(ms, 1) for p, ms in list(costs.items())[:12]}
    # Which installed packages the ask loads (tests/test_cli.py checks the ones it must not).
    # importtime also lists imports that failed (the standard library's `org` probe): skipped.
    result["packages"] = sorted(
        p
        for p in costs
        if p not in sys.stdlib_module_names
        and p not in NOT_DEPENDENCIES
        and p[0] != "_"
        and importlib.util.find_spec(p) is not None
    )
    return result


def _passage_count(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT count(*) FROM passages").fetchone()[0]


def run(data_dir: Path | None, quick: bool) -> dict[str, object]:
    """The bundled corpus always; ~100k Wikipedia passages too when the data is there."""
    import tempfile

    from bench import corpora
    from bench.cache import read_lines

    runs = QUICK_RUNS if quick else RUNS
    out: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="citebot-startup-") as tmp:
        db = Path(tmp) / "bundled.db"
        # The first ask seeds the bundled corpus and saves the index; wall_times warms up.
        _timed([*citebot_command(), "ask", BUNDLED_QUESTION], _env(db), db.parent)
        out.append(
            {
                "corpus": "bundled",
                **_measure_process(db, BUNDLED_QUESTION, _passage_count(db), runs),
            }
        )
        got = None if quick else corpora.enwiki(data_dir, SCALE_SIZE)
        if isinstance(got, corpora.Corpus):
            db = Path(tmp) / "enwiki.db"
            terms = read_lines(got.terms_path, got.size)
            texts = read_lines(got.text_path, got.size) if got.text_path else None
            make_db(db, terms, texts)
            question = " ".join(corpora.queries(got, 1, corpora.SHORT, got.size)[0])
            del terms, texts
            _timed([*citebot_command(), "ask", question], _env(db), db.parent)
            out.append(
                {"corpus": "enwiki", **_measure_process(db, question, _passage_count(db), runs)}
            )
        elif got is not None:
            out.append({"corpus": "enwiki", "skipped": got})
    return {"target_ratio": TARGET_RATIO, "runs": out}


def render(result: dict[str, object]) -> str:
    from bench.common import table

    rows, imports = [], []
    for r in result["runs"]:  # type: ignore[union-attr]
        if "skipped" in r:
            rows.append([r["corpus"], "skipped", r["skipped"], "", "", "", "", ""])
            continue
        verdict = "PASS" if r["ratio"] <= result["target_ratio"] else "FAIL"
        rows.append(
            [
                r["corpus"],
                f"{r['passages']:,}",
                f"{1000 * r['ask_s']:.0f} ms",
                f"{1000 * r['numpy_s']:.0f} ms",
                f"{r['ratio']:.2f}x",
                verdict,
                f"{1000 * r['ask_cpu_s']:.0f} / {1000 * r['numpy_cpu_s']:.0f} ms",
                ", ".join(r["packages"]),
            ]
        )
        top = ", ".join(f"{p} {ms:.0f}" for p, ms in list(r["top_imports_ms"].items())[:8])
        imports.append(f"  {r['corpus']}: imports {r['imports_ms']:.0f} ms; largest (ms): {top}")
    head = [
        "corpus",
        "passages",
        "citebot ask",
        "import numpy",
        "ratio",
        f"<= {result['target_ratio']}x",
        "CPU ask / numpy",
        "packages imported",
    ]
    title = 'Cold start: a whole `citebot ask` process against `python -c "import numpy"` (medians)'
    return "\n".join([title, table(head, rows), *imports])


if __name__ == "__main__":
    sys.exit(main())
