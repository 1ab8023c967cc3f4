r"""Per-point scores beside the representer math: distance to the labelled set, entropy, probabilities.

Each function takes what a query has already read (a :class:`~modal_ibal.learner.LabelledView`
or a fitted estimator) and returns one value per pool point; strategies combine
and rank them. IBAL's own score is :func:`modal_ibal.representer.representer_importance`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._random import preserved_global_random_state
from ._validation import is_tensor
from .distance import nearest_labelled_distance, normalise_by_max
from .distance_cache import LabelledDistanceCache
from .embedding import embed
from .extract import (
    LastLayerOutputs,
    is_skorch_net,
    last_layer,
    module_input,
    preserved_train_modes,
    read_probabilities,
)
from .learner import LabelledView
from .representer import DEFAULT_READING, representer_importance

__all__ = [
    "DEFAULT_GAMMA",
    "entropy_distance_scores",
    "ibal_distance_scores",
    "labelled_distance",
    "margin_weights",
    "modal_entropy",
    "modal_margin",
    "pool_probabilities",
    "predictive_entropy",
]

DEFAULT_GAMMA = 1.0  # gamma of Eq. 4; 1.0 measured best on a synthetic validation split
_PROBE_SAMPLES = 8


def labelled_distance(
    view: LabelledView,
    X_pool,
    embedding: Any = None,
    distance_cache: LabelledDistanceCache | None = None,
) -> np.ndarray:
    r"""Normalised nearest-labelled distance :math:`D(x_i) / \max_j D(x_j)` (Eq. 3).

    Parameters
    ----------
    view : LabelledView
    X_pool : array-like of shape (n_pool, ...)
    embedding : transformer, callable or None, default=None
        None uses the classifier's penultimate features; otherwise see
        :func:`modal_ibal.embedding.embed`.
    distance_cache : LabelledDistanceCache or None, default=None
        Keeps the distances between rounds and updates them with only the newly
        labelled points (the same result as a full search). It pays with a fixed
        embedding (an autoencoder), whose codes do not change between rounds.

    Returns
    -------
    ndarray of shape (n_pool,), values in [0, 1]
    """
    if distance_cache is not None and not isinstance(distance_cache, LabelledDistanceCache):
        raise TypeError(
            "The 'distance_cache' parameter must be a LabelledDistanceCache or None. Got "
            f"{type(distance_cache).__name__} instead."
        )
    search = (nearest_labelled_distance if distance_cache is None
              else distance_cache.nearest_labelled_distance)
    if embedding is None:
        codes_pool, codes_labelled = view.pool.features, view.labelled.features
        if not (np.isfinite(codes_pool).all() and np.isfinite(codes_labelled).all()):
            raise ValueError(
                "The model's penultimate features hold NaN or infinite values; check the "
                "model (a diverged fit?) and the samples."
            )
    else:
        codes_pool, codes_labelled = embed(embedding, X_pool), embed(embedding, view.X_labelled)
    return normalise_by_max(search(codes_pool, codes_labelled))


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


def ibal_distance_scores(
    view: LabelledView,
    X_pool,
    *,
    gamma: float = DEFAULT_GAMMA,
    embedding: Any = None,
    reading: str = DEFAULT_READING,
    reg_lambda: float | None = None,
    exact: bool = False,
    distance_cache: LabelledDistanceCache | None = None,
) -> np.ndarray:
    r"""IBAL-D scores (Eq. 4): normalised importance minus :math:`\gamma` times normalised distance.

    Parameters
    ----------
    view : LabelledView
    X_pool : array-like of shape (n_pool, ...)
    gamma : float, default=1.0
        :math:`\gamma \ge 0` (validated by the caller).
    embedding, reading, reg_lambda, exact, distance_cache
        As in :func:`modal_ibal.strategies.ibal_distance_sampling`.

    Returns
    -------
    ndarray of shape (n_pool,)
        The query takes the smallest (Eq. 5).
    """
    # the distance first: on the model's features it reads the whole pool, which the
    # importance then reuses instead of streaming the pool through the model again
    distance = labelled_distance(view, X_pool, embedding, distance_cache)
    importance = representer_importance(view, reading=reading, reg_lambda=reg_lambda, exact=exact)
    return normalise_by_max(importance) - gamma * distance


def entropy_distance_scores(
    entropy: np.ndarray,
    view: LabelledView,
    X_pool,
    *,
    gamma: float = DEFAULT_GAMMA,
    embedding: Any = None,
    distance_cache: LabelledDistanceCache | None = None,
) -> np.ndarray:
    r"""The paper's entropy + D baseline: normalised entropy plus :math:`\gamma` times normalised distance.

    Parameters
    ----------
    entropy : ndarray of shape (n_pool,)
        :func:`modal_entropy` of the pool.
    view : LabelledView
    X_pool : array-like of shape (n_pool, ...)
    gamma : float, default=1.0
    embedding, distance_cache
        As in :func:`labelled_distance`.

    Returns
    -------
    ndarray of shape (n_pool,)
        The query takes the largest.
    """
    distance = labelled_distance(view, X_pool, embedding, distance_cache)
    return normalise_by_max(entropy) + gamma * distance


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
        (a :class:`~modal_ibal.learner.LabelledView`); saves a second forward pass.

    Returns
    -------
    ndarray of shape (n_pool, n_classes), float64
    """
    import torch

    if not hasattr(estimator, "predict_proba"):
        raise TypeError(
            "The 'classifier' parameter must give class probabilities (predict_proba) for "
            f"uncertainty sampling. Got {type(estimator).__name__}, which has none (an SVC "
            "needs probability=True)."
        )
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
        with preserved_train_modes(estimator.module_), preserved_global_random_state():
            probe = np.asarray(estimator.predict_proba(head), dtype=np.float64)
        if probe.shape == probas[:_PROBE_SAMPLES].shape and np.allclose(
            probas[:_PROBE_SAMPLES], probe, rtol=1e-4, atol=1e-5
        ):
            return probas
    with preserved_global_random_state():
        return np.asarray(estimator.predict_proba(X_pool), dtype=np.float64)


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
