"""Where each term of a passage sits, worked out once at ingest and stored with the passage.

Answering a question reads the same things of every hit again and again: where its terms are
(to bold the ones that matched) and which terms each of its sentences holds (the rerank's
proximity, the direct answer). Analysing the text for that cost more per ask than the search
itself; decoding these few bytes costs a fraction of it.

The encoding is compact (a passage of 100 words takes about 130 bytes): for the passage's spans
(`retrieval.analyzer.analyze_spans`, one per term, in order) the distance from the previous
span's start and the token's length, and for its sentences (`retrieval.rerank.sentence_terms`'s
bounds) the gap before each and its length; each part as an array of the smallest
unsigned integers that hold its values. The terms themselves are not repeated: they are the last
terms of the passage's stored terms (which begin with its heading's).

What is decoded is exactly what analysing the text gives: `encode` refuses (returns None) a text
that normalisation would change (its offsets would index another text) or whose terms are not
the tail of the stored terms; such a passage is analysed when it is shown, as before.
"""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate, chain, compress, repeat
from operator import add, sub
from typing import Any

from retrieval.analyzer import Span, analyze_spans, normalize, token_terms
from retrieval.sentences import sentence_offsets

FORMAT = 1  # the first byte of every encoding; another value is read as "not stored"
# Stored for a passage whose layout cannot be exact, so it is not worked out again and again.
UNFIT = bytes([0])
_HEADER = struct.Struct("<BBBI")  # format, spans' type code, sentences' type code, spans
_TYPES = (("B", 0xFF), ("H", 0xFFFF), ("I", 0xFFFFFFFF))
_BIG_ENDIAN = struct.pack("=H", 1) != struct.pack("<H", 1)
_SIZES = {ord(code): array(code).itemsize for code, _ in _TYPES}  # type code -> item bytes


Sentences = tuple[tuple[int, int, frozenset[str]], ...]


class Layout:
    """A passage's terms with their offsets, and its sentences with the terms each holds; from
    what was stored (`decode`) or from its text, worked out when first asked for: of thirty
    candidates, the rerank reads ten's sentences and the answer shows three's highlights."""

    __slots__ = ("_blob", "_bounds", "_parts", "_sentences", "_terms", "_text")

    def __init__(self, *, blob: bytes | None = None, terms: str = "", text: str = "") -> None:
        self._blob, self._terms, self._text = blob, terms, text
        self._parts: tuple[list[str], list[int], list[int], list[int]] | None = None
        self._sentences: Sentences | None = None
        self._bounds: tuple[list[int], list[int]] | None = None

    def _parsed(self) -> tuple[list[str], list[int], list[int], list[int]]:
        """(terms, starts, lengths) of the spans, and the sentences' stored values."""
        if self._parts is None:
            if self._blob is None:  # analysed: the spans of the text itself
                spans = analyze_spans(self._text)
                self._parts = (
                    [s.term for s in spans],
                    [s.start for s in spans],
                    [s.end - s.start for s in spans],
                    [],
                )
            else:
                self._parts = _parts(self._blob, self._terms)
        return self._parts

    @property
    def spans(self) -> tuple[Span, ...]:
        """The spans `analyze_spans` gives for the passage's text."""
        own, starts, lengths, _ = self._parsed()
        return tuple(map(Span._make, zip(own, starts, map(add, starts, lengths), strict=True)))

    @property
    def sentences(self) -> Sentences:
        """What `retrieval.rerank.sentence_terms` gives for the passage's text."""
        if self._sentences is None:
            if self._blob is None:
                self._sentences = _sentence_terms(self._text)
            else:
                self._sentences = _sentences(*self._parsed())
        return self._sentences

    def decoded_from(self, terms: str) -> bool:
        """Whether this is a stored layout decoded with these stored terms: then every term
        it holds is one of theirs, and a term they lack is in none of its sentences."""
        return self._blob is not None and self._terms == terms

    def sentence_bounds(self) -> tuple[list[int], list[int]]:
        """The starts and the ends of the passage's sentences, in order."""
        if self._bounds is None:
            if self._blob is None:
                every = self.sentences
                self._bounds = [a for a, _, _ in every], [b for _, b, _ in every]
            else:
                values = self._parsed()[3]
                ends = list(accumulate(values))[1::2]
                self._bounds = list(map(sub, ends, values[1::2])), ends
        return self._bounds

    def sentences_holding(self, wanted: Iterable[str]) -> dict[int, set[str]]:
        """Which of `wanted` each sentence holds, by the sentence's place (only sentences
        that hold some): what `sentences` says of them, without a set of terms for every
        sentence (the rerank and the direct answer only look for the question's few)."""
        if self._blob is None:
            out: dict[int, set[str]] = {}
            for i, (_, _, terms) in enumerate(self.sentences):
                inside = terms.intersection(wanted)
                if inside:
                    out[i] = inside
            return out
        own, token_starts, _, _ = self._parsed()
        starts, ends = self.sentence_bounds()
        held: dict[int, set[str]] = {}
        for term in wanted:
            j = -1
            # Counted first: a term it lacks costs one scan, not a scan and an exception.
            for _ in range(own.count(term)):
                j = own.index(term, j + 1)
                # A token never crosses a sentence's bounds; one between sentences is in none.
                at = token_starts[j]
                i = bisect_right(starts, at) - 1
                if i >= 0 and at < ends[i]:
                    held.setdefault(i, set()).add(term)
        return held

    def highlights(self, terms: set[str] | frozenset[str]) -> tuple[tuple[int, int], ...]:
        """(start, end) of each token holding one of `terms`, in order, each once."""
        own, starts, lengths, _ = self._parsed()
        ends = map(add, starts, lengths)
        if len(own) != len(starts):  # a damaged layout (zip's check covers the lengths)
            raise ValueError("a stored layout's terms and spans differ in number")
        # At C level: the tokens holding one of `terms` picked by compress.
        picked = compress(zip(starts, ends, strict=True), map(terms.__contains__, own))
        return tuple(dict.fromkeys(picked))


def _packed(values: Sequence[int]) -> tuple[str, bytes]:
    """The smallest array type that holds `values`, and their bytes (little-endian)."""
    top = max(values, default=0)
    code = "B" if top <= 0xFF else next(code for code, limit in _TYPES if top <= limit)
    packed = array(code, values)
    if _BIG_ENDIAN:  # pragma: no cover - big-endian machine
        packed.byteswap()
    return code, packed.tobytes()


def encode(text: str, terms: str) -> bytes | None:
    """The stored form of `text`'s spans and sentences, or None when it cannot be exact (see
    the module's docstring). `terms` is the passage's stored terms (its heading's, then its
    text's). Made by C-level iteration over the tokens (`token_terms`): ingest encodes every
    passage it reads."""
    if normalize(text) != text:
        return None
    per_token, starts, ends = token_terms(text)
    # The stored terms end with these (terms hold no spaces: a string comparison is the
    # list's).
    own = " ".join(chain.from_iterable(per_token))
    if own and own != terms and not terms.endswith(" " + own):
        return None
    return encode_tokens(text, per_token, starts, ends)


def encode_tokens(
    text: str, per_token: list[tuple[str, ...]], starts: list[int], ends: list[int]
) -> bytes:
    """`encode` of a normalised `text` whose tokens' terms and bounds (`token_terms(text)`)
    are known already, with the stored terms ending in those terms: ingest analyses a
    passage once for both its terms and its layout (`retrieval.documents`)."""
    counts = list(map(len, per_token))
    if max(counts, default=0) <= 1:  # a stop word has no term: its span is left out
        starts, ends = list(compress(starts, counts)), list(compress(ends, counts))
    else:  # a token with several terms ("gpt-4": gpt-4, gpt, 4, gpt4) has a span for each
        starts = list(chain.from_iterable(map(repeat, starts, counts)))
        ends = list(chain.from_iterable(map(repeat, ends, counts)))
    span_values = list(map(sub, starts, [0, *starts[:-1]]))
    span_values += map(sub, ends, starts)
    sentence_values: list[int] = []
    previous = 0
    # The sentences' bounds as the rerank reads them (`retrieval.rerank.sentence_bounds`).
    for start, end in sentence_offsets(text):
        sentence_values += (start - previous, end - start)
        previous = end
    span_code, span_bytes = _packed(span_values)
    sentence_code, sentence_bytes = _packed(sentence_values)
    header = _HEADER.pack(FORMAT, ord(span_code), ord(sentence_code), len(starts))
    return header + span_bytes + sentence_bytes


def decode(blob: bytes | None, terms: str) -> Layout | None:
    """The layout `encode` stored, given the same stored terms; None when there is none."""
    if not blob or blob[0] != FORMAT:
        return None
    return Layout(blob=blob, terms=terms)


def _parts(blob: bytes, terms: str) -> tuple[list[str], list[int], list[int], list[int]]:
    _, span_code, sentence_code, count = _HEADER.unpack_from(blob)
    span_type = chr(span_code)
    span_end = _HEADER.size + 2 * count * array(span_type).itemsize
    span_values = _unpacked(span_type, blob[_HEADER.size : span_end])
    words = terms.split()
    own = words[len(words) - count :] if count else []
    starts = list(accumulate(span_values[:count]))
    # The tokens' lengths, not their ends: only highlights read those, for the hits shown.
    return own, starts, span_values[count:], _unpacked(chr(sentence_code), blob[span_end:])


def _sentences(own: list[str], starts: list[int], _: list[int], values: list[int]) -> Sentences:
    out = []
    position = 0
    for i in range(0, len(values), 2):
        start = position + values[i]
        end = position = start + values[i + 1]
        # A token never crosses a sentence's bounds, so the tokens that start inside it are
        # the ones analysing the sentence alone would find.
        first, last = bisect_left(starts, start), bisect_left(starts, end)
        out.append((start, end, frozenset(own[first:last])))
    return tuple(out)


def _unpacked(code: str, data: bytes) -> list[int]:
    values = array(code)
    values.frombytes(data)
    if struct.pack("=H", 1) != struct.pack("<H", 1):  # pragma: no cover - big-endian machine
        values.byteswap()
    return values.tolist()


def well_formed(blob: bytes, terms: str) -> bool:
    """Whether `blob` is UNFIT or an encoding whose parts fit its length and `terms`: what a
    parser process sent is checked before it is stored (a malformed one would fail the asks
    that show its passage; its passage is then analysed when shown instead)."""
    if blob == UNFIT:
        return True
    if len(blob) < _HEADER.size or blob[0] != FORMAT:
        return False
    _, span_code, sentence_code, count = _HEADER.unpack_from(blob)
    sizes = _SIZES
    if span_code not in sizes or sentence_code not in sizes:
        return False
    rest = len(blob) - _HEADER.size - 2 * count * sizes[span_code]
    return rest >= 0 and rest % (2 * sizes[sentence_code]) == 0 and count <= len(terms.split())


def stored_form(text: str, terms: str) -> bytes:
    """What to store as a passage's layout: its encoding, or UNFIT."""
    return encode(text, terms) or UNFIT


def _sentence_terms(text: str) -> Sentences:
    from retrieval.rerank import sentence_terms  # it imports this module's users

    return sentence_terms(text)


def layout_of(text: str) -> Layout:
    """The layout of a passage that has none stored, by analysing it (as answering did before
    layouts were stored)."""
    return Layout(text=text)


def layout_of_row(row: Mapping[str, Any]) -> Layout:
    """A fetched passage's layout (its `layout`, `terms` and `text`): decoded when stored,
    else analysed."""
    return decode(row["layout"], row["terms"]) or layout_of(row["text"])
