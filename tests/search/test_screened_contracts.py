"""Screened search contracts: the cell search's dtypes, exact ties, extreme and integer codes.

The search by labelled cells returns intp rows and float64 squared distances of the full
search; exact ties (integer codes) go to the lower labelled row however float32 ranks
them, near the labelled set, far from it and beyond what float64 can separate; float32
codes whose shift overflows float32, and integers beyond float32's 24 bits, get their
exact nearest row; a row no labelled row can beat or tie under ``known`` gets inf and row 0.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from search_cases import double_loop

from modal_ibal.search._cells import LabelledCells
from modal_ibal.search._screened import search_nearest, search_nearest_in_cells


def test_search_nearest_in_cells_returns_intp_rows_of_the_full_search():
    rng = np.random.default_rng(0)
    Z_pool, Z_labelled = rng.normal(size=(200, 3)), rng.normal(size=(70, 3))
    for cells in (None, LabelledCells(Z_labelled)):
        nearest, squared = search_nearest_in_cells(Z_pool, Z_labelled, 1 << 22, cells=cells)
        expected_nearest, expected = double_loop(Z_pool, Z_labelled)
        assert nearest.dtype == np.intp and squared.dtype == np.float64
        np.testing.assert_array_equal(nearest, expected_nearest)
        np.testing.assert_allclose(np.sqrt(squared), expected, rtol=1e-12, atol=1e-12)


# Exact ties: integer codes (times a power of two) whose squared distances float64 computes
# exactly, so the documented rule (the lower labelled row) decides, not rounding. Float32
# screening ranks such pairs either way: the winner must come from the float64 re-check.


def _far_ties(rng, n_pool, power, h_bits, r_bits):
    """Labelled rows c -/+ h; pool rows c + v, v . h = 0, far from both (|v| >> |h|)."""
    h = rng.integers(-2**h_bits, 2**h_bits + 1, size=3)
    r = rng.integers(-2**r_bits, 2**r_bits + 1, size=(n_pool, 3))
    v = np.cross(h, r)  # [N, 3], orthogonal to h; coordinates below 2**24
    c = rng.integers(-2**10, 2**10, size=3)
    Z_labelled = np.stack([c - h, c + h]).astype(np.float64)
    return np.ldexp((c + v).astype(np.float64), power), np.ldexp(Z_labelled, power)


def _central_ties(rng, power):
    """Rows 0 and 1 mirror images, row 2 farther; pool rows tied near the labelled mid-range."""
    a = rng.integers(2**16, 2**17, size=3) * rng.choice([-1, 1], size=3)
    c = rng.integers(-2**10, 2**10, size=3)
    Z_labelled = np.stack([c + a, c + a[[1, 0, 2]], c - 2 * a])
    mid = (Z_labelled.min(axis=0) + Z_labelled.max(axis=0)) // 2
    offsets = np.stack(np.meshgrid(np.arange(-5, 6), np.arange(-5, 6)), -1).reshape(-1, 2)
    s = (mid - c)[:2].sum() // 2 + offsets[:, 0]
    Z_pool = c + np.stack([s, s, (mid - c)[2] + offsets[:, 1]], axis=1)  # (z - c).(t0 - t1) = 0
    return np.ldexp(Z_pool.astype(np.float64), power), np.ldexp(Z_labelled.astype(np.float64),
                                                                 power)


def _check_lower_row_wins(Z_pool, Z_labelled, tied):
    squared = ((Z_pool[:, None] - Z_labelled[None]) ** 2).sum(axis=2)  # exact: integer codes
    assert (squared[:, tied] == squared[:, [0]]).all()  # the construction: exact ties
    nearest, found = search_nearest(Z_pool, Z_labelled, 1 << 22)
    np.testing.assert_array_equal(nearest, 0)
    np.testing.assert_allclose(found, squared.min(axis=1), rtol=1e-15, atol=0)


@pytest.mark.parametrize("power", [0, -40, 40])
@pytest.mark.parametrize(("h_bits", "r_bits"), [(11, 8), (5, 17)])  # far, and farther
def test_exact_ties_far_from_two_labelled_rows_go_to_the_lower_row(power, h_bits, r_bits):
    rng = np.random.default_rng(3)
    for _ in range(3):
        _check_lower_row_wins(*_far_ties(rng, 400, power, h_bits, r_bits), tied=[1])


@pytest.mark.parametrize("power", [0, -40])
def test_exact_ties_near_the_labelled_mid_range_go_to_the_lower_row(power):
    rng = np.random.default_rng(4)
    for _ in range(20):
        _check_lower_row_wins(*_central_ties(rng, power), tied=[1])


def test_a_pool_row_too_far_for_float64_to_separate_two_labelled_rows_gets_the_lower():
    Z_pool = np.array([[2.0**54], [-(2.0**54)], [0.75], [2.0**51], [-(2.0**51)]])
    Z_labelled = np.array([[0.0], [1.0]])
    expected_nearest, expected = double_loop(Z_pool, Z_labelled)
    np.testing.assert_array_equal(expected_nearest, [0, 0, 1, 1, 0])  # 2**54 - 1 rounds to 2**54
    nearest, squared = search_nearest(Z_pool, Z_labelled, 1 << 22)
    np.testing.assert_array_equal(nearest, expected_nearest)
    np.testing.assert_allclose(np.sqrt(squared), expected, rtol=1e-15, atol=0)


def test_float32_codes_whose_shift_overflows_float32_still_get_their_nearest_row():
    Z_pool = np.array([[3.0e38], [-3.0e38]], dtype=np.float32)
    Z_labelled = np.array([[-3.0e38], [-3.0e38 + 1e32], [3.0e38 - 1e33]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow reaches the caller either
        nearest, squared = search_nearest(Z_pool, Z_labelled, 1 << 22)
    expected_nearest, expected = double_loop(Z_pool, Z_labelled)
    np.testing.assert_array_equal(expected_nearest, [2, 0])
    np.testing.assert_array_equal(nearest, expected_nearest)
    np.testing.assert_allclose(np.sqrt(squared), expected, rtol=1e-12, atol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 3e38 - (-3e38) overflows float32: not screened
        nearest, squared = search_nearest(Z_pool[:1], Z_labelled[:2], 1 << 22)
    expected_nearest, expected = double_loop(Z_pool[:1], Z_labelled[:2])
    np.testing.assert_array_equal(expected_nearest, [1])
    np.testing.assert_array_equal(nearest, expected_nearest)
    np.testing.assert_allclose(np.sqrt(squared), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype", [np.int32, np.uint32, np.int64])
def test_large_integer_codes_are_not_rounded_to_float32(dtype):
    Z_pool = np.array([[100_000_002], [100_000_006], [100_000_001]], dtype=dtype)
    Z_labelled = np.array([[100_000_000], [100_000_003], [100_000_007]], dtype=dtype)
    nearest, squared = search_nearest(Z_pool, Z_labelled, 1 << 22)
    np.testing.assert_array_equal(nearest, [1, 2, 0])
    np.testing.assert_allclose(squared, [1.0, 1.0, 1.0], rtol=1e-15, atol=0)


def test_rows_whose_known_distance_no_labelled_row_can_beat_get_inf_and_row_zero():
    Z_labelled = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    Z_pool = np.array([[3.0, 0.0], [1.0, 1.0], [0.0, 3.5], [10.0, 10.0]])
    exact = ((Z_pool[:, None] - Z_labelled[None]) ** 2).sum(axis=2).min(axis=1)  # [0, 2, .25, 136]
    known = np.array([1.0, 0.5, 1.0, 1.0])  # rows 1 and 3: every labelled row is farther
    nearest, squared = search_nearest(Z_pool, Z_labelled, 1 << 22, known=known)
    np.testing.assert_array_equal(nearest, [1, 0, 2, 0])
    np.testing.assert_allclose(squared[[0, 2]], exact[[0, 2]], rtol=1e-15, atol=0)
    assert np.isinf(squared[[1, 3]]).all()
    nearest, squared = search_nearest(Z_pool, Z_labelled, 1 << 22, known=np.full(4, np.inf))
    np.testing.assert_array_equal(nearest, [1, 0, 2, 2])
    np.testing.assert_allclose(squared, exact, rtol=1e-15, atol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # huge bounds times the labelled scale overflow quietly
        nearest, squared = search_nearest(np.array([[6e-101], [1.0]]),
                                          np.array([[0.0], [1e-100]]), 1 << 22,
                                          known=np.full(2, 1e300))
    np.testing.assert_array_equal(nearest, [1, 0])  # 1 - 1e-100 is 1: a tie, the lower row
    np.testing.assert_allclose(squared, [(4e-101) ** 2, 1.0], rtol=1e-12, atol=0)


def test_a_column_of_codes_near_the_float64_limit_does_not_disturb_the_search():
    Z_labelled = np.array([[1.3e308, 0.0], [1.3e308, 1.0], [1.3e308, -2.0]])
    Z_pool = np.array([[1.3e308, 0.9], [1.3e308, -1.5], [1.3e308, 0.25]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nearest, squared = search_nearest(Z_pool, Z_labelled, 1 << 22)
    np.testing.assert_array_equal(nearest, [1, 2, 0])
    np.testing.assert_allclose(squared, [0.01, 0.25, 0.0625], rtol=1e-12, atol=0)
    Z_labelled[2, 0] = -1.3e308  # codes at both ends of float64's range: their differences
    with warnings.catch_warnings():  # overflow, those of rows 0 and 1 to the pool do not
        warnings.simplefilter("ignore", RuntimeWarning)
        expected_nearest, expected = double_loop(Z_pool, Z_labelled)
        nearest, squared = search_nearest(Z_pool, Z_labelled, 1 << 22)
    np.testing.assert_array_equal(expected_nearest, [1, 0, 0])
    np.testing.assert_array_equal(nearest, expected_nearest)
    np.testing.assert_allclose(np.sqrt(squared), expected, rtol=1e-12, atol=0)


def test_labelled_codes_whose_squared_spread_overflows_float64_give_the_double_loops_rows():
    # regression: the labelled radius was summed as squares, inf beyond 1e154, and
    # every row then went to labelled row 0 with squared distance inf
    Z_labelled = np.array([[1e200, 0.0], [0.0, 0.0], [-1e160, 3.0]])
    Z_pool = np.array([[1.0, 0.0], [-1e160, 2.0], [2e200, 0.0], [0.0, 1e-300]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the inf squared distances overflow
        expected_nearest, expected = double_loop(Z_pool, Z_labelled)
        nearest, squared = search_nearest(Z_pool, Z_labelled, 1 << 22)
    np.testing.assert_array_equal(expected_nearest, [1, 2, 0, 1])
    np.testing.assert_array_equal(nearest, expected_nearest)
    np.testing.assert_allclose(np.sqrt(squared), expected, rtol=1e-12, atol=0)


def test_squared_distances_rounded_to_subnormals_give_the_double_loops_ties():
    # regression: float64 squares below 2**-1022 are rounded absolutely (to 2**-1074),
    # which the margin did not cover: the float32 winner row 1 was kept although both
    # squared distances round to the same subnormal, a tie the double loop gives row 0
    Z_labelled = np.array([[0.0], [4.35e-162]])
    Z_pool = np.array([[2.63e-162], [2.0e-162], [4.0e-162]])
    expected_nearest, expected = double_loop(Z_pool, Z_labelled)
    np.testing.assert_array_equal(expected_nearest, [0, 0, 1])
    nearest, squared = search_nearest(Z_pool, Z_labelled, 1 << 22)
    np.testing.assert_array_equal(nearest, expected_nearest)
    np.testing.assert_allclose(np.sqrt(squared), expected, rtol=1e-12, atol=0)


def test_labelled_rows_mirrored_about_their_mid_range_are_told_apart():
    Z_labelled = np.array([[-1.0, 1.0, 3.0], [1.0, -1.0, 3.0]])  # mid-range (0, 0, 3)
    Z_pool = np.array([[0.9, -1.0, 3.0], [-2.0, 0.5, 3.0], [0.0, 0.0, 0.0]])
    nearest, squared = search_nearest(Z_pool, Z_labelled, 1 << 22)
    np.testing.assert_array_equal(nearest, [1, 0, 0])  # the last: a tie, the lower row
    np.testing.assert_allclose(squared, [0.01, 1.25, 11.0], rtol=1e-12, atol=0)


def test_subnormal_labelled_codes_give_the_double_loops_rows():
    """Labelled codes of 1e-315 (subnormal): the scale that would bring them to unit size,
    2**1046, overflows float64; it is held at 2**1000. Their squared distances all round
    to 0 in float64, so every pool row ties and goes to labelled row 0."""
    Z_labelled = np.array([[0.0, 3e-315], [2e-315, 0.0], [-1e-315, -1e-315]])
    Z_pool = np.array([[0.0, 2e-315], [3e-315, 1e-316], [-2e-315, 0.0], [1e-316, 1e-316]])
    expected_nearest, expected = double_loop(Z_pool, Z_labelled)
    np.testing.assert_array_equal(expected_nearest, [0, 0, 0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow on the way
        nearest, squared = search_nearest(Z_pool, Z_labelled, 1 << 22)
    np.testing.assert_array_equal(nearest, expected_nearest)
    np.testing.assert_array_equal(np.sqrt(squared), expected)
