"""The partitioned search's probe lists: nearest centres first, all pairs up to the threshold, only the short ones grow."""

from __future__ import annotations

import itertools

import numpy as np
from search_cases import blobs, recall, true_neighbours

from modal_ibal.search import _probes as probes
from modal_ibal.search._knn_partitioned import partitioned_neighbours


def _all_probe_all(centres, sizes, n_candidates):
    """Reference: every cell ranks every cell, then takes them until it has the candidates."""
    lists = probes._probe_lists(centres, centres.shape[0])
    counts = np.cumsum(sizes[lists], axis=1)
    taken = np.arange(lists.shape[1]) < ((counts < n_candidates).sum(axis=1) + 1)[:, None]
    return lists[taken], np.concatenate([[0], np.cumsum(taken.sum(axis=1))])


def test_only_the_short_probe_lists_are_extended(monkeypatch):
    """Empty cells around a clump leave its lists short: only those cells are listed again.

    Integer centres make every centre-to-centre score exact, so the lists are the
    same on any CPU.
    """
    rng = np.random.default_rng(0)
    centres = rng.integers(-20, 20, size=(400, 8)).astype(np.float64)
    centres[:60] = centres[0]  # a clump of 60 cells at one place (as exact copies make) ...
    sizes = np.full(400, 64)
    sizes[:59] = 0  # ... all empty but its last
    listed = []
    original = probes._probe_lists

    def recording(centres, n_probes, rows=None, among=None):
        listed.append((centres.shape[0] if rows is None else len(rows), n_probes))
        return original(centres, n_probes, rows, among)

    monkeypatch.setattr(probes, "_probe_lists", recording)
    cells, starts = probes.probe_cells(centres, sizes, 512, 64)
    assert listed[0] == (400, 32)
    assert len(listed) > 1 and all(rows < 100 for rows, _ in listed[1:]), \
        "only the cells at and around the clump are listed again"
    assert sum(rows * n for rows, n in listed) < 400 * 400 / 2
    reference = _all_probe_all(centres, sizes, 512)
    np.testing.assert_array_equal(cells, reference[0])
    np.testing.assert_array_equal(starts, reference[1])
    held = np.add.reduceat(sizes[cells], starts[:-1])
    assert (held >= 512).all(), "every list ends up with enough candidates"


def test_many_duplicates_find_what_probing_every_cell_finds(monkeypatch):
    """Exact copies empty most cells; the short probe lists, extended, find what all cells do.

    Which copies are a copy's neighbours is a choice among equal distances (0): the
    search promises the distances, to rounding, and that they are true distances.
    """
    from modal_ibal.search import _knn_partitioned as knn_partitioned

    rng = np.random.default_rng(0)
    copies = np.repeat(rng.standard_normal((5, 16)), 5_000, axis=0)
    Z = np.vstack([copies, rng.standard_normal((5_000, 16))]).astype(np.float32)
    found, squared = partitioned_neighbours(Z, 20)
    monkeypatch.setattr(knn_partitioned, "probe_cells",
                        lambda centres, sizes, n_candidates, *_, **__: _all_probe_all(
                            centres, sizes, n_candidates))
    _, reference = partitioned_neighbours(Z, 20)
    np.testing.assert_allclose(squared, reference, rtol=1e-4, atol=1e-4)
    true_squared = ((Z[found] - Z[:, None, :]) ** 2).sum(axis=2)  # [M, k]
    np.testing.assert_allclose(squared, true_squared, rtol=1e-4, atol=1e-4)
    assert all(len(set(row)) == 20 for row in found), "neighbours are distinct"
    group = np.arange(25_000)[:, None] // 5_000
    assert (found[:25_000] // 5_000 == group).all(), "each copy's neighbours are its copies"


def test_probe_lists_among_nearby_coarse_cells_keep_the_search(monkeypatch):
    """Above the all-pairs threshold a cell's probes come from nearby coarse cells only."""
    Z = blobs(20_000)
    all_pairs = partitioned_neighbours(Z, 10, cell_size=16)
    chosen = []
    original = probes._probe_lists

    def recording(centres, n_probes, rows=None, among=None):
        lists = original(centres, n_probes, rows, among)
        if among is not None:
            chosen.append((rows, among, lists))
        return lists

    monkeypatch.setattr(probes, "_ALL_PAIRS_MAX_CELLS", 0)
    monkeypatch.setattr(probes, "_NEAR_COARSE", 4)
    monkeypatch.setattr(probes, "_probe_lists", recording)
    nearby = partitioned_neighbours(Z, 10, cell_size=16)
    assert chosen, "the nearby-coarse lists must have been used"
    for rows, among, lists in chosen:
        assert len(among) < 1_250  # fewer than all the cells
        np.testing.assert_array_equal(lists[:, 0], rows)  # each cell first in its own list
        assert np.isin(lists, among).all()
    truth = true_neighbours(Z, 10)
    assert recall(nearby[0], truth) >= recall(all_pairs[0], truth) - 0.01


def test_equal_centre_distances_are_probed_by_the_lower_cell_whatever_the_cpu():
    """Ties among equally near cells go to the lower cell, not to argpartition's algorithm."""
    rng = np.random.default_rng(3)
    values = rng.integers(0, 4, size=(50, 40)).astype(np.float64)  # many exact ties
    for n in (1, 5, 17, 39, 40):
        chosen = probes._smallest_columns(values, n)
        columns = np.broadcast_to(np.arange(40), values.shape)
        reference = np.lexsort((columns, values), axis=1)[:, :n]  # by value, then column
        np.testing.assert_array_equal(np.sort(chosen, axis=1), np.sort(reference, axis=1))


def _nearest_first(centres):
    """Reference: every cell's cells by exact (integer) squared distance, itself first, ties to the lower."""
    squared = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(squared, -1)
    columns = np.broadcast_to(np.arange(len(centres)), squared.shape)
    return np.lexsort((columns, squared), axis=1)  # [K, K]


def test_each_cell_probes_the_cells_with_the_nearest_centres_first():
    centres = np.random.default_rng(4).integers(-10, 10, size=(60, 3)).astype(np.float64)
    cells, starts = probes.probe_cells(centres, np.ones(60, dtype=int), 5, 1)
    np.testing.assert_array_equal(np.diff(starts), 5)
    np.testing.assert_array_equal(cells.reshape(60, 5), _nearest_first(centres)[:, :5])


def test_smallest_columns_of_wide_rows_from_one_to_every_column():
    values = np.random.default_rng(5).permutation(30 * 1000).reshape(30, 1000).astype(np.float64)
    for n in (1, 2, 500, 999, 1000):
        chosen = probes._smallest_columns(values, n)
        np.testing.assert_array_equal(chosen, np.sort(np.argsort(values, axis=1)[:, :n], axis=1))


def _grouped_centres(n_groups, per_group, seed):
    """Integer centres cut into coarse cells at random: a cell's nearest cells lie in other groups."""
    centres = np.random.default_rng(seed).integers(-10, 10, size=(n_groups * per_group, 3))
    centres = centres.astype(np.float64)
    coarse_centres = centres.reshape(n_groups, per_group, 3).mean(axis=1)
    return centres, (coarse_centres, np.arange(0, n_groups * per_group + 1, per_group))


def test_up_to_the_threshold_every_pair_of_cells_is_compared(monkeypatch):
    centres, coarse = _grouped_centres(8, 5, seed=6)
    monkeypatch.setattr(probes, "_ALL_PAIRS_MAX_CELLS", 40)  # exactly the cells there are
    monkeypatch.setattr(probes, "_NEAR_COARSE", 1)
    sizes = np.ones(40, dtype=int)
    with_coarse = probes.probe_cells(centres, sizes, 4, 4, coarse)
    all_pairs = probes.probe_cells(centres, sizes, 4, 4)
    np.testing.assert_array_equal(with_coarse[0], all_pairs[0])
    np.testing.assert_array_equal(with_coarse[1], all_pairs[1])
    group = np.arange(40) // 5
    assert (all_pairs[0].reshape(40, 4) // 5 != group[:, None]).any(), \
        "some nearest cells lie in other coarse cells"


def test_above_the_threshold_probes_stay_in_the_nearby_coarse_cells(monkeypatch):
    """Nearby coarse cells holding exactly the cells a list needs are enough."""
    centres, coarse = _grouped_centres(10, 4, seed=7)
    monkeypatch.setattr(probes, "_ALL_PAIRS_MAX_CELLS", 0)
    monkeypatch.setattr(probes, "_NEAR_COARSE", 1)  # a cell's own coarse cell only
    cells, starts = probes.probe_cells(centres, np.ones(40, dtype=int), 4, 4, coarse)
    np.testing.assert_array_equal(np.diff(starts), 4)  # n_probes = 4 = cells per coarse cell
    lists = cells.reshape(40, 4)
    np.testing.assert_array_equal(lists[:, 0], np.arange(40))
    np.testing.assert_array_equal(lists // 4, np.repeat(np.arange(10), 4)[:, None] + np.zeros(4, int))


def test_a_list_is_extended_only_while_it_holds_too_few_points(monkeypatch):
    """Lists of exactly ``n_candidates`` points are done; the others are listed again, twice as long."""
    rng = np.random.default_rng(8)
    centres = rng.integers(-10, 10, size=(30, 2)).astype(np.float64)
    sizes = rng.integers(0, 4, size=30)
    listed = []
    original = probes._probe_lists

    def recording(centres, n_probes, rows=None, among=None):
        listed.append((np.arange(len(centres)) if rows is None else rows.copy(), n_probes))
        return original(centres, n_probes, rows, among)

    monkeypatch.setattr(probes, "_probe_lists", recording)
    cells, starts = probes.probe_cells(centres, sizes, 8, 8)  # 4 probes first
    nearest = _nearest_first(centres)
    held = np.cumsum(sizes[nearest], axis=1)  # [K, K]
    assert (held[:, 3] == 8).any() and ((held[:, 2] < 8) & (held[:, 3] >= 8)).any()
    assert [n for _, n in listed] == [min(30, 4 * 2 ** i) for i in range(len(listed))]
    for (_, n), (again, _) in itertools.pairwise(listed):
        np.testing.assert_array_equal(again, np.flatnonzero(held[:, n - 1] < 8))
    for cell in range(30):
        taken = min(30, int((held[cell] < 8).sum()) + 1)
        np.testing.assert_array_equal(cells[starts[cell]:starts[cell + 1]], nearest[cell, :taken])
