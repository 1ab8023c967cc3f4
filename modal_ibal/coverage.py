r"""The engine under the coverage rules: clusters, typicality and greedy maximum coverage.

TypiClust and cluster-IBAL share :func:`typical_picks` (k-means++ over labelled +
pool, then the most typical point of each large uncovered cluster); ProbCover
uses :func:`greedy_max_coverage` on a ball graph. Everything here works on codes
(``Z``: one row per point, labelled rows first) and knows nothing about models.

References
----------
.. [1] Hacohen, Dekel and Weinshall, "Active Learning on a Budget: Opposite
   Strategies Suit High and Low Budgets", ICML 2022.
.. [2] Yehuda, Dekel, Hacohen and Weinshall, "Active Learning Through a
   Covering Lens", NeurIPS 2022.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.neighbors import NearestNeighbors

from .selection import select_highest

__all__ = [
    "DEFAULT_MAX_CLUSTER_SAMPLES",
    "DEFAULT_N_NEIGHBORS",
    "KMEANS_MAX_CLUSTERS",
    "cluster_labels",
    "greedy_max_coverage",
    "pick_per_cluster",
    "typical_picks",
    "typicality",
]

DEFAULT_N_NEIGHBORS = 20
KMEANS_MAX_CLUSTERS = 50  # TypiClust's switch from KMeans to MiniBatchKMeans
DEFAULT_MAX_CLUSTER_SAMPLES = 20_000


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
    """k-means++ clustering of ``Z``, kept affordable for large pools.

    KMeans for up to ``KMEANS_MAX_CLUSTERS`` clusters, MiniBatchKMeans beyond
    (TypiClust's rule); with more than ``max_cluster_samples`` points the
    clustering is fitted on a random sample of that size and every point is then
    assigned to its nearest center.
    """
    n_points = Z.shape[0]
    if n_clusters <= KMEANS_MAX_CLUSTERS:
        model = KMeans(n_clusters=n_clusters, init="k-means++", n_init=1, random_state=rng)
    else:
        model = MiniBatchKMeans(n_clusters=n_clusters, init="k-means++", n_init=1,
                                batch_size=2048, random_state=rng)
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
    members_of: dict[int, np.ndarray] = {}
    values_of: dict[int, np.ndarray] = {}
    picks, scores = [], []
    for _ in range(n_instances):
        open_clusters = cluster_ids[available > 0]
        order = np.lexsort((open_clusters, -sizes[open_clusters], claimed[open_clusters]))
        cluster = int(open_clusters[order[0]])
        if cluster not in members_of:
            in_cluster = np.flatnonzero(labels == cluster)
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
    """Cluster labelled + pool into n + B clusters, then :func:`pick_per_cluster`.

    The one implementation behind TypiClust and cluster-IBAL.
    """
    Z = np.concatenate([Z_labelled, Z_pool])  # [n + N, k]
    n_labelled = Z_labelled.shape[0]
    n_clusters = min(n_labelled + n_instances, Z.shape[0])
    labels = cluster_labels(Z, n_clusters, rng, max_cluster_samples)
    return pick_per_cluster(Z, labels, n_labelled, n_instances, n_neighbors=n_neighbors,
                             preference=preference)


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

