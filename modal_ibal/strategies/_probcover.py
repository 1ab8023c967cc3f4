r"""ProbCover: greedy maximum coverage with delta-balls.

References
----------
.. [1] Yehuda, Dekel, Hacohen and Weinshall, "Active Learning Through a
   Covering Lens", NeurIPS 2022.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors, radius_neighbors_graph

from .._utils.validation import check_fraction, check_nonnegative_float, make_random_state
from ..coverage import greedy_max_coverage, safe_scale_exponent
from ..embedding import query_codes
from ..readers import (
    DEFAULT_BATCH_SIZE,
    ModelAndLabels,
    QueryInputs,
    check_single_output,
    label_vector,
)
from ._contract import follows_contract

DEFAULT_PURITY = 0.95
DEFAULT_MAX_PURITY_SAMPLES = 5_000

__all__ = ["probcover_sampling", "purity_radius"]


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

    Codes of magnitude beyond :math:`2^{32}` (or below :math:`2^{-32}`) are scaled
    by a power of two first
    (:func:`modal_ibal.coverage.safe_scale_exponent`), and the radius
    scaled back: the same radius, without overflow.
    """
    purity = check_fraction(purity, "purity")
    Z = np.asarray(Z)
    shift = safe_scale_exponent(Z)
    if shift:
        radius = purity_radius(np.ldexp(Z, shift), n_clusters, purity=purity,
                               random_state=random_state, max_samples=max_samples)
        return float(np.ldexp(radius, -shift))
    rng = make_random_state(random_state)
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


def check_delta(delta: Any, name: str = "delta") -> float | None:
    """ProbCover's ball radius: None (chosen for the purity), or a real number > 0."""
    if delta is None:
        return None
    delta = check_nonnegative_float(delta, name)
    if delta == 0:
        raise ValueError(f"The '{name}' parameter must be > 0. Got 0.0 instead.")
    return delta


@follows_contract(cold_start=True, parameters={"delta": check_delta},
                  shared_options=True)
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
    {shared_parameters}
    delta : float, optional
        Ball radius :math:`\delta > 0`. Default: :func:`purity_radius` on labelled
        + pool with as many k-means pseudo-classes as the model has classes.
    purity : float, default=0.95
        :math:`\alpha` of the default radius.
    representation : {'inputs', 'features'}, transformer or callable, default='inputs'
        As in :func:`typiclust_sampling`.
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

    With no labelled set (a cold start) nothing is covered at first; with no
    fitted model either, the default radius takes as many pseudo-classes as
    the labels show (at least 2).

    ``random_state``: Seeds the radius heuristic and the picks made once everything is
    covered.
    """
    start = QueryInputs.check(classifier, X_pool, n_instances, X_labelled, y_labelled,
                              cold_start=True)
    Z_labelled, Z_pool = query_codes(start, representation, layer=layer, batch_size=batch_size)
    rng = make_random_state(random_state)
    Z = np.concatenate([Z_labelled, Z_pool])  # [n + N, k]
    shift = safe_scale_exponent(Z)  # distances safe to square: a power of two, exact
    Z = np.ldexp(Z, shift) if shift else Z
    if delta is None:
        delta = purity_radius(Z, _n_pseudo_classes(start), purity=purity, random_state=rng)
    else:
        delta = float(np.ldexp(delta, shift))
    graph = radius_neighbors_graph(Z, radius=delta, mode="connectivity", include_self=True)
    return greedy_max_coverage(graph, Z_labelled.shape[0], start.n_instances, rng)


def _n_pseudo_classes(start: ModelAndLabels) -> int:
    """The default radius's number of pseudo-classes: the model's classes, else the labels'."""
    if start.fitted:
        try:  # a multi-output model's classes_ holds one array per output
            check_single_output(start.estimator)
        except TypeError as error:
            raise TypeError(
                f"{error} ProbCover's default radius needs the model's number of classes; "
                "pass delta=... to cover the inputs without it."
            ) from None
        classes = getattr(start.estimator, "classes_", None)
        if classes is not None:
            return len(classes)
    return len(np.unique(label_vector(start.y_labelled, "y_labelled")))
