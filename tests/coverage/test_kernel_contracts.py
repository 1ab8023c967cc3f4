"""Kernel graph contracts: checked widths, graphs and weights, gain blocks, one-neighbour graphs.

A width is a finite real > 0 (bools refused, by type); a graph is turned into float64 CSR
(integer adjacency included), may store explicit zeros but no negative value; pool weights
come back as float64 and a wrong shape names the pool; :func:`column_blocks` cuts the
candidates in order into non-empty blocks that each read about ``GAIN_ELEMENTS`` entries;
a one-neighbour graph is the identity.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from modal_ibal.coverage import _kernel as kernel_module
from modal_ibal.coverage._herding import greedy_kernel_herding
from modal_ibal.coverage._kernel import (
    check_bandwidth,
    check_graph,
    check_pool_weights,
    column_blocks,
    knn_kernel_graph,
)


@pytest.mark.parametrize("bandwidth", [0.5, 2, np.float32(0.25)])
def test_a_positive_finite_width_is_returned_as_a_float(bandwidth):
    width = check_bandwidth(bandwidth)
    assert type(width) is float and width == float(bandwidth)


@pytest.mark.parametrize("bandwidth", [True, False, "1.0", 1j])
def test_a_width_that_is_no_real_number_is_a_type_error(bandwidth):
    with pytest.raises(TypeError, match="'bandwidth'"):
        check_bandwidth(bandwidth)


@pytest.mark.parametrize("bandwidth", [0.0, 0, -0.0, -1.0, np.inf, -np.inf, np.nan])
def test_a_width_that_is_not_finite_and_positive_is_a_value_error(bandwidth):
    with pytest.raises(ValueError, match="'bandwidth'"):
        check_bandwidth(bandwidth)
    with pytest.raises(ValueError, match="'bandwidth'"):
        knn_kernel_graph(np.eye(3), 2, bandwidth)


def test_an_integer_adjacency_graph_is_read_as_float64_kernel_values():
    adjacency = np.array([[1, 1, 0, 0],
                          [1, 1, 1, 0],
                          [0, 1, 1, 1],
                          [0, 0, 1, 1]], dtype=np.int64)
    graph = check_graph(adjacency)
    assert sp.isspmatrix_csr(graph) and graph.dtype == np.float64
    np.testing.assert_array_equal(graph.toarray(), adjacency)
    for given in (adjacency, sp.csr_matrix(adjacency)):
        picks, gains = greedy_kernel_herding(given, 0, 2)
        np.testing.assert_array_equal(picks, [1, 2])  # 3 points, then the lower of two
        np.testing.assert_allclose(gains, [3.0, 1.0], atol=0)


def test_explicitly_stored_zeros_are_valid_kernel_values():
    graph = sp.csr_matrix((np.array([1.0, 0.0, 1.0]), np.array([0, 1, 1]), np.array([0, 2, 3])),
                          shape=(2, 2))
    assert graph.nnz == 3  # the 0 is stored
    checked = check_graph(graph)
    np.testing.assert_array_equal(checked.toarray(), [[1.0, 0.0], [0.0, 1.0]])
    picks, gains = greedy_kernel_herding(graph, 0, 2)
    np.testing.assert_array_equal(picks, [0, 1])
    np.testing.assert_allclose(gains, [1.0, 1.0], atol=0)


def test_a_negative_kernel_value_is_refused():
    with pytest.raises(ValueError, match=r"'graph'.*>= 0"):
        check_graph(np.array([[1.0, -1e-300], [0.0, 1.0]]))


def test_pool_weights_come_back_as_float64_and_a_wrong_shape_names_the_pool():
    weights = check_pool_weights([1, 0, 3], 3)
    assert isinstance(weights, np.ndarray) and weights.dtype == np.float64
    np.testing.assert_array_equal(weights, [1.0, 0.0, 3.0])
    with pytest.raises(ValueError, match=r"shape \(4,\), one weight per pool sample"):
        check_pool_weights([1, 0, 3], 4)


def test_graph_weights_of_a_wrong_shape_name_the_points_of_the_graph():
    with pytest.raises(ValueError, match=r"'weights'.*shape \(3,\), one weight per point of the "
                                         r"graph"):
        greedy_kernel_herding(np.eye(3), 0, 1, weights=np.ones(2))


def _check_blocks(columns, candidates, limit):
    lengths = np.diff(columns.indptr)[candidates]
    blocks = column_blocks(columns, candidates)
    np.testing.assert_array_equal(np.concatenate(blocks), np.arange(len(candidates)))  # in order
    assert all(block.size for block in blocks)
    for block in blocks:  # beyond its first column a block reads fewer than the limit
        assert lengths[block].sum() - lengths[block[0]] < limit
    assert len(blocks) <= lengths.sum() // limit + 1  # no more blocks than the entries need
    return blocks


@pytest.mark.parametrize("lengths", [[1, 1, 1, 1, 8, 1], [2, 2, 2, 2], [1] * 8, [0, 3, 0, 5, 4, 0],
                                     [9], [0, 0]])
def test_column_blocks_cut_the_candidates_into_blocks_of_about_gain_elements(monkeypatch,
                                                                            lengths):
    monkeypatch.setattr(kernel_module, "GAIN_ELEMENTS", 4)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    n = len(lengths)
    columns = sp.csc_matrix((np.ones(indptr[-1]), np.zeros(indptr[-1], dtype=np.int64), indptr),
                            shape=(1, n))
    _check_blocks(columns, np.arange(n), 4)
    _check_blocks(columns, np.arange(n)[::-1].copy(), 4)  # any order of candidates


def test_column_blocks_of_a_graph_respect_the_entry_limit(monkeypatch):
    monkeypatch.setattr(kernel_module, "GAIN_ELEMENTS", 7)
    columns = knn_kernel_graph(np.random.default_rng(0).normal(size=(30, 2)), 4, 1.0).tocsc()
    candidates = np.array([3, 29, 0, 17, 5, 6, 11])
    blocks = _check_blocks(columns, candidates, 7)
    assert len(blocks) > 1


def test_a_one_neighbour_graph_is_the_identity():
    Z = np.random.default_rng(1).normal(size=(5, 3))
    graph = knn_kernel_graph(Z, 1, 1.0)
    assert sp.isspmatrix_csr(graph) and graph.shape == (5, 5)
    np.testing.assert_array_equal(graph.toarray(), np.eye(5))
