"""The recall check's radius search at its margins: ties at zero, far codes, huge codes, near misses."""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal.search._knn import nearest_neighbours
from modal_ibal.search._knn_exact import exact_neighbours
from modal_ibal.search._knn_partitioned import partitioned_neighbours
from modal_ibal.search._recall import (
    recall_of,
    recall_on_sample,
    sampled_recall,
    tolerance,
    within_radius,
)


def test_the_tie_tolerance_is_a_billionth_of_the_radius():
    radius = np.array([5.0, 0.0, 7.5e6])
    np.testing.assert_allclose(tolerance(radius), 1e-9 * radius, rtol=1e-12, atol=0)


def test_a_found_distance_equal_to_the_kth_plus_its_tolerance_counts():
    found = np.array([[0.0, 2.0, 3.0]])
    assert recall_of(found, np.array([2.5]), np.array([0.5])) == 1.0
    assert recall_of(found, np.array([2.5]), np.array([0.0])) == pytest.approx(2 / 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_duplicates_at_the_origin_are_all_true_neighbours(dtype):
    """Every squared distance, radius and tolerance is exactly 0: ties count at zero."""
    Z = np.zeros((6, 3), dtype=dtype)
    found = np.tile(np.arange(4), (6, 1))
    assert sampled_recall(Z, found) == 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_query_at_the_origin_finds_its_neighbours_far_out(dtype):
    """A query with no norm, its neighbours 100 away: the screening margin is the radius's."""
    rng = np.random.default_rng(0)
    directions = rng.standard_normal((40, 4))
    Z = np.vstack([np.zeros((1, 4)), 100.0 * directions / np.linalg.norm(directions, axis=1,
                                                                         keepdims=True)])
    Z = Z.astype(dtype)
    neighbours = exact_neighbours(Z, 12)[0]
    assert sampled_recall(Z, neighbours) == 1.0


def test_queries_near_the_origin_find_their_neighbours_far_out_in_float32():
    """Sampled points within 0.01 of the origin whose farthest neighbours found lie 100 away:
    float32's rounding of those squared distances (about 1e-3) needs the margin of their radius,
    not of the queries' tiny norms."""
    rng = np.random.default_rng(4)
    far = rng.standard_normal((200, 3))
    Z = np.vstack([0.01 * rng.standard_normal((50, 3)),
                   100.0 * far / np.linalg.norm(far, axis=1, keepdims=True)]).astype(np.float32)
    neighbours = exact_neighbours(Z, 60)[0]
    queries = Z[:50].astype(np.float64)
    within = _radius_search(Z)(queries)
    assert recall_on_sample(queries, Z[neighbours[:50]], within) == 1.0


def test_float32_codes_far_from_the_origin_keep_their_recall():
    """Codes offset by 1,000 with a spread of 1: float32's rounding of the expanded distances
    is far larger than the distances' differences, and the screening margin must cover it."""
    rng = np.random.default_rng(1)
    Z = (1_000.0 + rng.standard_normal((300, 3))).astype(np.float32)
    neighbours = exact_neighbours(Z, 10)[0]
    assert sampled_recall(Z, neighbours) == 1.0
    found = partitioned_neighbours(Z, 10, cell_size=16, n_candidates=16)[0]
    direct = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, neighbours, strict=True)])
    assert sampled_recall(Z, found, n_sample=300) == pytest.approx(direct)


def test_the_recall_does_not_depend_on_the_scale_of_float64_codes():
    """Squared norms of 1e50 would overflow a float32 screening: float64 codes stay float64."""
    rng = np.random.default_rng(2)
    Z = rng.standard_normal((200, 3))
    found = partitioned_neighbours(Z, 8, cell_size=16, n_candidates=16)[0]
    recall = sampled_recall(Z, found)
    assert 0.3 < recall < 1.0
    assert sampled_recall(Z * 1e25, found) == pytest.approx(recall)
    assert sampled_recall(Z * 1e25, exact_neighbours(Z, 8)[0]) == 1.0


def _radius_search(points):
    return lambda queries: (lambda radius, tie: within_radius(queries, points, radius, tie))


def test_a_near_miss_beyond_the_tolerance_does_not_count():
    """A query at the origin whose true neighbours lie at squared distance 1: a point found at
    1 + 3e-9 is farther than the tolerance (1e-9 of the radius) allows, and is not one of them."""
    near_miss = np.sqrt(1.0 + 3e-9)
    points = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [near_miss, near_miss]])
    points[4] /= np.sqrt(2.0)
    queries = points[:1]
    found = points[[0, 1, 4]][None]  # itself, a true neighbour, the near miss
    assert recall_on_sample(queries, found, _radius_search(points)(queries)) == pytest.approx(2 / 3)
    truth = points[[0, 1, 2]][None]
    assert recall_on_sample(queries, truth, _radius_search(points)(queries)) == 1.0


def test_each_sampled_point_has_its_own_radius_and_tolerance():
    """A second query whose neighbours lie a million times farther must not widen the first's
    tolerance: the near miss of the first still does not count."""
    near_miss = np.sqrt((1.0 + 3e-9) / 2.0)
    far = np.array([[1e6, 1e6], [1e6 + 1e3, 1e6], [1e6, 1e6 + 1e3]])
    points = np.vstack([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [near_miss, near_miss]], far])
    queries = points[[0, 4]]
    found = np.stack([points[[0, 1, 3]], points[[4, 5, 6]]])
    recall = recall_on_sample(queries, found, _radius_search(points)(queries))
    assert recall == pytest.approx(5 / 6)


@pytest.mark.parametrize("algorithm", ["partitioned", "auto"])
def test_the_cell_size_and_candidates_given_are_the_ones_searched(algorithm, monkeypatch):
    from modal_ibal.search import _knn as knn

    monkeypatch.setattr(knn, "EXACT_SEARCH_MAX_POINTS", 100)
    Z = np.random.default_rng(3).standard_normal((600, 6)).astype(np.float32)
    expected = partitioned_neighbours(Z, 5, cell_size=24, n_candidates=40)
    got = nearest_neighbours(Z, 5, algorithm=algorithm, cell_size=24, n_candidates=40,
                             recall_target=None)
    np.testing.assert_array_equal(got[0], expected[0])
    default = partitioned_neighbours(Z, 5)
    assert not np.array_equal(default[0], expected[0])  # the two settings differ on this set
