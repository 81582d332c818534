"""Packers written bit by bit (Python integers, one shift at a time) from the documented layouts, for tests
of the readers that unpack them (MLX, compressed-tensors)."""

from __future__ import annotations

import numpy as np


def pack_bit_stream(codes: np.ndarray, bits: int) -> np.ndarray:
    """uint32 words holding each row's codes end to end from the lowest bit of its first word (the last word
    padded with zero bits)."""
    rows, count = codes.shape
    words = np.zeros((rows, -(-count * bits // 32)), dtype=np.uint32)
    for r in range(rows):
        stream = 0
        for i in range(count):
            stream |= int(codes[r, i]) << (i * bits)
        for w in range(words.shape[1]):
            words[r, w] = (stream >> (32 * w)) & 0xFFFFFFFF
    return words
