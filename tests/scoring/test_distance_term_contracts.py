"""The distance strategies' scores (Eq. 4 and entropy + D) assembled from a model's view."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from modal_ibal.readers._outputs import LastLayerOutputs
from modal_ibal.readers._view import LabelledView, model_view
from modal_ibal.scoring._distance_term import (
    entropy_distance_scores,
    ibal_distance_scores,
    normalise_by_max,
)
from modal_ibal.scoring._importance import representer_importance
from modal_ibal.search._distance_cache import LabelledDistanceCache


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 1.0, 0.0], [0.0, 3.0, 0.0, -1.0]])
    y = np.tile([0, 1, 2], 14)
    X = centres[y] + rng.normal(size=(len(y), 4))
    model = LogisticRegression(C=0.5).fit(X[:12], y[:12])
    return model, X[:12], y[:12], X[12:]


def _view(data):
    model, X_labelled, y_labelled, X_pool = data
    return model_view(model, X_pool, X_labelled, y_labelled)


def _first_two(X):
    """An embedding that keeps two of the four inputs, so it differs from the model's features."""
    return 2.0 * np.asarray(X)[:, :2]


def _normalised_distance(Z_pool, Z_labelled):
    """Distance to the nearest labelled point, pair by pair, divided by its largest value."""
    D = np.linalg.norm(Z_pool[:, None] - Z_labelled[None], axis=2).min(axis=1)
    return D / D.max()


def test_entropy_plus_distance_adds_gamma_times_the_normalised_distance(data):
    _, X_labelled, _, X_pool = data
    entropy = np.random.default_rng(1).uniform(0.1, 2.0, size=len(X_pool))
    distance = _normalised_distance(_first_two(X_pool), _first_two(X_labelled))
    for gamma in (0.5, 2.0):
        got = entropy_distance_scores(entropy, _view(data), X_pool, gamma=gamma,
                                      embedding=_first_two)
        np.testing.assert_allclose(got, entropy / entropy.max() + gamma * distance, rtol=1e-12)


def test_entropy_plus_distance_defaults_to_the_model_features_and_gamma_one(data):
    _, X_labelled, _, X_pool = data
    entropy = np.linspace(0.5, 1.0, len(X_pool))
    got = entropy_distance_scores(entropy, _view(data), X_pool)
    expected = normalise_by_max(entropy) + _normalised_distance(X_pool, X_labelled)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_entropy_plus_distance_searches_through_the_given_cache(data):
    _, X_labelled, _, X_pool = data
    entropy = np.linspace(0.5, 1.0, len(X_pool))
    cache = LabelledDistanceCache()
    for _ in range(2):  # the second round takes every distance from the cache
        got = entropy_distance_scores(entropy, _view(data), X_pool, embedding=_first_two,
                                      distance_cache=cache)
        expected = normalise_by_max(entropy) + _normalised_distance(_first_two(X_pool),
                                                                    _first_two(X_labelled))
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert (cache.n_searched, cache.n_updated) == (len(X_pool), len(X_pool))


def test_ibal_distance_passes_the_importance_options_through(data):
    _, X_labelled, _, X_pool = data
    distance = _normalised_distance(_first_two(X_pool), _first_two(X_labelled))
    for options in [{}, {"reading": "class", "reg_lambda": 0.2, "exact": True},
                    {"reading": "agreement", "reg_lambda": 0.05, "exact": True},
                    {"reading": "finetuned", "reg_lambda": 0.2}]:
        importance = representer_importance(_view(data), **options)
        got = ibal_distance_scores(_view(data), X_pool, gamma=0.7, embedding=_first_two,
                                   **options)
        np.testing.assert_allclose(got, normalise_by_max(importance) - 0.7 * distance,
                                   rtol=1e-9, atol=1e-12, err_msg=str(options))


def test_ibal_distance_options_change_the_scores(data):
    """Each option the test above passes through makes a difference on this data."""
    view = _view(data)
    base = normalise_by_max(representer_importance(view, reading="class", reg_lambda=0.2,
                                                   exact=True))
    for other in [{"reading": "target", "reg_lambda": 0.2, "exact": True},
                  {"reading": "class", "reg_lambda": 0.05, "exact": True},
                  {"reading": "class", "reg_lambda": 0.2, "exact": False}]:
        changed = normalise_by_max(representer_importance(view, **other))
        assert np.abs(changed - base).max() > 1e-3, other
    default = normalise_by_max(representer_importance(view))
    exact = normalise_by_max(representer_importance(view, exact=True))
    assert np.abs(default - exact).max() > 1e-3


@pytest.mark.parametrize("where", ["pool", "labelled", "both"])
def test_non_finite_model_features_on_either_side_are_refused(data, where):
    view = _view(data)
    pool, labelled = view.pool, view.labelled
    if where in ("pool", "both"):
        features = pool.features.copy()
        features[2, 1] = np.nan
        pool = LastLayerOutputs(features, pool.logits, pool.probas)
    if where in ("labelled", "both"):
        features = labelled.features.copy()
        features[0, 0] = np.inf
        labelled = LastLayerOutputs(features, labelled.logits, labelled.probas)
    broken = LabelledView.with_pool_outputs(view.layer, view.X_pool, pool, labelled,
                                            view.y_index, view.X_labelled)
    with pytest.raises(ValueError, match="penultimate features hold NaN or infinite"):
        entropy_distance_scores(np.ones(len(view.X_pool)), broken, view.X_pool)


def test_normalise_by_max_gives_float64_divided_by_the_largest_magnitude():
    for values, expected in [(np.array([0.25, -0.5], dtype=np.float32), [0.5, -1.0]),
                             (np.array([1, -4, 2]), [0.25, -1.0, 0.5]),
                             (np.array([0, 0]), [0.0, 0.0]),
                             (np.zeros(3, dtype=np.float32), [0.0, 0.0, 0.0])]:
        got = normalise_by_max(values)
        assert got.dtype == np.float64 and got.shape == values.shape
        np.testing.assert_array_equal(got, expected)
