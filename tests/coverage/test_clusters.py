"""TypiClust's clusters: typicality, one pick per cluster, and the labelled-anchored clusters beyond k-means."""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal.coverage import clusters
from modal_ibal.coverage.clusters import typicality


def test_typicality_equals_inverse_mean_neighbour_distance():
    Z = np.random.default_rng(0).normal(size=(12, 2))
    distances = np.linalg.norm(Z[:, None] - Z[None], axis=2)
    for k, expected_k in [(3, 3), (20, 11)]:
        nearest = np.sort(distances, axis=1)[:, 1 : expected_k + 1]
        np.testing.assert_allclose(typicality(Z, k), 1.0 / nearest.mean(axis=1))
    np.testing.assert_array_equal(typicality(Z[:1]), [1.0])
    assert np.isfinite(typicality(np.zeros((4, 2)))).all()


def test_pick_per_cluster_order_fallback_and_ties():
    Z = np.zeros((10, 1))  # all points coincide: every typicality ties
    labels = np.array([0, 3, 0, 0, 1, 1, 1, 2, 2, 3])  # two labelled points in clusters 0 and 3
    indices, _ = clusters.pick_per_cluster(Z, labels, 2, 6, n_neighbors=20)
    # uncovered clusters first, largest first: 1 (3 points), then 2 (2 points); then every
    # cluster has one claim: 0 and 1 tie on size 3 (lower id first), then 2 and 3 (size 2);
    # inside a cluster every typicality ties, so the lowest pool index goes first
    np.testing.assert_array_equal(indices, [2, 5, 0, 3, 6, 7])


@pytest.mark.parametrize(("n_labelled", "max_cluster_samples"), [(12, 1000), (12, 60), (0, 60)])
def test_uncovered_clusters_equal_naive_seeding_and_assignment(n_labelled, max_cluster_samples):
    Z = np.random.default_rng(5).normal(size=(12 + 150, 3))
    Z_labelled, Z_pool = Z[:n_labelled], Z[12:]
    cells = clusters.uncovered_clusters(Z_labelled, Z_pool, 15, np.random.RandomState(3),
                                        max_cluster_samples)
    expected = _naive_uncovered_clusters(Z_labelled, Z_pool, 15, 3, max_cluster_samples)
    np.testing.assert_array_equal(cells, expected)
    assert (cells >= 0).all() if n_labelled == 0 else (cells == -1).any()
    assert len(np.unique(cells[cells >= 0])) == 15  # every free center holds its own point


@pytest.mark.parametrize("duplicates", [False, True])
def test_typical_picks_beyond_kmeans_equal_pick_per_cluster_on_all_clusters(duplicates):
    rng = np.random.default_rng(6)
    Z_labelled = rng.normal(size=(40, 4))
    if duplicates:  # every pool point but five repeats a labelled one: too few free clusters
        Z_pool = np.concatenate([np.repeat(Z_labelled, 3, axis=0), rng.normal(size=(5, 4))])
    else:
        Z_pool = rng.normal(size=(150, 4))
    weights = rng.uniform(0.5, 1.5, size=len(Z_pool))
    for preference in [None, lambda members: weights[members]]:
        indices, scores = clusters.typical_picks(
            Z_labelled, Z_pool, 20, np.random.RandomState(1), n_neighbors=20,
            max_cluster_samples=20_000, preference=preference)  # K = 60: beyond KMeans
        cells = clusters.uncovered_clusters(Z_labelled, Z_pool, 20, np.random.RandomState(1),
                                            20_000)
        assert (len(np.unique(cells[cells >= 0])) < 20) == duplicates
        expected = clusters.pick_per_cluster(
            np.concatenate([Z_labelled, Z_pool]), _anchored_labels(Z_labelled, Z_pool, cells),
            40, 20, n_neighbors=20, preference=preference)
        np.testing.assert_array_equal(indices, expected[0])
        np.testing.assert_array_equal(scores, expected[1])
        assert len(np.unique(indices)) == 20


def test_typical_picks_beyond_kmeans_take_integer_codes():
    rng = np.random.default_rng(7)
    Z_labelled, Z_pool = rng.integers(0, 4, size=(45, 3)), rng.integers(0, 4, size=(300, 3))
    for max_cluster_samples in [20_000, 100]:  # many duplicates: the fallback runs too
        picks = [clusters.typical_picks(Z_labelled.astype(dtype), Z_pool.astype(dtype), 60,
                                        np.random.RandomState(0), n_neighbors=20,
                                        max_cluster_samples=max_cluster_samples)
                 for dtype in (np.int64, np.float64)]
        np.testing.assert_array_equal(picks[0][0], picks[1][0])
        assert len(np.unique(picks[0][0])) == 60


def _naive_uncovered_clusters(Z_labelled, Z_pool, n_clusters, seed, max_cluster_samples):
    """Seeding continued from the labelled points, then the free clusters, point by point."""
    rng = np.random.RandomState(seed)
    n_pool, n_labelled = len(Z_pool), len(Z_labelled)
    size = max(max_cluster_samples, n_clusters)
    sample = np.sort(rng.choice(n_pool, size, replace=False)) if n_pool > size else np.arange(n_pool)

    def cover(z):
        return min((np.linalg.norm(z - z_l) for z_l in Z_labelled), default=np.inf)

    X = Z_pool[sample]
    cost = np.array([cover(x) ** 2 for x in X])
    n_trials = 2 + int(np.log(n_labelled + n_clusters))
    seeds = []
    for _ in range(n_clusters):
        total = cost.sum()
        if np.isfinite(total) and total > 0:
            cumulative = np.cumsum(cost)
            trials = [min(int(np.sum(cumulative <= draw)), len(X) - 1)
                      for draw in rng.random_sample(n_trials) * total]
        else:
            trials = [rng.randint(len(X))]
        costs = [np.minimum(cost, [np.linalg.norm(x - X[t]) ** 2 for x in X]) for t in trials]
        best = int(np.argmin([c.sum() for c in costs]))
        cost, seeds = costs[best], [*seeds, trials[best]]
    centers = X[seeds]

    def cell(z):
        distances = [np.linalg.norm(z - c) for c in centers]
        return int(np.argmin(distances)), min(distances)

    cells = np.full(n_pool, -1)
    extent = np.full(n_clusters, np.inf if n_labelled == 0 else -np.inf)
    for i in sample:
        nearest, distance = cell(Z_pool[i])
        if distance < cover(Z_pool[i]):
            cells[i] = nearest
            extent[nearest] = max(extent[nearest], distance)
    for i in np.setdiff1d(np.arange(n_pool), sample):
        nearest, distance = cell(Z_pool[i])
        if distance <= extent[nearest] and distance < cover(Z_pool[i]):
            cells[i] = nearest
    return cells


def _anchored_labels(Z_labelled, Z_pool, cells):
    """All n + F cluster labels: covered pool points join their nearest labelled point."""
    n = len(Z_labelled)
    nearest = np.array([np.argmin(np.linalg.norm(Z_labelled - z, axis=1)) for z in Z_pool])
    return np.concatenate([np.arange(n), np.where(cells >= 0, n + cells, nearest)])


def test_safe_scale_exponent_brings_extreme_codes_to_unit_magnitude():
    Z = np.array([[3.0, -5.0], [0.5, 1.0]])
    assert clusters.safe_scale_exponent(Z) == 0  # within [2**-32, 2**32]: used as they are
    assert clusters.safe_scale_exponent(np.zeros((3, 2)), Z[:0]) == 0
    for scale in (2.0**40, 1e20, 2.0**-40, 1e-20):
        shift = clusters.safe_scale_exponent(Z[:0], (Z * scale).astype(np.float32))
        largest = np.abs(np.ldexp((Z * scale).astype(np.float32), shift)).max()
        assert 0.5 <= largest < 1.0
    assert clusters.safe_scale_exponent(Z * 2.0**40) == -43  # 5 * 2**40 = 0.625 * 2**43
