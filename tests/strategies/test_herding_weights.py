"""Herding's named weights: 'balanced-margin' is the class-balanced margin of the model's
probabilities, and temperature='calibrated' the temperature UHerding's selection picks on the
labelled set with the query's seed."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from conftest import labelled_and_pool, make_net
from modAL.models import ActiveLearner
from sklearn.linear_model import LogisticRegression

from modal_ibal.scoring.calibration import DEFAULT_TEMPERATURES, select_temperature
from modal_ibal.scoring.uncertainty import class_balanced_margin_weights, margin_weights
from modal_ibal.strategies.herding import herding_sampling


@pytest.fixture(scope="module")
def split(digits):
    return labelled_and_pool(digits, 20, 120, seed=5)


@pytest.fixture(scope="module")
def learner(split):
    X_labelled, y_labelled, _ = split
    return ActiveLearner(LogisticRegression(max_iter=500), X_training=X_labelled,
                         y_training=y_labelled)


def test_balanced_margin_weights_are_the_class_balanced_margins(learner, split):
    _, _, X_pool = split
    probas = learner.estimator.predict_proba(X_pool)
    named = herding_sampling(learner, X_pool, 6, weights="balanced-margin")
    given = herding_sampling(learner, X_pool, 6, weights=class_balanced_margin_weights(probas))
    np.testing.assert_array_equal(named[0], given[0])
    np.testing.assert_allclose(named[1], given[1], rtol=1e-6)
    plain = herding_sampling(learner, X_pool, 6, weights=margin_weights(probas))
    assert not np.allclose(named[1], plain[1])  # the balancing matters here


@pytest.fixture(scope="module")
def three_classes():
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=240, centers=[[0, 0], [1.5, 0], [0, 4]], cluster_std=0.8,
                      random_state=0)
    return X[:40], y[:40], X[40:], LogisticRegression().fit(X[:40], y[:40])


def test_calibrated_temperature_is_selected_on_the_labelled_set_with_the_querys_seed(
        three_classes):
    X_labelled, y_labelled, X_pool, model = three_classes
    labelled = dict(X_labelled=X_labelled, y_labelled=y_labelled)
    results = []
    for seed in (0, 5):  # seeds whose labelled splits choose T = 1.6 and T = 4.2
        temperature = select_temperature(model, X_labelled, y_labelled,
                                         temperatures=DEFAULT_TEMPERATURES, random_state=seed)
        calibrated = herding_sampling(model, X_pool, 5, random_state=seed, weights="margin",
                                      temperature="calibrated", **labelled)
        given = herding_sampling(model, X_pool, 5, random_state=seed, weights="margin",
                                 temperature=temperature, **labelled)
        np.testing.assert_array_equal(calibrated[0], given[0])
        np.testing.assert_allclose(calibrated[1], given[1], rtol=1e-9)
        results.append(calibrated)
    assert not np.allclose(results[0][1], results[1][1])  # the temperature matters here


class _UnusedLastLinear(torch.nn.Module):
    """A small MLP, then one more nn.Linear the forward pass never runs."""

    def __init__(self, n_features: int = 2, n_classes: int = 3):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(n_features, 8), torch.nn.ReLU())
        self.output = torch.nn.Linear(8, n_classes)
        self.unused = torch.nn.Linear(8, n_classes)

    def forward(self, X):
        return self.output(self.body(X))


def test_calibrated_temperature_reads_the_named_layer(three_classes):
    X_labelled, y_labelled, X_pool, _ = three_classes
    X_labelled, X_pool = X_labelled.astype(np.float32), X_pool.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = make_net(_UnusedLastLinear, n_classes=3, max_epochs=2).fit(X_labelled, y_labelled)
    labelled = dict(X_labelled=X_labelled, y_labelled=y_labelled, random_state=0,
                    weights="margin", layer="output")
    torch.manual_seed(1)  # the calibration fits a clone of the net, drawing its initial weights
    temperature = select_temperature(net, X_labelled, y_labelled,
                                     temperatures=DEFAULT_TEMPERATURES, random_state=0,
                                     layer="output")
    torch.manual_seed(1)
    calibrated = herding_sampling(net, X_pool, 4, temperature="calibrated", **labelled)
    given = herding_sampling(net, X_pool, 4, temperature=temperature, **labelled)
    np.testing.assert_array_equal(calibrated[0], given[0])
    np.testing.assert_allclose(calibrated[1], given[1], rtol=1e-6)
