"""The alpha of a big WebP, losslessly, a few rows at a time.

libwebp compresses a WebP's alpha plane with its lossless (VP8L) encoder,
which holds about 10 bytes a pixel while it works (the plane as 32-bit
pixels, its hash chain, its transforms): 1.1 GB for a 10000x10000 cut-out,
more than the rest of the request. This module writes the same kind of
stream (an ALPH chunk holding a VP8L image stream, as the WebP container
spec describes it) from a few rows at a time. It only uses what a cut-out's
alpha needs: the gradient filter of the ALPH chunk, then per pixel a literal,
a copy of the row above or a run of the pixel to the left, with Huffman codes
built from the counts. It compresses less tightly than libwebp (a few
hundred KB more on a 100 MP matte) for about 1 % of the memory.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

import numpy as np

_MAX_COPY = 4096
_LITERALS = 256
_GREEN_ALPHABET = _LITERALS + 24  # literals + length prefixes, no colour cache
_ABOVE, _LEFT = 1, 2  # VP8L plane codes: (0, 1) and (1, 0)
_CODE_LENGTH_ORDER = (17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
# ALPH header byte: no pre-processing, gradient filter (3), lossless (1).
_HEADER = (3 << 2) | 1


def encode(rows: Iterator[np.ndarray], width: int) -> bytes:
    """The ALPH chunk's payload for the alpha rows (uint8 arrays of ``width``)."""
    tokens = _Tokens.of(_filtered(rows), width)
    green = _code_lengths(np.bincount(tokens.green, minlength=_GREEN_ALPHABET), 15)
    copies = tokens.distance[tokens.green >= _LITERALS]
    distance = _code_lengths(np.bincount(copies, minlength=40), 15)
    head = _BitWriter()
    head.write(0, 3)  # no transform, no colour cache, no meta prefix codes
    _write_code(head, green)
    for _channel in range(3):  # red, blue, alpha: one symbol (0), no bits per pixel
        head.write(0b0001, 4)
    _write_code(head, distance)
    green_codes, distance_codes = _code_table(green), _code_table(distance)
    out = bytearray((_HEADER,))
    carry = head.bits()
    step = 1 << 18  # tokens packed at a time: the bit arrays stay a few MB
    for at in range(0, len(tokens.green), step):
        part = slice(at, at + step)
        symbol, dist = tokens.green[part], tokens.distance[part]
        # Per token: its green code, then (copies only) the length's extra
        # bits and the distance code; fields of 0 bits vanish in the packing.
        is_copy = symbol >= _LITERALS
        values = np.stack(
            (
                green_codes[0][symbol],
                tokens.extra[part].astype(np.uint32),
                np.where(is_copy, distance_codes[0][dist], 0).astype(np.uint32),
            ),
            axis=1,
        ).ravel()
        counts = np.stack(
            (
                green_codes[1][symbol],
                tokens.extra_bits[part],
                np.where(is_copy, distance_codes[1][dist], 0).astype(np.uint8),
            ),
            axis=1,
        ).ravel()
        bits = np.concatenate((carry, _bits(values, counts)))
        whole = len(bits) - len(bits) % 8
        out += np.packbits(bits[:whole], bitorder="little").tobytes()
        carry = bits[whole:]
    out += np.packbits(carry, bitorder="little").tobytes()
    return bytes(out)


def _bits(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The low ``count`` bits of each value, least significant first, one per element."""
    positions = np.arange(16, dtype=np.uint32)
    bits = ((values[:, None] >> positions) & 1).astype(np.uint8)
    return bits[positions[None, :] < counts[:, None]]


def _filtered(rows: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """The ALPH gradient filter: each value minus clip(left + above - above-left)."""
    above = None
    for row in rows:
        values = row.astype(np.int16)
        residual = np.empty_like(values)
        if above is None:
            residual[0] = values[0]
            residual[1:] = values[1:] - values[:-1]
        else:
            residual[0] = values[0] - above[0]
            predicted = np.clip(values[:-1] + above[1:] - above[:-1], 0, 255)
            residual[1:] = values[1:] - predicted
        above = values
        yield (residual & 0xFF).astype(np.uint8)


class _Tokens:
    """Per token: green symbol, length extra bits (value, count), distance symbol."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    @classmethod
    def of(cls, rows: Iterator[np.ndarray], width: int) -> _Tokens:
        tokens = cls()
        above = None
        for row in rows:
            tokens.parts.append(_row_tokens(row, above, width))
            above = row
        fields = [np.concatenate(column) for column in zip(*tokens.parts, strict=True)]
        tokens.green, tokens.extra, tokens.extra_bits, tokens.distance = fields
        tokens.parts = []
        return tokens


def _row_tokens(row: np.ndarray, above: np.ndarray | None, width: int) -> tuple[np.ndarray, ...]:
    """One row as literals, copies of the row above and runs of the left pixel."""
    same_above = np.zeros(width, bool) if above is None else row == above
    # Runs: "same as above" stretches, and stretches of one value otherwise.
    change = np.flatnonzero(
        (same_above[1:] != same_above[:-1]) | (~same_above[1:] & (row[1:] != row[:-1]))
    )
    starts = np.concatenate(([0], change + 1))
    lengths = np.diff(np.concatenate((starts, [width])))
    from_above = same_above[starts]
    from_left = ~from_above & (lengths > 3)
    # Tokens per run: copies of at most _MAX_COPY, a literal before a left run.
    copied = np.where(from_left, lengths - 1, lengths)
    per_run = np.where(from_above | from_left, -(-copied // _MAX_COPY) + from_left, lengths)
    run = np.repeat(np.arange(len(starts)), per_run)
    first = np.concatenate(([0], np.cumsum(per_run)[:-1]))
    k = np.arange(len(run)) - first[run]  # index of the token within its run
    left, up = from_left[run], from_above[run]
    literal = ~(left | up) | (left & (k == 0))
    # Copy number within the run, and its length.
    copy_index = np.where(left, k - 1, k)
    length = np.minimum(_MAX_COPY, copied[run] - copy_index * _MAX_COPY)
    prefix, extra, extra_bits = _prefixes(np.maximum(length, 1))
    pixel = row[np.minimum(starts[run] + k, width - 1)]
    green = np.where(literal, pixel, _LITERALS + prefix).astype(np.uint16)
    distance = np.where(up, _ABOVE - 1, _LEFT - 1).astype(np.uint8)
    return (
        green,
        np.where(literal, 0, extra).astype(np.uint16),
        np.where(literal, 0, extra_bits).astype(np.uint8),
        distance,
    )


def _prefixes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """VP8L prefix coding of lengths (>= 1): symbol, extra bits value and count."""
    v = values.astype(np.int64) - 1
    highest = np.maximum(np.floor(np.log2(np.maximum(v, 1))).astype(np.int64), 1)
    second = (v >> (highest - 1)) & 1
    small = v < 4
    prefix = np.where(small, v, 2 * highest + second)
    extra_bits = np.where(small, 0, highest - 1)
    extra = np.where(small, 0, v & ((1 << extra_bits) - 1))
    return prefix, extra, extra_bits


def _prefix(value: int) -> tuple[int, int]:
    """VP8L prefix coding of a length or distance: (prefix symbol, extra bits value)."""
    value -= 1
    if value < 4:
        return value, 0
    highest = value.bit_length() - 1
    second = (value >> (highest - 1)) & 1
    return 2 * highest + second, value & ((1 << (highest - 1)) - 1)


def _extra_bits(prefix: int) -> int:
    return 0 if prefix < 4 else (prefix - 2) >> 1


def _code_lengths(counts: np.ndarray, limit: int) -> list[int]:
    """Huffman code lengths of at most ``limit`` bits (0 for unused symbols)."""
    counts = counts.astype(np.int64)
    while True:
        lengths = _huffman(counts.tolist())
        if max(lengths) <= limit:
            return lengths
        # Too deep: flatten the counts and build again (as zlib and libwebp do).
        counts = np.where(counts > 0, (counts >> 1) + 1, 0)


def _huffman(counts: list[int]) -> list[int]:
    used = [symbol for symbol, count in enumerate(counts) if count] or [0]
    lengths = [0] * len(counts)
    if len(used) == 1:
        lengths[used[0]] = 1
        return lengths
    heap = [(counts[s], s, [s]) for s in used]
    heapq.heapify(heap)
    tie = len(counts)
    while len(heap) > 1:
        count_a, _, group_a = heapq.heappop(heap)
        count_b, _, group_b = heapq.heappop(heap)
        for symbol in group_a + group_b:
            lengths[symbol] += 1
        heapq.heappush(heap, (count_a + count_b, tie, group_a + group_b))
        tie += 1
    return lengths


def _codes(lengths: list[int]) -> list[tuple[int, int]]:
    """(bits as written LSB first, bit count) per symbol, canonical like the decoder's."""
    codes = [(0, 0)] * len(lengths)
    if sum(1 for length in lengths if length) == 1:
        return codes  # a single symbol is read with no bits at all
    code = 0
    for length in range(1, 16):
        for symbol, symbol_length in enumerate(lengths):
            if symbol_length == length:
                codes[symbol] = (_reverse(code, length), length)
                code += 1
        code <<= 1
    return codes


def _code_table(lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    codes = _codes(lengths)
    return (
        np.array([c for c, _ in codes], dtype=np.uint32),
        np.array([n for _, n in codes], dtype=np.uint8),
    )


def _reverse(code: int, length: int) -> int:
    return int(f"{code:0{length}b}"[::-1], 2)


def _write_code(out: _BitWriter, lengths: list[int]) -> None:
    used = [symbol for symbol, length in enumerate(lengths) if length]
    if len(used) <= 2 and all(symbol < 256 for symbol in used):
        # A "simple" code: one or two symbols, spelled out.
        out.write(1, 1)
        out.write(len(used) - 1, 1)
        first = used[0]
        if first < 2:
            out.write(0, 1)
            out.write(first, 1)
        else:
            out.write(1, 1)
            out.write(first, 8)
        if len(used) == 2:
            out.write(used[1], 8)
        return
    # A normal code: the lengths themselves Huffman-coded (literal lengths only).
    length_code = _code_lengths(np.bincount(lengths, minlength=19), 7)
    out.write(0, 1)
    out.write(len(_CODE_LENGTH_ORDER) - 4, 4)
    for symbol in _CODE_LENGTH_ORDER:
        out.write(length_code[symbol], 3)
    out.write(0, 1)  # a length for every symbol of the alphabet follows
    codes = _codes(length_code)
    for length in lengths:
        out.write(*codes[length])


class _BitWriter:
    """Bits least significant first, as VP8L reads them."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._bits = 0
        self._count = 0

    def write(self, value: int, count: int) -> None:
        self._bits |= value << self._count
        self._count += count
        if self._count >= 64:
            self._buffer += (self._bits & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")
            self._bits >>= 64
            self._count -= 64

    def bits(self) -> np.ndarray:
        """Everything written, one array element (0 or 1) a bit."""
        tail = self._bits.to_bytes((self._count + 7) // 8, "little")
        data = np.frombuffer(bytes(self._buffer) + tail, dtype=np.uint8)
        return np.unpackbits(data, bitorder="little")[: len(self._buffer) * 8 + self._count]
