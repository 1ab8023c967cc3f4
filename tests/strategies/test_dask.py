"""Dask pools on a real LocalCluster: the same picks as in memory, failures that name their cause."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import TinyCNN, assert_same_query, make_net, two_worker_client
from modAL.models import ActiveLearner
from sklearn.linear_model import LogisticRegression

from modal_ibal import (
    STRATEGIES,
    entropy_distance_sampling,
    entropy_sampling,
    ibal_distance_sampling,
    ibal_sampling,
    margin_sampling,
)
from modal_ibal._utils.validation import check_dask_pool, is_dask_array
from modal_ibal.scoring._selection import select_highest, select_lowest
from modal_ibal.strategies._contract import DASK_POOL_STRATEGIES
from modal_ibal.strategies._dask_selection import dask_select_highest, dask_select_lowest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

N_DISTINCT, N_POOL, CHUNK, BATCH = 40, 700, 97, 25
TIMEOUT = 120  # seconds: a query that takes longer than this has hung

LABELLED_STRATEGIES = {
    "ibal": ibal_sampling,
    "ibal-finetuned": lambda *a, **k: ibal_sampling(*a, reading="finetuned", **k),
    "ibal-d": ibal_distance_sampling,
    "entropy-d": entropy_distance_sampling,
}
ROWWISE_STRATEGIES = {"entropy": entropy_sampling, "margin": margin_sampling}


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread each, the default scheduler while the module runs."""
    with two_worker_client() as client:
        yield client


@pytest.fixture(scope="module")
def data():
    """A pool of 40 distinct rows, each repeated ~17 times (ties), and a labelled set."""
    rng = np.random.default_rng(0)
    distinct = rng.random((N_DISTINCT, 16), dtype=np.float32)
    group = rng.integers(0, N_DISTINCT, N_POOL)
    X_labelled = rng.random((30, 16), dtype=np.float32)
    y_labelled = np.arange(30) % 4
    return distinct[group], group, X_labelled, y_labelled


@pytest.fixture(scope="module")
def estimators(data):
    _, _, X_labelled, y_labelled = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = make_net(n_classes=4, max_epochs=5, module__n_features=16,
                       module__n_classes=4).fit(X_labelled, y_labelled)
    return {"skorch": net, "logistic": LogisticRegression(max_iter=500).fit(X_labelled,
                                                                              y_labelled)}


def _query(strategy, estimator, X_pool, data, n_instances=BATCH):
    _, _, X_labelled, y_labelled = data
    if strategy in ROWWISE_STRATEGIES.values():
        return strategy(estimator, X_pool, n_instances)
    return strategy(estimator, X_pool, n_instances, X_labelled=X_labelled, y_labelled=y_labelled)


@pytest.mark.parametrize("estimator_name", ["skorch", "logistic"])
@pytest.mark.parametrize("strategy_name", [*LABELLED_STRATEGIES, *ROWWISE_STRATEGIES])
def test_same_picks_as_in_memory_ties_included(client, data, estimators, estimator_name,
                                               strategy_name):
    strategy = {**LABELLED_STRATEGIES, **ROWWISE_STRATEGIES}[strategy_name]
    X, group, _, _ = data
    estimator = estimators[estimator_name]
    expected = _query(strategy, estimator, X, data)
    indices, scores = _query(strategy, estimator, da.from_array(X, chunks=(CHUNK, -1)), data)
    assert_same_query((indices, scores), expected)
    last = np.flatnonzero(group == group[indices[-1]])  # the tie group at the batch's edge
    chosen = np.intersect1d(last, indices)
    assert chosen.size < last.size  # the batch ends inside a group of equal scores ...
    np.testing.assert_array_equal(chosen, last[: chosen.size])  # ... and took its lowest indices


@pytest.mark.parametrize("estimator_name", ["skorch", "logistic"])
@pytest.mark.parametrize("strategy_name", [*LABELLED_STRATEGIES, *ROWWISE_STRATEGIES])
def test_other_chunkings_and_row_orders_give_the_same_answer(client, data, estimators,
                                                             estimator_name, strategy_name):
    """Order dependence shows on any CPU: shuffle the rows, cut the chunks otherwise.

    Identical rows must score alike wherever they sit, so the batch holds the same
    rows (as groups of copies) in the same order, and each group's copies are the
    lowest indices of the new order.
    """
    strategy = {**LABELLED_STRATEGIES, **ROWWISE_STRATEGIES}[strategy_name]
    X, group, _, _ = data
    estimator = estimators[estimator_name]
    expected = _query(strategy, estimator, X, data)
    for seed, chunks in ((1, (N_POOL,)), (2, (1, 350, 349)), (3, (13,) * 53 + (11,))):
        order = np.random.default_rng(seed).permutation(N_POOL)
        for pool in (X[order], da.from_array(X[order], chunks=(chunks, -1))):
            indices, scores = _query(strategy, estimator, pool, data)
            np.testing.assert_array_equal(group[order][indices], group[expected[0]])
            np.testing.assert_allclose(scores, expected[1], rtol=1e-9, atol=1e-12)
            for copies in np.unique(group[order][indices]):
                members = np.flatnonzero(group[order] == copies)
                chosen = np.intersect1d(members, indices)
                np.testing.assert_array_equal(chosen, members[:chosen.size])


def test_image_pool_same_picks(client):
    rng = np.random.default_rng(1)
    X = rng.random((300, 1, 8, 8), dtype=np.float32)
    y = np.arange(300) % 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = make_net(TinyCNN, max_epochs=2).fit(X[:50], y[:50])
    expected = ibal_distance_sampling(net, X, 7, X_labelled=X[:50], y_labelled=y[:50])
    got = ibal_distance_sampling(net, da.from_array(X, chunks=(64, 1, 8, 8)), 7,
                                 X_labelled=X[:50], y_labelled=y[:50])
    assert_same_query(got, expected)


@pytest.mark.parametrize("strategy_name", ["ibal", "ibal-d", "entropy-d", "entropy", "margin"])
def test_a_pool_with_an_empty_chunk_gives_the_in_memory_picks(client, data, estimators,
                                                              strategy_name):
    """A boolean mask, then compute_chunk_sizes() (as the unknown-chunks error advises)."""
    strategy = {**LABELLED_STRATEGIES, **ROWWISE_STRATEGIES}[strategy_name]
    X = data[0]
    keep = np.arange(N_POOL) // CHUNK != 2  # the whole third chunk masked out
    pool = da.from_array(X, chunks=(CHUNK, -1))[da.from_array(keep, chunks=CHUNK)]
    pool.compute_chunk_sizes()
    assert pool.chunks[0][2] == 0
    expected = _query(strategy, estimators["skorch"], X[keep], data)
    assert_same_query(_query(strategy, estimators["skorch"], pool, data), expected)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(not _cuda_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("strategy_name", ["ibal", "ibal-d", "entropy"])
def test_cuda_net_scores_a_dask_pool_on_the_workers_gpu(client, data, strategy_name):
    """A net on CUDA: each worker runs the forward pass on the GPU, with the in-memory scores."""
    strategy = {**LABELLED_STRATEGIES, **ROWWISE_STRATEGIES}[strategy_name]
    X, _, X_labelled, y_labelled = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = make_net(n_classes=4, max_epochs=5, module__n_features=16, module__n_classes=4,
                       device="cuda").fit(X_labelled, y_labelled)
    expected = _query(strategy, net, X, data)
    _, scores = _query(strategy, net, da.from_array(X, chunks=(CHUNK, -1)), data)
    # a GPU may round batches of other shapes differently: the same scores within
    # float32 rounding as the best in memory; the workers ran torch on CUDA
    np.testing.assert_allclose(np.sort(scores), np.sort(expected[1]), rtol=1e-4, atol=1e-6)
    assert client.run(lambda: __import__("torch").cuda.is_initialized()) == dict.fromkeys(
        client.scheduler_info()["workers"], True)


@pytest.mark.parametrize("strategy_name", ["entropy-d", "entropy"])
def test_threads_of_one_process_share_the_model_safely(data, estimators, strategy_name):
    """Local threads score chunks at once: forward hooks and train/eval flags must not mix."""
    strategy = {**LABELLED_STRATEGIES, **ROWWISE_STRATEGIES}[strategy_name]
    X = data[0]
    expected = _query(strategy, estimators["skorch"], X, data)
    with dask.config.set(scheduler="threads", num_workers=4):
        got = _query(strategy, estimators["skorch"], da.from_array(X, chunks=(CHUNK, -1)), data)
    np.testing.assert_array_equal(got[0], expected[0])


@pytest.mark.parametrize("chunks", [1, 7, 64, 1000])
def test_tree_reduction_matches_select_on_ties(chunks):
    """The reduction alone, on the local scheduler: scores with many ties, any chunking."""
    scores = np.random.default_rng(2).integers(0, 5, 200).astype(np.float64)
    lazy = da.from_array(scores, chunks=chunks)
    with dask.config.set(scheduler="sync"):
        for dask_select, select in ((dask_select_lowest, select_lowest),
                                    (dask_select_highest, select_highest)):
            for n_instances in (1, 13, 200):
                got, expected = dask_select(lazy, n_instances), select(scores, n_instances)
                np.testing.assert_array_equal(got[0], expected[0])
                np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("strategy_name", ["ibal-d", "entropy"])
def test_nan_in_one_chunk_names_the_rows(client, data, estimators, strategy_name):
    strategy = {**LABELLED_STRATEGIES, **ROWWISE_STRATEGIES}[strategy_name]
    X = data[0].copy()
    X[250, 3] = np.nan
    with pytest.raises(ValueError, match=r"The 'X_pool' parameter holds NaN or infinite values "
                                         r"in rows 194 to 290\."):
        _query(strategy, estimators["skorch"], da.from_array(X, chunks=(CHUNK, -1)), data)


def test_pool_chunked_along_columns_is_refused(data, estimators):
    X = da.from_array(data[0], chunks=(CHUNK, 8))
    with pytest.raises(ValueError, match=r"must be chunked along rows only, so that every chunk "
                                         r"holds whole samples\. It has 2 chunks along axis 1; "
                                         r"rechunk it first, e\.g\. X_pool\.rechunk"):
        _query(ibal_sampling, estimators["skorch"], X, data)


def test_unknown_chunk_sizes_and_bad_pools_are_refused(data):
    X = da.from_array(data[0], chunks=(CHUNK, -1))
    with pytest.raises(ValueError, match=r"unknown row chunk sizes.*compute_chunk_sizes\(\)"):
        check_dask_pool(X[X[:, 0] > 0.5], 1)
    with pytest.raises(ValueError, match=r"must have one row per sample .* Got shape \(700,\)"):
        check_dask_pool(X[:, 0], 1)
    with pytest.raises(TypeError, match=r"must hold numbers\. Got a Dask array of dtype bool"):
        check_dask_pool(X > 0.5, 1)
    with pytest.raises(ValueError, match=r"'n_instances' parameter \(701\) is larger than the "
                                         r"pool, which holds 700 samples"):
        check_dask_pool(X, 701)
    with pytest.raises(TypeError, match=r"'X_pool' parameter must be a dask\.array\.Array\. "
                                        r"Got ndarray instead"):
        check_dask_pool(data[0], 1)
    with pytest.raises(TypeError, match=r"'scores' parameter must be a 1-D dask\.array\.Array\. "
                                        r"Got Array of shape \(700, 16\) instead"):
        dask_select_lowest(X, 1)


def test_modal_loop_on_a_dask_pool(client, data):
    """ActiveLearner.query returns lazy rows; computed, they teach the learner as in memory."""
    X, _, X_labelled, y_labelled = data
    oracle = (X[:, 0] * 4).astype(int) % 4

    def run(X_pool):
        learner = ActiveLearner(LogisticRegression(max_iter=500),
                                query_strategy=ibal_distance_sampling,
                                X_training=X_labelled, y_training=y_labelled)
        positions = np.arange(N_POOL)
        picked = []
        for _ in range(3):
            indices, rows = learner.query(X_pool, n_instances=5)
            if is_dask_array(X_pool):
                assert is_dask_array(rows)
                rows = rows.compute()
            np.testing.assert_array_equal(rows, X[positions[indices]])
            learner.teach(rows, oracle[positions[indices]])
            picked.extend(positions[indices])
            keep = np.setdiff1d(np.arange(len(positions)), indices)
            X_pool, positions = X_pool[keep], positions[keep]
        assert isinstance(learner.X_training, np.ndarray)
        return picked

    assert run(da.from_array(X, chunks=(CHUNK, -1))) == run(X)


class _SlowCodes:
    """An embedding that takes a while per chunk on a worker, and marks the worker it runs in."""

    def __init__(self, marker: Path):
        self.marker, self.caller = marker, os.getpid()

    def __call__(self, X):
        if os.getpid() != self.caller:
            self.marker.write_text(str(os.getpid()))
            time.sleep(0.2)
        return np.asarray(X, dtype=np.float64)


def test_worker_killed_mid_query_completes(client, data, estimators, tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    X, _, X_labelled, y_labelled = data
    net = estimators["skorch"]
    marker = tmp_path / "worker-pid"
    embedding = _SlowCodes(marker)
    expected = ibal_distance_sampling(net, X, BATCH, embedding=embedding,
                                      X_labelled=X_labelled, y_labelled=y_labelled)
    pool = da.from_array(X, chunks=(35, -1))  # 20 chunks of 0.2 s
    with ThreadPoolExecutor(1) as executor:
        query = executor.submit(ibal_distance_sampling, net, pool, BATCH, embedding=embedding,
                                X_labelled=X_labelled, y_labelled=y_labelled)
        deadline = time.monotonic() + TIMEOUT
        while not marker.exists() or not marker.read_text():
            assert time.monotonic() < deadline, "no chunk reached a worker"
            time.sleep(0.05)
        pid = int(marker.read_text())
        assert pid in client.run(os.getpid).values()
        os.kill(pid, signal.SIGKILL)
        indices, scores = query.result(timeout=TIMEOUT)
    assert_same_query((indices, scores), expected)
    client.wait_for_workers(2, timeout=TIMEOUT)


def test_package_works_without_dask():
    script = (
        "import sys\n"
        "sys.modules['dask'] = sys.modules['distributed'] = None\n"
        "import numpy as np\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "import modal_ibal\n"
        "from modal_ibal.strategies._dask_queries import dask_query\n"
        "X = np.random.default_rng(0).random((60, 3))\n"
        "y = np.arange(60) % 2\n"
        "model = LogisticRegression().fit(X[:20], y[:20])\n"
        "print(modal_ibal.ibal_sampling(model, X[20:], 3, X_labelled=X[:20],"
        " y_labelled=y[:20])[0])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=TIMEOUT, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("[")


@pytest.mark.parametrize("strategy", [ibal_distance_sampling, entropy_distance_sampling])
def test_the_labelled_cells_are_built_once_per_query(strategy, monkeypatch):
    """Three pool chunks, each large enough for the cell-by-cell search: one build, not three."""
    from modal_ibal.search import _cells as labelled_cells

    rng = np.random.default_rng(1)
    X_labelled = rng.standard_normal((2_100, 4)).astype(np.float32)
    y_labelled = (X_labelled[:, 0] > 0).astype(int)
    X_pool = rng.standard_normal((3 * 16_384, 4)).astype(np.float32)
    model = LogisticRegression().fit(X_labelled, y_labelled)
    embedding = (lambda X: np.asarray(X) * 2.0) if strategy is entropy_distance_sampling else None
    expected = strategy(model, X_pool, 7, X_labelled=X_labelled, y_labelled=y_labelled,
                        embedding=embedding)
    builds = []
    original = labelled_cells.LabelledCells.__init__

    def counted(self, Z_labelled):
        builds.append(len(Z_labelled))
        original(self, Z_labelled)

    monkeypatch.setattr(labelled_cells.LabelledCells, "__init__", counted)
    with dask.config.set(scheduler="synchronous"):
        got = strategy(model, da.from_array(X_pool, chunks=(16_384, -1)), 7,
                       X_labelled=X_labelled, y_labelled=y_labelled, embedding=embedding)
    assert builds == [2_100]
    np.testing.assert_array_equal(got[0], expected[0])


def _every_registered_query(name, X_pool, data, estimators):
    _, _, X_labelled, y_labelled = data
    return STRATEGIES[name].resolve()(estimators["logistic"], X_pool, 5, random_state=0,
                                      X_labelled=X_labelled, y_labelled=y_labelled)


@pytest.mark.parametrize("name", sorted(name for name in STRATEGIES
                                         if not name.endswith("-modal")))  # modAL's own
def test_every_registered_strategy_takes_a_dask_pool_or_refuses_it_before_computing(
        name, data, estimators, monkeypatch):
    """Same picks as in memory, or a TypeError naming the Dask strategies; nothing computed."""
    X = data[0]
    pool = da.from_array(X, chunks=(CHUNK, -1))
    function = STRATEGIES[name].function.__name__
    if function in DASK_POOL_STRATEGIES:
        expected = _every_registered_query(name, X, data, estimators)
        with dask.config.set(scheduler="synchronous"):
            got = _every_registered_query(name, pool, data, estimators)
        np.testing.assert_array_equal(got[0], expected[0])
        return
    computed = []
    monkeypatch.setattr(type(pool), "__array__", lambda self, *a, **k: computed.append(1))
    monkeypatch.setattr(type(pool), "compute", lambda self, *a, **k: computed.append(1))
    with pytest.raises(TypeError, match=rf"{function} reads the whole pool into memory and "
                                        r"does not take a Dask array.*ibal_sampling"):
        _every_registered_query(name, pool, data, estimators)
    assert not computed, "the pool must not be read before the refusal"


def test_random_sampling_never_reads_a_dask_pool(monkeypatch):
    from modal_ibal import random_sampling

    pool = da.zeros((10_000, 8), chunks=(1_000, 8))
    monkeypatch.setattr(type(pool), "compute", lambda self, *a, **k: pytest.fail("computed"))
    monkeypatch.setattr(type(pool), "__array__", lambda self, *a, **k: pytest.fail("read"))
    picks, _ = random_sampling(None, pool, 4, random_state=3)
    expected, _ = random_sampling(None, np.zeros((10_000, 8)), 4, random_state=3)
    np.testing.assert_array_equal(picks, expected)


_MAIN_GUARDED_MODULE = '''
import logging, time
import numpy as np

if __name__ == "__main__":
    import torch, dask.array as da
    from distributed import Client, LocalCluster
    from skorch import NeuralNetClassifier
    from modal_ibal import ibal_sampling

    class MLP(torch.nn.Module):  # the workers re-import this file as __mp_main__: no MLP there
        def __init__(self):
            super().__init__()
            self.hidden, self.out = torch.nn.Linear(8, 8), torch.nn.Linear(8, 2)

        def forward(self, X):
            return self.out(torch.relu(self.hidden(X)))

    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 8)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = NeuralNetClassifier(MLP, criterion=torch.nn.CrossEntropyLoss, max_epochs=2,
                              train_split=None, verbose=0).fit(X[:40], y[:40])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster):
        start = time.monotonic()
        try:
            ibal_sampling(net, da.from_array(X, chunks=(100, -1)), 5, X_labelled=X[:40],
                          y_labelled=y[:40])
            print("RESULT no error")
        except TypeError as error:
            print("RESULT", error, "SECONDS", round(time.monotonic() - start, 1))
'''


def test_a_model_the_workers_cannot_import_fails_clearly_instead_of_hanging(tmp_path):
    script = tmp_path / "guarded.py"
    script.write_text(_MAIN_GUARDED_MODULE)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=tmp_path)
    result = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
    assert result, done.stderr[-2000:]
    assert "The Dask workers cannot load the model: AttributeError: Can't get attribute 'MLP'" \
        in result[0]
    assert "not under `if __name__ == '__main__':`" in result[0]
    assert float(result[0].rsplit("SECONDS", 1)[1]) < 60


def test_a_closed_client_is_not_waited_on(data, estimators):
    """The query runs on the scheduler left (local threads, or another running client)."""
    from dask.base import get_scheduler

    expected = _query(ibal_sampling, estimators["logistic"], data[0], data)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        client = distributed.Client(cluster, set_as_default=True)
        client.close()
        assert getattr(get_scheduler(), "__self__", None) is not client
        start = time.monotonic()
        got = _query(ibal_sampling, estimators["logistic"],
                     da.from_array(data[0], chunks=(CHUNK, -1)), data)
        assert time.monotonic() - start < 60
    np.testing.assert_array_equal(got[0], expected[0])


@pytest.mark.parametrize("strategy_name", [*LABELLED_STRATEGIES, *ROWWISE_STRATEGIES])
def test_a_pool_with_other_features_than_the_model_is_named_before_it_is_read(data,
                                                                              strategy_name):
    strategy = {**LABELLED_STRATEGIES, **ROWWISE_STRATEGIES}[strategy_name]
    X, _, X_labelled, y_labelled = data
    model = LogisticRegression(max_iter=200).fit(X_labelled, y_labelled)  # 16 features
    narrow = (X_labelled[:, :10], y_labelled)
    with dask.config.set(scheduler="sync"), pytest.raises(
            ValueError, match=r"^The 'X_pool' parameter has 10 features, but the model was "
                              r"fitted on 16\.$"):
        _query(strategy, model, da.from_array(X[:, :10], chunks=(CHUNK, -1)),
               (None, None, *narrow))
