"""The engines behind one interface: build from the same passages into a folder, reopen, return
the top 10.

Every engine starts from the same input, a list of space-joined analysed terms (citebot's
`passages.terms` column), and its build includes turning that into its own form and writing it
to disk, so that build time, disk and the resident memory of a reopened index are measured the
same way for every engine: citebot splits the strings, builds its segments and saves them;
bm25s tokenizes them into ids, indexes and saves; SQLite inserts them into a contentless FTS5
table in a database file; tantivy indexes them with its whitespace tokenizer into a directory
(document ids and frequencies, no positions: what BM25 needs, like the others).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

ENGINES = ("citebot", "bm25s", "fts5", "tantivy")
K = 10


class Engine(Protocol):
    def search(self, terms: Sequence[str]) -> list[int]:
        """Passage numbers (0-based) of the best K passages."""
        ...

    def add(self, passages: Sequence[str], first: int, folder: Path) -> None:
        """Add passages numbered `first`, `first` + 1, ... and save them in `folder`, as a
        source added to a running server: the next search finds them."""
        ...


class Citebot:
    """retrieval.index.Bm25Index, as KnowledgeBase builds it (every passage global, guild None),
    saved as its segments folder and reopened memory-mapped as `citebot ask` does."""

    def __init__(self, index) -> None:
        self._index = index

    @classmethod
    def build(cls, passages: Sequence[str], folder: Path) -> Citebot:
        from retrieval.index import Bm25Index

        # (id, document id, guild id, terms): the columns the store reads for the index.
        rows = [(i + 1, i // 20 + 1, None, t) for i, t in enumerate(passages)]
        index = Bm25Index(rows, 1)
        del rows
        index.save(folder, "bench")
        return cls(index)

    @classmethod
    def open(cls, folder: Path) -> Citebot:
        from retrieval.index import Bm25Index

        opened = Bm25Index.open_saved(folder)
        if opened is None:
            raise RuntimeError(f"no saved citebot index in {folder}")
        return cls(opened[0])

    def search(self, terms: Sequence[str]) -> list[int]:
        return [h.passage_id - 1 for h in self._index.search(terms, K, None).hits]

    def add(self, passages: Sequence[str], first: int, folder: Path) -> None:
        from retrieval.index import segments_of

        document = first // 20 + 10**9  # a new document, after every other
        rows = [(first + i + 1, document, None, t) for i, t in enumerate(passages)]
        index = self._index
        self._index = index.changed(segments_of(rows), [], index.version + 1)
        self._index.save(folder, "bench")


class Bm25s:
    """bm25s with BM25Okapi's parameters (k1=1.5, b=0.75) and its default Lucene idf; saved
    with its vocabulary, reopened memory-mapped."""

    def __init__(self, model, n: int) -> None:
        self._model = model
        self._vocab = model.vocab_dict
        self._n = n

    @classmethod
    def build(cls, passages: Sequence[str], folder: Path) -> Bm25s:
        import bm25s

        tokens = bm25s.tokenize(
            list(passages),
            lower=False,
            token_pattern=r"\S+",
            stopwords=None,
            show_progress=False,
        )
        model = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
        model.index(tokens, show_progress=False)
        model.save(str(folder), show_progress=False)
        return cls(model, len(passages))

    @classmethod
    def open(cls, folder: Path) -> Bm25s:
        import bm25s

        model = bm25s.BM25.load(str(folder), mmap=True, show_progress=False)
        return cls(model, int(model.scores["num_docs"]))

    def search(self, terms: Sequence[str]) -> list[int]:
        ids = [self._vocab[t] for t in dict.fromkeys(terms) if t in self._vocab]
        if not ids:
            return []
        docs, scores = self._model.retrieve([ids], k=min(K, self._n), show_progress=False)
        return [int(d) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def add(self, passages: Sequence[str], first: int, folder: Path) -> None:
        raise NotImplementedError("bm25s has no incremental add: it is rebuilt whole")


# Terms keep their inner punctuation (gpt-4o, $5.6, o'neil): those characters are token chars.
_FTS_TOKENIZE = "unicode61 remove_diacritics 0 tokenchars '-./''$_'"


class Fts5:
    """SQLite FTS5 in a database file of its own, contentless (the index alone, as the other
    engines keep no text): OR of the quoted terms, ranked by the built-in bm25()."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    @classmethod
    def build(cls, passages: Sequence[str], folder: Path) -> Fts5:
        db = sqlite3.connect(folder / "fts5.db")
        db.execute(
            f"CREATE VIRTUAL TABLE p USING fts5(terms, content='', tokenize = \"{_FTS_TOKENIZE}\")"
        )
        with db:
            db.executemany(
                "INSERT INTO p (rowid, terms) VALUES (?, ?)",
                ((i + 1, t) for i, t in enumerate(passages)),
            )
        with db:
            db.execute("INSERT INTO p (p) VALUES ('optimize')")
        return cls(db)

    @classmethod
    def open(cls, folder: Path) -> Fts5:
        return cls(sqlite3.connect(folder / "fts5.db"))

    def search(self, terms: Sequence[str]) -> list[int]:
        match = " OR ".join(_quote(t) for t in dict.fromkeys(terms))
        if not match:
            return []
        rows = self._db.execute(
            "SELECT rowid FROM p WHERE p MATCH ? ORDER BY bm25(p) LIMIT ?", (match, K)
        ).fetchall()
        return [r[0] - 1 for r in rows]

    def add(self, passages: Sequence[str], first: int, folder: Path) -> None:
        with self._db:
            self._db.executemany(
                "INSERT INTO p (rowid, terms) VALUES (?, ?)",
                ((first + i + 1, t) for i, t in enumerate(passages)),
            )


def _quote(term: str) -> str:
    """An FTS5 string literal: any term, even OR or NEAR, is matched as a plain term."""
    return '"' + term.replace('"', '""') + '"'


class Tantivy:
    """tantivy (Rust, block-max WAND), the strongest peer: the same terms as whitespace tokens
    indexed with frequencies (no positions), a disjunction of term queries, the passage number
    read from a stored field. Written to a directory (not RAM), so its disk is measured."""

    def __init__(self, index) -> None:
        import tantivy

        self._tantivy = tantivy
        self._index = index
        self._schema = index.schema
        index.reload()
        self._searcher = index.searcher()

    @staticmethod
    def schema():
        import tantivy

        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("n", stored=True)
        builder.add_text_field(
            "terms", stored=False, tokenizer_name="whitespace", index_option="freq"
        )
        return builder.build()

    @classmethod
    def build(cls, passages: Sequence[str], folder: Path) -> Tantivy:
        import tantivy

        index = tantivy.Index(cls.schema(), path=str(folder), reuse=False)
        writer = index.writer()
        for n, terms in enumerate(passages):
            writer.add_document(tantivy.Document(n=n, terms=terms))
        writer.commit()
        writer.wait_merging_threads()
        return cls(index)

    @classmethod
    def open(cls, folder: Path) -> Tantivy:
        import tantivy

        return cls(tantivy.Index.open(str(folder)))

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

    def add(self, passages: Sequence[str], first: int, folder: Path) -> None:
        writer = self._index.writer()
        for i, terms in enumerate(passages):
            writer.add_document(self._tantivy.Document(n=first + i, terms=terms))
        writer.commit()
        writer.wait_merging_threads()
        self._index.reload()
        self._searcher = self._index.searcher()


_CLASSES = {"citebot": Citebot, "bm25s": Bm25s, "fts5": Fts5, "tantivy": Tantivy}


def build(name: str, passages: Sequence[str], folder: Path) -> Engine:
    """Build `name`'s index of these passages, written into `folder` (which exists, empty)."""
    return _CLASSES[name].build(passages, folder)


def open_saved(name: str, folder: Path) -> Engine:
    """`name`'s index as a fresh process finds it in `folder`."""
    return _CLASSES[name].open(folder)


def disk_bytes(folder: Path) -> int:
    """Bytes of the files under `folder` (what the index occupies on disk)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
