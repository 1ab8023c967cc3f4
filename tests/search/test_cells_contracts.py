"""LabelledCells: how many cells, their k-means fit, their radii, and which rows a search needs.

``needed`` leaves a cell out exactly when the documented float64 bound, loosened by
1e-9 relative and 1e-150 absolute, exceeds the row's distance ``within``.
"""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal.search import _cells as cells_module
from modal_ibal.search._cells import LabelledCells

_EPS = 1e-9


def _clusters(n_clusters, per_cluster, seed, dims=2, spread=0.5, gap=1000.0):
    rng = np.random.default_rng(seed)
    centres = np.zeros((n_clusters, dims))
    centres[:, 0] = np.arange(n_clusters) * gap
    codes = np.repeat(centres, per_cluster, axis=0) + rng.uniform(-spread, spread,
                                                                 (n_clusters * per_cluster, dims))
    return codes[rng.permutation(len(codes))]


@pytest.mark.parametrize(("n_labelled", "n_cells"),
                         [(1, 1), (2, 2), (3, 2), (95, 2), (96, 3), (8224, 256)])
def test_number_of_cells(n_labelled, n_cells):
    codes = np.random.default_rng(0).normal(size=(n_labelled, 2))
    cells = LabelledCells(codes)
    assert cells.n_cells == n_cells == len(cells.members) == len(cells.radius)
    np.testing.assert_array_equal(np.sort(np.concatenate(cells.members)), np.arange(n_labelled))


def test_well_separated_clusters_get_a_cell_each_centred_on_their_mean():
    codes = _clusters(8, 32, seed=1)
    cells = LabelledCells(codes)
    assert cells.n_cells == 8
    cluster = np.rint(codes[:, 0] / 1000.0).astype(int)
    for members in cells.members:
        assert len(members) == 32 and len(set(cluster[members])) == 1
        assert np.all(np.diff(members) > 0)
    order = np.argsort(cells.centres[:, 0])
    means = np.stack([codes[cluster == c].mean(axis=0) for c in range(8)])
    np.testing.assert_allclose(cells.centres[order], means, rtol=1e-12, atol=1e-9)


def test_ten_lloyd_iterations_from_the_seeds(monkeypatch):
    """From the two lowest points of 1..40 Lloyd's iterations need more than five steps."""
    monkeypatch.setattr(cells_module, "kmeans_plus_plus_seeds", lambda *args: np.array([0, 1]))
    cells = LabelledCells(np.arange(1.0, 41.0)[:, None])
    np.testing.assert_allclose(cells.centres[:, 0], [10.5, 30.5], rtol=1e-12)
    np.testing.assert_array_equal(cells.members[0], np.arange(20))


def test_cells_are_reproducible_and_leave_the_global_state_alone():
    codes = np.random.default_rng(2).uniform(size=(300, 2))
    np.random.seed(5)  # noqa: NPY002 (the global state under test)
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    first, second = LabelledCells(codes), LabelledCells(codes)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    np.testing.assert_array_equal(first.centres, second.centres)
    for a, b in zip(first.members, second.members, strict=True):
        np.testing.assert_array_equal(a, b)


def _true_radius(cells, codes):
    return np.array([np.sqrt(((codes[m] - cells.centres[c]) ** 2).sum(axis=1)).max()
                     for c, m in enumerate(cells.members)])


def test_radius_is_the_farthest_member_loosened_upwards():
    codes = _clusters(3, 40, seed=3)
    cells = LabelledCells(codes)
    true = _true_radius(cells, codes)
    assert np.all(cells.radius >= true)
    np.testing.assert_allclose(cells.radius, true * (1 + _EPS), rtol=1e-12)


def test_radius_of_cells_of_identical_points_is_positive():
    codes = np.repeat([[0.0, 0.0], [50.0, 50.0]], 20, axis=0)
    cells = LabelledCells(codes)
    assert np.all(_true_radius(cells, codes) == 0.0)
    np.testing.assert_array_equal(cells.radius, [1e-150, 1e-150])


def _cell_at(cells, value):
    return int(np.argmin(np.abs(cells.centres[:, 0] - value)))


def _bound(cells, row, cell):
    """The documented lowered distance from ``row`` to a cell's centre, less its radius."""
    z, mu = np.asarray(row, dtype=np.float64), cells.centres[cell]
    squared = (z @ z + mu @ mu - 2 * z @ mu) - _EPS * (z @ z + mu @ mu) - 1e-150
    return np.sqrt(max(squared, 0.0)) - cells.radius[cell]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("offset", "row"), [(0.0, 101.0), (0.0, -57.0), (10_000.0, -101.0),
                                             (10_000.0, 64.0)])
def test_needed_leaves_out_a_cell_exactly_past_the_documented_bound(dtype, offset, row):
    """A row's ``within`` just above the boundary keeps the cell, just below it drops it."""
    codes = (np.array([-1.0, 1.0, 2000.0, 2002.0]) + offset)[:, None]
    cells = LabelledCells(codes)
    z = np.array([[offset + row]], dtype=dtype)
    for cell, centre in ((_cell_at(cells, offset), offset), (_cell_at(cells, offset + 2001.0),
                                                             offset + 2001.0)):
        assert cells.centres[cell, 0] == centre
        boundary = (_bound(cells, z[0].astype(np.float64), cell) - 1e-150) / (1 + _EPS)
        members = set(cells.members[cell].tolist())
        assert members <= set(cells.needed(z, np.array([boundary * (1 + 1e-11)])).tolist())
        assert not members & set(cells.needed(z, np.array([boundary * (1 - 1e-11)])).tolist())


def test_needed_keeps_a_cell_of_points_equal_to_the_row_at_zero_distance():
    codes = np.repeat([[0.0, 0.0], [50.0, 50.0]], 3, axis=0)
    cells = LabelledCells(codes)
    needed = cells.needed(np.zeros((1, 2)), np.zeros(1))
    np.testing.assert_array_equal(needed, [0, 1, 2])
    assert needed.dtype == np.intp


def test_needed_returns_the_sorted_rows_of_every_cell_in_reach():
    codes = _clusters(2, 5, seed=4)
    cells = LabelledCells(codes)
    near = np.flatnonzero(np.rint(codes[:, 0] / 1000.0) == 1)
    np.testing.assert_array_equal(cells.needed(np.array([[1000.0, 0.0]]), np.array([2.0])), near)
    np.testing.assert_array_equal(cells.needed(np.array([[1000.0, 0.0], [0.0, 0.0]]),
                                               np.array([2.0, 2.0])), np.arange(10))
    np.testing.assert_array_equal(cells.needed(np.array([[500.0, 0.0]]), np.array([1e4])),
                                  np.arange(10))


def test_needed_with_no_cell_in_reach_is_empty():
    cells = LabelledCells(_clusters(2, 4, seed=5))
    needed = cells.needed(np.array([[500.0, 400.0]]), np.array([1.0]))
    assert needed.shape == (0,) and needed.dtype == np.intp


def test_needed_keeps_a_cell_whose_bound_equals_its_radius():
    """At equality the cell is not certainly out of reach: it is kept."""
    cells = LabelledCells(np.array([[-1.0], [1.0], [2000.0], [2002.0]]))
    cell = _cell_at(cells, 0.0)
    assert cells.centres[cell, 0] == 0.0 and cells.radius[cell] == 1.0 * (1 + _EPS) + 1e-150
    lowered = np.sqrt((1 - _EPS) * 4.0 - 1e-150)  # the lowered distance from 2 to the centre 0
    reach = lowered - cells.radius[cell]
    start = reach / (1 + _EPS)
    candidates = [start + step * np.spacing(start) for step in range(-4, 5)]
    within = [w for w in candidates if w * (1 + _EPS) + 1e-150 == reach]
    assert within and lowered - (within[0] * (1 + _EPS) + 1e-150) == cells.radius[cell]
    np.testing.assert_array_equal(cells.needed(np.array([[2.0]]), np.array(within[:1])),
                                  cells.members[cell])
