r"""The partitioned search's recall on a Dask array, measured on the workers.

The Dask form of :func:`modal_ibal.search._recall.sampled_recall`: the same 256
sampled rows and the same count, so the same number as in memory. Only the
sampled rows and their neighbours found (:math:`s (k + 1)` rows) come to the
caller; every block of points is compared with those rows on its worker, which
sends back the distances within each row's radius (a few per row and block).

:func:`checked_dask_neighbours` widens the candidates as the in-memory search
does (:func:`modal_ibal.search._recall.widened_search`); below the target it keeps
the approximate result and says so: a pool kept in Dask is too large for the
exact search in one process.
"""

from __future__ import annotations

import numpy as np

from .._utils.attribution import warn_caller
from .._utils.dask_waits import computed
from ._dask_neighbours import dask_partitioned_neighbours
from ._knn import DEFAULT_RECALL_TARGET
from ._knn_partitioned import DEFAULT_N_CANDIDATES
from ._recall import (
    DEFAULT_RECALL_SAMPLE,
    SearchOutcome,
    SearchRecallWarning,
    recall_on_sample,
    sample_rows,
    shortfall,
    widened_search,
    within_radius,
)

__all__ = ["checked_dask_neighbours", "dask_sampled_recall"]


def dask_sampled_recall(Z, neighbours: np.ndarray, *,
                        n_sample: int = DEFAULT_RECALL_SAMPLE) -> float:
    """:func:`modal_ibal.search._recall.sampled_recall` of a Dask array's neighbours found.

    Parameters
    ----------
    Z : dask.array.Array of shape (M, d)
        The searched points, chunked along rows only.
    neighbours : ndarray of shape (M, k)
    n_sample : int, default=256

    Returns
    -------
    float in [0, 1]
    """
    import dask

    rows = sample_rows(neighbours.shape[0], n_sample)  # [s]
    wanted = np.unique(np.concatenate([rows, neighbours[rows].ravel()]))  # ascending
    gathered = np.asarray(computed(Z[wanted]), dtype=np.float64)  # [u, d]
    queries = gathered[np.searchsorted(wanted, rows)]  # [s, d]
    found_points = gathered[np.searchsorted(wanted, neighbours[rows])]  # [s, k, d]

    def within(radius: np.ndarray, tie: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts = computed([dask.delayed(within_radius)(queries, block, radius, tie)
                          for block in Z.to_delayed().ravel()])
        return (np.concatenate([part[0] for part in parts]),
                np.concatenate([part[1] for part in parts]))

    return recall_on_sample(queries, found_points, within)


def checked_dask_neighbours(Z, n_neighbors: int, *,
                            recall_target: float = DEFAULT_RECALL_TARGET,
                            ) -> tuple[np.ndarray, np.ndarray, SearchOutcome]:
    """:func:`~modal_ibal.search._dask_neighbours.dask_partitioned_neighbours`, its recall checked.

    Parameters
    ----------
    Z : dask.array.Array of shape (M, d)
        Finite points, chunked along rows only (persisted: they are read again
        for the check and for each widening).
    n_neighbors : int
    recall_target : float, default=0.8

    Returns
    -------
    neighbours, squared, SearchOutcome

    Warns
    -----
    SearchRecallWarning
        When the widest search stayed below ``recall_target``; its result is kept.
    """
    n_points = int(Z.shape[0])

    def search(n_candidates: int) -> tuple[np.ndarray, np.ndarray]:
        return dask_partitioned_neighbours(Z, n_neighbors, n_candidates=n_candidates)

    neighbours, squared, outcome = widened_search(
        search, lambda found: dask_sampled_recall(Z, found), DEFAULT_N_CANDIDATES, n_points,
        recall_target)
    if not outcome.met:
        warn_caller(f"{shortfall(outcome, n_points, neighbours.shape[1], recall_target)}; "
                      "the approximate result is kept (a Dask pool is not searched exactly).",
                      SearchRecallWarning)
    return neighbours, squared, outcome
