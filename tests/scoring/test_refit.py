"""The L2 refit of the last layer: a stationary point, its start, and when it warns."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.exceptions import ConvergenceWarning

from modal_ibal.scoring import _refit as refit
from modal_ibal.scoring._refit import STATIONARY_GRADIENT, refit_last_layer


def _problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(20, 4)), np.arange(20) % 3


def _gradient(W, F, y, reg_lambda):
    """The gradient of (1/n) sum_t -log softmax(W f_t)_{y_t} + lambda ||W||^2."""
    onehot = np.eye(W.shape[0])[y]
    return (softmax(F @ W.T, axis=1) - onehot).T @ F / len(y) + 2 * reg_lambda * W


def test_the_refit_reaches_a_stationary_point_silently():
    F, y = _problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        W = refit_last_layer(F.astype(np.float32), y, 3, 0.01)
    assert W.shape == (3, 4) and W.dtype == np.float64
    assert np.abs(_gradient(W, F.astype(np.float32).astype(np.float64), y, 0.01)).max() <= \
        STATIONARY_GRADIENT


def test_a_refit_started_at_its_stationary_point_stays_there():
    F, y = _problem(1)
    W = refit_last_layer(F, y, 3, 0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no iteration needed: max_iter=1 is not reached
        again = refit_last_layer(F, y, 3, 0.01, init=W, gtol=1e-6, max_iter=1)
    np.testing.assert_array_equal(again, W)


def test_using_every_iteration_warns_even_at_a_small_gradient():
    F, y = _problem(2)
    with pytest.warns(ConvergenceWarning, match="after 13 L-BFGS iterations") as record:
        W = refit_last_layer(F, y, 3, 0.01, gtol=0.0, max_iter=13)  # about 1e-8 by then
    assert np.abs(_gradient(W, F, y, 0.01)).max() <= STATIONARY_GRADIENT
    # attributed to the code that asked for the refit, not to the refit itself
    assert all(entry.filename != refit.__file__ for entry in record)


def test_stopping_early_on_a_large_gradient_warns():
    F, y = _problem(3)
    with pytest.warns(ConvergenceWarning, match="L2 refit of the last layer"):
        W = refit_last_layer(F, y, 3, 0.01, gtol=1e-2)  # stops long before max_iter
    assert np.abs(_gradient(W, F, y, 0.01)).max() > STATIONARY_GRADIENT


def test_a_gradient_of_exactly_the_stationary_bound_is_stationary():
    # with zero features the gradient is 2 lambda W = W at the start, which gtol accepts
    init = np.zeros((2, 3))
    init[1, 2] = STATIONARY_GRADIENT
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        W = refit_last_layer(np.zeros((4, 3)), np.array([0, 1, 0, 1]), 2, 0.5, init=init,
                             gtol=1.0)
    np.testing.assert_array_equal(W, init)


def test_documented_iteration_budget():
    assert inspect.signature(refit_last_layer).parameters["max_iter"].default == 5000
