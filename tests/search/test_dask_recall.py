"""The partitioned search's recall on a Dask pool: measured on the workers, as in memory."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import two_worker_client

from modal_ibal.search import _dask_recall as dask_recall
from modal_ibal.search._knn import searched_neighbours
from modal_ibal.search._knn_partitioned import partitioned_neighbours
from modal_ibal.search._recall import SearchOutcome, SearchRecallWarning, sampled_recall

da = pytest.importorskip("dask.array")
pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with two_worker_client() as client:
        yield client


def structureless(n_points, n_dims):
    Z = np.random.default_rng(0).standard_normal((n_points, n_dims)).astype(np.float32)
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


@pytest.mark.parametrize("chunks", [700, 4_000])
def test_recall_on_the_workers_is_the_in_memory_recall(client, chunks):
    Z = structureless(4_000, 32)
    found = partitioned_neighbours(Z, 10, n_candidates=128)[0]
    expected = sampled_recall(Z, found)
    assert 0.1 < expected < 0.9
    assert dask_recall.dask_sampled_recall(da.from_array(Z, chunks=(chunks, -1)), found) == (
        pytest.approx(expected, abs=1e-12))


def test_structureless_codes_keep_the_approximation_and_say_so(client):
    Z = structureless(4_000, 64)
    with pytest.warns(SearchRecallWarning, match=r"found \d+\.\d%.*not searched exactly"):
        neighbours, _, outcome = dask_recall.checked_dask_neighbours(
            da.from_array(Z, chunks=(1_000, -1)), 10)
    assert outcome == SearchOutcome("partitioned", 512, outcome.recall, False)
    assert outcome.recall < 0.5
    np.testing.assert_array_equal(neighbours, partitioned_neighbours(Z, 10)[0])


def test_widening_on_the_workers_matches_the_widening_in_memory(client, monkeypatch):
    Z = np.random.default_rng(1).standard_normal((6_000, 3))
    monkeypatch.setattr(dask_recall, "DEFAULT_N_CANDIDATES", 16)
    expected = searched_neighbours(Z, 10, algorithm="partitioned", n_candidates=16)
    got = dask_recall.checked_dask_neighbours(da.from_array(Z, chunks=(1_500, -1)), 10)
    assert got[2] == expected[2] and got[2].n_candidates > 16 and got[2].met
    np.testing.assert_array_equal(got[0], expected[0])
