"""Core-set and BADGE against naive references: k-center greedy, and k-means++ on explicit
gradient embeddings."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression

from modal_ibal import (
    badge_sampling,
    coreset_sampling,
)
from modal_ibal.readers._last_layer import last_layer
from modal_ibal.strategies import _badge as badge


def _naive_kcenter(Z_pool, Z_labelled, n_instances):
    centers, picks, radii = list(Z_labelled), [], []
    for _ in range(n_instances):
        best, best_radius = -1, -1.0
        for i, z in enumerate(Z_pool):
            if i in picks:
                continue
            radius = min(np.linalg.norm(z - c) for c in centers)
            if radius > best_radius:
                best, best_radius = i, radius
        picks.append(best)
        radii.append(best_radius)
        centers.append(Z_pool[best])
    return np.array(picks), np.array(radii)


@pytest.mark.parametrize("embedding", [None, "callable"])
def test_coreset_equals_brute_force_k_center(embedding):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(45, 3))
    y = np.arange(45) % 3
    model = LogisticRegression().fit(X[:6], y[:6])  # its final-layer features are x itself
    chosen = coreset_sampling(model, X[6:], 8, X_labelled=X[:6], y_labelled=y[:6],
                              embedding=None if embedding is None else (lambda Z: 2.0 * Z))
    picks, radii = _naive_kcenter(X[6:], X[:6], 8)
    np.testing.assert_array_equal(chosen[0], picks)
    scale = 1.0 if embedding is None else 2.0
    np.testing.assert_allclose(chosen[1], scale * radii, rtol=1e-9)


def test_coreset_never_repeats_duplicates():
    X = np.repeat(np.eye(3), 4, axis=0)  # every pool point has three exact copies
    model = LogisticRegression().fit(np.eye(3), [0, 1, 2])
    indices, radii = coreset_sampling(model, X, 12, X_labelled=np.eye(3), y_labelled=[0, 1, 2])
    assert len(np.unique(indices)) == 12
    np.testing.assert_array_equal(radii, 0.0)


def _explicit_gradient_embedding(digits_learner, X_pool):
    out = last_layer(digits_learner.estimator).outputs(X_pool)
    F = np.hstack([out.features, np.ones((len(X_pool), 1))]).astype(np.float64)
    p = softmax(out.logits.astype(np.float64), axis=1)  # [N, C]
    A = p - np.eye(p.shape[1])[p.argmax(axis=1)]  # [N, C]
    return np.einsum("ic,id->icd", A, F).reshape(len(X_pool), -1)  # [N, C (d + 1)]


def test_badge_factorised_distances_equal_explicit_embeddings(digits_learner, digits_split):
    _, _, X_pool = digits_split
    reader = last_layer(digits_learner.estimator)
    A, F = badge._gradient_factors(reader, reader.outputs(X_pool))
    G = _explicit_gradient_embedding(digits_learner, X_pool)
    np.testing.assert_allclose(np.einsum("ic,id->icd", A, F).reshape(len(G), -1), G, atol=1e-6)
    sq_norms = (A * A).sum(axis=1) * (F * F).sum(axis=1)
    for j in [0, 17, 199]:
        np.testing.assert_allclose(badge._gradient_sq_distances(A, F, sq_norms, j),
                                   ((G - G[j]) ** 2).sum(axis=1), rtol=1e-9, atol=1e-9)


def _naive_kmeanspp(G, n_instances, rng):
    sq = [float(g @ g) for g in G]
    picks = [int(np.argmax(sq))]
    scores = [sq[picks[0]]]
    for _ in range(n_instances - 1):
        d2 = np.array([0.0 if i in picks else min(float(((g - G[p]) ** 2).sum()) for p in picks)
                       for i, g in enumerate(G)])
        cumulative = np.cumsum(d2)
        pick = int(np.searchsorted(cumulative, rng.random_sample() * d2.sum(), side="right"))
        picks.append(pick)
        scores.append(d2[pick])
    return np.array(picks), np.array(scores)


def test_badge_equals_kmeanspp_on_explicit_embeddings(digits_learner, digits_split):
    _, _, X_pool = digits_split
    indices, scores = badge_sampling(digits_learner, X_pool, 10, random_state=4)
    picks, naive_scores = _naive_kmeanspp(_explicit_gradient_embedding(digits_learner, X_pool), 10,
                                          np.random.RandomState(4))
    np.testing.assert_array_equal(indices, picks)
    np.testing.assert_allclose(scores, naive_scores, rtol=1e-6)


def test_coreset_radii_below_one_are_the_true_distances():
    rng = np.random.default_rng(1)
    X = 0.01 * rng.normal(size=(30, 3))  # every distance far below 1
    y = np.arange(30) % 3
    model = LogisticRegression().fit(X[:6], y[:6])
    indices, radii = coreset_sampling(model, X[6:], 6, X_labelled=X[:6], y_labelled=y[:6])
    picks, naive_radii = _naive_kcenter(X[6:], X[:6], 6)
    np.testing.assert_array_equal(indices, picks)
    np.testing.assert_allclose(radii, naive_radii, rtol=1e-9)
    assert radii.max() < 0.1


def test_badge_gradients_by_autograd_equal_the_closed_form_in_every_chunk():
    """A criterion without a closed form: autograd, chunk by chunk, the same p - e_yhat."""
    from types import SimpleNamespace

    import torch

    from modal_ibal.readers._losses import AutogradLoss, SoftmaxCrossEntropy

    rng = np.random.default_rng(0)
    n = 2 * badge._GRADIENT_CHUNK + 10  # two full chunks and a partial one
    logits = rng.normal(size=(n, 3)).astype(np.float32)
    outputs = SimpleNamespace(features=rng.normal(size=(n, 2)).astype(np.float32), logits=logits,
                              probas=softmax(logits.astype(np.float64), axis=1))
    autograd = SimpleNamespace(loss=AutogradLoss(torch.nn.CrossEntropyLoss()), has_bias=True)
    closed = SimpleNamespace(loss=SoftmaxCrossEntropy(), has_bias=True)
    A, F = badge._gradient_factors(autograd, outputs)
    expected = outputs.probas - np.eye(3)[outputs.probas.argmax(axis=1)]
    np.testing.assert_allclose(A, expected, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(badge._gradient_factors(closed, outputs)[0], expected,
                               rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(F[:, :2], outputs.features)
    np.testing.assert_array_equal(F[:, 2], 1.0)


def test_badge_seeding_draws_uniformly_once_every_point_coincides_with_a_pick():
    A, F = np.ones((5, 2)), np.ones((5, 1))  # five identical embeddings
    for seed in range(5):
        picks, scores = badge._kmeanspp_factorised(A, F, 5, np.random.RandomState(seed))
        assert picks[0] == 0  # the largest norm, ties to the lowest index
        np.testing.assert_array_equal(np.sort(picks), np.arange(5))
        np.testing.assert_allclose(scores, [2.0, 0.0, 0.0, 0.0, 0.0], atol=1e-12)


def test_badge_seeding_draws_by_distance_even_when_all_distances_are_small():
    A = np.array([[0.6, 0.0]] * 3 + [[0.0, 0.5]] + [[0.6, 0.0]] * 2)  # one point off the rest
    F = np.ones((6, 1))
    for seed in range(5):
        picks, scores = badge._kmeanspp_factorised(A, F, 3, np.random.RandomState(seed))
        assert list(picks[:2]) == [0, 3]  # the only point at a positive distance
        np.testing.assert_allclose(scores[:2], [0.36, 0.61], rtol=1e-12)
        assert picks[2] in {1, 2, 4, 5} and scores[2] == pytest.approx(0.0, abs=1e-12)


class _FixedDraws(np.random.RandomState):
    """A RandomState whose uniform draws are all ``value``: an extreme of [0, 1)."""

    def __init__(self, value):
        super().__init__(0)
        self.value = value

    def random_sample(self, size=None):
        return self.value


# distances to the first pick (x = 1) that numpy sums to slightly more than their running sum
_ROUNDING_LINE = np.array([1.0, 0.238, 0.195, 0.638, 0.278, 0.47, 0.27, 0.193, 0.149, 0.641,
                           1.0, 1.0])


@pytest.mark.parametrize(("draw", "expected"), [(0.0, 1), (1.0 - 2.0 ** -53, 9)])
def test_badge_extreme_draws_pick_the_first_or_last_point_at_a_positive_distance(draw,
                                                                                 expected):
    A, F = _ROUNDING_LINE[:, None], np.ones((len(_ROUNDING_LINE), 1))
    picks, scores = badge._kmeanspp_factorised(A, F, 2, _FixedDraws(draw))
    assert list(picks) == [0, expected]
    np.testing.assert_allclose(scores[1], (1.0 - _ROUNDING_LINE[expected]) ** 2, rtol=1e-9)
