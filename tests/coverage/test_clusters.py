"""TypiClust's clusters: typicality, one pick per cluster, and the labelled-anchored clusters beyond k-means."""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal.coverage import _clusters as clusters
from modal_ibal.coverage._clusters import typicality


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


@pytest.mark.parametrize(("n_labelled", "max_cluster_samples"),
                         [(12, 1000), (12, 60), (0, 60), (12, 150), (0, 150)])
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


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("max_cluster_samples", [1000, 10])
def test_pool_points_as_near_to_a_labelled_point_as_to_their_free_centre_are_covered(
        seed, max_cluster_samples):
    # on a line: labelled point 0; pool points at 1 (4), 2 (10) and 3 (6); one free centre
    Z_labelled = np.array([[0.0]])
    Z_pool = np.repeat([[1.0], [2.0], [3.0]], [4, 10, 6], axis=0)
    cells = clusters.uncovered_clusters(Z_labelled, Z_pool, 1, np.random.RandomState(seed),
                                        max_cluster_samples)
    # the points at 1 are as near to 0 as to any centre at 2: covered, sampled or not; the
    # points at 3 lie at the sampled extent of the centre's cluster: free, sampled or not
    np.testing.assert_array_equal(cells, np.repeat([-1, 0, 0], [4, 10, 6]))
    np.testing.assert_array_equal(
        cells, _naive_uncovered_clusters(Z_labelled, Z_pool, 1, seed, max_cluster_samples))


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


@pytest.mark.parametrize("largest", [2.0**-32, 1e-6, 64.0, 1e6, 2.0**32])
def test_codes_within_the_safe_range_bounds_included_are_not_scaled(largest):
    Z = np.array([[largest, -0.25 * largest], [0.0, 0.5 * largest]])
    assert clusters.safe_scale_exponent(Z) == 0


@pytest.mark.parametrize(("largest", "exponent"), [(2.0**32 * 1.5, -33), (2.0**-33, 32)])
def test_codes_just_outside_the_safe_range_are_scaled(largest, exponent):
    assert clusters.safe_scale_exponent(np.array([[largest, 0.0]])) == exponent


def test_typicality_of_a_pair_is_the_inverse_of_their_distance():
    np.testing.assert_allclose(typicality(np.array([[0.0, 0.0], [0.0, 4.0]])), [0.25, 0.25])


def test_pick_per_cluster_never_picks_a_point_twice():
    # cluster 0: one pool point, no label; cluster 1: three labels and two spread-out pool points
    Z = np.array([[0.0], [10.0], [20.0], [30.0], [50.0], [90.0]])
    labels = np.array([1, 1, 1, 0, 1, 1])
    indices, _ = clusters.pick_per_cluster(Z, labels, 3, 3, n_neighbors=20)
    np.testing.assert_array_equal(indices, [0, 1, 2])  # cluster 0 first, then 1's two points
    empty, scores = clusters.pick_per_cluster(Z, labels, 3, 0, n_neighbors=20)
    assert empty.dtype == np.int64 and empty.shape == scores.shape == (0,)


def test_pick_per_cluster_uses_the_given_number_of_neighbours():
    # a tight pair and a group of three: with one neighbour the pair is most typical, with
    # all four neighbours (mean distance) the middle of the three
    Z = np.array([[0.0], [0.2], [3.0], [4.0], [5.0]])
    labels = np.zeros(5, dtype=np.int64)
    assert clusters.pick_per_cluster(Z, labels, 0, 1, n_neighbors=1)[0][0] == 0
    assert clusters.pick_per_cluster(Z, labels, 0, 1, n_neighbors=4)[0][0] == 2


@pytest.mark.parametrize("max_cluster_samples", [1000, 90, 40])
def test_cluster_labels_are_one_kmeans_plus_plus_fit_on_all_points_or_a_sample(max_cluster_samples):
    from sklearn.cluster import KMeans

    Z = np.random.default_rng(8).normal(size=(90, 2))
    got = clusters.cluster_labels(Z, 6, np.random.RandomState(4), max_cluster_samples)
    rng = np.random.RandomState(4)
    model = KMeans(n_clusters=6, init="k-means++", n_init=1, random_state=rng)
    if len(Z) <= max_cluster_samples:
        expected = model.fit(Z).labels_
    else:
        sample = rng.choice(len(Z), size=max_cluster_samples, replace=False)
        expected = model.fit(Z[sample]).predict(Z)
    np.testing.assert_array_equal(got, expected)


def test_typical_picks_at_the_kmeans_limit_cluster_with_kmeans():
    rng = np.random.default_rng(9)
    Z_labelled, Z_pool = rng.normal(size=(40, 3)), rng.normal(size=(120, 3))
    picks, scores = clusters.typical_picks(Z_labelled, Z_pool, 10, np.random.RandomState(2),
                                           n_neighbors=20, max_cluster_samples=20_000)
    Z = np.concatenate([Z_labelled, Z_pool])
    labels = clusters.cluster_labels(Z, clusters.KMEANS_MAX_CLUSTERS, np.random.RandomState(2),
                                     20_000)
    expected = clusters.pick_per_cluster(Z, labels, 40, 10, n_neighbors=20)
    np.testing.assert_array_equal(picks, expected[0])
    np.testing.assert_allclose(scores, expected[1], rtol=1e-12)


def test_typical_picks_of_huge_codes_keep_the_preference():
    rng = np.random.default_rng(10)
    Z_labelled, Z_pool = rng.normal(size=(5, 3)), rng.normal(size=(60, 3))
    weights = rng.uniform(0.1, 10.0, size=60)

    def picks(scale, preference):
        return clusters.typical_picks(Z_labelled * scale, Z_pool * scale, 6,
                                      np.random.RandomState(0), n_neighbors=20,
                                      max_cluster_samples=20_000, preference=preference)

    def prefer(members):
        return weights[members]

    plain, weighted = picks(1.0, None), picks(1.0, prefer)
    assert list(plain[0]) != list(weighted[0])  # the preference changes the batch
    huge = picks(2.0**40, prefer)
    np.testing.assert_array_equal(huge[0], weighted[0])
    np.testing.assert_allclose(huge[1], weighted[1] * 2.0**-40, rtol=1e-12)
