"""embed(), content keys, CachedEmbedding (never stale), and a modAL loop on autoencoder codes."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import torch
from conftest import make_net
from modAL.models import ActiveLearner

from modal_ibal import (
    CachedEmbedding,
    ConvAutoencoder,
    MLPAutoencoder,
    embed,
    entropy_distance_sampling,
    ibal_distance_sampling,
)
from modal_ibal._utils.hashing import draw_multipliers, first_occurrences, row_keys


class RowStats:
    """A row-wise transformer with exact, batch-independent codes that records what it encodes."""

    def __init__(self, shift: float = 0.0):
        self.shift = shift
        self.encoded: list[int] = []

    def transform(self, X):
        X = np.asarray(X, dtype=np.float64)
        X = X.reshape(len(X), int(np.prod(X.shape[1:])))
        self.encoded.append(len(X))
        return np.stack([X.sum(axis=1), X[:, 0], X.max(axis=1) + self.shift], axis=1)

    def reference(self, X):
        return RowStats(self.shift).transform(X)


@pytest.fixture
def pool():
    return np.random.default_rng(0).random((500, 12)).astype(np.float32)


@pytest.fixture
def cached():
    return CachedEmbedding(RowStats(), n_checks=4, random_state=0)


def _naive_keys(X, multipliers):
    """The six residues with Python integers, one row at a time."""
    words = np.ascontiguousarray(X).reshape(len(X), -1).view(np.uint8)
    if words.shape[1] % 2:
        words = np.hstack([words, np.zeros((len(X), 1), np.uint8)])
    words = words.view(np.uint16)
    residues = [[sum(int(a) * int(w) for a, w in zip(multipliers[:, r], row, strict=True)) % 2_097_143
                 for r in range(6)] for row in words]
    lane0 = [r[0] | r[1] << 21 | r[2] << 42 for r in residues]
    lane1 = [r[3] | r[4] << 21 | r[5] << 42 for r in residues]
    return np.array(lane0, np.uint64), np.array(lane1, np.uint64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.bool_])
def test_row_keys_equal_the_naive_modular_sum(dtype):
    rng = np.random.default_rng(1)
    X = (rng.random((20, 3, 5)) * 200).astype(dtype)  # odd byte counts for uint8 and bool
    n_words = (X.dtype.itemsize * 15 + 1) // 2
    multipliers = draw_multipliers(n_words, rng)
    for got, expected in zip(row_keys(X, multipliers), _naive_keys(X, multipliers), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_row_keys_separate_rows_one_bit_apart():
    rng = np.random.default_rng(2)
    base = rng.random(16)
    bits = base.view(np.uint64)
    flipped = np.tile(bits, (16 * 64, 1))
    flipped[np.arange(16 * 64), np.repeat(np.arange(16), 64)] ^= np.tile(
        np.uint64(1) << np.arange(64, dtype=np.uint64), 16)
    X = np.vstack([bits, flipped]).view(np.float64)  # the row and every single-bit flip of it
    multipliers = draw_multipliers(64, rng)
    lane0, lane1 = row_keys(X, multipliers)
    assert len(np.unique(np.stack([lane0, lane1], axis=1), axis=0)) == len(X)
    same0, same1 = row_keys(X.copy(), multipliers)
    np.testing.assert_array_equal(same0, lane0)
    np.testing.assert_array_equal(same1, lane1)


def test_second_call_on_the_same_pool_encodes_only_the_spot_checks(cached, pool):
    first = cached.transform(pool)
    second = cached.transform(pool)
    np.testing.assert_array_equal(first, cached.transformer.reference(pool))
    np.testing.assert_array_equal(second, first)
    assert cached.transformer.encoded == [500, 4]
    assert (cached.n_hits, cached.n_misses, cached.n_cached) == (500, 500, 500)


def test_deleted_rows_as_in_a_modal_loop(cached, pool):
    cached.transform(pool)
    for _ in range(3):
        pool = np.delete(pool, [0, 7, 100, len(pool) - 1], axis=0)
        np.testing.assert_array_equal(cached.transform(pool), cached.transformer.reference(pool))
    assert cached.n_misses == 500


def test_reordered_rows(cached, pool):
    cached.transform(pool)
    order = np.random.default_rng(3).permutation(len(pool))
    np.testing.assert_array_equal(cached.transform(pool[order]),
                                  cached.transformer.reference(pool[order]))
    assert cached.n_misses == 500


def test_changed_values_in_a_new_array_are_encoded_anew(cached, pool):
    cached.transform(pool)
    changed = pool.copy()
    changed[[3, 30, 300], 5] += 1.0
    changed[10, 0] = np.nextafter(changed[10, 0], np.float32(2))  # one ulp
    np.testing.assert_array_equal(cached.transform(changed), cached.transformer.reference(changed))
    assert cached.n_misses == 504


def test_same_object_mutated_in_place(cached, pool):
    before = cached.transform(pool)
    pool[:50] *= 2.0
    pool[50:100] = pool[100:150]  # duplicates of rows already cached
    after = cached.transform(pool)
    np.testing.assert_array_equal(after, cached.transformer.reference(pool))
    assert not np.array_equal(after[:50], before[:50])
    assert cached.n_misses == 550


def test_duplicate_rows_are_encoded_once(cached, pool):
    X = np.vstack([pool[:10], pool[:10], pool[5:15]])
    np.testing.assert_array_equal(cached.transform(X), cached.transformer.reference(X))
    assert cached.transformer.encoded == [15]


def test_dtype_and_shape_are_part_of_the_key(cached, pool):
    cached.transform(pool)
    as_float64 = pool.astype(np.float64)
    as_images = pool.reshape(len(pool), 3, 4)
    np.testing.assert_array_equal(cached.transform(as_float64), cached.transformer.reference(pool))
    np.testing.assert_array_equal(cached.transform(as_images), cached.transformer.reference(pool))
    assert cached.n_misses == 1500


def test_a_changed_transformer_drops_the_cache(cached, pool):
    cached.transform(pool)
    cached.transformer.shift = 1.0  # as if refit: every code moves
    np.testing.assert_array_equal(cached.transform(pool), cached.transformer.reference(pool))
    assert cached.n_misses == 1000


def test_max_entries_keeps_the_latest_call(pool):
    embedding = CachedEmbedding(RowStats(), n_checks=0, max_entries=300, random_state=0)
    embedding.transform(pool[:200])
    assert embedding.n_cached == 200
    embedding.transform(pool[150:400])  # 50 hits + 200 new > 300: keep this call's 250
    assert embedding.n_cached == 250
    embedding.transform(pool[:200])
    assert embedding.n_cached == 200 and embedding.n_misses == 200 + 200 + 150
    embedding.transform(pool)  # larger than max_entries: nothing kept
    assert embedding.n_cached == 0


def test_tensors_and_callables(pool):
    embedding = CachedEmbedding(lambda X: np.asarray(X)[:, :2] * 2, random_state=0)
    np.testing.assert_array_equal(embedding.transform(torch.from_numpy(pool)), pool[:, :2] * 2)
    np.testing.assert_array_equal(embedding.transform(pool[::-1]), pool[::-1, :2] * 2)
    assert embedding.n_hits == 500


def test_clear_forgets_the_codes(cached, pool):
    cached.transform(pool)
    cached.clear()
    assert cached.n_cached == 0
    cached.transform(pool)
    assert cached.n_misses == 1000


def test_empty_input_goes_to_the_transformer(cached):
    assert cached.transform(np.zeros((0, 12), np.float32)).shape == (0, 3)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"transformer": 3}, TypeError, "'transformer' parameter of CachedEmbedding"),
        ({"transformer": RowStats(), "n_checks": -1}, ValueError, "'n_checks' parameter"),
        ({"transformer": RowStats(), "max_entries": 0}, ValueError, "'max_entries' parameter"),
    ],
)
def test_invalid_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        CachedEmbedding(**kwargs)


def test_embed_checks_what_comes_back(pool):
    np.testing.assert_array_equal(embed(lambda X: torch.as_tensor(X[:, :3]), pool), pool[:, :3])
    with pytest.raises(TypeError, match="'embedding' parameter must be None"):
        embed(42, pool)
    with pytest.raises(ValueError, match=r"one row per sample, shape \(500, n_dims\)"):
        embed(lambda X: X[:10], pool)


@pytest.fixture(scope="module")
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("strategy", [ibal_distance_sampling, entropy_distance_sampling])
@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_modal_loop_with_autoencoder_codes(one_torch_thread, digits, strategy, kind):
    """ActiveLearner + skorch MLP, D in the autoencoder's latent space, three query/teach rounds."""
    X, y = digits
    X, y = X[:400], y[:400]
    images = X.reshape(-1, 1, 8, 8)
    autoencoder = (MLPAutoencoder(max_epochs=3, random_state=0).fit(X) if kind == "mlp" else
                   ConvAutoencoder(max_epochs=3, image_shape=(1, 8, 8), random_state=0).fit(images))
    embedding = CachedEmbedding(autoencoder, random_state=0)
    learner = ActiveLearner(make_net(max_epochs=5),
                            query_strategy=functools.partial(strategy, gamma=0.5,
                                                             embedding=embedding),
                            X_training=X[:20], y_training=y[:20])
    pool, queried = np.arange(20, 400), []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            indices, rows = learner.query(X[pool], n_instances=5)
            np.testing.assert_array_equal(rows, X[pool][indices])
            # the cached codes are the autoencoder's own
            np.testing.assert_allclose(embedding.transform(X[pool]), autoencoder.transform(X[pool]),
                                       rtol=1e-5, atol=1e-6)
            learner.teach(X[pool][indices], y[pool][indices])
            queried.extend(pool[indices])
            pool = np.delete(pool, indices)
    assert len(set(queried)) == 15 and len(learner.X_training) == 35
    # the pool was encoded once; later rounds hit the cache (queried rows included)
    assert embedding.n_misses == 400
    # the bare autoencoder works as the embedding too
    bare, _ = learner.query(X[pool], n_instances=5, embedding=autoencoder)
    assert len(np.unique(bare)) == 5


def test_first_occurrences_matches_numpy_unique():
    rng = np.random.default_rng(4)
    lane0 = rng.integers(0, 4, 200).astype(np.uint64)
    lane1 = rng.integers(0, 3, 200).astype(np.uint64)
    first, inverse = first_occurrences(lane0, lane1)
    keys = np.stack([lane0, lane1], axis=1)
    _, expected_first = np.unique(keys, axis=0, return_index=True)
    np.testing.assert_array_equal(first, np.sort(expected_first))
    np.testing.assert_array_equal(keys[first][inverse], keys)
    assert first.dtype == np.intp and inverse.dtype == np.intp
