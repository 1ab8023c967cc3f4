"""Peer strategies: one contract template over every strategy, then each against a naive reference."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from conftest import TinyMLP, make_net
from modAL.models import ActiveLearner
from modAL.uncertainty import classifier_entropy, classifier_margin
from modAL.uncertainty import entropy_sampling as modal_entropy_sampling
from modAL.uncertainty import margin_sampling as modal_margin_sampling
from scipy.special import softmax
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from torch import nn

from modal_ibal import coverage
from modal_ibal.baselines import (
    BASELINE_STRATEGIES,
    badge_sampling,
    coreset_sampling,
    entropy_sampling,
    margin_sampling,
    probcover_sampling,
    purity_radius,
    random_sampling,
    typicality,
    typiclust_sampling,
)
from modal_ibal.cluster import ibal_cluster_sampling
from modal_ibal.extract import last_layer
from modal_ibal.strategies import badge, default_sampling, herding_sampling

STRATEGIES = {**BASELINE_STRATEGIES, "ibal_cluster": ibal_cluster_sampling,
              "herding": herding_sampling, "default": default_sampling}
N_INSTANCES = 5


@pytest.fixture(scope="module")
def digits_split(digits):
    """(X_labelled, y_labelled, X_pool): 30 labelled digits (every class), 200 in the pool."""
    X, y = digits
    order = np.random.default_rng(1).permutation(len(X))
    return X[order[:30]], y[order[:30]], X[order[30:230]]


@pytest.fixture(scope="module")
def learner(digits_split):
    X_labelled, y_labelled, _ = digits_split
    with torch.random.fork_rng(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ActiveLearner(make_net(max_epochs=10), X_training=X_labelled,
                             y_training=y_labelled)


def _state(module):
    return {name: value.clone() for name, value in module.state_dict().items()}


# ------------------------------------------------------------------ the template


@pytest.mark.parametrize("name", STRATEGIES)
def test_contract_with_an_active_learner(name, learner, digits_split):
    _, _, X_pool = digits_split
    pool_before, state_before = X_pool.copy(), _state(learner.estimator.module_)
    learner.estimator.module_.train()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002

    indices, scores = STRATEGIES[name](learner, X_pool, N_INSTANCES)

    assert isinstance(indices, np.ndarray) and indices.dtype.kind == "i"
    assert indices.shape == scores.shape == (N_INSTANCES,)
    assert len(np.unique(indices)) == N_INSTANCES
    assert indices.min() >= 0 and indices.max() < len(X_pool)
    assert np.isfinite(scores).all()
    np.testing.assert_array_equal(X_pool, pool_before)
    for key, value in _state(learner.estimator.module_).items():
        torch.testing.assert_close(value, state_before[key], rtol=0, atol=0)
    assert learner.estimator.module_.training  # the caller's mode is restored
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002


@pytest.mark.parametrize("name", STRATEGIES)
def test_bare_estimator_with_labelled_set_equals_learner(name, learner, digits_split):
    _, _, X_pool = digits_split
    from_learner = STRATEGIES[name](learner, X_pool, N_INSTANCES, random_state=3)
    from_estimator = STRATEGIES[name](learner.estimator, X_pool, N_INSTANCES, random_state=3,
                                      X_labelled=learner.X_training,
                                      y_labelled=learner.y_training)
    np.testing.assert_array_equal(from_learner[0], from_estimator[0])
    np.testing.assert_allclose(from_learner[1], from_estimator[1])


@pytest.mark.parametrize("name", STRATEGIES)
def test_deterministic_under_random_state(name, learner, digits_split):
    _, _, X_pool = digits_split
    first = STRATEGIES[name](learner, X_pool, N_INSTANCES, random_state=7)
    second = STRATEGIES[name](learner, X_pool, N_INSTANCES,
                              random_state=np.random.RandomState(7))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("name", STRATEGIES)
def test_modal_query_runs_the_strategy_once(name, learner, digits_split):
    _, _, X_pool = digits_split
    calls = []

    def counted(classifier, X, n_instances=1, **kwargs):
        calls.append(n_instances)
        return STRATEGIES[name](classifier, X, n_instances, **kwargs)

    strategy = learner.query_strategy
    learner.query_strategy = counted
    try:
        indices, rows = learner.query(X_pool, n_instances=2, random_state=0)
    finally:
        learner.query_strategy = strategy
    assert calls == [2]
    np.testing.assert_array_equal(rows, X_pool[indices])


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize(
    ("pool", "n_instances", "error", "match"),
    [
        ("small", 4, ValueError, r"'n_instances' parameter \(4\) is larger than the pool"),
        ("small", 0, ValueError, "'n_instances' parameter must be >= 1"),
        ("empty", 1, ValueError, "'X_pool' parameter is empty"),
        ("nan", 1, ValueError, "'X_pool' parameter holds NaN"),
        ("vector", 1, ValueError, "'X_pool' parameter must have one row per sample"),
    ],
)
def test_bad_inputs_raise_clear_errors(name, pool, n_instances, error, match, learner,
                                       digits_split):
    _, _, X_pool = digits_split
    bad = {
        "small": X_pool[:3],
        "empty": X_pool[:0],
        "nan": np.where(np.arange(X_pool.shape[1]) == 5, np.nan, X_pool[:10]),
        "vector": X_pool[0],
    }[pool]
    with pytest.raises(error, match=match):
        STRATEGIES[name](learner, bad, n_instances)


# --------------------------------------------------------- random, entropy, margin


def test_random_sampling_is_a_seeded_uniform_sample(digits_split):
    _, _, X_pool = digits_split
    indices, draws = random_sampling(None, X_pool, 10, random_state=0)
    expected = np.random.RandomState(0).random_sample(len(X_pool))
    np.testing.assert_array_equal(indices, np.argsort(expected)[:10])
    np.testing.assert_array_equal(draws, expected[indices])
    assert not np.array_equal(indices, random_sampling(None, X_pool, 10, random_state=1)[0])


def _assert_same_selection(ours, theirs, all_scores, *, atol=1e-5):
    """Same batch as modAL up to float tolerance; swaps allowed only between near-ties."""
    (indices, scores), (modal_indices, modal_scores) = ours, theirs
    np.testing.assert_allclose(np.sort(scores), np.sort(modal_scores), rtol=1e-4, atol=atol)
    np.testing.assert_allclose(scores, all_scores[indices], rtol=1e-4, atol=atol)
    swapped = np.setxor1d(indices, modal_indices)
    threshold = scores[-1]
    assert np.all(np.abs(all_scores[swapped] - threshold) <= atol)


@pytest.mark.parametrize(
    ("ours", "modal", "measure"),
    [
        (entropy_sampling, modal_entropy_sampling, classifier_entropy),
        (margin_sampling, modal_margin_sampling, classifier_margin),
    ],
    ids=["entropy", "margin"],
)
def test_uncertainty_equals_modal_from_one_batched_pass(ours, modal, measure, learner,
                                                        digits_split, monkeypatch):
    _, _, X_pool = digits_split
    expected = modal(learner, X_pool, n_instances=12)
    all_scores = measure(learner, X_pool)
    sizes = []
    predict_proba = learner.estimator.predict_proba
    monkeypatch.setattr(learner.estimator, "predict_proba",
                        lambda X: sizes.append(len(X)) or predict_proba(X))
    result = ours(learner, X_pool, 12, batch_size=64)
    _assert_same_selection(result, expected, all_scores)
    assert max(sizes) <= 8  # skorch's per-sample path only checks the first samples


@pytest.mark.parametrize("name", ["entropy", "margin", "coreset", "badge"])
def test_float64_pools_are_cast_for_the_net(name, learner, digits_split):
    _, _, X_pool = digits_split
    as_float32 = STRATEGIES[name](learner, X_pool, N_INSTANCES, random_state=0)
    as_float64 = STRATEGIES[name](learner, X_pool.astype(np.float64), N_INSTANCES, random_state=0)
    np.testing.assert_array_equal(as_float32[0], as_float64[0])


class _Tempered(nn.Module):
    """The final nn.Linear's output is rescaled: its logits are not the module's output."""

    def __init__(self):
        super().__init__()
        self.inner = TinyMLP()

    def forward(self, X):
        return 3.0 * self.inner(X)


@pytest.mark.parametrize("ours, modal, measure", [
    (entropy_sampling, modal_entropy_sampling, classifier_entropy),
    (margin_sampling, modal_margin_sampling, classifier_margin),
], ids=["entropy", "margin"])
@pytest.mark.parametrize("model", ["tempered", "logistic"])
def test_uncertainty_falls_back_to_predict_proba(ours, modal, measure, model, digits_split):
    X_labelled, y_labelled, X_pool = digits_split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator = (make_net(_Tempered, max_epochs=3) if model == "tempered"
                     else LogisticRegression(max_iter=200)).fit(X_labelled, y_labelled)
    _assert_same_selection(ours(estimator, X_pool, 12), modal(estimator, X_pool, n_instances=12),
                           measure(estimator, X_pool))


# ----------------------------------------------------------------------- core-set


def _naive_kcenter(Z_pool, Z_labelled, n_instances):
    centers, picks, radii = list(Z_labelled), [], []
    for _ in range(n_instances):
        best, best_radius = -1, -1.0
        for i, z in enumerate(Z_pool):
            if i in picks:
                continue
            radius = min(np.linalg.norm(z - c) for c in centers)
            if radius > best_radius:
                best, best_radius = i, radius
        picks.append(best)
        radii.append(best_radius)
        centers.append(Z_pool[best])
    return np.array(picks), np.array(radii)


@pytest.mark.parametrize("embedding", [None, "callable"])
def test_coreset_equals_brute_force_k_center(embedding):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(45, 3))
    y = np.arange(45) % 3
    model = LogisticRegression().fit(X[:6], y[:6])  # its final-layer features are x itself
    chosen = coreset_sampling(model, X[6:], 8, X_labelled=X[:6], y_labelled=y[:6],
                              embedding=None if embedding is None else (lambda Z: 2.0 * Z))
    picks, radii = _naive_kcenter(X[6:], X[:6], 8)
    np.testing.assert_array_equal(chosen[0], picks)
    scale = 1.0 if embedding is None else 2.0
    np.testing.assert_allclose(chosen[1], scale * radii, rtol=1e-9)


def test_coreset_never_repeats_duplicates():
    X = np.repeat(np.eye(3), 4, axis=0)  # every pool point has three exact copies
    model = LogisticRegression().fit(np.eye(3), [0, 1, 2])
    indices, radii = coreset_sampling(model, X, 12, X_labelled=np.eye(3), y_labelled=[0, 1, 2])
    assert len(np.unique(indices)) == 12
    np.testing.assert_array_equal(radii, 0.0)


# -------------------------------------------------------------------------- BADGE


def _explicit_gradient_embedding(learner, X_pool):
    out = last_layer(learner.estimator).outputs(X_pool)
    F = np.hstack([out.features, np.ones((len(X_pool), 1))]).astype(np.float64)
    p = softmax(out.logits.astype(np.float64), axis=1)  # [N, C]
    A = p - np.eye(p.shape[1])[p.argmax(axis=1)]  # [N, C]
    return np.einsum("ic,id->icd", A, F).reshape(len(X_pool), -1)  # [N, C (d + 1)]


def test_badge_factorised_distances_equal_explicit_embeddings(learner, digits_split):
    _, _, X_pool = digits_split
    reader = last_layer(learner.estimator)
    A, F = badge._gradient_factors(reader, reader.outputs(X_pool))
    G = _explicit_gradient_embedding(learner, X_pool)
    np.testing.assert_allclose(np.einsum("ic,id->icd", A, F).reshape(len(G), -1), G, atol=1e-6)
    sq_norms = (A * A).sum(axis=1) * (F * F).sum(axis=1)
    for j in [0, 17, 199]:
        np.testing.assert_allclose(badge._gradient_sq_distances(A, F, sq_norms, j),
                                   ((G - G[j]) ** 2).sum(axis=1), rtol=1e-9, atol=1e-9)


def _naive_kmeanspp(G, n_instances, rng):
    sq = [float(g @ g) for g in G]
    picks = [int(np.argmax(sq))]
    scores = [sq[picks[0]]]
    for _ in range(n_instances - 1):
        d2 = np.array([0.0 if i in picks else min(float(((g - G[p]) ** 2).sum()) for p in picks)
                       for i, g in enumerate(G)])
        cumulative = np.cumsum(d2)
        pick = int(np.searchsorted(cumulative, rng.random_sample() * d2.sum(), side="right"))
        picks.append(pick)
        scores.append(d2[pick])
    return np.array(picks), np.array(scores)


def test_badge_equals_kmeanspp_on_explicit_embeddings(learner, digits_split):
    _, _, X_pool = digits_split
    indices, scores = badge_sampling(learner, X_pool, 10, random_state=4)
    picks, naive_scores = _naive_kmeanspp(_explicit_gradient_embedding(learner, X_pool), 10,
                                          np.random.RandomState(4))
    np.testing.assert_array_equal(indices, picks)
    np.testing.assert_allclose(scores, naive_scores, rtol=1e-6)


# ---------------------------------------------------------------------- TypiClust


def test_typicality_equals_inverse_mean_neighbour_distance():
    Z = np.random.default_rng(0).normal(size=(12, 2))
    distances = np.linalg.norm(Z[:, None] - Z[None], axis=2)
    for k, expected_k in [(3, 3), (20, 11)]:
        nearest = np.sort(distances, axis=1)[:, 1 : expected_k + 1]
        np.testing.assert_allclose(typicality(Z, k), 1.0 / nearest.mean(axis=1))
    np.testing.assert_array_equal(typicality(Z[:1]), [1.0])
    assert np.isfinite(typicality(np.zeros((4, 2)))).all()


@pytest.fixture(scope="module")
def separated_blobs():
    """Six far-apart blobs of 10 to 20 points; two of them hold a labelled point."""
    sizes = [20, 18, 16, 14, 12, 10]
    centers = 50.0 * np.array([[0, 0], [1, 0], [0, 1], [1, 1], [2, 0], [2, 1]])
    X, blob = make_blobs(n_samples=sizes, centers=centers, cluster_std=1.0, random_state=0)
    labelled = np.array([np.flatnonzero(blob == 1)[0], np.flatnonzero(blob == 4)[0]])
    pool = np.setdiff1d(np.arange(len(X)), labelled)
    model = LogisticRegression().fit(X[labelled], [0, 1])
    return X, blob, labelled, pool, model


def test_typiclust_picks_the_most_typical_point_of_each_uncovered_cluster(separated_blobs):
    X, blob, labelled, pool, model = separated_blobs
    indices, scores = typiclust_sampling(model, X[pool], 4, random_state=0, X_labelled=X[labelled],
                                         y_labelled=[0, 1])
    np.testing.assert_array_equal(blob[pool[indices]], [0, 2, 3, 5])  # largest uncovered first
    for index, score in zip(indices, scores, strict=True):
        members = pool[blob[pool] == blob[pool[index]]]
        tau = typicality(X[members])
        assert pool[index] == members[np.argmax(tau)]
        np.testing.assert_allclose(score, tau.max())


def test_pick_per_cluster_order_fallback_and_ties():
    Z = np.zeros((10, 1))  # all points coincide: every typicality ties
    labels = np.array([0, 3, 0, 0, 1, 1, 1, 2, 2, 3])  # two labelled points in clusters 0 and 3
    indices, _ = coverage.pick_per_cluster(Z, labels, 2, 6, n_neighbors=20)
    # uncovered clusters first, largest first: 1 (3 points), then 2 (2 points); then every
    # cluster has one claim: 0 and 1 tie on size 3 (lower id first), then 2 and 3 (size 2);
    # inside a cluster every typicality ties, so the lowest pool index goes first
    np.testing.assert_array_equal(indices, [2, 5, 0, 3, 6, 7])


def test_typiclust_representations(learner, digits_split):
    _, _, X_pool = digits_split
    on_inputs = typiclust_sampling(learner, X_pool, 4, random_state=0)
    flat = typiclust_sampling(learner, X_pool, 4, random_state=0, representation=lambda X: X)
    np.testing.assert_array_equal(on_inputs[0], flat[0])
    features = typiclust_sampling(learner, X_pool, 4, random_state=0, representation="features")
    assert len(np.unique(features[0])) == 4
    with pytest.raises(ValueError, match="'representation' parameter must be 'inputs'"):
        typiclust_sampling(learner, X_pool, 4, representation="pixels")


def test_large_pools_cluster_a_sample(learner, digits_split):
    _, _, X_pool = digits_split
    indices, _ = typiclust_sampling(learner, X_pool, 60, random_state=0, max_cluster_samples=150)
    assert len(np.unique(indices)) == 60  # 90 clusters: free centers from 150 sampled pool points


def _naive_uncovered_clusters(Z_labelled, Z_pool, n_clusters, seed, max_cluster_samples):
    """Seeding continued from the labelled points, then the free clusters, point by point."""
    rng = np.random.RandomState(seed)
    n_pool, n_labelled = len(Z_pool), len(Z_labelled)
    size = max(max_cluster_samples, n_clusters)
    sample = np.sort(rng.choice(n_pool, size, replace=False)) if n_pool > size else np.arange(n_pool)

    def cover(z):
        return min((np.linalg.norm(z - z_l) for z_l in Z_labelled), default=np.inf)

    X = Z_pool[sample]
    cost = np.array([cover(x) ** 2 for x in X])
    n_trials = 2 + int(np.log(n_labelled + n_clusters))
    seeds = []
    for _ in range(n_clusters):
        total = cost.sum()
        if np.isfinite(total) and total > 0:
            cumulative = np.cumsum(cost)
            trials = [min(int(np.sum(cumulative <= draw)), len(X) - 1)
                      for draw in rng.random_sample(n_trials) * total]
        else:
            trials = [rng.randint(len(X))]
        costs = [np.minimum(cost, [np.linalg.norm(x - X[t]) ** 2 for x in X]) for t in trials]
        best = int(np.argmin([c.sum() for c in costs]))
        cost, seeds = costs[best], [*seeds, trials[best]]
    centers = X[seeds]

    def cell(z):
        distances = [np.linalg.norm(z - c) for c in centers]
        return int(np.argmin(distances)), min(distances)

    cells = np.full(n_pool, -1)
    extent = np.full(n_clusters, np.inf if n_labelled == 0 else -np.inf)
    for i in sample:
        nearest, distance = cell(Z_pool[i])
        if distance < cover(Z_pool[i]):
            cells[i] = nearest
            extent[nearest] = max(extent[nearest], distance)
    for i in np.setdiff1d(np.arange(n_pool), sample):
        nearest, distance = cell(Z_pool[i])
        if distance <= extent[nearest] and distance < cover(Z_pool[i]):
            cells[i] = nearest
    return cells


@pytest.mark.parametrize(("n_labelled", "max_cluster_samples"), [(12, 1000), (12, 60), (0, 60)])
def test_uncovered_clusters_equal_naive_seeding_and_assignment(n_labelled, max_cluster_samples):
    Z = np.random.default_rng(5).normal(size=(12 + 150, 3))
    Z_labelled, Z_pool = Z[:n_labelled], Z[12:]
    cells = coverage.uncovered_clusters(Z_labelled, Z_pool, 15, np.random.RandomState(3),
                                        max_cluster_samples)
    expected = _naive_uncovered_clusters(Z_labelled, Z_pool, 15, 3, max_cluster_samples)
    np.testing.assert_array_equal(cells, expected)
    assert (cells >= 0).all() if n_labelled == 0 else (cells == -1).any()
    assert len(np.unique(cells[cells >= 0])) == 15  # every free center holds its own point


def _anchored_labels(Z_labelled, Z_pool, cells):
    """All n + F cluster labels: covered pool points join their nearest labelled point."""
    n = len(Z_labelled)
    nearest = np.array([np.argmin(np.linalg.norm(Z_labelled - z, axis=1)) for z in Z_pool])
    return np.concatenate([np.arange(n), np.where(cells >= 0, n + cells, nearest)])


@pytest.mark.parametrize("duplicates", [False, True])
def test_typical_picks_beyond_kmeans_equal_pick_per_cluster_on_all_clusters(duplicates):
    rng = np.random.default_rng(6)
    Z_labelled = rng.normal(size=(40, 4))
    if duplicates:  # every pool point but five repeats a labelled one: too few free clusters
        Z_pool = np.concatenate([np.repeat(Z_labelled, 3, axis=0), rng.normal(size=(5, 4))])
    else:
        Z_pool = rng.normal(size=(150, 4))
    weights = rng.uniform(0.5, 1.5, size=len(Z_pool))
    for preference in [None, lambda members: weights[members]]:
        indices, scores = coverage.typical_picks(
            Z_labelled, Z_pool, 20, np.random.RandomState(1), n_neighbors=20,
            max_cluster_samples=20_000, preference=preference)  # K = 60: beyond KMeans
        cells = coverage.uncovered_clusters(Z_labelled, Z_pool, 20, np.random.RandomState(1),
                                            20_000)
        assert (len(np.unique(cells[cells >= 0])) < 20) == duplicates
        expected = coverage.pick_per_cluster(
            np.concatenate([Z_labelled, Z_pool]), _anchored_labels(Z_labelled, Z_pool, cells),
            40, 20, n_neighbors=20, preference=preference)
        np.testing.assert_array_equal(indices, expected[0])
        np.testing.assert_array_equal(scores, expected[1])
        assert len(np.unique(indices)) == 20


def test_typical_picks_beyond_kmeans_take_integer_codes():
    rng = np.random.default_rng(7)
    Z_labelled, Z_pool = rng.integers(0, 4, size=(45, 3)), rng.integers(0, 4, size=(300, 3))
    for max_cluster_samples in [20_000, 100]:  # many duplicates: the fallback runs too
        picks = [coverage.typical_picks(Z_labelled.astype(dtype), Z_pool.astype(dtype), 60,
                                        np.random.RandomState(0), n_neighbors=20,
                                        max_cluster_samples=max_cluster_samples)
                 for dtype in (np.int64, np.float64)]
        np.testing.assert_array_equal(picks[0][0], picks[1][0])
        assert len(np.unique(picks[0][0])) == 60


def test_typiclust_beyond_kmeans_picks_the_most_typical_point_of_each_free_cluster(
        learner, digits_split):
    X_labelled, _, X_pool = digits_split
    indices, scores = typiclust_sampling(learner, X_pool, 25, random_state=2)  # K = 55
    cells = coverage.uncovered_clusters(X_labelled, X_pool, 25, np.random.RandomState(2), 20_000)
    sizes = np.bincount(cells[cells >= 0], minlength=25)
    np.testing.assert_array_equal(np.sort(cells[indices]), np.arange(25))  # one per free cluster
    assert np.all(np.diff(sizes[cells[indices]]) <= 0)  # largest first
    for index, score in zip(indices, scores, strict=True):
        members = np.flatnonzero(cells == cells[index])
        tau = typicality(X_pool[members])
        assert index == members[np.argmax(tau)]
        np.testing.assert_allclose(score, tau.max())


# ---------------------------------------------------------------------- ProbCover


def _naive_max_coverage(Z, n_labelled, delta, n_instances):
    distances = np.linalg.norm(Z[:, None] - Z[None], axis=2)
    ball = distances <= delta
    covered = ball[:n_labelled].any(axis=0)
    picks, gains = [], []
    for _ in range(n_instances):
        best, best_gain = -1, -1
        for i in range(n_labelled, len(Z)):
            gain = int((ball[i] & ~covered).sum())
            if i - n_labelled not in picks and gain > best_gain:
                best, best_gain = i, gain
        picks.append(best - n_labelled)
        gains.append(best_gain)
        covered |= ball[best]
    return np.array(picks), np.array(gains, dtype=float), covered


def test_probcover_equals_naive_greedy_max_coverage():
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(60, 2))
    model = LogisticRegression().fit(Z[:4], [0, 1, 0, 1])
    indices, gains = probcover_sampling(model, Z[4:], 6, delta=0.6, X_labelled=Z[:4],
                                        y_labelled=[0, 1, 0, 1])
    picks, naive_gains, covered = _naive_max_coverage(Z, 4, 0.6, 6)
    np.testing.assert_array_equal(indices, picks)
    np.testing.assert_array_equal(gains, naive_gains)
    assert gains.sum() == covered.sum() - _naive_max_coverage(Z, 4, 0.6, 0)[2].sum()


def test_probcover_picks_at_random_once_everything_is_covered():
    Z = np.random.default_rng(0).normal(size=(20, 2))
    model = LogisticRegression().fit(Z[:2], [0, 1])
    indices, gains = probcover_sampling(model, Z[2:], 5, delta=100.0, X_labelled=Z[:2],
                                        y_labelled=[0, 1], random_state=0)
    np.testing.assert_array_equal(gains, 0.0)
    assert len(np.unique(indices)) == 5


def test_purity_radius_is_the_largest_pure_enough_radius(separated_blobs):
    X, blob, *_ = separated_blobs
    delta = purity_radius(X, 6, purity=0.9, random_state=0)

    def purity(radius):
        ball = np.linalg.norm(X[:, None] - X[None], axis=2) <= radius
        return np.mean([np.all(blob[row] == blob[i]) for i, row in enumerate(ball)])

    assert purity(delta) >= 0.9
    assert purity(np.nextafter(delta, np.inf)) < 0.9
    with pytest.raises(ValueError, match="'purity' parameter must be in"):
        purity_radius(X, 6, purity=1.5)


def test_probcover_default_radius_and_bad_delta(learner, digits_split):
    _, _, X_pool = digits_split
    _, gains = probcover_sampling(learner, X_pool, 5, random_state=0)
    assert gains[0] >= 1 and np.all(np.diff(gains) <= 0)
    with pytest.raises(ValueError, match="'delta' parameter must be > 0"):
        probcover_sampling(learner, X_pool, 5, delta=0.0)
