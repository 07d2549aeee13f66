"""citebot's start from an existing database: open it and answer the first question.

That first answer is what a restarted bot (or every `citebot ask`) pays: load the index saved
next to the database, or, the very first time, load every passage from SQLite and build it.
The database is a real citebot file (schema from Store.open), filled with plain sqlite3 because
ingesting a million passages through the facade would measure the cleaner, not the start. One
document holds 20 passages.

`make_db` runs in the orchestrator; `main` runs in a fresh process (`python -m bench.startup`).
"""

from __future__ import annotations

import argparse
import asyncio
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
    """Print {"import_s", "open_s", "first_ask_s", "start_s", "peak_mb", "answered", "hits"}."""
    p = argparse.ArgumentParser()
    p.add_argument("db")
    p.add_argument("question")
    args = p.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
