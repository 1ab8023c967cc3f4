"""The search by labelled cells returns intp rows and float64 squared distances of the full search."""

from __future__ import annotations

import numpy as np
from search_cases import double_loop

from modal_ibal.search.cells import LabelledCells
from modal_ibal.search.screened import search_nearest_in_cells


def test_search_nearest_in_cells_returns_intp_rows_of_the_full_search():
    rng = np.random.default_rng(0)
    Z_pool, Z_labelled = rng.normal(size=(200, 3)), rng.normal(size=(70, 3))
    for cells in (None, LabelledCells(Z_labelled)):
        nearest, squared = search_nearest_in_cells(Z_pool, Z_labelled, 1 << 22, cells=cells)
        expected_nearest, expected = double_loop(Z_pool, Z_labelled)
        assert nearest.dtype == np.intp and squared.dtype == np.float64
        np.testing.assert_array_equal(nearest, expected_nearest)
        np.testing.assert_allclose(np.sqrt(squared), expected, rtol=1e-12, atol=1e-12)
