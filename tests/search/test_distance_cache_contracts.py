"""LabelledDistanceCache reuses a previous row's result only for a row with exactly its codes.

Pools that look like modAL's deletion of the queried rows but are not (another row
deleted, a row edited), rows whose content keys collide, zero-width codes, and the
spare buffer across pools of changing sizes and dtypes: every call returns what the
full search returns, and the counts say which rows were searched.
"""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal import LabelledDistanceCache
from modal_ibal.search._distance_cache import _row_hash
from modal_ibal.search._nearest_labelled import nearest_labelled_index

# Added to a row of six uint16 codes, this changes the row but not its 63-bit content key
# (a short vector of the lattice of the fixed hash multipliers, found by lattice reduction).
_SAME_KEY_OFFSET = np.array([870, 312, 395, 84, 322, 298])


def _assert_full_search(cache, Z_pool, Z_labelled):
    nearest, distance = cache.nearest_labelled_index(Z_pool, Z_labelled)
    expected_nearest, expected = nearest_labelled_index(Z_pool, Z_labelled)
    assert nearest.dtype == np.intp
    np.testing.assert_array_equal(nearest, expected_nearest)
    np.testing.assert_array_equal(distance, expected)


def _distinct_codes(n, seed, dims=3):
    return np.random.default_rng(seed).normal(size=(n, dims)) * 10.0


@pytest.mark.parametrize(
    ("n_pool", "queried", "deleted"),
    [
        (6, [1], [5]),  # the last row deleted instead of the queried one
        (6, [1], [2]),  # the row after the queried one deleted instead
        (6, [1], [3]),
        (6, [3], [5]),
        (2, [0], [1]),  # one row kept, the other one
        (7, [0, 3], [2, 6]),
    ],
)
def test_cache_is_exact_when_other_rows_than_the_queried_ones_leave_the_pool(n_pool, queried,
                                                                               deleted):
    Z_pool, Z_labelled = _distinct_codes(n_pool, 1), _distinct_codes(4, 2)
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool, Z_labelled)
    Z_labelled = np.concatenate([Z_labelled, Z_pool[queried]])
    new_pool = np.delete(Z_pool, deleted, axis=0)
    _assert_full_search(cache, new_pool, Z_labelled)
    assert (cache.n_searched, cache.n_updated) == (n_pool, n_pool - len(deleted))


def test_cache_is_exact_when_the_queried_rows_leave_and_another_row_is_edited():
    Z_pool, Z_labelled = _distinct_codes(6, 3), _distinct_codes(4, 4)
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool, Z_labelled)
    Z_labelled = np.concatenate([Z_labelled, Z_pool[[1]]])
    new_pool = np.delete(Z_pool, 1, axis=0)
    new_pool[0] += 5.0
    _assert_full_search(cache, new_pool, Z_labelled)
    assert (cache.n_searched, cache.n_updated) == (6 + 1, 4)


@pytest.mark.parametrize("edited", [0, 1, -1])
def test_cache_is_exact_after_a_deletion_in_many_runs_with_an_edited_row(edited):
    """Every other row queried (over a thousand runs of kept rows) and one kept row edited."""
    Z_pool, Z_labelled = _distinct_codes(2200, 5, dims=2), _distinct_codes(3, 6, dims=2)
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool, Z_labelled)
    queried = np.arange(0, len(Z_pool), 2)
    Z_labelled = np.concatenate([Z_labelled, Z_pool[queried]])
    new_pool = np.delete(Z_pool, queried, axis=0)
    new_pool[edited] = [1000.0, -1000.0]
    _assert_full_search(cache, new_pool, Z_labelled)
    assert cache.n_searched == 2200 + 1


def _colliding_pool():
    """Four uint16 rows, and the same rows reordered with the first one changed, key kept."""
    rng = np.random.default_rng(7)
    Z_pool = rng.integers(100, 30_000, size=(4, 6)).astype(np.uint16)
    changed = (Z_pool[0] + _SAME_KEY_OFFSET).astype(np.uint16)
    return Z_pool, np.stack([changed, Z_pool[3], Z_pool[1], Z_pool[2]])


def test_colliding_content_keys_are_told_apart_by_the_exact_comparison():
    """A row whose key equals an old row's but whose codes differ is searched, not reused."""
    Z_pool, new_pool = _colliding_pool()
    assert _row_hash(new_pool[:1])[0] == _row_hash(Z_pool[:1])[0]  # the premise: equal keys
    assert not np.array_equal(new_pool[0], Z_pool[0])
    Z_labelled = np.random.default_rng(8).integers(0, 40_000, size=(5, 6)).astype(np.uint16)
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool, Z_labelled)
    _assert_full_search(cache, new_pool, Z_labelled)
    assert (cache.n_searched, cache.n_updated) == (4 + 1, 3)


def test_colliding_key_far_into_a_large_pool_is_told_apart():
    """Over 131,072 kept rows in over a thousand runs, the last one changed but its key kept."""
    n = 140_000
    rows = np.arange(n)
    kept = np.stack([rows % 251, rows // 251, rows % 7, rows % 5, rows % 3, rows % 2],
                    axis=1).astype(np.uint16)
    twin = np.full(6, 60_000, dtype=np.uint16)  # every other pool row, queried at once
    Z_pool = np.empty((2 * n, 6), dtype=np.uint16)
    Z_pool[0::2], Z_pool[1::2] = twin, kept
    Z_labelled = np.array([[0, 0, 0, 0, 0, 0], [200, 300, 5, 4, 2, 1]], dtype=np.uint16)
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool, Z_labelled)
    Z_labelled = np.concatenate([Z_labelled, twin[None]])
    new_pool = kept.copy()
    new_pool[-1] += _SAME_KEY_OFFSET.astype(np.uint16)
    assert _row_hash(new_pool[-1:])[0] == _row_hash(kept[-1:])[0]
    distance = cache.nearest_labelled_distance(new_pool, Z_labelled)
    np.testing.assert_array_equal(distance[-2:], nearest_labelled_index(new_pool[-2:],
                                                                        Z_labelled)[1])
    assert (cache.n_searched, cache.n_updated) == (2 * n + 1, n - 1)


def test_cache_is_exact_when_a_new_row_replaces_the_queried_one_as_many_rows_as_dims():
    """Four pool rows kept in order out of five, four dimensions, and a new fifth row."""
    Z_pool, Z_labelled = _distinct_codes(5, 24, dims=4), _distinct_codes(3, 25, dims=4)
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool, Z_labelled)
    Z_labelled = np.concatenate([Z_labelled, Z_pool[[4]]])
    new_pool = np.vstack([Z_pool[:4], _distinct_codes(1, 26, dims=4)])
    _assert_full_search(cache, new_pool, Z_labelled)
    assert (cache.n_searched, cache.n_updated) == (5 + 1, 4)


def test_cache_matches_a_single_row_pool_by_content():
    Z_pool, Z_labelled = _distinct_codes(3, 9), _distinct_codes(2, 10)
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool, Z_labelled)
    _assert_full_search(cache, Z_pool[[2]], Z_labelled)
    assert (cache.n_searched, cache.n_updated) == (3, 1)


def test_cache_matches_old_rows_at_row_numbers_beyond_the_old_pool_size():
    """A small old pool found again, reordered, among more new rows than it had."""
    Z_pool, Z_labelled = _distinct_codes(3, 11, dims=2), _distinct_codes(2, 12, dims=2)
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool, Z_labelled)
    new_pool = np.vstack([_distinct_codes(5, 13, dims=2), Z_pool[[2, 0, 1]]])
    _assert_full_search(cache, new_pool, Z_labelled)
    assert (cache.n_searched, cache.n_updated) == (3 + 5, 3)


def test_cache_with_many_new_rows_and_a_one_row_old_pool():
    Z_pool, Z_labelled = _distinct_codes(1, 14), _distinct_codes(2, 15)
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool, Z_labelled)
    new_pool = np.vstack([_distinct_codes(40, 16), Z_pool])
    _assert_full_search(cache, new_pool, Z_labelled)
    assert (cache.n_searched, cache.n_updated) == (1 + 40, 1)


def test_cache_matches_zero_width_codes():
    cache = LabelledDistanceCache()
    np.testing.assert_array_equal(cache.nearest_labelled_distance(np.zeros((3, 0)),
                                                                  np.zeros((2, 0))), [0.0] * 3)
    np.testing.assert_array_equal(cache.nearest_labelled_distance(np.zeros((2, 0)),
                                                                  np.zeros((2, 0))), [0.0] * 2)
    assert (cache.n_searched, cache.n_updated) == (3, 2)


def test_counts_add_up_over_partial_updates():
    Z_pool, Z_labelled = _distinct_codes(20, 17), _distinct_codes(3, 18)
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool, Z_labelled)
    for round_ in range(2):
        Z_pool = np.vstack([Z_pool[::-1], _distinct_codes(2, 19 + round_)])
        _assert_full_search(cache, Z_pool, Z_labelled)
    assert (cache.n_searched, cache.n_updated) == (20 + 2 + 2, 20 + 22)


@pytest.mark.parametrize(("dims", "sizes"), [(8, [2, 2, 3, 3]), (2, [4, 4, 6, 6])])
def test_cache_follows_pools_that_grow(dims, sizes):
    """Pools growing past the size of the buffer kept from two calls before."""
    Z_labelled = _distinct_codes(3, 20, dims=dims)
    everything = _distinct_codes(max(sizes), 21, dims=dims)
    cache = LabelledDistanceCache()
    for size in sizes:
        _assert_full_search(cache, everything[:size], Z_labelled)
    assert (cache.n_searched, cache.n_updated) == (sizes[0] + sizes[2] - sizes[1],
                                                   sizes[1] + sizes[1] + sizes[3])


def test_cache_updates_after_the_dtype_changes_back_and_forth():
    """A spare buffer of the old dtype is not reused for the new one: the next call updates."""
    Z_pool, Z_labelled = _distinct_codes(10, 22), _distinct_codes(3, 23)
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool.astype(np.float32), Z_labelled.astype(np.float32))
    for _ in range(3):
        _assert_full_search(cache, Z_pool, Z_labelled)
    assert (cache.n_searched, cache.n_updated) == (20, 20)
