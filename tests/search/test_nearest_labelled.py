"""Nearest-labelled distance (Eq. 3): block-wise search against brute force and a double loop."""

from __future__ import annotations

import numpy as np
import pytest
from search_cases import DATASETS, brute_force, double_loop, float32_winner

from modal_ibal.search._nearest_labelled import nearest_labelled_distance, nearest_labelled_index


@pytest.mark.parametrize("block_elements", [1, 7, 300, 4096, 1 << 22])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_equals_brute_force_for_every_block_size(block_elements, dtype):
    rng = np.random.default_rng(0)
    Z_pool = rng.standard_normal((400, 5)).astype(dtype)
    Z_labelled = rng.standard_normal((37, 5)).astype(dtype)
    nearest, distance = nearest_labelled_index(Z_pool, Z_labelled, block_elements=block_elements)
    expected_nearest, expected = brute_force(Z_pool, Z_labelled)
    np.testing.assert_allclose(distance, expected, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(nearest, expected_nearest)
    assert distance.dtype == np.float64 and nearest.dtype == np.intp


@pytest.mark.parametrize("name", list(DATASETS))
@pytest.mark.parametrize("block_elements", [1, 7, 300, 1 << 22])
def test_equals_the_float64_double_loop_exactly(name, block_elements):
    Z_pool, Z_labelled = DATASETS[name]
    nearest, distance = nearest_labelled_index(Z_pool, Z_labelled, block_elements=block_elements)
    expected_nearest, expected = double_loop(Z_pool, Z_labelled)
    np.testing.assert_array_equal(nearest, expected_nearest)
    np.testing.assert_array_equal(distance, expected)


@pytest.mark.parametrize("name", ["near ties", "large offset"])
def test_the_datasets_defeat_float32_alone(name):
    """The exact tests have teeth: float32 screening without the re-check picks wrong rows."""
    Z_pool, Z_labelled = DATASETS[name]
    expected = double_loop(Z_pool, Z_labelled)[0]
    assert np.any(float32_winner(Z_pool, Z_labelled) != expected)


def test_large_pool_with_small_blocks():
    """20,000 x 500 in blocks of 4096 scores: many pool and labelled chunks."""
    rng = np.random.default_rng(1)
    Z_pool = rng.standard_normal((20_000, 16)).astype(np.float32)
    Z_labelled = rng.standard_normal((500, 16)).astype(np.float32)
    distance = nearest_labelled_distance(Z_pool, Z_labelled, block_elements=4096)
    np.testing.assert_allclose(distance, brute_force(Z_pool, Z_labelled)[1], rtol=1e-12)


def test_duplicates_of_labelled_points_are_exactly_zero():
    rng = np.random.default_rng(2)
    Z_labelled = 1e3 + rng.standard_normal((50, 8))  # large norms: cancellation would show
    Z_pool = np.vstack([Z_labelled[::-1], Z_labelled[:5] + 1.0, rng.standard_normal((20, 8))])
    distance = nearest_labelled_distance(Z_pool, Z_labelled, block_elements=64)
    assert np.all(distance[:50] == 0.0)
    assert np.all(distance[50:] > 0)
    np.testing.assert_allclose(distance, brute_force(Z_pool, Z_labelled)[1], rtol=1e-12)


@pytest.mark.parametrize("block_elements", [1, 3, 1 << 22])
def test_ties_go_to_the_lower_labelled_row(block_elements):
    Z_labelled = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 0.0]])
    Z_pool = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    nearest, distance = nearest_labelled_index(Z_pool, Z_labelled, block_elements=block_elements)
    np.testing.assert_array_equal(nearest, [0, 0, 0])  # row 3 duplicates row 0
    np.testing.assert_array_equal(distance, [1.0, 0.0, 1.0])


def test_images_are_flattened_per_row():
    rng = np.random.default_rng(3)
    Z_pool, Z_labelled = rng.random((30, 1, 4, 4)), rng.random((6, 1, 4, 4))
    np.testing.assert_allclose(
        nearest_labelled_distance(Z_pool, Z_labelled),
        brute_force(Z_pool.reshape(30, -1), Z_labelled.reshape(6, -1))[1], rtol=1e-12)


def test_empty_pool_gives_empty_distances():
    assert nearest_labelled_distance(np.zeros((0, 3)), np.ones((2, 3))).shape == (0,)


@pytest.mark.parametrize(
    ("Z_pool", "Z_labelled", "kwargs", "error", "match"),
    [
        (np.ones((3, 2)), np.ones((0, 2)), {}, ValueError, "labelled set is empty"),
        (np.ones((3, 2)), np.ones((2, 3)), {}, ValueError, "2 dimensions but labelled"),
        (np.array([[np.nan, 1.0]]), np.ones((2, 2)), {}, ValueError, "'Z_pool' .* NaN"),
        (np.ones((3, 2)), np.array([[np.inf, 1.0]]), {}, ValueError, "'Z_labelled' .* NaN"),
        (np.array([["a", "b"]]), np.ones((2, 2)), {}, ValueError, "'Z_pool' .* numeric"),
        (np.ones((3, 2)), np.ones((2, 2)), {"block_elements": 0}, ValueError,
         "'block_elements' parameter must be a positive int"),
    ],
)
def test_invalid_inputs_raise(Z_pool, Z_labelled, kwargs, error, match):
    with pytest.raises(error, match=match):
        nearest_labelled_distance(Z_pool, Z_labelled, **kwargs)
