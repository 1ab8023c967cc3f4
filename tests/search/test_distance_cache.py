"""LabelledDistanceCache: across a modAL loop it returns the full search's distances, updating only what changed."""

from __future__ import annotations

import numpy as np
import pytest
from modAL.models import ActiveLearner
from search_cases import DATASETS, double_loop
from sklearn.linear_model import LogisticRegression

from modal_ibal import LabelledDistanceCache
from modal_ibal.search._nearest_labelled import nearest_labelled_distance, nearest_labelled_index


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


@pytest.mark.parametrize(("block_elements", "error"), [(0, ValueError), (-3, ValueError),
                                                       (2.5, TypeError), (True, TypeError)])
def test_cache_invalid_block_elements_raise(block_elements, error):
    with pytest.raises(error, match="'block_elements' parameter must be a positive int"):
        LabelledDistanceCache(block_elements=block_elements)


def test_cache_searches_by_cells_on_the_first_round(search_by_cells):
    rng = np.random.default_rng(5)
    Z_pool, Z_labelled = rng.normal(size=(500, 3)), rng.normal(size=(60, 3))
    cache = LabelledDistanceCache()
    np.testing.assert_array_equal(cache.nearest_labelled_distance(Z_pool, Z_labelled),
                                  double_loop(Z_pool, Z_labelled)[1])
