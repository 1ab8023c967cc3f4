"""Predictive entropy, modAL's entropy, the class share of margin weights and the pool's probabilities."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import entropy
from sklearn.linear_model import LogisticRegression

from modal_ibal.readers import pool_probabilities
from modal_ibal.scoring._uncertainty import (
    modal_entropy,
    per_class_share,
    predictive_entropy,
)


def _float32_probabilities(seed: int) -> np.ndarray:
    P = np.random.default_rng(seed).dirichlet(np.ones(5), size=6)
    return P.astype(np.float32)


def test_zero_probabilities_contribute_nothing_to_the_entropy():
    probas = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.25, 0.25, 0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = predictive_entropy(probas)
    np.testing.assert_allclose(got, [0.0, np.log(2), 1.5 * np.log(2)], rtol=1e-14, atol=0.0)


def test_entropy_of_float32_probabilities_is_computed_in_float64():
    P = _float32_probabilities(0)
    expected = -(P.astype(np.float64) * np.log(P.astype(np.float64))).sum(axis=1)
    got = predictive_entropy(P)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_modal_entropy_rescales_rows_to_sum_to_one_as_scipy():
    counts = np.array([[2.0, 2.0], [1.0, 3.0], [5.0, 0.0]])
    np.testing.assert_allclose(modal_entropy(counts),
                               [np.log(2), entropy([0.25, 0.75]), 0.0], rtol=1e-14, atol=0.0)
    P = _float32_probabilities(1) * np.float32(3.0)  # float32 rows that do not sum to 1
    np.testing.assert_allclose(modal_entropy(P), entropy(P.astype(np.float64), axis=1),
                               rtol=1e-13)


def test_class_share_of_a_single_prediction_is_the_whole_pool():
    np.testing.assert_allclose(per_class_share(np.array([0.5]), np.array([1]), 2), [0.25])
    np.testing.assert_allclose(
        per_class_share(np.array([0.5, 1.0, 0.2]), np.array([0, 0, 2]), 4),
        [0.5 / (4 * 2 / 3), 1.0 / (4 * 2 / 3), 0.2 / (4 / 3)])


class _Float32Probabilities(LogisticRegression):
    """A classifier whose predict_proba gives float32, as a float32 network's would."""

    def predict_proba(self, X):
        return super().predict_proba(X).astype(np.float32)


def test_pool_probabilities_are_float64_whatever_the_model_returns():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(30, 3)), np.tile([0, 1, 2], 10)
    model = _Float32Probabilities().fit(X, y)
    probas = pool_probabilities(model, X[:7], batch_size=4)
    assert probas.dtype == np.float64 and probas.shape == (7, 3)
    np.testing.assert_array_equal(probas, model.predict_proba(X[:7]).astype(np.float64))
