r"""The engine under the coverage rules: clusters, typicality, max coverage and kernel herding.

TypiClust and cluster-IBAL share :func:`typical_picks` (k-means++ over labelled +
pool, then the most typical point of each large uncovered cluster); beyond
``KMEANS_MAX_CLUSTERS`` clusters the labelled points are the fixed centers of
their own clusters (:func:`uncovered_clusters`), so that only the uncovered
clusters are fitted. ProbCover uses :func:`greedy_max_coverage` on a ball graph;
MaxHerding (generalised coverage) uses :func:`knn_kernel_graph` and
:func:`greedy_kernel_herding`. Everything here works on codes (``Z``: one row per
point, labelled rows first) and knows nothing about models.

Generalised coverage of the data (labelled set and pool together) under a kernel
:math:`k`,

.. math::  C_k(L) = \frac{1}{M} \sum_{x} \max_{l \in L} k(x, l),

is maximised greedily, one point at a time. The exact greedy reads all
:math:`M^2` kernel values per pick; here the Gaussian kernel is truncated to each
point's :math:`k` nearest neighbours (a sparse graph built in blocks), and the
greedy recomputes after a pick only the gains that the pick can have changed; with
:math:`k = M` it is the exact greedy. ProbCover is the top-hat special case of the
same objective.

References
----------
.. [1] Hacohen, Dekel and Weinshall, "Active Learning on a Budget: Opposite
   Strategies Suit High and Low Budgets", ICML 2022.
.. [2] Yehuda, Dekel, Hacohen and Weinshall, "Active Learning Through a
   Covering Lens", NeurIPS 2022.
.. [3] Bae, Noh and Sutherland, "Generalized Coverage for More Robust
   Low-Budget Active Learning", ECCV 2024.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors

from ._validation import as_numpy, check_n_instances, check_positive_int
from .neighbours import check_algorithm, check_points, nearest_centre, nearest_neighbours
from .selection import select_highest

__all__ = [
    "DEFAULT_MAX_CLUSTER_SAMPLES",
    "DEFAULT_N_NEIGHBORS",
    "KMEANS_MAX_CLUSTERS",
    "UninformativeWeightsWarning",
    "check_bandwidth",
    "check_weights",
    "cluster_labels",
    "greedy_kernel_herding",
    "greedy_max_coverage",
    "knn_kernel_graph",
    "pick_per_cluster",
    "typical_picks",
    "typicality",
    "uncovered_clusters",
]

DEFAULT_N_NEIGHBORS = 20
KMEANS_MAX_CLUSTERS = 50  # beyond: the labelled points anchor their clusters
DEFAULT_MAX_CLUSTER_SAMPLES = 20_000
_BLOCK_ELEMENTS = 1 << 22  # scores held at once by the nearest-center search
_MAX_BLOCK_ROWS = 2048  # rows per block: small temporaries, warm caches


def typicality(Z: np.ndarray, n_neighbors: int = DEFAULT_N_NEIGHBORS) -> np.ndarray:
    r"""TypiClust's typicality: inverse mean distance to the nearest neighbours.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_dims)
        The points of one cluster.
    n_neighbors : int, default=20
        :math:`k`; at most ``n_samples - 1`` neighbours are used.

    Returns
    -------
    ndarray of shape (n_samples,)

    Notes
    -----
    .. math::  \tau(x) = \Big(\frac1k \sum_{x' \in \mathrm{kNN}(x)} \lVert z - z' \rVert_2\Big)^{-1},
               \qquad k = \min(\mathrm{n\_neighbors}, |\mathrm{cluster}| - 1)

    A point is not its own neighbour. A one-point cluster has typicality 1; a zero
    mean distance (duplicates) is floored at machine epsilon so :math:`\tau` stays finite.
    """
    Z = np.asarray(Z)
    k = min(n_neighbors, Z.shape[0] - 1)
    if k < 1:
        return np.ones(Z.shape[0])
    distances, _ = NearestNeighbors(n_neighbors=k).fit(Z).kneighbors()  # [m, k]
    mean = distances.astype(np.float64).mean(axis=1)  # [m]
    return 1.0 / np.maximum(mean, np.finfo(np.float64).eps)


def cluster_labels(
    Z: np.ndarray, n_clusters: int, rng: np.random.RandomState, max_cluster_samples: int
) -> np.ndarray:
    """k-means++ clustering of ``Z`` (KMeans), kept affordable for large pools.

    :func:`typical_picks` calls it for up to ``KMEANS_MAX_CLUSTERS`` clusters and
    uses :func:`uncovered_clusters` beyond. With more than ``max_cluster_samples``
    points the clustering is fitted on a random sample of that size and every
    point is then assigned to its nearest center.
    """
    n_points = Z.shape[0]
    model = KMeans(n_clusters=n_clusters, init="k-means++", n_init=1, random_state=rng)
    if n_points <= max_cluster_samples:
        return model.fit(Z).labels_
    sample = rng.choice(n_points, size=max(max_cluster_samples, n_clusters), replace=False)
    return model.fit(Z[sample]).predict(Z)


def pick_per_cluster(
    Z: np.ndarray,
    labels: np.ndarray,
    n_labelled: int,
    n_instances: int,
    *,
    n_neighbors: int,
    preference: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """TypiClust's selection given cluster labels of labelled + pool.

    Parameters
    ----------
    Z : ndarray of shape (n_labelled + n_pool, n_dims)
        Labelled points first.
    labels : ndarray of shape (n_labelled + n_pool,)
    n_labelled : int
    n_instances : int
    n_neighbors : int
        For :func:`typicality`.
    preference : callable, optional
        Maps the pool indices of a cluster's pool members to positive weights that
        multiply their typicality (cluster-IBAL); None for TypiClust.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices in pick order.
    query_scores : ndarray of shape (n_instances,)
        Weighted typicality of each pick.

    Notes
    -----
    Each pick goes to the cluster with the fewest labelled-or-picked points, then
    the largest, then the lowest cluster id, among clusters with an unpicked pool
    point; inside it, to the unpicked pool point of highest weighted typicality
    (lowest pool index on ties). With :math:`K = n + B` clusters at least
    :math:`B` clusters hold no labelled point, so normally the batch is the most
    typical point of each of the :math:`B` largest uncovered clusters.
    """
    n_clusters = int(labels.max()) + 1
    pool_labels = labels[n_labelled:]
    sizes = np.bincount(labels, minlength=n_clusters)  # [K]
    claimed = np.bincount(labels[:n_labelled], minlength=n_clusters)  # [K]
    available = np.bincount(pool_labels, minlength=n_clusters)  # [K]
    cluster_ids = np.arange(n_clusters)
    by_cluster = np.argsort(labels, kind="stable")  # members of each cluster, in index order
    starts = np.concatenate([[0], np.cumsum(sizes)])  # [K + 1]
    members_of: dict[int, np.ndarray] = {}
    values_of: dict[int, np.ndarray] = {}
    picks, scores = [], []
    for _ in range(n_instances):
        open_clusters = cluster_ids[available > 0]
        order = np.lexsort((open_clusters, -sizes[open_clusters], claimed[open_clusters]))
        cluster = int(open_clusters[order[0]])
        if cluster not in members_of:
            in_cluster = by_cluster[starts[cluster] : starts[cluster + 1]]
            tau = typicality(Z[in_cluster], n_neighbors)  # [m]
            is_pool = in_cluster >= n_labelled
            members = in_cluster[is_pool] - n_labelled  # pool indices
            values = tau[is_pool]
            if preference is not None:
                values = values * preference(members)
            members_of[cluster], values_of[cluster] = members, values
        (best,), (value,) = select_highest(values_of[cluster], 1)
        picks.append(int(members_of[cluster][best]))
        scores.append(value)
        values_of[cluster][best] = -1.0  # weighted typicality is positive: never again
        claimed[cluster] += 1
        available[cluster] -= 1
    return np.asarray(picks, dtype=np.int64), np.asarray(scores)


def uncovered_clusters(
    Z_labelled: np.ndarray,
    Z_pool: np.ndarray,
    n_clusters: int,
    rng: np.random.RandomState,
    max_cluster_samples: int,
) -> np.ndarray:
    r"""The free clusters of k-means++ seeding continued from the labelled points.

    The labelled points are the first :math:`n` centers, one covered cluster
    each; ``n_clusters`` more centers (free) are pool points drawn by greedy
    k-means++ given them. A pool point belongs to the free cluster of its nearest
    free center when that center is nearer than every labelled point, and is
    covered otherwise.

    Parameters
    ----------
    Z_labelled : ndarray of shape (n_labelled, n_dims)
        May have no rows: then every pool point is in a free cluster.
    Z_pool : ndarray of shape (n_pool, n_dims)
    n_clusters : int
        :math:`F`, the number of free centers, at most ``n_pool``.
    rng : numpy.random.RandomState
        Draws the sample and the k-means++ seeds.
    max_cluster_samples : int
        Pools larger than this draw the free centers from a random sample of
        ``max(max_cluster_samples, n_clusters)`` pool points.

    Returns
    -------
    ndarray of shape (n_pool,), int
        The free cluster (``0 .. n_clusters - 1``, in seeding order) of each pool
        point, -1 where it is covered.

    Notes
    -----
    With :math:`D(z) = \min_{l \in L} \lVert z - z_l \rVert_2` the distance to the
    labelled set and :math:`\mu_1, \dots, \mu_b` the free centers so far, the cost of
    a sample point :math:`z \in S` is

    .. math::  c_b(z) = \min\Big(D(z)^2,\; \min_{j \le b} \lVert z - \mu_j \rVert_2^2\Big),

    the k-means cost of the :math:`n + b` centers. The next center is the best of
    :math:`2 + \lfloor \ln(n + F) \rfloor` sample points drawn with probability
    :math:`c_b(z) / \sum_S c_b`, the one minimising :math:`\sum_S c_{b+1}`
    (scikit-learn's greedy k-means++), so a center never lands on a covered
    duplicate of a labelled point. The centers are not refined by Lloyd steps: a
    free center moved to its cluster's mean would claim most of the neighbourhood
    of a labelled point that sits off its mode's mean (a labelled point is a
    sample, not a mean), calling covered regions uncovered. Measured: on the
    benchmark pool (100,000 noisy digits, :math:`n = 100`, :math:`F = 100`) Lloyd
    steps grew the free clusters from 55% to 91% of the pool, and on digits (10
    paired seeds, :math:`B = 20`) TypiClust's AULC was :math:`0.005 \pm 0.003`
    lower with them. Ties go to the labelled point (covered) and among free
    centers to the earlier one.

    Cost: :math:`O(|S| (n + F t) k)` for :math:`t` trials, never the
    :math:`O(N (n + F) k)` of assigning every point to all :math:`n + F` centers.
    When the pool was sampled, a pool point outside the sample joins the free
    cluster of its nearest free center :math:`\mu_b` only if it lies within that
    cluster's sampled extent :math:`r_b` (the distance of its farthest sampled
    member; :math:`\infty` without labelled points) and nearer to :math:`\mu_b` than
    to every labelled point, so :math:`D` is computed for those candidates alone:
    :math:`O(N F k + N_{\mathrm{cand}}\, n k)`.
    """
    n_pool, n_labelled = Z_pool.shape[0], Z_labelled.shape[0]
    dtype = Z_pool.dtype if Z_pool.dtype.kind == "f" else np.float64
    if n_pool > max(max_cluster_samples, n_clusters):
        sample = np.sort(rng.choice(n_pool, size=max(max_cluster_samples, n_clusters),
                                    replace=False))
    else:
        sample = np.arange(n_pool)
    X = Z_pool[sample].astype(dtype, copy=False)  # [M, k]
    labelled = Z_labelled.astype(dtype, copy=False)  # [n, k]
    cover = _labelled_distance(X, labelled)  # [M]
    seeds = _kmeanspp_seeds(X, cover**2, n_clusters, 2 + int(np.log(n_labelled + n_clusters)),
                            rng)  # [F] rows of X
    centers = X[seeds]  # [F, k]
    nearest, distance = _nearest(X, centers)  # [M]
    cells = np.where(distance < cover, nearest, -1)  # ties: covered
    pool_cells = np.full(n_pool, -1, dtype=np.int64)
    pool_cells[sample] = cells
    if sample.size == n_pool:
        return pool_cells
    rest = np.setdiff1d(np.arange(n_pool), sample, assume_unique=True)  # [N - M]
    nearest, rest_distance = _nearest(Z_pool[rest].astype(dtype, copy=False), centers)  # [N - M]
    extent = np.full(n_clusters, np.inf if n_labelled == 0 else -np.inf)  # r_b
    np.maximum.at(extent, cells[cells >= 0], distance[cells >= 0])
    candidate = np.flatnonzero(rest_distance <= extent[nearest])
    free = rest_distance[candidate] < _labelled_distance(
        Z_pool[rest[candidate]].astype(dtype, copy=False), labelled)
    pool_cells[rest[candidate[free]]] = nearest[candidate[free]]
    return pool_cells


def _nearest(X: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Nearest row of ``C`` to each row of ``X`` (lower row on ties) and the distance to it.

    Ranked by :math:`\lVert c\rVert^2 - 2 x^\top c` in blocks of at most
    ``_BLOCK_ELEMENTS`` scores and ``_MAX_BLOCK_ROWS`` rows, in the codes' own
    precision (float32 codes: float32 products, measured 1.7x faster than
    :func:`modal_ibal.distance.nearest_labelled_index`'s float64 search, which a
    clustering does not need); the distance to the winner is then recomputed
    directly in float64, so a duplicate gets exactly 0.
    """
    dtype = np.result_type(X.dtype, C.dtype, np.float32)  # float32 only if both are
    X, C = X.astype(dtype, copy=False), C.astype(dtype, copy=False)
    rows = max(1, min(_MAX_BLOCK_ROWS, _BLOCK_ELEMENTS // max(1, C.shape[0])))
    nearest = nearest_centre(X, C, block_elements=_BLOCK_ELEMENTS, max_rows=_MAX_BLOCK_ROWS)
    distance = np.empty(X.shape[0])
    for start in range(0, X.shape[0], rows):
        difference = X[start : start + rows].astype(np.float64) - C[nearest[start : start + rows]]
        distance[start : start + rows] = np.sqrt(np.einsum("ij,ij->i", difference, difference))
    return nearest, distance


def _labelled_distance(X: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    """:math:`D(x)` for the rows of ``X``; infinite without labelled points."""
    if labelled.shape[0] == 0:
        return np.full(X.shape[0], np.inf)
    return _nearest(X, labelled)[1]


def _kmeanspp_seeds(X: np.ndarray, cost: np.ndarray, n_clusters: int, n_trials: int,
                    rng: np.random.RandomState) -> np.ndarray:
    """Greedy k-means++ seeds, rows of ``X``, continued from each row's squared distance ``cost``.

    ``cost`` is the squared distance to the labelled points (infinite without any).
    Each seed is the best of ``n_trials`` rows drawn with probability proportional
    to the current cost (one uniform draw while it is infinite or all zero): the
    one that lowers the summed cost most.
    """
    sq_norms = np.einsum("ij,ij->i", X, X)  # [M]
    seeds = np.empty(n_clusters, dtype=np.intp)
    cost = cost.astype(np.float64)  # [M]
    for b in range(n_clusters):
        total = cost.sum()
        if np.isfinite(total) and total > 0:
            draws = rng.random_sample(n_trials) * total  # [t]
            trials = np.minimum(np.searchsorted(np.cumsum(cost), draws, side="right"),
                                X.shape[0] - 1)  # [t]
        else:
            trials = rng.randint(X.shape[0], size=1)
        squared = X[trials] @ X.T  # [t, M]: |x_t|^2 + |x|^2 - 2 x_t.x, in place
        squared *= -2.0
        squared += sq_norms
        squared += sq_norms[trials, None]
        candidate_cost = np.minimum(cost, np.maximum(squared, 0.0))  # [t, M]
        best = int(np.argmin(candidate_cost.sum(axis=1)))
        cost = candidate_cost[best]
        seeds[b] = trials[best]
    return seeds


def typical_picks(
    Z_labelled: np.ndarray,
    Z_pool: np.ndarray,
    n_instances: int,
    rng: np.random.RandomState,
    *,
    n_neighbors: int,
    max_cluster_samples: int,
    preference: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Cluster labelled + pool into :math:`K = n + B` clusters, then :func:`pick_per_cluster`.

    The one implementation behind TypiClust and cluster-IBAL. Up to
    ``KMEANS_MAX_CLUSTERS`` clusters, :func:`cluster_labels` (KMeans). Beyond,
    :func:`uncovered_clusters`: the :math:`n` labelled points are the fixed centers
    of the covered clusters and only :math:`F = K - n` free clusters are fitted;
    the picks then come from the free clusters alone, which equals
    :func:`pick_per_cluster` on all :math:`K` clusters whenever at least :math:`B`
    free clusters hold a pool point (otherwise the covered pool points join their
    nearest labelled point's cluster and it runs on all of them).
    """
    n_labelled = Z_labelled.shape[0]
    n_clusters = min(n_labelled + n_instances, n_labelled + Z_pool.shape[0])
    if n_clusters <= KMEANS_MAX_CLUSTERS:
        Z = np.concatenate([Z_labelled, Z_pool])  # [n + N, k]
        labels = cluster_labels(Z, n_clusters, rng, max_cluster_samples)
        return pick_per_cluster(Z, labels, n_labelled, n_instances, n_neighbors=n_neighbors,
                                preference=preference)
    cells = uncovered_clusters(Z_labelled, Z_pool, n_clusters - n_labelled, rng,
                               max_cluster_samples)  # [N]
    members = np.flatnonzero(cells >= 0)  # pool points of free clusters
    if np.unique(cells[members]).size >= n_instances:
        picks, scores = pick_per_cluster(
            Z_pool[members], cells[members], 0, n_instances, n_neighbors=n_neighbors,
            preference=None if preference is None else (lambda m: preference(members[m])))
        return members[picks], scores
    covered = np.flatnonzero(cells < 0)  # none without labelled points
    labels = np.concatenate([np.arange(n_labelled), n_labelled + cells])  # [n + N]
    if covered.size:
        labels[n_labelled + covered] = _nearest(Z_pool[covered], Z_labelled)[0]
    return pick_per_cluster(np.concatenate([Z_labelled, Z_pool]), labels, n_labelled,
                            n_instances, n_neighbors=n_neighbors, preference=preference)


def greedy_max_coverage(
    graph, n_labelled: int, n_instances: int, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy max coverage on a symmetric ball graph over labelled + pool (labelled first).

    Points in a labelled point's ball start covered. Each pick is the pool point
    whose ball covers the most uncovered points (lowest index on ties); once
    everything is covered, picks are uniform among the unpicked pool points.
    """
    graph = graph.tocsr()
    covered = np.zeros(graph.shape[0], dtype=bool)
    if n_labelled:
        covered[graph[:n_labelled].indices] = True
    pool_graph = graph[n_labelled:]  # [N, n + N]
    picked = np.zeros(pool_graph.shape[0], dtype=bool)
    picks, gains = [], []
    for _ in range(n_instances):
        gain = pool_graph @ (~covered).astype(np.float64)  # [N]
        gain[picked] = -1.0
        (pick,), (value,) = select_highest(gain, 1)
        if value <= 0:
            rest = np.flatnonzero(~picked)
            pick, value = int(rest[rng.randint(len(rest))]), 0.0
        picks.append(int(pick))
        gains.append(value)
        picked[pick] = True
        covered[pool_graph[pick].indices] = True
    return np.asarray(picks, dtype=np.int64), np.asarray(gains)


_GAIN_ELEMENTS = 1 << 21  # graph entries read per block of gains


# ---------------------------------------------------------------------------- the graph


def check_bandwidth(bandwidth: Any) -> float | None:
    """A kernel width: None (the default rule) or a finite number > 0."""
    if bandwidth is None:
        return None
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, numbers.Real):
        raise TypeError(
            f"The 'bandwidth' parameter must be None or a positive real number. Got "
            f"{bandwidth!r} instead."
        )
    if not np.isfinite(bandwidth) or bandwidth <= 0:
        raise ValueError(
            f"The 'bandwidth' parameter must be finite and > 0. Got {bandwidth!r} instead."
        )
    return float(bandwidth)


def knn_kernel_graph(
    Z: np.ndarray,
    n_neighbors: int = DEFAULT_N_NEIGHBORS,
    bandwidth: float | None = None,
    *,
    algorithm: str = "auto",
) -> sp.csr_matrix:
    r"""Gaussian kernel truncated to each point's nearest neighbours, as a symmetric sparse graph.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_dims)
        The points (for :func:`greedy_kernel_herding`: labelled rows first, then the pool).
    n_neighbors : int, default=20
        :math:`k`, the neighbours of each point, the point itself included; values
        beyond ``n_samples`` mean every point (the untruncated kernel).
    bandwidth : float, optional
        :math:`h > 0`. Default: the median over the points of the distance to their
        :math:`k`-th neighbour (the point itself being the first), so a typical
        point's farthest neighbour gets kernel value :math:`e^{-1/2}`.
    algorithm : {'auto', 'brute', 'partitioned'}, default='auto'
        The neighbour search (:func:`modal_ibal.neighbours.nearest_neighbours`):
        exact, approximate by partition, or exact up to 10,000 points and
        partitioned above.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_samples, n_samples), float64
        ``graph[x, c]`` :math:`= k(x, c)` wherever :math:`c` is among the :math:`k`
        nearest neighbours of :math:`x` or :math:`x` among those of :math:`c`; no
        other entries are stored. The diagonal is 1.

    Notes
    -----
    .. math::  k(x, c) = \exp\!\Big(-\frac{\lVert z_x - z_c \rVert_2^2}{2 h^2}\Big)

    The neighbours come from :func:`modal_ibal.neighbours.nearest_neighbours`:
    up to 10,000 points an exact brute-force search, :math:`O(M^2 d)` time, with
    the distances to the neighbours found recomputed in float64 (a duplicate gets
    exactly 1); above, an inverted-file search over k-means cells,
    :math:`O(M \cdot 512 \cdot d)`, which finds about 98% of the true neighbours
    (``benchmarks/herding_speed.py recall``). Each point is its own neighbour
    even among more than :math:`k` duplicates. Memory :math:`O(M (k + d))` plus
    one block.
    """
    Z = check_points(Z)
    n_neighbors = check_positive_int(n_neighbors, "n_neighbors")
    bandwidth = check_bandwidth(bandwidth)
    algorithm = check_algorithm(algorithm)
    n_points = Z.shape[0]
    k = min(n_neighbors, n_points)
    neighbours, squared = nearest_neighbours(Z, k, algorithm=algorithm)  # [M, k], [M, k]
    if bandwidth is None:
        bandwidth = _median_kth_distance(squared)
    values = np.exp(np.multiply(squared, -0.5 / bandwidth**2, out=squared), out=squared)  # [M, k]
    by_column = np.argsort(neighbours, axis=1)  # [M, k]: sorted rows make every step canonical
    directed = sp.csr_matrix(
        (np.take_along_axis(values, by_column, axis=1).ravel(),
         np.take_along_axis(neighbours, by_column, axis=1).ravel(),
         np.arange(0, n_points * k + 1, k, dtype=neighbours.dtype)),
        shape=(n_points, n_points),
    )
    directed.has_sorted_indices = True  # and no duplicates: k distinct neighbours per row
    del values, squared, neighbours, by_column
    return directed.maximum(directed.T.tocsr())


def _median_kth_distance(squared: np.ndarray) -> float:
    """The default bandwidth: median distance to the k-th neighbour; 1 if that is 0."""
    width = float(np.sqrt(np.median(squared.max(axis=1))))
    return width if width > 0 else 1.0


# --------------------------------------------------------------------------- the greedy


def _check_graph(graph: Any) -> sp.csr_matrix:
    if not (sp.issparse(graph) or isinstance(graph, np.ndarray)):
        raise TypeError(
            "The 'graph' parameter must be a scipy sparse matrix or a numpy array of kernel "
            f"values. Got {type(graph).__name__} instead."
        )
    graph = sp.csr_matrix(graph, dtype=np.float64)  # shares a float64 CSR input's arrays
    if not graph.has_canonical_format:  # repeated entries would count twice in a gain
        graph = graph.copy()
        graph.sum_duplicates()
    if graph.shape[0] != graph.shape[1]:
        raise ValueError(
            f"The 'graph' parameter must be square, one row and column per point. Got shape "
            f"{graph.shape} instead."
        )
    if not np.isfinite(graph.data).all() or (graph.data < 0).any():
        raise ValueError("The 'graph' parameter must hold finite kernel values >= 0.")
    return graph


def check_weights(weights: Any, n_points: int, *, per: str = "point of the graph") -> np.ndarray:
    """Coverage weights: None (all 1) or ``n_points`` finite values >= 0, as float64."""
    if weights is None:
        return np.ones(n_points)
    weights = np.asarray(as_numpy(weights), dtype=np.float64)
    if weights.shape != (n_points,):
        raise ValueError(
            f"The 'weights' parameter must have shape ({n_points},), one weight per {per}. "
            f"Got shape {weights.shape} instead."
        )
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("The 'weights' parameter must hold finite values >= 0.")
    return weights


class UninformativeWeightsWarning(UserWarning):
    """Kernel herding's weights gave no unpicked point any gain: the batch went on unweighted.

    A saturated model (every probability row one-hot, e.g. float32 logits more
    than about 17 apart) gives every point margin weight 0; without this
    fallback the greedy would take the pool in its order.
    """


def _warn_uninformative(n_picked: int, n_instances: int) -> None:
    warnings.warn(
        f"No unpicked pool point gains weighted coverage after {n_picked} of {n_instances} "
        "picks: the weights are 0 wherever coverage can still be gained (a saturated model "
        "gives every point margin weight 0). The remaining picks maximise unweighted "
        "coverage (MaxHerding).",
        UninformativeWeightsWarning,
        stacklevel=3,
    )


def greedy_kernel_herding(
    graph: sp.spmatrix | np.ndarray,
    n_labelled: int,
    n_instances: int,
    *,
    weights: np.ndarray | None = None,
    symmetric: bool = False,
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

    after which :math:`m(x) \leftarrow \max(m(x), k(x, c))`; ties go to the lower
    pool index. A candidate's gain is a sum over the stored entries of its
    column. The gains only decrease (the coverage is submodular), and a pick
    changes :math:`m` only on its own column's points :math:`x`, so only the
    candidates :math:`c'` with :math:`k(x, c') > 0` for such an :math:`x` are
    recomputed, from scratch (no drift). On a :math:`k`-neighbour graph that is
    about :math:`k^2` candidates of :math:`O(k)` entries per pick, plus an
    :math:`O(M)` argmax.
    """
    rows = _check_graph(graph)  # row x: the candidates that cover x
    n_points = rows.shape[0]
    if (
        isinstance(n_labelled, bool)
        or not isinstance(n_labelled, numbers.Integral)
        or not 0 <= n_labelled < n_points
    ):
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
    columns = rows.T if symmetric else rows.tocsc()  # column c: the points x that c covers
    if n_labelled:
        coverage = columns[:, :n_labelled].max(axis=1).toarray().ravel()  # [M]
    else:
        coverage = np.zeros(n_points)

    def column_gains(candidates: np.ndarray) -> np.ndarray:
        """Gains of the given graph columns under the current coverage, in blocks of entries."""
        lengths = columns.indptr[candidates + 1] - columns.indptr[candidates]  # [m]
        cuts = np.flatnonzero(np.diff(np.cumsum(lengths) // _GAIN_ELEMENTS)) + 1
        blocks = (columns[:, part] for part in np.split(candidates, cuts))
        return np.concatenate([entry_gains(block.data, block.indices, block.indptr)
                               for block in blocks])

    def range_gains(first: int, last: int) -> np.ndarray:
        """Gains of the contiguous columns ``first:last``, read in place, in blocks of columns."""
        entries = int(columns.indptr[last]) - int(columns.indptr[first])
        per_block = max(1, _GAIN_ELEMENTS * (last - first) // max(1, entries))
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
    picked = np.zeros(n_points - n_labelled, dtype=bool)
    picks, values = [], []
    for _ in range(n_instances):
        pick = int(np.argmax(gains))  # the first of equal gains: the lower pool index
        if gains[pick] <= 0.0 and weighted:
            _warn_uninformative(len(picks), n_instances)
            weights = np.ones(n_points)  # the rest of the batch: unweighted coverage
            weighted = False
            gains = np.where(picked, -1.0, range_gains(n_labelled, n_points))
            pick = int(np.argmax(gains))
        picks.append(pick)
        values.append(float(gains[pick]))
        picked[pick] = True
        gains[pick] = -1.0  # gains are >= 0: never again
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
    return np.asarray(picks, dtype=np.int64), np.asarray(values)
