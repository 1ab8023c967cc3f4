"""Importance contracts: the summary's defaults, and pool scores against the closed forms.

The closed forms (module docstring of :mod:`modal_ibal.scoring._representer`), for
softmax cross-entropy with :math:`g_{ic} = f_i^\\top S_c` and :math:`S = \\sum_c S_c`:
``class`` :math:`\\kappa (1 - \\lVert p_i \\rVert^2) f_i^\\top S` and ``target``
:math:`\\kappa (g_{i\\hat y} - p_i^\\top g_i)`, with :math:`p` the softmax of the
model's logits, or of the refit layer's with ``exact=True``.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.special import softmax

from modal_ibal.readers._losses import SoftmaxCrossEntropy
from modal_ibal.readers._outputs import LastLayerOutputs
from modal_ibal.scoring import _importance as importance
from modal_ibal.scoring._importance import importance_summary

N_CLASSES, N_FEATURES, REG_LAMBDA = 3, 4, 0.01


def _outputs(rng, n):
    features = rng.normal(size=(n, N_FEATURES))
    logits = rng.normal(scale=2.0, size=(n, N_CLASSES))
    return LastLayerOutputs(features, logits, softmax(logits, axis=1))


@pytest.fixture
def model_view():
    """A final layer with a bias, 12 labelled points of every class and a pool of 11."""
    rng = np.random.default_rng(5)
    layer = SimpleNamespace(classes_=np.arange(N_CLASSES), loss=SoftmaxCrossEntropy(),
                            has_bias=True, reg_lambda=lambda n: pytest.fail("lambda is given"))
    y_index = np.arange(12) % N_CLASSES
    return layer, _outputs(rng, 12), y_index, _outputs(rng, 11)


def _with_bias(features):
    return np.hstack([features, np.ones((len(features), 1))])


def _closed_form(reading, F_pool, probas, labelled_features, y_index):
    """The reading's closed form for softmax cross-entropy, by its definition."""
    F_labelled = _with_bias(labelled_features)
    kappa = 1.0 / (2.0 * REG_LAMBDA * len(y_index))
    sums = np.stack([F_labelled[y_index == c].sum(axis=0) for c in range(N_CLASSES)])
    g = F_pool @ sums.T  # [N, C]
    if reading == "class":
        return kappa * (1.0 - (probas ** 2).sum(axis=1)) * g.sum(axis=1)
    top = probas.argmax(axis=1)
    return kappa * (g[np.arange(len(g)), top] - (probas * g).sum(axis=1))


def test_the_summary_refits_nothing_by_default(model_view):
    layer, labelled, y_index, pool = model_view
    summary = importance_summary(layer, labelled, y_index, reg_lambda=REG_LAMBDA)
    assert summary.weights is None
    expected = _closed_form("target", _with_bias(pool.features), pool.probas, labelled.features,
                            y_index)
    np.testing.assert_allclose(summary.scores(layer, pool), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reading", ["class", "target"])
def test_pool_scores_are_the_readings_closed_form_scaled_by_kappa(model_view, reading):
    layer, labelled, y_index, pool = model_view
    summary = importance_summary(layer, labelled, y_index, reading=reading,
                                 reg_lambda=REG_LAMBDA)
    expected = _closed_form(reading, _with_bias(pool.features), pool.probas, labelled.features,
                            y_index)
    np.testing.assert_allclose(summary.scores(layer, pool), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reading", ["class", "target"])
def test_exact_scores_are_the_closed_form_of_the_refit_layer_scaled_by_kappa(model_view, reading):
    layer, labelled, y_index, pool = model_view
    summary = importance_summary(layer, labelled, y_index, reading=reading,
                                 reg_lambda=REG_LAMBDA, exact=True)
    F_pool = _with_bias(pool.features)
    refit_probas = softmax(F_pool @ summary.weights.T, axis=1)
    expected = _closed_form(reading, F_pool, refit_probas, labelled.features, y_index)
    np.testing.assert_allclose(summary.scores(layer, pool), expected, rtol=1e-10, atol=1e-12)


def test_the_pool_is_scored_in_chunks_of_pool_chunk_rows_each_row_once(model_view, monkeypatch):
    """The chunks a streamed pool comes in: read whole, it is scored in the same ones."""
    layer, labelled, y_index, pool = model_view
    summary = importance_summary(layer, labelled, y_index, reg_lambda=REG_LAMBDA)
    original, rows = importance.ibal_scores, []

    def recording_ibal_scores(features, *args, **kwargs):
        rows.append(len(features))
        return original(features, *args, **kwargs)

    monkeypatch.setattr(importance, "POOL_CHUNK", 4)
    monkeypatch.setattr(importance, "ibal_scores", recording_ibal_scores)
    scores = summary.scores(layer, pool)
    assert rows == [4, 4, 3]
    expected = _closed_form("target", _with_bias(pool.features), pool.probas, labelled.features,
                            y_index)
    np.testing.assert_allclose(scores, expected, rtol=1e-10, atol=1e-12)
