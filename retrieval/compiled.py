"""One segment's k best passages for a question, compiled (numba).

Why compiled: the numpy search (`retrieval.index`) pays a few dozen array passes and
allocations per posting group; one pass in machine code over the postings it needs, skipping
the rest, costs a fraction of that (bench/README.md). numba is the field's well-kept compiler
for numeric Python; we write only the loop. Its import and the loading of the compiled loop
cost about a second, so a long-lived process (the bot, `ask --batch`, the benchmarks) turns
it on with `retrieval.index.use_compiled()`; a one-question `citebot ask` does not import it
and searches with numpy. Both give the same passages with the same float scores (tests).

The loop releases the GIL, so searches in several threads run on several cores.

Term at a time into one float per passage (kept per segment, all 0 between searches: work
follows the postings read, never the passages), with MaxScore's bounds (Turtle & Flood 1995):
a first threshold from the rarest terms' best passages scored whole, then a passage joins the
sums only where a term's addition plus the most the remaining terms can add reaches it, and
once none can join, the passages held are looked up in the remaining terms' postings.

Postings are passed as (low bits, run starts, run windows, window bits), as
retrieval.segments.Postings stores them; a walk's state per term as (posting, run, next run's
start, passage).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from retrieval.segments import WINDOW_BITS

# The first threshold scores the best passages of this many terms (those of highest bound)
# for a question of twice as many terms or more, else of one.
FIRST_TERMS = 3
# Once no passage can join, a term's postings are looked up for the passages held (rather
# than all read) when they are more than PROBE_SHARE per passage held.
PROBE_SHARE = 8
# A passage position past every real one: a term whose postings are used up.
_END = np.int64(1) << 62


@njit(nogil=True, cache=True, inline="always")
def _adds(idf, tf, kp1, norm):
    """What a term adds to a passage's score: idf * tf * (k1 + 1) / (tf + norm), in the
    order retrieval.index computes it, so the same float."""
    t = np.float64(tf)
    return idf * t * kp1 / (t + norm)


@njit(nogil=True, cache=True, inline="always")
def _run_end(run_starts, r, total):
    return run_starts[r + 1] if r + 1 < run_starts.size else total


@njit(nogil=True, cache=True)
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


@njit(nogil=True, cache=True)
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


@njit(nogil=True, cache=True)
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


@njit(nogil=True, cache=True)
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


@njit(nogil=True, cache=True)
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


@njit(nogil=True, cache=True)
def _first_threshold(
    postings,
    tf,
    starts,
    stops,
    idf,
    order,
    norms,
    mask,
    k,
    kp1,
    state,
):
    """A score k passages reach, before the walk: the passages to which each of the
    FIRST_TERMS (or one) terms with the highest bounds adds the most (k of each), scored with every
    term (each looked up), and the k-th best of those. The walk then skips from the start
    what cannot reach it; the terms' positions are left at their first postings."""
    pos, cur = state[0], state[3]
    m = starts.size
    chosen = np.empty(FIRST_TERMS * k, np.int64)
    found = 0
    # A short question's terms each hold a large share of its postings (reading more than
    # one here would read most of them twice); a long one's rarest few hold little.
    first_terms = FIRST_TERMS if m >= 2 * FIRST_TERMS else 1
    for j in range(m - 1, max(m - 1 - first_terms, -1), -1):
        i = order[j]
        # The k largest additions of this term (a heap whose root is the smallest).
        best = np.full(k, -np.inf)
        where = np.zeros(k, np.int64)
        while cur[i] != _END:
            d = cur[i]
            if mask.size == 0 or mask[d]:
                a = _adds(idf[i], tf[pos[i]], kp1, norms[d])
                if a > best[0]:
                    best[0] = a
                    where[0] = d
                    _sift_down(best, where, k, 0)
            _advance(i, postings, stops, state)
        for at in range(k):
            if best[at] > -np.inf:
                chosen[found] = where[at]
                found += 1
    _start(postings, starts, stops, state)
    chosen = np.unique(chosen[:found])  # ascending: every term moves forward only
    if chosen.size < k:
        return -np.inf
    scores = np.empty(chosen.size)
    for at in range(chosen.size):
        d = chosen[at]
        score = 0.0
        for j in range(m):
            _seek(j, d, postings, stops, state)
            if cur[j] == d:
                score += _adds(idf[j], tf[pos[j]], kp1, norms[d])
        scores[at] = score
    _start(postings, starts, stops, state)
    return np.sort(scores)[scores.size - k]


@njit(nogil=True, cache=True)
def _add_term(
    j,
    postings,
    tf,
    start,
    stop,
    idf,
    kp1,
    norms,
    mask,
    acc,
    seen,
    touched,
    n,
    admit,
    least_norm,
    slack,
):
    """Term j's additions to the passages it holds: to those already touched always; a new
    one joins only where its addition is at least `admit` (or always when `admit` is -inf).
    Returns the new count of touched passages."""
    low, run_starts, run_windows, bits = postings
    total = low.size
    if start >= stop:
        return n
    r = np.searchsorted(run_starts, start, side="right") - 1
    p = start
    live_only = mask.size > 0
    # The least frequency whose addition can reach `admit` at the shortest length here: a
    # posting below it brings no new passage, found without reading its normalisation.
    least_tf = -np.inf
    if admit == np.inf:
        least_tf = np.inf
    elif admit > 0:
        share = admit / (idf * kp1)
        least_tf = share * least_norm / (1 - share) / (1 + slack) if share < 1 else np.inf
    while p < stop:
        end = min(_run_end(run_starts, r, total), stop)
        high = np.int64(run_windows[r]) << bits
        while p < end:
            d = high | np.int64(low[p])
            if seen[d]:
                acc[d] += _adds(idf, tf[p], kp1, norms[d])
            elif tf[p] >= least_tf and (not live_only or mask[d]):
                a = _adds(idf, tf[p], kp1, norms[d])
                if a >= admit:
                    seen[d] = True
                    acc[d] = 0.0
                    acc[d] += a
                    touched[n] = d
                    n += 1
            p += 1
        r += 1
    return n


@njit(nogil=True, cache=True)
def top_k_sums(
    postings,
    tf,
    starts,
    stops,
    idf,
    bound,
    norms,
    least_norm,
    mask,
    k,
    floor,
    k1,
    slack,
    acc,
    seen,
):
    """(positions, scores) of the k best live passages holding a term, term at a time (the
    terms in the order their scores are summed in, highest bound first: `starts`/`stops`
    their postings, `idf` their weights, `bound` the most each adds to one passage), each
    score idf * tf * (k1 + 1) / (tf + norm) summed in that order. `floor`: a score k
    passages of other segments already reach. `mask`: live passages (empty when all are).

    Each term's additions summed into `acc` (one
    float per passage, 0 and unseen between searches; left so), in the order the terms are
    given (highest bound first): the same floats. A passage joins only while what a term adds
    there, with what the remaining terms can add, can reach a score k passages are known to
    reach; once the remaining terms together cannot, they only add to the passages held."""
    m = starts.size
    kp1 = k1 + 1
    positive = True
    for i in range(m):
        if idf[i] <= 0:
            positive = False
    # Smallest bound first, for the first threshold.
    order = np.argsort(bound, kind="mergesort")
    pos = starts.copy()
    run = np.zeros(m, np.int64)
    nxt = np.zeros(m, np.int64)
    cur = np.full(m, _END, np.int64)
    state = (pos, run, nxt, cur)  # each term's posting, run, next run's start and passage
    _start(postings, starts, stops, state)
    theta = floor
    if positive:
        theta = max(
            theta,
            _first_threshold(
                postings,
                tf,
                starts,
                stops,
                idf,
                order,
                norms,
                mask,
                k,
                kp1,
                state,
            ),
        )
    rest = np.zeros(m + 1)  # rest[j]: the most terms j, j+1, ... add together
    for j in range(m - 1, -1, -1):
        rest[j] = rest[j + 1] + bound[j]
    capacity = 0
    for j in range(m):
        capacity += stops[j] - starts[j]
    touched = np.empty(capacity, np.int64)
    n = 0
    held = np.empty(0, np.int64)  # the passages held, ascending, once none can join
    for j in range(m):
        closed = False
        if positive:
            # A passage not yet held joins only if this term's addition, plus the most the
            # later terms add, reaches theta (it never could later: see the docstring).
            admit = theta / (1 + slack) - rest[j + 1]
            if rest[j] * (1 + slack) < theta:
                admit = np.inf  # no new passage can reach theta any more
                closed = True
        else:
            admit = -np.inf
        if closed and n * PROBE_SHARE < stops[j] - starts[j]:
            # Few passages held, many postings: each held passage is looked up in them (a
            # jump forward, passages ascending) instead of every posting being read.
            if held.size != n:
                held = np.sort(touched[:n])
            for d in held:
                _seek(j, d, postings, stops, state)
                if cur[j] == d:
                    acc[d] += _adds(idf[j], tf[pos[j]], kp1, norms[d])
            continue
        n = _add_term(
            j,
            postings,
            tf,
            starts[j],
            stops[j],
            idf[j],
            kp1,
            norms,
            mask,
            acc,
            seen,
            touched,
            n,
            admit,
            least_norm,
            slack,
        )
    # The k best of those held (lowest score at the root; among equal scores the later
    # passage, which loses ties), every slot put back to 0 and unseen.
    size = 0
    heap_scores = np.empty(k)
    heap_docs = np.empty(k, np.int64)
    for at in range(n):
        d = touched[at]
        score = acc[d]
        acc[d] = 0.0
        seen[d] = False
        if size < k:
            heap_scores[size] = score
            heap_docs[size] = d
            _sift_up(heap_scores, heap_docs, size)
            size += 1
        elif score > heap_scores[0] or (score == heap_scores[0] and d < heap_docs[0]):
            heap_scores[0] = score
            heap_docs[0] = d
            _sift_down(heap_scores, heap_docs, size, 0)
    return heap_docs[:size].copy(), heap_scores[:size].copy()


def warm() -> None:
    """Compile (or load from numba's cache) the search for the array types segments use:
    read-only postings with frequencies in uint8 (a passage's terms are fewer than 256, its
    title's counted twice). Other types (uint16 or float32 frequencies, from a fractional
    title weight; 32-bit windows past 4 billion passages) compile on first use."""
    low = np.array([1, 2, 3], dtype=np.uint16)
    run_starts = np.zeros(1, dtype=np.int32)
    run_windows = np.zeros(1, dtype=np.uint16)
    tf = np.ones(3, dtype=np.uint8)
    for array in (low, run_starts, run_windows, tf):
        array.flags.writeable = False  # as a segment's are
    top_k_sums(
        (low, run_starts, run_windows, WINDOW_BITS),
        tf,
        np.array([0], np.int64),
        np.array([3], np.int64),
        np.array([1.0]),
        np.array([2.0]),
        np.ones(4),
        1.0,
        np.zeros(0, np.bool_),
        2,
        0.0,
        1.2,
        1e-9,
        np.zeros(4),
        np.zeros(4, np.bool_),
    )
