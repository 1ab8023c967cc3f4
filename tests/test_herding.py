"""Kernel herding: the kNN kernel graph and the lazy greedy against dense naive references,
then the modAL strategy's contract, representations and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import make_net
from modAL.models import ActiveLearner
from sklearn.linear_model import LogisticRegression

from modal_ibal.coverage import greedy_kernel_herding, knn_kernel_graph
from modal_ibal.scores import margin_weights
from modal_ibal.strategies import herding_sampling

ALL = 10**9  # n_neighbors that covers every point: the untruncated kernel


def dense_kernel(Z: np.ndarray, bandwidth: float) -> np.ndarray:
    """k(x, c) for every pair, by the double difference."""
    squared = ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(axis=2)  # [M, M]
    return np.exp(-squared / (2.0 * bandwidth**2))


def naive_herding(K: np.ndarray, n_labelled: int, n_instances: int, weights=None):
    """The exact greedy on a dense kernel, gains from scratch each pick, first index on ties."""
    n_points = K.shape[0]
    w = np.ones(n_points) if weights is None else weights
    m = K[:, :n_labelled].max(axis=1) if n_labelled else np.zeros(n_points)
    picks, gains = [], []
    for _ in range(n_instances):
        best, best_gain = -1, -np.inf
        for c in range(n_points - n_labelled):
            if c in picks:
                continue
            gain = sum(w[x] * max(0.0, K[x, n_labelled + c] - m[x]) for x in range(n_points))
            if gain > best_gain:
                best, best_gain = c, gain
        picks.append(best)
        gains.append(best_gain)
        m = np.maximum(m, K[:, n_labelled + best])
    return np.asarray(picks), np.asarray(gains)


def unit_rows(Z: np.ndarray) -> np.ndarray:
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


# ------------------------------------------------------------------------- the graph


def test_graph_is_the_symmetrised_knn_kernel():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(50, 4))
    K = dense_kernel(Z, 0.8)
    order = np.argsort(-K, axis=1, kind="stable")[:, :6]  # self first, then 5 neighbours
    keep = np.zeros_like(K, dtype=bool)
    np.put_along_axis(keep, order, True, axis=1)
    keep |= keep.T
    expected = np.where(keep, K, 0.0)

    graph = knn_kernel_graph(Z, 6, 0.8)

    assert sp.isspmatrix_csr(graph) and graph.nnz == keep.sum()
    np.testing.assert_allclose(graph.toarray(), expected, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(graph.diagonal(), 1.0)


def test_all_neighbours_give_the_dense_kernel():
    Z = np.random.default_rng(1).normal(size=(30, 3)).astype(np.float32)
    np.testing.assert_allclose(knn_kernel_graph(Z, ALL, 0.5).toarray(),
                               dense_kernel(Z.astype(np.float64), 0.5), rtol=1e-12, atol=1e-300)


def test_default_bandwidth_is_the_median_kth_neighbour_distance():
    Z = np.random.default_rng(2).normal(size=(41, 3))
    distances = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(axis=2))  # [M, M]
    width = np.median(np.sort(distances, axis=1)[:, 4])  # 5th neighbour, self first
    np.testing.assert_allclose(knn_kernel_graph(Z, 5).toarray(),
                               knn_kernel_graph(Z, 5, width).toarray())


def test_every_point_is_its_own_neighbour_among_many_duplicates():
    Z = np.vstack([np.zeros((6, 2)), np.ones((1, 2))])  # six copies, three neighbours each
    graph = knn_kernel_graph(Z, 3, 1.0)
    np.testing.assert_array_equal(graph.diagonal(), 1.0)
    np.testing.assert_array_equal(graph.toarray(), graph.toarray().T)


# ------------------------------------------------------------------------ the greedy


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_labelled", [0, 5])
@pytest.mark.parametrize("weighted", [False, True])
def test_greedy_with_every_neighbour_equals_the_exact_dense_greedy(seed, n_labelled, weighted):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(60, 5))
    weights = rng.uniform(0.1, 2.0, size=60) if weighted else None

    picks, gains = greedy_kernel_herding(knn_kernel_graph(Z, ALL, 1.5), n_labelled, 12,
                                         weights=weights)
    expected_picks, expected_gains = naive_herding(dense_kernel(Z, 1.5), n_labelled, 12,
                                                   weights)

    np.testing.assert_array_equal(picks, expected_picks)
    np.testing.assert_allclose(gains, expected_gains, rtol=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
def test_lazy_updates_equal_the_greedy_on_the_truncated_kernel(seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(80, 3))
    graph = knn_kernel_graph(Z, 7, 0.6)
    weights = rng.uniform(0.0, 1.0, size=80)
    picks, gains = greedy_kernel_herding(graph, 4, 30, weights=weights)
    expected_picks, expected_gains = naive_herding(graph.toarray(), 4, 30, weights)
    np.testing.assert_array_equal(picks, expected_picks)
    np.testing.assert_allclose(gains, expected_gains, rtol=1e-10)


def test_asymmetric_graphs_are_read_by_column():
    rng = np.random.default_rng(3)
    K = sp.random(40, 40, density=0.15, random_state=4).toarray() + np.eye(40)
    assert not np.allclose(K, K.T)
    picks, gains = greedy_kernel_herding(sp.csr_matrix(K), 3, 10)
    expected_picks, expected_gains = naive_herding(K, 3, 10)
    np.testing.assert_array_equal(picks, expected_picks)
    np.testing.assert_allclose(gains, expected_gains, rtol=1e-10)
    picks, _ = greedy_kernel_herding(K, 3, 10, weights=rng.uniform(size=40))  # dense accepted
    assert len(np.unique(picks)) == 10


def test_ties_go_to_the_lower_pool_index():
    picks, gains = greedy_kernel_herding(sp.identity(8, format="csr"), 2, 6)
    np.testing.assert_array_equal(picks, np.arange(6))
    np.testing.assert_array_equal(gains, 1.0)


def test_a_pool_copy_of_a_labelled_point_gains_nothing_for_itself():
    Z = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]])  # labelled, its copy, a far point
    picks, gains = greedy_kernel_herding(knn_kernel_graph(Z, ALL, 0.1), 1, 2)
    np.testing.assert_array_equal(picks, [1, 0])
    np.testing.assert_allclose(gains, [1.0, 0.0], atol=1e-12)


# ---------------------------------------------------------------------- the strategy


@pytest.fixture(scope="module")
def split(digits):
    """(X_labelled, y_labelled, X_pool): 20 labelled digits, 120 in the pool."""
    X, y = digits
    order = np.random.default_rng(5).permutation(len(X))
    return X[order[:20]], y[order[:20]], X[order[20:140]]


@pytest.fixture(scope="module")
def learner(split):
    X_labelled, y_labelled, _ = split
    return ActiveLearner(LogisticRegression(max_iter=500), X_training=X_labelled,
                         y_training=y_labelled)


def test_contract_with_an_active_learner(learner, split):
    _, _, X_pool = split
    pool_before = X_pool.copy()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002

    indices, scores = herding_sampling(learner, X_pool, 6)

    assert indices.dtype.kind == "i" and indices.shape == scores.shape == (6,)
    assert len(np.unique(indices)) == 6 and 0 <= indices.min() and indices.max() < len(X_pool)
    assert (np.diff(scores) <= 1e-12).all() and (scores > 0).all()  # submodular: gains fall
    np.testing.assert_array_equal(X_pool, pool_before)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002


def test_bare_estimator_equals_learner_and_random_state_is_ignored(learner, split):
    X_labelled, y_labelled, X_pool = split
    first = herding_sampling(learner, X_pool, 5, random_state=1)
    second = herding_sampling(learner.estimator, X_pool, 5, random_state=2,
                              X_labelled=X_labelled, y_labelled=y_labelled)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_modal_query_runs_the_strategy_once(learner, split):
    _, _, X_pool = split
    calls = []

    def counted(classifier, X, n_instances=1, **kwargs):
        calls.append(n_instances)
        return herding_sampling(classifier, X, n_instances, **kwargs)

    strategy = learner.query_strategy
    learner.query_strategy = counted
    try:
        indices, rows = learner.query(X_pool, n_instances=2, random_state=0)
    finally:
        learner.query_strategy = strategy
    assert calls == [2]
    np.testing.assert_array_equal(rows, X_pool[indices])


def test_exact_herding_on_unit_rows_with_coverage_gains_as_scores(learner, split):
    X_labelled, _, X_pool = split
    Z = unit_rows(np.concatenate([X_labelled, X_pool]).astype(np.float64))
    K = dense_kernel(Z, 0.4)
    expected, _ = naive_herding(K, len(X_labelled), 4)

    indices, scores = herding_sampling(learner, X_pool, 4, n_neighbors=ALL, bandwidth=0.4)

    np.testing.assert_array_equal(indices, expected)
    coverage = [K[:, : len(X_labelled)].max(axis=1).mean()]
    for i in range(1, 5):
        centres = np.concatenate([np.arange(len(X_labelled)), len(X_labelled) + expected[:i]])
        coverage.append(K[:, centres].max(axis=1).mean())
    np.testing.assert_allclose(scores, np.diff(coverage), rtol=1e-6)  # float32 digits rows


def test_representations_agree_where_they_are_the_same_space(learner, split):
    _, _, X_pool = split
    inputs = herding_sampling(learner, X_pool, 4)
    as_callable = herding_sampling(learner, X_pool, 4, representation=lambda X: 3.0 * X)
    features = herding_sampling(learner, X_pool, 4, representation="features")  # logreg: inputs
    np.testing.assert_array_equal(inputs[0], as_callable[0])
    np.testing.assert_array_equal(inputs[0], features[0])


def test_penultimate_features_of_a_skorch_net(split):
    X_labelled, y_labelled, X_pool = split
    with torch.random.fork_rng(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = make_net(max_epochs=3).fit(X_labelled, y_labelled)
    indices, scores = herding_sampling(net, X_pool, 3, representation="features",
                                       X_labelled=X_labelled, y_labelled=y_labelled)
    assert len(np.unique(indices)) == 3 and np.isfinite(scores).all()


def test_margin_weights_are_one_minus_the_top_two_gap():
    probas = np.array([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(margin_weights(probas), [0.8, 1.0, 0.0])
    np.testing.assert_array_equal(margin_weights(np.ones((2, 1))), [1.0, 1.0])


def test_weights_scale_each_pool_points_share_of_the_gain(learner, split):
    X_labelled, _, X_pool = split
    Z = unit_rows(np.concatenate([X_labelled, X_pool]).astype(np.float64))
    pool_weights = np.random.default_rng(6).uniform(size=len(X_pool))
    weights = np.concatenate([np.zeros(len(X_labelled)), pool_weights])
    expected, _ = naive_herding(dense_kernel(Z, 0.4), len(X_labelled), 4, weights)
    given = herding_sampling(learner, X_pool, 4, n_neighbors=ALL, bandwidth=0.4,
                             weights=pool_weights)
    np.testing.assert_array_equal(given[0], expected)

    margin = margin_weights(learner.estimator.predict_proba(X_pool))
    from_margin = herding_sampling(learner, X_pool, 4, weights="margin")
    from_values = herding_sampling(learner, X_pool, 4, weights=margin)
    np.testing.assert_array_equal(from_margin[0], from_values[0])
    np.testing.assert_allclose(from_margin[1], from_values[1], rtol=1e-6)


# ------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"n_neighbors": 0}, ValueError, "'n_neighbors' parameter must be a positive int"),
        ({"bandwidth": 0.0}, ValueError, r"'bandwidth' parameter must be finite and > 0\. Got 0"),
        ({"bandwidth": np.nan}, ValueError, "'bandwidth' parameter must be finite and > 0"),
        ({"bandwidth": np.inf}, ValueError, "'bandwidth' parameter must be finite and > 0"),
        ({"bandwidth": "wide"}, ValueError, "'bandwidth' parameter must be None, 'labelled' or"),
        ({"bandwidth": [1.0]}, TypeError, "'bandwidth' parameter must be None, 'labelled' or a"),
        ({"representation": "pixels"}, ValueError, "'representation' parameter must be 'inputs'"),
        ({"representation": lambda X: X[:-1]}, ValueError,
         "'representation' parameter must return one row per sample"),
        ({"representation": lambda X: np.full(X.shape, np.nan)}, ValueError,
         "'representation' parameter returned codes that are not finite"),
        ({"representation": 3}, ValueError, "'representation' parameter must be 'inputs'"),
        ({"weights": "entropy"}, ValueError, r"'weights' parameter must be None, 'margin' or"),
        ({"weights": np.ones(3)}, ValueError, r"'weights' parameter must have shape \(120,\)"),
        ({"weights": -np.ones(120)}, ValueError, "'weights' parameter must hold finite values"),
    ],
)
def test_bad_strategy_options_raise_named_errors(options, error, match, learner, split):
    _, _, X_pool = split
    with pytest.raises(error, match=match):
        herding_sampling(learner, X_pool, 2, **options)


def test_bad_graph_inputs_raise_named_errors():
    graph = sp.identity(5, format="csr")
    with pytest.raises(ValueError, match="'n_neighbors' parameter must be a positive int"):
        knn_kernel_graph(np.zeros((5, 2)), 0)
    with pytest.raises(ValueError, match="'Z' parameter holds NaN"):
        knn_kernel_graph(np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match=r"'Z' parameter must be a non-empty numeric array"):
        knn_kernel_graph(np.zeros(5))
    with pytest.raises(ValueError, match=r"'graph' parameter must be square"):
        greedy_kernel_herding(sp.csr_matrix((5, 4)), 0, 1)
    with pytest.raises(ValueError, match="'graph' parameter must hold finite kernel values"):
        greedy_kernel_herding(-np.eye(5), 0, 1)
    with pytest.raises(TypeError, match="'graph' parameter must be a scipy sparse matrix"):
        greedy_kernel_herding([[1.0]], 0, 1)
    with pytest.raises(ValueError, match=r"'n_labelled' parameter must be an int in \[0, 4\]"):
        greedy_kernel_herding(graph, 5, 1)
    with pytest.raises(ValueError, match=r"'n_instances' parameter \(3\) is larger than the pool"):
        greedy_kernel_herding(graph, 3, 3)
    with pytest.raises(ValueError, match=r"'weights' parameter must have shape \(5,\)"):
        greedy_kernel_herding(graph, 0, 1, weights=np.ones(4))
    with pytest.raises(ValueError, match="'weights' parameter must hold finite values >= 0"):
        greedy_kernel_herding(graph, 0, 1, weights=-np.ones(5))


def test_exact_herding_agrees_with_scikit_activeml_max_herding(digits):
    pool_strategies = pytest.importorskip("skactiveml.pool")
    X, y = digits
    X = X[:500].astype(np.float64)
    y_partial = np.full(500, np.nan)
    y_partial[:10] = y[:10]  # digits 0-9: one labelled point per class
    expected = pool_strategies.MaxHerding(random_state=0).query(X, y_partial, batch_size=10)
    model = LogisticRegression(max_iter=500).fit(X[:10], y[:10])
    width = np.sqrt(X.shape[1] / 2.0)  # its default kernel: rbf with gamma = 1 / n_features
    indices, _ = herding_sampling(model, X[10:], 10, X_labelled=X[:10], y_labelled=y[:10],
                                  n_neighbors=ALL, bandwidth=width)
    np.testing.assert_array_equal(10 + indices, expected)

    unlabelled = pool_strategies.MaxHerding(random_state=0).query(X, np.full(500, np.nan),
                                                                   batch_size=10)
    indices, _ = greedy_kernel_herding(knn_kernel_graph(unit_rows(X), ALL, width), 0, 10)
    np.testing.assert_array_equal(indices, unlabelled)


def test_repeated_graph_entries_are_summed_once():
    K = np.random.default_rng(7).uniform(size=(6, 6)) * 0.4 + np.eye(6) * 0.6
    halves = np.hstack([K / 2, K / 2]).ravel()  # row x: every k(x, c) / 2, twice
    repeated = sp.csr_matrix((halves, np.tile(np.arange(6), 12), np.arange(0, 73, 12)),
                             shape=K.shape)
    assert not repeated.has_canonical_format
    picks, gains = greedy_kernel_herding(repeated, 1, 3)
    expected_picks, expected_gains = naive_herding(K, 1, 3)
    np.testing.assert_array_equal(picks, expected_picks)
    np.testing.assert_allclose(gains, expected_gains, rtol=1e-12)


def test_small_blocks_give_the_same_graph_and_picks(monkeypatch):
    from modal_ibal import coverage, neighbours

    Z = np.random.default_rng(8).normal(size=(70, 4))
    graph = knn_kernel_graph(Z, 9)
    picks = greedy_kernel_herding(graph, 5, 15)
    monkeypatch.setattr(neighbours, "_SEARCH_ELEMENTS", 50)  # one row per search block
    monkeypatch.setattr(coverage, "_GAIN_ELEMENTS", 7)  # a few columns per block of gains
    blocked = knn_kernel_graph(Z, 9)
    np.testing.assert_array_equal(blocked.toarray(), graph.toarray())
    np.testing.assert_array_equal(greedy_kernel_herding(blocked, 5, 15)[0], picks[0])
    np.testing.assert_allclose(greedy_kernel_herding(blocked, 5, 15)[1], picks[1], rtol=1e-12)


def test_default_sampling_is_margin_weighted_herding(learner, split):
    from modal_ibal import default_sampling

    _, _, X_pool = split
    expected = herding_sampling(learner, X_pool, 6, weights="margin")
    got = default_sampling(learner, X_pool, 6)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1])


def test_symmetric_graph_read_by_rows_gives_the_same_picks():
    Z = np.random.default_rng(9).normal(size=(120, 5))
    graph = knn_kernel_graph(Z, 8)
    weights = np.random.default_rng(1).uniform(size=120)
    expected = greedy_kernel_herding(graph, 10, 12, weights=weights)
    got = greedy_kernel_herding(graph, 10, 12, weights=weights, symmetric=True)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)
    with pytest.raises(TypeError, match="'symmetric'"):
        greedy_kernel_herding(graph, 10, 12, symmetric="yes")


def test_partitioned_search_on_a_small_pool_is_the_exact_one(learner, split):
    _, _, X_pool = split
    exact = herding_sampling(learner, X_pool, 5, algorithm="brute")
    partitioned = herding_sampling(learner, X_pool, 5, algorithm="partitioned")
    np.testing.assert_array_equal(partitioned[0], exact[0])  # 512 candidates cover the pool


def test_herding_names_an_unknown_algorithm(learner, split):
    _, _, X_pool = split
    with pytest.raises(ValueError, match="'algorithm' parameter must be one of"):
        herding_sampling(learner, X_pool, 5, algorithm="ball_tree")
