"""The k-nearest-neighbour searches under kernel herding: exact and partitioned."""

import random

import numpy as np
import pytest
import torch
from conftest import assert_same_rng_states, global_rng_states
from search_cases import blobs, recall, true_neighbours

from modal_ibal.coverage._kernel import knn_kernel_graph
from modal_ibal.search._knn import EXACT_SEARCH_MAX_POINTS, nearest_neighbours
from modal_ibal.search._knn_exact import exact_neighbours
from modal_ibal.search._knn_partitioned import partitioned_neighbours


def test_partitioned_search_finds_nearly_all_true_neighbours():
    Z = blobs(3000)
    found, squared = partitioned_neighbours(Z, 10, cell_size=32, n_candidates=256)
    assert recall(found, true_neighbours(Z, 10)) > 0.95
    assert (found == np.arange(3000)[:, None]).any(axis=1).all()  # itself, always
    direct = ((Z[found].astype(np.float64) - Z[:, None, :]) ** 2).sum(axis=2)
    np.testing.assert_allclose(squared, direct, atol=1e-4)


def test_more_candidates_find_more_neighbours():
    Z = blobs(3000, seed=1)
    truth = true_neighbours(Z, 10)
    few = recall(partitioned_neighbours(Z, 10, cell_size=32, n_candidates=64)[0], truth)
    many = recall(partitioned_neighbours(Z, 10, cell_size=32, n_candidates=512)[0], truth)
    assert few < many


def test_candidates_covering_every_point_give_the_exact_search(monkeypatch):
    """The cell search itself, not the exact shortcut: every cell probes every cell."""
    from modal_ibal.search import _knn_partitioned as knn_partitioned

    def every_cell(centres, sizes, n_candidates, cell_size, coarse=None):
        n_cells = len(sizes)
        return np.tile(np.arange(n_cells), n_cells), np.arange(0, n_cells**2 + 1, n_cells)

    searched = []
    monkeypatch.setattr(knn_partitioned, "probe_cells",
                        lambda *args: searched.append(1) or every_cell(*args))
    Z = blobs(500)
    got = partitioned_neighbours(Z, 7, cell_size=16, n_candidates=64)  # 64 < 500: no shortcut
    expected = exact_neighbours(Z, 7)
    assert searched == [1]
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-5, atol=1e-4)  # float32 products
    found = [set(row) for row in got[0]]
    assert sum(found[i] == set(expected[0][i]) for i in range(len(Z))) >= 0.99 * len(Z)


def test_duplicates_keep_each_point_its_own_neighbour():
    Z = np.repeat(blobs(100), 40, axis=0)  # every point 40 times
    found, squared = partitioned_neighbours(Z, 5, cell_size=32, n_candidates=128)
    assert (found == np.arange(4000)[:, None]).any(axis=1).all()
    np.testing.assert_array_equal(squared[found == np.arange(4000)[:, None]], 0.0)
    assert squared.max() < 1e-6 * (Z**2).sum(axis=1).max()  # copies, up to float32 rounding


def test_search_is_deterministic_and_leaves_global_random_state_alone():
    Z = blobs(2000)
    random.seed(3)
    torch.manual_seed(3)
    before = global_rng_states()
    first = partitioned_neighbours(Z, 10, cell_size=32, n_candidates=128)
    second = partitioned_neighbours(Z, 10, cell_size=32, n_candidates=128)
    np.testing.assert_array_equal(first[0], second[0])
    assert_same_rng_states(before, global_rng_states())


def test_threads_do_not_change_the_result():
    from threadpoolctl import threadpool_limits

    Z = blobs(3000, seed=2)
    shared = partitioned_neighbours(Z, 10, cell_size=32, n_candidates=128)
    with threadpool_limits(1):
        alone = partitioned_neighbours(Z, 10, cell_size=32, n_candidates=128)
    np.testing.assert_array_equal(shared[0], alone[0])
    np.testing.assert_array_equal(shared[1], alone[1])


def test_auto_is_exact_up_to_the_threshold(monkeypatch):
    from modal_ibal.search import _knn as knn

    Z = blobs(600)
    exact = exact_neighbours(Z, 6)
    np.testing.assert_array_equal(nearest_neighbours(Z, 6)[0], exact[0])
    monkeypatch.setattr(knn, "EXACT_SEARCH_MAX_POINTS", 100)
    calls = []
    monkeypatch.setattr(knn, "partitioned_neighbours",
                        lambda *args, **kwargs: calls.append(1) or exact)
    nearest_neighbours(Z, 6)
    assert calls == [1]
    assert EXACT_SEARCH_MAX_POINTS == 10_000


def test_partitioned_graph_is_symmetric_with_unit_diagonal():
    Z = blobs(2500)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    graph = knn_kernel_graph(Z, 10, algorithm="partitioned")
    assert abs(graph - graph.T).max() == 0
    np.testing.assert_allclose(graph.diagonal(), 1.0)
    exact = knn_kernel_graph(Z, 10, algorithm="brute")
    shared = (graph.multiply(exact) > 0).nnz / exact.nnz
    assert shared > 0.9


@pytest.mark.parametrize("algorithm", ["kd_tree", None, 3])
def test_unknown_algorithm_is_named(algorithm):
    with pytest.raises(ValueError, match="'algorithm' parameter must be one of"):
        knn_kernel_graph(blobs(50), 5, algorithm=algorithm)


@pytest.mark.parametrize("name", ["cell_size", "n_candidates"])
def test_bad_partition_sizes_are_named(name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        nearest_neighbours(blobs(50), 5, algorithm="partitioned", **{name: 0})


@pytest.mark.parametrize("n_columns", [7, 600, 5000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_packed_key_partition_finds_the_k_smallest_columns(n_columns, dtype):
    from modal_ibal.search._knn_partitioned import _k_smallest_columns

    rng = np.random.default_rng(n_columns)
    squared = rng.permutation(np.arange(n_columns * 40, dtype=np.float64)).reshape(40, n_columns)
    squared = (squared / 7.0 + 0.5).astype(dtype)  # distinct at any resolution used
    squared[:, 3] = -1e-7  # a self-distance that rounding took below zero ranks first
    k = min(5, n_columns)
    found = np.sort(_k_smallest_columns(squared.copy(), k), axis=1)
    np.testing.assert_array_equal(found, np.sort(np.argsort(squared, axis=1)[:, :k], axis=1))
    assert (found == 3).any(axis=1).all()


def test_packed_keys_rank_near_equal_float32_exactly_beyond_the_packed_width():
    from modal_ibal.search._knn_partitioned import _PACKED_COLUMN_BITS, _k_smallest_columns

    n_columns = 2 ** (_PACKED_COLUMN_BITS + 1)
    steps = np.random.default_rng(0).permutation(n_columns)
    # 1 + s ulp: neighbours one ulp apart, which only an exact key separates
    squared = (np.float32(1) + steps.astype(np.float32) * np.float32(2 ** -23))[None, :]
    found = np.sort(_k_smallest_columns(squared.copy(), 4), axis=1)
    np.testing.assert_array_equal(found, np.sort(np.argsort(squared, axis=1)[:, :4], axis=1))
