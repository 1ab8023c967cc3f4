"""The batch from a Dask pool's scores, by a tree reduction.

A tree reduction of (ranking key, pool index, score) records, ranked as
:func:`modal_ibal.scoring.select_lowest` ranks (scores rounded by
:func:`~modal_ibal.scoring.ranking_keys`, ties to the lower index); only the
batch reaches the caller.
"""

from __future__ import annotations

import functools

import numpy as np

from .._utils.dask_waits import computed
from .._utils.validation import check_n_instances, check_scores, is_dask_array
from ..scoring import ranking_keys

__all__ = ["dask_select_highest", "dask_select_lowest", "normalised"]

_KEY = np.dtype([("key", np.float64), ("index", np.int64), ("score", np.float64)])


def normalised(values):
    """``values / max |values|`` as :func:`modal_ibal.normalise_by_max`, lazily."""
    import dask.array as da

    largest = abs(values).max()
    return values / da.where(largest > 0, largest, 1.0)  # an all-zero column stays zero


def _keys(scores: np.ndarray, index: np.ndarray) -> np.ndarray:
    """(ranking key, pool index, score) records of one chunk."""
    keys = np.empty(scores.shape[0], dtype=_KEY)
    keys["score"] = check_scores(np.asarray(scores, dtype=np.float64), "query")
    keys["key"] = ranking_keys(keys["score"])
    keys["index"] = index
    return keys


def _lowest_keys(keys: np.ndarray, axis=None, keepdims=None, *, n_instances: int) -> np.ndarray:
    """The ``n_instances`` smallest records, ordered by ranking key and then by pool index."""
    if keys.shape[0] > n_instances:
        threshold = np.partition(keys["key"], n_instances - 1)[n_instances - 1]
        keys = keys[keys["key"] <= threshold]  # every candidate, ties at the threshold too
    order = np.lexsort((keys["index"], keys["key"]))[:n_instances]
    return keys[order]


def dask_select_lowest(scores, n_instances: int = 1) -> tuple[np.ndarray, np.ndarray]:
    r"""Indices and values of the ``n_instances`` smallest scores of a Dask array.

    The same batch as :func:`modal_ibal.select_lowest` on the computed scores,
    ties to the lower pool index, by a tree reduction: each chunk keeps its
    ``n_instances`` best (score, index) pairs and the reduction merges them, so
    only those pairs move between workers.

    Parameters
    ----------
    scores : dask.array.Array of shape (n_pool,)
    n_instances : int, default=1

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Smallest score first.
    query_scores : ndarray of shape (n_instances,)

    Notes
    -----
    Pool point :math:`i` is chosen when fewer than :math:`B` points come before it
    in the lexicographic order of (ranking key, index), :math:`r(s)` the score rounded
    by :func:`modal_ibal.scoring.ranking_keys`:

    .. math::  (s_j, j) < (s_i, i) \iff r(s_j) < r(s_i) \ \text{or}\
               (r(s_j) = r(s_i) \ \text{and}\ j < i).

    Cost: :math:`O(N)` over the chunks, :math:`O(B \log B)` per merge.
    """
    import dask.array as da

    if not is_dask_array(scores) or scores.ndim != 1:
        raise TypeError(
            "The 'scores' parameter must be a 1-D dask.array.Array. Got "
            f"{type(scores).__name__} of shape {getattr(scores, 'shape', None)} instead."
        )
    n_instances = check_n_instances(n_instances, int(scores.shape[0]))
    index = da.arange(scores.shape[0], chunks=scores.chunks[0], dtype=np.int64)
    keys = da.map_blocks(_keys, scores, index, dtype=_KEY, meta=np.empty(0, dtype=_KEY))
    lowest = functools.partial(_lowest_keys, n_instances=n_instances)
    best = computed(da.reduction(
        keys, chunk=lowest, combine=lowest, aggregate=lowest, axis=0, keepdims=True,
        dtype=_KEY, output_size=n_instances, concatenate=True, meta=np.empty(0, dtype=_KEY),
    ))
    return best["index"].astype(np.intp), best["score"]


def dask_select_highest(scores, n_instances: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``n_instances`` largest scores of a Dask array, largest first.

    As :func:`modal_ibal.select_highest`; see :func:`dask_select_lowest`.
    """
    indices, negated = dask_select_lowest(-scores, n_instances)
    return indices, -negated
