"""One segment's k best passages for a question, compiled (numba).

Why compiled: the numpy search (`retrieval.index`) pays a few dozen array passes and
allocations per posting group; one pass in machine code over the postings it needs, skipping
the rest, costs a fraction of that (bench/README.md). numba is the field's well-kept compiler
for numeric Python; we write only the loop. Its import and the loading of the compiled loop
cost about a second, so a long-lived process (the bot, `ask --batch`, the benchmarks) turns
it on with `retrieval.index.use_compiled()`; a one-question `citebot ask` does not import it
and searches with numpy. Both give the same passages with the same float scores (tests).

The loop releases the GIL, so searches in several threads run on several cores.

A window of passages at a time (as Lucene's BooleanScorer does), each term's postings in it
summed into one float per passage of the window, with MaxScore's bounds (Turtle & Flood
1995) once k passages are known: terms that together cannot bring a passage to the k-th best
score only add to the passages the others brought in. Measured at a million passages
(bench/README.md, fourth session): a float per passage of the whole segment made every
posting a cache miss, and so did a normalisation per passage (now a table by length); the
data-dependent branches of admitting passage by passage, and a first threshold found before
the walk, cost more than they saved.

Postings are passed as (low bits, run starts, run windows, window bits), as
retrieval.segments.Postings stores them; a walk's state per term as (posting, run, next run's
start, passage).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from retrieval.segments import WINDOW_BITS

# Once no passage can join, a term's postings are looked up for the passages held (rather
# than all read) when they are more than PROBE_SHARE per passage held.
PROBE_SHARE = 8
# Passages a window holds (a power of 2, log): its sums and normalisations stay in the
# nearest caches; runs of postings (WINDOW_BITS) hold whole windows.
WINDOW_LOG = 12
# A passage position past every real one: a term whose postings are used up.
_END = np.int64(1) << 62

# The loop's helpers, which neither allocate nor keep an array, are compiled without numba's
# reference counting (its `_nrt` option, internal: were it gone, retrieval.index would search
# with numpy): each array a helper was handed, or unpacked from a tuple, was otherwise counted
# up and down with an atomic instruction at every call, and a term's postings are looked up
# passage by passage: 18% of a search's time (perf, 382 questions on 85k passages; a search
# 97 -> 84 us). top_k_sums itself allocates, so it keeps them.
_helper = njit(nogil=True, cache=True, _nrt=False)


@njit(nogil=True, cache=True, inline="always")
def _adds(idf, tf, kp1, norm):
    """What a term adds to a passage's score: idf * tf * (k1 + 1) / (tf + norm), in the
    order retrieval.index computes it, so the same float."""
    t = np.float64(tf)
    return idf * t * kp1 / (t + norm)


@njit(nogil=True, cache=True, inline="always")
def _run_end(run_starts, r, total):
    return run_starts[r + 1] if r + 1 < run_starts.size else total


@_helper
def _settle(i, p, r, postings, stops, state):
    """Term i at posting p, which lies in run r or a later one: state and passage set."""
    low, run_starts, run_windows, bits = postings
    pos, run, nxt, cur = state
    if p >= stops[i]:
        pos[i] = p
        cur[i] = _END
        return
    total = low.size
    end = _run_end(run_starts, r, total)
    while p >= end:
        r += 1
        end = _run_end(run_starts, r, total)
    pos[i] = p
    run[i] = r
    nxt[i] = end
    cur[i] = (np.int64(run_windows[r]) << bits) | np.int64(low[p])


@_helper
def _seek(i, d, postings, stops, state):
    """Term i moved to its first posting at passage d or after."""
    low, run_starts, run_windows, bits = postings
    pos, run, _, cur = state
    if cur[i] >= d:
        return
    window = d >> bits
    target = d & ((np.int64(1) << bits) - 1)
    total = low.size
    stop = stops[i]
    r = run[i]
    p = pos[i]
    # The term's runs ascend by window: move to the first whose window reaches d's.
    while run_windows[r] < window:
        r += 1
        if r >= run_starts.size or run_starts[r] >= stop:
            pos[i] = stop
            cur[i] = _END
            return
        p = run_starts[r]
    end = min(_run_end(run_starts, r, total), stop)
    if run_windows[r] == window:
        # Gallop then bisect within the run for the first low bits >= target.
        step = 1
        lo = p
        while lo + step < end and low[lo + step] < target:
            lo += step
            step *= 2
        hi = min(lo + step, end)
        if low[lo] < target:
            lo += 1
            while lo < hi:
                mid = (lo + hi) >> 1
                if low[mid] < target:
                    lo = mid + 1
                else:
                    hi = mid
        p = lo
    _settle(i, p, r, postings, stops, state)


@_helper
def _advance(i, postings, stops, state):
    low, _, run_windows, bits = postings
    pos, run, nxt, cur = state
    p = pos[i] + 1
    if p >= stops[i]:
        pos[i] = p
        cur[i] = _END
    elif p < nxt[i]:
        pos[i] = p
        cur[i] = (np.int64(run_windows[run[i]]) << bits) | np.int64(low[p])
    else:
        _settle(i, p, run[i], postings, stops, state)


@njit(nogil=True, cache=True)
def _start(postings, starts, stops, state):
    """Every term at its first posting (or used up when it has none)."""
    run_starts = postings[1]
    pos, cur = state[0], state[3]
    for i in range(starts.size):
        if starts[i] < stops[i]:
            r = np.searchsorted(run_starts, starts[i], side="right") - 1
            _settle(i, starts[i], r, postings, stops, state)
        else:
            pos[i] = stops[i]
            cur[i] = _END


@_helper
def _sift_down(scores, docs, size, at):
    """Restore the heap below `at`: the root is the entry that loses first (lowest score;
    among equal scores the later passage, which loses ties)."""
    while True:
        child = 2 * at + 1
        if child >= size:
            return
        right = child + 1
        if right < size and (
            scores[right] < scores[child]
            or (scores[right] == scores[child] and docs[right] > docs[child])
        ):
            child = right
        if scores[child] < scores[at] or (scores[child] == scores[at] and docs[child] > docs[at]):
            scores[at], scores[child] = scores[child], scores[at]
            docs[at], docs[child] = docs[child], docs[at]
            at = child
        else:
            return


@_helper
def _sift_up(scores, docs, at):
    while at > 0:
        parent = (at - 1) >> 1
        if scores[at] < scores[parent] or (
            scores[at] == scores[parent] and docs[at] > docs[parent]
        ):
            scores[at], scores[parent] = scores[parent], scores[at]
            docs[at], docs[parent] = docs[parent], docs[at]
            at = parent
        else:
            return


@_helper
def _walk(j, w0, w1, walk, idf, kp1, sums, touched, n):
    """Term j's additions to every passage it holds in the window [w0, w1) (it is at its
    first posting there or later), each passage it is the first to reach noted in `touched`.
    Without a branch on the data (a mispredicted one costs more than the addition), so a
    passage's slot is written whether it was held or not. Leaves the term at its first
    posting past the window; returns the count held."""
    postings, tf, stops, state = walk
    lengths, table, acc, seen = sums
    low, _, run_windows, bits = postings
    pos, run, nxt, cur = state
    d = cur[j]
    if d >= w1:
        return n
    p = pos[j]
    r = run[j]
    end = min(nxt[j], stops[j])
    high = np.int64(run_windows[r]) << bits
    while True:
        x = d - w0
        touched[n] = x
        n += 1 - np.int64(seen[x])
        seen[x] = True
        acc[x] += _adds(idf, tf[p], kp1, table[lengths[d]])
        p += 1
        if p >= end:
            _settle(j, p, r, postings, stops, state)
            return n
        d = high | np.int64(low[p])
        if d >= w1:
            pos[j] = p
            cur[j] = d
            return n


@_helper
def _look_up(j, w0, w1, held, n, walk, idf, kp1, sums, share):
    """Term j's additions to the passages held in the window (`held`, offsets from w0):
    each looked up (a jump forward; `held` is then sorted first) when they are few against
    the term's postings there (about `share`), else every posting of the window read."""
    postings, tf, stops, state = walk
    lengths, table, acc, seen = sums
    low, _, run_windows, bits = postings
    pos, run, nxt, cur = state
    _seek(j, w0, postings, stops, state)
    if cur[j] >= w1:
        return
    if n * PROBE_SHARE < share:  # `held` sorted by the caller (see top_k_sums)
        for at in range(n):
            d = w0 + held[at]
            _seek(j, d, postings, stops, state)
            if cur[j] == d:
                acc[held[at]] += _adds(idf, tf[pos[j]], kp1, table[lengths[d]])
            elif cur[j] >= w1:
                return
        return
    p = pos[j]
    r = run[j]
    end = min(nxt[j], stops[j])
    high = np.int64(run_windows[r]) << bits
    d = cur[j]
    while True:
        x = d - w0
        if seen[x]:
            acc[x] += _adds(idf, tf[p], kp1, table[lengths[d]])
        p += 1
        if p >= end:
            _settle(j, p, r, postings, stops, state)
            return
        d = high | np.int64(low[p])
        if d >= w1:
            pos[j] = p
            cur[j] = d
            return


@_helper
def _let_go(touched, n, acc, seen, most, theta, slack):
    """Keep (in order) the held passages whose sum so far plus `most` can reach theta; clear
    the others' slots. Returns how many are kept."""
    kept = 0
    for at in range(n):
        x = touched[at]
        if (acc[x] + most) * (1 + slack) < theta:
            acc[x] = 0.0
            seen[x] = False
        else:
            touched[kept] = x
            kept += 1
    return kept


@njit(nogil=True, cache=True)
def top_k_sums(
    postings,
    tf,
    starts,
    stops,
    idf,
    bound,
    lengths,
    table,
    mask,
    k,
    floor,
    k1,
    slack,
    acc,
    seen,
):
    """(positions, scores), best first (among equal scores the earlier passage), of the k
    best live passages holding a term (the terms in the
    order their scores are summed in, highest bound first: `starts`/`stops` their postings,
    `idf` their weights, `bound` the most each adds to one passage), each score
    idf * tf * (k1 + 1) / (tf + norm) summed in that order, norm = table[length]. `floor`: a
    score k passages of other segments already reach. `mask`: live passages (empty when all
    are). `acc`, `seen`: one float and flag per passage of a window (at least
    min(2 ** WINDOW_LOG, segment size) of each, all 0 and unset; left so).

    Window after window of passages (aligned, skipping those no essential term holds), term
    after term in the given order, so every passage's score is the same float as the numpy
    search's. The k-th best score so far (theta) splits the terms: the first ones (essential)
    add to every passage they hold, which joins the window's passages; the later ones, whose
    bounds together fall short of theta, only add to passages already held (after those that
    even all remaining bounds cannot bring to theta are let go). A passage holding none of the
    essential terms scores at most the rest's bounds, below theta, so it is never among the
    k best. After each window its passages, scored whole, go to the k best, which raises
    theta for the next."""
    m = starts.size
    kp1 = k1 + 1
    bits = postings[3]
    size = lengths.size
    width = np.int64(1) << min(WINDOW_LOG, bits)
    positive = True
    for i in range(m):
        if idf[i] <= 0:
            positive = False
    pos = starts.copy()
    run = np.zeros(m, np.int64)
    nxt = np.zeros(m, np.int64)
    cur = np.full(m, _END, np.int64)
    state = (pos, run, nxt, cur)  # each term's posting, run, next run's start and passage
    _start(postings, starts, stops, state)
    theta = floor
    rest = np.zeros(m + 1)  # rest[j]: the most terms j, j+1, ... add together
    for j in range(m - 1, -1, -1):
        rest[j] = rest[j + 1] + bound[j]
    # Each term's postings per passage, for choosing to look passages up or read.
    density = np.empty(m)
    for j in range(m):
        density[j] = (stops[j] - starts[j]) / max(size, 1)
    touched = np.empty(width, np.int64)
    walk = (postings, tf, stops, state)  # what a term's walk reads, and where it stands
    sums = (lengths, table, acc, seen)  # what it adds, and where
    heap_scores = np.empty(k)
    heap_docs = np.empty(k, np.int64)
    filled = 0
    live_only = mask.size > 0
    while True:
        # Terms 0..essential-1 can still bring a passage to theta; the others only add.
        essential = m
        if positive:
            while essential > 0 and rest[essential - 1] * (1 + slack) < theta:
                essential -= 1
        first = _END
        for j in range(essential):
            if cur[j] < first:
                first = cur[j]
        if first == _END:
            break
        w0 = first - (first & (width - 1))
        w1 = w0 + width
        n = 0
        for j in range(m):
            if j < essential:
                n = _walk(j, w0, w1, walk, idf[j], kp1, sums, touched, n)
            elif n > 0:
                if positive:
                    # Held passages that even every remaining term cannot bring to theta are
                    # let go (their slots cleared), so fewer are looked up.
                    n = _let_go(touched, n, acc, seen, rest[j], theta, slack)
                    if n == 0:
                        continue
                share = density[j] * width
                if n * PROBE_SHARE < share:
                    # _look_up will look them up in order (sorted here: it allocates nothing).
                    touched[:n].sort()
                _look_up(j, w0, w1, touched, n, walk, idf[j], kp1, sums, share)
        # The window's passages, scored whole, to the k best (lowest score at the root;
        # among equal scores the later passage, which loses ties); every slot back to 0.
        for at in range(n):
            x = touched[at]
            score = acc[x]
            acc[x] = 0.0
            seen[x] = False
            d = w0 + x
            if live_only and not mask[d]:
                continue  # deleted: summed (no branch in the walk) but never a result
            if filled < k:
                heap_scores[filled] = score
                heap_docs[filled] = d
                _sift_up(heap_scores, heap_docs, filled)
                filled += 1
            elif score > heap_scores[0] or (score == heap_scores[0] and d < heap_docs[0]):
                heap_scores[0] = score
                heap_docs[0] = d
                _sift_down(heap_scores, heap_docs, filled, 0)
        if positive and filled == k and heap_scores[0] > theta:
            theta = heap_scores[0]
    # Best first (ties: the earlier passage), as a search returns them: taken from the heap
    # root (the one that loses first) into the last free place.
    docs = np.empty(filled, np.int64)
    scores = np.empty(filled)
    for last in range(filled - 1, -1, -1):
        docs[last] = heap_docs[0]
        scores[last] = heap_scores[0]
        heap_docs[0] = heap_docs[last]
        heap_scores[0] = heap_scores[last]
        _sift_down(heap_scores, heap_docs, last, 0)
    return docs, scores


def warm() -> None:
    """Compile (or load from numba's cache) the search for the array types segments use:
    read-only postings with frequencies in uint8 (a passage's terms are fewer than 256, its
    title's counted twice) and lengths in uint16. Other types (uint16 or float32
    frequencies, from a fractional title weight; 32-bit windows past 4 billion passages;
    passages of more than 65,535 terms) compile on first use."""
    low = np.array([1, 2, 3], dtype=np.uint16)
    run_starts = np.zeros(1, dtype=np.int32)
    run_windows = np.zeros(1, dtype=np.uint16)
    tf = np.ones(3, dtype=np.uint8)
    lengths = np.ones(4, dtype=np.uint16)
    for array in (low, run_starts, run_windows, tf, lengths):
        array.flags.writeable = False  # as a segment's are
    top_k_sums(
        (low, run_starts, run_windows, WINDOW_BITS),
        tf,
        np.array([0], np.int64),
        np.array([3], np.int64),
        np.array([1.0]),
        np.array([2.0]),
        lengths,
        np.ones(2),
        np.zeros(0, np.bool_),
        2,
        0.0,
        1.2,
        1e-9,
        np.zeros(4),
        np.zeros(4, np.bool_),
    )
