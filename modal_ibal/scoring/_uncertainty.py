"""Uncertainty on the pool: entropy, margin and herding's margin weights.

The margin is that between the two most probable classes; the probabilities are read once
per query.
"""

from __future__ import annotations

import numpy as np

from .._utils.randomness import preserved_global_random_state
from .._utils.validation import is_tensor, n_samples
from ..readers import (
    LastLayerOutputs,
    check_n_features,
    check_single_output,
    held_module,
    is_skorch_net,
    last_layer,
    module_input,
    named_input_errors,
    read_probabilities,
    single_output_message,
)

__all__ = [
    "class_balanced_margin_weights",
    "margin_weights",
    "modal_entropy",
    "modal_margin",
    "per_class_share",
    "pool_probabilities",
    "predictive_entropy",
]

_PROBE_SAMPLES = 8


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
        ``predict_proba`` of the pool (:func:`pool_probabilities`).

    Returns
    -------
    ndarray of shape (n_pool,)
        :math:`H(x_i) = -\sum_c p_{ic} \log p_{ic}` with the natural logarithm,
        rows rescaled to sum to 1 and :math:`0 \log 0 = 0`, as ``scipy.stats.entropy``.
    """
    probas = np.asarray(probas, dtype=np.float64)
    return predictive_entropy(probas / probas.sum(axis=1, keepdims=True))  # [N]


def pool_probabilities(
    estimator, X_pool, batch_size: int, *, outputs: LastLayerOutputs | None = None
) -> np.ndarray:
    """``predict_proba`` of the pool, from one batched forward pass where that is exact.

    For a skorch net whose ``predict_nonlinearity`` is ``'auto'`` and whose
    criterion is ``CrossEntropyLoss`` (skorch applies a softmax) or ``NLLLoss``
    (the module ends in a softmax), skorch's probabilities are the softmax of the
    final ``nn.Linear``'s output, read here in batches. The fast result is
    checked against skorch's own ``predict_proba`` on the first few pool samples
    (the module's train/eval modes are restored afterwards); any other estimator,
    input type, or a mismatch uses ``predict_proba``.

    Parameters
    ----------
    estimator : fitted classifier
    X_pool : array-like of shape (n_pool, ...)
    batch_size : int
        Samples per forward pass.
    outputs : LastLayerOutputs, optional
        The pool's final-layer outputs when the caller has read them already
        (a :class:`~modal_ibal.readers.LabelledView`); saves a second forward pass.

    Returns
    -------
    ndarray of shape (n_pool, n_classes), float64

    Raises
    ------
    TypeError
        When the model gives no probabilities, or not one (n_pool, n_classes) array:
        a multi-label or multi-output model
        (:func:`modal_ibal.readers.check_single_output`).
    ValueError
        When the model cannot take the samples of ``X_pool`` (the message names it).
    """
    if not hasattr(estimator, "predict_proba"):
        raise TypeError(
            "The 'classifier' parameter must give class probabilities (predict_proba) for "
            f"uncertainty sampling. Got {type(estimator).__name__}, which has none (an SVC "
            "needs probability=True)."
        )
    check_single_output(estimator)
    check_n_features(estimator, X_pool, "X_pool")
    with named_input_errors("X_pool"):
        probas = _read_probabilities(estimator, X_pool, batch_size, outputs)
    # a dict of inputs (skorch's own input path) has no row count of its own
    return _probability_array(probas, estimator,
                              None if isinstance(X_pool, dict) else n_samples(X_pool))


def _read_probabilities(estimator, X_pool, batch_size: int, outputs: LastLayerOutputs | None):
    """:func:`pool_probabilities` before its check: the fast read where it is exact."""
    import torch

    fast = (
        is_skorch_net(estimator)
        and (isinstance(X_pool, np.ndarray) or is_tensor(X_pool))
        and estimator.predict_nonlinearity == "auto"
        and isinstance(getattr(estimator, "criterion_", None),
                       (torch.nn.CrossEntropyLoss, torch.nn.NLLLoss))
    )
    if fast:
        probas = (read_probabilities(last_layer(estimator, batch_size=batch_size), X_pool)
                  if outputs is None else outputs.probas)
        head = module_input(X_pool[:_PROBE_SAMPLES], estimator.module_)  # as the fast path
        # predict_proba leaves the module in eval mode, and its DataLoader draws a seed
        with held_module(estimator.module_), preserved_global_random_state():
            probe = np.asarray(estimator.predict_proba(head), dtype=np.float64)
        if probe.shape == probas[:_PROBE_SAMPLES].shape and np.allclose(
            probas[:_PROBE_SAMPLES], probe, rtol=1e-4, atol=1e-5
        ):
            return probas
    with preserved_global_random_state():
        return estimator.predict_proba(X_pool)


def _probability_array(probas, estimator, n_pool: int | None) -> np.ndarray:
    """``predict_proba``'s output as float64, refused unless one (n_pool, n_classes) array.

    ``n_pool`` None: the rows are not checked.
    """
    if isinstance(probas, (list, tuple)):  # one array per output: a multi-output model
        raise TypeError(single_output_message(
            estimator, f"whose predict_proba gives a list of {len(probas)} arrays"))
    probas = np.asarray(probas, dtype=np.float64)
    if probas.ndim != 2 or (n_pool is not None and probas.shape[0] != n_pool):
        raise TypeError(single_output_message(
            estimator, f"whose predict_proba gives shape {probas.shape} for {n_pool} samples"))
    return probas


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
