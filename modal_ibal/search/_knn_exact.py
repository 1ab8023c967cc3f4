"""Exact k nearest neighbours of every point of a set, in blocks.

:math:`O(M^2 d)` time,
:math:`O(M k)` memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.neighbors import NearestNeighbors

from .._utils.validation import as_numpy, check_positive_int

__all__ = [
    "check_n_neighbors",
    "check_points",
    "exact_neighbours",
    "index_type",
    "neighbours_in_blocks",
    "with_self",
]

_SEARCH_ELEMENTS = 1 << 21  # neighbour coordinates compared per block: 16 MiB of float64


def check_points(Z: Any) -> np.ndarray:
    """Points to search: a non-empty, finite, numeric 2-D array (integers become float64)."""
    Z = as_numpy(Z)
    if Z.ndim != 2 or Z.dtype.kind not in "biuf" or Z.shape[0] == 0:
        raise ValueError(
            "The 'Z' parameter must be a non-empty numeric array of shape (n_samples, n_dims). "
            f"Got dtype {Z.dtype} and shape {Z.shape} instead."
        )
    if not np.isfinite(Z).all():
        raise ValueError("The 'Z' parameter holds NaN or infinite values.")
    return Z if Z.dtype.kind == "f" else Z.astype(np.float64)


def check_n_neighbors(n_neighbors: Any, n_points: int) -> int:
    k = check_positive_int(n_neighbors, "n_neighbors")
    if k > n_points:
        raise ValueError(
            f"The 'n_neighbors' parameter must be at most the number of points, {n_points}. "
            f"Got {k} instead."
        )
    return k


def index_type(n_points: int, n_neighbors: int) -> type:
    """int32 while the graph's entries can be counted in it (scipy's own choice)."""
    return np.int32 if n_points * n_neighbors < np.iinfo(np.int32).max else np.int64


def with_self(found: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Put each row's own index last where duplicates crowded it out of ``found`` (in place).

    Returns the [b, k] mask of the entries that are the row itself.
    """
    itself = found == own[:, None]  # [b, k]
    missing = np.flatnonzero(~itself.any(axis=1))
    found[missing, -1] = own[missing]
    itself[missing, -1] = True
    return itself


def _squared_distances(exact: np.ndarray, own: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Float64 squared distances of the rows ``own`` to their neighbours ``found``."""
    difference = exact[found] - exact[own, None, :]  # [b, k, d]
    return np.einsum("bkd,bkd->bk", difference, difference)


def exact_neighbours(Z: np.ndarray, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact :math:`k` nearest neighbours of checked points by brute force.

    ``Z`` and ``n_neighbors`` as :func:`~modal_ibal.search.nearest_neighbours`
    checks them (finite float points, :math:`1 \le k \le M`), and its result.
    scikit-learn's ``NearestNeighbors(algorithm='brute')`` (which streams the
    distances in blocks, never :math:`M \times M`), queried in blocks of rows
    (:func:`neighbours_in_blocks`).
    Time :math:`O(M^2 d)`; memory :math:`O(M (k + d))` plus one block.
    """
    search = NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute").fit(Z)
    return neighbours_in_blocks(
        Z, n_neighbors, lambda own: search.kneighbors(Z[own], return_distance=False))


def neighbours_in_blocks(Z: np.ndarray, k: int, find: Callable[[np.ndarray], np.ndarray],
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Every row's ``k`` neighbours by ``find``, in blocks of rows, their distances in float64.

    Parameters
    ----------
    Z : ndarray of shape (M, d)
        Checked points.
    k : int
    find : callable
        ``find(own)`` returns the indices of the ``k`` rows of ``Z`` nearest to
        each of the rows ``own`` [b] (ascending, contiguous): [b, k].

    Returns
    -------
    neighbours, squared
        As :func:`modal_ibal.search.nearest_neighbours`: each row holds its own
        index (put last where duplicates crowded it out), and the squared distances
        are recomputed in float64 from the points.
    """
    n_points = Z.shape[0]
    exact = Z.astype(np.float64, copy=False)  # [M, d]
    neighbours = np.empty((n_points, k), dtype=index_type(n_points, k))  # [M, k]
    squared = np.empty((n_points, k))  # [M, k]
    block = max(1, _SEARCH_ELEMENTS // (k * Z.shape[1]))  # query rows per call
    for start in range(0, n_points, block):
        own = np.arange(start, min(start + block, n_points))  # [b]
        found = np.asarray(find(own))  # [b, k]: a new array from either search, with_self writes to it
        with_self(found, own)
        squared[own] = _squared_distances(exact, own, found)
        neighbours[own] = found
    return neighbours, squared
