"""IBAL and IBAL-D (and entropy + D): the readings, the distance term, the model and pool left
unchanged, and their answers to bad input."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from conftest import TinyCNN, make_net
from modAL.models import ActiveLearner
from modAL.uncertainty import classifier_entropy
from scipy.spatial.distance import cdist
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from torch import nn

from modal_ibal import entropy_distance_sampling, ibal_distance_sampling, ibal_sampling
from modal_ibal.readers import labelled_view
from modal_ibal.scoring._distance_term import labelled_distance, normalise_by_max
from modal_ibal.scoring._importance import model_reg_lambda, representer_importance
from modal_ibal.scoring._representer import READINGS

STRATEGIES = [ibal_sampling, ibal_distance_sampling, entropy_distance_sampling]


def _learner(net, X_labelled, y_labelled):
    learner = ActiveLearner(net, query_strategy=ibal_sampling)
    learner.X_training, learner.y_training = X_labelled, y_labelled
    return learner


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_contract_learner_and_bare_estimator_agree(fitted_net, split, strategy):
    X_labelled, y_labelled, X_pool = split
    via_learner = strategy(_learner(fitted_net, X_labelled, y_labelled), X_pool, 7)
    bare = strategy(fitted_net, X_pool, 7, X_labelled=X_labelled, y_labelled=y_labelled)
    indices, scores = via_learner
    assert indices.shape == scores.shape == (7,)
    assert len(set(indices)) == 7 and indices.min() >= 0 and indices.max() < len(X_pool)
    np.testing.assert_array_equal(indices, bare[0])
    np.testing.assert_allclose(scores, bare[1])


@pytest.mark.parametrize("reading", READINGS)
def test_ibal_returns_the_lowest_scores(fitted_net, split, reading):
    X_labelled, y_labelled, X_pool = split
    indices, scores = ibal_sampling(fitted_net, X_pool, 10, reading=reading,
                                    X_labelled=X_labelled, y_labelled=y_labelled)
    view = labelled_view(fitted_net, X_pool, X_labelled=X_labelled, y_labelled=y_labelled)
    everything = representer_importance(view, reading=reading)
    np.testing.assert_allclose(scores, everything[indices])
    assert np.all(np.diff(scores) >= 0)
    assert scores[-1] <= np.delete(everything, indices).min()


def test_finetuned_reading_equals_its_double_loop(fitted_net, split):
    # -kappa sum_t (q_{i,y_t} - p_{i,y_t}) f_i.f_t, q the L2-refit layer's softmax
    from scipy.special import softmax

    from modal_ibal.scoring._refit import refit_last_layer
    from modal_ibal.scoring._representer import kappa

    X_labelled, y_labelled, X_pool = split
    view = labelled_view(fitted_net, X_pool[:30], X_labelled=X_labelled, y_labelled=y_labelled)
    bias = np.ones((1,))
    F_l = np.array([np.concatenate([f, bias]) for f in view.labelled.features.astype(float)])
    F_p = np.array([np.concatenate([f, bias]) for f in view.pool.features.astype(float)])
    n = len(y_labelled)
    lam = model_reg_lambda(view.layer, n)
    W = refit_last_layer(F_l, view.y_index, 10, lam)
    q, p = softmax(F_p @ W.T, axis=1), view.pool.probas
    expected = np.zeros(len(F_p))
    for i in range(len(F_p)):
        for t in range(n):
            c = view.y_index[t]
            expected[i] += -kappa(lam, n) * (q[i, c] - p[i, c]) * (F_p[i] @ F_l[t])
    # the library sums p_y (q.g - g_y) over y, which is this when sum_y p_y = 1: the float32
    # probabilities sum to 1 within about 1e-7, times q.g of a few hundred
    np.testing.assert_allclose(representer_importance(view, reading="finetuned"), expected,
                               rtol=1e-4, atol=1e-6)


def test_exact_mode_gives_other_finite_scores(fitted_net, split):
    """On a real net the exact mode changes the scores (its formula: tests/scoring)."""
    X_labelled, y_labelled, X_pool = split
    view = labelled_view(fitted_net, X_pool, X_labelled=X_labelled, y_labelled=y_labelled)
    exact = representer_importance(view, reading="target", exact=True)
    plain = representer_importance(view, reading="target")
    assert exact.shape == plain.shape and np.isfinite(exact).all()
    assert not np.allclose(exact, plain)


def test_ibal_d_limits(fitted_net, split):
    """gamma = 0 is IBAL; a huge gamma is farthest-from-the-labelled-set first."""
    X_labelled, y_labelled, X_pool = split
    kwargs = dict(X_labelled=X_labelled, y_labelled=y_labelled)
    np.testing.assert_array_equal(ibal_distance_sampling(fitted_net, X_pool, 8, gamma=0, **kwargs)[0],
                                  ibal_sampling(fitted_net, X_pool, 8, **kwargs)[0])
    view = labelled_view(fitted_net, X_pool, **kwargs)
    distance = cdist(view.pool.features, view.labelled.features).min(axis=1)
    farthest = np.argsort(-distance, kind="stable")[:3]
    np.testing.assert_array_equal(
        ibal_distance_sampling(fitted_net, X_pool, 3, gamma=1e9, **kwargs)[0], farthest)


def test_ibal_d_combines_normalised_terms(fitted_net, split):
    X_labelled, y_labelled, X_pool = split
    kwargs = dict(X_labelled=X_labelled, y_labelled=y_labelled)
    view = labelled_view(fitted_net, X_pool, **kwargs)
    importance = normalise_by_max(representer_importance(view))
    distance = cdist(X_pool, X_labelled).min(axis=1)
    expected = importance - 0.5 * distance / distance.max()
    indices, scores = ibal_distance_sampling(fitted_net, X_pool, 6, gamma=0.5,
                                             embedding=lambda X: np.asarray(X), **kwargs)
    np.testing.assert_array_equal(indices, np.argsort(expected, kind="stable")[:6])
    np.testing.assert_allclose(scores, expected[indices])


def test_entropy_distance_with_gamma_zero_is_entropy_sampling(fitted_net, split):
    X_labelled, y_labelled, X_pool = split
    indices, _ = entropy_distance_sampling(fitted_net, X_pool, 5, gamma=0.0,
                                           X_labelled=X_labelled, y_labelled=y_labelled)
    entropy = classifier_entropy(fitted_net, X_pool)
    np.testing.assert_array_equal(np.sort(indices), np.sort(np.argsort(-entropy)[:5]))


def test_sklearn_transformer_embedding(fitted_net, split):
    from sklearn.decomposition import PCA

    X_labelled, y_labelled, X_pool = split
    pca = PCA(n_components=5, random_state=0).fit(X_pool)
    indices, _ = ibal_distance_sampling(fitted_net, X_pool, 4, embedding=pca,
                                        X_labelled=X_labelled, y_labelled=y_labelled)
    # the same query with the PCA codes handed over as a callable
    codes = ibal_distance_sampling(fitted_net, X_pool, 4, embedding=pca.transform,
                                   X_labelled=X_labelled, y_labelled=y_labelled)[0]
    np.testing.assert_array_equal(indices, codes)
    # and the distance term is PCA's: Eq. 4 recomputed with cdist on the codes
    view = labelled_view(fitted_net, X_pool, X_labelled=X_labelled, y_labelled=y_labelled)
    distance = cdist(pca.transform(X_pool), pca.transform(X_labelled)).min(axis=1)
    importance = representer_importance(view)
    expected = importance / np.abs(importance).max() - distance / distance.max()
    np.testing.assert_array_equal(indices, np.argsort(expected, kind="stable")[:4])


def test_query_leaves_model_and_pool_unchanged(fitted_net, split):
    X_labelled, y_labelled, X_pool = split
    module = fitted_net.module_
    module.train()
    for p in module.parameters():
        p.grad = torch.ones_like(p)
    state = {k: v.clone() for k, v in module.state_dict().items()}
    pool_before, labelled_before = X_pool.copy(), X_labelled.copy()
    for strategy in STRATEGIES:
        strategy(fitted_net, X_pool, 5, X_labelled=X_labelled, y_labelled=y_labelled)
    assert module.training
    assert all(torch.equal(v, state[k]) for k, v in module.state_dict().items())
    assert all(torch.equal(p.grad, torch.ones_like(p)) for p in module.parameters())
    assert all(not m._forward_hooks for m in module.modules())
    np.testing.assert_array_equal(X_pool, pool_before)
    np.testing.assert_array_equal(X_labelled, labelled_before)


def test_float64_pool_gives_the_float32_answer(fitted_net, split):
    X_labelled, y_labelled, X_pool = split
    kwargs = dict(X_labelled=X_labelled, y_labelled=y_labelled)
    np.testing.assert_array_equal(ibal_sampling(fitted_net, X_pool.astype(np.float64), 5, **kwargs)[0],
                                  ibal_sampling(fitted_net, X_pool, 5, **kwargs)[0])


def test_torch_tensor_pool(fitted_net, split):
    X_labelled, y_labelled, X_pool = split
    indices, _ = ibal_distance_sampling(fitted_net, torch.as_tensor(X_pool), 5,
                                        X_labelled=torch.as_tensor(X_labelled),
                                        y_labelled=torch.as_tensor(y_labelled))
    np.testing.assert_array_equal(
        indices, ibal_distance_sampling(fitted_net, X_pool, 5, X_labelled=X_labelled,
                                        y_labelled=y_labelled)[0])


def test_image_pool_with_cnn(digits):
    X, y = digits
    images = X.reshape(-1, 1, 8, 8)
    net = make_net(TinyCNN, max_epochs=2).fit(images[:60], y[:60])
    indices, scores = ibal_distance_sampling(net, images[60:200], 4, X_labelled=images[:60],
                                             y_labelled=y[:60])
    # the images' scores: IBAL-D on the CNN's own features, recomputed from the view
    view = labelled_view(net, images[60:200], X_labelled=images[:60], y_labelled=y[:60])
    expected = (normalise_by_max(representer_importance(view))
                - labelled_distance(view, images[60:200]))
    np.testing.assert_array_equal(indices, np.argsort(expected, kind="stable")[:4])
    np.testing.assert_allclose(scores, expected[indices])


# ---- bad input -------------------------------------------------------------------------


@pytest.fixture
def bare(fitted_net, split):
    X_labelled, y_labelled, X_pool = split
    return fitted_net, X_pool, dict(X_labelled=X_labelled, y_labelled=y_labelled)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(
    ("pool", "n_instances", "error", "message"),
    [
        (np.zeros((0, 64), np.float32), 1, ValueError, "'X_pool' parameter is empty"),
        ("pool", 301, ValueError, "larger than the pool, which holds 300"),
        ("pool", 0, ValueError, "'n_instances' parameter must be >= 1"),
        ("pool", 2.0, TypeError, "'n_instances' parameter must be a positive int"),
        (np.full((5, 64), np.nan, np.float32), 1, ValueError, "NaN or infinite"),
        (np.full((5, 64), np.inf, np.float32), 1, ValueError, "NaN or infinite"),
        (np.zeros(64, np.float32), 1, ValueError, "one row per sample"),
        (np.zeros((5, 1, 8, 8), np.float32), 1, ValueError, "have shape \\(1, 8, 8\\)"),
        (np.array([["a"] * 64]), 1, TypeError, "must hold numbers"),
    ],
)
def test_bad_pools(bare, strategy, pool, n_instances, error, message):
    net, X_pool, kwargs = bare
    pool = X_pool if isinstance(pool, str) else pool
    with pytest.raises(error, match=message):
        strategy(net, pool, n_instances, **kwargs)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_unfitted_estimator(split, strategy):
    X_labelled, y_labelled, X_pool = split
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        strategy(make_net(), X_pool, 1, X_labelled=X_labelled, y_labelled=y_labelled)
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        strategy(LogisticRegression(), X_pool, 1, X_labelled=X_labelled, y_labelled=y_labelled)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_missing_labelled_set(fitted_net, split, strategy):
    _, _, X_pool = split
    with pytest.raises(ValueError, match=r"pass X_labelled=\.\.\. and y_labelled="):
        strategy(fitted_net, X_pool, 1)
    with pytest.raises(ValueError, match="has no training data yet"):
        strategy(ActiveLearner(fitted_net), X_pool, 1)


def test_unknown_and_string_labels(bare):
    net, X_pool, kwargs = bare
    with pytest.raises(ValueError, match="labels \\['cat'\\] that are not among the model's classes"):
        ibal_sampling(net, X_pool, 1, X_labelled=kwargs["X_labelled"][:1], y_labelled=["cat"])
    with pytest.raises(ValueError, match="holds labels \\['10'\\]"):
        ibal_sampling(net, X_pool, 1, X_labelled=kwargs["X_labelled"][:1], y_labelled=[10])


def test_mismatched_labelled_lengths(bare):
    net, X_pool, kwargs = bare
    with pytest.raises(ValueError, match="40 samples but 39 labels"):
        ibal_sampling(net, X_pool, 1, X_labelled=kwargs["X_labelled"],
                      y_labelled=kwargs["y_labelled"][:-1])


def test_bad_options(bare):
    net, X_pool, kwargs = bare
    with pytest.raises(ValueError, match="'reading' parameter must be one of"):
        ibal_sampling(net, X_pool, 1, reading="paper", **kwargs)
    with pytest.raises(ValueError, match="'gamma' parameter must be finite and >= 0"):
        ibal_distance_sampling(net, X_pool, 1, gamma=-1, **kwargs)
    with pytest.raises(TypeError, match="'embedding' parameter must be None"):
        ibal_distance_sampling(net, X_pool, 1, embedding="autoencoder", **kwargs)
    with pytest.raises(ValueError, match="'batch_size' parameter must be a positive int"):
        ibal_sampling(net, X_pool, 1, batch_size=0, **kwargs)
    with pytest.raises(ValueError, match="'reg_lambda' parameter must be finite and > 0"):
        ibal_sampling(net, X_pool, 1, reg_lambda=0.0, **kwargs)


def test_module_without_final_linear(split):
    X_labelled, y_labelled, X_pool = split

    class NoLinear(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(64, 10))

        def forward(self, X):
            return X @ self.weight

    net = make_net(NoLinear, max_epochs=1).fit(X_labelled, y_labelled)
    with pytest.raises(TypeError, match=r"has no nn\.Linear layer"):
        ibal_sampling(net, X_pool, 1, X_labelled=X_labelled, y_labelled=y_labelled)


def test_labelled_set_missing_classes_is_fine_when_the_net_knows_them(split):
    """Early rounds often lack a class: the net must declare every class up front."""
    X_labelled, y_labelled, X_pool = split
    keep = y_labelled < 6
    net = make_net(max_epochs=2).fit(X_labelled[keep], y_labelled[keep])
    indices, _ = ibal_distance_sampling(net, X_pool, 3, X_labelled=X_labelled[keep],
                                        y_labelled=y_labelled[keep])
    view = labelled_view(net, X_pool, X_labelled=X_labelled[keep], y_labelled=y_labelled[keep])
    assert set(view.y_index) == set(range(6)) and len(view.layer.classes_) == 10
    expected = normalise_by_max(representer_importance(view)) - labelled_distance(view, X_pool)
    np.testing.assert_array_equal(indices, np.argsort(expected, kind="stable")[:3])


def test_a_distance_cache_gives_the_same_picks_in_a_modal_loop(digits):
    from modal_ibal import LabelledDistanceCache, MLPAutoencoder

    X, y = digits
    autoencoder = MLPAutoencoder(latent_dim=4, max_epochs=3, random_state=0).fit(X[:400])
    picks = {}
    for name, cache in (("plain", None), ("cached", LabelledDistanceCache())):
        strategy = functools.partial(ibal_distance_sampling, embedding=autoencoder,
                                     distance_cache=cache)
        learner = ActiveLearner(make_net(max_epochs=2), query_strategy=strategy,
                                X_training=X[:20], y_training=y[:20])
        pool, chosen = np.arange(20, 400), []
        for _ in range(4):
            indices, _ = learner.query(X[pool], n_instances=5)
            learner.teach(X[pool][indices], y[pool][indices])
            chosen.append(pool[indices])
            pool = np.delete(pool, indices)
        picks[name] = np.concatenate(chosen)
    np.testing.assert_array_equal(picks["cached"], picks["plain"])
    # one full search of the first pool, then only updates with the 5 new labels a round
    assert cache.n_searched == 380 and cache.n_updated == 375 + 370 + 365


def test_distance_cache_must_be_a_cache(fitted_net, split):
    X_labelled, y_labelled, X_pool = split
    with pytest.raises(TypeError, match="'distance_cache' parameter must be a LabelledDistanceCache"):
        ibal_distance_sampling(fitted_net, X_pool, 2, distance_cache={}, X_labelled=X_labelled,
                               y_labelled=y_labelled)
