"""TypiClust's clusters: k-means, typicality, one pick per uncovered cluster.

k-means over labelled + pool, typicality, and the most typical point of
each large uncovered cluster; beyond ``KMEANS_MAX_CLUSTERS`` clusters the labelled points anchor
their own clusters (:func:`uncovered_clusters`), so that only the uncovered ones are fitted.

References
----------
.. [1] Hacohen, Dekel and Weinshall, "Active Learning on a Budget: Opposite
   Strategies Suit High and Low Budgets", ICML 2022.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors

from ..scoring import select_highest
from ..search import kmeans_plus_plus_seeds, nearest_centre_distance

__all__ = [
    "DEFAULT_MAX_CLUSTER_SAMPLES",
    "KMEANS_MAX_CLUSTERS",
    "TYPICALITY_N_NEIGHBORS",
    "cluster_labels",
    "pick_per_cluster",
    "safe_scale_exponent",
    "typical_picks",
    "typicality",
    "uncovered_clusters",
]

TYPICALITY_N_NEIGHBORS = 20  # TypiClust's k (Hacohen et al., 2022)
KMEANS_MAX_CLUSTERS = 50  # beyond: the labelled points anchor their clusters
DEFAULT_MAX_CLUSTER_SAMPLES = 20_000
_SAFE_EXPONENT = 32  # codes of largest magnitude in [2**-32, 2**32] are clustered as they are


def safe_scale_exponent(*codes: np.ndarray) -> int:
    r"""The power of two that makes the codes' squared distances safe to compute, as its exponent.

    Parameters
    ----------
    *codes : ndarray of shape (n_samples, n_dims)
        Arrays scaled together (e.g. labelled and pool codes); empty ones are skipped.

    Returns
    -------
    int
        :math:`e` such that :math:`2^e z` has its largest magnitude in :math:`[1/2, 1)`
        when that of :math:`z` lies outside :math:`[2^{-32}, 2^{32}]`; 0 otherwise.

    Notes
    -----
    Squared distances of float32 codes overflow beyond magnitudes of about
    :math:`10^{19}` and underflow below about :math:`10^{-19}`: k-means then
    fails with numpy's RuntimeWarnings only, and typicality's floor on the mean
    distance makes every point tie. Multiplying every coordinate by the same
    power of two (``numpy.ldexp``) changes only the exponents, exactly for every
    value not negligible beside the largest, so nearest neighbours, k-means
    partitions and the order of distances stay those of the codes.
    """
    largest = 0.0
    for Z in codes:
        if Z.size:
            largest = max(largest, abs(float(Z.max())), abs(float(Z.min())))
    if not np.isfinite(largest) or largest == 0.0 or (
        2.0**-_SAFE_EXPONENT <= largest <= 2.0**_SAFE_EXPONENT
    ):
        return 0
    return -int(np.frexp(largest)[1])


def typicality(Z: np.ndarray, n_neighbors: int = TYPICALITY_N_NEIGHBORS) -> np.ndarray:
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
    seeds = kmeans_plus_plus_seeds(X, cover**2, n_clusters, 2 + int(np.log(n_labelled + n_clusters)),
                            rng)  # [F] rows of X
    centers = X[seeds]  # [F, k]
    nearest, distance = nearest_centre_distance(X, centers)  # [M]
    cells = np.where(distance < cover, nearest, -1)  # ties: covered
    pool_cells = np.full(n_pool, -1, dtype=np.int64)
    pool_cells[sample] = cells
    if sample.size == n_pool:
        return pool_cells
    rest = np.setdiff1d(np.arange(n_pool), sample, assume_unique=True)  # [N - M]
    nearest, rest_distance = nearest_centre_distance(Z_pool[rest].astype(dtype, copy=False), centers)  # [N - M]
    extent = np.full(n_clusters, np.inf if n_labelled == 0 else -np.inf)  # r_b
    np.maximum.at(extent, cells[cells >= 0], distance[cells >= 0])
    candidate = np.flatnonzero(rest_distance <= extent[nearest])
    free = rest_distance[candidate] < _labelled_distance(
        Z_pool[rest[candidate]].astype(dtype, copy=False), labelled)
    pool_cells[rest[candidate[free]]] = nearest[candidate[free]]
    return pool_cells


def _labelled_distance(X: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    """:math:`D(x)` for the rows of ``X``; infinite without labelled points."""
    if labelled.shape[0] == 0:
        return np.full(X.shape[0], np.inf)
    return nearest_centre_distance(X, labelled)[1]


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

    Codes of magnitude beyond :math:`2^{32}` (or below :math:`2^{-32}`) are first
    scaled by a power of two (:func:`safe_scale_exponent`): the same picks,
    without overflow; the scores are the typicality of the codes as given.
    """
    shift = safe_scale_exponent(Z_labelled, Z_pool)
    if shift:  # typicality is inverse distance: scaled back by the same power of two
        picks, scores = typical_picks(
            np.ldexp(Z_labelled, shift), np.ldexp(Z_pool, shift), n_instances, rng,
            n_neighbors=n_neighbors, max_cluster_samples=max_cluster_samples,
            preference=preference)
        return picks, np.ldexp(scores, shift)
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
        labels[n_labelled + covered] = nearest_centre_distance(Z_pool[covered], Z_labelled)[0]
    return pick_per_cluster(np.concatenate([Z_labelled, Z_pool]), labels, n_labelled,
                            n_instances, n_neighbors=n_neighbors, preference=preference)
