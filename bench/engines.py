"""The engines behind one interface: build from the same passages, return the top 10.

Every engine starts from the same input, a list of space-joined analysed terms (citebot's
`passages.terms` column), and its build time includes turning that into its own form: citebot
splits the strings, bm25s tokenizes them into ids, SQLite inserts them into an FTS5 table,
tantivy indexes them with its whitespace tokenizer (in memory, its default writer).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Protocol

ENGINES = ("citebot", "bm25s", "fts5", "tantivy")
K = 10


class Engine(Protocol):
    def search(self, terms: Sequence[str]) -> list[int]:
        """Passage numbers (0-based) of the best K passages."""
        ...


class Citebot:
    """retrieval.index.Bm25Index, as KnowledgeBase builds it; every passage global (guild None)."""

    def __init__(self, passages: Sequence[str]) -> None:
        from retrieval.index import Bm25Index
        from retrieval.store import PassageRow

        rows = [PassageRow(i + 1, i // 20 + 1, None, t) for i, t in enumerate(passages)]
        self._index = Bm25Index(rows, 1)

    def search(self, terms: Sequence[str]) -> list[int]:
        return [h.passage_id - 1 for h in self._index.search(terms, K, None).hits]


class Bm25s:
    """bm25s with BM25Okapi's parameters (k1=1.5, b=0.75) and its default Lucene idf."""

    def __init__(self, passages: Sequence[str]) -> None:
        import bm25s

        tokens = bm25s.tokenize(
            list(passages),
            lower=False,
            token_pattern=r"\S+",
            stopwords=None,
            show_progress=False,
        )
        self._model = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
        self._model.index(tokens, show_progress=False)
        self._vocab = tokens.vocab
        self._n = len(passages)

    def search(self, terms: Sequence[str]) -> list[int]:
        ids = [self._vocab[t] for t in dict.fromkeys(terms) if t in self._vocab]
        if not ids:
            return []
        docs, scores = self._model.retrieve([ids], k=min(K, self._n), show_progress=False)
        return [int(d) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]


# Terms keep their inner punctuation (gpt-4o, $5.6, o'neil): those characters are token chars.
_FTS_TOKENIZE = "unicode61 remove_diacritics 0 tokenchars '-./''$_'"


class Fts5:
    """SQLite FTS5 in memory: OR of the quoted terms, ranked by the built-in bm25()."""

    def __init__(self, passages: Sequence[str]) -> None:
        self._db = sqlite3.connect(":memory:")
        self._db.execute(f'CREATE VIRTUAL TABLE p USING fts5(terms, tokenize = "{_FTS_TOKENIZE}")')
        with self._db:
            self._db.executemany(
                "INSERT INTO p (rowid, terms) VALUES (?, ?)",
                ((i + 1, t) for i, t in enumerate(passages)),
            )
        self._db.execute("INSERT INTO p (p) VALUES ('optimize')")

    def search(self, terms: Sequence[str]) -> list[int]:
        match = " OR ".join(_quote(t) for t in dict.fromkeys(terms))
        if not match:
            return []
        rows = self._db.execute(
            "SELECT rowid FROM p WHERE p MATCH ? ORDER BY bm25(p) LIMIT ?", (match, K)
        ).fetchall()
        return [r[0] - 1 for r in rows]


def _quote(term: str) -> str:
    """An FTS5 string literal: any term, even OR or NEAR, is matched as a plain term."""
    return '"' + term.replace('"', '""') + '"'


class Tantivy:
    """tantivy (Rust, block-max WAND), the strongest peer: the same terms as whitespace tokens,
    a disjunction of term queries, the passage number read from a stored field."""

    def __init__(self, passages: Sequence[str]) -> None:
        import tantivy

        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("n", stored=True)
        builder.add_text_field("terms", stored=False, tokenizer_name="whitespace")
        self._schema = builder.build()
        self._index = tantivy.Index(self._schema)
        writer = self._index.writer()
        for n, terms in enumerate(passages):
            writer.add_document(tantivy.Document(n=n, terms=terms))
        writer.commit()
        writer.wait_merging_threads()
        self._index.reload()
        self._searcher = self._index.searcher()
        self._tantivy = tantivy

    def search(self, terms: Sequence[str]) -> list[int]:
        t = self._tantivy
        clauses = [
            (t.Occur.Should, t.Query.term_query(self._schema, "terms", term))
            for term in dict.fromkeys(terms)
        ]
        if not clauses:
            return []
        hits = self._searcher.search(t.Query.boolean_query(clauses), K).hits
        return [self._searcher.doc(address)["n"][0] for _, address in hits]


def build(name: str, passages: Sequence[str]) -> Engine:
    return {"citebot": Citebot, "bm25s": Bm25s, "fts5": Fts5, "tantivy": Tantivy}[name](passages)
