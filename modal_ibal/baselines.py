r"""Peer strategies as modAL query strategies: random, entropy, margin, core-set, BADGE,
TypiClust and ProbCover.

Every strategy follows the contract of :mod:`modal_ibal.strategies`,
``strategy(classifier, X_pool, n_instances=1, *, random_state=None, **options)
-> (query_indices, query_scores)``, where ``classifier`` is the modAL
``ActiveLearner`` (labelled set ``X_training``/``y_training``, model
``estimator``) or a bare fitted estimator with ``X_labelled``/``y_labelled``.
All take the same keywords (``X_labelled``, ``y_labelled``, ``random_state``),
even those that ignore some, so an experiment runner can call them alike.

Randomness enters only through ``random_state`` (None, an int or a
``numpy.random.RandomState``); it becomes one ``RandomState`` per query and is
passed down to every scikit-learn sub-estimator. ``None`` draws fresh entropy
from the operating system, never from numpy's global state. The model's
features and probabilities come from one batched forward pass over the pool
(:func:`modal_ibal.extract.last_layer`), not from skorch's per-sample
``predict_proba`` (METHOD.md section 7).

References
----------
.. [1] Sener and Savarese, "Active Learning for Convolutional Neural Networks:
   A Core-Set Approach", ICLR 2018.
.. [2] Ash, Zhang, Krishnamurthy, Langford and Agarwal, "Deep Batch Active
   Learning by Diverse, Uncertain Gradient Lower Bounds", ICLR 2020.
.. [3] Hacohen, Dekel and Weinshall, "Active Learning on a Budget: Opposite
   Strategies Suit High and Low Budgets", ICML 2022.
.. [4] Yehuda, Dekel, Hacohen and Weinshall, "Active Learning Through a
   Covering Lens", NeurIPS 2022.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.neighbors import NearestNeighbors, radius_neighbors_graph
from sklearn.utils import check_random_state

from ._validation import (
    as_numpy,
    check_n_instances,
    check_nonnegative_float,
    check_positive_int,
    check_same_sample_shape,
    check_samples,
    is_tensor,
    n_samples,
)
from .distance import nearest_labelled_distance
from .embedding import embed
from .extract import (
    DEFAULT_BATCH_SIZE,
    _is_skorch_net,
    last_layer,
    preserved_train_modes,
)
from .selection import select_highest, select_lowest
from .strategies import (
    fitted_estimator,
    labelled_view,
    predictive_entropy,
    resolve_labelled_set,
)

DEFAULT_N_NEIGHBORS = 20
DEFAULT_PURITY = 0.95
KMEANS_MAX_CLUSTERS = 50  # TypiClust's switch from KMeans to MiniBatchKMeans
DEFAULT_MAX_CLUSTER_SAMPLES = 20_000
DEFAULT_MAX_PURITY_SAMPLES = 5_000
_PROBE_SAMPLES = 8
_GRADIENT_CHUNK = 4096


# --------------------------------------------------------------------------- helpers


def _random_state(random_state) -> np.random.RandomState:
    """One ``RandomState`` per query; ``None`` seeds from the OS, not from numpy's global state."""
    if random_state is None:
        return np.random.RandomState()
    return check_random_state(random_state)


def _check_pool(X_pool, n_instances) -> tuple[Any, int]:
    X_pool = check_samples(X_pool, "X_pool")
    return X_pool, check_n_instances(n_instances, n_samples(X_pool))


def _flatten(X, name: str) -> np.ndarray:
    array = as_numpy(X)
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise TypeError(
            f"The '{name}' parameter must be a numeric array to cluster its raw inputs. Got "
            f"{type(X).__name__} instead; pass representation='features' or an embedding."
        )
    return array.reshape(array.shape[0], -1)


def _pool_probabilities(estimator, X_pool, batch_size: int) -> np.ndarray:
    """``predict_proba`` of the pool, from one batched forward pass where that is exact.

    For a skorch net whose ``predict_nonlinearity`` is ``'auto'`` and whose
    criterion is ``CrossEntropyLoss`` (skorch applies a softmax) or ``NLLLoss``
    (the module ends in a softmax), skorch's probabilities are the softmax of the
    final ``nn.Linear``'s output, read here in batches. The fast result is
    checked against skorch's own ``predict_proba`` on the first few pool samples
    (the module's train/eval modes are restored afterwards); any other estimator,
    input type, or a mismatch uses ``predict_proba``.
    """
    import torch

    fast = (
        _is_skorch_net(estimator)
        and (isinstance(X_pool, np.ndarray) or is_tensor(X_pool))
        and estimator.predict_nonlinearity == "auto"
        and isinstance(getattr(estimator, "criterion_", None),
                       (torch.nn.CrossEntropyLoss, torch.nn.NLLLoss))
    )
    if fast:
        probas = last_layer(estimator, batch_size=batch_size).outputs(X_pool).probas
        head = torch.as_tensor(X_pool[:_PROBE_SAMPLES])
        if head.is_floating_point():  # cast as the fast path does (float64 arrays)
            head = head.to(next(estimator.module_.parameters()).dtype)
        with preserved_train_modes(estimator.module_):  # predict_proba leaves it in eval mode
            probe = np.asarray(estimator.predict_proba(head), dtype=np.float64)
        if probe.shape == probas[:_PROBE_SAMPLES].shape and np.allclose(
            probas[:_PROBE_SAMPLES], probe, rtol=1e-4, atol=1e-5
        ):
            return probas
    return np.asarray(estimator.predict_proba(X_pool), dtype=np.float64)


def _representation_codes(
    representation, X_pool, X_labelled, features: Callable[[], tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """(Z_labelled, Z_pool) in the space a clustering or covering strategy works in.

    ``features`` returns the model's penultimate features (labelled, pool); it is
    called only for ``representation='features'``.
    """
    if isinstance(representation, str):
        if representation == "features":
            Z_labelled, Z_pool = features()
        elif representation == "inputs":
            Z_labelled, Z_pool = _flatten(X_labelled, "X_labelled"), _flatten(X_pool, "X_pool")
        else:
            raise ValueError(
                "The 'representation' parameter must be 'inputs', 'features', a fitted "
                f"transformer or a callable. Got {representation!r} instead."
            )
    else:
        Z_labelled, Z_pool = embed(representation, X_labelled), embed(representation, X_pool)
    Z_labelled, Z_pool = np.asarray(Z_labelled), np.asarray(Z_pool)
    dtype = np.float32 if Z_pool.dtype == np.float32 and Z_labelled.dtype == np.float32 else (
        np.float64)
    Z_labelled, Z_pool = Z_labelled.astype(dtype, copy=False), Z_pool.astype(dtype, copy=False)
    if not (np.isfinite(Z_pool).all() and np.isfinite(Z_labelled).all()):
        raise ValueError("The representation of the samples holds NaN or infinite values.")
    return Z_labelled, Z_pool


def _codes_for(classifier, X_pool, representation, X_labelled, y_labelled, layer, batch_size):
    """Resolve the labelled set and map labelled + pool into ``representation``."""
    estimator, X_labelled, y_labelled = resolve_labelled_set(classifier, X_labelled, y_labelled)
    check_same_sample_shape(X_pool, X_labelled)

    def features():
        view = labelled_view(classifier, X_pool, X_labelled=X_labelled, y_labelled=y_labelled,
                             layer=layer, batch_size=batch_size)
        return view.labelled.features, view.pool.features

    Z_labelled, Z_pool = _representation_codes(representation, X_pool, X_labelled, features)
    return estimator, y_labelled, Z_labelled, Z_pool


# ------------------------------------------------------------------ random, uncertainty


def random_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: int | np.random.RandomState | None = None,
    X_labelled=None,
    y_labelled=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Query a uniformly random batch of the pool.

    Parameters
    ----------
    classifier : modAL ActiveLearner or estimator
        Not used; accepted for modAL's contract.
    X_pool : array-like of shape (n_pool, ...)
    n_instances : int, default=1
    random_state : None, int or numpy.random.RandomState, default=None
    X_labelled, y_labelled : ignored
        Accepted so that every strategy takes the same keywords.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
    query_scores : ndarray of shape (n_instances,)
        The uniform draws in :math:`[0, 1)` of the chosen points; the batch is the
        ``n_instances`` smallest draws, i.e. a uniform sample without replacement.
    """
    X_pool, n_instances = _check_pool(X_pool, n_instances)
    draws = _random_state(random_state).random_sample(n_samples(X_pool))  # [N]
    return select_lowest(draws, n_instances)


def entropy_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: int | np.random.RandomState | None = None,
    X_labelled=None,
    y_labelled=None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Query the pool points of highest predictive entropy, as modAL's ``entropy_sampling``.

    The same scores and selection as ``modAL.uncertainty.entropy_sampling``,
    computed from one batched forward pass over the pool instead of skorch's
    per-sample ``predict_proba`` (METHOD.md section 7); scikit-learn estimators
    and pools that are not arrays use ``predict_proba`` itself.

    Parameters
    ----------
    classifier : modAL ActiveLearner or fitted estimator
    X_pool : array-like of shape (n_pool, ...)
    n_instances : int, default=1
    random_state : ignored
        The selection is deterministic: ties go to the lower pool index (modAL
        leaves the order of ties to ``argpartition``).
    X_labelled, y_labelled : ignored
        Accepted so that every strategy takes the same keywords.
    batch_size : int, default=4096
        Samples per forward pass.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices, highest entropy first.
    query_scores : ndarray of shape (n_instances,)
        Their entropies (modAL returns the same values, unordered).

    Notes
    -----
    .. math::  H(x_i) = -\sum_c p_{ic} \log p_{ic}

    with the natural logarithm, rows normalised to sum to 1 and :math:`0 \log 0 = 0`,
    as ``scipy.stats.entropy`` computes it for modAL.
    """
    X_pool, n_instances = _check_pool(X_pool, n_instances)
    estimator = fitted_estimator(classifier)
    probas = _pool_probabilities(estimator, X_pool, check_positive_int(batch_size, "batch_size"))
    probas = probas / probas.sum(axis=1, keepdims=True)  # [N, C], as scipy.stats.entropy
    return select_highest(predictive_entropy(probas), n_instances)


def margin_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: int | np.random.RandomState | None = None,
    X_labelled=None,
    y_labelled=None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Query the pool points of smallest top-two margin, as modAL's ``margin_sampling``.

    The same scores and selection as ``modAL.uncertainty.margin_sampling``,
    computed from one batched forward pass over the pool (see
    :func:`entropy_sampling`).

    Parameters
    ----------
    classifier, X_pool, n_instances, random_state, X_labelled, y_labelled, batch_size
        As in :func:`entropy_sampling`.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices, smallest margin first.
    query_scores : ndarray of shape (n_instances,)
        Their margins (modAL returns the same values, unordered).

    Notes
    -----
    .. math::  M(x_i) = p_{i,(1)} - p_{i,(2)}

    the gap between the two largest probabilities; zero for a one-column output,
    as in modAL.
    """
    X_pool, n_instances = _check_pool(X_pool, n_instances)
    estimator = fitted_estimator(classifier)
    probas = _pool_probabilities(estimator, X_pool, check_positive_int(batch_size, "batch_size"))
    if probas.shape[1] == 1:
        margin = np.zeros(probas.shape[0])  # modAL's convention for one column
    else:
        top = np.partition(probas, -2, axis=1)  # [N, C]
        margin = top[:, -1] - top[:, -2]  # [N]
    return select_lowest(margin, n_instances)


# ---------------------------------------------------------------------- core-set


def _kcenter_greedy(
    Z_pool: np.ndarray, nearest: np.ndarray, n_instances: int
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy k-center: repeatedly take the point farthest from every center so far.

    ``nearest`` holds each pool point's distance to the nearest center (the
    labelled set) and is updated in place; cost :math:`O(N B d)`, memory :math:`O(N)`.
    """
    norms = np.einsum("ij,ij->i", Z_pool, Z_pool)  # [N]
    picks, radii = [], []
    for _ in range(n_instances):
        (pick,), (radius,) = select_highest(nearest, 1)
        picks.append(pick)
        radii.append(radius)
        squared = norms + norms[pick] - 2.0 * (Z_pool @ Z_pool[pick])  # [N]
        np.minimum(nearest, np.sqrt(np.maximum(squared, 0.0)), out=nearest)
        nearest[picks] = -1.0  # never again, even among duplicates
    return np.asarray(picks, dtype=np.int64), np.asarray(radii)


def coreset_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: int | np.random.RandomState | None = None,
    embedding: Any = None,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Query a k-center core-set of the pool around the labelled set (Sener and Savarese).

    Parameters
    ----------
    classifier : modAL ActiveLearner or fitted estimator
    X_pool : array-like of shape (n_pool, ...)
    n_instances : int, default=1
    random_state : ignored
        Greedy k-center is deterministic; ties go to the lower pool index.
    embedding : transformer, callable or None, default=None
        The space of the distances: None for the model's penultimate features, else
        see :func:`modal_ibal.embedding.embed`.
    X_labelled, y_labelled : array-like, optional
        The labelled set; default the learner's ``X_training``/``y_training``.
    layer : str, optional
        Name of the final ``nn.Linear`` of a skorch module.
    batch_size : int, default=4096
        Samples per forward pass.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices in the order they were picked.
    query_scores : ndarray of shape (n_instances,)
        Each pick's distance to the nearest labelled or earlier-picked point when it
        was picked (non-increasing).

    Notes
    -----
    The greedy 2-approximation of the k-center problem:

    .. math::  u = \arg\max_{i \in U} \min_{j \in L \cup S} \lVert z_i - z_j \rVert_2,
               \qquad S \leftarrow S \cup \{u\}

    The minimum-distance vector starts from
    :func:`modal_ibal.distance.nearest_labelled_distance` (chunked) and is updated
    with one matrix-vector product per pick: :math:`O(N (n + B) d)` time,
    :math:`O(N)` extra memory, no :math:`N \times n` matrix.
    """
    X_pool, n_instances = _check_pool(X_pool, n_instances)
    if embedding is None:
        view = labelled_view(classifier, X_pool, X_labelled=X_labelled, y_labelled=y_labelled,
                             layer=layer, batch_size=batch_size)
        Z_labelled, Z_pool = view.labelled.features, view.pool.features
    else:
        _, X_labelled, _ = resolve_labelled_set(classifier, X_labelled, y_labelled)
        Z_labelled, Z_pool = embed(embedding, X_labelled), embed(embedding, X_pool)
    Z_pool = np.asarray(Z_pool, dtype=np.float64)
    nearest = nearest_labelled_distance(Z_pool, Z_labelled)  # [N]
    return _kcenter_greedy(Z_pool, nearest, n_instances)


# -------------------------------------------------------------------------- BADGE


def _gradient_factors(layer, outputs) -> tuple[np.ndarray, np.ndarray]:
    r"""The two factors of BADGE's embedding :math:`g_i = a_i \otimes f_i`.

    :math:`a_i = \partial L(x_i, \hat y_i) / \partial \phi(x_i)` (for softmax
    cross-entropy :math:`p_i - e_{\hat y_i}`) and :math:`f_i` the penultimate
    features with the bias column appended when the layer has a bias.
    """
    features = outputs.features.astype(np.float64)
    F = layer.with_bias(features)  # [N, d']
    logits = outputs.logits.astype(np.float64)  # [N, C]
    yhat = outputs.probas.argmax(axis=1)  # [N]
    if layer.loss.link is not None:
        A = layer.loss.link(logits)  # [N, C]
        A[np.arange(len(yhat)), yhat] -= 1.0
        return A, F
    A = np.empty_like(logits)
    for start in range(0, len(yhat), _GRADIENT_CHUNK):
        stop = start + _GRADIENT_CHUNK
        rows = np.arange(len(yhat[start:stop]))
        A[start:stop] = layer.loss.gradients(logits[start:stop])[rows, yhat[start:stop]]
    return A, F


def _gradient_sq_distances(A, F, sq_norms, j) -> np.ndarray:
    r""":math:`\lVert a_i \otimes f_i - a_j \otimes f_j \rVert^2` for every :math:`i`, in O(N (C + d))."""
    inner = (A @ A[j]) * (F @ F[j])  # [N]
    return np.maximum(sq_norms + sq_norms[j] - 2.0 * inner, 0.0)


def _kmeanspp_factorised(
    A: np.ndarray, F: np.ndarray, n_instances: int, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ seeding on :math:`a_i \\otimes f_i` without forming the embeddings."""
    sq_norms = np.einsum("ij,ij->i", A, A) * np.einsum("ij,ij->i", F, F)  # [N]
    (first,), (score,) = select_highest(sq_norms, 1)
    picks, scores = [first], [score]
    nearest = _gradient_sq_distances(A, F, sq_norms, first)  # [N]
    nearest[first] = 0.0
    for _ in range(n_instances - 1):
        total = nearest.sum()
        if total > 0:
            cumulative = np.cumsum(nearest)  # [N]
            pick = int(np.searchsorted(cumulative, rng.random_sample() * total, side="right"))
            pick = min(pick, int(np.flatnonzero(nearest > 0)[-1]))
        else:  # every point coincides with a pick: uniform over the rest
            rest = np.setdiff1d(np.arange(len(nearest)), picks)
            pick = int(rest[rng.randint(len(rest))])
        picks.append(pick)
        scores.append(nearest[pick])
        np.minimum(nearest, _gradient_sq_distances(A, F, sq_norms, pick), out=nearest)
        nearest[picks] = 0.0
    return np.asarray(picks, dtype=np.int64), np.asarray(scores)


def badge_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: int | np.random.RandomState | None = None,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Query by k-means++ seeding on gradient embeddings (BADGE, Ash et al. 2020).

    Parameters
    ----------
    classifier : modAL ActiveLearner or fitted estimator
    X_pool : array-like of shape (n_pool, ...)
    n_instances : int, default=1
    random_state : None, int or numpy.random.RandomState, default=None
        Drives the :math:`D^2` sampling.
    X_labelled, y_labelled : ignored
        BADGE looks at the pool only; accepted so that every strategy takes the
        same keywords.
    layer : str, optional
        Name of the final ``nn.Linear`` of a skorch module.
    batch_size : int, default=4096
        Samples per forward pass.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices in the order they were seeded.
    query_scores : ndarray of shape (n_instances,)
        Each pick's squared embedding distance to the nearest earlier pick when it
        was drawn (the first pick: its squared embedding norm).

    Notes
    -----
    The gradient embedding of the last layer's loss at the predicted label,

    .. math::  g_i = (p_i - e_{\hat y_i}) \otimes f_i = a_i \otimes f_i,

    with :math:`f_i` the penultimate features plus a constant 1 for the bias. The
    first center is the point of largest :math:`\lVert g_i \rVert` (as in the
    authors' code); each further center is drawn with probability proportional to
    :math:`D^2(g_i)`, its squared distance to the nearest center. Distances
    factorise, so :math:`g` (of size :math:`N \times C d`) is never formed:

    .. math::  \lVert g_i - g_j \rVert^2 = \lVert a_i\rVert^2 \lVert f_i\rVert^2
               + \lVert a_j\rVert^2 \lVert f_j\rVert^2 - 2 (a_i^\top a_j)(f_i^\top f_j),

    :math:`O(N (C + d))` per pick.
    """
    X_pool, n_instances = _check_pool(X_pool, n_instances)
    estimator = fitted_estimator(classifier)
    reader = last_layer(estimator, layer=layer,
                        batch_size=check_positive_int(batch_size, "batch_size"))
    A, F = _gradient_factors(reader, reader.outputs(X_pool))
    return _kmeanspp_factorised(A, F, n_instances, _random_state(random_state))


# --------------------------------------------------------------------- TypiClust


def typicality(Z: np.ndarray, n_neighbors: int = DEFAULT_N_NEIGHBORS) -> np.ndarray:
    r"""TypiClust's typicality: inverse mean distance to the nearest neighbours.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_dims)
        The points of one cluster.
    n_neighbors : int, default=20
        :math:`k`; at most ``n_samples - 1`` neighbours are used.

    Returns
    -------
    ndarray of shape (n_samples,)

    Notes
    -----
    .. math::  \tau(x) = \Big(\frac1k \sum_{x' \in \mathrm{kNN}(x)} \lVert z - z' \rVert_2\Big)^{-1},
               \qquad k = \min(\mathrm{n\_neighbors}, |\mathrm{cluster}| - 1)

    A point is not its own neighbour. A one-point cluster has typicality 1; a zero
    mean distance (duplicates) is floored at machine epsilon so :math:`\tau` stays finite.
    """
    Z = np.asarray(Z)
    k = min(n_neighbors, Z.shape[0] - 1)
    if k < 1:
        return np.ones(Z.shape[0])
    distances, _ = NearestNeighbors(n_neighbors=k).fit(Z).kneighbors()  # [m, k]
    mean = distances.astype(np.float64).mean(axis=1)  # [m]
    return 1.0 / np.maximum(mean, np.finfo(np.float64).eps)


def _cluster_labels(
    Z: np.ndarray, n_clusters: int, rng: np.random.RandomState, max_cluster_samples: int
) -> np.ndarray:
    """k-means++ clustering of ``Z``, kept affordable for large pools.

    KMeans for up to ``KMEANS_MAX_CLUSTERS`` clusters, MiniBatchKMeans beyond
    (TypiClust's rule); with more than ``max_cluster_samples`` points the
    clustering is fitted on a random sample of that size and every point is then
    assigned to its nearest center.
    """
    n_points = Z.shape[0]
    if n_clusters <= KMEANS_MAX_CLUSTERS:
        model = KMeans(n_clusters=n_clusters, init="k-means++", n_init=1, random_state=rng)
    else:
        model = MiniBatchKMeans(n_clusters=n_clusters, init="k-means++", n_init=1,
                                batch_size=2048, random_state=rng)
    if n_points <= max_cluster_samples:
        return model.fit(Z).labels_
    sample = rng.choice(n_points, size=max(max_cluster_samples, n_clusters), replace=False)
    return model.fit(Z[sample]).predict(Z)


def _pick_per_cluster(
    Z: np.ndarray,
    labels: np.ndarray,
    n_labelled: int,
    n_instances: int,
    *,
    n_neighbors: int,
    preference: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """TypiClust's selection given cluster labels of labelled + pool.

    Parameters
    ----------
    Z : ndarray of shape (n_labelled + n_pool, n_dims)
        Labelled points first.
    labels : ndarray of shape (n_labelled + n_pool,)
    n_labelled : int
    n_instances : int
    n_neighbors : int
        For :func:`typicality`.
    preference : callable, optional
        Maps the pool indices of a cluster's pool members to positive weights that
        multiply their typicality (cluster-IBAL); None for TypiClust.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices in pick order.
    query_scores : ndarray of shape (n_instances,)
        Weighted typicality of each pick.

    Notes
    -----
    Each pick goes to the cluster with the fewest labelled-or-picked points, then
    the largest, then the lowest cluster id, among clusters with an unpicked pool
    point; inside it, to the unpicked pool point of highest weighted typicality
    (lowest pool index on ties). With :math:`K = n + B` clusters at least
    :math:`B` clusters hold no labelled point, so normally the batch is the most
    typical point of each of the :math:`B` largest uncovered clusters.
    """
    n_clusters = int(labels.max()) + 1
    pool_labels = labels[n_labelled:]
    sizes = np.bincount(labels, minlength=n_clusters)  # [K]
    claimed = np.bincount(labels[:n_labelled], minlength=n_clusters)  # [K]
    available = np.bincount(pool_labels, minlength=n_clusters)  # [K]
    cluster_ids = np.arange(n_clusters)
    members_of: dict[int, np.ndarray] = {}
    values_of: dict[int, np.ndarray] = {}
    picks, scores = [], []
    for _ in range(n_instances):
        open_clusters = cluster_ids[available > 0]
        order = np.lexsort((open_clusters, -sizes[open_clusters], claimed[open_clusters]))
        cluster = int(open_clusters[order[0]])
        if cluster not in members_of:
            in_cluster = np.flatnonzero(labels == cluster)
            tau = typicality(Z[in_cluster], n_neighbors)  # [m]
            is_pool = in_cluster >= n_labelled
            members = in_cluster[is_pool] - n_labelled  # pool indices
            values = tau[is_pool]
            if preference is not None:
                values = values * preference(members)
            members_of[cluster], values_of[cluster] = members, values
        (best,), (value,) = select_highest(values_of[cluster], 1)
        picks.append(int(members_of[cluster][best]))
        scores.append(value)
        values_of[cluster][best] = -1.0  # weighted typicality is positive: never again
        claimed[cluster] += 1
        available[cluster] -= 1
    return np.asarray(picks, dtype=np.int64), np.asarray(scores)


def _check_max_samples(value, name: str) -> int:
    value = check_positive_int(value, name)
    if value < 2:
        raise ValueError(f"The '{name}' parameter must be >= 2. Got {value} instead.")
    return value


def typiclust_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: int | np.random.RandomState | None = None,
    representation: Any = "inputs",
    n_neighbors: int = DEFAULT_N_NEIGHBORS,
    max_cluster_samples: int = DEFAULT_MAX_CLUSTER_SAMPLES,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Query the most typical point of each large uncovered cluster (TypiClust).

    Parameters
    ----------
    classifier : modAL ActiveLearner or fitted estimator
    X_pool : array-like of shape (n_pool, ...)
    n_instances : int, default=1
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the k-means++ clustering (and the sample clustered for large pools).
    representation : {'inputs', 'features'}, transformer or callable, default='inputs'
        The space clustered: the raw inputs flattened, the model's penultimate
        features, or an embedding (see :func:`modal_ibal.embedding.embed`), e.g. a
        fitted autoencoder.
    n_neighbors : int, default=20
        Neighbours for the typicality.
    max_cluster_samples : int, default=20000
        Labelled + pool sizes beyond this fit the clustering on a random sample of
        this many points, then assign every point to its nearest center.
    X_labelled, y_labelled : array-like, optional
        The labelled set; default the learner's ``X_training``/``y_training``.
    layer : str, optional
        Name of the final ``nn.Linear`` of a skorch module (``'features'`` only).
    batch_size : int, default=4096
        Samples per forward pass (``'features'`` only).

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices in pick order (largest uncovered cluster first).
    query_scores : ndarray of shape (n_instances,)
        The typicality of each pick within its cluster.

    Notes
    -----
    Labelled and pool points are clustered together with k-means++ into
    :math:`K = n + B` clusters (KMeans up to 50 clusters, MiniBatchKMeans
    beyond). Clusters holding a labelled point are covered; from the :math:`B`
    largest uncovered clusters TypiClust takes the point of highest

    .. math::  \tau(x) = \Big(\frac1k \sum_{x' \in \mathrm{kNN}(x)} \lVert z - z' \rVert_2\Big)^{-1},
               \qquad k = \min(20, |\mathrm{cluster}| - 1)

    (:func:`typicality`). The authors also skip clusters of fewer than 5
    points; here size only orders the clusters.
    """
    X_pool, n_instances = _check_pool(X_pool, n_instances)
    n_neighbors = check_positive_int(n_neighbors, "n_neighbors")
    max_cluster_samples = _check_max_samples(max_cluster_samples, "max_cluster_samples")
    _, _, Z_labelled, Z_pool = _codes_for(classifier, X_pool, representation, X_labelled,
                                          y_labelled, layer, batch_size)
    return _typical_picks(Z_labelled, Z_pool, n_instances, _random_state(random_state),
                          n_neighbors=n_neighbors, max_cluster_samples=max_cluster_samples)


def _typical_picks(
    Z_labelled: np.ndarray,
    Z_pool: np.ndarray,
    n_instances: int,
    rng: np.random.RandomState,
    *,
    n_neighbors: int,
    max_cluster_samples: int,
    preference: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster labelled + pool into n + B clusters, then :func:`_pick_per_cluster`.

    The one implementation behind TypiClust and cluster-IBAL.
    """
    Z = np.concatenate([Z_labelled, Z_pool])  # [n + N, k]
    n_labelled = Z_labelled.shape[0]
    n_clusters = min(n_labelled + n_instances, Z.shape[0])
    labels = _cluster_labels(Z, n_clusters, rng, max_cluster_samples)
    return _pick_per_cluster(Z, labels, n_labelled, n_instances, n_neighbors=n_neighbors,
                             preference=preference)


# --------------------------------------------------------------------- ProbCover


def purity_radius(
    Z: np.ndarray,
    n_clusters: int,
    *,
    purity: float = DEFAULT_PURITY,
    random_state: int | np.random.RandomState | None = None,
    max_samples: int = DEFAULT_MAX_PURITY_SAMPLES,
) -> float:
    r"""ProbCover's ball radius: the largest :math:`\delta` whose balls are pure enough.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_dims)
    n_clusters : int
        Number of k-means pseudo-classes (the number of classes).
    purity : float, default=0.95
        :math:`\alpha`, the fraction of balls that must be pure.
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the sample and the k-means++ clustering.
    max_samples : int, default=5000
        The purity is estimated on a random sample of at most this many points.

    Returns
    -------
    float

    Notes
    -----
    With k-means pseudo-labels :math:`c(x)`, the ball :math:`B_\delta(x)` is pure
    when every point within :math:`\delta` shares :math:`c(x)`, i.e. when
    :math:`\delta < \rho(x)`, the distance from :math:`x` to the nearest point of
    another pseudo-class. Purity is therefore
    :math:`\pi(\delta) = \frac1m |\{x: \rho(x) > \delta\}|`, and the largest
    :math:`\delta` with :math:`\pi(\delta) \ge \alpha` lies just below the
    :math:`(\lfloor (1 - \alpha) m \rfloor + 1)`-th smallest :math:`\rho`
    (Yehuda et al. search the same quantity over a grid).
    """
    if isinstance(purity, bool) or not isinstance(purity, numbers.Real) or not 0 < purity <= 1:
        raise ValueError(f"The 'purity' parameter must be in (0, 1]. Got {purity!r} instead.")
    rng = _random_state(random_state)
    Z = np.asarray(Z)
    if Z.shape[0] > max_samples:
        Z = Z[rng.choice(Z.shape[0], size=max_samples, replace=False)]
    n_clusters = max(2, min(n_clusters, Z.shape[0]))
    pseudo = KMeans(n_clusters=n_clusters, n_init=1, random_state=rng).fit(Z).labels_
    rho = np.full(Z.shape[0], np.inf)
    for cluster in np.unique(pseudo):
        inside = pseudo == cluster
        if inside.all():
            continue
        distances, _ = NearestNeighbors(n_neighbors=1).fit(Z[~inside]).kneighbors(Z[inside])
        rho[inside] = distances[:, 0]
    n_impure = int(np.floor((1.0 - purity) * Z.shape[0] + 1e-9))
    bound = np.sort(rho)[min(n_impure, Z.shape[0] - 1)]
    if not np.isfinite(bound):  # a single pseudo-class: every ball is pure
        bound = 2.0 * np.sqrt(((Z - Z.mean(axis=0)) ** 2).sum(axis=1).max()) + 1.0
    return float(np.nextafter(bound, 0.0))


def _greedy_max_coverage(
    graph, n_labelled: int, n_instances: int, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy max coverage on a symmetric ball graph over labelled + pool (labelled first).

    Points in a labelled point's ball start covered. Each pick is the pool point
    whose ball covers the most uncovered points (lowest index on ties); once
    everything is covered, picks are uniform among the unpicked pool points.
    """
    graph = graph.tocsr()
    covered = np.zeros(graph.shape[0], dtype=bool)
    if n_labelled:
        covered[graph[:n_labelled].indices] = True
    pool_graph = graph[n_labelled:]  # [N, n + N]
    picked = np.zeros(pool_graph.shape[0], dtype=bool)
    picks, gains = [], []
    for _ in range(n_instances):
        gain = pool_graph @ (~covered).astype(np.float64)  # [N]
        gain[picked] = -1.0
        (pick,), (value,) = select_highest(gain, 1)
        if value <= 0:
            rest = np.flatnonzero(~picked)
            pick, value = int(rest[rng.randint(len(rest))]), 0.0
        picks.append(int(pick))
        gains.append(value)
        picked[pick] = True
        covered[pool_graph[pick].indices] = True
    return np.asarray(picks, dtype=np.int64), np.asarray(gains)


def probcover_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: int | np.random.RandomState | None = None,
    delta: float | None = None,
    purity: float = DEFAULT_PURITY,
    representation: Any = "inputs",
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Query by greedy maximum coverage with :math:`\delta`-balls (ProbCover).

    Parameters
    ----------
    classifier : modAL ActiveLearner or fitted estimator
    X_pool : array-like of shape (n_pool, ...)
    n_instances : int, default=1
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the radius heuristic and the picks made once everything is covered.
    delta : float, optional
        Ball radius :math:`\delta > 0`. Default: :func:`purity_radius` on labelled
        + pool with as many k-means pseudo-classes as the model has classes.
    purity : float, default=0.95
        :math:`\alpha` of the default radius.
    representation : {'inputs', 'features'}, transformer or callable, default='inputs'
        As in :func:`typiclust_sampling`.
    X_labelled, y_labelled : array-like, optional
        The labelled set; default the learner's ``X_training``/``y_training``.
    layer : str, optional
        Name of the final ``nn.Linear`` of a skorch module (``'features'`` only).
    batch_size : int, default=4096
        Samples per forward pass (``'features'`` only).

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices in pick order.
    query_scores : ndarray of shape (n_instances,)
        The number of points each pick newly covered (0 for picks made after the
        whole set was covered).

    Notes
    -----
    The graph has an edge :math:`x \to x'` when :math:`\lVert z - z' \rVert_2 \le
    \delta` (scikit-learn's sparse ``radius_neighbors_graph``, self-loops
    included). Points within :math:`\delta` of a labelled point are covered
    first; each pick then maximises the number of newly covered points,

    .. math::  u = \arg\max_{x \in U} |B_\delta(x) \setminus \mathrm{covered}|,

    costing :math:`O(\mathrm{nnz})` per pick. Building the graph is a radius
    search over all :math:`n + N` points (brute force, :math:`O((n + N)^2 k)`, in
    high dimensions), and memory grows with the number of edges: a large
    :math:`\delta` makes the graph dense.
    """
    X_pool, n_instances = _check_pool(X_pool, n_instances)
    estimator, y_labelled, Z_labelled, Z_pool = _codes_for(
        classifier, X_pool, representation, X_labelled, y_labelled, layer, batch_size)
    rng = _random_state(random_state)
    Z = np.concatenate([Z_labelled, Z_pool])  # [n + N, k]
    if delta is None:
        classes = getattr(estimator, "classes_", None)
        n_classes = len(classes) if classes is not None else len(np.unique(as_numpy(y_labelled)))
        delta = purity_radius(Z, n_classes, purity=purity, random_state=rng)
    else:
        delta = check_nonnegative_float(delta, "delta")
        if delta == 0:
            raise ValueError("The 'delta' parameter must be > 0. Got 0.0 instead.")
    graph = radius_neighbors_graph(Z, radius=delta, mode="connectivity", include_self=True)
    return _greedy_max_coverage(graph, Z_labelled.shape[0], n_instances, rng)


BASELINE_STRATEGIES: dict[str, Callable] = {
    "random": random_sampling,
    "entropy": entropy_sampling,
    "margin": margin_sampling,
    "coreset": coreset_sampling,
    "badge": badge_sampling,
    "typiclust": typiclust_sampling,
    "probcover": probcover_sampling,
}

__all__ = [
    "BASELINE_STRATEGIES",
    "badge_sampling",
    "coreset_sampling",
    "entropy_sampling",
    "margin_sampling",
    "probcover_sampling",
    "purity_radius",
    "random_sampling",
    "typicality",
    "typiclust_sampling",
]
