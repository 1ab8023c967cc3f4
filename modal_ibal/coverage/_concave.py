r"""Kernel herding with concave per-cluster coverage: each cluster's worth falls as it fills.

Herding's coverage is a sum over points, so a pick is worth the mass it covers
and a small, isolated group of points (a rare class) waits until the large ones
are covered. Summing the square root of each cluster's coverage instead,

.. math::  F(S) = \sum_{g} \sqrt{C_g(S)}, \qquad
           C_g(S) = \sum_{x \in g} w(x) \max_{s \in L \cup S} k(x, s),

makes the first coverage of a cluster worth more than more coverage of a
covered one: the gain of covering :math:`\Delta` more of cluster :math:`g` is
:math:`\sqrt{C_g + \Delta} - \sqrt{C_g}`, which is :math:`\sqrt{\Delta}` for an
uncovered cluster and about :math:`\Delta / 2\sqrt{C_g}` for a covered one.
A concave, non-decreasing function of a monotone submodular function is
monotone submodular, so the greedy keeps its :math:`1 - 1/e` guarantee and the
lazy evaluation below is exact.
"""

from __future__ import annotations

import heapq

import numpy as np
import scipy.sparse as sp

from .._utils.validation import make_random_state
from ..scoring import ranking_keys
from ._clusters import cluster_labels, safe_scale_exponent
from ._kernel import column_blocks

__all__ = [
    "COVERAGE_CLUSTER_SAMPLES",
    "MAX_COVERAGE_CLUSTERS",
    "cluster_random_state",
    "concave_gains",
    "coverage_clusters",
    "lazy_concave_herding",
    "n_coverage_clusters",
]

MAX_COVERAGE_CLUSTERS = 50
COVERAGE_CLUSTER_SAMPLES = 4096  # points the k-means is fitted on: about 80 per cluster at 50

_REFRESH = 64  # candidates re-evaluated at once when the best one is stale


def cluster_random_state(random_state) -> np.random.RandomState:
    """The generator of :func:`coverage_clusters` for a strategy's ``random_state``.

    None gives seed 0: herding is otherwise deterministic, and a query repeated on
    the same pool and labels gives the same batch.
    """
    return make_random_state(0 if random_state is None else random_state)


def coverage_clusters(Z: np.ndarray, n_labelled: int, n_instances: int,
                      rng: np.random.RandomState, *, max_clusters: int = MAX_COVERAGE_CLUSTERS,
                      max_cluster_samples: int = COVERAGE_CLUSTER_SAMPLES) -> np.ndarray:
    r"""The clusters :math:`g` of :math:`F`: k-means of the labelled and pool codes together.

    Parameters
    ----------
    Z : ndarray of shape (n_labelled + n_pool, n_dims)
        The codes as the kernel sees them, labelled rows first.
    n_labelled, n_instances : int
        :math:`n` and :math:`B`.
    rng : numpy.random.RandomState
        Seeds the k-means++ initialisation (and the sample of a large pool).
    max_clusters : int, default=50
    max_cluster_samples : int, default=4096
        Above this many points the k-means is fitted on a random sample of this
        size and every point joins its nearest centre.

    Returns
    -------
    ndarray of shape (n_labelled + n_pool,), int64
        Cluster ids ``0 .. K - 1``, :math:`K = \min(n + B, 50, n + N)`.

    Notes
    -----
    :math:`K = n + B` as TypiClust's, so that about :math:`B` clusters hold no
    label, capped at 50 so that the clustering stays cheap at large labelled
    sets (:math:`O(\min(M, 4096) \cdot 50\, d)` per Lloyd step, plus one
    assignment of every point, :math:`O(M \cdot 50\, d)`). Codes of magnitude beyond :math:`2^{32}` are
    clustered scaled by a power of two (the same partition).
    """
    n_points = Z.shape[0]
    shift = safe_scale_exponent(Z)
    codes = np.ldexp(Z, shift) if shift else Z
    return cluster_labels(codes, n_coverage_clusters(n_labelled, n_instances, n_points,
                                                     max_clusters),
                          rng, max_cluster_samples).astype(np.int64)


def n_coverage_clusters(n_labelled: int, n_instances: int, n_points: int,
                        max_clusters: int = MAX_COVERAGE_CLUSTERS) -> int:
    r""":math:`K = \min(n + B, 50, n + N)`, the number of clusters of :func:`coverage_clusters`."""
    return min(n_labelled + n_instances, max_clusters, n_points)


def concave_gains(columns: sp.csc_matrix, candidates: np.ndarray, coverage: np.ndarray,
                  weights: np.ndarray, groups: np.ndarray,
                  group_coverage: np.ndarray) -> np.ndarray:
    r"""Gains in :math:`F` of the given candidate columns under the current coverage.

    Parameters
    ----------
    columns : scipy.sparse.csc_matrix of shape (n_points, n_points)
        Column :math:`c` holds :math:`k(x, c)` for the points :math:`x` that :math:`c` covers.
    candidates : ndarray of shape (m,), int
        Column indices.
    coverage : ndarray of shape (n_points,)
        :math:`m(x)`, the coverage so far.
    weights : ndarray of shape (n_points,)
    groups : ndarray of shape (n_points,), int
        The cluster :math:`g(x)` of each point, ``0 .. n_groups - 1``.
    group_coverage : ndarray of shape (n_groups,)
        :math:`C_g`.

    Returns
    -------
    ndarray of shape (m,)
        :math:`\sum_g \big(\sqrt{C_g + \Delta_g(c)} - \sqrt{C_g}\big)`, with
        :math:`\Delta_g(c) = \sum_{x \in g} w(x) \max(0, k(x, c) - m(x))`; the
        difference is computed as :math:`\Delta / (\sqrt{C_g + \Delta} + \sqrt{C_g})`,
        free of cancellation.
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    if not candidates.size:
        return np.zeros(0)
    return np.concatenate([
        _block_gains(columns, candidates[part], coverage, weights, groups, group_coverage)
        for part in column_blocks(columns, candidates)])


def _block_gains(columns, candidates, coverage, weights, groups, group_coverage):
    """:func:`concave_gains` of one block of columns, read in place from the CSC arrays."""
    lengths = columns.indptr[candidates + 1] - columns.indptr[candidates]  # [m]
    gains = np.zeros(candidates.size)
    filled = np.flatnonzero(lengths)  # empty columns gain 0
    if not filled.size:
        return gains
    lengths = lengths[filled]
    ends = np.cumsum(lengths)  # [m']
    starts = ends - lengths
    first, last = int(candidates[0]), int(candidates[-1])
    if last - first + 1 == candidates.size and (np.diff(candidates) == 1).all():
        entries = slice(columns.indptr[first], columns.indptr[last + 1])  # in place
    else:
        entries = np.arange(ends[-1]) + np.repeat(columns.indptr[candidates[filled]] - starts,
                                                  lengths)  # [nnz]: the columns' entries
    covered = columns.indices[entries]
    terms = np.maximum(columns.data[entries] - coverage[covered], 0.0) * weights[covered]
    group = groups[covered]  # [nnz]
    # most columns cover points of one cluster: their Delta is one sum
    single = np.minimum.reduceat(group, starts) == np.maximum.reduceat(group, starts)  # [m']
    held = group_coverage[group[starts[single]]]
    gains[filled[single]] = _rise(np.add.reduceat(terms, starts)[single], held)
    mixed = np.flatnonzero(~single)
    if mixed.size:  # the rest: one Delta per (column, cluster)
        in_mixed = np.repeat(~single, lengths)
        owner = np.repeat(np.arange(filled.size), lengths)[in_mixed]
        key = owner * group_coverage.size + group[in_mixed]
        order = np.argsort(key, kind="stable")
        key = key[order]
        first = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
        rises = _rise(np.add.reduceat(terms[in_mixed][order], first),
                      group_coverage[key[first] % group_coverage.size])
        gains[filled] += np.bincount(key[first] // group_coverage.size, weights=rises,
                                     minlength=filled.size)
    return gains


def _rise(added: np.ndarray, held: np.ndarray) -> np.ndarray:
    r""":math:`\sqrt{C + \Delta} - \sqrt{C}` as :math:`\Delta / (\sqrt{C + \Delta} + \sqrt{C})`, 0 for no :math:`\Delta`."""
    return np.divide(added, np.sqrt(held + added) + np.sqrt(held), out=np.zeros_like(added),
                     where=added > 0)


def lazy_concave_herding(columns: sp.csc_matrix, coverage: np.ndarray, weights: np.ndarray,
                         groups: np.ndarray, n_labelled: int, n_instances: int, *,
                         on_exhausted) -> tuple[np.ndarray, np.ndarray]:
    r"""The greedy of :math:`F` by lazy evaluation; picks and their gains.

    Parameters
    ----------
    columns : scipy.sparse.csc_matrix of shape (n_points, n_points)
        The kernel graph, read by column; labelled points first.
    coverage : ndarray of shape (n_points,)
        :math:`m(x)` from the labelled set; updated in place.
    weights : ndarray of shape (n_points,)
    groups : ndarray of shape (n_points,), int
    n_labelled, n_instances : int
    on_exhausted : callable
        Called with the number of picks made when no unpicked point gains; returns
        new weights (the unweighted fallback) or None to go on with these.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices (counted from 0), in pick order.
    query_scores : ndarray of shape (n_instances,)
        Each pick's gain in :math:`F` when it was made.

    Notes
    -----
    Gains only fall as picks are made (submodularity), so a gain computed before
    the last pick is an upper bound. The candidates wait in a heap by key (the
    gain at 24 significant bits, :func:`modal_ibal.scoring.ranking_keys`;
    ties to the lower pool index); when the top one's gain is stale, it and the
    next :data:`_REFRESH` - 1 are re-evaluated and pushed back, until the top is
    fresh. That is the candidate the plain greedy, re-evaluating every gain, would
    pick; a query re-evaluates a few of them per pick instead of all :math:`N`.
    """
    n_points = coverage.size
    n_groups = int(groups.max()) + 1

    def group_sums() -> np.ndarray:
        return np.bincount(groups, weights=weights * coverage, minlength=n_groups)

    def evaluate(candidates: np.ndarray) -> None:
        """Fresh gains and keys for these pool indices, pushed on the heap."""
        gains[candidates] = concave_gains(columns, candidates + n_labelled, coverage, weights,
                                          groups, group_coverage)
        keys[candidates] = ranking_keys(gains[candidates])
        stamps[candidates] = len(picks)
        for candidate in candidates.tolist():
            heapq.heappush(heap, (-keys[candidate], candidate))

    group_coverage = group_sums()
    n_pool = n_points - n_labelled
    gains, keys = np.zeros(n_pool), np.zeros(n_pool)
    stamps = np.zeros(n_pool, dtype=np.int64)  # the pick count at which each gain was computed
    picked = np.zeros(n_pool, dtype=bool)
    picks: list[int] = []
    values: list[float] = []
    gains[:] = concave_gains(columns, np.arange(n_labelled, n_points), coverage, weights, groups,
                             group_coverage)
    keys[:] = ranking_keys(gains)
    # (-key, pool index): the highest key first, then the lower index
    heap: list[tuple[float, int]] = list(zip((-keys).tolist(), range(n_pool), strict=True))
    heapq.heapify(heap)
    while len(picks) < n_instances:
        key, best = heap[0]
        if picked[best] or -key != keys[best]:  # an entry outdated by a later evaluation
            heapq.heappop(heap)
            continue
        if stamps[best] != len(picks):  # stale: re-evaluate it and the next stale ones
            stale = []
            while heap and len(stale) < _REFRESH:
                key, candidate = heapq.heappop(heap)
                if not picked[candidate] and -key == keys[candidate]:
                    stale.append(candidate)
            evaluate(np.asarray(stale, dtype=np.int64))
            continue
        if gains[best] <= 0.0:
            replaced = on_exhausted(len(picks))
            if replaced is not None:
                weights = replaced
                group_coverage = group_sums()
                heap = []
                evaluate(np.flatnonzero(~picked))
                continue
        heapq.heappop(heap)
        picks.append(best)
        values.append(float(gains[best]))
        picked[best] = True
        column = slice(columns.indptr[n_labelled + best], columns.indptr[n_labelled + best + 1])
        points, kernel = columns.indices[column], columns.data[column]
        raised = kernel > coverage[points]
        points, kernel = points[raised], kernel[raised]
        np.add.at(group_coverage, groups[points], weights[points] * (kernel - coverage[points]))
        coverage[points] = kernel
    return np.asarray(picks, dtype=np.int64), np.asarray(values)
