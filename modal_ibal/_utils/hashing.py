r"""Content keys of array rows: a multilinear hash modulo a prime.

Rows are keyed by their exact bytes, so equal keys mean equal rows but for a
collision whose probability is bounded in :func:`row_keys`. The embedding cache
looks rows up by these keys; the distance cache matches a new pool to the last
one with them (and then compares the matched rows exactly).
"""

from __future__ import annotations

import numpy as np

__all__ = ["draw_multipliers", "first_occurrences", "row_keys", "words_per_row"]

_PRIME = 2_097_143  # the largest prime below 2**21
_WORD_BLOCK = 1 << 16  # uint16 words per product: 2**16 * 2**21 * 2**16 < 2**53, exact in float64
_ROW_BLOCK_BYTES = 1 << 20  # float64 words converted at once while hashing (1 MiB)


def _row_words(X: np.ndarray) -> np.ndarray:
    """The bytes of every row as uint16 words, shape (n_samples, n_words); a view when possible."""
    X = np.ascontiguousarray(X)
    raw = X.reshape(X.shape[0], -1).view(np.uint8)  # [n, bytes]
    if raw.shape[1] % 2:
        raw = np.hstack([raw, np.zeros((raw.shape[0], 1), dtype=np.uint8)])
    return raw.view(np.uint16)  # [n, words]


def row_keys(X: np.ndarray, multipliers: np.ndarray) -> tuple[np.ndarray, ...]:
    r"""63-bit content keys per row (one per lane): a multilinear hash of its bytes modulo a prime.

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
        Rows to key; any numeric dtype, keyed by their exact bytes.
    multipliers : ndarray of shape (n_words, 3 * n_lanes)
        Independent uniform integers in :math:`[0, p)`, :math:`p = 2^{21} - 9`, one
        row per 16-bit word of a sample (``n_words = ceil(row bytes / 2)``), three
        columns per lane (:func:`draw_multipliers`).

    Returns
    -------
    lanes : tuple of n_lanes ndarrays of shape (n_samples,), uint64
        Three residues each, packed 21 bits apart.

    Notes
    -----
    With the row's bytes read as 16-bit words :math:`w_1 \dots w_m` and multipliers
    :math:`a_{jr}`, residue :math:`r` is

    .. math::  h_r(w) = \sum_j a_{jr} w_j \bmod p .

    For two different rows the difference :math:`\sum_j a_{jr}(w_j - w'_j)` is
    uniform on :math:`\mathbb{Z}_p` over the draw of :math:`a` (some
    :math:`w_j - w'_j \ne 0 \bmod p` since :math:`|w_j - w'_j| < p`), so two
    lanes (six residues) all agree with probability :math:`p^{-6} < 2^{-125}`:
    about :math:`10^{-26}` for :math:`10^6` queries against :math:`10^6` cached
    rows; one lane, :math:`p^{-3} < 2^{-62}`. Each lane costs the same time.
    The sums are float64 matrix products over blocks of :math:`2^{16}` words,
    exact because every partial sum stays below :math:`2^{53}`.
    """
    words = _row_words(X)  # [n, m]
    n_rows, n_words = words.shape
    residues = np.zeros((n_rows, multipliers.shape[1]))  # [n, 3 * lanes]
    rows_per_block = max(1, _ROW_BLOCK_BYTES // (8 * max(1, min(n_words, _WORD_BLOCK))))
    for start in range(0, n_rows, rows_per_block):
        stop = start + rows_per_block
        for column in range(0, n_words, _WORD_BLOCK):
            block = words[start:stop, column : column + _WORD_BLOCK].astype(np.float64)  # [b, w]
            partial = block @ multipliers[column : column + _WORD_BLOCK]  # [b, 3 * lanes], exact
            residues[start:stop] = np.fmod(residues[start:stop] + np.fmod(partial, _PRIME), _PRIME)
    packed = residues.astype(np.uint64)  # [n, 3 * lanes], each < 2**21
    return tuple(packed[:, r] | (packed[:, r + 1] << np.uint64(21))
                 | (packed[:, r + 2] << np.uint64(42)) for r in range(0, packed.shape[1], 3))


def first_occurrences(lane0: np.ndarray, lane1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First row of every distinct key and, per row, the index of its key among those.

    Returns
    -------
    first : ndarray of shape (n_distinct,)
        Increasing row indices.
    inverse : ndarray of shape (n_rows,)
        ``first[inverse]`` holds each row's own key.
    """
    order = np.lexsort((lane1, lane0))  # stable: a key's lowest row comes first
    sorted0, sorted1 = lane0[order], lane1[order]
    starts = np.ones(order.size, dtype=bool)
    starts[1:] = (sorted0[1:] != sorted0[:-1]) | (sorted1[1:] != sorted1[:-1])
    group = np.empty(order.size, dtype=np.intp)
    group[order] = np.cumsum(starts) - 1  # [n]: key rank of each row
    by_key = order[starts]  # first row of each key, in key order
    by_row = np.argsort(by_key)  # the same rows in row order
    rank = np.empty_like(by_row)
    rank[by_row] = np.arange(by_row.size)
    return by_key[by_row], rank[group]


def words_per_row(X: np.ndarray) -> int:
    """How many 16-bit words :func:`row_keys` reads per row of ``X`` (its bytes, rounded up)."""
    return (X.dtype.itemsize * int(np.prod(X.shape[1:])) + 1) // 2


def draw_multipliers(n_words: int, rng: np.random.Generator, n_lanes: int = 2) -> np.ndarray:
    """Multipliers for :func:`row_keys`: uniform integers in :math:`[0, p)`, float64.

    Shape (n_words, 3 * n_lanes); two lanes (the default) make a 126-bit key.
    """
    return rng.integers(0, _PRIME, size=(n_words, 3 * n_lanes)).astype(np.float64)
