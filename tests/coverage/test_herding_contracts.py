"""Herding's greedy contracts: empty columns gain 0, picks are distinct, one fallback warning.

Checked against the dense naive greedy of ``references``: a candidate that covers nothing
gains exactly 0, a picked point is never picked again (also once every gain is 0, and
after the unweighted fallback), the fallback warns once, from the caller's line, with or
without clusters, and ``n_labelled`` must be a true int.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from references import naive_herding

from modal_ibal.coverage._herding import UninformativeWeightsWarning, greedy_kernel_herding


def _warns_once():
    """Record warnings; a second UninformativeWeightsWarning fails at once (no endless loop)."""
    caught = []

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, UninformativeWeightsWarning) and any(
                issubclass(w.category, UninformativeWeightsWarning) for w in caught):
            raise AssertionError("UninformativeWeightsWarning raised twice")
        caught.append(warnings.WarningMessage(message, category, filename, lineno))

    return caught, show


def test_a_candidate_that_covers_nothing_gains_exactly_zero():
    K = np.array([[0.0, 1.0, 0.0, 0.0],
                  [0.0, 1.0, 0.0, 0.0],
                  [0.0, 0.0, 1.0, 0.0],
                  [0.0, 0.0, 0.5, 0.0]])  # columns 0 and 3 hold no entry
    expected_picks, expected_gains = naive_herding(K, 0, 4)
    picks, gains = greedy_kernel_herding(K, 0, 4)
    np.testing.assert_array_equal(picks, expected_picks)
    np.testing.assert_array_equal(picks, [1, 2, 0, 3])
    np.testing.assert_allclose(gains, expected_gains, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(gains[2:], 0.0)


@pytest.mark.parametrize("n_labelled", [0, 1])
def test_picks_are_distinct_once_every_gain_is_zero(n_labelled):
    K = np.ones((4, 4))  # the first pick covers everything: the rest gain 0
    picks, gains = greedy_kernel_herding(K, n_labelled, 4 - n_labelled)
    assert picks.dtype == np.int64
    np.testing.assert_array_equal(picks, np.arange(4 - n_labelled))  # ties: lower index
    expected_first = 0.0 if n_labelled else 4.0
    np.testing.assert_allclose(gains, [expected_first] + [0.0] * (3 - n_labelled), atol=0)


def test_weighted_fallback_warns_once_from_the_callers_line_and_keeps_picks_distinct():
    K = np.ones((3, 3))
    weights = np.array([1.0, 0.0, 0.0])  # after the first pick no weighted gain is left
    caught, show = _warns_once()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        picks, gains = greedy_kernel_herding(K, 0, 3, weights=weights)
    np.testing.assert_array_equal(picks, [0, 1, 2])
    np.testing.assert_allclose(gains, [1.0, 0.0, 0.0], atol=0)
    [warning] = [w for w in caught if issubclass(w.category, UninformativeWeightsWarning)]
    assert warning.category is UninformativeWeightsWarning
    # stacklevel: attributed to the greedy's caller, not to the greedy's own module (a
    # mutation-testing trampoline may stand between the test and the greedy)
    assert not warning.filename.endswith(str(Path("coverage", "herding.py")))
    assert "after 1 of 3 picks" in str(warning.message)


def test_weighted_fallback_with_clusters_warns_once_and_finishes():
    K = np.ones((3, 3))
    weights = np.array([1.0, 0.0, 0.0])
    caught, show = _warns_once()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        picks, gains = greedy_kernel_herding(K, 0, 3, weights=weights,
                                             groups=np.zeros(3, dtype=np.int64))
    assert sorted(picks.tolist()) == [0, 1, 2]
    assert picks[0] == 0 and gains[0] > 0.0
    np.testing.assert_allclose(gains[1:], 0.0, atol=0)
    assert sum(issubclass(w.category, UninformativeWeightsWarning) for w in caught) == 1


@pytest.mark.parametrize("n_labelled", [True, False, 1.0, 1.5, np.float64(1.0)])
def test_n_labelled_must_be_a_true_int(n_labelled):
    with pytest.raises(TypeError, match="'n_labelled'"):
        greedy_kernel_herding(np.eye(3), n_labelled, 1)


def test_n_labelled_as_a_numpy_int_is_accepted():
    picks, gains = greedy_kernel_herding(np.eye(3), np.int64(1), 2)
    np.testing.assert_array_equal(picks, [0, 1])
    np.testing.assert_allclose(gains, [1.0, 1.0], atol=0)
