"""Nearest-labelled input contracts: 1-D codes are one column each, 0-d codes and bad cells refused.

A 1-D array is a column of scalar codes (the distance is then |z_i - z_t|); a 0-d array
has no rows and is a ValueError naming the parameter; ``cells`` must be a LabelledCells
(a TypeError otherwise) and, when it is, gives the search's result.
"""

from __future__ import annotations

import numpy as np
import pytest
from search_cases import double_loop

from modal_ibal.search._cells import LabelledCells
from modal_ibal.search._nearest_labelled import (
    check_code_pair,
    nearest_labelled_distance,
    nearest_labelled_index,
)


def test_one_dimensional_codes_are_one_column_of_scalars():
    Z_pool = np.array([0.0, 2.4, -3.0, 7.0])
    Z_labelled = np.array([1.0, -2.0, 5.0])
    nearest, distance = nearest_labelled_index(Z_pool, Z_labelled)
    np.testing.assert_array_equal(nearest, [0, 0, 1, 2])
    np.testing.assert_allclose(distance, [1.0, 1.4, 1.0, 2.0], rtol=1e-12, atol=0)
    np.testing.assert_allclose(nearest_labelled_distance(Z_pool, Z_labelled), distance,
                               rtol=0, atol=0)
    pool, labelled, _ = check_code_pair(Z_pool, Z_labelled, 8)
    assert pool.shape == (4, 1) and labelled.shape == (3, 1)


@pytest.mark.parametrize("name", ["Z_pool", "Z_labelled"])
def test_zero_dimensional_codes_are_a_value_error_naming_them(name):
    codes = {"Z_pool": np.zeros((2, 1)), "Z_labelled": np.zeros((2, 1))}
    codes[name] = np.float64(1.0)
    with pytest.raises(ValueError, match=f"'{name}'"):
        nearest_labelled_index(codes["Z_pool"], codes["Z_labelled"])


@pytest.mark.parametrize("cells", ["cells", object(), np.zeros((3, 2))])
def test_cells_that_are_not_labelled_cells_are_a_type_error(cells):
    Z = np.random.default_rng(0).normal(size=(5, 2))
    with pytest.raises(TypeError, match="'cells'"):
        nearest_labelled_index(Z, Z[:3], cells=cells)


def test_given_labelled_cells_give_the_double_loops_result():
    rng = np.random.default_rng(1)
    Z_pool, Z_labelled = rng.normal(size=(60, 3)), rng.normal(size=(25, 3))
    nearest, distance = nearest_labelled_index(Z_pool, Z_labelled, cells=LabelledCells(Z_labelled))
    expected_nearest, expected = double_loop(Z_pool, Z_labelled)
    np.testing.assert_array_equal(nearest, expected_nearest)
    np.testing.assert_allclose(distance, expected, rtol=1e-12, atol=1e-12)
