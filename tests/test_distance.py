"""Nearest-labelled distance (Eq. 3): block-wise search against brute force and a double loop."""

from __future__ import annotations

import numpy as np
import pytest
from modAL.models import ActiveLearner
from scipy.spatial.distance import cdist
from sklearn.linear_model import LogisticRegression

from modal_ibal.distance import (
    nearest_labelled_distance,
    nearest_labelled_index,
    normalise_by_max,
)
from modal_ibal.distance_cache import LabelledDistanceCache


def _brute_force(Z_pool, Z_labelled):
    distances = cdist(np.asarray(Z_pool, np.float64), np.asarray(Z_labelled, np.float64))
    return distances.argmin(axis=1), distances.min(axis=1)


def _double_loop(Z_pool, Z_labelled):
    """The float64 reference: every pair's squared distance, first minimum, its square root."""
    Z_pool = np.asarray(Z_pool, np.float64).reshape(len(Z_pool), -1)
    Z_labelled = np.asarray(Z_labelled, np.float64).reshape(len(Z_labelled), -1)
    nearest = np.zeros(len(Z_pool), dtype=np.intp)
    distance = np.zeros(len(Z_pool))
    for i, z in enumerate(Z_pool):
        squared = [np.sum((z - t) ** 2) for t in Z_labelled]
        nearest[i] = int(np.argmin(squared))  # the first of equal minima
        distance[i] = np.sqrt(squared[nearest[i]])
    return nearest, distance


def _float32_winner(Z_pool, Z_labelled):
    """What float32 screening alone would pick: the expansion in float32, no re-check."""
    pool = np.asarray(Z_pool, np.float32)
    labelled = np.asarray(Z_labelled, np.float32)
    scores = (labelled**2).sum(axis=1) - 2.0 * pool @ labelled.T  # [N, n] float32
    return scores.argmin(axis=1)


def _near_ties(rng):
    """Pool points almost equidistant from several labelled points: float32 cannot rank them."""
    pool = rng.standard_normal((40, 6)) * 10.0
    directions = rng.standard_normal((40, 3, 6))
    directions /= np.linalg.norm(directions, axis=2, keepdims=True)
    radii = 1.0 + rng.integers(-3, 4, (40, 3)) * 1e-12  # distances equal up to 3e-12
    labelled = (pool[:, None, :] + radii[..., None] * directions).reshape(120, 6)
    return pool, labelled[rng.permutation(120)]


def _datasets():
    rng = np.random.default_rng(7)
    offset = 1e4 + rng.standard_normal((1, 5))
    cases = {
        "normal float32": (rng.standard_normal((90, 5)).astype(np.float32),
                           rng.standard_normal((33, 5)).astype(np.float32)),
        "near ties": _near_ties(rng),
        "large offset": (offset + 1e-3 * rng.standard_normal((60, 5)),
                         offset + 1e-3 * rng.standard_normal((25, 5))),
        "tiny scale": (1e-30 * rng.standard_normal((50, 4)), 1e-30 * rng.standard_normal((20, 4))),
        "huge scale": (1e30 * rng.standard_normal((50, 4)), 1e30 * rng.standard_normal((20, 4))),
        "far pool": (np.vstack([1e35 * rng.standard_normal((10, 3)), rng.standard_normal((10, 3))]),
                     rng.standard_normal((15, 3))),
        "duplicates": (rng.integers(0, 3, (70, 3)).astype(np.float64),
                       rng.integers(0, 3, (30, 3)).astype(np.float64)),
        "integers": (rng.integers(-5, 5, (50, 4)), rng.integers(-5, 5, (12, 4))),
        "float16": (rng.standard_normal((40, 4)).astype(np.float16),
                    rng.standard_normal((9, 4)).astype(np.float16)),
        "one labelled": (rng.standard_normal((20, 3)), rng.standard_normal((1, 3))),
        "equal labelled": (rng.standard_normal((20, 3)), np.full((6, 3), 0.1)),
        "no dimensions": (np.zeros((5, 0)), np.zeros((3, 0))),
    }
    return cases


DATASETS = _datasets()


@pytest.mark.parametrize("block_elements", [1, 7, 300, 4096, 1 << 22])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_equals_brute_force_for_every_block_size(block_elements, dtype):
    rng = np.random.default_rng(0)
    Z_pool = rng.standard_normal((400, 5)).astype(dtype)
    Z_labelled = rng.standard_normal((37, 5)).astype(dtype)
    nearest, distance = nearest_labelled_index(Z_pool, Z_labelled, block_elements=block_elements)
    expected_nearest, expected = _brute_force(Z_pool, Z_labelled)
    np.testing.assert_allclose(distance, expected, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(nearest, expected_nearest)
    assert distance.dtype == np.float64 and nearest.dtype == np.intp


@pytest.mark.parametrize("name", list(DATASETS))
@pytest.mark.parametrize("block_elements", [1, 7, 300, 1 << 22])
def test_equals_the_float64_double_loop_exactly(name, block_elements):
    Z_pool, Z_labelled = DATASETS[name]
    nearest, distance = nearest_labelled_index(Z_pool, Z_labelled, block_elements=block_elements)
    expected_nearest, expected = _double_loop(Z_pool, Z_labelled)
    np.testing.assert_array_equal(nearest, expected_nearest)
    np.testing.assert_array_equal(distance, expected)


@pytest.mark.parametrize("name", ["near ties", "large offset"])
def test_the_datasets_defeat_float32_alone(name):
    """The exact tests have teeth: float32 screening without the re-check picks wrong rows."""
    Z_pool, Z_labelled = DATASETS[name]
    expected = _double_loop(Z_pool, Z_labelled)[0]
    assert np.any(_float32_winner(Z_pool, Z_labelled) != expected)


def test_large_pool_with_small_blocks():
    """20,000 x 500 in blocks of 4096 scores: many pool and labelled chunks."""
    rng = np.random.default_rng(1)
    Z_pool = rng.standard_normal((20_000, 16)).astype(np.float32)
    Z_labelled = rng.standard_normal((500, 16)).astype(np.float32)
    distance = nearest_labelled_distance(Z_pool, Z_labelled, block_elements=4096)
    np.testing.assert_allclose(distance, _brute_force(Z_pool, Z_labelled)[1], rtol=1e-12)


def test_duplicates_of_labelled_points_are_exactly_zero():
    rng = np.random.default_rng(2)
    Z_labelled = 1e3 + rng.standard_normal((50, 8))  # large norms: cancellation would show
    Z_pool = np.vstack([Z_labelled[::-1], Z_labelled[:5] + 1.0, rng.standard_normal((20, 8))])
    distance = nearest_labelled_distance(Z_pool, Z_labelled, block_elements=64)
    assert np.all(distance[:50] == 0.0)
    assert np.all(distance[50:] > 0)
    np.testing.assert_allclose(distance, _brute_force(Z_pool, Z_labelled)[1], rtol=1e-12)


@pytest.mark.parametrize("block_elements", [1, 3, 1 << 22])
def test_ties_go_to_the_lower_labelled_row(block_elements):
    Z_labelled = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 0.0]])
    Z_pool = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    nearest, distance = nearest_labelled_index(Z_pool, Z_labelled, block_elements=block_elements)
    np.testing.assert_array_equal(nearest, [0, 0, 0])  # row 3 duplicates row 0
    np.testing.assert_array_equal(distance, [1.0, 0.0, 1.0])


def test_images_are_flattened_per_row():
    rng = np.random.default_rng(3)
    Z_pool, Z_labelled = rng.random((30, 1, 4, 4)), rng.random((6, 1, 4, 4))
    np.testing.assert_allclose(
        nearest_labelled_distance(Z_pool, Z_labelled),
        _brute_force(Z_pool.reshape(30, -1), Z_labelled.reshape(6, -1))[1], rtol=1e-12)


def test_empty_pool_gives_empty_distances():
    assert nearest_labelled_distance(np.zeros((0, 3)), np.ones((2, 3))).shape == (0,)


@pytest.mark.parametrize(
    ("Z_pool", "Z_labelled", "kwargs", "error", "match"),
    [
        (np.ones((3, 2)), np.ones((0, 2)), {}, ValueError, "labelled set is empty"),
        (np.ones((3, 2)), np.ones((2, 3)), {}, ValueError, "2 dimensions but labelled"),
        (np.array([[np.nan, 1.0]]), np.ones((2, 2)), {}, ValueError, "'Z_pool' .* NaN"),
        (np.ones((3, 2)), np.array([[np.inf, 1.0]]), {}, ValueError, "'Z_labelled' .* NaN"),
        (np.array([["a", "b"]]), np.ones((2, 2)), {}, ValueError, "'Z_pool' .* numeric"),
        (np.ones((3, 2)), np.ones((2, 2)), {"block_elements": 0}, ValueError,
         "'block_elements' parameter must be a positive int"),
    ],
)
def test_invalid_inputs_raise(Z_pool, Z_labelled, kwargs, error, match):
    with pytest.raises(error, match=match):
        nearest_labelled_distance(Z_pool, Z_labelled, **kwargs)


@pytest.mark.parametrize(
    ("values", "expected"),
    [([1.0, -4.0, 2.0], [0.25, -1.0, 0.5]), ([0.0, 0.0], [0.0, 0.0]), ([], [])],
)
def test_normalise_by_max(values, expected):
    np.testing.assert_array_equal(normalise_by_max(np.array(values)), expected)


# ------------------------------------------------------------------ LabelledDistanceCache


def _codes(rng, n, dims=4, dtype=np.float32):
    """Clustered codes with some exact duplicates, like an autoencoder's on noisy copies."""
    centers = rng.standard_normal((5, dims)) * 3.0
    codes = centers[rng.integers(0, 5, n)] + rng.standard_normal((n, dims))
    codes[rng.integers(0, n, n // 20)] = codes[rng.integers(0, n, n // 20)]
    return codes.astype(dtype)


def _assert_same_as_search(cache, Z_pool, Z_labelled):
    nearest, distance = cache.nearest_labelled_index(Z_pool, Z_labelled)
    expected_nearest, expected = nearest_labelled_index(Z_pool, Z_labelled)
    np.testing.assert_array_equal(nearest, expected_nearest)
    np.testing.assert_array_equal(distance, expected)
    np.testing.assert_array_equal(cache.nearest_labelled_distance(Z_pool, Z_labelled), expected)


@pytest.mark.parametrize("block_elements", [64, 1 << 22])
def test_cache_follows_a_modal_loop_and_updates_only(block_elements):
    """Query, np.delete the rows from the pool, append them to the labelled set: exact each round."""
    rng = np.random.default_rng(10)
    Z_pool, Z_labelled = _codes(rng, 600), _codes(rng, 20)
    cache = LabelledDistanceCache(block_elements=block_elements)
    _assert_same_as_search(cache, Z_pool, Z_labelled)
    assert (cache.n_searched, cache.n_updated) == (600, 600)  # one search, then a repeat
    for round_ in range(4):
        queried = rng.choice(len(Z_pool), 5 + round_, replace=False)
        Z_labelled = np.concatenate([Z_labelled, Z_pool[queried]])
        Z_pool = np.delete(Z_pool, queried, axis=0)
        _assert_same_as_search(cache, Z_pool, Z_labelled)
    assert cache.n_searched == 600  # never searched in full again


@pytest.mark.parametrize("name", list(DATASETS))
def test_cache_update_is_exact_on_every_dataset(name):
    """Old winners against new labelled rows at near-equal distances, ties, far rows, scales."""
    Z_pool, Z_labelled = DATASETS[name]
    Z_labelled = np.concatenate([Z_labelled, Z_labelled[:2]])  # new rows tying old ones
    cache = LabelledDistanceCache(block_elements=300)
    for n_labelled in sorted({max(1, len(Z_labelled) // 3), max(1, len(Z_labelled) - 2),
                              len(Z_labelled)}):
        _assert_same_as_search(cache, Z_pool, Z_labelled[:n_labelled])
    assert cache.n_searched == len(Z_pool)


def test_cache_in_a_modal_active_learner():
    """modAL's own loop: query, teach (appends to X_training), np.delete from the pool."""
    rng = np.random.default_rng(11)
    X = _codes(rng, 400, dims=6, dtype=np.float64)
    y = (X[:, 0] > X[:, 1]).astype(int)
    cache = LabelledDistanceCache()
    seen = []

    def farthest(classifier, X_pool, n_instances=1):
        embed = lambda X: X[:, :4] * 2.0 + 1.0  # noqa: E731 (row by row: stable codes)
        distance = cache.nearest_labelled_distance(embed(X_pool), embed(classifier.X_training))
        np.testing.assert_array_equal(
            distance, nearest_labelled_distance(embed(X_pool), embed(classifier.X_training)))
        seen.append(len(X_pool))
        chosen = np.argsort(-distance, kind="stable")[:n_instances]
        return chosen, distance[chosen]

    learner = ActiveLearner(LogisticRegression(), query_strategy=farthest,
                            X_training=X[:10], y_training=y[:10])
    X_pool, y_pool = X[10:], y[10:]
    for _ in range(5):
        queried, _ = learner.query(X_pool, n_instances=3)
        learner.teach(X_pool[queried], y_pool[queried])
        X_pool, y_pool = np.delete(X_pool, queried, axis=0), np.delete(y_pool, queried)
    assert seen == [390, 387, 384, 381, 378]
    assert cache.n_searched == 390 and cache.n_updated == sum(seen[1:])


def test_cache_matches_a_reordered_pool_by_content():
    rng = np.random.default_rng(12)
    Z_pool, Z_labelled = _codes(rng, 300), _codes(rng, 15)
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool, Z_labelled)
    shuffled = Z_pool[rng.permutation(300)][:250]
    Z_labelled = np.concatenate([Z_labelled, _codes(rng, 4)])
    _assert_same_as_search(cache, shuffled, Z_labelled)
    assert cache.n_searched == 300  # every shuffled row was found again


def test_cache_searches_rows_mutated_in_place():
    """The caller's arrays may change after a call: the cache keeps copies, never stale results."""
    rng = np.random.default_rng(13)
    Z_pool, Z_labelled = _codes(rng, 200), _codes(rng, 10)
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool, Z_labelled)
    Z_pool[[3, 50, 199]] += 0.5
    Z_pool[7, 1] = np.nextafter(Z_pool[7, 1], np.float32(np.inf))  # one ulp
    _assert_same_as_search(cache, Z_pool, Z_labelled)
    assert cache.n_searched == 200 + 4


def test_cache_with_new_pool_rows_searches_only_those():
    rng = np.random.default_rng(14)
    Z_pool, Z_labelled = _codes(rng, 200), _codes(rng, 10)
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool, Z_labelled)
    Z_pool = np.vstack([Z_pool[:120], _codes(rng, 30), Z_pool[150:]])
    Z_labelled = np.concatenate([Z_labelled, Z_pool[:2]])
    _assert_same_as_search(cache, Z_pool, Z_labelled)
    assert cache.n_searched == 200 + 30


@pytest.mark.parametrize(
    "change",
    ["reordered", "first row changed", "shrunk", "mutated in place", "dtype", "width"],
)
def test_cache_searches_in_full_when_the_labelled_set_is_not_an_extension(change):
    rng = np.random.default_rng(15)
    Z_pool, Z_labelled = _codes(rng, 150), _codes(rng, 12)
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool, Z_labelled)
    if change == "reordered":
        Z_labelled = np.concatenate([Z_labelled[::-1], _codes(rng, 3)])
    elif change == "first row changed":
        Z_labelled = np.concatenate([Z_labelled, _codes(rng, 3)])
        Z_labelled[0, 0] += 1.0
    elif change == "shrunk":
        Z_labelled = Z_labelled[:-1]
    elif change == "mutated in place":
        Z_labelled[4] = Z_labelled[5]
    elif change == "dtype":
        Z_pool, Z_labelled = Z_pool.astype(np.float64), Z_labelled.astype(np.float64)
    else:
        Z_pool, Z_labelled = Z_pool[:, :3], Z_labelled[:, :3]
    _assert_same_as_search(cache, Z_pool, Z_labelled)
    assert cache.n_searched == 2 * 150


def test_cache_deletion_of_one_of_two_duplicates():
    """A queried row with a twin left in the pool: not the plain deletion, matched by content."""
    rng = np.random.default_rng(16)
    Z_pool, Z_labelled = _codes(rng, 100), _codes(rng, 8)
    Z_pool[60] = Z_pool[20]
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool, Z_labelled)
    Z_labelled = np.concatenate([Z_labelled, Z_pool[[20]]])
    Z_pool = np.delete(Z_pool, 20, axis=0)
    _assert_same_as_search(cache, Z_pool, Z_labelled)
    assert cache.n_searched == 100
    assert cache.nearest_labelled_distance(Z_pool, Z_labelled)[59] == 0.0  # the twin


def test_cache_deletion_in_many_runs():
    """More kept runs than are compared one by one: the kept rows are compared in one gather."""
    rng = np.random.default_rng(17)
    Z_pool, Z_labelled = _codes(rng, 3000, dims=3), _codes(rng, 5, dims=3)
    Z_pool = np.unique(Z_pool, axis=0)[rng.permutation(len(np.unique(Z_pool, axis=0)))]
    cache = LabelledDistanceCache()
    cache.nearest_labelled_distance(Z_pool, Z_labelled)
    queried = np.arange(0, len(Z_pool), 2)  # every other row: about 1,400 runs
    Z_labelled = np.concatenate([Z_labelled, Z_pool[queried]])
    Z_pool = np.delete(Z_pool, queried, axis=0)
    _assert_same_as_search(cache, Z_pool, Z_labelled)
    assert cache.n_searched == len(Z_pool) + len(queried)


def test_cache_returns_copies_and_clear_forgets():
    rng = np.random.default_rng(18)
    Z_pool, Z_labelled = _codes(rng, 50), _codes(rng, 5)
    cache = LabelledDistanceCache()
    nearest, _ = cache.nearest_labelled_index(Z_pool, Z_labelled)
    nearest[:] = 0
    _assert_same_as_search(cache, Z_pool, Z_labelled)
    cache.clear()
    _assert_same_as_search(cache, Z_pool, Z_labelled)
    assert cache.n_searched == 100


def test_cache_empty_pool():
    cache = LabelledDistanceCache()
    assert cache.nearest_labelled_distance(np.zeros((0, 3)), np.ones((2, 3))).shape == (0,)
    assert cache.nearest_labelled_distance(np.ones((4, 3)), np.ones((3, 3))).tolist() == [0.0] * 4


@pytest.mark.parametrize(
    ("Z_pool", "Z_labelled", "error", "match"),
    [
        (np.ones((3, 2)), np.ones((0, 2)), ValueError, "labelled set is empty"),
        (np.ones((3, 2)), np.ones((2, 3)), ValueError, "2 dimensions but labelled"),
        (np.array([[np.nan, 1.0]]), np.ones((2, 2)), ValueError, "'Z_pool' .* NaN"),
        (np.array([["a", "b"]]), np.ones((2, 2)), ValueError, "'Z_pool' .* numeric"),
    ],
)
def test_cache_invalid_inputs_raise(Z_pool, Z_labelled, error, match):
    with pytest.raises(error, match=match):
        LabelledDistanceCache().nearest_labelled_distance(Z_pool, Z_labelled)


@pytest.mark.parametrize("block_elements", [0, -3, 2.5, True])
def test_cache_invalid_block_elements_raise(block_elements):
    with pytest.raises(ValueError, match="'block_elements' parameter must be a positive int"):
        LabelledDistanceCache(block_elements=block_elements)


@pytest.fixture
def search_by_cells(monkeypatch):
    """Every search goes cell by cell, with cells of four labelled points."""
    from modal_ibal import distance, labelled_cells

    monkeypatch.setattr(distance, "MIN_LABELLED_FOR_CELLS", 1)
    monkeypatch.setattr(distance, "MIN_POOL_FOR_CELLS", 1)
    monkeypatch.setattr(labelled_cells, "_LABELLED_PER_CELL", 4)


@pytest.mark.parametrize("name", list(DATASETS))
def test_search_by_cells_equals_the_float64_double_loop_exactly(name, search_by_cells):
    Z_pool, Z_labelled = DATASETS[name]
    nearest, distance = nearest_labelled_index(Z_pool, Z_labelled, block_elements=300)
    expected_nearest, expected = _double_loop(Z_pool, Z_labelled)
    np.testing.assert_array_equal(nearest, expected_nearest)
    np.testing.assert_array_equal(distance, expected)


def test_search_by_cells_skips_far_cells_and_keeps_ties(monkeypatch):
    from modal_ibal import distance, labelled_cells

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(12, 4)) * 20
    Z_labelled = centres[rng.integers(0, 12, 400)] + rng.normal(size=(400, 4))
    Z_labelled[300:320] = Z_labelled[:20]  # tied labelled rows, the lower one must win
    Z_pool = centres[rng.integers(0, 12, 3000)] + rng.normal(size=(3000, 4))
    Z_pool[:50] = Z_labelled[rng.integers(0, 400, 50)]  # duplicates of labelled rows
    compared = []
    search = distance.search_nearest

    def counting(pool, labelled, *args, **kwargs):
        compared.append(len(pool) * len(labelled))
        return search(pool, labelled, *args, **kwargs)

    monkeypatch.setattr(distance, "search_nearest", counting)
    monkeypatch.setattr(labelled_cells, "_LABELLED_PER_CELL", 8)
    got = distance.search_nearest_in_cells(Z_pool, Z_labelled, 1 << 22)
    assert sum(compared) < 0.5 * 3000 * 400  # most pairs were skipped
    expected_nearest, expected = _brute_force(Z_pool, Z_labelled)
    np.testing.assert_array_equal(got[0], expected_nearest)
    np.testing.assert_allclose(np.sqrt(got[1]), expected, rtol=1e-12, atol=1e-12)


def test_cache_searches_by_cells_on_the_first_round(search_by_cells):
    rng = np.random.default_rng(5)
    Z_pool, Z_labelled = rng.normal(size=(500, 3)), rng.normal(size=(60, 3))
    cache = LabelledDistanceCache()
    np.testing.assert_array_equal(cache.nearest_labelled_distance(Z_pool, Z_labelled),
                                  _double_loop(Z_pool, Z_labelled)[1])


@pytest.mark.parametrize("Z_labelled", [np.zeros((0, 3)), np.zeros((4, 0)), np.full((3, 2), np.nan),
                                        np.zeros(5)])
def test_labelled_cells_reject_bad_codes(Z_labelled):
    from modal_ibal.labelled_cells import LabelledCells

    with pytest.raises(ValueError, match="'Z_labelled' parameter"):
        LabelledCells(Z_labelled)
