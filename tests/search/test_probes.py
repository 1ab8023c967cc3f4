"""The partitioned search's probe lists: only the short ones grow, nearby coarse cells suffice."""

from __future__ import annotations

import numpy as np
from search_cases import blobs, recall, true_neighbours

from modal_ibal.search import probes
from modal_ibal.search.knn_partitioned import partitioned_neighbours


def test_many_duplicates_extend_only_the_short_probe_lists(monkeypatch):
    """Exact copies empty most cells: only the cells whose probes hold too few points grow."""
    from modal_ibal.search import knn_partitioned

    rng = np.random.default_rng(0)
    copies = np.repeat(rng.standard_normal((5, 16)), 5_000, axis=0)
    Z = np.vstack([copies, rng.standard_normal((5_000, 16))]).astype(np.float32)
    listed = []
    original = probes._probe_lists

    def recording(centres, n_probes, rows=None):
        listed.append((centres.shape[0] if rows is None else len(rows), n_probes))
        return original(centres, n_probes, rows)

    monkeypatch.setattr(probes, "_probe_lists", recording)
    found, squared = partitioned_neighbours(Z, 20)
    n_cells = listed[0][0]
    assert len(listed) > 1, "the fixture must leave some probe lists short"
    assert all(rows < n_cells for rows, _ in listed[1:]), "only the short rows are listed again"
    assert sum(rows * probes for rows, probes in listed) < n_cells * n_cells / 2

    def full_lists(centres, sizes, n_candidates, cell_size, coarse=None):  # all probe all
        lists = original(centres, centres.shape[0])
        counts = np.cumsum(sizes[lists], axis=1)
        taken = np.arange(lists.shape[1]) < ((counts < n_candidates).sum(axis=1) + 1)[:, None]
        return lists[taken], np.concatenate([[0], np.cumsum(taken.sum(axis=1))])

    monkeypatch.setattr(knn_partitioned, "probe_cells", full_lists)
    reference = partitioned_neighbours(Z, 20)
    np.testing.assert_array_equal(found, reference[0])
    np.testing.assert_array_equal(squared, reference[1])
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
