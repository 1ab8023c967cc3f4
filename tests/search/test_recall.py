"""The partitioned search's recall, measured at query time, and what is done below its target."""

import random
import warnings

import numpy as np
import pytest
import torch
from conftest import assert_same_rng_states, global_rng_states

from modal_ibal.search import _knn as knn
from modal_ibal.search._knn import nearest_neighbours, searched_neighbours
from modal_ibal.search._knn_exact import exact_neighbours
from modal_ibal.search._knn_partitioned import partitioned_neighbours
from modal_ibal.search._recall import (
    SearchOutcome,
    SearchRecallWarning,
    check_recall_target,
    kth_smallest,
    sample_rows,
    sampled_recall,
    widened_search,
    within_radius,
)


def structureless(n_points, n_dims, seed=0):
    """Unit-normalised Gaussian rows: no cluster for an inverted file to exploit."""
    Z = np.random.default_rng(seed).standard_normal((n_points, n_dims)).astype(np.float32)
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


def sorted_sets(neighbours):
    return [set(row) for row in neighbours]


@pytest.mark.parametrize("n_wrong", [0, 1, 3, 7])
def test_recall_counts_the_true_neighbours_among_those_found(n_wrong):
    Z = np.random.default_rng(3).standard_normal((400, 5))
    k = 8
    found = exact_neighbours(Z, k)[0].copy()
    far = np.argsort(-np.linalg.norm(Z, axis=1))[:k]  # the outermost points: never a true neighbour here
    for row in range(len(Z)):
        replace = [c for c in far if c not in found[row]][:n_wrong]
        not_self = [j for j in range(k) if found[row, j] != row][:n_wrong]
        found[row, not_self] = replace
    assert sampled_recall(Z, found, n_sample=400) == pytest.approx((k - n_wrong) / k)


def test_recall_of_a_sample_matches_every_row_of_it():
    Z = structureless(3_000, 32)
    found = partitioned_neighbours(Z, 10, n_candidates=128)[0]
    rows = sample_rows(len(Z), 256)
    truth = exact_neighbours(Z, 10)[0]
    direct = np.mean([len(set(found[r]) & set(truth[r])) / 10 for r in rows])
    assert sampled_recall(Z, found) == pytest.approx(direct)
    assert 0.1 < direct < 0.9  # neither trivial case


def test_neighbours_tied_with_the_kth_count_as_found():
    grid = np.array([[x, y] for x in range(-5, 6) for y in range(-5, 6)], dtype=np.float64)
    exact = exact_neighbours(grid, 3)[0]  # the point and two of its four neighbours at distance 1
    other = exact.copy()
    centre = 60  # (0, 0): neighbours at distance 1 are 49, 59, 61, 71
    other[centre] = [centre, *[c for c in (49, 59, 61, 71) if c not in exact[centre]][:2]]
    assert set(other[centre]) != set(exact[centre])
    assert sampled_recall(grid, other, n_sample=len(grid)) == 1.0


def test_distances_beyond_the_radius_are_dropped_and_the_kth_is_found():
    rng = np.random.default_rng(0)
    queries, points = rng.standard_normal((5, 3)), rng.standard_normal((200, 3))
    squared = ((queries[:, None, :] - points[None]) ** 2).sum(axis=2)  # [5, 200]
    radius = np.sort(squared, axis=1)[:, 9]
    rows, kept = within_radius(queries, points, radius, np.full(5, 1e-12))
    assert np.bincount(rows, minlength=5).tolist() == [10] * 5
    np.testing.assert_allclose(kth_smallest(rows, kept, 5, 4), np.sort(squared, axis=1)[:, 3])


def test_the_sample_is_fixed_and_leaves_global_random_state_alone():
    random.seed(5)
    np.random.seed(5)  # noqa: NPY002  (the legacy global state is what must stay untouched)
    torch.manual_seed(5)
    before = global_rng_states()
    first, second = sample_rows(10_000, 256), sample_rows(10_000, 256)
    assert_same_rng_states(before, global_rng_states())
    np.testing.assert_array_equal(first, second)
    assert len(np.unique(first)) == 256 and np.all(np.diff(first) > 0)
    np.testing.assert_array_equal(sample_rows(100, 256), np.arange(100))


def test_widening_multiplies_the_candidates_until_the_target_or_the_cap():
    tried = []

    def search(n_candidates):
        tried.append(n_candidates)
        return np.full((1, 1), n_candidates), None

    def recall(found):
        return {16: 0.5, 64: 0.8, 256: 0.95}.get(int(found[0, 0]), 0.0)

    assert widened_search(search, recall, 16, 100_000, 0.9)[2] == SearchOutcome(
        "partitioned", 256, 0.95, True)
    assert tried == [16, 64, 256]
    tried.clear()
    outcome = widened_search(search, recall, 16, 3_000, 0.9)  # cap 3,000 // 16 = 187
    assert tried == [16, 64] and outcome[2] == SearchOutcome("partitioned", 64, 0.8, False)
    tried.clear()
    assert widened_search(search, recall, 16, 2_000, None)[2] == SearchOutcome("partitioned", 16)
    assert tried == [16]


def test_widening_stops_where_it_cannot_double_its_way_to_the_target():
    tried = []

    def search(n_candidates):
        tried.append(n_candidates)
        return np.full((1, 1), n_candidates), None

    recalls = {16: 0.44, 64: 0.9}
    outcome = widened_search(search, lambda found: recalls[int(found[0, 0])], 16, 100_000, 0.9)
    assert tried == [16] and outcome[2] == SearchOutcome("partitioned", 16, 0.44, False)
    recalls[16] = 0.45  # half the target: worth one more try
    tried.clear()
    assert widened_search(search, lambda found: recalls[int(found[0, 0])], 16, 100_000,
                          0.9)[2].met
    assert tried == [16, 64]


def test_widening_reaches_the_target_on_low_dimensional_data():
    Z = np.random.default_rng(1).standard_normal((6_000, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SearchRecallWarning)
        neighbours, _, outcome = searched_neighbours(Z, 10, algorithm="partitioned",
                                                     cell_size=16, n_candidates=16)
    assert outcome.method == "partitioned" and outcome.met
    assert outcome.n_candidates > 16 and outcome.recall >= 0.8
    assert sampled_recall(Z, neighbours) == outcome.recall
    single = partitioned_neighbours(Z, 10, cell_size=16, n_candidates=16)[0]
    assert sampled_recall(Z, single) < 0.8  # the first search alone fell short


def test_structureless_codes_fall_back_to_the_exact_search_under_auto(monkeypatch):
    Z = structureless(4_000, 64)
    monkeypatch.setattr(knn, "EXACT_SEARCH_MAX_POINTS", 1_000)
    with pytest.warns(SearchRecallWarning, match=r"found \d+\.\d% of the true 10 .*searched exactly"):
        neighbours, squared, outcome = searched_neighbours(Z, 10)
    assert outcome == SearchOutcome("brute", 512, outcome.recall)  # the widest candidates tried
    assert outcome.recall < 0.5
    exact = exact_neighbours(Z, 10)
    assert sorted_sets(neighbours) == sorted_sets(exact[0])
    np.testing.assert_allclose(np.sort(squared, axis=1), np.sort(exact[1], axis=1))


def test_structureless_codes_keep_the_approximation_when_it_was_asked_for():
    Z = structureless(4_000, 64)
    with pytest.warns(SearchRecallWarning, match="approximate result is kept"):
        neighbours, _, outcome = searched_neighbours(Z, 10, algorithm="partitioned")
    assert outcome == SearchOutcome("partitioned", 512, outcome.recall, False)
    assert outcome.recall < 0.5
    np.testing.assert_array_equal(neighbours, partitioned_neighbours(Z, 10)[0])


def test_clustered_codes_pass_the_check_silently_and_unchanged(monkeypatch):
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((40, 16))
    Z = centres[rng.integers(0, 40, 4_000)] + 0.05 * rng.standard_normal((4_000, 16))
    monkeypatch.setattr(knn, "EXACT_SEARCH_MAX_POINTS", 1_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SearchRecallWarning)
        neighbours, squared = nearest_neighbours(Z, 10)
    expected = partitioned_neighbours(Z, 10)
    np.testing.assert_array_equal(neighbours, expected[0])
    np.testing.assert_array_equal(squared, expected[1])


def test_no_target_skips_the_check():
    Z = structureless(4_000, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SearchRecallWarning)
        neighbours, _, outcome = searched_neighbours(Z, 10, algorithm="partitioned",
                                                     recall_target=None)
    assert outcome == SearchOutcome("partitioned", 512)
    np.testing.assert_array_equal(neighbours, partitioned_neighbours(Z, 10)[0])


def test_the_exact_search_is_not_measured():
    assert searched_neighbours(structureless(300, 8), 5)[2] == SearchOutcome("brute")


@pytest.mark.parametrize("target", [0.0, -0.1, 1.01, float("nan")])
def test_recall_target_out_of_range_is_named(target):
    with pytest.raises(ValueError, match=r"'recall_target'.*\(0, 1\]"):
        nearest_neighbours(structureless(50, 4), 5, recall_target=target)


@pytest.mark.parametrize("target", ["0.9", True, [0.9]])
def test_recall_target_of_the_wrong_type_is_named(target):
    with pytest.raises(TypeError, match="'recall_target'"):
        check_recall_target(target)


def test_recall_target_accepts_one_and_none():
    assert check_recall_target(1) == 1.0 and check_recall_target(None) is None


def test_faiss_finds_the_exact_neighbours_of_large_float32_searches(monkeypatch):
    pytest.importorskip("faiss")
    from modal_ibal.search import _knn_faiss as knn_faiss

    Z = structureless(2_000, 16)
    Z[:50] = Z[50:100]  # exact duplicates: each point must still hold itself
    expected = exact_neighbours(Z, 8)
    got = knn_faiss.faiss_exact_neighbours(Z, 8)
    assert all((got[0] == np.arange(len(Z))[:, None]).any(axis=1))
    np.testing.assert_allclose(np.sort(got[1], axis=1), np.sort(expected[1], axis=1), atol=1e-6)
    same = [a == b for a, b in zip(sorted_sets(got[0]), sorted_sets(expected[0]), strict=True)]
    assert sum(same) >= len(Z) - 100  # only rows among duplicates may choose other twins
    used = []
    monkeypatch.setattr(knn, "faiss_exact_neighbours",
                        lambda Z, k: used.append(Z.dtype) or expected)
    monkeypatch.setattr(knn, "EXACT_SEARCH_MAX_POINTS", 1_000)
    knn.exact_search(Z, 8)
    knn.exact_search(Z.astype(np.float64), 8)  # float64: scikit-learn keeps the precision
    knn.exact_search(Z[:1_000], 8)  # up to the limit: scikit-learn, as before
    assert used == [np.float32]
