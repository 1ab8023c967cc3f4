"""The first batch from zero labels, and no silent degeneration on a saturated model."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from conftest import assert_same_rng_states, global_rng_states, make_net
from modAL.models import ActiveLearner
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from modal_ibal import (
    STRATEGIES,
    UninformativeWeightsWarning,
    default_sampling,
    herding_sampling,
    probcover_sampling,
    random_sampling,
    typiclust_sampling,
)
from modal_ibal.coverage._herding import greedy_kernel_herding
from modal_ibal.readers._view import COLD_START_STRATEGIES
from modal_ibal.strategies._default import DEFAULT_HERDING

UNWEIGHTED_DEFAULT = {**DEFAULT_HERDING, "weights": None}  # the default's pure coverage

COLD_START = {"default_sampling": default_sampling, "herding_sampling": herding_sampling,
              "typiclust_sampling": typiclust_sampling, "probcover_sampling": probcover_sampling,
              "random_sampling": random_sampling}


def test_the_cold_start_list_names_exactly_the_strategies_tested_here():
    assert set(COLD_START_STRATEGIES) == set(COLD_START)


@pytest.mark.parametrize("name", sorted(COLD_START))
def test_a_modal_learner_without_training_data_queries_a_first_batch(name, split):
    _, _, X_pool = split
    net = make_net(max_epochs=2)
    learner = ActiveLearner(estimator=net, query_strategy=COLD_START[name])
    before = global_rng_states()
    indices, rows = learner.query(X_pool, n_instances=8)
    assert_same_rng_states(before, global_rng_states())
    assert indices.shape == (8,) and len(np.unique(indices)) == 8
    assert indices.min() >= 0 and indices.max() < len(X_pool)
    np.testing.assert_array_equal(rows, X_pool[indices])
    assert not hasattr(net, "module_") or not net.initialized_, "the query must not fit the net"


def test_default_sampling_runs_a_modal_loop_from_zero_labels(digits):
    X, y = digits
    X_pool, y_pool = X[:400].copy(), y[:400].copy()
    pool_before = X_pool.copy()
    learner = ActiveLearner(estimator=make_net(max_epochs=5), query_strategy=default_sampling)
    first, _ = learner.query(X_pool, n_instances=20)
    # the first batch is pure coverage: the unweighted herding of the pool
    expected, _ = herding_sampling(make_net(), X_pool, 20, **UNWEIGHTED_DEFAULT)
    np.testing.assert_array_equal(first, expected)
    learner.teach(X_pool[first], y_pool[first])
    remaining = np.setdiff1d(np.arange(len(X_pool)), first)
    second, _ = learner.query(X_pool[remaining], n_instances=20)
    # from then on the fitted model's margins weight the coverage
    weighted, _ = herding_sampling(learner.estimator, X_pool[remaining], 20,
                                   X_labelled=X_pool[first], y_labelled=y_pool[first],
                                   **DEFAULT_HERDING)
    np.testing.assert_array_equal(second, weighted)
    assert len(np.intersect1d(remaining[second], first)) == 0
    np.testing.assert_array_equal(X_pool, pool_before)


@pytest.mark.parametrize("name", sorted(COLD_START))
def test_a_bare_unfitted_estimator_is_queried_without_labels(name, split):
    _, _, X_pool = split
    indices, scores = COLD_START[name](LogisticRegression(), X_pool, 6, random_state=0)
    assert indices.shape == scores.shape == (6,) and len(np.unique(indices)) == 6


def test_a_fitted_model_without_labels_weights_the_first_batch(split, fitted_net):
    _, _, X_pool = split
    picks, _ = default_sampling(fitted_net, X_pool, 6)
    weighted, _ = herding_sampling(fitted_net, X_pool, 6,
                                   X_labelled=X_pool[:0], y_labelled=np.empty(0, dtype=int),
                                   **DEFAULT_HERDING)
    np.testing.assert_array_equal(picks, weighted)
    features, _ = herding_sampling(fitted_net, X_pool, 6, representation="features")
    assert len(np.unique(features)) == 6


def test_typiclust_from_zero_labels_takes_one_point_per_cluster(blobs):
    X, y = blobs
    picks, _ = typiclust_sampling(LogisticRegression(), X, 3, random_state=0)
    assert len(np.unique(y[picks])) == 3


@pytest.mark.parametrize("name", sorted(
    name for name, entry in STRATEGIES.items()
    if entry.function.__name__ not in COLD_START_STRATEGIES and not name.endswith("-modal")))
def test_strategies_that_cannot_start_cold_say_which_can(name, split):
    entry = STRATEGIES[name]
    _, _, X_pool = split
    learner = ActiveLearner(estimator=make_net(), query_strategy=entry.resolve())
    with pytest.raises(ValueError, match="use a cold-start strategy: default_sampling, "
                                         "herding_sampling, probcover_sampling, "
                                         "random_sampling or typiclust_sampling"):
        learner.query(X_pool, n_instances=3)


def test_an_unfitted_model_with_labels_names_the_cold_start_strategies(split):
    X_labelled, y_labelled, X_pool = split
    with pytest.raises(NotFittedError, match=r"not fitted yet.*use a cold-start strategy"):
        STRATEGIES["ibal-target"].resolve()(make_net(), X_pool, 3, X_labelled=X_labelled,
                                            y_labelled=y_labelled)


def test_features_need_a_fitted_model_and_half_a_labelled_set_is_refused(split):
    X_labelled, _, X_pool = split
    with pytest.raises(ValueError, match=r"representation='features' needs a fitted model, but "
                                         r"the NeuralNetClassifier is not fitted"):
        herding_sampling(make_net(), X_pool, 3, representation="features")
    with pytest.raises(ValueError, match="representation='features' needs a fitted model"):
        typiclust_sampling(make_net(), X_pool, 3, representation="features")
    with pytest.raises(ValueError, match="given as 'X_labelled' alone"):
        default_sampling(LogisticRegression(), X_pool, 3, X_labelled=X_labelled)


def _separable(rng, n=150, scale=50.0):
    """Two far-apart blobs: a huge-C logistic regression puts every probability at 0 or 1."""
    centre = np.array([5.0, 0.0])
    X = np.vstack([rng.standard_normal((n, 2)) - centre, rng.standard_normal((n, 2)) + centre])
    return X * scale, np.r_[np.zeros(n), np.ones(n)].astype(int)


def test_a_saturated_model_falls_back_to_unweighted_coverage_with_a_warning():
    X, y = _separable(np.random.default_rng(0))
    labelled = np.arange(0, len(X), 10)
    pool = np.setdiff1d(np.arange(len(X)), labelled)
    model = LogisticRegression(C=1e10, max_iter=10_000).fit(X[labelled], y[labelled])
    probas = model.predict_proba(X[pool])
    assert np.all(probas.max(axis=1) == 1.0), "the fixture must saturate: every margin is 1"
    with pytest.warns(UninformativeWeightsWarning, match=r"after 0 of 6 picks.*saturated"):
        picks, scores = default_sampling(model, X[pool], 6, X_labelled=X[labelled],
                                         y_labelled=y[labelled])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unweighted, unweighted_scores = herding_sampling(model, X[pool], 6,
                                                         X_labelled=X[labelled],
                                                         y_labelled=y[labelled],
                                                         **UNWEIGHTED_DEFAULT)
    np.testing.assert_array_equal(picks, unweighted)
    np.testing.assert_allclose(scores, unweighted_scores)
    assert not np.array_equal(np.sort(picks), np.arange(6)), "not the pool's first rows"


def test_the_fallback_takes_over_mid_batch_once_the_weighted_points_are_covered():
    graph = np.eye(6)
    graph[0, 1] = graph[1, 0] = 0.5
    weights = np.array([0.0, 1.0, 0.0, 0.0, 0.0, 0.0])  # only pool point 0 (row 1) is worth it
    with pytest.warns(UninformativeWeightsWarning, match="after 1 of 3 picks"):
        picks, gains = greedy_kernel_herding(graph, 1, 3, weights=weights)
    assert picks[0] == 0 and gains[0] == pytest.approx(0.5)  # 1 - the labelled point's 0.5
    # then unweighted: every other pool point gains its own 1, the lowest index first
    np.testing.assert_array_equal(picks[1:], [1, 2])
    np.testing.assert_allclose(gains[1:], [1.0, 1.0])
    np.testing.assert_array_equal(weights, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0])  # not written to


def test_informative_weights_raise_no_warning(split, fitted_net):
    X_labelled, y_labelled, X_pool = split
    with warnings.catch_warnings():
        warnings.simplefilter("error", UninformativeWeightsWarning)
        default_sampling(fitted_net, X_pool, 10, X_labelled=X_labelled, y_labelled=y_labelled)


def test_a_cold_query_leaves_the_net_untouched(split, fitted_net):
    _, _, X_pool = split
    state = {k: v.clone() for k, v in fitted_net.module_.state_dict().items()}
    fitted_net.module_.train()
    default_sampling(fitted_net, X_pool, 5)
    assert fitted_net.module_.training
    for key, value in fitted_net.module_.state_dict().items():
        assert torch.equal(value, state[key])


def test_a_pool_of_other_sample_shape_than_the_labelled_set_is_named(split):
    X_labelled, y_labelled, X_pool = split
    with pytest.raises(ValueError, match=(
            r"^The samples of 'X_pool' have shape \(10,\) but the labelled samples have shape "
            r"\(64,\)")):
        typiclust_sampling(LogisticRegression(), X_pool[:, :10], 3, random_state=0,
                           X_labelled=X_labelled, y_labelled=y_labelled)


class _UnusedLastLinear(torch.nn.Module):
    """TinyMLP's layers, then one more nn.Linear the forward pass never runs."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU())
        self.output = torch.nn.Linear(16, 10)
        self.unused = torch.nn.Linear(16, 10)

    def forward(self, X):
        return self.output(self.body(X))


def test_features_of_a_named_layer_are_read_from_that_layer(split, fitted_net):
    X_labelled, y_labelled, X_pool = split
    net = make_net(_UnusedLastLinear).initialize()
    net.module_.load_state_dict(fitted_net.module_.state_dict(), strict=False)
    labelled = dict(X_labelled=X_labelled, y_labelled=y_labelled, random_state=0,
                    representation="features")
    named = typiclust_sampling(net, X_pool, 4, layer="output", batch_size=64, **labelled)
    expected = typiclust_sampling(fitted_net, X_pool, 4, **labelled)
    np.testing.assert_array_equal(named[0], expected[0])
    np.testing.assert_allclose(named[1], expected[1], rtol=1e-6)


def test_the_batch_size_of_a_features_read_is_checked(split, fitted_net):
    X_labelled, y_labelled, X_pool = split
    with pytest.raises(ValueError, match="'batch_size' parameter must be a positive int"):
        typiclust_sampling(fitted_net, X_pool, 4, random_state=0, representation="features",
                           batch_size=0, X_labelled=X_labelled, y_labelled=y_labelled)
