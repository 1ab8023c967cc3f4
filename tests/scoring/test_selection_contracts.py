"""Ranking contracts: keys within 24 bits of the scores, defaults, scores of any dtype, tie warnings."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from modal_ibal.scoring._selection import (
    RANKING_BITS,
    TiedScoresWarning,
    ranking_keys,
    select_highest,
    select_lowest,
)


@pytest.mark.parametrize("magnitude", [1e-300, 1e-8, 1.0, 3e7, 1e300])
def test_ranking_keys_are_the_scores_to_24_significant_bits(magnitude):
    scores = np.random.default_rng(0).uniform(-1.0, 1.0, size=200) * magnitude
    keys = ranking_keys(scores)
    assert np.isfinite(keys).all()
    np.testing.assert_array_less(np.abs(keys - scores), 2.0 ** -RANKING_BITS * np.abs(scores))
    _, exponent = np.frexp(scores)
    steps = keys / np.ldexp(1.0, exponent - RANKING_BITS)  # keys on the 2^(e - 24) grid
    np.testing.assert_allclose(steps, np.round(steps), rtol=0, atol=1e-6)


def test_scores_near_the_float64_limit_keep_their_order():
    scores = np.array([1e300, 3e307, 2e300, 1e307])
    indices, values = select_highest(scores, 4)
    np.testing.assert_array_equal(indices, [1, 3, 2, 0])
    np.testing.assert_array_equal(values, scores[[1, 3, 2, 0]])


@pytest.mark.parametrize("select", [select_lowest, select_highest])
def test_one_point_and_no_warning_by_default(select):
    scores = np.zeros(6)  # every point ties: a warning would be due if asked for
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        indices, values = select(scores)
    np.testing.assert_array_equal(indices, [0])
    np.testing.assert_array_equal(values, [0.0])


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int64])
def test_integer_scores_rank_as_their_values(dtype):
    scores = np.array([5, 3, 0, 4, 1], dtype=dtype)
    lowest, low_values = select_lowest(scores, 5)
    np.testing.assert_array_equal(lowest, [2, 4, 1, 3, 0])
    assert low_values.dtype == np.float64
    np.testing.assert_array_equal(low_values, [0.0, 1.0, 3.0, 4.0, 5.0])
    highest, high_values = select_highest(scores, 2)
    np.testing.assert_array_equal(highest, [0, 3])
    assert high_values.dtype == np.float64
    np.testing.assert_array_equal(high_values, [5.0, 4.0])


def test_boolean_scores_rank_true_first_when_highest():
    flags = np.array([False, True, False, True])
    indices, values = select_highest(flags, 3)
    np.testing.assert_array_equal(indices, [1, 3, 0])
    np.testing.assert_array_equal(values, [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(select_lowest(flags, 1)[0], [0])


def _strategy(scores):
    """A strategy that ranks its pool: the warning is meant for whoever called it."""
    return select_lowest(scores, 2, warn_ties=True)


def test_a_tie_warning_is_attributed_to_the_caller_of_the_strategy():
    with pytest.warns(TiedScoresWarning, match="4 pool points tie .* only 2 fit") as record:
        _strategy(np.zeros(4))
    # attributed to the code that called the strategy: neither the selection's own module
    # nor pytest's machinery (a mutation-testing trampoline may add one frame between)
    [entry] = record
    assert not entry.filename.endswith(str(Path("scoring", "selection.py")))
    assert "_pytest" not in entry.filename and "pluggy" not in entry.filename
