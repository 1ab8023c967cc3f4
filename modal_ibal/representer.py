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

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax
from sklearn.exceptions import ConvergenceWarning

from ._threads import one_blas_thread
from ._validation import check_positive_float
from .losses import SoftmaxCrossEntropy

if TYPE_CHECKING:
    from .extract import LastLayer, LastLayerOutputs
    from .learner import LabelledView

CLOSED_FORM_READINGS = ("class", "pseudo", "target", "agreement", "nonlinear")
READINGS = (*CLOSED_FORM_READINGS, "finetuned")
DEFAULT_READING = "target"
STATIONARY_GRADIENT = 1e-6  # the refit's largest gradient entry still called stationary
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
        warnings.warn(
            f"The L2 refit of the last layer stopped after {result.nit} L-BFGS iterations with "
            f"a gradient of {gradient:.2g} (a stationary point needs <= {STATIONARY_GRADIENT:g}), "
            "so Eq. 1 holds only approximately; raise max_iter or reg_lambda.",
            ConvergenceWarning, stacklevel=2,
        )
    return result.x.reshape(n_classes, d)


@dataclass(frozen=True)
class ImportanceSummary:
    r"""The labelled set as the IBAL scores of any pool rows need it (Eq. 2).

    Built once per query by :func:`importance_summary`; :meth:`scores` then scores
    any rows of the pool (all of them, or one chunk of a pool that lives elsewhere)
    in :math:`O(b\, d\, C)`.

    Attributes
    ----------
    reading : str
        One of :data:`READINGS`.
    class_sums : ndarray of shape (n_classes, n_features)
        :math:`S_c = \sum_{t: y_t = c} f_t`, bias column included when the layer has one.
    scale : float
        :math:`\kappa = 1 / (2 \lambda n)`.
    weights : ndarray of shape (n_classes, n_features) or None
        The last layer refit with L2 (``reading='finetuned'`` or ``exact=True``).
    """

    reading: str
    class_sums: np.ndarray = field(repr=False)
    scale: float
    weights: np.ndarray | None = field(repr=False)

    def scores(self, layer: LastLayer, outputs: LastLayerOutputs) -> np.ndarray:
        """IBAL scores of the pool rows whose final-layer outputs are ``outputs``.

        Parameters
        ----------
        layer : LastLayer
            The reader that produced ``outputs`` (its ``has_bias`` and ``loss``).
        outputs : LastLayerOutputs
            Features of shape (n_rows, n_features), logits and probabilities of
            shape (n_rows, n_classes).

        Returns
        -------
        ndarray of shape (n_rows,), float64
            The query takes the smallest.
        """
        n_rows = outputs.features.shape[0]
        scores = np.empty(n_rows)
        # rows score independently: stream them, so the bias column and the refit logits
        # exist for one chunk at a time, never as float copies of the whole pool
        for start in range(0, n_rows, POOL_CHUNK):
            rows = slice(start, start + POOL_CHUNK)
            F = fold_bias(outputs.features[rows], layer.has_bias)  # [b, d]
            if self.weights is None:
                scores[rows] = ibal_scores(F, outputs.logits[rows], self.class_sums,
                                           loss=layer.loss, reading=self.reading,
                                           scale=self.scale)
            elif self.reading == "finetuned":
                scores[rows] = ibal_scores(F, F @ self.weights.T, self.class_sums,
                                           loss=SoftmaxCrossEntropy(), reading="literal",
                                           scale=self.scale, probas=outputs.probas[rows])
            else:
                scores[rows] = ibal_scores(F, F @ self.weights.T, self.class_sums,
                                           loss=SoftmaxCrossEntropy(), reading=self.reading,
                                           scale=self.scale)
        return scores


def importance_summary(
    layer: LastLayer,
    labelled: LastLayerOutputs,
    y_index: np.ndarray,
    *,
    reading: str = DEFAULT_READING,
    reg_lambda: float | None = None,
    exact: bool = False,
) -> ImportanceSummary:
    r"""Summarise the labelled set for the IBAL scores of Eq. 2.

    Parameters
    ----------
    layer : LastLayer
        The reader of the fitted model's final layer.
    labelled : LastLayerOutputs
        Its outputs on the labelled set, features of shape (n_labelled, n_features).
    y_index : ndarray of shape (n_labelled,)
        Labelled classes as indices into ``layer.classes_``.
    reading : {'class', 'pseudo', 'target', 'agreement', 'nonlinear', 'finetuned'}
        One of :data:`READINGS` (table in the module docstring). ``'finetuned'``
        refits the last layer with L2 and scores
        :math:`-\kappa \sum_c (q_{ic} - p_{ic}) g_{ic}` with :math:`q` the refit
        layer's softmax.
    reg_lambda : float, optional
        :math:`\lambda`; default the model's own L2 strength (skorch: the optimizer's
        ``weight_decay / 2``; else 0.003, Yeh et al.'s value).
    exact : bool, default=False
        Refit the last layer with L2 on the labelled features first, so that Eq. 1
        holds exactly, and score with the refit layer's logits.

    Returns
    -------
    ImportanceSummary

    Notes
    -----
    .. math::  S_c = \sum_{t: y_t = c} f_t, \qquad \kappa = \frac{1}{2 \lambda n}

    Cost :math:`O(n d)`, plus the refit when one is asked for.
    """
    if reading not in READINGS:
        raise ValueError(
            f"The 'reading' parameter must be one of {list(READINGS)}. Got {reading!r} instead."
        )
    n_labelled = len(y_index)
    lam = layer.reg_lambda(n_labelled) if reg_lambda is None else reg_lambda
    lam = check_positive_float(lam, "reg_lambda")
    F_labelled = fold_bias(labelled.features, layer.has_bias)  # [n, d]
    n_classes = len(layer.classes_)
    class_sums = class_feature_sums(F_labelled, y_index, n_classes)  # [C, d]
    weights = None
    if reading == "finetuned" or exact:
        weights = refit_last_layer(F_labelled, y_index, n_classes, lam)  # [C, d]
    return ImportanceSummary(reading, class_sums, kappa(lam, n_labelled), weights)


def representer_importance(
    view: LabelledView,
    *,
    reading: str = DEFAULT_READING,
    reg_lambda: float | None = None,
    exact: bool = False,
) -> np.ndarray:
    r"""IBAL scores (Eq. 2) of every pool point, assembled from a model's view of the data.

    Parameters
    ----------
    view : LabelledView
        The model's view of the labelled set and the pool
        (:func:`modal_ibal.learner.labelled_view`); the pool is scored chunk by
        chunk (:meth:`~modal_ibal.learner.LabelledView.pool_chunks`), streamed
        through the model unless the view has read it whole already.
    reading, reg_lambda, exact
        As in :func:`importance_summary`.

    Returns
    -------
    ndarray of shape (n_pool,)
        The query takes the smallest.
    """
    summary = importance_summary(view.layer, view.labelled, view.y_index, reading=reading,
                                 reg_lambda=reg_lambda, exact=exact)
    # chunk by chunk, the same chunks whether the pool was read whole or is streamed, so
    # the scores are the same bitwise; the pool's features are never all kept
    return np.concatenate([summary.scores(view.layer, outputs)
                           for _, outputs in view.pool_chunks(POOL_CHUNK)])
