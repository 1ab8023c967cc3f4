"""Ranking: top-k, order, ties, and non-finite scores."""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal.scoring._selection import select_highest, select_lowest


def test_lowest_in_order():
    indices, values = select_lowest(np.array([3.0, -1.0, 2.0, 0.5]), 3)
    np.testing.assert_array_equal(indices, [1, 3, 2])
    np.testing.assert_array_equal(values, [-1.0, 0.5, 2.0])


def test_ties_go_to_the_lower_index():
    scores = np.array([1.0, 0.0, 0.0, 0.0, 0.0, 2.0])
    np.testing.assert_array_equal(select_lowest(scores, 2)[0], [1, 2])
    np.testing.assert_array_equal(select_lowest(np.zeros(50), 4)[0], [0, 1, 2, 3])
    np.testing.assert_array_equal(select_highest(scores, 3)[0], [5, 0, 1])


def test_agrees_with_a_stable_sort_on_random_scores():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 20, size=500).astype(float)  # many ties
    for k in (1, 7, 100, 500):
        np.testing.assert_array_equal(select_lowest(scores, k)[0],
                                      np.argsort(scores, kind="stable")[:k])


def test_non_finite_scores_are_reported():
    with pytest.raises(ValueError, match="1 of 3 query scores are NaN or infinite"):
        select_lowest(np.array([0.0, np.nan, 1.0]), 1)


def test_n_instances_checks():
    with pytest.raises(ValueError, match="larger than the pool"):
        select_lowest(np.zeros(3), 4)
    with pytest.raises(TypeError, match="positive int"):
        select_highest(np.zeros(3), True)
