"""Gains of concave coverage for any list of candidate columns, in the order given."""

from __future__ import annotations

import numpy as np

from modal_ibal.coverage._concave import concave_gains
from modal_ibal.coverage._kernel import knn_kernel_graph


def _setting(seed: int = 0):
    rng = np.random.default_rng(seed)
    columns = knn_kernel_graph(rng.normal(size=(30, 3)), 6).tocsc()
    coverage = rng.uniform(0.0, 0.6, size=30)
    weights = rng.uniform(0.5, 1.5, size=30)
    groups = rng.integers(0, 4, size=30)
    group_coverage = np.bincount(groups, weights=weights * coverage, minlength=4)
    return columns, coverage, weights, groups, group_coverage


def _naive_gain(columns, c, coverage, weights, groups, group_coverage):
    """sum over clusters g of sqrt(C_g + Delta_g(c)) - sqrt(C_g), column c read densely."""
    k = columns[:, [c]].toarray().ravel()
    delta = np.bincount(groups, weights=weights * np.maximum(k - coverage, 0.0), minlength=4)
    return float((np.sqrt(group_coverage + delta) - np.sqrt(group_coverage)).sum())


def test_gains_follow_the_candidates_in_any_order():
    columns, *state = _setting()
    for candidates in ([4, 6, 5, 7], [7, 5, 6, 4], [10, 12, 11], [3, 4, 5, 6], [9], [2, 2, 3]):
        expected = [_naive_gain(columns, c, *state) for c in candidates]
        np.testing.assert_allclose(concave_gains(columns, np.array(candidates), *state),
                                   expected, rtol=1e-12, atol=1e-15, err_msg=str(candidates))


def test_no_candidates_give_no_gains():
    columns, *state = _setting(1)
    gains = concave_gains(columns, np.array([], dtype=np.int64), *state)
    assert gains.shape == (0,)
    assert concave_gains(columns, [], *state).shape == (0,)
