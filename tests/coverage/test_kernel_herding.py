"""Kernel herding's engine: the k-NN kernel graph and the lazy greedy against dense naive references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from references import ALL, dense_kernel, naive_herding

from modal_ibal.coverage._herding import greedy_kernel_herding
from modal_ibal.coverage._kernel import knn_kernel_graph


def test_graph_is_the_symmetrised_knn_kernel():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(50, 4))
    K = dense_kernel(Z, 0.8)
    order = np.argsort(-K, axis=1, kind="stable")[:, :6]  # self first, then 5 neighbours
    keep = np.zeros_like(K, dtype=bool)
    np.put_along_axis(keep, order, True, axis=1)
    keep |= keep.T
    expected = np.where(keep, K, 0.0)

    graph = knn_kernel_graph(Z, 6, 0.8)

    assert sp.isspmatrix_csr(graph) and graph.nnz == keep.sum()
    np.testing.assert_allclose(graph.toarray(), expected, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(graph.diagonal(), 1.0)


def test_all_neighbours_give_the_dense_kernel():
    Z = np.random.default_rng(1).normal(size=(30, 3)).astype(np.float32)
    np.testing.assert_allclose(knn_kernel_graph(Z, ALL, 0.5).toarray(),
                               dense_kernel(Z.astype(np.float64), 0.5), rtol=1e-12, atol=1e-300)


def test_default_bandwidth_is_the_median_kth_neighbour_distance():
    Z = np.random.default_rng(2).normal(size=(41, 3))
    distances = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(axis=2))  # [M, M]
    width = np.median(np.sort(distances, axis=1)[:, 4])  # 5th neighbour, self first
    np.testing.assert_allclose(knn_kernel_graph(Z, 5).toarray(),
                               knn_kernel_graph(Z, 5, width).toarray())


def test_every_point_is_its_own_neighbour_among_many_duplicates():
    Z = np.vstack([np.zeros((6, 2)), np.ones((1, 2))])  # six copies, three neighbours each
    graph = knn_kernel_graph(Z, 3, 1.0)
    np.testing.assert_array_equal(graph.diagonal(), 1.0)
    np.testing.assert_array_equal(graph.toarray(), graph.toarray().T)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_labelled", [0, 5])
@pytest.mark.parametrize("weighted", [False, True])
def test_greedy_with_every_neighbour_equals_the_exact_dense_greedy(seed, n_labelled, weighted):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(60, 5))
    weights = rng.uniform(0.1, 2.0, size=60) if weighted else None

    picks, gains = greedy_kernel_herding(knn_kernel_graph(Z, ALL, 1.5), n_labelled, 12,
                                         weights=weights)
    expected_picks, expected_gains = naive_herding(dense_kernel(Z, 1.5), n_labelled, 12,
                                                   weights)

    np.testing.assert_array_equal(picks, expected_picks)
    np.testing.assert_allclose(gains, expected_gains, rtol=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
def test_lazy_updates_equal_the_greedy_on_the_truncated_kernel(seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(80, 3))
    graph = knn_kernel_graph(Z, 7, 0.6)
    weights = rng.uniform(0.0, 1.0, size=80)
    picks, gains = greedy_kernel_herding(graph, 4, 30, weights=weights)
    expected_picks, expected_gains = naive_herding(graph.toarray(), 4, 30, weights)
    np.testing.assert_array_equal(picks, expected_picks)
    np.testing.assert_allclose(gains, expected_gains, rtol=1e-10)


def test_asymmetric_graphs_are_read_by_column():
    rng = np.random.default_rng(3)
    K = sp.random(40, 40, density=0.15, random_state=4).toarray() + np.eye(40)
    assert not np.allclose(K, K.T)
    picks, gains = greedy_kernel_herding(sp.csr_matrix(K), 3, 10)
    expected_picks, expected_gains = naive_herding(K, 3, 10)
    np.testing.assert_array_equal(picks, expected_picks)
    np.testing.assert_allclose(gains, expected_gains, rtol=1e-10)
    picks, _ = greedy_kernel_herding(K, 3, 10, weights=rng.uniform(size=40))  # dense accepted
    assert len(np.unique(picks)) == 10


def test_ties_go_to_the_lower_pool_index():
    picks, gains = greedy_kernel_herding(sp.identity(8, format="csr"), 2, 6)
    np.testing.assert_array_equal(picks, np.arange(6))
    np.testing.assert_array_equal(gains, 1.0)


def test_a_pool_copy_of_a_labelled_point_gains_nothing_for_itself():
    Z = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]])  # labelled, its copy, a far point
    picks, gains = greedy_kernel_herding(knn_kernel_graph(Z, ALL, 0.1), 1, 2)
    np.testing.assert_array_equal(picks, [1, 0])
    np.testing.assert_allclose(gains, [1.0, 0.0], atol=1e-12)


def test_bad_graph_inputs_raise_named_errors():
    graph = sp.identity(5, format="csr")
    with pytest.raises(ValueError, match="'n_neighbors' parameter must be a positive int"):
        knn_kernel_graph(np.zeros((5, 2)), 0)
    with pytest.raises(ValueError, match="'Z' parameter holds NaN"):
        knn_kernel_graph(np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match=r"'Z' parameter must be a non-empty numeric array"):
        knn_kernel_graph(np.zeros(5))
    with pytest.raises(ValueError, match=r"'graph' parameter must be square"):
        greedy_kernel_herding(sp.csr_matrix((5, 4)), 0, 1)
    with pytest.raises(ValueError, match="'graph' parameter must hold finite kernel values"):
        greedy_kernel_herding(-np.eye(5), 0, 1)
    with pytest.raises(TypeError, match="'graph' parameter must be a scipy sparse matrix"):
        greedy_kernel_herding([[1.0]], 0, 1)
    with pytest.raises(ValueError, match=r"'n_labelled' parameter must be an int in \[0, 4\]"):
        greedy_kernel_herding(graph, 5, 1)
    with pytest.raises(ValueError, match=r"'n_instances' parameter \(3\) is larger than the pool"):
        greedy_kernel_herding(graph, 3, 3)
    with pytest.raises(ValueError, match=r"'weights' parameter must have shape \(5,\)"):
        greedy_kernel_herding(graph, 0, 1, weights=np.ones(4))
    with pytest.raises(ValueError, match="'weights' parameter must hold finite values >= 0"):
        greedy_kernel_herding(graph, 0, 1, weights=-np.ones(5))


def test_repeated_graph_entries_are_summed_once():
    K = np.random.default_rng(7).uniform(size=(6, 6)) * 0.4 + np.eye(6) * 0.6
    halves = np.hstack([K / 2, K / 2]).ravel()  # row x: every k(x, c) / 2, twice
    repeated = sp.csr_matrix((halves, np.tile(np.arange(6), 12), np.arange(0, 73, 12)),
                             shape=K.shape)
    assert not repeated.has_canonical_format
    picks, gains = greedy_kernel_herding(repeated, 1, 3)
    expected_picks, expected_gains = naive_herding(K, 1, 3)
    np.testing.assert_array_equal(picks, expected_picks)
    np.testing.assert_allclose(gains, expected_gains, rtol=1e-12)


def test_small_blocks_give_the_same_graph_and_picks(monkeypatch):
    from modal_ibal.coverage import _kernel as kernel
    from modal_ibal.search import _knn_exact as knn_exact

    Z = np.random.default_rng(8).normal(size=(70, 4))
    graph = knn_kernel_graph(Z, 9)
    picks = greedy_kernel_herding(graph, 5, 15)
    monkeypatch.setattr(knn_exact, "_SEARCH_ELEMENTS", 50)  # one row per search block
    monkeypatch.setattr(kernel, "GAIN_ELEMENTS", 7)  # a few columns per block of gains
    blocked = knn_kernel_graph(Z, 9)
    # the same neighbours (distinct random distances: no near ties), and the same kernel
    # values to float64 rounding: each row's distances come from another block shape
    # (a one-row neighbour query, [1, k, d] differences), which need not round bitwise alike
    np.testing.assert_array_equal(blocked.indptr, graph.indptr)
    np.testing.assert_array_equal(blocked.indices, graph.indices)
    np.testing.assert_allclose(blocked.data, graph.data, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(greedy_kernel_herding(blocked, 5, 15)[0], picks[0])
    np.testing.assert_allclose(greedy_kernel_herding(blocked, 5, 15)[1], picks[1], rtol=1e-12)


def test_symmetric_graph_read_by_rows_gives_the_same_picks():
    Z = np.random.default_rng(9).normal(size=(120, 5))
    graph = knn_kernel_graph(Z, 8)
    weights = np.random.default_rng(1).uniform(size=120)
    expected = greedy_kernel_herding(graph, 10, 12, weights=weights)
    got = greedy_kernel_herding(graph, 10, 12, weights=weights, symmetric=True)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)
    with pytest.raises(TypeError, match="'symmetric'"):
        greedy_kernel_herding(graph, 10, 12, symmetric="yes")
