"""The labelled k-means cells: the cell-by-cell search is exact and skips far cells."""

from __future__ import annotations

import numpy as np
import pytest
from search_cases import DATASETS, brute_force, double_loop

from modal_ibal.search._nearest_labelled import nearest_labelled_index


@pytest.mark.parametrize("name", list(DATASETS))
def test_search_by_cells_equals_the_float64_double_loop_exactly(name, search_by_cells):
    Z_pool, Z_labelled = DATASETS[name]
    nearest, distance = nearest_labelled_index(Z_pool, Z_labelled, block_elements=300)
    expected_nearest, expected = double_loop(Z_pool, Z_labelled)
    np.testing.assert_array_equal(nearest, expected_nearest)
    np.testing.assert_array_equal(distance, expected)


def test_search_by_cells_skips_far_cells_and_keeps_ties(monkeypatch):
    from modal_ibal.search import _cells as cells
    from modal_ibal.search import _screened as screened

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(12, 4)) * 20
    Z_labelled = centres[rng.integers(0, 12, 400)] + rng.normal(size=(400, 4))
    Z_labelled[300:320] = Z_labelled[:20]  # tied labelled rows, the lower one must win
    Z_pool = centres[rng.integers(0, 12, 3000)] + rng.normal(size=(3000, 4))
    Z_pool[:50] = Z_labelled[rng.integers(0, 400, 50)]  # duplicates of labelled rows
    compared = []
    search = screened.search_nearest

    def counting(pool, labelled, *args, **kwargs):
        compared.append(len(pool) * len(labelled))
        return search(pool, labelled, *args, **kwargs)

    monkeypatch.setattr(screened, "search_nearest", counting)
    monkeypatch.setattr(cells, "_LABELLED_PER_CELL", 8)
    got = screened.search_nearest_in_cells(Z_pool, Z_labelled, 1 << 22)
    assert sum(compared) < 0.5 * 3000 * 400  # most pairs were skipped
    expected_nearest, expected = brute_force(Z_pool, Z_labelled)
    np.testing.assert_array_equal(got[0], expected_nearest)
    np.testing.assert_allclose(np.sqrt(got[1]), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("Z_labelled", [np.zeros((0, 3)), np.zeros((4, 0)), np.full((3, 2), np.nan),
                                        np.zeros(5)])
def test_labelled_cells_reject_bad_codes(Z_labelled):
    from modal_ibal.search._cells import LabelledCells

    with pytest.raises(ValueError, match="'Z_labelled' parameter"):
        LabelledCells(Z_labelled)
