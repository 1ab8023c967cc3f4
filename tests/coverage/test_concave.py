"""Concave per-cluster coverage: the lazy greedy against brute force, its clusters, its geometry."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from modal_ibal import UninformativeWeightsWarning, default_sampling, herding_sampling
from modal_ibal.coverage import _kernel as kernel
from modal_ibal.coverage._concave import (
    concave_gains,
    coverage_clusters,
    n_coverage_clusters,
)
from modal_ibal.coverage._herding import greedy_kernel_herding
from modal_ibal.coverage._kernel import kernel_codes, knn_kernel_graph, rows_normalized


def _objective(dense: np.ndarray, chosen: list[int], n_labelled: int, weights: np.ndarray,
               groups: np.ndarray) -> float:
    """F = sum over clusters of sqrt(sum of w(x) max over L and the chosen of k(x, c))."""
    columns = list(range(n_labelled)) + chosen
    coverage = dense[:, columns].max(axis=1) if columns else np.zeros(dense.shape[0])
    return float(np.sqrt(np.bincount(groups, weights=weights * coverage)).sum())


def _brute_force(dense, n_labelled, n_instances, weights, groups):
    """The plain greedy: every gain recomputed from F itself; ties to the lower pool index."""
    chosen: list[int] = []
    for _ in range(n_instances):
        now = _objective(dense, chosen, n_labelled, weights, groups)
        gains = [-1.0 if c in chosen else
                 _objective(dense, [*chosen, c], n_labelled, weights, groups) - now
                 for c in range(n_labelled, dense.shape[0])]
        chosen.append(n_labelled + int(np.argmax(np.round(gains, 12))))
    return [c - n_labelled for c in chosen]


@pytest.mark.parametrize("seed", range(12))
def test_the_lazy_greedy_makes_the_brute_force_greedy_picks(seed):
    rng = np.random.default_rng(seed)
    n_points = int(rng.integers(30, 70))
    n_labelled = int(rng.integers(0, 6))
    graph = knn_kernel_graph(rng.normal(size=(n_points, 3)), int(rng.integers(3, 9)))
    groups = rng.integers(0, int(rng.integers(1, 7)), size=n_points)
    weights = rng.random(n_points)
    weights[:n_labelled] = 0.0
    picks, gains = greedy_kernel_herding(graph, n_labelled, 8, weights=weights, symmetric=True,
                                         groups=groups)
    assert list(picks) == _brute_force(graph.toarray(), n_labelled, 8, weights, groups)
    chosen = [n_labelled + p for p in picks]
    totals = [_objective(graph.toarray(), chosen[:i], n_labelled, weights, groups)
              for i in range(9)]
    np.testing.assert_allclose(gains, np.diff(totals), rtol=1e-9, atol=1e-12)


def test_small_blocks_of_gains_give_the_same_picks(monkeypatch):
    rng = np.random.default_rng(8)
    graph = knn_kernel_graph(rng.normal(size=(90, 3)), 7)
    groups, weights = rng.integers(0, 5, size=90), rng.random(90)
    expected = greedy_kernel_herding(graph, 4, 9, weights=weights, symmetric=True, groups=groups)
    monkeypatch.setattr(kernel, "GAIN_ELEMENTS", 7)  # a few columns per block of gains
    got = greedy_kernel_herding(graph, 4, 9, weights=weights, symmetric=True, groups=groups)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)


def test_concave_gains_are_the_rise_of_each_clusters_square_root():
    rng = np.random.default_rng(1)
    graph = knn_kernel_graph(rng.normal(size=(40, 2)), 6)
    dense = graph.toarray()
    groups = rng.integers(0, 4, size=40)
    weights, coverage = rng.random(40), rng.random(40) * 0.5
    held = np.bincount(groups, weights=weights * coverage, minlength=4)
    got = concave_gains(graph.tocsc(), np.arange(40), coverage, weights, groups, held)
    raised = np.maximum(dense, coverage[:, None])  # [x, c]: coverage after picking c
    after = np.array([np.bincount(groups, weights=weights * raised[:, c], minlength=4)
                      for c in range(40)])  # [c, g]
    np.testing.assert_allclose(got, (np.sqrt(after) - np.sqrt(held)).sum(axis=1), rtol=1e-10,
                               atol=1e-13)


def test_one_cluster_and_plain_coverage_pick_alike_first():
    """With one cluster the first pick maximises sqrt(C) as the plain greedy maximises C."""
    rng = np.random.default_rng(2)
    graph = knn_kernel_graph(rng.normal(size=(80, 3)), 8)
    plain, _ = greedy_kernel_herding(graph, 0, 1, symmetric=True)
    concave, _ = greedy_kernel_herding(graph, 0, 1, symmetric=True, groups=np.zeros(80, int))
    np.testing.assert_array_equal(plain, concave)


def test_a_saturated_model_falls_back_to_unweighted_concave_coverage():
    rng = np.random.default_rng(3)
    graph = knn_kernel_graph(rng.normal(size=(50, 2)), 6)
    groups = rng.integers(0, 3, size=50)
    with pytest.warns(UninformativeWeightsWarning, match="after 0 of 4 picks"):
        picks, _ = greedy_kernel_herding(graph, 5, 4, weights=np.zeros(50), symmetric=True,
                                         groups=groups)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unweighted, _ = greedy_kernel_herding(graph, 5, 4, symmetric=True, groups=groups)
    np.testing.assert_array_equal(picks, unweighted)


@pytest.mark.parametrize("groups, message", [
    (np.zeros(9, int), r"one per point of the graph \(10\)"),
    (np.zeros(10), "dtype float64"),
    (-np.ones(10, int), "non-negative integer cluster ids"),
])
def test_bad_groups_are_refused(groups, message):
    with pytest.raises(ValueError, match=message):
        greedy_kernel_herding(np.eye(10), 0, 2, groups=groups)


def test_a_small_far_cluster_gets_a_label_that_plain_coverage_leaves_for_later():
    """500 points in one blob, 12 in a tight far one: the concave batch reaches the small one."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(500, 2)), [8.0, 8.0] + 0.3 * rng.normal(size=(12, 2))])
    small = np.arange(500, 512)
    plain, _ = herding_sampling(LogisticRegression(), X, 5, normalize_rows=False)
    concave, _ = herding_sampling(LogisticRegression(), X, 5, normalize_rows=False,
                                  concave_clusters=True)
    assert not np.isin(plain, small).any()
    assert np.isin(concave, small).sum() == 1


def test_coverage_clusters_number_and_seed():
    Z = np.random.default_rng(4).normal(size=(300, 4))
    assert n_coverage_clusters(20, 10, 300) == 30
    assert n_coverage_clusters(200, 10, 300) == 50
    assert n_coverage_clusters(3, 10, 8) == 8
    first = coverage_clusters(Z, 20, 10, np.random.RandomState(0))
    again = coverage_clusters(Z, 20, 10, np.random.RandomState(0))
    np.testing.assert_array_equal(first, again)
    assert first.dtype == np.int64 and np.unique(first).size == 30
    huge = coverage_clusters(np.ldexp(Z, 80), 20, 10, np.random.RandomState(0))
    np.testing.assert_array_equal(huge, first)  # scaled by a power of two: the same partition


def test_rows_are_normalised_automatically_only_for_non_negative_codes():
    signed = np.array([[1.0, -2.0], [3.0, 4.0]])
    assert not rows_normalized(signed) and rows_normalized(np.abs(signed))
    assert rows_normalized(np.abs(signed), np.empty((0, 2)))
    np.testing.assert_allclose(np.linalg.norm(kernel_codes(np.abs(signed), normalize_rows="auto"),
                                              axis=1), 1.0)
    np.testing.assert_array_equal(kernel_codes(signed, normalize_rows="auto"), signed)
    caller = signed.copy()
    kernel_codes(caller, normalize_rows=True)
    np.testing.assert_array_equal(caller, signed)


def test_huge_codes_give_the_picks_of_the_same_codes_scaled_down():
    X = np.random.default_rng(5).normal(size=(200, 3))
    expected = herding_sampling(LogisticRegression(), X, 6, normalize_rows=False,
                                concave_clusters=True)
    got = herding_sampling(LogisticRegression(), np.ldexp(X, 100), 6, normalize_rows=False,
                           concave_clusters=True)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)


@pytest.mark.parametrize("options, error, message", [
    ({"normalize_rows": "yes"}, TypeError, r"'normalize_rows' parameter must be a bool or 'auto'"),
    ({"normalize_rows": 1}, TypeError, r"'normalize_rows' parameter must be a bool or 'auto'"),
    ({"concave_clusters": "true"}, TypeError, r"'concave_clusters' parameter must be a bool\."),
])
def test_bad_options_name_the_parameter(options, error, message):
    X = np.random.default_rng(6).random((30, 2))
    with pytest.raises(error, match=message):
        herding_sampling(LogisticRegression(), X, 2, **options)


def test_the_default_is_repeatable_and_seeded():
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(400, 3)), rng.integers(0, 3, 400)
    model = LogisticRegression().fit(X[:30], y[:30])
    first = default_sampling(model, X[30:], 8, X_labelled=X[:30], y_labelled=y[:30])
    again = default_sampling(model, X[30:], 8, X_labelled=X[:30], y_labelled=y[:30])
    np.testing.assert_array_equal(first[0], again[0])
    seeded = default_sampling(model, X[30:], 8, X_labelled=X[:30], y_labelled=y[:30],
                              random_state=0)
    np.testing.assert_array_equal(seeded[0], first[0])  # None means seed 0
