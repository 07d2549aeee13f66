"""A big segment's postings, compiled (numba) and on two cores: the same arrays as the numpy
build in retrieval.segments, in a fraction of its time.

Why: the numpy build numbers each term occurrence with a Python dict look-up and turns the
numbers into arrays through Python lists (three quarters of its time at 100k passages), then
sorts (term, passage) keys. Here one compiled pass per block of passages reads the passages'
UTF-8 bytes, splits them where `str.split` would, numbers each term in a hash table, and
counts each term's passages; a second pass lays out each term's postings in passage order as
they come: no sort. Two workers (threads: the compiled loops release the GIL) take the blocks
one after another, each numbering terms in a table of its own; their vocabularies are then
merged and sorted (a term's id is its rank, as always) and every block's postings copied into
each term's span, again in two threads, each over half of the postings.

Used only by a process that loaded the compiled search (`retrieval.index.use_compiled`: numba
is imported already), once this module's compiled code has loaded too (`ready`), and for
builds of `SMALLEST` passages or more: a source added to a running bot stays a small
in-process numpy build. Both builds write the same files, byte for byte (tests).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter

import numpy as np
from numba import njit

from retrieval.analyzer import analyze
from retrieval.segments import (
    WINDOW_BITS,
    Built,
    Postings,
    Vocabulary,
    _narrow,
    _narrow_frequencies,
)

log = logging.getLogger(__name__)

SMALLEST = 20_000  # passages: a smaller build stays on numpy (cheap, no compiled code loaded)
BLOCK_PASSAGES = 1 << 16  # at most (a block's passages fit 16 bits)
BLOCK_CHARS = 1 << 22  # characters a block holds at most (one passage more may pass it)
FIRST_SLOTS = 1 << 16  # a numbering's table at first (it doubles when half full)
# Seconds a big build waits for the compiled build to load: loaded from numba's cache it is
# ready well within this; compiling (the first time after an install) takes longer, and that
# build runs on numpy instead.
WAIT_S = 5.0

_LOW32 = (1 << 32) - 1
# Each byte's part in splitting: 0 inside a term, 1 whitespace (ASCII), 2 the first byte of a
# character that may be whitespace (U+0085 and others: see `_space`), 3 the end of a passage.
_KIND = np.zeros(256, dtype=np.uint8)
_KIND[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = 1
_KIND[[0xC2, 0xE1, 0xE2, 0xE3]] = 2
_KIND[0] = 3
# A numbering's table: per slot, -1 (empty) or a term's number and the top 31 bits of its
# hash (hash >> 33 << 32 | number), 8 bytes so that a probe reads one cache line; each term's
# record: its first 8 bytes, where its text starts in the arena, its length.
_RECORD = 3


@njit(nogil=True, cache=True, inline="always")
def _space(buf, i, end):
    """How many bytes the whitespace character at `i` takes, or 0: the characters `str.split`
    splits on (ASCII 9-13, 28-32; U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029,
    U+202F, U+205F, U+3000), read as UTF-8."""
    c = buf[i]
    if c < 0x80:
        return 1 if c == 32 or 9 <= c <= 13 or 28 <= c <= 31 else 0
    if c == 0xC2:
        if i + 1 < end and (buf[i + 1] == 0x85 or buf[i + 1] == 0xA0):
            return 2
        return 0
    if i + 2 >= end or c < 0xE1 or c > 0xE3:
        return 0
    d, e = buf[i + 1], buf[i + 2]
    if c == 0xE1:
        return 3 if d == 0x9A and e == 0x80 else 0
    if c == 0xE3:
        return 3 if d == 0x80 and e == 0x80 else 0
    if d == 0x80 and (0x80 <= e <= 0x8A or e == 0xA8 or e == 0xA9 or e == 0xAF):
        return 3
    return 3 if d == 0x81 and e == 0x9F else 0


@njit(nogil=True, cache=True, inline="always")
def _mix(x):
    """A 64-bit hash of x (MurmurHash3's finaliser): every bit of x moves about half of
    the bits out."""
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
    return x


@njit(nogil=True, cache=True)
def _rehash(table, size, hashes, count):
    """A table of `size` slots for the first `count` terms, each by its hash."""
    out = np.full(size, -1, np.int64)
    mask = np.uint64(size - 1)
    for t in range(count):
        h = hashes[t]
        at = np.int64(h & mask)
        while out[at] >= 0:
            at = (at + 1) & (size - 1)
        out[at] = (np.int64(h >> np.uint64(33)) << 32) | t
    return out


# Why `_number` stopped (it never replaces an array itself: an array variable assigned in its
# loop would be reference-counted at every turn, doubling its time).
_DONE, _FULL_TABLE, _FULL_ARENA, _FULL_TERMS = 0, 1, 2, 3


@njit(nogil=True, cache=True)
def _number(buf, at, numbering, out, counts, met):
    """Number the terms of `buf` from byte `at` (the passages' texts, each ended by a zero
    byte but the last) into `out`, counting each passage's terms in `counts` and each term's
    passages in the numbering's state; each term met first in this block is added to `met`.
    `numbering` = (table, arena, state, meta, records, hashes): the hash table and each
    term's record (see `_RECORD`), each term's text followed by a newline, each term's (last
    passage that held it or -1, passages that held it), meta = [terms, arena bytes used,
    terms met, terms written to `out`, passage], and each term's hash.
    Returns (why it stopped, where): at a term that needs a bigger array, `_FULL_*`, and the
    caller grows it and calls again from there; else `_DONE`."""
    table, arena, state, meta, records, hashes = numbering
    count, used, found, k, p = meta[0], meta[1], meta[2], meta[3], meta[4]
    slots = table.size
    mask = slots - 1
    n = buf.size
    i = at
    stop = _DONE
    while i < n:
        kind = _KIND[buf[i]]
        if kind == 3:
            p += 1
            i += 1
            continue
        if kind == 1:
            i += 1
            continue
        if kind == 2:
            w = _space(buf, i, n)
            if w:
                i += w
                continue
        s = i
        # The term's bytes as little-endian 8-byte words: the first kept (records compare
        # it), each full one folded into the hash, the last (partial) with the length.
        h = np.uint64(0)
        word = np.uint64(0)
        head = np.uint64(0)
        shift = np.uint64(0)
        while i < n:
            c = buf[i]
            kind = _KIND[c]
            if kind != 0 and (kind != 2 or _space(buf, i, n)):
                break
            word |= np.uint64(c) << shift
            shift += np.uint64(8)
            if shift == np.uint64(64):
                if i - s == 7:
                    head = word
                h = _mix(h ^ word)
                word = np.uint64(0)
                shift = np.uint64(0)
            i += 1
        if i - s < 8:
            head = word
        h = _mix(h ^ word ^ (np.uint64(i - s) << np.uint64(56)))
        key = head
        size = i - s
        keyed = np.int64(key)
        tag = np.int64(h >> np.uint64(33))
        slot = np.int64(h & np.uint64(mask))
        while True:
            entry = table[slot]
            if entry < 0:  # a new term
                if 2 * (count + 1) > slots:
                    stop = _FULL_TABLE
                elif used + size + 1 > arena.size:
                    stop = _FULL_ARENA
                elif count + 1 > met.size or count + 1 > hashes.size:
                    stop = _FULL_TERMS
                if stop != _DONE:
                    break
                t = count
                arena[used : used + size] = buf[s:i]
                arena[used + size] = 10
                table[slot] = (tag << 32) | t
                hashes[t] = h
                records[_RECORD * t] = keyed
                records[_RECORD * t + 1] = used
                records[_RECORD * t + 2] = size
                used += size + 1
                count += 1
                break
            if (entry >> 32) == tag:
                t = entry & _LOW32
                r = _RECORD * t
                if records[r] == keyed and records[r + 2] == size:
                    if size <= 8:
                        break
                    a = records[r + 1]
                    same = True
                    for j in range(8, size):
                        if arena[a + j] != buf[s + j]:
                            same = False
                            break
                    if same:
                        break
            slot = (slot + 1) & mask
        if stop != _DONE:
            i = s
            break
        out[k] = t
        k += 1
        counts[p] += 1
        last = state[2 * t]
        if last != p:
            if last < 0:
                met[found] = t
                found += 1
                state[2 * t + 1] = 0
            state[2 * t] = p
            state[2 * t + 1] += 1
    meta[0], meta[1], meta[2], meta[3], meta[4] = count, used, found, k, p
    return stop, i


def _numbered(buf: np.ndarray, passages: int, numbering: tuple) -> tuple:
    """`_number` over the whole block, growing the numbering's arrays as it asks: returns
    (the numbering, the terms, each passage's term count, the terms met first)."""
    table, arena, state, meta, records, hashes = numbering
    meta[2:] = 0
    out = np.empty(buf.size // 2 + 1, np.int32)
    counts = np.zeros(passages, np.int64)
    met = np.empty(hashes.size, np.int32)
    at = 0
    while True:
        numbering = (table, arena, state, meta, records, hashes)
        stop, at = _number(buf, at, numbering, out, counts, met)
        if stop == _DONE:
            break
        if stop == _FULL_TABLE:
            table = _rehash(table, 2 * table.size, hashes, int(meta[0]))
        elif stop == _FULL_ARENA:
            arena = np.concatenate((arena, np.zeros(arena.size + buf.size, np.uint8)))
        else:
            more = max(hashes.size, 1)  # terms: twice as many
            state = np.concatenate((state, np.full(2 * more, -1, np.int32)))
            records = np.concatenate((records, np.zeros(_RECORD * more, np.int64)))
            hashes = np.concatenate((hashes, np.zeros(more, np.uint64)))
            met = np.concatenate((met, np.empty(hashes.size - met.size, np.int32)))
    return numbering, out[: meta[3]], counts, met[: meta[2]]


@njit(nogil=True, cache=True)
def _block_postings(terms, counts, title_counts, state, met):
    """One block's postings, once `_number` counted each term's passages in `state`: each
    term's run (in `met`'s order) holds, per posting, its passage (from the block's first)
    and how often the term occurs there in the passage's own terms and in its title. `terms`
    holds each passage's own terms then its title's, passage after passage. Returns (each
    run's length, passages, own counts, title counts); `state` is left as `_number` takes it
    (-1: no passage yet)."""
    found = met.size
    lengths = np.empty(found, np.int32)
    total = 0
    for r in range(found):
        t = met[r]
        lengths[r] = state[2 * t + 1]
        state[2 * t + 1] = total
        total += lengths[r]
        state[2 * t] = -1
    docs = np.empty(total, np.uint16)
    own = np.zeros(total, np.int32)
    titled = np.zeros(total if title_counts.size else 0, np.int32)
    k = 0
    for p in range(counts.size):
        mine = counts[p] - (title_counts[p] if title_counts.size else 0)
        for j in range(counts[p]):
            t = terms[k]
            k += 1
            if state[2 * t] != p:
                state[2 * t] = p
                docs[state[2 * t + 1]] = p
                state[2 * t + 1] += 1
            if j < mine:
                own[state[2 * t + 1] - 1] += 1
            else:
                titled[state[2 * t + 1] - 1] += 1
    for r in range(found):
        state[2 * met[r]] = -1
    return lengths, docs, own, titled


@njit(nogil=True, cache=True, inline="always")
def _less(a, b, heads, starts, sizes, text):
    """Whether term a sorts before term b by their UTF-8 bytes: their first 8 bytes (as
    big-endian numbers, zero-padded: no term holds a zero byte), then the rest."""
    if heads[a] != heads[b]:
        return heads[a] < heads[b]
    for j in range(8, min(sizes[a], sizes[b])):
        x, y = text[starts[a] + j], text[starts[b] + j]
        if x != y:
            return x < y
    return sizes[a] < sizes[b]


@njit(nogil=True, cache=True)
def _merge_sort(order, lo, hi, scratch, heads, starts, sizes, text):
    """Sort order[lo:hi] by `_less`, bottom-up."""
    width = 1
    while width < hi - lo:
        for left in range(lo, hi, 2 * width):
            middle = min(left + width, hi)
            right = min(left + 2 * width, hi)
            i, j, o = left, middle, left
            while i < middle and j < right:
                if _less(order[j], order[i], heads, starts, sizes, text):
                    scratch[o] = order[j]
                    j += 1
                else:
                    scratch[o] = order[i]
                    i += 1
                o += 1
            while i < middle:
                scratch[o] = order[i]
                i += 1
                o += 1
            while j < right:
                scratch[o] = order[j]
                j += 1
                o += 1
        order[lo:hi] = scratch[lo:hi]
        width *= 2


@njit(nogil=True, cache=True)
def _vocabulary(order, heads, starts, sizes, text):
    """The distinct terms' blob (each followed by a newline, in UTF-8 order) and each term's
    rank in it: `order` sorts the terms by their first 8 bytes; terms alike in those are
    sorted here by the rest."""
    n = order.size
    scratch = np.empty(n, np.int64)
    lo = 0
    while lo < n:
        hi = lo + 1
        while hi < n and heads[order[hi]] == heads[order[lo]]:
            hi += 1
        if hi - lo > 1:
            _merge_sort(order, lo, hi, scratch, heads, starts, sizes, text)
        lo = hi
    ranks = np.empty(n, np.int32)
    blob = np.empty(sizes.sum() + n, np.uint8)
    used = 0
    rank = -1
    for r in range(n):
        t = order[r]
        if r == 0 or _less(order[r - 1], t, heads, starts, sizes, text):
            rank += 1
            blob[used : used + sizes[t]] = text[starts[t] : starts[t] + sizes[t]]
            used += sizes[t]
            blob[used] = 10
            used += 1
        ranks[t] = rank
    return blob[:used], ranks


@njit(nogil=True, cache=True)
def _place(ranks, lengths, docs, tf, first, lo, hi, cursor, docs_out, tf_out):
    """Copy a block's runs of terms ranked in [lo, hi) to each term's cursor in the output."""
    q = 0
    for r in range(ranks.size):
        t = ranks[r]
        c = lengths[r]
        if lo <= t < hi:
            at = cursor[t]
            for j in range(c):
                docs_out[at + j] = np.int32(docs[q + j]) + first
                tf_out[at + j] = tf[q + j]
            cursor[t] = at + c
        q += c


@njit(nogil=True, cache=True)
def _runs(positions, bits):
    """(low bits, run starts, run windows) of these positions, as `Postings.of` finds them."""
    n = positions.size
    low = np.empty(n, np.uint16)
    mask = (1 << bits) - 1
    runs = 0
    previous = -1
    for i in range(n):
        high = positions[i] >> bits
        if high != previous:
            runs += 1
            previous = high
        low[i] = positions[i] & mask
    starts = np.empty(runs, np.int64)
    windows = np.empty(runs, np.int64)
    r = 0
    previous = -1
    for i in range(n):
        high = positions[i] >> bits
        if high != previous:
            starts[r] = i
            windows[r] = high
            r += 1
            previous = high
    return low, starts, windows


@dataclass
class _Block:
    """A block's postings (see `_block_postings`), its terms by its worker's numbering."""

    worker: int
    terms: np.ndarray
    lengths: np.ndarray
    first: int
    docs: np.ndarray
    tf: np.ndarray


class _NotExact(Exception):
    """Rows the compiled build would not read as `str.split` does: the numpy build's."""


class _Worker:
    """Builds blocks of passages, taking the next one not yet taken until none is left, with a
    numbering of its own."""

    def __init__(self, number: int, job: _Job) -> None:
        self.number = number
        self.job = job
        size = FIRST_SLOTS
        self.numbering = (
            np.full(size, -1, np.int64),
            np.zeros(size * 8, np.uint8),
            np.full(size, -1, np.int32),
            np.zeros(5, np.int64),
            np.zeros(_RECORD * size // 2, np.int64),
            np.zeros(size // 2, np.uint64),
        )
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while (taken := self.job.take()) is not None:
                self._block(*taken)
        except BaseException as e:  # raised again by the thread that waits for it
            self.error = e
            self.job.stop()

    def _block(self, block: int, at: int, end: int) -> None:
        job = self.job
        rows = job.rows[at:end]
        if job.titles:
            texts = [
                f"{row[3]} {title}"
                if len(row) > 4 and row[4] and (title := job.titles.get(row[1]))
                else row[3]
                for row in rows
            ]
            title_counts = np.fromiter(
                (job.title_counts.get(row[1], 0) if len(row) > 4 and row[4] else 0 for row in rows),
                dtype=np.int64,
                count=len(rows),
            )
        else:
            texts = list(map(itemgetter(3), rows))
            title_counts = np.zeros(0, np.int64)
        joined = "\0".join(texts)
        if joined.count("\0") != len(texts) - 1:
            raise _NotExact("a passage holds a zero character")
        try:
            buf = np.frombuffer(joined.encode(), dtype=np.uint8)
        except UnicodeEncodeError as e:
            raise _NotExact("a passage UTF-8 cannot encode") from e
        del texts, joined
        self.numbering, terms, counts, met = _numbered(buf, end - at, self.numbering)
        del buf
        lengths, docs, own, titled = _block_postings(
            terms, counts, title_counts, self.numbering[2], met
        )
        del terms
        if title_counts.size:
            counts -= title_counts
            tf = _narrow_frequencies(own.astype(np.int64) + job.weight * titled)
        else:
            tf = _narrow_frequencies(own)
        job.counts[at:end] = counts
        job.blocks[block] = _Block(self.number, met, lengths, at, docs, tf)

    def terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(each term's first 8 bytes as a big-endian number, where its text starts, its
        length, the text)."""
        _, arena, _, meta, records, _ = self.numbering
        count = int(meta[0])
        fields = records[: _RECORD * count].reshape(count, _RECORD)
        heads = fields[:, 0].view(np.uint64).byteswap()
        return heads, fields[:, 1].copy(), fields[:, 2].copy(), arena[: int(meta[1])]


class _Job:
    """The rows of one build cut into blocks, which workers take one after another."""

    def __init__(self, rows: Sequence[Sequence], titles: dict, weight: float) -> None:
        self.rows = rows
        self.weight = weight
        self.titles = {d: " ".join(terms) for d, terms in titles.items()}
        self.title_counts = {d: len(terms) for d, terms in titles.items()}
        self.counts = np.zeros(len(rows), dtype=np.int64)
        sizes = np.fromiter(map(len, map(itemgetter(3), rows)), dtype=np.int64, count=len(rows))
        self.starts = _block_starts(sizes)
        self.blocks: list[_Block | None] = [None] * len(self.starts)
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> tuple[int, int, int] | None:
        """The next block not yet taken (its number, first row, end), or None."""
        with self._lock:
            if self._next >= len(self.starts):
                return None
            block = self._next
            self._next += 1
        end = self.starts[block + 1] if block + 1 < len(self.starts) else len(self.rows)
        return block, self.starts[block], end

    def stop(self) -> None:
        with self._lock:
            self._next = len(self.starts)


def _block_starts(sizes: np.ndarray) -> list[int]:
    """Where each block starts: blocks of `BLOCK_CHARS` characters (one passage more may pass
    it) and `BLOCK_PASSAGES` passages at most."""
    ends = np.cumsum(sizes + 1)
    starts = [0]
    while True:
        at = starts[-1]
        before = int(ends[at - 1]) if at else 0
        end = int(np.searchsorted(ends, before + BLOCK_CHARS, "left")) + 1
        end = min(end, at + BLOCK_PASSAGES)
        if end >= sizes.size:
            return starts
        starts.append(end)


def _titles(rows: Sequence[Sequence], title_weight: float) -> dict[int, list[str]]:
    """Each document's title terms, as the numpy build analyses them: from the document's
    first row with a title."""
    titles: dict[int, list[str]] = {}
    if not title_weight:
        return titles
    for row in rows:
        if len(row) > 4 and row[4] and row[1] not in titles:
            terms = analyze(row[4])
            if len(" ".join(terms).split()) != len(terms):
                raise _NotExact("a title term does not split back into itself")
            titles[row[1]] = terms
    return titles


def _in_threads(tasks: list[Callable[[], None]]) -> None:
    """Run the tasks at once: all but the first in threads of their own."""
    threads = [threading.Thread(target=task, name="citebot-build") for task in tasks[1:]]
    for thread in threads:
        thread.start()
    try:
        tasks[0]()
    finally:
        for thread in threads:
            thread.join()


def postings(rows: Sequence[Sequence], title_weight: float) -> Built | None:
    """The postings of these rows (see `Segment.build`), or None when the numpy build is the
    one to use: fewer than `SMALLEST` rows, the compiled code not loaded yet (see `ready`), or
    rows it alone builds exactly (a title term that would not split back into itself, a zero
    character, a text UTF-8 cannot encode)."""
    if len(rows) < SMALLEST or not ready(WAIT_S):
        return None
    return _postings(rows, title_weight)


def _postings(rows: Sequence[Sequence], title_weight: float, workers: int = 2) -> Built | None:
    try:
        job = _Job(rows, _titles(rows, title_weight), title_weight)
    except _NotExact:
        return None
    team = [_Worker(number, job) for number in range(workers)]
    _in_threads([worker.run for worker in team])
    for worker in team:
        if isinstance(worker.error, _NotExact):
            return None
        if worker.error is not None:
            raise worker.error
    vocabulary, ranks = _merged_vocabulary([worker.terms() for worker in team])
    del team
    df = np.zeros(vocabulary.size, dtype=np.int64)
    blocks = []
    for block in job.blocks:
        assert block is not None
        block_ranks = ranks[block.worker][block.terms]
        df[block_ranks] += block.lengths  # a term has one run per block
        blocks.append((block_ranks, block))
    job.blocks = []
    starts = np.concatenate(([0], np.cumsum(df)))
    kind = np.result_type(*[b.tf.dtype for _, b in blocks]) if blocks else np.dtype(np.uint8)
    positions = np.empty(int(starts[-1]), dtype=np.int32)
    tf = np.empty(positions.size, dtype=kind)
    cursor = starts[:-1].copy()

    def place(lo: int, hi: int) -> Callable[[], None]:
        def run() -> None:
            for block_ranks, block in blocks:
                block_tf = block.tf.astype(kind, copy=False)
                _place(
                    block_ranks, block.lengths, block.docs, block_tf, block.first, lo, hi,
                    cursor, positions, tf,
                )  # fmt: skip

        return run

    # The terms in as many parts as workers, of about as many postings each.
    bounds = [int(np.searchsorted(starts, starts[-1] * i // workers)) for i in range(workers)]
    bounds.append(vocabulary.size)
    _in_threads([place(lo, hi) for lo, hi in itertools.pairwise(bounds)])
    blocks.clear()
    docs = Postings.of_runs(*_runs(positions, WINDOW_BITS))
    return Built(job.counts, vocabulary, docs, tf, _narrow(starts, signed=True))


def _merged_vocabulary(terms: list[tuple]) -> tuple[Vocabulary, list[np.ndarray]]:
    """The workers' terms as one vocabulary, and each worker's terms' ranks in it."""
    heads = np.concatenate([t[0] for t in terms])
    sizes = np.concatenate([t[2] for t in terms])
    shift = np.cumsum([0] + [t[3].size for t in terms])
    starts = np.concatenate([t[1] + at for t, at in zip(terms, shift.tolist(), strict=False)])
    text = np.concatenate([t[3] for t in terms])
    order = np.argsort(heads, kind="stable")
    blob, ranks = _vocabulary(order, heads, starts, sizes, text)
    cuts = np.cumsum([t[0].size for t in terms])[:-1]
    return Vocabulary(blob.tobytes()), np.split(ranks, cuts)


_warming: threading.Thread | None = None
_warm = threading.Event()
_warming_lock = threading.Lock()


def ready(wait: float) -> bool:
    """Whether the compiled build is loaded, waiting up to `wait` seconds: the first call
    starts loading it in a background thread (from numba's cache in well under a second; the
    first time after an install, compiling takes tens of seconds, during which builds stay on
    numpy rather than wait)."""
    global _warming
    with _warming_lock:
        if _warming is None:
            _warming = threading.Thread(target=_load, name="citebot-compile-build", daemon=True)
            _warming.start()
    return _warm.wait(wait) if wait > 0 else _warm.is_set()


def _load() -> None:
    try:
        warm()
    except Exception:  # numpy builds the same arrays
        log.warning("the compiled build is unavailable; building with numpy", exc_info=True)
        return
    _warm.set()


def warm() -> None:
    """Compile (or load from numba's cache) every compiled part of the build for the array
    types builds use: tiny builds with whole frequencies of one and of two bytes, and with
    fractional ones (a title weight of 1.5); with and without titles."""
    short = [
        (i, i // 2, None, "ab cd \u00e9f ab\u3000gh", "T ab" if i % 2 else "") for i in range(6)
    ]
    _postings(short, 2.0)  # frequencies in one byte
    _postings([*short, (6, 3, None, "ab " * 300, "")], 2.0)  # in two
    _postings(short, 1.5)  # fractional
    _postings([row[:4] for row in short], 2.0)  # no titles
