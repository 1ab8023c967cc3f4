"""Kernel herding on a Dask pool: the in-memory picks, the neighbour graph built on the workers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import make_net, net_learner, two_worker_client
from modAL.models import ActiveLearner
from sklearn.linear_model import LogisticRegression

from modal_ibal import default_sampling, herding_sampling
from modal_ibal.coverage import _dask_codes as dask_clusters
from modal_ibal.coverage._concave import COVERAGE_CLUSTER_SAMPLES, coverage_clusters
from modal_ibal.search import _dask_neighbours as dask_neighbours
from modal_ibal.search import _dask_recall as dask_recall
from modal_ibal.search import _knn as knn
from modal_ibal.search._knn_exact import exact_neighbours
from modal_ibal.search._knn_partitioned import partitioned_neighbours
from modal_ibal.strategies import _dask_herding as dask_herding

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with two_worker_client() as client:
        yield client


@pytest.fixture(scope="module")
def digits_pool(digits):
    """40 labelled digits, the other 1,757 as the pool, and a skorch learner on the 40."""
    X, y = digits
    return X[:40], y[:40], X[40:], net_learner(X[:40], y[:40])


def _points(n, n_dims, dtype, seed=0):
    """Gaussian points with 500 exact duplicates (ties everywhere in the search)."""
    Z = np.random.RandomState(seed).randn(n, n_dims).astype(dtype)
    Z[:500] = Z[500:1000]
    return Z


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_distributed_search_finds_the_in_memory_partitioned_neighbours(client, dtype):
    Z = _points(12_000, 8, dtype)
    expected = partitioned_neighbours(Z, 20)
    got = dask_neighbours.dask_partitioned_neighbours(da.from_array(Z, chunks=(1_700, -1)), 20)
    np.testing.assert_array_equal(got[0], expected[0])
    # row norms and products may differ in the last bits with the block they sit in
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("chunks", [(40, *[100] * 8, 60), (7,) * 128 + (4,)])
def test_chunks_smaller_than_a_coarse_cell_give_the_same_neighbours(client, chunks):
    """Small chunks: the shuffle would cut columns (a graph Dask then fails to run)."""
    Z = np.random.default_rng(0).normal(size=(900, 5)).astype(np.float32)
    expected = partitioned_neighbours(Z, 20)
    got = dask_neighbours.dask_partitioned_neighbours(da.from_array(Z, chunks=(chunks, -1)), 20)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-5, atol=1e-6)


def test_distributed_search_with_probe_lists_from_nearby_coarse_cells(client, monkeypatch):
    """The probe lists of large pools (chosen among nearby coarse cells): still the same."""
    from modal_ibal.search import _probes as probes

    monkeypatch.setattr(probes, "_ALL_PAIRS_MAX_CELLS", 0)
    monkeypatch.setattr(probes, "_NEAR_COARSE", 3)
    Z = _points(12_000, 8, np.float32, seed=2)
    expected = partitioned_neighbours(Z, 20)
    got = dask_neighbours.dask_partitioned_neighbours(da.from_array(Z, chunks=(2_500, -1)), 20)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-5, atol=1e-6)


def test_distributed_search_on_local_threads_too():
    Z = _points(3_000, 4, np.float32, seed=1)
    expected = partitioned_neighbours(Z, 7, cell_size=16, n_candidates=64)
    got = dask_neighbours.dask_partitioned_neighbours(da.from_array(Z, chunks=(500, -1)), 7,
                                                      cell_size=16, n_candidates=64)
    np.testing.assert_array_equal(got[0], expected[0])


QUERIES = {
    "default": lambda c, X: default_sampling(c, X, 20),
    "default-seeded": lambda c, X: default_sampling(c, X, 20, random_state=7),
    "herding-unit-concave": lambda c, X: herding_sampling(c, X, 20, weights="margin",
                                                          concave_clusters=True,
                                                          algorithm="partitioned"),
    "herding-euclidean": lambda c, X: herding_sampling(c, X, 20, normalize_rows=False,
                                                       algorithm="partitioned"),
    "balanced-margin": lambda c, X: herding_sampling(c, X, 20, weights="balanced-margin",
                                                     algorithm="partitioned"),
    "balanced-margin-exact": lambda c, X: herding_sampling(c, X, 20, weights="balanced-margin",
                                                           concave_clusters=True),
    "default-features": lambda c, X: default_sampling(c, X, 20, representation="features"),
    "herding-unweighted": lambda c, X: herding_sampling(c, X, 20),
    "herding-calibrated": lambda c, X: herding_sampling(
        c, X, 20, weights="margin", temperature="calibrated", bandwidth="labelled",
        random_state=0),
    "default-partitioned": lambda c, X: herding_sampling(c, X, 20, weights="margin",
                                                         algorithm="partitioned"),
    "herding-given-weights": lambda c, X: herding_sampling(
        c, X, 20, weights=np.linspace(0.0, 1.0, X.shape[0]), algorithm="partitioned"),
}


@pytest.mark.parametrize("name", QUERIES)
def test_same_picks_as_in_memory(client, digits_pool, name):
    _, _, X_pool, learner = digits_pool
    expected = QUERIES[name](learner, X_pool)
    got = QUERIES[name](learner, da.from_array(X_pool, chunks=(333, -1)))
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12, atol=0)


def test_cold_start_on_a_dask_pool_through_modal(client, digits_pool):
    """An unfitted net and no labels: modAL's query on a Dask pool gives the in-memory batch."""
    _, _, X_pool, _ = digits_pool
    learner = ActiveLearner(make_net(max_epochs=2), query_strategy=default_sampling)
    expected, _ = default_sampling(learner, X_pool, 10)
    indices, rows = learner.query(da.from_array(X_pool, chunks=(400, -1)), n_instances=10)
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(rows.compute(), X_pool[expected])


def test_above_the_exact_limit_the_graph_is_built_on_the_workers(client, monkeypatch):
    """10,500 points: the partitioned path, the in-memory picks, and no pool on the client.

    Clustered points, on which the partitioned search meets its recall target both in
    memory and on the workers (structureless ones would be searched exactly in memory).
    """
    rng = np.random.RandomState(3)
    centres = 3.0 * rng.randn(20, 6)
    X = (centres[rng.randint(0, 20, 10_500)] + 0.3 * rng.randn(10_500, 6)).astype(np.float32)
    X_labelled, y_labelled = X[:30], (X[:30, 0] > 0).astype(int)
    model = LogisticRegression().fit(X_labelled, y_labelled)
    pool = X[30:]
    expected = default_sampling(model, pool, 15, X_labelled=X_labelled, y_labelled=y_labelled)
    brought = []

    def recording(collection):
        result = original(collection)
        for part in result if isinstance(result, list) else [result]:
            if isinstance(part, np.ndarray) and part.ndim == 2 and part.shape[1] == 6:
                brought.append(part.shape[0])  # rows of codes that reached this process
        return result

    original = dask_neighbours.computed
    monkeypatch.setattr(dask_neighbours, "computed", recording)
    monkeypatch.setattr(dask_herding, "computed", recording)
    monkeypatch.setattr(dask_clusters, "computed", recording)
    monkeypatch.setattr(dask_recall, "computed", recording)
    got = default_sampling(model, da.from_array(pool, chunks=(2_000, -1)), 15,
                           X_labelled=X_labelled, y_labelled=y_labelled)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12, atol=0)
    # only samples come here: one row (the codes' width), the coarse cells' (32 per cell),
    # the coverage clusters' k-means sample, and the recall check's 256 rows with their
    # 20 neighbours found (distinct rows among them)
    recall_rows = set(brought) - {1, 32 * 13, COVERAGE_CLUSTER_SAMPLES}
    assert {1, 32 * 13, COVERAGE_CLUSTER_SAMPLES} <= set(brought)
    assert len(recall_rows) == 1 and 256 < recall_rows.pop() <= 256 * 21


def test_bad_arguments_fail_before_the_pool_is_read(digits_pool, monkeypatch):
    _, _, X_pool, learner = digits_pool
    pool = da.from_array(X_pool, chunks=(500, -1))
    read = []
    monkeypatch.setattr(type(pool), "__array__", lambda self, *a, **k: read.append(1))
    monkeypatch.setattr(type(pool), "compute", lambda self, *a, **k: read.append(1))
    with pytest.raises(ValueError, match="'weights' parameter must have shape"):
        herding_sampling(learner, pool, 5, weights=np.ones(3))
    with pytest.raises(ValueError, match="'bandwidth' parameter must be None, 'labelled'"):
        herding_sampling(learner, pool, 5, bandwidth="wide")
    with pytest.raises(ValueError, match="'algorithm' parameter"):
        herding_sampling(learner, pool, 5, algorithm="kd")
    with pytest.raises(ValueError, match="'representation' parameter must be 'inputs'"):
        herding_sampling(learner, pool, 5, representation="pixels")
    with pytest.raises(ValueError, match="'y_labelled' parameter holds labels \\['99'\\]"):
        default_sampling(learner.estimator, pool, 5, X_labelled=X_pool[:3],
                         y_labelled=np.array([0, 1, 99]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cold = ActiveLearner(make_net(max_epochs=1), query_strategy=default_sampling)
    with pytest.raises(ValueError, match="representation='features' needs a fitted model"):
        default_sampling(cold, pool, 5, representation="features")
    assert not read, "the pool must not be read before the error"


def test_an_empty_chunk_and_an_embedding_give_the_in_memory_picks(client, digits_pool):
    from sklearn.decomposition import PCA

    _, _, X_pool, learner = digits_pool
    pca = PCA(8, random_state=0).fit(X_pool)
    expected = default_sampling(learner, X_pool, 12, representation=pca)
    pool = da.from_array(X_pool, chunks=((0, 700, X_pool.shape[0] - 700), (64,)))
    got = default_sampling(learner, pool, 12, representation=pca)
    np.testing.assert_array_equal(got[0], expected[0])


def test_distributed_search_checks_its_points():
    search = dask_neighbours.dask_partitioned_neighbours
    with pytest.raises(TypeError, match=r"'Z' parameter must be a dask\.array\.Array"):
        search(np.zeros((10, 2)), 3)
    with pytest.raises(ValueError, match="'Z' parameter must be a 2-D array of numbers"):
        search(da.zeros(10, chunks=5), 3)
    Z = _points(3_000, 4, np.float32, seed=4)
    Z[2_100] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite values in rows 2000 to 2999"):
        search(da.from_array(Z, chunks=(1_000, -1)), 5, cell_size=16, n_candidates=64)
    integers = np.random.RandomState(5).randint(0, 50, size=(3_000, 3))
    got = search(da.from_array(integers, chunks=(700, -1)), 5, cell_size=16, n_candidates=64)
    expected = partitioned_neighbours(integers.astype(np.float64), 5, cell_size=16,
                                      n_candidates=64)
    np.testing.assert_array_equal(got[0], expected[0])


def _noted_chunks(X: np.ndarray, rows: int, computed: list):
    """``X`` as a Dask array whose chunks append their length to ``computed`` when computed."""
    def note(block):
        computed.append(block.shape[0])
        return block

    return da.from_array(X, chunks=(rows, -1)).map_blocks(
        note, dtype=X.dtype, meta=np.empty((0, 0), dtype=X.dtype))  # no call to infer it


@pytest.fixture
def gather_limit_500(monkeypatch):
    """Exact searches up to 500 points, in memory and from a Dask array: small tests above it."""
    monkeypatch.setattr(knn, "EXACT_SEARCH_MAX_POINTS", 500)
    monkeypatch.setattr(dask_neighbours, "GATHER_MAX_POINTS", 500)


@pytest.mark.parametrize("options, refused", [
    ({"n_neighbors": 1_000}, "'n_neighbors' parameter \\(1000\\) is at least the number of "
                             "points, 1,000"),
    ({"n_neighbors": 10**6, "algorithm": "partitioned"}, "'n_neighbors' parameter"),
    ({"algorithm": "brute"}, "'algorithm' parameter \\('brute'\\) searches the neighbours "
                             "exactly.* up to 500 labelled \\+ pool points. Got 1,000"),
], ids=["n_neighbors-auto", "n_neighbors-partitioned", "brute"])
def test_an_exact_search_above_the_limit_is_refused_before_any_chunk_is_computed(
        gather_limit_500, options, refused):
    """Exact MaxHerding above the limit would bring every code here and build M x M arrays."""
    rng = np.random.RandomState(6)
    X = rng.randn(1_000, 4).astype(np.float32)
    X_labelled, y_labelled = X[:10], (X[:10, 0] > 0).astype(int)
    model = LogisticRegression().fit(X_labelled, y_labelled)
    computed = []
    pool = _noted_chunks(X[10:], 200, computed)
    with dask.config.set(scheduler="synchronous"), pytest.raises(ValueError, match=refused) \
            as error:
        herding_sampling(model, pool, 5, X_labelled=X_labelled, y_labelled=y_labelled,
                         **options)
    assert "to search on the workers" in str(error.value)
    assert not computed, "the pool must not be read before the refusal"


def test_the_search_refuses_to_gather_more_points_than_the_limit(gather_limit_500):
    computed = []
    Z = _noted_chunks(_points(1_000, 4, np.float64, seed=7), 250, computed)
    search = dask_neighbours.dask_partitioned_neighbours
    with pytest.raises(ValueError, match=r"'n_neighbors' parameter \(1000\) is at least the "
                                         r"number of points, 1,000: .* 1,000 x 1,000 arrays .* "
                                         r"allowed up to 500 points\. Pass a smaller n_neighbors"):
        search(Z, 1_000)
    with pytest.raises(ValueError, match=r"'n_candidates' parameter \(5000\) .* smaller "
                                         r"n_candidates \(the default is 512\)"):
        search(Z, 5, n_candidates=5_000)
    with pytest.raises(ValueError, match=r"'cell_size' parameter \(1000\) puts every point in "
                                         r"one cell"):
        search(Z, 5, cell_size=1_000)
    assert not computed, "the points must not be read before the refusal"


def test_exact_max_herding_up_to_the_limit_gives_the_in_memory_picks(digits_pool):
    """n_neighbors at least the number of points: gathered, exact, the same picks."""
    X_labelled, y_labelled, X_pool, _ = digits_pool
    model = LogisticRegression(max_iter=200).fit(X_labelled, y_labelled)
    pool = X_pool[:400]
    for algorithm in ("auto", "partitioned"):
        expected = herding_sampling(model, pool, 8, n_neighbors=10_000, algorithm=algorithm,
                                    X_labelled=X_labelled, y_labelled=y_labelled)
        with dask.config.set(scheduler="synchronous"):
            got = herding_sampling(model, da.from_array(pool, chunks=(150, -1)), 8,
                                   n_neighbors=10_000, algorithm=algorithm,
                                   X_labelled=X_labelled, y_labelled=y_labelled)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-12, atol=0)
    Z = _points(1_000, 4, np.float64, seed=7)
    got = dask_neighbours.dask_partitioned_neighbours(da.from_array(Z, chunks=(250, -1)), 1_000)
    np.testing.assert_array_equal(got[0], exact_neighbours(Z, 1_000)[0])


@pytest.mark.parametrize("n_labelled", [0, 25])
def test_coverage_clusters_of_a_large_pool_are_the_in_memory_ones(client, n_labelled):
    """Above the sample size the k-means is fitted here on the same rows, assigned on the workers."""
    Z = np.random.RandomState(5).randn(3_000, 6).astype(np.float32)
    expected = coverage_clusters(Z, n_labelled, 10, np.random.RandomState(0),
                                 max_cluster_samples=700)
    got = dask_clusters.dask_coverage_clusters(
        da.from_array(Z, chunks=(450, -1)), n_labelled, 10, np.random.RandomState(0),
        max_cluster_samples=700)
    np.testing.assert_array_equal(got, expected)
    assert np.unique(expected).size == min(n_labelled + 10, 50)
