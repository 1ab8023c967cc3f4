r"""Kernel herding's greedy: the points that most raise the kernel coverage.

MaxHerding [2]_, with UHerding-style weights.

Generalised coverage of the data (labelled set and pool together) under a kernel
:math:`k`,

.. math::  C_k(L) = \frac{1}{M} \sum_{x} \max_{l \in L} k(x, l),

is maximised greedily, one point at a time. The exact greedy reads all
:math:`M^2` kernel values per pick; here the Gaussian kernel is truncated to each
point's :math:`k` nearest neighbours (a sparse graph built in blocks), and the
greedy recomputes after a pick only the gains that the pick can have changed; with
:math:`k = M` it is the exact greedy. ProbCover is the top-hat special case of the
same objective [1]_.

References
----------
.. [1] Yehuda, Dekel, Hacohen and Weinshall, "Active Learning Through a
   Covering Lens", NeurIPS 2022.
.. [2] Bae, Noh and Sutherland, "Generalized Coverage for More Robust
   Low-Budget Active Learning", ECCV 2024.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from .._utils.attribution import warn_caller
from .._utils.validation import (
    check_flag,
    check_n_instances,
    check_nonnegative_int,
    check_number_or_word,
    check_positive_int,
)
from ..scoring import ranking_keys
from ..search import check_algorithm
from . import _kernel as kernel_module  # GAIN_ELEMENTS read at call time
from ._concave import lazy_concave_herding
from ._kernel import check_graph, check_pool_weights, check_weights, column_blocks, kernel_rows

__all__ = [
    "HerdingOptions",
    "UninformativeWeightsWarning",
    "check_herding_options",
    "greedy_kernel_herding",
    "herding_batch",
]


class UninformativeWeightsWarning(UserWarning):
    """Kernel herding's weights gave no unpicked point any gain: the batch went on unweighted.

    A saturated model (every probability row one-hot, e.g. float32 logits more
    than about 17 apart) gives every point margin weight 0; without this
    fallback the greedy would take the pool in its order.
    """


def _warn_uninformative(n_picked: int, n_instances: int) -> None:
    warn_caller(
        f"No unpicked pool point gains weighted coverage after {n_picked} of {n_instances} "
        "picks: the weights are 0 wherever coverage can still be gained (a saturated model "
        "gives every point margin weight 0). The remaining picks maximise unweighted "
        "coverage (MaxHerding).",
        UninformativeWeightsWarning)


def greedy_kernel_herding(
    graph: sp.spmatrix | np.ndarray,
    n_labelled: int,
    n_instances: int,
    *,
    weights: np.ndarray | None = None,
    symmetric: bool = False,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""MaxHerding's greedy on a kernel graph over labelled + pool points.

    Parameters
    ----------
    graph : sparse matrix or ndarray of shape (n_labelled + n_pool, n_labelled + n_pool)
        Kernel values :math:`k(x, c) \ge 0`, labelled points first; entries not
        stored are 0 (e.g. :func:`knn_kernel_graph`). Need not be symmetric:
        ``graph[x, c]`` is how well candidate :math:`c` covers point :math:`x`.
    n_labelled : int
        :math:`n`, the number of leading rows that are labelled (0 for none).
    n_instances : int
        Batch size :math:`B`.
    weights : ndarray of shape (n_labelled + n_pool,), optional
        :math:`w(x) \ge 0`, how much covering each point is worth; default 1.
    symmetric : bool, default=False
        True when ``graph`` is symmetric, as :func:`knn_kernel_graph`'s graphs
        are: its rows then serve as its columns and no transposed copy is made.
        Not checked; a non-symmetric graph passed as symmetric gives wrong gains.
    groups : ndarray of shape (n_labelled + n_pool,), int, optional
        A cluster per point (``0 .. n_groups - 1``): the objective becomes the
        concave per-cluster coverage :math:`\sum_g \sqrt{C_g}` of
        :mod:`modal_ibal.coverage._concave`, maximised by its lazy greedy. None: the
        plain coverage below.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices (rows ``n_labelled:`` of the graph, counted from 0), in pick order.
    query_scores : ndarray of shape (n_instances,)
        The gain of each pick when it was made.

    Notes
    -----
    With :math:`m(x) = \max_{l \in L} k(x, l)` (0 for an empty :math:`L`), each
    pick is the unpicked pool point

    .. math::  c = \arg\max_{c} \sum_x w(x) \max\big(0, k(x, c) - m(x)\big),

    after which :math:`m(x) \leftarrow \max(m(x), k(x, c))`; gains are compared at
    24 significant bits (:func:`modal_ibal.scoring.ranking_keys`) and ties
    go to the lower pool index. A candidate's gain is a sum over the stored entries of its
    column. The gains only decrease (the coverage is submodular), and a pick
    changes :math:`m` only on its own column's points :math:`x`, so only the
    candidates :math:`c'` with :math:`k(x, c') > 0` for such an :math:`x` are
    recomputed, from scratch (no drift). On a :math:`k`-neighbour graph that is
    about :math:`k^2` candidates of :math:`O(k)` entries per pick, plus an
    :math:`O(M)` argmax.
    """
    rows = check_graph(graph)
    n_points = rows.shape[0]
    if not check_nonnegative_int(n_labelled, "n_labelled") < n_points:
        raise ValueError(
            f"The 'n_labelled' parameter must be an int in [0, {n_points - 1}] for a graph of "
            f"{n_points} points, so that the pool is not empty. Got {n_labelled!r} instead."
        )
    n_labelled = int(n_labelled)
    n_instances = check_n_instances(n_instances, n_points - n_labelled)
    weighted = weights is not None
    weights = check_weights(weights, n_points)
    if not isinstance(symmetric, bool):
        raise TypeError(f"The 'symmetric' parameter must be a bool. Got {symmetric!r} instead.")
    groups = None if groups is None else check_groups(groups, n_points)
    return herd(rows, n_labelled, n_instances, weights, weighted=weighted, symmetric=symmetric,
                groups=groups)


def herd(rows: sp.csr_matrix, n_labelled: int, n_instances: int, weights: np.ndarray, *,
         weighted: bool, symmetric: bool, groups: np.ndarray | None
         ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`greedy_kernel_herding` of checked arguments.

    ``rows`` is the graph as :func:`~modal_ibal.coverage._kernel.kernel_rows` (row
    :math:`x`: the candidates that cover :math:`x`), ``weights`` float64 values
    (ones when none were given, ``weighted`` False), ``groups`` int64 ids or None;
    ``n_labelled`` and ``n_instances`` leave at least one pool point and pick at
    most the pool.
    """
    n_points = rows.shape[0]
    columns = rows.T if symmetric else rows.tocsc()  # column c: the points x that c covers
    if n_labelled:
        coverage = columns[:, :n_labelled].max(axis=1).toarray().ravel()  # [M]
    else:
        coverage = np.zeros(n_points)
    if groups is not None:
        def unweighted(n_picked: int) -> np.ndarray | None:
            nonlocal weighted
            if not weighted:
                return None
            _warn_uninformative(n_picked, n_instances)
            weighted = False
            return np.ones(n_points)

        return lazy_concave_herding(columns.tocsc(), coverage, weights, groups, n_labelled,
                                    n_instances, on_exhausted=unweighted)

    def column_gains(candidates: np.ndarray) -> np.ndarray:
        """Gains of the given graph columns under the current coverage, in blocks of entries."""
        blocks = (columns[:, candidates[part]] for part in column_blocks(columns, candidates))
        return np.concatenate([entry_gains(block.data, block.indices, block.indptr)
                               for block in blocks])

    def range_gains(first: int, last: int) -> np.ndarray:
        """Gains of the contiguous columns ``first:last``, read in place, in blocks of columns."""
        entries = int(columns.indptr[last]) - int(columns.indptr[first])
        per_block = max(1, kernel_module.GAIN_ELEMENTS * (last - first) // max(1, entries))
        parts = []
        for start in range(first, last, per_block):
            stop = min(start + per_block, last)
            entries = slice(columns.indptr[start], columns.indptr[stop])
            parts.append(entry_gains(columns.data[entries].copy(), columns.indices[entries],
                                     columns.indptr[start:stop + 1] - columns.indptr[start]))
        return np.concatenate(parts)

    def entry_gains(data: np.ndarray, covered: np.ndarray, indptr: np.ndarray) -> np.ndarray:
        """Column sums of w(x) max(0, k(x, c) - m(x)) over CSC entries (``data`` is overwritten)."""
        terms = np.subtract(data, coverage[covered], out=data)  # [nnz]
        np.maximum(terms, 0.0, out=terms)
        terms *= weights[covered]
        starts = indptr[:-1]  # [m]
        filled = indptr[1:] > starts  # [m]: empty columns gain 0
        sums = np.zeros(len(starts))
        if terms.size:
            sums[filled] = np.add.reduceat(terms, starts[filled])
        return sums

    gains = range_gains(n_labelled, n_points)  # [N]
    # gains are compared as every score is (scoring.selection.ranking_keys): copies of a
    # point, whose gains are sums of their columns in another order, tie
    keys = ranking_keys(gains)  # [N]
    picked = np.zeros(n_points - n_labelled, dtype=bool)
    picks, values = [], []
    for _ in range(n_instances):
        pick = int(np.argmax(keys))  # the first of equal keys: the lower pool index
        if gains[pick] <= 0.0 and weighted:
            _warn_uninformative(len(picks), n_instances)
            weights = np.ones(n_points)  # the rest of the batch: unweighted coverage
            weighted = False
            gains = np.where(picked, -1.0, range_gains(n_labelled, n_points))
            keys = ranking_keys(gains)
            pick = int(np.argmax(keys))
        picks.append(pick)
        values.append(float(gains[pick]))
        picked[pick] = True
        gains[pick] = keys[pick] = -1.0  # gains are >= 0: never again
        column = slice(columns.indptr[n_labelled + pick], columns.indptr[n_labelled + pick + 1])
        points, kernel = columns.indices[column], columns.data[column]
        raised = kernel > coverage[points]
        points = points[raised]
        coverage[points] = kernel[raised]
        touched = np.zeros(n_points, dtype=bool)  # [M]
        touched[rows[points].indices] = True  # the candidates covering those points
        stale = np.flatnonzero(touched[n_labelled:] & ~picked)  # pool indices
        if stale.size:
            gains[stale] = column_gains(stale + n_labelled)
            keys[stale] = ranking_keys(gains[stale])
    return np.asarray(picks, dtype=np.int64), np.asarray(values)


def check_groups(groups, n_points: int) -> np.ndarray:
    """``groups`` as int64 cluster ids ``0 ..``, one per point of the graph; or ValueError."""
    values = np.asarray(groups)
    if values.shape != (n_points,) or values.dtype.kind not in "iu" or (
            values.size and values.min() < 0):
        raise ValueError(
            f"The 'groups' parameter must be non-negative integer cluster ids, one per point "
            f"of the graph ({n_points}). Got an array of shape {values.shape} and dtype "
            f"{values.dtype} instead."
        )
    return values.astype(np.int64, copy=False)


def herding_batch(graph: sp.csr_matrix, n_labelled: int, n_instances: int,
                  pool_weights: np.ndarray | None = None,
                  groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Herding's batch over a graph of labelled rows first, then the pool: MaxHerding's query.

    Labelled points weigh 0 (they cover themselves); ``pool_weights`` (default 1)
    weigh the pool.

    Parameters
    ----------
    graph : scipy.sparse.csr_matrix of shape (n_labelled + n_pool, n_labelled + n_pool)
        Symmetric kernel values (:func:`modal_ibal.coverage._kernel.kernel_graph`).
    n_labelled, n_instances : int
    pool_weights : ndarray of shape (n_pool,), optional
    groups : ndarray of shape (n_labelled + n_pool,), int, optional
        Clusters for the concave per-cluster coverage (:mod:`modal_ibal.coverage._concave`).

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices in pick order.
    query_scores : ndarray of shape (n_instances,)
        Each pick's gain in :math:`C_k`, the weighted coverage divided by the number of points.
    """
    n_points = graph.shape[0]
    weights = (np.ones(n_points) if pool_weights is None
               else np.concatenate([np.zeros(n_labelled), pool_weights]))  # [n + N]
    indices, gains = herd(kernel_rows(graph), n_labelled, n_instances, weights,
                          weighted=pool_weights is not None, symmetric=True,
                          groups=None if groups is None else groups.astype(np.int64, copy=False))
    return indices, gains / n_points


class HerdingOptions(NamedTuple):
    """Kernel herding's options, checked (:func:`check_herding_options`)."""

    n_neighbors: int
    bandwidth: float | str | None
    weights: str | np.ndarray | None
    temperature: float | str | None
    algorithm: str
    normalize_rows: bool | str
    concave_clusters: bool


def check_herding_options(n_pool: int, *, n_neighbors: Any, bandwidth: Any, weights: Any,
                          temperature: Any, algorithm: Any, normalize_rows: Any = True,
                          concave_clusters: Any = False) -> HerdingOptions:
    """The options of :func:`modal_ibal.herding_sampling`, checked for a pool of ``n_pool``.

    One check for the in-memory strategy and its Dask backend.

    Parameters
    ----------
    n_pool : int
    n_neighbors, bandwidth, weights, temperature, algorithm, normalize_rows, concave_clusters
        As :func:`modal_ibal.herding_sampling` takes them.

    Returns
    -------
    HerdingOptions
        ``weights`` as float64 values when given as an array.

    Raises
    ------
    TypeError, ValueError
        Naming the option that is wrong.
    """
    return HerdingOptions(
        check_positive_int(n_neighbors, "n_neighbors"),
        check_number_or_word(bandwidth, "bandwidth", "labelled"),
        check_pool_weights(weights, n_pool),
        check_number_or_word(temperature, "temperature", "calibrated"),
        check_algorithm(algorithm),
        normalize_rows if isinstance(normalize_rows, str) and normalize_rows == "auto"
        else check_flag(normalize_rows, "normalize_rows", "or 'auto'"),
        check_flag(concave_clusters, "concave_clusters"),
    )
