"""The last layer refit to a stationary point, for the finetuned reading.

The ``finetuned`` reading's refit: the last layer fitted to a stationary point by L-BFGS, as
the representer theorem (Eq. 1) assumes.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax
from sklearn.exceptions import ConvergenceWarning

from .._utils.attribution import warn_caller
from .._utils.threads import one_blas_thread

__all__ = ["STATIONARY_GRADIENT", "refit_last_layer"]

STATIONARY_GRADIENT = 1e-6  # the refit's largest gradient entry still called stationary


def refit_last_layer(
    features: np.ndarray,
    y_index: np.ndarray,
    n_classes: int,
    reg_lambda: float,
    *,
    init: np.ndarray | None = None,
    gtol: float = 1e-10,
    max_iter: int = 5000,
) -> np.ndarray:
    r"""Refit the final layer with L2 so that Eq. 1 holds exactly (Yeh et al.'s practice).

    Solves the convex multinomial logistic regression

    .. math::  \min_W \frac1n \sum_t -\log \mathrm{softmax}(W f_t)_{y_t} + \lambda \lVert W \rVert^2

    to a stationary point with L-BFGS in float64.

    Parameters
    ----------
    features : ndarray of shape (n, d)
        Labelled features, bias column included (the bias is penalised too).
    y_index : ndarray of shape (n,)
    n_classes : int
    reg_lambda : float
        :math:`\lambda > 0`.
    init : ndarray of shape (n_classes, d), optional
        Starting point, e.g. the trained layer's weights.

    gtol : float, default=1e-10
        L-BFGS's tolerance on the projected gradient.
    max_iter : int, default=5000

    Returns
    -------
    ndarray of shape (n_classes, d)
        The refit weights :math:`W`; then :math:`W f = \sum_t \alpha_t f_t^\top f`.

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        When L-BFGS used all ``max_iter`` iterations or stopped with a gradient
        entry larger than ``STATIONARY_GRADIENT`` (1e-6): then Eq. 1 is approximate.
    """
    F = features.astype(np.float64)
    n, d = F.shape
    onehot = np.eye(n_classes)[y_index]  # [n, C]

    def objective(w_flat):
        W = w_flat.reshape(n_classes, d)
        logits = F @ W.T  # [n, C]
        value = -(log_softmax(logits, axis=1) * onehot).sum() / n + reg_lambda * (W * W).sum()
        grad = (softmax(logits, axis=1) - onehot).T @ F / n + 2 * reg_lambda * W  # [C, d]
        return value, grad.ravel()

    start = np.zeros(n_classes * d) if init is None else np.asarray(init, np.float64).ravel()
    with one_blas_thread():  # small products; also makes the refit independent of the cores
        result = minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max_iter, "gtol": gtol, "ftol": 0.0, "maxcor": 30},
        )
        gradient = np.abs(objective(result.x)[1]).max()
    if result.nit >= max_iter or gradient > STATIONARY_GRADIENT:
        warn_caller(
            f"The L2 refit of the last layer stopped after {result.nit} L-BFGS iterations with "
            f"a gradient of {gradient:.2g} (a stationary point needs <= {STATIONARY_GRADIENT:g}), "
            "so Eq. 1 holds only approximately; raise max_iter or reg_lambda.",
            ConvergenceWarning)
    return result.x.reshape(n_classes, d)
