"""The partitioned search's parts: its exact shortcut, its precision, its samples and its blocks.

Checked against float64 brute force: the shortcut to the exact search (float64
distances) at its boundaries, float64 points searched in float64, the packed keys'
column resolution, the k-means samples (distinct points, the documented seeds),
a Dask-style block search (``first``, ``positions``) that fills its homes' rows
only, and the clipping of rounding below 0.
"""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal.search import _knn_partitioned as knn_partitioned
from modal_ibal.search._knn_partitioned import (
    _PACKED_COLUMN_BITS,
    _SAMPLE_PER_CELL,
    _k_smallest_columns,
    coarse_centres,
    fine_cells,
    neighbours_from_sorted,
    partitioned_neighbours,
    query_rows,
    ranking_rows,
    search_cells,
    search_rows,
)


def _true_squared(Z):
    Z = np.asarray(Z, np.float64)
    return ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(axis=2)  # [M, M]


@pytest.mark.parametrize(("cell_size", "n_candidates"), [(8, 40), (8, 1000), (40, 8), (64, 8)],
                         ids=["candidates=points", "candidates>points", "cell=points", "cell>points"])
def test_enough_candidates_or_a_single_cell_give_the_exact_search(cell_size, n_candidates):
    """The exact search recomputes every distance in float64; the cells' float32 products would not."""
    Z = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    found, squared = partitioned_neighbours(Z, 3, cell_size=cell_size, n_candidates=n_candidates)
    direct = ((Z[found].astype(np.float64) - Z[:, None, :].astype(np.float64)) ** 2).sum(axis=2)
    np.testing.assert_allclose(squared, direct, rtol=1e-12, atol=0)
    true_k = np.sort(_true_squared(Z), axis=1)[:, :3]
    np.testing.assert_allclose(np.sort(squared, axis=1), true_k, rtol=1e-6, atol=1e-7)


def test_float64_points_are_ranked_and_measured_in_float64():
    """Points far from the origin: float32 products could not tell their neighbours apart."""
    Z = 100.0 + np.random.default_rng(1).random((300, 2))
    found, squared = partitioned_neighbours(Z, 5, cell_size=16, n_candidates=64)
    direct = ((Z[found] - Z[:, None, :]) ** 2).sum(axis=2)
    np.testing.assert_allclose(squared, direct, rtol=0, atol=1e-9)
    assert (found == np.arange(300)[:, None]).any(axis=1).all()
    true_k = np.sort(_true_squared(Z), axis=1)[:, :5]
    close = np.isclose(np.sort(squared, axis=1), true_k, rtol=0, atol=1e-9).all(axis=1)
    assert close.mean() > 0.9


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_search_rows_products_are_the_squared_distances_in_the_points_precision(dtype):
    Z = np.random.default_rng(2).normal(size=(12, 4)).astype(dtype)
    queries, ranking = search_rows(Z)
    assert queries.dtype == ranking.dtype == dtype
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(queries @ ranking.T, _true_squared(Z), rtol=0,
                               atol=tolerance * _true_squared(Z).max())


@pytest.mark.parametrize("k", [1, 9, 599, 600])
def test_packed_keys_take_the_k_smallest_columns_from_one_to_every_column(k):
    rng = np.random.default_rng(k)
    squared = rng.permutation(np.arange(600 * 30, dtype=np.float64)).reshape(30, 600)
    squared = (squared / 7.0 + 0.5).astype(np.float32)  # distinct at any resolution used
    found = np.sort(_k_smallest_columns(squared.copy(), k), axis=1)
    np.testing.assert_array_equal(found, np.sort(np.argsort(squared, axis=1)[:, :k], axis=1))


def _ulps_above_one(steps):
    return (np.float32(1) + np.asarray(steps, np.float32) * np.float32(2 ** -23)).astype(np.float32)


@pytest.mark.parametrize("n_columns", [2, 3, 1025, 2048])
def test_float32_keys_rank_by_column_only_within_the_column_bits(n_columns):
    """Column bits b = ceil(log2 m) <= 11 replace the float's lowest bits (docstring).

    Entries 2**b ulps apart keep their order; within one 2**b-ulp bucket the lower
    column ranks first.
    """
    bits = max(1, (n_columns - 1).bit_length())
    assert bits <= _PACKED_COLUMN_BITS
    apart = np.full((1, n_columns), 2.0, dtype=np.float32)
    apart[0, :2] = _ulps_above_one([2 ** bits, 0])  # column 0 larger by 2**b ulps
    np.testing.assert_array_equal(_k_smallest_columns(apart, 1), [[1]])
    within = np.full((1, n_columns), 2.0, dtype=np.float32)
    within[0, :2] = _ulps_above_one([2 ** bits - 1, 0])  # same bucket: by column
    np.testing.assert_array_equal(_k_smallest_columns(within, 1), [[0]])


def test_float32_keys_beyond_the_packed_width_rank_exactly():
    n_columns = 2 ** _PACKED_COLUMN_BITS + 1
    squared = np.full((1, n_columns), 2.0, dtype=np.float32)
    squared[0, :2] = _ulps_above_one([1, 0])
    np.testing.assert_array_equal(_k_smallest_columns(squared, 1), [[1]])


def test_search_cells_of_a_block_fill_only_their_homes_rows():
    """As a Dask worker calls it: queries from sorted position ``first`` on, ranking rows of ``positions``."""
    rng = np.random.default_rng(3)
    Z_sorted = rng.normal(size=(16, 2))
    bounds = np.array([0, 4, 8, 12, 16])  # four cells of four points
    probes = np.array([0, 1, 1, 2, 2, 1, 3, 2])  # cell h probes probes[2h:2h + 2], itself first
    probe_starts = np.array([0, 2, 4, 6, 8])
    first = 4  # the block holds cells 1 and 2 (sorted positions 4..11)
    positions = np.arange(4, 12)  # the points of the cells they probe
    queries = query_rows(Z_sorted[first:12])
    ranking = ranking_rows(query_rows(Z_sorted[positions]))
    found = np.full((8, 3), -1)
    squared = np.full((8, 3), -1.0)
    search_cells(np.array([1]), probes, probe_starts, bounds, queries, ranking, 3, found, squared,
                 first=first, positions=positions)
    assert (found[4:] == -1).all() and (squared[4:] == -1.0).all(), "cell 2's rows are not its"
    true = _true_squared(Z_sorted)[4:8, 4:12]  # cell 1's points against cells 1 and 2
    order = np.argsort(true, axis=1)
    gaps = np.take_along_axis(true, order[:, 3:4], axis=1) - np.take_along_axis(true, order[:, 2:3],
                                                                                axis=1)
    assert (gaps > 1e-6).all()  # the third and fourth nearest are well apart
    np.testing.assert_array_equal(np.sort(found[:4], axis=1), np.sort(order[:, :3] + 4, axis=1))
    np.testing.assert_allclose(np.sort(squared[:4], axis=1), np.sort(true, axis=1)[:, :3],
                               rtol=1e-9, atol=1e-12)


def test_rounding_below_zero_is_clipped_and_each_point_is_its_own_neighbour():
    found_sorted = np.array([[0, 1], [2, 0], [2, 1]])  # position 1 lacks itself
    squared_sorted = np.array([[-1e-7, -2e-7], [0.5, -3e-7], [-1e-9, 0.25]])
    order = np.array([2, 0, 1])  # position -> point
    neighbours, squared = neighbours_from_sorted(found_sorted, squared_sorted, order)
    np.testing.assert_array_equal(neighbours, [[1, 0], [1, 0], [2, 0]])
    np.testing.assert_array_equal(squared, [[0.5, 0.0], [0.0, 0.25], [0.0, 0.0]])


def test_coarse_centres_read_seed_zeros_sample_of_distinct_points():
    """``_SAMPLE_PER_CELL`` distinct points per coarse centre, drawn from seed 0, read ascending."""
    Z = np.random.default_rng(4).normal(size=(5000, 2))
    read = []
    centres = coarse_centres(5000, 64, lambda rows: read.append(rows) or Z[rows])
    n_coarse = 9  # ceil(sqrt(ceil(5000 / 64)))
    assert centres.shape == (n_coarse, 2)
    expected = np.sort(np.random.RandomState(0).choice(5000, _SAMPLE_PER_CELL * n_coarse,
                                                       replace=False))
    np.testing.assert_array_equal(np.concatenate(read), expected)


def test_coarse_centres_of_few_points_read_every_point_once():
    Z = np.random.default_rng(5).normal(size=(100, 2))
    read = []
    centres = coarse_centres(100, 10, lambda rows: read.append(rows) or Z[rows])
    assert centres.shape == (4, 2)  # ceil(sqrt(10))
    np.testing.assert_array_equal(np.concatenate(read), np.arange(100))


def _recording_lloyd(monkeypatch):
    fitted = []
    original = knn_partitioned.lloyd

    def recording(X, n_centres, rng=None, **kwargs):
        fitted.append(X.copy())
        return original(X, n_centres, rng, **kwargs)

    monkeypatch.setattr(knn_partitioned, "lloyd", recording)
    return fitted


def test_fine_cells_fit_every_point_of_a_small_group_once(monkeypatch):
    fitted = _recording_lloyd(monkeypatch)
    Z_group = np.random.default_rng(6).normal(size=(50, 2))
    centres, cell = fine_cells(Z_group, 3, 8)
    assert centres.shape == (7, 2) and cell.shape == (50,)
    np.testing.assert_array_equal(fitted[0], Z_group)
    nearest = _true_squared(np.vstack([Z_group, centres]))[:50, 50:].argmin(axis=1)
    assert (cell == nearest).mean() > 0.95  # the nearest centre, up to near ties


def test_fine_cells_sample_is_drawn_from_the_groups_own_seed(monkeypatch):
    """Seeded from ``(1, group)``: a group is cut the same wherever its rows are."""
    fitted = _recording_lloyd(monkeypatch)
    Z_group = np.random.default_rng(7).normal(size=(300, 2))
    fine_cells(Z_group, 5, 64)
    sample = np.sort(np.random.RandomState([1, 5]).choice(300, 5 * _SAMPLE_PER_CELL, replace=False))
    np.testing.assert_array_equal(fitted[0], Z_group[sample])
