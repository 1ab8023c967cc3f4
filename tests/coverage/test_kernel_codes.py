"""Herding's codes and widths: the sign rule of normalize_rows='auto', unit rows and bandwidths."""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal.coverage._kernel import (
    kernel_codes,
    knn_kernel_graph,
    labelled_bandwidth,
    rows_normalized,
    unit_rows,
)


def test_codes_with_zeros_and_values_below_one_count_as_non_negative():
    assert rows_normalized(np.array([[0.0, 0.25], [0.5, 0.0]]))
    assert rows_normalized(np.zeros((2, 3)), np.array([[0.1, 0.9]]))
    assert not rows_normalized(np.array([[0.0, 0.25]]), np.array([[-1e-300, 0.5]]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_unit_rows_scale_every_row_to_norm_one_and_keep_zero_rows(dtype):
    Z = np.array([[3, 4], [0, 0], [1, 0], [0, -2]], dtype=dtype)
    if dtype != np.int64:
        Z = np.vstack([Z, np.array([[0.3, 0.4]], dtype=dtype)])  # a norm below 1
    original = Z.copy()
    got = unit_rows(Z)
    assert got.dtype == (np.float32 if dtype == np.float32 else np.float64)
    norms = np.linalg.norm(Z.astype(np.float64), axis=1, keepdims=True)
    expected = np.divide(Z, norms, out=np.zeros(Z.shape), where=norms > 0)
    np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == np.float32 else 1e-15)
    np.testing.assert_array_equal(got[1], [0.0, 0.0])
    np.testing.assert_array_equal(Z, original)  # the caller's array is kept


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unit_rows_overwrite_scales_the_array_itself_with_the_same_result(dtype):
    Z = np.random.default_rng(0).normal(size=(200, 7)).astype(dtype)
    Z[3] = 0.0
    expected = unit_rows(Z)
    target = Z.copy()
    got = unit_rows(target, overwrite=True)
    assert got is target
    np.testing.assert_array_equal(got, expected)


def test_unit_rows_of_integers_with_overwrite_are_a_new_float_array():
    Z = np.array([[3, 4], [0, 5]])
    got = unit_rows(Z, overwrite=True)
    np.testing.assert_allclose(got, [[0.6, 0.8], [0.0, 1.0]], rtol=1e-15)
    np.testing.assert_array_equal(Z, [[3, 4], [0, 5]])


def test_float32_row_norms_are_summed_in_float64():
    Z = np.full((1, 20001), 1e-4, dtype=np.float32)
    Z[0, 0] = 1.0  # float32 sums would lose part of the 20000 small squares beside it
    norm = np.sqrt((Z.astype(np.float64) ** 2).sum())
    np.testing.assert_allclose(unit_rows(Z)[0, :2], np.array([1.0, 1e-4]) / norm, rtol=2e-7)


def test_labelled_bandwidth_is_the_smallest_distinct_distance_over_root_two():
    assert labelled_bandwidth(np.zeros((1, 3))) is None
    assert labelled_bandwidth(np.zeros((3, 2))) is None  # no two distinct rows
    np.testing.assert_allclose(labelled_bandwidth(np.array([[0, 0], [3, 4]])), 5 / np.sqrt(2),
                               rtol=1e-15)  # two integer rows
    np.testing.assert_allclose(labelled_bandwidth(np.array([[1.0], [4.0], [1.0], [-1.0]])),
                               2 / np.sqrt(2), rtol=1e-15)  # one column; a duplicate skipped
    # rows at squared distance 1e-12 or less count as duplicates
    np.testing.assert_allclose(labelled_bandwidth(np.array([[0.0], [1e-6], [3.0]])),
                               (3.0 - 1e-6) / np.sqrt(2), rtol=1e-12)


def test_default_bandwidth_is_one_when_most_points_have_their_kth_neighbour_at_zero():
    Z = np.vstack([np.zeros((5, 2)), [[1.0, 0.0], [0.0, 2.0]]])  # five copies of one point
    graph = knn_kernel_graph(Z, 3)
    np.testing.assert_array_equal(graph.toarray(), knn_kernel_graph(Z, 3, 1.0).toarray())
    np.testing.assert_allclose(graph[5, 0], np.exp(-0.5), rtol=1e-15)  # distance 1, width 1


def test_labelled_bandwidth_of_close_float32_unit_rows_is_computed_in_float64():
    angles = np.array([0.0, 1e-3, 0.5])
    Z = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    exact = np.linalg.norm(Z[0].astype(np.float64) - Z[1].astype(np.float64)) / np.sqrt(2)
    np.testing.assert_allclose(labelled_bandwidth(Z), exact, rtol=1e-6)


def test_kernel_codes_overwrite_scales_the_callers_array_in_place():
    Z = np.array([[3.0, 4.0], [0.0, 2.0]])
    got = kernel_codes(Z, normalize_rows=True, overwrite=True)
    assert got is Z
    np.testing.assert_allclose(Z, [[0.6, 0.8], [0.0, 1.0]], rtol=1e-15)


def test_signed_kernel_codes_beyond_the_safe_range_are_scaled_by_a_power_of_two():
    Z = np.array([[3.0, -5.0], [0.5, 1.0]]) * 2.0**40
    got = kernel_codes(Z, normalize_rows="auto")
    assert 0.5 <= np.abs(got).max() < 1.0
    np.testing.assert_array_equal(got, np.ldexp(Z, -43))
    small = np.array([[3.0, -5.0]])
    assert kernel_codes(small, normalize_rows=False) is small
