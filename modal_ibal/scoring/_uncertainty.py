"""Uncertainty on the pool: entropy, margin and herding's margin weights.

Each is computed from the pool's class probabilities, which the readers read once per
query (:func:`modal_ibal.readers.pool_probabilities`); the margin is that between the
two most probable classes.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "class_balanced_margin_weights",
    "margin_weights",
    "modal_entropy",
    "modal_margin",
    "per_class_share",
    "predictive_entropy",
]

def predictive_entropy(probas: np.ndarray) -> np.ndarray:
    r""":math:`-\sum_c p_c \log p_c` per row, with :math:`0 \log 0 = 0`.

    Parameters
    ----------
    probas : ndarray of shape (n_samples, n_classes)

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    probas = np.asarray(probas, dtype=np.float64)
    logs = np.log(np.where(probas > 0, probas, 1.0))
    return -(probas * logs).sum(axis=1)


def modal_entropy(probas: np.ndarray) -> np.ndarray:
    r"""Predictive entropy as modAL's ``classifier_entropy`` computes it.

    Parameters
    ----------
    probas : ndarray of shape (n_pool, n_classes)
        ``predict_proba`` of the pool (:func:`~modal_ibal.readers.pool_probabilities`).

    Returns
    -------
    ndarray of shape (n_pool,)
        :math:`H(x_i) = -\sum_c p_{ic} \log p_{ic}` with the natural logarithm,
        rows rescaled to sum to 1 and :math:`0 \log 0 = 0`, as ``scipy.stats.entropy``.
    """
    probas = np.asarray(probas, dtype=np.float64)
    return predictive_entropy(probas / probas.sum(axis=1, keepdims=True))  # [N]


def modal_margin(probas: np.ndarray) -> np.ndarray:
    r"""The top-two margin as modAL's ``classifier_margin`` computes it.

    Parameters
    ----------
    probas : ndarray of shape (n_samples, n_classes)

    Returns
    -------
    ndarray of shape (n_samples,)
        :math:`p_{(1)} - p_{(2)}`, the gap between the two largest probabilities;
        0 for a one-column output, as in modAL.
    """
    probas = np.asarray(probas, dtype=np.float64)
    if probas.shape[1] < 2:
        return np.zeros(probas.shape[0])  # modAL's convention for one column
    top = np.partition(probas, -2, axis=1)  # [N, C]
    return top[:, -1] - top[:, -2]


def class_balanced_margin_weights(probas: np.ndarray) -> np.ndarray:
    r"""Margin weights divided by the pool share of each point's predicted class.

    .. math::  w(x) = \frac{1 - (p_{x,(1)} - p_{x,(2)})}{C\, f_{\hat y(x)}}, \qquad
               f_c = \frac{|\{x : \hat y(x) = c\}|}{N}

    with :math:`C` the number of columns of ``probas`` and :math:`\hat y` the
    most probable column (the first on ties): 1 times the margin weight when the
    predictions are balanced, more for points of a class the model rarely
    predicts, whose coverage plain margin weights leave for last once the model
    is confidently wrong about them.

    Parameters
    ----------
    probas : ndarray of shape (n_samples, n_classes)
        The pool's probabilities.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    return per_class_share(margin_weights(probas), np.argmax(probas, axis=1), probas.shape[1])


def per_class_share(weights: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """``weights`` divided by ``n_classes`` times the share of the pool predicted as each row's class.

    The second half of :func:`class_balanced_margin_weights`, for margin weights
    and predictions computed elsewhere (a Dask pool's chunks).
    """
    share = np.bincount(predicted, minlength=n_classes) / max(1, predicted.size)  # [C]
    return weights / (n_classes * share[predicted])


def margin_weights(probas: np.ndarray) -> np.ndarray:
    r"""Uncertainty weights :math:`1 - (p_{(1)} - p_{(2)})`: 1 at a tie, 0 when certain.

    Parameters
    ----------
    probas : ndarray of shape (n_samples, n_classes)

    Returns
    -------
    ndarray of shape (n_samples,)
        One minus the gap between the two largest probabilities; 1 for a
        one-column output (modAL's margin is 0 there).
    """
    return 1.0 - modal_margin(probas)
