"""Where the searches switch paths, and what their checks accept, at the exact boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal.search import _knn as knn
from modal_ibal.search._cells import MIN_LABELLED_FOR_CELLS, MIN_POOL_FOR_CELLS, uses_cells
from modal_ibal.search._knn_exact import check_points, exact_neighbours, index_type
from modal_ibal.search._knn_partitioned import partitioned_neighbours
from modal_ibal.search._recall import sample_rows, sampled_recall, widened_search


def test_auto_searches_exactly_up_to_and_including_the_limit():
    limit = knn.EXACT_SEARCH_MAX_POINTS
    assert knn.searches_exactly("auto", limit) and not knn.searches_exactly("auto", limit + 1)
    assert knn.searches_exactly("brute", 10 * limit)
    assert not knn.searches_exactly("partitioned", 10)


def test_labelled_cells_start_at_both_minimums():
    assert uses_cells(MIN_POOL_FOR_CELLS, MIN_LABELLED_FOR_CELLS)
    assert not uses_cells(MIN_POOL_FOR_CELLS - 1, MIN_LABELLED_FOR_CELLS)
    assert not uses_cells(MIN_POOL_FOR_CELLS, MIN_LABELLED_FOR_CELLS - 1)


def test_index_type_is_int32_while_the_entries_count_below_its_maximum():
    largest = np.iinfo(np.int32).max
    assert index_type(largest - 1, 1) is np.int32
    assert index_type(largest, 1) is np.int64
    assert index_type(2**20, 2**12) is np.int64  # 2**32 entries, though each factor is small


def test_points_are_checked_and_integers_become_float64():
    with pytest.raises(ValueError, match="'Z' parameter must be a non-empty"):
        check_points(np.empty((0, 3)))
    with pytest.raises(ValueError, match="'Z' parameter holds NaN"):
        check_points(np.array([[0.0, np.inf]]))
    one = check_points(np.ones((1, 3), dtype=np.float32))
    assert one.shape == (1, 3) and one.dtype == np.float32
    integers = check_points(np.arange(6).reshape(3, 2))
    assert integers.dtype == np.float64
    floats = np.ones((4, 2), dtype=np.float32)
    assert check_points(floats) is floats  # floats pass as they are, no copy


def test_the_recall_sample_is_seed_zeros_draw():
    expected = np.sort(np.random.default_rng(0).choice(10_000, 256, replace=False))
    np.testing.assert_array_equal(sample_rows(10_000, 256), expected)


def test_widening_may_reach_exactly_a_sixteenth_of_the_points():
    tried = []

    def search(n_candidates):
        tried.append(n_candidates)
        return np.full((1, 1), n_candidates), None

    widened_search(search, lambda found: 0.5, 16, 1_024, 0.9)  # 4 * 16 = 1,024 / 16
    assert tried == [16, 64]


@pytest.mark.parametrize("n_points", [3_000, 10_000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_recall_matches_the_direct_count_where_neighbours_lie_on_all_sides(n_points, dtype):
    """Gaussian points around the origin: many a true neighbour has a negative dot product."""
    Z = np.random.default_rng(4).standard_normal((n_points, 3)).astype(dtype)
    rows = sample_rows(n_points, 256)
    truth = exact_neighbours(Z, 10)[0]
    for n_candidates in (16, 64):
        found = partitioned_neighbours(Z, 10, cell_size=16, n_candidates=n_candidates)[0]
        direct = np.mean([len(set(found[r]) & set(truth[r])) / 10 for r in rows])
        assert 0.2 < direct < 1.0
        assert sampled_recall(Z, found) == pytest.approx(direct)


def test_faiss_serves_more_neighbours_than_dimensions(monkeypatch):
    pytest.importorskip("faiss")
    Z = np.random.default_rng(5).standard_normal((300, 4)).astype(np.float32)
    monkeypatch.setattr(knn, "EXACT_SEARCH_MAX_POINTS", 100)
    got = knn.exact_search(Z, 10)  # 10 neighbours of 4-d points, through FAISS
    expected = exact_neighbours(Z, 10)
    assert [set(row) for row in got[0]] == [set(row) for row in expected[0]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_recall_counts_neighbours_on_the_far_side_of_the_origin(dtype):
    """Points on a circle: with every point a neighbour, some lie opposite (negative dot product)."""
    angles = np.linspace(0.0, 2 * np.pi, 12, endpoint=False)
    Z = np.column_stack([np.cos(angles), np.sin(angles)]).astype(dtype)
    everything = np.tile(np.arange(12), (12, 1))
    assert sampled_recall(Z, everything) == 1.0
    nearest = exact_neighbours(Z, 11)[0]  # all but the opposite point
    assert sampled_recall(Z, nearest) == 1.0


@pytest.mark.parametrize("algorithm", ["brute", "partitioned"])
@pytest.mark.parametrize(("n_neighbors", "error"), [(0, ValueError), (2.0, TypeError),
                                                    (31, ValueError)])
def test_a_bad_number_of_neighbours_is_named(algorithm, n_neighbors, error):
    Z = np.random.default_rng(6).standard_normal((30, 2))
    with pytest.raises(error, match=r"The 'n_neighbors' parameter must be "):
        knn.nearest_neighbours(Z, n_neighbors, algorithm=algorithm)
