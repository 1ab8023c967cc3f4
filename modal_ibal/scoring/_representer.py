r"""Representer values and the IBAL scores of Eq. 2 (numpy only).

Notation (paper Sect. 2 and Yeh et al. 2018). A classifier ends in a linear
layer, :math:`\phi(x) = W f(x)`, with :math:`f` the penultimate features; a
bias is folded into :math:`W` by appending a constant 1 to :math:`f`
(:func:`append_bias`). If :math:`W` is a stationary point of
:math:`\frac1n \sum_i L(x_i, y_i) + \lambda \lVert W \rVert^2`, then

.. math::  \phi(x_t) = \sum_i \alpha_i f_i^\top f_t, \qquad
           \alpha_i = -\frac{1}{2 \lambda n} \frac{\partial L(x_i, y_i)}{\partial \phi(x_i)}  \quad (1)

IBAL swaps the roles: the *pool* point :math:`x_i` plays the training point and
the labelled points :math:`x_t` are the targets. With
:math:`\kappa = 1 / (2 \lambda n)`, :math:`S_c = \sum_{t: y_t = c} f_t`,
:math:`g_{ic} = f_i^\top S_c` and :math:`A_{i,yc} = \partial L(x_i, y) / \partial \phi_c`,
every sum over the labelled set collapses into :math:`g_i`, so each reading
costs :math:`O(N d C)` after one pass over the pool and never forms an
:math:`N \times n` matrix.

Eq. 2 read literally weights :math:`k(x_t, x_i, \alpha_i|y)` by :math:`p(y|x_i)`;
taken at each target's own class it is
:math:`-\kappa \sum_y p_{iy} \sum_c A_{i,yc}\, g_{ic}`, which is identically zero
for softmax cross-entropy because :math:`\sum_y p_y (p_c - [y=c]) = 0`
(:func:`literal_ibal_scores` keeps it as a diagnostic). The non-degenerate
readings, argmin-ranked:

=============  ============================================================  =========================================
reading        formula                                                       softmax cross-entropy
=============  ============================================================  =========================================
``class``      :math:`-\kappa \sum_y p_y A_{yy}\; f_i^\top S`                :math:`\kappa (1 - \lVert p_i\rVert^2) f_i^\top S`
``pseudo``     :math:`-\kappa \sum_y p_y A_{\hat y y}\; f_i^\top S`          :math:`\kappa (p_{i\hat y} - \lVert p_i\rVert^2) f_i^\top S`
``target``     :math:`-\kappa \sum_c A_{\hat y c}\, g_{ic}`                  :math:`\kappa (g_{i\hat y} - p_i^\top g_i)`
``agreement``  :math:`-\kappa \sum_y p_y A_{yy}\, g_{iy}`                    :math:`\kappa \sum_c p_{ic}(1 - p_{ic}) g_{ic}`
``nonlinear``  :math:`\kappa \sum_y p_y \max(0, \sum_c A_{yc} g_{ic})`       :math:`\kappa \sum_y p_{iy} \max(0, p_i^\top g_i - g_{iy})`
=============  ============================================================  =========================================

with :math:`\hat y = \arg\max_c p_{ic}` and :math:`S = \sum_c S_c`. A sixth reading,
``finetuned``, is Yeh et al.'s practice: refit the last layer with L2
(:func:`refit_last_layer`) and score :math:`-\kappa \sum_c (q_{ic} - p_{ic}) g_{ic}`
with :math:`q` the refit layer's softmax. :data:`READINGS` lists all six;
:func:`representer_importance` assembles any of them from a model's view of the data.

References
----------
.. [1] Pezeshkpour, Zhao and Singh, "Data Importance-Based Active Learning for
   Limited Labels", 2020.
.. [2] Yeh, Kim, Yen and Ravikumar, "Representer Point Selection for Explaining
   Deep Neural Networks", NeurIPS 2018.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .._utils.threads import one_blas_thread
from .._utils.validation import check_positive_float
from ..readers import SoftmaxCrossEntropy

if TYPE_CHECKING:
    pass

__all__ = [
    "CLOSED_FORM_READINGS",
    "DEFAULT_READING",
    "POOL_CHUNK",
    "READINGS",
    "append_bias",
    "class_feature_sums",
    "fold_bias",
    "ibal_scores",
    "kappa",
    "literal_ibal_scores",
    "representer_logits",
    "representer_weights",
]

CLOSED_FORM_READINGS = ("class", "pseudo", "target", "agreement", "nonlinear")
READINGS = (*CLOSED_FORM_READINGS, "finetuned")
DEFAULT_READING = "target"
POOL_CHUNK = 16384  # pool rows scored at once (larger chunks measured slower)


def append_bias(features: np.ndarray) -> np.ndarray:
    """Append the constant feature 1 that folds a bias into :math:`W`.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)

    Returns
    -------
    ndarray of shape (n_samples, n_features + 1)
    """
    return np.hstack([features, np.ones((features.shape[0], 1), dtype=features.dtype)])


def fold_bias(features: np.ndarray, has_bias: bool) -> np.ndarray:
    """The :math:`f` of Eq. 1: ``features`` with the constant 1 appended when the layer has a bias.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
    has_bias : bool
        Whether the final layer has a bias (``LastLayer.has_bias``).

    Returns
    -------
    ndarray of shape (n_samples, n_features + has_bias)
    """
    return append_bias(features) if has_bias else features


def kappa(reg_lambda: float, n_labelled: int) -> float:
    r""":math:`\kappa = 1 / (2 \lambda n)`, the scale of the representer weights in Eq. 1."""
    reg_lambda = check_positive_float(reg_lambda, "reg_lambda")
    return 1.0 / (2.0 * reg_lambda * n_labelled)


def class_feature_sums(features: np.ndarray, y_index: np.ndarray, n_classes: int) -> np.ndarray:
    r"""Per-class sums of the labelled features, :math:`S_c = \sum_{t: y_t = c} f_t`.

    Parameters
    ----------
    features : ndarray of shape (n_labelled, n_features)
    y_index : ndarray of shape (n_labelled,)
        Class indices in ``[0, n_classes)``.
    n_classes : int

    Returns
    -------
    ndarray of shape (n_classes, n_features), float64
        Rows of classes absent from the labelled set are zero.
    """
    sums = np.zeros((n_classes, features.shape[1]), dtype=np.float64)
    np.add.at(sums, y_index, features.astype(np.float64, copy=False))
    return sums


def _gradient_terms(loss, logits: np.ndarray, g: np.ndarray, yhat: np.ndarray,
                    link: np.ndarray | None = None):
    """Per-sample reductions of ``A[i, y, c]`` the readings need, each of shape (b, C).

    diag[y] = A[y, y];  Ag[y] = sum_c A[y, c] g_c;  A_hat[c] = A[yhat, c].
    ``link`` is ``loss.link(logits)`` when the caller has it already.
    """
    rows = np.arange(len(yhat))
    if loss.link is not None:  # A[y, c] = s_c - [y = c]
        s = loss.link(logits) if link is None else link  # [b, C]
        diag = s - 1.0  # [b, C]
        Ag = (s * g).sum(axis=1, keepdims=True) - g  # [b, C]
        A_hat = s.copy()  # [b, C]
        A_hat[rows, yhat] -= 1.0
        return diag, Ag, A_hat
    A = loss.gradients(logits)  # [b, C, C]
    diag = np.diagonal(A, axis1=1, axis2=2)  # [b, C]
    Ag = np.einsum("byc,bc->by", A, g)  # [b, C]
    A_hat = A[rows, yhat]  # [b, C]
    return diag, Ag, A_hat


_READING_FORMULAS: dict[str, Callable] = {
    "class": lambda p, g, fS, diag, Ag, A_hat, yhat: -(p * diag).sum(1) * fS,
    "pseudo": lambda p, g, fS, diag, Ag, A_hat, yhat: -(p * A_hat).sum(1) * fS,
    "target": lambda p, g, fS, diag, Ag, A_hat, yhat: -Ag[np.arange(len(yhat)), yhat],
    "agreement": lambda p, g, fS, diag, Ag, A_hat, yhat: -(p * diag * g).sum(1),
    "nonlinear": lambda p, g, fS, diag, Ag, A_hat, yhat: (p * np.maximum(Ag, 0.0)).sum(1),
    "literal": lambda p, g, fS, diag, Ag, A_hat, yhat: -(p * Ag).sum(1),
}


def ibal_scores(
    features: np.ndarray,
    logits: np.ndarray,
    class_sums: np.ndarray,
    *,
    loss,
    reading: str = DEFAULT_READING,
    scale: float = 1.0,
    probas: np.ndarray | None = None,
) -> np.ndarray:
    r"""Aggregate representer importance of each pool point on the labelled set (Eq. 2).

    Parameters
    ----------
    features : ndarray of shape (n_pool, n_features)
        Penultimate features :math:`f_i` of the pool, bias column included.
    logits : ndarray of shape (n_pool, n_classes)
        Final-layer outputs :math:`\phi(x_i)`; the loss gradient is taken here.
    class_sums : ndarray of shape (n_classes, n_features)
        :math:`S_c` from :func:`class_feature_sums` on the labelled set.
    loss : SoftmaxCrossEntropy, OneVsRestLogistic or AutogradLoss
        How :math:`\partial L(x, y) / \partial \phi` depends on the label.
    reading : {'class', 'pseudo', 'target', 'agreement', 'nonlinear', 'literal'}
        Which reading of Eq. 2 (table in the module docstring); ``'literal'`` is
        the degenerate diagnostic.
    scale : float, default=1.0
        :math:`\kappa = 1/(2 \lambda n)`. It does not change the ranking.
    probas : ndarray of shape (n_pool, n_classes), optional
        :math:`p(y|x_i)`; defaults to the loss's probabilities of ``logits``.

    Returns
    -------
    ndarray of shape (n_pool,), float64
        IBAL scores; the query takes the smallest (Eq. 2 is an argmin).

    Notes
    -----
    .. math::  \mathrm{IBAL}(x_i) = \sum_{x_t \in L} \sum_{y \in C} p(y|x_i)\, k(x_t, x_i, \alpha_i|y),
               \qquad k(x_t, x_i, \alpha_i) = \alpha_i f_i^\top f_t   \quad (2)

    The pool is processed in chunks: peak extra memory is
    :math:`O(\mathrm{chunk} \cdot C)` (times :math:`C` for autograd losses).
    """
    if reading not in _READING_FORMULAS:
        raise ValueError(
            f"The 'reading' parameter must be one of {sorted(_READING_FORMULAS)}. "
            f"Got {reading!r} instead."
        )
    formula = _READING_FORMULAS[reading]
    # softmax cross-entropy: link output and probabilities are one softmax, computed once
    shared_softmax = type(loss) is SoftmaxCrossEntropy
    class_sums_t = np.ascontiguousarray(class_sums.T, dtype=np.float64)  # [d, C]
    n_pool = features.shape[0]
    chunk = POOL_CHUNK if loss.link is not None else max(1, POOL_CHUNK // max(1, logits.shape[1]))
    scores = np.empty(n_pool, dtype=np.float64)
    # products with C outputs per row are too small for BLAS threads to pay for their
    # start-up: on two busy cores they made this loop 2.7x slower (and the refit 16-40x)
    with one_blas_thread():
        for start in range(0, n_pool, chunk):
            stop = min(start + chunk, n_pool)
            F = features[start:stop].astype(np.float64, copy=False)  # [b, d]
            phi = logits[start:stop].astype(np.float64, copy=False)  # [b, C]
            link = loss.link(phi) if shared_softmax else None  # [b, C]
            if probas is not None:
                p = probas[start:stop]  # [b, C]
            else:
                p = link if shared_softmax else loss.probabilities(phi)  # [b, C]
            g = F @ class_sums_t  # [b, C]
            yhat = p.argmax(axis=1)  # [b]
            diag, Ag, A_hat = _gradient_terms(loss, phi, g, yhat, link)
            scores[start:stop] = formula(p, g, g.sum(axis=1), diag, Ag, A_hat, yhat)
    return scale * scores


def literal_ibal_scores(features, logits, class_sums, *, loss, scale=1.0, probas=None):
    r"""Eq. 2 taken literally, each target at its own class: a diagnostic.

    .. math::  -\kappa \sum_y p_{iy} \sum_c A_{i,yc}\, g_{ic}

    For softmax cross-entropy :math:`\sum_y p_y A_{yc} = p_c - p_c = 0`, so the
    result is zero for every pool point up to rounding: ranking by it is random
    sampling in disguise. Same parameters and return as :func:`ibal_scores`.
    """
    return ibal_scores(
        features, logits, class_sums, loss=loss, reading="literal", scale=scale, probas=probas
    )


def representer_weights(
    logits: np.ndarray, y_index: np.ndarray, *, loss, scale: float
) -> np.ndarray:
    r"""Representer weights :math:`\alpha_t = -\kappa\, \partial L(x_t, y_t) / \partial \phi(x_t)`.

    Parameters
    ----------
    logits : ndarray of shape (n, n_classes)
    y_index : ndarray of shape (n,)
        Class indices of the training points.
    loss : SoftmaxCrossEntropy, OneVsRestLogistic or AutogradLoss
    scale : float
        :math:`\kappa = 1 / (2 \lambda n)`.

    Returns
    -------
    ndarray of shape (n, n_classes)
    """
    A = loss.gradients(logits.astype(np.float64))  # [n, C, C]
    return -scale * A[np.arange(len(y_index)), y_index]  # [n, C]


def representer_logits(
    alpha: np.ndarray, train_features: np.ndarray, target_features: np.ndarray
) -> np.ndarray:
    r"""Eq. 1: :math:`\phi(x_t) = \sum_i \alpha_i f_i^\top f_t`, factorised as :math:`F_t (F^\top \alpha)`.

    Returns
    -------
    ndarray of shape (n_targets, n_classes)
    """
    weights = train_features.astype(np.float64).T @ alpha  # [d, C]
    return target_features.astype(np.float64) @ weights  # [m, C]
