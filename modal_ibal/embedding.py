r"""The latent space of the distance score: a transformer, a callable, or the model's features.

:func:`embed` maps samples into the space of :math:`D` (Eq. 3).
:class:`CachedEmbedding` wraps a fitted transformer so that an active learning
loop encodes each distinct sample once: the autoencoder is fixed after ``fit``,
so a row's code never changes, while the pool shrinks every round
(``X_pool = np.delete(X_pool, idx, axis=0)``) and is re-scored by every query.

>>> embedding = CachedEmbedding(ConvAutoencoder(random_state=0).fit(X_all))  # doctest: +SKIP
>>> learner = ActiveLearner(net, query_strategy=functools.partial(
...     ibal_distance_sampling, embedding=embedding), X_training=X0, y_training=y0)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ._validation import as_numpy, check_positive_int, n_samples

__all__ = [
    "CachedEmbedding",
    "check_embedding",
    "embed",
    "representation_codes",
    "row_keys",
]

_PRIME = 2_097_143  # the largest prime below 2**21
_N_RESIDUES = 6  # two lanes of three 21-bit residues: a 126-bit key
_WORD_BLOCK = 1 << 16  # uint16 words per product: 2**16 * 2**21 * 2**16 < 2**53, exact in float64
_ROW_BLOCK_BYTES = 1 << 20  # float64 words converted at once while hashing (1 MiB)
_CHECK_RTOL = 1e-4


def embed(embedding: Any, X, name: str = "embedding") -> np.ndarray:
    """Map samples into the embedding space of :math:`D` (Eq. 3).

    Parameters
    ----------
    embedding : transformer with ``transform`` or callable
        A fitted scikit-learn transformer (e.g. :class:`modal_ibal.ConvAutoencoder`,
        optionally wrapped in :class:`CachedEmbedding`) or a function from samples
        to an array of shape (n_samples, n_dims).
    X : array-like of shape (n_samples, ...)
    name : str, default='embedding'
        The user's parameter, for error messages.

    Returns
    -------
    ndarray of shape (n_samples, n_dims)
    """
    if hasattr(embedding, "transform"):
        codes = embedding.transform(X)
    elif callable(embedding):
        codes = embedding(X)
    else:
        raise TypeError(
            f"The '{name}' parameter must be None (the model's penultimate features), a fitted "
            f"transformer with a transform method, or a callable. Got {type(embedding).__name__} "
            "instead."
        )
    codes = as_numpy(codes)
    if codes.ndim != 2 or codes.shape[0] != len(X):
        raise ValueError(
            f"The '{name}' parameter must return one row per sample, shape ({len(X)}, "
            f"n_dims). Got shape {codes.shape} instead."
        )
    if codes.dtype.kind not in "biuf" or not np.isfinite(codes).all():
        raise ValueError(
            f"The '{name}' parameter returned codes that are not finite numbers (NaN, "
            "infinite or non-numeric); check it and the samples it encoded."
        )
    return codes


def check_embedding(embedding: Any, name: str = "embedding") -> None:
    """Fail before any forward pass when ``embedding`` cannot encode samples.

    Parameters
    ----------
    embedding : None, transformer or callable
    name : str, default='embedding'
        The user's parameter, for error messages.

    Raises
    ------
    TypeError
        If it is neither None, a transformer with ``transform`` nor a callable.
    sklearn.exceptions.NotFittedError
        If it is a scikit-learn estimator (or a :class:`CachedEmbedding` of one)
        that is not fitted.
    """
    if embedding is None:
        return
    if not (hasattr(embedding, "transform") or callable(embedding)):
        raise TypeError(
            f"The '{name}' parameter must be None (the model's penultimate features), a fitted "
            f"transformer with a transform method, or a callable. Got {type(embedding).__name__} "
            "instead."
        )
    inner = embedding.transformer if isinstance(embedding, CachedEmbedding) else embedding
    if isinstance(inner, BaseEstimator):
        try:
            check_is_fitted(inner)
        except NotFittedError:
            raise NotFittedError(
                f"The {type(inner).__name__} passed as '{name}' is not fitted yet; fit it on "
                "the pool and labelled samples before querying."
            ) from None


def _flatten(X, name: str) -> np.ndarray:
    array = as_numpy(X)
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise TypeError(
            f"The '{name}' parameter must be a numeric array to cluster its raw inputs. Got "
            f"{type(X).__name__} instead; pass representation='features' or an embedding."
        )
    return array.reshape(array.shape[0], int(np.prod(array.shape[1:], dtype=np.int64)))


def representation_codes(
    representation: Any,
    X_pool,
    X_labelled,
    features: Callable[[], tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """(Z_labelled, Z_pool) in the space a clustering or covering strategy works in.

    Parameters
    ----------
    representation : {'inputs', 'features'}, transformer or callable
        ``'inputs'``: the raw samples flattened per row; ``'features'``: the
        model's penultimate features; otherwise an embedding for :func:`embed`
        (e.g. a fitted autoencoder).
    X_pool : array-like of shape (n_pool, ...)
    X_labelled : array-like of shape (n_labelled, ...)
    features : callable
        Returns the model's penultimate features ``(labelled, pool)``; called only
        for ``representation='features'``.

    Returns
    -------
    Z_labelled : ndarray of shape (n_labelled, n_dims)
    Z_pool : ndarray of shape (n_pool, n_dims)
        float32 when both are float32, else float64; finite.
    """
    if isinstance(representation, str):
        if representation == "features":
            Z_labelled, Z_pool = features()
        elif representation == "inputs":
            Z_labelled, Z_pool = _flatten(X_labelled, "X_labelled"), _flatten(X_pool, "X_pool")
        else:
            raise ValueError(
                "The 'representation' parameter must be 'inputs', 'features', a fitted "
                f"transformer or a callable. Got {representation!r} instead."
            )
    elif hasattr(representation, "transform") or callable(representation):
        check_embedding(representation, "representation")
        Z_pool = embed(representation, X_pool, "representation")
        Z_labelled = (embed(representation, X_labelled, "representation")
                      if n_samples(X_labelled) else np.asarray(Z_pool)[:0])  # a cold start
    else:
        raise ValueError(
            "The 'representation' parameter must be 'inputs', 'features', a fitted "
            f"transformer or a callable. Got {representation!r} instead."
        )
    Z_labelled, Z_pool = np.asarray(Z_labelled), np.asarray(Z_pool)
    if Z_labelled.shape[1:] != Z_pool.shape[1:]:
        raise ValueError(
            f"The 'representation' parameter mapped the labelled samples to {Z_labelled.shape[1:]} "
            f"and the pool to {Z_pool.shape[1:]}; both must land in the same space."
        )
    dtype = np.float32 if Z_pool.dtype == np.float32 and Z_labelled.dtype == np.float32 else (
        np.float64)
    Z_labelled, Z_pool = Z_labelled.astype(dtype, copy=False), Z_pool.astype(dtype, copy=False)
    if not (np.isfinite(Z_pool).all() and np.isfinite(Z_labelled).all()):
        raise ValueError("The representation of the samples holds NaN or infinite values.")
    return Z_labelled, Z_pool


def _row_words(X: np.ndarray) -> np.ndarray:
    """The bytes of every row as uint16 words, shape (n_samples, n_words); a view when possible."""
    X = np.ascontiguousarray(X)
    raw = X.reshape(X.shape[0], -1).view(np.uint8)  # [n, bytes]
    if raw.shape[1] % 2:
        raw = np.hstack([raw, np.zeros((raw.shape[0], 1), dtype=np.uint8)])
    return raw.view(np.uint16)  # [n, words]


def row_keys(X: np.ndarray, multipliers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Two 63-bit content keys per row: a multilinear hash of the row's bytes modulo a prime.

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
        Rows to key; any numeric dtype, keyed by their exact bytes.
    multipliers : ndarray of shape (n_words, 6)
        Independent uniform integers in :math:`[0, p)`, :math:`p = 2^{21} - 9`, one
        row per 16-bit word of a sample (``n_words = ceil(row bytes / 2)``).

    Returns
    -------
    lane0, lane1 : ndarray of shape (n_samples,), uint64
        Three residues each, packed 21 bits apart.

    Notes
    -----
    With the row's bytes read as 16-bit words :math:`w_1 \dots w_m` and multipliers
    :math:`a_{jr}`, residue :math:`r` is

    .. math::  h_r(w) = \sum_j a_{jr} w_j \bmod p .

    For two different rows the difference :math:`\sum_j a_{jr}(w_j - w'_j)` is
    uniform on :math:`\mathbb{Z}_p` over the draw of :math:`a` (some
    :math:`w_j - w'_j \ne 0 \bmod p` since :math:`|w_j - w'_j| < p`), so the six
    residues all agree with probability :math:`p^{-6} < 2^{-125}`: about
    :math:`10^{-26}` for :math:`10^6` queries against :math:`10^6` cached rows.
    The sums are float64 matrix products over blocks of :math:`2^{16}` words,
    exact because every partial sum stays below :math:`2^{53}`.
    """
    words = _row_words(X)  # [n, m]
    n_rows, n_words = words.shape
    residues = np.zeros((n_rows, _N_RESIDUES))  # [n, 6]
    rows_per_block = max(1, _ROW_BLOCK_BYTES // (8 * max(1, min(n_words, _WORD_BLOCK))))
    for start in range(0, n_rows, rows_per_block):
        stop = start + rows_per_block
        for column in range(0, n_words, _WORD_BLOCK):
            block = words[start:stop, column : column + _WORD_BLOCK].astype(np.float64)  # [b, w]
            partial = block @ multipliers[column : column + _WORD_BLOCK]  # [b, 6], exact
            residues[start:stop] = np.fmod(residues[start:stop] + np.fmod(partial, _PRIME), _PRIME)
    packed = residues.astype(np.uint64)  # [n, 6], each < 2**21
    lane0 = packed[:, 0] | (packed[:, 1] << np.uint64(21)) | (packed[:, 2] << np.uint64(42))
    lane1 = packed[:, 3] | (packed[:, 4] << np.uint64(21)) | (packed[:, 5] << np.uint64(42))
    return lane0, lane1


@dataclass
class _Store:
    """Cached codes for one sample signature (dtype, per-row shape), sorted by ``lane0``."""

    multipliers: np.ndarray
    lane0: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    lane1: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    codes: np.ndarray | None = None

    def lookup(self, lane0: np.ndarray, lane1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Position of each key in the store and whether both lanes match there."""
        if self.lane0.size == 0:
            return np.zeros(lane0.shape, dtype=np.intp), np.zeros(lane0.shape, dtype=bool)
        position = np.minimum(np.searchsorted(self.lane0, lane0), self.lane0.size - 1)
        found = (self.lane0[position] == lane0) & (self.lane1[position] == lane1)
        return position, found

    def insert(self, lane0: np.ndarray, lane1: np.ndarray, codes: np.ndarray) -> None:
        """Add distinct keys; one whose ``lane0`` alone is not new and unique stays uncached."""
        if self.codes is None or self.codes.dtype != codes.dtype or \
                self.codes.shape[1:] != codes.shape[1:]:
            self.clear()
            self.codes = codes[:0]
        values, counts = np.unique(lane0, return_counts=True)
        keep = np.isin(lane0, values[counts == 1]) & ~np.isin(lane0, self.lane0)
        merged0 = np.concatenate([self.lane0, lane0[keep]])
        order = np.argsort(merged0, kind="stable")
        self.lane0 = merged0[order]
        self.lane1 = np.concatenate([self.lane1, lane1[keep]])[order]
        self.codes = np.concatenate([self.codes, codes[keep]])[order]

    def clear(self) -> None:
        self.lane0, self.lane1, self.codes = self.lane0[:0], self.lane1[:0], None

    @property
    def size(self) -> int:
        return int(self.lane0.size)


class CachedEmbedding:
    r"""A fitted transformer whose codes are cached per row content.

    Each call keys every row by a 126-bit universal hash of its bytes
    (:func:`row_keys`), returns the stored codes of the rows seen before and
    encodes only the new ones (each distinct row once). A pool that shrinks,
    is reordered, or is modified in place between queries is therefore always
    served codes of its current rows: the key is recomputed from the data on
    every call, never taken from the array's identity.

    Parameters
    ----------
    transformer : fitted transformer or callable
        Encodes each row independently of the others (autoencoders, PCA, ...);
        see :func:`embed`.
    n_checks : int, default=8
        Cached rows re-encoded on every call with cache hits. If their fresh codes
        differ from the stored ones (the transformer was refit or changed), the
        whole cache is dropped and every row encoded anew. 0 disables the check.
    max_entries : int or None, default=None
        Most rows kept. When a call would exceed it, the cache keeps only that
        call's rows (none if they alone exceed it). None keeps every row seen.
    random_state : int, Generator or None, default=None
        Draws the hash multipliers (results never depend on them; only the
        :math:`2^{-125}` collision bound does). None uses fresh OS entropy.

    Attributes
    ----------
    n_hits, n_misses : int
        Rows served from the cache and rows encoded, over all calls.

    Notes
    -----
    Cost of a call on :math:`N` rows of :math:`B` bytes: the hash reads every byte
    once (one float64 matrix product with 6 columns, in blocks), a binary
    search of the sorted cache, and the transformer on the misses plus
    ``n_checks`` rows; new rows are merged in with one sort. Rows are keyed with their dtype and shape: the same values
    as float32 and float64 are cached separately. A false hit needs all six
    residues of two different rows to agree, probability :math:`p^{-6}` per
    pair, :math:`p = 2^{21} - 9`.

    The cache pays when encoding a row costs more than hashing its bytes. For
    100,000 rows on two shared CPU cores, a call that hits the cache took about
    0.1 s (64 floats a row), 0.2-0.3 s (1x28x28) and 0.7-1.0 s (3x32x32), against
    1.7-7 s and 6-9 s to re-encode with :class:`~modal_ibal.ConvAutoencoder` at
    28x28 and 32x32; a small MLP encoder on 64 features re-encodes about as fast
    as the hash, so there the wrapper gains nothing.
    """

    def __init__(self, transformer: Any, *, n_checks: int = 8, max_entries: int | None = None,
                 random_state: Any = None):
        if not (hasattr(transformer, "transform") or callable(transformer)):
            raise TypeError(
                "The 'transformer' parameter of CachedEmbedding must be a fitted transformer with "
                f"a transform method, or a callable. Got {type(transformer).__name__} instead."
            )
        if isinstance(n_checks, bool) or not isinstance(n_checks, int) or n_checks < 0:
            raise ValueError(
                "The 'n_checks' parameter of CachedEmbedding must be an int >= 0. "
                f"Got {n_checks!r} instead."
            )
        self.transformer = transformer
        self.n_checks = n_checks
        self.max_entries = None if max_entries is None else check_positive_int(max_entries,
                                                                               "max_entries")
        self.random_state = random_state
        self._rng = np.random.default_rng(random_state)
        self.n_hits = 0
        self.n_misses = 0
        self.clear()

    def clear(self) -> None:
        """Forget every cached code (the hit and miss counts stay)."""
        self._stores: dict[tuple, _Store] = {}

    @property
    def n_cached(self) -> int:
        """Rows currently cached."""
        return sum(store.size for store in self._stores.values())

    def _store(self, X: np.ndarray) -> _Store:
        signature = (X.dtype.str, X.shape[1:])
        if signature not in self._stores:
            n_words = (X.dtype.itemsize * int(np.prod(X.shape[1:])) + 1) // 2
            multipliers = self._rng.integers(0, _PRIME, size=(n_words, _N_RESIDUES))
            self._stores[signature] = _Store(multipliers.astype(np.float64))
        return self._stores[signature]

    def _encode(self, X: np.ndarray) -> np.ndarray:
        return embed(self.transformer, X)

    def _stale(self, X: np.ndarray, hits: np.ndarray, cached: np.ndarray) -> bool:
        """Re-encode up to ``n_checks`` hit rows, evenly spread; True when their codes moved."""
        if self.n_checks == 0 or hits.size == 0:
            return False
        probe = np.unique(np.linspace(0, hits.size - 1, self.n_checks).astype(np.intp))
        fresh = self._encode(X[hits[probe]]).astype(cached.dtype)
        stored = cached[probe]
        scale = max(1.0, float(np.abs(stored).max()))
        return fresh.shape != stored.shape or not np.allclose(
            fresh, stored, rtol=_CHECK_RTOL, atol=_CHECK_RTOL * scale)

    def transform(self, X) -> np.ndarray:
        """Codes of ``X``: cached rows from the cache, new rows from the transformer.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)

        Returns
        -------
        ndarray of shape (n_samples, n_dims)
            What ``embed(transformer, X)`` returns, up to the floating-point
            differences between encoding a row in one batch or another.
        """
        X = as_numpy(X)
        if X.ndim == 0 or X.shape[0] == 0 or X.dtype.kind not in "biufc":
            return self._encode(X)
        store = self._store(X)
        lane0, lane1 = row_keys(X, store.multipliers)
        position, found = store.lookup(lane0, lane1)
        hits, misses = np.flatnonzero(found), np.flatnonzero(~found)
        cached = store.codes[position[hits]] if hits.size else None  # [h, d]
        if hits.size and self._stale(X, hits, cached):
            self._stores.clear()
            return self.transform(X)
        if misses.size == 0:
            self.n_hits += int(hits.size)
            return cached
        first, inverse = _first_occurrences(lane0[misses], lane1[misses])
        new_rows = misses[first]  # each distinct new row once, in row order
        encoded = self._encode(X if new_rows.size == X.shape[0] else X[new_rows])  # [u, d]
        codes = np.empty((X.shape[0], encoded.shape[1]), dtype=encoded.dtype)
        codes[misses] = encoded[inverse]
        if hits.size:
            codes[hits] = cached
        self._remember(store, lane0, lane1, codes, new_rows)
        self.n_hits += int(hits.size)
        self.n_misses += int(misses.size)
        return codes

    def _remember(self, store: _Store, lane0, lane1, codes, new_rows) -> None:
        """Add the new rows; past ``max_entries``, keep this call's distinct rows only."""
        if self.max_entries is not None and store.size + new_rows.size > self.max_entries:
            store.clear()
            new_rows, _ = _first_occurrences(lane0, lane1)
            if new_rows.size > self.max_entries:
                return
        store.insert(lane0[new_rows], lane1[new_rows], codes[new_rows])


def _first_occurrences(lane0: np.ndarray, lane1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
