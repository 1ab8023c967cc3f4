"""Full modAL loops: ActiveLearner + query + teach with the IBAL strategies."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
from conftest import TinyMLP, make_net
from modAL.models import ActiveLearner
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modal_ibal import entropy_distance_sampling, ibal_distance_sampling, ibal_sampling

STRATEGIES = {"ibal": ibal_sampling, "ibal-d": ibal_distance_sampling}


def _skorch(n_features, n_classes):
    return make_net(TinyMLP, n_classes=n_classes, max_epochs=8, module__n_features=n_features,
                    module__n_classes=n_classes)


ESTIMATORS = {
    "skorch": _skorch,
    "pipeline": lambda d, c: make_pipeline(StandardScaler(), _skorch(d, c)),
    "logistic": lambda d, c: LogisticRegression(max_iter=300),
}


def run_loop(estimator, strategy, X, y, *, n_initial=20, rounds=5, batch=5, labels=None):
    """Five rounds of query + teach; returns the learner and every queried pool row."""
    labels = y if labels is None else labels
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    initial, pool = order[:n_initial], order[n_initial:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing from modAL or from us may warn
        learner = ActiveLearner(estimator, query_strategy=strategy,
                                X_training=X[initial], y_training=labels[initial])
        queried = []
        for _ in range(rounds):
            indices, rows = learner.query(X[pool], n_instances=batch)
            np.testing.assert_array_equal(rows, X[pool][indices])
            learner.teach(X[pool][indices], labels[pool][indices])
            queried.extend(pool[indices])
            pool = np.delete(pool, indices)
    return learner, np.array(queried)


@pytest.mark.parametrize("estimator_name", ESTIMATORS)
@pytest.mark.parametrize("strategy_name", STRATEGIES)
@pytest.mark.parametrize("data_name", ["digits", "blobs"])
def test_active_learning_loop(request, estimator_name, strategy_name, data_name):
    X, y = request.getfixturevalue(data_name)
    X, y = X[:400], y[:400]
    n_classes = len(np.unique(y))
    estimator = ESTIMATORS[estimator_name](X.shape[1], n_classes)
    learner, queried = run_loop(estimator, STRATEGIES[strategy_name], X, y)
    assert len(learner.X_training) == 20 + 5 * 5
    assert len(np.unique(queried)) == len(queried) == 25  # never the same point twice
    assert learner.score(X, y) > 1.5 / n_classes  # the model learned something


@pytest.mark.parametrize("estimator_name", ["logistic", "pipeline-logistic"])
def test_string_labels(digits, estimator_name):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    estimator = LogisticRegression(max_iter=300)
    if estimator_name == "pipeline-logistic":
        estimator = make_pipeline(StandardScaler(), estimator)
    learner, _ = run_loop(estimator, ibal_distance_sampling, X[:300], y[:300],
                          labels=names[y[:300]])
    assert set(learner.predict(X[:50])) <= set(names)


def test_configured_variants_through_partial_and_query_kwargs(digits):
    X, y = digits
    strategy = functools.partial(ibal_distance_sampling, gamma=0.3, reading="agreement")
    learner, _ = run_loop(LogisticRegression(max_iter=300), strategy, X[:300], y[:300], rounds=2)
    # keywords reach the strategy: each query equals the direct call with the same options,
    # and gamma (given at query time, over the partial's 0.3) changes the picks
    pool = X[300:400]
    labelled = dict(X_labelled=learner.X_training, y_labelled=learner.y_training)
    picks = {}
    for gamma in (0.0, 50.0):
        indices, _ = learner.query(pool, n_instances=5, gamma=gamma)
        direct = ibal_distance_sampling(learner.estimator, pool, 5, gamma=gamma,
                                        reading="agreement", **labelled)
        np.testing.assert_array_equal(indices, direct[0])
        picks[gamma] = set(indices.tolist())
    assert picks[0.0] != picks[50.0]


def test_entropy_distance_in_a_loop(blobs):
    X, y = blobs
    _, queried = run_loop(_skorch(2, 3), entropy_distance_sampling, X, y, rounds=3)
    assert len(set(queried)) == 15 and set(queried) <= set(range(len(X)))


def test_teach_raises_no_warnings_from_modal(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learner = ActiveLearner(LogisticRegression(max_iter=300), X_training=X[:30],
                                y_training=y[:30])
        learner.teach(X[30:40], y[30:40])
        learner.fit(X[:50], y[:50])
        learner.teach(X[50:60], y[50:60], only_new=True)
