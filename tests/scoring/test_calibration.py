"""UHerding's recipe: temperature chosen on the labelled set, the labelled kernel width."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from conftest import make_net
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression

from modal_ibal import herding_sampling
from modal_ibal.coverage._kernel import labelled_bandwidth
from modal_ibal.scoring._calibration import (
    expected_calibration_error,
    select_temperature,
    tempered_probabilities,
)


def test_tempered_probabilities_are_the_softmax_of_the_scaled_logits():
    logits = np.random.default_rng(0).standard_normal((20, 4)).astype(np.float32) * 30
    for t in (0.1, 1.0, 7.5):
        np.testing.assert_allclose(tempered_probabilities(logits, t),
                                   softmax(logits.astype(np.float64) / t, axis=1), rtol=1e-12)


def test_expected_calibration_error_by_hand():
    probas = np.array([[0.95, 0.05], [0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    y = np.array([0, 1, 0, 1])
    # bins of width 0.25: {0.6, 0.7} (both right, confidence 0.65) and {0.95, 0.9} (one right)
    expected = 0.5 * abs(1.0 - 0.65) + 0.5 * abs(0.5 - 0.925)
    assert expected_calibration_error(probas, y, n_bins=4) == pytest.approx(expected)
    assert expected_calibration_error(np.eye(3), np.arange(3)) == pytest.approx(0.0)


def test_select_temperature_picks_the_best_calibrated_grid_point_and_keeps_the_model(blobs):
    X, y = blobs
    model = LogisticRegression(C=100.0).fit(X[:60], y[:60])
    coefficients = model.coef_.copy()
    grid = np.array([0.5, 1.0, 4.0])
    chosen = select_temperature(model, X[:60], y[:60], temperatures=grid, random_state=0)
    assert chosen in grid
    np.testing.assert_array_equal(model.coef_, coefficients)
    assert select_temperature(model, X[:60], y[:60], temperatures=grid, random_state=0) == chosen
    assert select_temperature(model, X[:4], y[:4], random_state=0) == 1.0  # too few to split


def test_select_temperature_refits_a_clone_of_a_skorch_net(split):
    X_labelled, y_labelled, _ = split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = make_net(max_epochs=3).fit(X_labelled, y_labelled)
        weights = net.module_.output.weight.detach().clone()
        chosen = select_temperature(net, X_labelled, y_labelled, random_state=1)
    assert 0.1 <= chosen <= 10.0
    assert torch.equal(net.module_.output.weight, weights)


@pytest.mark.parametrize("grid", [[], [1.0, -2.0], [np.nan], "hot"])
def test_select_temperature_refuses_a_bad_grid(grid, blobs):
    X, y = blobs
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="'temperatures' parameter must be a non-empty array"):
        select_temperature(model, X, y, temperatures=grid)


def test_labelled_bandwidth_is_the_smallest_distinct_distance_over_root_two():
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((2500, 4))  # more rows than one block
    Z[7] = Z[3]  # an exact duplicate does not count
    distances = np.sqrt(((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1))
    smallest = distances[distances > 1e-9].min()
    assert labelled_bandwidth(Z) == pytest.approx(smallest / np.sqrt(2), rel=1e-6)
    assert labelled_bandwidth(Z[:1]) is None
    assert labelled_bandwidth(np.repeat(Z[:1], 3, axis=0)) is None


def test_herding_with_the_labelled_width_equals_that_width_given(split, fitted_net):
    X_labelled, y_labelled, X_pool = split
    unit = X_labelled / np.linalg.norm(X_labelled, axis=1, keepdims=True)
    width = labelled_bandwidth(unit)
    adaptive = herding_sampling(fitted_net, X_pool, 8, bandwidth="labelled",
                                X_labelled=X_labelled, y_labelled=y_labelled)
    given = herding_sampling(fitted_net, X_pool, 8, bandwidth=width,
                             X_labelled=X_labelled, y_labelled=y_labelled)
    np.testing.assert_array_equal(adaptive[0], given[0])
    np.testing.assert_allclose(adaptive[1], given[1], rtol=1e-6)


def test_a_fixed_temperature_of_one_gives_the_default_weights(split, fitted_net):
    X_labelled, y_labelled, X_pool = split
    kwargs = dict(X_labelled=X_labelled, y_labelled=y_labelled, weights="margin")
    plain = herding_sampling(fitted_net, X_pool, 8, **kwargs)
    tempered = herding_sampling(fitted_net, X_pool, 8, temperature=1.0, **kwargs)
    np.testing.assert_array_equal(plain[0], tempered[0])
    calibrated = herding_sampling(fitted_net, X_pool, 8, temperature="calibrated",
                                  random_state=0, **kwargs)
    assert len(np.unique(calibrated[0])) == 8


@pytest.mark.parametrize("options, message", [
    ({"temperature": "warm"}, "'temperature' parameter must be None, 'calibrated' or a float"),
    ({"temperature": -1.0}, "'temperature' parameter must be finite and > 0"),
])
def test_herding_refuses_bad_recipe_options(options, message, split, fitted_net):
    X_labelled, y_labelled, X_pool = split
    with pytest.raises(ValueError, match=message):
        herding_sampling(fitted_net, X_pool, 3, X_labelled=X_labelled, y_labelled=y_labelled,
                         **options)


def test_select_temperature_refuses_multi_output_labels_and_models():
    from sklearn.multioutput import MultiOutputClassifier

    X = np.random.default_rng(0).normal(size=(40, 3))
    Y = (X[:, :2] > 0).astype(int)
    with pytest.raises(ValueError, match=(
            r"^The 'y_labelled' parameter must be a 1-D array of class labels, one per sample\. "
            r"Got shape \(40, 2\) instead")):  # before: scikit-learn's error from inside fit
        select_temperature(LogisticRegression().fit(X, Y[:, 0]), X, Y)
    with pytest.raises(TypeError, match=(
            r"^The 'classifier' parameter must be a single-output classifier .* Got "
            r"MultiOutputClassifier")):
        select_temperature(MultiOutputClassifier(LogisticRegression()).fit(X, Y), X, Y)
