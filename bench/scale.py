"""Scale: citebot against bm25s and SQLite FTS5 on the same passages, from 1k to 1M.

For each corpus and size, each engine is built and queried in a fresh subprocess
(bench/scale_worker.py), then citebot's start from an existing database is timed in another one
(bench/startup.py). The targets from issue 5 are judged at 100k passages.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import corpora
from bench.cache import read_lines
from bench.common import ROOT, table
from bench.engines import ENGINES

FULL_SIZES = (1_000, 10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)
TARGET_SIZE = 100_000
TARGETS = {  # issue 5, on this 2-core machine, at 100k passages
    "short_p95_ms": 50.0,
    "build_s": 10.0,
    "peak_mb": 1024.0,
    "start_s": 2.0,
}


@dataclass(frozen=True)
class Plan:
    """How much to measure: query counts, time budgets, and a memory ceiling per worker."""

    sizes: tuple[int, ...]
    short_queries: int
    long_queries: int
    query_budget_s: float  # per engine, per query kind
    worker_timeout_s: float
    max_gb: float

    @classmethod
    def make(cls, quick: bool, sizes: tuple[int, ...] | None) -> Plan:
        if quick:
            return cls(sizes or QUICK_SIZES, 40, 20, 3.0, 120.0, 8.0)
        return cls(sizes or FULL_SIZES, 300, 100, 30.0, 1800.0, 12.0)


def _python(module: str, *args: str, timeout: float) -> dict[str, object]:
    """Run `python -m module args` from the repo root; its last stdout line is JSON."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"skipped": f"over the {timeout:.0f} s time budget"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        if proc.returncode < 0 or "MemoryError" in proc.stderr:
            tail = f"killed or out of memory ({tail})"
        return {"skipped": f"exit {proc.returncode}: {tail[:160]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _engine_available(engine: str) -> str | None:
    """None, or why the engine cannot run here."""
    if engine == "bm25s":
        try:
            import bm25s  # noqa: F401
        except ImportError:
            return "bm25s not installed (pip install '.[bench]')"
    return None


def _measure(
    corpus: corpora.Corpus, plan: Plan, tmp: Path, engines_run: tuple[str, ...] | None = None
) -> dict[str, object]:
    qfile = tmp / f"queries-{corpus.kind}-{corpus.size}.json"
    seed = corpus.size
    short = corpora.queries(corpus, plan.short_queries, corpora.SHORT, seed)
    long = corpora.queries(corpus, plan.long_queries, corpora.LONG, seed + 1)
    qfile.write_text(json.dumps({"short": short, "long": long}))
    engines: dict[str, dict[str, object]] = {}
    for engine in engines_run or ENGINES:
        reason = _engine_available(engine)
        if reason:
            engines[engine] = {"skipped": reason}
            continue
        folder = tmp / f"index-{engine}-{corpus.kind}-{corpus.size}"
        shutil.rmtree(folder, ignore_errors=True)
        common = (f"--engine={engine}", f"--folder={folder}", f"--queries={qfile}")
        built = _python(
            "bench.scale_worker",
            *common,
            f"--passages={corpus.terms_path}",
            f"--size={corpus.size}",
            f"--budget={plan.query_budget_s}",
            f"--max-gb={plan.max_gb}",
            timeout=plan.worker_timeout_s,
        )
        if "skipped" not in built:
            built["reopened"] = _python(
                "bench.scale_worker",
                *common,
                "--phase=reopen",
                f"--size={built['size']}",
                timeout=plan.worker_timeout_s,
            )
        engines[engine] = built
        shutil.rmtree(folder, ignore_errors=True)
    if engines_run:  # a partial run (--engines): no database start
        return {"engines": engines, "start": {"skipped": "not run with --engines"}}
    return {"engines": engines, "start": _start(corpus, short[0], plan, tmp)}


def _start(corpus: corpora.Corpus, question: list[str], plan: Plan, tmp: Path) -> dict:
    """Build a citebot database of the corpus, then time a fresh process's open + first ask."""
    db = tmp / f"citebot-{corpus.kind}-{corpus.size}.db"
    from bench.startup import make_db

    terms = read_lines(corpus.terms_path, corpus.size)
    texts = read_lines(corpus.text_path, corpus.size) if corpus.text_path else None
    t0 = time.perf_counter()
    make_db(db, terms, texts)
    make_s = time.perf_counter() - t0
    del terms, texts
    # First start: no saved index yet, so it is built (and saved next to the database).
    cold = _python("bench.startup", str(db), " ".join(question), timeout=plan.worker_timeout_s)
    # Every later start (a restarted bot, each `citebot ask`) loads the saved index.
    t0 = time.perf_counter()
    result = _python("bench.startup", str(db), " ".join(question), timeout=plan.worker_timeout_s)
    result["process_s"] = time.perf_counter() - t0
    result["cold_start_s"] = cold.get("start_s")
    result["db_mb"] = db.stat().st_size / 1e6
    result["make_db_s"] = make_s
    for suffix in ("", "-wal", "-shm", ".index"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(f"{db}.segments", ignore_errors=True)
    return result


def run(
    data_dir: Path | None,
    quick: bool,
    sizes: tuple[int, ...] | None = None,
    engines: tuple[str, ...] | None = None,
) -> dict:
    plan = Plan.make(quick, sizes)
    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="citebot-bench-") as tmp:
        for size in plan.sizes:
            for kind in ("synthetic", "enwiki"):
                t0 = time.perf_counter()
                corpus = corpora.synthetic(size) if kind == "synthetic" else None
                if kind == "enwiki":
                    got = corpora.enwiki(data_dir, size)
                    if isinstance(got, str):
                        runs.append({"corpus": kind, "size": size, "skipped": got})
                        continue
                    corpus = got
                assert corpus is not None
                prepare_s = time.perf_counter() - t0
                entry = {"corpus": kind, "size": size, "prepare_s": prepare_s}
                entry.update(_measure(corpus, plan, Path(tmp), engines))
                runs.append(entry)
                print(f"  scale: {kind} {size:,} done", file=sys.stderr, flush=True)
    return {
        "plan": plan.__dict__,
        "targets": TARGETS,
        "runs": runs,
        "verdicts": _verdicts(runs),
        "peer_verdicts": _peer_verdicts(runs),
    }


def _verdicts(runs: list[dict]) -> list[dict[str, object]]:
    """The issue's targets, judged on citebot at 100k passages for each corpus measured."""
    out = []
    for r in runs:
        if r["size"] != TARGET_SIZE or "skipped" in r:
            continue
        cb = r["engines"].get("citebot", {})
        start = r["start"]
        measured = {
            "short_p95_ms": cb.get("short", {}).get("p95_ms"),
            "build_s": cb.get("build_s"),
            "peak_mb": cb.get("peak_mb"),
            "start_s": start.get("start_s"),
        }
        for key, limit in TARGETS.items():
            value = measured[key]
            verdict = "n/a" if value is None else ("PASS" if value <= limit else "FAIL")
            out.append(
                {
                    "corpus": r["corpus"],
                    "metric": key,
                    "value": value,
                    "limit": limit,
                    "verdict": verdict,
                }
            )
    return out


# Issue 10: citebot against tantivy measured in the same run, at 100k and 1M passages.
PEER = "tantivy"
PEER_SIZES = (100_000, 1_000_000)
PEER_TARGETS = {  # metric: (how to read it from a worker's result, the largest ratio allowed)
    "short p95": (lambda e: e["short"]["p95_ms"], 1.5),
    "long p95": (lambda e: e["long"]["p95_ms"], 1.5),
    "build s": (lambda e: e["build_s"], 1.5),
    "resident MB (reopened)": (lambda e: e["reopened"]["resident_mb"], 2.0),
    "resident MB (after build)": (lambda e: e["resident_mb"], 2.0),
    "disk MB": (lambda e: e["disk_mb"], 2.0),
}


def _peer_verdicts(runs: list[dict]) -> list[dict[str, object]]:
    """Issue 10's targets: citebot / tantivy ratios, each from the same run."""
    out = []
    for r in runs:
        if r["size"] not in PEER_SIZES or "skipped" in r:
            continue
        cb, peer = r["engines"].get("citebot", {}), r["engines"].get(PEER, {})
        for metric, (read, limit) in PEER_TARGETS.items():
            try:
                ratio = read(cb) / read(peer)
            except (KeyError, TypeError, ZeroDivisionError):
                ratio = None
            verdict = "n/a" if ratio is None else ("PASS" if ratio <= limit else "FAIL")
            out.append(
                {
                    "corpus": f"{r['corpus']} {r['size']:,}",
                    "metric": metric,
                    "ratio": ratio,
                    "limit": limit,
                    "verdict": verdict,
                }
            )
    return out


def _overlap(a: list[list[int]], b: list[list[int]]) -> str:
    """Mean share of citebot's top 10 that the peer also returns: a check that the engines index
    the same passages and answer alike (bm25s uses Lucene's idf, FTS5 k1=1.2, so not 100%)."""
    pairs = zip(a, b, strict=False)  # an engine skipped part-way returns fewer
    shares = [len(set(x) & set(y)) / max(len(x), len(y)) for x, y in pairs if x or y]
    return f"{100 * sum(shares) / len(shares):.0f}%" if shares else "-"


def _ratio(a: object, b: object) -> str:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or not b:
        return "-"
    return f"{a / b:.2f}x"


def _get(e: dict, *path: str) -> object:
    for key in path:
        if not isinstance(e, dict) or key not in e:
            return None
        e = e[key]
    return e


def render(result: dict) -> str:
    out = []
    speed, costs, ratios, starts = [], [], [], []
    notes: list[str] = []
    for r in result["runs"]:
        label = f"{r['corpus']} {r['size']:,}"
        if "skipped" in r:
            notes.append(f"  {label}: skipped ({r['skipped']})")
            continue
        engines = r["engines"]
        for name, e in engines.items():
            if "skipped" in e:
                speed.append([label, name, "skipped", *[""] * 4])
                notes.append(f"  {label} {name}: skipped ({e['skipped']})")
                continue
            s, lg, ro = e["short"], e["long"], e.get("reopened", {})
            if "skipped" in ro:
                notes.append(f"  {label} {name} reopened: skipped ({ro['skipped']})")
            speed.append(
                [
                    label,
                    name,
                    s["p50_ms"],
                    s["p95_ms"],
                    lg["p50_ms"],
                    lg["p95_ms"],
                    s.get("p95_cpu_ms"),
                    lg.get("p95_cpu_ms"),
                    f"{s['queries']}+{lg['queries']}",
                ]
            )
            costs.append(
                [
                    label,
                    name,
                    e["build_s"],
                    e.get("build_cpu_s"),
                    e["peak_mb"],
                    e["build_extra_mb"],
                    e.get("resident_mb"),
                    ro.get("resident_mb"),
                    e.get("disk_mb"),
                    ro.get("open_s"),
                    ro.get("first_query_ms"),
                    ro.get("add_s") if isinstance(ro.get("add_s"), float) else "-",
                ]
            )
            if isinstance(ro.get("add_s"), str):
                notes.append(f"  {label} {name} add: {ro['add_s']}")
        cb = engines.get("citebot", {})
        for peer in ("tantivy", "bm25s", "fts5"):
            e = engines.get(peer, {"skipped": "not run"})
            if "skipped" in e or "skipped" in cb:
                ratios.append([label, peer, *["-"] * 10])
                continue
            ratios.append(
                [
                    label,
                    peer,
                    _ratio(cb["build_s"], e["build_s"]),
                    _ratio(cb["build_extra_mb"], e["build_extra_mb"]),
                    _ratio(cb.get("resident_mb"), e.get("resident_mb")),
                    _ratio(_get(cb, "reopened", "resident_mb"), _get(e, "reopened", "resident_mb")),
                    _ratio(cb.get("disk_mb"), e.get("disk_mb")),
                    _ratio(cb["short"]["p95_ms"], e["short"]["p95_ms"]),
                    _ratio(cb["long"]["p95_ms"], e["long"]["p95_ms"]),
                    _ratio(_get(cb, "short", "p95_cpu_ms"), _get(e, "short", "p95_cpu_ms")),
                    _ratio(_get(cb, "build_cpu_s"), _get(e, "build_cpu_s")),
                    _overlap(cb.get("top_short", []), e.get("top_short", [])),
                ]
            )
        st = r["start"]
        if "skipped" in st:
            starts.append([label, "skipped", "", "", "", "", "", ""])
            notes.append(f"  {label} start: skipped ({st['skipped']})")
        else:
            starts.append(
                [
                    label,
                    st["open_s"],
                    st["first_ask_s"],
                    st["start_s"],
                    st.get("cold_start_s"),
                    st["process_s"],
                    st["peak_mb"],
                    st["db_mb"],
                ]
            )
    out.append(
        table(
            [
                "corpus",
                "engine",
                "short p50 ms",
                "short p95 ms",
                "long p50 ms",
                "long p95 ms",
                "short p95 cpu",
                "long p95 cpu",
                "queries",
            ],
            speed,
            "Scale: query latency at k=10, warm, in the build process (cpu: the searching "
            "thread's CPU time per query, in ms: steadier than wall time on a loaded machine)",
        )
        + "".join(f"\n{n}" for n in notes)
    )
    out.append(
        table(
            [
                "corpus",
                "engine",
                "build s",
                "cpu s",
                "peak MB",
                "build +MB",
                "resident MB",
                "reopened MB",
                "disk MB",
                "open s",
                "1st query ms",
                "add s",
            ],
            costs,
            "Build (input strings to an index saved on disk; cpu: its CPU time, all threads), "
            "memory and disk. peak: the build "
            "process's VmHWM, input strings included; build +MB: that peak above the process "
            "with its input loaded; resident: RSS above interpreter and imports, after the "
            "build with the input dropped, and in a fresh process that reopened the saved "
            "index and answered every query; open s, 1st query: that fresh process; add s: in it, "
            "from adding one source (5 passages, saved) to a search that finds it",
        )
    )
    out.append(
        table(
            [
                "corpus",
                "peer",
                "build",
                "build +MB",
                "resident",
                "reopened",
                "disk",
                "short p95",
                "long p95",
                "short p95 cpu",
                "build cpu",
                "top-10 agree",
            ],
            ratios,
            "Ratios citebot / peer (below 1.00x: citebot is faster or smaller)",
        )
    )
    out.append(
        table(
            [
                "corpus",
                "open s",
                "first ask s",
                "open+ask s",
                "first start s",
                "process s",
                "peak MB",
                "db MB",
            ],
            starts,
            "citebot start from an existing database (fresh process; 'first start' is the very "
            "first one, which builds and saves the index; 'process' adds the interpreter and "
            "imports)",
        )
    )
    peer_verdicts = result.get("peer_verdicts", [])
    if peer_verdicts:
        out.append(
            table(
                ["corpus", "citebot / tantivy", "ratio", "limit", "PASS/FAIL"],
                [
                    [
                        v["corpus"],
                        v["metric"],
                        "-" if v["ratio"] is None else f"{v['ratio']:.2f}x",
                        f"{v['limit']:.1f}x",
                        v["verdict"],
                    ]
                    for v in peer_verdicts
                ],
                "Targets (issue 10), same run",
            )
        )
    verdicts = result["verdicts"]
    if verdicts:
        out.append(
            table(
                ["corpus", "target (citebot, 100k)", "measured", "limit", "PASS/FAIL"],
                [
                    [v["corpus"], v["metric"], v["value"], v["limit"], v["verdict"]]
                    for v in verdicts
                ],
                "Targets (issue 5)",
            )
        )
    else:
        out.append(
            f"Targets (issue 5): not judged; they need the {TARGET_SIZE:,} size "
            "(run without --quick, or --sizes with 100000)"
        )
    return "\n\n".join(out)
