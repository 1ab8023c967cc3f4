"""k-means++ seeds drawn in proportion to the cost, and nearest centres with float64 distances."""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal.search._kmeans import kmeans_plus_plus_seeds, lloyd, nearest_centre_distance


class _FixedDraws:
    """A generator stand-in whose uniform draws are given."""

    def __init__(self, value):
        self.value = value

    def random_sample(self, size):
        return np.full(size, self.value)

    def randint(self, high, size):
        return np.zeros(size, dtype=int)


@pytest.mark.parametrize("seed", range(5))
def test_the_first_seed_is_the_only_row_with_a_positive_cost(seed):
    X = np.arange(8.0)[:, None]
    cost = np.zeros(8)
    cost[-1] = 0.5
    seeds = kmeans_plus_plus_seeds(X, cost, 1, 3, np.random.RandomState(seed))
    np.testing.assert_array_equal(seeds, [7])


def test_a_draw_of_zero_never_picks_a_row_of_zero_cost():
    X = np.arange(4.0)[:, None]
    seeds = kmeans_plus_plus_seeds(X, np.array([0.0, 0.0, 1.0, 1.0]), 1, 1, _FixedDraws(0.0))
    np.testing.assert_array_equal(seeds, [2])


def test_a_draw_past_the_cumulated_cost_picks_the_last_row():
    """The summed cost can exceed the last cumulated cost by rounding."""
    cost = np.r_[1.0, np.full(100, 1e-16)]
    assert np.cumsum(cost)[-1] < cost.sum()
    X = np.arange(101.0)[:, None]
    seeds = kmeans_plus_plus_seeds(X, cost, 1, 1, _FixedDraws(1.0 - 2.0 ** -53))
    np.testing.assert_array_equal(seeds, [100])


def test_seeds_are_uniform_draws_while_every_cost_is_zero():
    X = np.arange(10.0)[:, None]
    seeds = kmeans_plus_plus_seeds(X, np.zeros(10), 60, 2, np.random.RandomState(0))
    assert set(seeds.tolist()) == set(range(10))


@pytest.mark.parametrize(("x_dtype", "c_dtype"), [(np.float64, np.float32), (np.float32, np.float64)])
def test_nearest_centre_distance_is_measured_in_float64(x_dtype, c_dtype):
    X = np.array([[0.1, 0.3], [5.2, 4.9]], dtype=x_dtype)
    C = np.array([[0.0, 0.0], [5.1, 5.0]], dtype=c_dtype)
    nearest, distance = nearest_centre_distance(X, C)
    np.testing.assert_array_equal(nearest, [0, 1])
    expected = np.sqrt(((X.astype(np.float64) - C.astype(np.float64)[[0, 1]]) ** 2).sum(axis=1))
    np.testing.assert_allclose(distance, expected, rtol=1e-14)


@pytest.mark.parametrize(("n_rows", "n_centres"), [(5000, 3), (3, 4097)])
def test_nearest_centre_distance_of_many_rows_or_many_centres(n_rows, n_centres):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_rows, 1))
    C = np.sort(rng.normal(size=(n_centres, 1)) * 3, axis=0)
    nearest, distance = nearest_centre_distance(X, C)
    direct = np.abs(X - C[:, 0])  # [n_rows, n_centres]
    np.testing.assert_allclose(distance, direct.min(axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(distance, np.abs(X[:, 0] - C[nearest, 0]), rtol=1e-12, atol=0)


@pytest.mark.parametrize("seed", range(5))
def test_lloyd_starts_from_distinct_rows(seed):
    """Four well-apart points, four centres: a start without repeats puts one centre on each."""
    X = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    centres = lloyd(X, 4, np.random.RandomState(seed))
    by_row = np.lexsort(centres.T[::-1])  # rows by x, then y
    np.testing.assert_allclose(centres[by_row], X[np.lexsort(X.T[::-1])], rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lloyd_returns_centres_in_the_points_dtype(dtype):
    X = np.random.default_rng(1).normal(size=(60, 3)).astype(dtype)
    centres = lloyd(X, 4, np.random.RandomState(0))
    assert centres.dtype == dtype and centres.shape == (4, 3)
