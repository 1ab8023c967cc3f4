r"""IBAL, IBAL-D and entropy + D as modAL query strategies.

Each strategy follows modAL's functional contract,
``strategy(classifier, X_pool, n_instances=1, **kwargs) -> (query_indices, query_scores)``,
where ``classifier`` is the ``ActiveLearner`` modAL passes (the labelled set is
its ``X_training``/``y_training``, the model its ``estimator``) or a bare fitted
estimator with ``X_labelled``/``y_labelled`` given. Use them directly,

>>> learner = ActiveLearner(estimator=net, query_strategy=ibal_distance_sampling,
...                         X_training=X0, y_training=y0)        # doctest: +SKIP
>>> indices, pool_rows = learner.query(X_pool, n_instances=10)  # doctest: +SKIP

or configure them with ``functools.partial`` or keyword arguments to ``query``.
Every strategy returns both values, so modAL's ``query`` calls it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import (
    check_n_instances,
    check_nonnegative_float,
    check_positive_int,
    check_same_sample_shape,
    check_samples,
    n_samples,
)
from .distance import nearest_labelled_distance, normalise_by_max
from .embedding import embed
from .extract import DEFAULT_BATCH_SIZE, LastLayer, LastLayerOutputs, check_fitted, last_layer
from .losses import SoftmaxCrossEntropy
from .representer import (
    DEFAULT_READING,
    POOL_CHUNK,
    READINGS,
    class_feature_sums,
    ibal_scores,
    kappa,
    refit_last_layer,
)
from .selection import select_highest, select_lowest

IBAL_READINGS = (*READINGS, "finetuned")
DEFAULT_GAMMA = 1.0


@dataclass(frozen=True)
class LabelledView:
    """A fitted model's view of the pool and of the labelled set, computed once per query.

    Attributes
    ----------
    layer : LastLayer
        The reader of the model's final linear layer.
    pool, labelled : LastLayerOutputs
        Final-layer features, logits and probabilities.
    y_index : ndarray of shape (n_labelled,)
        Labelled classes as indices into ``layer.classes_``.
    X_labelled : array-like of shape (n_labelled, ...)
        The labelled samples, for embeddings other than the model's features.
    """

    layer: LastLayer
    pool: LastLayerOutputs
    labelled: LastLayerOutputs
    y_index: np.ndarray
    X_labelled: Any


def _unwrap(classifier):
    """(estimator, is_learner): the model inside a modAL learner, or the estimator itself."""
    is_learner = hasattr(classifier, "estimator") and hasattr(classifier, "X_training")
    return (classifier.estimator if is_learner else classifier), is_learner


def fitted_estimator(classifier):
    """The fitted model inside an ``ActiveLearner``, or the bare fitted estimator.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the model is not fitted.
    """
    estimator, _ = _unwrap(classifier)
    check_fitted(estimator)
    return estimator


def resolve_labelled_set(classifier, X_labelled=None, y_labelled=None):
    """Split what modAL passes into (estimator, X_labelled, y_labelled).

    Parameters
    ----------
    classifier : modAL ActiveLearner or fitted estimator
    X_labelled, y_labelled : array-like, optional
        Override (or, for a bare estimator, supply) the labelled set.

    Returns
    -------
    (estimator, X_labelled, y_labelled)
    """
    estimator, is_learner = _unwrap(classifier)
    if is_learner:
        X_labelled = classifier.X_training if X_labelled is None else X_labelled
        y_labelled = classifier.y_training if y_labelled is None else y_labelled
    if X_labelled is None or y_labelled is None:
        where = (
            "the ActiveLearner has no training data yet (give it X_training and y_training)"
            if is_learner
            else "pass X_labelled=... and y_labelled=... with a bare estimator"
        )
        raise ValueError(f"IBAL needs the labelled set, but {where}.")
    check_fitted(estimator)
    X_labelled = check_samples(X_labelled, "X_labelled")
    if n_samples(y_labelled) != n_samples(X_labelled):
        raise ValueError(
            f"The labelled set has {n_samples(X_labelled)} samples but {n_samples(y_labelled)} "
            "labels."
        )
    return estimator, X_labelled, y_labelled


def labelled_view(
    classifier,
    X_pool,
    *,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> LabelledView:
    """Validate the inputs and read the final layer on the pool and on the labelled set.

    Parameters are those of :func:`ibal_sampling`.

    Returns
    -------
    LabelledView
    """
    estimator, X_labelled, y_labelled = resolve_labelled_set(classifier, X_labelled, y_labelled)
    X_pool = check_samples(X_pool, "X_pool")
    check_same_sample_shape(X_pool, X_labelled)
    reader = last_layer(estimator, layer=layer, batch_size=check_positive_int(batch_size,
                                                                                "batch_size"))
    y_index = reader.encode_labels(y_labelled)
    return LabelledView(
        reader, reader.outputs(X_pool), reader.outputs(X_labelled), y_index, X_labelled
    )


def representer_importance(
    view: LabelledView,
    *,
    reading: str = DEFAULT_READING,
    reg_lambda: float | None = None,
    exact: bool = False,
) -> np.ndarray:
    r"""IBAL scores (Eq. 2) of every pool point from a :class:`LabelledView`.

    Parameters
    ----------
    view : LabelledView
    reading : {'class', 'pseudo', 'target', 'agreement', 'nonlinear', 'finetuned'}
        See :mod:`modal_ibal.representer`. ``'finetuned'`` refits the last layer with
        L2 and scores :math:`-\kappa \sum_c (q_{ic} - p_{ic}) g_{ic}` with :math:`q`
        the refit layer's softmax.
    reg_lambda : float, optional
        :math:`\lambda`; default the model's own L2 strength (skorch: the optimizer's
        ``weight_decay / 2``; else 0.003, Yeh et al.'s value).
    exact : bool, default=False
        Refit the last layer with L2 on the labelled features first, so that Eq. 1
        holds exactly, and score with the refit layer's logits.

    Returns
    -------
    ndarray of shape (n_pool,)
    """
    if reading not in IBAL_READINGS:
        raise ValueError(
            f"The 'reading' parameter must be one of {list(IBAL_READINGS)}. Got {reading!r} instead."
        )
    n_labelled = len(view.y_index)
    lam = view.layer.reg_lambda(n_labelled) if reg_lambda is None else reg_lambda
    lam = check_nonnegative_float(lam, "reg_lambda")
    scale = kappa(lam, n_labelled)
    F_labelled = view.layer.with_bias(view.labelled.features)  # [n, d]
    n_classes = len(view.layer.classes_)
    class_sums = class_feature_sums(F_labelled, view.y_index, n_classes)  # [C, d]
    W = None
    if reading == "finetuned" or exact:
        W = refit_last_layer(F_labelled, view.y_index, n_classes, lam)  # [C, d]
    n_pool = view.pool.features.shape[0]
    scores = np.empty(n_pool)
    # rows score independently: stream the pool, so the bias column and the refit
    # logits exist for one chunk at a time, never as float copies of the whole pool
    for start in range(0, n_pool, POOL_CHUNK):
        rows = slice(start, start + POOL_CHUNK)
        F = view.layer.with_bias(view.pool.features[rows])  # [b, d]
        if W is None:
            scores[rows] = ibal_scores(F, view.pool.logits[rows], class_sums,
                                       loss=view.layer.loss, reading=reading, scale=scale)
        elif reading == "finetuned":
            scores[rows] = ibal_scores(F, F @ W.T, class_sums, loss=SoftmaxCrossEntropy(),
                                       reading="literal", scale=scale,
                                       probas=view.pool.probas[rows])
        else:
            scores[rows] = ibal_scores(F, F @ W.T, class_sums, loss=SoftmaxCrossEntropy(),
                                       reading=reading, scale=scale)
    return scores


def labelled_distance(view: LabelledView, X_pool, embedding: Any = None) -> np.ndarray:
    """Normalised nearest-labelled distance :math:`D(x_i) / \\max_j D(x_j)` (Eq. 3).

    ``embedding=None`` uses the classifier's penultimate features; otherwise see
    :func:`modal_ibal.embedding.embed`.
    """
    if embedding is None:
        Z_pool, Z_labelled = view.pool.features, view.labelled.features
    else:
        Z_pool, Z_labelled = embed(embedding, X_pool), embed(embedding, view.X_labelled)
    return normalise_by_max(nearest_labelled_distance(Z_pool, Z_labelled))


def ibal_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    reading: str = DEFAULT_READING,
    reg_lambda: float | None = None,
    exact: bool = False,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Query the pool points of lowest aggregate importance on the labelled set (IBAL).

    Parameters
    ----------
    classifier : modAL ActiveLearner or fitted estimator
        A skorch ``NeuralNetClassifier`` (final ``nn.Linear``), ``LogisticRegression``,
        ``SGDClassifier(loss='log_loss')``, ``MLPClassifier``, or a ``Pipeline``
        ending in one; or an ``ActiveLearner`` wrapping one.
    X_pool : array-like of shape (n_pool, ...)
        Unlabelled samples, in the shape the model takes.
    n_instances : int, default=1
        Batch size :math:`B`.
    reading : str, default='target'
        The reading of Eq. 2 (:mod:`modal_ibal.representer`).
    reg_lambda : float, optional
        L2 strength :math:`\lambda`; see :func:`representer_importance`.
    exact : bool, default=False
        Refit the last layer with L2 so that Eq. 1 holds exactly.
    X_labelled, y_labelled : array-like, optional
        The labelled set; default the learner's ``X_training``/``y_training``.
    layer : str, optional
        Name of the final ``nn.Linear`` of a skorch module.
    batch_size : int, default=4096
        Samples per forward pass.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices, lowest score first.
    query_scores : ndarray of shape (n_instances,)
        Their IBAL scores.

    Notes
    -----
    .. math::  \arg\min_{x_i} \mathrm{IBAL}(x_i) = \arg\min_{x_i} \sum_{x_t \in L}
               \sum_{y \in C} p(y|x_i)\, k(x_t, x_i, \alpha_i|y)   \quad (2)

    The batch is the :math:`B` smallest scores; ties go to the lower pool index.

    References
    ----------
    .. [1] Pezeshkpour, Zhao and Singh, "Data Importance-Based Active Learning for
       Limited Labels", 2020, Eq. 2.
    """
    n_instances = check_n_instances(n_instances, n_samples(check_samples(X_pool, "X_pool")))
    view = labelled_view(classifier, X_pool, X_labelled=X_labelled, y_labelled=y_labelled,
                         layer=layer, batch_size=batch_size)
    scores = representer_importance(view, reading=reading, reg_lambda=reg_lambda, exact=exact)
    return select_lowest(scores, n_instances)


def ibal_distance_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    gamma: float = DEFAULT_GAMMA,
    embedding: Any = None,
    reading: str = DEFAULT_READING,
    reg_lambda: float | None = None,
    exact: bool = False,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Query by importance traded against distance to the labelled set (IBAL-D, Eq. 4-5).

    Parameters
    ----------
    classifier, X_pool, n_instances, reading, reg_lambda, exact, X_labelled, y_labelled, layer, batch_size
        As in :func:`ibal_sampling`.
    gamma : float, default=1.0
        Weight :math:`\gamma \ge 0` of the distance; tune it with validation data.
    embedding : transformer, callable or None, default=None
        The latent space of :math:`D`: a fitted transformer (e.g. an autoencoder),
        a callable, or None for the classifier's own penultimate features.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
    query_scores : ndarray of shape (n_instances,)
        Their IBAL-D scores.

    Notes
    -----
    Both terms are normalised over the pool so that :math:`\gamma` means the same
    on every model: IBAL is divided by :math:`\max_j |\mathrm{IBAL}(x_j)|` and
    :math:`D` by :math:`\max_j D(x_j)` (the paper normalises :math:`D` only).

    .. math::  \mathrm{IBAL\text{-}D}(x_i) = \mathrm{IBAL}(x_i) - \gamma D(x_i)   \quad (4)

    .. math::  \arg\min_{x_i} \mathrm{IBAL\text{-}D}(x_i)   \quad (5)
    """
    n_instances = check_n_instances(n_instances, n_samples(check_samples(X_pool, "X_pool")))
    gamma = check_nonnegative_float(gamma, "gamma")
    view = labelled_view(classifier, X_pool, X_labelled=X_labelled, y_labelled=y_labelled,
                         layer=layer, batch_size=batch_size)
    importance = representer_importance(view, reading=reading, reg_lambda=reg_lambda, exact=exact)
    distance = labelled_distance(view, X_pool, embedding)
    return select_lowest(normalise_by_max(importance) - gamma * distance, n_instances)


def entropy_distance_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    gamma: float = DEFAULT_GAMMA,
    embedding: Any = None,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The paper's baseline: highest entropy plus distance to the labelled set.

    Parameters
    ----------
    classifier, X_pool, n_instances, X_labelled, y_labelled, layer, batch_size
        As in :func:`ibal_sampling`.
    gamma, embedding
        As in :func:`ibal_distance_sampling`.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
    query_scores : ndarray of shape (n_instances,)

    Notes
    -----
    .. math::  \arg\max_{x_i} \mathrm{Entropy}(x_i) + \gamma D(x_i)

    with the entropy divided by its maximum over the pool and :math:`D` as in
    :func:`ibal_distance_sampling`.
    """
    n_instances = check_n_instances(n_instances, n_samples(check_samples(X_pool, "X_pool")))
    gamma = check_nonnegative_float(gamma, "gamma")
    view = labelled_view(classifier, X_pool, X_labelled=X_labelled, y_labelled=y_labelled,
                         layer=layer, batch_size=batch_size)
    entropy = predictive_entropy(view.pool.probas)
    distance = labelled_distance(view, X_pool, embedding)
    return select_highest(normalise_by_max(entropy) + gamma * distance, n_instances)


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
